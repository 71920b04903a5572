//! A small adaptive jitter buffer (sans-IO) for one conference participant.
//!
//! Packets arrive with network jitter, out of order, duplicated or not at all, while the
//! mixer takes exactly one 20 ms frame per participant per tick. The buffer stores the
//! still-encoded payload bytes in a ring indexed by RTP timestamp: PCMU, PCMA and G.722 at
//! 64 kbit/s all carry one byte per 8 kHz timestamp unit, so one ring serves all three and
//! any packetisation (10, 20, 30 ms) lands in the right place. Decoding happens when the
//! mixer pulls a frame, in order, which stateful codecs (G.722's ADPCM) need.
//!
//! Behaviour:
//! - Playout starts once `depth` frames are buffered (prefill); it stops again after the
//!   sender has been silent for a while (end of stream, DTX), and restarts with a new
//!   prefill on the next packet.
//! - A packet for a frame already played is *late*: dropped, and the target depth grows
//!   by one frame (up to `max_depth`). After 10 s without a late packet it shrinks by one
//!   (down to `min_depth`), so the delay follows the network.
//! - More than `depth + 2` frames buffered (a burst, or a sender clock running fast)
//!   drops the oldest frames, bounding the delay.
//! - A new SSRC or a timestamp jump of more than a second restarts the buffer.
//! - Duplicates are recognised (every 10 ms block already present) and counted.
//!
//! A missing frame is reported as [`Pull::Missing`]; concealing it is the mixer's job,
//! since it has the decoded audio.

/// Bytes (and timestamp units) in one 20 ms frame.
pub const FRAME: usize = 160;
/// Frames the ring holds: 320 ms.
const SLOTS: usize = 16;
const RING: usize = SLOTS * FRAME;
/// Presence is tracked per 10 ms block, the smallest common packetisation.
const BLOCK: usize = FRAME / 2;
/// A timestamp jump beyond this restarts the buffer instead of waiting for it.
const JUMP: u32 = 50 * FRAME as u32;
/// Missing frames in a row, with nothing buffered, after which the sender counts as gone.
const IDLE_AFTER: u32 = 10;
/// Ticks without a late packet before the depth shrinks by a frame.
const CALM_TICKS: u32 = 500;
/// Frames beyond the target depth tolerated before the oldest are dropped.
const SLACK: usize = 2;

/// Depth limits, in 20 ms frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JitterConfig {
    /// Smallest (and initial) target depth.
    pub min_depth: usize,
    /// Largest target depth.
    pub max_depth: usize,
}

impl Default for JitterConfig {
    /// 2 to 8 frames (40 to 160 ms).
    fn default() -> Self {
        JitterConfig {
            min_depth: 2,
            max_depth: 8,
        }
    }
}

/// Counters of one buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets accepted.
    pub received: u64,
    /// Packets dropped as duplicates.
    pub duplicates: u64,
    /// Packets that arrived after their frame was played.
    pub late: u64,
    /// Frames dropped to bound the delay.
    pub dropped: u64,
    /// Frames played from packets.
    pub played: u64,
    /// Frames that were missing while playing.
    pub missing: u64,
    /// Restarts (new SSRC, timestamp jump, sender back after silence).
    pub restarts: u64,
}

/// What [`JitterBuffer::pull`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pull {
    /// A frame is in the output; `complete` is false when a 10 ms half of it was missing
    /// and was filled with the given byte.
    Frame {
        /// Both halves arrived.
        complete: bool,
    },
    /// Playing, but this frame's packet has not arrived (conceal it).
    Missing,
    /// Not playing: no sender, or still prefilling.
    Idle,
}

/// The jitter buffer of one participant.
#[derive(Clone, Debug)]
pub struct JitterBuffer {
    config: JitterConfig,
    ring: [u8; RING],
    /// Per slot: bit 0 = first 10 ms present, bit 1 = second.
    present: [u8; SLOTS],
    ssrc: u32,
    /// A reference timestamp exists (the buffer is prefilling or playing).
    active: bool,
    playing: bool,
    /// Timestamp of the frame at `head`.
    play_ts: u32,
    head: usize,
    /// Offset from `play_ts` just past the newest byte buffered.
    newest_end: usize,
    depth: usize,
    missing_run: u32,
    calm: u32,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(config: JitterConfig) -> Self {
        let min = config.min_depth.clamp(1, SLOTS - SLACK - 1);
        let config = JitterConfig {
            min_depth: min,
            max_depth: config.max_depth.clamp(min, SLOTS - SLACK - 1),
        };
        JitterBuffer {
            config,
            ring: [0; RING],
            present: [0; SLOTS],
            ssrc: 0,
            active: false,
            playing: false,
            play_ts: 0,
            head: 0,
            newest_end: 0,
            depth: config.min_depth,
            missing_run: 0,
            calm: 0,
            stats: JitterStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The current target depth in frames.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Whether frames are being played out.
    pub fn is_playing(&self) -> bool {
        self.playing
    }

    fn restart(&mut self, ssrc: u32, ts: u32) {
        if self.active {
            self.stats.restarts += 1;
        }
        self.ssrc = ssrc;
        self.active = true;
        self.playing = false;
        self.play_ts = ts;
        self.head = 0;
        self.newest_end = 0;
        self.present = [0; SLOTS];
        self.missing_run = 0;
    }

    /// Drops `frames` frames from the head.
    fn advance(&mut self, frames: usize) {
        for _ in 0..frames {
            self.present[self.head] = 0;
            self.head = (self.head + 1) % SLOTS;
            self.play_ts = self.play_ts.wrapping_add(FRAME as u32);
            self.newest_end = self.newest_end.saturating_sub(FRAME);
        }
    }

    /// Frames buffered ahead of the head (counting partly filled ones).
    fn buffered(&self) -> usize {
        self.newest_end.div_ceil(FRAME)
    }

    /// Stores an audio packet's payload (`timestamp` in 8 kHz units, one byte per unit).
    pub fn push(&mut self, ssrc: u32, timestamp: u32, payload: &[u8]) {
        if payload.is_empty() || payload.len() > RING / 2 {
            return;
        }
        if !self.active || ssrc != self.ssrc {
            self.restart(ssrc, timestamp);
        }
        let mut off = timestamp.wrapping_sub(self.play_ts) as i32 as i64;
        if off < 0 {
            if -off > JUMP as i64 {
                self.restart(ssrc, timestamp);
                off = 0;
            } else {
                self.stats.late += 1;
                if self.playing && self.depth < self.config.max_depth {
                    self.depth += 1;
                }
                self.calm = 0;
                return;
            }
        }
        let len = payload.len();
        if off as usize + len > RING {
            if off > JUMP as i64 {
                self.restart(ssrc, timestamp);
                off = 0;
            } else {
                // A burst beyond the window: make room by dropping the oldest frames.
                let frames = (off as usize + len - RING).div_ceil(FRAME);
                self.stats.dropped += frames as u64;
                self.advance(frames);
                off -= (frames * FRAME) as i64;
            }
        }
        let off = off as usize;
        // Which 10 ms blocks this packet fully covers; all present already = duplicate.
        let first_block = off.div_ceil(BLOCK);
        let end_block = (off + len) / BLOCK;
        let mut new_block = end_block <= first_block; // odd sizes: cannot tell, accept
        for b in first_block..end_block {
            let slot = (self.head + b / 2) % SLOTS;
            if self.present[slot] & (1 << (b % 2)) == 0 {
                new_block = true;
            }
        }
        if !new_block {
            self.stats.duplicates += 1;
            return;
        }
        let start = (self.head * FRAME + off) % RING;
        let first = len.min(RING - start);
        self.ring[start..start + first].copy_from_slice(&payload[..first]);
        self.ring[..len - first].copy_from_slice(&payload[first..]);
        for b in first_block..end_block {
            let slot = (self.head + b / 2) % SLOTS;
            self.present[slot] |= 1 << (b % 2);
        }
        self.newest_end = self.newest_end.max(off + len);
        self.stats.received += 1;
        if !self.playing && self.buffered() >= self.depth {
            self.playing = true;
        }
    }

    /// Takes the next 20 ms frame into `out`; a missing 10 ms half is filled with `fill`
    /// (the codec's silence).
    pub fn pull(&mut self, out: &mut [u8; FRAME], fill: u8) -> Pull {
        if !self.playing {
            return Pull::Idle;
        }
        let excess = self.buffered().saturating_sub(self.depth + SLACK);
        if excess > 0 {
            self.stats.dropped += excess as u64;
            self.advance(excess);
        }
        self.calm += 1;
        if self.calm >= CALM_TICKS {
            self.calm = 0;
            self.depth = (self.depth - 1).max(self.config.min_depth);
        }
        let bits = self.present[self.head];
        let start = self.head * FRAME;
        let r = if bits == 0 {
            self.stats.missing += 1;
            self.missing_run += 1;
            Pull::Missing
        } else {
            out.copy_from_slice(&self.ring[start..start + FRAME]);
            if bits & 1 == 0 {
                out[..BLOCK].fill(fill);
            }
            if bits & 2 == 0 {
                out[BLOCK..].fill(fill);
            }
            self.stats.played += 1;
            self.missing_run = 0;
            Pull::Frame {
                complete: bits == 3,
            }
        };
        self.advance(1);
        if self.missing_run >= IDLE_AFTER && self.newest_end == 0 {
            // The sender stopped (hung up, on hold, DTX): prefill again when it is back.
            self.active = false;
            self.playing = false;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> [u8; FRAME] {
        [n; FRAME]
    }

    fn pull(j: &mut JitterBuffer) -> Option<u8> {
        let mut out = [0u8; FRAME];
        match j.pull(&mut out, 0xFF) {
            Pull::Frame { .. } => Some(out[0]),
            Pull::Missing => Some(0),
            Pull::Idle => None,
        }
    }

    #[test]
    fn prefills_then_plays_in_timestamp_order_despite_reordering() {
        let mut j = JitterBuffer::new(JitterConfig::default());
        j.push(7, 1000, &frame(1));
        assert_eq!(pull(&mut j), None, "prefilling");
        j.push(7, 1000 + 2 * 160, &frame(3));
        j.push(7, 1000 + 160, &frame(2));
        assert_eq!(pull(&mut j), Some(1));
        assert_eq!(pull(&mut j), Some(2));
        assert_eq!(pull(&mut j), Some(3));
        assert_eq!(j.stats().received, 3);
    }

    #[test]
    fn loss_is_reported_missing_and_late_packets_grow_the_depth() {
        let mut j = JitterBuffer::new(JitterConfig::default());
        for i in 0..3u32 {
            j.push(1, i * 160, &frame(i as u8 + 1));
        }
        assert_eq!(pull(&mut j), Some(1));
        assert_eq!(pull(&mut j), Some(2));
        assert_eq!(pull(&mut j), Some(3));
        j.push(1, 4 * 160, &frame(5));
        assert_eq!(pull(&mut j), Some(0), "frame 4 lost");
        assert_eq!(j.stats().missing, 1);
        j.push(1, 3 * 160, &frame(4)); // too late
        assert_eq!((j.stats().late, j.depth()), (1, 3));
        assert_eq!(pull(&mut j), Some(5));
    }

    #[test]
    fn duplicates_are_dropped_and_ten_ms_packets_fill_one_frame() {
        let mut j = JitterBuffer::new(JitterConfig::default());
        j.push(1, 0, &[1; 80]);
        j.push(1, 80, &[2; 80]);
        j.push(1, 80, &[2; 80]);
        j.push(1, 160, &[3; 160]);
        assert_eq!(j.stats().duplicates, 1);
        let mut out = [0u8; FRAME];
        assert_eq!(j.pull(&mut out, 0xFF), Pull::Frame { complete: true });
        assert_eq!((out[0], out[79], out[80], out[159]), (1, 1, 2, 2));
        // A frame with its second half lost is filled with silence.
        j.push(1, 320, &[4; 80]);
        j.pull(&mut out, 0xFF);
        assert_eq!(j.pull(&mut out, 0xFF), Pull::Frame { complete: false });
        assert_eq!((out[0], out[80]), (4, 0xFF));
    }

    #[test]
    fn a_new_ssrc_or_a_jump_restarts_and_silence_goes_idle() {
        let mut j = JitterBuffer::new(JitterConfig::default());
        j.push(1, 0, &frame(1));
        j.push(1, 160, &frame(2));
        assert_eq!(pull(&mut j), Some(1));
        j.push(2, 90_000, &frame(8));
        assert_eq!(pull(&mut j), None, "prefilling the new source");
        j.push(2, 90_160, &frame(9));
        assert_eq!(pull(&mut j), Some(8));
        assert_eq!(j.stats().restarts, 1);
        j.push(2, 4_000_000, &frame(5));
        assert_eq!(j.stats().restarts, 2);
        // The sender stops: after a run of missing frames the buffer goes idle.
        let mut j = JitterBuffer::new(JitterConfig::default());
        j.push(1, 0, &frame(1));
        j.push(1, 160, &frame(2));
        let got: Vec<_> = (0..14).map(|_| pull(&mut j)).collect();
        assert_eq!(got[..2], [Some(1), Some(2)]);
        assert!(got[2..12].iter().all(|g| *g == Some(0)), "{got:?}");
        assert_eq!(got[12..], [None, None]);
    }

    #[test]
    fn a_burst_beyond_the_target_is_trimmed_to_bound_the_delay() {
        let mut j = JitterBuffer::new(JitterConfig::default());
        for i in 0..12u32 {
            j.push(1, i * 160, &frame(i as u8 + 1));
        }
        // Depth 2 + slack 2: frames 1..=8 are dropped, playout resumes at 9.
        assert_eq!(pull(&mut j), Some(9));
        assert_eq!(j.stats().dropped, 8);
    }

    #[test]
    fn random_loss_reorder_and_duplication_never_play_a_frame_twice_or_out_of_order() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(7);
        let mut j = JitterBuffer::new(JitterConfig::default());
        let mut in_flight: Vec<(u32, u32)> = Vec::new(); // (arrival tick, frame number)
        let mut played = Vec::new();
        for tick in 0..3000u32 {
            if rng.random_bool(0.95) {
                let delay = rng.random_range(0..4);
                in_flight.push((tick + delay, tick));
                if rng.random_bool(0.02) {
                    in_flight.push((tick + delay + 1, tick));
                }
            }
            in_flight.retain(|&(at, n)| {
                if at == tick {
                    j.push(9, n.wrapping_mul(160), &(n % 251).to_be_bytes().repeat(40));
                    false
                } else {
                    true
                }
            });
            let mut out = [0u8; FRAME];
            if let Pull::Frame { .. } = j.pull(&mut out, 0) {
                played.push(u32::from_be_bytes([out[0], out[1], out[2], out[3]]));
            }
        }
        let s = j.stats();
        assert!(s.played > 2700, "{s:?}");
        assert!(s.duplicates > 0, "{s:?}");
        for w in played.windows(2) {
            assert!(
                (w[1] + 251 - w[0]) % 251 > 0,
                "repeated or reordered: {w:?}"
            );
        }
    }
}
