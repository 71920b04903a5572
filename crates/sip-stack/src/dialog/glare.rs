//! Offer/answer bookkeeping per dialog, and what to do on glare.
//!
//! At most one offer may be outstanding in a dialog (RFC 3264, RFC 3261 §13.2.1), and at
//! most one INVITE transaction may be in progress in each direction (RFC 3261 §14). When
//! both sides send a re-INVITE or an UPDATE with an offer at once ("glare"), each answers
//! the other's with 491 Request Pending (RFC 3261 §14.2, RFC 3311 §5.2) and retries after a
//! random back-off: 2.1–4 s for the side that generated the Call-ID, 0–2 s for the other,
//! in 10 ms steps (RFC 3261 §14.1), so that one of them wins the next round.
//!
//! A request that overlaps one of the peer's own (a second INVITE while its first is still
//! unanswered, or a new offer while the peer's offer is still unanswered) gets 500 with a
//! Retry-After of 0–10 s (RFC 3261 §14.2, RFC 3311 §5.2).
//!
//! The dialog sees every message it builds or receives, so it tracks this itself:
//! [`OfferState`] says who owes an answer; [`Negotiation`] adds the INVITE transactions
//! in progress and the back-off timer. A body in INVITE, UPDATE, PRACK, ACK or in a
//! reliable 1xx or 2xx is classified as offer or answer from the state alone.

use rand::Rng;
use sip::Method;
use std::time::{Duration, Instant};

/// Who made the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// This side.
    Local,
    /// The peer.
    Remote,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Local => Side::Remote,
            Side::Remote => Side::Local,
        }
    }
}

/// The offer/answer state of a dialog.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OfferState {
    /// No offer is outstanding; either side may make one.
    #[default]
    Idle,
    /// `by` made an offer in the transaction `method`/`cseq` (in its request or in a
    /// response to it) and the other side owes the answer.
    Offered {
        /// Who made the offer.
        by: Side,
        /// The method of the transaction that carried the offer.
        method: Method,
        /// That transaction's CSeq number.
        cseq: u32,
    },
}

impl OfferState {
    /// True when `side` made an offer that is not answered yet.
    pub fn offered_by(&self, side: Side) -> bool {
        matches!(self, OfferState::Offered { by, .. } if *by == side)
    }

    fn is_for(&self, m: &Method, c: u32) -> bool {
        matches!(self, OfferState::Offered { method, cseq, .. } if method == m && *cseq == c)
    }
}

/// Why an incoming request is refused for overlapping one in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// 491 Request Pending: our own INVITE or offer is in progress (glare).
    RequestPending,
    /// 500 with Retry-After: the peer's previous INVITE or offer is still unanswered.
    PeerPending,
}

/// The back-off after a 491 (RFC 3261 §14.1): a multiple of 10 ms in 2.1–4 s when this
/// side generated the Call-ID, in 0–2 s otherwise.
pub fn glare_backoff(owns_call_id: bool, rng: &mut impl Rng) -> Duration {
    let steps = if owns_call_id {
        rng.random_range(210..=400u64)
    } else {
        rng.random_range(0..=200u64)
    };
    Duration::from_millis(steps * 10)
}

/// The Retry-After of a 500 sent to an overlapping request: 0–10 s (RFC 3261 §14.2).
pub fn overlap_retry_after(rng: &mut impl Rng) -> u32 {
    rng.random_range(0..=10)
}

/// Offer/answer state, INVITE transactions in progress and the glare back-off timer of one
/// dialog.
#[derive(Debug, Clone, Default)]
pub struct Negotiation {
    /// Who owes an answer.
    pub state: OfferState,
    /// Our INVITE that has no final response yet.
    pub local_invite: Option<u32>,
    /// The peer's INVITE that we have not answered with a final response yet.
    pub remote_invite: Option<u32>,
    /// The INVITE transaction (CSeq) whose offer has been made already, so that a body in
    /// a later response to it (the 2xx repeating a reliable 1xx's answer) is not a new
    /// offer.
    invite_with_offer: Option<u32>,
    /// When the back-off after a 491 ends, and what the refused request was.
    pub retry: Option<(Instant, Method)>,
}

impl Negotiation {
    /// Whether an incoming INVITE or UPDATE overlaps something in progress.
    pub fn check_incoming(&self, method: &Method, has_body: bool) -> Option<Overlap> {
        match method {
            Method::Invite => {
                if self.local_invite.is_some() || self.state.offered_by(Side::Local) {
                    Some(Overlap::RequestPending)
                } else if self.remote_invite.is_some() || self.state.offered_by(Side::Remote) {
                    Some(Overlap::PeerPending)
                } else {
                    None
                }
            }
            Method::Update if has_body => {
                if self.state.offered_by(Side::Local) {
                    Some(Overlap::RequestPending)
                } else if self.state.offered_by(Side::Remote) {
                    Some(Overlap::PeerPending)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// Whether we may send this request now; the reason when not.
    pub fn check_outgoing(&self, method: &Method, has_body: bool) -> Result<(), &'static str> {
        match method {
            Method::Invite => {
                if self.local_invite.is_some() || self.remote_invite.is_some() {
                    Err("an INVITE transaction is in progress (RFC 3261 §14.1)")
                } else if self.state != OfferState::Idle {
                    Err("an offer is outstanding")
                } else {
                    Ok(())
                }
            }
            Method::Update | Method::Prack if has_body => {
                if self.state.offered_by(Side::Local)
                    || (*method == Method::Update && self.state.offered_by(Side::Remote))
                {
                    Err("an offer is outstanding")
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Records a request sent (`by` = Local) or received (`by` = Remote) and accepted.
    pub fn observe_request(&mut self, by: Side, method: &Method, cseq: u32, has_body: bool) {
        match method {
            Method::Invite => {
                match by {
                    Side::Local => self.local_invite = Some(cseq),
                    Side::Remote => self.remote_invite = Some(cseq),
                }
                if has_body {
                    self.offer(by, method, cseq);
                    self.invite_with_offer = Some(cseq);
                }
            }
            Method::Update if has_body => self.offer(by, method, cseq),
            Method::Prack if has_body => {
                if self.state.offered_by(by.other()) {
                    self.state = OfferState::Idle;
                } else {
                    self.offer(by, method, cseq);
                }
            }
            Method::Ack => {
                // The ACK ends the INVITE transaction's offer/answer: it carries the answer
                // to an offer made in the 2xx, or, without a body, leaves that offer
                // unanswered for good (a protocol error the session cannot recover from;
                // RFC 3261 §13.2.1). Either way no offer is outstanding any more.
                let answered = match &self.state {
                    OfferState::Offered {
                        by: b,
                        method: Method::Invite,
                        cseq: c,
                    } => *b != by && *c == cseq,
                    _ => false,
                };
                if answered {
                    self.state = OfferState::Idle;
                }
            }
            _ => {}
        }
    }

    /// Records a response sent (`by` = Local) or received (`by` = Remote) to a request of
    /// the other side. `reliable` is true for a 101–199 sent with 100rel.
    pub fn observe_response(
        &mut self,
        by: Side,
        method: &Method,
        cseq: u32,
        code: u16,
        reliable: bool,
        has_body: bool,
    ) {
        if code >= 200 && *method == Method::Invite {
            // The INVITE transaction is over (for the purpose of §14's "in progress").
            match by {
                Side::Local if self.remote_invite == Some(cseq) => self.remote_invite = None,
                Side::Remote if self.local_invite == Some(cseq) => self.local_invite = None,
                _ => {}
            }
        }
        if code >= 300 {
            // A rejected request withdraws any offer of its transaction.
            if self.state.is_for(method, cseq) {
                self.state = OfferState::Idle;
            }
            return;
        }
        let counts = code >= 200 || (reliable && code > 100);
        if !counts || !has_body {
            return;
        }
        match method {
            Method::Invite | Method::Update | Method::Prack => {
                if self.state.is_for(method, cseq) && self.state.offered_by(by.other()) {
                    // The answer to the request's offer.
                    self.state = OfferState::Idle;
                } else if *method == Method::Invite
                    && self.state == OfferState::Idle
                    && self.invite_with_offer != Some(cseq)
                {
                    // An INVITE without an offer: the first reliable 1xx or the 2xx
                    // carries it.
                    self.offer(by, method, cseq);
                    self.invite_with_offer = Some(cseq);
                }
            }
            _ => {}
        }
    }

    fn offer(&mut self, by: Side, method: &Method, cseq: u32) {
        self.state = OfferState::Offered {
            by,
            method: method.clone(),
            cseq,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn backoff_ranges_depend_on_call_id_ownership() {
        let mut rng = StdRng::seed_from_u64(7);
        let (mut lo, mut hi) = (Duration::MAX, Duration::ZERO);
        for _ in 0..2000 {
            let d = glare_backoff(true, &mut rng);
            assert!(d >= Duration::from_millis(2100) && d <= Duration::from_secs(4));
            assert_eq!(d.as_millis() % 10, 0);
            lo = lo.min(d);
            hi = hi.max(d);
        }
        // The whole range is used, not a corner of it.
        assert!(lo < Duration::from_millis(2200) && hi > Duration::from_millis(3900));
        let (mut lo, mut hi) = (Duration::MAX, Duration::ZERO);
        for _ in 0..2000 {
            let d = glare_backoff(false, &mut rng);
            assert!(d <= Duration::from_secs(2));
            assert_eq!(d.as_millis() % 10, 0);
            lo = lo.min(d);
            hi = hi.max(d);
        }
        assert!(lo < Duration::from_millis(100) && hi > Duration::from_millis(1900));
    }

    #[test]
    fn same_seed_same_backoff() {
        let a = glare_backoff(true, &mut StdRng::seed_from_u64(42));
        let b = glare_backoff(true, &mut StdRng::seed_from_u64(42));
        assert_eq!(a, b);
    }

    #[test]
    fn reinvite_glare_and_overlap() {
        let mut n = Negotiation::default();
        n.observe_request(Side::Local, &Method::Invite, 5, true);
        assert_eq!(
            n.check_incoming(&Method::Invite, true),
            Some(Overlap::RequestPending)
        );
        assert_eq!(
            n.check_incoming(&Method::Update, true),
            Some(Overlap::RequestPending)
        );
        // An UPDATE without a body is not an offer and passes.
        assert_eq!(n.check_incoming(&Method::Update, false), None);
        n.observe_response(Side::Remote, &Method::Invite, 5, 491, false, false);
        assert_eq!(n.state, OfferState::Idle);
        assert_eq!(n.local_invite, None);

        n.observe_request(Side::Remote, &Method::Update, 9, true);
        assert_eq!(
            n.check_incoming(&Method::Update, true),
            Some(Overlap::PeerPending)
        );
        assert!(n.check_outgoing(&Method::Update, true).is_err());
        n.observe_response(Side::Local, &Method::Update, 9, 200, false, true);
        assert_eq!(n.state, OfferState::Idle);
    }

    #[test]
    fn offerless_invite_gets_offer_in_2xx_and_answer_in_ack() {
        let mut n = Negotiation::default();
        n.observe_request(Side::Local, &Method::Invite, 1, false);
        n.observe_response(Side::Remote, &Method::Invite, 1, 200, false, true);
        assert!(n.state.offered_by(Side::Remote));
        assert!(n.check_outgoing(&Method::Update, true).is_err());
        n.observe_request(Side::Local, &Method::Ack, 1, true);
        assert_eq!(n.state, OfferState::Idle);
    }

    #[test]
    fn answer_in_reliable_1xx_is_not_repeated_as_an_offer_by_the_2xx() {
        let mut n = Negotiation::default();
        n.observe_request(Side::Remote, &Method::Invite, 1, true);
        n.observe_response(Side::Local, &Method::Invite, 1, 183, false, true);
        assert!(
            n.state.offered_by(Side::Remote),
            "unreliable 1xx is no answer"
        );
        n.observe_response(Side::Local, &Method::Invite, 1, 183, true, true);
        assert_eq!(n.state, OfferState::Idle);
        n.observe_response(Side::Local, &Method::Invite, 1, 200, false, true);
        assert_eq!(n.state, OfferState::Idle);
        assert_eq!(n.remote_invite, None);
    }
}
