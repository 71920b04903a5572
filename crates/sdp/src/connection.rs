//! The `c=` line: where media is to be sent.
//!
//! RFC 8866 §5.7: `c=<nettype> <addrtype> <connection-address>`, at session level (default for
//! every stream) or in an `m=` section (overriding it). The address `0.0.0.0` is the RFC 2543
//! way to put a call on hold ("send nothing to me"); [`Connection::is_unspecified`] detects it.

use std::fmt;
use std::net::IpAddr;

use crate::line::{fields, LineValue, ValueError};
use crate::origin::addr_type;

/// Connection data (`c=`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Connection {
    /// Network type, `IN` for the Internet.
    pub net_type: String,
    /// Address type, `IP4` or `IP6`.
    pub addr_type: String,
    /// The address: an IP address, a host name, or a multicast address with `/ttl` suffixes.
    pub address: String,
}

impl Connection {
    /// `IN IP4 <address>` or `IN IP6 <address>`.
    pub fn new(address: IpAddr) -> Self {
        Connection {
            net_type: "IN".to_owned(),
            addr_type: addr_type(address).to_owned(),
            address: address.to_string(),
        }
    }

    /// The IP address, when the network type is `IN` and the address is a literal IP
    /// (multicast `/ttl` and `/count` suffixes are dropped). `None` for host names.
    pub fn ip(&self) -> Option<IpAddr> {
        if !self.net_type.eq_ignore_ascii_case("IN") {
            return None;
        }
        let literal = self.address.split('/').next().unwrap_or_default();
        literal.parse().ok()
    }

    /// Whether the address is `0.0.0.0` (or `::`): the RFC 2543 "black hole" used for hold.
    pub fn is_unspecified(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

impl LineValue for Connection {
    fn kind(&self) -> char {
        'c'
    }

    fn read(_kind: char, text: &str) -> Result<Self, ValueError> {
        match fields(text)[..] {
            [net_type, addr_type, address] => Ok(Connection {
                net_type: net_type.to_owned(),
                addr_type: addr_type.to_owned(),
                address: address.to_owned(),
            }),
            ref other => Err(ValueError::Bad(format!(
                "expected 3 fields (nettype addrtype address), found {}",
                other.len()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ipv4_ipv6_and_multicast() {
        let c = Connection::read('c', "IN IP4 192.0.2.10").unwrap();
        assert_eq!(c.ip(), Some("192.0.2.10".parse().unwrap()));
        let c = Connection::read('c', "IN IP6 2001:db8::1").unwrap();
        assert_eq!(c.ip(), Some("2001:db8::1".parse().unwrap()));
        let c = Connection::read('c', "IN IP4 224.2.1.1/127/3").unwrap();
        assert_eq!(c.ip(), Some("224.2.1.1".parse().unwrap()));
        let c = Connection::read('c', "IN IP4 media.example.com").unwrap();
        assert_eq!(c.ip(), None);
    }

    #[test]
    fn detects_the_rfc2543_hold_address() {
        assert!(Connection::read('c', "IN IP4 0.0.0.0")
            .unwrap()
            .is_unspecified());
        assert!(Connection::new("::".parse().unwrap()).is_unspecified());
        assert!(!Connection::new("192.0.2.1".parse().unwrap()).is_unspecified());
    }

    #[test]
    fn rejects_wrong_field_count() {
        assert_eq!(
            Connection::read('c', "IN IP4"),
            Err(ValueError::Bad(
                "expected 3 fields (nettype addrtype address), found 2".into()
            ))
        );
    }
}
