//! The dialog's clock: one wake-up time for all its timers, and what each asks for when
//! it fires.
//!
//! A dialog runs up to three timers: the glare back-off after a 491 ([`super::glare`]),
//! the retransmission of an unacknowledged reliable provisional ([`super::prack`]) and
//! the session timer ([`super::session_timer`]). The caller asks
//! [`Dialog::poll_timeout`] when to wake the dialog, and at that time calls
//! [`Dialog::handle_timeout`], which returns what to do.

use super::prack::ProvisionalTimer;
use super::session_timer::SessionTimerEvent;
use super::Dialog;
use sip::{Message, Method};
use std::time::Instant;

/// Something the dialog's timers ask the call engine to do.
// Messages are the currency of the layer, moved once to the transport: not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum DialogEvent {
    /// The back-off after a 491 ended: send the re-INVITE or UPDATE again if still wanted.
    RetryOffer {
        /// The method that got the 491.
        method: Method,
    },
    /// Send this reliable provisional response again (it awaits its PRACK).
    RetransmitProvisional(Message),
    /// No PRACK within 64·T1: the INVITE must be rejected with a 5xx (RFC 3262 §3).
    ProvisionalTimedOut {
        /// The CSeq number of the INVITE to reject.
        invite_cseq: u32,
        /// The RSeq that was never acknowledged.
        rseq: u32,
        /// The 500 to send on the INVITE's server transaction, already recorded by the
        /// dialog (`None` if the dialog no longer knows that INVITE).
        reject: Option<Message>,
    },
    /// We are the session refresher and half the interval passed: send a refresh
    /// (`method` is UPDATE when the peer allows it, INVITE otherwise).
    RefreshSession {
        /// The suggested method.
        method: Method,
    },
    /// The session expired without a refresh: send BYE (RFC 4028 §10).
    SessionExpired,
}

impl Dialog {
    /// When [`Dialog::handle_timeout`] should next run; `None` when no timer runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.negotiation.retry.as_ref().map(|(at, _)| *at),
            self.prack_uas.poll_timeout(),
            self.session_timer.as_ref().and_then(|t| t.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs every timer due at `now`, in no particular order between timers.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<DialogEvent> {
        let mut out = Vec::new();
        if let Some((at, method)) = self.negotiation.retry.take() {
            if now >= at {
                out.push(DialogEvent::RetryOffer { method });
            } else {
                self.negotiation.retry = Some((at, method));
            }
        }
        // Each timer yields at most once per call: a caller that wakes late gets one
        // retransmission, not a burst.
        match self.prack_uas.handle_timeout(now) {
            Some(ProvisionalTimer::Retransmit(m)) => {
                out.push(DialogEvent::RetransmitProvisional(m))
            }
            Some(ProvisionalTimer::TimedOut { rseq, cseq }) => {
                let invite = self
                    .remote_invite_msg
                    .as_deref()
                    .cloned()
                    .filter(|m| m.cseq().is_ok_and(|c| c.seq == cseq));
                let reject = invite.and_then(|inv| self.reply(&inv, 500).ok()?.build(now).ok());
                out.push(DialogEvent::ProvisionalTimedOut {
                    invite_cseq: cseq,
                    rseq,
                    reject,
                })
            }
            None => {}
        }
        if let Some(t) = self.session_timer.as_mut() {
            match t.handle_timeout(now) {
                Some(SessionTimerEvent::Refresh) => {
                    let method = if self.peer_allows_update {
                        Method::Update
                    } else {
                        Method::Invite
                    };
                    out.push(DialogEvent::RefreshSession { method });
                }
                Some(SessionTimerEvent::Expired) => out.push(DialogEvent::SessionExpired),
                None => {}
            }
        }
        out
    }
}
