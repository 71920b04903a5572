//! The server's configuration: one TOML file, every key optional, each overridable by a
//! `VIAWORK_<KEY>` environment variable, validated at startup with errors that name the
//! key. `docs/configuration.md` documents every key.

use serde::Deserialize;
use sip_stack::transport::Transport;
use std::net::SocketAddr;
use std::path::Path;

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// SIP domain of users.
    pub domain: String,
    /// SIP listeners.
    pub sip_listen: Vec<(Transport, SocketAddr)>,
    /// Name put in Server/User-Agent headers and Warning agents.
    pub server_name: String,
    /// TLS material, when configured.
    pub tls: Option<sip_stack::transport::TlsSettings>,
    /// SIP transaction timers (T1, T2, T4).
    pub timers: sip_stack::transaction::TimerConfig,
    /// Where the HTTP API listens.
    pub http_listen: SocketAddr,
    /// The store's URL: `sqlite://PATH` or `postgres://...`.
    pub database: String,
    /// The PBX calls are routed through, when configured.
    pub pbx: Option<PbxConfig>,
    /// How long an API access token stays valid.
    pub token_lifetime: std::time::Duration,
    /// How often at most the API re-reads the store's change counter to notice changes to
    /// users, policies, dial plans, routing and revoked tokens (`directory_cache_ms`;
    /// zero: before every request).
    pub directory_cache: std::time::Duration,
    /// The `[calls]` table.
    pub calls: CallsConfig,
    /// The `[media]` table.
    pub media: MediaConfig,
    /// The `[im]` table.
    pub im: crate::im::ImConfig,
    /// The `[registrar]` table.
    pub registrar: crate::registrar::RegistrarConfig,
    /// The `[presence]` table.
    pub presence: crate::presence::PresenceConfig,
    /// The `[meetings]` table.
    pub meetings: crate::meetings::MeetingsConfig,
}

/// The `[calls]` table: how Call Via Work calls behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallsConfig {
    /// How long the user's own phone may ring (`calls.callback_ring_timeout_secs`).
    pub callback_ring_timeout: std::time::Duration,
    /// How long the far party's phone may ring (`calls.far_ring_timeout_secs`).
    pub far_ring_timeout: std::time::Duration,
    /// Calls one user may start per minute (`calls.max_calls_per_minute`): the callback
    /// rings a phone, so this guards against harassment and toll fraud.
    pub max_calls_per_minute: u32,
    /// SIP clients (by network) whose INVITEs ViaWork passes on to the PBX as a plain
    /// back-to-back agent (`calls.bridge_clients`; empty: none).
    pub bridge_clients: Vec<Cidr>,
    /// A user-chosen callback number may be in another country than the user's line
    /// (`calls.allow_international_callback`, default false).
    pub allow_international_callback: bool,
    /// Call setups (`POST /api/v1/calls`) handled at once; one more is refused at once
    /// with 503 `Overloaded` instead of queueing (`calls.max_pending_setups`).
    pub max_pending_setups: u32,
    /// A user-chosen callback number may be premium-rate
    /// (`calls.allow_premium_callback`, default false).
    pub allow_premium_callback: bool,
    /// How long an incoming call rings before the caller is turned away with 480, when
    /// no unanswered-call rule takes it first (`calls.incoming_ring_timeout_secs`).
    pub incoming_ring_timeout: std::time::Duration,
    /// Incoming calls ring the user's PBX phone through the trunk
    /// (`calls.ring_desk_phone`, default true).
    pub ring_desk_phone: bool,
}

impl Default for CallsConfig {
    fn default() -> Self {
        CallsConfig {
            callback_ring_timeout: std::time::Duration::from_secs(45),
            far_ring_timeout: std::time::Duration::from_secs(90),
            max_calls_per_minute: 10,
            bridge_clients: Vec::new(),
            allow_international_callback: false,
            allow_premium_callback: false,
            max_pending_setups: 256,
            incoming_ring_timeout: std::time::Duration::from_secs(60),
            ring_desk_phone: true,
        }
    }
}

/// How the two legs' media are joined (`media.anchor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// Directly between the phones, by re-INVITE (RFC 3725); ViaWork's media engine only
    /// plays ringback while the far party rings.
    Never,
    /// Through ViaWork's relay for the whole call.
    Always,
}

/// The `[media]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Join mode.
    pub anchor: Anchor,
    /// The address RTP is bound to and advertised in SDP (`media.address`).
    pub address: std::net::IpAddr,
    /// First RTP port (`media.rtp_port_min`), even.
    pub rtp_port_min: u16,
    /// Last RTP port (`media.rtp_port_max`).
    pub rtp_port_max: u16,
    /// Call-progress tone cadences (`media.tone_region`: us, uk, eu, de, fr, ru).
    pub tone_region: String,
    /// Codecs the legs of meetings that end in ViaWork's media engine negotiate, most
    /// preferred first (`media.meeting_codecs`, default G722, PCMU, PCMA). Relayed legs
    /// always use G.711 (`docs/media-mixer.md` says why).
    pub meeting_codecs: Vec<sdp::Codec>,
    /// The threads that tick meetings' conferences (`media.mixing_threads`, default one per
    /// core up to 4) and their scheduling priority (`media.mixing_priority`: normal, high,
    /// realtime; default realtime).
    pub mixing: media::MixingConfig,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            anchor: Anchor::Never,
            address: std::net::IpAddr::from([127, 0, 0, 1]),
            rtp_port_min: 20_000,
            rtp_port_max: 29_999,
            tone_region: "us".into(),
            meeting_codecs: vec![sdp::Codec::G722, sdp::Codec::Pcmu, sdp::Codec::Pcma],
            mixing: media::MixingConfig::default(),
        }
    }
}

/// The `[pbx]` table: the PBX or SIP trunk ViaWork routes phone calls through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbxConfig {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port, when given (otherwise the transport's default, found by DNS later).
    pub port: Option<u16>,
    /// Transport to reach it on.
    pub transport: PbxTransport,
    /// Digest credentials for 401/407 challenges from the PBX (`pbx.username`,
    /// `pbx.password`, or `VIAWORK_PBX_USERNAME` / `VIAWORK_PBX_PASSWORD`).
    pub credentials: Option<(String, String)>,
    /// Seconds between OPTIONS keep-alives; 0 turns them off and the trunk is always up
    /// (`pbx.options_interval_secs`, default 30).
    pub options_interval_secs: u64,
    /// How numbers are written toward the PBX (`pbx.number_format`).
    pub number_format: NumberFormat,
    /// Digits put before every number sent to the PBX, such as an outside-line `9`
    /// (`pbx.dial_prefix`).
    pub dial_prefix: String,
    /// The PBX supports REFER with Replaces (`pbx.refer_with_replaces`, default true).
    pub refer_with_replaces: bool,
    /// The PBX answers a re-INVITE without SDP with an offer (`pbx.reinvite_without_sdp`,
    /// default true). Without it calls are anchored through ViaWork's media relay.
    pub reinvite_without_sdp: bool,
    /// Send P-Asserted-Identity with the caller's number (`pbx.send_pai`, default true).
    pub send_pai: bool,
    /// `Privacy` on outgoing INVITEs (`pbx.privacy`: `none` (default, no header) or `id`).
    pub privacy_id: bool,
    /// Ask for RFC 4028 session timers on the legs with this interval in seconds
    /// (`pbx.session_expires_secs`, 90–86400; 0, the default, turns them off). ViaWork
    /// answers a PBX's session-timer requests either way.
    pub session_expires_secs: u32,
    /// Offer reliable provisional responses (RFC 3262, `Supported: 100rel`; `pbx.prack`).
    pub prack: bool,
    /// An outbound proxy every request to the PBX goes through (`pbx.outbound_proxy`,
    /// `host[:port]`): requests are sent to it, with a loose-routing Route header, while
    /// their Request-URIs name the PBX.
    pub outbound_proxy: Option<(String, Option<u16>)>,
    /// Networks that may send requests outside a dialog to ViaWork (an INVITE with
    /// Replaces, later incoming calls) as the PBX (`pbx.trusted_sources`, CIDR or
    /// address; empty means the trunk's own addresses).
    pub trusted_sources: Vec<Cidr>,
    /// Subscribe to the PBX's dialog event package (RFC 4235) for every Call Via Work
    /// user's line, with this expiry in seconds (`pbx.dialog_subscriptions` turns it on,
    /// `pbx.dialog_subscription_secs` sets the expiry, 60–86400, default 3600); `None`: off.
    pub dialog_subscription_secs: Option<u32>,
}

/// An IP network, `192.0.2.0/24` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network address.
    pub addr: std::net::IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// True when `ip` is in the network.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        fn masked(bytes: &[u8], prefix: u8) -> Vec<u8> {
            bytes
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let bits = (prefix as usize).saturating_sub(i * 8).min(8);
                    if bits == 0 {
                        0
                    } else {
                        b & (0xffu8 << (8 - bits))
                    }
                })
                .collect()
        }
        match (self.addr, ip) {
            (std::net::IpAddr::V4(a), std::net::IpAddr::V4(b)) => {
                masked(&a.octets(), self.prefix) == masked(&b.octets(), self.prefix)
            }
            (std::net::IpAddr::V6(a), std::net::IpAddr::V6(b)) => {
                masked(&a.octets(), self.prefix) == masked(&b.octets(), self.prefix)
            }
            (std::net::IpAddr::V6(a), std::net::IpAddr::V4(b)) => {
                a.to_ipv4_mapped().is_some_and(|a| {
                    Cidr {
                        addr: a.into(),
                        prefix: self.prefix.saturating_sub(96),
                    }
                    .contains(b.into())
                })
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: std::net::IpAddr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{p:?} is not a prefix length (0-{max})"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

/// The number format toward the PBX (`pbx.number_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberFormat {
    /// `+14255550101` (the default).
    E164,
    /// `14255550101`.
    E164NoPlus,
}

/// The transport of the PBX connection (`pbx.transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PbxTransport {
    /// UDP (the default).
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl PbxTransport {
    /// The matching transport of the SIP stack.
    pub fn transport(self) -> Transport {
        match self {
            PbxTransport::Udp => Transport::Udp,
            PbxTransport::Tcp => Transport::Tcp,
            PbxTransport::Tls => Transport::Tls,
        }
    }
}

/// Default of `token_lifetime_secs`: eight hours, a working day.
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 8 * 3600;

/// A configuration error; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// TOML syntax or an unknown key.
    #[error("config file {path}: {message}")]
    Syntax {
        /// Path.
        path: String,
        /// What toml said (it names the key).
        message: String,
    },
    /// A value is not acceptable.
    #[error("config key `{key}`: {message}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    domain: Option<String>,
    sip_listen: Option<Vec<String>>,
    server_name: Option<String>,
    tls_certificate: Option<std::path::PathBuf>,
    tls_private_key: Option<std::path::PathBuf>,
    tls_ca: Option<std::path::PathBuf>,
    sip_t1_ms: Option<u64>,
    sip_t2_ms: Option<u64>,
    sip_t4_ms: Option<u64>,
    http_listen: Option<String>,
    database: Option<String>,
    token_lifetime_secs: Option<u64>,
    directory_cache_ms: Option<u64>,
    pbx: Option<RawPbx>,
    calls: Option<RawCalls>,
    media: Option<RawMedia>,
    im: Option<RawIm>,
    registrar: Option<RawRegistrar>,
    presence: Option<RawPresence>,
    meetings: Option<RawMeetings>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistrar {
    min_expires_secs: Option<u32>,
    max_expires_secs: Option<u32>,
    max_contacts: Option<usize>,
    digest_algorithms: Option<Vec<String>>,
}

fn registrar_from_raw(
    raw: Option<RawRegistrar>,
) -> Result<crate::registrar::RegistrarConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let mut c = crate::registrar::RegistrarConfig::default();
    let l = &mut c.limits;
    if let Some(n) = raw.min_expires_secs {
        if !(1..=86_400).contains(&n) {
            return Err(ConfigError::Invalid {
                key: "registrar.min_expires_secs",
                message: format!("{n} is outside 1..=86400"),
            });
        }
        l.min_expires = n;
    }
    if let Some(n) = raw.max_expires_secs {
        if !(l.min_expires..=86_400).contains(&n) {
            return Err(ConfigError::Invalid {
                key: "registrar.max_expires_secs",
                message: format!("{n} is outside registrar.min_expires_secs..=86400"),
            });
        }
        l.max_expires = n;
    }
    l.default_expires = l.default_expires.clamp(l.min_expires, l.max_expires);
    if let Some(n) = raw.max_contacts {
        if !(1..=100).contains(&n) {
            return Err(ConfigError::Invalid {
                key: "registrar.max_contacts",
                message: format!("{n} is outside 1..=100"),
            });
        }
        l.max_contacts = n;
    }
    if let Some(list) = raw.digest_algorithms {
        let mut out = Vec::new();
        for name in &list {
            match sip_stack::auth::Algorithm::parse(name.trim()) {
                Some(
                    a @ (sip_stack::auth::Algorithm::Md5 | sip_stack::auth::Algorithm::Sha256),
                ) => out.push(a),
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "registrar.digest_algorithms",
                        message: format!("{name:?} is not \"SHA-256\" or \"MD5\""),
                    })
                }
            }
        }
        if out.is_empty() {
            return Err(ConfigError::Invalid {
                key: "registrar.digest_algorithms",
                message: "name at least one algorithm".into(),
            });
        }
        c.algorithms = out;
    }
    Ok(c)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIm {
    max_message_bytes: Option<usize>,
    max_file_bytes: Option<usize>,
    allowed_file_types: Option<Vec<String>>,
    max_participants: Option<usize>,
}

fn im_from_raw(raw: Option<RawIm>) -> Result<crate::im::ImConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let mut c = crate::im::ImConfig::default();
    let bounded = |key: &'static str, v: Option<usize>, min: usize, max: usize, d: usize| match v {
        None => Ok(d),
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(n) => Err(ConfigError::Invalid {
            key,
            message: format!("{n} is outside {min}..={max}"),
        }),
    };
    c.max_message_bytes = bounded(
        "im.max_message_bytes",
        raw.max_message_bytes,
        64,
        1024 * 1024,
        c.max_message_bytes,
    )?;
    c.max_file_bytes = bounded(
        "im.max_file_bytes",
        raw.max_file_bytes,
        1,
        1024 * 1024 * 1024,
        c.max_file_bytes,
    )?;
    c.max_participants = bounded(
        "im.max_participants",
        raw.max_participants,
        2,
        10_000,
        c.max_participants,
    )?;
    if let Some(types) = raw.allowed_file_types {
        let mut out = Vec::with_capacity(types.len());
        for t in types {
            let t = t.trim().trim_start_matches('.').to_ascii_lowercase();
            if t.is_empty() || !(t == "*" || t.chars().all(|c| c.is_ascii_alphanumeric())) {
                return Err(ConfigError::Invalid {
                    key: "im.allowed_file_types",
                    message: format!("{t:?} is not a file extension (letters and digits) or \"*\""),
                });
            }
            out.push(t);
        }
        c.allowed_file_types = out;
    }
    Ok(c)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeetings {
    bridge_numbers: Option<Vec<RawBridgeNumber>>,
    join_url_base: Option<String>,
    max_per_organizer: Option<usize>,
    pin_min_length: Option<usize>,
    pin_allow_common_patterns: Option<bool>,
    recordings_dir: Option<std::path::PathBuf>,
    recording_retention_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBridgeNumber {
    number: String,
    extension: Option<String>,
    name: Option<String>,
    languages: Option<Vec<String>>,
}

fn meetings_from_raw(
    raw: Option<RawMeetings>,
) -> Result<crate::meetings::MeetingsConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let mut c = crate::meetings::MeetingsConfig::default();
    for (i, b) in raw
        .bridge_numbers
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let number = crate::domain::E164::parse_field("number", &b.number).map_err(|e| {
            ConfigError::Invalid {
                key: "meetings.bridge_numbers",
                message: format!("entry {i}: {}", e.message()),
            }
        })?;
        if let Some(x) = &b.extension {
            crate::domain::Extension::parse_field("extension", x).map_err(|e| {
                ConfigError::Invalid {
                    key: "meetings.bridge_numbers",
                    message: format!("entry {i}: extension: {}", e.message()),
                }
            })?;
        }
        if c.bridge_numbers.iter().any(|o| o.number == number) {
            return Err(ConfigError::Invalid {
                key: "meetings.bridge_numbers",
                message: format!("entry {i}: {number} is listed twice"),
            });
        }
        c.bridge_numbers.push(crate::meetings::BridgeNumber {
            number,
            extension: b.extension,
            name: b.name.unwrap_or_default(),
            languages: b.languages.unwrap_or_else(|| vec!["en-US".into()]),
        });
    }
    if let Some(base) = raw.join_url_base {
        let base = base.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://"))
            || base.contains(char::is_whitespace)
        {
            return Err(ConfigError::Invalid {
                key: "meetings.join_url_base",
                message: format!("{base:?} is not an http:// or https:// URL"),
            });
        }
        c.join_url_base = Some(base);
    }
    match raw.max_per_organizer {
        None => {}
        Some(n) if (1..=100_000).contains(&n) => c.max_per_organizer = n,
        Some(n) => {
            return Err(ConfigError::Invalid {
                key: "meetings.max_per_organizer",
                message: format!("{n} is outside 1..=100000"),
            })
        }
    }
    if let Some(dir) = raw.recordings_dir {
        if dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                key: "meetings.recordings_dir",
                message: "give a directory".into(),
            });
        }
        c.recordings_dir = dir;
    }
    match raw.recording_retention_days {
        None => {}
        Some(n) if n <= 3650 => c.recording_retention_days = n,
        Some(n) => {
            return Err(ConfigError::Invalid {
                key: "meetings.recording_retention_days",
                message: format!("{n} is outside 0..=3650 (0 keeps recordings)"),
            })
        }
    }
    if raw.pin_min_length.is_some() || raw.pin_allow_common_patterns.is_some() {
        c.pin_policy = crate::domain::PinPolicy::new(
            raw.pin_min_length
                .unwrap_or(crate::domain::PinPolicy::DEFAULT_MIN_LENGTH),
            raw.pin_allow_common_patterns.unwrap_or(false),
        )
        .map_err(|e| ConfigError::Invalid {
            key: "meetings.pin_min_length",
            message: e.message(),
        })?;
    }
    Ok(c)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPresence {
    idle_after_secs: Option<u64>,
    away_after_secs: Option<u64>,
    max_subscriptions: Option<usize>,
}

fn presence_from_raw(
    raw: Option<RawPresence>,
) -> Result<crate::presence::PresenceConfig, ConfigError> {
    use std::time::Duration;
    let raw = raw.unwrap_or_default();
    let mut c = crate::presence::PresenceConfig::default();
    if let Some(n) = raw.idle_after_secs {
        if !(60..=86_400).contains(&n) {
            return Err(ConfigError::Invalid {
                key: "presence.idle_after_secs",
                message: format!("{n} is outside 60..=86400 seconds"),
            });
        }
        c.idle_after = Duration::from_secs(n);
        // Keep the default gap to Away unless it is set too.
        c.away_after = c.away_after.max(c.idle_after);
    }
    if let Some(n) = raw.away_after_secs {
        if n < c.idle_after.as_secs() || n > 86_400 {
            return Err(ConfigError::Invalid {
                key: "presence.away_after_secs",
                message: format!(
                    "{n} must be at least presence.idle_after_secs ({}) and at most 86400",
                    c.idle_after.as_secs()
                ),
            });
        }
        c.away_after = Duration::from_secs(n);
    }
    if let Some(n) = raw.max_subscriptions {
        if !(1..=10_000).contains(&n) {
            return Err(ConfigError::Invalid {
                key: "presence.max_subscriptions",
                message: format!("{n} is outside 1..=10000"),
            });
        }
        c.max_subscriptions = n;
    }
    Ok(c)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPbx {
    address: Option<String>,
    transport: Option<String>,
    username: Option<String>,
    password: Option<String>,
    options_interval_secs: Option<u64>,
    number_format: Option<String>,
    dial_prefix: Option<String>,
    refer_with_replaces: Option<bool>,
    reinvite_without_sdp: Option<bool>,
    send_pai: Option<bool>,
    trusted_sources: Option<Vec<String>>,
    privacy: Option<String>,
    session_expires_secs: Option<u32>,
    prack: Option<bool>,
    dialog_subscriptions: Option<bool>,
    dialog_subscription_secs: Option<u32>,
    outbound_proxy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalls {
    callback_ring_timeout_secs: Option<u64>,
    far_ring_timeout_secs: Option<u64>,
    max_calls_per_minute: Option<u32>,
    bridge_clients: Option<Vec<String>>,
    allow_international_callback: Option<bool>,
    allow_premium_callback: Option<bool>,
    max_pending_setups: Option<u32>,
    incoming_ring_timeout_secs: Option<u64>,
    ring_desk_phone: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMedia {
    anchor: Option<String>,
    address: Option<String>,
    rtp_port_min: Option<u16>,
    rtp_port_max: Option<u16>,
    tone_region: Option<String>,
    meeting_codecs: Option<Vec<String>>,
    mixing_threads: Option<usize>,
    mixing_priority: Option<String>,
}

fn calls_from_raw(raw: Option<RawCalls>) -> Result<CallsConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let mut c = CallsConfig::default();
    let secs = |key: &'static str, v: Option<u64>, d: std::time::Duration| match v {
        None => Ok(d),
        Some(n) if (5..=600).contains(&n) => Ok(std::time::Duration::from_secs(n)),
        Some(n) => Err(ConfigError::Invalid {
            key,
            message: format!("{n} is outside 5..=600 seconds"),
        }),
    };
    c.callback_ring_timeout = secs(
        "calls.callback_ring_timeout_secs",
        raw.callback_ring_timeout_secs,
        c.callback_ring_timeout,
    )?;
    c.far_ring_timeout = secs(
        "calls.far_ring_timeout_secs",
        raw.far_ring_timeout_secs,
        c.far_ring_timeout,
    )?;
    c.incoming_ring_timeout = secs(
        "calls.incoming_ring_timeout_secs",
        raw.incoming_ring_timeout_secs,
        c.incoming_ring_timeout,
    )?;
    c.ring_desk_phone = raw.ring_desk_phone.unwrap_or(true);
    if let Some(n) = raw.max_calls_per_minute {
        if n == 0 || n > 100_000 {
            return Err(ConfigError::Invalid {
                key: "calls.max_calls_per_minute",
                message: format!("{n} is outside 1..=100000"),
            });
        }
        c.max_calls_per_minute = n;
    }
    if let Some(n) = raw.max_pending_setups {
        if n == 0 || n > 100_000 {
            return Err(ConfigError::Invalid {
                key: "calls.max_pending_setups",
                message: format!("{n} is outside 1..=100000"),
            });
        }
        c.max_pending_setups = n;
    }
    c.allow_international_callback = raw.allow_international_callback.unwrap_or(false);
    c.allow_premium_callback = raw.allow_premium_callback.unwrap_or(false);
    c.bridge_clients = parse_cidrs("calls.bridge_clients", raw.bridge_clients)?;
    Ok(c)
}

/// A list of networks under `key`; absent is empty.
fn parse_cidrs(key: &'static str, list: Option<Vec<String>>) -> Result<Vec<Cidr>, ConfigError> {
    list.unwrap_or_default()
        .iter()
        .map(|c| c.parse::<Cidr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| ConfigError::Invalid { key, message })
}

fn media_from_raw(raw: Option<RawMedia>) -> Result<MediaConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let mut m = MediaConfig::default();
    match raw.anchor.as_deref().map(str::trim) {
        None => {}
        Some(a) if a.eq_ignore_ascii_case("never") => m.anchor = Anchor::Never,
        Some(a) if a.eq_ignore_ascii_case("always") => m.anchor = Anchor::Always,
        Some(a) => {
            return Err(ConfigError::Invalid {
                key: "media.anchor",
                message: format!("{a:?} is not one of never, always"),
            })
        }
    }
    if let Some(a) = raw.address {
        m.address = a.trim().parse().map_err(|_| ConfigError::Invalid {
            key: "media.address",
            message: format!("{a:?} is not an IP address"),
        })?;
        if m.address.is_unspecified() {
            return Err(ConfigError::Invalid {
                key: "media.address",
                message: "must be an address phones can reach, not 0.0.0.0 or ::".into(),
            });
        }
    }
    if let Some(p) = raw.rtp_port_min {
        m.rtp_port_min = p;
    }
    if let Some(p) = raw.rtp_port_max {
        m.rtp_port_max = p;
    }
    if m.rtp_port_min < 1024 || m.rtp_port_min % 2 != 0 {
        return Err(ConfigError::Invalid {
            key: "media.rtp_port_min",
            message: format!("{} must be even and at least 1024", m.rtp_port_min),
        });
    }
    if m.rtp_port_max <= m.rtp_port_min {
        return Err(ConfigError::Invalid {
            key: "media.rtp_port_max",
            message: format!(
                "{} must be above media.rtp_port_min ({})",
                m.rtp_port_max, m.rtp_port_min
            ),
        });
    }
    if let Some(r) = raw.tone_region {
        let r = r.trim().to_ascii_lowercase();
        if !["us", "uk", "eu", "de", "fr", "ru"].contains(&r.as_str()) {
            return Err(ConfigError::Invalid {
                key: "media.tone_region",
                message: format!("{r:?} is not one of us, uk, eu, de, fr, ru"),
            });
        }
        m.tone_region = r;
    }
    if let Some(list) = raw.meeting_codecs {
        m.meeting_codecs = meeting_codecs(&list)?;
    }
    if let Some(n) = raw.mixing_threads {
        if !(1..=media::engine::MAX_MIXING_THREADS).contains(&n) {
            return Err(ConfigError::Invalid {
                key: "media.mixing_threads",
                message: format!("{n} is outside 1..={}", media::engine::MAX_MIXING_THREADS),
            });
        }
        m.mixing.threads = n;
    }
    if let Some(p) = raw.mixing_priority {
        m.mixing.priority =
            p.parse()
                .map_err(|e: media::engine::UnknownPriority| ConfigError::Invalid {
                    key: "media.mixing_priority",
                    message: e.to_string(),
                })?;
    }
    Ok(m)
}

/// Parses `media.meeting_codecs`: names of G722, PCMU, PCMA (any case), each once, with at
/// least one G.711 law so that every phone can join.
fn meeting_codecs(list: &[String]) -> Result<Vec<sdp::Codec>, ConfigError> {
    let bad = |message: String| ConfigError::Invalid {
        key: "media.meeting_codecs",
        message,
    };
    let mut codecs = Vec::with_capacity(list.len());
    for name in list {
        let codec = sdp::Codec::ALL
            .into_iter()
            .find(|c| c.encoding_name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| bad(format!("{name:?} is not one of G722, PCMU, PCMA")))?;
        if codecs.contains(&codec) {
            return Err(bad(format!("{codec} is listed twice")));
        }
        codecs.push(codec);
    }
    if !codecs.iter().any(|c| *c != sdp::Codec::G722) {
        return Err(bad(
            "must include PCMU or PCMA: phones that speak only G.711 could not join".into(),
        ));
    }
    Ok(codecs)
}

/// Parses `pbx.address`: `host`, `host:port`, `[v6]` or `[v6]:port`.
fn parse_pbx_address(s: &str) -> Result<(String, Option<u16>), String> {
    let s = s.trim();
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s:?} has no closing ']'"))?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{v6:?} is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("{s:?}: expected ':port' after ']'"))?,
            ),
        };
        (v6.to_owned(), port)
    } else {
        match s.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h.to_owned(), Some(p)),
            Some(_) => return Err(format!("{s:?}: write an IPv6 address as [addr]:port")),
            None => (s.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if !host.contains(':') && sip::Host::parse(&host).is_err() {
        return Err(format!("{host:?} is not a host name or IP address"));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("{p:?} is not a port (1-65535)")),
        },
    };
    Ok((host, port))
}

/// Parses a listener spec `udp:127.0.0.1:5060` / `tcp:[::1]:5060`.
pub fn parse_listen(s: &str) -> Result<(Transport, SocketAddr), String> {
    let (t, addr) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not transport:address:port"))?;
    let transport = match t.to_ascii_lowercase().as_str() {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        "tls" => Transport::Tls,
        "ws" => Transport::Ws,
        "wss" => Transport::Wss,
        other => {
            return Err(format!(
                "transport {other:?} is not supported (udp, tcp, tls, ws, wss)"
            ))
        }
    };
    let addr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IP address and port"))?;
    Ok((transport, addr))
}

impl Config {
    /// Loads `path` (if given) and applies environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let raw = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                toml::from_str::<RawConfig>(&text).map_err(|e| ConfigError::Syntax {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })?
            }
            None => RawConfig::default(),
        };
        Self::from_raw(raw, |k| std::env::var(k).ok())
    }

    fn from_raw(
        mut raw: RawConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        if let Some(v) = env("VIAWORK_DOMAIN") {
            raw.domain = Some(v);
        }
        if let Some(v) = env("VIAWORK_SIP_LISTEN") {
            raw.sip_listen = Some(v.split(',').map(|s| s.trim().to_owned()).collect());
        }
        if let Some(v) = env("VIAWORK_SERVER_NAME") {
            raw.server_name = Some(v);
        }
        for (key, slot) in [
            ("VIAWORK_SIP_T1_MS", &mut raw.sip_t1_ms),
            ("VIAWORK_SIP_T2_MS", &mut raw.sip_t2_ms),
            ("VIAWORK_SIP_T4_MS", &mut raw.sip_t4_ms),
        ] {
            if let Some(v) = env(key) {
                *slot = Some(v.trim().parse().map_err(|_| ConfigError::Invalid {
                    key: match key {
                        "VIAWORK_SIP_T1_MS" => "sip_t1_ms",
                        "VIAWORK_SIP_T2_MS" => "sip_t2_ms",
                        _ => "sip_t4_ms",
                    },
                    message: format!("{v:?} is not a whole number of milliseconds"),
                })?);
            }
        }
        for (key, slot) in [
            ("VIAWORK_TLS_CERTIFICATE", &mut raw.tls_certificate),
            ("VIAWORK_TLS_PRIVATE_KEY", &mut raw.tls_private_key),
            ("VIAWORK_TLS_CA", &mut raw.tls_ca),
        ] {
            if let Some(v) = env(key) {
                *slot = Some(v.into());
            }
        }
        if let Some(v) = env("VIAWORK_HTTP_LISTEN") {
            raw.http_listen = Some(v);
        }
        if let Some(v) = env("VIAWORK_DATABASE") {
            raw.database = Some(v);
        }
        if let Some(v) = env("VIAWORK_TOKEN_LIFETIME_SECS") {
            raw.token_lifetime_secs = Some(v.trim().parse().map_err(|_| ConfigError::Invalid {
                key: "token_lifetime_secs",
                message: format!("{v:?} is not a whole number of seconds"),
            })?);
        }
        if let Some(v) = env("VIAWORK_DIRECTORY_CACHE_MS") {
            raw.directory_cache_ms = Some(v.trim().parse().map_err(|_| ConfigError::Invalid {
                key: "directory_cache_ms",
                message: format!("{v:?} is not a whole number of milliseconds"),
            })?);
        }
        if let Some(v) = env("VIAWORK_CALLS_MAX_PENDING_SETUPS") {
            raw.calls
                .get_or_insert_with(RawCalls::default)
                .max_pending_setups = Some(v.trim().parse().map_err(|_| ConfigError::Invalid {
                key: "calls.max_pending_setups",
                message: format!("{v:?} is not a whole number"),
            })?);
        }
        if let Some(v) = env("VIAWORK_PBX_ADDRESS") {
            raw.pbx.get_or_insert_with(RawPbx::default).address = Some(v);
        }
        if let Some(v) = env("VIAWORK_PBX_TRANSPORT") {
            raw.pbx.get_or_insert_with(RawPbx::default).transport = Some(v);
        }
        if let Some(v) = env("VIAWORK_PBX_OPTIONS_INTERVAL_SECS") {
            raw.pbx
                .get_or_insert_with(RawPbx::default)
                .options_interval_secs =
                Some(v.trim().parse().map_err(|_| ConfigError::Invalid {
                    key: "pbx.options_interval_secs",
                    message: format!("{v:?} is not a whole number of seconds"),
                })?);
        }
        if let Some(v) = env("VIAWORK_PBX_OUTBOUND_PROXY") {
            raw.pbx.get_or_insert_with(RawPbx::default).outbound_proxy = Some(v);
        }
        if let Some(v) = env("VIAWORK_PBX_USERNAME") {
            raw.pbx.get_or_insert_with(RawPbx::default).username = Some(v);
        }
        if let Some(v) = env("VIAWORK_PBX_PASSWORD") {
            raw.pbx.get_or_insert_with(RawPbx::default).password = Some(v);
        }
        if let Some(v) = env("VIAWORK_CALLS_BRIDGE_CLIENTS") {
            raw.calls
                .get_or_insert_with(RawCalls::default)
                .bridge_clients = Some(v.split(',').map(|s| s.trim().to_owned()).collect());
        }
        for (key, name) in [
            (
                "VIAWORK_PRESENCE_IDLE_AFTER_SECS",
                "presence.idle_after_secs",
            ),
            (
                "VIAWORK_PRESENCE_AWAY_AFTER_SECS",
                "presence.away_after_secs",
            ),
            (
                "VIAWORK_PRESENCE_MAX_SUBSCRIPTIONS",
                "presence.max_subscriptions",
            ),
        ] {
            if let Some(v) = env(key) {
                let n: u64 = v.trim().parse().map_err(|_| ConfigError::Invalid {
                    key: name,
                    message: format!("{key}={v:?} is not a whole number"),
                })?;
                let p = raw.presence.get_or_insert_with(RawPresence::default);
                match key {
                    "VIAWORK_PRESENCE_IDLE_AFTER_SECS" => p.idle_after_secs = Some(n),
                    "VIAWORK_PRESENCE_AWAY_AFTER_SECS" => p.away_after_secs = Some(n),
                    _ => p.max_subscriptions = Some(usize::try_from(n).unwrap_or(usize::MAX)),
                }
            }
        }
        if let Some(v) = env("VIAWORK_MEDIA_ANCHOR") {
            raw.media.get_or_insert_with(RawMedia::default).anchor = Some(v);
        }
        let http_listen = match &raw.http_listen {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(s) => s.trim().parse().map_err(|_| ConfigError::Invalid {
                key: "http_listen",
                message: format!("{s:?} is not an IP address and port (e.g. 127.0.0.1:8080)"),
            })?,
        };
        let database = raw
            .database
            .take()
            .unwrap_or_else(|| "sqlite://viawork.db".into());
        let db_ok = if let Some(path) = database.strip_prefix("sqlite:") {
            !path.trim_start_matches('/').is_empty()
        } else {
            matches!(database.split_once("://"),
                Some(("postgres" | "postgresql", rest)) if !rest.is_empty())
        };
        if !db_ok {
            return Err(ConfigError::Invalid {
                key: "database",
                message: "must be sqlite://PATH or postgres://USER@HOST/DB".into(),
            });
        }
        let token_secs = raw
            .token_lifetime_secs
            .unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS);
        if !(60..=30 * 24 * 3600).contains(&token_secs) {
            return Err(ConfigError::Invalid {
                key: "token_lifetime_secs",
                message: format!("{token_secs} is outside 60..=2592000 seconds (default 28800)"),
            });
        }
        let directory_cache_ms = raw.directory_cache_ms.unwrap_or(250);
        if directory_cache_ms > 60_000 {
            return Err(ConfigError::Invalid {
                key: "directory_cache_ms",
                message: format!(
                    "{directory_cache_ms} is outside 0..=60000 ms (default 250; 0 checks before every request)"
                ),
            });
        }
        let pbx = match raw.pbx.take() {
            None => None,
            Some(p) => {
                let address = p.address.ok_or_else(|| ConfigError::Invalid {
                    key: "pbx.address",
                    message: "is required when the [pbx] table is present".into(),
                })?;
                let (host, port) =
                    parse_pbx_address(&address).map_err(|message| ConfigError::Invalid {
                        key: "pbx.address",
                        message,
                    })?;
                let transport = match p.transport.as_deref().map(str::trim) {
                    None => PbxTransport::Udp,
                    Some(t) if t.eq_ignore_ascii_case("udp") => PbxTransport::Udp,
                    Some(t) if t.eq_ignore_ascii_case("tcp") => PbxTransport::Tcp,
                    Some(t) if t.eq_ignore_ascii_case("tls") => PbxTransport::Tls,
                    Some(t) => {
                        return Err(ConfigError::Invalid {
                            key: "pbx.transport",
                            message: format!("{t:?} is not one of udp, tcp, tls"),
                        })
                    }
                };
                let credentials = match (p.username, p.password) {
                    (Some(u), Some(pw)) if !u.is_empty() => Some((u, pw)),
                    (None, None) => None,
                    (Some(_), None) => {
                        return Err(ConfigError::Invalid {
                            key: "pbx.password",
                            message: "pbx.username is set but its password is not".into(),
                        })
                    }
                    _ => {
                        return Err(ConfigError::Invalid {
                            key: "pbx.username",
                            message: "must be set (and non-empty) with pbx.password".into(),
                        })
                    }
                };
                let options_interval_secs = p.options_interval_secs.unwrap_or(30);
                if options_interval_secs != 0 && !(5..=3600).contains(&options_interval_secs) {
                    return Err(ConfigError::Invalid {
                        key: "pbx.options_interval_secs",
                        message: format!(
                            "{options_interval_secs} is outside 5..=3600 seconds (0 turns keep-alives off)"
                        ),
                    });
                }
                let number_format = match p.number_format.as_deref().map(str::trim) {
                    None | Some("e164") => NumberFormat::E164,
                    Some("e164_no_plus") => NumberFormat::E164NoPlus,
                    Some(f) => {
                        return Err(ConfigError::Invalid {
                            key: "pbx.number_format",
                            message: format!("{f:?} is not one of e164, e164_no_plus"),
                        })
                    }
                };
                let dial_prefix = p.dial_prefix.unwrap_or_default();
                if !dial_prefix
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
                {
                    return Err(ConfigError::Invalid {
                        key: "pbx.dial_prefix",
                        message: format!("{dial_prefix:?} may hold only digits, * and #"),
                    });
                }
                Some(PbxConfig {
                    host,
                    port,
                    transport,
                    credentials,
                    options_interval_secs,
                    number_format,
                    dial_prefix,
                    refer_with_replaces: p.refer_with_replaces.unwrap_or(true),
                    reinvite_without_sdp: p.reinvite_without_sdp.unwrap_or(true),
                    send_pai: p.send_pai.unwrap_or(true),
                    privacy_id: match p.privacy.as_deref().map(str::trim) {
                        None | Some("none") => false,
                        Some("id") => true,
                        Some(v) => {
                            return Err(ConfigError::Invalid {
                                key: "pbx.privacy",
                                message: format!("{v:?} is not one of none, id"),
                            })
                        }
                    },
                    session_expires_secs: match p.session_expires_secs {
                        None | Some(0) => 0,
                        Some(n) if (90..=86_400).contains(&n) => n,
                        Some(n) => {
                            return Err(ConfigError::Invalid {
                                key: "pbx.session_expires_secs",
                                message: format!(
                                "{n} is outside 90..=86400 seconds (0 turns session timers off)"
                            ),
                            })
                        }
                    },
                    prack: p.prack.unwrap_or(false),
                    dialog_subscription_secs: match (
                        p.dialog_subscriptions.unwrap_or(false),
                        p.dialog_subscription_secs,
                    ) {
                        (false, _) => None,
                        (true, None) => Some(3600),
                        (true, Some(n)) if (60..=86_400).contains(&n) => Some(n),
                        (true, Some(n)) => {
                            return Err(ConfigError::Invalid {
                                key: "pbx.dialog_subscription_secs",
                                message: format!("{n} is outside 60..=86400 seconds"),
                            })
                        }
                    },
                    outbound_proxy: match p.outbound_proxy {
                        None => None,
                        Some(a) => {
                            Some(
                                parse_pbx_address(&a).map_err(|message| ConfigError::Invalid {
                                    key: "pbx.outbound_proxy",
                                    message,
                                })?,
                            )
                        }
                    },
                    trusted_sources: parse_cidrs("pbx.trusted_sources", p.trusted_sources)?,
                })
            }
        };
        let domain = raw.domain.unwrap_or_else(|| "example.com".into());
        if sip::Host::parse(&domain).is_err() {
            return Err(ConfigError::Invalid {
                key: "domain",
                message: format!("{domain:?} is not a host name"),
            });
        }
        let listen = raw
            .sip_listen
            .unwrap_or_else(|| vec!["udp:127.0.0.1:5060".into(), "tcp:127.0.0.1:5060".into()]);
        if listen.is_empty() {
            return Err(ConfigError::Invalid {
                key: "sip_listen",
                message: "at least one listener is needed".into(),
            });
        }
        let sip_listen = listen
            .iter()
            .map(|s| parse_listen(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| ConfigError::Invalid {
                key: "sip_listen",
                message,
            })?;
        let server_name = raw
            .server_name
            .unwrap_or_else(|| format!("ViaWork/{}", env!("CARGO_PKG_VERSION")));
        if server_name.is_empty() || server_name.contains(['\r', '\n', '"']) {
            return Err(ConfigError::Invalid {
                key: "server_name",
                message: "must be non-empty, on one line, without quotes".into(),
            });
        }
        let tls = match (&raw.tls_certificate, &raw.tls_private_key) {
            (Some(cert), Some(key)) => {
                let read = |key_name: &'static str, p: &std::path::Path| {
                    std::fs::read(p).map_err(|e| ConfigError::Invalid {
                        key: key_name,
                        message: format!("cannot read {}: {e}", p.display()),
                    })
                };
                let chain = read("tls_certificate", cert)?;
                let pkey = read("tls_private_key", key)?;
                // Without a CA file, peers are verified against our own chain's certificates.
                let roots = match &raw.tls_ca {
                    Some(ca) => read("tls_ca", ca)?,
                    None => chain.clone(),
                };
                Some(
                    sip_stack::transport::TlsSettings::from_pem(&chain, &pkey, &roots).map_err(
                        |e| ConfigError::Invalid {
                            key: "tls_certificate",
                            message: e.to_string(),
                        },
                    )?,
                )
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::Invalid {
                    key: "tls_private_key",
                    message: "tls_certificate is set but its private key is not".into(),
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    key: "tls_certificate",
                    message: "tls_private_key is set but the certificate is not".into(),
                })
            }
        };
        if tls.is_none()
            && sip_listen
                .iter()
                .any(|(t, _)| matches!(t, Transport::Tls | Transport::Wss))
        {
            return Err(ConfigError::Invalid {
                key: "sip_listen",
                message: "a tls or wss listener needs tls_certificate and tls_private_key".into(),
            });
        }
        let mut timers = sip_stack::transaction::TimerConfig::default();
        let ms = std::time::Duration::from_millis;
        if let Some(t1) = raw.sip_t1_ms {
            if !(50..=10_000).contains(&t1) {
                return Err(ConfigError::Invalid {
                    key: "sip_t1_ms",
                    message: format!("{t1} is outside 50..=10000 ms (RFC 3261 default 500)"),
                });
            }
            timers.t1 = ms(t1);
        }
        if let Some(t2) = raw.sip_t2_ms {
            timers.t2 = ms(t2);
        }
        if let Some(t4) = raw.sip_t4_ms {
            if !(1..=60_000).contains(&t4) {
                return Err(ConfigError::Invalid {
                    key: "sip_t4_ms",
                    message: format!("{t4} is outside 1..=60000 ms (RFC 3261 default 5000)"),
                });
            }
            timers.t4 = ms(t4);
        }
        if timers.t2 < timers.t1 || timers.t2 > ms(60_000) {
            return Err(ConfigError::Invalid {
                key: "sip_t2_ms",
                message: format!(
                    "{} ms must be at least T1 ({} ms) and at most 60000 (RFC 3261 default 4000)",
                    timers.t2.as_millis(),
                    timers.t1.as_millis()
                ),
            });
        }
        Ok(Config {
            domain,
            sip_listen,
            server_name,
            tls,
            timers,
            http_listen,
            database,
            pbx,
            token_lifetime: std::time::Duration::from_secs(token_secs),
            directory_cache: std::time::Duration::from_millis(directory_cache_ms),
            calls: calls_from_raw(raw.calls.take())?,
            media: media_from_raw(raw.media.take())?,
            im: im_from_raw(raw.im.take())?,
            registrar: registrar_from_raw(raw.registrar.take())?,
            presence: presence_from_raw(raw.presence.take())?,
            meetings: meetings_from_raw(raw.meetings.take())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meetings_table_is_validated_naming_the_key() {
        let c = load_str(
            "[meetings]\njoin_url_base = \"https://meet.example.com/\"\npin_min_length = 6\n\
             [[meetings.bridge_numbers]]\nnumber = \"+14255550100\"\nextension = \"5100\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            c.meetings.join_url_base.as_deref(),
            Some("https://meet.example.com")
        );
        assert_eq!(c.meetings.pin_policy.min_length(), 6);
        assert_eq!(
            c.meetings.bridge_for("5100").map(|b| b.number.as_str()),
            Some("+14255550100")
        );
        assert!(c.meetings.bridge_for("14255550100").is_some());
        assert!(c.meetings.bridge_for("+14255550101").is_none());
        for (text, key) in [
            (
                "[[meetings.bridge_numbers]]\nnumber = \"555\"\n",
                "meetings.bridge_numbers",
            ),
            (
                "[[meetings.bridge_numbers]]\nnumber = \"+14255550100\"\n\
                 [[meetings.bridge_numbers]]\nnumber = \"+14255550100\"\n",
                "meetings.bridge_numbers",
            ),
            (
                "[meetings]\njoin_url_base = \"meet.example.com\"\n",
                "meetings.join_url_base",
            ),
            (
                "[meetings]\nmax_per_organizer = 0\n",
                "meetings.max_per_organizer",
            ),
            (
                "[meetings]\npin_min_length = 3\n",
                "meetings.pin_min_length",
            ),
            (
                "[meetings]\nrecording_retention_days = 4000\n",
                "meetings.recording_retention_days",
            ),
        ] {
            match load_str(text, &[]) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn presence_timing_is_validated_naming_the_key() {
        let c = load_str("", &[]).unwrap();
        assert_eq!(c.presence, crate::presence::PresenceConfig::default());
        let c = load_str(
            "[presence]\nidle_after_secs = 120\naway_after_secs = 900\n",
            &[("VIAWORK_PRESENCE_MAX_SUBSCRIPTIONS", "50")],
        )
        .unwrap();
        assert_eq!(c.presence.idle_after.as_secs(), 120);
        assert_eq!(c.presence.away_after.as_secs(), 900);
        assert_eq!(c.presence.max_subscriptions, 50);
        for (toml, key) in [
            (
                "[presence]\nidle_after_secs = 5\n",
                "presence.idle_after_secs",
            ),
            (
                "[presence]\nidle_after_secs = 600\naway_after_secs = 300\n",
                "presence.away_after_secs",
            ),
            (
                "[presence]\nmax_subscriptions = 0\n",
                "presence.max_subscriptions",
            ),
        ] {
            match load_str(toml, &[]) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key),
                other => panic!("{toml}: {other:?}"),
            }
        }
    }

    fn load_str(s: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(s).map_err(|e| ConfigError::Syntax {
            path: "test".into(),
            message: e.to_string(),
        })?;
        Config::from_raw(raw, |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_need_no_file() {
        let c = load_str("", &[]).unwrap();
        assert_eq!(c.domain, "example.com");
        assert_eq!(c.sip_listen.len(), 2);
    }

    #[test]
    fn errors_name_the_key() {
        let e = load_str("sip_listen = [\"sctp:1.2.3.4:5060\"]", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`sip_listen`"), "{e}");
        let e = load_str("domain = \"bad domain\"", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`domain`"), "{e}");
        let e = load_str("colour = 1", &[]).unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
        let e = load_str("sip_listen = [\"tls:127.0.0.1:5061\"]", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`sip_listen`") && e.contains("tls_certificate"),
            "{e}"
        );
        let e = load_str("tls_certificate = \"/nonexistent.pem\"", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`tls_private_key`"), "{e}");
        let e = load_str(
            "tls_certificate = \"/nonexistent.pem\"\ntls_private_key = \"/k.pem\"",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`tls_certificate`") && e.contains("/nonexistent.pem"),
            "{e}"
        );
    }

    #[test]
    fn timers_are_validated() {
        let c = load_str("sip_t1_ms = 250\nsip_t2_ms = 2000", &[]).unwrap();
        assert_eq!(c.timers.t1, std::time::Duration::from_millis(250));
        let e = load_str("sip_t1_ms = 5", &[]).unwrap_err().to_string();
        assert!(e.contains("`sip_t1_ms`"), "{e}");
        let e = load_str("sip_t1_ms = 1000\nsip_t2_ms = 500", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`sip_t2_ms`"), "{e}");
        let e = load_str("", &[("VIAWORK_SIP_T4_MS", "soon")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`sip_t4_ms`"), "{e}");
    }

    #[test]
    fn cidrs_contain_their_addresses() {
        let c: Cidr = "192.0.2.0/24".parse().unwrap();
        assert!(c.contains("192.0.2.77".parse().unwrap()));
        assert!(!c.contains("192.0.3.1".parse().unwrap()));
        let one: Cidr = "10.1.2.3".parse().unwrap();
        assert!(one.contains("10.1.2.3".parse().unwrap()));
        assert!(!one.contains("10.1.2.4".parse().unwrap()));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("10.1.2.3".parse().unwrap()));
        let any: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(any.contains("203.0.113.9".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nope".parse::<Cidr>().is_err());
    }

    #[test]
    fn trunk_calls_and_media_keys_are_validated() {
        let c = load_str(
            "[pbx]\naddress = \"10.0.0.5\"\nusername = \"vw\"\npassword = \"s3cret\"\n\
             number_format = \"e164_no_plus\"\ndial_prefix = \"9\"\noptions_interval_secs = 0\n\
             [calls]\nfar_ring_timeout_secs = 30\nmax_calls_per_minute = 3\n\
             [media]\nanchor = \"always\"\naddress = \"10.0.0.1\"\nrtp_port_min = 30000\n\
             rtp_port_max = 30999\ntone_region = \"UK\"\nmeeting_codecs = [\"pcma\", \" G722\"]\n\
             mixing_threads = 3\nmixing_priority = \"Realtime\"",
            &[("VIAWORK_PBX_PASSWORD", "from-env")],
        )
        .unwrap();
        let pbx = c.pbx.unwrap();
        assert_eq!(pbx.credentials, Some(("vw".into(), "from-env".into())));
        assert_eq!(pbx.number_format, NumberFormat::E164NoPlus);
        assert_eq!(pbx.dial_prefix, "9");
        assert_eq!(pbx.options_interval_secs, 0);
        assert_eq!(c.calls.far_ring_timeout.as_secs(), 30);
        assert_eq!(c.calls.max_calls_per_minute, 3);
        assert_eq!(c.media.anchor, Anchor::Always);
        assert_eq!(c.media.tone_region, "uk");
        assert_eq!((c.media.rtp_port_min, c.media.rtp_port_max), (30000, 30999));
        assert_eq!(c.media.meeting_codecs, [sdp::Codec::Pcma, sdp::Codec::G722]);
        assert_eq!(
            c.media.mixing,
            media::MixingConfig {
                threads: 3,
                priority: media::MixingPriority::Realtime
            }
        );
        assert_eq!(
            load_str("", &[]).unwrap().media.mixing,
            media::MixingConfig::default()
        );
        assert_eq!(
            MediaConfig::default().meeting_codecs,
            [sdp::Codec::G722, sdp::Codec::Pcmu, sdp::Codec::Pcma]
        );
        for (toml, key) in [
            ("[pbx]\naddress = \"p\"\nusername = \"u\"", "`pbx.password`"),
            (
                "[pbx]\naddress = \"p\"\nnumber_format = \"national\"",
                "`pbx.number_format`",
            ),
            (
                "[pbx]\naddress = \"p\"\ndial_prefix = \"9x\"",
                "`pbx.dial_prefix`",
            ),
            (
                "[pbx]\naddress = \"p\"\noptions_interval_secs = 2",
                "`pbx.options_interval_secs`",
            ),
            (
                "[calls]\ncallback_ring_timeout_secs = 1",
                "`calls.callback_ring_timeout_secs`",
            ),
            (
                "[calls]\nmax_calls_per_minute = 0",
                "`calls.max_calls_per_minute`",
            ),
            ("[media]\nanchor = \"sometimes\"", "`media.anchor`"),
            ("[media]\naddress = \"0.0.0.0\"", "`media.address`"),
            ("[media]\nrtp_port_min = 20001", "`media.rtp_port_min`"),
            ("[media]\nrtp_port_max = 100", "`media.rtp_port_max`"),
            ("[media]\ntone_region = \"mars\"", "`media.tone_region`"),
            (
                "[media]\nmeeting_codecs = [\"G729\", \"PCMU\"]",
                "`media.meeting_codecs`",
            ),
            (
                "[media]\nmeeting_codecs = [\"PCMU\", \"pcmu\"]",
                "`media.meeting_codecs`",
            ),
            (
                "[media]\nmeeting_codecs = [\"G722\"]",
                "`media.meeting_codecs`",
            ),
            ("[media]\nmeeting_codecs = []", "`media.meeting_codecs`"),
            ("[media]\nmixing_threads = 0", "`media.mixing_threads`"),
            ("[media]\nmixing_threads = 65", "`media.mixing_threads`"),
            (
                "[media]\nmixing_priority = \"fifo\"",
                "`media.mixing_priority`",
            ),
            (
                "[pbx]\naddress = \"p\"\ntrusted_sources = [\"10.0.0.0/33\"]",
                "`pbx.trusted_sources`",
            ),
        ] {
            let e = load_str(toml, &[]).unwrap_err().to_string();
            assert!(e.contains(key), "{toml}: {e}");
        }
    }

    #[test]
    fn http_database_and_pbx_have_defaults_and_are_validated() {
        let c = load_str("", &[]).unwrap();
        assert_eq!(c.http_listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database, "sqlite://viawork.db");
        assert_eq!(c.pbx, None);
        assert_eq!(c.token_lifetime.as_secs(), DEFAULT_TOKEN_LIFETIME_SECS);
        let c = load_str(
            "http_listen = \"[::1]:9000\"\ndatabase = \"postgres://v@db/viawork\"\n\
             [pbx]\naddress = \"pbx.example.com:5061\"\ntransport = \"TLS\"",
            &[],
        )
        .unwrap();
        assert_eq!(c.http_listen.port(), 9000);
        assert_eq!(
            c.pbx,
            Some(PbxConfig {
                host: "pbx.example.com".into(),
                port: Some(5061),
                transport: PbxTransport::Tls,
                credentials: None,
                options_interval_secs: 30,
                number_format: NumberFormat::E164,
                dial_prefix: String::new(),
                refer_with_replaces: true,
                reinvite_without_sdp: true,
                send_pai: true,
                trusted_sources: vec![],
                privacy_id: false,
                session_expires_secs: 0,
                prack: false,
                outbound_proxy: None,
                dialog_subscription_secs: None,
            })
        );
        let c = load_str("[pbx]\naddress = \"[2001:db8::1]\"", &[]).unwrap();
        let pbx = c.pbx.unwrap();
        assert_eq!((pbx.host.as_str(), pbx.port), ("2001:db8::1", None));
        assert_eq!(pbx.transport, PbxTransport::Udp);
        for (toml, key) in [
            ("http_listen = \"localhost\"", "`http_listen`"),
            ("database = \"mysql://x\"", "`database`"),
            ("database = \"sqlite://\"", "`database`"),
            ("token_lifetime_secs = 5", "`token_lifetime_secs`"),
            ("directory_cache_ms = 60001", "`directory_cache_ms`"),
            (
                "[calls]\nmax_pending_setups = 0",
                "`calls.max_pending_setups`",
            ),
            ("[pbx]\ntransport = \"tcp\"", "`pbx.address`"),
            ("[pbx]\naddress = \"pbx:0\"", "`pbx.address`"),
            ("[pbx]\naddress = \"bad host\"", "`pbx.address`"),
            ("[pbx]\naddress = \"2001:db8::1\"", "`pbx.address`"),
            (
                "[pbx]\naddress = \"pbx\"\ntransport = \"sctp\"",
                "`pbx.transport`",
            ),
        ] {
            let e = load_str(toml, &[]).unwrap_err().to_string();
            assert!(e.contains(key), "{toml}: {e}");
        }
        let e = load_str("[pbx]\nport = 5060", &[]).unwrap_err().to_string();
        assert!(e.contains("port"), "{e}");
    }

    #[test]
    fn the_directory_cache_and_the_setup_limit_have_defaults_and_follow_the_environment() {
        let c = load_str("", &[]).unwrap();
        assert_eq!(c.directory_cache, std::time::Duration::from_millis(250));
        assert_eq!(c.calls.max_pending_setups, 256);
        let c = load_str(
            "directory_cache_ms = 1000\n[calls]\nmax_pending_setups = 10",
            &[
                ("VIAWORK_DIRECTORY_CACHE_MS", "0"),
                ("VIAWORK_CALLS_MAX_PENDING_SETUPS", "3"),
            ],
        )
        .unwrap();
        assert_eq!(c.directory_cache, std::time::Duration::ZERO);
        assert_eq!(c.calls.max_pending_setups, 3);
    }

    #[test]
    fn http_database_and_pbx_follow_the_environment() {
        let c = load_str(
            "http_listen = \"127.0.0.1:1\"",
            &[
                ("VIAWORK_HTTP_LISTEN", "127.0.0.1:0"),
                ("VIAWORK_DATABASE", "sqlite:///tmp/x.db"),
                ("VIAWORK_PBX_ADDRESS", "10.0.0.5"),
                ("VIAWORK_PBX_TRANSPORT", "tcp"),
                ("VIAWORK_TOKEN_LIFETIME_SECS", "600"),
            ],
        )
        .unwrap();
        assert_eq!(c.http_listen.port(), 0);
        assert_eq!(c.database, "sqlite:///tmp/x.db");
        let pbx = c.pbx.unwrap();
        assert_eq!(
            (pbx.host.as_str(), pbx.transport),
            ("10.0.0.5", PbxTransport::Tcp)
        );
        assert_eq!(c.token_lifetime.as_secs(), 600);
        let e = load_str("", &[("VIAWORK_PBX_TRANSPORT", "ws")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`pbx.address`"), "{e}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = load_str(
            "domain = \"a.example\"",
            &[
                ("VIAWORK_DOMAIN", "b.example"),
                ("VIAWORK_SIP_LISTEN", "udp:127.0.0.1:0"),
            ],
        )
        .unwrap();
        assert_eq!(c.domain, "b.example");
        assert_eq!(c.sip_listen.len(), 1);
    }
}
