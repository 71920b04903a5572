//! Every live call of the server, as one sans-IO core: it routes SIP events to the call
//! and leg they belong to (by Call-ID, and by transaction key for timeouts), runs the
//! calls' timers from one heap, keeps the trunk's health, and hands back what to send,
//! what to tell the media engine and what changed. The tokio side
//! ([`super::service`]) only moves these.
//!
//! Cost per call is a few hash-map entries and the two legs' dialog state; nothing is
//! scanned per event, so the work per SIP message does not grow with the number of calls.

use super::call::{Call, CallNotice, CallSetup, Control, ControlError, MediaAction};
use super::leg::{LegRole, SipOut};
use super::model::{CallState, EndReason, HungUpBy};
use super::trunk::TrunkHealth;
use serde::Serialize;
use sip::{Message, Method};
use sip_stack::transaction::TransactionKey;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What a client sees of a call.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CallView {
    /// The call's id.
    pub id: String,
    /// The state.
    pub state: CallState,
    /// Who is called, as the user gave it.
    pub to: String,
    /// The number dialled for `to` (E.164 or an extension).
    pub to_number: String,
    /// The number the user's phone is rung on (E.164).
    pub callback_number: String,
    /// Where the media runs: `engine`, `direct` or `relayed`.
    #[schema(value_type = String)]
    pub media: &'static str,
    /// `outbound` for a Call Via Work call, `inbound` for a call to the user, `b2bua`
    /// for a SIP client's call passed on to the PBX, `meeting` for a meeting joined by
    /// dial-out.
    #[schema(value_type = String)]
    pub direction: &'static str,
    /// An incoming call's caller (their number or SIP URI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// An incoming call's caller's name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
    /// Where an incoming call was answered: `desk_phone`, `sip_client`, `client`
    /// (accepted in an API client, then the PBX phone rung as a callback),
    /// `simultaneous_ring` or `forward`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub answered_on: Option<&'static str>,
    /// While an incoming call rings the user's clients: where to accept or decline it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<IncomingLinks>,
    /// The user's phone is muted toward the far party.
    pub muted: bool,
    /// Why the last transfer did not happen (the far side's status), if one failed.
    pub transfer_failed: Option<u16>,
    /// Why it ended, once it has.
    pub end_reason: Option<EndReason>,
    /// Who ended it, once it has.
    pub hung_up_by: Option<HungUpBy>,
    /// When it was created (Unix milliseconds).
    pub created_at: u64,
    /// When it connected (Unix milliseconds).
    pub connected_at: Option<u64>,
    /// When it ended (Unix milliseconds).
    pub ended_at: Option<u64>,
}

/// Where a client accepts or declines an incoming call (`POST`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct IncomingLinks {
    /// Answer it: the user's PBX phone rings as a callback and is connected.
    pub accept: String,
    /// Decline it: the caller goes to the user's unanswered-call target, or gets `603`.
    pub decline: String,
}

/// A finished call, for the call log.
#[derive(Debug, Clone)]
pub struct FinishedCall {
    /// The last view.
    pub view: CallView,
    /// The owner's SIP URI.
    pub owner: String,
    /// The SIP Call-IDs of the callback and far legs.
    pub sip_call_ids: [Option<String>; 2],
    /// When the user's phone answered (Unix milliseconds).
    pub callback_answered_at: Option<u64>,
}

/// What the manager asks for.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Output {
    /// Send this for `call`'s `role` leg; bind a request's key with [`CallManager::bind`].
    Sip {
        /// The call.
        call: Arc<str>,
        /// The leg.
        role: LegRole,
        /// The message.
        out: SipOut,
        /// For a leg's first INVITE: what it answers and since when, to measure the time
        /// ViaWork adds (`api_to_callback_invite`, `callback_answer_to_far_invite`).
        since: Option<(&'static str, Instant)>,
    },
    /// Drive the media engine.
    Media {
        /// The call.
        call: Arc<str>,
        /// The action.
        action: MediaAction,
    },
    /// The call changed (for the event bus).
    Changed {
        /// The owner's SIP URI.
        owner: Arc<str>,
        /// The new view.
        view: CallView,
        /// An incoming call's first view, offered to the user's clients
        /// (`call.incoming`).
        incoming: bool,
    },
    /// The call is over and forgotten: write it to the call log.
    Finished(FinishedCall),
    /// Send an OPTIONS keep-alive to the trunk; report with [`CallManager::bind_probe`].
    Probe,
    /// Answer a request no call took.
    Reply {
        /// The server transaction.
        key: TransactionKey,
        /// The response.
        msg: Message,
    },
}

/// Why a call cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// The trunk is down.
    #[error("the trunk to the PBX is unavailable")]
    TrunkUnavailable,
    /// The INVITE could not be built.
    #[error("cannot build the call: {0}")]
    Build(String),
}

struct Entry {
    call: Call,
    owner: Arc<str>,
    to: String,
    to_number: String,
    callback_number: String,
    created_at: u64,
    connected_at: Option<u64>,
    ended_at: Option<u64>,
    callback_answered_at: Option<u64>,
    /// Client transactions bound to this call, to unbind when it is forgotten.
    keys: Vec<TransactionKey>,
    requested_at: Option<Instant>,
    /// The media path last reported.
    media: &'static str,
    /// How many legs' Call-IDs are registered in `by_call_id`.
    legs_known: usize,
    transfer_failed: Option<u16>,
    /// An incoming call's caller and their name.
    from: Option<(String, Option<String>)>,
    /// `call.incoming` was announced.
    announced: bool,
    /// The deadline last put on the timer heap: the same deadline is not pushed again on
    /// every event of the call (each push stays on the heap until it is due).
    scheduled: Option<Instant>,
}

impl Entry {
    fn new(
        call: Call,
        owner: &str,
        to: String,
        to_number: String,
        callback_number: String,
        requested_at: Option<Instant>,
    ) -> Entry {
        Entry {
            call,
            owner: Arc::from(owner),
            to,
            to_number,
            callback_number,
            created_at: unix_ms(),
            connected_at: None,
            ended_at: None,
            callback_answered_at: None,
            keys: Vec::new(),
            requested_at,
            media: "engine",
            legs_known: 0,
            transfer_failed: None,
            from: None,
            announced: false,
            scheduled: None,
        }
    }

    fn view(&self, id: &str) -> CallView {
        let end = self.call.end();
        CallView {
            id: id.to_owned(),
            state: self.call.state(),
            to: self.to.clone(),
            to_number: self.to_number.clone(),
            callback_number: self.callback_number.clone(),
            media: self.call.media_path(),
            direction: if self.call.is_meeting() {
                "meeting"
            } else if self.call.is_incoming() {
                "inbound"
            } else if self.call.is_bridged() {
                "b2bua"
            } else {
                "outbound"
            },
            from: self.from.as_ref().map(|f| f.0.clone()),
            from_name: self.from.as_ref().and_then(|f| f.1.clone()),
            answered_on: self.call.answered_on().map(|k| k.as_str()),
            links: self.call.is_offered().then(|| IncomingLinks {
                accept: format!("/api/v1/calls/{id}/accept"),
                decline: format!("/api/v1/calls/{id}/decline"),
            }),
            muted: self.call.is_muted(),
            transfer_failed: self.transfer_failed,
            end_reason: end.map(|e| e.0),
            hung_up_by: end.map(|e| e.1),
            created_at: self.created_at,
            connected_at: self.connected_at,
            ended_at: self.ended_at,
        }
    }
}

/// Where a new INVITE goes, as the router (`crate::incoming`) decided.
#[derive(Debug)]
pub enum NewInvite {
    /// To a user: it rings their phones and clients.
    Ring(Box<NewIncoming>),
    /// From a SIP client to a number: through the trunk.
    Out(Box<NewBridge>),
    /// To a conference bridge number: answered here, then the voice menu.
    DialIn(Box<NewDialIn>),
}

/// A call to a conference bridge number, answered by ViaWork itself.
#[derive(Debug)]
pub struct NewDialIn {
    /// Whose call it is: the caller's user when the caller ID names one, else the
    /// bridge (`BRIDGE_OWNER`).
    pub owner: String,
    /// The caller (number or SIP URI).
    pub from: String,
    /// The caller's name.
    pub from_name: Option<String>,
    /// The bridge number dialled.
    pub to: String,
    /// Our side of the caller's dialog.
    pub uas: super::leg::LegSetup,
    /// The engine stream's media, for our SDP.
    pub local: sdp::LocalMedia,
    /// The streams (the first answers the caller); the service keeps them.
    pub streams: Option<super::media::CallStreams>,
}

/// The owner of dial-in calls whose caller ID names no user.
pub const BRIDGE_OWNER: &str = "sip:conference-bridge@invalid";

impl NewInvite {
    /// Whose call it is.
    pub fn owner(&self) -> &str {
        match self {
            NewInvite::Ring(n) => &n.owner,
            NewInvite::Out(n) => &n.owner,
            NewInvite::DialIn(n) => &n.owner,
        }
    }
}

/// A SIP client's call passed on to the PBX, with everything decided by the router.
#[derive(Debug)]
pub struct NewBridge {
    /// Whose call it is (the client's user, or its From URI).
    pub owner: String,
    /// What was dialled.
    pub to: String,
    /// The number dialled.
    pub to_number: String,
    /// The leg to the PBX.
    pub setup: super::leg::LegSetup,
    /// How long the PBX side may ring.
    pub ring_timeout: std::time::Duration,
    /// The address our SDP origin names.
    pub local_ip: std::net::IpAddr,
}

/// An incoming call, with everything decided by the router (who it is for, where it
/// rings).
#[derive(Debug)]
pub struct NewIncoming {
    /// The called user's SIP URI.
    pub owner: String,
    /// The caller (number or SIP URI).
    pub from: String,
    /// The caller's name.
    pub from_name: Option<String>,
    /// What was dialled (the Request-URI's user).
    pub to: String,
    /// The number dialled, as the user's line.
    pub to_number: String,
    /// The number an accept in a client rings (the Call Via Work callback), or empty.
    pub callback_number: String,
    /// Our side of the caller's dialog.
    pub uas: super::leg::LegSetup,
    /// Where it rings.
    pub plan: super::ringing::RingPlan,
    /// The address our SDP origin names.
    pub local_ip: std::net::IpAddr,
}

/// A new call, with everything decided by the API (policy, numbers, legs).
#[derive(Debug)]
pub struct NewCall {
    /// The owner's SIP URI.
    pub owner: String,
    /// `to` as the user gave it.
    pub to: String,
    /// The dialled number.
    pub to_number: String,
    /// The callback number.
    pub callback_number: String,
    /// The legs and media.
    pub setup: CallSetup,
    /// When the API received the request, to measure the time ViaWork adds before the
    /// callback INVITE leaves.
    pub requested_at: Option<Instant>,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// How long a finished call stays readable by `GET /api/v1/calls/{id}`.
pub const RECENT_FOR: std::time::Duration = std::time::Duration::from_secs(300);
/// At most this many finished calls are kept readable.
const RECENT_MAX: usize = 10_000;

/// What a client transaction was sent for: the call, the leg, the method, the leg's SIP
/// Call-ID and the request's top-Via branch.
type Bound = (Arc<str>, LegRole, Method, String, Option<String>);

/// What plain back-to-back calls need.
#[derive(Debug, Clone)]
pub struct Bridging {
    /// The trunk the calls go to.
    pub trunk: Arc<super::trunk::Trunk>,
    /// Which clients may call through.
    pub clients: Vec<crate::config::Cidr>,
    /// How long the PBX side may ring.
    pub ring_timeout: std::time::Duration,
}

/// Every live call. See the [module docs](self).
pub struct CallManager {
    /// Finished calls, readable for [`RECENT_FOR`]: a client polling a call sees how it
    /// ended. Oldest first.
    recent: std::collections::VecDeque<(Instant, Arc<str>, CallView)>,
    /// Boxed: an entry is several KiB, and a hash table keeps room for up to twice its
    /// entries; inline, that room cost more than the calls themselves (heaptrack).
    calls: HashMap<Arc<str>, Box<Entry>>,
    by_call_id: HashMap<String, (Arc<str>, LegRole)>,
    by_key: HashMap<TransactionKey, Bound>,
    timers: BinaryHeap<Reverse<(Instant, Arc<str>)>>,
    health: TrunkHealth,
    /// Who may send out-of-dialog requests as the PBX; empty trusts everyone (tests).
    trusted: Vec<crate::config::Cidr>,
    /// Plain back-to-back calls from SIP clients to the PBX, when enabled.
    bridging: Option<Bridging>,
    probe: Option<TransactionKey>,
    out: Vec<Output>,
}

impl CallManager {
    /// A manager whose trunk is kept alive as `health` says.
    pub fn new(health: TrunkHealth) -> CallManager {
        CallManager {
            recent: std::collections::VecDeque::new(),
            calls: HashMap::new(),
            by_call_id: HashMap::new(),
            by_key: HashMap::new(),
            timers: BinaryHeap::new(),
            health,
            trusted: Vec::new(),
            bridging: None,
            probe: None,
            out: Vec::new(),
        }
    }

    /// Passes INVITEs from `bridging.clients` on to the PBX (a plain B2BUA).
    pub fn set_bridging(&mut self, bridging: Option<Bridging>) {
        self.bridging = bridging;
    }

    /// A new INVITE from a bridge client: a plain back-to-back call to the PBX.
    fn bridge(
        &mut self,
        key: TransactionKey,
        msg: &Message,
        peer: sip_stack::transaction::Peer,
        now: Instant,
    ) -> bool {
        let Some(b) = self.bridging.clone() else {
            return false;
        };
        if !b.clients.iter().any(|c| c.contains(peer.addr.ip())) {
            return false;
        }
        let reply = |code| {
            sip::ResponseBuilder::reply(msg, code, Some(&crate::sip_service::new_tag()))
                .build()
                .ok()
        };
        if !self.health.is_up() {
            if let Some(resp) = reply(503) {
                self.out.push(Output::Reply { key, msg: resp });
            }
            return true;
        }
        let user = match msg.request_uri() {
            Some(Ok(sip::Uri::Sip(u))) => u.user.map(str::to_owned),
            Some(Ok(sip::Uri::Tel(t))) => Some(t.number.to_owned()),
            _ => None,
        };
        let (Some(user), Ok(from)) = (user, msg.from_header()) else {
            if let Some(resp) = reply(404) {
                self.out.push(Output::Reply { key, msg: resp });
            }
            return true;
        };
        let display = from.display_name.map(|d| d.text().into_owned());
        let from_uri = from.uri.to_string();
        let setup = b
            .trunk
            .leg_as(b.trunk.uri_for_user(&user), from_uri.clone(), display);
        let id = format!("{:032x}", rand::random::<u128>());
        let new = NewBridge {
            owner: from_uri,
            to: user.clone(),
            to_number: user,
            setup,
            ring_timeout: b.ring_timeout,
            local_ip: b.trunk.local.ip(),
        };
        if let Err(e) = self.bridge_as(&id, new, key, msg, peer, now) {
            tracing::info!(error = %e, "cannot bridge the INVITE");
            if let Some(resp) = reply(400) {
                self.out.push(Output::Reply { key, msg: resp });
            }
        }
        true
    }

    /// Passes a SIP client's INVITE on (a plain back-to-back call) as `new` says; its id
    /// is `id`.
    pub fn bridge_as(
        &mut self,
        id: &str,
        new: NewBridge,
        key: TransactionKey,
        invite: &Message,
        peer: sip_stack::transaction::Peer,
        now: Instant,
    ) -> Result<CallView, StartError> {
        if !self.health.is_up() {
            return Err(StartError::TrunkUnavailable);
        }
        let local = super::media::relay_local(new.local_ip, 9);
        let sessions = [
            super::sdp_relay::LegSession::new(local.clone()),
            super::sdp_relay::LegSession::new(local),
        ];
        let call = Call::bridge(
            invite,
            key,
            peer,
            new.setup,
            sessions,
            new.ring_timeout,
            now,
        )
        .map_err(StartError::Build)?;
        let id: Arc<str> = Arc::from(id);
        let entry = Entry::new(call, &new.owner, new.to, new.to_number, String::new(), None);
        Ok(self.keep(id, entry, now))
    }

    /// A CANCEL for an INVITE a call took (a bridged caller giving up). Returns false
    /// when no call owns it.
    pub fn on_cancel(&mut self, key: TransactionKey, msg: &Message, now: Instant) -> bool {
        let Some((call, _)) = self.route(msg) else {
            return false;
        };
        if let Ok(resp) = sip::ResponseBuilder::reply(msg, 200, None).build() {
            self.out.push(Output::Reply { key, msg: resp });
        }
        if let Some(e) = self.calls.get_mut(&call) {
            e.call.on_cancel(now);
        }
        self.after(&call, now);
        true
    }

    /// Only these networks may send out-of-dialog requests (an INVITE with Replaces).
    pub fn set_trusted(&mut self, trusted: Vec<crate::config::Cidr>) {
        self.trusted = trusted;
    }

    fn is_trusted(&self, peer: Option<sip_stack::transaction::Peer>) -> bool {
        self.trusted.is_empty()
            || peer.is_some_and(|p| self.trusted.iter().any(|c| c.contains(p.addr.ip())))
    }

    /// The trunk's keep-alive state.
    pub fn health(&self) -> &TrunkHealth {
        &self.health
    }

    /// Live calls (ended ones linger until their legs are done).
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// True with no live call.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Starts a call; its id is `id`.
    pub fn start(&mut self, id: &str, new: NewCall, now: Instant) -> Result<CallView, StartError> {
        if !self.health.is_up() {
            return Err(StartError::TrunkUnavailable);
        }
        let requested_at = new.requested_at;
        let call = Call::start(new.setup, now).map_err(StartError::Build)?;
        let id: Arc<str> = Arc::from(id);
        let entry = Entry::new(
            call,
            &new.owner,
            new.to,
            new.to_number,
            new.callback_number,
            requested_at,
        );
        Ok(self.keep(id, entry, now))
    }

    /// Keeps a new call's entry and runs its first steps; its view.
    fn keep(&mut self, id: Arc<str>, entry: Entry, now: Instant) -> CallView {
        let view = entry.view(&id);
        self.calls.insert(id.clone(), Box::new(entry));
        self.after(&id, now);
        view
    }

    /// Rings an incoming call (`invite`, server transaction `key`, from `peer`) for its
    /// user as `new` plans; its id is `id`.
    pub fn incoming(
        &mut self,
        id: &str,
        new: NewIncoming,
        key: TransactionKey,
        invite: &Message,
        peer: sip_stack::transaction::Peer,
        now: Instant,
    ) -> Result<CallView, StartError> {
        let local = super::media::relay_local(new.local_ip, 9);
        let sessions = [
            super::sdp_relay::LegSession::new(local.clone()),
            super::sdp_relay::LegSession::new(local),
        ];
        let call = Call::incoming(invite, key, peer, new.uas, new.plan, sessions, now)
            .map_err(StartError::Build)?;
        let id: Arc<str> = Arc::from(id);
        let mut entry = Entry::new(
            call,
            &new.owner,
            new.to,
            new.to_number,
            new.callback_number,
            None,
        );
        entry.from = Some((new.from, new.from_name));
        Ok(self.keep(id, entry, now))
    }

    /// Takes a new INVITE as `new` says: [`CallManager::incoming`] or
    /// [`CallManager::bridge_as`].
    pub fn take_invite(
        &mut self,
        id: &str,
        new: NewInvite,
        key: TransactionKey,
        invite: &Message,
        peer: sip_stack::transaction::Peer,
        now: Instant,
    ) -> Result<CallView, StartError> {
        match new {
            NewInvite::Ring(n) => self.incoming(id, *n, key, invite, peer, now),
            NewInvite::Out(n) => self.bridge_as(id, *n, key, invite, peer, now),
            NewInvite::DialIn(n) => self.dial_in(id, *n, key, invite, peer, now),
        }
    }

    /// Answers a call to a conference bridge number (its streams are the service's).
    fn dial_in(
        &mut self,
        id: &str,
        new: NewDialIn,
        key: TransactionKey,
        invite: &Message,
        peer: sip_stack::transaction::Peer,
        now: Instant,
    ) -> Result<CallView, StartError> {
        let session = super::sdp_relay::LegSession::new(new.local);
        let call =
            Call::dial_in(invite, key, peer, new.uas, session, now).map_err(StartError::Build)?;
        let id: Arc<str> = Arc::from(id);
        let mut entry = Entry::new(
            call,
            &new.owner,
            new.to.clone(),
            new.to,
            String::new(),
            None,
        );
        entry.from = Some((new.from, new.from_name));
        Ok(self.keep(id, entry, now))
    }

    /// `owner` accepts (or, with `accept` false, declines) their incoming call `id`.
    /// `None` when it is not theirs; `Some(None)` when it no longer rings for clients.
    pub fn answer(
        &mut self,
        id: &str,
        owner: &str,
        accept: bool,
        now: Instant,
    ) -> Option<Option<CallView>> {
        let (key, entry) = self.calls.get_key_value(id)?;
        if &*entry.owner != owner {
            return None;
        }
        let key = key.clone();
        let e = self.calls.get_mut(&key)?;
        let ok = if accept {
            e.call.accept(now)
        } else {
            e.call.decline(now)
        };
        self.after(&key, now);
        Some(ok.then(|| self.get(&key, owner)).flatten())
    }

    /// A call's view, if `owner` may see it.
    pub fn get(&self, id: &str, owner: &str) -> Option<CallView> {
        match self.calls.get(id) {
            Some(e) => (&*e.owner == owner).then(|| e.view(id)),
            None => self
                .recent
                .iter()
                .rev()
                .find(|(_, o, v)| v.id == id && &**o == owner)
                .map(|(_, _, v)| v.clone()),
        }
    }

    /// `owner`'s live calls.
    pub fn list(&self, owner: &str) -> Vec<CallView> {
        let mut v: Vec<CallView> = self
            .calls
            .iter()
            .filter(|(_, e)| &*e.owner == owner && e.call.end().is_none())
            .map(|(id, e)| e.view(id))
            .collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        v
    }

    /// Every live call (admin view).
    pub fn all(&self) -> Vec<(String, CallView)> {
        self.calls
            .iter()
            .map(|(id, e)| (e.owner.to_string(), e.view(id)))
            .collect()
    }

    /// Hangs up `owner`'s call `id`.
    pub fn hang_up(&mut self, id: &str, owner: &str, now: Instant) -> Option<CallView> {
        let (key, entry) = self.calls.get_key_value(id)?;
        if &*entry.owner != owner {
            return None;
        }
        let key = key.clone();
        if let Some(e) = self.calls.get_mut(&key) {
            e.call.hang_up(HungUpBy::User, now);
        }
        self.after(&key, now);
        // After `after`: it stamps the end time (and may already have forgotten the call).
        self.get(&key, owner)
    }

    /// Carries out an in-call control on `owner`'s call `id`.
    pub fn control(
        &mut self,
        id: &str,
        owner: &str,
        c: Control,
        now: Instant,
    ) -> Option<Result<CallView, ControlError>> {
        let (key, entry) = self.calls.get_key_value(id)?;
        if &*entry.owner != owner {
            return None;
        }
        let key = key.clone();
        let e = self.calls.get_mut(&key)?;
        let was_muted = e.call.is_muted();
        let r = e.call.control(c, now);
        let muted_changed = e.call.is_muted() != was_muted;
        self.after(&key, now);
        let e = self.calls.get(&key)?;
        let view = e.view(&key);
        if muted_changed {
            self.out.push(Output::Changed {
                owner: e.owner.clone(),
                view: view.clone(),
                incoming: false,
            });
        }
        Some(r.map(|()| view))
    }

    /// Records the transaction key of a request sent for `call`'s `role` leg.
    pub fn bind(
        &mut self,
        key: TransactionKey,
        call: Arc<str>,
        role: LegRole,
        method: Method,
        sip_call_id: String,
        branch: Option<String>,
    ) {
        if let Some(e) = self.calls.get_mut(&call) {
            e.keys.push(key);
            self.by_key
                .insert(key, (call, role, method, sip_call_id, branch));
        }
    }

    /// Records the key of the keep-alive just sent.
    pub fn bind_probe(&mut self, key: Option<TransactionKey>, now: Instant) {
        match key {
            Some(k) => self.probe = Some(k),
            None => self.health.on_failure(now),
        }
    }

    fn route(&self, msg: &Message) -> Option<(Arc<str>, LegRole)> {
        let cid = msg.call_id().ok()?;
        self.by_call_id.get(cid).cloned()
    }

    /// A response to a client transaction (or a stray 2xx retransmission).
    pub fn on_response(&mut self, key: Option<TransactionKey>, msg: &Message, now: Instant) {
        if key.is_some() && key == self.probe {
            if msg.status().is_some_and(|s| s >= 200) {
                self.probe = None;
                self.health.on_response(msg.status().unwrap_or(0), now);
            }
            return;
        }
        let Some((call, role)) = self.route(msg) else {
            return;
        };
        if let Some(e) = self.calls.get_mut(&call) {
            e.call.on_response(role, msg, now);
        }
        self.after(&call, now);
    }

    /// A new request. Returns false when no call owns its dialog (the caller answers it).
    pub fn on_request(&mut self, key: TransactionKey, msg: &Message, now: Instant) -> bool {
        self.on_request_from(key, msg, None, now)
    }

    /// A new request from `peer`. An INVITE with Replaces naming one of our legs' dialogs
    /// goes to that call (RFC 3891); one naming no dialog gets 481.
    pub fn on_request_from(
        &mut self,
        key: TransactionKey,
        msg: &Message,
        peer: Option<sip_stack::transaction::Peer>,
        now: Instant,
    ) -> bool {
        if msg.method() == Some(&Method::Invite) && self.route(msg).is_none() {
            if let Ok(Some(r)) = msg.typed::<sip::headers::Replaces>() {
                if !self.is_trusted(peer) {
                    tracing::info!(peer = ?peer, "INVITE with Replaces from an untrusted source");
                    if let Ok(resp) =
                        sip::ResponseBuilder::reply(msg, 403, Some(&crate::sip_service::new_tag()))
                            .build()
                    {
                        self.out.push(Output::Reply { key, msg: resp });
                    }
                    return true;
                }
                let target = self.by_call_id.get(r.call_id).cloned();
                let found = target.and_then(|(call, _)| {
                    let e = self.calls.get(&call)?;
                    let role = e.call.leg_with_dialog(r.call_id, r.to_tag, r.from_tag)?;
                    Some((call, role))
                });
                match (found, peer) {
                    (Some((call, role)), Some(peer)) => {
                        if let Some(e) = self.calls.get_mut(&call) {
                            e.call.on_replaces(role, key, msg, peer, now);
                        }
                        self.after(&call, now);
                    }
                    _ => {
                        if let Ok(resp) = sip::ResponseBuilder::reply(
                            msg,
                            481,
                            Some(&crate::sip_service::new_tag()),
                        )
                        .build()
                        {
                            self.out.push(Output::Reply { key, msg: resp });
                        }
                    }
                }
                return true;
            }
        }
        let new_invite = msg.method() == Some(&Method::Invite)
            && msg.to_header().is_ok_and(|t| t.tag().is_none());
        if new_invite && self.route(msg).is_some() {
            // One of our own INVITEs come back (the PBX routed a branch's number back to
            // ViaWork): a loop (RFC 3261 §16.3 item 4, seen from a B2BUA).
            if let Ok(resp) =
                sip::ResponseBuilder::reply(msg, 482, Some(&crate::sip_service::new_tag())).build()
            {
                self.out.push(Output::Reply { key, msg: resp });
            }
            return true;
        }
        let Some((call, role)) = self.route(msg) else {
            return match peer {
                Some(peer) if new_invite => self.bridge(key, msg, peer, now),
                _ => false,
            };
        };
        if let Some(e) = self.calls.get_mut(&call) {
            e.call.on_request(role, key, msg, now);
        }
        self.after(&call, now);
        true
    }

    /// An ACK for a 2xx we sent. Returns false when no call owns it.
    pub fn on_ack(&mut self, invite_key: TransactionKey, msg: &Message, now: Instant) -> bool {
        let Some((call, role)) = self.route(msg) else {
            return false;
        };
        if let Some(e) = self.calls.get_mut(&call) {
            e.call.on_ack(role, invite_key, msg, now);
        }
        self.after(&call, now);
        true
    }

    /// A client transaction timed out (`timeout`) or hit a transport error.
    pub fn on_failure(&mut self, key: TransactionKey, timeout: bool, now: Instant) {
        if Some(key) == self.probe {
            self.probe = None;
            self.health.on_failure(now);
            return;
        }
        let Some((call, role, method, cid, branch)) = self.by_key.get(&key).cloned() else {
            return;
        };
        if let Some(e) = self.calls.get_mut(&call) {
            e.call
                .on_failure_of(role, Some(&cid), branch.as_deref(), &method, timeout, now);
        }
        self.after(&call, now);
    }

    /// A transaction is gone.
    pub fn on_terminated(&mut self, key: TransactionKey) {
        if let Some((call, ..)) = self.by_key.remove(&key) {
            if let Some(e) = self.calls.get_mut(&call) {
                e.keys.retain(|k| *k != key);
            }
        }
        // The table keeps the room of its busiest moment (every setup's transactions
        // live for 32 s): give most of it back once calls are merely up.
        if self.by_key.capacity() > 4096 && self.by_key.capacity() > 4 * self.by_key.len() {
            self.by_key.shrink_to(2 * self.by_key.len());
        }
        if Some(key) == self.probe {
            self.probe = None;
        }
    }

    /// When [`CallManager::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let call = self.timers.peek().map(|Reverse((t, _))| *t);
        [call, self.health.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs what is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        while self
            .recent
            .front()
            .is_some_and(|(t, _, _)| now.duration_since(*t) >= RECENT_FOR)
        {
            self.recent.pop_front();
        }
        if self.health.probe_due(now) {
            self.out.push(Output::Probe);
        }
        while let Some(Reverse((t, id))) = self.timers.peek().cloned() {
            if t > now {
                break;
            }
            self.timers.pop();
            if let Some(e) = self.calls.get_mut(&id) {
                if e.scheduled == Some(t) {
                    e.scheduled = None;
                }
            }
            // Entries are not removed when a call's deadline moves: check it is real.
            let due = self
                .calls
                .get(&id)
                .and_then(|e| e.call.poll_timeout())
                .is_some_and(|d| d <= now);
            if due {
                if let Some(e) = self.calls.get_mut(&id) {
                    e.call.handle_timeout(now);
                }
                self.after(&id, now);
            }
        }
    }

    /// What to do, in order.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Output> {
        self.out.drain(..)
    }

    /// Collects a call's outputs after it ran.
    fn after(&mut self, id: &Arc<str>, now: Instant) {
        let Some(e) = self.calls.get_mut(id) else {
            return;
        };
        // New legs are rare (start, far leg, transfers): only then register Call-IDs, so
        // an ordinary SIP event allocates nothing here.
        let leg_count = e.call.leg_count();
        if leg_count > e.legs_known {
            e.legs_known = leg_count;
            for (role, c) in e.call.all_call_ids() {
                self.by_call_id
                    .entry(c)
                    .or_insert_with(|| (id.clone(), role));
            }
        }
        let mut out = Vec::new();
        let sip: Vec<SipOut> = e.call.drain_sip().collect();
        for o in sip {
            let role = match &o {
                SipOut::Request { msg, .. }
                | SipOut::Stateless { msg, .. }
                | SipOut::Response { msg, .. } => {
                    let cid = msg.call_id().unwrap_or("");
                    e.call.role_of(cid).unwrap_or(LegRole::Callback)
                }
                SipOut::AckReceived(_) => LegRole::Callback,
            };
            let first_invite = matches!(&o, SipOut::Request { msg, .. }
                if msg.cseq().is_ok_and(|c| c.seq == 1 && c.method() == Method::Invite));
            let since = match role {
                _ if !first_invite => None,
                LegRole::Callback => e.requested_at.map(|t| ("api_to_callback_invite", t)),
                LegRole::Far => e
                    .call
                    .times()
                    .callback_answered
                    .map(|t| ("callback_answer_to_far_invite", t)),
            };
            out.push(Output::Sip {
                call: id.clone(),
                role,
                out: o,
                since,
            });
        }
        for action in e.call.drain_media() {
            out.push(Output::Media {
                call: id.clone(),
                action,
            });
        }
        let mut changed = false;
        let mut finished = false;
        for n in e.call.drain_notices() {
            match n {
                CallNotice::State(CallState::Connected) => {
                    e.connected_at.get_or_insert_with(unix_ms);
                    changed = true;
                }
                CallNotice::State(CallState::Ended) | CallNotice::Ended(..) => {
                    e.ended_at.get_or_insert_with(unix_ms);
                    changed = true;
                }
                CallNotice::State(_) => changed = true,
                CallNotice::Finished => finished = true,
                CallNotice::TransferFailed(code) => {
                    e.transfer_failed = Some(code);
                    changed = true;
                }
            }
        }
        if e.call.media_path() != e.media {
            e.media = e.call.media_path();
            changed = true;
        }
        if e.call.times().callback_answered.is_some() {
            e.callback_answered_at.get_or_insert_with(unix_ms);
        }
        if changed {
            let view = e.view(id);
            let incoming = !e.announced && view.links.is_some();
            e.announced |= incoming;
            out.push(Output::Changed {
                owner: e.owner.clone(),
                view,
                incoming,
            });
        }
        if let Some(t) = e.call.poll_timeout() {
            if e.scheduled != Some(t) {
                e.scheduled = Some(t);
                self.timers.push(Reverse((t, id.clone())));
            }
        }
        if finished {
            if let Some(e) = self.calls.remove(id) {
                for (_, c) in e.call.all_call_ids() {
                    self.by_call_id.remove(&c);
                }
                for c in e.call.call_ids().iter().flatten() {
                    self.by_call_id.remove(c);
                }
                for k in &e.keys {
                    self.by_key.remove(k);
                }
                if self.recent.len() >= RECENT_MAX {
                    self.recent.pop_front();
                }
                self.recent.push_back((now, e.owner.clone(), e.view(id)));
                out.push(Output::Finished(FinishedCall {
                    view: e.view(id),
                    owner: e.owner.to_string(),
                    sip_call_ids: e.call.call_ids().clone(),
                    callback_answered_at: e.callback_answered_at,
                }));
            }
        }
        self.out.extend(out);
    }
}
