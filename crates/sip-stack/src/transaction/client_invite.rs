//! The INVITE client transaction (RFC 3261 §17.1.1, with the Accepted state of RFC 6026
//! §7.2).
//!
//! ```text
//!  Calling ──1xx──▶ Proceeding ──2xx──▶ Accepted ──Timer M──▶ Terminated
//!     │  ╲                  │              (further 2xx to TU)
//!     │   ╲─2xx─▶ Accepted  └─300-699: ACK──▶ Completed ──Timer D──▶ Terminated
//!     └─300-699: send ACK──▶ Completed          (re-ACK retransmitted finals)
//!  Calling: Timer A retransmits (T1, doubling; unreliable only); Timer B (64·T1) times out.
//! ```
//!
//! Once a provisional arrives the transaction waits for the final response as long as it
//! takes (§17.1.1.2); giving up is the TU's business (CANCEL, or a proxy's Timer C).

use super::ack::build_ack_for_non_2xx;
use super::key::TransactionKey;
use super::output::{Output, TuEvent};
use super::peer::Peer;
use super::timers::{due, earliest, Backoff, TimerConfig};
use super::wire::Wire;
use sip::Message;
use std::time::{Duration, Instant};

/// States of §17.1.1.2 and RFC 6026 §7.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The INVITE is out, no response yet.
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A 300–699 final arrived and was ACKed; absorbing its retransmissions.
    Completed,
    /// A 2xx arrived; further 2xx go to the TU (RFC 6026).
    Accepted,
    /// Done.
    Terminated,
}

/// One INVITE client transaction.
#[derive(Debug)]
pub(crate) struct ClientInvite {
    key: TransactionKey,
    request: Wire,
    peer: Peer,
    state: State,
    timer_a: Option<Backoff>,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
    ack: Option<Wire>,
}

impl ClientInvite {
    /// Sends the INVITE and arms Timers A and B (§17.1.1.2).
    pub(crate) fn start(
        key: TransactionKey,
        request: Message,
        peer: Peer,
        now: Instant,
        cfg: &TimerConfig,
        out: &mut Output,
    ) -> ClientInvite {
        let wire = Wire::of(&request);
        out.transmit(request, peer, Some(key));
        ClientInvite {
            key,
            request: wire,
            peer,
            state: State::Calling,
            timer_a: (!peer.is_reliable()).then(|| Backoff::start(now, cfg.t1, None)),
            timer_b: Some(now + cfg.transaction_timeout()),
            timer_d: None,
            timer_m: None,
            ack: None,
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
            (State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                self.timer_a = None;
                self.timer_b = None;
                out.event(TuEvent::Response {
                    key: self.key,
                    msg: resp,
                });
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                // RFC 6026 §7.2: stay to pass forked 2xx to the TU.
                self.state = State::Accepted;
                self.timer_a = None;
                self.timer_b = None;
                self.timer_m = Some(now + cfg.transaction_timeout());
                out.event(TuEvent::Response {
                    key: self.key,
                    msg: resp,
                });
            }
            (State::Calling | State::Proceeding, 300..=699) => {
                self.timer_a = None;
                self.timer_b = None;
                // §17.1.1.3: the transaction itself ACKs a non-2xx final response.
                let ack = self
                    .request
                    .message()
                    .map(|req| build_ack_for_non_2xx(&req, &resp));
                match ack {
                    Some(Ok(ack)) => {
                        self.ack = Some(Wire::of(&ack));
                        out.transmit(ack, self.peer, Some(self.key));
                    }
                    Some(Err(e)) => {
                        tracing::warn!(key = %self.key, error = %e, "cannot build the ACK")
                    }
                    None => {}
                }
                out.event(TuEvent::Response {
                    key: self.key,
                    msg: resp,
                });
                // Timer D: 32 s over UDP, zero over reliable transports.
                let wait = if self.peer.is_reliable() {
                    Duration::ZERO
                } else {
                    cfg.timer_d
                };
                if wait.is_zero() {
                    self.state = State::Terminated;
                } else {
                    self.state = State::Completed;
                    self.timer_d = Some(now + wait);
                }
            }
            (State::Completed, 300..=699) => {
                // A retransmitted final response: ACK again, do not bother the TU.
                if let Some(ack) = &self.ack {
                    ack.resend(self.peer, self.key, out);
                }
            }
            (State::Accepted, 200..=299) => {
                out.event(TuEvent::Response {
                    key: self.key,
                    msg: resp,
                });
            }
            _ => tracing::trace!(key = %self.key, code, state = ?self.state, "response absorbed"),
        }
    }

    /// Timers A, B, D and M.
    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Output) {
        if self.state == State::Calling && due(self.timer_b, now) {
            out.event(TuEvent::Timeout { key: self.key });
            self.state = State::Terminated;
            return;
        }
        if due(self.timer_d, now) || due(self.timer_m, now) {
            self.state = State::Terminated;
            return;
        }
        if let Some(a) = self.timer_a.as_mut().filter(|a| a.due(now)) {
            self.request.resend(self.peer, self.key, out);
            a.fired(now);
        }
    }

    /// The transport failed to send the INVITE or the ACK (§17.1.1.2, §8.1.3.1).
    pub(crate) fn on_transport_error(&mut self, out: &mut Output) {
        if matches!(
            self.state,
            State::Calling | State::Proceeding | State::Completed
        ) {
            out.event(TuEvent::TransportError { key: self.key });
            self.state = State::Terminated;
        }
    }

    /// The next timer.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        earliest([
            self.timer_a.map(|a| a.at),
            self.timer_b,
            self.timer_d,
            self.timer_m,
        ])
    }

    /// True once the transaction is over.
    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}
