//! Digest authentication for SIP (RFC 3261 §22 with the RFC 2617 computation, and SHA-256
//! from RFC 7616 as RFC 8760 brings it to SIP), on both sides of a challenge.
//!
//! - [`DigestServer`] is for a registrar or user agent server answering 401, or a proxy
//!   answering 407: it issues stateless nonces any node with the secret can verify, lists
//!   one challenge per algorithm strongest first, and verifies credentials against stored
//!   HA1 values (never passwords), telling why it refused ([`AuthFailure`]) and what to
//!   answer.
//! - [`DigestClient`] is for ViaWork registering with or calling through a trunk: it answers
//!   the strongest challenge it can, counts nonce uses, writes the retried request, and
//!   stops when its credentials are rejected.
//! - [`ha1()`] computes what the directory stores per user, realm and algorithm.
//!
//! Both sides support MD5 and SHA-256 with their `-sess` variants, `qop=auth` and the
//! RFC 2069 computation without `qop`. Not supported: `qop=auth-int`, `userhash`, the
//! `Authentication-Info` header, and nonce-count replay checks on the server.
//!
//! Everything here is sans-IO: the current time is a parameter.

mod algorithm;
mod challenge;
mod client;
mod compute;
mod credentials;
mod failure;
mod ha1;
mod kind;
mod nonce;
mod server;
#[cfg(test)]
mod tests;

pub use algorithm::Algorithm;
pub use challenge::{ChallengeError, DigestChallenge};
pub use client::{ClientError, DigestClient};
pub use compute::{constant_time_eq, DigestInput, Qop};
pub use credentials::{DigestCredentials, QopAuth};
pub use failure::{Answer, AuthFailure};
pub use ha1::{ha1, Ha1};
pub use kind::ChallengeKind;
pub use nonce::{NonceKey, NonceStatus};
pub use server::{AuthOk, DigestServer, Presented, DEFAULT_NONCE_LIFETIME};
