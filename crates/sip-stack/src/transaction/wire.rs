//! What a transaction keeps of a message it may have to send again: the wire bytes, a
//! reference-counted slice of the buffer the message was parsed from (32 bytes), rather
//! than the parsed view (some 570 bytes of header spans). A server holds tens of thousands
//! of transactions through Timers L and M, and retransmissions only happen when the
//! network loses something, so re-parsing then is cheaper than carrying every parsed view
//! through memory for 32 seconds.

use super::key::TransactionKey;
use super::output::Output;
use super::peer::Peer;
use bytes::Bytes;
use sip::Message;

/// A message kept as its bytes.
#[derive(Debug, Clone)]
pub(crate) struct Wire(Bytes);

impl Wire {
    /// Keeps `msg`'s bytes (no copy).
    pub(crate) fn of(msg: &Message) -> Wire {
        Wire(msg.to_bytes())
    }

    /// The message again. It parsed once, so it parses again; `None` is logged.
    pub(crate) fn message(&self) -> Option<Message> {
        match Message::parse(self.0.clone()) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::error!(error = %e, "a stored message no longer parses");
                None
            }
        }
    }

    /// Queues the message for sending again.
    pub(crate) fn resend(&self, peer: Peer, key: TransactionKey, out: &mut Output) {
        if let Some(m) = self.message() {
            out.transmit(m, peer, Some(key));
        }
    }
}
