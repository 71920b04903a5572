//! G.722 (ITU-T G.722, 64 kbit/s sub-band ADPCM, 16 kHz audio) for conference participants,
//! and the 2:1 resampler that connects it to the 8 kHz mix.
//!
//! The codec itself comes from the `audio-codec` crate (pure Rust, MIT): its G.722 encodes
//! and decodes into caller buffers without allocating, which the mixer's tick needs, and
//! without its default features it pulls in nothing else (no G.729, no Opus). What is ours
//! is the frame-shaped wrapper (20 ms = 320 samples = 160 bytes) and [`Resampler`].
//!
//! RTP carries G.722 with an 8 kHz clock (RFC 3551 §4.5.2, a historical error kept for
//! compatibility): one byte per timestamp unit, like G.711, so the jitter buffer treats all
//! three codecs alike.

use std::f64::consts::PI;
use std::fmt;
use std::sync::OnceLock;

use audio_codec::{Decoder as _, Encoder as _};

/// 16 kHz samples in a 20 ms frame.
pub const WIDE_FRAME: usize = 320;
/// Bytes in a 20 ms frame at 64 kbit/s.
pub const FRAME_BYTES: usize = 160;

/// A G.722 encoder (its ADPCM state runs across frames: one per outgoing stream).
pub struct G722Encoder(audio_codec::g722::G722Encoder);

impl G722Encoder {
    /// A fresh encoder at 64 kbit/s.
    pub fn new() -> Self {
        G722Encoder(audio_codec::g722::G722Encoder::new())
    }

    /// Encodes 320 samples at 16 kHz into 160 bytes.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8; FRAME_BYTES]) {
        let n = pcm.len().min(WIDE_FRAME) & !1;
        if self.0.encode_into(&pcm[..n], out).is_err() {
            // Cannot happen with these sizes; send silence rather than garbage.
            out.fill(0xFF);
        }
    }
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for G722Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("G722Encoder")
    }
}

/// A G.722 decoder (state across frames: one per incoming stream).
pub struct G722Decoder(audio_codec::g722::G722Decoder);

impl G722Decoder {
    /// A fresh decoder at 64 kbit/s.
    pub fn new() -> Self {
        G722Decoder(audio_codec::g722::G722Decoder::new())
    }

    /// Decodes up to 160 bytes into `out` (two 16 kHz samples per byte); the rest of `out`
    /// is zeroed.
    pub fn decode(&mut self, payload: &[u8], out: &mut [i16; WIDE_FRAME]) {
        let payload = &payload[..payload.len().min(FRAME_BYTES)];
        let n = self.0.decode_into(payload, out).unwrap_or(0);
        out[n..].fill(0);
    }
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for G722Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("G722Decoder")
    }
}

/// Taps of the low-pass filter (odd: symmetric around a centre tap).
const TAPS: usize = 47;

/// A windowed-sinc low-pass at 3.7 kHz for a 16 kHz rate (Hamming window), shared:
/// flat to 3 kHz, better than 50 dB down from 4.3 kHz. Symmetric, so it needs no reversal.
fn coefficients() -> &'static [f32; TAPS] {
    static COEFFS: OnceLock<[f32; TAPS]> = OnceLock::new();
    COEFFS.get_or_init(|| {
        let cutoff = 3700.0 / 16000.0;
        let mid = (TAPS - 1) as f64 / 2.0;
        let mut h = [0f64; TAPS];
        for (i, c) in h.iter_mut().enumerate() {
            let x = i as f64 - mid;
            let sinc = if x == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * PI * cutoff * x).sin() / (PI * x)
            };
            let w = 0.54 - 0.46 * (2.0 * PI * i as f64 / (TAPS - 1) as f64).cos();
            *c = sinc * w;
        }
        let sum: f64 = h.iter().sum();
        h.map(|c| (c / sum) as f32)
    })
}

const HISTORY: usize = TAPS - 1;

/// Halves or doubles the sample rate between 16 kHz and 8 kHz through a 47-tap low-pass
/// (3.7 kHz), with its history carried across frames so frame edges do not click. Use one
/// per direction. The filter runs in f32 over a contiguous window, which the compiler
/// vectorises: a few microseconds a frame.
#[derive(Clone)]
pub struct Resampler {
    /// The last `TAPS - 1` input samples at 16 kHz, then room for a frame.
    buf: [f32; HISTORY + WIDE_FRAME],
}

impl fmt::Debug for Resampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resampler")
    }
}

impl Default for Resampler {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn to_i16(y: f32) -> i16 {
    // `as` saturates for floats.
    y.round() as i16
}

impl Resampler {
    /// A resampler with silent history.
    pub fn new() -> Self {
        Resampler {
            buf: [0.0; HISTORY + WIDE_FRAME],
        }
    }

    /// The filter's output at 16 kHz position `i` of the current frame.
    #[inline]
    fn at(&self, i: usize) -> f32 {
        let h = coefficients();
        self.buf[i..i + TAPS]
            .iter()
            .zip(h)
            .map(|(x, c)| x * c)
            .sum()
    }

    /// Moves the frame's tail into the history.
    fn shift(&mut self) {
        self.buf.copy_within(WIDE_FRAME.., 0);
    }

    /// 16 kHz → 8 kHz: low-pass, keep every other sample.
    pub fn downsample(&mut self, input: &[i16; WIDE_FRAME], out: &mut [i16; WIDE_FRAME / 2]) {
        for (b, &s) in self.buf[HISTORY..].iter_mut().zip(input) {
            *b = s as f32;
        }
        for (m, o) in out.iter_mut().enumerate() {
            *o = to_i16(self.at(2 * m + 1));
        }
        self.shift();
    }

    /// 8 kHz → 16 kHz: insert zeros between samples and low-pass (with gain 2 to keep the
    /// level).
    pub fn upsample(&mut self, input: &[i16; WIDE_FRAME / 2], out: &mut [i16; WIDE_FRAME]) {
        for (pair, &s) in self.buf[HISTORY..].chunks_exact_mut(2).zip(input) {
            pair[0] = 2.0 * s as f32;
            pair[1] = 0.0;
        }
        for (i, o) in out.iter_mut().enumerate() {
            *o = to_i16(self.at(i));
        }
        self.shift();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel;
    use std::f64::consts::TAU;

    fn sine(freq: f64, amp: f64, rate: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (TAU * freq * i as f64 / rate).sin()) as i16)
            .collect()
    }

    #[test]
    fn a_round_trip_keeps_frequency_and_level_across_the_wideband() {
        for freq in [300.0, 1000.0, 3000.0, 6000.0] {
            let x = sine(freq, 8000.0, 16000.0, 16 * WIDE_FRAME);
            let (mut enc, mut dec) = (G722Encoder::new(), G722Decoder::new());
            let mut y = Vec::new();
            for frame in x.chunks(WIDE_FRAME) {
                let mut bytes = [0u8; FRAME_BYTES];
                enc.encode(frame, &mut bytes);
                let mut pcm = [0i16; WIDE_FRAME];
                dec.decode(&bytes, &mut pcm);
                y.extend_from_slice(&pcm);
            }
            // Skip the adaptation at the start.
            let tail = &y[4 * WIDE_FRAME..];
            let level = goertzel(tail, freq, 16000);
            assert!(
                (level - 8000.0).abs() < 1200.0,
                "{freq} Hz came back at {level:.0}"
            );
            let other = goertzel(tail, freq * 1.37, 16000);
            assert!(other < 400.0, "{freq} Hz leaks {other:.0}");
        }
        // Silence stays (near) silent.
        let (mut enc, mut dec) = (G722Encoder::new(), G722Decoder::new());
        let mut bytes = [0u8; FRAME_BYTES];
        let mut pcm = [0i16; WIDE_FRAME];
        for _ in 0..5 {
            enc.encode(&[0; WIDE_FRAME], &mut bytes);
            dec.decode(&bytes, &mut pcm);
        }
        assert!(pcm.iter().all(|s| s.abs() < 50), "{:?}", &pcm[..8]);
    }

    #[test]
    fn resampling_keeps_the_narrowband_and_removes_the_upper_band() {
        let (mut down, mut up) = (Resampler::new(), Resampler::new());
        for (freq, passes) in [(1000.0, true), (3000.0, true), (6000.0, false)] {
            let x = sine(freq, 10_000.0, 16000.0, 10 * WIDE_FRAME);
            let mut narrow = Vec::new();
            for frame in x.chunks(WIDE_FRAME) {
                let mut out = [0i16; WIDE_FRAME / 2];
                down.downsample(frame.try_into().unwrap(), &mut out);
                narrow.extend_from_slice(&out);
            }
            let tail = &narrow[160..];
            if passes {
                let level = goertzel(tail, freq, 8000);
                assert!((level - 10_000.0).abs() < 1000.0, "{freq}: {level:.0}");
            } else {
                // 6 kHz would alias to 2 kHz without the filter.
                let alias = goertzel(tail, 2000.0, 8000);
                assert!(alias < 300.0, "alias {alias:.0}");
            }
        }
        let x = sine(1000.0, 10_000.0, 8000.0, 10 * 160);
        let mut wide = Vec::new();
        for frame in x.chunks(160) {
            let mut out = [0i16; WIDE_FRAME];
            up.upsample(frame.try_into().unwrap(), &mut out);
            wide.extend_from_slice(&out);
        }
        let tail = &wide[320..];
        let level = goertzel(tail, 1000.0, 16000);
        assert!((level - 10_000.0).abs() < 1000.0, "{level:.0}");
        // The image at 8 kHz - 1 kHz is filtered out.
        assert!(goertzel(tail, 7000.0, 16000) < 300.0);
    }
}
