//! What the local side can use: the transports it has (in the order it prefers them when
//! the server expresses no preference) and the address families it can reach.

use super::records::RecordType;
use super::target::is_secure;
use crate::transport::Transport;
use smallvec::SmallVec;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which address records to ask for, and which family to try first for one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressFamilies {
    /// A records only.
    V4Only,
    /// AAAA records only.
    V6Only,
    /// Both; IPv4 addresses of a host before its IPv6 ones.
    #[default]
    PreferV4,
    /// Both; IPv6 addresses of a host before its IPv4 ones.
    PreferV6,
}

impl AddressFamilies {
    /// The address record types to query, in order.
    pub fn record_types(self) -> &'static [RecordType] {
        match self {
            AddressFamilies::V4Only => &[RecordType::A],
            AddressFamilies::V6Only => &[RecordType::Aaaa],
            AddressFamilies::PreferV4 => &[RecordType::A, RecordType::Aaaa],
            AddressFamilies::PreferV6 => &[RecordType::Aaaa, RecordType::A],
        }
    }

    /// The addresses of one host, in the order to try them.
    pub fn order(self, v4: &[Ipv4Addr], v6: &[Ipv6Addr]) -> Vec<IpAddr> {
        let v4 = v4.iter().map(|a| IpAddr::V4(*a));
        let v6 = v6.iter().map(|a| IpAddr::V6(*a));
        match self {
            AddressFamilies::V4Only => v4.collect(),
            AddressFamilies::V6Only => v6.collect(),
            AddressFamilies::PreferV4 => v4.chain(v6).collect(),
            AddressFamilies::PreferV6 => v6.chain(v4).collect(),
        }
    }

    /// True when addresses of this family may be used.
    pub fn allows(self, ip: IpAddr) -> bool {
        match self {
            AddressFamilies::V4Only => ip.is_ipv4(),
            AddressFamilies::V6Only => ip.is_ipv6(),
            AddressFamilies::PreferV4 | AddressFamilies::PreferV6 => true,
        }
    }
}

/// The client side of RFC 3263 §4.1: the transports we support, most preferred first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    transports: SmallVec<[Transport; 5]>,
    families: AddressFamilies,
}

impl Policy {
    /// The transports we can use, most preferred first (duplicates are dropped). The order
    /// matters only when the server has no NAPTR records.
    pub fn new(transports: impl IntoIterator<Item = Transport>) -> Policy {
        let mut list = SmallVec::new();
        for t in transports {
            if !list.contains(&t) {
                list.push(t);
            }
        }
        Policy {
            transports: list,
            families: AddressFamilies::default(),
        }
    }

    /// Sets the address families to use.
    pub fn with_families(mut self, families: AddressFamilies) -> Policy {
        self.families = families;
        self
    }

    /// The supported transports, most preferred first.
    pub fn transports(&self) -> &[Transport] {
        &self.transports
    }

    /// The address families to use.
    pub fn families(&self) -> AddressFamilies {
        self.families
    }

    /// True when `transport` is supported.
    pub fn supports(&self, transport: Transport) -> bool {
        self.transports.contains(&transport)
    }

    /// The supported transports a URI of this scheme may use, most preferred first:
    /// only TLS-protected ones for `sips:` (RFC 3263 §4.1).
    pub fn usable(&self, secure: bool) -> impl Iterator<Item = Transport> + '_ {
        self.transports
            .iter()
            .copied()
            .filter(move |t| !secure || is_secure(*t))
    }

    /// The transport when nothing else decides it (§4.1: numeric IP, explicit port, no SRV
    /// records): UDP for `sip:` and TLS for `sips:` when supported, otherwise the most
    /// preferred usable one. `None` when no supported transport fits the scheme.
    pub fn default_transport(&self, secure: bool) -> Option<Transport> {
        let wanted = if secure {
            Transport::Tls
        } else {
            Transport::Udp
        };
        if self.supports(wanted) {
            Some(wanted)
        } else {
            self.usable(secure).next()
        }
    }
}

impl Default for Policy {
    /// UDP then TCP, both address families with IPv4 first: what the transports of this
    /// stack offer today.
    fn default() -> Policy {
        Policy::new([Transport::Udp, Transport::Tcp])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_transport_is_udp_for_sip_and_tls_for_sips() {
        let all = Policy::new([Transport::Tcp, Transport::Tls, Transport::Udp]);
        assert_eq!(all.default_transport(false), Some(Transport::Udp));
        assert_eq!(all.default_transport(true), Some(Transport::Tls));
    }

    #[test]
    fn default_transport_falls_back_to_what_is_supported() {
        let tcp = Policy::new([Transport::Tcp]);
        assert_eq!(tcp.default_transport(false), Some(Transport::Tcp));
        assert_eq!(tcp.default_transport(true), None);
        let wss = Policy::new([Transport::Wss, Transport::Udp]);
        assert_eq!(wss.default_transport(true), Some(Transport::Wss));
        assert_eq!(Policy::new([]).default_transport(false), None);
    }

    #[test]
    fn sips_may_only_use_secure_transports() {
        let p = Policy::new([
            Transport::Udp,
            Transport::Tls,
            Transport::Tcp,
            Transport::Wss,
        ]);
        assert_eq!(
            p.usable(true).collect::<Vec<_>>(),
            [Transport::Tls, Transport::Wss]
        );
        assert_eq!(p.usable(false).count(), 4);
    }

    #[test]
    fn duplicates_are_dropped_keeping_the_first_position() {
        let p = Policy::new([Transport::Tcp, Transport::Udp, Transport::Tcp]);
        assert_eq!(p.transports(), [Transport::Tcp, Transport::Udp]);
    }

    #[test]
    fn families_order_addresses() {
        let v4 = [Ipv4Addr::new(192, 0, 2, 1)];
        let v6 = [Ipv6Addr::LOCALHOST];
        let f = |fam: AddressFamilies| fam.order(&v4, &v6);
        assert_eq!(
            f(AddressFamilies::PreferV4),
            [IpAddr::from(v4[0]), IpAddr::from(v6[0])]
        );
        assert_eq!(
            f(AddressFamilies::PreferV6),
            [IpAddr::from(v6[0]), IpAddr::from(v4[0])]
        );
        assert_eq!(f(AddressFamilies::V4Only), [IpAddr::from(v4[0])]);
        assert_eq!(f(AddressFamilies::V6Only), [IpAddr::from(v6[0])]);
        assert!(!AddressFamilies::V4Only.allows(IpAddr::from(v6[0])));
    }
}
