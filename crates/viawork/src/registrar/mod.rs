//! The registrar: SIP clients (softphones, desk phones that register with ViaWork rather
//! than the PBX) REGISTER their contacts for a directory user, authenticated by digest
//! against the user's stored HA1 (RFC 3261 §10, §22; RFC 8760 SHA-256 and MD5).
//!
//! `bindings.rs` is the table without IO (expiry, ordering, limits); `service.rs` turns
//! REGISTER requests into table operations and responses and publishes each contact that
//! comes and goes, which presence (a registered endpoint is a signed-in client) and call
//! routing (ring every registered client) use.
//!
//! Bindings live in memory: a restart forgets them, and clients re-register within their
//! interval (they are told at most `max_expires`, an hour by default). On a PostgreSQL pool
//! each node knows the clients registered through it.

pub mod bindings;
mod service;

pub use bindings::{device, Binding, Change, Limits};
pub use service::{Registrar, RegistrationView};

/// The `[registrar]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Expiry limits and contacts per user.
    pub limits: Limits,
    /// Digest algorithms challenged with, strongest first (`registrar.digest_algorithms`).
    pub algorithms: Vec<sip_stack::auth::Algorithm>,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            limits: Limits::default(),
            algorithms: vec![
                sip_stack::auth::Algorithm::Sha256,
                sip_stack::auth::Algorithm::Md5,
            ],
        }
    }
}
