//! The sans-IO state of one engine stream: its relay [`Leg`], its [`Playout`], the DTMF
//! receiver and its timers. The driver in `stream.rs` locks it briefly per datagram or
//! tick and never across an `.await`.

use std::net::SocketAddr;
use std::sync::Weak;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::dtmf::{DtmfDigit, DtmfReceiver};
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
                let room = c.max.saturating_sub(c.samples.len());
                c.samples
                    .extend(p.iter().take(room).map(|&b| codec.decode_sample(b)));
                if c.samples.len() >= c.max {
                    self.finish_capture();
                }
            }
        }
        Some((inbound, digit))
    }

    /// Starts keeping up to `max_samples` of what the remote says (G.711, 8 kHz); `done`
    /// gets them when full or when [`StreamCore::finish_capture`] runs. Replaces an
    /// earlier capture (which ends with what it has).
    pub fn capture(&mut self, max_samples: usize, done: oneshot::Sender<crate::clip::Clip>) {
        self.finish_capture();
        self.capture = Some(Capture {
            samples: Vec::with_capacity(max_samples.min(8000 * 10)),
            max: max_samples,
            done,
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
