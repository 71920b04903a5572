//! The relay core of an anchored call (sans-IO): two legs, A and B, each facing one remote
//! party through its own local sockets, and packets from one side rewritten and sent to
//! the other.
//!
//! A [`Leg`] holds everything about one side: the remote from SDP ([`RemoteMedia`]), the
//! symmetric [`Latch`]es for RTP and RTCP, the receive statistics, the [`Outbound`] mapping
//! that keeps what we send one continuous stream, and the mute of what this side says. The
//! work is split in two halves so a driver can lock each leg separately:
//! [`Leg::receive_rtp`] (validate, latch, count) on the receiving leg, then
//! [`Leg::forward_rtp`] (mute, transcode, re-map payload types and identifiers) on the
//! other. [`Relay`] owns both legs and runs the halves back to back; tests drive it with
//! simulated time.
//!
//! The relay re-encodes only between the two G.711 laws, byte for byte. G.722 passes only
//! between two sides that both negotiated it; G.722 on one side and G.711 on the other would
//! need a decoder, a resampler and an encoder per direction, which is the mixer's job, not
//! the relay's — ViaWork never negotiates G.722 on a leg it relays, and such packets are
//! dropped ([`DropReason::CodecMismatch`]) rather than sent mislabelled.
//!
//! RTCP goes alongside: compound packets from one side are translated to the identifiers the
//! other side sees (sender SSRC, SR timestamp, report-block SSRC and sequence number, SDES
//! chunk SSRC) and BYE is dropped, since a source leaving one leg does not end the stream we
//! keep sending on the other.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::codec::AudioCodec;
use crate::continuity::{Feed, Outbound};
use crate::g711::{Codec, CLOCK_RATE};
use crate::latch::Latch;
use crate::rtcp::{self, Demux, RtcpError, RtcpPacket, SenderInfo};
use crate::rtp::{self, RtpError, RtpHeader, RtpPacket, TxContext};
use crate::stats::{ReceiveStats, StreamStats};

/// One side of a bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The first stream given to the bridge.
    A,
    /// The second.
    B,
}

impl Side {
    /// The opposite side.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Which local socket of a leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Port {
    /// The even RTP port (also carries RTCP when the remote muxes).
    Rtp,
    /// The RTCP port, RTP + 1.
    Rtcp,
}

/// How a muted side is silenced toward its peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MuteMode {
    /// Relay packets with their audio replaced by digital silence: the peer's jitter buffer
    /// and NAT bindings stay fed, and unmuting is seamless.
    #[default]
    Silence,
    /// Drop the packets.
    Drop,
}

/// The remote end of a stream, as negotiated in SDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteMedia {
    /// RTP address from the `c=` and `m=` lines (RTCP is assumed on port + 1).
    pub addr: SocketAddr,
    /// The negotiated codec.
    pub codec: AudioCodec,
    /// The payload type the remote uses for it (normally the static 0, 8 or 9).
    pub payload_type: u8,
    /// The telephone-event payload type, if negotiated.
    pub dtmf_payload_type: Option<u8>,
}

impl RemoteMedia {
    /// A remote with the codec's static payload type and no telephone-event.
    pub fn new(addr: SocketAddr, codec: impl Into<AudioCodec>) -> Self {
        let codec = codec.into();
        RemoteMedia {
            addr,
            codec,
            payload_type: codec.payload_type(),
            dtmf_payload_type: None,
        }
    }

    /// The same remote with a telephone-event payload type.
    pub fn with_dtmf(mut self, payload_type: u8) -> Self {
        self.dtmf_payload_type = Some(payload_type);
        self
    }

    fn rtcp_addr(&self) -> SocketAddr {
        let mut a = self.addr;
        a.set_port(a.port().wrapping_add(1));
        a
    }
}

/// Why a packet was not relayed (for trace logs and counters, not for the remote).
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Not from the latched (or, before latching, an acceptable) source.
    #[error("packet from unexpected source {0}")]
    UnexpectedSource(SocketAddr),
    /// Invalid RTP.
    #[error("malformed RTP: {0}")]
    MalformedRtp(#[from] RtpError),
    /// Invalid RTCP.
    #[error("malformed RTCP: {0}")]
    MalformedRtcp(#[from] RtcpError),
    /// Neither RTP nor RTCP (or RTP on the RTCP port).
    #[error("not RTP or RTCP")]
    NotMedia,
    /// The receiving side has no remote address yet.
    #[error("no destination: the other side has no remote address yet")]
    NoDestination,
    /// The sending side is muted in drop mode.
    #[error("muted")]
    Muted,
    /// DTMF event, but the other side did not negotiate telephone-event.
    #[error("telephone-event not negotiated with the receiving side")]
    NoTelephoneEvent,
    /// From a source that was just replaced by a new SSRC.
    #[error("straggler from a replaced source")]
    StaleSource,
    /// An RTCP compound with nothing left after translation (e.g. only a BYE).
    #[error("nothing to relay in this RTCP packet")]
    NothingToRelay,
    /// Audio the receiving side cannot take without transcoding beyond G.711 (G.722 to a
    /// G.711 side or back).
    #[error("cannot relay {from} audio to a side that negotiated {to}")]
    CodecMismatch {
        /// The received codec.
        from: &'static str,
        /// The receiving side's codec.
        to: &'static str,
    },
}

/// What the payload of a received packet is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadKind {
    /// Audio in this codec: a G.711 law by its static payload type, or the negotiated
    /// codec by the negotiated payload type (G.722 only so).
    Audio(AudioCodec),
    /// An RFC 4733 telephone-event.
    TelephoneEvent,
    /// Anything else (comfort noise, unknown payload types): relayed unchanged.
    Other,
}

/// An RTP packet a leg accepted, ready to be forwarded by the other leg. It refers to the
/// datagram by range so that no leg holds a borrow of the receive buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    /// Its header.
    pub header: RtpHeader,
    /// Where the payload sits in the datagram.
    pub payload: Range<usize>,
    /// What the payload is.
    pub kind: PayloadKind,
    /// Whether the receiving leg is muted, and how.
    pub mute: Option<MuteMode>,
}

/// What the receiving leg knows that the forwarding leg needs to translate RTCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboundRtcp {
    /// The SSRC the remote sends RTP with.
    pub remote_ssrc: Option<u32>,
    /// Our SSRC toward that remote (its report blocks are about it).
    pub our_ssrc: u32,
    /// What feeds our stream toward that remote.
    pub our_feed: Feed,
}

/// One side of a call: its remote, latches, statistics and outgoing stream.
#[derive(Clone, Debug)]
pub struct Leg {
    remote: Option<RemoteMedia>,
    rtp_latch: Latch,
    rtcp_latch: Latch,
    rtcp_mux: bool,
    rx: ReceiveStats,
    tx: Outbound,
    mute: Option<MuteMode>,
    stats: StreamStats,
    sent_since_report: bool,
}

impl Leg {
    /// A leg with the given outgoing stream. With `latching`, the first packet from any
    /// address sets where we send; without, only the SDP address's IP is accepted.
    pub fn new(tx: Outbound, latching: bool) -> Self {
        Leg {
            remote: None,
            rtp_latch: Latch::new(latching),
            rtcp_latch: Latch::new(latching),
            rtcp_mux: false,
            rx: ReceiveStats::new(CLOCK_RATE),
            tx,
            mute: None,
            stats: StreamStats::default(),
            sent_since_report: false,
        }
    }

    /// Sets or changes (re-INVITE) the remote. A new address unlocks the latches.
    pub fn set_remote(&mut self, remote: RemoteMedia) {
        self.rtp_latch.set_expected(remote.addr);
        self.rtcp_latch.set_expected(remote.rtcp_addr());
        if self.remote.is_some_and(|r| r.addr != remote.addr) {
            self.rtcp_mux = false;
        }
        self.remote = Some(remote);
    }

    /// The remote, if set.
    pub fn remote(&self) -> Option<&RemoteMedia> {
        self.remote.as_ref()
    }

    /// Mutes what this side's remote says, on its way to the peer (None unmutes).
    pub fn set_mute(&mut self, mode: Option<MuteMode>) {
        self.mute = mode;
    }

    /// The current mute.
    pub fn mute(&self) -> Option<MuteMode> {
        self.mute
    }

    /// Where RTP to this side goes.
    pub fn rtp_destination(&self) -> Option<SocketAddr> {
        self.rtp_latch.destination()
    }

    /// Where RTCP to this side goes, and from which of our ports.
    pub fn rtcp_destination(&self) -> Option<(Port, SocketAddr)> {
        if self.rtcp_mux {
            self.rtp_latch.destination().map(|d| (Port::Rtp, d))
        } else {
            self.rtcp_latch.destination().map(|d| (Port::Rtcp, d))
        }
    }

    /// The outgoing stream.
    pub fn outbound(&self) -> &Outbound {
        &self.tx
    }

    /// Receive statistics of this side's remote.
    pub fn receive_stats(&self) -> &ReceiveStats {
        &self.rx
    }

    /// The call-log summary of this side.
    pub fn stats(&self) -> StreamStats {
        StreamStats {
            packets_lost: self.rx.cumulative_lost(),
            jitter_ms: self.rx.jitter_ms(),
            ..self.stats
        }
    }

    fn classify(&self, pt: u8) -> PayloadKind {
        if let Some(r) = &self.remote {
            if r.dtmf_payload_type == Some(pt) {
                return PayloadKind::TelephoneEvent;
            }
            if r.payload_type == pt {
                return PayloadKind::Audio(r.codec);
            }
        }
        // Only the G.711 laws are known without negotiation: a stray payload type 9 on a
        // relayed G.711 call is passed on as it is, as before G.722 existed here.
        match Codec::from_payload_type(pt) {
            Some(c) => PayloadKind::Audio(c.into()),
            None => PayloadKind::Other,
        }
    }

    /// Receiving half: validates an RTP datagram from `src`, latches, updates statistics.
    pub fn receive_rtp(
        &mut self,
        src: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> Result<Inbound, DropReason> {
        let pkt = RtpPacket::parse(bytes)?;
        if !self.rtp_latch.accept(src) {
            return Err(DropReason::UnexpectedSource(src));
        }
        let h = pkt.header;
        let kind = self.classify(h.payload_type);
        self.rx.record(
            h.ssrc,
            h.sequence,
            h.timestamp,
            now,
            kind != PayloadKind::TelephoneEvent,
        );
        self.stats.packets_received += 1;
        self.stats.bytes_received += pkt.payload.len() as u64;
        self.stats.remote_addr = Some(src);
        let end = bytes.len() - pkt.padding as usize;
        Ok(Inbound {
            header: h,
            payload: end - pkt.payload.len()..end,
            kind,
            mute: self.mute,
        })
    }

    /// Forwarding half: writes `inbound` (received by the other leg, payload in `bytes`)
    /// into `out` as this leg's outgoing packet and returns where to send it.
    pub fn forward_rtp(
        &mut self,
        inbound: &Inbound,
        bytes: &[u8],
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Result<SocketAddr, DropReason> {
        let remote = self.remote.ok_or(DropReason::NoDestination)?;
        let dest = self
            .rtp_latch
            .destination()
            .ok_or(DropReason::NoDestination)?;
        let payload = bytes
            .get(inbound.payload.clone())
            .ok_or(DropReason::NotMedia)?;
        let h = &inbound.header;
        if inbound.mute == Some(MuteMode::Drop) {
            return Err(DropReason::Muted);
        }
        let muted = inbound.mute.is_some();
        let (pt, audio) = match inbound.kind {
            PayloadKind::Audio(codec) => (remote.payload_type, Some(codec)),
            PayloadKind::TelephoneEvent if muted => return Err(DropReason::Muted),
            PayloadKind::TelephoneEvent => (
                remote
                    .dtmf_payload_type
                    .ok_or(DropReason::NoTelephoneEvent)?,
                None,
            ),
            PayloadKind::Other if muted => return Err(DropReason::Muted),
            PayloadKind::Other => (h.payload_type, None),
        };
        if let Some(codec) = audio.filter(|c| !muted && *c != remote.codec) {
            if codec.g711().is_none() || remote.codec.g711().is_none() {
                return Err(DropReason::CodecMismatch {
                    from: codec.name(),
                    to: remote.codec.name(),
                });
            }
        }
        let r = self
            .tx
            .relay(h.ssrc, h.sequence, h.timestamp, now)
            .ok_or(DropReason::StaleSource)?;
        out.clear();
        let marker = h.marker || (r.switched && audio.is_some());
        rtp::write_simple(out, pt, marker, r.seq, r.timestamp, r.ssrc, &[]);
        match audio {
            Some(_) if muted => {
                out.resize(out.len() + payload.len(), remote.codec.silence_byte());
            }
            Some(codec) => match (codec.g711(), remote.codec.g711()) {
                (Some(from), Some(to)) if from != to => {
                    out.extend(payload.iter().map(|&b| from.transcode_byte(b, to)));
                }
                // The same codec (checked above otherwise).
                _ => out.extend_from_slice(payload),
            },
            _ => out.extend_from_slice(payload),
        }
        self.note_sent(payload.len());
        Ok(dest)
    }

    /// Receiving half for RTCP arriving on `port` (RTCP on the RTP port means the remote
    /// muxes, and we answer it there).
    pub fn receive_rtcp(
        &mut self,
        src: SocketAddr,
        bytes: &[u8],
        now: Instant,
        port: Port,
    ) -> Result<InboundRtcp, DropReason> {
        for p in rtcp::parse_compound(bytes) {
            if let RtcpPacket::SenderReport(sr) = p? {
                if Some(sr.ssrc) == self.rx.ssrc() {
                    self.rx.record_sender_report(sr.info.ntp, now);
                }
            }
        }
        let accepted = match port {
            Port::Rtcp => self.rtcp_latch.accept(src),
            Port::Rtp => self.rtp_latch.accept(src),
        };
        if !accepted {
            return Err(DropReason::UnexpectedSource(src));
        }
        if port == Port::Rtp {
            self.rtcp_mux = true;
        }
        Ok(InboundRtcp {
            remote_ssrc: self.rx.ssrc(),
            our_ssrc: self.tx.ssrc(),
            our_feed: self.tx.feed(),
        })
    }

    /// Forwarding half for RTCP: translates the compound into `out` and returns the port
    /// and address to send it from and to.
    pub fn forward_rtcp(
        &mut self,
        inbound: &InboundRtcp,
        bytes: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(Port, SocketAddr), DropReason> {
        let dest = self.rtcp_destination().ok_or(DropReason::NoDestination)?;
        // The remote's SSRC maps to ours toward this side only if it is what feeds us now.
        let sender_map = match (self.tx.feed(), inbound.remote_ssrc) {
            (
                Feed::Relayed {
                    ssrc, ts_offset, ..
                },
                Some(remote),
            ) if ssrc == remote => Some((remote, self.tx.ssrc(), ts_offset)),
            _ => None,
        };
        // Report blocks about our stream toward the other remote are about its source.
        let block_map = match inbound.our_feed {
            Feed::Relayed {
                ssrc, seq_offset, ..
            } => Some((inbound.our_ssrc, ssrc, seq_offset)),
            _ => None,
        };
        out.clear();
        for raw in rtcp::compound(bytes) {
            let raw = raw?;
            let start = out.len();
            match raw.packet_type {
                rtcp::PT_BYE => continue,
                rtcp::PT_SR | rtcp::PT_RR => {
                    out.extend_from_slice(raw.bytes);
                    let p = &mut out[start..];
                    let mapped = patch_u32(p, 4, |s| sender_map.filter(|m| m.0 == s).map(|m| m.1));
                    let blocks_at = if raw.packet_type == rtcp::PT_SR {
                        if mapped {
                            if let Some((_, _, ts_offset)) = sender_map {
                                patch_u32(p, 16, |ts| Some(ts.wrapping_add(ts_offset)));
                            }
                        }
                        28
                    } else {
                        8
                    };
                    for i in 0..raw.count as usize {
                        let at = blocks_at + 24 * i;
                        if p.len() < at + 24 {
                            break;
                        }
                        if let Some((ours, source, seq_offset)) = block_map {
                            if patch_u32(p, at, |s| (s == ours).then_some(source)) {
                                patch_u32(p, at + 8, |ext| {
                                    let low = (ext as u16).wrapping_sub(seq_offset);
                                    Some((ext & 0xFFFF_0000) | low as u32)
                                });
                            }
                        }
                    }
                }
                rtcp::PT_SDES => {
                    out.extend_from_slice(raw.bytes);
                    let mut at = 4;
                    let end = start + 4 + raw.body.len();
                    for _ in 0..raw.count {
                        if start + at + 4 > end {
                            break;
                        }
                        patch_u32(&mut out[start..], at, |s| {
                            sender_map.filter(|m| m.0 == s).map(|m| m.1)
                        });
                        // Skip the items up to the null terminator, then pad to a word.
                        at += 4;
                        while start + at < end && out[start + at] != 0 {
                            at += 2 + out.get(start + at + 1).copied().unwrap_or(0) as usize;
                        }
                        at = (at + 1).div_ceil(4) * 4;
                    }
                }
                _ => out.extend_from_slice(raw.bytes),
            }
        }
        if out.is_empty() {
            return Err(DropReason::NothingToRelay);
        }
        Ok(dest)
    }

    /// Starts the next 20 ms slot of locally generated media (tones, DTMF).
    pub fn local_slot(&mut self, now: Instant) -> &mut TxContext {
        self.tx.local_slot(now)
    }

    /// Counts a packet we sent to this side with `payload_len` payload octets.
    pub fn note_sent(&mut self, payload_len: usize) {
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += payload_len as u64;
        self.sent_since_report = true;
    }

    /// Builds our own RTCP report for this side into `out`: an SR when we sent RTP since the
    /// last report, else an RR (with a block for the remote's stream when there is one), and
    /// an SDES CNAME. None when there is nothing to report or nowhere to send.
    pub fn build_report(
        &mut self,
        now: Instant,
        cname: &str,
        out: &mut Vec<u8>,
    ) -> Option<(Port, SocketAddr)> {
        let dest = self.rtcp_destination()?;
        if self.stats.packets_sent == 0 && self.stats.packets_received == 0 {
            return None;
        }
        out.clear();
        let block = self.rx.report_block(now);
        let ssrc = self.tx.ssrc();
        if std::mem::take(&mut self.sent_since_report) {
            let info = SenderInfo {
                ntp: rtcp::NtpTime::now(),
                rtp_timestamp: self.tx.timestamp_at(now),
                packet_count: self.stats.packets_sent as u32,
                octet_count: self.stats.bytes_sent as u32,
            };
            rtcp::write_sender_report(out, ssrc, &info, block.as_ref());
        } else {
            rtcp::write_receiver_report(out, ssrc, block.as_ref());
        }
        rtcp::write_sdes_cname(out, ssrc, cname);
        Some(dest)
    }
}

/// Rewrites the big-endian u32 at `at` when `f` returns a value; true if it did.
fn patch_u32(p: &mut [u8], at: usize, f: impl FnOnce(u32) -> Option<u32>) -> bool {
    let Some(slot) = p.get_mut(at..at + 4) else {
        return false;
    };
    let v = u32::from_be_bytes([slot[0], slot[1], slot[2], slot[3]]);
    match f(v) {
        Some(n) => {
            slot.copy_from_slice(&n.to_be_bytes());
            true
        }
        None => false,
    }
}

/// A datagram the relay wants sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// The leg whose socket sends it.
    pub side: Side,
    /// Which of that leg's sockets.
    pub port: Port,
    /// Where to.
    pub dest: SocketAddr,
    /// The datagram.
    pub bytes: &'a [u8],
}

/// Both legs of an anchored call and the relaying between them (sans-IO).
#[derive(Clone, Debug)]
pub struct Relay {
    legs: [Leg; 2],
    buf: Vec<u8>,
}

impl Relay {
    /// A relay between two legs.
    pub fn new(a: Leg, b: Leg) -> Self {
        Relay {
            legs: [a, b],
            buf: Vec::with_capacity(1500),
        }
    }

    /// One leg.
    pub fn leg(&self, side: Side) -> &Leg {
        &self.legs[side.index()]
    }

    /// One leg, mutably (to set its remote, mute it, or generate local media).
    pub fn leg_mut(&mut self, side: Side) -> &mut Leg {
        &mut self.legs[side.index()]
    }

    /// Mutes what `side`'s remote says toward the other side (None unmutes).
    pub fn set_mute(&mut self, side: Side, mode: Option<MuteMode>) {
        self.leg_mut(side).set_mute(mode);
    }

    fn pair(&mut self, from: Side) -> (&mut Leg, &mut Leg) {
        let [a, b] = &mut self.legs;
        match from {
            Side::A => (a, b),
            Side::B => (b, a),
        }
    }

    /// Handles a datagram that arrived on `side`'s `port` from `src`, returning what to send.
    pub fn handle(
        &mut self,
        side: Side,
        port: Port,
        src: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> Result<Transmit<'_>, DropReason> {
        let mut buf = std::mem::take(&mut self.buf);
        let result = {
            let (from, to) = self.pair(side);
            match (port, rtcp::demux(bytes)) {
                (_, Demux::Rtcp) => from
                    .receive_rtcp(src, bytes, now, port)
                    .and_then(|inb| to.forward_rtcp(&inb, bytes, &mut buf)),
                (Port::Rtp, Demux::Rtp) => from
                    .receive_rtp(src, bytes, now)
                    .and_then(|inb| to.forward_rtp(&inb, bytes, now, &mut buf))
                    .map(|dest| (Port::Rtp, dest)),
                _ => Err(DropReason::NotMedia),
            }
        };
        self.buf = buf;
        let (port, dest) = result?;
        Ok(Transmit {
            side: side.other(),
            port,
            dest,
            bytes: &self.buf,
        })
    }
}

/// How often each leg sends its own RTCP report when it is not relaying the peer's.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::{alaw_decode, ulaw_encode};
    use crate::rtcp::ReportBlock;

    const MS: Duration = Duration::from_millis(1);

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const A_SDP: &str = "10.0.0.1:4000";
    const B_SDP: &str = "10.0.0.2:5000";

    fn relay(latching: bool) -> Relay {
        let mut a = Leg::new(Outbound::new(0xA0A0, 1000, 50_000), latching);
        let mut b = Leg::new(Outbound::new(0xB0B0, 2000, 90_000), latching);
        a.set_remote(RemoteMedia::new(addr(A_SDP), Codec::Pcmu).with_dtmf(101));
        b.set_remote(RemoteMedia::new(addr(B_SDP), Codec::Pcmu).with_dtmf(101));
        Relay::new(a, b)
    }

    fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        rtp::write_simple(&mut v, pt, marker, seq, ts, ssrc, payload);
        v
    }

    fn audio(seq: u16, ssrc: u32) -> Vec<u8> {
        rtp(0, false, seq, seq as u32 * 160, ssrc, &[0x55; 160])
    }

    fn parsed(t: &Transmit<'_>) -> (RtpHeader, Vec<u8>) {
        let p = RtpPacket::parse(t.bytes).unwrap();
        (p.header, p.payload.to_vec())
    }

    #[test]
    fn relays_both_ways_under_our_own_ssrcs() {
        let mut r = relay(true);
        let t0 = Instant::now();
        let t = r
            .handle(Side::A, Port::Rtp, addr(A_SDP), &audio(7, 0x1111), t0)
            .unwrap();
        assert_eq!((t.side, t.port, t.dest), (Side::B, Port::Rtp, addr(B_SDP)));
        let (h, payload) = parsed(&t);
        assert_eq!((h.ssrc, h.sequence, h.timestamp), (0xB0B0, 2000, 90_000));
        assert!(h.marker, "first packet of a new source starts a talkspurt");
        assert_eq!(payload, vec![0x55; 160]);
        let t = r
            .handle(Side::B, Port::Rtp, addr(B_SDP), &audio(3, 0x2222), t0)
            .unwrap();
        assert_eq!((t.side, t.dest), (Side::A, addr(A_SDP)));
        assert_eq!(parsed(&t).0.ssrc, 0xA0A0);
        let (a, b) = (r.leg(Side::A).stats(), r.leg(Side::B).stats());
        assert_eq!((a.packets_received, a.packets_sent), (1, 1));
        assert_eq!((b.packets_received, b.packets_sent), (1, 1));
        assert_eq!((a.bytes_received, b.bytes_sent), (160, 160));
        assert_eq!(a.remote_addr, Some(addr(A_SDP)));
    }

    #[test]
    fn latching_sends_to_the_real_source_and_locks_out_others() {
        let mut r = relay(true);
        let t0 = Instant::now();
        let natted = addr("203.0.113.5:30000");
        r.handle(Side::A, Port::Rtp, natted, &audio(1, 0x1111), t0)
            .unwrap();
        let t = r
            .handle(Side::B, Port::Rtp, addr(B_SDP), &audio(1, 0x2222), t0)
            .unwrap();
        assert_eq!(t.dest, natted);
        assert_eq!(
            r.handle(Side::A, Port::Rtp, addr(A_SDP), &audio(2, 0x1111), t0),
            Err(DropReason::UnexpectedSource(addr(A_SDP)))
        );
    }

    #[test]
    fn without_latching_only_the_sdp_host_is_accepted() {
        let mut r = relay(false);
        let t0 = Instant::now();
        assert_eq!(
            r.handle(
                Side::A,
                Port::Rtp,
                addr("203.0.113.5:4000"),
                &audio(1, 1),
                t0
            ),
            Err(DropReason::UnexpectedSource(addr("203.0.113.5:4000")))
        );
        // Same host, other port (asymmetric phone): accepted and latched.
        r.handle(Side::A, Port::Rtp, addr("10.0.0.1:4100"), &audio(1, 1), t0)
            .unwrap();
        let t = r
            .handle(Side::B, Port::Rtp, addr(B_SDP), &audio(1, 2), t0)
            .unwrap();
        assert_eq!(t.dest, addr("10.0.0.1:4100"));
    }

    #[test]
    fn a_reinvite_moves_the_destination_and_relatches() {
        let mut r = relay(true);
        let t0 = Instant::now();
        r.handle(Side::B, Port::Rtp, addr(B_SDP), &audio(1, 2), t0)
            .unwrap();
        r.leg_mut(Side::B)
            .set_remote(RemoteMedia::new(addr("10.0.0.9:7000"), Codec::Pcmu));
        let t = r
            .handle(Side::A, Port::Rtp, addr(A_SDP), &audio(1, 1), t0)
            .unwrap();
        assert_eq!(t.dest, addr("10.0.0.9:7000"));
        r.handle(Side::B, Port::Rtp, addr("10.0.0.9:7002"), &audio(2, 2), t0)
            .unwrap();
        let t = r
            .handle(Side::A, Port::Rtp, addr(A_SDP), &audio(2, 1), t0)
            .unwrap();
        assert_eq!(t.dest, addr("10.0.0.9:7002"));
    }

    #[test]
    fn a_new_source_ssrc_keeps_the_outgoing_stream_continuous() {
        let mut r = relay(true);
        let t0 = Instant::now();
        let mut last = None;
        for i in 0..10u16 {
            let t = r
                .handle(
                    Side::A,
                    Port::Rtp,
                    addr(A_SDP),
                    &audio(100 + i, 0x1111),
                    t0 + MS * 20 * i as u32,
                )
                .unwrap();
            last = Some(parsed(&t).0);
        }
        let last = last.unwrap();
        // The phone restarts its stream (new SSRC, sequence and timestamp) 60 ms later.
        let t = r
            .handle(
                Side::A,
                Port::Rtp,
                addr(A_SDP),
                &rtp(0, false, 9, 777_777, 0x3333, &[0x55; 160]),
                t0 + MS * 240,
            )
            .unwrap();
        let (h, _) = parsed(&t);
        assert_eq!(h.ssrc, last.ssrc);
        assert_eq!(h.sequence, last.sequence.wrapping_add(1));
        assert_eq!(h.timestamp, last.timestamp.wrapping_add(3 * 160));
        assert!(h.marker);
    }

    #[test]
    fn loss_and_reordering_are_passed_through_and_counted() {
        let mut r = relay(true);
        let t0 = Instant::now();
        // 1..=40, with 10, 20 and 30 lost, and pairs (15,16) and (25,26) swapped.
        let mut order: Vec<u16> = (1..=40).filter(|s| ![10, 20, 30].contains(s)).collect();
        for pair in [15u16, 25] {
            let i = order.iter().position(|&s| s == pair).unwrap();
            order.swap(i, i + 1);
        }
        let mut out = Vec::new();
        for (i, &seq) in order.iter().enumerate() {
            // Arrival wobbles by 5 ms around the 20 ms schedule.
            let wobble = if i % 2 == 0 { MS * 5 } else { Duration::ZERO };
            let at = t0 + MS * 20 * i as u32 + wobble;
            let t = r
                .handle(Side::A, Port::Rtp, addr(A_SDP), &audio(seq, 0x1111), at)
                .unwrap();
            out.push(parsed(&t).0.sequence);
        }
        // Output numbering is the input numbering shifted: same gaps, same order.
        let want: Vec<u16> = order.iter().map(|s| 2000 + s - 1).collect();
        assert_eq!(out, want);
        let stats = r.leg(Side::A).stats();
        assert_eq!(stats.packets_received, 37);
        assert_eq!(stats.packets_lost, 3);
        assert!(
            stats.jitter_ms > 1.0 && stats.jitter_ms < 15.0,
            "{}",
            stats.jitter_ms
        );
    }

    #[test]
    fn mute_replaces_audio_with_silence_or_drops_it_in_one_direction_only() {
        let mut r = relay(true);
        let t0 = Instant::now();
        r.set_mute(Side::A, Some(MuteMode::Silence));
        let t = r
            .handle(Side::A, Port::Rtp, addr(A_SDP), &audio(1, 1), t0)
            .unwrap();
        assert_eq!(parsed(&t).1, vec![0xFF; 160]);
        let t = r
            .handle(Side::B, Port::Rtp, addr(B_SDP), &audio(1, 2), t0)
            .unwrap();
        assert_eq!(parsed(&t).1, vec![0x55; 160], "B toward A is not muted");
        let dtmf = rtp(101, true, 2, 320, 1, &[1, 0x0A, 0, 160]);
        assert_eq!(
            r.handle(Side::A, Port::Rtp, addr(A_SDP), &dtmf, t0),
            Err(DropReason::Muted)
        );
        r.set_mute(Side::A, Some(MuteMode::Drop));
        assert_eq!(
            r.handle(Side::A, Port::Rtp, addr(A_SDP), &audio(3, 1), t0),
            Err(DropReason::Muted)
        );
        r.set_mute(Side::A, None);
        let t = r
            .handle(Side::A, Port::Rtp, addr(A_SDP), &audio(4, 1), t0)
            .unwrap();
        assert_eq!(parsed(&t).1, vec![0x55; 160]);
    }

    #[test]
    fn g722_passes_only_between_two_g722_sides_and_is_never_mislabelled() {
        let t0 = Instant::now();
        let g722 = [0x5Au8; 160];
        // Both sides negotiated G.722 (the remote on B at a dynamic payload type).
        let mut r = relay(true);
        r.leg_mut(Side::A)
            .set_remote(RemoteMedia::new(addr(A_SDP), AudioCodec::G722));
        let mut b = RemoteMedia::new(addr(B_SDP), AudioCodec::G722);
        b.payload_type = 104;
        r.leg_mut(Side::B).set_remote(b);
        let t = r
            .handle(
                Side::A,
                Port::Rtp,
                addr(A_SDP),
                &rtp(9, false, 1, 0, 1, &g722),
                t0,
            )
            .unwrap();
        let (h, payload) = parsed(&t);
        assert_eq!((h.payload_type, payload.as_slice()), (104, &g722[..]));

        // G.722 toward a G.711 side would need transcoding: dropped, not relabelled.
        r.leg_mut(Side::B)
            .set_remote(RemoteMedia::new(addr(B_SDP), Codec::Pcmu));
        assert_eq!(
            r.handle(
                Side::A,
                Port::Rtp,
                addr(A_SDP),
                &rtp(9, false, 2, 160, 1, &g722),
                t0
            ),
            Err(DropReason::CodecMismatch {
                from: "G722",
                to: "PCMU"
            })
        );
        // ... and G.711 toward a G.722 side likewise.
        let ulaw = [0xFFu8; 160];
        assert_eq!(
            r.handle(
                Side::B,
                Port::Rtp,
                addr(B_SDP),
                &rtp(0, false, 1, 0, 7, &ulaw),
                t0
            ),
            Err(DropReason::CodecMismatch {
                from: "PCMU",
                to: "G722"
            })
        );

        // Two G.711 sides: a payload type 9 nobody negotiated is not taken for G.722; it
        // passes unchanged, as any unknown payload type does.
        let mut r = relay(true);
        let t = r
            .handle(
                Side::A,
                Port::Rtp,
                addr(A_SDP),
                &rtp(9, false, 1, 0, 1, &g722),
                t0,
            )
            .unwrap();
        let (h, payload) = parsed(&t);
        assert_eq!((h.payload_type, payload.as_slice()), (9, &g722[..]));
    }

    #[test]
    fn transcodes_between_laws_and_maps_payload_types() {
        let mut r = relay(true);
        r.leg_mut(Side::B)
            .set_remote(RemoteMedia::new(addr(B_SDP), Codec::Pcma).with_dtmf(96));
        let t0 = Instant::now();
        let pcm: Vec<i16> = (0..160).map(|i| (i * 200 - 16000) as i16).collect();
        let ulaw: Vec<u8> = pcm.iter().map(|&s| ulaw_encode(s)).collect();
        let t = r
            .handle(
                Side::A,
                Port::Rtp,
                addr(A_SDP),
                &rtp(0, false, 1, 0, 1, &ulaw),
                t0,
            )
            .unwrap();
        let (h, payload) = parsed(&t);
        assert_eq!(h.payload_type, 8);
        for (&x, &a) in pcm.iter().zip(&payload) {
            let y = alaw_decode(a) as i32;
            assert!((y - x as i32).abs() <= 1100, "{x} -> {y}");
        }
        let event = [5, 0x8A, 3, 0x20];
        let t = r
            .handle(
                Side::A,
                Port::Rtp,
                addr(A_SDP),
                &rtp(101, true, 2, 160, 1, &event),
                t0,
            )
            .unwrap();
        let (h, payload) = parsed(&t);
        assert_eq!((h.payload_type, payload.as_slice()), (96, &event[..]));
        assert!(h.marker);
        r.leg_mut(Side::B)
            .set_remote(RemoteMedia::new(addr(B_SDP), Codec::Pcma));
        assert_eq!(
            r.handle(
                Side::A,
                Port::Rtp,
                addr(A_SDP),
                &rtp(101, false, 3, 160, 1, &event),
                t0
            ),
            Err(DropReason::NoTelephoneEvent)
        );
    }

    #[test]
    fn rtcp_is_translated_to_the_identifiers_each_side_sees() {
        let mut r = relay(true);
        let t0 = Instant::now();
        let a_rtcp = addr("10.0.0.1:4001");
        let b_rtcp = addr("10.0.0.2:5001");
        // Establish media both ways so each outgoing stream is fed by the other's SSRC.
        r.handle(Side::A, Port::Rtp, addr(A_SDP), &audio(500, 0x1111), t0)
            .unwrap();
        r.handle(Side::B, Port::Rtp, addr(B_SDP), &audio(700, 0x2222), t0)
            .unwrap();
        // A sends SR + SDES + BYE about itself.
        let mut sr = Vec::new();
        let info = SenderInfo {
            ntp: rtcp::NtpTime(1 << 40),
            rtp_timestamp: 500 * 160,
            packet_count: 1,
            octet_count: 160,
        };
        let block = ReportBlock {
            ssrc: 0xA0A0, // about what A receives from us
            highest_seq: 1000,
            ..Default::default()
        };
        rtcp::write_sender_report(&mut sr, 0x1111, &info, Some(&block));
        rtcp::write_sdes_cname(&mut sr, 0x1111, "phone-a");
        rtcp::write_bye(&mut sr, &[0x1111]);
        let t = r.handle(Side::A, Port::Rtcp, a_rtcp, &sr, t0).unwrap();
        assert_eq!((t.side, t.port, t.dest), (Side::B, Port::Rtcp, b_rtcp));
        let packets: Vec<_> = rtcp::parse_compound(t.bytes)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(packets.len(), 2, "BYE dropped: {packets:?}");
        let RtcpPacket::SenderReport(got) = packets[0] else {
            panic!("{packets:?}")
        };
        assert_eq!(got.ssrc, 0xB0B0, "A's SSRC becomes ours toward B");
        assert_eq!(got.info.rtp_timestamp, 90_000, "timestamp in B's numbering");
        let got_block = got.reports.iter().next().unwrap();
        assert_eq!(got_block.ssrc, 0x2222, "our stream toward A is B's stream");
        assert_eq!(got_block.highest_seq, 700);
        let RtcpPacket::Other { body, .. } = packets[1] else {
            panic!()
        };
        assert_eq!(&body[..4], &0xB0B0u32.to_be_bytes());
        assert_eq!(&body[6..13], b"phone-a");
        // Only a BYE: nothing left to relay.
        let mut bye = Vec::new();
        rtcp::write_bye(&mut bye, &[0x1111]);
        assert_eq!(
            r.handle(Side::A, Port::Rtcp, a_rtcp, &bye, t0)
                .map(|t| t.port),
            Err(DropReason::NothingToRelay)
        );
        assert!(matches!(
            r.handle(Side::A, Port::Rtcp, a_rtcp, &sr[..20], t0),
            Err(DropReason::MalformedRtcp(_))
        ));
    }

    #[test]
    fn rtcp_muxed_on_the_rtp_port_is_answered_there() {
        let mut r = relay(true);
        let t0 = Instant::now();
        let mut rr = Vec::new();
        rtcp::write_receiver_report(&mut rr, 0x2222, None);
        // B muxes: its RTCP arrives on the RTP port.
        r.handle(Side::B, Port::Rtp, addr(B_SDP), &rr, t0).unwrap();
        let mut rr = Vec::new();
        rtcp::write_receiver_report(&mut rr, 0x1111, None);
        let t = r
            .handle(Side::A, Port::Rtcp, addr("10.0.0.1:4001"), &rr, t0)
            .unwrap();
        assert_eq!((t.port, t.dest), (Port::Rtp, addr(B_SDP)));
    }

    #[test]
    fn garbage_and_rtp_on_the_rtcp_port_are_dropped_without_latching() {
        let mut r = relay(true);
        let t0 = Instant::now();
        assert_eq!(
            r.handle(Side::A, Port::Rtp, addr("192.0.2.66:1"), &[0, 1, 0, 0], t0),
            Err(DropReason::NotMedia)
        );
        assert!(matches!(
            r.handle(Side::A, Port::Rtp, addr("192.0.2.66:1"), &[0x80; 5], t0),
            Err(DropReason::MalformedRtp(_))
        ));
        assert_eq!(
            r.handle(Side::A, Port::Rtcp, addr("10.0.0.1:4001"), &audio(1, 1), t0),
            Err(DropReason::NotMedia)
        );
        // The real phone still latches afterwards.
        assert!(r
            .handle(Side::A, Port::Rtp, addr(A_SDP), &audio(1, 1), t0)
            .is_ok());
    }

    #[test]
    fn no_remote_on_the_other_side_means_no_destination() {
        let mut a = Leg::new(Outbound::new(1, 0, 0), true);
        a.set_remote(RemoteMedia::new(addr(A_SDP), Codec::Pcmu));
        let b = Leg::new(Outbound::new(2, 0, 0), true);
        let mut r = Relay::new(a, b);
        assert_eq!(
            r.handle(
                Side::A,
                Port::Rtp,
                addr(A_SDP),
                &audio(1, 1),
                Instant::now()
            ),
            Err(DropReason::NoDestination)
        );
        // The packet still counts as received on A.
        assert_eq!(r.leg(Side::A).stats().packets_received, 1);
    }

    #[test]
    fn own_reports_are_sr_after_sending_and_rr_otherwise() {
        let mut r = relay(true);
        let t0 = Instant::now();
        let mut out = Vec::new();
        assert_eq!(r.leg_mut(Side::B).build_report(t0, "x", &mut out), None);
        r.handle(Side::A, Port::Rtp, addr(A_SDP), &audio(1, 1), t0)
            .unwrap();
        let dest = r.leg_mut(Side::B).build_report(t0, "vw", &mut out);
        assert_eq!(dest, Some((Port::Rtcp, addr("10.0.0.2:5001"))));
        let first = rtcp::parse_compound(&out).next().unwrap().unwrap();
        assert!(
            matches!(first, RtcpPacket::SenderReport(s) if s.ssrc == 0xB0B0 && s.info.packet_count == 1)
        );
        r.leg_mut(Side::B).build_report(t0, "vw", &mut out);
        let first = rtcp::parse_compound(&out).next().unwrap().unwrap();
        assert!(matches!(first, RtcpPacket::ReceiverReport(_)));
    }
}
