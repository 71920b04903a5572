//! SDP for ViaWork: a lossless session description model (RFC 8866) and RFC 3264 offer/answer
//! for the audio stream of a back-to-back user agent doing third-party call control (RFC 3725).
//!
//! - [`SessionDescription::parse`] reads a SIP body; printing it (`Display`) gives the same bytes
//!   back, unknown lines and attributes included, so a description can be relayed or edited
//!   with a setter without disturbing anything else. Errors ([`SdpError`]) name the line.
//! - Typed lines: [`Origin`], [`Connection`], [`Bandwidth`], [`Timing`], [`MediaDescription`]
//!   and [`Attribute`] (with [`RtpMap`], [`Fmtp`], `ptime`, [`Direction`], [`Rtcp`]).
//! - [`Codec`] and [`TelephoneEvent`]: the payload formats this server carries.
//! - [`offer_answer`]: build offers and answers, process answers into [`NegotiatedMedia`] for the
//!   media engine, hold and resume, and the `o=` version counter ([`LocalSession`]).
//!
//! ```
//! use sdp::{Direction, SessionDescription};
//!
//! let body = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
//!             m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
//! let mut sdp = SessionDescription::parse(body)?;
//! assert_eq!(sdp.to_string(), body);
//! sdp.media_mut()[0].set_direction(Direction::SendOnly);
//! sdp.bump_version();
//! assert!(sdp.is_hold());
//! # Ok::<(), sdp::SdpError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attribute;
pub mod bandwidth;
pub mod codec;
pub mod connection;
pub mod direction;
pub mod error;
pub mod field;
mod line;
pub mod media;
pub mod offer_answer;
pub mod origin;
pub mod session;
pub mod timing;

pub use attribute::{Attribute, Fmtp, Rtcp, RtpMap};
pub use bandwidth::Bandwidth;
pub use codec::{Codec, PayloadFormat, TelephoneEvent};
pub use connection::Connection;
pub use direction::Direction;
pub use error::SdpError;
pub use field::Field;
pub use media::{MediaDescription, MediaKind, MediaLine};
pub use offer_answer::{
    Answer, AnswerCodecs, LocalMedia, LocalSession, NegotiatedCodec, NegotiatedMedia,
    NegotiatedStream, NegotiatedTelephoneEvent, NegotiationError,
};
pub use origin::Origin;
pub use session::SessionDescription;
pub use timing::Timing;
