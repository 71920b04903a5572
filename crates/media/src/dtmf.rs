//! DTMF as RFC 4733 telephone-events: the 4-byte payload, a sans-IO [`DtmfSender`] that
//! turns digits into packets one 20 ms tick at a time, a [`DtmfReceiver`] that turns
//! received packets back into digits exactly once per event, and [`tone_frame`] for the
//! in-band dual tone when a remote did not negotiate telephone-event.
//!
//! Ours: the payload is 4 bytes and the state machines are what matters, and they have to
//! share sequence numbers and timestamps with the audio of the same stream
//! ([`TxContext`]), which a generic crate cannot know about.

use std::collections::VecDeque;
use std::f64::consts::TAU;
use std::fmt;
use std::time::Duration;

use thiserror::Error;

use crate::g711::{CLOCK_RATE, FRAME_SAMPLES};
use crate::rtp::TxContext;
use crate::tone::dbm0_to_amplitude;

/// Digits queued at most per sender; a longer string is refused rather than buffered.
pub const MAX_QUEUED_DIGITS: usize = 64;

/// Why digits could not be sent.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DtmfError {
    /// A character that is not one of 0-9 * # A-D.
    #[error("invalid DTMF digit {digit:?} at position {position}: allowed are 0-9 * # A-D")]
    InvalidDigit {
        /// The character.
        digit: char,
        /// Its index in the string.
        position: usize,
    },
    /// More than [`MAX_QUEUED_DIGITS`] would be pending.
    #[error(
        "too many DTMF digits pending: {pending} queued, {adding} more, limit {MAX_QUEUED_DIGITS}"
    )]
    QueueFull {
        /// Already queued.
        pending: usize,
        /// Being added.
        adding: usize,
    },
}

/// A DTMF key: 0-9, *, #, A-D (RFC 4733 events 0-15).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtmfDigit(u8);

impl DtmfDigit {
    /// The digit for a key character (case-insensitive for A-D).
    pub fn from_char(c: char) -> Option<Self> {
        let code = match c {
            '0'..='9' => c as u8 - b'0',
            '*' => 10,
            '#' => 11,
            'A'..='D' => c as u8 - b'A' + 12,
            'a'..='d' => c as u8 - b'a' + 12,
            _ => return None,
        };
        Some(DtmfDigit(code))
    }

    /// The digit for an RFC 4733 event code, if it is 0-15.
    pub fn from_event(code: u8) -> Option<Self> {
        (code <= 15).then_some(DtmfDigit(code))
    }

    /// The RFC 4733 event code.
    pub fn event(self) -> u8 {
        self.0
    }

    /// The key character.
    pub fn to_char(self) -> char {
        b"0123456789*#ABCD"[self.0 as usize] as char
    }

    /// Parses a whole string of keys.
    pub fn parse_str(s: &str) -> Result<Vec<DtmfDigit>, DtmfError> {
        s.chars()
            .enumerate()
            .map(|(position, digit)| {
                Self::from_char(digit).ok_or(DtmfError::InvalidDigit { digit, position })
            })
            .collect()
    }

    /// Low and high frequencies of the in-band tone (Q.23).
    pub fn frequencies(self) -> (f64, f64) {
        const LOW: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
        const HIGH: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
        // Keypad position (row, column) of each event code.
        let (row, col) = match self.0 {
            1 => (0, 0),
            2 => (0, 1),
            3 => (0, 2),
            12 => (0, 3),
            4 => (1, 0),
            5 => (1, 1),
            6 => (1, 2),
            13 => (1, 3),
            7 => (2, 0),
            8 => (2, 1),
            9 => (2, 2),
            14 => (2, 3),
            10 => (3, 0),
            0 => (3, 1),
            11 => (3, 2),
            _ => (3, 3), // 15 = D
        };
        (LOW[row], HIGH[col])
    }
}

impl fmt::Debug for DtmfDigit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DtmfDigit({:?})", self.to_char())
    }
}

impl fmt::Display for DtmfDigit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_char())
    }
}

/// The RFC 4733 §2.3 telephone-event payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0-15 for DTMF).
    pub event: u8,
    /// E bit: this packet ends the event.
    pub end: bool,
    /// Power level as -dBm0, 0-63.
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Encodes the 4-byte payload (the reserved bit is sent as zero).
    pub fn encode(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            if self.end { 0x80 } else { 0 } | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }

    /// Decodes the payload; None when shorter than 4 bytes. Extra bytes (RFC 4733 allows
    /// redundant events via RFC 2198 only) are ignored.
    pub fn decode(payload: &[u8]) -> Option<Self> {
        let p = payload.get(..4)?;
        Some(TelephoneEvent {
            event: p[0],
            end: p[1] & 0x80 != 0,
            volume: p[1] & 0x3F,
            duration: u16::from_be_bytes([p[2], p[3]]),
        })
    }
}

/// Timing of generated digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtmfTiming {
    /// How long each digit sounds (rounded up to 20 ms; at most 5 s).
    pub tone: Duration,
    /// Silence between digits, after the end packets (rounded up to 20 ms).
    pub gap: Duration,
    /// Volume in -dBm0 reported in the packets.
    pub volume: u8,
}

impl Default for DtmfTiming {
    /// 100 ms tones and 100 ms gaps: comfortably above the Q.24 minimum of 40 ms each.
    fn default() -> Self {
        DtmfTiming {
            tone: Duration::from_millis(100),
            gap: Duration::from_millis(100),
            volume: 10,
        }
    }
}

const END_PACKETS: u8 = 3;

#[derive(Clone, Copy, Debug)]
enum SendState {
    Idle,
    /// Sending updates: `duration` samples covered after this tick.
    Tone {
        digit: DtmfDigit,
        start_ts: u32,
        duration: u32,
    },
    /// Sending the end packet, `left` more times.
    Ending {
        digit: DtmfDigit,
        start_ts: u32,
        duration: u16,
        left: u8,
    },
    /// Quiet ticks left before the next digit.
    Gap {
        left: u32,
    },
}

/// Turns digits into RFC 4733 packets, one 20 ms tick at a time (sans-IO).
///
/// Each tick the owner calls [`tick`](Self::tick) with the stream's [`TxContext`], whose
/// `timestamp` is the current slot's. The first packet of an event carries the marker bit;
/// every packet of an event carries the event's start timestamp and the duration so far;
/// the end packet is sent three times (RFC 4733 §2.5.1.4), each with a new sequence number;
/// then the sender stays quiet for the gap before the next digit.
#[derive(Clone, Debug)]
pub struct DtmfSender {
    payload_type: u8,
    tone_samples: u32,
    gap_ticks: u32,
    volume: u8,
    queue: VecDeque<DtmfDigit>,
    state: SendState,
}

impl DtmfSender {
    /// A sender for the negotiated telephone-event payload type at 8 kHz.
    pub fn new(payload_type: u8, timing: DtmfTiming) -> Self {
        let frame_ms = 1000 * FRAME_SAMPLES as u128 / CLOCK_RATE as u128;
        let ticks = |d: Duration| d.as_millis().div_ceil(frame_ms) as u32;
        let tone_ticks = ticks(timing.tone).clamp(1, 250);
        DtmfSender {
            payload_type,
            tone_samples: tone_ticks * FRAME_SAMPLES as u32,
            gap_ticks: ticks(timing.gap),
            volume: timing.volume.min(63),
            queue: VecDeque::new(),
            state: SendState::Idle,
        }
    }

    /// The payload type the packets use.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Changes the payload type (the remote re-negotiated it) for the packets still to come.
    pub fn set_payload_type(&mut self, payload_type: u8) {
        self.payload_type = payload_type;
    }

    /// Queues digits; all or none are queued.
    pub fn push(&mut self, digits: &[DtmfDigit]) -> Result<(), DtmfError> {
        if self.queue.len() + digits.len() > MAX_QUEUED_DIGITS {
            return Err(DtmfError::QueueFull {
                pending: self.queue.len(),
                adding: digits.len(),
            });
        }
        self.queue.extend(digits);
        Ok(())
    }

    /// Parses and queues a string of keys.
    pub fn push_str(&mut self, digits: &str) -> Result<(), DtmfError> {
        let parsed = DtmfDigit::parse_str(digits)?;
        self.push(&parsed)
    }

    /// True when nothing is queued or in progress (gaps included).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, SendState::Idle) && self.queue.is_empty()
    }

    /// True when the next [`tick`](Self::tick) sends an event packet (so audio must not be
    /// sent in that slot).
    pub fn is_sending_event(&self) -> bool {
        match self.state {
            SendState::Tone { .. } | SendState::Ending { .. } => true,
            SendState::Gap { left } => left == 0 && !self.queue.is_empty(),
            SendState::Idle => !self.queue.is_empty(),
        }
    }

    /// Advances one tick in which [`is_sending_event`](Self::is_sending_event) is false,
    /// without a context: counts down the inter-digit gap.
    pub fn skip_tick(&mut self) {
        match self.state {
            SendState::Gap { left } if left > 0 => self.state = SendState::Gap { left: left - 1 },
            SendState::Gap { .. } => self.state = SendState::Idle,
            _ => {}
        }
    }

    /// Drops queued digits (the event on the wire, if any, still completes).
    pub fn clear_queue(&mut self) {
        self.queue.clear();
    }

    /// Advances one 20 ms tick. Appends the packet to send, if any, to `out` and returns
    /// true; false means this slot is free for audio (or nothing).
    pub fn tick(&mut self, ctx: &mut TxContext, out: &mut Vec<u8>) -> bool {
        loop {
            match self.state {
                SendState::Idle => {
                    let Some(digit) = self.queue.pop_front() else {
                        return false;
                    };
                    self.state = SendState::Tone {
                        digit,
                        start_ts: ctx.timestamp,
                        duration: 0,
                    };
                }
                SendState::Tone {
                    digit,
                    start_ts,
                    duration,
                } => {
                    let first = duration == 0;
                    let duration = duration + FRAME_SAMPLES as u32;
                    let end = duration >= self.tone_samples;
                    let event = TelephoneEvent {
                        event: digit.event(),
                        end,
                        volume: self.volume,
                        duration: duration.min(u16::MAX as u32) as u16,
                    };
                    ctx.write(out, self.payload_type, first, start_ts, &event.encode());
                    self.state = if end {
                        SendState::Ending {
                            digit,
                            start_ts,
                            duration: event.duration,
                            left: END_PACKETS - 1,
                        }
                    } else {
                        SendState::Tone {
                            digit,
                            start_ts,
                            duration,
                        }
                    };
                    return true;
                }
                SendState::Ending {
                    digit,
                    start_ts,
                    duration,
                    left,
                } => {
                    let event = TelephoneEvent {
                        event: digit.event(),
                        end: true,
                        volume: self.volume,
                        duration,
                    };
                    ctx.write(out, self.payload_type, false, start_ts, &event.encode());
                    self.state = if left > 1 {
                        SendState::Ending {
                            digit,
                            start_ts,
                            duration,
                            left: left - 1,
                        }
                    } else {
                        SendState::Gap {
                            left: self.gap_ticks,
                        }
                    };
                    return true;
                }
                SendState::Gap { left } => {
                    if left == 0 {
                        self.state = SendState::Idle;
                        continue;
                    }
                    self.state = SendState::Gap { left: left - 1 };
                    return false;
                }
            }
        }
    }
}

/// Turns received telephone-event packets into digits, once per event (sans-IO).
///
/// An event is identified by its RTP timestamp (RFC 4733 §2.5.2): the digit is reported on
/// the first packet seen for a new timestamp, whichever it is — so a lost start packet or a
/// lone end packet still yields the digit, and repeated updates or end packets do not
/// yield it twice. Late packets of an older event are ignored.
#[derive(Clone, Debug, Default)]
pub struct DtmfReceiver {
    last: Option<(u32, u32, u8)>, // (ssrc, timestamp, event)
}

impl DtmfReceiver {
    /// A receiver that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one telephone-event packet; returns the digit when it starts a new event.
    pub fn on_packet(&mut self, ssrc: u32, timestamp: u32, payload: &[u8]) -> Option<DtmfDigit> {
        let event = TelephoneEvent::decode(payload)?;
        if let Some((last_ssrc, last_ts, last_event)) = self.last {
            if last_ssrc == ssrc {
                if last_ts == timestamp && last_event == event.event {
                    return None;
                }
                // Older than the current event (wrapping compare): a straggler.
                if timestamp.wrapping_sub(last_ts) >= 0x8000_0000 {
                    return None;
                }
            }
        }
        self.last = Some((ssrc, timestamp, event.event));
        DtmfDigit::from_event(event.event)
    }
}

/// One 20 ms frame of the in-band dual tone for `digit` (low group at -10 dBm0, high group
/// at -8 dBm0, a typical twist). `frame_index` counts frames since the digit started, so
/// consecutive frames join without a phase jump.
pub fn tone_frame(digit: DtmfDigit, frame_index: u32) -> [i16; FRAME_SAMPLES] {
    let (low, high) = digit.frequencies();
    let (al, ah) = (dbm0_to_amplitude(-10.0), dbm0_to_amplitude(-8.0));
    let mut out = [0i16; FRAME_SAMPLES];
    let base = frame_index as u64 * FRAME_SAMPLES as u64;
    for (i, o) in out.iter_mut().enumerate() {
        let t = (base + i as u64) as f64 / CLOCK_RATE as f64;
        *o = (al * (TAU * low * t).sin() + ah * (TAU * high * t).sin()).round() as i16;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel::goertzel;
    use crate::rtp::RtpPacket;

    #[test]
    fn digits_map_to_rfc4733_event_codes() {
        let codes: Vec<u8> = DtmfDigit::parse_str("0123456789*#ABCD")
            .unwrap()
            .iter()
            .map(|d| d.event())
            .collect();
        assert_eq!(codes, (0..16).collect::<Vec<u8>>());
        assert_eq!(DtmfDigit::from_char('d').unwrap().to_char(), 'D');
        assert_eq!(
            DtmfDigit::parse_str("12x"),
            Err(DtmfError::InvalidDigit {
                digit: 'x',
                position: 2
            })
        );
        assert_eq!(DtmfDigit::from_event(16), None);
    }

    #[test]
    fn payload_encodes_per_rfc4733() {
        let e = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 800,
        };
        assert_eq!(e.encode(), [11, 0x8A, 0x03, 0x20]);
        assert_eq!(TelephoneEvent::decode(&e.encode()), Some(e));
        assert_eq!(TelephoneEvent::decode(&[1, 2, 3]), None);
        // The reserved bit is ignored on receipt.
        assert_eq!(
            TelephoneEvent::decode(&[5, 0x4A, 0, 160]).unwrap().volume,
            10
        );
    }

    /// Runs the sender until idle, advancing the slot clock like a stream does.
    fn run(sender: &mut DtmfSender, ctx: &mut TxContext) -> Vec<(u32, Vec<u8>)> {
        let mut packets = Vec::new();
        for tick in 0..1000u32 {
            let mut out = Vec::new();
            if sender.tick(ctx, &mut out) {
                packets.push((tick, out));
            }
            ctx.timestamp = ctx.timestamp.wrapping_add(160);
            if sender.is_idle() {
                break;
            }
        }
        packets
    }

    #[test]
    fn sender_emits_marker_same_timestamp_growing_duration_and_three_ends() {
        let mut sender = DtmfSender::new(96, DtmfTiming::default());
        sender.push_str("5").unwrap();
        let mut ctx = TxContext::new(0xABCD, 100, 1_000);
        let packets = run(&mut sender, &mut ctx);
        assert_eq!(packets.len(), 5 + 2);
        let parsed: Vec<_> = packets
            .iter()
            .map(|(_, b)| RtpPacket::parse(b).unwrap())
            .collect();
        for (i, p) in parsed.iter().enumerate() {
            assert_eq!(p.header.payload_type, 96);
            assert_eq!(p.header.ssrc, 0xABCD);
            assert_eq!(p.header.timestamp, 1_000);
            assert_eq!(p.header.sequence, 100 + i as u16);
            assert_eq!(p.header.marker, i == 0);
            let ev = TelephoneEvent::decode(p.payload).unwrap();
            assert_eq!(ev.event, 5);
            assert_eq!(ev.duration as usize, 160 * (i + 1).min(5));
            assert_eq!(ev.end, i >= 4);
        }
        // Packets are on consecutive ticks; then a 100 ms (5-tick) gap before idle.
        assert_eq!(
            packets.iter().map(|p| p.0).collect::<Vec<_>>(),
            (0..7).collect::<Vec<_>>()
        );
        assert_eq!(ctx.seq, 107);
    }

    #[test]
    fn consecutive_digits_are_separated_by_the_gap_and_get_new_timestamps() {
        let timing = DtmfTiming {
            tone: Duration::from_millis(60),
            gap: Duration::from_millis(40),
            volume: 63,
        };
        let mut sender = DtmfSender::new(101, timing);
        sender.push_str("1#").unwrap();
        assert!(sender.is_sending_event());
        let mut ctx = TxContext::new(1, 0, 0);
        let packets = run(&mut sender, &mut ctx);
        let ticks: Vec<u32> = packets.iter().map(|p| p.0).collect();
        // 3 updates (last one ends) + 2 repeats, 2 quiet ticks, then the same again.
        assert_eq!(ticks, vec![0, 1, 2, 3, 4, 7, 8, 9, 10, 11]);
        let second = RtpPacket::parse(&packets[5].1).unwrap();
        assert!(second.header.marker);
        assert_eq!(second.header.timestamp, 7 * 160);
        assert_eq!(TelephoneEvent::decode(second.payload).unwrap().event, 11);
    }

    #[test]
    fn skipped_ticks_count_down_the_gap() {
        let timing = DtmfTiming {
            tone: Duration::from_millis(20),
            gap: Duration::from_millis(40),
            volume: 10,
        };
        let mut sender = DtmfSender::new(101, timing);
        sender.push_str("12").unwrap();
        let mut ctx = TxContext::new(1, 0, 0);
        let mut out = Vec::new();
        for _ in 0..3 {
            assert!(sender.is_sending_event());
            assert!(sender.tick(&mut ctx, &mut out));
        }
        assert!(!sender.is_sending_event());
        sender.skip_tick();
        assert!(!sender.is_sending_event());
        sender.skip_tick();
        assert!(sender.is_sending_event(), "gap over, next digit due");
        out.clear();
        assert!(sender.tick(&mut ctx, &mut out));
        let p = RtpPacket::parse(&out).unwrap();
        assert!(p.header.marker);
        assert_eq!(TelephoneEvent::decode(p.payload).unwrap().event, 2);
    }

    #[test]
    fn sender_refuses_to_queue_without_limit() {
        let mut sender = DtmfSender::new(101, DtmfTiming::default());
        sender.push_str(&"1".repeat(MAX_QUEUED_DIGITS)).unwrap();
        assert!(matches!(
            sender.push_str("2"),
            Err(DtmfError::QueueFull { pending: 64, .. })
        ));
    }

    #[test]
    fn receiver_reports_each_event_once() {
        let mut sender = DtmfSender::new(101, DtmfTiming::default());
        sender.push_str("12").unwrap();
        let mut ctx = TxContext::new(7, 0, 0);
        let packets = run(&mut sender, &mut ctx);
        let mut rx = DtmfReceiver::new();
        let digits: String = packets
            .iter()
            .filter_map(|(_, b)| {
                let p = RtpPacket::parse(b).unwrap();
                rx.on_packet(p.header.ssrc, p.header.timestamp, p.payload)
            })
            .map(|d| d.to_char())
            .collect();
        assert_eq!(digits, "12");
    }

    #[test]
    fn receiver_survives_lost_start_and_late_packets() {
        let mut rx = DtmfReceiver::new();
        let pkt = |event, end, duration| {
            TelephoneEvent {
                event,
                end,
                volume: 10,
                duration,
            }
            .encode()
        };
        // Start and first updates of '3' lost; only the end packets arrive.
        assert_eq!(
            rx.on_packet(1, 800, &pkt(3, true, 800)),
            DtmfDigit::from_char('3')
        );
        assert_eq!(rx.on_packet(1, 800, &pkt(3, true, 800)), None);
        // A late update of an older event is ignored.
        assert_eq!(rx.on_packet(1, 0, &pkt(9, false, 320)), None);
        // The same digit again is a new event with a new timestamp.
        assert_eq!(
            rx.on_packet(1, 2400, &pkt(3, false, 160)),
            DtmfDigit::from_char('3')
        );
        // A new SSRC starts afresh even with an older timestamp.
        assert_eq!(
            rx.on_packet(2, 100, &pkt(4, false, 160)),
            DtmfDigit::from_char('4')
        );
        // Non-DTMF events (flash = 16) and short payloads yield nothing.
        assert_eq!(rx.on_packet(2, 5000, &pkt(16, false, 160)), None);
        assert_eq!(rx.on_packet(2, 6000, &[1, 2]), None);
    }

    #[test]
    fn tone_frames_carry_the_two_keypad_frequencies() {
        for c in "0123456789*#ABCD".chars() {
            let d = DtmfDigit::from_char(c).unwrap();
            let audio: Vec<i16> = (0..5).flat_map(|i| tone_frame(d, i)).collect();
            let (low, high) = d.frequencies();
            assert!(goertzel(&audio, low, 8000) > 5000.0, "{c} low");
            assert!(goertzel(&audio, high, 8000) > 6000.0, "{c} high");
            for other in [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0] {
                if other != low && other != high {
                    assert!(goertzel(&audio, other, 8000) < 600.0, "{c} stray {other}");
                }
            }
        }
    }
}
