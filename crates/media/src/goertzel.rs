//! The Goertzel algorithm: the energy of one frequency in a block of samples, far cheaper
//! than an FFT when only a few frequencies matter. Tests (ours and the server's) use it to
//! check that a tone or a DTMF digit is present; a later in-band DTMF detector will too.

use std::f64::consts::PI;

/// Estimates the amplitude (in sample units, peak) of the `freq_hz` component of `samples`.
///
/// A pure sine of amplitude A at `freq_hz` yields about A when the block holds a whole
/// number of periods, and close to it otherwise. Resolution is about
/// `sample_rate / samples.len()` Hz: use blocks of 400+ samples to tell 440 Hz from 480 Hz.
pub fn goertzel(samples: &[i16], freq_hz: f64, sample_rate: u32) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let w = 2.0 * PI * freq_hz / sample_rate as f64;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = x as f64 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    2.0 * power.sqrt() / samples.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amp: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * PI * freq * i as f64 / 8000.0).sin()) as i16)
            .collect()
    }

    #[test]
    fn measures_the_amplitude_of_a_present_tone() {
        let x = sine(1000.0, 10_000.0, 800);
        let a = goertzel(&x, 1000.0, 8000);
        assert!((a - 10_000.0).abs() < 50.0, "{a}");
    }

    #[test]
    fn reports_little_for_an_absent_tone() {
        let x = sine(440.0, 10_000.0, 800);
        assert!(goertzel(&x, 480.0, 8000) < 300.0);
        assert!(goertzel(&x, 1000.0, 8000) < 300.0);
        assert_eq!(goertzel(&[], 440.0, 8000), 0.0);
        assert_eq!(goertzel(&[0; 160], 440.0, 8000), 0.0);
    }
}
