//! The non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! ```text
//!  Trying ──1xx──▶ Proceeding ──200-699──▶ Completed ──Timer K──▶ Terminated
//!    └──────────200-699───────────────────────▲
//!  Trying, Proceeding: Timer E retransmits (T1 doubling up to T2; T2 after a provisional;
//!  unreliable only); Timer F (64·T1) times out. Timer K is T4 over UDP, zero otherwise.
//! ```

use super::key::TransactionKey;
use super::output::{Output, TuEvent};
use super::peer::Peer;
use super::timers::{due, earliest, Backoff, TimerConfig};
use super::wire::Wire;
use sip::Message;
use std::time::Instant;

/// States of §17.1.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The request is out, no response yet.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// The final response arrived; absorbing its retransmissions.
    Completed,
    /// Done.
    Terminated,
}

/// One non-INVITE client transaction.
#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    key: TransactionKey,
    request: Wire,
    peer: Peer,
    state: State,
    timer_e: Option<Backoff>,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
}

impl ClientNonInvite {
    /// Sends the request and arms Timers E and F.
    pub(crate) fn start(
        key: TransactionKey,
        request: Message,
        peer: Peer,
        now: Instant,
        cfg: &TimerConfig,
        out: &mut Output,
    ) -> ClientNonInvite {
        let wire = Wire::of(&request);
        out.transmit(request, peer, Some(key));
        ClientNonInvite {
            key,
            request: wire,
            peer,
            state: State::Trying,
            timer_e: (!peer.is_reliable()).then(|| Backoff::start(now, cfg.t1, Some(cfg.t2))),
            timer_f: Some(now + cfg.transaction_timeout()),
            timer_k: None,
        }
    }

    /// The current state.
    pub(crate) fn state(&self) -> State {
        self.state
    }

    /// A response matched this transaction.
    pub(crate) fn on_response(
        &mut self,
        resp: Message,
        now: Instant,
        cfg: &TimerConfig,
        out: &mut Output,
    ) {
        let code = resp.status().unwrap_or(0);
        match (self.state, code) {
            (State::Trying | State::Proceeding, 100..=199) => {
                // Timer E keeps running; from its next firing on it uses T2 (§17.1.2.2).
                self.state = State::Proceeding;
                out.event(TuEvent::Response {
                    key: self.key,
                    msg: resp,
                });
            }
            (State::Trying | State::Proceeding, 200..=699) => {
                self.timer_e = None;
                self.timer_f = None;
                out.event(TuEvent::Response {
                    key: self.key,
                    msg: resp,
                });
                // Timer K: T4 over UDP, zero over reliable transports.
                if self.peer.is_reliable() {
                    self.state = State::Terminated;
                } else {
                    self.state = State::Completed;
                    self.timer_k = Some(now + cfg.t4);
                }
            }
            _ => tracing::trace!(key = %self.key, code, state = ?self.state, "response absorbed"),
        }
    }

    /// Timers E, F and K.
    pub(crate) fn on_timeout(&mut self, now: Instant, cfg: &TimerConfig, out: &mut Output) {
        if matches!(self.state, State::Trying | State::Proceeding) && due(self.timer_f, now) {
            out.event(TuEvent::Timeout { key: self.key });
            self.state = State::Terminated;
            return;
        }
        if due(self.timer_k, now) {
            self.state = State::Terminated;
            return;
        }
        if let Some(e) = self.timer_e.as_mut().filter(|e| e.due(now)) {
            self.request.resend(self.peer, self.key, out);
            if self.state == State::Proceeding {
                e.fired_with(now, cfg.t2);
            } else {
                e.fired(now);
            }
        }
    }

    /// The transport failed to send the request (§17.1.2.2).
    pub(crate) fn on_transport_error(&mut self, out: &mut Output) {
        if matches!(self.state, State::Trying | State::Proceeding) {
            out.event(TuEvent::TransportError { key: self.key });
            self.state = State::Terminated;
        }
    }

    /// The next timer.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        earliest([self.timer_e.map(|e| e.at), self.timer_f, self.timer_k])
    }

    /// True once the transaction is over.
    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}
