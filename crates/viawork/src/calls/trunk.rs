//! The trunk to the PBX: where legs go, how they are addressed (numbers in the PBX's
//! format, caller ID in From and P-Asserted-Identity), the credentials for its
//! challenges, and whether it is up (OPTIONS keep-alive, sans-IO in [`TrunkHealth`]).

use super::leg::LegSetup;
use crate::config::{NumberFormat, PbxConfig};
use crate::domain::{Dialable, E164};
use sip_stack::auth::DigestClient;
use sip_stack::dialog::LocalVia;
use sip_stack::transaction::{Peer, Transport};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A resolved trunk. Built once at startup; nothing per call is expensive.
#[derive(Debug, Clone)]
pub struct Trunk {
    /// The PBX's address (the first target of the RFC 3263 plan).
    pub peer: Peer,
    /// The other targets, in order: a leg whose INVITE gets no answer, a transport error
    /// or a 503 tries them in turn (RFC 3263 §4.3).
    pub alternates: Vec<Peer>,
    /// The host written in Request-URIs.
    pub host: String,
    /// Our address on the trunk's transport.
    pub local: SocketAddr,
    /// Our SIP domain (the host of From URIs).
    pub domain: String,
    /// User-Agent / Server value.
    pub user_agent: String,
    config: PbxConfig,
}

impl Trunk {
    /// A trunk to `peers` (already resolved, in order; at least one) with our listener
    /// `local` on its transport.
    pub fn new(
        config: PbxConfig,
        peers: &[SocketAddr],
        local: SocketAddr,
        domain: &str,
        user_agent: &str,
    ) -> Trunk {
        let t = config.transport.transport();
        let mut all = peers.iter().map(|a| Peer::new(*a, t));
        let peer = all
            .next()
            .unwrap_or_else(|| Peer::new(SocketAddr::from(([127, 0, 0, 1], 5060)), t));
        let alternates = all.collect();
        let host = match config.port {
            Some(p) if config.host.contains(':') => format!("[{}]:{p}", config.host),
            Some(p) => format!("{}:{p}", config.host),
            None if config.host.contains(':') => format!("[{}]", config.host),
            None => config.host.clone(),
        };
        Trunk {
            peer,
            alternates,
            host,
            local,
            domain: domain.to_owned(),
            user_agent: user_agent.to_owned(),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PbxConfig {
        &self.config
    }

    /// Who may send requests outside a dialog as the PBX: `pbx.trusted_sources`, by
    /// default only the trunk's own addresses.
    pub fn trusted_sources(&self) -> Vec<crate::config::Cidr> {
        if !self.config.trusted_sources.is_empty() {
            return self.config.trusted_sources.clone();
        }
        std::iter::once(&self.peer)
            .chain(self.alternates.iter())
            .map(|p| {
                let ip = p.addr.ip();
                crate::config::Cidr {
                    addr: ip,
                    prefix: if ip.is_ipv4() { 32 } else { 128 },
                }
            })
            .collect()
    }

    /// A number as the PBX wants it in a Request-URI user part.
    pub fn format_number(&self, d: &Dialable) -> String {
        let digits = match d {
            Dialable::E164(n) => match self.config.number_format {
                NumberFormat::E164 => n.as_str().to_owned(),
                NumberFormat::E164NoPlus => n.digits().to_owned(),
            },
            // Extensions are internal: no outside-line prefix.
            Dialable::Extension(x) => return x.to_string(),
        };
        format!("{}{digits}", self.config.dial_prefix)
    }

    /// The Route header value toward the outbound proxy, if there is one.
    pub fn route(&self) -> Option<String> {
        self.config.outbound_proxy.as_ref().map(|(h, p)| {
            let host = if h.contains(':') {
                format!("[{h}]")
            } else {
                h.clone()
            };
            let port = p.map(|p| format!(":{p}")).unwrap_or_default();
            let t = self.transport_param();
            format!("<sip:{host}{port}{t};lr>")
        })
    }

    /// The Request-URI for a number.
    pub fn uri_for(&self, d: &Dialable) -> String {
        let params = self.transport_param();
        format!(
            "sip:{}@{}{params};user=phone",
            self.format_number(d),
            self.host
        )
    }

    /// The `;transport=` URI parameter for the trunk's transport (none for UDP).
    fn transport_param(&self) -> &'static str {
        match self.peer.transport {
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
            _ => "",
        }
    }

    fn transport_name(&self) -> &'static str {
        match self.peer.transport {
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            _ => "UDP",
        }
    }

    fn sent_by(&self) -> String {
        crate::sip_service::sent_by(self.local)
    }

    /// Our Contact URI on the trunk.
    pub fn contact(&self) -> String {
        let t = self.transport_param();
        format!("sip:viawork@{}{t}", self.sent_by())
    }

    /// A leg toward `target` showing `number` (and `display`) as the caller.
    pub fn leg(&self, target: String, number: &E164, display: Option<String>) -> LegSetup {
        let from_uri = format!("sip:{}@{};user=phone", number.as_str(), self.domain);
        let asserted = self.config.send_pai.then(|| {
            let mut s = String::new();
            let _ = sip::name_addr::write_name_addr(&mut s, display.as_deref(), &from_uri);
            s
        });
        LegSetup {
            asserted,
            ..self.leg_as(target, from_uri, display)
        }
    }

    /// A leg toward `target` passing on a caller's own identity (`from_uri`, `display`)
    /// as it is, for a plain back-to-back call.
    pub fn leg_as(&self, target: String, from_uri: String, display: Option<String>) -> LegSetup {
        LegSetup {
            target,
            from_uri,
            from_display: display,
            asserted: None,
            contact: self.contact(),
            via: LocalVia::new(self.transport_name(), &self.sent_by())
                .unwrap_or_else(|_| LocalVia::new("UDP", "127.0.0.1").expect("static via")),
            peer: self.peer,
            alternates: self.alternates.clone(),
            local_host: self.domain.clone(),
            user_agent: self.user_agent.clone(),
            privacy_id: self.config.privacy_id,
            session_timer: (self.config.session_expires_secs > 0).then(|| {
                sip_stack::dialog::SessionTimerConfig {
                    session_expires: self.config.session_expires_secs,
                    ..Default::default()
                }
            }),
            prack: self.config.prack,
            route: self.route(),
            extra: Vec::new(),
            auth: self
                .config
                .credentials
                .as_ref()
                .map(|(u, p)| DigestClient::new(u.clone(), p.clone())),
        }
    }

    /// The Request-URI for a user part as it is (a number or an extension the caller
    /// dialled).
    pub fn uri_for_user(&self, user: &str) -> String {
        let params = self.transport_param();
        format!("sip:{user}@{}{params}", self.host)
    }

    /// An OPTIONS keep-alive request.
    pub fn options(&self) -> Option<sip::Message> {
        let target = format!("sip:{}", self.host);
        self.out_of_dialog(&sip::Method::Options, &target, 1)?
            .0
            .build()
            .ok()
    }

    /// A request of ViaWork's own outside any dialog (keep-alives, subscriptions) to
    /// `target` through the trunk: Via, Max-Forwards, From `sip:viawork@<domain>` with a
    /// fresh tag, To `<target>`, a fresh Call-ID, CSeq `seq`, User-Agent and the outbound
    /// proxy's Route. Returns the builder with the Call-ID and From tag used.
    pub fn out_of_dialog(
        &self,
        method: &sip::Method,
        target: &str,
        seq: u32,
    ) -> Option<(sip::RequestBuilder, String, String)> {
        let via = LocalVia::new(self.transport_name(), &self.sent_by())
            .ok()?
            .fresh(&mut rand::rng());
        let tag = format!("{:x}", rand::random::<u64>());
        let call_id = format!("{:x}@{}", rand::random::<u128>(), self.domain);
        let b = sip::RequestBuilder::new(method, &target)
            .header(sip::HeaderName::Via, via)
            .header(sip::HeaderName::MaxForwards, 70)
            .header(
                sip::HeaderName::From,
                format_args!("<sip:viawork@{}>;tag={tag}", self.domain),
            )
            .header(sip::HeaderName::To, format_args!("<{target}>"))
            .header(sip::HeaderName::CallId, &call_id)
            .header(sip::HeaderName::CSeq, format_args!("{seq} {method}"))
            .header(sip::HeaderName::UserAgent, &self.user_agent);
        let b = match self.route() {
            Some(r) => b.header(sip::HeaderName::Route, r),
            None => b,
        };
        Some((b, call_id, tag))
    }
}

/// Whether the trunk is up, from OPTIONS keep-alives. Sans-IO: the caller sends a probe
/// when [`TrunkHealth::probe_due`] says so and reports each outcome.
#[derive(Debug, Clone)]
pub struct TrunkHealth {
    interval: Option<Duration>,
    up: bool,
    next_probe: Option<Instant>,
    probing: bool,
    last_ok: Option<Instant>,
    last_probe: Option<Instant>,
}

impl TrunkHealth {
    /// Keep-alives every `interval` (None: never probe, always up). The trunk counts as
    /// up until a probe fails, so a fresh server does not refuse its first calls.
    pub fn new(interval: Option<Duration>, now: Instant) -> TrunkHealth {
        TrunkHealth {
            interval,
            up: true,
            next_probe: interval.map(|_| now),
            probing: false,
            last_ok: None,
            last_probe: None,
        }
    }

    /// True when calls may be placed.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// When the last probe was answered.
    pub fn last_ok(&self) -> Option<Instant> {
        self.last_ok
    }

    /// When the last probe went out.
    pub fn last_probe(&self) -> Option<Instant> {
        self.last_probe
    }

    /// When to wake up for the next probe.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.probing {
            None
        } else {
            self.next_probe
        }
    }

    /// True (once) when a probe should go out now.
    pub fn probe_due(&mut self, now: Instant) -> bool {
        if !self.probing && self.next_probe.is_some_and(|t| t <= now) {
            self.probing = true;
            self.last_probe = Some(now);
            true
        } else {
            false
        }
    }

    /// The probe got a final response (any response means the PBX is there; 5xx other
    /// than 501 means it is not taking calls).
    pub fn on_response(&mut self, status: u16, now: Instant) {
        self.probing = false;
        let ok = !(500..600).contains(&status) || status == 501;
        if ok {
            self.last_ok = Some(now);
        }
        if ok != self.up {
            tracing::warn!(up = ok, status, "trunk state changed");
        }
        self.up = ok;
        self.next_probe = self.interval.map(|i| now + i);
    }

    /// The probe timed out or could not be sent.
    pub fn on_failure(&mut self, now: Instant) {
        self.probing = false;
        if self.up {
            tracing::warn!("trunk down: OPTIONS keep-alive got no answer");
        }
        self.up = false;
        // Probe again sooner while down, so the trunk comes back quickly.
        self.next_probe = self.interval.map(|i| now + i.min(Duration::from_secs(5)));
    }
}

/// A trunk configuration for unit tests: UDP to 127.0.0.1:5070, E.164, no credentials,
/// no keep-alives, no P-Asserted-Identity.
#[cfg(test)]
pub(crate) fn test_config() -> PbxConfig {
    PbxConfig {
        host: "127.0.0.1".into(),
        port: Some(5070),
        transport: crate::config::PbxTransport::Udp,
        credentials: None,
        options_interval_secs: 0,
        number_format: NumberFormat::E164,
        dial_prefix: String::new(),
        refer_with_replaces: true,
        reinvite_without_sdp: true,
        send_pai: false,
        trusted_sources: vec![],
        privacy_id: false,
        session_expires_secs: 0,
        prack: false,
        dialog_subscription_secs: None,
        outbound_proxy: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_goes_down_on_failure_and_up_on_answer() {
        let t0 = Instant::now();
        let mut h = TrunkHealth::new(Some(Duration::from_secs(30)), t0);
        assert!(h.is_up());
        assert!(h.probe_due(t0));
        assert!(!h.probe_due(t0), "one probe at a time");
        h.on_failure(t0 + Duration::from_secs(32));
        assert!(!h.is_up());
        let next = h.poll_timeout().unwrap();
        assert_eq!(next, t0 + Duration::from_secs(37));
        assert!(h.probe_due(next));
        h.on_response(200, next);
        assert!(h.is_up());
        assert!(h.probe_due(next + Duration::from_secs(30)));
        h.on_response(503, next + Duration::from_secs(30));
        assert!(!h.is_up());
        let mut off = TrunkHealth::new(None, t0);
        assert!(!off.probe_due(t0 + Duration::from_secs(3600)));
        assert!(off.is_up());
    }
}
