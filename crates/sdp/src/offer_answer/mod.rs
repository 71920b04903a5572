//! RFC 3264 offer/answer for the one audio stream a ViaWork call leg carries.
//!
//! This module has no IO and no clock: it turns descriptions into descriptions and into a
//! [`NegotiatedMedia`] for the media engine. The pieces:
//!
//! - [`LocalMedia`]: what we can do (address, port, codecs in preference order, telephone-event
//!   payload type, direction, ptime).
//! - [`build_offer`] and [`build_answer`]: a fresh offer, and the answer to a remote offer
//!   (same `m=` lines in the same order; the first usable RTP/AVP audio stream is accepted with
//!   the offerer's payload type numbers, every other stream is rejected with port 0).
//! - [`negotiate_answer`]: checks an answer against the offer it answers and derives the streams.
//! - [`reoffer_with_direction`]: hold (`sendonly`) and resume (`sendrecv`) re-offers built from
//!   the previous local description.
//! - [`LocalSession`]: our `o=` line across a dialog. It keeps username and session id, grows the
//!   version by one only when a description changes (RFC 3264 §8), keeps re-offers aligned with
//!   the previous `m=` lines, and remembers the outstanding offer. Use it rather than the free
//!   functions when you send descriptions on a dialog.
//!
//! Holds are detected on receipt ([`SessionDescription::is_hold`]), including the RFC 2543
//! `c=0.0.0.0` form, and answered without failing: a `sendonly` offer gets a `recvonly` answer.
//!
//! [`SessionDescription::is_hold`]: crate::SessionDescription::is_hold

mod answer;
mod error;
mod local_session;
mod negotiate;
mod negotiated;
mod offer;

use std::net::IpAddr;

use crate::codec::{Codec, TelephoneEvent};
use crate::direction::Direction;

pub use answer::{build_answer, Answer};
pub use error::NegotiationError;
pub use local_session::LocalSession;
pub use negotiate::negotiate_answer;
pub use negotiated::{
    NegotiatedCodec, NegotiatedMedia, NegotiatedStream, NegotiatedTelephoneEvent,
};
pub use offer::{build_offer, reoffer_with_direction};

/// What this side can do for one audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Our RTP address, put in `c=`.
    pub address: IpAddr,
    /// Our RTP port (RTCP on the next one).
    pub port: u16,
    /// Codecs we accept, most preferred first.
    pub codecs: Vec<Codec>,
    /// Telephone events: the payload type we offer and the events we receive; `None` to
    /// neither offer nor accept them.
    pub telephone_event: Option<TelephoneEvent>,
    /// The direction we want (`sendrecv` normally, `sendonly` to hold).
    pub direction: Direction,
    /// The packet duration in ms we want to receive, sent as `a=ptime`.
    pub ptime: Option<u32>,
    /// Which of the codecs we share with an offer our answer lists.
    pub answer_codecs: AnswerCodecs,
}

/// Which of the codecs both sides support an answer lists (RFC 3264 §6.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum AnswerCodecs {
    /// All of them, in the offerer's order, as RFC 3264 §6.1 recommends "unless there is a
    /// specific reason": what a relay wants, passing on whatever the parties share.
    #[default]
    AllInOfferOrder,
    /// Only the one we prefer (the first of [`LocalMedia::codecs`] the offer has), for
    /// media that ends here: a media server that must know which codec will arrive (its
    /// mixer takes one payload type per party) and that has its own reason to prefer one,
    /// such as G.722 for a meeting.
    OurPreferred,
}

impl LocalMedia {
    /// PCMU, PCMA and G722 in that order, telephone events at 101 (`0-16`), `sendrecv`, 20 ms,
    /// answers listing every shared codec in the offer's order.
    pub fn new(address: IpAddr, port: u16) -> Self {
        LocalMedia {
            address,
            port,
            codecs: Codec::ALL.to_vec(),
            telephone_event: Some(TelephoneEvent::default()),
            direction: Direction::SendRecv,
            ptime: Some(20),
            answer_codecs: AnswerCodecs::AllInOfferOrder,
        }
    }
}

#[cfg(test)]
mod tests;
