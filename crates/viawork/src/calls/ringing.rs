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
