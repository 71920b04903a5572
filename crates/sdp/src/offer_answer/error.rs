//! Why an offer or answer could not be produced or understood.
//!
//! Each error names the `m=` line it concerns, counting from 1 in the message (the `index` field
//! counts from 0, like [`SessionDescription::media`](crate::SessionDescription::media)). The SIP
//! layer turns them into a `488 Not Acceptable Here` with a `Warning` header, or a BYE when an
//! answer to our own offer is unusable.

use crate::error::SdpError;

/// An offer/answer exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// The answer has a different number of `m=` lines than the offer (RFC 3264 §6).
    #[error("the answer has {answered} m= lines but the offer has {offered}")]
    MediaCountMismatch {
        /// `m=` lines in the offer.
        offered: usize,
        /// `m=` lines in the answer.
        answered: usize,
    },
    /// An accepted stream of the answer has another media type or protocol than the offer's.
    #[error("m= line #{}: answer `m={answered}` does not match offer `m={offered}`", .index + 1)]
    MediaMismatch {
        /// Index of the `m=` line, from 0.
        index: usize,
        /// The offer's `m=` line.
        offered: String,
        /// The answer's `m=` line.
        answered: String,
    },
    /// The answer accepts a stream but lists no codec that the offer had.
    #[error("m= line #{}: the answer accepts the stream without any codec of the offer", .index + 1)]
    NoCommonCodec {
        /// Index of the `m=` line, from 0.
        index: usize,
    },
    /// A stream to be used has no `c=` line, neither its own nor the session's.
    #[error("m= line #{}: no c= line for the stream or the session", .index + 1)]
    MissingConnection {
        /// Index of the `m=` line, from 0.
        index: usize,
    },
    /// A stream to be used has a connection address that is not an IP address.
    #[error("m= line #{}: connection address {address:?} is not an IP address", .index + 1)]
    UnsupportedAddress {
        /// Index of the `m=` line, from 0.
        index: usize,
        /// The address found.
        address: String,
    },
    /// No stream of the offer is an RTP/AVP audio stream with a codec we support.
    #[error("no acceptable stream in the offer: need RTP/AVP audio with PCMU, PCMA or G722")]
    NoAcceptableMedia,
    /// The local media configuration lists no codec.
    #[error("local media configuration lists no codec")]
    NoLocalCodecs,
    /// A re-offer was asked for before any local SDP was sent.
    #[error("no local SDP has been sent yet, nothing to re-offer")]
    NoPreviousSdp,
    /// An offer of ours is still waiting for its answer, so no other offer may be made and no
    /// remote offer answered (the SIP layer answers such a request with `491`).
    #[error("an offer of ours is still waiting for its answer")]
    OfferPending,
    /// An answer arrived but no offer of ours is waiting for one.
    #[error("no offer of ours is waiting for an answer")]
    NoPendingOffer,
    /// A value could not be written into the description.
    #[error(transparent)]
    Sdp(#[from] SdpError),
}
