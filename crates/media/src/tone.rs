//! Call-progress tones (ringback, busy) with national cadences, and a gentle "hold music"
//! melody, generated as 20 ms frames of 8 kHz linear audio.
//!
//! Frequencies and cadences follow ITU-T E.180 Supplement 2 ("Various tones used in national
//! networks") and the national specifications it summarises (ANSI T1.401 for North America,
//! BT SIN 350 for the UK, ETSI TR 101 041 / CEPT for the common European tones). Oscillators
//! run on across frames and across the off periods, so the waveform is phase-continuous;
//! each burst is faded in and out over 2 ms to avoid clicks. We ship no recorded audio, so
//! the hold "music" is a few soft sine notes.

use std::f64::consts::TAU;

use crate::g711::{CLOCK_RATE, FRAME_SAMPLES};

/// Peak amplitude of a sine at 0 dBm0 in 16-bit linear PCM: the G.711 digital milliwatt
/// decodes to a 1 kHz sine of this peak (G.711 overload is +3.17 dBm0).
pub const DBM0_PEAK: f64 = 22_578.0;

/// Converts a level in dBm0 to a peak amplitude in 16-bit linear units.
pub fn dbm0_to_amplitude(dbm0: f64) -> f64 {
    DBM0_PEAK * 10f64.powf(dbm0 / 20.0)
}

/// Samples per millisecond at 8 kHz.
const SAMPLES_PER_MS: u64 = (CLOCK_RATE / 1000) as u64;
/// Fade-in/out length of each burst: 2 ms.
const RAMP: u64 = 16;

/// What to play.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ToneKind {
    /// Ringback ("ringing tone"): the far end is being alerted.
    Ringback,
    /// Busy tone.
    Busy,
    /// A soft repeating melody for calls on hold.
    HoldMusic,
}

/// Whose national tones to play.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Region {
    /// North America (ANSI T1.401 "precise tones").
    #[default]
    Us,
    /// United Kingdom (BT SIN 350).
    Uk,
    /// The common European tones of ETSI TR 101 041 / CEPT (425 Hz).
    Eu,
    /// Russian Federation.
    Ru,
    /// Germany (425 Hz, busy 480 ms on / 480 ms off).
    De,
    /// France (440 Hz).
    Fr,
}

/// A cadenced tone: frequencies played together, their level, and on/off periods.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToneSpec {
    /// One or two frequencies in Hz, summed.
    pub freqs: &'static [f64],
    /// Level of each frequency in dBm0.
    pub level_dbm0: f64,
    /// Repeating (on ms, off ms) pairs.
    pub cadence: &'static [(u32, u32)],
}

impl ToneSpec {
    /// Length of one cadence cycle in samples.
    pub fn cycle_samples(&self) -> u64 {
        self.cadence
            .iter()
            .map(|&(on, off)| (on + off) as u64 * SAMPLES_PER_MS)
            .sum()
    }

    /// Whether sample `n` (counted from the start of the tone) falls in an on period.
    pub fn is_on(&self, n: u64) -> bool {
        self.position(n).0
    }

    /// (on?, samples since the burst started, burst length) at sample `n`.
    fn position(&self, n: u64) -> (bool, u64, u64) {
        let mut pos = n % self.cycle_samples().max(1);
        for &(on, off) in self.cadence {
            let (on, off) = (on as u64 * SAMPLES_PER_MS, off as u64 * SAMPLES_PER_MS);
            if pos < on {
                return (true, pos, on);
            }
            pos -= on;
            if pos < off {
                return (false, 0, 0);
            }
            pos -= off;
        }
        (false, 0, 0)
    }
}

impl Region {
    /// Every region, for tests and configuration listings.
    pub const ALL: [Region; 6] = [
        Region::Us,
        Region::Uk,
        Region::Eu,
        Region::Ru,
        Region::De,
        Region::Fr,
    ];

    /// The ringback tone of this region.
    pub fn ringback(self) -> ToneSpec {
        match self {
            Region::Us => ToneSpec {
                freqs: &[440.0, 480.0],
                level_dbm0: -19.0,
                cadence: &[(2000, 4000)],
            },
            Region::Uk => ToneSpec {
                freqs: &[400.0, 450.0],
                level_dbm0: -19.0,
                cadence: &[(400, 200), (400, 2000)],
            },
            Region::Eu | Region::De => ToneSpec {
                freqs: &[425.0],
                level_dbm0: -13.0,
                cadence: &[(1000, 4000)],
            },
            Region::Ru => ToneSpec {
                freqs: &[425.0],
                level_dbm0: -13.0,
                cadence: &[(800, 3200)],
            },
            Region::Fr => ToneSpec {
                freqs: &[440.0],
                level_dbm0: -13.0,
                cadence: &[(1500, 3500)],
            },
        }
    }

    /// The busy tone of this region.
    pub fn busy(self) -> ToneSpec {
        match self {
            Region::Us => ToneSpec {
                freqs: &[480.0, 620.0],
                level_dbm0: -24.0,
                cadence: &[(500, 500)],
            },
            Region::Uk => ToneSpec {
                freqs: &[400.0],
                level_dbm0: -13.0,
                cadence: &[(375, 375)],
            },
            Region::Eu => ToneSpec {
                freqs: &[425.0],
                level_dbm0: -13.0,
                cadence: &[(500, 500)],
            },
            Region::Ru => ToneSpec {
                freqs: &[425.0],
                level_dbm0: -13.0,
                cadence: &[(400, 400)],
            },
            Region::De => ToneSpec {
                freqs: &[425.0],
                level_dbm0: -13.0,
                cadence: &[(480, 480)],
            },
            Region::Fr => ToneSpec {
                freqs: &[440.0],
                level_dbm0: -13.0,
                cadence: &[(500, 500)],
            },
        }
    }
}

/// The hold melody: (frequency Hz, duration ms), a pentatonic phrase in C.
pub const HOLD_MELODY: [(f64, u32); 8] = [
    (523.25, 400), // C5
    (659.26, 400), // E5
    (783.99, 400), // G5
    (659.26, 400), // E5
    (880.00, 400), // A5
    (783.99, 400), // G5
    (659.26, 400), // E5
    (587.33, 800), // D5, held
];
const HOLD_LEVEL_DBM0: f64 = -18.0;

#[derive(Clone, Debug)]
enum Program {
    Cadence { spec: ToneSpec, amplitude: f64 },
    Melody { amplitude: f64 },
}

/// Generates a tone frame by frame, phase-continuously.
#[derive(Clone, Debug)]
pub struct ToneGenerator {
    program: Program,
    /// Samples generated so far.
    n: u64,
    /// Oscillator phases in cycles, [0, 1).
    phases: [f64; 2],
}

impl ToneGenerator {
    /// A generator for `kind` with the cadences of `region`.
    pub fn new(kind: ToneKind, region: Region) -> Self {
        match kind {
            ToneKind::Ringback => Self::from_spec(region.ringback()),
            ToneKind::Busy => Self::from_spec(region.busy()),
            ToneKind::HoldMusic => ToneGenerator {
                program: Program::Melody {
                    amplitude: dbm0_to_amplitude(HOLD_LEVEL_DBM0),
                },
                n: 0,
                phases: [0.0; 2],
            },
        }
    }

    /// A generator for any cadenced tone (at most two frequencies are used).
    pub fn from_spec(spec: ToneSpec) -> Self {
        ToneGenerator {
            program: Program::Cadence {
                spec,
                amplitude: dbm0_to_amplitude(spec.level_dbm0),
            },
            n: 0,
            phases: [0.0; 2],
        }
    }

    /// The next 20 ms frame.
    pub fn next_frame(&mut self) -> [i16; FRAME_SAMPLES] {
        let mut frame = [0i16; FRAME_SAMPLES];
        self.fill(&mut frame);
        frame
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        match self.program {
            Program::Cadence { spec, amplitude } => {
                let steps = [
                    spec.freqs.first().copied().unwrap_or(0.0) / CLOCK_RATE as f64,
                    spec.freqs.get(1).copied().unwrap_or(0.0) / CLOCK_RATE as f64,
                ];
                let voices = spec.freqs.len().min(2);
                for o in out.iter_mut() {
                    let (on, since, len) = spec.position(self.n);
                    let mut v = 0.0;
                    if on {
                        for p in &self.phases[..voices] {
                            v += (TAU * p).sin();
                        }
                        v *= amplitude * ramp(since, len);
                    }
                    *o = v.round() as i16;
                    self.advance(steps);
                }
            }
            Program::Melody { amplitude } => {
                let cycle: u64 = HOLD_MELODY
                    .iter()
                    .map(|&(_, ms)| ms as u64 * SAMPLES_PER_MS)
                    .sum();
                for o in out.iter_mut() {
                    let mut pos = self.n % cycle;
                    let mut note = HOLD_MELODY[0];
                    for &(f, ms) in &HOLD_MELODY {
                        let len = ms as u64 * SAMPLES_PER_MS;
                        if pos < len {
                            note = (f, ms);
                            break;
                        }
                        pos -= len;
                    }
                    let len = note.1 as u64 * SAMPLES_PER_MS;
                    let t = pos as f64 / CLOCK_RATE as f64;
                    // A soft bell: quick attack, slow decay, faded out before the next note.
                    let env = (t / 0.03).min(1.0) * (-t / 0.5).exp() * ramp(pos, len.max(1));
                    let p = self.phases[0];
                    let v = (TAU * p).sin() + 0.15 * (2.0 * TAU * p).sin();
                    *o = (amplitude * env * v / 1.15).round() as i16;
                    self.advance([note.0 / CLOCK_RATE as f64, 0.0]);
                }
            }
        }
    }

    fn advance(&mut self, steps: [f64; 2]) {
        for (p, s) in self.phases.iter_mut().zip(steps) {
            *p = (*p + s).fract();
        }
        self.n += 1;
    }
}

/// Gain of a linear 2 ms fade at both ends of a burst of `len` samples.
fn ramp(since: u64, len: u64) -> f64 {
    let from_start = since as f64 / RAMP as f64;
    let to_end = (len.saturating_sub(since)) as f64 / RAMP as f64;
    from_start.min(to_end).min(1.0)
}

/// A frame of digital silence.
pub const SILENCE: [i16; FRAME_SAMPLES] = [0; FRAME_SAMPLES];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel::goertzel;

    fn render(gen: &mut ToneGenerator, samples: u64) -> Vec<i16> {
        let frames = samples.div_ceil(FRAME_SAMPLES as u64);
        (0..frames).flat_map(|_| gen.next_frame()).collect()
    }

    /// Frequencies used by any tone, to check that only the right ones sound.
    fn all_freqs() -> Vec<f64> {
        let mut v: Vec<f64> = Region::ALL
            .iter()
            .flat_map(|r| r.ringback().freqs.iter().chain(r.busy().freqs))
            .copied()
            .collect();
        v.push(1000.0);
        v
    }

    /// Runs of whole samples that are on (or off) according to the spec.
    fn runs(spec: &ToneSpec, total: u64, on: bool) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        let mut start = None;
        for n in 0..=total {
            let inside = n < total && spec.is_on(n) == on;
            match (inside, start) {
                (true, None) => start = Some(n as usize),
                (false, Some(s)) => {
                    out.push(s..n as usize);
                    start = None;
                }
                _ => {}
            }
        }
        out
    }

    #[test]
    fn every_regional_tone_sounds_its_frequencies_only_in_on_periods() {
        for region in Region::ALL {
            for (kind, spec) in [
                (ToneKind::Ringback, region.ringback()),
                (ToneKind::Busy, region.busy()),
            ] {
                let total = 2 * spec.cycle_samples();
                let mut gen = ToneGenerator::new(kind, region);
                let audio = render(&mut gen, total);
                let amp = dbm0_to_amplitude(spec.level_dbm0);
                let on_runs = runs(&spec, total, true);
                assert_eq!(on_runs.len(), 2 * spec.cadence.len(), "{region:?} {kind:?}");
                for run in on_runs {
                    let x = &audio[run.clone()];
                    for &f in spec.freqs {
                        let a = goertzel(x, f, 8000);
                        assert!(
                            (a - amp).abs() < 0.1 * amp,
                            "{region:?} {kind:?} {f} Hz: {a} vs {amp} in {run:?}"
                        );
                    }
                    for f in all_freqs() {
                        if spec.freqs.iter().all(|g| (g - f).abs() > 10.0) {
                            let a = goertzel(x, f, 8000);
                            assert!(a < 0.15 * amp, "{region:?} {kind:?} stray {f} Hz: {a}");
                        }
                    }
                }
                for run in runs(&spec, total, false) {
                    assert!(
                        audio[run.clone()].iter().all(|&s| s == 0),
                        "{region:?} {kind:?} noise in off period {run:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn cadences_match_e180_values() {
        let us = Region::Us;
        assert_eq!(us.ringback().freqs, &[440.0, 480.0]);
        assert_eq!(us.ringback().cadence, &[(2000, 4000)]);
        assert_eq!(us.busy().freqs, &[480.0, 620.0]);
        assert_eq!(us.busy().cadence, &[(500, 500)]);
        assert_eq!(Region::Uk.ringback().cadence, &[(400, 200), (400, 2000)]);
        assert_eq!(Region::Uk.busy().cadence, &[(375, 375)]);
        assert_eq!(Region::Eu.ringback().cadence, &[(1000, 4000)]);
        assert_eq!(Region::Ru.ringback().cadence, &[(800, 3200)]);
        assert_eq!(Region::Ru.busy().cadence, &[(400, 400)]);
        assert_eq!(Region::De.busy().cadence, &[(480, 480)]);
        assert_eq!(Region::Fr.ringback().freqs, &[440.0]);
        assert_eq!(Region::Fr.ringback().cadence, &[(1500, 3500)]);
        assert_eq!(Region::Uk.ringback().cycle_samples(), 3000 * 8);
    }

    #[test]
    fn frames_are_phase_continuous() {
        // Frame-by-frame output equals the closed-form sum of sines sampled at n/8000.
        let spec = Region::Us.ringback();
        let amp = dbm0_to_amplitude(spec.level_dbm0);
        let mut gen = ToneGenerator::from_spec(spec);
        let audio = render(&mut gen, 8000);
        for (n, &s) in audio.iter().enumerate().skip(RAMP as usize) {
            let t = n as f64 / 8000.0;
            let want = amp * ((TAU * 440.0 * t).sin() + (TAU * 480.0 * t).sin());
            assert!((s as f64 - want).abs() <= 2.0, "sample {n}: {s} vs {want}");
        }
        // Across an off period too: the burst after it continues the same oscillators.
        let spec = Region::Eu.busy();
        let amp = dbm0_to_amplitude(spec.level_dbm0);
        let mut gen = ToneGenerator::from_spec(spec);
        let audio = render(&mut gen, 16000);
        let burst = 8000 + RAMP as usize..12000 - RAMP as usize;
        for (n, &s) in audio.iter().enumerate().take(burst.end).skip(burst.start) {
            let want = amp * (TAU * 425.0 * n as f64 / 8000.0).sin();
            assert!((s as f64 - want).abs() <= 2.0, "sample {n}");
        }
    }

    #[test]
    fn bursts_fade_in_without_a_click() {
        let mut gen = ToneGenerator::new(ToneKind::Busy, Region::Eu);
        let audio = render(&mut gen, 8000);
        assert_eq!(audio[0], 0);
        let amp = dbm0_to_amplitude(-13.0);
        assert!(audio[..8].iter().all(|s| (*s as f64).abs() < amp / 2.0));
    }

    #[test]
    fn hold_music_plays_each_note_of_the_melody_and_repeats() {
        let mut gen = ToneGenerator::new(ToneKind::HoldMusic, Region::Us);
        let cycle: usize = HOLD_MELODY.iter().map(|n| n.1 as usize * 8).sum();
        let audio = render(&mut gen, 2 * cycle as u64);
        let mut start = 0;
        for &(f, ms) in &HOLD_MELODY {
            let note = &audio[start..start + 3200.min(ms as usize * 8)];
            let a = goertzel(note, f, 8000);
            let others = HOLD_MELODY
                .iter()
                .filter(|o| (o.0 - f).abs() > 1.0)
                .map(|o| goertzel(note, o.0, 8000))
                .fold(0.0, f64::max);
            assert!(a > 3.0 * others && a > 200.0, "{f} Hz: {a} vs {others}");
            start += ms as usize * 8;
        }
        let peak = audio.iter().map(|s| s.unsigned_abs()).max().unwrap() as f64;
        assert!(peak < dbm0_to_amplitude(-15.0), "too loud: {peak}");
        // Envelopes repeat each cycle (phases differ, so compare loudness, not samples).
        let energy = |x: &[i16]| x.iter().map(|&s| (s as f64).powi(2)).sum::<f64>();
        let (e1, e2) = (energy(&audio[..cycle]), energy(&audio[cycle..]));
        assert!((e1 - e2).abs() < 0.05 * e1);
    }
}
