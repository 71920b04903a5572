//! One continuous outgoing RTP stream made from changing sources.
//!
//! What we send to a remote may come from a local generator (ringback, DTMF) and then from
//! the other leg of a bridge, whose SSRC, sequence numbers and timestamps start anywhere and
//! change again after a re-INVITE. Many phones mute or glitch when SSRC, sequence or
//! timestamp jump, so [`Outbound`] rewrites everything to our own SSRC: when the source
//! changes it computes offsets so that the first packet of the new source takes the next
//! sequence number and a timestamp advanced by the wall-clock time since the last packet
//! (whole 20 ms frames, at least one), and sets the marker bit to say a new talkspurt
//! starts. Within one source the offsets stay fixed, so gaps and reordering pass through
//! untouched for the receiver's jitter buffer to handle.

use std::time::{Duration, Instant};

use crate::g711::{CLOCK_RATE, FRAME_SAMPLES};
use crate::rtp::{seq_newer, TxContext};

const FRAME: Duration = Duration::from_millis(20);
/// A local stream idle for longer than this restarts (new talkspurt, timestamp re-based on
/// the clock) instead of continuing frame by frame.
const LOCAL_GAP: Duration = Duration::from_millis(60);
/// Packets from the previous relayed SSRC are dropped for this long after a switch, so
/// stragglers do not flip the stream back and forth.
const RETIRE: Duration = Duration::from_millis(500);

/// What currently feeds the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    /// Nothing sent yet.
    Idle,
    /// Our own generator.
    Local,
    /// Packets relayed from this SSRC, with the offsets mapping them onto our stream.
    Relayed {
        /// The source's SSRC.
        ssrc: u32,
        /// Added to its sequence numbers.
        seq_offset: u16,
        /// Added to its timestamps.
        ts_offset: u32,
    },
}

/// Header fields for a relayed packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rewritten {
    /// Our SSRC.
    pub ssrc: u32,
    /// Sequence number to send.
    pub seq: u16,
    /// Timestamp to send.
    pub timestamp: u32,
    /// This packet starts a new source: set the marker bit on audio.
    pub switched: bool,
}

/// The sending side of one stream: our SSRC and the sequence/timestamp mapping.
#[derive(Clone, Debug)]
pub struct Outbound {
    ctx: TxContext,
    last_at: Option<Instant>,
    feed: Feed,
    retired: Option<(u32, Instant)>,
}

impl Outbound {
    /// A stream with our SSRC and initial sequence number and timestamp (random in
    /// production, per RFC 3550).
    pub fn new(ssrc: u32, seq: u16, timestamp: u32) -> Self {
        Outbound {
            ctx: TxContext::new(ssrc, seq, timestamp),
            last_at: None,
            feed: Feed::Idle,
            retired: None,
        }
    }

    /// A stream with random identifiers.
    pub fn random() -> Self {
        Self::new(rand::random(), rand::random(), rand::random())
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ctx.ssrc
    }

    /// What feeds the stream now.
    pub fn feed(&self) -> Feed {
        self.feed
    }

    /// The sequence number the next packet will carry.
    pub fn next_seq(&self) -> u16 {
        self.ctx.seq
    }

    /// Our RTP timestamp corresponding to `now` (for sender reports).
    pub fn timestamp_at(&self, now: Instant) -> u32 {
        let elapsed = self
            .last_at
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
        let units = elapsed.as_nanos() * CLOCK_RATE as u128 / 1_000_000_000;
        self.ctx.timestamp.wrapping_add(units as u32)
    }

    /// Re-bases the timestamp for a new source starting at `now`.
    fn rebase(&mut self, now: Instant) {
        if let Some(at) = self.last_at {
            let elapsed = now.saturating_duration_since(at);
            let frames = ((elapsed.as_micros() + FRAME.as_micros() / 2) / FRAME.as_micros())
                .clamp(1, u32::MAX as u128 / FRAME_SAMPLES as u128) as u32;
            self.ctx.timestamp = self
                .ctx
                .timestamp
                .wrapping_add(frames.wrapping_mul(FRAME_SAMPLES as u32));
        }
        self.ctx.marker_pending = true;
    }

    /// Starts the next 20 ms slot of local generation and returns the context to write
    /// packets through. Call once per tick while generating.
    pub fn local_slot(&mut self, now: Instant) -> &mut TxContext {
        let continuing = self.feed == Feed::Local
            && self
                .last_at
                .is_some_and(|at| now.saturating_duration_since(at) <= LOCAL_GAP);
        if continuing {
            self.ctx.timestamp = self.ctx.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        } else {
            self.rebase(now);
            self.feed = Feed::Local;
        }
        self.last_at = Some(now);
        &mut self.ctx
    }

    /// Maps a relayed packet's identifiers onto our stream. None means drop it (a straggler
    /// from the source we switched away from).
    pub fn relay(
        &mut self,
        ssrc: u32,
        seq: u16,
        timestamp: u32,
        now: Instant,
    ) -> Option<Rewritten> {
        if let Some((old, at)) = self.retired {
            if old == ssrc && now.saturating_duration_since(at) < RETIRE {
                return None;
            }
        }
        let (seq_offset, ts_offset, switched) = match self.feed {
            Feed::Relayed {
                ssrc: s,
                seq_offset,
                ts_offset,
            } if s == ssrc => (seq_offset, ts_offset, false),
            previous => {
                self.retired = match previous {
                    Feed::Relayed { ssrc: old, .. } => Some((old, now)),
                    _ => None,
                };
                self.rebase(now);
                let seq_offset = self.ctx.seq.wrapping_sub(seq);
                let ts_offset = self.ctx.timestamp.wrapping_sub(timestamp);
                self.feed = Feed::Relayed {
                    ssrc,
                    seq_offset,
                    ts_offset,
                };
                (seq_offset, ts_offset, true)
            }
        };
        let out_seq = seq.wrapping_add(seq_offset);
        let out_ts = timestamp.wrapping_add(ts_offset);
        if switched || seq_newer(out_seq, self.ctx.seq.wrapping_sub(1)) {
            self.ctx.seq = out_seq.wrapping_add(1);
            self.ctx.timestamp = out_ts;
            self.last_at = Some(now);
        }
        self.ctx.marker_pending = false;
        Some(Rewritten {
            ssrc: self.ctx.ssrc,
            seq: out_seq,
            timestamp: out_ts,
            switched,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn local_slots_advance_one_frame_per_tick() {
        let t0 = Instant::now();
        let mut o = Outbound::new(9, 10, 1000);
        let ctx = o.local_slot(t0);
        assert_eq!(
            (ctx.seq, ctx.timestamp, ctx.marker_pending),
            (10, 1000, true)
        );
        ctx.write_audio(&mut Vec::new(), 0, &[0; 160]);
        let ctx = o.local_slot(t0 + 20 * MS);
        assert_eq!(
            (ctx.seq, ctx.timestamp, ctx.marker_pending),
            (11, 1160, false)
        );
        // A long pause re-bases on the clock and starts a talkspurt.
        let ctx = o.local_slot(t0 + 1020 * MS);
        assert_eq!((ctx.timestamp, ctx.marker_pending), (1160 + 50 * 160, true));
    }

    #[test]
    fn switching_from_local_to_relayed_continues_seq_and_time() {
        let t0 = Instant::now();
        let mut o = Outbound::new(9, 500, 0);
        for i in 0..3u32 {
            o.local_slot(t0 + i * 20 * MS)
                .write_audio(&mut Vec::new(), 0, &[0; 160]);
        }
        // Last local packet: seq 502, ts 320 at t0+40ms. Relayed source starts at t0+60ms.
        let r = o.relay(0xAAAA, 7000, 123_456, t0 + 60 * MS).unwrap();
        assert_eq!(
            (r.ssrc, r.seq, r.timestamp, r.switched),
            (9, 503, 480, true)
        );
        let r = o.relay(0xAAAA, 7001, 123_616, t0 + 80 * MS).unwrap();
        assert_eq!((r.seq, r.timestamp, r.switched), (504, 640, false));
    }

    #[test]
    fn a_new_ssrc_is_rebased_and_the_old_one_retired() {
        let t0 = Instant::now();
        let mut o = Outbound::new(1, 0, 0);
        for i in 0..5u16 {
            o.relay(0xA, 100 + i, 8000 + i as u32 * 160, t0 + MS * 20 * i as u32);
        }
        // Re-INVITE: the far side restarts with a new SSRC, seq and timestamp, 100 ms later.
        let r = o.relay(0xB, 60_000, 5, t0 + MS * 180).unwrap();
        assert_eq!(
            (r.seq, r.timestamp, r.switched),
            (5, 4 * 160 + 5 * 160, true)
        );
        // A straggler from the old source is dropped rather than switching back.
        assert_eq!(o.relay(0xA, 105, 8800, t0 + MS * 190), None);
        let r = o.relay(0xB, 60_001, 165, t0 + MS * 200).unwrap();
        assert_eq!((r.seq, r.timestamp), (6, 9 * 160 + 160));
    }

    #[test]
    fn loss_and_reordering_pass_through_with_fixed_offsets() {
        let t0 = Instant::now();
        let mut o = Outbound::new(1, 1000, 0);
        let input = [10u16, 11, 13, 12, 15, 14, 16];
        let out: Vec<u16> = input
            .iter()
            .map(|&s| o.relay(0xA, s, s as u32 * 160, t0).unwrap().seq)
            .collect();
        assert_eq!(out, vec![1000, 1001, 1003, 1002, 1005, 1004, 1006]);
        // The late packets did not move the high-water mark back.
        assert_eq!(o.next_seq(), 1007);
    }

    #[test]
    fn back_to_local_after_relay_continues_the_stream() {
        let t0 = Instant::now();
        let mut o = Outbound::new(1, 0, 0);
        o.relay(0xA, 50, 1000, t0);
        o.relay(0xA, 51, 1160, t0 + 20 * MS);
        let ctx = o.local_slot(t0 + 40 * MS);
        assert_eq!((ctx.seq, ctx.timestamp, ctx.marker_pending), (2, 320, true));
        assert_eq!(o.feed(), Feed::Local);
    }
}
