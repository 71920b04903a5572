//! [`TransactionKey`]: the handle by which the layer and its transaction user name a
//! transaction. It is a small copyable id, not the RFC 3261 matching data (that lives in
//! the matching rules): the TU keeps it in its own tables and hands it back with each
//! response it sends. A key means something only to the layer that issued it.

use std::fmt;

/// Which of the four RFC 3261 §17 state machines a transaction runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransactionKind {
    /// INVITE client transaction (§17.1.1, RFC 6026 §7.2).
    ClientInvite,
    /// Non-INVITE client transaction (§17.1.2).
    ClientNonInvite,
    /// INVITE server transaction (§17.2.1, RFC 6026 §7.1).
    ServerInvite,
    /// Non-INVITE server transaction (§17.2.2); CANCEL runs one too.
    ServerNonInvite,
}

impl TransactionKind {
    /// True for the two client kinds.
    pub fn is_client(self) -> bool {
        matches!(
            self,
            TransactionKind::ClientInvite | TransactionKind::ClientNonInvite
        )
    }

    /// True for the two INVITE kinds.
    pub fn is_invite(self) -> bool {
        matches!(
            self,
            TransactionKind::ClientInvite | TransactionKind::ServerInvite
        )
    }

    fn short(self) -> &'static str {
        match self {
            TransactionKind::ClientInvite => "ict",
            TransactionKind::ClientNonInvite => "nict",
            TransactionKind::ServerInvite => "ist",
            TransactionKind::ServerNonInvite => "nist",
        }
    }
}

/// Names one transaction of one [`super::TransactionLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionKey {
    id: u64,
    kind: TransactionKind,
}

impl TransactionKey {
    pub(crate) fn new(id: u64, kind: TransactionKind) -> TransactionKey {
        TransactionKey { id, kind }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The state machine this transaction runs.
    pub fn kind(&self) -> TransactionKind {
        self.kind
    }

    /// True for client transactions (requests this endpoint sent).
    pub fn is_client(&self) -> bool {
        self.kind.is_client()
    }

    /// True for INVITE transactions.
    pub fn is_invite(&self) -> bool {
        self.kind.is_invite()
    }
}

impl fmt::Display for TransactionKey {
    /// `ict#12`, `nist#40`: the RFC 3261 abbreviation of the kind and the id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.kind.short(), self.id)
    }
}
