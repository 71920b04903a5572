//! RTCP (RFC 3550 §6): read the parts of compound packets a call needs — sender and
//! receiver reports, SDES, BYE — and write a sender or receiver report with one report
//! block, an SDES CNAME and a BYE. [`demux`] tells RTP from RTCP on a muxed port (RFC 5761).
//!
//! Ours rather than a crate's for the same reason as [`crate::rtp`]: a small, allocation-free
//! parser that never panics on what the network sends, with views instead of copies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;

/// Packet type of a sender report.
pub const PT_SR: u8 = 200;
/// Packet type of a receiver report.
pub const PT_RR: u8 = 201;
/// Packet type of source description.
pub const PT_SDES: u8 = 202;
/// Packet type of goodbye.
pub const PT_BYE: u8 = 203;
/// Packet type of application-defined packets.
pub const PT_APP: u8 = 204;

const SENDER_INFO_LEN: usize = 20;
const REPORT_BLOCK_LEN: usize = 24;

/// Why a datagram is not valid RTCP.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum RtcpError {
    /// Fewer than 4 bytes where a packet header should start.
    #[error("RTCP packet truncated at offset {offset}: {remaining} bytes left, a header needs 4")]
    Truncated {
        /// Offset of the packet in the compound.
        offset: usize,
        /// Bytes left.
        remaining: usize,
    },
    /// The version field is not 2.
    #[error("RTCP version {version} at offset {offset}, expected 2")]
    BadVersion {
        /// Offset of the packet in the compound.
        offset: usize,
        /// Version found.
        version: u8,
    },
    /// The length field points past the end of the datagram.
    #[error("RTCP packet at offset {offset} claims {claimed} bytes, only {remaining} left")]
    LengthOverrun {
        /// Offset of the packet in the compound.
        offset: usize,
        /// Bytes the length field claims.
        claimed: usize,
        /// Bytes left.
        remaining: usize,
    },
    /// The body is too short for what the count field announces.
    #[error("RTCP packet type {packet_type} with count {count} needs more than its {len} bytes")]
    CountOverrun {
        /// Packet type.
        packet_type: u8,
        /// RC/SC field.
        count: u8,
        /// Body length.
        len: usize,
    },
    /// Padding count is zero or exceeds the packet.
    #[error("RTCP padding invalid at offset {offset}")]
    BadPadding {
        /// Offset of the packet in the compound.
        offset: usize,
    },
    /// Not an RTCP packet type (RFC 5761: 192..=223).
    #[error("packet type {0} is not RTCP")]
    NotRtcp(u8),
}

/// What a datagram on a possibly muxed RTP/RTCP port is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Demux {
    /// RTP (version 2, payload type outside the RTCP range).
    Rtp,
    /// RTCP (version 2, second byte 192..=223).
    Rtcp,
    /// Neither: STUN, DTLS or garbage.
    Other,
}

/// Classifies a datagram per RFC 5761 §4: version 2, and the second byte (marker + PT for
/// RTP, packet type for RTCP) in 192..=223 means RTCP, which is why RTP must not use
/// payload types 64..=95.
pub fn demux(buf: &[u8]) -> Demux {
    if buf.len() < 2 || buf[0] >> 6 != 2 {
        return Demux::Other;
    }
    if (192..=223).contains(&buf[1]) {
        Demux::Rtcp
    } else {
        Demux::Rtp
    }
}

/// True when [`demux`] says RTCP.
pub fn is_rtcp(buf: &[u8]) -> bool {
    demux(buf) == Demux::Rtcp
}

/// A 64-bit NTP timestamp (seconds since 1900 in the high word, fraction in the low word).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct NtpTime(pub u64);

impl NtpTime {
    const UNIX_OFFSET: u64 = 2_208_988_800;

    /// Converts wall-clock time.
    pub fn from_system_time(t: SystemTime) -> Self {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let secs = d.as_secs() + Self::UNIX_OFFSET;
        let frac = ((d.subsec_nanos() as u64) << 32) / 1_000_000_000;
        NtpTime((secs << 32) | frac)
    }

    /// The current wall-clock time.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// The middle 32 bits, as echoed in a report block's LSR field.
    pub fn middle32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// The sender information of an SR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderInfo {
    /// Wall-clock time of the report.
    pub ntp: NtpTime,
    /// The RTP timestamp corresponding to `ntp`.
    pub rtp_timestamp: u32,
    /// Packets sent since the start.
    pub packet_count: u32,
    /// Payload octets sent since the start.
    pub octet_count: u32,
}

/// One reception report block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed; duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the high 16 bits).
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP time (0 if none).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn parse(b: &[u8]) -> ReportBlock {
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let lost = u32::from_be_bytes([0, b[5], b[6], b[7]]);
        // Sign-extend the 24-bit field.
        let cumulative_lost = ((lost << 8) as i32) >> 8;
        ReportBlock {
            ssrc: word(0),
            fraction_lost: b[4],
            cumulative_lost,
            highest_seq: word(8),
            jitter: word(12),
            last_sr: word(16),
            delay_since_last_sr: word(20),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.push(self.fraction_lost);
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32;
        out.extend_from_slice(&lost.to_be_bytes()[1..]);
        out.extend_from_slice(&self.highest_seq.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.last_sr.to_be_bytes());
        out.extend_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }
}

/// The report blocks of an SR or RR, read lazily.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportBlocks<'a> {
    data: &'a [u8],
}

impl<'a> ReportBlocks<'a> {
    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.data.len() / REPORT_BLOCK_LEN
    }

    /// True when the report has no blocks.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The blocks in packet order.
    pub fn iter(&self) -> impl Iterator<Item = ReportBlock> + 'a {
        self.data
            .chunks_exact(REPORT_BLOCK_LEN)
            .map(ReportBlock::parse)
    }
}

/// A sender report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// SSRC of the sender.
    pub ssrc: u32,
    /// Its sender information.
    pub info: SenderInfo,
    /// What it received.
    pub reports: ReportBlocks<'a>,
}

/// A receiver report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    /// SSRC of the reporter.
    pub ssrc: u32,
    /// What it received.
    pub reports: ReportBlocks<'a>,
}

/// A goodbye: these sources are leaving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bye<'a> {
    sources: &'a [u8],
    /// Optional reason text (not necessarily UTF-8).
    pub reason: Option<&'a [u8]>,
}

impl Bye<'_> {
    /// The SSRCs leaving.
    pub fn sources(&self) -> impl Iterator<Item = u32> + '_ {
        self.sources
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }
}

/// One packet of a compound RTCP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// SR (200).
    SenderReport(SenderReport<'a>),
    /// RR (201).
    ReceiverReport(ReceiverReport<'a>),
    /// BYE (203).
    Bye(Bye<'a>),
    /// Anything else (SDES, APP, feedback, XR): the type, count and body without padding.
    Other {
        /// Packet type.
        packet_type: u8,
        /// The 5-bit count field.
        count: u8,
        /// Body after the 4-byte header.
        body: &'a [u8],
    },
}

/// One packet of a compound, with where it sits in the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawPacket<'a> {
    /// The whole packet including header and padding.
    pub bytes: &'a [u8],
    /// Packet type.
    pub packet_type: u8,
    /// The 5-bit count field.
    pub count: u8,
    /// Body after the header, padding removed.
    pub body: &'a [u8],
}

impl<'a> RawPacket<'a> {
    /// Interprets the body.
    pub fn parse(&self) -> Result<RtcpPacket<'a>, RtcpError> {
        let (pt, count, body) = (self.packet_type, self.count, self.body);
        let overrun = || RtcpError::CountOverrun {
            packet_type: pt,
            count,
            len: body.len(),
        };
        let word = |i: usize| u32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
        match pt {
            PT_SR => {
                let need = 4 + SENDER_INFO_LEN + count as usize * REPORT_BLOCK_LEN;
                if body.len() < need {
                    return Err(overrun());
                }
                let ntp = ((word(4) as u64) << 32) | word(8) as u64;
                Ok(RtcpPacket::SenderReport(SenderReport {
                    ssrc: word(0),
                    info: SenderInfo {
                        ntp: NtpTime(ntp),
                        rtp_timestamp: word(12),
                        packet_count: word(16),
                        octet_count: word(20),
                    },
                    reports: ReportBlocks {
                        data: &body[4 + SENDER_INFO_LEN..need],
                    },
                }))
            }
            PT_RR => {
                let need = 4 + count as usize * REPORT_BLOCK_LEN;
                if body.len() < need {
                    return Err(overrun());
                }
                Ok(RtcpPacket::ReceiverReport(ReceiverReport {
                    ssrc: word(0),
                    reports: ReportBlocks {
                        data: &body[4..need],
                    },
                }))
            }
            PT_BYE => {
                let n = count as usize * 4;
                if body.len() < n {
                    return Err(overrun());
                }
                let reason = match body.get(n) {
                    Some(&len) => Some(body.get(n + 1..n + 1 + len as usize).ok_or_else(overrun)?),
                    None => None,
                };
                Ok(RtcpPacket::Bye(Bye {
                    sources: &body[..n],
                    reason,
                }))
            }
            _ => Ok(RtcpPacket::Other {
                packet_type: pt,
                count,
                body,
            }),
        }
    }
}

/// Iterates over the packets of a compound datagram. Stops after the first error.
#[derive(Clone, Debug)]
pub struct Compound<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

/// Splits a compound RTCP datagram into its packets (headers checked, bodies not yet read).
pub fn compound(buf: &[u8]) -> Compound<'_> {
    Compound {
        buf,
        pos: 0,
        failed: false,
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<RawPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let offset = self.pos;
        let rest = &self.buf[offset..];
        let result = (|| {
            if rest.len() < 4 {
                return Err(RtcpError::Truncated {
                    offset,
                    remaining: rest.len(),
                });
            }
            let version = rest[0] >> 6;
            if version != 2 {
                return Err(RtcpError::BadVersion { offset, version });
            }
            let packet_type = rest[1];
            if !(192..=223).contains(&packet_type) {
                return Err(RtcpError::NotRtcp(packet_type));
            }
            let len = (u16::from_be_bytes([rest[2], rest[3]]) as usize + 1) * 4;
            if len > rest.len() {
                return Err(RtcpError::LengthOverrun {
                    offset,
                    claimed: len,
                    remaining: rest.len(),
                });
            }
            let bytes = &rest[..len];
            let mut end = len;
            if rest[0] & 0x20 != 0 {
                let pad = bytes[len - 1] as usize;
                if pad == 0 || pad > len - 4 {
                    return Err(RtcpError::BadPadding { offset });
                }
                end -= pad;
            }
            Ok(RawPacket {
                bytes,
                packet_type,
                count: rest[0] & 0x1F,
                body: &bytes[4..end],
            })
        })();
        match &result {
            Ok(p) => self.pos += p.bytes.len(),
            Err(_) => self.failed = true,
        }
        Some(result)
    }
}

/// Parses every packet of a compound datagram, failing on the first malformed one.
pub fn parse_compound(buf: &[u8]) -> impl Iterator<Item = Result<RtcpPacket<'_>, RtcpError>> {
    compound(buf).map(|raw| raw.and_then(|r| r.parse()))
}

fn write_header(out: &mut Vec<u8>, count: u8, packet_type: u8, body_len: usize) {
    debug_assert!(body_len & 3 == 0, "RTCP bodies are whole words");
    out.push(0x80 | (count & 0x1F));
    out.push(packet_type);
    out.extend_from_slice(&((body_len / 4) as u16).to_be_bytes());
}

/// Appends a sender report with at most one report block.
pub fn write_sender_report(
    out: &mut Vec<u8>,
    ssrc: u32,
    info: &SenderInfo,
    block: Option<&ReportBlock>,
) {
    let blocks = block.is_some() as u8;
    write_header(
        out,
        blocks,
        PT_SR,
        4 + SENDER_INFO_LEN + blocks as usize * REPORT_BLOCK_LEN,
    );
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&info.ntp.0.to_be_bytes());
    out.extend_from_slice(&info.rtp_timestamp.to_be_bytes());
    out.extend_from_slice(&info.packet_count.to_be_bytes());
    out.extend_from_slice(&info.octet_count.to_be_bytes());
    if let Some(b) = block {
        b.write(out);
    }
}

/// Appends a receiver report with at most one report block.
pub fn write_receiver_report(out: &mut Vec<u8>, ssrc: u32, block: Option<&ReportBlock>) {
    let blocks = block.is_some() as u8;
    write_header(out, blocks, PT_RR, 4 + blocks as usize * REPORT_BLOCK_LEN);
    out.extend_from_slice(&ssrc.to_be_bytes());
    if let Some(b) = block {
        b.write(out);
    }
}

/// Appends an SDES packet with one chunk carrying a CNAME (required in every compound).
/// The CNAME is cut to 255 bytes.
pub fn write_sdes_cname(out: &mut Vec<u8>, ssrc: u32, cname: &str) {
    let text = &cname.as_bytes()[..cname.len().min(255)];
    // ssrc + type + len + text + at least one null byte, padded to a word.
    let chunk = 4 + 2 + text.len();
    let padded = (chunk + 1).div_ceil(4) * 4;
    write_header(out, 1, PT_SDES, padded);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.push(1); // CNAME
    out.push(text.len() as u8);
    out.extend_from_slice(text);
    out.resize(out.len() + padded - chunk, 0);
}

/// Appends a BYE for the given sources (at most 31).
pub fn write_bye(out: &mut Vec<u8>, sources: &[u32]) {
    let sources = &sources[..sources.len().min(31)];
    write_header(out, sources.len() as u8, PT_BYE, 4 * sources.len());
    for s in sources {
        out.extend_from_slice(&s.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block() -> ReportBlock {
        ReportBlock {
            ssrc: 0xAABBCCDD,
            fraction_lost: 64,
            cumulative_lost: -3,
            highest_seq: 0x0001_0010,
            jitter: 77,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        }
    }

    #[test]
    fn demux_follows_rfc5761_ranges() {
        let mut rtp = Vec::new();
        crate::rtp::write_simple(&mut rtp, 0, true, 1, 2, 3, &[]);
        assert_eq!(demux(&rtp), Demux::Rtp); // 0x80: marker set, PT 0
        let mut rr = Vec::new();
        write_receiver_report(&mut rr, 1, None);
        assert_eq!(demux(&rr), Demux::Rtcp);
        assert!(is_rtcp(&[0x80, 223]));
        assert!(!is_rtcp(&[0x80, 224]));
        assert_eq!(demux(&[0x80, 191]), Demux::Rtp);
        assert_eq!(demux(&[0x00, 0x01, 0, 0]), Demux::Other); // STUN
        assert_eq!(demux(&[0x80]), Demux::Other);
    }

    #[test]
    fn sender_report_round_trips_with_one_block() {
        let info = SenderInfo {
            ntp: NtpTime(0x0102_0304_0506_0708),
            rtp_timestamp: 160,
            packet_count: 10,
            octet_count: 1600,
        };
        let mut buf = Vec::new();
        write_sender_report(&mut buf, 99, &info, Some(&block()));
        write_sdes_cname(&mut buf, 99, "viawork@example.com");
        let packets: Vec<_> = parse_compound(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(packets.len(), 2);
        let RtcpPacket::SenderReport(sr) = packets[0] else {
            panic!("not an SR: {:?}", packets[0]);
        };
        assert_eq!(sr.ssrc, 99);
        assert_eq!(sr.info, info);
        assert_eq!(sr.reports.iter().collect::<Vec<_>>(), vec![block()]);
        assert!(matches!(
            packets[1],
            RtcpPacket::Other {
                packet_type: PT_SDES,
                count: 1,
                ..
            }
        ));
    }

    #[test]
    fn receiver_report_and_bye_parse_from_a_compound() {
        let mut buf = Vec::new();
        write_receiver_report(&mut buf, 5, Some(&block()));
        write_bye(&mut buf, &[5, 6]);
        let packets: Vec<_> = parse_compound(&buf).collect::<Result<_, _>>().unwrap();
        let RtcpPacket::ReceiverReport(rr) = packets[0] else {
            panic!()
        };
        assert_eq!(rr.ssrc, 5);
        assert_eq!(rr.reports.len(), 1);
        assert_eq!(rr.reports.iter().next().unwrap().cumulative_lost, -3);
        let RtcpPacket::Bye(bye) = packets[1] else {
            panic!()
        };
        assert_eq!(bye.sources().collect::<Vec<_>>(), vec![5, 6]);
        assert_eq!(bye.reason, None);
    }

    #[test]
    fn bye_with_reason_and_padding_parses() {
        // BYE, SC=1, P bit, reason "gone", padded to a word boundary with 4 extra bytes.
        // Length field 4 = five 32-bit words.
        let buf = [
            0xA1, 203, 0, 4, 0, 0, 0, 9, 4, b'g', b'o', b'n', b'e', 0, 0, 0, 0, 0, 0, 4,
        ];
        let packets: Vec<_> = parse_compound(&buf).collect::<Result<_, _>>().unwrap();
        let RtcpPacket::Bye(bye) = packets[0] else {
            panic!()
        };
        assert_eq!(bye.sources().collect::<Vec<_>>(), vec![9]);
        assert_eq!(bye.reason, Some(&b"gone"[..]));
    }

    #[test]
    fn malformed_compounds_are_rejected_with_a_reason() {
        let mut buf = Vec::new();
        write_receiver_report(&mut buf, 5, Some(&block()));
        let mut truncated = buf.clone();
        truncated.truncate(20);
        assert!(matches!(
            parse_compound(&truncated).next(),
            Some(Err(RtcpError::LengthOverrun { offset: 0, .. }))
        ));
        let mut lying = buf.clone();
        lying[0] = 0x82; // claims two blocks
        assert!(matches!(
            parse_compound(&lying).next(),
            Some(Err(RtcpError::CountOverrun { count: 2, .. }))
        ));
        let mut v1 = buf.clone();
        v1[0] = 0x41;
        assert!(matches!(
            parse_compound(&v1).next(),
            Some(Err(RtcpError::BadVersion { version: 1, .. }))
        ));
        buf.extend_from_slice(&[0x80, 201]);
        let results: Vec<_> = parse_compound(&buf).collect();
        assert!(results[0].is_ok());
        assert!(matches!(
            results[1],
            Err(RtcpError::Truncated { offset: 32, .. })
        ));
    }

    #[test]
    fn ntp_time_converts_the_unix_epoch() {
        let t = NtpTime::from_system_time(UNIX_EPOCH + Duration::from_millis(1500));
        assert_eq!(t.0 >> 32, 2_208_988_801);
        assert_eq!(t.0 & 0xFFFF_FFFF, 1 << 31);
        assert_eq!(t.middle32(), ((2_208_988_801u64 << 16) as u32) | 0x8000);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for p in parse_compound(&bytes) {
                let _ = p;
            }
        }

        #[test]
        fn parsing_never_panics_on_plausible_headers(mut bytes in proptest::collection::vec(any::<u8>(), 4..200), pt in 200u8..=204) {
            bytes[0] = 0x80 | (bytes[0] & 0x3F);
            bytes[1] = pt;
            for p in parse_compound(&bytes) {
                let _ = p;
            }
        }
    }
}
