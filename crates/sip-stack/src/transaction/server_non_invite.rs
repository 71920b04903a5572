//! The non-INVITE server transaction (RFC 3261 §17.2.2). CANCEL runs one as well.
//!
//! ```text
//!  Trying ──1xx from TU──▶ Proceeding ──200-699 from TU──▶ Completed ──Timer J──▶ Terminated
//!    └───────────────200-699 from TU──────────────────────────▲
//!  Request retransmissions: absorbed in Trying, answered with the last provisional in
//!  Proceeding and with the final response in Completed. Timer J is 64·T1 over UDP, zero
//!  over reliable transports.
//! ```

use super::error::TransactionError;
use super::key::TransactionKey;
use super::output::{Output, TuEvent};
use super::peer::Peer;
use super::timers::{due, TimerConfig};
use super::wire::Wire;
use sip::Message;
use std::time::Instant;

/// States of §17.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The request went to the TU, no response yet.
    Trying,
    /// The TU sent a provisional response.
    Proceeding,
    /// The TU sent the final response; absorbing request retransmissions.
    Completed,
    /// Done.
    Terminated,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Trying => "Trying",
            State::Proceeding => "Proceeding",
            State::Completed => "Completed",
            State::Terminated => "Terminated",
        }
    }
}

/// One non-INVITE server transaction.
#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    key: TransactionKey,
    peer: Peer,
    state: State,
    last_response: Option<Wire>,
    timer_j: Option<Instant>,
}

impl ServerNonInvite {
    /// A new request arrived; the layer passes it to the TU.
    pub(crate) fn start(key: TransactionKey, peer: Peer) -> ServerNonInvite {
        ServerNonInvite {
            key,
            peer,
            state: State::Trying,
            last_response: None,
            timer_j: None,
        }
    }

    /// The current state.
    pub(crate) fn state(&self) -> State {
        self.state
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
            (State::Trying | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
            }
            (State::Trying | State::Proceeding, 200..=699) => {
                // Timer J: 64·T1 over UDP, zero over reliable transports.
                if self.peer.is_reliable() {
                    self.state = State::Terminated;
                } else {
                    self.state = State::Completed;
                    self.timer_j = Some(now + cfg.transaction_timeout());
                }
            }
            (state, status) => {
                return Err(TransactionError::InvalidState {
                    key: self.key,
                    status,
                    state: state.name(),
                })
            }
        }
        self.last_response = Some(Wire::of(&resp));
        out.transmit(resp, self.peer, Some(self.key));
        Ok(())
    }

    /// A retransmission of the request.
    pub(crate) fn on_retransmission(&mut self, out: &mut Output) {
        if matches!(self.state, State::Proceeding | State::Completed) {
            if let Some(r) = &self.last_response {
                r.resend(self.peer, self.key, out);
            }
        }
    }

    /// Timer J.
    pub(crate) fn on_timeout(&mut self, now: Instant) {
        if due(self.timer_j, now) {
            self.state = State::Terminated;
        }
    }

    /// The transport failed to send a response (§17.2.2).
    pub(crate) fn on_transport_error(&mut self, out: &mut Output) {
        if matches!(
            self.state,
            State::Trying | State::Proceeding | State::Completed
        ) {
            out.event(TuEvent::TransportError { key: self.key });
            self.state = State::Terminated;
        }
    }

    /// The next timer.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timer_j
    }

    /// True once the transaction is over.
    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}
