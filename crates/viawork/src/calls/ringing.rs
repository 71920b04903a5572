//! An incoming call ringing in several places at once (simultaneous ring), sans-IO: the
//! branches toward the user's PBX phone, their registered SIP clients and a
//! simultaneous-ring target, the offer to their signed-in API clients, and the timers of
//! the user's forwarding rules. The [`Call`](super::Call) that owns it holds the caller's
//! INVITE; this decides who answers and tells the call.
//!
//! Rules (RFC 3261 §16.7 forking, seen from a B2BUA):
//! - every branch gets the caller's offer (under ViaWork's origin) at once, or after its
//!   delay (the simultaneous-ring target's `ring_delay_secs`);
//! - the first 2xx wins; every other branch is cancelled with
//!   `Reason: SIP;cause=200;text="Call completed elsewhere"` (RFC 3326), so phones do not
//!   log a missed call; a 2xx that crosses the CANCEL is ACKed and hung up by its leg;
//! - accepted in an API client: the branches are cancelled the same way and the user's
//!   PBX phone is rung as a Call Via Work callback (its own caller ID);
//! - declined, or nobody answered by the unanswered-call delay (or every branch failed
//!   and no API client is offered the call): the forwarding target rings alone, if the
//!   user set one; otherwise the caller gets `603` (declined), `486` (every branch busy)
//!   or `480`.

use super::leg::{Leg, LegEvent, LegFailure, LegRole, LegSetup, SipOut};
use super::model::{CallState, EndReason};
use bytes::Bytes;
use std::time::{Duration, Instant};

/// `Reason` of the CANCELs to the branches that lost (RFC 3326).
pub const COMPLETED_ELSEWHERE: &str = "SIP;cause=200;text=\"Call completed elsewhere\"";
/// `Reason` of the CANCELs when the user declined.
pub const DECLINED: &str = "SIP;cause=603;text=\"Declined\"";

/// Where an incoming call rang when it was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchKind {
    /// The user's PBX phone, through the trunk, with the caller's identity.
    DeskPhone,
    /// One of the user's registered SIP clients.
    SipClient,
    /// The user's simultaneous-ring target (a number or a colleague).
    SimultaneousRing,
    /// The user's forwarding target (immediate, unanswered or declined calls).
    Forward,
    /// Accepted in an API client: the user's PBX phone rung as a Call Via Work callback.
    Client,
}

impl BranchKind {
    /// The API name (`answered_on`).
    pub fn as_str(self) -> &'static str {
        match self {
            BranchKind::DeskPhone => "desk_phone",
            BranchKind::SipClient => "sip_client",
            BranchKind::SimultaneousRing => "simultaneous_ring",
            BranchKind::Forward => "forward",
            BranchKind::Client => "client",
        }
    }
}

/// A place to ring.
#[derive(Debug, Clone)]
pub struct BranchPlan {
    /// What it is.
    pub kind: BranchKind,
    /// How to reach it.
    pub setup: LegSetup,
    /// How long after the call arrived it starts ringing.
    pub delay: Duration,
}

/// Everything decided about an incoming call before it rings (the router's work).
#[derive(Debug, Clone)]
pub struct RingPlan {
    /// The branches.
    pub branches: Vec<BranchPlan>,
    /// Signed-in API clients are offered the call (`call.incoming`).
    pub offer_clients: bool,
    /// How to ring the user's PBX phone when they accept in a client.
    pub callback: Option<LegSetup>,
    /// How long the callback may ring.
    pub callback_timeout: Duration,
    /// Unanswered-call handling: after this long, the target rings alone.
    pub unanswered: Option<(Duration, BranchPlan)>,
    /// Where a declined call goes (the unanswered-call target), else `603`.
    pub decline_to: Option<BranchPlan>,
    /// The caller is turned away (`480`) after this long without an answer.
    pub ring_timeout: Duration,
}

/// What the ringing tells its call.
#[derive(Debug)]
pub enum Outcome {
    /// A state to show (`connecting_your_phone`, `your_phone_ringing` after an accept).
    State(CallState),
    /// A branch answered: it is the call's other leg now.
    Answered {
        /// The answering leg (boxed: a leg is a few KiB).
        leg: Box<Leg>,
        /// Where it was.
        kind: BranchKind,
        /// Its SDP.
        sdp: Option<Bytes>,
        /// The other branches, being cancelled.
        losers: Vec<Leg>,
    },
    /// Nobody will answer: refuse the caller with `code`.
    Failed {
        /// The status for the caller.
        code: u16,
        /// Why, for the user's call log.
        reason: EndReason,
        /// Branches still hanging up.
        losers: Vec<Leg>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Every branch and client rings.
    Ringing,
    /// Accepted in a client: only the callback rings.
    Accepted,
    /// Gone to the forwarding target.
    Forwarding,
    /// Answered or failed: nothing left to decide.
    Done,
}

#[derive(Debug)]
struct Branch {
    kind: BranchKind,
    leg: Leg,
    /// Its final failure status.
    failed: Option<u16>,
    /// Cancelled while the call goes on elsewhere: only finishing its transactions.
    retired: bool,
}

/// The ringing phase of an incoming call. See the [module docs](self).
#[derive(Debug)]
pub struct Ringing {
    phase: Phase,
    branches: Vec<Branch>,
    /// Branches waiting for their delay, soonest last.
    waiting: Vec<(Instant, BranchPlan)>,
    unanswered: Option<(Instant, BranchPlan)>,
    decline_to: Option<BranchPlan>,
    callback: Option<LegSetup>,
    callback_timeout: Duration,
    /// The offer every branch gets.
    offer: Option<Bytes>,
    offered: bool,
    deadline: Instant,
    outcomes: Vec<Outcome>,
}

impl Ringing {
    /// Starts ringing at `now` with `offer` (the caller's SDP under our origin).
    pub fn start(plan: RingPlan, offer: Option<Bytes>, now: Instant) -> Ringing {
        let mut r = Ringing {
            phase: Phase::Ringing,
            branches: Vec::new(),
            waiting: Vec::new(),
            unanswered: plan.unanswered.map(|(after, b)| (now + after, b)),
            decline_to: plan.decline_to,
            callback: plan.callback,
            callback_timeout: plan.callback_timeout,
            offer,
            offered: plan.offer_clients,
            deadline: now + plan.ring_timeout,
            outcomes: Vec::new(),
        };
        for b in plan.branches {
            if b.delay.is_zero() {
                r.ring(b, now);
            } else {
                r.waiting.push((now + b.delay, b));
            }
        }
        r.waiting.sort_by_key(|w| std::cmp::Reverse(w.0));
        r.check_all_failed(now);
        r
    }

    fn ring(&mut self, plan: BranchPlan, now: Instant) {
        match Leg::start(LegRole::Far, plan.setup, self.offer.clone(), now) {
            Ok(leg) => self.branches.push(Branch {
                kind: plan.kind,
                leg,
                failed: None,
                retired: false,
            }),
            Err(e) => tracing::info!(error = %e, kind = plan.kind.as_str(), "cannot ring a branch"),
        }
    }

    /// True while API clients may still accept or decline.
    pub fn is_offered(&self) -> bool {
        self.offered && self.phase == Phase::Ringing
    }

    /// True while nothing is decided.
    pub fn is_ringing(&self) -> bool {
        self.phase != Phase::Done
    }

    /// The branch leg with SIP Call-ID `cid`.
    pub fn leg_with_call_id(&mut self, cid: &str) -> Option<&mut Leg> {
        self.branches
            .iter_mut()
            .map(|b| &mut b.leg)
            .find(|l| l.call_id() == cid)
    }

    /// The branches' SIP Call-IDs.
    pub fn call_ids(&self) -> impl Iterator<Item = &str> {
        self.branches.iter().map(|b| b.leg.call_id())
    }

    /// How many branches have rung so far.
    pub fn len(&self) -> usize {
        self.branches.len()
    }

    /// True before any branch rang.
    pub fn is_empty(&self) -> bool {
        self.branches.is_empty()
    }

    /// Messages the branches send.
    pub fn drain_outbox(&mut self) -> impl Iterator<Item = SipOut> + '_ {
        self.branches.iter_mut().flat_map(|b| b.leg.drain_outbox())
    }

    /// What the call must act on.
    pub fn drain_outcomes(&mut self) -> std::vec::IntoIter<Outcome> {
        std::mem::take(&mut self.outcomes).into_iter()
    }

    /// When [`Ringing::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Done {
            return None;
        }
        let legs = self.branches.iter().filter_map(|b| b.leg.poll_timeout());
        legs.chain(self.waiting.last().map(|w| w.0))
            .chain(self.unanswered.as_ref().map(|u| u.0))
            .chain(Some(self.deadline))
            .min()
    }

    /// Runs what is due: legs' timers, delayed branches, unanswered-call handling, the
    /// ring limit.
    pub fn handle_timeout(&mut self, now: Instant) {
        for b in &mut self.branches {
            if b.leg.poll_timeout().is_some_and(|t| t <= now) {
                b.leg.handle_timeout(now);
            }
        }
        self.process(now);
        if self.phase == Phase::Done {
            return;
        }
        while self.waiting.last().is_some_and(|w| w.0 <= now) {
            if let Some((_, b)) = self.waiting.pop() {
                if self.phase == Phase::Ringing {
                    self.ring(b, now);
                }
            }
        }
        if self.unanswered.as_ref().is_some_and(|u| u.0 <= now) && self.phase == Phase::Ringing {
            if let Some((_, target)) = self.unanswered.take() {
                tracing::info!("unanswered: forwarding the call");
                self.forward(target, None, now);
            }
        }
        if self.deadline <= now {
            let losers = self.cancel_all(None, now);
            let reason = if self.phase == Phase::Accepted {
                EndReason::YourPhoneNoAnswer
            } else {
                EndReason::Missed
            };
            self.done(480, reason, losers);
        }
    }

    /// The user accepted in a client: ring their PBX phone as a callback. False when
    /// that is not possible now (already answered, or no callback number).
    pub fn accept(&mut self, now: Instant) -> bool {
        if self.phase != Phase::Ringing || !self.offered {
            return false;
        }
        let Some(setup) = self.callback.clone() else {
            return false;
        };
        let losers = self.cancel_all(Some(COMPLETED_ELSEWHERE), now);
        self.retire(losers);
        self.phase = Phase::Accepted;
        self.waiting.clear();
        self.unanswered = None;
        self.deadline = now + self.callback_timeout;
        self.ring(
            BranchPlan {
                kind: BranchKind::Client,
                setup,
                delay: Duration::ZERO,
            },
            now,
        );
        self.outcomes
            .push(Outcome::State(CallState::ConnectingYourPhone));
        true
    }

    /// The user declined: the forwarding target, else `603`. False when there is
    /// nothing to decline any more.
    pub fn decline(&mut self, now: Instant) -> bool {
        if self.phase != Phase::Ringing {
            return false;
        }
        match self.decline_to.take() {
            Some(target) => self.forward(target, Some(DECLINED), now),
            None => {
                let losers = self.cancel_all(Some(DECLINED), now);
                self.done(603, EndReason::Declined, losers);
            }
        }
        true
    }

    /// The caller gave up: cancel everything.
    pub fn caller_cancelled(&mut self, now: Instant) -> Vec<Leg> {
        self.phase = Phase::Done;
        self.cancel_all(None, now)
    }

    fn forward(&mut self, target: BranchPlan, reason: Option<&'static str>, now: Instant) {
        let losers = self.cancel_all(reason, now);
        self.retire(losers);
        self.phase = Phase::Forwarding;
        self.waiting.clear();
        self.unanswered = None;
        self.decline_to = None;
        self.ring(target, now);
        self.check_all_failed(now);
    }

    /// Hangs up every branch still ringing; returns all the branches' legs.
    fn cancel_all(&mut self, reason: Option<&'static str>, now: Instant) -> Vec<Leg> {
        self.waiting.clear();
        std::mem::take(&mut self.branches)
            .into_iter()
            .map(|mut b| {
                if b.failed.is_none() && !b.retired {
                    match reason {
                        Some(r) => b.leg.hang_up_because(r, now),
                        None => b.leg.hang_up(now),
                    }
                }
                b.leg
            })
            .collect()
    }

    /// Branches cancelled while the ringing goes on: kept as failed ones so their
    /// CANCEL transactions finish and a crossing 2xx is hung up.
    fn retire(&mut self, losers: Vec<Leg>) {
        self.branches.extend(losers.into_iter().map(|leg| Branch {
            kind: BranchKind::DeskPhone,
            leg,
            failed: None,
            retired: true,
        }));
    }

    fn done(&mut self, code: u16, reason: EndReason, losers: Vec<Leg>) {
        if self.phase == Phase::Done {
            return;
        }
        self.phase = Phase::Done;
        self.outcomes.push(Outcome::Failed {
            code,
            reason,
            losers,
        });
    }

    /// Moves the branches' events into decisions. The call runs this after feeding a
    /// branch leg a message.
    pub fn process(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.branches.len() {
            let events: Vec<LegEvent> = self.branches[i].leg.drain_events().collect();
            for ev in events {
                if self.phase == Phase::Done {
                    break;
                }
                let retired = self.branches[i].retired || self.branches[i].failed.is_some();
                match ev {
                    LegEvent::Progress { .. }
                        if !retired && self.branches[i].kind == BranchKind::Client =>
                    {
                        self.outcomes
                            .push(Outcome::State(CallState::YourPhoneRinging));
                    }
                    LegEvent::Answered { sdp } if !retired => {
                        let winner = self.branches.swap_remove(i);
                        let losers = self.cancel_all(Some(COMPLETED_ELSEWHERE), now);
                        self.phase = Phase::Done;
                        self.outcomes.push(Outcome::Answered {
                            leg: Box::new(winner.leg),
                            kind: winner.kind,
                            sdp,
                            losers,
                        });
                        return;
                    }
                    LegEvent::Answered { .. } => {
                        // A 2xx that crossed our CANCEL: the leg hangs it up itself.
                    }
                    LegEvent::Failed(f) if !retired => {
                        self.branches[i].failed = Some(match f {
                            LegFailure::Status(c) => c,
                            LegFailure::Timeout => 408,
                            LegFailure::Transport => 503,
                        });
                        self.check_all_failed(now);
                        if self.phase == Phase::Done {
                            return;
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
    }

    /// With every branch failed, nothing waiting and no client to accept: forward, or
    /// refuse the caller.
    fn check_all_failed(&mut self, now: Instant) {
        let live = |b: &Branch| !b.retired && b.failed.is_none();
        if self.phase == Phase::Done
            || self.branches.iter().any(live)
            || !self.waiting.is_empty()
            || (self.phase == Phase::Ringing && self.offered)
        {
            return;
        }
        if self.phase == Phase::Ringing {
            if let Some((_, target)) = self.unanswered.take() {
                // Every phone busy or unreachable: straight to the forwarding target.
                self.forward(target, None, now);
                return;
            }
        }
        let codes: Vec<u16> = self
            .branches
            .iter()
            .filter(|b| !b.retired)
            .filter_map(|b| b.failed)
            .collect();
        let busy = !codes.is_empty() && codes.iter().all(|c| matches!(c, 486 | 600));
        let (code, reason) = match self.phase {
            Phase::Accepted if busy => (486, EndReason::YourPhoneBusy),
            Phase::Accepted if codes.contains(&603) => (480, EndReason::YourPhoneDeclined),
            Phase::Accepted => (480, EndReason::YourPhoneUnreachable),
            _ if busy => (486, EndReason::Busy),
            _ => (480, EndReason::Missed),
        };
        let losers = std::mem::take(&mut self.branches)
            .into_iter()
            .map(|b| b.leg)
            .collect();
        self.done(code, reason, losers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::trunk::Trunk;
    use sip::{HeaderName, Message, Method, ResponseBuilder};

    const SDP: &str = "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

    fn trunk() -> Trunk {
        let config = crate::calls::trunk::test_config();
        let pbx = "127.0.0.1:5070".parse().unwrap();
        let vw = "127.0.0.1:5060".parse().unwrap();
        Trunk::new(config, &[pbx], vw, "example.com", "ViaWork/test")
    }

    fn branch(kind: BranchKind, number: &str, delay_secs: u64) -> BranchPlan {
        let t = trunk();
        BranchPlan {
            kind,
            setup: t.leg_as(
                t.uri_for_user(number),
                "sip:+14255550123@example.com".into(),
                Some("Carol".into()),
            ),
            delay: Duration::from_secs(delay_secs),
        }
    }

    fn plan(branches: Vec<BranchPlan>) -> RingPlan {
        RingPlan {
            branches,
            offer_clients: false,
            callback: None,
            callback_timeout: Duration::from_secs(45),
            unanswered: None,
            decline_to: None,
            ring_timeout: Duration::from_secs(60),
        }
    }

    /// The requests the branches sent, by method.
    fn sent(r: &mut Ringing, method: Method) -> Vec<Message> {
        r.drain_outbox()
            .filter_map(|o| match o {
                SipOut::Request { msg, .. } if msg.method() == Some(&method) => Some(msg),
                _ => None,
            })
            .collect()
    }

    fn respond(r: &mut Ringing, invite: &Message, code: u16, now: Instant) {
        let tag = format!("t{}", invite.call_id().unwrap().len() + code as usize);
        let mut b = ResponseBuilder::reply(invite, code, Some(&tag))
            .header(HeaderName::Contact, "<sip:phone@127.0.0.1:5070>");
        if code == 200 {
            b = b.body("application/sdp", bytes::Bytes::from_static(SDP.as_bytes()));
        }
        let resp = b.build().unwrap();
        let cid = invite.call_id().unwrap().to_owned();
        r.leg_with_call_id(&cid).unwrap().on_response(&resp, now);
        r.process(now);
    }

    fn target(m: &Message) -> &str {
        m.request_uri_str().unwrap_or("")
    }

    #[test]
    fn the_first_answer_wins_and_the_others_are_cancelled_as_completed_elsewhere() {
        let now = Instant::now();
        let mut r = Ringing::start(
            plan(vec![
                branch(BranchKind::DeskPhone, "101", 0),
                branch(BranchKind::SipClient, "alice", 0),
            ]),
            Some(bytes::Bytes::from_static(SDP.as_bytes())),
            now,
        );
        let invites = sent(&mut r, Method::Invite);
        assert_eq!(invites.len(), 2);
        assert!(invites.iter().all(|i| i.body() == SDP.as_bytes()));
        respond(&mut r, &invites[0], 180, now);
        respond(&mut r, &invites[1], 180, now);
        respond(&mut r, &invites[1], 200, now + Duration::from_secs(3));
        let mut outcomes = r.drain_outcomes();
        match outcomes.next() {
            Some(Outcome::Answered {
                leg,
                kind,
                sdp,
                mut losers,
            }) => {
                assert_eq!(kind, BranchKind::SipClient);
                assert_eq!(leg.call_id(), invites[1].call_id().unwrap());
                assert!(sdp.is_some());
                assert_eq!(losers.len(), 1);
                let cancels: Vec<Message> = losers[0]
                    .drain_outbox()
                    .filter_map(|o| match o {
                        SipOut::Request { msg, .. } if msg.method() == Some(&Method::Cancel) => {
                            Some(msg)
                        }
                        _ => None,
                    })
                    .collect();
                assert_eq!(cancels.len(), 1);
                assert_eq!(
                    cancels[0].get(HeaderName::Reason),
                    Some(COMPLETED_ELSEWHERE)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(!r.is_ringing());
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn branch_call_ids_are_recognisably_viaworks_own() {
        let now = Instant::now();
        let mut r = Ringing::start(
            plan(vec![branch(BranchKind::DeskPhone, "101", 0)]),
            None,
            now,
        );
        let invite = &sent(&mut r, Method::Invite)[0];
        let own = crate::calls::leg::is_own_call_id;
        assert!(own(invite.call_id().unwrap(), "example.com"));
        assert!(!own(invite.call_id().unwrap(), "other.example"));
        assert!(!own("a84b4c76e66710@pc33.atlanta.com", "pc33.atlanta.com"));
        assert!(!own("no-at-sign", "example.com"));
    }

    #[test]
    fn a_simultaneous_ring_target_starts_after_its_delay() {
        let now = Instant::now();
        let mut r = Ringing::start(
            plan(vec![
                branch(BranchKind::DeskPhone, "101", 0),
                branch(BranchKind::SimultaneousRing, "+14255550199", 5),
            ]),
            None,
            now,
        );
        let first = sent(&mut r, Method::Invite);
        assert_eq!(first.len(), 1);
        assert!(target(&first[0]).contains("101@"));
        assert_eq!(r.poll_timeout(), Some(now + Duration::from_secs(5)));
        r.handle_timeout(now + Duration::from_secs(4));
        assert!(
            sent(&mut r, Method::Invite).is_empty(),
            "not before its delay"
        );
        r.handle_timeout(now + Duration::from_secs(5));
        let second = sent(&mut r, Method::Invite);
        assert_eq!(second.len(), 1);
        assert!(target(&second[0]).contains("+14255550199@"));
    }

    #[test]
    fn unanswered_calls_go_to_the_target_alone_after_the_delay() {
        let now = Instant::now();
        let mut p = plan(vec![branch(BranchKind::DeskPhone, "101", 0)]);
        p.unanswered = Some((
            Duration::from_secs(20),
            branch(BranchKind::Forward, "+14255550177", 0),
        ));
        let mut r = Ringing::start(p, None, now);
        let desk = sent(&mut r, Method::Invite);
        respond(&mut r, &desk[0], 180, now);
        assert_eq!(r.poll_timeout(), Some(now + Duration::from_secs(20)));
        r.handle_timeout(now + Duration::from_secs(20));
        let out: Vec<SipOut> = r.drain_outbox().collect();
        let methods: Vec<(String, String)> = out
            .iter()
            .filter_map(|o| match o {
                SipOut::Request { msg, .. } => Some((
                    msg.method()
                        .map(|m| m.as_str().to_owned())
                        .unwrap_or_default(),
                    target(msg).to_owned(),
                )),
                _ => None,
            })
            .collect();
        assert!(
            methods
                .iter()
                .any(|(m, t)| m == "CANCEL" && t.contains("101@")),
            "{methods:?}"
        );
        assert!(
            methods
                .iter()
                .any(|(m, t)| m == "INVITE" && t.contains("+14255550177@")),
            "{methods:?}"
        );
        assert!(r.is_ringing());
        assert!(
            !r.decline(now + Duration::from_secs(21)),
            "nothing to decline once forwarded"
        );
    }

    #[test]
    fn every_phone_busy_refuses_486_or_forwards() {
        let now = Instant::now();
        let mut r = Ringing::start(
            plan(vec![branch(BranchKind::DeskPhone, "101", 0)]),
            None,
            now,
        );
        let desk = sent(&mut r, Method::Invite);
        respond(&mut r, &desk[0], 486, now);
        match r.drain_outcomes().next() {
            Some(Outcome::Failed { code, reason, .. }) => {
                assert_eq!((code, reason), (486, EndReason::Busy));
            }
            other => panic!("{other:?}"),
        }

        let mut p = plan(vec![branch(BranchKind::DeskPhone, "101", 0)]);
        p.unanswered = Some((
            Duration::from_secs(20),
            branch(BranchKind::Forward, "+14255550177", 0),
        ));
        let mut r = Ringing::start(p, None, now);
        let desk = sent(&mut r, Method::Invite);
        respond(&mut r, &desk[0], 486, now);
        assert!(r.drain_outcomes().next().is_none());
        let fwd = sent(&mut r, Method::Invite);
        assert_eq!(fwd.len(), 1);
        assert!(target(&fwd[0]).contains("+14255550177@"));
    }

    #[test]
    fn clients_keep_a_call_ringing_until_they_accept_then_the_callback_rings() {
        let now = Instant::now();
        let t = trunk();
        let mut p = plan(vec![branch(BranchKind::DeskPhone, "101", 0)]);
        p.offer_clients = true;
        p.callback = Some(t.leg(
            t.uri_for_user("+14255550101"),
            &"+15551234567".parse().unwrap(),
            Some("Call Via Work".into()),
        ));
        let mut r = Ringing::start(p, None, now);
        let desk = sent(&mut r, Method::Invite);
        // The desk phone refuses, but the clients still ring.
        respond(&mut r, &desk[0], 486, now);
        assert!(r.drain_outcomes().next().is_none());
        assert!(r.is_offered());
        assert!(r.accept(now + Duration::from_secs(2)));
        assert!(!r.accept(now + Duration::from_secs(2)), "once");
        assert!(matches!(
            r.drain_outcomes().next(),
            Some(Outcome::State(CallState::ConnectingYourPhone))
        ));
        let cb = sent(&mut r, Method::Invite);
        assert_eq!(cb.len(), 1);
        assert!(cb[0]
            .get(HeaderName::From)
            .unwrap()
            .contains("+15551234567"));
        respond(&mut r, &cb[0], 180, now + Duration::from_secs(3));
        assert!(matches!(
            r.drain_outcomes().next(),
            Some(Outcome::State(CallState::YourPhoneRinging))
        ));
        // The callback rings out: the caller is turned away.
        r.handle_timeout(now + Duration::from_secs(2 + 45));
        match r.drain_outcomes().next() {
            Some(Outcome::Failed { code, reason, .. }) => {
                assert_eq!((code, reason), (480, EndReason::YourPhoneNoAnswer));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_call_nobody_answers_is_missed_at_the_ring_limit() {
        let now = Instant::now();
        let mut p = plan(vec![]);
        p.offer_clients = true;
        let mut r = Ringing::start(p, None, now);
        assert_eq!(r.poll_timeout(), Some(now + Duration::from_secs(60)));
        r.handle_timeout(now + Duration::from_secs(60));
        match r.drain_outcomes().next() {
            Some(Outcome::Failed { code, reason, .. }) => {
                assert_eq!((code, reason), (480, EndReason::Missed));
            }
            other => panic!("{other:?}"),
        }
        // With no branch and no client at all, at once.
        let r = &mut Ringing::start(plan(vec![]), None, now);
        assert!(matches!(
            r.drain_outcomes().next(),
            Some(Outcome::Failed { code: 480, .. })
        ));
    }
}
