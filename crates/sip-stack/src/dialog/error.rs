//! What can go wrong when a message is given to a dialog or a dialog is asked to build one.
//!
//! Every variant says which input was at fault, so that the call engine can log it or turn
//! it into a status code: a malformed header in a request is a 400,
//! [`DialogError::IntervalTooSmall`] a 422, a message for another dialog a 481.

use sip::{HeaderError, HeaderName, Method, ParseError};

/// An error of the dialog layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// A header the dialog needs is missing or malformed.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A URI the dialog needs is malformed.
    #[error("invalid URI in the {header} header: {reason}")]
    Uri {
        /// The header that carried it.
        header: HeaderName,
        /// What was wrong.
        reason: &'static str,
    },
    /// A request was given where a response was expected, or the reverse.
    #[error("expected a {expected}")]
    WrongKind {
        /// `"request"` or `"response"`.
        expected: &'static str,
    },
    /// The response cannot create a dialog: a 100, a final non-2xx, or a response to
    /// something other than INVITE.
    #[error("a {status} response does not create a dialog")]
    NotDialogCreating {
        /// Its status code.
        status: u16,
    },
    /// A status code outside 100–699.
    #[error("{status} is not a status code")]
    InvalidStatus {
        /// The code given.
        status: u16,
    },
    /// A tag the dialog needs is missing.
    #[error("the {header} header has no tag")]
    MissingTag {
        /// From or To.
        header: HeaderName,
    },
    /// A Contact the dialog needs is missing or is `*`.
    #[error("no usable Contact in the {what}")]
    MissingContact {
        /// Which message lacked it.
        what: &'static str,
    },
    /// The message belongs to another dialog or transaction.
    #[error("message does not belong to this dialog: {reason}")]
    WrongDialog {
        /// Which identifier did not match.
        reason: &'static str,
    },
    /// The local CSeq reached 2^31 − 1 (RFC 3261 §8.1.1.5).
    #[error("the local CSeq space is exhausted")]
    CSeqExhausted,
    /// No INVITE was sent in this dialog, so there is nothing to ACK or CANCEL.
    #[error("no INVITE to {method} in this dialog")]
    NoInvite {
        /// ACK or CANCEL.
        method: Method,
    },
    /// The method cannot be sent in the dialog's present state.
    #[error("{method} cannot be sent now: {reason}")]
    NotAllowed {
        /// The method.
        method: Method,
        /// Why not.
        reason: &'static str,
    },
    /// An offer is outstanding; RFC 3261 §13.2.1 and RFC 3311 §5.1 forbid another until
    /// it is answered or rejected.
    #[error("an offer is outstanding; a new offer must wait for its answer")]
    OfferPending,
    /// A reliable provisional response is still unacknowledged (RFC 3262 §3).
    #[error("reliable provisional response RSeq {rseq} is not yet acknowledged")]
    ProvisionalPending {
        /// Its RSeq.
        rseq: u32,
    },
    /// The INVITE did not announce 100rel, so no provisional may be sent reliably.
    #[error("the INVITE does not support 100rel")]
    ReliabilityUnsupported,
    /// Only a 101–199 response to INVITE can be sent reliably.
    #[error("a {status} response cannot be sent reliably")]
    NotReliable {
        /// Its status code.
        status: u16,
    },
    /// The RSeq space of the transaction is exhausted.
    #[error("the RSeq space is exhausted")]
    RSeqExhausted,
    /// The request's Session-Expires is below the local Min-SE: answer 422 with this Min-SE
    /// (RFC 4028 §9).
    #[error("session interval below the minimum of {min_se} s")]
    IntervalTooSmall {
        /// The Min-SE to put in the 422.
        min_se: u32,
    },
    /// A 422 without a Min-SE larger than the interval that was refused.
    #[error("422 response without a usable Min-SE")]
    BadMinSe,
    /// No dialog with that identifier.
    #[error("no dialog {0}")]
    UnknownDialog(String),
    /// No offer on that dialog waits for an answer.
    #[error("no offer waits for an answer on this dialog")]
    NoOfferToAnswer,
    /// The message built is not a valid SIP message (a header value the caller added).
    #[error("could not build the message: {0}")]
    Build(#[from] ParseError),
}
