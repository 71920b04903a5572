//! Our side of one SDP session (one dialog leg): the `o=` line and its version counter, the
//! last description we sent, and whether it is an offer still waiting for its answer.
//!
//! RFC 3264 §8: every description a party sends in a session keeps the `o=` username and
//! session id; the version grows by exactly one when the description differs from the previous
//! one sent, and stays the same when it does not (a session refresh). A re-offer must also keep
//! every previous `m=` line in place: [`LocalSession::create_offer`] puts the audio stream back
//! into the slot it had and re-sends the other slots disabled with port 0.

use crate::direction::Direction;
use crate::error::SdpError;
use crate::media::{MediaDescription, MediaKind};
use crate::origin::Origin;
use crate::session::SessionDescription;

use super::offer::{audio_offer, rejected};
use super::{
    build_answer, build_offer, negotiate_answer, reoffer_with_direction, Answer, LocalMedia,
    NegotiatedMedia, NegotiationError,
};

/// Our origin, version counter and last description for one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSession {
    origin: Origin,
    session_name: String,
    last: Option<SessionDescription>,
    pending_offer: bool,
}

impl LocalSession {
    /// A session whose first description will carry `origin` as given (its version included)
    /// and `s=<session_name>`.
    pub fn new(origin: Origin, session_name: &str) -> Result<Self, SdpError> {
        // Refuse now what could not be written later.
        SessionDescription::new(origin.clone(), session_name)?;
        Ok(LocalSession {
            origin,
            session_name: session_name.to_owned(),
            last: None,
            pending_offer: false,
        })
    }

    /// Our origin; its version is that of the last description sent (or the initial one).
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The last description we sent, offer or answer.
    pub fn last_sdp(&self) -> Option<&SessionDescription> {
        self.last.as_ref()
    }

    /// Whether the last description sent is an offer still waiting for its answer.
    pub fn has_pending_offer(&self) -> bool {
        self.pending_offer
    }

    /// An offer (initial or re-offer) of `local`. On a re-offer the audio stream keeps its
    /// previous `m=` slot, other previous streams are re-sent with port 0, and the version
    /// changes only if the description does.
    pub fn create_offer(
        &mut self,
        local: &LocalMedia,
    ) -> Result<SessionDescription, NegotiationError> {
        self.ensure_no_pending_offer()?;
        let mut sdp = build_offer(&self.origin, &self.session_name, local)?;
        if let Some(previous) = &self.last {
            sdp = aligned(sdp, audio_offer(local)?, previous)?;
        }
        self.pending_offer = true;
        Ok(self.stamp(sdp))
    }

    /// Our answer to the remote `offer`.
    pub fn create_answer(
        &mut self,
        offer: &SessionDescription,
        local: &LocalMedia,
    ) -> Result<Answer, NegotiationError> {
        self.ensure_no_pending_offer()?;
        let mut answer = build_answer(&self.origin, &self.session_name, offer, local)?;
        answer.sdp = self.stamp(answer.sdp);
        self.pending_offer = false;
        Ok(answer)
    }

    /// Processes the answer to our pending offer. The exchange is over afterwards, whether the
    /// answer was usable or not.
    pub fn process_answer(
        &mut self,
        answer: &SessionDescription,
    ) -> Result<NegotiatedMedia, NegotiationError> {
        let offer = match (&self.last, self.pending_offer) {
            (Some(offer), true) => offer,
            _ => return Err(NegotiationError::NoPendingOffer),
        };
        self.pending_offer = false;
        negotiate_answer(offer, answer)
    }

    /// Our pending offer will get no answer: the peer refused it (e.g. `488` or `491` to a
    /// re-INVITE) or the transaction failed. The previous session stays in force; the next
    /// description still counts its version from the refused one.
    pub fn offer_rejected(&mut self) {
        self.pending_offer = false;
    }

    /// A re-offer of the last description sent with every active stream set to `direction`.
    pub fn reoffer_with_direction(
        &mut self,
        direction: Direction,
    ) -> Result<SessionDescription, NegotiationError> {
        self.ensure_no_pending_offer()?;
        let previous = self.last.as_ref().ok_or(NegotiationError::NoPreviousSdp)?;
        let sdp = reoffer_with_direction(previous, direction);
        self.pending_offer = true;
        Ok(self.stamp(sdp))
    }

    /// A hold re-offer: `sendonly`.
    pub fn hold(&mut self) -> Result<SessionDescription, NegotiationError> {
        self.reoffer_with_direction(Direction::SendOnly)
    }

    /// A resume re-offer: `sendrecv`.
    pub fn resume(&mut self) -> Result<SessionDescription, NegotiationError> {
        self.reoffer_with_direction(Direction::SendRecv)
    }

    fn ensure_no_pending_offer(&self) -> Result<(), NegotiationError> {
        match self.pending_offer {
            true => Err(NegotiationError::OfferPending),
            false => Ok(()),
        }
    }

    /// Gives `sdp` the right version (same as the last one if unchanged, else one more) and
    /// records it as the last description sent.
    fn stamp(&mut self, mut sdp: SessionDescription) -> SessionDescription {
        if let Some(last) = &self.last {
            sdp.set_session_version(last.session_version());
            if sdp != *last {
                sdp.set_session_version(last.session_version().wrapping_add(1));
            }
        }
        self.origin.session_version = sdp.session_version();
        self.last = Some(sdp.clone());
        sdp
    }
}

/// `fresh` with its media replaced by `audio` in the slot the previous description used for
/// audio (or the first disabled slot, or a new one at the end) and every other previous slot
/// re-sent disabled.
fn aligned(
    fresh: SessionDescription,
    audio: MediaDescription,
    previous: &SessionDescription,
) -> Result<SessionDescription, NegotiationError> {
    let old = previous.media();
    let slot = old
        .iter()
        .position(|m| m.kind() == &MediaKind::Audio && !m.is_rejected() && m.is_rtp_avp())
        .or_else(|| old.iter().position(MediaDescription::is_rejected));
    let mut sdp = fresh;
    let mut media = Vec::with_capacity(old.len() + 1);
    for (index, m) in old.iter().enumerate() {
        media.push(match Some(index) == slot {
            true => audio.clone(),
            false => rejected(m)?,
        });
    }
    if slot.is_none() {
        media.push(audio);
    }
    sdp.set_media(media);
    Ok(sdp)
}
