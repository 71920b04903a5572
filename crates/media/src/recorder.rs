//! Recording a meeting or a call to a WAV file (sans-IO: any `Write + Seek`).
//!
//! The format is the plainest one every player and transcription service reads: RIFF/WAVE,
//! PCM, 16-bit little-endian, mono, 8 kHz — the mix as the mixer made it, before any codec,
//! so a recording sounds better than what any G.711 participant heard. 16 bytes a
//! millisecond: 57.6 MB an hour. The header is written first with zero sizes and fixed up
//! by [`Recorder::finish`]; a file whose recorder never finished (a crash) still plays in
//! most tools, which read to the end of the file, and `finish` can be re-done by hand.
//!
//! RIFF sizes are 32-bit: a recording stops taking samples at 4 GiB (74 hours at 8 kHz)
//! and reports [`RecordError::Full`].

use std::io::{self, Seek, SeekFrom, Write};

use thiserror::Error;

use crate::g711::CLOCK_RATE;

/// Bytes in the canonical 44-byte header.
pub const HEADER_LEN: u64 = 44;
/// The most sample bytes a RIFF file can hold.
const MAX_DATA: u64 = u32::MAX as u64 - HEADER_LEN;

/// Why a recording failed.
#[derive(Debug, Error)]
pub enum RecordError {
    /// Writing failed.
    #[error("cannot write the recording: {0}")]
    Io(#[from] io::Error),
    /// The file reached the 4 GiB RIFF limit.
    #[error("the recording reached the 4 GiB WAV limit")]
    Full,
}

/// Writes 8 kHz 16-bit mono PCM as a WAV file.
#[derive(Debug)]
pub struct Recorder<W: Write + Seek> {
    out: W,
    data_bytes: u64,
    sample_rate: u32,
}

impl<W: Write + Seek> Recorder<W> {
    /// Starts a recording at 8 kHz: writes the header (sizes fixed up at the end).
    pub fn new(out: W) -> Result<Self, RecordError> {
        Self::with_rate(out, CLOCK_RATE)
    }

    /// Starts a recording at another sample rate.
    pub fn with_rate(mut out: W, sample_rate: u32) -> Result<Self, RecordError> {
        out.write_all(&header(sample_rate, 0))?;
        Ok(Recorder {
            out,
            data_bytes: 0,
            sample_rate,
        })
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.data_bytes / 2
    }

    /// Appends samples.
    pub fn write(&mut self, samples: &[i16]) -> Result<(), RecordError> {
        if self.data_bytes + 2 * samples.len() as u64 > MAX_DATA {
            return Err(RecordError::Full);
        }
        let mut buf = [0u8; 512];
        for chunk in samples.chunks(buf.len() / 2) {
            for (b, s) in buf.chunks_exact_mut(2).zip(chunk) {
                b.copy_from_slice(&s.to_le_bytes());
            }
            self.out.write_all(&buf[..2 * chunk.len()])?;
        }
        self.data_bytes += 2 * samples.len() as u64;
        Ok(())
    }

    /// Fixes up the header's sizes, flushes, and hands back the writer.
    pub fn finish(mut self) -> Result<W, RecordError> {
        self.out.seek(SeekFrom::Start(0))?;
        self.out
            .write_all(&header(self.sample_rate, self.data_bytes as u32))?;
        self.out.seek(SeekFrom::End(0))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The 44-byte header of a PCM16 mono file with `data_bytes` of samples.
fn header(sample_rate: u32, data_bytes: u32) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    let mut put = |at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, b"RIFF");
    put(4, &(36u32.wrapping_add(data_bytes)).to_le_bytes());
    put(8, b"WAVEfmt ");
    put(16, &16u32.to_le_bytes()); // fmt chunk size
    put(20, &1u16.to_le_bytes()); // PCM
    put(22, &1u16.to_le_bytes()); // mono
    put(24, &sample_rate.to_le_bytes());
    put(28, &(sample_rate * 2).to_le_bytes()); // byte rate
    put(32, &2u16.to_le_bytes()); // block align
    put(34, &16u16.to_le_bytes()); // bits per sample
    put(36, b"data");
    put(40, &data_bytes.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::Clip;
    use std::io::Cursor;

    #[test]
    fn writes_a_canonical_pcm16_mono_file_with_sizes_fixed_at_the_end() {
        let mut r = Recorder::new(Cursor::new(Vec::new())).unwrap();
        r.write(&[1, -2, 300]).unwrap();
        r.write(&[i16::MIN]).unwrap();
        assert_eq!(r.samples(), 4);
        let bytes = r.finish().unwrap().into_inner();
        assert_eq!(bytes.len(), 44 + 8);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 36 + 8);
        assert_eq!(&bytes[8..16], b"WAVEfmt ");
        assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 8000);
        assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 8);
        assert_eq!(&bytes[44..], &[1, 0, 0xFE, 0xFF, 0x2C, 0x01, 0x00, 0x80]);
        // What we write, we read back as a clip.
        let clip = Clip::from_wav(&bytes).unwrap();
        assert_eq!(clip.samples(), &[1, -2, 300, i16::MIN]);
    }
}
