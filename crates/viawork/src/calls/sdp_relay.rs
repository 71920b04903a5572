//! SDP that ViaWork passes from one leg to the other (RFC 3725 §4.1: the controller
//! presents one session to each party). Each leg sees a single origin, ViaWork's, whose
//! version grows by one with every description ViaWork sends on it (RFC 3264 §8), whoever
//! wrote the rest of the description; and ViaWork's own media (ringback, the relay) is
//! described from [`sdp::LocalMedia`].

use bytes::Bytes;
use sdp::{LocalMedia, Origin, SessionDescription};
use std::net::IpAddr;

/// ViaWork's session toward one leg.
#[derive(Debug, Clone)]
pub struct LegSession {
    origin: Origin,
    sent_any: bool,
    /// Our own media for this leg (the engine's stream), for offers and answers we write.
    pub local: LocalMedia,
    last_sent: Option<Bytes>,
}

impl LegSession {
    /// A session with a random id, for media at `local`.
    pub fn new(local: LocalMedia) -> LegSession {
        let id = rand::random::<u32>() as u64;
        LegSession {
            origin: Origin::new("viawork", id, id, local.address),
            sent_any: false,
            local,
            last_sent: None,
        }
    }

    /// Moves our media for this leg to `local` (a new engine stream), keeping the origin:
    /// the next description is a new version of the same session (RFC 3264 §8).
    pub fn set_local(&mut self, local: LocalMedia) {
        self.local = local;
    }

    fn next_origin(&mut self) -> Origin {
        if self.sent_any {
            self.origin.session_version += 1;
        }
        self.sent_any = true;
        self.origin.clone()
    }

    /// Our own offer of the engine's media.
    pub fn own_offer(&mut self) -> Bytes {
        let origin = self.next_origin();
        let text = sdp::offer_answer::build_offer(&origin, "ViaWork", &self.local)
            .map(|s| s.to_string())
            .unwrap_or_default();
        self.remember(Bytes::from(text))
    }

    /// Our own answer to `offer` from the engine's media, or `None` if nothing in it is
    /// acceptable.
    pub fn own_answer(&mut self, offer: &[u8]) -> Option<Bytes> {
        let offer = SessionDescription::parse(std::str::from_utf8(offer).ok()?).ok()?;
        let mut origin = self.origin.clone();
        if self.sent_any {
            origin.session_version += 1;
        }
        let answer =
            sdp::offer_answer::build_answer(&origin, "ViaWork", &offer, &self.local).ok()?;
        self.origin = origin;
        self.sent_any = true;
        Some(self.remember(Bytes::from(answer.sdp.to_string())))
    }

    /// The other party's description, re-issued under our origin.
    pub fn relay(&mut self, from_other_leg: &[u8]) -> Option<Bytes> {
        let mut sdp = SessionDescription::parse(std::str::from_utf8(from_other_leg).ok()?).ok()?;
        let origin = self.next_origin();
        sdp.set_origin(origin).ok()?;
        Some(self.remember(Bytes::from(sdp.to_string())))
    }

    /// The other party's description with every stream set to `direction`, under our
    /// origin: how ViaWork holds (`inactive`) or mutes (`sendonly` toward the phone that
    /// must stop sending) a phone without touching its media.
    pub fn relay_with_direction(
        &mut self,
        from_other_leg: &[u8],
        direction: sdp::Direction,
    ) -> Option<Bytes> {
        let mut sdp = SessionDescription::parse(std::str::from_utf8(from_other_leg).ok()?).ok()?;
        for m in sdp.media_mut() {
            if !m.is_rejected() {
                m.set_direction(direction);
            }
        }
        let origin = self.next_origin();
        sdp.set_origin(origin).ok()?;
        Some(self.remember(Bytes::from(sdp.to_string())))
    }

    /// The last description sent, to repeat as the offer in a 2xx to an offerless
    /// re-INVITE.
    pub fn last_sent(&self) -> Option<Bytes> {
        self.last_sent.clone()
    }

    fn remember(&mut self, b: Bytes) -> Bytes {
        self.last_sent = Some(b.clone());
        b
    }
}

/// The media address and port an SDP body points at, and its first audio payload type.
pub fn media_target(body: &[u8]) -> Option<(std::net::SocketAddr, Option<u8>)> {
    let sdp = SessionDescription::parse(std::str::from_utf8(body).ok()?).ok()?;
    let m = sdp.media().iter().find(|m| !m.is_rejected())?;
    let ip: IpAddr = sdp.media_connection(m)?.ip()?;
    let target = (
        std::net::SocketAddr::new(ip, m.port()),
        m.payload_types().next(),
    );
    Some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(port: u16) -> LocalMedia {
        LocalMedia::new(IpAddr::from([127, 0, 0, 1]), port)
    }

    #[test]
    fn relayed_sdp_carries_our_origin_with_growing_versions() {
        let mut s = LegSession::new(local(20000));
        let first = s.own_offer();
        let first = SessionDescription::parse(std::str::from_utf8(&first).unwrap()).unwrap();
        let mut phone = LegSession::new(local(30000));
        let theirs = phone.own_offer();
        let relayed = s.relay(&theirs).unwrap();
        let relayed = SessionDescription::parse(std::str::from_utf8(&relayed).unwrap()).unwrap();
        assert!(relayed.origin().is_same_session(first.origin()));
        assert_eq!(
            relayed.origin().session_version,
            first.origin().session_version + 1
        );
        // The media is the other party's.
        assert_eq!(relayed.media()[0].port(), 30000);
        assert_eq!(
            media_target(relayed.to_string().as_bytes())
                .unwrap()
                .0
                .port(),
            30000
        );
    }

    #[test]
    fn own_answer_accepts_a_g711_offer_and_refuses_garbage() {
        let mut phone = LegSession::new(local(30000));
        let offer = phone.own_offer();
        let mut s = LegSession::new(local(20000));
        let answer = s.own_answer(&offer).unwrap();
        assert_eq!(media_target(&answer).unwrap().0.port(), 20000);
        assert!(s.own_answer(b"not sdp").is_none());
    }
}
