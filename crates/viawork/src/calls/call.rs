//! The Call Via Work call: RFC 3725 third-party call control over two [`Leg`]s, as a
//! sans-IO state machine. It is fed SIP messages for its legs, API commands and the
//! time; it returns SIP messages to send ([`SipOut`]), media actions for the engine
//! ([`MediaAction`]) and notices for the event bus ([`CallNotice`]).
//!
//! The flow (chosen to survive a far end that rings for minutes, late offers, glare,
//! CANCEL crossing 2xx and forked 2xx):
//!
//! ```text
//!  user's phone (A)            ViaWork                    far party (B)
//!   ◀── INVITE (offer: engine stream M1, caller ID = CallViaWorkCallerId)
//!   ── 180 / 200 (answer) ──▶  ACK                      (A is in a stable session
//!                              ringback M1 ──▶ A          with ViaWork's engine)
//!                              INVITE (offer: M2, caller ID = the user) ──▶
//!                              ◀── 180 (ringback) / 183+SDP (B's early media relayed)
//!                              ◀── 200 (answer) · ACK ──▶             state: connected
//!  anchored: relay M1 ⇄ M2 for the whole call. Direct (RFC 3725 §4.2, with both sides
//!  already answered, so no 2xx waits on a ringing phone):
//!   ◀── re-INVITE (no SDP)
//!   ── 200 (offer A) ──▶       re-INVITE (offer A, our origin) ──▶
//!                              ◀── 200 (answer B) · ACK ──▶
//!   ◀── ACK (answer B, our origin)             media flows A ⇄ B; M1, M2 released
//! ```
//!
//! A re-INVITE refused during the join (or a phone that will not offer in a 2xx) falls
//! back to anchoring, so the call still connects. Each leg keeps one origin (ours) with
//! growing versions ([`LegSession`]). A glare 491 is retried by the dialog's back-off.

use super::leg::{Leg, LegEvent, LegFailure, LegRole, LegSetup, SipOut};
use super::model::{CallState, EndReason, HungUpBy};
use super::ringing::{BranchKind, Outcome, RingPlan, Ringing};
use super::sdp_relay::LegSession;
use bytes::Bytes;
use sip::{Message, Method};
use sip_stack::transaction::TransactionKey;
use std::time::{Duration, Instant};

/// How long after the far party's 180 ringback starts. A far end that answers sooner
/// (an IVR, voicemail) is joined before the user's phone got any RTP from ViaWork:
/// some phones (baresip 1.0) drop a new source whose sequence numbers are below the
/// engine's when their jitter buffer has not started playing yet.
pub const RINGBACK_DELAY: Duration = Duration::from_millis(300);

/// How long ViaWork waits for legs to finish hanging up before forgetting the call
/// (RFC 3261 §9.1 lets a UAC give up on a CANCELled INVITE after 64·T1).
pub const LINGER: Duration = Duration::from_secs(32);

/// A party's SDP for the media engine, with ours from the same offer/answer exchange:
/// together they say which codec the party will send (see
/// [`remote_media`](super::media::remote_media)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSdp {
    /// What the party sent: its offer, or its answer to ours.
    pub theirs: Bytes,
    /// What we sent in the same exchange (our offer, or our answer to theirs).
    pub ours: Option<Bytes>,
}

/// What the media engine should do for this call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaAction {
    /// The leg's party answered with (or offered) this SDP: send the engine's stream for
    /// that leg there.
    SetRemote(LegRole, RemoteSdp),
    /// Play ringback to the user's phone.
    Ringback,
    /// Relay the two streams to each other (early media, or an anchored call).
    Bridge,
    /// The phones talk directly now: stop and free both streams.
    Release,
    /// Anchored: hold (music to the far party, silence to the user) or resume.
    Hold(bool),
    /// Anchored: stop (or resume) relaying the user's phone to the far party.
    Mute(bool),
    /// Anchored: send these digits to the far party as RFC 4733 events.
    Dtmf(String),
    /// A meeting join: the user's phone answered; hand its stream to the meeting.
    EnterMeeting,
    /// A meeting participant pressed a key, signalled in SIP INFO (RFC 4733 digits arrive
    /// in the media).
    KeypadDigit(char),
    /// The call became a meeting: hand both legs' streams to it.
    Escalate(Box<Escalation>),
    /// In an escalated call, this leg's party left (the other stays in the meeting).
    LegLeft(LegRole),
}

/// Where an escalated call's two parties go, and as whom.
#[derive(Debug, Clone)]
pub struct Escalation {
    /// The meeting's id.
    pub meeting_id: String,
    /// The user (the callback leg): SIP URI and name.
    pub user: (String, String),
    /// The far party: their SIP URI when they are a directory user, and a name.
    pub far: (Option<String>, String),
    /// The meetings runtime.
    pub to: tokio::sync::mpsc::UnboundedSender<super::media::MeetingMsg>,
    /// For a call whose media runs phone to phone: the new engine streams' media (the
    /// user's leg, the far leg) to re-anchor it on first, by a re-INVITE to each phone.
    pub relocal: Option<[sdp::LocalMedia; 2]>,
}

impl PartialEq for Escalation {
    fn eq(&self, other: &Self) -> bool {
        (&self.meeting_id, &self.user, &self.far) == (&other.meeting_id, &other.user, &other.far)
    }
}

impl Eq for Escalation {}

/// What the call tells the rest of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallNotice {
    /// The state changed.
    State(CallState),
    /// The call ended, with why and who.
    Ended(EndReason, HungUpBy),
    /// Every leg is finished: the call can be logged and forgotten.
    Finished,
    /// A transfer did not happen (the far side's status).
    TransferFailed(u16),
}

/// What starting a call needs.
#[derive(Debug)]
pub struct CallSetup {
    /// The callback leg to the user's phone.
    pub callback: LegSetup,
    /// The far leg, started once the user answers.
    pub far: LegSetup,
    /// ViaWork's media for each leg.
    pub sessions: [LegSession; 2],
    /// Relay media for the whole call.
    pub anchor: bool,
    /// Ring limits of the callback and far legs.
    pub ring_timeouts: [Duration; 2],
    /// The PBX does REFER with Replaces. Without it a transfer on the desk phone shows
    /// only as a re-INVITE of the callback leg asserting another party, which then
    /// detaches the call from the user (so closing it in the client drops nothing).
    pub pbx_refer_replaces: bool,
    /// A meeting join by dial-out: there is no far leg; once the user's phone answers its
    /// stream goes to the meeting ([`MediaAction::EnterMeeting`]) and the call is connected.
    pub meeting: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    NotYet,
    Joining,
    Direct,
    Anchored,
}

/// What a re-INVITE of ours on a leg is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Offerless, to the user's phone: its offer starts the join.
    JoinAskOffer,
    /// The user's phone's offer, to the far party: its answer completes the join.
    JoinOffer,
    /// An offer relayed for the other leg's re-INVITE.
    Relay,
    /// Hold (`inactive`) in a direct call.
    Hold,
    /// Mute the user's phone (`sendonly` toward it) in a direct call.
    Mute,
    /// Our engine stream's offer, to move a direct call's media to ViaWork (escalating it
    /// into a meeting).
    Anchor,
    /// A transfer target's offer, to the party that stays: its answer completes the
    /// transfer.
    Replace,
    /// A new description for a party (its answer changes nothing further).
    Refresh,
}

/// An in-call control from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Put the far party on hold (music from the relay when anchored, silence otherwise).
    Hold,
    /// Take it off hold.
    Resume,
    /// Stop the user's phone being heard by the far party.
    Mute,
    /// Undo [`Control::Mute`].
    Unmute,
    /// Send DTMF digits to the far party.
    Dtmf(String),
    /// Blind-transfer the far party to this URI; the user's call ends as `transferred`.
    Transfer(String),
    /// Turn the call into a meeting (both parties' media to the mixer); needs the call's
    /// media anchored through ViaWork.
    Escalate(Box<Escalation>),
    /// In an escalated call, end one leg (a leader removed that party; the user left).
    DropLeg(LegRole),
}

/// Why a control cannot be carried out now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The call is not connected (yet, or any more).
    #[error("the call is not connected")]
    NotConnected,
    /// Another change of the call is in progress.
    #[error("another change of this call is in progress; try again")]
    Busy,
    /// The far side does not support it.
    #[error("the far side does not support this")]
    Unsupported,
    /// The call's media runs phone to phone: ViaWork cannot mix it.
    #[error("the call's media does not run through ViaWork (media.anchor = \"always\" makes it)")]
    NotAnchored,
}

/// `r` as the call's replacement.
fn replacement(r: Replacing) -> Option<Box<Replacing>> {
    Some(Box::new(r))
}

/// A leg being set up to replace one of the call's legs.
#[derive(Debug)]
struct Replacing {
    /// The leg it replaces.
    role: LegRole,
    /// Who asked: the PBX side (a REFER or INVITE with Replaces, `YourPhone`) or the user
    /// (a transfer re-targeted by ViaWork, `User`).
    by: HungUpBy,
    leg: Leg,
    session: LegSession,
    /// The new party's offer, waiting for the other leg's answer.
    offer: Option<Bytes>,
}

/// When each phase happened, for the call log.
#[derive(Debug, Clone, Default)]
pub struct CallTimes {
    /// The callback INVITE went out.
    pub started: Option<Instant>,
    /// The user's phone answered.
    pub callback_answered: Option<Instant>,
    /// The far INVITE went out.
    pub far_started: Option<Instant>,
    /// The far party answered.
    pub connected: Option<Instant>,
    /// The call ended.
    pub ended: Option<Instant>,
}

/// One Call Via Work call. See the [module docs](self).
#[derive(Debug)]
pub struct Call {
    state: CallState,
    end: Option<(EndReason, HungUpBy)>,
    legs: [Option<Leg>; 2],
    /// Boxed: gone once the far leg starts, and 450 bytes inline in every call.
    far_setup: Option<Box<LegSetup>>,
    sessions: [LegSession; 2],
    anchor: bool,
    join: Join,
    /// Our re-INVITE in progress on each leg, and what for.
    pending: [Option<Purpose>; 2],
    /// The last SDP each phone sent (offer or answer).
    remote_sdp: [Option<Bytes>; 2],
    /// The user's phone is muted toward the far party.
    muted: bool,
    /// A hold or resume is in progress: the state to report when it completes.
    target: Option<CallState>,
    /// A blind transfer is in progress.
    transferring: bool,
    early_media: bool,
    /// When to start ringback toward the user's phone.
    ringback_at: Option<Instant>,
    ring_timeouts: [Duration; 2],
    ring_deadline: Option<Instant>,
    linger_until: Option<Instant>,
    call_ids: [Option<String>; 2],
    /// A transfer done on the PBX side (REFER on a leg): the new leg that will take that
    /// leg's place once it answers and is joined.
    /// Boxed: a leg is 3 KiB, and most calls never have a replacement.
    replacing: Option<Box<Replacing>>,
    /// Legs that were replaced and are being hung up.
    retired: Vec<Leg>,
    /// The user's desk phone transferred the call away: it is over for the user
    /// (`transferred`) while ViaWork keeps the remaining parties connected.
    detached: bool,
    /// Templates for new legs (a transfer target).
    far_template: LegSetup,
    /// See [`CallSetup::pbx_refer_replaces`].
    pbx_refer_replaces: bool,
    /// The user's phone's number (the callback number's digits), to recognise it.
    callback_digits: String,
    /// A plain back-to-back call (a SIP client through ViaWork to the PBX), not a Call Via
    /// Work call: leg 0 is the caller's INVITE, leg 1 ViaWork's INVITE to the PBX, and
    /// the answer, failure or progress of one is passed to the other.
    bridged: bool,
    /// An incoming call: leg 0 is the caller's INVITE; while nobody has answered, the
    /// places it rings are here (boxed: most calls are not incoming).
    ringing: Option<Box<Ringing>>,
    incoming: bool,
    /// A meeting join by dial-out ([`CallSetup::meeting`]), a dial-in, or an escalated call.
    meeting: bool,
    /// A two-party call turned into a meeting: each leg leaves on its own, the call ends
    /// when both have.
    escalated: bool,
    /// Which legs of an escalated call have left.
    left: [bool; 2],
    /// An escalation waiting for the re-anchoring re-INVITEs to be answered.
    escalating: Option<Box<Escalation>>,
    /// Where an incoming call was answered.
    answered_on: Option<BranchKind>,
    times: CallTimes,
    out: Vec<SipOut>,
    media: Vec<MediaAction>,
    notices: Vec<CallNotice>,
    finished: bool,
}

impl Call {
    /// A call in `state` with `legs`, everything else at its start; the constructors
    /// set what differs.
    fn with_legs(
        state: CallState,
        legs: [Option<Leg>; 2],
        far_template: LegSetup,
        sessions: [LegSession; 2],
        now: Instant,
    ) -> Call {
        Call {
            state,
            end: None,
            call_ids: [
                legs[0].as_ref().map(|l| l.call_id().to_owned()),
                legs[1].as_ref().map(|l| l.call_id().to_owned()),
            ],
            replacing: None,
            retired: Vec::new(),
            detached: false,
            far_template,
            pbx_refer_replaces: true,
            callback_digits: String::new(),
            bridged: false,
            ringing: None,
            incoming: false,
            meeting: false,
            escalated: false,
            left: [false, false],
            escalating: None,
            answered_on: None,
            legs,
            far_setup: None,
            sessions,
            anchor: false,
            join: Join::NotYet,
            pending: [None, None],
            remote_sdp: [None, None],
            muted: false,
            target: None,
            transferring: false,
            early_media: false,
            ringback_at: None,
            ring_timeouts: [Duration::ZERO, Duration::ZERO],
            ring_deadline: None,
            linger_until: None,
            times: CallTimes {
                started: Some(now),
                ..CallTimes::default()
            },
            out: Vec::new(),
            media: Vec::new(),
            notices: vec![CallNotice::State(state)],
            finished: false,
        }
    }

    /// Starts the call: the callback INVITE is queued.
    pub fn start(setup: CallSetup, now: Instant) -> Result<Call, String> {
        let mut sessions = setup.sessions;
        let offer = sessions[0].own_offer();
        let callback_digits: String = setup
            .callback
            .target
            .split('@')
            .next()
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let callback = Leg::start(LegRole::Callback, setup.callback, Some(offer), now)?;
        let far_template = setup.far.clone();
        let mut call = Call::with_legs(
            CallState::ConnectingYourPhone,
            [Some(callback), None],
            far_template,
            sessions,
            now,
        );
        call.pbx_refer_replaces = setup.pbx_refer_replaces;
        call.callback_digits = callback_digits;
        call.meeting = setup.meeting;
        call.far_setup = (!setup.meeting).then(|| Box::new(setup.far));
        call.anchor = setup.anchor || setup.meeting;
        call.ring_timeouts = setup.ring_timeouts;
        call.ring_deadline = Some(now + setup.ring_timeouts[0]);
        call.collect();
        Ok(call)
    }

    /// A plain back-to-back call: the caller's INVITE `invite` (server transaction `key`,
    /// from `peer`) goes on to the PBX as `far` with the caller's offer relayed; there is
    /// no media engine, the endpoints talk directly.
    pub fn bridge(
        invite: &Message,
        key: TransactionKey,
        peer: sip_stack::transaction::Peer,
        far: LegSetup,
        sessions: [LegSession; 2],
        ring_timeout: Duration,
        now: Instant,
    ) -> Result<Call, String> {
        let mut sessions = sessions;
        let caller = Leg::incoming(LegRole::Callback, key, invite, &far, peer);
        let offer = (!invite.body().is_empty()).then(|| invite.body_bytes());
        let relayed = offer.as_ref().and_then(|o| sessions[1].relay(o));
        if offer.is_some() && relayed.is_none() {
            return Err("the caller's SDP does not parse".into());
        }
        let callee = Leg::start(LegRole::Far, far.clone(), relayed, now)?;
        let mut call = Call::with_legs(
            CallState::Connecting,
            [Some(caller), Some(callee)],
            far,
            sessions,
            now,
        );
        call.bridged = true;
        call.remote_sdp = [offer, None];
        call.ring_timeouts = [ring_timeout, ring_timeout];
        call.ring_deadline = Some(now + ring_timeout);
        call.times.callback_answered = Some(now);
        call.times.far_started = Some(now);
        call.collect();
        Ok(call)
    }

    /// True for a plain back-to-back call.
    pub fn is_bridged(&self) -> bool {
        self.bridged
    }

    /// An incoming call: the caller's INVITE `invite` (server transaction `key`, from
    /// `peer`) rings everywhere `plan` says; `uas` gives our side of the caller's dialog.
    /// The caller hears ringing (180) at once. Like a plain back-to-back call, the media
    /// runs directly between the caller and whoever answers.
    #[allow(clippy::too_many_arguments)]
    pub fn incoming(
        invite: &Message,
        key: TransactionKey,
        peer: sip_stack::transaction::Peer,
        uas: LegSetup,
        plan: RingPlan,
        sessions: [LegSession; 2],
        now: Instant,
    ) -> Result<Call, String> {
        let mut sessions = sessions;
        let mut caller = Leg::incoming(LegRole::Callback, key, invite, &uas, peer);
        let offer = (!invite.body().is_empty()).then(|| invite.body_bytes());
        let relayed = offer.as_ref().and_then(|o| sessions[1].relay(o));
        if offer.is_some() && relayed.is_none() {
            return Err("the caller's SDP does not parse".into());
        }
        caller.provisional(180, None);
        let ringing = Ringing::start(plan, relayed, now);
        let mut call = Call::with_legs(
            CallState::Incoming,
            [Some(caller), None],
            uas,
            sessions,
            now,
        );
        call.bridged = true;
        call.ringing = Some(Box::new(ringing));
        call.incoming = true;
        call.remote_sdp = [offer, None];
        call.process(now);
        Ok(call)
    }

    /// A call to a conference bridge number (dial-in): ViaWork answers it at once with
    /// `session`'s media (an engine stream) and hands the stream to the meetings runtime
    /// ([`MediaAction::EnterMeeting`]), whose voice menu takes it from there. The caller's
    /// late offer is answered in the ACK, and the stream handed over then.
    pub fn dial_in(
        invite: &Message,
        key: TransactionKey,
        peer: sip_stack::transaction::Peer,
        uas: LegSetup,
        session: LegSession,
        now: Instant,
    ) -> Result<Call, String> {
        let spare = LegSession::new(super::media::relay_local(
            std::net::Ipv4Addr::UNSPECIFIED.into(),
            9,
        ));
        let mut sessions = [session, spare];
        let mut caller = Leg::incoming(LegRole::Callback, key, invite, &uas, peer);
        let offer = (!invite.body().is_empty()).then(|| invite.body_bytes());
        let sdp = match &offer {
            Some(o) => match sessions[0].own_answer(o) {
                Some(a) => a,
                None => {
                    caller.reject_invite(488);
                    return Err("nothing acceptable in the caller's SDP".into());
                }
            },
            None => sessions[0].own_offer(),
        };
        if !caller.accept_invite(Some(sdp), now) {
            return Err("cannot answer the INVITE".into());
        }
        let mut call = Call::with_legs(
            CallState::Connected,
            [Some(caller), None],
            uas,
            sessions,
            now,
        );
        call.bridged = true;
        call.incoming = true;
        call.meeting = true;
        call.join = Join::Anchored;
        call.times.callback_answered = Some(now);
        call.times.connected = Some(now);
        if let Some(offer) = offer {
            call.remote_sdp[0] = Some(offer.clone());
            call.set_remote(LegRole::Callback, offer, None);
            call.media.push(MediaAction::EnterMeeting);
        }
        call.process(now);
        Ok(call)
    }

    /// Tells the engine where `role`'s party is, from its description `theirs` and `ours`
    /// in the same exchange (by default the last description we sent on that leg).
    fn set_remote(&mut self, role: LegRole, theirs: Bytes, ours: Option<Bytes>) {
        let ours = ours.or_else(|| self.sessions[role.index()].last_sent());
        self.media
            .push(MediaAction::SetRemote(role, RemoteSdp { theirs, ours }));
    }

    /// True for an incoming call.
    pub fn is_incoming(&self) -> bool {
        self.incoming
    }

    /// True for a meeting join by dial-out.
    pub fn is_meeting(&self) -> bool {
        self.meeting
    }

    /// True while the user's API clients may accept or decline the incoming call.
    pub fn is_offered(&self) -> bool {
        self.ringing.as_ref().is_some_and(|r| r.is_offered())
    }

    /// Where an incoming call was answered.
    pub fn answered_on(&self) -> Option<BranchKind> {
        self.answered_on
    }

    /// The user accepted the incoming call in a client: their PBX phone is rung as a
    /// callback. False when it is not ringing for clients any more.
    pub fn accept(&mut self, now: Instant) -> bool {
        let ok = self.ringing.as_mut().is_some_and(|r| r.accept(now));
        self.process(now);
        ok
    }

    /// The user declined the incoming call. False when it is not ringing any more.
    pub fn decline(&mut self, now: Instant) -> bool {
        let ok = self.ringing.as_mut().is_some_and(|r| r.decline(now));
        self.process(now);
        ok
    }

    /// What the ringing decided.
    fn on_ringing(&mut self, o: Outcome, now: Instant) {
        match o {
            Outcome::State(s) => self.set_state(s),
            Outcome::Answered {
                leg,
                kind,
                sdp,
                losers,
            } => {
                self.ringing = None;
                self.retired.extend(losers);
                self.call_ids[1] = Some(leg.call_id().to_owned());
                self.legs[1] = Some(*leg);
                self.answered_on = Some(kind);
                self.times.callback_answered = Some(now);
                self.times.connected = Some(now);
                self.remote_sdp[1] = sdp.clone();
                let relayed = sdp.and_then(|s| self.sessions[0].relay(&s));
                if let Some(l) = self.leg(LegRole::Callback) {
                    l.accept_invite(relayed, now);
                }
                self.join = Join::Direct;
                self.set_state(CallState::Connected);
            }
            Outcome::Failed {
                code,
                reason,
                losers,
            } => {
                self.ringing = None;
                self.retired.extend(losers);
                if let Some(l) = self.leg(LegRole::Callback) {
                    l.reject_invite(code);
                }
                let by = match reason {
                    EndReason::Declined => HungUpBy::User,
                    _ => HungUpBy::System,
                };
                self.finish(reason, by, now);
            }
        }
    }

    /// A PBX without REFER with Replaces re-INVITEs the callback leg when the user
    /// transfers on the desk phone; if it asserts a party other than the user's phone,
    /// the user is out of the call: end it for them as `transferred` and keep the rest.
    fn check_desk_phone_transfer(&mut self, identity: Option<&str>, now: Instant) {
        let Some(identity) = identity else { return };
        let user_part = identity
            .split_once("sip:")
            .or_else(|| identity.split_once("tel:"))
            .map(|(_, rest)| rest)
            .unwrap_or(identity);
        let digits: String = user_part
            .split(['@', ';', '>'])
            .next()
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let same = !digits.is_empty()
            && !self.callback_digits.is_empty()
            && (self.callback_digits.ends_with(&digits) || digits.ends_with(&self.callback_digits));
        if !digits.is_empty()
            && !same
            && matches!(self.state, CallState::Connected | CallState::OnHold)
        {
            tracing::info!(%identity, "the desk phone transferred the call (connected party changed)");
            self.detach(HungUpBy::YourPhone, now);
        }
    }

    /// The user's phone is out of the call (a transfer): the call ends for the user as
    /// `transferred` while ViaWork keeps the remaining parties connected.
    fn detach(&mut self, by: HungUpBy, now: Instant) {
        self.detached = true;
        self.transferring = false;
        self.end = Some((EndReason::Transferred, by));
        self.times.ended = Some(now);
        self.set_state(CallState::Ended);
        self.notices
            .push(CallNotice::Ended(EndReason::Transferred, by));
    }

    /// The caller CANCELled its INVITE (a bridged call).
    pub fn on_cancel(&mut self, now: Instant) {
        let unanswered = self.legs[0]
            .as_ref()
            .is_some_and(Leg::is_unanswered_incoming);
        if unanswered {
            if let Some(mut r) = self.ringing.take() {
                let losers = r.caller_cancelled(now);
                self.retired.extend(losers);
            }
            if let Some(l) = self.leg(LegRole::Callback) {
                l.cancelled();
            }
            if self.incoming {
                self.finish(EndReason::Missed, HungUpBy::FarEnd, now);
            } else {
                self.finish(EndReason::Cancelled, HungUpBy::YourPhone, now);
            }
        }
        self.process(now);
    }

    /// The bridge's own events: the PBX's progress, answer or failure goes to the caller.
    fn on_bridge_event(&mut self, ev: LegEvent, now: Instant) {
        match ev {
            LegEvent::Progress { code, sdp } => {
                if self.end.is_some() {
                    return;
                }
                let sdp = sdp.and_then(|s| self.sessions[0].relay(&s));
                if let Some(l) = self.leg(LegRole::Callback) {
                    l.provisional(code, sdp);
                }
                self.set_state(CallState::Ringing);
            }
            LegEvent::Answered { sdp } => {
                if self.end.is_some() {
                    return;
                }
                self.ring_deadline = None;
                self.times.connected = Some(now);
                self.remote_sdp[1] = sdp.clone();
                let relayed = sdp.and_then(|s| self.sessions[0].relay(&s));
                if let Some(l) = self.leg(LegRole::Callback) {
                    l.accept_invite(relayed, now);
                }
                self.join = Join::Direct;
                self.set_state(CallState::Connected);
            }
            LegEvent::Failed(f) => {
                let code = match f {
                    LegFailure::Status(c) => c,
                    LegFailure::Timeout => 408,
                    LegFailure::Transport => 503,
                };
                if let Some(l) = self.leg(LegRole::Callback) {
                    // 3xx–6xx pass through as they are; a timeout is a 408.
                    l.reject_invite(code);
                }
                self.leg_failed(LegRole::Far, f, now);
            }
            _ => {}
        }
    }

    /// The current state.
    pub fn state(&self) -> CallState {
        self.state
    }

    /// Why and by whom it ended, once it has.
    pub fn end(&self) -> Option<(EndReason, HungUpBy)> {
        self.end
    }

    /// The SIP Call-IDs of the callback and far legs.
    pub fn call_ids(&self) -> &[Option<String>; 2] {
        &self.call_ids
    }

    /// Every SIP Call-ID this call uses now (its legs, a replacement being set up, legs
    /// being hung up), with the role each stands for.
    pub fn all_call_ids(&self) -> Vec<(LegRole, String)> {
        let mut v: Vec<(LegRole, String)> = self
            .legs
            .iter()
            .flatten()
            .chain(self.retired.iter())
            .map(|l| (l.role(), l.call_id().to_owned()))
            .collect();
        if let Some(r) = &self.replacing {
            v.push((r.role, r.leg.call_id().to_owned()));
        }
        if let Some(r) = &self.ringing {
            v.extend(r.call_ids().map(|c| (LegRole::Far, c.to_owned())));
        }
        v
    }

    /// How many legs the call has had in its lists: grows when a leg is added.
    pub fn leg_count(&self) -> usize {
        self.legs.iter().flatten().count()
            + self.retired.len()
            + usize::from(self.replacing.is_some())
            + self.ringing.as_ref().map_or(0, |r| r.len())
    }

    /// The role of the leg with SIP Call-ID `cid`.
    pub fn role_of(&self, cid: &str) -> Option<LegRole> {
        if let Some(r) = self.replacing.as_ref().filter(|r| r.leg.call_id() == cid) {
            return Some(r.role);
        }
        if self
            .ringing
            .as_ref()
            .is_some_and(|r| r.call_ids().any(|c| c == cid))
        {
            return Some(LegRole::Far);
        }
        self.legs
            .iter()
            .flatten()
            .chain(self.retired.iter())
            .find(|l| l.call_id() == cid)
            .map(Leg::role)
    }

    /// True when the user's part is over but ViaWork still connects the other parties.
    pub fn is_detached(&self) -> bool {
        self.detached
    }

    /// Phase timestamps.
    pub fn times(&self) -> &CallTimes {
        &self.times
    }

    /// Where the media runs: `engine` (ViaWork's engine toward each leg: ringback,
    /// early media, a join in progress), `direct` (phone to phone) or `relayed`
    /// (anchored through ViaWork's relay).
    pub fn media_path(&self) -> &'static str {
        match self.join {
            Join::Direct => "direct",
            Join::Anchored => "relayed",
            Join::NotYet | Join::Joining => "engine",
        }
    }

    /// The user's phone is muted toward the far party.
    pub fn is_muted(&self) -> bool {
        self.muted
    }

    /// Messages to send.
    pub fn drain_sip(&mut self) -> std::vec::IntoIter<SipOut> {
        // Taken, not drained: a held call keeps no buffer between events.
        std::mem::take(&mut self.out).into_iter()
    }

    /// Media actions, in order.
    pub fn drain_media(&mut self) -> std::vec::IntoIter<MediaAction> {
        // Taken, not drained: a held call keeps no buffer between events.
        std::mem::take(&mut self.media).into_iter()
    }

    /// Notices, in order.
    pub fn drain_notices(&mut self) -> std::vec::IntoIter<CallNotice> {
        // Taken, not drained: a held call keeps no buffer between events.
        std::mem::take(&mut self.notices).into_iter()
    }

    fn leg(&mut self, role: LegRole) -> Option<&mut Leg> {
        self.legs[role.index()].as_mut()
    }

    /// The leg a message belongs to, by its Call-ID: one of the call's legs, a
    /// replacement being set up, or a retired leg being hung up.
    fn leg_for(&mut self, msg: &Message) -> Option<&mut Leg> {
        let cid = msg.call_id().ok()?;
        self.leg_with_call_id(cid)
    }

    /// The leg with SIP Call-ID `cid`, wherever it is (see [`Call::leg_for`]).
    fn leg_with_call_id(&mut self, cid: &str) -> Option<&mut Leg> {
        if let Some(r) = self.replacing.as_mut().filter(|r| r.leg.call_id() == cid) {
            return Some(&mut r.leg);
        }
        if let Some(i) = self.retired.iter().position(|l| l.call_id() == cid) {
            return self.retired.get_mut(i);
        }
        if let Some(r) = self.ringing.as_mut() {
            if r.call_ids().any(|c| c == cid) {
                return r.leg_with_call_id(cid);
            }
        }
        self.legs.iter_mut().flatten().find(|l| l.call_id() == cid)
    }

    /// A response on one of the legs.
    pub fn on_response(&mut self, _role: LegRole, msg: &Message, now: Instant) {
        if let Some(l) = self.leg_for(msg) {
            l.on_response(msg, now);
        }
        self.process(now);
    }

    /// A request inside one of the legs' dialogs.
    pub fn on_request(&mut self, _role: LegRole, key: TransactionKey, msg: &Message, now: Instant) {
        if let Some(l) = self.leg_for(msg) {
            l.on_request(key, msg, now);
        }
        self.process(now);
    }

    /// An ACK for a 2xx we sent on a leg.
    pub fn on_ack(
        &mut self,
        role: LegRole,
        invite_key: TransactionKey,
        msg: &Message,
        now: Instant,
    ) {
        let _ = role;
        if let Some(l) = self.leg_for(msg) {
            l.on_ack(invite_key, msg);
        }
        self.process(now);
    }

    /// A client transaction of a leg timed out or hit a transport error.
    pub fn on_failure(&mut self, role: LegRole, method: &Method, timeout: bool, now: Instant) {
        self.on_failure_of(role, None, None, method, timeout, now);
    }

    /// A client transaction of the leg with SIP Call-ID `call_id` failed.
    pub fn on_failure_of(
        &mut self,
        role: LegRole,
        call_id: Option<&str>,
        branch: Option<&str>,
        method: &Method,
        timeout: bool,
        now: Instant,
    ) {
        let leg = match call_id {
            Some(cid) => self.leg_with_call_id(cid),
            None => self.leg(role),
        };
        if let Some(l) = leg {
            l.on_transaction_failure_of(method, branch, timeout, now);
        }
        self.process(now);
    }

    /// Hang up at whatever phase the call is in.
    pub fn hang_up(&mut self, by: HungUpBy, now: Instant) {
        if self.detached {
            // The user's part ended with the transfer: closing the call in the client
            // must not drop the parties it was transferred to (Skype's limitation).
            return;
        }
        if self.ringing.is_some() {
            // Closing a ringing incoming call in a client declines it.
            self.decline(now);
            return;
        }
        if self.escalated && by == HungUpBy::User {
            // The user leaves the meeting; the others stay.
            self.drop_leg(LegRole::Callback, HungUpBy::User, now);
            self.process(now);
            return;
        }
        let reason = if self.times.connected.is_some() {
            EndReason::Completed
        } else {
            EndReason::Cancelled
        };
        self.finish(reason, by, now);
        self.process(now);
    }

    /// When [`Call::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let legs = self.legs.iter().flatten().filter_map(Leg::poll_timeout);
        legs.chain(self.ring_deadline)
            .chain(self.ringing.as_ref().and_then(|r| r.poll_timeout()))
            .chain(self.linger_until)
            .chain(self.ringback_at)
            .min()
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ringback_at.is_some_and(|t| t <= now) {
            self.ringback_at = None;
            if self.state == CallState::Ringing && !self.early_media && self.end.is_none() {
                self.media.push(MediaAction::Ringback);
            }
        }
        for l in self.legs.iter_mut().flatten() {
            if l.poll_timeout().is_some_and(|t| t <= now) {
                l.handle_timeout(now);
            }
        }
        if let Some(r) = self.ringing.as_mut() {
            if r.poll_timeout().is_some_and(|t| t <= now) {
                r.handle_timeout(now);
            }
        }
        if self.ring_deadline.is_some_and(|t| t <= now) {
            self.ring_deadline = None;
            match self.state {
                CallState::ConnectingYourPhone | CallState::YourPhoneRinging => {
                    self.finish(EndReason::YourPhoneNoAnswer, HungUpBy::System, now)
                }
                CallState::Connecting | CallState::Ringing => {
                    if let Some(l) = self.legs[0].as_mut().filter(|l| l.is_unanswered_incoming()) {
                        l.reject_invite(408);
                    }
                    self.finish(EndReason::FarEndNoAnswer, HungUpBy::System, now)
                }
                _ => {}
            }
        }
        if self.linger_until.is_some_and(|t| t <= now) {
            self.linger_until = None;
            self.finished = true;
            self.notices.push(CallNotice::Finished);
        }
        self.process(now);
    }

    fn set_state(&mut self, s: CallState) {
        if self.state != s && self.state != CallState::Ended {
            self.state = s;
            self.notices.push(CallNotice::State(s));
        }
    }

    /// Hangs up every leg of a detached call (a remaining party hung up).
    fn tear_down(&mut self, now: Instant) {
        self.linger_until = Some(now + LINGER);
        for l in self.legs.iter_mut().flatten() {
            l.hang_up(now);
        }
        if let Some(r) = self.replacing.take() {
            let mut leg = r.leg;
            leg.hang_up(now);
            self.retired.push(leg);
        }
        self.media.push(MediaAction::Release);
    }

    fn finish(&mut self, reason: EndReason, by: HungUpBy, now: Instant) {
        if self.end.is_some() {
            return;
        }
        self.end = Some((reason, by));
        self.times.ended = Some(now);
        self.ring_deadline = None;
        self.linger_until = Some(now + LINGER);
        for l in self.legs.iter_mut().flatten() {
            l.hang_up(now);
        }
        self.far_setup = None;
        self.set_state(CallState::Ended);
        self.notices.push(CallNotice::Ended(reason, by));
        self.media.push(MediaAction::Release);
    }

    /// Moves leg events into call decisions until nothing is left to do.
    fn process(&mut self, now: Instant) {
        loop {
            let mut any = false;
            let outcomes: Vec<Outcome> = match self.ringing.as_mut() {
                Some(r) => {
                    r.process(now);
                    r.drain_outcomes().collect()
                }
                None => Vec::new(),
            };
            for o in outcomes {
                any = true;
                self.on_ringing(o, now);
            }
            for role in [LegRole::Callback, LegRole::Far] {
                let events: Vec<LegEvent> = match self.leg(role) {
                    Some(l) => l.drain_events().collect(),
                    None => Vec::new(),
                };
                for ev in events {
                    any = true;
                    self.on_leg_event(role, ev, now);
                }
            }
            let events: Vec<LegEvent> = match self.replacing.as_mut() {
                Some(r) => r.leg.drain_events().collect(),
                None => Vec::new(),
            };
            for ev in events {
                any = true;
                self.on_replacement_event(ev, now);
            }
            for l in &mut self.retired {
                // Retired legs only finish hanging up.
                l.drain_events().for_each(drop);
            }
            if !any {
                break;
            }
        }
        self.collect();
        let all_ended = self.legs.iter().flatten().all(Leg::is_ended)
            && self.retired.iter().all(Leg::is_ended)
            && self.replacing.is_none();
        if self.end.is_some() && !self.finished && all_ended {
            self.finished = true;
            self.linger_until = None;
            self.notices.push(CallNotice::Finished);
        }
    }

    fn collect(&mut self) {
        for l in self
            .legs
            .iter_mut()
            .flatten()
            .chain(self.retired.iter_mut())
        {
            self.out.extend(l.drain_outbox());
        }
        if let Some(r) = self.replacing.as_mut() {
            self.out.extend(r.leg.drain_outbox());
        }
        if let Some(r) = self.ringing.as_mut() {
            self.out.extend(r.drain_outbox());
        }
    }

    fn on_leg_event(&mut self, role: LegRole, ev: LegEvent, now: Instant) {
        if self.bridged
            && role == LegRole::Far
            && matches!(
                ev,
                LegEvent::Progress { .. } | LegEvent::Answered { .. } | LegEvent::Failed(_)
            )
        {
            return self.on_bridge_event(ev, now);
        }
        match (role, ev) {
            (LegRole::Callback, LegEvent::Progress { .. }) => {
                if self.state == CallState::ConnectingYourPhone {
                    self.set_state(CallState::YourPhoneRinging);
                }
            }
            (LegRole::Callback, LegEvent::Answered { sdp }) => {
                if self.end.is_some() {
                    return;
                }
                self.times.callback_answered = Some(now);
                if let Some(sdp) = sdp {
                    self.set_remote(LegRole::Callback, sdp, None);
                }
                if self.meeting {
                    self.times.connected = Some(now);
                    self.ring_deadline = None;
                    self.join = Join::Anchored;
                    self.set_state(CallState::Connected);
                    self.media.push(MediaAction::EnterMeeting);
                    return;
                }
                self.start_far(now);
            }
            (LegRole::Far, LegEvent::Progress { sdp, .. }) => {
                if self.end.is_some() {
                    return;
                }
                if matches!(self.state, CallState::Connecting | CallState::Ringing) {
                    match sdp {
                        Some(sdp) if !self.early_media => {
                            self.early_media = true;
                            self.ringback_at = None;
                            self.set_remote(LegRole::Far, sdp, None);
                            self.media.push(MediaAction::Bridge);
                        }
                        Some(_) => {}
                        None if self.state == CallState::Connecting && !self.early_media => {
                            self.ringback_at = Some(now + RINGBACK_DELAY);
                        }
                        None => {}
                    }
                    self.set_state(CallState::Ringing);
                }
            }
            (LegRole::Far, LegEvent::Answered { sdp }) => {
                if self.end.is_some() {
                    return;
                }
                self.times.connected = Some(now);
                self.ring_deadline = None;
                if let Some(sdp) = sdp {
                    self.remote_sdp[1] = Some(sdp.clone());
                    self.set_remote(LegRole::Far, sdp, None);
                }
                self.set_state(CallState::Connected);
                self.join_media();
            }
            (role, LegEvent::Failed(f)) => self.leg_failed(role, f, now),
            (_, LegEvent::RemoteBye) if self.detached => self.tear_down(now),
            (role, LegEvent::RemoteBye) if self.escalated => {
                let by = match role {
                    LegRole::Callback => HungUpBy::YourPhone,
                    LegRole::Far => HungUpBy::FarEnd,
                };
                self.leg_left(role, by, now);
            }
            (role, LegEvent::RemoteBye) => {
                // In an incoming call leg 0 is the caller (the far end) and leg 1 the
                // user's phone that answered.
                let by = match (role, self.incoming) {
                    (LegRole::Callback, false) | (LegRole::Far, true) => HungUpBy::YourPhone,
                    (LegRole::Far, false) | (LegRole::Callback, true) => HungUpBy::FarEnd,
                };
                let reason = if self.times.connected.is_some() {
                    EndReason::Completed
                } else {
                    EndReason::Cancelled
                };
                self.finish(reason, by, now);
            }
            (role, LegEvent::ReinviteAnswered { sdp }) => self.reinvite_answered(role, sdp, now),
            (role, LegEvent::ReinviteFailed(code)) => self.reinvite_failed(role, code, now),
            (role, LegEvent::RemoteReinvite { sdp, identity }) => {
                self.remote_reinvite(role, sdp, now);
                if role == LegRole::Callback && !self.pbx_refer_replaces && !self.detached {
                    self.check_desk_phone_transfer(identity.as_deref(), now);
                }
            }
            (_, LegEvent::Ended) => {}
            (LegRole::Callback, LegEvent::Digit(d)) if self.meeting => {
                self.media.push(MediaAction::KeypadDigit(d));
            }
            // Other calls' phones talk to each other; their INFO digits are not ours.
            (_, LegEvent::Digit(_)) => {}
            (_, LegEvent::ReferFailed(code)) => {
                tracing::info!(code, "the far side refused the transfer");
                self.transferring = false;
                self.notices.push(CallNotice::TransferFailed(code));
            }
            (_, LegEvent::TransferProgress(code)) if self.transferring => {
                if (200..300).contains(&code) {
                    self.finish(EndReason::Transferred, HungUpBy::User, now);
                } else if code >= 300 {
                    self.transferring = false;
                    self.notices.push(CallNotice::TransferFailed(code));
                }
            }
            (_, LegEvent::TransferProgress(_)) => {}
            (role, LegEvent::RemoteRefer { target }) => self.remote_refer(role, target, now),
            (LegRole::Callback, LegEvent::Acked { sdp }) if self.meeting && self.incoming => {
                // A dial-in caller's late offer: its answer came in the ACK.
                if let (Some(answer), None) = (sdp, &self.remote_sdp[0]) {
                    self.remote_sdp[0] = Some(answer.clone());
                    self.set_remote(LegRole::Callback, answer, None);
                    self.media.push(MediaAction::EnterMeeting);
                }
            }
            (role, LegEvent::Acked { sdp }) => {
                // A caller's late offer passed on (a bridged or incoming call): the
                // answer in its ACK goes in the other leg's ACK.
                let owed = self
                    .legs
                    .get(role.other().index())
                    .and_then(Option::as_ref)
                    .is_some_and(Leg::owes_answer);
                if let (Some(answer), true) = (sdp.clone(), owed) {
                    self.remote_sdp[role.index()] = Some(answer.clone());
                    let relayed = self.sessions[role.other().index()].relay(&answer);
                    if let (Some(o), Some(l)) = (relayed, self.leg(role.other())) {
                        l.answer_initial(o);
                    }
                    return;
                }
                // A replacement we offered to (an offerless INVITE with Replaces) answered
                // in its ACK after it took its place: the other party follows it.
                if let (Some(answer), true) = (sdp, self.join == Join::Direct) {
                    self.remote_sdp[role.index()] = Some(answer.clone());
                    if let Some(o) = self.sessions[role.other().index()].relay(&answer) {
                        self.send_reinvite(role.other(), Some(o), Purpose::Refresh);
                    }
                } else if self.join == Join::Anchored {
                    // The engine already offered; nothing else to change.
                }
            }
        }
    }

    fn start_far(&mut self, now: Instant) {
        let Some(setup) = self.far_setup.take() else {
            return;
        };
        let offer = self.sessions[1].own_offer();
        match Leg::start(LegRole::Far, *setup, Some(offer), now) {
            Ok(leg) => {
                self.call_ids[1] = Some(leg.call_id().to_owned());
                self.legs[1] = Some(leg);
                self.times.far_started = Some(now);
                self.ring_deadline = Some(now + self.ring_timeouts[1]);
                self.set_state(CallState::Connecting);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot build the far leg's INVITE");
                self.finish(EndReason::Failed, HungUpBy::System, now);
            }
        }
    }

    fn leg_failed(&mut self, role: LegRole, f: LegFailure, now: Instant) {
        if self.end.is_some() {
            return;
        }
        let reason = match (role, f) {
            (LegRole::Callback, LegFailure::Status(486 | 600)) => EndReason::YourPhoneBusy,
            (LegRole::Callback, LegFailure::Status(603)) => EndReason::YourPhoneDeclined,
            (LegRole::Callback, LegFailure::Status(408 | 487)) => EndReason::YourPhoneNoAnswer,
            (LegRole::Callback, LegFailure::Status(503) | LegFailure::Timeout) => {
                EndReason::TrunkUnavailable
            }
            (LegRole::Callback, _) => EndReason::YourPhoneUnreachable,
            (LegRole::Far, LegFailure::Status(486 | 600)) => EndReason::FarEndBusy,
            (LegRole::Far, LegFailure::Status(603)) => EndReason::FarEndDeclined,
            (LegRole::Far, LegFailure::Status(408 | 487)) => EndReason::FarEndNoAnswer,
            (LegRole::Far, _) => EndReason::FarEndUnreachable,
        };
        let by = match (role, f) {
            (_, LegFailure::Timeout | LegFailure::Transport) => HungUpBy::System,
            (LegRole::Callback, _) => HungUpBy::YourPhone,
            (LegRole::Far, _) => HungUpBy::FarEnd,
        };
        self.finish(reason, by, now);
    }

    fn join_media(&mut self) {
        if self.anchor {
            self.join = Join::Anchored;
            self.media.push(MediaAction::Bridge);
            return;
        }
        if !self.send_reinvite(LegRole::Callback, None, Purpose::JoinAskOffer) {
            self.anchor_fallback();
        }
    }

    /// Sends a re-INVITE on `role` for `purpose`; false when the leg cannot now.
    fn send_reinvite(&mut self, role: LegRole, sdp: Option<Bytes>, purpose: Purpose) -> bool {
        if self.pending[role.index()].is_some() {
            return false;
        }
        let sent = self.leg(role).is_some_and(|l| l.reinvite(sdp));
        if sent {
            self.pending[role.index()] = Some(purpose);
            if matches!(purpose, Purpose::JoinAskOffer | Purpose::JoinOffer) {
                self.join = Join::Joining;
            }
        }
        sent
    }

    fn anchor_fallback(&mut self) {
        tracing::info!("joining the legs through the media relay instead of directly");
        self.join = Join::Anchored;
        self.media.push(MediaAction::Bridge);
        self.after_join();
    }

    /// A join (the first, or a resume or unmute) completed.
    fn after_join(&mut self) {
        if self.muted {
            if self.join == Join::Anchored {
                self.media.push(MediaAction::Mute(true));
            } else if let Some(far) = self.remote_sdp[1].clone() {
                let offer = self.sessions[0].relay_with_direction(&far, sdp::Direction::SendOnly);
                if let Some(o) = offer {
                    self.send_reinvite(LegRole::Callback, Some(o), Purpose::Mute);
                }
            }
        }
        if self.target == Some(CallState::Connected) {
            self.target = None;
            self.set_state(CallState::Connected);
        }
    }

    fn reinvite_answered(&mut self, role: LegRole, sdp: Option<Bytes>, now: Instant) {
        let purpose = self.pending[role.index()].take();
        match (purpose, role) {
            (Some(Purpose::Anchor), r) => {
                match sdp {
                    Some(answer) => {
                        self.remote_sdp[r.index()] = Some(answer.clone());
                        self.set_remote(r, answer, None);
                    }
                    None => {
                        tracing::warn!(role = ?r, "a phone answered the re-anchoring without SDP");
                        self.finish(EndReason::Failed, HungUpBy::System, now);
                        return;
                    }
                }
                if self.pending.iter().all(|p| *p != Some(Purpose::Anchor)) {
                    // Both phones send to ViaWork now: into the meeting.
                    self.join = Join::Anchored;
                    if let Some(to) = self.escalating.take() {
                        self.escalated = true;
                        self.meeting = true;
                        self.media.push(MediaAction::Escalate(to));
                    }
                }
            }
            (Some(Purpose::JoinAskOffer), LegRole::Callback) => {
                let Some(offer_a) = sdp else {
                    self.anchor_fallback();
                    return;
                };
                self.remote_sdp[0] = Some(offer_a.clone());
                let relayed = self.sessions[1].relay(&offer_a);
                let sent = match relayed {
                    Some(o) => self.send_reinvite(LegRole::Far, Some(o), Purpose::JoinOffer),
                    None => false,
                };
                if !sent {
                    self.answer_a_locally(offer_a);
                }
            }
            (Some(Purpose::JoinOffer), LegRole::Far) => {
                let answer = sdp.clone().and_then(|b| self.sessions[0].relay(&b));
                match answer {
                    Some(a) => {
                        self.remote_sdp[1] = sdp;
                        if let Some(l) = self.leg(LegRole::Callback) {
                            l.ack_with_answer(a);
                        }
                        self.join = Join::Direct;
                        self.media.push(MediaAction::Release);
                        self.after_join();
                    }
                    None => {
                        if let Some(offer_a) = self.remote_sdp[0].clone() {
                            self.answer_a_locally(offer_a);
                        }
                    }
                }
            }
            (Some(Purpose::Relay), r) => {
                // The other leg answered the offer we relayed for the peer's re-INVITE.
                let from = r.other();
                if let Some(b) = &sdp {
                    self.remote_sdp[r.index()] = Some(b.clone());
                }
                let answer = sdp.and_then(|b| self.sessions[from.index()].relay(&b));
                if let Some(l) = self.leg(from) {
                    match answer {
                        Some(a) => l.answer_reinvite(200, Some(a), now),
                        None => l.answer_reinvite(488, None, now),
                    }
                }
            }
            (Some(Purpose::Replace), _) => self.replacement_answered(sdp, now),
            (Some(Purpose::Hold), _)
                if self.pending.iter().all(|p| p != &Some(Purpose::Hold))
                    && self.target == Some(CallState::OnHold) =>
            {
                self.target = None;
                self.set_state(CallState::OnHold);
            }
            _ => {}
        }
    }

    /// The far leg cannot take A's offer: answer A from the engine and anchor.
    fn answer_a_locally(&mut self, offer_a: Bytes) {
        let answer = self.sessions[0].own_answer(&offer_a);
        if let Some(a) = answer {
            if let Some(l) = self.leg(LegRole::Callback) {
                l.ack_with_answer(a.clone());
            }
            self.set_remote(LegRole::Callback, offer_a, Some(a));
        }
        self.anchor_fallback();
    }

    fn reinvite_failed(&mut self, role: LegRole, code: u16, now: Instant) {
        let purpose = self.pending[role.index()].take();
        match (purpose, role) {
            (Some(Purpose::Anchor), r) => {
                // One phone may already send to ViaWork, the other not: the call cannot
                // carry on as it was.
                tracing::warn!(role = ?r, code, "a phone refused the re-anchoring for a meeting");
                self.escalating = None;
                self.finish(EndReason::Failed, HungUpBy::System, now);
            }
            (Some(Purpose::JoinAskOffer), LegRole::Callback) => self.anchor_fallback(),
            (Some(Purpose::JoinOffer), LegRole::Far) => {
                if let Some(offer_a) = self.remote_sdp[0].clone() {
                    self.answer_a_locally(offer_a);
                }
            }
            (Some(Purpose::Relay), r) => {
                let from = r.other();
                if let Some(l) = self.leg(from) {
                    l.answer_reinvite(if code == 491 { 491 } else { 488 }, None, now);
                }
            }
            (Some(Purpose::Hold), _) => {
                tracing::warn!(code, "a phone refused to be held");
                if self.pending.iter().all(|p| p != &Some(Purpose::Hold)) {
                    self.target = None;
                    self.set_state(CallState::OnHold);
                }
            }
            (Some(Purpose::Mute), _) => tracing::warn!(code, "the user's phone refused mute"),
            (Some(Purpose::Replace), _) => self.abandon_replacement(code, now),
            _ => {}
        }
    }

    fn remote_reinvite(&mut self, role: LegRole, sdp: Option<Bytes>, now: Instant) {
        if self.pending.iter().any(Option::is_some) {
            // Our own offer is out on this call: glare (RFC 3261 §14.2).
            if let Some(l) = self.leg(role) {
                l.answer_reinvite(491, None, now);
            }
            return;
        }
        let Some(offer) = sdp else {
            // An offerless re-INVITE: offer what this leg last got from us.
            let last = self.sessions[role.index()].last_sent();
            if let Some(l) = self.leg(role) {
                l.answer_reinvite(200, last, now);
            }
            return;
        };
        if self.join == Join::Direct && self.state != CallState::OnHold {
            self.remote_sdp[role.index()] = Some(offer.clone());
            let relayed = self.sessions[role.other().index()].relay(&offer);
            let sent = match relayed {
                Some(o) => self.send_reinvite(role.other(), Some(o), Purpose::Relay),
                None => false,
            };
            if !sent {
                if let Some(l) = self.leg(role) {
                    l.answer_reinvite(491, None, now);
                }
            }
        } else {
            // The engine holds this leg's media (or the call is held): answer from it.
            let answer = self.sessions[role.index()].own_answer(&offer);
            match answer {
                Some(a) => {
                    self.remote_sdp[role.index()] = Some(offer.clone());
                    self.set_remote(role, offer, Some(a.clone()));
                    if let Some(l) = self.leg(role) {
                        l.answer_reinvite(200, Some(a), now);
                    }
                }
                None => {
                    if let Some(l) = self.leg(role) {
                        l.answer_reinvite(488, None, now);
                    }
                }
            }
        }
    }

    /// Carries out an in-call control.
    pub fn control(&mut self, c: Control, now: Instant) -> Result<(), ControlError> {
        let r = self.control_inner(c, now);
        self.process(now);
        r
    }

    fn control_inner(&mut self, c: Control, now: Instant) -> Result<(), ControlError> {
        if let Control::DropLeg(role) = c {
            if !self.escalated || self.end.is_some() {
                return Err(ControlError::Unsupported);
            }
            self.drop_leg(role, HungUpBy::User, now);
            return Ok(());
        }
        if self.bridged || self.meeting {
            // A plain back-to-back or incoming call has no Call Via Work legs to act on
            // (leg 0 is the caller): the phones' own controls apply. A meeting's
            // controls are the meeting's (mute yourself, leader controls).
            return Err(ControlError::Unsupported);
        }
        if self.end.is_some() || !matches!(self.state, CallState::Connected | CallState::OnHold) {
            return Err(ControlError::NotConnected);
        }
        let busy = self.join == Join::Joining
            || self.pending.iter().any(Option::is_some)
            || self.target.is_some()
            || self.transferring;
        let anchored = self.join == Join::Anchored;
        match c {
            Control::Escalate(to) => {
                if busy
                    || self.replacing.is_some()
                    || self.escalating.is_some()
                    || self.state != CallState::Connected
                {
                    return Err(ControlError::Busy);
                }
                if anchored {
                    self.escalated = true;
                    self.meeting = true;
                    self.media.push(MediaAction::Escalate(to));
                    return Ok(());
                }
                let Some(local) = to.relocal.clone() else {
                    return Err(ControlError::NotAnchored);
                };
                // Phone to phone: point each phone at a new engine stream first.
                for (i, l) in local.into_iter().enumerate() {
                    self.sessions[i].set_local(l);
                }
                for role in [LegRole::Callback, LegRole::Far] {
                    let offer = self.sessions[role.index()].own_offer();
                    if !self.send_reinvite(role, Some(offer), Purpose::Anchor) {
                        tracing::warn!(?role, "cannot re-anchor the call for a meeting");
                        self.finish(EndReason::Failed, HungUpBy::System, now);
                        return Err(ControlError::Busy);
                    }
                }
                self.escalating = Some(to);
                Ok(())
            }
            Control::DropLeg(_) => Ok(()),
            Control::Dtmf(digits) => {
                if anchored {
                    self.media.push(MediaAction::Dtmf(digits));
                } else if let Some(l) = self.leg(LegRole::Far) {
                    for d in digits.chars() {
                        l.info_dtmf(d);
                    }
                }
                Ok(())
            }
            _ if busy => Err(ControlError::Busy),
            Control::Hold if self.state == CallState::OnHold => Ok(()),
            Control::Hold if anchored => {
                self.media.push(MediaAction::Hold(true));
                self.set_state(CallState::OnHold);
                Ok(())
            }
            Control::Hold => {
                let (a, b) = (self.remote_sdp[0].clone(), self.remote_sdp[1].clone());
                let (Some(a), Some(b)) = (a, b) else {
                    return Err(ControlError::Unsupported);
                };
                let inactive = sdp::Direction::Inactive;
                let to_far = self.sessions[1].relay_with_direction(&a, inactive);
                let to_user = self.sessions[0].relay_with_direction(&b, inactive);
                self.target = Some(CallState::OnHold);
                let far = to_far
                    .is_some_and(|o| self.send_reinvite(LegRole::Far, Some(o), Purpose::Hold));
                let user = to_user
                    .is_some_and(|o| self.send_reinvite(LegRole::Callback, Some(o), Purpose::Hold));
                if !far && !user {
                    self.target = None;
                    return Err(ControlError::Busy);
                }
                Ok(())
            }
            Control::Resume if self.state != CallState::OnHold => Ok(()),
            Control::Resume if anchored => {
                self.media.push(MediaAction::Hold(false));
                self.set_state(CallState::Connected);
                Ok(())
            }
            Control::Resume => {
                self.target = Some(CallState::Connected);
                if self.send_reinvite(LegRole::Callback, None, Purpose::JoinAskOffer) {
                    Ok(())
                } else {
                    self.target = None;
                    Err(ControlError::Busy)
                }
            }
            Control::Mute | Control::Unmute => {
                let on = c == Control::Mute;
                if self.muted == on {
                    return Ok(());
                }
                self.muted = on;
                if anchored {
                    self.media.push(MediaAction::Mute(on));
                } else if self.state == CallState::OnHold {
                    // Applied when the call is resumed.
                } else if on {
                    let far = self.remote_sdp[1]
                        .clone()
                        .ok_or(ControlError::Unsupported)?;
                    let offer = self.sessions[0]
                        .relay_with_direction(&far, sdp::Direction::SendOnly)
                        .ok_or(ControlError::Unsupported)?;
                    if !self.send_reinvite(LegRole::Callback, Some(offer), Purpose::Mute) {
                        self.muted = false;
                        return Err(ControlError::Busy);
                    }
                } else if !self.send_reinvite(LegRole::Callback, None, Purpose::JoinAskOffer) {
                    self.muted = true;
                    return Err(ControlError::Busy);
                }
                Ok(())
            }
            Control::Transfer(target) => {
                let referred_by = self.leg(LegRole::Far).map(|l| l.local_uri());
                let Some(l) = self.leg(LegRole::Far) else {
                    return Err(ControlError::NotConnected);
                };
                if !l.peer_allows_refer() {
                    // No REFER on the far side: ViaWork calls the target itself and puts
                    // it in the user's place (RFC 3725 re-targeting).
                    return if self.start_replacement(LegRole::Callback, target, HungUpBy::User, now)
                    {
                        self.transferring = true;
                        Ok(())
                    } else {
                        Err(ControlError::Unsupported)
                    };
                }
                if l.refer(&target, referred_by.as_deref()) {
                    self.transferring = true;
                    Ok(())
                } else {
                    Err(ControlError::Busy)
                }
            }
        }
    }
}

impl Call {
    /// Ends one leg of an escalated call.
    fn drop_leg(&mut self, role: LegRole, by: HungUpBy, now: Instant) {
        if self.left[role.index()] {
            return;
        }
        if let Some(l) = self.leg(role) {
            l.hang_up(now);
        }
        self.leg_left(role, by, now);
    }

    /// One party of an escalated call is gone: out of the meeting; the call ends with the
    /// last of the two.
    fn leg_left(&mut self, role: LegRole, by: HungUpBy, now: Instant) {
        if std::mem::replace(&mut self.left[role.index()], true) {
            return;
        }
        self.media.push(MediaAction::LegLeft(role));
        if self.left.iter().all(|l| *l) {
            self.finish(EndReason::Completed, by, now);
        }
    }

    /// A REFER from the PBX on leg `role`: a transfer done on the PBX side. ViaWork calls
    /// the target and, once it answers, joins it with the other party in place of `role`'s
    /// party (RFC 3515; RFC 5589 §6 seen from the transferee's B2BUA).
    fn remote_refer(&mut self, role: LegRole, target: String, now: Instant) {
        let ready = matches!(self.state, CallState::Connected | CallState::OnHold)
            && matches!(self.join, Join::Direct | Join::Anchored)
            && self.replacing.is_none()
            && self.pending.iter().all(Option::is_none);
        if !ready {
            if let Some(l) = self.leg(role) {
                l.reject_refer(491, now);
            }
            return;
        }
        if self.start_replacement(role, target, HungUpBy::YourPhone, now) {
            if let Some(l) = self.leg(role) {
                l.accept_refer(now);
            }
        } else if let Some(l) = self.leg(role) {
            l.reject_refer(400, now);
        }
    }

    /// Calls `target` (offerless) to take leg `role`'s place once it answers.
    fn start_replacement(
        &mut self,
        role: LegRole,
        target: String,
        by: HungUpBy,
        now: Instant,
    ) -> bool {
        let mut setup = self.far_template.clone();
        setup.target = target;
        match Leg::start(role, setup, None, now) {
            Ok(leg) => {
                let local = self.sessions[role.index()].local.clone();
                self.replacing = replacement(Replacing {
                    role,
                    by,
                    leg,
                    session: LegSession::new(local),
                    offer: None,
                });
                true
            }
            Err(e) => {
                tracing::info!(error = %e, "cannot call the transfer target");
                false
            }
        }
    }

    fn on_replacement_event(&mut self, ev: LegEvent, now: Instant) {
        let Some(role) = self.replacing.as_ref().map(|r| r.role) else {
            return;
        };
        match ev {
            LegEvent::Progress { code, .. } => {
                if let Some(l) = self.leg(role) {
                    l.notify_refer(code);
                }
            }
            LegEvent::Answered { sdp: Some(offer) } => {
                // The target answered our offerless INVITE with an offer.
                let other = role.other();
                if self.join == Join::Direct {
                    let relayed = self.sessions[other.index()].relay(&offer);
                    if let Some(r) = self.replacing.as_mut() {
                        r.offer = Some(offer);
                    }
                    let sent = match relayed {
                        Some(o) => self.send_reinvite(other, Some(o), Purpose::Replace),
                        None => false,
                    };
                    if !sent {
                        self.abandon_replacement(488, now);
                    }
                } else {
                    // Anchored: the engine answers the target and keeps relaying.
                    let answer = self
                        .replacing
                        .as_mut()
                        .and_then(|r| r.session.own_answer(&offer));
                    match answer {
                        Some(a) => {
                            if let Some(r) = self.replacing.as_mut() {
                                r.leg.give_answer(a.clone(), now);
                            }
                            self.set_remote(role, offer.clone(), Some(a));
                            self.remote_sdp[role.index()] = Some(offer);
                            self.complete_replacement(now);
                        }
                        None => self.abandon_replacement(488, now),
                    }
                }
            }
            LegEvent::Answered { sdp: None } => self.abandon_replacement(488, now),
            LegEvent::Failed(f) => {
                let code = match f {
                    LegFailure::Status(c) => c,
                    LegFailure::Timeout => 408,
                    LegFailure::Transport => 503,
                };
                self.abandon_replacement(code, now);
            }
            _ => {}
        }
    }

    /// The other leg answered the target's offer: give the target that answer in its ACK.
    fn replacement_answered(&mut self, sdp: Option<Bytes>, now: Instant) {
        let Some(role) = self.replacing.as_ref().map(|r| r.role) else {
            return;
        };
        let answer = sdp
            .clone()
            .and_then(|b| self.replacing.as_mut().and_then(|r| r.session.relay(&b)));
        match answer {
            Some(a) => {
                if let Some(r) = self.replacing.as_mut() {
                    r.leg.give_answer(a, now);
                    if let Some(o) = r.offer.take() {
                        self.remote_sdp[role.index()] = Some(o);
                    }
                }
                self.remote_sdp[role.other().index()] = sdp;
                self.complete_replacement(now);
            }
            None => self.abandon_replacement(488, now),
        }
    }

    /// The target is joined: it takes the replaced leg's place, which is told the
    /// transfer worked and is hung up.
    fn complete_replacement(&mut self, now: Instant) {
        let Some(r) = self.replacing.take() else {
            return;
        };
        let (role, by) = (r.role, r.by);
        self.call_ids[role.index()] = Some(r.leg.call_id().to_owned());
        self.sessions[role.index()] = r.session;
        if let Some(mut old) = self.legs[role.index()].replace(r.leg) {
            old.notify_refer(200);
            old.hang_up(now);
            self.retired.push(old);
        }
        if role == LegRole::Callback && !self.detached {
            // Transferred from the desk phone, or by the user re-targeting the far party
            // through ViaWork.
            self.detach(by, now);
        }
    }

    /// An INVITE with Replaces from the PBX for the dialog of leg `role` (an attended
    /// transfer or a pickup done on the PBX side, RFC 3891): the new party takes that
    /// leg's place, joined with the other party like a REFER's target.
    pub fn on_replaces(
        &mut self,
        role: LegRole,
        key: TransactionKey,
        invite: &Message,
        peer: sip_stack::transaction::Peer,
        now: Instant,
    ) {
        let mut leg = Leg::incoming(role, key, invite, &self.far_template, peer);
        let ready = matches!(self.state, CallState::Connected | CallState::OnHold)
            && matches!(self.join, Join::Direct | Join::Anchored)
            && self.replacing.is_none()
            && self.pending.iter().all(Option::is_none);
        if !ready {
            leg.reject_invite(486);
            self.retired.push(leg);
            self.process(now);
            return;
        }
        let local = self.sessions[role.index()].local.clone();
        let mut session = LegSession::new(local);
        let other = role.other();
        let offer = (!invite.body().is_empty()).then(|| invite.body_bytes());
        match offer {
            Some(offer) if self.join == Join::Direct => {
                let relayed = self.sessions[other.index()].relay(&offer);
                self.replacing = replacement(Replacing {
                    role,
                    by: HungUpBy::YourPhone,
                    leg,
                    session,
                    offer: Some(offer),
                });
                let sent = match relayed {
                    Some(o) => self.send_reinvite(other, Some(o), Purpose::Replace),
                    None => false,
                };
                if !sent {
                    self.abandon_replacement(488, now);
                }
            }
            Some(offer) => match session.own_answer(&offer) {
                Some(a) => {
                    leg.accept_invite(Some(a.clone()), now);
                    self.set_remote(role, offer.clone(), Some(a));
                    self.remote_sdp[role.index()] = Some(offer);
                    self.replacing = replacement(Replacing {
                        role,
                        by: HungUpBy::YourPhone,
                        leg,
                        session,
                        offer: None,
                    });
                    self.complete_replacement(now);
                }
                None => {
                    leg.reject_invite(488);
                    self.retired.push(leg);
                }
            },
            None => {
                // Offerless: offer the other party's media (direct) or the engine's.
                let ours = if self.join == Join::Direct {
                    self.remote_sdp[other.index()]
                        .clone()
                        .and_then(|b| session.relay(&b))
                } else {
                    Some(session.own_offer())
                };
                match ours {
                    Some(o) => {
                        leg.accept_invite(Some(o), now);
                        self.replacing = replacement(Replacing {
                            role,
                            by: HungUpBy::YourPhone,
                            leg,
                            session,
                            offer: None,
                        });
                        self.complete_replacement(now);
                    }
                    None => {
                        leg.reject_invite(488);
                        self.retired.push(leg);
                    }
                }
            }
        }
        self.process(now);
    }

    /// The leg with SIP Call-ID `call_id` and tags `a`, `b` (either way round), if any.
    pub fn leg_with_dialog(&self, call_id: &str, a: &str, b: &str) -> Option<LegRole> {
        self.legs
            .iter()
            .flatten()
            .find(|l| l.call_id() == call_id && l.has_tags(a, b))
            .map(Leg::role)
    }

    fn abandon_replacement(&mut self, code: u16, now: Instant) {
        if self
            .replacing
            .as_ref()
            .is_some_and(|r| r.by == HungUpBy::User)
        {
            self.transferring = false;
            self.notices.push(CallNotice::TransferFailed(code));
        }
        if let Some(r) = self.replacing.take() {
            let mut leg = r.leg;
            leg.reject_invite(if code < 400 { 480 } else { code });
            leg.hang_up(now);
            self.retired.push(leg);
            if let Some(l) = self.leg(r.role) {
                l.notify_refer(code.max(300));
            }
        }
    }
}
