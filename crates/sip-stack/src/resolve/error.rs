//! What can go wrong locating a SIP server, and what a DNS query can report.

use super::records::RecordType;
use crate::transport::Transport;

/// A boxed error from the DNS layer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why no list of servers to try could be produced.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Only `sip:` and `sips:` URIs name SIP servers.
    #[error("cannot locate a SIP server for a {scheme}: URI")]
    NotSip {
        /// The URI scheme.
        scheme: String,
    },
    /// The `maddr` parameter is not a host.
    #[error("bad maddr parameter {maddr:?}")]
    BadMaddr {
        /// The parameter as written.
        maddr: String,
    },
    /// The URI asks for a transport this stack does not know or was not configured with.
    #[error("transport {transport:?} is not supported")]
    UnsupportedTransport {
        /// The transport, as written or as named in Via headers.
        transport: String,
    },
    /// A `sips:` URI asked for a transport without TLS.
    #[error("a sips: URI cannot be reached over {transport}")]
    InsecureTransport {
        /// The insecure transport asked for.
        transport: Transport,
    },
    /// DNS answered, but with nothing usable (NXDOMAIN, no records, or only `.` targets).
    #[error("no SIP server found in DNS for {name} (no usable NAPTR, SRV, A or AAAA records)")]
    NoRecords {
        /// The domain being located.
        name: String,
    },
    /// A DNS query failed (timeout, SERVFAIL, refused ...) and nothing else was found.
    #[error("DNS {rtype} lookup for {name} failed")]
    Lookup {
        /// The name queried.
        name: String,
        /// The record type queried.
        rtype: RecordType,
        /// The DNS library's error.
        #[source]
        source: BoxError,
    },
    /// The system resolver configuration (`/etc/resolv.conf`) could not be read.
    #[error("cannot read the system DNS configuration")]
    SystemConfig {
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

/// The outcome of one DNS query that produced no records.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The name does not exist (NXDOMAIN) or has no records of that type (NODATA).
    #[error("no such records")]
    NotFound,
    /// The query itself failed.
    #[error("DNS query failed")]
    Failed(#[source] BoxError),
}
