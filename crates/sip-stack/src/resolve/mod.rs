//! Locating SIP servers (RFC 3263, with RFC 7118's WebSocket services): from a request's
//! next-hop URI to the ordered list of [`Peer`](crate::transport::Peer)s to try.
//!
//! The procedure is split the way the rest of this crate is:
//!
//! * [`Resolution`] is the sans-IO core. It turns a [`Target`] (host or `maddr`, port,
//!   transport, scheme) and a [`Policy`] (the transports and address families we have)
//!   into DNS [`Query`]s — NAPTR, then SRV, then A/AAAA — and the [`Answer`]s it is fed
//!   into a [`Plan`]. Everything RFC 3263 §4 decides is there, tested without a network.
//! * [`DnsResolver`] drives a resolution over hickory-resolver (system configuration or
//!   explicit name servers). [`Zone`] drives one from static records.
//! * [`Plan`] hands the peers out one at a time so that a request can fail over on a
//!   timeout, a transport error or a 503 (§4.3); [`Blacklist`] remembers peers that failed
//!   so that later requests try them last.
//!
//! ```no_run
//! # async fn example() -> Result<(), sip_stack::resolve::ResolveError> {
//! use sip_stack::resolve::{DnsResolver, Policy};
//! let dns = DnsResolver::system()?;
//! let uri = sip::Uri::parse("sip:alice@pbx.example.com").expect("valid URI");
//! let mut plan = dns.resolve_uri(&uri, &Policy::default()).await?;
//! while let Some(peer) = plan.next() {
//!     // send; on timeout, transport error or 503, continue with the next peer
//! #   let _ = peer;
//! }
//! # Ok(()) }
//! ```

mod blacklist;
mod dns;
mod error;
mod naptr;
mod plan;
mod policy;
mod records;
mod select;
mod srv;
mod target;
mod zone;

pub use blacklist::Blacklist;
pub use dns::DnsResolver;
pub use error::{BoxError, QueryError, ResolveError};
pub use naptr::{service_transport, usable_naptrs};
pub use plan::Plan;
pub use policy::{AddressFamilies, Policy};
pub use records::{Answer, Naptr, Query, RecordType, Srv};
pub use select::Resolution;
pub use srv::{order_srv, srv_name};
pub use target::{default_port, is_secure, Target, TargetHost};
pub use zone::Zone;

#[cfg(test)]
mod tests;
