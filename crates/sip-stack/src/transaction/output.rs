//! What the layer hands back to its caller: [`Transmit`]s for the transport and
//! [`TuEvent`]s for the transaction user, queued in the order they happened.

use super::key::TransactionKey;
use super::peer::Peer;
use sip::Message;
use std::collections::VecDeque;

/// A message to put on the wire.
#[derive(Debug, Clone)]
pub struct Transmit {
    /// The message; `msg.as_bytes()` is what to send.
    pub msg: Message,
    /// Where to send it.
    pub peer: Peer,
    /// The transaction that sends it, if any. When sending fails, the driver reports it
    /// with [`super::TransactionLayer::handle_transport_error`] and this key.
    pub key: Option<TransactionKey>,
}

/// Something the transaction user must know or act on.
#[derive(Debug, Clone)]
pub enum TuEvent {
    /// A new request created a server transaction; answer it with
    /// [`super::TransactionLayer::send_response`] and `key`. Retransmissions of the
    /// request never show up again. Never ACK or CANCEL.
    Request {
        /// The new server transaction.
        key: TransactionKey,
        /// The request.
        msg: Message,
        /// Where it came from.
        peer: Peer,
    },
    /// A CANCEL created its own non-INVITE server transaction (`key`, to answer with 200
    /// or 481). `invite_key` is the INVITE server transaction it cancels, matched by
    /// RFC 3261 §9.2; when it is `None` the TU answers 481.
    Cancel {
        /// The CANCEL's own server transaction.
        key: TransactionKey,
        /// The INVITE server transaction it targets, when one is live.
        invite_key: Option<TransactionKey>,
        /// The CANCEL request.
        msg: Message,
        /// Where it came from.
        peer: Peer,
    },
    /// A response for a client transaction: every provisional, the final response once,
    /// and in the INVITE Accepted state every further 2xx (forks and retransmissions,
    /// RFC 6026 §7.2), which the dialog layer ACKs.
    Response {
        /// The client transaction.
        key: TransactionKey,
        /// The response.
        msg: Message,
    },
    /// An ACK for a 2xx this endpoint sent on `invite_key`. The layer stopped
    /// retransmitting that 2xx (RFC 3261 §13.3.1.4).
    Ack {
        /// The INVITE server transaction the 2xx answered.
        invite_key: TransactionKey,
        /// The ACK request.
        msg: Message,
        /// Where it came from.
        peer: Peer,
    },
    /// A 2xx sent on `invite_key` was retransmitted for 64·T1 without an ACK: the dialog is
    /// confirmed but the session should be ended with a BYE (RFC 3261 §13.3.1.4).
    AckTimeout {
        /// The INVITE server transaction the 2xx answered.
        invite_key: TransactionKey,
    },
    /// The transaction failed for lack of an answer: Timer B or F on a client transaction,
    /// Timer H (no ACK for a non-2xx final response) on a server INVITE transaction.
    Timeout {
        /// The transaction.
        key: TransactionKey,
    },
    /// The transport could not deliver a message of this transaction.
    TransportError {
        /// The transaction.
        key: TransactionKey,
    },
    /// The transaction is gone; its key will not be used again. Every transaction ends
    /// with exactly one of these.
    Terminated {
        /// The transaction.
        key: TransactionKey,
    },
    /// A message no transaction claims: an ACK for a 2xx that is not awaited (or already
    /// acknowledged), or a response matching no client transaction, such as a 2xx
    /// retransmitted after Timer M. The dialog layer decides (it re-ACKs stray 2xx).
    Stray {
        /// The message.
        msg: Message,
        /// Where it came from.
        peer: Peer,
    },
}

/// The queues behind `poll_transmit` and `poll_event`.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<TuEvent>,
}

impl Output {
    /// Queues a message for the transport.
    pub(crate) fn transmit(&mut self, msg: Message, peer: Peer, key: Option<TransactionKey>) {
        self.transmits.push_back(Transmit { msg, peer, key });
    }

    /// Queues an event for the TU.
    pub(crate) fn event(&mut self, event: TuEvent) {
        self.events.push_back(event);
    }
}
