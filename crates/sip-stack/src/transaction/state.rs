//! [`TransactionState`]: where a transaction stands, for a TU that wants to know (for
//! example whether an INVITE can still be cancelled) and for tests.

use super::{client_invite, client_non_invite, server_invite, server_non_invite};

/// The state of one transaction, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionState {
    /// An INVITE client transaction.
    ClientInvite(client_invite::State),
    /// A non-INVITE client transaction.
    ClientNonInvite(client_non_invite::State),
    /// An INVITE server transaction.
    ServerInvite(server_invite::State),
    /// A non-INVITE server transaction.
    ServerNonInvite(server_non_invite::State),
}
