//! The tokio side of presence: [`PresenceService`] owns the [`PresenceCore`] behind a
//! mutex, loads each user's stored part (chosen availability, note, blocked list) the first
//! time they matter and writes changes back, runs the core's timers on a task, follows the
//! calls service, and delivers the core's notices as `presence.updated` events.
//!
//! Every core operation is short and synchronous, so a mutex (never held across an
//! `.await`) is all the driver needs; notices are delivered while it is held, so two
//! changes of one person reach every watcher in the order they happened.
//!
//! Endpoints: an API client's event stream holds an [`EndpointGuard`] for as long as it is
//! open — dropping the stream, however the connection ended, drops the guard and counts the
//! endpoint as gone. The SIP registrar's contacts come and go through
//! [`PresenceService::endpoint_up`] / [`PresenceService::endpoint_down`], SIP clients'
//! PUBLISHes through [`PresenceService::publication`], and the RFC 4235 subscriber to the
//! PBX through [`PresenceService::set_phone_activity`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use serde_json::json;
use tokio::sync::{broadcast, Notify};

use super::core::{
    EndpointId, EndpointKind, Input, Notice, PresenceConfig, PresenceCore, Stored, SubscribeError,
};
use super::model::{EndpointActivity, Note, PhoneActivity, PreferredAvailability, Presence};
use crate::calls::model::CallState;
use crate::calls::service::{CallEvent, CallsHandle};
use crate::domain::UserUri;
use crate::events::EventHub;
use crate::store::{PresenceBlockRow, PresenceSettingsRow, Store, StoreError, UserRow};

/// The event type of a presence change.
pub const EVENT: &str = "presence.updated";

/// The most people one user may block.
pub const MAX_BLOCKED: usize = 1000;

/// Why a presence operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum PresenceError {
    /// Nobody in the directory has this SIP URI.
    #[error("{field}: no user has the SIP URI {uri}")]
    UnknownUser {
        /// The field that named them (`uri`, `uris[2]`).
        field: String,
        /// The URI.
        uri: UserUri,
    },
    /// A list would grow past its limit.
    #[error("{field}: at most {max} entries")]
    LimitExceeded {
        /// The field (`uris`, `uri`).
        field: &'static str,
        /// The limit.
        max: usize,
    },
    /// A user's own SIP URI where someone else's is needed.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: &'static str,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Inner {
    core: Mutex<PresenceCore>,
    store: Arc<dyn Store>,
    hub: EventHub,
    wake: Arc<Notify>,
    next_endpoint: AtomicU64,
    /// Whose presence changed, for watchers outside the event hub (SIP subscriptions).
    changed: broadcast::Sender<UserUri>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Lets the timer task see that the service is gone.
        self.wake.notify_one();
    }
}

/// Presence for the rest of the server. Cheap to clone.
#[derive(Clone)]
pub struct PresenceService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PresenceService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresenceService").finish_non_exhaustive()
    }
}

/// Unix milliseconds now.
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The JSON clients get for `uri`'s presence (in answers and `presence.updated` events).
pub fn presence_json(uri: &UserUri, presence: &Presence) -> serde_json::Value {
    let mut v = serde_json::to_value(presence).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("uri".into(), json!(uri.as_str()));
    }
    v
}

impl PresenceService {
    /// Starts the service (its timer task runs on the current tokio runtime and ends when
    /// the last clone is dropped).
    pub fn start(store: Arc<dyn Store>, hub: EventHub, config: PresenceConfig) -> Self {
        let wake = Arc::new(Notify::new());
        let inner = Arc::new(Inner {
            core: Mutex::new(PresenceCore::new(config, (Instant::now(), wall_ms()))),
            store,
            hub,
            wake: wake.clone(),
            next_endpoint: AtomicU64::new(1),
            changed: broadcast::channel(4096).0,
        });
        tokio::spawn(run_timers(Arc::downgrade(&inner), wake));
        PresenceService { inner }
    }

    fn core(&self) -> MutexGuard<'_, PresenceCore> {
        self.inner.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the core and delivers what it returns, under the lock.
    fn apply(&self, f: impl FnOnce(&mut PresenceCore, Instant) -> Vec<Notice>) {
        let mut core = self.core();
        let notices = f(&mut core, Instant::now());
        deliver(&self.inner.hub, &notices);
        changed(&self.inner.changed, &notices);
        drop(core);
        self.inner.wake.notify_one();
    }

    fn input(&self, input: Input) {
        self.apply(|core, now| core.handle(input, now));
    }

    /// Loads `user` into the core unless it is there; false when nobody has this URI.
    async fn ensure_loaded(&self, user: &UserUri) -> Result<bool, StoreError> {
        if self.core().is_loaded(user) {
            return Ok(true);
        }
        let Some(row) = self.inner.store.get_user_by_sip_uri(user.as_str()).await? else {
            return Ok(false);
        };
        self.load_row(user, &row).await?;
        Ok(true)
    }

    async fn load_row(&self, user: &UserUri, row: &UserRow) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let settings = store.get_presence_settings(row.id).await?;
        let blocks = store.list_presence_blocks(row.id).await?;
        let stored = Stored {
            chosen: settings
                .as_ref()
                .and_then(|s| s.availability.as_deref())
                .and_then(|a| a.parse().ok()),
            note: settings
                .as_ref()
                .and_then(|s| s.note.parse().ok())
                .unwrap_or_default(),
            blocked: blocks
                .iter()
                .filter_map(|b| b.blocked_sip_uri.parse().ok())
                .collect(),
        };
        self.apply(|core, now| core.load(user, stored, now));
        Ok(())
    }

    /// The user's own row's URI as the typed value (rows written by the domain parse).
    fn uri_of(row: &UserRow) -> Result<UserUri, StoreError> {
        row.sip_uri.parse().map_err(|_| {
            StoreError::invalid("sip_uri", "a stored SIP URI does not parse; fix the user")
        })
    }

    // ---- endpoints ---------------------------------------------------------------------

    /// An API client opened its event stream: `user` has one more endpoint until the guard
    /// is dropped.
    pub async fn client_connected(&self, user: &UserRow) -> Result<EndpointGuard, StoreError> {
        let uri = Self::uri_of(user)?;
        self.load_if_needed(&uri, user).await?;
        let n = self.inner.next_endpoint.fetch_add(1, Ordering::Relaxed);
        let id = EndpointId(format!("events-{n}"));
        self.endpoint_up(&uri, id.clone(), EndpointKind::ApiClient, None);
        ::metrics::gauge!("viawork_presence_event_streams").increment(1.0);
        Ok(EndpointGuard {
            service: self.clone(),
            user: uri,
            id,
        })
    }

    async fn load_if_needed(&self, uri: &UserUri, row: &UserRow) -> Result<(), StoreError> {
        if !self.core().is_loaded(uri) {
            self.load_row(uri, row).await?;
        }
        Ok(())
    }

    /// An endpoint of `user` signed in, on `device` when known (for the SIP registrar:
    /// load the user first with [`PresenceService::load_user`]).
    pub fn endpoint_up(
        &self,
        user: &UserUri,
        id: EndpointId,
        kind: EndpointKind,
        device: Option<String>,
    ) {
        self.input(Input::EndpointUp {
            user: user.clone(),
            id,
            kind,
            device,
        });
    }

    /// A SIP client's presence publication of `user` (loaded first with
    /// [`PresenceService::load_user`]) from `device` was made, refreshed or modified; it
    /// ends with [`PresenceService::endpoint_down`] and the same id.
    pub fn publication(
        &self,
        user: &UserUri,
        id: EndpointId,
        device: &str,
        activity: Option<EndpointActivity>,
    ) {
        self.input(Input::Publication {
            user: user.clone(),
            id,
            device: device.to_owned(),
            activity,
        });
    }

    /// An endpoint of `user` went away.
    pub fn endpoint_down(&self, user: &UserUri, id: EndpointId) {
        self.input(Input::EndpointDown {
            user: user.clone(),
            id,
        });
    }

    /// Loads `user` (their stored presence); false when nobody has this URI.
    pub async fn load_user(&self, user: &UserUri) -> Result<bool, StoreError> {
        self.ensure_loaded(user).await
    }

    /// An endpoint of `user` published what it is doing.
    pub fn publish(&self, user: &UserUri, id: EndpointId, activity: Option<EndpointActivity>) {
        self.input(Input::EndpointPublished {
            user: user.clone(),
            id,
            activity,
        });
    }

    /// `user`'s desk phone changed (the RFC 4235 dialog-event hook).
    pub fn set_phone_activity(&self, user: &UserUri, activity: PhoneActivity) {
        self.input(Input::Phone {
            user: user.clone(),
            activity,
        });
    }

    /// The users whose presence changes from now on (each change once; the presence
    /// itself is read with [`presence_of`](Self::presence_of), which applies blocking).
    pub fn watch_changes(&self) -> broadcast::Receiver<UserUri> {
        self.inner.changed.subscribe()
    }

    /// `user` was active on a device.
    pub fn report_activity(&self, user: &UserUri) {
        self.input(Input::Activity { user: user.clone() });
    }

    // ---- the user's own presence -------------------------------------------------------

    /// Sets `user`'s chosen availability (None: automatic) and note (None: kept), stores
    /// them, and returns their presence as others see it.
    pub async fn set_own(
        &self,
        user: &UserRow,
        availability: Option<PreferredAvailability>,
        note: Option<Note>,
    ) -> Result<Presence, PresenceError> {
        let uri = Self::uri_of(user)?;
        self.load_if_needed(&uri, user).await?;
        let note = match note {
            Some(n) => n,
            None => self
                .inner
                .store
                .get_presence_settings(user.id)
                .await?
                .and_then(|s| s.note.parse().ok())
                .unwrap_or_default(),
        };
        self.inner
            .store
            .set_presence_settings(&PresenceSettingsRow {
                user_id: user.id,
                availability: availability.map(|a| a.as_str().to_owned()),
                note: note.as_str().to_owned(),
                updated_at: 0,
            })
            .await?;
        self.input(Input::Chose {
            user: uri.clone(),
            availability,
            note,
        });
        self.presence_of(&uri, &uri).await
    }

    /// The availability `user` chose (None: automatic).
    pub async fn chosen(
        &self,
        user: &UserRow,
    ) -> Result<Option<PreferredAvailability>, StoreError> {
        Ok(self
            .inner
            .store
            .get_presence_settings(user.id)
            .await?
            .and_then(|s| s.availability)
            .and_then(|a| a.parse().ok()))
    }

    // ---- other people ------------------------------------------------------------------

    /// `target`'s presence as `viewer` sees it.
    pub async fn presence_of(
        &self,
        viewer: &UserUri,
        target: &UserUri,
    ) -> Result<Presence, PresenceError> {
        // One indexed lookup, also for a user already loaded: someone removed from the
        // directory since is not found, rather than shown as they were.
        let exists = if self.core().is_loaded(target) {
            self.inner
                .store
                .get_user_by_sip_uri(target.as_str())
                .await?
                .is_some()
        } else {
            self.ensure_loaded(target).await?
        };
        if !exists {
            return Err(PresenceError::UnknownUser {
                field: "uri".into(),
                uri: target.clone(),
            });
        }
        self.core()
            .presence_for(viewer, target, Instant::now())
            .ok_or_else(|| PresenceError::UnknownUser {
                field: "uri".into(),
                uri: target.clone(),
            })
    }

    /// `watcher` watches `targets` (all known, or nothing changes); returns their presence.
    pub async fn subscribe(
        &self,
        watcher: &UserRow,
        targets: &[UserUri],
    ) -> Result<Vec<(UserUri, Presence)>, PresenceError> {
        let max = self.core().config().max_subscriptions;
        if targets.len() > max {
            return Err(PresenceError::LimitExceeded { field: "uris", max });
        }
        let w = Self::uri_of(watcher)?;
        self.load_if_needed(&w, watcher).await?;
        for (i, t) in targets.iter().enumerate() {
            if !self.ensure_loaded(t).await? {
                return Err(PresenceError::UnknownUser {
                    field: format!("uris[{i}]"),
                    uri: t.clone(),
                });
            }
        }
        let mut core = self.core();
        let got = core.subscribe(&w, targets, Instant::now());
        drop(core);
        self.inner.wake.notify_one();
        got.map_err(|e| match e {
            SubscribeError::LimitExceeded { max } => {
                PresenceError::LimitExceeded { field: "uris", max }
            }
            SubscribeError::Unknown(uri) => PresenceError::UnknownUser {
                field: "uris".into(),
                uri,
            },
        })
    }

    /// Whom `watcher` watches, with their presence.
    pub fn subscriptions(&self, watcher: &UserUri) -> Vec<(UserUri, Presence)> {
        let core = self.core();
        let now = Instant::now();
        core.watching(watcher)
            .into_iter()
            .filter_map(|t| {
                let p = core.presence_for(watcher, &t, now)?;
                Some((t, p))
            })
            .collect()
    }

    /// Stops `watcher` watching `target` (everyone with None); returns how many it did.
    pub fn unsubscribe(&self, watcher: &UserUri, target: Option<&UserUri>) -> usize {
        let mut core = self.core();
        match target {
            Some(t) => core.unsubscribe(watcher, Some(std::slice::from_ref(t))),
            None => core.unsubscribe(watcher, None),
        }
    }

    // ---- blocking ----------------------------------------------------------------------

    /// Whom `user` blocks.
    pub async fn blocked(&self, user: &UserRow) -> Result<Vec<PresenceBlockRow>, StoreError> {
        self.inner.store.list_presence_blocks(user.id).await
    }

    /// `user` blocks (`block: true`) or unblocks `other`; returns whether anything changed.
    pub async fn set_blocked(
        &self,
        user: &UserRow,
        other: &UserUri,
        block: bool,
    ) -> Result<bool, PresenceError> {
        let uri = Self::uri_of(user)?;
        if &uri == other {
            return Err(PresenceError::Invalid {
                field: "uri",
                message: "nobody can block themselves",
            });
        }
        let Some(other_row) = self.inner.store.get_user_by_sip_uri(other.as_str()).await? else {
            return Err(PresenceError::UnknownUser {
                field: "uri".into(),
                uri: other.clone(),
            });
        };
        self.load_if_needed(&uri, user).await?;
        let store = &self.inner.store;
        let changed = if block {
            if store.list_presence_blocks(user.id).await?.len() >= MAX_BLOCKED {
                return Err(PresenceError::LimitExceeded {
                    field: "uri",
                    max: MAX_BLOCKED,
                });
            }
            store.add_presence_block(user.id, other_row.id).await?
        } else {
            store.remove_presence_block(user.id, other_row.id).await?
        };
        self.input(Input::Block {
            user: uri,
            other: other.clone(),
            blocked: block,
        });
        Ok(changed)
    }

    // ---- calls -------------------------------------------------------------------------

    /// Follows the calls service until it stops: a user is "in a call" from the moment
    /// their own phone answers until the call ends (see `core.rs`).
    pub async fn follow_calls(
        self,
        mut events: broadcast::Receiver<CallEvent>,
        calls: CallsHandle,
    ) {
        loop {
            match events.recv().await {
                Ok(e) => {
                    let Ok(user) = e.owner.parse::<UserUri>() else {
                        continue;
                    };
                    self.input(Input::Call {
                        user,
                        call_id: e.view.id.clone(),
                        active: counts_as_in_a_call(&e.view),
                    });
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "presence fell behind the calls; resyncing");
                    let Ok(all) = calls.all().await else { break };
                    let live: Vec<(UserUri, String)> = all
                        .into_iter()
                        .filter(|(_, v)| counts_as_in_a_call(v))
                        .filter_map(|(owner, v)| Some((owner.parse().ok()?, v.id)))
                        .collect();
                    self.apply(|core, now| core.replace_calls(&live, now));
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }
}

impl PresenceService {
    /// Follows the registrar: each registered SIP contact is an endpoint of its user (a
    /// signed-in client), until it unregisters or expires.
    pub async fn follow_registrations(
        self,
        mut changes: broadcast::Receiver<crate::registrar::Change>,
    ) {
        use crate::registrar::Change;
        loop {
            let change = match changes.recv().await {
                Ok(c) => c,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "presence fell behind the registrar");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            };
            let (aor, uri, device) = match change {
                Change::Added { aor, uri, device } => (aor, uri, Some(device)),
                Change::Removed { aor, uri, .. } => (aor, uri, None),
            };
            let Ok(user) = aor.parse::<UserUri>() else {
                continue;
            };
            let id = EndpointId(format!("sip-contact {uri}"));
            if let Some(device) = device {
                match self.load_user(&user).await {
                    Ok(true) => self.endpoint_up(&user, id, EndpointKind::Sip, Some(device)),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "presence: cannot load a registered user"),
                }
            } else {
                self.endpoint_down(&user, id);
            }
        }
    }
}

/// The call phases that make their owner "in a call": their phone has answered.
pub fn counts_as_in_a_call(call: &crate::calls::CallView) -> bool {
    // A call forwarded away (to voicemail, a colleague) does not keep the user busy.
    matches!(
        call.state,
        CallState::Connecting | CallState::Ringing | CallState::Connected | CallState::OnHold
    ) && call.answered_on != Some("forward")
}

/// Tells the SIP side whose presence changed (nobody listening is fine).
fn changed(tx: &broadcast::Sender<UserUri>, notices: &[Notice]) {
    if tx.receiver_count() > 0 {
        for n in notices {
            let _ = tx.send(n.target.clone());
        }
    }
}

/// Publishes notices: one JSON value per notice, cloned into each recipient's stream.
fn deliver(hub: &EventHub, notices: &[Notice]) {
    for n in notices {
        ::metrics::counter!("viawork_presence_events_total")
            .increment((n.to.len() + n.hidden_to.len()) as u64);
        if !n.to.is_empty() {
            let data = presence_json(&n.target, &n.presence);
            hub.publish_many(n.to.iter().map(UserUri::as_str), EVENT, &data);
        }
        if !n.hidden_to.is_empty() {
            let data = presence_json(&n.target, &Presence::hidden());
            hub.publish_many(n.hidden_to.iter().map(UserUri::as_str), EVENT, &data);
        }
    }
}

/// Wakes the core at its deadlines; ends once the service is gone.
async fn run_timers(inner: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(i) = inner.upgrade() else { return };
            let next = i
                .core
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .poll_timeout();
            next
        };
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = wake.notified() => continue,
                }
            }
            None => {
                wake.notified().await;
                continue;
            }
        }
        let Some(i) = inner.upgrade() else { return };
        let mut core = i.core.lock().unwrap_or_else(|p| p.into_inner());
        let notices = core.handle_timeout(Instant::now());
        deliver(&i.hub, &notices);
        changed(&i.changed, &notices);
    }
}

/// One open API client endpoint; dropping it counts the endpoint as gone.
#[derive(Debug)]
pub struct EndpointGuard {
    service: PresenceService,
    user: UserUri,
    id: EndpointId,
}

impl Drop for EndpointGuard {
    fn drop(&mut self) {
        ::metrics::gauge!("viawork_presence_event_streams").decrement(1.0);
        self.service.endpoint_down(
            &self.user,
            std::mem::replace(&mut self.id, EndpointId(String::new())),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::model::{Activity, Availability};

    #[test]
    fn a_call_counts_from_the_users_phone_answering_until_it_ends() {
        use CallState::*;
        for (state, counts) in [
            (ConnectingYourPhone, false),
            (YourPhoneRinging, false),
            (Connecting, true),
            (Ringing, true),
            (Connected, true),
            (OnHold, true),
            (Ended, false),
            (Incoming, false),
        ] {
            let view = view(state, None);
            assert_eq!(counts_as_in_a_call(&view), counts, "{state:?}");
        }
        // An incoming call answered on a phone counts; one forwarded away does not.
        assert!(counts_as_in_a_call(&view(Connected, Some("desk_phone"))));
        assert!(!counts_as_in_a_call(&view(Connected, Some("forward"))));
    }

    fn view(state: CallState, answered_on: Option<&'static str>) -> crate::calls::CallView {
        crate::calls::CallView {
            id: "c".into(),
            state,
            to: String::new(),
            to_number: String::new(),
            callback_number: String::new(),
            media: "direct",
            direction: "inbound",
            from: None,
            from_name: None,
            answered_on,
            links: None,
            muted: false,
            transfer_failed: None,
            end_reason: None,
            hung_up_by: None,
            created_at: 0,
            connected_at: None,
            ended_at: None,
        }
    }

    #[test]
    fn the_event_payload_names_the_person_and_leaves_out_what_is_not_there() {
        let uri: UserUri = "sip:alice@example.com".parse().unwrap();
        let p = Presence {
            availability: Availability::Busy,
            activity: Some(Activity::InACall),
            note: Note::default(),
            last_active_at: None,
        };
        assert_eq!(
            presence_json(&uri, &p),
            json!({"uri": "sip:alice@example.com", "availability": "Busy", "activity": "in_a_call"})
        );
        assert_eq!(
            presence_json(&uri, &Presence::hidden()),
            json!({"uri": "sip:alice@example.com", "availability": "Offline"})
        );
    }
}
