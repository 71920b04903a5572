//! The INVITE server transaction (RFC 3261 §17.2.1, with the Accepted state of RFC 6026
//! §7.1).
//!
//! ```text
//!  Proceeding ──2xx from TU──▶ Accepted ──Timer L──▶ Terminated
//!     │ (1xx from TU sent; INVITE retransmission: resend last 1xx; 100 after 200 ms)
//!     └─300-699 from TU──▶ Completed ──ACK──▶ Confirmed ──Timer I──▶ Terminated
//!                          │ Timer G: resend final (T1 doubling up to T2, unreliable only)
//!                          └ Timer H (64·T1): no ACK, tell the TU ──▶ Terminated
//! ```
//!
//! Accepted absorbs INVITE retransmissions, sends further 2xx from the TU and passes an ACK
//! that matches it to the TU. Retransmitting the 2xx itself is [`super::uas_2xx`]'s job.

use super::error::TransactionError;
use super::key::TransactionKey;
use super::output::{Output, TuEvent};
use super::peer::Peer;
use super::timers::{due, earliest, Backoff, TimerConfig};
use super::wire::Wire;
use sip::{Message, ResponseBuilder};
use std::time::Instant;

/// States of §17.2.1 and RFC 6026 §7.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for the TU's final response.
    Proceeding,
    /// A 300–699 went out; retransmitting it until the ACK.
    Completed,
    /// The ACK arrived; absorbing its retransmissions.
    Confirmed,
    /// A 2xx went out; absorbing INVITE retransmissions (RFC 6026).
    Accepted,
    /// Done.
    Terminated,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Proceeding => "Proceeding",
            State::Completed => "Completed",
            State::Confirmed => "Confirmed",
            State::Accepted => "Accepted",
            State::Terminated => "Terminated",
        }
    }
}

/// What a matching ACK means to the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckDisposition {
    /// The ACK of a non-2xx final (or a stray one): the transaction keeps it.
    Absorbed,
    /// The ACK of a 2xx sent in the Accepted state: for the TU (RFC 6026 §7.1).
    ForTu,
}

/// One INVITE server transaction.
#[derive(Debug)]
pub(crate) struct ServerInvite {
    key: TransactionKey,
    request: Wire,
    peer: Peer,
    state: State,
    last_provisional: Option<Wire>,
    last_final: Option<Wire>,
    timer_trying: Option<Instant>,
    timer_g: Option<Backoff>,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
}

impl ServerInvite {
    /// A new INVITE arrived; the layer passes it to the TU. 100 Trying goes out after
    /// `trying_delay` unless the TU answers first (§17.2.1).
    pub(crate) fn start(
        key: TransactionKey,
        request: &Message,
        peer: Peer,
        now: Instant,
        cfg: &TimerConfig,
        out: &mut Output,
    ) -> ServerInvite {
        let mut t = ServerInvite {
            key,
            request: Wire::of(request),
            peer,
            state: State::Proceeding,
            last_provisional: None,
            last_final: None,
            timer_trying: Some(now + cfg.trying_delay),
            timer_g: None,
            timer_h: None,
            timer_i: None,
            timer_l: None,
        };
        if cfg.trying_delay.is_zero() {
            t.send_trying(out);
        }
        t
    }

    /// The current state.
    pub(crate) fn state(&self) -> State {
        self.state
    }

    /// The INVITE that created the transaction (parsed again from its bytes).
    pub(crate) fn request(&self) -> Option<Message> {
        self.request.message()
    }

    /// The peer the INVITE came from, where responses go.
    pub(crate) fn peer(&self) -> Peer {
        self.peer
    }

    fn send_trying(&mut self, out: &mut Output) {
        self.timer_trying = None;
        let Some(request) = self.request.message() else {
            return;
        };
        match ResponseBuilder::reply(&request, 100, None).build() {
            Ok(trying) => {
                self.last_provisional = Some(Wire::of(&trying));
                out.transmit(trying, self.peer, Some(self.key));
            }
            Err(e) => tracing::warn!(key = %self.key, error = %e, "cannot build 100 Trying"),
        }
    }

    /// The TU sends a response.
    pub(crate) fn send_response(
        &mut self,
        resp: Message,
        now: Instant,
        cfg: &TimerConfig,
        out: &mut Output,
    ) -> Result<(), TransactionError> {
        let code = resp.status().ok_or(TransactionError::NotAResponse)?;
        match (self.state, code) {
            (State::Proceeding, 100..=199) => {
                self.timer_trying = None;
                self.last_provisional = Some(Wire::of(&resp));
                out.transmit(resp, self.peer, Some(self.key));
            }
            (State::Proceeding, 200..=299) => {
                // RFC 6026 §7.1: Accepted for Timer L, absorbing INVITE retransmissions.
                self.timer_trying = None;
                out.transmit(resp, self.peer, Some(self.key));
                self.state = State::Accepted;
                self.timer_l = Some(now + cfg.transaction_timeout());
            }
            (State::Accepted, 200..=299) => out.transmit(resp, self.peer, Some(self.key)),
            (State::Proceeding, 300..=699) => {
                self.timer_trying = None;
                self.last_final = Some(Wire::of(&resp));
                out.transmit(resp, self.peer, Some(self.key));
                self.state = State::Completed;
                self.timer_g =
                    (!self.peer.is_reliable()).then(|| Backoff::start(now, cfg.t1, Some(cfg.t2)));
                self.timer_h = Some(now + cfg.transaction_timeout());
            }
            (state, status) => {
                return Err(TransactionError::InvalidState {
                    key: self.key,
                    status,
                    state: state.name(),
                })
            }
        }
        Ok(())
    }

    /// A retransmission of the INVITE: resend the last provisional (Proceeding; 100 Trying
    /// at once when the TU has sent nothing yet, since the UAC is clearly waiting) or the
    /// final response (Completed); absorb it otherwise.
    pub(crate) fn on_retransmission(&mut self, out: &mut Output) {
        match self.state {
            State::Proceeding => match &self.last_provisional {
                Some(p) => p.resend(self.peer, self.key, out),
                None => self.send_trying(out),
            },
            State::Completed => {
                if let Some(f) = &self.last_final {
                    f.resend(self.peer, self.key, out);
                }
            }
            State::Confirmed | State::Accepted | State::Terminated => {}
        }
    }

    /// An ACK matched the transaction.
    pub(crate) fn on_ack(&mut self, now: Instant, cfg: &TimerConfig) -> AckDisposition {
        match self.state {
            State::Completed => {
                self.timer_g = None;
                self.timer_h = None;
                // Timer I: T4 over UDP, zero over reliable transports.
                if self.peer.is_reliable() {
                    self.state = State::Terminated;
                } else {
                    self.state = State::Confirmed;
                    self.timer_i = Some(now + cfg.t4);
                }
                AckDisposition::Absorbed
            }
            State::Accepted => AckDisposition::ForTu,
            State::Proceeding | State::Confirmed | State::Terminated => AckDisposition::Absorbed,
        }
    }

    /// Timers G, H, I, L and the 100 Trying delay.
    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Output) {
        if self.state == State::Completed && due(self.timer_h, now) {
            // §17.2.1: the ACK never came; tell the TU.
            out.event(TuEvent::Timeout { key: self.key });
            self.state = State::Terminated;
            return;
        }
        if due(self.timer_i, now) || due(self.timer_l, now) {
            self.state = State::Terminated;
            return;
        }
        if due(self.timer_trying, now) {
            if self.state == State::Proceeding && self.last_provisional.is_none() {
                self.send_trying(out);
            }
            self.timer_trying = None;
        }
        if let Some(g) = self.timer_g.as_mut().filter(|g| g.due(now)) {
            if let Some(f) = &self.last_final {
                f.resend(self.peer, self.key, out);
            }
            g.fired(now);
        }
    }

    /// The transport failed to send a response. RFC 3261 §17.2.1 ends the transaction;
    /// RFC 6026 §8.8 keeps an Accepted one (the TU still hears of it).
    pub(crate) fn on_transport_error(&mut self, out: &mut Output) {
        match self.state {
            State::Proceeding | State::Completed => {
                out.event(TuEvent::TransportError { key: self.key });
                self.state = State::Terminated;
            }
            State::Accepted => out.event(TuEvent::TransportError { key: self.key }),
            State::Confirmed | State::Terminated => {}
        }
    }

    /// The next timer.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        earliest([
            self.timer_trying,
            self.timer_g.map(|g| g.at),
            self.timer_h,
            self.timer_i,
            self.timer_l,
        ])
    }

    /// True once the transaction is over.
    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}
