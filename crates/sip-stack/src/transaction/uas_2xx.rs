//! Reliability of a UAS's 2xx to an INVITE (RFC 3261 §13.3.1.4).
//!
//! The INVITE server transaction sends a 2xx once and leaves retransmission to the UA
//! core, because the ACK for a 2xx is end-to-end: a new transaction, with a new branch,
//! that no server transaction matches. This module keeps that 2xx going over unreliable
//! transports — T1, doubling up to T2 — until the ACK arrives, which the layer recognises
//! by Call-ID, CSeq number and To tag (or the TU reports with
//! [`super::TransactionLayer::ack_received`]). After 64·T1 without an ACK it gives up and
//! raises [`super::TuEvent::AckTimeout`]: the dialog is confirmed but should be ended with
//! a BYE. Over reliable transports nothing is retransmitted but the 64·T1 wait still runs.

use super::key::TransactionKey;
use super::matching::{AckKey, AckMatch};
use super::output::{Output, TuEvent};
use super::peer::Peer;
use super::timers::{due, earliest, Backoff, TimerConfig};
use super::wire::Wire;
use sip::Message;
use std::time::Instant;

/// A 2xx awaiting its ACK.
#[derive(Debug)]
pub(crate) struct Pending2xx {
    invite_key: TransactionKey,
    response: Wire,
    peer: Peer,
    ack_key: Option<AckKey>,
    retransmit: Option<Backoff>,
    give_up: Option<Instant>,
}

impl Pending2xx {
    /// Starts after the 2xx was sent once (by the server transaction) at `now`.
    pub(crate) fn start(
        invite_key: TransactionKey,
        response: &Message,
        peer: Peer,
        now: Instant,
        cfg: &TimerConfig,
    ) -> Pending2xx {
        Pending2xx {
            invite_key,
            ack_key: AckMatch::of(response).map(AckMatch::to_key),
            response: Wire::of(response),
            peer,
            retransmit: (!peer.is_reliable()).then(|| Backoff::start(now, cfg.t1, Some(cfg.t2))),
            give_up: Some(now + cfg.transaction_timeout()),
        }
    }

    /// The INVITE server transaction the 2xx answered.
    pub(crate) fn invite_key(&self) -> TransactionKey {
        self.invite_key
    }

    /// The Call-ID, CSeq number and To tag the ACK will carry (`None` if the 2xx lacks one).
    pub(crate) fn ack_key(&self) -> Option<&AckKey> {
        self.ack_key.as_ref()
    }

    /// Retransmits or gives up. Returns true when finished.
    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Output) -> bool {
        if due(self.give_up, now) {
            out.event(TuEvent::AckTimeout {
                invite_key: self.invite_key,
            });
            self.give_up = None;
            self.retransmit = None;
            return true;
        }
        if let Some(r) = self.retransmit.as_mut().filter(|r| r.due(now)) {
            self.response.resend(self.peer, self.invite_key, out);
            r.fired(now);
        }
        false
    }

    /// The next timer.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        earliest([self.retransmit.map(|r| r.at), self.give_up])
    }
}
