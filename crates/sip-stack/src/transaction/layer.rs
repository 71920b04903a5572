//! [`TransactionLayer`]: every transaction of one endpoint, the matching that routes
//! received messages to them (RFC 3261 §17.1.3, §17.2.3), the UAS 2xx retransmissions
//! waiting for their ACK (§13.3.1.4), and the wake-up schedule.
//!
//! The layer is driven, never drives: each input (`handle_message`, `send_request`,
//! `send_response`, `handle_timeout`, ...) takes the current time, runs the affected state
//! machine and queues what came out. The caller then drains `poll_transmit` and
//! `poll_event` and sleeps until `poll_timeout`.

use super::client_invite::ClientInvite;
use super::client_non_invite::ClientNonInvite;
use super::error::TransactionError;
use super::ids::IdMap;
use super::key::{TransactionKey, TransactionKind};
use super::matching::{AckKey, ClientKey, ServerKey};
use super::output::{Output, Transmit, TuEvent};
use super::peer::Peer;
use super::schedule::{Owner, Schedule};
use super::server_invite::{AckDisposition, ServerInvite};
use super::server_non_invite::ServerNonInvite;
use super::state::TransactionState;
use super::timers::TimerConfig;
use super::uas_2xx::Pending2xx;
use sip::{HeaderError, HeaderName, Message, Method};
use smallvec::SmallVec;
use std::collections::HashMap;
use std::time::Instant;

/// One of the four state machines, by their RFC 3261 abbreviations (boxed: they hold
/// whole messages and differ in size).
#[derive(Debug)]
enum Machine {
    /// INVITE client transaction.
    Ict(Box<ClientInvite>),
    /// Non-INVITE client transaction.
    Nict(Box<ClientNonInvite>),
    /// INVITE server transaction.
    Ist(Box<ServerInvite>),
    /// Non-INVITE server transaction.
    Nist(Box<ServerNonInvite>),
}

impl Machine {
    fn next_deadline(&self) -> Option<Instant> {
        match self {
            Machine::Ict(t) => t.next_deadline(),
            Machine::Nict(t) => t.next_deadline(),
            Machine::Ist(t) => t.next_deadline(),
            Machine::Nist(t) => t.next_deadline(),
        }
    }

    fn is_terminated(&self) -> bool {
        match self {
            Machine::Ict(t) => t.is_terminated(),
            Machine::Nict(t) => t.is_terminated(),
            Machine::Ist(t) => t.is_terminated(),
            Machine::Nist(t) => t.is_terminated(),
        }
    }

    fn state(&self) -> TransactionState {
        match self {
            Machine::Ict(t) => TransactionState::ClientInvite(t.state()),
            Machine::Nict(t) => TransactionState::ClientNonInvite(t.state()),
            Machine::Ist(t) => TransactionState::ServerInvite(t.state()),
            Machine::Nist(t) => TransactionState::ServerNonInvite(t.state()),
        }
    }
}

/// A matching key under which a transaction is indexed.
#[derive(Debug)]
enum IndexKey {
    Client(ClientKey),
    Server(ServerKey),
}

/// A live transaction.
#[derive(Debug)]
struct Slot {
    key: TransactionKey,
    machine: Machine,
    /// Every key in `clients` or `servers` that points here (an RFC 2543 INVITE also gets
    /// the key of its ACK).
    index: SmallVec<[IndexKey; 1]>,
    /// The wake-up registered in the schedule.
    wake: Option<Instant>,
}

/// A 2xx awaiting its ACK, with its registered wake-up.
#[derive(Debug)]
struct Waiting {
    pending: Pending2xx,
    wake: Option<Instant>,
}

/// The RFC 3261 §17 transaction layer of one endpoint (see the [module docs](super)).
#[derive(Debug)]
pub struct TransactionLayer {
    config: TimerConfig,
    next_id: u64,
    slots: IdMap<Slot>,
    clients: HashMap<ClientKey, u64>,
    servers: HashMap<ServerKey, u64>,
    /// 2xx retransmissions, by the id of their INVITE server transaction.
    pending: IdMap<Waiting>,
    /// Call-ID, CSeq number and To tag of each pending 2xx → its INVITE id.
    acks: HashMap<AckKey, u64>,
    schedule: Schedule,
    out: Output,
    due: Vec<Owner>,
}

impl TransactionLayer {
    /// An empty layer. The timer values are [sanitized](TimerConfig::sanitized).
    pub fn new(config: TimerConfig) -> Self {
        TransactionLayer {
            config: config.sanitized(),
            next_id: 1,
            slots: IdMap::default(),
            clients: HashMap::new(),
            servers: HashMap::new(),
            pending: IdMap::default(),
            acks: HashMap::new(),
            schedule: Schedule::default(),
            out: Output::default(),
            due: Vec::new(),
        }
    }

    /// The timer values in use.
    pub fn config(&self) -> &TimerConfig {
        &self.config
    }

    /// A message arrived from `peer`. Requests create or match server transactions,
    /// responses match client transactions; what nothing claims becomes
    /// [`TuEvent::Stray`]. A request without the headers matching needs (a top Via, and for
    /// RFC 2543 requests CSeq, Call-ID, From and To) is dropped: it could not be answered
    /// through a transaction anyway.
    pub fn handle_message(&mut self, msg: Message, peer: Peer, now: Instant) {
        if msg.is_request() {
            self.on_request(msg, peer, now);
        } else {
            self.on_response(msg, peer, now);
        }
    }

    /// The TU sends a request: a new client transaction sends it and returns its key.
    /// The top Via must carry a branch unique to this request (see
    /// [`super::new_branch`]); the request goes to `peer` and is retransmitted when the
    /// transport is unreliable. ACK is refused (see [`TransactionError::AckNotAllowed`]).
    pub fn send_request(
        &mut self,
        req: Message,
        peer: Peer,
        now: Instant,
    ) -> Result<TransactionKey, TransactionError> {
        let method = req.method().ok_or(TransactionError::NotARequest)?;
        if *method == Method::Ack {
            return Err(TransactionError::AckNotAllowed);
        }
        let cseq = req.cseq()?;
        if cseq.method() != *method {
            return Err(TransactionError::CSeqMismatch {
                method: method.to_string(),
                cseq: cseq.method_name.to_owned(),
            });
        }
        for h in [HeaderName::CallId, HeaderName::From, HeaderName::To] {
            if !req.has(h) {
                return Err(HeaderError::new(h, "missing").into());
            }
        }
        let ck = ClientKey::for_request(&req)?;
        if self.clients.contains_key(&ck) {
            return Err(TransactionError::DuplicateBranch {
                branch: ck.branch().to_owned(),
                method: ck.method().to_string(),
            });
        }
        let (id, machine) = if *method == Method::Invite {
            let key = self.new_key(TransactionKind::ClientInvite);
            let t = ClientInvite::start(key, req, peer, now, &self.config, &mut self.out);
            (key, Machine::Ict(Box::new(t)))
        } else {
            let key = self.new_key(TransactionKind::ClientNonInvite);
            let t = ClientNonInvite::start(key, req, peer, now, &self.config, &mut self.out);
            (key, Machine::Nict(Box::new(t)))
        };
        self.clients.insert(ck.clone(), id.id());
        self.insert(id, machine, IndexKey::Client(ck));
        Ok(id)
    }

    /// The TU answers the request of server transaction `key`. The response goes to the
    /// peer the request came from. A 2xx to an INVITE is also retransmitted until its ACK
    /// arrives (see [`super::uas_2xx`]).
    pub fn send_response(
        &mut self,
        key: &TransactionKey,
        resp: Message,
        now: Instant,
    ) -> Result<(), TransactionError> {
        let code = resp.status().ok_or(TransactionError::NotAResponse)?;
        let id = key.id();
        let slot = self
            .slots
            .get_mut(&id)
            .filter(|s| s.key == *key)
            .ok_or(TransactionError::UnknownTransaction(*key))?;
        let mut accepted = None;
        match &mut slot.machine {
            Machine::Ist(t) => {
                // RFC 2543: the ACK carries the final response's To tag (§17.2.3), so an
                // old-style transaction is also indexed under it.
                let alias = match slot.index.first() {
                    Some(IndexKey::Server(k)) if code >= 200 && k.is_rfc2543() => {
                        k.for_ack_with_to_tag(resp.to_header().ok().and_then(|t| t.tag()))
                    }
                    _ => None,
                };
                let pending = (200..300)
                    .contains(&code)
                    .then(|| Pending2xx::start(*key, &resp, t.peer(), now, &self.config));
                t.send_response(resp, now, &self.config, &mut self.out)?;
                accepted = pending;
                if let Some(alias) = alias {
                    self.servers.entry(alias.clone()).or_insert(id);
                    slot.index.push(IndexKey::Server(alias));
                }
            }
            Machine::Nist(t) => t.send_response(resp, now, &self.config, &mut self.out)?,
            Machine::Ict(_) | Machine::Nict(_) => {
                return Err(TransactionError::NotAServerTransaction(*key))
            }
        }
        if let Some(pending) = accepted {
            self.start_pending_2xx(pending);
        }
        self.after_step(id);
        Ok(())
    }

    /// Sends a message outside any transaction: the ACK for a 2xx (RFC 3261 §13.2.2.4), a
    /// stateless response, a 2xx a dialog retransmits itself.
    pub fn send_stateless(&mut self, msg: Message, peer: Peer) {
        self.out.transmit(msg, peer, None);
    }

    /// The TU saw the ACK for the 2xx it sent on `invite_key` (matched by its dialog
    /// layer): stop retransmitting that 2xx. Returns false when nothing was pending.
    pub fn ack_received(&mut self, invite_key: &TransactionKey) -> bool {
        invite_key.kind() == TransactionKind::ServerInvite && self.stop_pending(invite_key.id())
    }

    /// The transport could not deliver a message of `key` (the key of its [`Transmit`]).
    /// The transaction tells the TU and, in most states, ends (RFC 3261 §17.1.1.2,
    /// §17.2.1, RFC 6026 §8.8). A 2xx retransmission for `key` stops.
    pub fn handle_transport_error(&mut self, key: &TransactionKey, _now: Instant) {
        let id = key.id();
        let before = self.out.events.len();
        if let Some(slot) = self.slots.get_mut(&id).filter(|s| s.key == *key) {
            match &mut slot.machine {
                Machine::Ict(t) => t.on_transport_error(&mut self.out),
                Machine::Nict(t) => t.on_transport_error(&mut self.out),
                Machine::Ist(t) => t.on_transport_error(&mut self.out),
                Machine::Nist(t) => t.on_transport_error(&mut self.out),
            }
            self.after_step(id);
        }
        let reported = self.out.events.len() > before;
        if key.kind() == TransactionKind::ServerInvite && self.stop_pending(id) && !reported {
            self.out.event(TuEvent::TransportError { key: *key });
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = std::mem::take(&mut self.due);
        self.schedule.take_due(now, &mut due);
        for owner in due.drain(..) {
            match owner {
                Owner::Transaction(id) => {
                    let Some(slot) = self.slots.get_mut(&id) else {
                        continue;
                    };
                    slot.wake = None;
                    match &mut slot.machine {
                        Machine::Ict(t) => t.on_timeout(now, &mut self.out),
                        Machine::Nict(t) => t.on_timeout(now, &self.config, &mut self.out),
                        Machine::Ist(t) => t.on_timeout(now, &mut self.out),
                        Machine::Nist(t) => t.on_timeout(now),
                    }
                    self.after_step(id);
                }
                Owner::Pending2xx(id) => {
                    let Some(w) = self.pending.get_mut(&id) else {
                        continue;
                    };
                    w.wake = None;
                    if w.pending.on_timeout(now, &mut self.out) {
                        self.stop_pending(id);
                    } else {
                        let next = w.pending.next_deadline();
                        self.schedule.update(owner, None, next);
                        w.wake = next;
                    }
                }
            }
        }
        self.due = due;
    }

    /// When to call [`Self::handle_timeout`] next; `None` when no timer is armed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.schedule.first()
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    /// The next event for the transaction user.
    pub fn poll_event(&mut self) -> Option<TuEvent> {
        self.out.events.pop_front()
    }

    /// Live state machines: transactions, plus 2xx responses still retransmitted while
    /// their ACK is awaited. Zero once every timer has run out.
    pub fn len(&self) -> usize {
        self.slots.len() + self.pending.len()
    }

    /// True when nothing is live (see [`Self::len`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The state of a live transaction.
    pub fn state(&self, key: &TransactionKey) -> Option<TransactionState> {
        self.slots
            .get(&key.id())
            .filter(|s| s.key == *key)
            .map(|s| s.machine.state())
    }

    /// The request that created a live server INVITE transaction, for a TU that kept only
    /// the key (to build a 487 after a CANCEL, say). The transaction keeps the request's
    /// bytes, so this parses it again.
    pub fn invite_request(&self, key: &TransactionKey) -> Option<Message> {
        match &self.slots.get(&key.id()).filter(|s| s.key == *key)?.machine {
            Machine::Ist(t) => t.request(),
            _ => None,
        }
    }

    // ---- internals ----

    fn new_key(&mut self, kind: TransactionKind) -> TransactionKey {
        let id = self.next_id;
        self.next_id += 1;
        TransactionKey::new(id, kind)
    }

    fn insert(&mut self, key: TransactionKey, machine: Machine, index: IndexKey) {
        let mut keys = SmallVec::new();
        keys.push(index);
        self.slots.insert(
            key.id(),
            Slot {
                key,
                machine,
                index: keys,
                wake: None,
            },
        );
        self.after_step(key.id());
    }

    fn on_response(&mut self, msg: Message, peer: Peer, now: Instant) {
        let id = ClientKey::for_response(&msg).and_then(|k| self.clients.get(&k).copied());
        let slot = id.and_then(|id| self.slots.get_mut(&id).map(|s| (id, s)));
        let Some((id, slot)) = slot else {
            self.out.event(TuEvent::Stray { msg, peer });
            return;
        };
        match &mut slot.machine {
            Machine::Ict(t) => t.on_response(msg, now, &self.config, &mut self.out),
            Machine::Nict(t) => t.on_response(msg, now, &self.config, &mut self.out),
            Machine::Ist(_) | Machine::Nist(_) => {
                self.out.event(TuEvent::Stray { msg, peer });
            }
        }
        self.after_step(id);
    }

    fn on_request(&mut self, msg: Message, peer: Peer, now: Instant) {
        let Some(method) = msg.method().cloned() else {
            return;
        };
        let key = match ServerKey::for_request(&msg) {
            Ok(k) => k,
            Err(e) => {
                tracing::debug!(error = %e, %peer, "request dropped: cannot match it to a transaction");
                return;
            }
        };
        if method == Method::Ack {
            self.on_ack(&key, msg, peer, now);
            return;
        }
        if let Some(&id) = self.servers.get(&key) {
            // A retransmission (§17.2.1, §17.2.2): never reaches the TU again.
            if let Some(slot) = self.slots.get_mut(&id) {
                match &mut slot.machine {
                    Machine::Ist(t) => t.on_retransmission(&mut self.out),
                    Machine::Nist(t) => t.on_retransmission(&mut self.out),
                    Machine::Ict(_) | Machine::Nict(_) => {}
                }
                self.after_step(id);
            }
            return;
        }
        let (key_id, machine, event) = match method {
            Method::Invite => {
                let k = self.new_key(TransactionKind::ServerInvite);
                let t = ServerInvite::start(k, &msg, peer, now, &self.config, &mut self.out);
                let ev = TuEvent::Request { key: k, msg, peer };
                (k, Machine::Ist(Box::new(t)), ev)
            }
            Method::Cancel => {
                let k = self.new_key(TransactionKind::ServerNonInvite);
                // §9.2: the INVITE it cancels matches with the method ignored.
                let invite_key = self
                    .servers
                    .get(&key.with_method(Method::Invite))
                    .and_then(|id| self.slots.get(id))
                    .map(|s| s.key)
                    .filter(|k| k.kind() == TransactionKind::ServerInvite);
                let ev = TuEvent::Cancel {
                    key: k,
                    invite_key,
                    msg,
                    peer,
                };
                (
                    k,
                    Machine::Nist(Box::new(ServerNonInvite::start(k, peer))),
                    ev,
                )
            }
            _ => {
                let k = self.new_key(TransactionKind::ServerNonInvite);
                let ev = TuEvent::Request { key: k, msg, peer };
                (
                    k,
                    Machine::Nist(Box::new(ServerNonInvite::start(k, peer))),
                    ev,
                )
            }
        };
        self.servers.insert(key.clone(), key_id.id());
        self.out.event(event);
        self.insert(key_id, machine, IndexKey::Server(key));
    }

    fn on_ack(&mut self, key: &ServerKey, msg: Message, peer: Peer, now: Instant) {
        if let Some(&id) = self.servers.get(key) {
            if let Some(slot) = self.slots.get_mut(&id) {
                if let Machine::Ist(t) = &mut slot.machine {
                    let invite_key = slot.key;
                    let disposition = t.on_ack(now, &self.config);
                    self.after_step(id);
                    if disposition == AckDisposition::ForTu {
                        self.stop_pending(id);
                        self.out.event(TuEvent::Ack {
                            invite_key,
                            msg,
                            peer,
                        });
                    }
                    return;
                }
            }
        }
        // The ACK for a 2xx: its own branch; matched by Call-ID, CSeq and To tag.
        let invite_id = AckKey::of(&msg).and_then(|k| self.acks.get(&k).copied());
        if let Some(invite_key) = invite_id
            .and_then(|id| self.pending.get(&id))
            .map(|w| w.pending.invite_key())
        {
            self.stop_pending(invite_key.id());
            self.out.event(TuEvent::Ack {
                invite_key,
                msg,
                peer,
            });
            return;
        }
        self.out.event(TuEvent::Stray { msg, peer });
    }

    fn start_pending_2xx(&mut self, pending: Pending2xx) {
        let id = pending.invite_key().id();
        self.stop_pending(id);
        if let Some(k) = pending.ack_key() {
            self.acks.insert(k.clone(), id);
        }
        let wake = pending.next_deadline();
        self.schedule.update(Owner::Pending2xx(id), None, wake);
        self.pending.insert(id, Waiting { pending, wake });
    }

    /// Drops the 2xx retransmission of INVITE `id`; false when there was none.
    fn stop_pending(&mut self, id: u64) -> bool {
        let Some(w) = self.pending.remove(&id) else {
            return false;
        };
        self.schedule.update(Owner::Pending2xx(id), w.wake, None);
        if let Some(k) = w.pending.ack_key() {
            if self.acks.get(k) == Some(&id) {
                self.acks.remove(k);
            }
        }
        true
    }

    /// After a machine ran: removes it if it ended, or moves its wake-up.
    fn after_step(&mut self, id: u64) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        if !slot.machine.is_terminated() {
            let next = slot.machine.next_deadline();
            self.schedule
                .update(Owner::Transaction(id), slot.wake, next);
            slot.wake = next;
            return;
        }
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        self.schedule
            .update(Owner::Transaction(id), slot.wake, None);
        for k in slot.index {
            match k {
                IndexKey::Client(k) => {
                    if self.clients.get(&k) == Some(&id) {
                        self.clients.remove(&k);
                    }
                }
                IndexKey::Server(k) => {
                    if self.servers.get(&k) == Some(&id) {
                        self.servers.remove(&k);
                    }
                }
            }
        }
        self.out.event(TuEvent::Terminated { key: slot.key });
    }

    /// Wake-ups registered, for tests that check nothing is left behind.
    #[cfg(test)]
    pub(crate) fn scheduled(&self) -> usize {
        self.schedule.len()
    }
}
