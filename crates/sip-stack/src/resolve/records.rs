//! The DNS questions and answers RFC 3263 works with, free of any DNS library.
//!
//! The selection core ([`super::Resolution`]) asks [`Query`]s and is fed [`Answer`]s; the
//! async driver ([`super::DnsResolver`]) or a hand-made [`super::Zone`] supplies them.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The record types the SIP server location procedure reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// NAPTR (RFC 3403): which transports a domain offers, pointing at SRV names.
    Naptr,
    /// SRV (RFC 2782): host names, ports, priorities and weights.
    Srv,
    /// A: IPv4 addresses.
    A,
    /// AAAA: IPv6 addresses.
    Aaaa,
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordType::Naptr => "NAPTR",
            RecordType::Srv => "SRV",
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
        })
    }
}

/// One DNS question the selection core needs answered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    /// The owner name, as the core built it (`_sip._udp.example.com`).
    pub name: String,
    /// The record type asked for.
    pub rtype: RecordType,
}

impl Query {
    /// A question for `rtype` records at `name`.
    pub fn new(name: impl Into<String>, rtype: RecordType) -> Query {
        Query {
            name: name.into(),
            rtype,
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.rtype)
    }
}

/// A NAPTR record (RFC 3403 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    /// Lower orders are processed first.
    pub order: u16,
    /// Among equal orders, lower preferences first.
    pub preference: u16,
    /// `S` for SIP: the next lookup is an SRV lookup of the replacement.
    pub flags: String,
    /// The service, such as `SIP+D2U` or `SIPS+D2T`.
    pub services: String,
    /// Empty for SIP (RFC 3263 §4.1); records with a regexp are ignored.
    pub regexp: String,
    /// The SRV name to query next.
    pub replacement: String,
}

impl Naptr {
    /// A record with an empty regexp, the only form SIP uses.
    pub fn new(
        order: u16,
        preference: u16,
        flags: &str,
        services: &str,
        replacement: &str,
    ) -> Naptr {
        Naptr {
            order,
            preference,
            flags: flags.to_owned(),
            services: services.to_owned(),
            regexp: String::new(),
            replacement: replacement.to_owned(),
        }
    }
}

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    /// Lower priorities are tried first.
    pub priority: u16,
    /// Within a priority, the share of selections (weighted random).
    pub weight: u16,
    /// The port to contact.
    pub port: u16,
    /// The host name to look up; `.` means "no service here".
    pub target: String,
}

impl Srv {
    /// An SRV record.
    pub fn new(priority: u16, weight: u16, port: u16, target: &str) -> Srv {
        Srv {
            priority,
            weight,
            port,
            target: target.to_owned(),
        }
    }
}

/// The records found for one [`Query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// NAPTR records.
    Naptr(Vec<Naptr>),
    /// SRV records.
    Srv(Vec<Srv>),
    /// IPv4 addresses.
    A(Vec<Ipv4Addr>),
    /// IPv6 addresses.
    Aaaa(Vec<Ipv6Addr>),
}

impl Answer {
    /// The record type of the answer.
    pub fn rtype(&self) -> RecordType {
        match self {
            Answer::Naptr(_) => RecordType::Naptr,
            Answer::Srv(_) => RecordType::Srv,
            Answer::A(_) => RecordType::A,
            Answer::Aaaa(_) => RecordType::Aaaa,
        }
    }

    /// No records at all.
    pub fn is_empty(&self) -> bool {
        match self {
            Answer::Naptr(r) => r.is_empty(),
            Answer::Srv(r) => r.is_empty(),
            Answer::A(r) => r.is_empty(),
            Answer::Aaaa(r) => r.is_empty(),
        }
    }
}

/// A DNS name folded for comparison: lower case, without the trailing dot.
pub(crate) fn fold_name(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// True for the root name (`.`), which SRV and NAPTR use to mean "nothing here".
pub(crate) fn is_root(name: &str) -> bool {
    name.is_empty() || name == "."
}
