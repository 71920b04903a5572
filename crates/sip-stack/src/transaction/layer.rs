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
use super::index::Index;
use super::key::{TransactionKey, TransactionKind};
use super::matching::{AckMatch, ClientKey, ClientMatch, ServerKey, ServerMatch};
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
use std::time::Instant;

/// One of the four state machines, by their RFC 3261 abbreviations.
#[derive(Debug)]
enum Machine {
    /// INVITE client transaction.
    Ict(ClientInvite),
    /// Non-INVITE client transaction.
    Nict(ClientNonInvite),
    /// INVITE server transaction.
    Ist(ServerInvite),
    /// Non-INVITE server transaction.
    Nist(ServerNonInvite),
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

/// An [`IndexKey`] with its hash in the [`Index`] it is in.
type Indexed = (u64, IndexKey);

/// A live transaction.
#[derive(Debug)]
struct Slot {
    key: TransactionKey,
    machine: Machine,
    /// Every key under which `clients` or `servers` finds this transaction (an RFC 2543
    /// INVITE also gets the key of its ACK).
    index: SmallVec<[Indexed; 1]>,
    /// The wake-up registered in the schedule.
    wake: Option<Instant>,
}

/// A 2xx awaiting its ACK, with its registered wake-up.
#[derive(Debug)]
struct Waiting {
    pending: Pending2xx,
    wake: Option<Instant>,
    /// The hash of its ACK key in `acks`.
    ack_hash: Option<u64>,
}

/// The RFC 3261 §17 transaction layer of one endpoint (see the [module docs](super)).
#[derive(Debug)]
pub struct TransactionLayer {
    config: TimerConfig,
    next_id: u64,
    /// Boxed: a slot is most of a kilobyte, the table keeps room for up to twice its
    /// entries and never shrinks, so inline slots kept the peak's table after a load.
    slots: IdMap<Box<Slot>>,
    clients: Index,
    servers: Index,
    /// 2xx retransmissions, by the id of their INVITE server transaction.
    pending: IdMap<Waiting>,
    /// Call-ID, CSeq number and To tag of each pending 2xx → its INVITE id.
    acks: Index,
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
            clients: Index::default(),
            servers: Index::default(),
            pending: IdMap::default(),
            acks: Index::default(),
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
        let is_invite = *method == Method::Invite;
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
        let matching = ClientMatch::of_request(&req)?;
        let (hash, existing) = self.find_client(&matching);
        if existing.is_some() {
            return Err(TransactionError::DuplicateBranch {
                branch: matching.branch().to_owned(),
                method: matching.method().to_owned(),
            });
        }
        let ck = matching.to_key();
        let (key, machine) = if is_invite {
            let key = self.new_key(TransactionKind::ClientInvite);
            let t = ClientInvite::start(key, req, peer, now, &self.config, &mut self.out);
            (key, Machine::Ict(t))
        } else {
            let key = self.new_key(TransactionKind::ClientNonInvite);
            let t = ClientNonInvite::start(key, req, peer, now, &self.config, &mut self.out);
            (key, Machine::Nict(t))
        };
        self.clients.insert(hash, key.id());
        self.insert(key, machine, (hash, IndexKey::Client(ck)));
        Ok(key)
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
                    Some((_, IndexKey::Server(k))) if code >= 200 && k.as_match().is_rfc2543() => {
                        let to_tag = resp.to_header().ok().and_then(|t| t.tag());
                        k.as_match()
                            .for_ack_with_to_tag(to_tag)
                            .map(|m| (self.servers.hash(&m), m.to_key()))
                    }
                    _ => None,
                };
                let pending = (200..300)
                    .contains(&code)
                    .then(|| Pending2xx::start(*key, &resp, t.peer(), now, &self.config));
                t.send_response(resp, now, &self.config, &mut self.out)?;
                accepted = pending;
                if let Some((hash, alias)) = alias {
                    self.servers.insert(hash, id);
                    slot.index.push((hash, IndexKey::Server(alias)));
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

    fn insert(&mut self, key: TransactionKey, machine: Machine, index: Indexed) {
        let mut keys = SmallVec::new();
        keys.push(index);
        self.slots.insert(
            key.id(),
            Box::new(Slot {
                key,
                machine,
                index: keys,
                wake: None,
            }),
        );
        self.after_step(key.id());
    }

    /// The client transaction `m` names, with the hash `m` has in `clients`.
    fn find_client(&self, m: &ClientMatch<'_>) -> (u64, Option<u64>) {
        let hash = self.clients.hash(m);
        let found = self.clients.candidates(hash).iter().copied().find(|id| {
            self.slots.get(id).is_some_and(|s| {
                s.index
                    .iter()
                    .any(|(_, k)| matches!(k, IndexKey::Client(c) if c.as_match() == *m))
            })
        });
        (hash, found)
    }

    /// The server transaction `m` names, with the hash `m` has in `servers`.
    fn find_server(&self, m: &ServerMatch<'_>) -> (u64, Option<u64>) {
        let hash = self.servers.hash(m);
        let found = self.servers.candidates(hash).iter().copied().find(|id| {
            self.slots.get(id).is_some_and(|s| {
                s.index
                    .iter()
                    .any(|(_, k)| matches!(k, IndexKey::Server(c) if c.as_match() == *m))
            })
        });
        (hash, found)
    }

    /// The INVITE whose pending 2xx an ACK with `m` acknowledges.
    fn find_pending(&self, m: &AckMatch<'_>) -> Option<u64> {
        let hash = self.acks.hash(m);
        self.acks.candidates(hash).iter().copied().find(|id| {
            self.pending
                .get(id)
                .and_then(|w| w.pending.ack_key())
                .is_some_and(|k| k.as_match() == *m)
        })
    }

    fn on_response(&mut self, msg: Message, peer: Peer, now: Instant) {
        let id = ClientMatch::of_response(&msg).and_then(|m| self.find_client(&m).1);
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
        let Some(method) = msg.method() else { return };
        let (is_ack, is_invite, is_cancel) = (
            *method == Method::Ack,
            *method == Method::Invite,
            *method == Method::Cancel,
        );
        let matching = match ServerMatch::of_request(&msg) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, %peer, "request dropped: cannot match it to a transaction");
                return;
            }
        };
        if is_ack {
            // The ACK for a 2xx the layer is retransmitting (the common case; it has a
            // branch of its own), else an ACK of the INVITE transaction (§17.2.3).
            let pending = AckMatch::of(&msg).and_then(|m| self.find_pending(&m));
            let txn = match pending {
                Some(_) => None,
                None => self.find_server(&matching).1,
            };
            self.on_ack(pending, txn, msg, peer, now);
            return;
        }
        let (hash, existing) = self.find_server(&matching);
        if let Some(id) = existing {
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
        // §9.2: the INVITE a CANCEL cancels matches it with the method ignored.
        let invite_key = if is_cancel {
            self.find_server(&matching.with_method("INVITE"))
                .1
                .and_then(|id| self.slots.get(&id))
                .map(|s| s.key)
                .filter(|k| k.kind() == TransactionKind::ServerInvite)
        } else {
            None
        };
        let server_key = matching.to_key();
        let (key, machine, event) = if is_invite {
            let k = self.new_key(TransactionKind::ServerInvite);
            let t = ServerInvite::start(k, &msg, peer, now, &self.config, &mut self.out);
            (k, Machine::Ist(t), TuEvent::Request { key: k, msg, peer })
        } else {
            let k = self.new_key(TransactionKind::ServerNonInvite);
            let event = if is_cancel {
                TuEvent::Cancel {
                    key: k,
                    invite_key,
                    msg,
                    peer,
                }
            } else {
                TuEvent::Request { key: k, msg, peer }
            };
            (k, Machine::Nist(ServerNonInvite::start(k, peer)), event)
        };
        self.servers.insert(hash, key.id());
        self.out.event(event);
        self.insert(key, machine, (hash, IndexKey::Server(server_key)));
    }

    /// An ACK that matched the 2xx pending on INVITE `pending`, or the INVITE server
    /// transaction `txn`, or nothing.
    fn on_ack(
        &mut self,
        pending: Option<u64>,
        txn: Option<u64>,
        msg: Message,
        peer: Peer,
        now: Instant,
    ) {
        if let Some(invite_key) = pending
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
        if let Some((id, slot)) = txn.and_then(|id| self.slots.get_mut(&id).map(|s| (id, s))) {
            if let Machine::Ist(t) = &mut slot.machine {
                let invite_key = slot.key;
                let disposition = t.on_ack(now, &self.config);
                self.after_step(id);
                if disposition == AckDisposition::ForTu {
                    self.out.event(TuEvent::Ack {
                        invite_key,
                        msg,
                        peer,
                    });
                }
                return;
            }
        }
        self.out.event(TuEvent::Stray { msg, peer });
    }

    fn start_pending_2xx(&mut self, pending: Pending2xx) {
        let id = pending.invite_key().id();
        self.stop_pending(id);
        let ack_hash = pending.ack_key().map(|k| self.acks.hash(&k.as_match()));
        if let Some(hash) = ack_hash {
            self.acks.insert(hash, id);
        }
        let wake = pending.next_deadline();
        self.schedule.update(Owner::Pending2xx(id), None, wake);
        self.pending.insert(
            id,
            Waiting {
                pending,
                wake,
                ack_hash,
            },
        );
    }

    /// Drops the 2xx retransmission of INVITE `id`; false when there was none.
    fn stop_pending(&mut self, id: u64) -> bool {
        let Some(w) = self.pending.remove(&id) else {
            return false;
        };
        self.schedule.update(Owner::Pending2xx(id), w.wake, None);
        if let Some(hash) = w.ack_hash {
            self.acks.remove(hash, id);
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
        for (hash, k) in &slot.index {
            match k {
                IndexKey::Client(_) => self.clients.remove(*hash, id),
                IndexKey::Server(_) => self.servers.remove(*hash, id),
            }
        }
        self.out.event(TuEvent::Terminated { key: slot.key });
    }

    /// Wake-ups registered, for tests that check nothing is left behind.
    #[cfg(test)]
    pub(crate) fn scheduled(&self) -> usize {
        self.schedule.len()
    }

    /// Index entries, for tests that check nothing is left behind.
    #[cfg(test)]
    pub(crate) fn indexed(&self) -> usize {
        self.clients.len() + self.servers.len() + self.acks.len()
    }
}
