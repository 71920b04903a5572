//! Answering a remote offer (RFC 3264 §6).
//!
//! The answer has the offer's `m=` lines in the same order. The first stream that is RTP/AVP
//! audio, not disabled, and has a codec in common is accepted; every other stream (video,
//! T.38, SRTP, a second audio stream, a disabled one) is rejected by answering it with port 0.
//! In the accepted stream the answer lists the common codecs in the offerer's order (or only
//! the one we prefer, per [`LocalMedia::answer_codecs`]), with the offerer's payload type numbers, plus the offerer's telephone-event payload type when both
//! sides support events at the codec's clock rate. The direction follows
//! [`Direction::answer_to`], with `c=0.0.0.0` in the offer read as "the offerer does not
//! receive", so that RFC 2543 holds get a `recvonly` answer.

use crate::attribute::Attribute;
use crate::codec::{PayloadFormat, TelephoneEvent};
use crate::direction::Direction;
use crate::field::Field;
use crate::media::{MediaDescription, MediaKind};
use crate::origin::Origin;
use crate::session::SessionDescription;
use crate::timing::Timing;

use super::negotiated::{
    declared_direction, ptime, remote_transport, telephone_event_pt, NegotiatedCodec,
    NegotiatedMedia, NegotiatedStream, NegotiatedTelephoneEvent,
};
use super::offer::{rejected, skeleton};
use super::{AnswerCodecs, LocalMedia, NegotiationError};

/// Our answer and what it means for the media engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The description to send.
    pub sdp: SessionDescription,
    /// The accepted stream(s).
    pub media: NegotiatedMedia,
    /// Whether the offer puts the call on hold ([`SessionDescription::is_hold`]).
    pub remote_hold: bool,
}

/// Answers `offer` with what `local` supports.
///
/// Fails with [`NegotiationError::NoAcceptableMedia`] when no stream can be accepted (answer the
/// request with `488`), and with a connection error when the accepted stream has no usable
/// `c=`.
pub fn build_answer(
    origin: &Origin,
    session_name: &str,
    offer: &SessionDescription,
    local: &LocalMedia,
) -> Result<Answer, NegotiationError> {
    let mut sdp = skeleton(origin, session_name, local)?;
    let mut copied_timing = false;
    for timing in offer.fields().filter(|f| matches!(f, Field::Timing(_))) {
        sdp.push_field(timing.clone())?;
        copied_timing = true;
    }
    if !copied_timing {
        sdp.push_field(Field::Timing(Timing::default()))?;
    }

    let mut streams = Vec::new();
    for (index, offered) in offer.media().iter().enumerate() {
        let accepted = match streams.is_empty() {
            true => accept(offer, offered, index, local)?,
            false => None,
        };
        match accepted {
            Some((media, stream)) => {
                sdp.push_media(media);
                streams.push(stream);
            }
            None => sdp.push_media(rejected(offered)?),
        }
    }
    if streams.is_empty() {
        return Err(NegotiationError::NoAcceptableMedia);
    }
    Ok(Answer {
        sdp,
        media: NegotiatedMedia { streams },
        remote_hold: offer.is_hold(),
    })
}

/// The answer section and negotiated stream for `offered`, or `None` to reject it.
fn accept(
    offer: &SessionDescription,
    offered: &MediaDescription,
    index: usize,
    local: &LocalMedia,
) -> Result<Option<(MediaDescription, NegotiatedStream)>, NegotiationError> {
    if offered.kind() != &MediaKind::Audio || offered.is_rejected() || !offered.is_rtp_avp() {
        return Ok(None);
    }
    let mut codecs: Vec<NegotiatedCodec> = Vec::new();
    for pt in offered.payload_types() {
        if let Some(PayloadFormat::Audio(codec)) = offered.payload_format(pt) {
            if local.codecs.contains(&codec) && codecs.iter().all(|c| c.codec != codec) {
                codecs.push(NegotiatedCodec {
                    codec,
                    send_pt: pt,
                    recv_pt: pt,
                });
            }
        }
    }
    if local.answer_codecs == AnswerCodecs::OurPreferred {
        let preferred = local
            .codecs
            .iter()
            .find_map(|ours| codecs.iter().find(|c| c.codec == *ours).copied());
        codecs = preferred.into_iter().collect();
    }
    let Some(&first) = codecs.first() else {
        return Ok(None);
    };
    let (remote_rtp, remote_rtcp) = remote_transport(offer, offered, index)?;
    let clock_rate = first.codec.clock_rate();
    let telephone_event = local.telephone_event.as_ref().and_then(|_| {
        let pt = telephone_event_pt(offered, None, clock_rate)?;
        Some(NegotiatedTelephoneEvent {
            send_pt: pt,
            recv_pt: pt,
            clock_rate,
            remote_events: offered.fmtp(pt).map(|f| f.params.clone()),
        })
    });
    let direction = Direction::answer_to(declared_direction(offer, offered), local.direction);

    let formats = codecs
        .iter()
        .map(|c| c.recv_pt)
        .chain(telephone_event.as_ref().map(|t| t.recv_pt))
        .map(|pt| pt.to_string());
    let mut media = MediaDescription::new(MediaKind::Audio, local.port, offered.proto(), formats)?;
    for c in &codecs {
        media.push_attribute(Attribute::RtpMap(c.codec.rtpmap(c.recv_pt)))?;
    }
    if let (Some(negotiated), Some(ours)) = (&telephone_event, &local.telephone_event) {
        let pt = negotiated.recv_pt;
        media.push_attribute(Attribute::RtpMap(TelephoneEvent::rtpmap(pt, clock_rate)))?;
        media.push_attribute(Attribute::Fmtp(ours.fmtp(pt)))?;
    }
    if let Some(ms) = local.ptime {
        media.push_attribute(Attribute::Ptime(ms))?;
    }
    media.set_direction(direction);

    let stream = NegotiatedStream {
        index,
        local_port: local.port,
        remote_rtp,
        remote_rtcp,
        codec: first,
        codecs,
        telephone_event,
        direction,
        ptime: ptime(offer, offered),
    };
    Ok(Some((media, stream)))
}
