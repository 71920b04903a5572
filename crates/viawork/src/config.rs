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
}

/// Parses a listener spec `udp:127.0.0.1:5060` / `tcp:[::1]:5060`.
pub fn parse_listen(s: &str) -> Result<(Transport, SocketAddr), String> {
    let (t, addr) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not transport:address:port"))?;
    let transport = match t.to_ascii_lowercase().as_str() {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        other => return Err(format!("transport {other:?} is not supported (udp, tcp)")),
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
        Ok(Config {
            domain,
            sip_listen,
            server_name,
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
