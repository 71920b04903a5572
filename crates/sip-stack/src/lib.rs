//! The SIP stack of ViaWork: transports, RFC 3261 transactions (as updated by RFC 6026),
//! dialogs and digest authentication.
//!
//! The protocol logic is sans-IO: [`transaction::TransactionLayer`] and the dialog and auth
//! state machines take messages and the current time and hand back what to send and when
//! to wake them. The tokio driver in [`transport`] owns the sockets and the clock. Tests
//! drive the cores with simulated time over a lossy simulated network.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod dialog;
pub mod endpoint;
pub mod failover;
pub mod resolve;
pub mod salvage;
pub mod transaction;
pub mod transport;
pub mod uas;
