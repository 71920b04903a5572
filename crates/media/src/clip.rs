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

use crate::g711::{CLOCK_RATE, FRAME_SAMPLES};
use crate::tone::dbm0_to_amplitude;

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

    /// The entry tone a conference plays when someone joins: a soft rising two-note chime.
    pub fn entry_tone() -> Self {
        Self::notes(&[(660.0, 120), (880.0, 160)], -20.0)
    }

    /// The exit tone a conference plays when someone leaves: the same notes falling.
    pub fn exit_tone() -> Self {
        Self::notes(&[(880.0, 120), (660.0, 160)], -20.0)
    }
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
}
