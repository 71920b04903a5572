//! The async driver: answers a [`Resolution`]'s questions with hickory-resolver.
//!
//! Each round's queries run concurrently. Nothing is cached here beyond hickory's own
//! TTL-bounded cache, so a long-lived [`DnsResolver`] (it is cheap to clone) sees record
//! changes as their TTLs expire.

use super::error::{QueryError, ResolveError};
use super::plan::Plan;
use super::policy::Policy;
use super::records::{Answer, Naptr, Query, RecordType, Srv};
use super::select::Resolution;
use super::target::Target;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType as HickoryType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::TokioResolver;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use tokio::task::JoinSet;

/// Locates SIP servers over DNS.
#[derive(Clone)]
pub struct DnsResolver {
    inner: TokioResolver,
}

impl fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsResolver")
            .field("name_servers", &self.inner.config().name_servers())
            .finish()
    }
}

impl DnsResolver {
    /// A resolver configured like the host (`/etc/resolv.conf` on Unix).
    pub fn system() -> Result<DnsResolver, ResolveError> {
        let builder = TokioResolver::builder_tokio().map_err(|e| ResolveError::SystemConfig {
            source: Box::new(e),
        })?;
        Ok(DnsResolver {
            inner: builder.build(),
        })
    }

    /// A resolver asking only `servers` (over UDP, retrying over TCP on truncation), with no
    /// search domains.
    pub fn with_name_servers(servers: Vec<SocketAddr>) -> DnsResolver {
        let mut config = ResolverConfig::new();
        for addr in servers {
            config.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
            config.add_name_server(NameServerConfig::new(addr, Protocol::Tcp));
        }
        let inner =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default()).build();
        DnsResolver { inner }
    }

    /// Wraps a hickory resolver built with any other configuration.
    pub fn from_hickory(resolver: TokioResolver) -> DnsResolver {
        DnsResolver { inner: resolver }
    }

    /// Locates the server for a `sip:` or `sips:` URI.
    pub async fn resolve_uri(
        &self,
        uri: &sip::Uri<'_>,
        policy: &Policy,
    ) -> Result<Plan, ResolveError> {
        let target = Target::from_uri(uri)?;
        self.resolve(&target, policy).await
    }

    /// Locates `target`, drawing SRV weights from the thread's random number generator.
    pub async fn resolve(&self, target: &Target, policy: &Policy) -> Result<Plan, ResolveError> {
        let resolution = self.lookup(target, policy).await?;
        resolution.finish(&mut rand::rng())
    }

    /// Performs every query locating `target` needs and returns the completed
    /// [`Resolution`], for a caller that wants to choose the random number generator.
    pub async fn lookup(
        &self,
        target: &Target,
        policy: &Policy,
    ) -> Result<Resolution, ResolveError> {
        let mut resolution = Resolution::new(target.clone(), policy.clone())?;
        self.complete(&mut resolution).await;
        Ok(resolution)
    }

    /// Answers `resolution`'s questions, round after round, until it is complete.
    pub async fn complete(&self, resolution: &mut Resolution) {
        while !resolution.queries().is_empty() {
            let mut tasks = JoinSet::new();
            let mut asked = HashMap::new();
            for query in resolution.queries().to_vec() {
                let this = self.clone();
                let q = query.clone();
                let handle = tasks.spawn(async move {
                    let answer = this.query(&q).await;
                    (q, answer)
                });
                asked.insert(handle.id(), query);
            }
            while let Some(joined) = tasks.join_next_with_id().await {
                let (query, answer) = match joined {
                    Ok((_, (query, answer))) => (query, answer),
                    Err(e) => match asked.get(&e.id()) {
                        Some(query) => (query.clone(), Err(QueryError::Failed(Box::new(e)))),
                        None => continue,
                    },
                };
                resolution.answer(&query, answer);
            }
            // Never loop on questions nobody could answer.
            for query in resolution.queries().to_vec() {
                if asked.values().any(|q| *q == query) {
                    resolution.answer(&query, Err(QueryError::NotFound));
                }
            }
        }
    }

    /// Asks one question. NXDOMAIN and empty answers are [`QueryError::NotFound`].
    pub async fn query(&self, query: &Query) -> Result<Answer, QueryError> {
        tracing::trace!(%query, "DNS query");
        let name = query.name.as_str();
        let result = match query.rtype {
            RecordType::Naptr => self
                .inner
                .lookup(name, HickoryType::NAPTR)
                .await
                .map(|l| Answer::Naptr(l.iter().filter_map(naptr).collect())),
            RecordType::Srv => self
                .inner
                .srv_lookup(name)
                .await
                .map(|l| Answer::Srv(l.iter().map(srv).collect())),
            RecordType::A => self
                .inner
                .ipv4_lookup(name)
                .await
                .map(|l| Answer::A(l.iter().map(|a| a.0).collect())),
            RecordType::Aaaa => self
                .inner
                .ipv6_lookup(name)
                .await
                .map(|l| Answer::Aaaa(l.iter().map(|a| a.0).collect())),
        };
        match result {
            Ok(answer) if answer.is_empty() => Err(QueryError::NotFound),
            Ok(answer) => Ok(answer),
            Err(e) if is_negative(&e) => Err(QueryError::NotFound),
            Err(e) => Err(QueryError::Failed(Box::new(e))),
        }
    }
}

/// NXDOMAIN or an empty NOERROR answer. Hickory reports SERVFAIL, REFUSED and the like as
/// "no records found" too, but those say nothing about the records and are failures here.
fn is_negative(error: &hickory_resolver::ResolveError) -> bool {
    match error.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => {
            matches!(
                response_code,
                ResponseCode::NXDomain | ResponseCode::NoError
            )
        }
        _ => false,
    }
}

fn naptr(rdata: &RData) -> Option<Naptr> {
    let RData::NAPTR(n) = rdata else {
        return None;
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Some(Naptr {
        order: n.order(),
        preference: n.preference(),
        flags: text(n.flags()),
        services: text(n.services()),
        regexp: text(n.regexp()),
        replacement: n.replacement().to_ascii(),
    })
}

fn srv(record: &hickory_resolver::proto::rr::rdata::SRV) -> Srv {
    Srv {
        priority: record.priority(),
        weight: record.weight(),
        port: record.port(),
        target: record.target().to_ascii(),
    }
}
