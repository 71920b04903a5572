//! Incoming calls: who a new INVITE is for and where it rings. This is the glue between
//! the SIP side and the directory; the ringing itself is the sans-IO
//! [`crate::calls::ringing`] inside the call service.
//!
//! - **From the PBX** (a trusted trunk source, `pbx.trusted_sources`): the Request-URI
//!   names the user by their line number (`+14255550101`, or digits the global dial plan
//!   normalises), their line extension or their SIP address. The caller is the
//!   P-Asserted-Identity, else the From.
//! - **From a SIP client**: it authenticates like a MESSAGE (`407`, the registrar's
//!   digest); the Request-URI names a user (`sip:bob@example.com`, or at the server's
//!   address). The caller is the authenticated user.
//!
//! The user's call forwarding settings (`docs/call-forwarding.md`) decide the branches:
//! immediate forward rings only the target; otherwise the PBX phone (through the trunk,
//! on the line's extension when it has one, else its number; never the very number the
//! PBX just sent, which would loop), every registered SIP client, every signed-in API
//! client (`call.incoming`) and the simultaneous-ring target after its delay; unanswered
//! calls and declines go to the unanswered-call target. Forwarded INVITEs carry
//! `Diversion` (RFC 5806) naming the user, so a voicemail system opens their mailbox.

use crate::api::{me::user_policy, AppState};
use crate::calls::leg::LegSetup;
use crate::calls::manager::{NewBridge, NewDialIn, NewIncoming, NewInvite, BRIDGE_OWNER};
use crate::calls::media::MeetingJoin;
use crate::calls::ringing::{BranchKind, BranchPlan, RingPlan};
use crate::calls::service::CallsHandle;
use crate::calls::trunk::Trunk;
use crate::config::{CallsConfig, Cidr};
use crate::domain::{callback_number, Dialable, LineUri, E164};
use crate::forwarding::{Active, Kind, Settings};
use crate::store::{UserRow, GLOBAL_SCOPE};
use sip::{HeaderName, Message};
use sip_stack::auth::ChallengeKind;
use sip_stack::dialog::LocalVia;
use sip_stack::endpoint::EndpointHandle;
use sip_stack::transaction::{Peer, TransactionKey, Transport};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Routes new INVITEs to users. Cheap to clone.
#[derive(Clone)]
pub struct Router {
    state: AppState,
    calls: CallsHandle,
    trunk: Arc<Trunk>,
    config: CallsConfig,
    trusted: Arc<[Cidr]>,
    endpoint: EndpointHandle,
    /// INVITEs being routed, so a CANCEL that arrives meanwhile can stop them.
    pending: Arc<Mutex<HashMap<TransactionKey, Message>>>,
}

/// Who called, as shown to the user.
struct Caller {
    /// A number or a SIP URI.
    shown: String,
    name: Option<String>,
    /// The From URI the branches carry.
    from_uri: String,
}

impl Router {
    /// A router over the server's state, the call service and its trunk.
    pub fn new(
        state: AppState,
        calls: CallsHandle,
        trunk: Arc<Trunk>,
        config: CallsConfig,
        endpoint: EndpointHandle,
    ) -> Router {
        let trusted = trunk.trusted_sources();
        Router {
            state,
            calls,
            trunk,
            config,
            trusted: trusted.into(),
            endpoint,
            pending: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// True for a new INVITE (no To tag) this router should take.
    pub fn claims(msg: &Message) -> bool {
        msg.method() == Some(&sip::Method::Invite)
            && msg.to_header().is_ok_and(|t| t.tag().is_none())
    }

    /// A CANCEL for an INVITE still being routed: it will not ring. Returns the INVITE
    /// (to answer `487`) when it was one of ours.
    pub fn cancel(&self, invite_key: TransactionKey) -> Option<Message> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&invite_key)
    }

    /// Routes `invite` and starts it ringing; answers it when it cannot ring.
    pub async fn route(&self, key: TransactionKey, invite: Message, peer: Peer) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, invite.clone());
        let refusal = match self.plan(&invite, peer).await {
            Ok(route) => {
                if self.cancel(key).is_none() {
                    return; // CANCELled meanwhile (answered 487 then).
                }
                let id = format!("{:032x}", rand::random::<u128>());
                let started = self
                    .calls
                    .invite(id, route, key, invite.clone(), peer)
                    .await;
                match started {
                    Ok(Ok(_)) => return,
                    Ok(Err(crate::calls::StartError::TrunkUnavailable)) => Refusal::Status(503),
                    Ok(Err(e)) => {
                        tracing::info!(error = %e, "cannot start the call");
                        Refusal::Status(500)
                    }
                    Err(_) => Refusal::Status(503),
                }
            }
            Err(r) => {
                if self.cancel(key).is_none() {
                    return;
                }
                r
            }
        };
        let resp = match refusal {
            Refusal::Message(m) => Some(*m),
            Refusal::Status(code) => {
                sip::ResponseBuilder::reply(&invite, code, Some(&crate::sip_service::new_tag()))
                    .build()
                    .ok()
            }
        };
        if let Some(resp) = resp {
            if let Err(e) = self.endpoint.send_response(key, resp).await {
                tracing::debug!(error = %e, "could not refuse an INVITE");
            }
        }
    }

    fn is_from_pbx(&self, peer: Peer) -> bool {
        self.trusted.iter().any(|c| c.contains(peer.addr.ip()))
    }

    /// Who the INVITE is for and where it rings (or, from a SIP client to a number,
    /// where it goes through the trunk).
    async fn plan(&self, invite: &Message, peer: Peer) -> Result<NewInvite, Refusal> {
        if self.is_from_pbx(peer) {
            if let Some(bridge) = self.bridge_dialled(invite) {
                let caller = caller_from_pbx(invite, &self.trunk.domain);
                return self.dial_in(bridge, caller).await;
            }
        }
        let (callee, caller, dialled) = if self.is_from_pbx(peer) {
            let (callee, dialled) = self.callee_from_pbx(invite).await?;
            (callee, caller_from_pbx(invite, &self.trunk.domain), dialled)
        } else {
            let registrar = self.state.registrar.as_ref().ok_or(Refusal::Status(403))?;
            let user = registrar
                .authenticate(invite, ChallengeKind::Proxy)
                .await
                .map_err(|r| r.map_or(Refusal::Status(403), |m| Refusal::Message(Box::new(m))))?;
            let mut callee = None;
            for candidate in registrar.addressed(invite) {
                if let Some(u) = self.state.directory.user_by_sip_uri(&candidate).await? {
                    callee = Some(u);
                    break;
                }
            }
            let Some(callee) = callee else {
                return self.outbound(&user, invite).await;
            };
            let from_uri = match user.line_uri.parse::<LineUri>() {
                Ok(l) => format!(
                    "sip:{}@{};user=phone",
                    l.number().as_str(),
                    self.trunk.domain
                ),
                Err(_) => user.sip_uri.clone(),
            };
            let caller = Caller {
                shown: user.sip_uri.clone(),
                name: (!user.display_name.is_empty()).then(|| user.display_name.clone()),
                from_uri,
            };
            (callee, caller, None)
        };
        if !callee.enabled {
            return Err(Refusal::Status(404));
        }
        let settings = self.forwarding(&callee).await?;
        let (plan, callback_number) = self
            .ring_plan(&callee, &caller, dialled.as_deref(), &settings)
            .await?;
        let to_number = callee
            .line_uri
            .parse::<LineUri>()
            .map(|l| l.number().to_string())
            .unwrap_or_default();
        let uas = self.trunk.leg_as(
            callee.sip_uri.clone(),
            caller.from_uri.clone(),
            caller.name.clone(),
        );
        Ok(NewInvite::Ring(Box::new(NewIncoming {
            owner: callee.sip_uri.clone(),
            from: caller.shown,
            from_name: caller.name,
            to: callee.sip_uri.clone(),
            to_number,
            callback_number,
            uas,
            plan,
            local_ip: self.trunk.local.ip(),
        })))
    }

    /// The conference bridge number the INVITE's Request-URI names, if it names one.
    fn bridge_dialled(&self, invite: &Message) -> Option<String> {
        let user = match invite.request_uri() {
            Some(Ok(sip::Uri::Sip(u))) => u.user_decoded().map(|c| c.into_owned()),
            Some(Ok(sip::Uri::Tel(t))) => Some(t.digits()),
            _ => None,
        }?;
        self.state
            .meetings
            .config()
            .bridge_for(&user)
            .map(|b| b.number.to_string())
    }

    /// A call to a conference bridge number: answered by ViaWork, whose voice menu asks
    /// for the conference ID (and, from a caller who has one, the PIN).
    async fn dial_in(&self, bridge: String, caller: Caller) -> Result<NewInvite, Refusal> {
        let (Some(api), Some(runtime)) = (&self.state.calls, &self.state.meetings_runtime) else {
            return Err(Refusal::Status(503));
        };
        let (streams, [local, _]) = api.media.open_meeting_call().await.map_err(|e| {
            tracing::warn!(error = %e, "no media stream for a dial-in call");
            Refusal::Status(503)
        })?;
        // The caller ID may name a user: then only their PIN is asked.
        let user = if caller.shown.starts_with('+') {
            let index = self.state.people.index().await?;
            index
                .by_line_number(&caller.shown)
                .map(|p| (p.sip_uri.clone(), p.display_name.clone()))
        } else {
            None
        };
        let owner = user
            .as_ref()
            .map_or_else(|| BRIDGE_OWNER.to_owned(), |(u, _)| u.clone());
        let name = user
            .as_ref()
            .map(|(_, n)| n.clone())
            .or(caller.name.clone())
            .unwrap_or_else(|| caller.shown.clone());
        let streams = streams.for_meeting(MeetingJoin {
            meeting_id: None,
            user: user.map(|(u, _)| u),
            name,
            admitted: false,
            owner: owner.clone(),
            to: runtime.calls_sender(),
        });
        let uas = self.trunk.leg_as(
            format!("sip:{bridge}@{}", self.trunk.domain),
            caller.from_uri.clone(),
            caller.name.clone(),
        );
        Ok(NewInvite::DialIn(Box::new(NewDialIn {
            owner,
            from: caller.shown,
            from_name: caller.name,
            to: bridge,
            uas,
            local,
            streams: Some(streams),
        })))
    }

    /// A registered client's call to a number: through the trunk as the user (their
    /// line number as caller ID), dialled through their dial plan, like an API call.
    async fn outbound(&self, user: &UserRow, invite: &Message) -> Result<NewInvite, Refusal> {
        let dialled = match invite.request_uri() {
            Some(Ok(sip::Uri::Sip(u))) => u.user_decoded().map(|c| c.into_owned()),
            Some(Ok(sip::Uri::Tel(t))) => Some(t.digits()),
            _ => None,
        }
        .ok_or(Refusal::Status(404))?;
        let line = match (user.enterprise_voice, user.line_uri.parse::<LineUri>()) {
            (true, Ok(l)) => l,
            _ => return Err(Refusal::Status(403)),
        };
        let plan = crate::api::calls::dial_plan(&self.state.directory, user)
            .await
            .map_err(|_| Refusal::internal(format!("no dial plan for {}", user.sip_uri)))?;
        let to = plan
            .normalize(&dialled)
            .map_err(|_| Refusal::Status(404))?
            .result;
        // The same per-user limit as API calls (toll fraud, harassment).
        if let Some(api) = &self.state.calls {
            if let Err(wait) = api.admit(user.id).await {
                tracing::info!(user = %user.sip_uri, ?wait, "too many calls from a SIP client");
                return Err(Refusal::Status(403));
            }
        }
        let display = (!user.display_name.is_empty()).then(|| user.display_name.clone());
        Ok(NewInvite::Out(Box::new(NewBridge {
            owner: user.sip_uri.clone(),
            to: dialled,
            to_number: to.to_string(),
            setup: self
                .trunk
                .leg(self.trunk.uri_for(&to), line.number(), display),
            ring_timeout: self.config.far_ring_timeout,
            local_ip: self.trunk.local.ip(),
        })))
    }

    /// The user the PBX's INVITE names, and the number it dialled.
    async fn callee_from_pbx(
        &self,
        invite: &Message,
    ) -> Result<(Arc<UserRow>, Option<String>), Refusal> {
        let user_part = match invite.request_uri() {
            Some(Ok(sip::Uri::Sip(u))) => {
                if let Some(user) = u.user {
                    let uri = format!("sip:{user}@{}", u.host).to_ascii_lowercase();
                    if let Some(row) = self.state.directory.user_by_sip_uri(&uri).await? {
                        return Ok((row, None));
                    }
                }
                u.user_decoded().map(|c| c.into_owned())
            }
            Some(Ok(sip::Uri::Tel(t))) => Some(t.digits()),
            _ => None,
        }
        .ok_or(Refusal::Status(404))?;
        let index = self.state.people.index().await?;
        let digits: String = user_part
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect();
        let mut found = None;
        if digits.starts_with('+') {
            found = index.by_line_number(&digits).map(|p| p.sip_uri.clone());
        }
        if found.is_none() {
            found = index.by_line_extension(&digits).map(|p| p.sip_uri.clone());
        }
        if found.is_none() {
            let plan = self
                .state
                .directory
                .dial_plan(GLOBAL_SCOPE)
                .await
                .map_err(|e| Refusal::internal(e.to_string()))?;
            if let Ok(n) = plan.normalize(&user_part) {
                found = match n.result {
                    Dialable::E164(e) => index.by_line_number(e.as_str()),
                    Dialable::Extension(x) => index.by_line_extension(&x.to_string()),
                }
                .map(|p| p.sip_uri.clone());
            }
        }
        let uri = found.ok_or(Refusal::Status(404))?;
        let row = self
            .state
            .directory
            .user_by_sip_uri(&uri)
            .await?
            .ok_or(Refusal::Status(404))?;
        Ok((row, Some(digits.trim_start_matches('+').to_owned())))
    }

    async fn forwarding(&self, user: &UserRow) -> Result<Settings, Refusal> {
        match self.state.store.get_call_forwarding(user.id).await {
            Ok(Some((json, _))) => serde_json::from_str(&json).map_err(|e| {
                Refusal::internal(format!("stored forwarding of {}: {e}", user.sip_uri))
            }),
            Ok(None) => Ok(Settings::default()),
            Err(e) => Err(Refusal::internal(e.to_string())),
        }
    }

    /// Where `callee`'s call from `caller` rings. `dialled` is the number the PBX sent
    /// (digits), which is never rung back through the PBX.
    async fn ring_plan(
        &self,
        callee: &UserRow,
        caller: &Caller,
        dialled: Option<&str>,
        settings: &Settings,
    ) -> Result<(RingPlan, String), Refusal> {
        let line = callee.line_uri.parse::<LineUri>().ok();
        let voice = callee.enterprise_voice;
        let forward_to = |kind: Kind, to: &str, reason: &str, delay: Duration| {
            let target = match kind {
                Kind::Voicemail => to.to_owned(),
                Kind::Contact | Kind::Number => return None,
            };
            Some(self.forward_branch(callee, caller, target, reason, delay))
        };
        let mut plan = RingPlan {
            branches: Vec::new(),
            offer_clients: false,
            callback: None,
            callback_timeout: self.config.callback_ring_timeout,
            unanswered: None,
            decline_to: None,
            ring_timeout: self.config.incoming_ring_timeout,
        };
        if settings.active == Active::ImmediateForward {
            if let Some(t) = &settings.immediate_forward {
                let target = match t.target {
                    Kind::Voicemail => forward_to(t.target, &t.to, "unconditional", Duration::ZERO),
                    _ => self.number_target(t.target, &t.to).await?.map(|d| {
                        self.forward_branch(
                            callee,
                            caller,
                            self.trunk.uri_for(&d),
                            "unconditional",
                            Duration::ZERO,
                        )
                    }),
                };
                if let Some(b) = target.filter(|_| voice || t.target == Kind::Voicemail) {
                    plan.branches.push(b);
                    return Ok((plan, String::new()));
                }
            }
        }
        // The PBX phone, with the caller's identity.
        if let (true, true, Some(line)) = (self.config.ring_desk_phone, voice, &line) {
            let desk = match line.extension() {
                Some(x) => Dialable::Extension(x.clone()),
                None => Dialable::E164(line.number().clone()),
            };
            let desk_digits = desk.to_string().trim_start_matches('+').to_owned();
            if dialled.is_some_and(|d| d == desk_digits) {
                tracing::warn!(
                    user = %callee.sip_uri,
                    number = %desk,
                    "the PBX routes this user's line to ViaWork: their PBX phone is not rung \
                     (give the line URI an ;ext= the PBX rings directly)"
                );
            } else {
                plan.branches.push(BranchPlan {
                    kind: BranchKind::DeskPhone,
                    setup: self.trunk.leg_as(
                        self.trunk.uri_for(&desk),
                        caller.from_uri.clone(),
                        caller.name.clone(),
                    ),
                    delay: Duration::ZERO,
                });
            }
        }
        // Registered SIP clients.
        if let Some(registrar) = &self.state.registrar {
            for b in registrar.contacts(&callee.sip_uri) {
                if let Some(setup) = self.client_leg(&b, caller) {
                    plan.branches.push(BranchPlan {
                        kind: BranchKind::SipClient,
                        setup,
                        delay: Duration::ZERO,
                    });
                }
            }
        }
        // Signed-in API clients, and the callback they answer with.
        plan.offer_clients = self.state.events.is_connected(&callee.sip_uri);
        let mut callback_number = String::new();
        if plan.offer_clients && voice {
            if let Some((leg, number)) = self.callback_leg(callee, line.as_ref()).await {
                plan.callback = Some(leg);
                callback_number = number;
            }
        }
        if settings.active == Active::SimultaneousRing && voice {
            if let Some(s) = &settings.simultaneous_ring {
                if let Some(d) = self.number_target(s.target, &s.to).await? {
                    plan.branches.push(BranchPlan {
                        kind: BranchKind::SimultaneousRing,
                        setup: self.trunk.leg_as(
                            self.trunk.uri_for(&d),
                            caller.from_uri.clone(),
                            caller.name.clone(),
                        ),
                        delay: Duration::from_secs(u64::from(s.ring_delay_secs)),
                    });
                }
            }
        }
        if settings.unanswered_applies() {
            if let Some(u) = &settings.unanswered {
                let after = Duration::from_secs(u64::from(u.after_secs));
                let target = match u.target {
                    Kind::Voicemail => forward_to(u.target, &u.to, "no-answer", Duration::ZERO),
                    _ if voice => self.number_target(u.target, &u.to).await?.map(|d| {
                        self.forward_branch(
                            callee,
                            caller,
                            self.trunk.uri_for(&d),
                            "no-answer",
                            Duration::ZERO,
                        )
                    }),
                    _ => None,
                };
                if let Some(t) = target {
                    let mut declined = t.clone();
                    declined.setup.extra = vec![(
                        "Diversion",
                        diversion(callee, &self.trunk.domain, "deflection"),
                    )];
                    plan.decline_to = Some(declined);
                    plan.unanswered = Some((after, t));
                }
            }
        }
        Ok((plan, callback_number))
    }

    /// A forwarding branch through the trunk to `target`, with `Diversion`.
    fn forward_branch(
        &self,
        callee: &UserRow,
        caller: &Caller,
        target: String,
        reason: &str,
        delay: Duration,
    ) -> BranchPlan {
        let mut setup = self
            .trunk
            .leg_as(target, caller.from_uri.clone(), caller.name.clone());
        setup.extra = vec![("Diversion", diversion(callee, &self.trunk.domain, reason))];
        BranchPlan {
            kind: BranchKind::Forward,
            setup,
            delay,
        }
    }

    /// A contact's line or a number, to dial through the trunk.
    async fn number_target(&self, kind: Kind, to: &str) -> Result<Option<Dialable>, Refusal> {
        match kind {
            Kind::Contact => {
                let row = self.state.directory.user_by_sip_uri(to).await?;
                Ok(row
                    .and_then(|r| r.line_uri.parse::<LineUri>().ok())
                    .map(|l| Dialable::E164(l.number().clone())))
            }
            Kind::Number => Ok(match to.parse::<E164>() {
                Ok(n) => Some(Dialable::E164(n)),
                Err(_) => to
                    .parse::<crate::domain::Extension>()
                    .ok()
                    .map(Dialable::Extension),
            }),
            Kind::Voicemail => Ok(None),
        }
    }

    /// The Call Via Work callback to the user's PBX phone for an accept in a client, and
    /// the number it rings.
    async fn callback_leg(
        &self,
        user: &UserRow,
        line: Option<&LineUri>,
    ) -> Option<(LegSetup, String)> {
        let policy = user_policy(&self.state.directory, user).await.ok()?;
        let callback = callback_number(&policy, None, line).ok()?;
        let caller_id = self
            .state
            .directory
            .call_via_work_caller_id()
            .await
            .ok()??;
        let leg = self.trunk.leg(
            self.trunk
                .uri_for(&Dialable::E164(callback.number().clone())),
            &caller_id,
            Some("Call Via Work".to_owned()),
        );
        Some((leg, callback.number().to_string()))
    }

    /// A branch to a registered contact: sent where its REGISTER came from.
    fn client_leg(
        &self,
        b: &crate::registrar::bindings::Binding,
        caller: &Caller,
    ) -> Option<LegSetup> {
        let transport = Transport::from_via_token(&b.transport)?;
        let local = self.endpoint.local_addr(transport)?;
        let sent_by = crate::sip_service::sent_by(local);
        let via = LocalVia::new(transport.as_str(), &sent_by).ok()?;
        let base = self
            .trunk
            .leg_as(b.uri.clone(), caller.from_uri.clone(), caller.name.clone());
        Some(LegSetup {
            contact: format!("sip:viawork@{sent_by}"),
            via,
            peer: Peer::new(b.source, transport),
            alternates: Vec::new(),
            auth: None,
            route: None,
            session_timer: None,
            prack: false,
            privacy_id: false,
            asserted: None,
            ..base
        })
    }
}

/// `Diversion` (RFC 5806) naming `user` as the one the call was for.
fn diversion(user: &UserRow, domain: &str, reason: &str) -> String {
    let uri = match user.line_uri.parse::<LineUri>() {
        Ok(l) => format!("sip:{}@{domain};user=phone", l.number().as_str()),
        Err(_) => user.sip_uri.clone(),
    };
    format!("<{uri}>;reason={reason};counter=1")
}

/// The caller of a PBX INVITE: P-Asserted-Identity (the PBX is trusted), else From.
fn caller_from_pbx(invite: &Message, domain: &str) -> Caller {
    let pai = invite.get(HeaderName::PAssertedIdentity).and_then(|v| {
        sip::name_addr::NameAddr::parse(v).ok().map(|n| {
            (
                n.display_name.map(|d| d.text().into_owned()),
                n.uri.to_string(),
            )
        })
    });
    let from = invite.from_header().ok().map(|f| {
        (
            f.display_name.map(|d| d.text().into_owned()),
            f.uri.to_string(),
        )
    });
    let (name, uri) = pai.or(from).unwrap_or((None, String::new()));
    let user = uri
        .split_once(':')
        .map(|(_, r)| r.split(['@', ';', '>']).next().unwrap_or(""))
        .unwrap_or("");
    let shown = if user.chars().all(|c| c.is_ascii_digit() || c == '+') && !user.is_empty() {
        user.to_owned()
    } else {
        uri.clone()
    };
    let from_uri = if user.is_empty() {
        format!("sip:anonymous@{domain}")
    } else {
        format!("sip:{user}@{domain}")
    };
    Caller {
        shown,
        name: name.filter(|n| !n.is_empty()),
        from_uri,
    }
}

/// Why an INVITE does not ring.
enum Refusal {
    /// Answer with this status.
    Status(u16),
    /// Answer with this response (a challenge).
    Message(Box<Message>),
}

impl Refusal {
    fn internal(why: String) -> Refusal {
        tracing::warn!(error = %why, "cannot route an incoming call");
        Refusal::Status(500)
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(e: crate::store::StoreError) -> Refusal {
        Refusal::internal(e.to_string())
    }
}
