//! One leg of a Call Via Work call: a SIP dialog that ViaWork starts as the UAC (RFC 3261
//! §13) toward the PBX — the callback leg to the user's phone or the far leg to the other
//! party. Sans-IO: the leg builds requests and responses into an outbox and turns what
//! the peer sends into [`LegEvent`]s for the call; the call manager moves messages.
//!
//! What the leg owns: the initial INVITE and its forks ([`InviteClient`]: ACK for every
//! 2xx, ACK + BYE for extra forks), one digest retry per challenge (401/407), CANCEL (only
//! after a provisional, RFC 3261 §9.1; a 2xx crossing the CANCEL is ACKed and BYEd),
//! re-INVITEs with or without an offer (the answer for an offer in the 2xx goes in the
//! ACK, given later by the call), the 491 back-off of the dialog, in-dialog requests
//! from the peer (BYE, re-INVITE, INFO, OPTIONS, NOTIFY, REFER) and BYE.

use bytes::Bytes;
use rand::Rng;
use sip::headers::{TypedHeader, Via};
use sip::{HeaderName, Message, Method, ResponseBuilder};
use sip_stack::auth::DigestClient;
use sip_stack::dialog::{
    Dialog, DialogEvent, InviteAction, InviteClient, LocalVia, RequestOutcome, ResponseOutcome,
};
use sip_stack::transaction::{build_cancel, Peer};
use std::time::Instant;

/// Which leg of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegRole {
    /// To the user's own phone.
    Callback,
    /// To the other party.
    Far,
}

impl LegRole {
    /// The other leg.
    pub fn other(self) -> LegRole {
        match self {
            LegRole::Callback => LegRole::Far,
            LegRole::Far => LegRole::Callback,
        }
    }
    /// Index into per-leg arrays.
    pub fn index(self) -> usize {
        match self {
            LegRole::Callback => 0,
            LegRole::Far => 1,
        }
    }
}

/// Why a leg's INVITE failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegFailure {
    /// A final status (3xx–6xx).
    Status(u16),
    /// No final response before Timer B.
    Timeout,
    /// The transport could not deliver the INVITE.
    Transport,
}

/// What the leg tells the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEvent {
    /// 180/183, with the early-media answer when the response carried SDP.
    Progress {
        /// The status.
        code: u16,
        /// SDP, if any.
        sdp: Option<Bytes>,
    },
    /// The first 2xx: the dialog is confirmed (and ACKed unless the 2xx held an offer).
    Answered {
        /// The SDP answer (or offer, when our INVITE had none).
        sdp: Option<Bytes>,
    },
    /// The INVITE failed (or was cancelled: 487).
    Failed(LegFailure),
    /// A 2xx to our re-INVITE. When our re-INVITE had no offer, `sdp` is the peer's
    /// offer and the call must answer it with [`Leg::ack_with_answer`].
    ReinviteAnswered {
        /// The SDP of the 2xx.
        sdp: Option<Bytes>,
    },
    /// Our re-INVITE failed for good (491 retries are internal).
    ReinviteFailed(u16),
    /// The peer hung up (BYE, already answered 200).
    RemoteBye,
    /// The peer sent a keypad digit in a SIP INFO (`application/dtmf-relay` or
    /// `application/dtmf`).
    Digit(char),
    /// The peer sent a re-INVITE; answer it with [`Leg::answer_reinvite`].
    RemoteReinvite {
        /// The offer, if any.
        sdp: Option<Bytes>,
        /// The party now on the other end as the PBX asserts it (P-Asserted-Identity),
        /// when the re-INVITE carries one.
        identity: Option<String>,
    },
    /// The dialog is over (our BYE answered or timed out, or a CANCEL completed).
    Ended,
    /// Our REFER was refused with this status.
    ReferFailed(u16),
    /// A NOTIFY of our REFER's subscription reported the transfer's status (RFC 3515).
    TransferProgress(u16),
    /// The ACK for our 2xx to the peer's INVITE, with the answer when our 2xx offered.
    Acked {
        /// The SDP of the ACK, if any.
        sdp: Option<Bytes>,
    },
    /// The peer sent REFER (a transfer done on the PBX side): accept it with
    /// [`Leg::accept_refer`] or refuse it with [`Leg::reject_refer`].
    RemoteRefer {
        /// The Refer-To URI, without its `?headers`.
        target: String,
    },
}

/// Something for the call manager to send.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum SipOut {
    /// A request in a new client transaction.
    Request {
        /// The request.
        msg: Message,
        /// Where to.
        peer: Peer,
    },
    /// A response on a server transaction.
    Response {
        /// The server transaction.
        key: sip_stack::transaction::TransactionKey,
        /// The response.
        msg: Message,
    },
    /// A message outside transactions (ACK for a 2xx).
    Stateless {
        /// The message.
        msg: Message,
        /// Where to.
        peer: Peer,
    },
    /// Tell the transaction layer the ACK for our 2xx arrived.
    AckReceived(sip_stack::transaction::TransactionKey),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Calling,
    Early,
    Confirmed,
    Ending,
    Ended,
}

/// A re-INVITE of ours in progress.
#[derive(Debug, Clone)]
struct OurReinvite {
    /// A session refresh (RFC 4028): its 2xx is ACKed here and not reported.
    refresh: bool,
    sdp: Option<Bytes>,
    /// The 2xx carried an offer: the ACK waits for the call's answer.
    awaiting_answer: bool,
}

/// The identity and addressing a leg is built from.
#[derive(Debug, Clone)]
pub struct LegSetup {
    /// The Request-URI and To URI.
    pub target: String,
    /// The From URI (caller ID user and host).
    pub from_uri: String,
    /// The From display name.
    pub from_display: Option<String>,
    /// P-Asserted-Identity, if sent.
    pub asserted: Option<String>,
    /// Our Contact URI.
    pub contact: String,
    /// Transport and sent-by of our Via.
    pub via: LocalVia,
    /// The next hop.
    pub peer: Peer,
    /// Where to send the INVITE again if `peer` does not answer, fails or says 503.
    pub alternates: Vec<Peer>,
    /// The Call-ID host part and the User-Agent.
    pub local_host: String,
    /// User-Agent header value.
    pub user_agent: String,
    /// Credentials for the PBX's challenges.
    pub auth: Option<DigestClient>,
    /// Send `Privacy: id` (the caller's identity is not to be shown).
    pub privacy_id: bool,
    /// Ask for RFC 4028 session timers.
    pub session_timer: Option<sip_stack::dialog::SessionTimerConfig>,
    /// Offer 100rel (RFC 3262).
    pub prack: bool,
    /// A Route header (the outbound proxy), if any.
    pub route: Option<String>,
    /// More headers for the INVITE (`Diversion` on a forwarded call), by name.
    pub extra: Vec<(&'static str, String)>,
}

/// Which end of the dialog ViaWork is.
// Nearly every leg is a UAC: it stays inline; the rare UAS state is boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Side {
    /// ViaWork sent the INVITE (the callback and far legs, a transfer target).
    Uac(InviteClient),
    /// The peer sent the INVITE (a PBX's INVITE with Replaces).
    Uas(Box<Uas>),
}

/// ViaWork answering an INVITE.
#[derive(Debug)]
struct Uas {
    invite: Message,
    key: sip_stack::transaction::TransactionKey,
    tag: String,
    contact: String,
    dialog: Option<Dialog>,
}

impl Side {
    fn invite(&self) -> &Message {
        match self {
            Side::Uac(c) => c.invite(),
            Side::Uas(u) => &u.invite,
        }
    }

    fn dialog(&self) -> Option<&Dialog> {
        match self {
            Side::Uac(c) => c.dialog(),
            Side::Uas(u) => u.dialog.as_ref(),
        }
    }

    fn dialog_mut(&mut self) -> Option<&mut Dialog> {
        match self {
            Side::Uac(c) => c.dialog_mut(),
            Side::Uas(u) => u.dialog.as_mut(),
        }
    }
}

/// One leg. See the [module docs](self).
#[derive(Debug)]
pub struct Leg {
    role: LegRole,
    peer: Peer,
    via: LocalVia,
    side: Side,
    auth: Option<DigestClient>,
    auth_tried: bool,
    /// The walk down the trunk's other targets for the initial INVITE.
    /// Boxed: a walk is 660 bytes, kept only while the INVITE is unanswered and only
    /// when the trunk has other targets.
    failover: Option<Box<sip_stack::failover::Failover>>,
    /// With other targets left: give up on the current one if it has not answered at all
    /// by then (a fast failover timer; Timer B's 32 s would outlast the ring timeout).
    attempt_deadline: Option<Instant>,
    phase: Phase,
    provisional_seen: bool,
    cancel_wanted: bool,
    cancel_sent: bool,
    /// The `Reason` of our CANCEL (RFC 3326), e.g. another branch answered.
    cancel_reason: Option<&'static str>,
    /// The peer offered in the 2xx of our offerless initial INVITE: the answer goes in
    /// the ACK ([`Leg::answer_initial`]).
    answer_owed: bool,
    ours: Option<OurReinvite>,
    allows_refer: bool,
    /// A REFER from the peer waiting for the call's decision.
    /// Boxed, like `theirs`: rarely there, and a message is 600 bytes inline.
    their_refer: Option<Box<(sip_stack::transaction::TransactionKey, Message)>>,
    /// We accepted the peer's REFER: its NOTIFYs are due.
    refer_accepted: bool,
    /// NOTIFYs sent for the peer's REFER (their CSeq grows; one subscription).
    notify_count: u32,
    /// The last SDP this leg sent (offer or answer), for session refreshes.
    last_sdp: Option<Bytes>,
    /// DTMF digits waiting to go as INFO, one transaction at a time (many PBXs mishandle
    /// overlapping INFOs).
    dtmf: std::collections::VecDeque<char>,
    info_in_flight: bool,
    theirs: Option<Box<(sip_stack::transaction::TransactionKey, Message)>>,
    user_agent: String,
    outbox: Vec<SipOut>,
    events: Vec<LegEvent>,
}

/// How long a trunk target may stay silent (not even a 100) before the next is tried.
pub const FAST_FAILOVER: std::time::Duration = std::time::Duration::from_secs(4);

const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, REFER, NOTIFY";

/// True for a SIP Call-ID of one of ViaWork's own legs (as [`Leg::start`] makes them, for
/// host `host`): a PBX that passes Call-IDs on reports such a dialog on a desk phone.
pub fn is_own_call_id(call_id: &str, host: &str) -> bool {
    call_id.split_once('@').is_some_and(|(id, h)| {
        h.eq_ignore_ascii_case(host) && id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// A received message's SDP, copied: the call keeps it for its whole life, and a slice
/// would pin the whole datagram it came in (a 200 OK is three times its SDP).
fn sdp_of(msg: &Message) -> Option<Bytes> {
    (!msg.body().is_empty()).then(|| Bytes::copy_from_slice(msg.body()))
}

fn random_hex(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

impl Leg {
    /// Builds the INVITE (with `offer` as its body, if any) and queues it.
    pub fn start(
        role: LegRole,
        setup: LegSetup,
        offer: Option<Bytes>,
        now: Instant,
    ) -> Result<Leg, String> {
        let call_id = format!("{}@{}", random_hex(24), setup.local_host);
        let via = setup.via.fresh(&mut rand::rng());
        let from = match &setup.from_display {
            Some(d) => {
                let mut s = String::new();
                let _ = sip::name_addr::write_name_addr(&mut s, Some(d), &setup.from_uri);
                format!("{s};tag={}", random_hex(12))
            }
            None => format!("<{}>;tag={}", setup.from_uri, random_hex(12)),
        };
        let mut b = sip::RequestBuilder::new(&Method::Invite, &setup.target)
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, 70)
            .header(HeaderName::From, from)
            .header(HeaderName::To, format_args!("<{}>", setup.target))
            .header(HeaderName::CallId, call_id)
            .header(HeaderName::CSeq, "1 INVITE")
            .header(HeaderName::Contact, format_args!("<{}>", setup.contact))
            .header(HeaderName::Allow, ALLOW)
            .header(
                HeaderName::Supported,
                match (setup.session_timer.is_some(), setup.prack) {
                    (true, true) => "replaces, timer, 100rel",
                    (true, false) => "replaces, timer",
                    (false, true) => "replaces, 100rel",
                    (false, false) => "replaces",
                },
            )
            .header(HeaderName::UserAgent, &setup.user_agent);
        if setup.privacy_id {
            b = b.header(HeaderName::Privacy, "id");
        }
        if let Some(route) = &setup.route {
            b = b.header(HeaderName::Route, route);
        }
        if let Some(st) = &setup.session_timer {
            b = st.add_to_invite(b);
        }
        if let Some(pai) = &setup.asserted {
            b = b.header(HeaderName::PAssertedIdentity, pai);
        }
        for (name, value) in &setup.extra {
            b = b.header_ext(name, value);
        }
        let b = match &offer {
            Some(sdp) => b.body("application/sdp", sdp.clone()),
            None => b,
        };
        let invite = b.build().map_err(|e| e.to_string())?;
        let mut client =
            InviteClient::new(invite.clone(), setup.via.clone()).map_err(|e| e.to_string())?;
        if let Some(st) = setup.session_timer {
            client.set_session_timer(st);
        }
        let mut leg = Leg {
            role,
            peer: setup.peer,
            via: setup.via,
            side: Side::Uac(client),
            attempt_deadline: (!setup.alternates.is_empty()).then(|| now + FAST_FAILOVER),
            failover: (!setup.alternates.is_empty()).then(|| {
                Box::new(sip_stack::failover::Failover::new(
                    invite.clone(),
                    sip_stack::resolve::Plan::new(setup.alternates.clone(), None),
                ))
            }),
            auth: setup.auth,
            auth_tried: false,
            phase: Phase::Calling,
            provisional_seen: false,
            cancel_wanted: false,
            cancel_sent: false,
            cancel_reason: None,
            answer_owed: false,
            ours: None,
            allows_refer: false,
            their_refer: None,
            notify_count: 0,
            refer_accepted: false,
            last_sdp: None,
            dtmf: std::collections::VecDeque::new(),
            info_in_flight: false,
            theirs: None,
            user_agent: setup.user_agent,
            outbox: Vec::new(),
            events: Vec::new(),
        };
        leg.last_sdp = offer;
        leg.outbox.push(SipOut::Request {
            msg: invite,
            peer: leg.peer,
        });
        Ok(leg)
    }

    /// Takes an INVITE the peer sent (an INVITE with Replaces from the PBX) as a new leg
    /// standing for `role`; answer it with [`Leg::accept_invite`] or refuse it with
    /// [`Leg::reject_invite`].
    pub fn incoming(
        role: LegRole,
        key: sip_stack::transaction::TransactionKey,
        invite: &Message,
        setup: &LegSetup,
        peer: Peer,
    ) -> Leg {
        Leg {
            role,
            peer,
            via: setup.via.clone(),
            side: Side::Uas(Box::new(Uas {
                invite: invite.clone(),
                key,
                tag: random_hex(12),
                contact: setup.contact.clone(),
                dialog: None,
            })),
            auth: None,
            auth_tried: true,
            failover: None,
            attempt_deadline: None,
            phase: Phase::Early,
            provisional_seen: true,
            cancel_wanted: false,
            cancel_sent: false,
            cancel_reason: None,
            answer_owed: false,
            ours: None,
            allows_refer: invite
                .get_all(HeaderName::Allow)
                .any(|a| a.to_ascii_uppercase().contains("REFER")),
            their_refer: None,
            notify_count: 0,
            refer_accepted: false,
            last_sdp: None,
            dtmf: std::collections::VecDeque::new(),
            info_in_flight: false,
            theirs: None,
            user_agent: setup.user_agent.clone(),
            outbox: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Answers the peer's INVITE with 200 and `sdp` (the answer to its offer, or our offer
    /// when it had none). Returns false when this is not an unanswered incoming leg.
    pub fn accept_invite(&mut self, sdp: Option<Bytes>, now: Instant) -> bool {
        if let Some(s) = &sdp {
            self.last_sdp = Some(s.clone());
        }
        let ua = self.user_agent.clone();
        let Side::Uas(u) = &mut self.side else {
            return false;
        };
        if u.dialog.is_some() {
            return false;
        }
        let mut b = ResponseBuilder::reply(&u.invite, 200, Some(&u.tag))
            .header(HeaderName::Contact, format_args!("<{}>", u.contact))
            .header(HeaderName::Allow, ALLOW)
            .header(HeaderName::Server, ua);
        if let Some(sdp) = sdp {
            b = b.body("application/sdp", sdp);
        }
        let Ok(resp) = b.build() else { return false };
        match Dialog::uas(&u.invite, &resp, now) {
            Ok(d) => {
                u.dialog = Some(d);
                self.outbox.push(SipOut::Response {
                    key: u.key,
                    msg: resp,
                });
                self.phase = Phase::Confirmed;
                true
            }
            Err(e) => {
                tracing::info!(error = %e, "cannot answer the INVITE");
                false
            }
        }
    }

    /// Sends a provisional response (180/183, with early-media SDP) to the peer's INVITE.
    pub fn provisional(&mut self, code: u16, sdp: Option<Bytes>) {
        let Side::Uas(u) = &self.side else { return };
        if u.dialog.is_some() || self.phase == Phase::Ended {
            return;
        }
        let mut b = ResponseBuilder::reply(&u.invite, code, Some(&u.tag))
            .header(HeaderName::Contact, format_args!("<{}>", u.contact));
        if let Some(sdp) = sdp {
            b = b.body("application/sdp", sdp);
        }
        if let Ok(resp) = b.build() {
            self.outbox.push(SipOut::Response {
                key: u.key,
                msg: resp,
            });
        }
    }

    /// True for a leg whose INVITE came from the peer and is not answered yet.
    pub fn is_unanswered_incoming(&self) -> bool {
        matches!(&self.side, Side::Uas(u) if u.dialog.is_none()) && self.phase != Phase::Ended
    }

    /// The peer CANCELled its INVITE: 487 to it (the CANCEL's own 200 is the caller's).
    pub fn cancelled(&mut self) {
        self.reject_invite(487);
    }

    /// Refuses the peer's INVITE with `code`.
    pub fn reject_invite(&mut self, code: u16) {
        if let Side::Uas(u) = &mut self.side {
            if u.dialog.is_none() && self.phase != Phase::Ended {
                if let Ok(resp) = ResponseBuilder::reply(&u.invite, code, Some(&u.tag)).build() {
                    self.outbox.push(SipOut::Response {
                        key: u.key,
                        msg: resp,
                    });
                }
                self.phase = Phase::Ended;
                self.events.push(LegEvent::Ended);
            }
        }
    }

    /// Which leg this is.
    pub fn role(&self) -> LegRole {
        self.role
    }

    /// The Call-ID of the leg's dialog.
    pub fn call_id(&self) -> &str {
        self.side.invite().call_id().unwrap_or("")
    }

    /// True once the dialog is over.
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// True once the INVITE got a 2xx and the dialog is up.
    pub fn is_confirmed(&self) -> bool {
        self.phase == Phase::Confirmed
    }

    /// Messages to send, in order.
    pub fn drain_outbox(&mut self) -> std::vec::IntoIter<SipOut> {
        // Taken, not drained: a held call keeps no buffer between events.
        std::mem::take(&mut self.outbox).into_iter()
    }

    /// Events for the call, in order.
    pub fn drain_events(&mut self) -> std::vec::IntoIter<LegEvent> {
        // Taken, not drained: a held call keeps no buffer between events.
        std::mem::take(&mut self.events).into_iter()
    }

    fn fresh_via(&self) -> String {
        self.via.fresh(&mut rand::rng())
    }

    /// A response to a request this leg sent.
    pub fn on_response(&mut self, msg: &Message, now: Instant) {
        let Ok(cseq) = msg.cseq() else { return };
        let method = cseq.method();
        let status = msg.status().unwrap_or(0);
        let initial_seq = self.side.invite().cseq().map(|c| c.seq).unwrap_or(0);
        if method == Method::Invite && cseq.seq == initial_seq {
            self.on_invite_response(msg, status, now);
        } else if method == Method::Invite {
            self.on_reinvite_response(msg, status, now);
        } else if method == Method::Bye && status >= 200 {
            self.end();
        } else if method == Method::Cancel {
            // The INVITE's 487 (or 2xx) decides what happens next.
        } else if method == Method::Info && status >= 200 {
            self.info_in_flight = false;
            self.next_dtmf();
        } else if method == Method::Refer && status >= 300 {
            self.events.push(LegEvent::ReferFailed(status));
        } else if let Some(d) = self.side.dialog_mut() {
            let _ = d.handle_response(msg, now);
        }
    }

    fn on_invite_response(&mut self, msg: &Message, status: u16, now: Instant) {
        // A late answer from a target we already gave up on is not this INVITE's.
        let branch = |m: &Message| m.top_via().ok().and_then(|v| v.branch().map(str::to_owned));
        if self.failover.is_some() && branch(msg) != branch(self.side.invite()) {
            return;
        }
        self.attempt_deadline = None;
        if (status == 401 || status == 407) && !self.auth_tried && self.phase == Phase::Calling {
            if let Some(auth) = self.auth.as_mut() {
                self.auth_tried = true;
                let branch = sip_stack::transaction::new_branch();
                if let Ok(retry) = auth.retry(msg, self.side.invite(), &branch) {
                    if let Ok(client) = InviteClient::new(retry.clone(), self.via.clone()) {
                        self.side = Side::Uac(client);
                        self.outbox.push(SipOut::Request {
                            msg: retry,
                            peer: self.peer,
                        });
                        return;
                    }
                }
            }
        }
        if status == 503
            && self.phase == Phase::Calling
            && self.try_next_target(sip_stack::failover::Outcome::Final(503), now)
        {
            return;
        }
        let Side::Uac(client) = &mut self.side else {
            return;
        };
        let actions = match client.handle_response(msg, now) {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(error = %e, "response not for this leg's INVITE");
                return;
            }
        };
        if (100..200).contains(&status) && status != 100 && self.phase == Phase::Calling {
            self.phase = Phase::Early;
        }
        if (101..200).contains(&status) {
            self.provisional_seen = true;
            if self.cancel_wanted && !self.cancel_sent {
                self.send_cancel();
            } else if !self.cancel_wanted {
                let sdp = sdp_of(msg);
                self.events.push(LegEvent::Progress { code: status, sdp });
            }
        }
        for a in actions {
            match a {
                InviteAction::Confirmed(_) => {
                    if self.cancel_wanted || self.phase == Phase::Ending {
                        // The 2xx crossed our CANCEL: the ACK goes out below, then BYE.
                        self.phase = Phase::Confirmed;
                        self.pending_bye_after_ack();
                    } else {
                        self.phase = Phase::Confirmed;
                        self.allows_refer = msg
                            .get_all(HeaderName::Allow)
                            .any(|a| a.to_ascii_uppercase().contains("REFER"));
                        let sdp = sdp_of(msg);
                        self.events.push(LegEvent::Answered { sdp });
                    }
                }
                InviteAction::SendAck { ack, .. } => {
                    // ACK goes before any BYE queued for the same dialog.
                    let pos = self
                        .outbox
                        .iter()
                        .position(|o| matches!(o, SipOut::Request { msg, .. } if msg.method() == Some(&Method::Bye)))
                        .unwrap_or(self.outbox.len());
                    self.outbox.insert(
                        pos,
                        SipOut::Stateless {
                            msg: ack,
                            peer: self.peer,
                        },
                    );
                }
                InviteAction::SendBye { bye, .. } => self.outbox.push(SipOut::Request {
                    msg: bye,
                    peer: self.peer,
                }),
                InviteAction::SendPrack { prack, .. } => self.outbox.push(SipOut::Request {
                    msg: prack,
                    peer: self.peer,
                }),
                InviteAction::AnswerNeeded { .. } => {
                    // Our INVITE had no offer (a caller's late offer passed on): the
                    // call answers in the ACK once it has the answer.
                    self.answer_owed = true;
                }
                InviteAction::Failed { status } => {
                    self.phase = Phase::Ended;
                    self.events
                        .push(LegEvent::Failed(LegFailure::Status(status)));
                }
                InviteAction::EarlyDialog(_) => {}
            }
        }
    }

    fn pending_bye_after_ack(&mut self) {
        let via = self.fresh_via();
        let Ok(via) = Via::parse(&via) else { return };
        let bye = self
            .side
            .dialog_mut()
            .and_then(|d| d.request(Method::Bye, &via).ok())
            .and_then(|r| r.build().ok());
        if let Some(bye) = bye {
            self.phase = Phase::Ending;
            self.outbox.push(SipOut::Request {
                msg: bye,
                peer: self.peer,
            });
        }
    }

    fn on_reinvite_response(&mut self, msg: &Message, status: u16, now: Instant) {
        let Some(d) = self.side.dialog_mut() else {
            return;
        };
        let outcome = d.handle_response(msg, now);
        match outcome {
            Ok(ResponseOutcome::AckNeeded { .. })
                if self.ours.as_ref().is_some_and(|o| o.refresh) =>
            {
                // Our session refresh went through: nothing changes for the call.
                self.ours = None;
                self.send_ack(None);
            }
            Ok(ResponseOutcome::AckNeeded { offer, .. }) => {
                let sdp = sdp_of(msg);
                if offer {
                    if let Some(o) = self.ours.as_mut() {
                        o.awaiting_answer = true;
                    }
                } else {
                    self.send_ack(None);
                    self.ours = None;
                }
                self.events.push(LegEvent::ReinviteAnswered { sdp });
            }
            Ok(ResponseOutcome::ResendAck(ack)) => self.outbox.push(SipOut::Stateless {
                msg: ack,
                peer: self.peer,
            }),
            Ok(ResponseOutcome::RetryScheduled { .. }) => {}
            Ok(ResponseOutcome::Terminated) if status >= 300 => {
                self.ours = None;
                self.events.push(LegEvent::ReinviteFailed(status));
                self.phase = Phase::Ended;
                self.events.push(LegEvent::Ended);
            }
            _ if status >= 300 && self.ours.as_ref().is_some_and(|o| o.refresh) => {
                self.ours = None;
            }
            _ if status >= 300 => {
                self.ours = None;
                self.events.push(LegEvent::ReinviteFailed(status));
            }
            _ => {}
        }
    }

    fn send_ack(&mut self, answer: Option<Bytes>) {
        if let Some(a) = &answer {
            self.last_sdp = Some(a.clone());
        }
        let via = self.fresh_via();
        let Ok(via) = Via::parse(&via) else { return };
        let Some(d) = self.side.dialog_mut() else {
            return;
        };
        let Ok(r) = d.ack(&via) else { return };
        let r = match answer {
            Some(sdp) => r.body("application/sdp", sdp),
            None => r,
        };
        if let Ok(ack) = r.build() {
            self.outbox.push(SipOut::Stateless {
                msg: ack,
                peer: self.peer,
            });
        }
    }

    /// The answer to the offer in the 2xx of our offerless re-INVITE, sent in the ACK.
    pub fn ack_with_answer(&mut self, sdp: Bytes) {
        if self.ours.as_ref().is_some_and(|o| o.awaiting_answer) {
            self.ours = None;
            self.send_ack(Some(sdp));
        }
    }

    /// Sends a re-INVITE with `sdp` as the offer, or without an offer to ask the peer
    /// for one. Returns false when one is already in progress or the dialog is not up.
    pub fn reinvite(&mut self, sdp: Option<Bytes>) -> bool {
        if self.phase != Phase::Confirmed || self.ours.is_some() || self.theirs.is_some() {
            return false;
        }
        self.ours = Some(OurReinvite {
            refresh: false,
            sdp: sdp.clone(),
            awaiting_answer: false,
        });
        self.send_reinvite()
    }

    fn send_reinvite(&mut self) -> bool {
        let Some(sdp) = self.ours.as_ref().map(|o| o.sdp.clone()) else {
            return false;
        };
        let via = self.fresh_via();
        let Ok(via) = Via::parse(&via) else {
            return false;
        };
        let ua = self.user_agent.clone();
        let Some(d) = self.side.dialog_mut() else {
            return false;
        };
        let Ok(r) = d.request(Method::Invite, &via) else {
            return false;
        };
        let r = r
            .header(HeaderName::Allow, ALLOW)
            .header(HeaderName::UserAgent, ua);
        if let Some(s) = &sdp {
            self.last_sdp = Some(s.clone());
        }
        let r = match sdp {
            Some(s) => r.body("application/sdp", s),
            None => r,
        };
        match r.build() {
            Ok(msg) => {
                self.outbox.push(SipOut::Request {
                    msg,
                    peer: self.peer,
                });
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot build re-INVITE");
                self.ours = None;
                false
            }
        }
    }

    /// A request inside this leg's dialog.
    pub fn on_request(
        &mut self,
        key: sip_stack::transaction::TransactionKey,
        msg: &Message,
        now: Instant,
    ) {
        let Some(method) = msg.method().cloned() else {
            return;
        };
        let Some(d) = self.side.dialog_mut() else {
            self.reply_plain(key, msg, 481);
            return;
        };
        match d.handle_request(msg) {
            Ok(RequestOutcome::Accepted { .. }) => {}
            Ok(RequestOutcome::Rejected(resp)) => {
                self.outbox.push(SipOut::Response { key, msg: resp });
                return;
            }
            Ok(RequestOutcome::Ignored) => return,
            Err(_) => {
                self.reply_plain(key, msg, 481);
                return;
            }
        }
        match method {
            Method::Bye => {
                self.reply(key, msg, 200, None, now);
                self.phase = Phase::Ended;
                self.events.push(LegEvent::RemoteBye);
            }
            Method::Invite => {
                let sdp = sdp_of(msg);
                self.theirs = Some(Box::new((key, msg.clone())));
                let identity = msg.get(HeaderName::PAssertedIdentity).map(str::to_owned);
                self.events.push(LegEvent::RemoteReinvite { sdp, identity });
            }
            Method::Ack => {}
            Method::Notify => {
                self.reply(key, msg, 200, None, now);
                let is_refer = msg
                    .get(HeaderName::Event)
                    .is_some_and(|e| e.trim().to_ascii_lowercase().starts_with("refer"));
                if is_refer {
                    // The body is a sipfrag: "SIP/2.0 200 OK".
                    let status = std::str::from_utf8(msg.body())
                        .ok()
                        .and_then(|b| b.strip_prefix("SIP/2.0 "))
                        .and_then(|b| b.get(..3))
                        .and_then(|c| c.parse().ok());
                    if let Some(code) = status {
                        self.events.push(LegEvent::TransferProgress(code));
                    }
                }
            }
            Method::Refer => {
                let target = msg
                    .typed::<sip::headers::ReferTo>()
                    .ok()
                    .flatten()
                    .map(|r| {
                        let uri = r.0.uri.to_string();
                        uri.split('?').next().unwrap_or("").to_owned()
                    });
                match target {
                    Some(target) if self.their_refer.is_none() => {
                        self.their_refer = Some(Box::new((key, msg.clone())));
                        self.events.push(LegEvent::RemoteRefer { target });
                    }
                    Some(_) => self.reply(key, msg, 491, None, now),
                    None => self.reply(key, msg, 400, None, now),
                }
            }
            Method::Info => {
                self.reply(key, msg, 200, None, now);
                if let Some(d) = info_digit(msg) {
                    self.events.push(LegEvent::Digit(d));
                }
            }
            Method::Options | Method::Update => self.reply(key, msg, 200, None, now),
            _ => self.reply(key, msg, 501, None, now),
        }
    }

    /// An ACK for the 2xx we sent to the peer's re-INVITE.
    pub fn on_ack(&mut self, invite_key: sip_stack::transaction::TransactionKey, msg: &Message) {
        if let Some(d) = self.side.dialog_mut() {
            let _ = d.handle_request(msg);
        }
        self.outbox.push(SipOut::AckReceived(invite_key));
        let initial = matches!(&self.side, Side::Uas(u) if u.key == invite_key);
        if initial {
            let sdp = sdp_of(msg);
            self.events.push(LegEvent::Acked { sdp });
        }
    }

    /// Answers the peer's re-INVITE: 200 with `sdp`, or `code` >= 300 to refuse it.
    pub fn answer_reinvite(&mut self, code: u16, sdp: Option<Bytes>, now: Instant) {
        if let Some((key, req)) = self.theirs.take().map(|b| *b) {
            self.reply(key, &req, code, sdp, now);
        }
    }

    fn reply(
        &mut self,
        key: sip_stack::transaction::TransactionKey,
        req: &Message,
        code: u16,
        sdp: Option<Bytes>,
        now: Instant,
    ) {
        if let Some(s) = &sdp {
            self.last_sdp = Some(s.clone());
        }
        let ua = self.user_agent.clone();
        let Some(d) = self.side.dialog_mut() else {
            return;
        };
        let Ok(r) = d.reply(req, code) else { return };
        let r = r.header(HeaderName::Server, ua);
        let r = match sdp {
            Some(s) => r.body("application/sdp", s),
            None => r,
        };
        if let Ok(resp) = r.build(now) {
            self.outbox.push(SipOut::Response { key, msg: resp });
        }
    }

    fn reply_plain(
        &mut self,
        key: sip_stack::transaction::TransactionKey,
        req: &Message,
        code: u16,
    ) {
        if let Ok(resp) = ResponseBuilder::reply(req, code, None).build() {
            self.outbox.push(SipOut::Response { key, msg: resp });
        }
    }

    fn send_cancel(&mut self) {
        let built = build_cancel(self.side.invite()).map(|c| match self.cancel_reason {
            Some(r) => match c.edit().append("Reason", r).finish() {
                Ok(with_reason) => with_reason,
                Err(_) => c,
            },
            None => c,
        });
        if let Ok(cancel) = built {
            self.cancel_sent = true;
            self.outbox.push(SipOut::Request {
                msg: cancel,
                peer: self.peer,
            });
        }
    }

    /// Hangs up in any phase: CANCEL while ringing (deferred until a provisional
    /// arrives), BYE once confirmed. No event is reported for the hang-up itself; the leg
    /// reports [`LegEvent::Ended`] or [`LegEvent::Failed`] when the dialog is over.
    pub fn hang_up(&mut self, now: Instant) {
        if matches!(self.side, Side::Uas(_)) && self.phase == Phase::Early {
            self.reject_invite(487);
            return;
        }
        match self.phase {
            Phase::Calling | Phase::Early => {
                self.cancel_wanted = true;
                if self.provisional_seen && !self.cancel_sent {
                    self.send_cancel();
                }
            }
            Phase::Confirmed => {
                if let Some((key, req)) = self.theirs.take().map(|b| *b) {
                    self.reply(key, &req, 487, None, now);
                }
                self.pending_bye_after_ack();
            }
            Phase::Ending | Phase::Ended => {}
        }
    }

    /// Hangs up like [`Leg::hang_up`], with `reason` as the `Reason` of the CANCEL should
    /// the leg still be ringing (RFC 3326).
    pub fn hang_up_because(&mut self, reason: &'static str, now: Instant) {
        self.cancel_reason = Some(reason);
        self.hang_up(now);
    }

    /// True when the peer offered in the 2xx of our offerless INVITE and waits for the
    /// answer in our ACK.
    pub fn owes_answer(&self) -> bool {
        self.answer_owed
    }

    /// True when the peer's 2xx listed REFER in Allow.
    pub fn peer_allows_refer(&self) -> bool {
        self.allows_refer
    }

    /// Our From URI (the identity this leg shows).
    pub fn local_uri(&self) -> String {
        self.side
            .invite()
            .from_header()
            .map(|f| f.uri.to_string())
            .unwrap_or_default()
    }

    fn in_dialog(
        &mut self,
        method: Method,
        headers: &[(HeaderName, String)],
        body: Option<(&str, Bytes)>,
    ) -> bool {
        if self.phase != Phase::Confirmed {
            return false;
        }
        let via = self.fresh_via();
        let Ok(via) = Via::parse(&via) else {
            return false;
        };
        let Some(d) = self.side.dialog_mut() else {
            return false;
        };
        let Ok(mut r) = d.request(method, &via) else {
            return false;
        };
        for (n, v) in headers {
            r = r.header(*n, v);
        }
        if let Some((ct, b)) = body {
            r = r.body(ct, b);
        }
        match r.build() {
            Ok(msg) => {
                self.outbox.push(SipOut::Request {
                    msg,
                    peer: self.peer,
                });
                true
            }
            Err(_) => false,
        }
    }

    /// Queues one DTMF digit to go as SIP INFO (`application/dtmf-relay`, 160 ms), after
    /// the previous digit's INFO is answered.
    pub fn info_dtmf(&mut self, digit: char) {
        self.dtmf.push_back(digit);
        self.next_dtmf();
    }

    fn next_dtmf(&mut self) {
        if self.info_in_flight {
            return;
        }
        if let Some(digit) = self.dtmf.pop_front() {
            let body = Bytes::from(format!("Signal={digit}\r\nDuration=160\r\n"));
            self.info_in_flight =
                self.in_dialog(Method::Info, &[], Some(("application/dtmf-relay", body)));
        }
    }

    /// Accepts the peer's REFER: 202, then a NOTIFY saying the transfer is under way.
    pub fn accept_refer(&mut self, now: Instant) {
        if let Some((key, req)) = self.their_refer.take().map(|b| *b) {
            self.reply(key, &req, 202, None, now);
            self.refer_accepted = true;
            self.notify_refer(100);
        }
    }

    /// Refuses the peer's REFER with `code`.
    pub fn reject_refer(&mut self, code: u16, now: Instant) {
        if let Some((key, req)) = self.their_refer.take().map(|b| *b) {
            self.reply(key, &req, code, None, now);
        }
    }

    /// Reports the transfer's progress to the referrer (RFC 3515 §2.4.5): a sipfrag with
    /// `code`; a final code ends the implicit subscription.
    pub fn notify_refer(&mut self, code: u16) {
        if !self.refer_accepted {
            return;
        }
        if code >= 200 {
            self.refer_accepted = false;
        }
        self.notify_count += 1;
        let state = if code >= 200 {
            "terminated;reason=noresource".to_owned()
        } else {
            "active;expires=60".to_owned()
        };
        let frag = format!("SIP/2.0 {code} {}\r\n", sip::builder::reason_phrase(code));
        self.in_dialog(
            Method::Notify,
            &[
                (HeaderName::Event, "refer".to_owned()),
                (HeaderName::SubscriptionState, state),
            ],
            Some(("message/sipfrag;version=2.0", Bytes::from(frag))),
        );
    }

    /// Sends REFER (RFC 3515) asking the peer to call `target`.
    pub fn refer(&mut self, target: &str, referred_by: Option<&str>) -> bool {
        let mut headers = vec![(HeaderName::ReferTo, format!("<{target}>"))];
        if let Some(by) = referred_by {
            headers.push((HeaderName::ReferredBy, format!("<{by}>")));
        }
        self.in_dialog(Method::Refer, &headers, None)
    }

    /// RFC 3263 §4.3: sends the INVITE again to the trunk's next target after `outcome`
    /// on the current one. False when there is none left (or we are cancelling).
    fn try_next_target(&mut self, outcome: sip_stack::failover::Outcome, now: Instant) -> bool {
        if self.cancel_wanted {
            return false;
        }
        let Some(f) = self.failover.as_mut() else {
            return false;
        };
        match f.on_outcome(outcome) {
            Ok(sip_stack::failover::Verdict::Retry(msg, peer)) => {
                match InviteClient::new(msg.clone(), self.via.clone()) {
                    Ok(client) => {
                        tracing::info!(%peer, "trying the trunk's next target");
                        self.side = Side::Uac(client);
                        self.peer = peer;
                        self.outbox.push(SipOut::Request { msg, peer });
                        self.attempt_deadline = Some(now + FAST_FAILOVER);
                        true
                    }
                    Err(_) => false,
                }
            }
            _ => false,
        }
    }

    /// The INVITE transaction or a later one failed without a response.
    pub fn on_transaction_failure(&mut self, method: &Method, timeout: bool, now: Instant) {
        self.on_transaction_failure_of(method, None, timeout, now)
    }

    /// As [`Leg::on_transaction_failure`], for the transaction whose request had top-Via
    /// `branch`: the failure of an INVITE we already moved away from (failover) is ignored.
    pub fn on_transaction_failure_of(
        &mut self,
        method: &Method,
        branch: Option<&str>,
        timeout: bool,
        now: Instant,
    ) {
        if *method == Method::Invite {
            let current = self
                .side
                .invite()
                .top_via()
                .ok()
                .and_then(|v| v.branch().map(str::to_owned));
            if branch.is_some()
                && branch.map(str::to_owned) != current
                && self.phase == Phase::Calling
            {
                return;
            }
        }
        match (method, self.phase) {
            (Method::Invite, Phase::Calling)
                if self.try_next_target(
                    if timeout {
                        sip_stack::failover::Outcome::Timeout
                    } else {
                        sip_stack::failover::Outcome::TransportError
                    },
                    now,
                ) => {}
            (Method::Invite, Phase::Calling | Phase::Early) => {
                self.phase = Phase::Ended;
                self.events.push(LegEvent::Failed(if timeout {
                    LegFailure::Timeout
                } else {
                    LegFailure::Transport
                }));
            }
            (Method::Invite, Phase::Confirmed) => {
                // A re-INVITE without an answer: the dialog is gone (RFC 3261 §14.1).
                self.ours = None;
                self.events.push(LegEvent::ReinviteFailed(408));
                self.hang_up(now);
            }
            (Method::Bye, _) => self.end(),
            (Method::Info, _) => {
                self.info_in_flight = false;
                self.next_dtmf();
            }
            _ => {}
        }
    }

    fn end(&mut self) {
        if self.phase != Phase::Ended {
            self.phase = Phase::Ended;
            self.events.push(LegEvent::Ended);
        }
    }

    /// When the dialog's timers next need [`Leg::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        let dialog = self.side.dialog().and_then(|d| d.poll_timeout());
        match (dialog, self.attempt_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the dialog's timers (the 491 back-off retry) and the fast failover timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.attempt_deadline.is_some_and(|t| t <= now) {
            self.attempt_deadline = None;
            if self.phase == Phase::Calling {
                self.try_next_target(sip_stack::failover::Outcome::Timeout, now);
            }
        }
        let Some(d) = self.side.dialog_mut() else {
            return;
        };
        let mut refresh = None;
        for ev in d.handle_timeout(now) {
            match ev {
                DialogEvent::RetryOffer {
                    method: Method::Invite,
                } => {
                    self.send_reinvite();
                }
                DialogEvent::SessionExpired => {
                    // RFC 4028 §10: no refresh came; the session is over for both sides.
                    self.hang_up(now);
                    self.events.push(LegEvent::RemoteBye);
                }
                DialogEvent::RefreshSession { method } => refresh = Some(method),
                _ => {}
            }
        }
        if let Some(method) = refresh {
            self.refresh_session(method);
        }
    }

    /// Refreshes the session (RFC 4028 §7.4): UPDATE without a body when the peer allows
    /// it, else a re-INVITE repeating our last SDP. An offer exchange already under way
    /// refreshes it anyway.
    fn refresh_session(&mut self, method: Method) {
        if self.ours.is_some() || self.theirs.is_some() || self.phase != Phase::Confirmed {
            return;
        }
        if method == Method::Update {
            self.in_dialog(Method::Update, &[], None);
        } else {
            self.ours = Some(OurReinvite {
                refresh: true,
                sdp: self.last_sdp.clone(),
                awaiting_answer: false,
            });
            self.send_reinvite();
        }
    }

    /// Our answer for this leg's party: in the ACK of its 2xx (ViaWork's offerless
    /// INVITE) or in our 2xx (the party's INVITE).
    pub fn give_answer(&mut self, sdp: Bytes, now: Instant) {
        match self.side {
            Side::Uac(_) => self.answer_initial(sdp),
            Side::Uas(_) => {
                self.accept_invite(Some(sdp), now);
            }
        }
    }

    /// True when the dialog has these tags (either way round: RFC 3891's tags name the
    /// dialog from the sender's side).
    pub fn has_tags(&self, a: &str, b: &str) -> bool {
        self.side.dialog().is_some_and(|d| {
            let (l, r) = (d.local_tag(), d.remote_tag());
            (l == a && r == b) || (l == b && r == a)
        })
    }

    /// An answer to an offer in a 2xx to the initial INVITE (a peer that offered anyway).
    pub fn answer_initial(&mut self, sdp: Bytes) {
        self.answer_owed = false;
        self.last_sdp = Some(sdp.clone());
        let Some(id) = self.side.dialog().map(|d| d.id().clone()) else {
            return;
        };
        let Side::Uac(client) = &mut self.side else {
            return;
        };
        if let Ok(actions) = client.answer(&id, "application/sdp", sdp) {
            for a in actions {
                if let InviteAction::SendAck { ack, .. } = a {
                    self.outbox.push(SipOut::Stateless {
                        msg: ack,
                        peer: self.peer,
                    });
                }
            }
        }
    }
}

/// The digit a SIP INFO carries: `application/dtmf-relay` (`Signal=5`, the common form) or
/// `application/dtmf` (the digit alone). `None` for anything else.
fn info_digit(msg: &Message) -> Option<char> {
    let ctype = msg
        .get(HeaderName::ContentType)?
        .trim()
        .to_ascii_lowercase();
    let body = std::str::from_utf8(msg.body()).ok()?;
    let value = if ctype.starts_with("application/dtmf-relay") {
        body.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then(|| v.trim())
        })?
    } else if ctype.starts_with("application/dtmf") {
        body.trim()
    } else {
        return None;
    };
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c @ ('0'..='9' | '*' | '#' | 'A'..='D')), None) => Some(c),
        (Some(c @ 'a'..='d'), None) => Some(c.to_ascii_uppercase()),
        _ => match value {
            // Some phones send the RFC 4733 event number.
            "10" => Some('*'),
            "11" => Some('#'),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(ctype: &str, body: &str) -> Message {
        let text = format!(
            "INFO sip:vw@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n\
             From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\n\
             Call-ID: c1\r\nCSeq: 2 INFO\r\nContent-Type: {ctype}\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        Message::parse(Bytes::from(text)).expect("parses")
    }

    #[test]
    fn info_digits_in_both_common_forms_and_nothing_else() {
        let cases = [
            (
                "application/dtmf-relay",
                "Signal=5\r\nDuration=160\r\n",
                Some('5'),
            ),
            ("application/dtmf-relay", "signal= *\r\n", Some('*')),
            (
                "Application/DTMF-Relay",
                "Signal=#\r\nDuration=100",
                Some('#'),
            ),
            ("application/dtmf-relay", "Signal=10\r\n", Some('*')),
            ("application/dtmf-relay", "Signal=d", Some('D')),
            ("application/dtmf", "7", Some('7')),
            ("application/dtmf-relay", "Duration=160", None),
            ("application/dtmf-relay", "Signal=55", None),
            ("application/dtmf-relay", "Signal=x", None),
            ("application/sdp", "v=0", None),
        ];
        for (ctype, body, want) in cases {
            assert_eq!(info_digit(&info(ctype, body)), want, "{ctype} {body:?}");
        }
    }
}
