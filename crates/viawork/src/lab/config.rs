//! The lab's configuration and the files rendered from it: `kamailio.cfg` and one baresip
//! config directory per phone. Rendering is pure, so it can be checked without starting
//! anything; [`super::Lab::start`] writes the result under [`LabConfig::dir`].
//!
//! # Number plan
//!
//! Extensions are four digits. Extension `NNNN` is also reachable as the E.164 number
//! `+1425555NNNN` (and `1425555NNNN` without the `+`): the PBX keeps the last four digits
//! of such a number when they name a configured extension.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::LabError;

/// The E.164 prefix of the lab's number plan: extension `NNNN` is `+1425555NNNN`.
pub const E164_PREFIX: &str = "+1425555";

/// Where Debian's `baresip-core` installs its modules.
pub const DEFAULT_BARESIP_MODULES: &str = "/usr/lib/baresip/modules";

/// RTP ports the phones use: above ViaWork's default media range (20000-29999) and below
/// Linux's ephemeral range (32768-60999), where the tests take their ports, so a phone
/// never grabs a port that ViaWork or a test is about to bind.
pub const RTP_PORTS: (u16, u16) = (30000, 32767);

/// A lab PBX: Kamailio and its phones, all on 127.0.0.1.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Where configs, logs, pid files and recordings go. The caller owns it (and removes it).
    pub dir: PathBuf,
    /// Kamailio's listen address, UDP and TCP (127.0.0.1:port).
    pub pbx: SocketAddr,
    /// Where calls to numbers the PBX does not know go (ViaWork's SIP address, UDP). Calls
    /// from this address are trusted. `None`: such calls get 404.
    pub viawork: Option<SocketAddr>,
    /// The desk phones.
    pub phones: Vec<PhoneConfig>,
}

/// One baresip desk phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneConfig {
    /// Four digits, e.g. `"0101"`; also the SIP user it registers as.
    pub extension: String,
    /// Display name, sent in From.
    pub name: String,
    /// baresip's SIP port on 127.0.0.1 (UDP and TCP; it also listens on TCP `sip_port + 1`).
    pub sip_port: u16,
    /// Port of baresip's `ctrl_tcp` remote control on 127.0.0.1.
    pub ctrl_port: u16,
    /// What this phone "says": a sine at this frequency (baresip's `ausine`, 10-20000 Hz).
    pub tone_hz: u32,
    /// Answer incoming calls at once (`answermode=auto`); else they ring until answered.
    pub auto_answer: bool,
}

impl PhoneConfig {
    /// This phone's number in the plan: `+1425555` followed by the extension.
    pub fn e164(&self) -> String {
        format!("{E164_PREFIX}{}", self.extension)
    }
}

/// Files rendered from a [`LabConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The text of `kamailio.cfg`.
    pub kamailio_cfg: String,
    /// One entry per phone, in the order of [`LabConfig::phones`].
    pub phones: Vec<RenderedPhone>,
}

/// One phone's baresip config directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPhone {
    /// The extension.
    pub extension: String,
    /// The directory given to `baresip -f`.
    pub dir: PathBuf,
    /// The text of `config`.
    pub config: String,
    /// The text of `accounts`.
    pub accounts: String,
}

/// Paths derived from the lab directory, shared by rendering and by the running lab.
pub(crate) struct Layout;

impl Layout {
    pub(crate) fn kamailio_cfg(dir: &Path) -> PathBuf {
        dir.join("kamailio.cfg")
    }
    pub(crate) fn kamailio_log(dir: &Path) -> PathBuf {
        dir.join("kamailio.log")
    }
    pub(crate) fn kamailio_pid(dir: &Path) -> PathBuf {
        dir.join("kamailio.pid")
    }
    /// Kamailio's `ctl` socket, for `kamcmd -s unix:PATH ul.dump` when debugging.
    pub(crate) fn kamailio_ctl(dir: &Path) -> PathBuf {
        dir.join("kamailio_ctl")
    }
    pub(crate) fn phone_dir(dir: &Path, extension: &str) -> PathBuf {
        dir.join(format!("phone-{extension}"))
    }
    pub(crate) fn phone_log(dir: &Path, extension: &str) -> PathBuf {
        Self::phone_dir(dir, extension).join("baresip.log")
    }
    pub(crate) fn recordings(dir: &Path, extension: &str) -> PathBuf {
        Self::phone_dir(dir, extension).join("recordings")
    }
}

/// Checks a configuration: loopback addresses, four-digit unique extensions, distinct
/// ports, and paths and names that the config formats can carry.
pub fn validate(config: &LabConfig) -> Result<(), LabError> {
    let bad = |why: String| Err(LabError::Config(why));
    if !is_loopback_v4(&config.pbx) || config.pbx.port() == 0 {
        return bad(format!(
            "pbx must be 127.0.0.1 with a port (got {}): the lab stays on loopback",
            config.pbx
        ));
    }
    if let Some(v) = config.viawork {
        if !is_loopback_v4(&v) || v.port() == 0 {
            return bad(format!(
                "viawork must be 127.0.0.1 with a port (got {v}): the lab stays on loopback"
            ));
        }
    }
    let dir = config
        .dir
        .to_str()
        .ok_or_else(|| LabError::Config(format!("dir {} is not UTF-8", config.dir.display())))?;
    // baresip splits config values on whitespace; Kamailio strings are double-quoted.
    if dir
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\\')
        || !config.dir.is_absolute()
    {
        return bad(format!(
            "dir {dir:?} must be an absolute path without spaces, quotes or backslashes"
        ));
    }
    if config.phones.is_empty() {
        return bad("a lab needs at least one phone".into());
    }
    let mut extensions = HashSet::new();
    let mut ports = HashSet::from([config.pbx.port()]);
    if let Some(v) = config.viawork {
        ports.insert(v.port());
    }
    for phone in &config.phones {
        let ext = &phone.extension;
        if ext.len() != 4 || !ext.bytes().all(|b| b.is_ascii_digit()) {
            return bad(format!(
                "extension {ext:?} must be 4 digits (the number plan maps +1425555NNNN to NNNN)"
            ));
        }
        if !extensions.insert(ext.clone()) {
            return bad(format!("extension {ext} is configured twice"));
        }
        if phone.name.is_empty() || phone.name.chars().any(|c| c == '"' || c.is_control()) {
            return bad(format!(
                "phone {ext}: name {:?} must be non-empty, without quotes or control characters",
                phone.name
            ));
        }
        if !(10..=20000).contains(&phone.tone_hz) {
            return bad(format!(
                "phone {ext}: tone_hz {} is outside baresip ausine's 10-20000 Hz",
                phone.tone_hz
            ));
        }
        let sip_tls = phone.sip_port.checked_add(1);
        for (what, port) in [
            ("sip_port", Some(phone.sip_port)),
            ("sip_port + 1 (baresip's second TCP listener)", sip_tls),
            ("ctrl_port", Some(phone.ctrl_port)),
        ] {
            match port {
                Some(p) if p != 0 && ports.insert(p) => {}
                _ => {
                    return bad(format!(
                    "phone {ext}: {what} ({port:?}) is 0 or clashes with another port of the lab"
                ))
                }
            }
        }
    }
    Ok(())
}

/// Renders `kamailio.cfg` and the phones' baresip configs. `baresip_modules` is baresip's
/// module directory (see [`DEFAULT_BARESIP_MODULES`]).
pub fn render(config: &LabConfig, baresip_modules: &Path) -> Result<Rendered, LabError> {
    validate(config)?;
    Ok(Rendered {
        kamailio_cfg: render_kamailio(config),
        phones: config
            .phones
            .iter()
            .map(|p| render_phone(config, p, baresip_modules))
            .collect(),
    })
}

fn is_loopback_v4(addr: &SocketAddr) -> bool {
    matches!(addr, SocketAddr::V4(a) if a.ip().is_loopback() && a.ip().octets() == [127, 0, 0, 1])
}

fn render_kamailio(config: &LabConfig) -> String {
    let port = config.pbx.port();
    let exts: Vec<&str> = config.phones.iter().map(|p| p.extension.as_str()).collect();
    let ext_alt = exts.join("|");
    let ctl = Layout::kamailio_ctl(&config.dir);
    let (outside_doc, outside_route) = match config.viawork {
        Some(v) => (
            format!(
                "#   anything else                -> ViaWork at {v} (404 if it came from ViaWork)"
            ),
            format!(
                r#"route[OUTSIDE] {{
	# ViaWork is trusted (no authentication anywhere in this lab). A call from ViaWork
	# for a number we do not know must not be sent back to it: that would be a loop.
	# ViaWork is recognised by its UDP source address (over TCP its port is ephemeral).
	if ($si == "{ip}" && $sp == {vport}) {{
		sl_send_reply("404", "Not Found");
		exit;
	}}
	# Like a trunk: the user part is kept, the host becomes ViaWork.
	$rd = "{ip}";
	$rp = {vport};
	route(RELAY);
}}"#,
                ip = v.ip(),
                vport = v.port()
            ),
        ),
        None => (
            "#   anything else                -> 404 (no ViaWork configured)".to_string(),
            r#"route[OUTSIDE] {
	sl_send_reply("404", "Not Found");
	exit;
}"#
            .to_string(),
        ),
    };
    format!(
        r#"#!KAMAILIO
#
# ViaWork lab PBX: registrar and router by extension, on loopback only.
# Generated by viawork::lab at each start; edits are overwritten.
#
# Number plan: extension NNNN <=> +1425555NNNN. Extensions: {exts_list}.
# Requests are routed by the user part of their Request-URI:
#   an extension                 -> the phone registered for it (480 if not registered)
#   +1425555NNNN or 1425555NNNN  -> extension NNNN, when NNNN is one of the extensions
{outside_doc}
# OPTIONS to the PBX itself (no user part) -> 200 (keep-alives).
# Phones register without authentication: this lab is loopback-only.

####### Global parameters #########

debug=2                 # info; 3 or more to trace SIP processing
log_stderror=yes        # the lab captures stderr into kamailio.log
children=2              # a lab needs little (and fewer workers reorder fewer replies)
tcp_children=2
auto_aliases=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
dns=no                  # addresses are literal IPs: no DNS at all
rev_dns=no
use_dns_cache=no
server_header="Server: ViaWork lab PBX"
user_agent_header="User-Agent: ViaWork lab PBX"

####### Modules #########

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "ctl.so"

# Inspect registrations with: kamcmd -s unix:{ctl} ul.dump
modparam("ctl", "binrpc", "unix:{ctl}")
# Registrations live in memory only (usrloc db_mode 0, the default).
modparam("usrloc", "db_mode", 0)

####### Routing #########

request_route {{
	if (!mf_process_maxfwd_header("10")) {{
		sl_send_reply("483", "Too Many Hops");
		exit;
	}}

	# In-dialog requests (ACK, BYE, re-INVITE, REFER, NOTIFY) follow the Record-Route
	# set of the dialog, whichever side sends them.
	if (has_totag()) {{
		route(WITHINDLG);
		exit;
	}}

	# CANCEL and retransmissions belong to transactions tm already holds.
	if (is_method("CANCEL")) {{
		if (t_check_trans()) {{
			route(RELAY);
		}}
		exit;
	}}
	if (!is_method("ACK")) {{
		t_check_trans();
	}}

	if (is_method("REGISTER")) {{
		if (!save("location")) {{
			sl_reply_error();
		}}
		exit;
	}}

	# Keep-alives (ViaWork's OPTIONS) to the PBX itself.
	if (is_method("OPTIONS") && uri == myself && $rU == $null) {{
		sl_send_reply("200", "OK");
		exit;
	}}

	xlog("L_INFO", "lab: $rm $ru from $fu ($si:$sp)\n");

	# The lab is the only proxy: a Route header preloaded by the caller names us.
	remove_hf("Route");
	# Stay on the path of the dialog so in-dialog requests from both sides reach us.
	if (is_method("INVITE|SUBSCRIBE|REFER")) {{
		record_route();
	}}
	route(NUMBERPLAN);
}}

route[NUMBERPLAN] {{
	# +1425555NNNN and 1425555NNNN are extension NNNN: keep the last 4 digits.
	if ($rU =~ "^[+]?1425555({ext_alt})$") {{
		$rU = $(rU{{s.substr,-4,0}});
	}}
	if ($rU =~ "^({ext_alt})$") {{
		if (!lookup("location")) {{
			sl_send_reply("480", "Temporarily Unavailable");
			exit;
		}}
		route(RELAY);
	}}
	route(OUTSIDE);
}}

{outside_route}

route[WITHINDLG] {{
	if (loose_route()) {{
		route(RELAY);
	}}
	# An ACK for a negative final reply has no Route: it ends a transaction tm holds.
	if (is_method("ACK")) {{
		if (t_check_trans()) {{
			t_relay();
		}}
		exit;
	}}
	sl_send_reply("404", "Not Here");
	exit;
}}

route[RELAY] {{
	if (!t_relay()) {{
		sl_reply_error();
	}}
	exit;
}}
"#,
        exts_list = exts.join(", "),
        ctl = ctl.display(),
    )
}

fn render_phone(config: &LabConfig, phone: &PhoneConfig, modules: &Path) -> RenderedPhone {
    let ext = &phone.extension;
    let dir = Layout::phone_dir(&config.dir, ext);
    let recordings = Layout::recordings(&config.dir, ext);
    let answermode = if phone.auto_answer { "auto" } else { "manual" };
    let config_text = format!(
        "# baresip desk phone {ext} (\"{name}\") of the ViaWork lab PBX.
# Generated by viawork::lab at each start; edits are overwritten.

poll_method\t\tepoll
# Loopback only: SIP on UDP and TCP {sip} (and TCP {sip_plus}).
sip_listen\t\t127.0.0.1:{sip}
net_interface\t\t127.0.0.1
# Addresses are literal IPs; should a name ever be resolved, ask loopback.
dns_server\t\t127.0.0.1:53
rtp_ports\t\t{rtp_lo}-{rtp_hi}
call_local_timeout\t120
call_max_calls\t\t4

# No sound card: the phone \"says\" a {tone} Hz sine (ausine: 48 kHz stereo only) and
# plays what it hears into nothing; sndfile records both directions to {recordings}.
audio_source\t\tausine,{tone}
ausrc_srate\t\t48000
ausrc_channels\t\t2
audio_player\t\taubridge,nil
audio_alert\t\taubridge,alert
audio_buffer\t\t20-160
jitter_buffer_delay\t5-10
rtp_tos\t\t\t0
snd_path\t\t{recordings}

module_path\t\t{modules}
module\t\t\tg711.so
module\t\t\tausine.so
module\t\t\taubridge.so
module\t\t\tsndfile.so
module_app\t\taccount.so
# menu provides the dial/hangup/accept/listcalls commands and automatic answering.
module_app\t\tmenu.so
module_app\t\tctrl_tcp.so
ctrl_tcp_listen\t\t127.0.0.1:{ctrl}
statmode_default\toff
ringback_disabled\tyes
menu_bell\t\tno
",
        name = phone.name,
        sip = phone.sip_port,
        sip_plus = u32::from(phone.sip_port) + 1,
        rtp_lo = RTP_PORTS.0,
        rtp_hi = RTP_PORTS.1,
        tone = phone.tone_hz,
        recordings = recordings.display(),
        modules = modules.display(),
        ctrl = phone.ctrl_port,
    );
    // No `uuid` file is written: one with a trailing newline breaks registration.
    let accounts = format!(
        "\"{name}\" <sip:{ext}@127.0.0.1:{pbx}>;regint=300;answermode={answermode};audio_codecs=PCMU,PCMA\n",
        name = phone.name,
        pbx = config.pbx.port(),
    );
    RenderedPhone {
        extension: ext.clone(),
        dir,
        config: config_text,
        accounts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(ext: &str, sip: u16, ctrl: u16) -> PhoneConfig {
        PhoneConfig {
            extension: ext.into(),
            name: format!("Phone {ext}"),
            sip_port: sip,
            ctrl_port: ctrl,
            tone_hz: 440,
            auto_answer: true,
        }
    }

    fn lab(viawork: Option<&str>) -> LabConfig {
        LabConfig {
            dir: PathBuf::from("/tmp/lab"),
            pbx: "127.0.0.1:5060".parse().unwrap(),
            viawork: viawork.map(|v| v.parse().unwrap()),
            phones: vec![phone("0101", 5070, 5080), phone("0102", 5072, 5082)],
        }
    }

    #[test]
    fn kamailio_cfg_routes_extensions_numbers_and_the_rest_to_viawork() {
        let r = render(&lab(Some("127.0.0.1:5090")), Path::new("/mods")).unwrap();
        let k = &r.kamailio_cfg;
        assert!(k.starts_with("#!KAMAILIO"));
        assert!(k.contains("listen=udp:127.0.0.1:5060\n"));
        assert!(k.contains("listen=tcp:127.0.0.1:5060\n"));
        assert!(k.contains(r#"if ($rU =~ "^[+]?1425555(0101|0102)$") {"#));
        assert!(k.contains("$rU = $(rU{s.substr,-4,0});"));
        assert!(k.contains(r#"if ($rU =~ "^(0101|0102)$") {"#));
        assert!(k.contains("lookup(\"location\")"));
        assert!(k.contains("record_route();"));
        assert!(k.contains("$rd = \"127.0.0.1\";\n\t$rp = 5090;"));
        assert!(k.contains("if ($si == \"127.0.0.1\" && $sp == 5090)"));
        assert!(k.contains("modparam(\"ctl\", \"binrpc\", \"unix:/tmp/lab/kamailio_ctl\")"));
        // Every block is closed.
        assert_eq!(k.matches('{').count(), k.matches('}').count());
    }

    #[test]
    fn without_viawork_unknown_numbers_get_404() {
        let r = render(&lab(None), Path::new("/mods")).unwrap();
        let outside = r.kamailio_cfg.split("route[OUTSIDE]").nth(1).unwrap();
        assert!(outside
            .trim_start()
            .starts_with("{\n\tsl_send_reply(\"404\""));
        assert!(!r.kamailio_cfg.contains("$rd ="));
    }

    #[test]
    fn baresip_configs_listen_on_loopback_and_register_to_the_pbx() {
        let r = render(&lab(None), Path::new("/mods")).unwrap();
        let p = &r.phones[1];
        assert_eq!(p.extension, "0102");
        assert_eq!(p.dir, PathBuf::from("/tmp/lab/phone-0102"));
        assert!(p.config.contains("sip_listen\t\t127.0.0.1:5072\n"));
        assert!(p.config.contains("ctrl_tcp_listen\t\t127.0.0.1:5082\n"));
        assert!(p.config.contains("audio_source\t\tausine,440\n"));
        assert!(p
            .config
            .contains("snd_path\t\t/tmp/lab/phone-0102/recordings\n"));
        assert!(p.config.contains("module_path\t\t/mods\n"));
        assert_eq!(
            p.accounts,
            "\"Phone 0102\" <sip:0102@127.0.0.1:5060>;regint=300;answermode=auto;audio_codecs=PCMU,PCMA\n"
        );
        assert_eq!(lab(None).phones[0].e164(), "+14255550101");
    }

    #[test]
    fn rejects_what_the_lab_cannot_run() {
        let mut c = lab(None);
        c.pbx = "0.0.0.0:5060".parse().unwrap();
        assert!(matches!(validate(&c), Err(LabError::Config(m)) if m.contains("pbx")));
        let mut c = lab(None);
        c.phones[1].extension = "101".into();
        assert!(matches!(validate(&c), Err(LabError::Config(m)) if m.contains("4 digits")));
        let mut c = lab(None);
        c.phones[1].extension = "0101".into();
        assert!(matches!(validate(&c), Err(LabError::Config(m)) if m.contains("twice")));
        let mut c = lab(None);
        c.phones[1].sip_port = 5071; // 0101's second TCP listener
        assert!(matches!(validate(&c), Err(LabError::Config(m)) if m.contains("clashes")));
        let mut c = lab(None);
        c.dir = PathBuf::from("/tmp/a lab");
        assert!(matches!(validate(&c), Err(LabError::Config(m)) if m.contains("spaces")));
        let mut c = lab(None);
        c.phones[0].name = "Say \"hi\"".into();
        assert!(matches!(validate(&c), Err(LabError::Config(m)) if m.contains("quotes")));
    }
}
