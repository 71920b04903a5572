//! Receive statistics of one RTP stream, computed as RFC 3550 Appendix A.1 (sequence
//! validation, extended highest sequence number, expected and lost packets), A.3 (fraction
//! lost per report interval) and A.8 (interarrival jitter); plus [`StreamStats`], the plain
//! summary the server writes into its call log.
//!
//! The algorithms are the RFC's own reference code, transcribed: they are short, and
//! reading them beside the RFC is the best way to check them.

use std::net::SocketAddr;
use std::time::Instant;

use crate::rtcp::{NtpTime, ReportBlock};

const RTP_SEQ_MOD: u32 = 1 << 16;
const MAX_DROPOUT: u32 = 3000;
const MAX_MISORDER: u32 = 100;
const MIN_SEQUENTIAL: u32 = 2;

/// What the server records for one stream of a call.
///
/// Byte counts are RTP payload octets (as in an RTCP sender report), not UDP datagram sizes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StreamStats {
    /// RTP packets we sent to the remote.
    pub packets_sent: u64,
    /// RTP packets accepted from the remote.
    pub packets_received: u64,
    /// RTP payload octets sent.
    pub bytes_sent: u64,
    /// RTP payload octets received.
    pub bytes_received: u64,
    /// Packets lost per RFC 3550 (expected minus received, summed over every SSRC the remote
    /// used; negative when duplicates outnumber losses).
    pub packets_lost: i64,
    /// Interarrival jitter of the current source, in milliseconds.
    pub jitter_ms: f64,
    /// The address the last accepted packet came from.
    pub remote_addr: Option<SocketAddr>,
}

/// RFC 3550 A.1 per-source sequence state.
#[derive(Clone, Copy, Debug)]
struct Source {
    ssrc: u32,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Relative transit time of the previous packet, in timestamp units.
    transit: Option<u32>,
    /// Jitter estimate scaled by 16 (the RFC's integer form).
    jitter_x16: u32,
}

impl Source {
    fn new(ssrc: u32, seq: u16) -> Self {
        let mut s = Source {
            ssrc,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: 0,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter_x16: 0,
        };
        s.init_seq(seq);
        s.max_seq = seq.wrapping_sub(1);
        s
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = seq as u32;
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1; // so seq == bad_seq is false
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// A.1 `update_seq`: false when the packet is not (yet) counted as valid.
    fn update_seq(&mut self, seq: u16) -> bool {
        let udelta = seq.wrapping_sub(self.max_seq) as u32;
        if self.probation > 0 {
            // Packets must be in sequence before the source is believed.
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return true;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return false;
        } else if udelta < MAX_DROPOUT {
            // In order, with a permissible gap.
            if seq < self.max_seq {
                self.cycles += RTP_SEQ_MOD;
            }
            self.max_seq = seq;
        } else if udelta <= RTP_SEQ_MOD - MAX_MISORDER {
            // A very large jump: believe it only if the next packet follows it.
            if seq as u32 == self.bad_seq {
                self.init_seq(seq);
            } else {
                self.bad_seq = (seq as u32 + 1) & (RTP_SEQ_MOD - 1);
                return false;
            }
        } else {
            // Duplicate or reordered packet: counted, does not move max_seq.
        }
        self.received += 1;
        true
    }

    fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(self.max_seq as u32)
    }

    fn expected(&self) -> u32 {
        if self.probation > 0 {
            return 0;
        }
        self.extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    fn lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }
}

/// Receive statistics of one stream (one remote party; it may change SSRC over a call).
#[derive(Clone, Debug)]
pub struct ReceiveStats {
    clock_rate: u32,
    epoch: Option<Instant>,
    source: Option<Source>,
    /// Losses of sources the remote used before the current one.
    lost_before: i64,
    last_sr: Option<(NtpTime, Instant)>,
}

impl ReceiveStats {
    /// Statistics for a stream with the given RTP clock rate.
    pub fn new(clock_rate: u32) -> Self {
        ReceiveStats {
            clock_rate,
            epoch: None,
            source: None,
            lost_before: 0,
            last_sr: None,
        }
    }

    /// Records a received RTP packet. `with_jitter` is false for packets whose timestamp does
    /// not follow the media clock (RFC 4733 events keep the start time of the event).
    pub fn record(
        &mut self,
        ssrc: u32,
        seq: u16,
        timestamp: u32,
        arrival: Instant,
        with_jitter: bool,
    ) {
        match &mut self.source {
            Some(s) if s.ssrc == ssrc => {}
            slot => {
                // A new SSRC (e.g. after a re-INVITE) starts a new source; keep what it lost.
                if let Some(old) = slot {
                    self.lost_before += old.lost();
                }
                *slot = Some(Source::new(ssrc, seq));
            }
        }
        let epoch = *self.epoch.get_or_insert(arrival);
        let Some(source) = self.source.as_mut() else {
            return;
        };
        source.update_seq(seq);
        if with_jitter {
            // A.8: arrival time in timestamp units, relative to an arbitrary epoch.
            let elapsed = arrival.saturating_duration_since(epoch);
            let units = (elapsed.as_nanos() * self.clock_rate as u128 / 1_000_000_000) as u32;
            let transit = units.wrapping_sub(timestamp);
            if let Some(prev) = source.transit {
                let d = (transit.wrapping_sub(prev) as i32).unsigned_abs();
                let j = source.jitter_x16;
                source.jitter_x16 = j.wrapping_add(d).wrapping_sub((j + 8) >> 4);
            }
            source.transit = Some(transit);
        }
    }

    /// Records the arrival of the remote's sender report, for LSR/DLSR in our reports.
    pub fn record_sender_report(&mut self, ntp: NtpTime, arrival: Instant) {
        self.last_sr = Some((ntp, arrival));
    }

    /// SSRC of the current source, if any packet arrived.
    pub fn ssrc(&self) -> Option<u32> {
        self.source.map(|s| s.ssrc)
    }

    /// Extended highest sequence number of the current source (A.1).
    pub fn extended_highest_seq(&self) -> Option<u32> {
        self.source.map(|s| s.extended_max())
    }

    /// Packets expected from the current source (A.3).
    pub fn expected(&self) -> u32 {
        self.source.map_or(0, |s| s.expected())
    }

    /// Cumulative packets lost over every source (A.3; negative with duplicates).
    pub fn cumulative_lost(&self) -> i64 {
        self.lost_before + self.source.map_or(0, |s| s.lost())
    }

    /// Interarrival jitter in timestamp units (A.8).
    pub fn jitter(&self) -> u32 {
        self.source.map_or(0, |s| s.jitter_x16 >> 4)
    }

    /// Interarrival jitter in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.source.map_or(0.0, |s| {
            s.jitter_x16 as f64 / 16.0 * 1000.0 / self.clock_rate as f64
        })
    }

    /// Builds the report block for the current source and starts a new report interval
    /// (fraction lost is per interval, A.3). None before any packet arrived.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let s = self.source.as_mut()?;
        let expected = s.expected();
        let expected_interval = expected.wrapping_sub(s.expected_prior);
        s.expected_prior = expected;
        let received_interval = s.received.wrapping_sub(s.received_prior);
        s.received_prior = s.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((ntp, at)) => {
                let d = now.saturating_duration_since(at);
                (
                    ntp.middle32(),
                    (d.as_nanos() * 65536 / 1_000_000_000) as u32,
                )
            }
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc: s.ssrc,
            fraction_lost,
            cumulative_lost: s.lost().clamp(-0x80_0000, 0x7F_FFFF) as i32,
            highest_seq: s.extended_max(),
            jitter: s.jitter_x16 >> 4,
            last_sr,
            delay_since_last_sr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const FRAME: Duration = Duration::from_millis(20);

    fn feed(stats: &mut ReceiveStats, t0: Instant, seqs: &[u16]) {
        for &seq in seqs {
            // Packets arrive on time: arrival follows the timestamp exactly.
            stats.record(1, seq, seq as u32 * 160, t0 + FRAME * seq as u32, true);
        }
    }

    #[test]
    fn counts_losses_from_gaps() {
        let mut s = ReceiveStats::new(8000);
        let t0 = Instant::now();
        let seqs: Vec<u16> = (1..=20)
            .filter(|s| *s != 5 && *s != 9 && *s != 10)
            .collect();
        feed(&mut s, t0, &seqs);
        // Probation uses the first packet; expected counts from the second.
        assert_eq!(s.expected(), 19);
        assert_eq!(s.cumulative_lost(), 3);
        assert_eq!(s.extended_highest_seq(), Some(20));
        let rb = s.report_block(t0).unwrap();
        assert_eq!(rb.cumulative_lost, 3);
        assert_eq!(rb.fraction_lost, (3 * 256 / 19) as u8);
        // Next interval with no loss reports zero fraction.
        feed(&mut s, t0, &[21, 22, 23]);
        assert_eq!(s.report_block(t0).unwrap().fraction_lost, 0);
    }

    #[test]
    fn reordering_is_not_loss() {
        let mut s = ReceiveStats::new(8000);
        let t0 = Instant::now();
        feed(&mut s, t0, &[1, 2, 3, 5, 4, 6, 8, 7, 9]);
        assert_eq!(s.cumulative_lost(), 0);
        assert_eq!(s.extended_highest_seq(), Some(9));
    }

    #[test]
    fn duplicates_make_loss_negative() {
        let mut s = ReceiveStats::new(8000);
        let t0 = Instant::now();
        feed(&mut s, t0, &[1, 2, 3, 3, 4]);
        assert_eq!(s.cumulative_lost(), -1);
    }

    #[test]
    fn sequence_wrap_counts_a_cycle() {
        let mut s = ReceiveStats::new(8000);
        let t0 = Instant::now();
        for (i, seq) in [65533u16, 65534, 65535, 0, 1].into_iter().enumerate() {
            s.record(1, seq, i as u32 * 160, t0 + FRAME * i as u32, true);
        }
        assert_eq!(s.extended_highest_seq(), Some(65536 + 1));
        assert_eq!(s.cumulative_lost(), 0);
    }

    #[test]
    fn a_large_jump_is_believed_only_when_confirmed() {
        let mut s = ReceiveStats::new(8000);
        let t0 = Instant::now();
        feed(&mut s, t0, &[1, 2, 3]);
        s.record(1, 20000, 0, t0, true);
        assert_eq!(s.extended_highest_seq(), Some(3));
        s.record(1, 20001, 160, t0, true);
        assert_eq!(s.extended_highest_seq(), Some(20001));
        assert_eq!(s.cumulative_lost(), 0);
    }

    #[test]
    fn a_new_ssrc_keeps_earlier_losses() {
        let mut s = ReceiveStats::new(8000);
        let t0 = Instant::now();
        feed(&mut s, t0, &[1, 2, 4]);
        assert_eq!(s.cumulative_lost(), 1);
        for seq in [100u16, 101, 103] {
            s.record(2, seq, seq as u32 * 160, t0 + FRAME * seq as u32, true);
        }
        assert_eq!(s.ssrc(), Some(2));
        assert_eq!(s.cumulative_lost(), 2);
    }

    #[test]
    fn jitter_is_zero_for_perfect_timing_and_tracks_variation() {
        let mut s = ReceiveStats::new(8000);
        let t0 = Instant::now();
        feed(&mut s, t0, &(1..50).collect::<Vec<_>>());
        assert_eq!(s.jitter(), 0);
        // Alternate packets arrive 10 ms late: |D| = 80 units each time, J converges to 80.
        let mut s = ReceiveStats::new(8000);
        for seq in 1..400u16 {
            let late = if seq % 2 == 0 {
                Duration::from_millis(10)
            } else {
                Duration::ZERO
            };
            s.record(
                1,
                seq,
                seq as u32 * 160,
                t0 + FRAME * seq as u32 + late,
                true,
            );
        }
        assert!((s.jitter() as i64 - 80).abs() <= 2, "jitter {}", s.jitter());
        assert!((s.jitter_ms() - 10.0).abs() < 0.3, "{}", s.jitter_ms());
    }

    #[test]
    fn report_block_carries_lsr_and_dlsr() {
        let mut s = ReceiveStats::new(8000);
        let t0 = Instant::now();
        feed(&mut s, t0, &[1, 2]);
        let ntp = NtpTime(0x0000_1234_5678_0000);
        s.record_sender_report(ntp, t0);
        let rb = s.report_block(t0 + Duration::from_millis(500)).unwrap();
        assert_eq!(rb.last_sr, 0x1234_5678);
        assert_eq!(rb.delay_since_last_sr, 32768);
    }
}
