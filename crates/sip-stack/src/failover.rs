//! Failing over across the targets RFC 3263 found (§4.3): a request that times out, hits
//! a transport error or gets a 503 is sent again, with a new branch, to the next target in
//! the [`Plan`]. Sans-IO: the caller sends what [`Failover::next_attempt`] returns and reports
//! each outcome; this decides whether another target is worth trying.
//!
//! The CSeq stays the same across attempts: each attempt is a new client transaction of
//! the same request (RFC 3263 §4.3 "a new client transaction ... with a new branch").

use crate::resolve::Plan;
use crate::transaction::{new_branch, Peer};
use sip::{HeaderName, Message, ParseError};

/// How an attempt ended, as seen by the transaction user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A final response with this status.
    Final(u16),
    /// Timer B or F fired.
    Timeout,
    /// The transport could not deliver.
    TransportError,
}

/// What to do after an outcome.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Verdict {
    /// The request got its answer (any final but 503); stop here.
    Done,
    /// Try the next target: send this request there.
    Retry(Message, Peer),
    /// Every target failed; the last outcome stands.
    Exhausted(Outcome),
}

/// One request's walk down a target plan.
#[derive(Debug)]
pub struct Failover {
    request: Message,
    plan: Plan,
    attempts: usize,
}

impl Failover {
    /// Starts with the request as built (its top Via's branch is replaced per attempt).
    pub fn new(request: Message, plan: Plan) -> Failover {
        Failover {
            request,
            plan,
            attempts: 0,
        }
    }

    /// The next attempt: the request with a fresh branch, and where to send it.
    pub fn next_attempt(&mut self) -> Option<Result<(Message, Peer), ParseError>> {
        let peer = self.plan.next()?;
        self.attempts += 1;
        Some(with_new_branch(&self.request, peer.transport).map(|m| (m, peer)))
    }

    /// How many attempts were made.
    pub fn attempts(&self) -> usize {
        self.attempts
    }

    /// Reports how the current attempt ended.
    pub fn on_outcome(&mut self, outcome: Outcome) -> Result<Verdict, ParseError> {
        let retry = match outcome {
            Outcome::Final(503) | Outcome::Timeout | Outcome::TransportError => true,
            Outcome::Final(_) => false,
        };
        if !retry {
            return Ok(Verdict::Done);
        }
        match self.next_attempt() {
            Some(r) => r.map(|(m, p)| Verdict::Retry(m, p)),
            None => Ok(Verdict::Exhausted(outcome)),
        }
    }
}

/// The request with a new top-Via branch and the transport of the target.
fn with_new_branch(
    req: &Message,
    transport: crate::transaction::Transport,
) -> Result<Message, ParseError> {
    let via = req.top_via()?;
    let v = format!(
        "{};branch={}",
        via.rebuild(Some(transport.as_str()), &["branch"]),
        new_branch()
    );
    // Only the first Via element is ours to rewrite; a request we originate has one.
    req.edit().replace(HeaderName::Via, v).finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::Transport;
    use sip::builder::RequestBuilder;
    use sip::Method;

    fn invite() -> Message {
        RequestBuilder::new(&Method::Invite, &"sip:+14255550100@pbx.example.com")
            .header(
                HeaderName::Via,
                "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfirst;rport",
            )
            .header(HeaderName::From, "<sip:viawork@example.com>;tag=a")
            .header(HeaderName::To, "<sip:+14255550100@pbx.example.com>")
            .header(HeaderName::CallId, "fo1")
            .header(HeaderName::CSeq, "1 INVITE")
            .build()
            .unwrap()
    }

    fn plan() -> Plan {
        Plan::new(
            vec![
                Peer::new("192.0.2.10:5060".parse().unwrap(), Transport::Udp),
                Peer::new("192.0.2.11:5060".parse().unwrap(), Transport::Tcp),
            ],
            None,
        )
    }

    #[test]
    fn fails_over_on_503_timeout_and_transport_error_then_exhausts() {
        let mut f = Failover::new(invite(), plan());
        let (m1, p1) = f.next_attempt().unwrap().unwrap();
        assert_eq!(p1.addr.port(), 5060);
        let b1 = m1.top_via().unwrap().branch().unwrap().to_owned();
        assert_ne!(b1, "z9hG4bKfirst");
        let Verdict::Retry(m2, p2) = f.on_outcome(Outcome::Final(503)).unwrap() else {
            panic!("expected a retry")
        };
        assert_eq!(p2.transport, Transport::Tcp);
        let via = m2.top_via().unwrap();
        assert_eq!(via.transport, "TCP");
        assert_ne!(via.branch().unwrap(), b1);
        assert!(via.rport().is_some());
        assert_eq!(m2.cseq().unwrap().seq, 1);
        assert!(matches!(
            f.on_outcome(Outcome::Timeout).unwrap(),
            Verdict::Exhausted(Outcome::Timeout)
        ));
        assert_eq!(f.attempts(), 2);
    }

    #[test]
    fn any_other_final_response_ends_the_walk() {
        let mut f = Failover::new(invite(), plan());
        f.next_attempt().unwrap().unwrap();
        assert!(matches!(
            f.on_outcome(Outcome::Final(486)).unwrap(),
            Verdict::Done
        ));
        assert!(matches!(
            f.on_outcome(Outcome::Final(200)).unwrap(),
            Verdict::Done
        ));
    }
}
