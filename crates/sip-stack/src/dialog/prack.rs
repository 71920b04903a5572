//! Reliable provisional responses and PRACK (RFC 3262, "100rel").
//!
//! Provisional responses are normally unreliable; with 100rel a UAS sends a 101–199 with
//! `Require: 100rel` and an `RSeq`, and retransmits it until the UAC acknowledges it with
//! a PRACK carrying `RAck: <rseq> <cseq> INVITE`. Early media with an SDP answer in a 183
//! relies on this.
//!
//! - [`ReliableSender`] is the UAS side, one per INVITE server transaction: it numbers
//!   the responses (the first RSeq is random, then +1), keeps one unacknowledged at a
//!   time, retransmits it at T1, 2·T1, 4·T1… after the first send until the PRACK comes,
//!   and gives up at 64·T1, when the INVITE should be rejected with a 5xx (§3).
//! - [`ReliableReceiver`] is the UAC side, one per early dialog: it decides whether a
//!   reliable provisional is new (PRACK it), a retransmission (RSeq not greater: ignore)
//!   or out of order (RSeq more than one higher: ignore, §4).
//!
//! A [`super::Dialog`] holds one of each and drives them; they are public so that a
//! different transaction user can reuse them.

use super::DialogError;
use rand::Rng;
use sip::headers::{RAck, RSeq, Require, Supported};
use sip::{Message, Method};
use std::fmt;
use std::time::{Duration, Instant};

/// The option tag of RFC 3262.
pub const TAG_100REL: &str = "100rel";

/// T1 is kept in 1 ms ..= 1 h so that 64·T1 stays finite.
fn clamp_t1(t1: Duration) -> Duration {
    t1.clamp(Duration::from_millis(1), Duration::from_secs(3600))
}

/// The largest first RSeq: random below 2^31, with room left for the responses that follow.
const MAX_FIRST_RSEQ: u32 = (1 << 31) - (1 << 16);

/// What a PRACK acknowledges: the value of its RAck header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RAckValue {
    /// The RSeq of the reliable provisional response.
    pub rseq: u32,
    /// The CSeq number of the INVITE it answered.
    pub cseq: u32,
    /// The CSeq method (INVITE).
    pub method: Method,
}

impl fmt::Display for RAckValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.rseq, self.cseq, self.method)
    }
}

/// True when `msg` lists `tag` in a Require header.
pub(crate) fn requires(msg: &Message, tag: &str) -> bool {
    msg.typed_all::<Require>()
        .any(|r| r.is_ok_and(|r| r.0.eq_ignore_ascii_case(tag)))
}

/// True when `msg` lists `tag` in a Supported or Require header.
pub(crate) fn supports(msg: &Message, tag: &str) -> bool {
    requires(msg, tag)
        || msg
            .typed_all::<Supported>()
            .any(|s| s.is_ok_and(|s| s.0.eq_ignore_ascii_case(tag)))
}

/// True for a 101–199 response with `Require: 100rel`.
pub fn is_reliable_provisional(resp: &Message) -> bool {
    matches!(resp.status(), Some(101..=199)) && requires(resp, TAG_100REL)
}

/// What the UAC does with a provisional response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvisionalCheck {
    /// An ordinary (unreliable) provisional response.
    Unreliable,
    /// A new reliable provisional response: send a PRACK with this RAck.
    Acknowledge(RAckValue),
    /// RSeq not greater than the last one acknowledged: a retransmission, ignore it.
    Retransmission,
    /// RSeq more than one above the last: out of order, ignore it (§4).
    OutOfOrder,
    /// `Require: 100rel` without a valid RSeq: malformed, ignore it.
    MissingRSeq,
}

/// The UAC side of 100rel for one early dialog (RFC 3262 §4).
#[derive(Debug, Clone, Default)]
pub struct ReliableReceiver {
    last_rseq: Option<u32>,
}

impl ReliableReceiver {
    /// A receiver that has seen no reliable provisional response.
    pub fn new() -> ReliableReceiver {
        ReliableReceiver::default()
    }

    /// Forgets the RSeq space: a new INVITE transaction starts its own (§3).
    pub fn reset(&mut self) {
        self.last_rseq = None;
    }

    /// The RSeq of the last reliable provisional response accepted.
    pub fn last_rseq(&self) -> Option<u32> {
        self.last_rseq
    }

    /// Classifies a provisional response to our INVITE, and records it when it is the
    /// next in order.
    pub fn check(&mut self, resp: &Message) -> ProvisionalCheck {
        if !is_reliable_provisional(resp) {
            return ProvisionalCheck::Unreliable;
        }
        let (Ok(Some(RSeq(rseq))), Ok(cseq)) = (resp.typed::<RSeq>(), resp.cseq()) else {
            return ProvisionalCheck::MissingRSeq;
        };
        match self.last_rseq {
            Some(last) if rseq <= last => return ProvisionalCheck::Retransmission,
            Some(last) if rseq != last.saturating_add(1) => return ProvisionalCheck::OutOfOrder,
            _ => {}
        }
        self.last_rseq = Some(rseq);
        ProvisionalCheck::Acknowledge(RAckValue {
            rseq,
            cseq: cseq.seq,
            method: cseq.method(),
        })
    }
}

/// A reliable provisional response waiting for its PRACK.
#[derive(Debug, Clone)]
struct Unacked {
    msg: Message,
    rseq: u32,
    cseq: u32,
    has_body: bool,
    give_up_at: Instant,
    next_at: Instant,
    interval: Duration,
}

/// What a [`ReliableSender`] timer asks for.
// Messages are the currency of the layer, moved once to the transport: not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ProvisionalTimer {
    /// Send this reliable provisional response again.
    Retransmit(Message),
    /// No PRACK came within 64·T1: reject the INVITE with a 5xx (RFC 3262 §3).
    TimedOut {
        /// The RSeq that was never acknowledged.
        rseq: u32,
        /// The CSeq number of the INVITE.
        cseq: u32,
    },
}

/// The UAS side of 100rel for one INVITE server transaction (RFC 3262 §3).
#[derive(Debug, Clone)]
pub struct ReliableSender {
    t1: Duration,
    next_rseq: Option<u32>,
    /// Boxed: rarely there (a reliable provisional not yet PRACKed), and a message is
    /// 600 bytes inline in every dialog.
    pending: Option<Box<Unacked>>,
}

impl ReliableSender {
    /// A sender retransmitting at `t1`, doubling.
    pub fn new(t1: Duration) -> ReliableSender {
        ReliableSender {
            t1: clamp_t1(t1),
            next_rseq: None,
            pending: None,
        }
    }

    /// Changes T1 for the responses sent from now on.
    pub fn set_t1(&mut self, t1: Duration) {
        self.t1 = clamp_t1(t1);
    }

    /// The RSeq of the response waiting for its PRACK, if any.
    pub fn unacknowledged(&self) -> Option<u32> {
        self.pending.as_ref().map(|p| p.rseq)
    }

    /// The RSeq for the next reliable provisional response, failing while one is still
    /// unacknowledged. The first is random in 1 ..= 2^31 − 2^16.
    pub fn next_rseq(&self, rng: &mut impl Rng) -> Result<u32, DialogError> {
        if let Some(p) = &self.pending {
            return Err(DialogError::ProvisionalPending { rseq: p.rseq });
        }
        match self.next_rseq {
            Some(n) if n >= 1 << 31 => Err(DialogError::RSeqExhausted),
            Some(n) => Ok(n),
            None => Ok(rng.random_range(1..=MAX_FIRST_RSEQ)),
        }
    }

    /// Records that `msg`, a reliable provisional response with RSeq `rseq` to the INVITE
    /// `cseq`, was just sent: its retransmissions start.
    pub fn sent(&mut self, msg: Message, rseq: u32, cseq: u32, now: Instant) {
        self.next_rseq = Some(rseq.saturating_add(1));
        let has_body = !msg.body().is_empty();
        self.pending = Some(Box::new(Unacked {
            msg,
            rseq,
            cseq,
            has_body,
            give_up_at: now + self.t1 * 64,
            next_at: now + self.t1,
            interval: self.t1,
        }));
    }

    /// Matches a PRACK's RAck against the unacknowledged response. On a match the
    /// retransmissions stop and the PRACK gets a 200; otherwise it gets a 481 (§3).
    pub fn on_prack(&mut self, rack: &RAck<'_>) -> bool {
        let matched = self.pending.as_ref().is_some_and(|p| {
            p.rseq == rack.rseq && p.cseq == rack.cseq && rack.method() == Method::Invite
        });
        if matched {
            self.pending = None;
        }
        matched
    }

    /// Checks that a final response to the INVITE may be sent now: a 2xx must wait for
    /// the PRACK of a reliable provisional that carried a body (§3).
    pub fn check_final(&self, code: u16) -> Result<(), DialogError> {
        match &self.pending {
            Some(p) if (200..300).contains(&code) && p.has_body => {
                Err(DialogError::ProvisionalPending { rseq: p.rseq })
            }
            _ => Ok(()),
        }
    }

    /// A final response was sent: retransmissions stop.
    pub fn final_sent(&mut self) {
        self.pending = None;
    }

    /// When the next retransmission or the give-up is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.as_ref().map(|p| p.next_at.min(p.give_up_at))
    }

    /// Runs the timer: a retransmission, or the give-up at 64·T1.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<ProvisionalTimer> {
        let p = self.pending.as_mut()?;
        if now >= p.give_up_at {
            let (rseq, cseq) = (p.rseq, p.cseq);
            self.pending = None;
            return Some(ProvisionalTimer::TimedOut { rseq, cseq });
        }
        if now < p.next_at {
            return None;
        }
        p.interval = p.interval.saturating_mul(2);
        p.next_at += p.interval;
        Some(ProvisionalTimer::Retransmit(p.msg.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use sip::ResponseBuilder;

    fn provisional(rseq: Option<u32>, reliable: bool) -> Message {
        let mut b = ResponseBuilder::new(183)
            .header(sip::HeaderName::Via, "SIP/2.0/UDP h;branch=z9hG4bK1")
            .header(sip::HeaderName::From, "<sip:a@h>;tag=a")
            .header(sip::HeaderName::To, "<sip:b@h>;tag=b")
            .header(sip::HeaderName::CallId, "c")
            .header(sip::HeaderName::CSeq, "7 INVITE");
        if reliable {
            b = b.header(sip::HeaderName::Require, "100rel");
        }
        if let Some(r) = rseq {
            b = b.header(sip::HeaderName::RSeq, r);
        }
        b.build().unwrap()
    }

    #[test]
    fn receiver_acknowledges_in_order_and_ignores_the_rest() {
        let mut r = ReliableReceiver::new();
        assert_eq!(
            r.check(&provisional(None, false)),
            ProvisionalCheck::Unreliable
        );
        assert_eq!(
            r.check(&provisional(None, true)),
            ProvisionalCheck::MissingRSeq
        );
        match r.check(&provisional(Some(100), true)) {
            ProvisionalCheck::Acknowledge(rack) => {
                assert_eq!(rack.to_string(), "100 7 INVITE")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            r.check(&provisional(Some(100), true)),
            ProvisionalCheck::Retransmission
        );
        assert_eq!(
            r.check(&provisional(Some(102), true)),
            ProvisionalCheck::OutOfOrder
        );
        assert!(matches!(
            r.check(&provisional(Some(101), true)),
            ProvisionalCheck::Acknowledge(RAckValue { rseq: 101, .. })
        ));
        assert_eq!(
            r.check(&provisional(Some(99), true)),
            ProvisionalCheck::Retransmission
        );
    }

    #[test]
    fn sender_retransmits_at_doubling_intervals_and_gives_up_at_64_t1() {
        let t1 = Duration::from_millis(500);
        let mut s = ReliableSender::new(t1);
        let mut rng = StdRng::seed_from_u64(1);
        let rseq = s.next_rseq(&mut rng).unwrap();
        assert!((1..1 << 31).contains(&rseq));
        let t0 = Instant::now();
        s.sent(provisional(Some(rseq), true), rseq, 7, t0);
        assert!(matches!(
            s.next_rseq(&mut rng),
            Err(DialogError::ProvisionalPending { .. })
        ));
        let mut at = Vec::new();
        while let Some(t) = s.poll_timeout() {
            match s.handle_timeout(t) {
                Some(ProvisionalTimer::Retransmit(_)) => at.push((t - t0).as_millis()),
                Some(ProvisionalTimer::TimedOut { rseq: r, cseq }) => {
                    assert_eq!((r, cseq), (rseq, 7));
                    assert_eq!((t - t0).as_millis(), 32_000);
                }
                None => panic!("timer fired for nothing"),
            }
        }
        assert_eq!(at, vec![500, 1500, 3500, 7500, 15500, 31500]);
        // After the give-up the next response may go.
        assert_eq!(s.next_rseq(&mut rng).unwrap(), rseq + 1);
    }

    #[test]
    fn prack_must_match_rseq_cseq_and_method() {
        let mut s = ReliableSender::new(Duration::from_millis(500));
        s.sent(provisional(Some(5), true), 5, 7, Instant::now());
        let bad = [
            RAck::parse_for_test("6 7 INVITE"),
            RAck::parse_for_test("5 8 INVITE"),
            RAck::parse_for_test("5 7 UPDATE"),
        ];
        for b in &bad {
            assert!(!s.on_prack(b));
        }
        assert!(s.on_prack(&RAck::parse_for_test("5 7 INVITE")));
        assert_eq!(s.poll_timeout(), None);
        // A second PRACK for the same response no longer matches: 481.
        assert!(!s.on_prack(&RAck::parse_for_test("5 7 INVITE")));
    }

    #[test]
    fn a_2xx_waits_for_the_prack_of_a_provisional_with_a_body() {
        let mut s = ReliableSender::new(Duration::from_millis(500));
        let with_body = provisional(Some(5), true)
            .edit()
            .set_body(Some("application/sdp"), Bytes::from_static(b"v=0\r\n"))
            .finish()
            .unwrap();
        s.sent(with_body, 5, 7, Instant::now());
        assert!(s.check_final(200).is_err());
        assert!(s.check_final(486).is_ok());
    }

    trait ParseForTest {
        fn parse_for_test(s: &'static str) -> RAck<'static>;
    }
    impl ParseForTest for RAck<'static> {
        fn parse_for_test(s: &'static str) -> RAck<'static> {
            <RAck as sip::headers::TypedHeader>::parse(s).unwrap()
        }
    }
}
