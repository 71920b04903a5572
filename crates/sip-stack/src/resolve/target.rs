//! The TARGET of RFC 3263 §4: the host (or `maddr`), port, transport and scheme of the URI
//! being resolved, taken out of the URI once so the selection core works on plain values.

use super::error::ResolveError;
use crate::transport::Transport;
use sip::{Host, SipUri, Uri};
use std::fmt;
use std::net::IpAddr;

/// The host to locate: a domain name to look up, or an address to use as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetHost {
    /// A domain name, as written in the URI.
    Domain(String),
    /// A numeric IPv4 or IPv6 address.
    Ip(IpAddr),
}

impl fmt::Display for TargetHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetHost::Domain(d) => f.write_str(d),
            TargetHost::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            TargetHost::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
        }
    }
}

/// What RFC 3263 resolves: where a request for a URI should go before any DNS lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The `maddr` parameter if present, the URI host otherwise (§4).
    pub host: TargetHost,
    /// The explicit port, if any. With a port, SRV and NAPTR are skipped (§4.2).
    pub port: Option<u16>,
    /// The transport from the `transport` parameter, if any. With one, NAPTR is skipped.
    pub transport: Option<Transport>,
    /// A `sips:` URI: only TLS-protected transports may be used.
    pub secure: bool,
}

impl Target {
    /// A target for a domain, with neither port nor transport (full NAPTR processing).
    pub fn domain(name: impl Into<String>, secure: bool) -> Target {
        Target {
            host: TargetHost::Domain(name.into()),
            port: None,
            transport: None,
            secure,
        }
    }

    /// The target of a URI; only `sip:` and `sips:` URIs have one.
    pub fn from_uri(uri: &Uri<'_>) -> Result<Target, ResolveError> {
        match uri {
            Uri::Sip(sip) => Target::from_sip_uri(sip),
            other => Err(ResolveError::NotSip {
                scheme: other.scheme().to_owned(),
            }),
        }
    }

    /// The target of a SIP URI: `maddr` wins over the host; `transport=tcp` on a `sips:`
    /// URI means TLS, and `transport=udp` on one is refused.
    pub fn from_sip_uri(uri: &SipUri<'_>) -> Result<Target, ResolveError> {
        let host = match uri.maddr() {
            Some(maddr) => parse_maddr(maddr)?,
            None => from_host(&uri.host),
        };
        let transport = match uri.transport() {
            Some(name) => Some(transport_param(name, uri.secure)?),
            None => None,
        };
        Ok(Target {
            host,
            port: uri.port,
            transport,
            secure: uri.secure,
        })
    }

    /// The domain name, unless the target is a numeric address.
    pub fn domain_name(&self) -> Option<&str> {
        match &self.host {
            TargetHost::Domain(d) => Some(d),
            TargetHost::Ip(_) => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        if let Some(t) = self.transport {
            write!(f, ";transport={}", transport_token(t).to_ascii_lowercase())?;
        }
        Ok(())
    }
}

/// The port to use when neither the URI nor SRV gives one (RFC 3263 §4.2, RFC 7118 for
/// WebSockets).
pub fn default_port(transport: Transport) -> u16 {
    match transport {
        Transport::Udp | Transport::Tcp => 5060,
        Transport::Tls => 5061,
        Transport::Ws => 80,
        Transport::Wss => 443,
    }
}

/// The transport's name as a Via token (`UDP`, `TCP`, `TLS`, `WS`, `WSS`).
pub fn transport_token(transport: Transport) -> &'static str {
    match transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
        Transport::Tls => "TLS",
        Transport::Ws => "WS",
        Transport::Wss => "WSS",
    }
}

/// Transports that protect the hop with TLS, the only ones a `sips:` URI may use.
pub fn is_secure(transport: Transport) -> bool {
    matches!(transport, Transport::Tls | Transport::Wss)
}

fn from_host(host: &Host<'_>) -> TargetHost {
    match host {
        Host::Domain(d) => TargetHost::Domain((*d).to_owned()),
        Host::Ipv4(a) => TargetHost::Ip(IpAddr::V4(*a)),
        Host::Ipv6(a) => TargetHost::Ip(IpAddr::V6(*a)),
    }
}

fn parse_maddr(maddr: &str) -> Result<TargetHost, ResolveError> {
    // `maddr` is a host, so IPv6 should be bracketed; accept a bare one too.
    if let Ok(ip) = maddr.parse::<IpAddr>() {
        return Ok(TargetHost::Ip(ip));
    }
    Host::parse(maddr)
        .map(|h| from_host(&h))
        .map_err(|_| ResolveError::BadMaddr {
            maddr: maddr.to_owned(),
        })
}

fn transport_param(name: &str, secure: bool) -> Result<Transport, ResolveError> {
    let transport = match name.to_ascii_lowercase().as_str() {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        "tls" => Transport::Tls,
        "ws" => Transport::Ws,
        "wss" => Transport::Wss,
        _ => {
            return Err(ResolveError::UnsupportedTransport {
                transport: name.to_owned(),
            })
        }
    };
    Ok(match (transport, secure) {
        // RFC 3261 §26.2.2: sips with transport=tcp means TLS over TCP; likewise for WS.
        (Transport::Tcp, true) => Transport::Tls,
        (Transport::Ws, true) => Transport::Wss,
        (Transport::Udp, true) => return Err(ResolveError::InsecureTransport { transport }),
        (t, _) => t,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn target(s: &str) -> Result<Target, ResolveError> {
        Target::from_uri(&Uri::parse(s).expect("test URI parses"))
    }

    #[test]
    fn domain_without_port_or_transport_needs_naptr() {
        let t = target("sip:alice@pbx.test").unwrap();
        assert_eq!(t, Target::domain("pbx.test", false));
        assert_eq!(t.domain_name(), Some("pbx.test"));
    }

    #[test]
    fn maddr_overrides_the_host() {
        let t = target("sip:alice@pbx.test;maddr=192.0.2.7").unwrap();
        assert_eq!(
            t.host,
            TargetHost::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)))
        );
        let t = target("sip:alice@pbx.test;maddr=[2001:db8::1]").unwrap();
        assert_eq!(t.host, TargetHost::Ip("2001:db8::1".parse().unwrap()));
        let t = target("sip:alice@pbx.test;maddr=proxy.pbx.test").unwrap();
        assert_eq!(t.host, TargetHost::Domain("proxy.pbx.test".into()));
        assert!(matches!(
            target("sip:alice@pbx.test;maddr=bad!host"),
            Err(ResolveError::BadMaddr { .. })
        ));
    }

    #[test]
    fn numeric_hosts_and_ports_are_kept() {
        let t = target("sips:[2001:db8::5]:5071").unwrap();
        assert_eq!(
            t.host,
            TargetHost::Ip(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5)))
        );
        assert_eq!(t.port, Some(5071));
        assert!(t.secure);
        assert_eq!(t.to_string(), "sips:[2001:db8::5]:5071");
    }

    #[test]
    fn transport_param_maps_to_transport() {
        assert_eq!(
            target("sip:a@h;transport=TCP").unwrap().transport,
            Some(Transport::Tcp)
        );
        assert_eq!(
            target("sip:a@h;transport=tls").unwrap().transport,
            Some(Transport::Tls)
        );
        assert_eq!(
            target("sip:a@h;transport=ws").unwrap().transport,
            Some(Transport::Ws)
        );
        assert_eq!(
            target("sips:a@h;transport=tcp").unwrap().transport,
            Some(Transport::Tls)
        );
        assert_eq!(
            target("sips:a@h;transport=ws").unwrap().transport,
            Some(Transport::Wss)
        );
    }

    #[test]
    fn sips_over_udp_and_unknown_transports_are_refused() {
        assert!(matches!(
            target("sips:a@h;transport=udp"),
            Err(ResolveError::InsecureTransport {
                transport: Transport::Udp
            })
        ));
        assert!(matches!(
            target("sip:a@h;transport=sctp"),
            Err(ResolveError::UnsupportedTransport { transport }) if transport == "sctp"
        ));
    }

    #[test]
    fn non_sip_uris_have_no_target() {
        assert!(matches!(
            target("tel:+14255550100"),
            Err(ResolveError::NotSip { scheme }) if scheme == "tel"
        ));
    }

    #[test]
    fn default_ports_follow_the_transport() {
        assert_eq!(default_port(Transport::Udp), 5060);
        assert_eq!(default_port(Transport::Tcp), 5060);
        assert_eq!(default_port(Transport::Tls), 5061);
        assert_eq!(default_port(Transport::Ws), 80);
        assert_eq!(default_port(Transport::Wss), 443);
    }
}
