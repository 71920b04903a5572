//! G.711 (ITU-T G.711) µ-law and A-law: the codecs every SIP phone and PBX trunk speaks.
//!
//! Written here rather than taken from a crate: it is a few dozen lines of bit twiddling on
//! the hot path (encode per sample while playing tones, transcode per byte when the two legs
//! of a bridge chose different laws), and owning it keeps the relay allocation-free.
//! The algorithms are the classic reference ones (Sun's `g711.c` for A-law, the CCITT/Reese
//! µ-law encoder); decoding goes through 256-entry tables built at compile time.

/// RTP clock rate of G.711 (and of the telephone-event stream that goes with it), in Hz.
pub const CLOCK_RATE: u32 = 8000;
/// Samples in one 20 ms frame at 8 kHz: the packetisation every engine stream uses.
pub const FRAME_SAMPLES: usize = 160;
/// Duration of one frame in milliseconds.
pub const FRAME_MS: u64 = 20;

/// A G.711 law, as negotiated in SDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// µ-law (North America, Japan): static payload type 0.
    Pcmu,
    /// A-law (Europe and most of the rest): static payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type of RFC 3551 (0 for PCMU, 8 for PCMA).
    pub const fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec a static payload type stands for, if it is one of ours.
    pub const fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The encoding name used in SDP `a=rtpmap` ("PCMU" or "PCMA").
    pub const fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// RTP clock rate in Hz (always 8000 for G.711).
    pub const fn clock_rate(self) -> u32 {
        CLOCK_RATE
    }

    /// Encodes one linear 16-bit sample.
    #[inline]
    pub fn encode_sample(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => ulaw_encode(sample),
            Codec::Pcma => alaw_encode(sample),
        }
    }

    /// Decodes one G.711 byte to a linear 16-bit sample.
    #[inline]
    pub fn decode_sample(self, byte: u8) -> i16 {
        match self {
            Codec::Pcmu => ULAW_DECODE[byte as usize],
            Codec::Pcma => ALAW_DECODE[byte as usize],
        }
    }

    /// Encodes `pcm` into `out` (one byte per sample); `out` must be at least as long.
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) {
        match self {
            Codec::Pcmu => {
                for (o, &s) in out.iter_mut().zip(pcm) {
                    *o = ulaw_encode(s);
                }
            }
            Codec::Pcma => {
                for (o, &s) in out.iter_mut().zip(pcm) {
                    *o = alaw_encode(s);
                }
            }
        }
    }

    /// Decodes `payload` into `out` (one sample per byte); `out` must be at least as long.
    pub fn decode(self, payload: &[u8], out: &mut [i16]) {
        let table = match self {
            Codec::Pcmu => &ULAW_DECODE,
            Codec::Pcma => &ALAW_DECODE,
        };
        for (o, &b) in out.iter_mut().zip(payload) {
            *o = table[b as usize];
        }
    }

    /// The byte that encodes digital silence (0xFF for µ-law, 0xD5 for A-law).
    pub const fn silence_byte(self) -> u8 {
        match self {
            Codec::Pcmu => 0xFF,
            Codec::Pcma => 0xD5,
        }
    }

    /// Re-encodes one byte of this law into `to` (as decoding then encoding would, through
    /// a 256-entry table).
    #[inline]
    pub fn transcode_byte(self, byte: u8, to: Codec) -> u8 {
        match (self, to) {
            (Codec::Pcmu, Codec::Pcma) => ULAW_TO_ALAW[byte as usize],
            (Codec::Pcma, Codec::Pcmu) => ALAW_TO_ULAW[byte as usize],
            _ => byte,
        }
    }
}

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;

/// Encodes a linear sample to µ-law (sign-magnitude with the 0x84 bias, as in the CCITT code).
#[inline]
pub const fn ulaw_encode(sample: i16) -> u8 {
    let mut pcm = sample as i32;
    let sign = if pcm < 0 {
        pcm = -pcm;
        0x80
    } else {
        0
    };
    if pcm > ULAW_CLIP {
        pcm = ULAW_CLIP;
    }
    pcm += ULAW_BIAS;
    // pcm is in [0x84, 0x7FFF]: its top bit is between bit 7 and bit 14, giving exponent 0..=7.
    let exponent = 24 - (pcm as u32).leading_zeros() as i32;
    let mantissa = (pcm >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// Decodes a µ-law byte.
#[inline]
pub fn ulaw_decode(byte: u8) -> i16 {
    ULAW_DECODE[byte as usize]
}

const fn ulaw_decode_slow(byte: u8) -> i16 {
    let u = !byte;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    let t = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if u & 0x80 != 0 {
        -t as i16
    } else {
        t as i16
    }
}

/// Encodes a linear sample to A-law (13-bit magnitude, even bits inverted with 0x55).
#[inline]
pub const fn alaw_encode(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 3;
    let mask = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    // pcm is in [0, 4095]; segment = bit length - 5, floored at 0.
    let bits = 32 - (pcm as u32).leading_zeros() as i32;
    let seg = if bits > 5 { bits - 5 } else { 0 };
    let mantissa = if seg < 2 {
        (pcm >> 1) & 0x0F
    } else {
        (pcm >> seg) & 0x0F
    };
    (((seg << 4) | mantissa) as u8) ^ mask
}

/// Decodes an A-law byte.
#[inline]
pub fn alaw_decode(byte: u8) -> i16 {
    ALAW_DECODE[byte as usize]
}

const fn alaw_decode_slow(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    t = match seg {
        0 => t + 8,
        1 => t + 0x108,
        _ => (t + 0x108) << (seg - 1),
    };
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn build_table(alaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if alaw {
            alaw_decode_slow(i as u8)
        } else {
            ulaw_decode_slow(i as u8)
        };
        i += 1;
    }
    t
}

static ULAW_DECODE: [i16; 256] = build_table(false);
static ALAW_DECODE: [i16; 256] = build_table(true);

const fn build_transcode(from_alaw: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if from_alaw {
            ulaw_encode(alaw_decode_slow(i as u8))
        } else {
            alaw_encode(ulaw_decode_slow(i as u8))
        };
        i += 1;
    }
    t
}

static ULAW_TO_ALAW: [u8; 256] = build_transcode(false);
static ALAW_TO_ULAW: [u8; 256] = build_transcode(true);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_types_and_names_follow_rfc3551() {
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::Pcmu.name(), "PCMU");
        assert_eq!(Codec::Pcma.name(), "PCMA");
        assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_payload_type(101), None);
        assert_eq!(Codec::Pcmu.clock_rate(), 8000);
    }

    #[test]
    fn ulaw_matches_reference_values() {
        // Values of the standard µ-law decode table.
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_decode(0x01), -31100);
        assert_eq!(ulaw_decode(0x10), -15996);
        assert_eq!(ulaw_decode(0x7E), -8);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0xFE), 8);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_encode(8), 0xFE);
        assert_eq!(ulaw_encode(-8), 0x7E);
    }

    #[test]
    fn alaw_matches_reference_values() {
        // First entries of the standard A-law decode table, and the extremes.
        let head = [-5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736];
        for (i, v) in head.iter().enumerate() {
            assert_eq!(alaw_decode(i as u8), *v, "code {i:#04x}");
        }
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    /// The G.711 digital milliwatt: a 1 kHz sine at 0 dBm0 defined by eight code words.
    #[test]
    fn digital_milliwatt_decodes_to_the_expected_sine() {
        let ulaw = [0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E];
        let alaw = [0x34, 0x21, 0x21, 0x34, 0xB4, 0xA1, 0xA1, 0xB4];
        for (codec, words) in [(Codec::Pcmu, ulaw), (Codec::Pcma, alaw)] {
            let mut pcm = [0i16; 8];
            codec.decode(&words, &mut pcm);
            // sin(22.5°) : sin(67.5°) = 0.414
            let ratio = pcm[0] as f64 / pcm[1] as f64;
            assert!((ratio - 0.414).abs() < 0.02, "{codec:?} ratio {ratio}");
            assert!(pcm[0] < 0 && pcm[4] == -pcm[0], "{codec:?} {pcm:?}");
            let peak = pcm[1].unsigned_abs() as f64 / (67.5f64).to_radians().sin();
            assert!((peak - 22_600.0).abs() < 400.0, "{codec:?} peak {peak}");
        }
    }

    #[test]
    fn every_code_round_trips_through_linear() {
        for code in 0..=255u8 {
            // µ-law has two zeros (0x7F and 0xFF); the encoder picks positive zero.
            let want = if code == 0x7F { 0xFF } else { code };
            assert_eq!(ulaw_encode(ulaw_decode(code)), want, "µ-law {code:#04x}");
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
        }
    }

    #[test]
    fn quantisation_error_is_at_most_half_a_step_for_every_sample() {
        for x in i16::MIN..=i16::MAX {
            let u = ulaw_encode(x);
            let exponent = ((!u >> 4) & 7) as i32;
            if (x as i32).abs() <= ULAW_CLIP {
                let err = (ulaw_decode(u) as i32 - x as i32).abs();
                assert!(err <= 4 << exponent, "µ-law x={x} err={err}");
            }
            let a = alaw_encode(x);
            let seg = (((a ^ 0x55) >> 4) & 7) as i32;
            let err = (alaw_decode(a) as i32 - x as i32).abs();
            assert!(err <= 8 << (seg - 1).max(0), "A-law x={x} err={err}");
        }
    }

    #[test]
    fn decoding_is_monotonic_in_the_input() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut prev = i16::MIN;
            for x in (i16::MIN..=i16::MAX).step_by(7) {
                let y = codec.decode_sample(codec.encode_sample(x));
                assert!(y >= prev, "{codec:?} not monotonic at {x}");
                prev = y;
            }
        }
    }

    #[test]
    fn transcoding_tables_match_decode_then_encode() {
        for b in 0..=255u8 {
            assert_eq!(
                Codec::Pcmu.transcode_byte(b, Codec::Pcma),
                alaw_encode(ulaw_decode(b))
            );
            assert_eq!(
                Codec::Pcma.transcode_byte(b, Codec::Pcmu),
                ulaw_encode(alaw_decode(b))
            );
            assert_eq!(Codec::Pcma.transcode_byte(b, Codec::Pcma), b);
        }
    }

    #[test]
    fn silence_bytes_decode_to_near_zero_and_transcoding_preserves_them() {
        assert_eq!(Codec::Pcmu.decode_sample(Codec::Pcmu.silence_byte()), 0);
        assert!(Codec::Pcma.decode_sample(Codec::Pcma.silence_byte()).abs() <= 8);
        assert_eq!(
            Codec::Pcmu.transcode_byte(Codec::Pcmu.silence_byte(), Codec::Pcma),
            Codec::Pcma.silence_byte()
        );
    }
}
