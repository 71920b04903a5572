//! The presence core: every known user's inputs (signed-in endpoints, chosen availability,
//! calls, desk phone, last activity), the availability others see, who watches whom and
//! who blocks whom — a plain state machine fed [`Input`]s and `Instant`s that returns the
//! [`Notice`]s to deliver, with no IO and no clock of its own, so the rules are tested with
//! simulated time.
//!
//! # The rules (`docs/presence.md` has them for users)
//! 1. No signed-in endpoint: **Offline**. An endpoint that says it cannot be reached (a
//!    SIP client publishing PIDF `closed`) does not count, nor does a SIP registration
//!    while a publication from the same device speaks for it.
//! 2. Chosen **DoNotDisturb** is kept whatever happens (calls never override it).
//! 3. Chosen **Away** or **Offwork** ("appear away") is kept too, as Skype for Business
//!    keeps it: the user asked not to be counted on.
//! 4. An endpoint presenting: **DoNotDisturb** / `presenting` (as in Skype).
//! 5. Otherwise busy-making activity gives **Busy** with the activity, in this precedence:
//!    `in_a_conference` (published by an endpoint), `in_a_call` (a Call Via Work call of
//!    theirs from the moment their own phone answers — connecting, ringing the far party,
//!    connected, on hold — until it ends), `on_the_phone` (the desk phone, via
//!    [`PhoneActivity`], or a SIP client publishing RPID `on-the-phone`), `in_a_meeting`
//!    (published).
//! 6. Otherwise the chosen availability (none chosen: Online) — but **Busy** when one of
//!    the user's endpoints says busy, **Away** when every endpoint that counts says away.
//!    A device that says nothing more than "open" changes nothing. Chosen BeRightBack stays;
//!    Online and Busy turn **IdleOnline** / **IdleBusy** after `idle_after` without
//!    activity, and Online turns **Away** / `inactive` after `away_after`.
//!
//! Activity is what clients report (`POST /api/v1/me/activity`, like UCWA's
//! reportMyActivity), an endpoint signing in, and the user setting their presence.
//!
//! A notice goes out only when availability, activity or note change (not for a new
//! last-active time alone), to every watcher and to the user's own clients. A watcher the
//! user blocks gets the Offline view ([`Presence::hidden`]).
//!
//! Subscriptions live here, in memory: at most `max_subscriptions` targets per watcher,
//! kept while the watcher has an endpoint and for `subscription_grace` after their last
//! one goes (so a client that reconnects within the event retention resumes without
//! resubscribing), then dropped.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::{Duration, Instant};

use super::model::{
    Activity, Availability, EndpointActivity, Note, PhoneActivity, PreferredAvailability, Presence,
};
use crate::domain::UserUri;

/// The timing and limits of presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceConfig {
    /// Online → IdleOnline, Busy → IdleBusy after this long without activity (UCWA's
    /// `inactiveTimeout`, 5 minutes by default).
    pub idle_after: Duration,
    /// Online → Away after this long without activity (counted from the last activity,
    /// not from going idle; at least `idle_after`).
    pub away_after: Duration,
    /// How long a watcher's subscriptions outlive their last endpoint.
    pub subscription_grace: Duration,
    /// The most people one user may watch.
    pub max_subscriptions: usize,
}

/// The most people one user may watch by default (Skype for Business's default contact
/// limit is 1,000 too).
pub const MAX_SUBSCRIPTIONS_PER_USER: usize = 1000;

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig {
            idle_after: Duration::from_secs(5 * 60),
            away_after: Duration::from_secs(10 * 60),
            subscription_grace: crate::events::DEFAULT_RETENTION,
            max_subscriptions: MAX_SUBSCRIPTIONS_PER_USER,
        }
    }
}

/// One signed-in client or device of a user: an open event stream (`events-<n>`), or a
/// SIP registration (the registrar's contact id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointId(pub String);

/// What kind of endpoint it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointKind {
    /// A client of the HTTP API with an open event stream.
    ApiClient,
    /// A registered SIP client (fed by the registrar).
    Sip,
    /// A SIP client's presence publication (RFC 3903 PUBLISH): what the device says about
    /// itself. It stands for the registration of the same device (see [`Input::Publication`]).
    SipPublication,
}

/// One signed-in endpoint as the core keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    kind: EndpointKind,
    /// What it says about itself.
    activity: Option<EndpointActivity>,
    /// The device it is on (for SIP: `transport:address` it sends from), when known.
    device: Option<String>,
}

/// What the store keeps of a user's presence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// The availability they chose (None: automatic, reads Online).
    pub chosen: Option<PreferredAvailability>,
    /// Their note.
    pub note: Note,
    /// The people they block.
    pub blocked: Vec<UserUri>,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// An endpoint signed in (counts as activity).
    EndpointUp {
        /// Whose.
        user: UserUri,
        /// Which.
        id: EndpointId,
        /// What kind.
        kind: EndpointKind,
        /// The device it is on, when known (a SIP registration: `transport:address`).
        device: Option<String>,
    },
    /// An endpoint went away (closed, dropped, unregistered, expired).
    EndpointDown {
        /// Whose.
        user: UserUri,
        /// Which.
        id: EndpointId,
    },
    /// A SIP client's presence publication was made, refreshed or modified (RFC 3903);
    /// [`Input::EndpointDown`] with the same id removes it. It is an endpoint of its own
    /// (a presence-only client is signed in while its publication lives), and while it
    /// lives it speaks for the registration from the same `device`: that registration no
    /// longer counts on its own, so a phone that publishes `closed` or `away` is not kept
    /// Online by its own REGISTER.
    Publication {
        /// Whose.
        user: UserUri,
        /// The publication (stable across its refreshes).
        id: EndpointId,
        /// The device it came from (`transport:address`).
        device: String,
        /// What it says (None: plain `open`, nothing more). A new publication or a new
        /// state counts as activity; a refresh does not.
        activity: Option<EndpointActivity>,
    },
    /// An endpoint published (or cleared) what it is doing.
    EndpointPublished {
        /// Whose.
        user: UserUri,
        /// Which (unknown endpoints are ignored).
        id: EndpointId,
        /// What it does now.
        activity: Option<EndpointActivity>,
    },
    /// The user was active on a device.
    Activity {
        /// Who.
        user: UserUri,
    },
    /// The user chose their availability (None: back to automatic) and note (counts as
    /// activity).
    Chose {
        /// Who.
        user: UserUri,
        /// The availability.
        availability: Option<PreferredAvailability>,
        /// The note.
        note: Note,
    },
    /// One of the user's calls started or stopped counting as "in a call".
    Call {
        /// Whose.
        user: UserUri,
        /// The call's id.
        call_id: String,
        /// Whether it counts now.
        active: bool,
    },
    /// The user's desk phone changed (the RFC 4235 hook).
    Phone {
        /// Whose.
        user: UserUri,
        /// What it does.
        activity: PhoneActivity,
    },
    /// `user` blocks (`blocked: true`) or unblocks `other`.
    Block {
        /// Who blocks.
        user: UserUri,
        /// Whom.
        other: UserUri,
        /// Block or unblock.
        blocked: bool,
    },
}

/// A change of `target`'s presence to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Whose presence.
    pub target: UserUri,
    /// As everyone but blocked viewers sees it.
    pub presence: Presence,
    /// Who gets `presence` (watchers, and the target's own clients).
    pub to: Vec<UserUri>,
    /// Who gets [`Presence::hidden`] (blocked watchers).
    pub hidden_to: Vec<UserUri>,
}

/// Refusals of [`PresenceCore::subscribe`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// A target is not loaded (the driver loads targets first; unknown users are refused
    /// there).
    #[error("{0} is not known")]
    Unknown(UserUri),
    /// The watcher would watch more than the limit.
    #[error("at most {max} people can be watched at once")]
    LimitExceeded {
        /// The limit.
        max: usize,
    },
}

#[derive(Debug, Default)]
struct UserState {
    /// The stored part has been loaded (an unloaded entry only holds calls seen early).
    loaded: bool,
    chosen: Option<PreferredAvailability>,
    note: Note,
    blocked: HashSet<UserUri>,
    endpoints: HashMap<EndpointId, Endpoint>,
    calls: HashSet<String>,
    phone: PhoneActivity,
    /// Last activity: when, and as Unix milliseconds.
    last_active: Option<(Instant, u64)>,
    /// When the last endpoint went (or the user was loaded without one).
    offline_since: Option<Instant>,
    /// Whom this user watches.
    watching: HashSet<UserUri>,
    /// Who watches this user.
    watchers: HashSet<UserUri>,
    /// What was last announced.
    shown: Option<Presence>,
    /// The next time the rules must look at this user again.
    deadline: Option<Instant>,
}

impl UserState {
    /// The endpoints that count for availability: all but those that say they cannot be
    /// reached (PIDF `closed`) and the registrations a publication from the same device
    /// speaks for.
    fn counting(&self) -> Vec<&Endpoint> {
        let published: HashSet<&str> = self
            .endpoints
            .values()
            .filter(|e| e.kind == EndpointKind::SipPublication)
            .filter_map(|e| e.device.as_deref())
            .collect();
        self.endpoints
            .values()
            .filter(|e| {
                let spoken_for = e.kind == EndpointKind::Sip
                    && e.device.as_deref().is_some_and(|d| published.contains(d));
                !spoken_for && e.activity != Some(EndpointActivity::Unavailable)
            })
            .collect()
    }

    /// The availability the rules start from: the one chosen when it is Do Not Disturb,
    /// Away or Offwork (kept whatever the devices say); otherwise Busy when a device says
    /// busy, Away when every device that counts says away, else the one chosen (none:
    /// Online).
    fn choice(&self, counting: &[&Endpoint]) -> PreferredAvailability {
        let chosen = self.chosen.unwrap_or(PreferredAvailability::Online);
        match chosen {
            PreferredAvailability::DoNotDisturb
            | PreferredAvailability::Away
            | PreferredAvailability::Offwork => chosen,
            _ if counting
                .iter()
                .any(|e| e.activity == Some(EndpointActivity::Busy)) =>
            {
                PreferredAvailability::Busy
            }
            _ if !counting.is_empty()
                && counting
                    .iter()
                    .all(|e| e.activity == Some(EndpointActivity::Away)) =>
            {
                PreferredAvailability::Away
            }
            _ => chosen,
        }
    }
}

/// The state of presence (see the module docs).
#[derive(Debug)]
pub struct PresenceCore {
    config: PresenceConfig,
    users: HashMap<UserUri, UserState>,
    timers: BinaryHeap<Reverse<(Instant, UserUri)>>,
    /// Converts `Instant`s to Unix milliseconds for `last_active_at`.
    epoch: (Instant, u64),
}

impl PresenceCore {
    /// A core with no users; `epoch` pairs an instant with the Unix milliseconds it
    /// corresponds to.
    pub fn new(config: PresenceConfig, epoch: (Instant, u64)) -> PresenceCore {
        PresenceCore {
            config,
            users: HashMap::new(),
            timers: BinaryHeap::new(),
            epoch,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PresenceConfig {
        &self.config
    }

    /// Whether `user`'s stored part is loaded.
    pub fn is_loaded(&self, user: &UserUri) -> bool {
        self.users.get(user).is_some_and(|u| u.loaded)
    }

    /// Loads `user`'s stored part (ignored when already loaded: the core's copy is newer).
    pub fn load(&mut self, user: &UserUri, stored: Stored, now: Instant) -> Vec<Notice> {
        let u = self.users.entry(user.clone()).or_default();
        if u.loaded {
            return Vec::new();
        }
        u.loaded = true;
        u.chosen = stored.chosen;
        u.note = stored.note;
        u.blocked = stored.blocked.into_iter().collect();
        if u.endpoints.is_empty() && u.offline_since.is_none() {
            u.offline_since = Some(now);
        }
        let mut out = Vec::new();
        self.refresh(user, now, &mut out);
        out
    }

    /// Applies one input; returns what to deliver.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Notice> {
        let mut out = Vec::new();
        let wall = self.wall_ms(now);
        match input {
            Input::EndpointUp {
                user,
                id,
                kind,
                device,
            } => {
                let u = self.users.entry(user.clone()).or_default();
                u.endpoints.insert(
                    id,
                    Endpoint {
                        kind,
                        activity: None,
                        device,
                    },
                );
                u.offline_since = None;
                u.last_active = Some((now, wall));
                self.refresh(&user, now, &mut out);
            }
            Input::EndpointDown { user, id } => {
                let Some(u) = self.users.get_mut(&user) else {
                    return out;
                };
                if u.endpoints.remove(&id).is_some() && u.endpoints.is_empty() {
                    u.offline_since = Some(now);
                }
                self.refresh(&user, now, &mut out);
            }
            Input::EndpointPublished { user, id, activity } => {
                let Some(u) = self.users.get_mut(&user) else {
                    return out;
                };
                if let Some(e) = u.endpoints.get_mut(&id) {
                    e.activity = activity;
                }
                self.refresh(&user, now, &mut out);
            }
            Input::Publication {
                user,
                id,
                device,
                activity,
            } => {
                let u = self.users.entry(user.clone()).or_default();
                let before = u.endpoints.insert(
                    id,
                    Endpoint {
                        kind: EndpointKind::SipPublication,
                        activity,
                        device: Some(device),
                    },
                );
                // A new publication or a new state is the person at work; a refresh is
                // the phone on its own.
                if before.is_none_or(|b| b.activity != activity) {
                    u.last_active = Some((now, wall));
                }
                u.offline_since = None;
                self.refresh(&user, now, &mut out);
            }
            Input::Activity { user } => {
                let Some(u) = self.users.get_mut(&user) else {
                    return out;
                };
                u.last_active = Some((now, wall));
                self.refresh(&user, now, &mut out);
            }
            Input::Chose {
                user,
                availability,
                note,
            } => {
                let u = self.users.entry(user.clone()).or_default();
                u.chosen = availability;
                u.note = note;
                u.last_active = Some((now, wall));
                self.refresh(&user, now, &mut out);
            }
            Input::Call {
                user,
                call_id,
                active,
            } => {
                let u = self.users.entry(user.clone()).or_default();
                let changed = if active {
                    u.calls.insert(call_id)
                } else {
                    u.calls.remove(&call_id)
                };
                if changed {
                    self.refresh(&user, now, &mut out);
                }
            }
            Input::Phone { user, activity } => {
                let u = self.users.entry(user.clone()).or_default();
                if u.phone != activity {
                    u.phone = activity;
                    self.refresh(&user, now, &mut out);
                }
            }
            Input::Block {
                user,
                other,
                blocked,
            } => {
                let u = self.users.entry(user.clone()).or_default();
                let changed = if blocked {
                    u.blocked.insert(other.clone())
                } else {
                    u.blocked.remove(&other)
                };
                // A watcher learns at once: the blocked one sees Offline, the unblocked
                // one the real presence.
                if changed && u.watchers.contains(&other) {
                    let presence = self.compute(&user, now);
                    let (to, hidden_to) = if blocked {
                        (Vec::new(), vec![other])
                    } else {
                        (vec![other], Vec::new())
                    };
                    out.push(Notice {
                        target: user,
                        presence,
                        to,
                        hidden_to,
                    });
                }
            }
        }
        out
    }

    /// Replaces every user's calls with `live` (owner, call id) — after the driver missed
    /// call events, so that nobody stays "in a call" forever.
    pub fn replace_calls(&mut self, live: &[(UserUri, String)], now: Instant) -> Vec<Notice> {
        let mut wanted: HashMap<&UserUri, HashSet<String>> = HashMap::new();
        for (user, id) in live {
            wanted.entry(user).or_default().insert(id.clone());
        }
        let changed: Vec<UserUri> = self
            .users
            .iter_mut()
            .filter_map(|(user, u)| {
                let calls = wanted.remove(user).unwrap_or_default();
                (u.calls != calls).then(|| {
                    u.calls = calls;
                    user.clone()
                })
            })
            .collect();
        for (user, calls) in wanted {
            self.users.entry(user.clone()).or_default().calls = calls;
        }
        let mut out = Vec::new();
        for user in changed {
            self.refresh(&user, now, &mut out);
        }
        out
    }

    /// `target`'s presence as `viewer` sees it now; None when `target` is not loaded.
    pub fn presence_for(
        &self,
        viewer: &UserUri,
        target: &UserUri,
        now: Instant,
    ) -> Option<Presence> {
        let t = self.users.get(target).filter(|t| t.loaded)?;
        if t.blocked.contains(viewer) {
            return Some(Presence::hidden());
        }
        Some(self.compute(target, now))
    }

    /// Whom `user` blocks, sorted.
    pub fn blocked_by(&self, user: &UserUri) -> Vec<UserUri> {
        let mut v: Vec<UserUri> = self
            .users
            .get(user)
            .map(|u| u.blocked.iter().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Adds `targets` (all loaded) to what `watcher` watches, all or none; returns each
    /// target's presence as the watcher sees it, in the order given.
    pub fn subscribe(
        &mut self,
        watcher: &UserUri,
        targets: &[UserUri],
        now: Instant,
    ) -> Result<Vec<(UserUri, Presence)>, SubscribeError> {
        if let Some(t) = targets.iter().find(|t| !self.is_loaded(t)) {
            return Err(SubscribeError::Unknown(t.clone()));
        }
        let w = self.users.entry(watcher.clone()).or_default();
        let new: HashSet<&UserUri> = targets.iter().filter(|t| !w.watching.contains(t)).collect();
        if w.watching.len() + new.len() > self.config.max_subscriptions {
            return Err(SubscribeError::LimitExceeded {
                max: self.config.max_subscriptions,
            });
        }
        if w.endpoints.is_empty() {
            // Subscribing through the API is a sign of life: the grace starts again.
            w.offline_since = Some(now);
        }
        w.watching.extend(new.iter().map(|t| (*t).clone()));
        for t in new {
            if let Some(tu) = self.users.get_mut(t) {
                tu.watchers.insert(watcher.clone());
            }
        }
        // A watcher without an endpoint still gets the grace period.
        self.schedule(watcher, now);
        Ok(targets
            .iter()
            .filter_map(|t| Some((t.clone(), self.presence_for(watcher, t, now)?)))
            .collect())
    }

    /// Stops `watcher` watching `targets` (all of them with None); returns how many were
    /// watched.
    pub fn unsubscribe(&mut self, watcher: &UserUri, targets: Option<&[UserUri]>) -> usize {
        let Some(w) = self.users.get_mut(watcher) else {
            return 0;
        };
        let gone: Vec<UserUri> = match targets {
            None => w.watching.drain().collect(),
            Some(ts) => ts
                .iter()
                .filter(|t| w.watching.remove(*t))
                .cloned()
                .collect(),
        };
        for t in &gone {
            if let Some(tu) = self.users.get_mut(t) {
                tu.watchers.remove(watcher);
            }
        }
        gone.len()
    }

    /// Whom `watcher` watches, sorted.
    pub fn watching(&self, watcher: &UserUri) -> Vec<UserUri> {
        let mut v: Vec<UserUri> = self
            .users
            .get(watcher)
            .map(|u| u.watching.iter().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, user))) = self.timers.peek() {
            if self.users.get(user).and_then(|u| u.deadline) == Some(*at) {
                return Some(*at);
            }
            self.timers.pop();
        }
        None
    }

    /// Applies the rules that depend on time (idleness, subscriptions outliving their
    /// watcher) to every user due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Notice> {
        let mut out = Vec::new();
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, user))) = self.timers.pop() else {
                break;
            };
            let Some(u) = self.users.get_mut(&user) else {
                continue;
            };
            if u.deadline != Some(at) {
                continue;
            }
            u.deadline = None;
            let expired = u.endpoints.is_empty()
                && u.offline_since
                    .is_some_and(|t| now.duration_since(t) >= self.config.subscription_grace);
            if expired {
                self.unsubscribe(&user, None);
            }
            self.refresh(&user, now, &mut out);
        }
        out
    }

    fn wall_ms(&self, now: Instant) -> u64 {
        let (at, ms) = self.epoch;
        match now.checked_duration_since(at) {
            Some(d) => ms.saturating_add(d.as_millis() as u64),
            None => ms.saturating_sub(at.duration_since(now).as_millis() as u64),
        }
    }

    /// The rules of the module docs, for `user` at `now`.
    fn compute(&self, user: &UserUri, now: Instant) -> Presence {
        let Some(u) = self.users.get(user) else {
            return Presence::hidden();
        };
        let (availability, activity) = self.availability(u, now);
        Presence {
            availability,
            activity,
            note: u.note.clone(),
            last_active_at: u.last_active.map(|(_, ms)| ms),
        }
    }

    fn availability(&self, u: &UserState, now: Instant) -> (Availability, Option<Activity>) {
        let counting = u.counting();
        if counting.is_empty() {
            return (Availability::Offline, None);
        }
        let chosen = u.choice(&counting);
        match chosen {
            PreferredAvailability::DoNotDisturb
            | PreferredAvailability::Away
            | PreferredAvailability::Offwork => return chosen.reads_as(),
            _ => {}
        }
        let published = |a: EndpointActivity| counting.iter().any(|e| e.activity == Some(a));
        if published(EndpointActivity::Presenting) {
            return (Availability::DoNotDisturb, Some(Activity::Presenting));
        }
        let busy = if published(EndpointActivity::InAConference) {
            Some(Activity::InAConference)
        } else if !u.calls.is_empty() {
            Some(Activity::InACall)
        } else if u.phone == PhoneActivity::Busy || published(EndpointActivity::OnThePhone) {
            Some(Activity::OnThePhone)
        } else if published(EndpointActivity::InAMeeting) {
            Some(Activity::InAMeeting)
        } else {
            None
        };
        if busy.is_some() {
            return (Availability::Busy, busy);
        }
        let idle = u
            .last_active
            .map_or(Duration::MAX, |(t, _)| now.saturating_duration_since(t));
        match chosen {
            PreferredAvailability::Online if idle >= self.config.away_after => {
                (Availability::Away, Some(Activity::Inactive))
            }
            PreferredAvailability::Online if idle >= self.config.idle_after => {
                (Availability::IdleOnline, None)
            }
            PreferredAvailability::Busy if idle >= self.config.idle_after => {
                (Availability::IdleBusy, None)
            }
            other => other.reads_as(),
        }
    }

    /// Recomputes `user`, announces a change, and schedules the next look.
    fn refresh(&mut self, user: &UserUri, now: Instant, out: &mut Vec<Notice>) {
        let new = self.compute(user, now);
        let Some(u) = self.users.get_mut(user) else {
            return;
        };
        let changed = match &u.shown {
            None => u.loaded && !u.watchers.is_empty(),
            Some(old) => {
                old.availability != new.availability
                    || old.activity != new.activity
                    || old.note != new.note
            }
        };
        if u.loaded {
            u.shown = Some(new.clone());
        }
        if changed {
            let mut to = vec![user.clone()];
            // Blocked watchers got Offline when they were blocked (or subscribed) and
            // hear nothing more: a stream of "Offline" notices would give the changes away.
            to.extend(
                u.watchers
                    .iter()
                    .filter(|w| *w != user && !u.blocked.contains(*w))
                    .cloned(),
            );
            out.push(Notice {
                target: user.clone(),
                presence: new,
                to,
                hidden_to: Vec::new(),
            });
        }
        self.schedule(user, now);
    }

    /// Sets `user`'s next deadline: the next idle step, or the end of their
    /// subscriptions' grace.
    fn schedule(&mut self, user: &UserUri, now: Instant) {
        let cfg = self.config;
        let Some(u) = self.users.get_mut(user) else {
            return;
        };
        let choice = u.choice(&u.counting());
        let next = if u.endpoints.is_empty() {
            match u.offline_since {
                Some(t) if !u.watching.is_empty() => Some(t + cfg.subscription_grace),
                _ => None,
            }
        } else {
            match (choice, u.last_active) {
                (PreferredAvailability::Online, Some((t, _))) => {
                    [t + cfg.idle_after, t + cfg.away_after]
                        .into_iter()
                        .filter(|d| *d > now)
                        .min()
                }
                (PreferredAvailability::Busy, Some((t, _))) => {
                    Some(t + cfg.idle_after).filter(|d| *d > now)
                }
                _ => None,
            }
        };
        if u.deadline != next {
            u.deadline = next;
            if let Some(at) = next {
                self.timers.push(Reverse((at, user.clone())));
            }
        }
    }
}

#[cfg(test)]
mod tests;
