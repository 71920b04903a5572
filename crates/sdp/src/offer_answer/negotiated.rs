//! The outcome of an offer/answer exchange, in the terms a media engine needs: where to send
//! RTP, which payload types to send and expect, whether to send and receive at all.
//!
//! Each party declares in its own description the payload type numbers it wants to *receive*.
//! So every negotiated format carries two numbers: `send_pt` from the remote description (put it
//! in packets we send) and `recv_pt` from ours (expect it in packets we receive). RFC 3264 asks
//! the answerer to reuse the offerer's numbers, so they are usually equal, but not always.

use std::net::SocketAddr;

use crate::attribute::Attribute;
use crate::codec::{Codec, PayloadFormat};
use crate::connection::Connection;
use crate::direction::Direction;
use crate::media::MediaDescription;
use crate::session::SessionDescription;

use super::NegotiationError;

/// An audio codec both parties accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NegotiatedCodec {
    /// The codec.
    pub codec: Codec,
    /// Payload type to put in packets we send (the remote description's number).
    pub send_pt: u8,
    /// Payload type to expect in packets we receive (our description's number).
    pub recv_pt: u8,
}

/// RFC 4733 telephone events both parties accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NegotiatedTelephoneEvent {
    /// Payload type for events we send (the remote description's number).
    pub send_pt: u8,
    /// Payload type for events we receive (our description's number).
    pub recv_pt: u8,
    /// RTP clock rate of the events, equal to the audio codec's.
    pub clock_rate: u32,
    /// The events the remote party can receive (its `a=fmtp`, e.g. `0-15`), if it said.
    pub remote_events: Option<String>,
}

/// One negotiated RTP audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedStream {
    /// Index of the stream's `m=` line, from 0.
    pub index: usize,
    /// Our RTP port for the stream, as in our description.
    pub local_port: u16,
    /// Where to send RTP.
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP: `a=rtcp` if given, else the RTP port + 1 (`None` if that overflows).
    pub remote_rtcp: Option<SocketAddr>,
    /// The codec to send: the first common one.
    pub codec: NegotiatedCodec,
    /// Every common codec, `codec` first; the remote party may send any of them.
    pub codecs: Vec<NegotiatedCodec>,
    /// Telephone events, if both parties support them at the codec's clock rate.
    pub telephone_event: Option<NegotiatedTelephoneEvent>,
    /// What we do on the stream: send only if we may send, receive only if we may receive.
    pub direction: Direction,
    /// Packet duration in ms the remote party wants to receive (its `a=ptime`), if it said.
    pub ptime: Option<u32>,
}

/// All negotiated streams of a session (at most one audio stream with this crate's offers and
/// answers).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegotiatedMedia {
    /// The accepted RTP audio streams, in `m=` order. Rejected streams are absent.
    pub streams: Vec<NegotiatedStream>,
}

impl NegotiatedMedia {
    /// The first audio stream.
    pub fn audio(&self) -> Option<&NegotiatedStream> {
        self.streams.first()
    }
}

/// Where RTP and RTCP of `media` are to be sent, per `sdp`.
pub(super) fn remote_transport(
    sdp: &SessionDescription,
    media: &MediaDescription,
    index: usize,
) -> Result<(SocketAddr, Option<SocketAddr>), NegotiationError> {
    let connection = sdp
        .media_connection(media)
        .ok_or(NegotiationError::MissingConnection { index })?;
    let ip = connection
        .ip()
        .ok_or_else(|| NegotiationError::UnsupportedAddress {
            index,
            address: connection.address.clone(),
        })?;
    let rtcp = match media.rtcp() {
        Some(rtcp) => {
            let rtcp_ip = rtcp.connection.as_ref().and_then(Connection::ip);
            Some(SocketAddr::new(rtcp_ip.unwrap_or(ip), rtcp.port))
        }
        None => media.port().checked_add(1).map(|p| SocketAddr::new(ip, p)),
    };
    Ok((SocketAddr::new(ip, media.port()), rtcp))
}

/// The direction the sender of `sdp` declares for `media`, with a `0.0.0.0` connection
/// (RFC 2543 hold) taken as "does not receive".
pub(super) fn declared_direction(sdp: &SessionDescription, media: &MediaDescription) -> Direction {
    let direction = sdp.media_direction(media);
    if sdp
        .media_connection(media)
        .is_some_and(Connection::is_unspecified)
    {
        Direction::from_flags(direction.sends(), false)
    } else {
        direction
    }
}

/// The `a=ptime` of `media`, else of the session.
pub(super) fn ptime(sdp: &SessionDescription, media: &MediaDescription) -> Option<u32> {
    media.ptime().or_else(|| {
        sdp.attributes().find_map(|a| match a {
            Attribute::Ptime(ms) => Some(*ms),
            _ => None,
        })
    })
}

/// What `payload_type` carries in `media`; when `media` has no `a=rtpmap` for it, the mapping
/// of `fallback` (the offer, for an answer that left its rtpmaps out).
pub(super) fn payload_format(
    media: &MediaDescription,
    fallback: Option<&MediaDescription>,
    payload_type: u8,
) -> Option<PayloadFormat> {
    match (media.rtpmap(payload_type), fallback) {
        (None, Some(fallback)) => fallback.payload_format(payload_type),
        _ => media.payload_format(payload_type),
    }
}

/// The first payload type of `media` carrying telephone events at `clock_rate`.
pub(super) fn telephone_event_pt(
    media: &MediaDescription,
    fallback: Option<&MediaDescription>,
    clock_rate: u32,
) -> Option<u8> {
    media.payload_types().find(|pt| {
        payload_format(media, fallback, *pt) == Some(PayloadFormat::TelephoneEvent { clock_rate })
    })
}
