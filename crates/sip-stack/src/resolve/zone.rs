//! A hand-made set of DNS records that answers the selection core's questions without a
//! network: for tests, and for deployments that pin a server's records in configuration.

use super::error::{QueryError, ResolveError};
use super::plan::Plan;
use super::policy::Policy;
use super::records::{fold_name, Answer, Naptr, Query, RecordType, Srv};
use super::select::Resolution;
use super::target::Target;
use rand::Rng;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Static NAPTR, SRV, A and AAAA records. Names match without case or trailing dot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Zone {
    naptr: HashMap<String, Vec<Naptr>>,
    srv: HashMap<String, Vec<Srv>>,
    a: HashMap<String, Vec<Ipv4Addr>>,
    aaaa: HashMap<String, Vec<Ipv6Addr>>,
}

impl Zone {
    /// An empty zone: every question gets "not found".
    pub fn new() -> Zone {
        Zone::default()
    }

    /// Adds a NAPTR record at `name`.
    pub fn naptr(mut self, name: &str, record: Naptr) -> Zone {
        self.naptr.entry(fold_name(name)).or_default().push(record);
        self
    }

    /// Adds an SRV record at `name`.
    pub fn srv(mut self, name: &str, record: Srv) -> Zone {
        self.srv.entry(fold_name(name)).or_default().push(record);
        self
    }

    /// Adds an A or AAAA record at `name`.
    pub fn address(mut self, name: &str, ip: IpAddr) -> Zone {
        match ip {
            IpAddr::V4(a) => self.a.entry(fold_name(name)).or_default().push(a),
            IpAddr::V6(a) => self.aaaa.entry(fold_name(name)).or_default().push(a),
        }
        self
    }

    /// True when `name` has records of any type (the difference between NODATA and
    /// NXDOMAIN, for a DNS server built on a zone).
    pub fn contains_name(&self, name: &str) -> bool {
        let n = fold_name(name);
        self.naptr.contains_key(&n)
            || self.srv.contains_key(&n)
            || self.a.contains_key(&n)
            || self.aaaa.contains_key(&n)
    }

    /// The records answering `query`, or [`QueryError::NotFound`].
    pub fn answer(&self, query: &Query) -> Result<Answer, QueryError> {
        let n = fold_name(&query.name);
        let answer = match query.rtype {
            RecordType::Naptr => self.naptr.get(&n).cloned().map(Answer::Naptr),
            RecordType::Srv => self.srv.get(&n).cloned().map(Answer::Srv),
            RecordType::A => self.a.get(&n).cloned().map(Answer::A),
            RecordType::Aaaa => self.aaaa.get(&n).cloned().map(Answer::Aaaa),
        };
        answer.ok_or(QueryError::NotFound)
    }

    /// Locates `target` using only these records.
    pub fn resolve<R: Rng + ?Sized>(
        &self,
        target: &Target,
        policy: &Policy,
        rng: &mut R,
    ) -> Result<Plan, ResolveError> {
        let mut resolution = Resolution::new(target.clone(), policy.clone())?;
        while let Some(query) = resolution.queries().first().cloned() {
            let answer = self.answer(&query);
            resolution.answer(&query, answer);
        }
        resolution.finish(rng)
    }
}
