//! `Via` (RFC 3261 §20.42): the path a request took, and where responses go back.
//! The branch identifies the transaction (RFC 3261 §17); `received` and `rport`
//! (RFC 3581) record the address a request really came from.

use super::{err, split_params, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::params::Params;
use crate::text::{is_token, trim};
use crate::uri::{parse_hostport, Host};
use std::fmt;

/// The RFC 3261 branch prefix that marks a globally unique branch.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// Protocol name, `SIP`.
    pub protocol: &'a str,
    /// Protocol version, `2.0`.
    pub version: &'a str,
    /// Transport: `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS` or an extension token.
    pub transport: &'a str,
    /// The sent-by host.
    pub host: Host<'a>,
    /// The sent-by port.
    pub port: Option<u16>,
    /// Via parameters.
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// The branch parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.params.get("branch").flatten()
    }

    /// The `received` parameter.
    pub fn received(&self) -> Option<&'a str> {
        self.params.get("received").flatten()
    }

    /// `None`: no rport; `Some(None)`: rport requested; `Some(Some(p))`: filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(crate::text::parse_u16))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.get("maddr").flatten()
    }

    /// True when the branch starts with the RFC 3261 magic cookie.
    pub fn is_rfc3261(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// This Via written again, optionally with another transport, without the parameters
    /// named in `drop` (case-insensitive); the caller appends what replaces them. Used to
    /// stamp `received`/`rport` and to give a retried request a new branch.
    pub fn rebuild(&self, transport: Option<&str>, drop: &[&str]) -> String {
        use std::fmt::Write;
        let mut out = format!(
            "{}/{}/{} {}",
            self.protocol,
            self.version,
            transport.unwrap_or(self.transport),
            self.host
        );
        if let Some(p) = self.port {
            let _ = write!(out, ":{p}");
        }
        for (n, v) in self.params.iter() {
            if drop.iter().any(|d| d.eq_ignore_ascii_case(n)) {
                continue;
            }
            let _ = match v {
                Some(v) => write!(out, ";{n}={v}"),
                None => write!(out, ";{n}"),
            };
        }
        out
    }

    /// True for a reliable (stream) transport.
    pub fn is_reliable(&self) -> bool {
        !self.transport.eq_ignore_ascii_case("UDP")
    }
}

impl<'a> TypedHeader<'a> for Via<'a> {
    const NAME: HeaderName = HeaderName::Via;
    const LIST: bool = true;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        let e = |r| err(HeaderName::Via, r);
        let (protocol, rest) = crate::text::split_once_byte(s, b'/').ok_or(e("no protocol"))?;
        let (version, rest) =
            crate::text::split_once_byte(rest, b'/').ok_or(e("no protocol version"))?;
        let (protocol, version) = (trim(protocol), trim(version));
        if !is_token(protocol) || !is_token(version) {
            return Err(e("bad sent-protocol"));
        }
        let (head, params) = split_params(HeaderName::Via, rest)?;
        let (transport, sent_by) = super::split_ws(head);
        if !is_token(transport) {
            return Err(e("bad transport"));
        }
        if sent_by.is_empty() {
            return Err(e("no sent-by"));
        }
        let (host, port) = parse_hostport(sent_by).map_err(|u| e(u.0))?;
        for (name, value) in params.iter() {
            // Dispatch on the length first: most parameters are none of these.
            let is = |n: &str| name.len() == n.len() && name.eq_ignore_ascii_case(n);
            let ok = match name.len() {
                3 if is("ttl") => value
                    .and_then(crate::text::parse_u32)
                    .is_some_and(|t| t <= 255),
                5 if is("rport") => value.is_none_or(|v| crate::text::parse_u16(v).is_some()),
                5 if is("maddr") => value.is_some_and(|v| Host::parse(v).is_ok()),
                6 if is("branch") => value.is_some_and(is_token),
                8 if is("received") => value.is_some_and(|v| v.parse::<std::net::IpAddr>().is_ok()),
                _ => true,
            };
            if !ok {
                return Err(e("bad parameter"));
            }
        }
        Ok(Via {
            protocol,
            version,
            transport,
            host,
            port,
            params,
        })
    }
}

impl fmt::Display for Via<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} {}",
            self.protocol, self.version, self.transport, self.host
        )?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        f.write_str(self.params.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_folded_and_spaced_via() {
        let v = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, Host::Ipv4("192.0.2.2".parse().unwrap()));
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.is_rfc3261());
        let v = Via::parse(
            "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8",
        )
        .unwrap();
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
        assert!(v.is_reliable());
        assert_eq!(
            v.to_string(),
            "SIP/2.0/TCP spindle.example.com;\r\n  branch  =   z9hG4bK9ikj8"
        );
    }

    #[test]
    fn rebuilds_without_dropped_parameters() {
        let v = Via::parse(
            "SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKx;rport;received=192.0.2.1;ttl=3",
        )
        .unwrap();
        assert_eq!(
            v.rebuild(Some("TCP"), &["BRANCH", "received"]),
            "SIP/2.0/TCP [2001:db8::9]:5070;rport;ttl=3"
        );
        assert_eq!(
            v.rebuild(None, &[]),
            "SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKx;rport;received=192.0.2.1;ttl=3"
        );
    }

    #[test]
    fn parses_rport_and_ipv6() {
        let v =
            Via::parse("SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKx;rport;received=2001:db8::9")
                .unwrap();
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.received(), Some("2001:db8::9"));
    }

    #[test]
    fn rejects_bad_vias() {
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/2.0/UDP",
            "SIP/2.0 host",
            "SIP/2.0/UDP host;ttl=300",
            "SIP/2.0/UDP host;received=example.com",
            "SIP/2.0/UDP host:70000",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad}");
        }
    }
}
