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
}

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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
