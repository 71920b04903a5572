//! Processing the answer to our offer (RFC 3264 §7): checking that it fits the offer and
//! deriving, for each accepted audio stream, where to send, which codec and telephone-event
//! payload types to use, in which direction and with which packet duration.

use crate::codec::PayloadFormat;
use crate::media::MediaKind;
use crate::session::SessionDescription;

use super::negotiated::{
    declared_direction, payload_format, ptime, remote_transport, telephone_event_pt,
    NegotiatedCodec, NegotiatedMedia, NegotiatedStream, NegotiatedTelephoneEvent,
};
use super::NegotiationError;

/// The streams that `answer` accepts out of our `offer`.
///
/// The answer must have as many `m=` lines as the offer, and each stream it accepts must have
/// the offer's media type and protocol. For an accepted RTP/AVP audio stream the codecs are the
/// answer's formats that the offer also had, in the answer's order (the first is the one to
/// send); the answer's payload type numbers are used for sending, ours for receiving. A dynamic
/// payload type the answer lists without `a=rtpmap` is read with the offer's mapping. Streams
/// of other kinds are checked but yield no [`NegotiatedStream`].
pub fn negotiate_answer(
    offer: &SessionDescription,
    answer: &SessionDescription,
) -> Result<NegotiatedMedia, NegotiationError> {
    if offer.media().len() != answer.media().len() {
        return Err(NegotiationError::MediaCountMismatch {
            offered: offer.media().len(),
            answered: answer.media().len(),
        });
    }
    let mut streams = Vec::new();
    for (index, (offered, answered)) in offer.media().iter().zip(answer.media()).enumerate() {
        if offered.is_rejected() || answered.is_rejected() {
            continue;
        }
        if offered.kind() != answered.kind()
            || !offered.proto().eq_ignore_ascii_case(answered.proto())
        {
            return Err(NegotiationError::MediaMismatch {
                index,
                offered: offered.media_line().to_string(),
                answered: answered.media_line().to_string(),
            });
        }
        if offered.kind() != &MediaKind::Audio || !offered.is_rtp_avp() {
            continue;
        }

        let mut codecs: Vec<NegotiatedCodec> = Vec::new();
        for send_pt in answered.payload_types() {
            let Some(PayloadFormat::Audio(codec)) =
                payload_format(answered, Some(offered), send_pt)
            else {
                continue;
            };
            let ours = offered
                .payload_types()
                .find(|pt| offered.payload_format(*pt) == Some(PayloadFormat::Audio(codec)));
            if let Some(recv_pt) = ours {
                if codecs.iter().all(|c| c.codec != codec) {
                    codecs.push(NegotiatedCodec {
                        codec,
                        send_pt,
                        recv_pt,
                    });
                }
            }
        }
        let Some(&first) = codecs.first() else {
            return Err(NegotiationError::NoCommonCodec { index });
        };

        let clock_rate = first.codec.clock_rate();
        let telephone_event = telephone_event_pt(answered, Some(offered), clock_rate)
            .zip(telephone_event_pt(offered, None, clock_rate))
            .map(|(send_pt, recv_pt)| NegotiatedTelephoneEvent {
                send_pt,
                recv_pt,
                clock_rate,
                remote_events: answered.fmtp(send_pt).map(|f| f.params.clone()),
            });

        let (remote_rtp, remote_rtcp) = remote_transport(answer, answered, index)?;
        let direction = offer
            .media_direction(offered)
            .intersect(declared_direction(answer, answered).reversed());
        streams.push(NegotiatedStream {
            index,
            local_port: offered.port(),
            remote_rtp,
            remote_rtcp,
            codec: first,
            codecs,
            telephone_event,
            direction,
            ptime: ptime(answer, answered),
        });
    }
    Ok(NegotiatedMedia { streams })
}
