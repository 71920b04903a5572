//! The SIP transaction layer of RFC 3261 §17, as updated by RFC 6026, as a sans-IO core.
//!
//! A transaction is one request and the responses to it, plus the retransmissions that
//! make it reliable over UDP. [`TransactionLayer`] owns every client and server transaction
//! of an endpoint. It has no sockets and no clock: the caller feeds it received messages
//! ([`TransactionLayer::handle_message`]) and the current time, and drains what to send
//! ([`TransactionLayer::poll_transmit`]), what to tell the transaction user
//! ([`TransactionLayer::poll_event`]) and when to wake it next
//! ([`TransactionLayer::poll_timeout`], then [`TransactionLayer::handle_timeout`]).
//!
//! ```text
//!   transport ──handle_message──▶ ┌──────────────────┐ ──poll_event──▶ TU (dialogs, B2BUA)
//!   transport ◀──poll_transmit─── │ TransactionLayer │ ◀─send_request / send_response──
//!   clock     ──handle_timeout──▶ └──────────────────┘ ──poll_timeout──▶ clock
//! ```
//!
//! Where to look:
//! - [`layer`]: the layer itself, matching messages to transactions and routing timers.
//! - [`client_invite`], [`client_non_invite`], [`server_invite`], [`server_non_invite`]:
//!   the four state machines of RFC 3261 §17.1.1, §17.1.2, §17.2.1 and §17.2.2, with the
//!   RFC 6026 "Accepted" states.
//! - [`uas_2xx`]: retransmission of a UAS's 2xx until its ACK arrives (RFC 3261 §13.3.1.4),
//!   which RFC 3261 gives to the TU and which we keep beside the transactions.
//! - `matching` (private): which transaction a message belongs to (§17.1.3, §17.2.3,
//!   RFC 2543), and `index`, the id index that matching looks keys up in.
//! - [`timers`]: T1, T2, T4 and the back-off of retransmission timers; `schedule`
//!   (private): the ordered set of wake-ups; `wire` (private): how transactions keep the
//!   messages they may resend.
//! - [`ack`], [`cancel`], [`branch`]: building the ACK for a non-2xx final response, a
//!   CANCEL, and fresh branch parameters.
//! - [`key`], [`peer`], [`output`], [`state`], [`error`]: the small types of the public API.

pub mod ack;
pub mod branch;
pub mod cancel;
pub mod client_invite;
pub mod client_non_invite;
pub mod error;
mod ids;
mod index;
pub mod key;
pub mod layer;
mod matching;
pub mod output;
pub mod peer;
mod schedule;
pub mod server_invite;
pub mod server_non_invite;
pub mod state;
pub mod timers;
pub mod uas_2xx;
mod wire;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

pub use ack::build_ack_for_non_2xx;
pub use branch::new_branch;
pub use cancel::build_cancel;
pub use error::TransactionError;
pub use key::{TransactionKey, TransactionKind};
pub use layer::TransactionLayer;
pub use output::{Transmit, TuEvent};
pub use peer::{Peer, Transport};
pub use state::TransactionState;
pub use timers::TimerConfig;
