//! The audio codecs an engine stream can negotiate: G.711 µ-law and A-law, and G.722.
//!
//! [`Codec`] names only the two G.711 laws, which is all a relayed call
//! may use: the relay between two phones re-encodes byte for byte between the laws and
//! nothing else, so both phones must speak G.711. A stream that ends in the engine itself
//! (a meeting participant, an IVR caller) may also speak G.722; [`AudioCodec`] names all
//! three, for [`RemoteMedia`](crate::RemoteMedia), the stream's playout and the mixer.
//!
//! All three use an 8 kHz RTP clock and one byte per timestamp unit (RFC 3551 §4.5.2 for
//! G.722, whose audio is sampled at 16 kHz), so a 20 ms frame is 160 bytes and 160
//! timestamp units whatever the codec.

use crate::g711::Codec;

/// An audio codec of an engine stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// G.722 at 64 kbit/s (16 kHz audio; RTP clock 8 kHz, RFC 3551 §4.5.2).
    G722,
}

impl AudioCodec {
    /// The static RTP payload type (0, 8, 9).
    pub const fn payload_type(self) -> u8 {
        match self {
            AudioCodec::Pcmu => 0,
            AudioCodec::Pcma => 8,
            AudioCodec::G722 => 9,
        }
    }

    /// The codec a static payload type stands for, if it is one of ours.
    pub const fn from_payload_type(pt: u8) -> Option<AudioCodec> {
        match pt {
            0 => Some(AudioCodec::Pcmu),
            8 => Some(AudioCodec::Pcma),
            9 => Some(AudioCodec::G722),
            _ => None,
        }
    }

    /// The encoding name used in SDP `a=rtpmap` ("PCMU", "PCMA", "G722").
    pub const fn name(self) -> &'static str {
        match self {
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
            AudioCodec::G722 => "G722",
        }
    }

    /// The G.711 law, or None for G.722.
    pub const fn g711(self) -> Option<Codec> {
        match self {
            AudioCodec::Pcmu => Some(Codec::Pcmu),
            AudioCodec::Pcma => Some(Codec::Pcma),
            AudioCodec::G722 => None,
        }
    }

    /// Whether the audio is 16 kHz wideband (G.722).
    pub const fn is_wideband(self) -> bool {
        matches!(self, AudioCodec::G722)
    }

    /// A byte that decodes to (near) silence: the G.711 silence code, or for G.722 the
    /// lowest-magnitude codeword, which decodes to near-silence once the ADPCM state has
    /// settled (G.722 has no stateless silence byte).
    pub const fn silence_byte(self) -> u8 {
        match self {
            AudioCodec::Pcmu => Codec::Pcmu.silence_byte(),
            AudioCodec::Pcma => Codec::Pcma.silence_byte(),
            AudioCodec::G722 => 0xFF,
        }
    }
}

impl From<Codec> for AudioCodec {
    fn from(c: Codec) -> Self {
        match c {
            Codec::Pcmu => AudioCodec::Pcmu,
            Codec::Pcma => AudioCodec::Pcma,
        }
    }
}

impl PartialEq<Codec> for AudioCodec {
    fn eq(&self, other: &Codec) -> bool {
        self.g711() == Some(*other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_types_names_and_laws_follow_rfc3551() {
        for c in [AudioCodec::Pcmu, AudioCodec::Pcma, AudioCodec::G722] {
            assert_eq!(AudioCodec::from_payload_type(c.payload_type()), Some(c));
        }
        assert_eq!(AudioCodec::from_payload_type(101), None);
        assert_eq!(AudioCodec::G722.name(), "G722");
        assert_eq!(AudioCodec::from(Codec::Pcma), AudioCodec::Pcma);
        assert_eq!(AudioCodec::Pcmu, Codec::Pcmu);
        assert!(AudioCodec::G722 != Codec::Pcmu && AudioCodec::G722.g711().is_none());
        assert!(AudioCodec::G722.is_wideband() && !AudioCodec::Pcma.is_wideband());
        assert_eq!(AudioCodec::Pcma.silence_byte(), 0xD5);
    }
}
