//! The sans-IO state of one engine stream: its relay [`Leg`], its [`Playout`], the DTMF
//! receiver and its timers. The driver in `stream.rs` locks it briefly per datagram or
//! tick and never across an `.await`.
//!
//! A capture keeps 8 kHz PCM whatever the remote speaks: G.711 is decoded byte by byte,
//! G.722 by the capture's own decoder and then halved to 8 kHz (captures become
//! [`Clip`](crate::clip::Clip)s, which are 8 kHz like every prompt).

use std::net::SocketAddr;
use std::sync::Weak;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::codec::AudioCodec;
use crate::dtmf::{DtmfDigit, DtmfReceiver};
use crate::g722::{G722Decoder, Resampler, FRAME_BYTES, WIDE_FRAME};
use crate::playout::{ClipEnd, Playout, Source};
use crate::relay::{Inbound, Leg, PayloadKind, Port, REPORT_INTERVAL};

use super::conference::ConferenceLink;
use super::stream::Shared;

const FRAME: Duration = Duration::from_millis(20);
/// A ticker further behind than this skips ahead instead of bursting to catch up.
const MAX_LAG: Duration = Duration::from_millis(100);

/// A capture of what the remote says.
struct Capture {
    samples: Vec<i16>,
    max: usize,
    done: oneshot::Sender<crate::clip::Clip>,
    /// G.722 decoding state, made on the first G.722 packet.
    wide: Option<Box<WideRx>>,
}

/// Decoding G.722 to 8 kHz: the decoder and the 2:1 downsampler, with their frame buffers.
struct WideRx {
    decoder: G722Decoder,
    down: Resampler,
    wide: [i16; WIDE_FRAME],
    narrow: [i16; WIDE_FRAME / 2],
}

impl Capture {
    /// Appends what `payload` in `codec` says, up to the capture's length; true when full.
    fn keep(&mut self, codec: AudioCodec, payload: &[u8]) -> bool {
        let room = self.max.saturating_sub(self.samples.len());
        match codec.g711() {
            Some(law) => self
                .samples
                .extend(payload.iter().take(room).map(|&b| law.decode_sample(b))),
            None => {
                let w = self.wide.get_or_insert_with(|| {
                    Box::new(WideRx {
                        decoder: G722Decoder::new(),
                        down: Resampler::new(),
                        wide: [0; WIDE_FRAME],
                        narrow: [0; WIDE_FRAME / 2],
                    })
                });
                // One byte per 8 kHz sample, as for G.711 (RFC 3551 §4.5.2); longer
                // packets than 20 ms are cut to 20 ms.
                let bytes = &payload[..payload.len().min(FRAME_BYTES)];
                w.decoder.decode(bytes, &mut w.wide);
                w.down.downsample(&w.wide, &mut w.narrow);
                let n = bytes.len().min(room);
                self.samples.extend_from_slice(&w.narrow[..n]);
            }
        }
        self.samples.len() >= self.max
    }
}

/// A datagram the ticker wants sent.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub port: Port,
    pub dest: SocketAddr,
    pub bytes: Vec<u8>,
}

pub(crate) struct StreamCore {
    pub leg: Leg,
    pub playout: Playout,
    dtmf_rx: DtmfReceiver,
    /// The stream we are bridged with. Weak: two bridged streams must not keep each other
    /// alive.
    pub peer: Option<Weak<Shared>>,
    /// The conference this stream is in (it then neither plays nor relays by itself).
    pub conference: Option<ConferenceLink>,
    /// Who waits for the clip playing now.
    clip_waiter: Option<oneshot::Sender<ClipEnd>>,
    /// What the remote says, being kept (a caller recording their name).
    capture: Option<Capture>,
    next_frame: Option<Instant>,
    next_report: Instant,
    cname: String,
}

impl StreamCore {
    pub fn new(leg: Leg, playout: Playout, now: Instant) -> Self {
        StreamCore {
            leg,
            playout,
            dtmf_rx: DtmfReceiver::new(),
            peer: None,
            conference: None,
            clip_waiter: None,
            capture: None,
            next_frame: None,
            next_report: now + REPORT_INTERVAL,
            cname: format!("viawork-{:08x}", rand::random::<u32>()),
        }
    }

    pub fn bridged(&self) -> bool {
        self.peer.is_some()
    }

    /// Whether the stream's audio comes from elsewhere (a bridged peer or a conference),
    /// so its playout only generates DTMF.
    fn relaying(&self) -> bool {
        self.peer.is_some() || self.conference.is_some()
    }

    /// Switches the playout's source, interrupting a clip.
    pub fn set_source(&mut self, source: Source) {
        self.playout.set_source(source);
        self.finish_clip(ClipEnd::Interrupted);
    }

    /// Plays a clip in place of the source, then `then`; `waiter` hears how it ended.
    pub fn play_clip(
        &mut self,
        clip: crate::clip::Clip,
        then: Source,
        waiter: oneshot::Sender<ClipEnd>,
    ) {
        self.set_source(then);
        self.playout.play_clip(clip);
        self.clip_waiter = Some(waiter);
    }

    fn finish_clip(&mut self, end: ClipEnd) {
        if let Some(w) = self.clip_waiter.take() {
            // The waiter may have given up; nothing to tell then.
            let _ = w.send(end);
        }
    }

    /// Starts 20 ms ticks now if the playout needs them and they are not running.
    pub fn kick(&mut self, now: Instant) {
        if self.next_frame.is_none() && self.playout.wants_ticks(self.relaying()) {
            self.next_frame = Some(now);
        }
    }

    pub fn poll_timeout(&self) -> Instant {
        self.next_frame
            .map_or(self.next_report, |f| f.min(self.next_report))
    }

    /// Accepts an RTP datagram from this stream's remote; reports a DTMF digit it completes.
    pub fn receive_rtp(
        &mut self,
        src: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> Option<(Inbound, Option<DtmfDigit>)> {
        let inbound = match self.leg.receive_rtp(src, bytes, now) {
            Ok(i) => i,
            Err(reason) => {
                tracing::trace!(%src, %reason, "RTP dropped");
                return None;
            }
        };
        let digit = match inbound.kind {
            PayloadKind::TelephoneEvent => bytes.get(inbound.payload.clone()).and_then(|p| {
                self.dtmf_rx
                    .on_packet(inbound.header.ssrc, inbound.header.timestamp, p)
            }),
            _ => None,
        };
        if let (Some(c), PayloadKind::Audio(codec)) = (&mut self.capture, inbound.kind) {
            if let Some(p) = bytes.get(inbound.payload.clone()) {
                if c.keep(codec, p) {
                    self.finish_capture();
                }
            }
        }
        Some((inbound, digit))
    }

    /// Starts keeping up to `max_samples` of what the remote says (8 kHz); `done`
    /// gets them when full or when [`StreamCore::finish_capture`] runs. Replaces an
    /// earlier capture (which ends with what it has).
    pub fn capture(&mut self, max_samples: usize, done: oneshot::Sender<crate::clip::Clip>) {
        self.finish_capture();
        self.capture = Some(Capture {
            samples: Vec::with_capacity(max_samples.min(8000 * 10)),
            max: max_samples,
            done,
            wide: None,
        });
    }

    /// Ends a capture, handing over what it kept.
    pub fn finish_capture(&mut self) {
        if let Some(c) = self.capture.take() {
            let _ = c.done.send(crate::clip::Clip::from(c.samples));
        }
    }

    /// Runs due timers, appending datagrams to send to `out`.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Outgoing>) {
        let bridged = self.relaying();
        if let Some(at) = self
            .next_frame
            .filter(|at| *at <= now + Duration::from_millis(1))
        {
            let remote = self.leg.remote().copied();
            let dest = self.leg.rtp_destination();
            match (remote, dest) {
                (Some(remote), Some(dest)) if self.playout.wants_ticks(bridged) => {
                    if self.playout.sends_this_tick(bridged) {
                        let mut bytes = Vec::with_capacity(crate::rtp::HEADER_LEN + 160);
                        let ctx = self.leg.local_slot(now);
                        if let Some(len) = self.playout.tick(
                            ctx,
                            remote.codec,
                            remote.payload_type,
                            bridged,
                            &mut bytes,
                        ) {
                            self.leg.note_sent(len);
                            out.push(Outgoing {
                                port: Port::Rtp,
                                dest,
                                bytes,
                            });
                        }
                        if self.playout.take_clip_done() {
                            self.finish_clip(ClipEnd::Finished);
                        }
                    } else {
                        self.playout.skip_tick();
                    }
                    let mut next = at + FRAME;
                    if next + MAX_LAG < now {
                        next = now + FRAME;
                    }
                    self.next_frame = Some(next);
                }
                _ => self.next_frame = None,
            }
        }
        if self.next_report <= now {
            // A bridged stream forwards its peer's reports; everything else reports itself.
            if self.peer.is_none() {
                let mut bytes = Vec::new();
                if let Some((port, dest)) = self.leg.build_report(now, &self.cname, &mut bytes) {
                    out.push(Outgoing { port, dest, bytes });
                }
            }
            // RFC 3550 §6.3.5: randomise the interval (0.5 to 1.5 times) to avoid lockstep.
            let jitter = 0.5 + rand::random::<f64>();
            self.next_report = now + REPORT_INTERVAL.mul_f64(jitter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::continuity::Outbound;
    use crate::dtmf::DtmfTiming;
    use crate::g722::G722Encoder;
    use crate::goertzel;
    use crate::relay::RemoteMedia;
    use crate::tone::Region;
    use std::f64::consts::TAU;

    #[test]
    fn a_capture_of_a_g722_remote_keeps_its_voice_at_8_khz() {
        let now = Instant::now();
        let phone: SocketAddr = "192.0.2.7:4000".parse().unwrap();
        let mut leg = Leg::new(Outbound::random(), true);
        let mut remote = RemoteMedia::new(phone, AudioCodec::G722);
        remote.payload_type = 102;
        leg.set_remote(remote);
        let mut core = StreamCore::new(leg, Playout::new(Region::Us, DtmfTiming::default()), now);
        let (tx, mut rx) = oneshot::channel();
        core.capture(8000, tx);

        // A second of 1 kHz at 16 kHz from the phone, in 20 ms G.722 packets.
        let mut enc = G722Encoder::new();
        for i in 0..60u16 {
            let pcm: Vec<i16> = (0..WIDE_FRAME)
                .map(|n| {
                    let t = (i as usize * WIDE_FRAME + n) as f64 / 16000.0;
                    (8000.0 * (TAU * 1000.0 * t).sin()) as i16
                })
                .collect();
            let mut payload = [0u8; FRAME_BYTES];
            enc.encode(&pcm, &mut payload);
            let mut pkt = Vec::new();
            crate::rtp::write_simple(&mut pkt, 102, i == 0, i, i as u32 * 160, 77, &payload);
            assert!(core.receive_rtp(phone, &pkt, now).is_some());
        }
        let clip = rx.try_recv().expect("full after 50 packets");
        assert_eq!(clip.len(), 8000);
        let tail = &clip.samples()[800..];
        let level = goertzel(tail, 1000.0, 8000);
        assert!((level - 8000.0).abs() < 1200.0, "1 kHz kept at {level:.0}");
        assert!(goertzel(tail, 2500.0, 8000) < 300.0);
    }
}
