//! Proving who heard whom: a reader for the 16-bit PCM WAV files baresip's `sndfile` module
//! records, and a Goertzel filter to measure one frequency in them.
//!
//! Each lab phone sends a sine of its own frequency (`PhoneConfig::tone_hz`), so the
//! strongest of the candidate tones in a phone's `*-dec.wav` names the phone it heard.

use std::path::Path;

use super::LabError;

/// Decoded PCM audio: interleaved 16-bit samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// Channels (samples are interleaved).
    pub channels: u16,
    /// Interleaved samples.
    pub samples: Vec<i16>,
}

impl Wav {
    /// The samples of one channel (0-based); empty if there is no such channel.
    pub fn channel(&self, index: u16) -> Vec<i16> {
        if index >= self.channels {
            return Vec::new();
        }
        self.samples
            .iter()
            .skip(usize::from(index))
            .step_by(usize::from(self.channels))
            .copied()
            .collect()
    }

    /// Seconds of audio held.
    pub fn duration_secs(&self) -> f64 {
        let frames = self.samples.len() / usize::from(self.channels.max(1));
        frames as f64 / f64::from(self.sample_rate.max(1))
    }
}

/// Reads a 16-bit PCM WAV file (see [`parse_wav`]).
pub fn read_wav(path: &Path) -> Result<Wav, LabError> {
    let bytes = std::fs::read(path).map_err(|source| LabError::Io {
        what: format!("read {}", path.display()),
        source,
    })?;
    parse_wav(&bytes).map_err(|reason| LabError::Wav {
        path: path.to_path_buf(),
        reason,
    })
}

/// Parses a RIFF/WAVE file holding 16-bit PCM.
///
/// A file still being recorded has a `data` size of 0 (or one larger than the file) in its
/// header until libsndfile closes it, so the data chunk then runs to the end of the file.
pub fn parse_wav(bytes: &[u8]) -> Result<Wav, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    let mut format: Option<(u16, u32, u16)> = None;
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_le(&bytes[pos + 4..pos + 8]) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            let fmt = bytes
                .get(body..body + 16)
                .ok_or("truncated fmt chunk".to_string())?;
            let tag = u16_le(&fmt[0..2]);
            let channels = u16_le(&fmt[2..4]);
            let rate = u32_le(&fmt[4..8]);
            let bits = u16_le(&fmt[14..16]);
            // 1 = PCM; 0xFFFE = WAVE_FORMAT_EXTENSIBLE, which libsndfile may write.
            if !(tag == 1 || tag == 0xFFFE) || bits != 16 {
                return Err(format!(
                    "only 16-bit PCM is supported (format tag {tag:#x}, {bits} bits)"
                ));
            }
            if channels == 0 || rate == 0 {
                return Err("fmt chunk with 0 channels or 0 Hz".into());
            }
            format = Some((channels, rate, bits));
        } else if id == b"data" {
            let (channels, sample_rate, _) = format.ok_or("data chunk before fmt chunk")?;
            let available = bytes.len() - body;
            let len = if size == 0 || size > available {
                available
            } else {
                size
            };
            let samples = bytes[body..body + len - len % 2]
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
            return Ok(Wav {
                sample_rate,
                channels,
                samples,
            });
        }
        // Chunks are padded to an even length.
        pos = body.saturating_add(size).saturating_add(size & 1);
    }
    Err("no data chunk".into())
}

/// Bytes of audio data in a WAV file and the rate they play at, from its header and size:
/// enough to wait for "at least N seconds recorded" without parsing the samples.
pub(crate) fn wav_data_progress(bytes_on_disk: u64, header: &[u8]) -> Option<(u64, u64)> {
    let wav = parse_wav(header).ok()?;
    let bytes_per_second = u64::from(wav.sample_rate) * u64::from(wav.channels) * 2;
    // The header of a file being written is at most a few hundred bytes; find where data
    // starts by the position of the `data` chunk id.
    let data_at = header.windows(4).position(|w| w == b"data")? as u64 + 8;
    Some((bytes_on_disk.saturating_sub(data_at), bytes_per_second))
}

/// The amplitude of `freq` in `samples`, relative to full scale: a full-scale sine at `freq`
/// gives about 1.0, silence or other frequencies about 0.
///
/// The Goertzel algorithm is one DFT bin computed by a two-tap recursion, so it costs one
/// multiply-add per sample and needs no FFT.
pub fn goertzel(samples: &[i16], sample_rate: u32, freq: f32) -> f32 {
    if samples.is_empty() || sample_rate == 0 {
        return 0.0;
    }
    let n = samples.len() as f64;
    let omega = 2.0 * std::f64::consts::PI * f64::from(freq) / f64::from(sample_rate);
    let coeff = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    (2.0 * power.max(0.0).sqrt() / n) as f32
}

fn u16_le(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, secs: f64, amplitude: f64) -> Vec<i16> {
        (0..(f64::from(rate) * secs) as usize)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                (amplitude * 32767.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
            })
            .collect()
    }

    fn wav_bytes(rate: u32, channels: u16, samples: &[i16], data_size: Option<u32>) -> Vec<u8> {
        let data_len = (samples.len() * 2) as u32;
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + data_len).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
        b.extend_from_slice(&(channels * 2).to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&data_size.unwrap_or(data_len).to_le_bytes());
        for s in samples {
            b.extend_from_slice(&s.to_le_bytes());
        }
        b
    }

    #[test]
    fn goertzel_finds_the_tone_that_is_there_and_not_the_other() {
        let s = sine(440.0, 8000, 1.0, 0.5);
        let at_440 = goertzel(&s, 8000, 440.0);
        let at_880 = goertzel(&s, 8000, 880.0);
        assert!((at_440 - 0.5).abs() < 0.02, "{at_440}");
        assert!(at_880 < 0.01, "{at_880}");
        assert_eq!(goertzel(&[], 8000, 440.0), 0.0);
    }

    #[test]
    fn parses_a_closed_wav_and_one_still_being_written() {
        let s = sine(880.0, 8000, 0.25, 0.3);
        let closed = parse_wav(&wav_bytes(8000, 1, &s, None)).unwrap();
        assert_eq!(closed.sample_rate, 8000);
        assert_eq!(closed.channels, 1);
        assert_eq!(closed.samples, s);
        assert!((closed.duration_secs() - 0.25).abs() < 1e-9);
        // libsndfile leaves the data size at 0 until it closes the file.
        let open = parse_wav(&wav_bytes(8000, 1, &s, Some(0))).unwrap();
        assert_eq!(open.samples, s);
        let (bytes, per_sec) =
            wav_data_progress(44 + 4000, &wav_bytes(8000, 1, &[], Some(0))).expect("progress");
        assert_eq!((bytes, per_sec), (4000, 16000));
    }

    #[test]
    fn stereo_channels_are_deinterleaved() {
        let wav = parse_wav(&wav_bytes(48000, 2, &[1, -1, 2, -2], None)).unwrap();
        assert_eq!(wav.channel(0), vec![1, 2]);
        assert_eq!(wav.channel(1), vec![-1, -2]);
        assert!(wav.channel(2).is_empty());
    }

    #[test]
    fn rejects_what_is_not_16_bit_pcm() {
        assert!(parse_wav(b"not a wav").is_err());
        let mut b = wav_bytes(8000, 1, &[0; 4], None);
        b[34] = 8; // bits per sample
        assert!(parse_wav(&b).unwrap_err().contains("16-bit"));
    }
}
