//! RTP packets (RFC 3550 §5.1): parse a datagram into header fields and a payload slice,
//! and write packets back out.
//!
//! Ours rather than a crate's: the relay touches every packet, and the few dozen lines here
//! parse without allocating, reject what is malformed with a reason, and never panic on
//! arbitrary input (a proptest checks it). [`TxContext`] is the sending half: the SSRC,
//! next sequence number and timestamp of a stream we originate.

use thiserror::Error;

/// Length of the fixed RTP header.
pub const HEADER_LEN: usize = 12;
/// The only RTP version there is.
pub const VERSION: u8 = 2;
/// At most 15 contributing sources fit the 4-bit CC field.
pub const MAX_CSRCS: usize = 15;

/// Why a datagram is not a valid RTP packet.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum RtpError {
    /// Shorter than the 12-byte fixed header.
    #[error("RTP packet too short: {len} bytes, the fixed header alone is 12")]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    /// The CSRC list runs past the end of the packet.
    #[error("RTP CSRC count {count} needs {needed} bytes, packet has {len}")]
    CsrcOverrun {
        /// CC field.
        count: usize,
        /// Bytes the header needs.
        needed: usize,
        /// Bytes received.
        len: usize,
    },
    /// The header extension runs past the end of the packet.
    #[error("RTP header extension of {words} words runs past the end of the packet")]
    ExtensionOverrun {
        /// Length field of the extension, in 32-bit words.
        words: usize,
    },
    /// The padding count is zero or larger than the payload.
    #[error("RTP padding count {count} is invalid for a {available}-byte payload")]
    BadPadding {
        /// Last byte of the packet.
        count: u8,
        /// Bytes after the header.
        available: usize,
    },
    /// A payload type above 127 cannot be written.
    #[error("RTP payload type {0} does not fit in 7 bits")]
    PayloadTypeOutOfRange(u8),
    /// Extension data must be a whole number of 32-bit words.
    #[error("RTP header extension data is {0} bytes, not a multiple of 4")]
    ExtensionNotAligned(usize),
}

/// Up to 15 contributing-source identifiers, stored inline.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Csrcs {
    len: u8,
    ids: [u32; MAX_CSRCS],
}

impl Csrcs {
    /// The identifiers, in packet order.
    pub fn as_slice(&self) -> &[u32] {
        &self.ids[..self.len as usize]
    }

    /// Appends one identifier; returns false when 15 are already there.
    pub fn push(&mut self, id: u32) -> bool {
        if (self.len as usize) < MAX_CSRCS {
            self.ids[self.len as usize] = id;
            self.len += 1;
            true
        } else {
            false
        }
    }

    /// Number of identifiers.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when there are none (the usual case for a phone call).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for Csrcs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// The fields of an RTP header that a receiver acts on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtpHeader {
    /// M bit: start of a talkspurt for audio, start of an event for telephone-event.
    pub marker: bool,
    /// 7-bit payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp in clock-rate units.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Contributing sources.
    pub csrcs: Csrcs,
}

/// A header extension (RFC 3550 §5.3.1): profile-defined 16 bits and whole words of data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension<'a> {
    /// The "defined by profile" field (0xBEDE for RFC 8285 one-byte headers).
    pub profile: u16,
    /// The extension data, a multiple of 4 bytes long.
    pub data: &'a [u8],
}

/// A parsed RTP packet borrowing from the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Header fields.
    pub header: RtpHeader,
    /// Header extension, when the X bit is set.
    pub extension: Option<Extension<'a>>,
    /// The payload, without padding.
    pub payload: &'a [u8],
    /// Padding bytes at the end including the count byte (0 when the P bit is clear).
    pub padding: u8,
}

impl<'a> RtpPacket<'a> {
    /// A packet with no extension and no padding.
    pub fn new(header: RtpHeader, payload: &'a [u8]) -> Self {
        RtpPacket {
            header,
            extension: None,
            payload,
            padding: 0,
        }
    }

    /// Parses a datagram. Never panics; every malformed input yields an [`RtpError`].
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        if buf.len() < HEADER_LEN {
            return Err(RtpError::TooShort { len: buf.len() });
        }
        let version = buf[0] >> 6;
        if version != VERSION {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = buf[0] & 0x20 != 0;
        let has_extension = buf[0] & 0x10 != 0;
        let count = (buf[0] & 0x0F) as usize;
        let mut header = RtpHeader {
            marker: buf[1] & 0x80 != 0,
            payload_type: buf[1] & 0x7F,
            sequence: u16::from_be_bytes([buf[2], buf[3]]),
            timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            csrcs: Csrcs::default(),
        };
        let mut pos = HEADER_LEN + 4 * count;
        if buf.len() < pos {
            return Err(RtpError::CsrcOverrun {
                count,
                needed: pos,
                len: buf.len(),
            });
        }
        for chunk in buf[HEADER_LEN..pos].chunks_exact(4) {
            header
                .csrcs
                .push(u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
        }
        let extension = if has_extension {
            let Some(head) = buf.get(pos..pos + 4) else {
                return Err(RtpError::ExtensionOverrun { words: 0 });
            };
            let profile = u16::from_be_bytes([head[0], head[1]]);
            let words = u16::from_be_bytes([head[2], head[3]]) as usize;
            let start = pos + 4;
            let end = start + 4 * words;
            let Some(data) = buf.get(start..end) else {
                return Err(RtpError::ExtensionOverrun { words });
            };
            pos = end;
            Some(Extension { profile, data })
        } else {
            None
        };
        let mut end = buf.len();
        let mut padding = 0;
        if has_padding {
            let count = buf[buf.len() - 1];
            let available = buf.len() - pos;
            if count == 0 || count as usize > available {
                return Err(RtpError::BadPadding { count, available });
            }
            padding = count;
            end -= count as usize;
        }
        Ok(RtpPacket {
            header,
            extension,
            payload: &buf[pos..end],
            padding,
        })
    }

    /// Bytes [`write`](Self::write) will append.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + 4 * self.header.csrcs.len()
            + self.extension.map_or(0, |e| 4 + e.data.len())
            + self.payload.len()
            + self.padding as usize
    }

    /// Appends the packet to `out`.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        let h = &self.header;
        if h.payload_type > 0x7F {
            return Err(RtpError::PayloadTypeOutOfRange(h.payload_type));
        }
        if let Some(ext) = self.extension {
            if ext.data.len() & 3 != 0 || ext.data.len() / 4 > u16::MAX as usize {
                return Err(RtpError::ExtensionNotAligned(ext.data.len()));
            }
        }
        out.reserve(self.encoded_len());
        let b0 = (VERSION << 6)
            | if self.padding > 0 { 0x20 } else { 0 }
            | if self.extension.is_some() { 0x10 } else { 0 }
            | h.csrcs.len() as u8;
        out.push(b0);
        out.push(if h.marker { 0x80 } else { 0 } | h.payload_type);
        out.extend_from_slice(&h.sequence.to_be_bytes());
        out.extend_from_slice(&h.timestamp.to_be_bytes());
        out.extend_from_slice(&h.ssrc.to_be_bytes());
        for id in h.csrcs.as_slice() {
            out.extend_from_slice(&id.to_be_bytes());
        }
        if let Some(ext) = self.extension {
            out.extend_from_slice(&ext.profile.to_be_bytes());
            out.extend_from_slice(&((ext.data.len() / 4) as u16).to_be_bytes());
            out.extend_from_slice(ext.data);
        }
        out.extend_from_slice(self.payload);
        if self.padding > 0 {
            out.resize(out.len() + self.padding as usize - 1, 0);
            out.push(self.padding);
        }
        Ok(())
    }
}

/// Appends a plain RTP packet (no CSRC, extension or padding): the engine's common case.
pub fn write_simple(
    out: &mut Vec<u8>,
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) {
    out.reserve(HEADER_LEN + payload.len());
    out.push(VERSION << 6);
    out.push(if marker { 0x80 } else { 0 } | (payload_type & 0x7F));
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(payload);
}

/// True when sequence number `a` comes after `b`, allowing for wrap-around (RFC 1982 style).
pub fn seq_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

/// The sending state of a stream we originate: SSRC, next sequence number, and the
/// timestamp of the current 20 ms slot.
///
/// Generators (tones, DTMF) write through it so that every packet takes the next sequence
/// number; the owner advances [`timestamp`](Self::timestamp) once per slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxContext {
    /// Our SSRC.
    pub ssrc: u32,
    /// Sequence number of the next packet.
    pub seq: u16,
    /// RTP timestamp of the current slot.
    pub timestamp: u32,
    /// Set when a new talkspurt starts; the next audio packet carries the marker bit.
    pub marker_pending: bool,
}

impl TxContext {
    /// A context starting at the given identifiers.
    pub fn new(ssrc: u32, seq: u16, timestamp: u32) -> Self {
        TxContext {
            ssrc,
            seq,
            timestamp,
            marker_pending: true,
        }
    }

    /// Appends a packet with the next sequence number and the given timestamp.
    pub fn write(
        &mut self,
        out: &mut Vec<u8>,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
    ) {
        write_simple(
            out,
            payload_type,
            marker,
            self.seq,
            timestamp,
            self.ssrc,
            payload,
        );
        self.seq = self.seq.wrapping_add(1);
    }

    /// Appends an audio packet for the current slot, consuming a pending marker.
    pub fn write_audio(&mut self, out: &mut Vec<u8>, payload_type: u8, payload: &[u8]) {
        let marker = std::mem::take(&mut self.marker_pending);
        self.write(out, payload_type, marker, self.timestamp, payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_a_minimal_pcmu_packet() {
        let mut buf = Vec::new();
        write_simple(
            &mut buf,
            0,
            true,
            0x1234,
            0xDEADBEEF,
            0x01020304,
            &[0xFF; 160],
        );
        let p = RtpPacket::parse(&buf).unwrap();
        assert!(p.header.marker);
        assert_eq!(p.header.payload_type, 0);
        assert_eq!(p.header.sequence, 0x1234);
        assert_eq!(p.header.timestamp, 0xDEADBEEF);
        assert_eq!(p.header.ssrc, 0x01020304);
        assert_eq!(p.payload.len(), 160);
        assert_eq!(p.padding, 0);
        assert!(p.extension.is_none());
    }

    #[test]
    fn rejects_malformed_packets_with_a_reason() {
        assert_eq!(
            RtpPacket::parse(&[0x80; 11]),
            Err(RtpError::TooShort { len: 11 })
        );
        let mut v1 = [0u8; 12];
        v1[0] = 0x40;
        assert_eq!(RtpPacket::parse(&v1), Err(RtpError::BadVersion(1)));
        let mut csrc = [0u8; 12];
        csrc[0] = 0x82; // two CSRCs announced, none present
        assert!(matches!(
            RtpPacket::parse(&csrc),
            Err(RtpError::CsrcOverrun { count: 2, .. })
        ));
        let mut ext = vec![
            0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0, 2, 1, 2, 3, 4,
        ];
        assert_eq!(
            RtpPacket::parse(&ext),
            Err(RtpError::ExtensionOverrun { words: 2 })
        );
        ext.truncate(14);
        assert!(RtpPacket::parse(&ext).is_err());
        let mut pad = vec![0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0];
        assert!(matches!(
            RtpPacket::parse(&pad),
            Err(RtpError::BadPadding { count: 0, .. })
        ));
        *pad.last_mut().unwrap() = 4;
        assert!(matches!(
            RtpPacket::parse(&pad),
            Err(RtpError::BadPadding { count: 4, .. })
        ));
    }

    #[test]
    fn writes_and_parses_csrcs_extension_and_padding() {
        let mut header = RtpHeader {
            marker: false,
            payload_type: 101,
            sequence: 65535,
            timestamp: 1,
            ssrc: 7,
            csrcs: Csrcs::default(),
        };
        assert!(header.csrcs.push(11));
        assert!(header.csrcs.push(12));
        let ext = [1, 2, 3, 4, 5, 6, 7, 8];
        let pkt = RtpPacket {
            header,
            extension: Some(Extension {
                profile: 0xBEDE,
                data: &ext,
            }),
            payload: &[9, 9, 9],
            padding: 5,
        };
        let mut buf = Vec::new();
        pkt.write(&mut buf).unwrap();
        assert_eq!(buf.len(), pkt.encoded_len());
        assert_eq!(RtpPacket::parse(&buf).unwrap(), pkt);
    }

    #[test]
    fn write_refuses_what_cannot_be_encoded() {
        let header = RtpHeader {
            payload_type: 200,
            ..Default::default()
        };
        let mut out = Vec::new();
        assert_eq!(
            RtpPacket::new(header, &[]).write(&mut out),
            Err(RtpError::PayloadTypeOutOfRange(200))
        );
        let pkt = RtpPacket {
            header: RtpHeader::default(),
            extension: Some(Extension {
                profile: 1,
                data: &[1, 2, 3],
            }),
            payload: &[],
            padding: 0,
        };
        assert_eq!(pkt.write(&mut out), Err(RtpError::ExtensionNotAligned(3)));
    }

    #[test]
    fn sequence_comparison_handles_wrap_around() {
        assert!(seq_newer(1, 0));
        assert!(seq_newer(0, 65535));
        assert!(!seq_newer(65535, 0));
        assert!(!seq_newer(5, 5));
    }

    #[test]
    fn tx_context_numbers_packets_and_consumes_the_marker_once() {
        let mut ctx = TxContext::new(42, 65535, 1000);
        let mut a = Vec::new();
        ctx.write_audio(&mut a, 8, &[0xD5; 160]);
        let mut b = Vec::new();
        ctx.write_audio(&mut b, 8, &[0xD5; 160]);
        let (pa, pb) = (RtpPacket::parse(&a).unwrap(), RtpPacket::parse(&b).unwrap());
        assert!(pa.header.marker && !pb.header.marker);
        assert_eq!((pa.header.sequence, pb.header.sequence), (65535, 0));
        assert_eq!(pa.header.ssrc, 42);
    }

    fn arb_header() -> impl Strategy<Value = RtpHeader> {
        (
            any::<bool>(),
            0u8..128,
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(any::<u32>(), 0..=MAX_CSRCS),
        )
            .prop_map(|(marker, payload_type, sequence, timestamp, ssrc, ids)| {
                let mut csrcs = Csrcs::default();
                for id in ids {
                    csrcs.push(id);
                }
                RtpHeader {
                    marker,
                    payload_type,
                    sequence,
                    timestamp,
                    ssrc,
                    csrcs,
                }
            })
    }

    proptest! {
        #[test]
        fn write_then_parse_round_trips(
            header in arb_header(),
            ext in proptest::option::of((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..8usize).prop_map(|v| v.repeat(4)))),
            payload in proptest::collection::vec(any::<u8>(), 0..300),
            padding in 0u8..=255,
        ) {
            let pkt = RtpPacket {
                header,
                extension: ext.as_ref().map(|(profile, data)| Extension { profile: *profile, data }),
                payload: &payload,
                padding,
            };
            let mut buf = Vec::new();
            pkt.write(&mut buf).unwrap();
            prop_assert_eq!(buf.len(), pkt.encoded_len());
            prop_assert_eq!(RtpPacket::parse(&buf).unwrap(), pkt);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = RtpPacket::parse(&bytes) {
                prop_assert!(p.payload.len() <= bytes.len());
            }
        }

        #[test]
        fn parse_never_panics_on_version_2_headers(mut bytes in proptest::collection::vec(any::<u8>(), 12..200)) {
            bytes[0] = 0x80 | (bytes[0] & 0x3F);
            if let Ok(p) = RtpPacket::parse(&bytes) {
                prop_assert!(p.payload.len() <= bytes.len());
            }
        }
    }
}
