//! The sans-IO core of RFC 3263 §4: from a [`Target`] and the DNS answers the caller
//! supplies, the ordered list of servers to try. [`Resolution`] states the rules it follows.

use super::error::{BoxError, QueryError, ResolveError};
use super::naptr::usable_naptrs;
use super::plan::Plan;
use super::policy::Policy;
use super::records::{fold_name, is_root, Answer, Naptr, Query, RecordType, Srv};
use super::srv::{order_srv, srv_name};
use super::target::{default_port, is_secure, transport_token, Target, TargetHost};
use crate::transport::{Peer, Transport};
use rand::Rng;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Where a resolution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Naptr,
    Srv,
    Addresses,
    Done,
}

/// One way to reach the target, in preference order.
#[derive(Debug)]
enum Route {
    /// The servers an SRV name lists, over one transport.
    Srv {
        transport: Transport,
        name: String,
        records: Vec<Srv>,
    },
    /// One host at a known port.
    Host {
        transport: Transport,
        host: TargetHost,
        port: u16,
    },
}

#[derive(Debug, Default)]
struct Addresses {
    v4: Vec<Ipv4Addr>,
    v6: Vec<Ipv6Addr>,
}

/// An RFC 3263 server location in progress.
///
/// A [`Resolution`] asks its questions in at most three rounds — NAPTR, then SRV, then
/// A/AAAA — and never does IO itself. The caller reads [`Resolution::queries`], answers each
/// with [`Resolution::answer`] (in any order, concurrently if it likes), and once no query
/// is left calls [`Resolution::finish`] with a random number generator for the SRV weight
/// draw. The decisions follow the RFC:
///
/// * numeric IP: used as is, with the URI port or the transport's default port;
/// * explicit port: A/AAAA of the host only, no NAPTR or SRV (§4.2);
/// * `transport` parameter: SRV for that transport only, no NAPTR (§4.1);
/// * otherwise NAPTR, keeping the services we support ordered by order and preference,
///   then SRV for each; without usable NAPTR records, SRV for each supported transport in
///   our preference order (only TLS-protected ones for `sips:`);
/// * no SRV records: A/AAAA of the host with the default port, over the NAPTR's transport,
///   the `transport` parameter's, or UDP for `sip:` and TLS for `sips:` (§4.1, §4.2).
///
/// A query that fails (timeout, SERVFAIL) counts as "no records" so that the rest of the
/// procedure can still find a server; it is reported only if nothing at all is found.
#[derive(Debug)]
pub struct Resolution {
    target: Target,
    policy: Policy,
    phase: Phase,
    pending: Vec<Query>,
    naptr: Vec<Naptr>,
    routes: Vec<Route>,
    /// The transport for the A/AAAA fallback when no SRV record is found.
    fallback: Transport,
    addresses: HashMap<String, Addresses>,
    failure: Option<(Query, BoxError)>,
}

impl Resolution {
    /// Starts locating `target` with what `policy` allows. Fails at once when the URI's
    /// transport is not supported, or no supported transport suits its scheme.
    pub fn new(target: Target, policy: Policy) -> Result<Resolution, ResolveError> {
        if let Some(t) = target.transport {
            if target.secure && !is_secure(t) {
                return Err(ResolveError::InsecureTransport { transport: t });
            }
            if !policy.supports(t) {
                return Err(ResolveError::UnsupportedTransport {
                    transport: transport_token(t).to_owned(),
                });
            }
        }
        let default = policy.default_transport(target.secure).ok_or_else(|| {
            ResolveError::UnsupportedTransport {
                transport: if target.secure { "TLS" } else { "any" }.to_owned(),
            }
        })?;
        let fallback = target.transport.unwrap_or(default);
        let mut r = Resolution {
            phase: Phase::Done,
            pending: Vec::new(),
            naptr: Vec::new(),
            routes: Vec::new(),
            fallback,
            addresses: HashMap::new(),
            failure: None,
            target,
            policy,
        };
        match (&r.target.host, r.target.port, r.target.transport) {
            (TargetHost::Ip(_), port, _) | (TargetHost::Domain(_), port @ Some(_), _) => {
                r.routes.push(Route::Host {
                    transport: fallback,
                    host: r.target.host.clone(),
                    port: port.unwrap_or(default_port(fallback)),
                });
                r.start_addresses();
            }
            (TargetHost::Domain(domain), None, Some(t)) => {
                r.routes.push(Route::Srv {
                    transport: t,
                    name: srv_name(t, domain),
                    records: Vec::new(),
                });
                r.start_srv();
            }
            (TargetHost::Domain(domain), None, None) => {
                r.phase = Phase::Naptr;
                r.pending
                    .push(Query::new(domain.clone(), RecordType::Naptr));
            }
        }
        Ok(r)
    }

    /// The target being located.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The questions to answer now. Empty once the resolution is complete.
    pub fn queries(&self) -> &[Query] {
        &self.pending
    }

    /// True when every question is answered and [`finish`](Self::finish) can be called.
    pub fn is_complete(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Supplies the outcome of one of [`queries`](Self::queries). Answers to questions not
    /// asked (or already answered) are ignored; so are records of the wrong type. When the
    /// last question of a round is answered, the next round's questions appear.
    pub fn answer(&mut self, query: &Query, outcome: Result<Answer, QueryError>) {
        let Some(index) = self.pending.iter().position(|q| q == query) else {
            tracing::debug!(%query, "ignoring an answer to a question not asked");
            return;
        };
        let query = self.pending.remove(index);
        let answer = match outcome {
            Ok(a) if a.rtype() == query.rtype => Some(a),
            Ok(a) => {
                tracing::debug!(%query, got = %a.rtype(), "ignoring records of the wrong type");
                None
            }
            Err(QueryError::NotFound) => None,
            Err(QueryError::Failed(e)) => {
                tracing::debug!(%query, error = %e, "DNS query failed");
                if self.failure.is_none() {
                    self.failure = Some((query.clone(), e));
                }
                None
            }
        };
        match answer {
            Some(Answer::Naptr(records)) => self.naptr = records,
            Some(Answer::Srv(records)) => {
                for route in &mut self.routes {
                    if let Route::Srv {
                        name, records: r, ..
                    } = route
                    {
                        if *name == query.name {
                            r.clone_from(&records);
                        }
                    }
                }
            }
            Some(Answer::A(v4)) => self.addresses_of(&query.name).v4 = v4,
            Some(Answer::Aaaa(v6)) => self.addresses_of(&query.name).v6 = v6,
            None => {}
        }
        if self.pending.is_empty() {
            self.advance();
        }
    }

    /// The servers to try, in order. Unanswered questions count as "no records". With no
    /// server at all: [`ResolveError::Lookup`] for the first failed query if any failed,
    /// [`ResolveError::NoRecords`] otherwise.
    pub fn finish<R: Rng + ?Sized>(self, rng: &mut R) -> Result<Plan, ResolveError> {
        let families = self.policy.families();
        let mut peers: Vec<Peer> = Vec::new();
        let push = |peers: &mut Vec<Peer>, ip: IpAddr, port: u16, transport: Transport| {
            let peer = Peer::new(SocketAddr::new(ip, port), transport);
            if families.allows(ip) && !peers.contains(&peer) {
                peers.push(peer);
            }
        };
        for route in &self.routes {
            match route {
                Route::Srv {
                    transport, records, ..
                } => {
                    for srv in order_srv(records, rng) {
                        for ip in self.ips_of(&TargetHost::from_name(&srv.target)) {
                            push(&mut peers, ip, srv.port, *transport);
                        }
                    }
                }
                Route::Host {
                    transport,
                    host,
                    port,
                } => {
                    for ip in self.ips_of(host) {
                        push(&mut peers, ip, *port, *transport);
                    }
                }
            }
        }
        let server_name = self.target.domain_name().map(str::to_owned);
        if peers.is_empty() {
            return Err(match self.failure {
                Some((query, source)) => ResolveError::Lookup {
                    name: query.name,
                    rtype: query.rtype,
                    source,
                },
                None => ResolveError::NoRecords {
                    name: self.target.host.to_string(),
                },
            });
        }
        tracing::debug!(target = %self.target, ?peers, "located SIP servers");
        Ok(Plan::new(peers, server_name))
    }

    fn addresses_of(&mut self, name: &str) -> &mut Addresses {
        self.addresses.entry(fold_name(name)).or_default()
    }

    fn ips_of(&self, host: &TargetHost) -> Vec<IpAddr> {
        match host {
            TargetHost::Ip(ip) => vec![*ip],
            TargetHost::Domain(name) => match self.addresses.get(&fold_name(name)) {
                Some(a) => self.policy.families().order(&a.v4, &a.v6),
                None => Vec::new(),
            },
        }
    }

    /// Moves to the next round once the current one is fully answered.
    fn advance(&mut self) {
        match self.phase {
            Phase::Naptr => {
                let domain = self.target.host.to_string();
                let usable = usable_naptrs(&self.naptr, self.target.secure, &self.policy);
                if let Some((first, _)) = usable.first() {
                    self.fallback = *first;
                    self.routes = usable
                        .into_iter()
                        .map(|(transport, name)| Route::Srv {
                            transport,
                            name,
                            records: Vec::new(),
                        })
                        .collect();
                } else {
                    self.routes = self
                        .policy
                        .usable(self.target.secure)
                        .map(|transport| Route::Srv {
                            transport,
                            name: srv_name(transport, &domain),
                            records: Vec::new(),
                        })
                        .collect();
                }
                self.start_srv();
            }
            Phase::Srv => {
                let found = self.routes.iter().any(|r| match r {
                    Route::Srv { records, .. } => !records.is_empty(),
                    Route::Host { .. } => true,
                });
                if !found {
                    self.routes = vec![Route::Host {
                        transport: self.fallback,
                        host: self.target.host.clone(),
                        port: default_port(self.fallback),
                    }];
                }
                self.start_addresses();
            }
            Phase::Addresses | Phase::Done => self.phase = Phase::Done,
        }
    }

    fn start_srv(&mut self) {
        self.phase = Phase::Srv;
        self.pending.clear();
        for route in &self.routes {
            if let Route::Srv { name, .. } = route {
                let q = Query::new(name.clone(), RecordType::Srv);
                if !self.pending.contains(&q) {
                    self.pending.push(q);
                }
            }
        }
        if self.pending.is_empty() {
            self.advance();
        }
    }

    fn start_addresses(&mut self) {
        self.phase = Phase::Addresses;
        self.pending.clear();
        let mut names: Vec<String> = Vec::new();
        for route in &self.routes {
            match route {
                Route::Srv { records, .. } => {
                    for r in records {
                        if !is_root(&r.target) {
                            names.push(r.target.clone());
                        }
                    }
                }
                Route::Host {
                    host: TargetHost::Domain(d),
                    ..
                } => names.push(d.clone()),
                Route::Host { .. } => {}
            }
        }
        let mut seen: Vec<String> = Vec::new();
        for name in names {
            let folded = fold_name(&name);
            if seen.contains(&folded) || matches!(TargetHost::from_name(&name), TargetHost::Ip(_)) {
                continue;
            }
            seen.push(folded);
            for rtype in self.policy.families().record_types() {
                self.pending.push(Query::new(name.clone(), *rtype));
            }
        }
        if self.pending.is_empty() {
            self.phase = Phase::Done;
        }
    }
}

impl TargetHost {
    /// A host named in DNS data: an SRV target that is (wrongly but commonly) a numeric
    /// address is used as one.
    fn from_name(name: &str) -> TargetHost {
        match name.strip_suffix('.').unwrap_or(name).parse::<IpAddr>() {
            Ok(ip) => TargetHost::Ip(ip),
            Err(_) => TargetHost::Domain(name.to_owned()),
        }
    }
}
