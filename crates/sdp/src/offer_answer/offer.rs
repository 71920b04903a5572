//! Building offers: a fresh one from [`LocalMedia`], and hold/resume re-offers from the
//! previous local description.

use crate::attribute::Attribute;
use crate::codec::TelephoneEvent;
use crate::connection::Connection;
use crate::direction::Direction;
use crate::field::Field;
use crate::media::{MediaDescription, MediaKind};
use crate::origin::Origin;
use crate::session::SessionDescription;
use crate::timing::Timing;

use super::{LocalMedia, NegotiationError};

/// An offer of one RTP/AVP audio stream as `local` describes it:
///
/// ```text
/// v=0
/// o=<origin>
/// s=<session_name>
/// c=IN IP4 <address>
/// t=0 0
/// m=audio <port> RTP/AVP 0 8 9 101
/// a=rtpmap:0 PCMU/8000           (one per codec, static ones included)
/// a=rtpmap:101 telephone-event/8000
/// a=fmtp:101 0-16
/// a=ptime:20
/// a=sendrecv
/// ```
pub fn build_offer(
    origin: &Origin,
    session_name: &str,
    local: &LocalMedia,
) -> Result<SessionDescription, NegotiationError> {
    let mut sdp = skeleton(origin, session_name, local)?;
    sdp.push_field(Field::Timing(Timing::default()))?;
    sdp.push_media(audio_offer(local)?);
    Ok(sdp)
}

/// `v=`, `o=`, `s=` and our session-level `c=`.
pub(super) fn skeleton(
    origin: &Origin,
    session_name: &str,
    local: &LocalMedia,
) -> Result<SessionDescription, NegotiationError> {
    let mut sdp = SessionDescription::new(origin.clone(), session_name)?;
    sdp.push_field(Field::Connection(Connection::new(local.address)))?;
    Ok(sdp)
}

/// The offered audio section.
pub(super) fn audio_offer(local: &LocalMedia) -> Result<MediaDescription, NegotiationError> {
    let mut codecs = local.codecs.clone();
    let mut seen = Vec::new();
    codecs.retain(|c| {
        let first = !seen.contains(c);
        seen.push(*c);
        first
    });
    if codecs.is_empty() {
        return Err(NegotiationError::NoLocalCodecs);
    }
    let event_pt = local
        .telephone_event
        .as_ref()
        .map(TelephoneEvent::payload_type);
    let formats = codecs
        .iter()
        .map(|c| c.payload_type())
        .chain(event_pt)
        .map(|pt| pt.to_string());
    let mut media = MediaDescription::new(MediaKind::Audio, local.port, "RTP/AVP", formats)?;
    for codec in &codecs {
        media.push_attribute(Attribute::RtpMap(codec.rtpmap(codec.payload_type())))?;
    }
    if let Some(event) = &local.telephone_event {
        let pt = event.payload_type();
        // Our codecs all use an 8000 Hz RTP clock, G.722 included.
        media.push_attribute(Attribute::RtpMap(TelephoneEvent::rtpmap(pt, 8000)))?;
        media.push_attribute(Attribute::Fmtp(event.fmtp(pt)))?;
    }
    if let Some(ptime) = local.ptime {
        media.push_attribute(Attribute::Ptime(ptime))?;
    }
    media.set_direction(local.direction);
    Ok(media)
}

/// A copy of `media` rejected or disabled: port 0, same type, protocol and formats, no lines.
pub(super) fn rejected(media: &MediaDescription) -> Result<MediaDescription, NegotiationError> {
    Ok(MediaDescription::new(
        media.kind().clone(),
        0,
        media.proto(),
        media.formats().iter().cloned(),
    )?)
}

/// A re-offer of `previous` (our last description) with every stream that is not disabled set
/// to `direction`: [`Direction::SendOnly`] to hold, [`Direction::SendRecv`] to resume.
///
/// Everything else is kept. The `o=` version grows by one if, and only if, the description
/// changed (holding an already held call re-sends the same version).
pub fn reoffer_with_direction(
    previous: &SessionDescription,
    direction: Direction,
) -> SessionDescription {
    let mut sdp = previous.clone();
    for media in sdp.media_mut() {
        if !media.is_rejected() {
            media.set_direction(direction);
        }
    }
    if sdp != *previous {
        sdp.bump_version();
    }
    sdp
}
