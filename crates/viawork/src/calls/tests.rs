//! The call engine against a simulated PBX over a simulated, optionally lossy network,
//! with simulated time. Both sides run the real sans-IO transaction layer, so lost
//! messages are retransmitted exactly as on a wire; the PBX side is a small scripted
//! user agent that answers each leg as a test says.

use super::call::{CallSetup, Control, ControlError, MediaAction};
use super::leg::{LegRole, SipOut};
use super::manager::{CallManager, CallView, NewCall, Output};
use super::model::{CallState, EndReason, HungUpBy};
use super::sdp_relay::{media_target, LegSession};
use super::trunk::{Trunk, TrunkHealth};
use crate::config::PbxConfig;
use crate::domain::{Dialable, E164};
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sdp::LocalMedia;
use sip::{HeaderName, Message, Method, RequestBuilder, ResponseBuilder};
use sip_stack::transaction::{
    Peer, TimerConfig, TransactionKey, TransactionLayer, Transport, TuEvent,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const VW: &str = "127.0.0.1:5060";
const PBX: &str = "127.0.0.1:5070";
const CALLBACK: &str = "+14255550101";
const FAR: &str = "+14255550199";
const CALLER_ID: &str = "+15551234567";

/// How the PBX answers one leg.
#[derive(Debug, Clone)]
struct Script {
    /// Send 180 after this long (None: no 180).
    ring_after: Option<Duration>,
    /// Send 183 with SDP (early media) instead of a bare 180.
    early_media: bool,
    /// The final answer and when.
    answer: Option<(u16, Duration)>,
    /// How to answer a re-INVITE.
    reinvite_code: u16,
    /// Hang up (BYE) this long after the call is answered.
    bye_after: Option<Duration>,
    /// List REFER in Allow and accept REFER (202, then NOTIFY with this status).
    refer: Option<u16>,
}

impl Script {
    fn answers() -> Script {
        Script {
            ring_after: Some(Duration::from_millis(100)),
            early_media: false,
            answer: Some((200, Duration::from_secs(2))),
            reinvite_code: 200,
            bye_after: None,
            refer: None,
        }
    }
}

/// The PBX's view of one leg.
struct PbxLeg {
    role: LegRole,
    invite: Message,
    invite_key: TransactionKey,
    tag: String,
    media: LegSession,
    answered: bool,
    cseq: u32,
}

enum Timed {
    Respond { call_id: String, code: u16 },
    Bye { call_id: String },
    Notify { call_id: String, code: u16 },
}

/// A transfer target's number (a third party on the PBX).
const TARGET: &str = "+14255550177";

struct Lab {
    now: Instant,
    rng: StdRng,
    loss: f64,
    vw: TransactionLayer,
    pbx: TransactionLayer,
    mgr: CallManager,
    trunk: Trunk,
    scripts: [Script; 2],
    legs: HashMap<String, PbxLeg>,
    timed: Vec<(Instant, Timed)>,
    wire: Vec<(Instant, Message, bool)>,
    /// Every message that reached the PBX, in order.
    at_pbx: Vec<Message>,
    views: Vec<CallView>,
    media: Vec<MediaAction>,
    finished: bool,
    refer_to: Option<String>,
    /// 2xx responses to the PBX's own INVITEs.
    answers_to_pbx: Vec<Message>,
    /// INVITEs the PBX sent itself.
    at_pbx_sent: Vec<Message>,
    /// Final failure statuses the PBX got for its own requests.
    pbx_responses: Vec<u16>,
    /// Messages ViaWork sent to other addresses than the PBX (dead trunk targets).
    sent_elsewhere: usize,
    /// The next in-dialog request from the PBX carries this identity and SDP.
    reinvite_with: Option<(String, Bytes)>,
    /// Answer the next re-INVITE with 491.
    glare_once: bool,
    ring_timeouts: [Duration; 2],
    /// Start meeting joins instead of two-party calls.
    meeting: bool,
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn body(m: &Message) -> Option<Bytes> {
    (!m.body().is_empty()).then(|| m.body_bytes())
}

impl Lab {
    fn new(scripts: [Script; 2], loss: f64, seed: u64) -> Lab {
        let now = Instant::now();
        let config = PbxConfig {
            send_pai: true,
            ..super::trunk::test_config()
        };
        let trunk = Trunk::new(
            config,
            &[addr(PBX)],
            addr(VW),
            "example.com",
            "ViaWork/test",
        );
        Lab {
            now,
            rng: StdRng::seed_from_u64(seed),
            loss,
            vw: TransactionLayer::new(TimerConfig::default()),
            pbx: TransactionLayer::new(TimerConfig::default()),
            mgr: CallManager::new(TrunkHealth::new(None, now)),
            trunk,
            scripts,
            legs: HashMap::new(),
            timed: Vec::new(),
            wire: Vec::new(),
            at_pbx: Vec::new(),
            views: Vec::new(),
            media: Vec::new(),
            finished: false,
            refer_to: None,
            answers_to_pbx: Vec::new(),
            at_pbx_sent: Vec::new(),
            pbx_responses: Vec::new(),
            sent_elsewhere: 0,
            reinvite_with: None,
            glare_once: false,
            ring_timeouts: [Duration::from_secs(30), Duration::from_secs(60)],
            meeting: false,
        }
    }

    fn start(&mut self, anchor: bool) -> String {
        let local = |port| LocalMedia::new("127.0.0.1".parse().unwrap(), port);
        let num = |s: &str| s.parse::<E164>().unwrap();
        let setup = CallSetup {
            callback: self.trunk.leg(
                self.trunk.uri_for(&Dialable::E164(num(CALLBACK))),
                &num(CALLER_ID),
                Some("Call Via Work".into()),
            ),
            far: self.trunk.leg(
                self.trunk.uri_for(&Dialable::E164(num(FAR))),
                &num(CALLBACK),
                Some("Alice Smith".into()),
            ),
            sessions: [LegSession::new(local(20000)), LegSession::new(local(20002))],
            anchor,
            ring_timeouts: self.ring_timeouts,
            pbx_refer_replaces: self.trunk.config().refer_with_replaces,
            meeting: self.meeting,
        };
        let new = NewCall {
            owner: "sip:alice@example.com".into(),
            to: FAR.into(),
            to_number: FAR.into(),
            callback_number: CALLBACK.into(),
            setup,
            requested_at: None,
        };
        let view = self.mgr.start("c1", new, self.now).unwrap();
        self.flush();
        view.id
    }

    /// Moves the manager's outputs into the ViaWork transaction layer.
    fn flush(&mut self) {
        loop {
            let outs: Vec<Output> = self.mgr.drain().collect();
            if outs.is_empty() {
                break;
            }
            for o in outs {
                match o {
                    Output::Sip {
                        call, role, out, ..
                    } => match out {
                        SipOut::Request { msg, peer } => {
                            let method = msg.method().cloned().unwrap();
                            let cid = msg.call_id().unwrap().to_owned();
                            let branch = msg
                                .top_via()
                                .ok()
                                .and_then(|v| v.branch().map(str::to_owned));
                            let key = self.vw.send_request(msg, peer, self.now).unwrap();
                            self.mgr.bind(key, call, role, method, cid, branch);
                        }
                        SipOut::Response { key, msg } => {
                            let _ = self.vw.send_response(&key, msg, self.now);
                        }
                        SipOut::Stateless { msg, peer } => self.vw.send_stateless(msg, peer),
                        SipOut::AckReceived(key) => {
                            self.vw.ack_received(&key);
                        }
                    },
                    Output::Media { action, .. } => self.media.push(action),
                    Output::Changed { view, .. } => self.views.push(view),
                    Output::Finished(_) => self.finished = true,
                    Output::Probe => {}
                    Output::Reply { key, msg } => {
                        let _ = self.vw.send_response(&key, msg, self.now);
                    }
                }
            }
        }
    }

    fn transmit(&mut self) {
        while let Some(t) = self.vw.poll_transmit() {
            if t.peer.addr != addr(PBX) {
                // A trunk target that is down: nothing answers.
                self.sent_elsewhere += 1;
                continue;
            }
            self.wire
                .push((self.now + Duration::from_millis(2), t.msg, true));
        }
        while let Some(t) = self.pbx.poll_transmit() {
            self.wire
                .push((self.now + Duration::from_millis(2), t.msg, false));
        }
    }

    fn pbx_peer() -> Peer {
        Peer::new(addr(PBX), Transport::Udp)
    }
    fn vw_peer() -> Peer {
        Peer::new(addr(VW), Transport::Udp)
    }

    fn role_of(&self, invite: &Message) -> LegRole {
        let uri = invite.request_uri_str().unwrap_or("");
        if uri.contains(CALLBACK) {
            LegRole::Callback
        } else {
            LegRole::Far
        }
    }

    fn pbx_reply(
        &mut self,
        call_id: &str,
        key: TransactionKey,
        req: &Message,
        code: u16,
        sdp: Option<Bytes>,
    ) {
        let tag = self.legs.get(call_id).map(|l| l.tag.clone());
        let refer = self
            .legs
            .get(call_id)
            .is_some_and(|l| self.scripts[l.role.index()].refer.is_some());
        let allow = if refer {
            "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REFER, NOTIFY"
        } else {
            "INVITE, ACK, BYE, CANCEL, OPTIONS"
        };
        let mut b = ResponseBuilder::reply(req, code, tag.as_deref())
            .header(HeaderName::Contact, format_args!("<sip:pbx@{PBX}>"))
            .header(HeaderName::Allow, allow);
        if code == 200 && req.method() == Some(&Method::Invite) {
            // A PBX with session timers: the UAC (ViaWork) refreshes.
            if let Some(se) = req.get(HeaderName::SessionExpires) {
                let interval = se.split(';').next().unwrap_or("1800").trim().to_owned();
                b = b
                    .header(
                        HeaderName::SessionExpires,
                        format_args!("{interval};refresher=uac"),
                    )
                    .header(HeaderName::Require, "timer");
            }
        }
        if let Some(s) = sdp {
            b = b.body("application/sdp", s);
        }
        let _ = self.pbx.send_response(&key, b.build().unwrap(), self.now);
    }

    /// The scripted PBX user agent.
    fn pbx_event(&mut self, ev: TuEvent) {
        match ev {
            TuEvent::Request { key, msg, .. } => {
                self.at_pbx.push(msg.clone());
                let call_id = msg.call_id().unwrap().to_owned();
                match msg.method() {
                    Some(Method::Invite) if !self.legs.contains_key(&call_id) => {
                        let role = self.role_of(&msg);
                        let to_target = msg.request_uri_str().is_some_and(|u| u.contains(TARGET));
                        let port = match role {
                            _ if to_target => 40006,
                            LegRole::Callback => 40000,
                            LegRole::Far => 40002,
                        };
                        let leg = PbxLeg {
                            role,
                            invite: msg.clone(),
                            invite_key: key,
                            tag: format!("pbx{}", role.index()),
                            media: LegSession::new(LocalMedia::new(
                                "127.0.0.2".parse().unwrap(),
                                port,
                            )),
                            answered: false,
                            cseq: 1,
                        };
                        self.legs.insert(call_id.clone(), leg);
                        self.pbx_reply(&call_id, key, &msg, 100, None);
                        let s = self.scripts[role.index()].clone();
                        if let Some(d) = s.ring_after {
                            let code = if s.early_media { 183 } else { 180 };
                            self.timed.push((
                                self.now + d,
                                Timed::Respond {
                                    call_id: call_id.clone(),
                                    code,
                                },
                            ));
                        }
                        if let Some((code, d)) = s.answer {
                            self.timed
                                .push((self.now + d, Timed::Respond { call_id, code }));
                        }
                    }
                    Some(Method::Invite) => {
                        // A re-INVITE: answer its offer, or offer when it has none.
                        let role = self.legs[&call_id].role;
                        let mut code = self.scripts[role.index()].reinvite_code;
                        if self.glare_once {
                            // One 491, as when both sides offered at once (RFC 3261 §14.2).
                            self.glare_once = false;
                            code = 491;
                        }
                        let sdp = if code == 200 {
                            let leg = self.legs.get_mut(&call_id).unwrap();
                            match body(&msg) {
                                Some(offer) => leg.media.own_answer(&offer),
                                None => Some(leg.media.own_offer()),
                            }
                        } else {
                            None
                        };
                        self.pbx_reply(&call_id, key, &msg, code, sdp);
                    }
                    Some(Method::Bye) => {
                        self.pbx_reply(&call_id, key, &msg, 200, None);
                        self.legs.remove(&call_id);
                    }
                    Some(Method::Refer) => {
                        let role = self.legs.get(&call_id).map(|l| l.role);
                        match role.and_then(|r| self.scripts[r.index()].refer) {
                            Some(code) => {
                                self.pbx_reply(&call_id, key, &msg, 202, None);
                                self.timed.push((
                                    self.now + Duration::from_millis(300),
                                    Timed::Notify { call_id, code },
                                ));
                            }
                            None => self.pbx_reply(&call_id, key, &msg, 501, None),
                        }
                    }
                    _ => self.pbx_reply(&call_id, key, &msg, 200, None),
                }
            }
            TuEvent::Cancel {
                key,
                invite_key,
                msg,
                ..
            } => {
                self.at_pbx.push(msg.clone());
                let call_id = msg.call_id().unwrap().to_owned();
                self.pbx_reply(&call_id, key, &msg, 200, None);
                if let (Some(ik), Some(leg)) = (invite_key, self.legs.get(&call_id)) {
                    if !leg.answered {
                        let inv = leg.invite.clone();
                        self.pbx_reply(&call_id, ik, &inv, 487, None);
                        self.legs.remove(&call_id);
                    }
                }
            }
            TuEvent::Ack { msg, .. } => self.at_pbx.push(msg),
            TuEvent::Response { msg, .. } if msg.status().is_some_and(|c| c >= 300) => {
                self.pbx_responses.push(msg.status().unwrap_or(0));
            }
            TuEvent::Response { msg, .. }
                if msg.status().is_some_and(|c| (200..300).contains(&c))
                    && msg.cseq().is_ok_and(|c| c.method() == Method::Invite) =>
            {
                // The PBX's own INVITE (with Replaces) was answered: ACK it.
                self.answers_to_pbx.push(msg.clone());
                let to = msg.to_header().unwrap().to_string();
                let from = msg.from_header().unwrap().to_string();
                let cid = msg.call_id().unwrap().to_owned();
                let target = msg
                    .typed::<sip::headers::Contact>()
                    .ok()
                    .flatten()
                    .and_then(|c| c.addr().map(|a| a.uri.to_string()))
                    .unwrap();
                let ack = RequestBuilder::new(&Method::Ack, &target)
                    .header(
                        HeaderName::Via,
                        format_args!(
                            "SIP/2.0/UDP {PBX};branch={}",
                            sip_stack::transaction::new_branch()
                        ),
                    )
                    .header(HeaderName::MaxForwards, 70)
                    .header(HeaderName::From, from)
                    .header(HeaderName::To, to)
                    .header(HeaderName::CallId, cid)
                    .header(
                        HeaderName::CSeq,
                        format_args!("{} ACK", msg.cseq().unwrap().seq),
                    )
                    .build()
                    .unwrap();
                self.pbx.send_stateless(ack, Self::vw_peer());
            }
            TuEvent::Stray { msg, .. } => self.at_pbx.push(msg),
            _ => {}
        }
    }

    fn run_timed(&mut self, t: Timed) {
        match t {
            Timed::Respond { call_id, code } => {
                let Some(leg) = self.legs.get_mut(&call_id) else {
                    return;
                };
                if leg.answered {
                    return;
                }
                let sdp = match (code, body(&leg.invite)) {
                    (180, _) => None,
                    (c, Some(offer)) if c == 183 || c < 300 => leg.media.own_answer(&offer),
                    // An offerless INVITE: the 2xx offers.
                    (c, None) if (200..300).contains(&c) => Some(leg.media.own_offer()),
                    _ => None,
                };
                if code >= 200 {
                    leg.answered = code < 300;
                }
                let (key, inv, role) = (leg.invite_key, leg.invite.clone(), leg.role);
                self.pbx_reply(&call_id, key, &inv, code, sdp);
                if code >= 300 {
                    self.legs.remove(&call_id);
                } else if code >= 200 {
                    if let Some(d) = self.scripts[role.index()].bye_after {
                        self.timed.push((self.now + d, Timed::Bye { call_id }));
                    }
                }
            }
            Timed::Bye { call_id } => self.in_dialog(&call_id, Method::Bye, None),
            Timed::Notify { call_id, code } => {
                let frag = format!("SIP/2.0 {code} {}", sip::builder::reason_phrase(code));
                self.in_dialog(&call_id, Method::Notify, Some(frag));
            }
        }
    }

    /// The SIP Call-ID of the answered callback or far leg (not a transfer target's).
    fn answered_leg(&self, role: LegRole) -> String {
        self.legs
            .iter()
            .find(|(_, l)| {
                l.role == role
                    && l.answered
                    && !l
                        .invite
                        .request_uri_str()
                        .is_some_and(|u| u.contains(TARGET))
            })
            .map(|(c, _)| c.clone())
            .expect("an answered leg")
    }

    /// Replaces the trunk: these targets, the configuration changed by `edit`.
    fn set_trunk(&mut self, targets: &[SocketAddr], edit: impl FnOnce(&mut PbxConfig)) {
        let mut config = self.trunk.config().clone();
        edit(&mut config);
        self.trunk = Trunk::new(config, targets, addr(VW), "example.com", "ViaWork/test");
    }

    /// The PBX sends REFER on the leg with this role (a transfer done on the PBX side).
    fn pbx_refer(&mut self, role: LegRole, target: &str) {
        let call_id = self.answered_leg(role);
        self.refer_to = Some(format!("<sip:{target}@{PBX}>"));
        self.in_dialog(&call_id, Method::Refer, None);
        self.refer_to = None;
    }

    /// The PBX replaces the dialog of the leg with this role by a new one (RFC 3891: an
    /// attended transfer done on the PBX), offering media at port 40004.
    fn pbx_replaces(&mut self, role: LegRole) {
        let call_id = self.answered_leg(role);
        let leg = &self.legs[&call_id];
        let our_tag = leg.tag.clone();
        let their_tag = leg.invite.from_header().unwrap().tag().unwrap().to_owned();
        let target = leg
            .invite
            .typed::<sip::headers::Contact>()
            .ok()
            .flatten()
            .and_then(|c| c.addr().map(|a| a.uri.to_string()))
            .unwrap();
        let mut media = LegSession::new(LocalMedia::new("127.0.0.2".parse().unwrap(), 40004));
        let invite = RequestBuilder::new(&Method::Invite, &target)
            .header(
                HeaderName::Via,
                format_args!(
                    "SIP/2.0/UDP {PBX};branch={}",
                    sip_stack::transaction::new_branch()
                ),
            )
            .header(HeaderName::MaxForwards, 70)
            .header(
                HeaderName::From,
                format_args!("<sip:{TARGET}@{PBX}>;tag=replacer"),
            )
            .header(HeaderName::To, format_args!("<{target}>"))
            .header(HeaderName::CallId, "replacer@pbx")
            .header(HeaderName::CSeq, "1 INVITE")
            .header(HeaderName::Contact, format_args!("<sip:replacer@{PBX}>"))
            .header(
                HeaderName::Replaces,
                format_args!("{call_id};to-tag={their_tag};from-tag={our_tag}"),
            )
            .body("application/sdp", media.own_offer())
            .build()
            .unwrap();
        self.at_pbx_sent.push(invite.clone());
        let _ = self.pbx.send_request(invite, Self::vw_peer(), self.now);
    }

    /// Sends a request from the PBX inside a leg's dialog.
    fn in_dialog(&mut self, call_id: &str, method: Method, sipfrag: Option<String>) {
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        leg.cseq += 1;
        let inv = &leg.invite;
        let from = inv.from_header().unwrap().to_string();
        let to = inv.to_header().unwrap().to_string();
        let target = inv
            .typed::<sip::headers::Contact>()
            .ok()
            .flatten()
            .and_then(|c| c.addr().map(|a| a.uri.to_string()))
            .unwrap_or_else(|| format!("sip:{VW}"));
        let mut b = RequestBuilder::new(&method, &target)
            .header(
                HeaderName::Via,
                format_args!(
                    "SIP/2.0/UDP {PBX};branch={}",
                    sip_stack::transaction::new_branch()
                ),
            )
            .header(HeaderName::MaxForwards, 70)
            .header(HeaderName::From, format_args!("{to};tag={}", leg.tag))
            .header(HeaderName::To, from)
            .header(HeaderName::CallId, call_id)
            .header(
                HeaderName::CSeq,
                format_args!("{} {}", leg.cseq, method.as_str()),
            );
        if let Some(to) = &self.refer_to {
            b = b.header(HeaderName::ReferTo, to);
        }
        if let Some((pai, sdp)) = self.reinvite_with.take() {
            b = b
                .header(HeaderName::PAssertedIdentity, pai)
                .header(HeaderName::Contact, format_args!("<sip:pbx@{PBX}>"))
                .body("application/sdp", sdp);
        }
        if let Some(frag) = sipfrag {
            b = b
                .header(HeaderName::Event, "refer")
                .header(
                    HeaderName::SubscriptionState,
                    "terminated;reason=noresource",
                )
                .body("message/sipfrag;version=2.0", Bytes::from(frag));
        }
        let req = b.build().unwrap();
        let _ = self.pbx.send_request(req, Self::vw_peer(), self.now);
    }

    /// Runs the world until `done` holds or `limit` of simulated time passes.
    fn run(&mut self, limit: Duration, mut done: impl FnMut(&Lab) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            self.transmit();
            if done(self) {
                return true;
            }
            // Deliver what is due.
            let mut due = Vec::new();
            self.wire.retain(|(t, m, to_pbx)| {
                if *t <= self.now {
                    due.push((m.clone(), *to_pbx));
                    false
                } else {
                    true
                }
            });
            for (m, to_pbx) in due {
                if self.rng.random::<f64>() < self.loss {
                    continue;
                }
                if to_pbx {
                    self.pbx.handle_message(m, Self::vw_peer(), self.now);
                } else {
                    self.vw.handle_message(m, Self::pbx_peer(), self.now);
                }
            }
            let timed: Vec<Timed> = {
                let now = self.now;
                let (ready, later): (Vec<_>, Vec<_>) =
                    self.timed.drain(..).partition(|(t, _)| *t <= now);
                self.timed = later;
                ready.into_iter().map(|(_, t)| t).collect()
            };
            for t in timed {
                self.run_timed(t);
            }
            self.vw.handle_timeout(self.now);
            self.pbx.handle_timeout(self.now);
            self.mgr.handle_timeout(self.now);
            while let Some(ev) = self.pbx.poll_event() {
                self.pbx_event(ev);
            }
            while let Some(ev) = self.vw.poll_event() {
                let now = self.now;
                match ev {
                    TuEvent::Response { key, msg } => self.mgr.on_response(Some(key), &msg, now),
                    TuEvent::Stray { msg, .. } if msg.status().is_some() => {
                        self.mgr.on_response(None, &msg, now)
                    }
                    TuEvent::Request { key, msg, peer } => {
                        let taken = self.mgr.on_request_from(key, &msg, Some(peer), now);
                        assert!(taken, "unrouted {msg:?}");
                    }
                    TuEvent::Ack {
                        invite_key, msg, ..
                    } => {
                        self.mgr.on_ack(invite_key, &msg, now);
                    }
                    TuEvent::Timeout { key } => self.mgr.on_failure(key, true, now),
                    TuEvent::TransportError { key } => self.mgr.on_failure(key, false, now),
                    TuEvent::Terminated { key } => self.mgr.on_terminated(key),
                    _ => {}
                }
                self.flush();
            }
            self.flush();
            self.transmit();
            if done(self) {
                return true;
            }
            let next = [
                self.wire.iter().map(|(t, _, _)| *t).min(),
                self.timed.iter().map(|(t, _)| *t).min(),
                self.vw.poll_timeout(),
                self.pbx.poll_timeout(),
                self.mgr.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= end => self.now = t.max(self.now),
                _ => return done(self),
            }
        }
    }

    fn states(&self) -> Vec<CallState> {
        let mut v: Vec<CallState> = self.views.iter().map(|v| v.state).collect();
        v.dedup();
        v
    }

    fn end(&self) -> Option<(EndReason, HungUpBy)> {
        self.views
            .last()
            .and_then(|v| v.end_reason.zip(v.hung_up_by))
    }

    /// What reached the PBX on the callback or far leg (not on a transfer target's).
    fn requests_to_pbx(&self, method: Method, role: LegRole) -> Vec<&Message> {
        self.at_pbx
            .iter()
            .filter(|m| m.method() == Some(&method))
            .filter(|m| {
                let to = m.to_header().map(|t| t.uri.to_string()).unwrap_or_default();
                if to.contains(TARGET) {
                    return false;
                }
                to.contains(CALLBACK) == (role == LegRole::Callback)
            })
            .collect()
    }
}

fn connected_then_far_hangs_up(anchor: bool, loss: f64, seed: u64) -> Lab {
    let mut far = Script::answers();
    far.bye_after = Some(Duration::from_secs(5));
    let mut lab = Lab::new([Script::answers(), far], loss, seed);
    lab.start(anchor);
    assert!(
        lab.run(Duration::from_secs(120), |l| l.finished),
        "call never finished: states {:?}, end {:?}",
        lab.states(),
        lab.end()
    );
    lab
}

#[test]
fn a_meeting_join_rings_only_the_users_phone_and_hands_its_stream_to_the_meeting() {
    for (loss, seed) in [(0.0, 1), (0.2, 7), (0.2, 8)] {
        let mut phone = Script::answers();
        phone.bye_after = Some(Duration::from_secs(5));
        let mut lab = Lab::new([phone, Script::answers()], loss, seed);
        lab.meeting = true;
        lab.start(false);
        assert!(
            lab.run(Duration::from_secs(120), |l| l.finished),
            "{:?}",
            lab.states()
        );
        assert_eq!(
            lab.states(),
            vec![
                CallState::ConnectingYourPhone,
                CallState::YourPhoneRinging,
                CallState::Connected,
                CallState::Ended
            ],
            "loss {loss}"
        );
        assert_eq!(lab.end(), Some((EndReason::Completed, HungUpBy::YourPhone)));
        assert!(lab.requests_to_pbx(Method::Invite, LegRole::Far).is_empty());
        // One INVITE to the phone (no RFC 3725 re-INVITE: the meeting is the far end).
        assert_eq!(
            lab.requests_to_pbx(Method::Invite, LegRole::Callback).len(),
            1
        );
        let enter = lab
            .media
            .iter()
            .position(|m| *m == MediaAction::EnterMeeting)
            .expect("entered the meeting");
        let remote = lab
            .media
            .iter()
            .position(|m| matches!(m, MediaAction::SetRemote(LegRole::Callback, _)))
            .expect("the phone's answer");
        assert!(remote < enter, "the stream knows its remote before joining");
        assert_eq!(lab.views.last().map(|v| v.direction), Some("meeting"));
    }
}

#[test]
fn happy_path_joins_the_phones_directly_by_rfc3725_reinvites() {
    let lab = connected_then_far_hangs_up(false, 0.0, 1);
    assert_eq!(
        lab.states(),
        vec![
            CallState::ConnectingYourPhone,
            CallState::YourPhoneRinging,
            CallState::Connecting,
            CallState::Ringing,
            CallState::Connected,
            CallState::Ended
        ]
    );
    assert_eq!(lab.end(), Some((EndReason::Completed, HungUpBy::FarEnd)));
    // Caller IDs: the global Call Via Work number on the callback leg, the user on the far.
    let cb = &lab.requests_to_pbx(Method::Invite, LegRole::Callback)[0];
    assert!(cb
        .from_header()
        .unwrap()
        .uri
        .to_string()
        .contains(CALLER_ID));
    let far = &lab.requests_to_pbx(Method::Invite, LegRole::Far)[0];
    assert!(far
        .from_header()
        .unwrap()
        .uri
        .to_string()
        .contains(CALLBACK));
    assert_eq!(
        far.from_header().unwrap().display_name.unwrap().text(),
        "Alice Smith"
    );
    // The join: an offerless re-INVITE to the user's phone, its offer relayed to the far
    // party, the far answer in the ACK to the user's phone.
    let cb_invites = lab.requests_to_pbx(Method::Invite, LegRole::Callback);
    assert_eq!(cb_invites.len(), 2);
    assert!(cb_invites[1].body().is_empty());
    let far_invites = lab.requests_to_pbx(Method::Invite, LegRole::Far);
    assert_eq!(far_invites.len(), 2);
    let relayed = media_target(far_invites[1].body()).unwrap().0;
    assert_eq!(
        relayed.port(),
        40000,
        "the far party is sent the user's phone"
    );
    let acks = lab.requests_to_pbx(Method::Ack, LegRole::Callback);
    let answer = acks
        .iter()
        .find(|a| !a.body().is_empty())
        .expect("ACK with answer");
    assert_eq!(media_target(answer.body()).unwrap().0.port(), 40002);
    // The far party's BYE ended the callback leg too.
    assert_eq!(lab.requests_to_pbx(Method::Bye, LegRole::Callback).len(), 1);
    assert!(lab.media.contains(&MediaAction::Ringback));
    assert!(lab.media.contains(&MediaAction::Release));
    assert!(!lab.media.contains(&MediaAction::Bridge));
    assert!(lab.mgr.is_empty(), "nothing outlives the call");
}

#[test]
fn anchored_calls_bridge_without_reinvites() {
    let lab = connected_then_far_hangs_up(true, 0.0, 2);
    assert_eq!(lab.end(), Some((EndReason::Completed, HungUpBy::FarEnd)));
    assert_eq!(
        lab.requests_to_pbx(Method::Invite, LegRole::Callback).len(),
        1
    );
    assert_eq!(lab.requests_to_pbx(Method::Invite, LegRole::Far).len(), 1);
    assert!(lab.media.contains(&MediaAction::Bridge));
}

#[test]
fn the_call_completes_over_a_lossy_network() {
    for seed in 0..20 {
        let lab = connected_then_far_hangs_up(false, 0.3, 100 + seed);
        assert_eq!(
            lab.end(),
            Some((EndReason::Completed, HungUpBy::FarEnd)),
            "seed {seed}: states {:?}",
            lab.states()
        );
        assert!(lab.mgr.is_empty(), "seed {seed}");
    }
}

fn ends_with(scripts: [Script; 2], expected: (EndReason, HungUpBy)) -> Lab {
    let mut lab = Lab::new(scripts, 0.0, 7);
    lab.start(false);
    assert!(
        lab.run(Duration::from_secs(200), |l| l.finished),
        "{:?}",
        lab.states()
    );
    assert_eq!(lab.end(), Some(expected), "states {:?}", lab.states());
    assert!(lab.mgr.is_empty());
    lab
}

#[test]
fn refusals_on_each_leg_give_their_end_reasons() {
    let with = |code| Script {
        answer: Some((code, Duration::from_secs(1))),
        ..Script::answers()
    };
    for (code, reason) in [
        (486, EndReason::YourPhoneBusy),
        (603, EndReason::YourPhoneDeclined),
        (404, EndReason::YourPhoneUnreachable),
        (503, EndReason::TrunkUnavailable),
    ] {
        let lab = ends_with(
            [with(code), Script::answers()],
            (reason, HungUpBy::YourPhone),
        );
        assert!(lab.requests_to_pbx(Method::Invite, LegRole::Far).is_empty());
    }
    for (code, reason) in [
        (486, EndReason::FarEndBusy),
        (603, EndReason::FarEndDeclined),
        (480, EndReason::FarEndUnreachable),
    ] {
        let lab = ends_with([Script::answers(), with(code)], (reason, HungUpBy::FarEnd));
        assert_eq!(lab.requests_to_pbx(Method::Bye, LegRole::Callback).len(), 1);
    }
}

#[test]
fn ring_timeouts_cancel_each_leg() {
    let never = Script {
        answer: None,
        ..Script::answers()
    };
    let lab = ends_with(
        [never.clone(), Script::answers()],
        (EndReason::YourPhoneNoAnswer, HungUpBy::System),
    );
    assert_eq!(
        lab.requests_to_pbx(Method::Cancel, LegRole::Callback).len(),
        1
    );
    let lab = ends_with(
        [Script::answers(), never],
        (EndReason::FarEndNoAnswer, HungUpBy::System),
    );
    assert_eq!(lab.requests_to_pbx(Method::Cancel, LegRole::Far).len(), 1);
    assert_eq!(lab.requests_to_pbx(Method::Bye, LegRole::Callback).len(), 1);
}

#[test]
fn hanging_up_while_the_far_party_rings_cancels_it() {
    let slow = Script {
        answer: Some((200, Duration::from_secs(50))),
        ..Script::answers()
    };
    let mut lab = Lab::new([Script::answers(), slow], 0.0, 3);
    let id = lab.start(false);
    assert!(lab.run(Duration::from_secs(10), |l| l.states().last()
        == Some(&CallState::Ringing)));
    let now = lab.now;
    let view = lab.mgr.hang_up(&id, "sip:alice@example.com", now).unwrap();
    assert_eq!(view.state, CallState::Ended);
    lab.flush();
    assert!(lab.run(Duration::from_secs(60), |l| l.finished));
    assert_eq!(lab.end(), Some((EndReason::Cancelled, HungUpBy::User)));
    assert_eq!(lab.requests_to_pbx(Method::Cancel, LegRole::Far).len(), 1);
    assert_eq!(lab.requests_to_pbx(Method::Bye, LegRole::Callback).len(), 1);
}

#[test]
fn an_escalated_call_lets_each_party_leave_alone_and_ends_with_the_last() {
    for (loss, seed) in [(0.0, 21), (0.2, 22)] {
        let mut far = Script::answers();
        far.bye_after = Some(Duration::from_secs(5));
        let mut lab = Lab::new([Script::answers(), far], loss, seed);
        let id = lab.start(true);
        assert!(lab.run(Duration::from_secs(30), |l| l.states().last()
            == Some(&CallState::Connected)));
        let (to, _rx) = tokio::sync::mpsc::unbounded_channel();
        let escalation = super::call::Escalation {
            meeting_id: "m1".into(),
            user: ("sip:alice@example.com".into(), "Alice".into()),
            far: (None, "+14255550199".into()),
            to,
            relocal: None,
        };
        let now = lab.now;
        let r = lab
            .mgr
            .control(
                &id,
                "sip:alice@example.com",
                Control::Escalate(Box::new(escalation)),
                now,
            )
            .expect("her call");
        assert!(r.is_ok(), "{r:?}");
        lab.flush();
        assert!(lab
            .media
            .iter()
            .any(|m| matches!(m, MediaAction::Escalate(_))));
        // In a meeting, the call's own controls are the meeting's.
        let again = lab
            .mgr
            .control(&id, "sip:alice@example.com", Control::Hold, now);
        assert_eq!(
            again.map(|r| r.err()),
            Some(Some(ControlError::Unsupported))
        );
        // The far party hangs up: only they leave; the call goes on.
        assert!(lab.run(Duration::from_secs(30), |l| l
            .media
            .contains(&MediaAction::LegLeft(LegRole::Far))));
        assert!(!lab.finished, "the user is still in the meeting");
        assert!(lab
            .requests_to_pbx(Method::Bye, LegRole::Callback)
            .is_empty());
        assert_eq!(
            lab.views.last().map(|v| v.state),
            Some(CallState::Connected)
        );
        // The user hangs up too: now the call is over.
        let now = lab.now;
        lab.mgr.hang_up(&id, "sip:alice@example.com", now);
        lab.flush();
        assert!(
            lab.run(Duration::from_secs(60), |l| l.finished),
            "loss {loss}"
        );
        assert!(lab.media.contains(&MediaAction::LegLeft(LegRole::Callback)));
        assert_eq!(lab.requests_to_pbx(Method::Bye, LegRole::Callback).len(), 1);
        assert_eq!(lab.end(), Some((EndReason::Completed, HungUpBy::User)));
    }
}

#[test]
fn a_direct_call_is_re_anchored_before_it_becomes_a_meeting() {
    let mut lab = Lab::new([Script::answers(), Script::answers()], 0.0, 23);
    let id = lab.start(false);
    assert!(lab.run(Duration::from_secs(30), |l| l.states().last()
        == Some(&CallState::Connected)
        && l.views.last().map(|v| v.media) == Some("direct")));
    let (to, _rx) = tokio::sync::mpsc::unbounded_channel();
    let escalation = |relocal| super::call::Escalation {
        meeting_id: "m1".into(),
        user: ("sip:alice@example.com".into(), "Alice".into()),
        far: (None, "x".into()),
        to: to.clone(),
        relocal,
    };
    let now = lab.now;
    // Without new engine streams it cannot be mixed.
    let r = lab
        .mgr
        .control(
            &id,
            "sip:alice@example.com",
            Control::Escalate(Box::new(escalation(None))),
            now,
        )
        .expect("her call");
    assert_eq!(r.err(), Some(ControlError::NotAnchored));
    // With them, each phone is re-INVITEd to its new stream, then the call is a meeting.
    let local = |port| LocalMedia::new("127.0.0.1".parse().unwrap(), port);
    let before = [
        lab.requests_to_pbx(Method::Invite, LegRole::Callback).len(),
        lab.requests_to_pbx(Method::Invite, LegRole::Far).len(),
    ];
    let r = lab
        .mgr
        .control(
            &id,
            "sip:alice@example.com",
            Control::Escalate(Box::new(escalation(Some([local(31000), local(31002)])))),
            now,
        )
        .expect("her call");
    assert!(r.is_ok(), "{r:?}");
    lab.flush();
    assert!(lab.run(Duration::from_secs(30), |l| l
        .media
        .iter()
        .any(|m| matches!(m, MediaAction::Escalate(_)))));
    for (role, port, n) in [
        (LegRole::Callback, 31000, before[0]),
        (LegRole::Far, 31002, before[1]),
    ] {
        let invites = lab.requests_to_pbx(Method::Invite, role);
        assert_eq!(invites.len(), n + 1, "{role:?}");
        let offered = media_target(invites[n].body()).expect("an offer").0;
        assert_eq!(
            offered.port(),
            port,
            "{role:?} is sent its new engine stream"
        );
    }
    let remotes = lab
        .media
        .iter()
        .filter(|m| matches!(m, MediaAction::SetRemote(..)))
        .count();
    assert!(
        remotes >= 2,
        "both phones' answers set as the streams' remotes"
    );
}

#[test]
fn a_2xx_crossing_the_cancel_is_acked_and_byed() {
    // The far party answers 1 ms after ringing: the user's hang-up and the 200 cross.
    let quick = Script {
        ring_after: Some(Duration::from_millis(100)),
        answer: Some((200, Duration::from_millis(104))),
        ..Script::answers()
    };
    let mut lab = Lab::new([Script::answers(), quick], 0.0, 4);
    let id = lab.start(false);
    assert!(lab.run(Duration::from_secs(10), |l| l.states().last()
        == Some(&CallState::Ringing)));
    let now = lab.now;
    lab.mgr.hang_up(&id, "sip:alice@example.com", now).unwrap();
    lab.flush();
    assert!(lab.run(Duration::from_secs(60), |l| l.finished));
    assert_eq!(lab.end(), Some((EndReason::Cancelled, HungUpBy::User)));
    assert_eq!(lab.requests_to_pbx(Method::Cancel, LegRole::Far).len(), 1);
    assert!(!lab.requests_to_pbx(Method::Ack, LegRole::Far).is_empty());
    assert_eq!(lab.requests_to_pbx(Method::Bye, LegRole::Far).len(), 1);
    assert!(lab.mgr.is_empty());
}

#[test]
fn early_media_is_bridged_to_the_users_phone() {
    let early = Script {
        early_media: true,
        ..Script::answers()
    };
    let mut far = early;
    far.bye_after = Some(Duration::from_secs(1));
    let mut lab = Lab::new([Script::answers(), far], 0.0, 5);
    lab.start(false);
    assert!(lab.run(Duration::from_secs(60), |l| l.finished));
    assert!(lab.media.contains(&MediaAction::Bridge));
    assert!(!lab.media.contains(&MediaAction::Ringback));
    assert_eq!(lab.end(), Some((EndReason::Completed, HungUpBy::FarEnd)));
}

#[test]
fn a_refused_join_falls_back_to_anchoring() {
    let mut far = Script::answers();
    far.reinvite_code = 488;
    far.bye_after = Some(Duration::from_secs(3));
    let mut lab = Lab::new([Script::answers(), far], 0.0, 6);
    lab.start(false);
    assert!(lab.run(Duration::from_secs(60), |l| l.finished));
    assert_eq!(lab.end(), Some((EndReason::Completed, HungUpBy::FarEnd)));
    assert!(lab.media.contains(&MediaAction::Bridge));
    // The user's phone still got an answer in its ACK (from ViaWork's media).
    let acks = lab.requests_to_pbx(Method::Ack, LegRole::Callback);
    let answer = acks
        .iter()
        .find(|a| !a.body().is_empty())
        .expect("ACK with answer");
    assert_eq!(media_target(answer.body()).unwrap().0.port(), 20000);
}

/// A connected, directly joined call, ready for controls.
fn connected(scripts: [Script; 2], anchor: bool) -> Lab {
    let mut lab = Lab::new(scripts, 0.0, 9);
    lab.start(anchor);
    let want = if anchor { "relayed" } else { "direct" };
    assert!(lab
        .run(Duration::from_secs(30), |l| l.views.last().is_some_and(
            |v| v.state == CallState::Connected && v.media == want
        )));
    lab
}

fn control(lab: &mut Lab, c: super::call::Control) -> Result<CallView, super::call::ControlError> {
    let now = lab.now;
    let r = lab
        .mgr
        .control("c1", "sip:alice@example.com", c, now)
        .unwrap();
    lab.flush();
    r
}

fn last_state(lab: &Lab) -> CallState {
    lab.views.last().unwrap().state
}

#[test]
fn hold_and_resume_a_direct_call_by_reinvites() {
    use super::call::Control;
    let mut lab = connected([Script::answers(), Script::answers()], false);
    let before = lab.at_pbx.len();
    control(&mut lab, Control::Hold).unwrap();
    assert!(lab.run(Duration::from_secs(10), |l| last_state(l)
        == CallState::OnHold));
    let holds: Vec<&Message> = lab.at_pbx[before..]
        .iter()
        .filter(|m| m.method() == Some(&Method::Invite))
        .collect();
    assert_eq!(holds.len(), 2, "both phones are re-INVITEd");
    for m in &holds {
        let text = std::str::from_utf8(m.body()).unwrap();
        assert!(text.contains("a=inactive"), "{text}");
    }
    // Holding twice changes nothing; a control while a change runs is refused.
    assert!(control(&mut lab, Control::Hold).is_ok());
    control(&mut lab, Control::Resume).unwrap();
    assert_eq!(
        control(&mut lab, Control::Hold),
        Err(super::call::ControlError::Busy)
    );
    assert!(lab.run(Duration::from_secs(10), |l| {
        let v = l.views.last().unwrap();
        v.state == CallState::Connected && v.media == "direct"
    }));
    let far_invites = lab.requests_to_pbx(Method::Invite, LegRole::Far);
    let last = far_invites.last().unwrap();
    assert_eq!(media_target(last.body()).unwrap().0.port(), 40000);
    assert!(!std::str::from_utf8(last.body())
        .unwrap()
        .contains("a=inactive"));
}

#[test]
fn mute_makes_the_users_phone_stop_sending() {
    use super::call::Control;
    let mut lab = connected([Script::answers(), Script::answers()], false);
    let v = control(&mut lab, Control::Mute).unwrap();
    assert!(v.muted);
    // Done when the phone's 200 to the mute re-INVITE is acknowledged.
    assert!(lab.run(Duration::from_secs(10), |l| {
        l.requests_to_pbx(Method::Ack, LegRole::Callback).len() == 3
    }));
    let invites = lab.requests_to_pbx(Method::Invite, LegRole::Callback);
    let mute = std::str::from_utf8(invites[2].body()).unwrap();
    assert!(mute.contains("a=sendonly"), "{mute}");
    assert_eq!(media_target(invites[2].body()).unwrap().0.port(), 40002);
    let v = control(&mut lab, Control::Unmute).unwrap();
    assert!(!v.muted);
}

#[test]
fn dtmf_goes_as_info_on_direct_calls_and_to_the_engine_when_anchored() {
    use super::call::Control;
    let mut lab = connected([Script::answers(), Script::answers()], false);
    control(&mut lab, Control::Dtmf("12#".into())).unwrap();
    assert!(lab.run(Duration::from_secs(5), |l| {
        l.requests_to_pbx(Method::Info, LegRole::Far).len() == 3
    }));
    let infos = lab.requests_to_pbx(Method::Info, LegRole::Far);
    let bodies: Vec<&str> = infos
        .iter()
        .map(|m| std::str::from_utf8(m.body()).unwrap())
        .collect();
    assert!(bodies[0].starts_with("Signal=1"));
    assert!(bodies[2].starts_with("Signal=#"));
    let mut lab = connected([Script::answers(), Script::answers()], true);
    control(&mut lab, Control::Dtmf("5".into())).unwrap();
    assert!(lab.media.contains(&MediaAction::Dtmf("5".into())));
    control(&mut lab, Control::Hold).unwrap();
    assert!(lab.media.contains(&MediaAction::Hold(true)));
    assert_eq!(last_state(&lab), CallState::OnHold);
}

#[test]
fn blind_transfer_by_refer_ends_the_users_call_as_transferred() {
    use super::call::Control;
    let far = Script {
        refer: Some(200),
        ..Script::answers()
    };
    let mut lab = connected([Script::answers(), far], false);
    control(
        &mut lab,
        Control::Transfer("sip:+14255550177@127.0.0.1:5070".into()),
    )
    .unwrap();
    assert!(lab.run(Duration::from_secs(30), |l| l.finished));
    assert_eq!(lab.end(), Some((EndReason::Transferred, HungUpBy::User)));
    let refer = &lab.requests_to_pbx(Method::Refer, LegRole::Far)[0];
    assert!(refer
        .get(HeaderName::ReferTo)
        .unwrap()
        .contains("+14255550177"));
    // A far side without REFER: ViaWork calls the target and puts it in the user's place.
    let mut lab = connected([Script::answers(), Script::answers()], false);
    control(
        &mut lab,
        Control::Transfer(format!("sip:{TARGET}@127.0.0.1:5070")),
    )
    .unwrap();
    assert!(lab.run(Duration::from_secs(30), |l| last_state(l)
        == CallState::Ended));
    assert_eq!(lab.end(), Some((EndReason::Transferred, HungUpBy::User)));
    assert_eq!(sent_to_target(&lab, Method::Invite), 1);
    let far = lab.requests_to_pbx(Method::Invite, LegRole::Far);
    assert_eq!(
        media_target(far.last().unwrap().body()).unwrap().0.port(),
        40006,
        "the far party now talks to the target"
    );
    assert!(lab.run(Duration::from_secs(10), |l| {
        l.requests_to_pbx(Method::Bye, LegRole::Callback).len() == 1
    }));
    // A failed transfer keeps the call.
    let far = Script {
        refer: Some(486),
        ..Script::answers()
    };
    let mut lab = connected([Script::answers(), far], false);
    control(
        &mut lab,
        Control::Transfer("sip:+14255550177@127.0.0.1:5070".into()),
    )
    .unwrap();
    assert!(lab.run(Duration::from_secs(30), |l| l
        .views
        .last()
        .is_some_and(|v| v.transfer_failed == Some(486))));
    assert_eq!(last_state(&lab), CallState::Connected);
}

fn sent_to_target(lab: &Lab, method: Method) -> usize {
    lab.at_pbx
        .iter()
        .filter(|m| m.method() == Some(&method))
        .filter(|m| {
            m.to_header()
                .map(|t| t.uri.to_string().contains(TARGET))
                .unwrap_or(false)
        })
        .count()
}

#[test]
fn a_transfer_from_the_users_desk_phone_keeps_the_others_connected() {
    let mut lab = connected([Script::answers(), Script::answers()], false);
    let far_invites_before = lab.requests_to_pbx(Method::Invite, LegRole::Far).len();
    lab.pbx_refer(LegRole::Callback, TARGET);
    assert!(lab.run(Duration::from_secs(30), |l| l
        .views
        .last()
        .is_some_and(|v| v.state == CallState::Ended)));
    assert_eq!(
        lab.end(),
        Some((EndReason::Transferred, HungUpBy::YourPhone))
    );
    // The target was called and joined with the far party: the far party got the
    // target's offer.
    assert_eq!(sent_to_target(&lab, Method::Invite), 1);
    let far_invites = lab.requests_to_pbx(Method::Invite, LegRole::Far);
    assert_eq!(far_invites.len(), far_invites_before + 1);
    assert_eq!(
        media_target(far_invites.last().unwrap().body())
            .unwrap()
            .0
            .port(),
        40006
    );
    // The referrer heard it worked, and its leg was hung up.
    assert!(lab.run(Duration::from_secs(10), |l| {
        l.requests_to_pbx(Method::Bye, LegRole::Callback).len() == 1
    }));
    let notify_200 = lab
        .at_pbx
        .iter()
        .any(|m| m.method() == Some(&Method::Notify) && m.body().starts_with(b"SIP/2.0 200"));
    assert!(notify_200);
    // Closing the call in the client does not drop the transferred call.
    let now = lab.now;
    lab.mgr.hang_up("c1", "sip:alice@example.com", now);
    lab.flush();
    assert!(!lab.run(Duration::from_secs(5), |l| l.finished));
    assert_eq!(lab.requests_to_pbx(Method::Bye, LegRole::Far).len(), 0);
    assert_eq!(sent_to_target(&lab, Method::Bye), 0);
    // When the far party hangs up, ViaWork hangs up the target and forgets the call.
    let far = lab.answered_leg(LegRole::Far);
    lab.in_dialog(&far, Method::Bye, None);
    assert!(lab.run(Duration::from_secs(30), |l| l.finished));
    assert_eq!(sent_to_target(&lab, Method::Bye), 1);
    assert!(lab.mgr.is_empty());
}

#[test]
fn a_transfer_by_the_far_party_keeps_the_user_connected_to_the_target() {
    let mut lab = connected([Script::answers(), Script::answers()], false);
    lab.pbx_refer(LegRole::Far, TARGET);
    assert!(
        lab.run(Duration::from_secs(30), |l| sent_to_target(l, Method::Ack)
            >= 1
            && l.requests_to_pbx(Method::Bye, LegRole::Far).len() == 1)
    );
    assert_eq!(last_state(&lab), CallState::Connected);
    // The user's phone was re-INVITEd with the target's media.
    let cb_invites = lab.requests_to_pbx(Method::Invite, LegRole::Callback);
    assert_eq!(
        media_target(cb_invites.last().unwrap().body())
            .unwrap()
            .0
            .port(),
        40006
    );
    let now = lab.now;
    lab.mgr.hang_up("c1", "sip:alice@example.com", now).unwrap();
    lab.flush();
    assert!(lab.run(Duration::from_secs(30), |l| l.finished));
    assert_eq!(lab.end(), Some((EndReason::Completed, HungUpBy::User)));
    assert_eq!(sent_to_target(&lab, Method::Bye), 1);
    assert_eq!(lab.requests_to_pbx(Method::Bye, LegRole::Callback).len(), 1);
}

#[test]
fn an_invite_with_replaces_for_the_users_leg_transfers_the_call() {
    let mut lab = connected([Script::answers(), Script::answers()], false);
    lab.pbx_replaces(LegRole::Callback);
    assert!(
        lab.run(Duration::from_secs(30), |l| !l.answers_to_pbx.is_empty()
            && l.requests_to_pbx(Method::Bye, LegRole::Callback).len() == 1)
    );
    // The far party was re-INVITEd with the new party's media, and the new party got the
    // far party's media in the 2xx.
    let far = lab.requests_to_pbx(Method::Invite, LegRole::Far);
    assert_eq!(
        media_target(far.last().unwrap().body()).unwrap().0.port(),
        40004
    );
    assert_eq!(
        media_target(lab.answers_to_pbx[0].body()).unwrap().0.port(),
        40002
    );
    assert_eq!(
        lab.end(),
        Some((EndReason::Transferred, HungUpBy::YourPhone))
    );
    let now = lab.now;
    lab.mgr.hang_up("c1", "sip:alice@example.com", now);
    lab.flush();
    assert!(!lab.run(Duration::from_secs(3), |l| l.finished));
    assert!(lab.requests_to_pbx(Method::Bye, LegRole::Far).is_empty());
}

#[test]
fn an_invite_with_replaces_for_no_dialog_gets_481() {
    let mut lab = connected([Script::answers(), Script::answers()], false);
    // Corrupt the tags: no dialog matches.
    lab.legs.values_mut().for_each(|l| l.tag = "nope".into());
    lab.pbx_replaces(LegRole::Callback);
    let got_481 = |l: &Lab| l.pbx_responses.contains(&481);
    assert!(lab.run(Duration::from_secs(10), got_481));
    assert_eq!(last_state(&lab), CallState::Connected);
}

#[test]
fn a_silent_trunk_target_fails_over_to_the_next() {
    let mut far = Script::answers();
    far.bye_after = Some(Duration::from_secs(1));
    let mut lab = Lab::new([Script::answers(), far], 0.0, 11);
    // The first target is down; the PBX is the second (RFC 3263 order).
    lab.set_trunk(&[addr("127.0.0.1:5999"), addr(PBX)], |_| {});
    lab.start(false);
    assert!(
        lab.run(Duration::from_secs(60), |l| l.finished),
        "{:?}",
        lab.states()
    );
    assert_eq!(lab.end(), Some((EndReason::Completed, HungUpBy::FarEnd)));
    assert!(lab.sent_elsewhere > 0, "the dead target was tried first");
    // Each leg reached the PBX after the fast failover timer, well before its ring timeout.
    let cb = lab.requests_to_pbx(Method::Invite, LegRole::Callback);
    assert_eq!(cb[0].cseq().unwrap().seq, 1);
}

#[test]
fn an_invite_with_replaces_from_an_untrusted_source_gets_403() {
    let mut lab = connected([Script::answers(), Script::answers()], false);
    lab.mgr.set_trusted(vec!["192.0.2.0/24".parse().unwrap()]);
    lab.pbx_replaces(LegRole::Callback);
    assert!(lab.run(Duration::from_secs(10), |l| l.pbx_responses.contains(&403)));
    assert_eq!(last_state(&lab), CallState::Connected);
}

#[test]
fn session_timers_are_refreshed_by_viawork() {
    let mut lab = Lab::new([Script::answers(), Script::answers()], 0.0, 12);
    lab.set_trunk(&[addr(PBX)], |c| c.session_expires_secs = 90);
    lab.start(false);
    assert!(lab.run(Duration::from_secs(30), |l| last_state(l)
        == CallState::Connected));
    let invites_before = lab
        .at_pbx
        .iter()
        .filter(|m| m.method() == Some(&Method::Invite))
        .count();
    // Well past two refresh intervals (half of 90 s each).
    assert!(!lab.run(Duration::from_secs(200), |l| l.finished));
    assert_eq!(last_state(&lab), CallState::Connected);
    let refreshes = lab
        .at_pbx
        .iter()
        .filter(|m| m.method() == Some(&Method::Invite))
        .count()
        - invites_before;
    assert!(
        refreshes >= 4,
        "both legs refreshed at least twice: {refreshes}"
    );
    let first = &lab.requests_to_pbx(Method::Invite, LegRole::Callback)[0];
    assert!(first.get(HeaderName::SessionExpires).is_some());
    assert!(first.get(HeaderName::Supported).unwrap().contains("timer"));
}

#[test]
fn without_refer_a_desk_phone_transfer_shows_as_a_new_party_and_detaches_the_call() {
    let mut lab = Lab::new([Script::answers(), Script::answers()], 0.0, 13);
    lab.set_trunk(&[addr(PBX)], |c| c.refer_with_replaces = false);
    lab.start(false);
    assert!(lab
        .run(Duration::from_secs(30), |l| l.views.last().is_some_and(
            |v| v.state == CallState::Connected && v.media == "direct"
        )));
    // The PBX moved the far party to +14255550177 itself and re-INVITEs our leg.
    let cb = lab.answered_leg(LegRole::Callback);
    let mut media = LegSession::new(LocalMedia::new("127.0.0.2".parse().unwrap(), 40008));
    lab.reinvite_with = Some((format!("<sip:{TARGET}@{PBX}>"), media.own_offer()));
    lab.in_dialog(&cb, Method::Invite, None);
    assert!(lab.run(Duration::from_secs(30), |l| last_state(l)
        == CallState::Ended));
    assert_eq!(
        lab.end(),
        Some((EndReason::Transferred, HungUpBy::YourPhone))
    );
    // The far party follows the new media; closing the call in the client drops nothing.
    assert!(lab.run(Duration::from_secs(10), |l| {
        l.requests_to_pbx(Method::Invite, LegRole::Far).len() == 3
    }));
    let far = lab.requests_to_pbx(Method::Invite, LegRole::Far);
    assert_eq!(
        media_target(far.last().unwrap().body()).unwrap().0.port(),
        40008
    );
    let now = lab.now;
    lab.mgr.hang_up("c1", "sip:alice@example.com", now);
    lab.flush();
    assert!(!lab.run(Duration::from_secs(3), |l| l.finished));
    assert!(lab.requests_to_pbx(Method::Bye, LegRole::Far).is_empty());
    assert!(lab
        .requests_to_pbx(Method::Bye, LegRole::Callback)
        .is_empty());
}

#[test]
fn a_reinvite_asserting_the_users_own_phone_is_not_a_transfer() {
    let mut lab = Lab::new([Script::answers(), Script::answers()], 0.0, 14);
    lab.set_trunk(&[addr(PBX)], |c| c.refer_with_replaces = false);
    lab.start(false);
    assert!(lab
        .run(Duration::from_secs(30), |l| l.views.last().is_some_and(
            |v| v.state == CallState::Connected && v.media == "direct"
        )));
    let cb = lab.answered_leg(LegRole::Callback);
    let mut media = LegSession::new(LocalMedia::new("127.0.0.2".parse().unwrap(), 40000));
    lab.reinvite_with = Some((format!("<sip:{CALLBACK}@{PBX}>"), media.own_offer()));
    lab.in_dialog(&cb, Method::Invite, None);
    assert!(!lab.run(Duration::from_secs(5), |l| last_state(l)
        == CallState::Ended));
    assert_eq!(last_state(&lab), CallState::Connected);
}

#[test]
fn a_pbx_that_never_answers_is_trunk_unavailable_at_timer_b() {
    let mut lab = Lab::new([Script::answers(), Script::answers()], 0.0, 15);
    // The only target is down; the ring timeout is longer than Timer B (32 s).
    lab.set_trunk(&[addr("127.0.0.1:5999")], |_| {});
    lab.ring_timeouts = [Duration::from_secs(60), Duration::from_secs(60)];
    lab.start(false);
    assert!(lab.run(Duration::from_secs(120), |l| l.finished));
    assert_eq!(
        lab.end(),
        Some((EndReason::TrunkUnavailable, HungUpBy::System))
    );
    assert!(lab.mgr.is_empty());
}

#[test]
fn the_users_phone_hanging_up_ends_the_far_leg() {
    let mut lab = connected([Script::answers(), Script::answers()], false);
    let cb = lab.answered_leg(LegRole::Callback);
    lab.in_dialog(&cb, Method::Bye, None);
    assert!(lab.run(Duration::from_secs(30), |l| l.finished));
    assert_eq!(lab.end(), Some((EndReason::Completed, HungUpBy::YourPhone)));
    assert_eq!(lab.requests_to_pbx(Method::Bye, LegRole::Far).len(), 1);
}

#[test]
fn hanging_up_before_any_provisional_cancels_once_one_arrives() {
    let slow = Script {
        ring_after: Some(Duration::from_secs(2)),
        answer: Some((200, Duration::from_secs(20))),
        ..Script::answers()
    };
    let mut lab = Lab::new([slow, Script::answers()], 0.0, 16);
    let id = lab.start(false);
    // At once: the callback INVITE has had no response yet (RFC 3261 §9.1: no CANCEL
    // before a provisional).
    let now = lab.now;
    let v = lab.mgr.hang_up(&id, "sip:alice@example.com", now).unwrap();
    assert_eq!(v.end_reason, Some(EndReason::Cancelled));
    lab.flush();
    assert!(lab.run(Duration::from_secs(30), |l| l.finished));
    assert_eq!(lab.end(), Some((EndReason::Cancelled, HungUpBy::User)));
    assert_eq!(
        lab.requests_to_pbx(Method::Cancel, LegRole::Callback).len(),
        1
    );
    assert!(lab.requests_to_pbx(Method::Invite, LegRole::Far).is_empty());
}

#[test]
fn a_491_on_the_join_is_retried_after_the_back_off() {
    let mut far = Script::answers();
    far.bye_after = Some(Duration::from_secs(10));
    let mut lab = Lab::new([Script::answers(), far], 0.0, 17);
    lab.glare_once = true;
    lab.start(false);
    assert!(lab
        .run(Duration::from_secs(30), |l| l.views.last().is_some_and(
            |v| v.state == CallState::Connected && v.media == "direct"
        )));
    // The user's phone got the offerless re-INVITE twice: once refused with 491, once
    // after the back-off.
    let cb = lab.requests_to_pbx(Method::Invite, LegRole::Callback);
    assert_eq!(cb.len(), 3, "initial, 491'd join, retried join");
    assert!(cb[1].body().is_empty() && cb[2].body().is_empty());
    assert!(lab.run(Duration::from_secs(30), |l| l.finished));
    assert_eq!(lab.end(), Some((EndReason::Completed, HungUpBy::FarEnd)));
}

#[test]
fn a_far_end_answering_at_once_gets_no_ringback_before_the_join() {
    let quick = Script {
        ring_after: Some(Duration::from_millis(50)),
        answer: Some((200, Duration::from_millis(120))),
        bye_after: Some(Duration::from_secs(1)),
        ..Script::answers()
    };
    let mut lab = Lab::new([Script::answers(), quick], 0.0, 18);
    lab.start(false);
    assert!(lab.run(Duration::from_secs(30), |l| l.finished));
    assert_eq!(lab.end(), Some((EndReason::Completed, HungUpBy::FarEnd)));
    assert!(!lab.media.contains(&MediaAction::Ringback));
    assert!(lab.views.iter().any(|v| v.media == "direct"));
}

#[test]
fn hanging_up_reports_the_end_time() {
    let mut lab = connected([Script::answers(), Script::answers()], false);
    let now = lab.now;
    let v = lab.mgr.hang_up("c1", "sip:alice@example.com", now).unwrap();
    assert_eq!(v.state, CallState::Ended);
    assert!(v.ended_at.is_some());
}
