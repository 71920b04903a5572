//! Announcement clips: short recorded or generated prompts (8 kHz linear PCM) that a
//! stream plays by itself (an IVR prompt before a caller joins a meeting) or that a
//! conference mixes on top of the talk ("this meeting is being recorded", entry and exit
//! tones).
//!
//! A [`Clip`] is shared, immutable audio (`Arc<[i16]>`): one prompt loaded once serves
//! every call that plays it, and starting it costs a reference count, not a copy.
//! [`ClipPlayer`] is the cursor that walks one clip 20 ms at a time.

use std::f64::consts::TAU;
use std::sync::Arc;

use thiserror::Error;

use crate::g711::{Codec, CLOCK_RATE, FRAME_SAMPLES};
use crate::g722::{Resampler, WIDE_FRAME};
use crate::tone::dbm0_to_amplitude;

/// Why a WAV file cannot be a clip.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WavError {
    /// Not RIFF/WAVE, or a chunk runs past the end.
    #[error("not a valid WAV file: {0}")]
    Malformed(&'static str),
    /// A format we do not play.
    #[error(
        "unsupported WAV format {format} ({channels} channel(s), {rate} Hz, {bits} bits): \
         use mono 16-bit PCM at 8 or 16 kHz, or mono G.711 at 8 kHz"
    )]
    Unsupported {
        /// The format tag (1 PCM, 6 A-law, 7 µ-law).
        format: u16,
        /// Channels.
        channels: u16,
        /// Sample rate.
        rate: u32,
        /// Bits per sample.
        bits: u16,
    },
}

/// Immutable 8 kHz mono linear PCM, cheap to clone.
#[derive(Clone, PartialEq, Eq)]
pub struct Clip(Arc<[i16]>);

impl Clip {
    /// A clip over 8 kHz samples.
    pub fn new(samples: Arc<[i16]>) -> Self {
        Clip(samples)
    }

    /// The samples.
    pub fn samples(&self) -> &[i16] {
        &self.0
    }

    /// Length in samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for a clip without samples (it finishes at once).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.0.len() as u64 * 1000 / CLOCK_RATE as u64
    }

    /// A sequence of sine notes `(Hz, ms)` at `level_dbm0`, each faded in and out over
    /// 5 ms so it does not click. A frequency of 0 is a pause.
    pub fn notes(notes: &[(f64, u32)], level_dbm0: f64) -> Self {
        let amp = dbm0_to_amplitude(level_dbm0);
        let ramp = 40usize; // 5 ms
        let mut v = Vec::new();
        for &(freq, ms) in notes {
            let n = ms as usize * CLOCK_RATE as usize / 1000;
            for i in 0..n {
                let edge = i.min(n - 1 - i).min(ramp) as f64 / ramp as f64;
                let s = if freq > 0.0 {
                    amp * edge * (TAU * freq * i as f64 / CLOCK_RATE as f64).sin()
                } else {
                    0.0
                };
                v.push(s.round() as i16);
            }
        }
        Clip(v.into())
    }

    /// Reads a WAV file: mono 16-bit PCM at 8 kHz (as is) or 16 kHz (filtered down to
    /// 8 kHz), or mono G.711 µ-law/A-law at 8 kHz. Anything else is refused with what it is.
    pub fn from_wav(bytes: &[u8]) -> Result<Self, WavError> {
        let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
            return Err(WavError::Malformed("no RIFF/WAVE header"));
        }
        let mut fmt = None;
        let mut pos = 12;
        while pos + 8 <= bytes.len() {
            let id = &bytes[pos..pos + 4];
            let size = u32_at(bytes, pos + 4) as usize;
            let body_start = pos + 8;
            // A recording cut short (never finished) has a zero or too-large data size: read
            // to the end of the file.
            let body_end = body_start.saturating_add(size).min(bytes.len());
            let body = &bytes[body_start..body_end];
            match id {
                b"fmt " if body.len() >= 16 => {
                    fmt = Some((
                        u16_at(body, 0),
                        u16_at(body, 2),
                        u32_at(body, 4),
                        u16_at(body, 14),
                    ))
                }
                b"data" => {
                    let body = if size == 0 {
                        &bytes[body_start..]
                    } else {
                        body
                    };
                    let (format, channels, rate, bits) =
                        fmt.ok_or(WavError::Malformed("data before fmt"))?;
                    return decode_wav(format, channels, rate, bits, body);
                }
                _ => {}
            }
            pos = body_start.saturating_add(size + (size & 1));
        }
        Err(WavError::Malformed("no data chunk"))
    }

    /// The entry tone a conference plays when someone joins: a soft rising two-note chime.
    pub fn entry_tone() -> Self {
        Self::notes(&[(660.0, 120), (880.0, 160)], -20.0)
    }

    /// The exit tone a conference plays when someone leaves: the same notes falling.
    pub fn exit_tone() -> Self {
        Self::notes(&[(880.0, 120), (660.0, 160)], -20.0)
    }
}

fn decode_wav(
    format: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    data: &[u8],
) -> Result<Clip, WavError> {
    let law = match format {
        6 => Some(Codec::Pcma),
        7 => Some(Codec::Pcmu),
        _ => None,
    };
    match (format, channels, rate, bits, law) {
        (_, 1, 8000, 8, Some(law)) => Ok(data
            .iter()
            .map(|&b| law.decode_sample(b))
            .collect::<Vec<_>>()
            .into()),
        (1, 1, 8000, 16, _) => Ok(pcm16(data).collect::<Vec<_>>().into()),
        (1, 1, 16000, 16, _) => {
            let mut down = Resampler::new();
            let mut wide = [0i16; WIDE_FRAME];
            let mut narrow = [0i16; WIDE_FRAME / 2];
            let samples: Vec<i16> = pcm16(data).collect();
            let mut out = Vec::with_capacity(samples.len() / 2);
            for chunk in samples.chunks(WIDE_FRAME) {
                wide.fill(0);
                wide[..chunk.len()].copy_from_slice(chunk);
                down.downsample(&wide, &mut narrow);
                out.extend_from_slice(&narrow[..chunk.len() / 2]);
            }
            Ok(out.into())
        }
        _ => Err(WavError::Unsupported {
            format,
            channels,
            rate,
            bits,
        }),
    }
}

fn pcm16(data: &[u8]) -> impl Iterator<Item = i16> + '_ {
    data.chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
}

impl From<Vec<i16>> for Clip {
    fn from(v: Vec<i16>) -> Self {
        Clip(v.into())
    }
}

impl std::fmt::Debug for Clip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clip({} ms)", self.duration_ms())
    }
}

/// A position in a clip, advanced one 20 ms frame at a time.
#[derive(Clone, Debug)]
pub struct ClipPlayer {
    clip: Clip,
    pos: usize,
}

impl ClipPlayer {
    /// Starts at the beginning.
    pub fn new(clip: Clip) -> Self {
        ClipPlayer { clip, pos: 0 }
    }

    /// Whether every sample has been played.
    pub fn finished(&self) -> bool {
        self.pos >= self.clip.len()
    }

    /// The next frame's samples (fewer than a frame at the end, none once finished), and
    /// advances past them.
    pub fn next_frame(&mut self) -> &[i16] {
        let start = self.pos.min(self.clip.len());
        let end = (start + FRAME_SAMPLES).min(self.clip.len());
        self.pos = end;
        &self.clip.samples()[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel;

    #[test]
    fn notes_have_their_frequency_and_length_and_the_player_walks_them() {
        let c = Clip::notes(&[(500.0, 100), (0.0, 20), (1000.0, 100)], -10.0);
        assert_eq!(c.len(), 1760);
        assert_eq!(c.duration_ms(), 220);
        let first = &c.samples()[100..700];
        assert!(goertzel(first, 500.0, 8000) > 0.8 * dbm0_to_amplitude(-10.0));
        assert!(goertzel(first, 1000.0, 8000) < 200.0);
        assert!(c.samples()[800..960].iter().all(|&s| s == 0));
        let mut p = ClipPlayer::new(c);
        let mut frames = 0;
        let mut total = 0;
        while !p.finished() {
            total += p.next_frame().len();
            frames += 1;
        }
        assert_eq!((frames, total), (11, 1760));
        assert!(p.next_frame().is_empty());
    }

    fn wav(format: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut v = b"RIFF\0\0\0\0WAVE".to_vec();
        v.extend_from_slice(b"LIST\x04\0\0\0INFO");
        v.extend_from_slice(b"fmt \x10\0\0\0");
        v.extend_from_slice(&format.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&(rate * bits as u32 / 8).to_le_bytes());
        v.extend_from_slice(&(bits / 8).to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn wav_files_of_the_usual_prompt_formats_become_clips() {
        let ulaw = wav(7, 8000, 8, &[0xFF, 0x80, 0x00]);
        let c = Clip::from_wav(&ulaw).unwrap();
        assert_eq!(c.samples(), &[0, 32124, -32124]);
        let alaw = wav(6, 8000, 8, &[0xD5]);
        assert_eq!(Clip::from_wav(&alaw).unwrap().samples(), &[8]);
        // 16 kHz speech is filtered down to 8 kHz: a 1 kHz tone stays a 1 kHz tone.
        let tone: Vec<u8> = (0..3200)
            .flat_map(|i| {
                ((8000.0 * (TAU * 1000.0 * i as f64 / 16000.0).sin()) as i16).to_le_bytes()
            })
            .collect();
        let c = Clip::from_wav(&wav(1, 16000, 16, &tone)).unwrap();
        assert_eq!(c.len(), 1600);
        assert!((goertzel(&c.samples()[200..], 1000.0, 8000) - 8000.0).abs() < 800.0);
        assert_eq!(
            Clip::from_wav(&wav(1, 44100, 16, &[0, 0])),
            Err(WavError::Unsupported {
                format: 1,
                channels: 1,
                rate: 44100,
                bits: 16
            })
        );
        assert!(matches!(
            Clip::from_wav(b"RIFF"),
            Err(WavError::Malformed(_))
        ));
        assert!(matches!(
            Clip::from_wav(&ulaw[..40]),
            Err(WavError::Malformed(_))
        ));
    }
}
