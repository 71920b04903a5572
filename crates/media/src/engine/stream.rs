//! One engine stream: an RTP/RTCP socket pair facing one remote, and the three tasks that
//! drive it (RTP receive, RTCP receive, the 20 ms ticker).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;

use crate::clip::Clip;
use crate::dtmf::DtmfDigit;
use crate::playout::{ClipEnd, Source};
use crate::ports::PortLease;
use crate::relay::{MuteMode, PayloadKind, Port, RemoteMedia};
use crate::rtcp::{self, Demux};
use crate::stats::StreamStats;

use super::conference::{self, ConferenceLink};
use super::stream_core::StreamCore;
use super::MediaError;

/// Received digits waiting for the application; beyond this they are dropped (and logged).
const DTMF_QUEUE: usize = 32;
/// Large enough for any RTP packet on an Ethernet path.
const RECV_BUF: usize = 2048;

/// State shared by a stream's handle, its tasks and a bridged peer's tasks.
pub(crate) struct Shared {
    core: Mutex<StreamCore>,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    /// Declared after the sockets so the port returns to the pool only once they are closed.
    _lease: PortLease,
    wake: Notify,
    dtmf_tx: mpsc::Sender<DtmfDigit>,
    mute_mode: MuteMode,
    local_rtp: SocketAddr,
    local_rtcp: SocketAddr,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, StreamCore> {
        // Core methods leave the state consistent at every return; a panic in one (a bug)
        // should not take every later packet of the call down with it.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn socket(&self, port: Port) -> &UdpSocket {
        match port {
            Port::Rtp => &self.rtp,
            Port::Rtcp => &self.rtcp,
        }
    }

    fn peer(core: &StreamCore) -> Option<Arc<Shared>> {
        core.peer.as_ref().and_then(Weak::upgrade)
    }

    /// Joins a conference (after the caller unbridged it): stops playing (DTMF still goes
    /// out).
    pub(crate) fn link_conference(&self, link: ConferenceLink) -> Result<(), MediaError> {
        let mut core = self.lock();
        if core.conference.is_some() {
            return Err(MediaError::AlreadyInConference);
        }
        core.conference = Some(link);
        core.set_source(Source::Nothing);
        drop(core);
        self.wake.notify_one();
        Ok(())
    }

    /// Takes the conference link away (the caller removes the participant).
    pub(crate) fn take_conference(&self) -> Option<ConferenceLink> {
        let link = self.lock().conference.take();
        self.wake.notify_one();
        link
    }

    /// Back from conference `id` to playing silence (unless it is already elsewhere).
    pub(crate) fn leave_conference(&self, id: crate::mixer::ParticipantId) {
        let mut core = self.lock();
        if core.conference.as_ref().is_some_and(|l| l.id() == id) {
            core.conference = None;
            core.set_source(Source::Silence);
            core.kick(Instant::now());
        }
        drop(core);
        self.wake.notify_one();
    }

    /// Sends one conference frame through this stream's own outgoing RTP stream, without
    /// waiting: Some(true) sent, Some(false) the socket refused it, None nothing to do (no
    /// destination yet, or our DTMF has the slot).
    pub(crate) fn send_mixed(
        &self,
        now: Instant,
        payload_type: u8,
        payload: &[u8],
        buf: &mut Vec<u8>,
    ) -> Option<bool> {
        let dest = {
            let mut core = self.lock();
            if core.playout.dtmf_busy() {
                return None;
            }
            let dest = core.leg.rtp_destination()?;
            buf.clear();
            core.leg
                .local_slot(now)
                .write_audio(buf, payload_type, payload);
            core.leg.note_sent(payload.len());
            dest
        };
        match self.rtp.try_send_to(buf, dest) {
            Ok(_) => Some(true),
            Err(e) => {
                tracing::trace!(%dest, error = %e, "conference frame not sent");
                Some(false)
            }
        }
    }

    async fn send(&self, port: Port, bytes: &[u8], dest: SocketAddr) {
        if let Err(e) = self.socket(port).send_to(bytes, dest).await {
            tracing::debug!(%dest, error = %e, "media send failed");
        }
    }

    async fn handle_datagram(&self, port: Port, src: SocketAddr, bytes: &[u8], out: &mut Vec<u8>) {
        let now = Instant::now();
        match (port, rtcp::demux(bytes)) {
            (_, Demux::Rtcp) => {
                let (inbound, peer) = {
                    let mut core = self.lock();
                    (
                        core.leg.receive_rtcp(src, bytes, now, port),
                        Self::peer(&core),
                    )
                };
                let inbound = match inbound {
                    Ok(i) => i,
                    Err(reason) => {
                        tracing::trace!(%src, %reason, "RTCP dropped");
                        return;
                    }
                };
                if let Some(peer) = peer {
                    let r = peer.lock().leg.forward_rtcp(&inbound, bytes, out);
                    if let Ok((port, dest)) = r {
                        peer.send(port, out, dest).await;
                    }
                }
            }
            (Port::Rtp, Demux::Rtp) => {
                let (received, peer, conference) = {
                    let mut core = self.lock();
                    (
                        core.receive_rtp(src, bytes, now),
                        Self::peer(&core),
                        core.conference.clone(),
                    )
                };
                let Some((inbound, digit)) = received else {
                    return;
                };
                if let Some(d) = digit {
                    if self.dtmf_tx.try_send(d).is_err() {
                        tracing::warn!(digit = %d, "DTMF digit dropped: nobody is reading them");
                    }
                }
                if let Some(link) = conference {
                    // The mixer keeps the participant's audio payload type and ignores the
                    // rest (comfort noise); events went to the DTMF receiver above.
                    if inbound.kind != PayloadKind::TelephoneEvent {
                        if let Some(payload) = bytes.get(inbound.payload.clone()) {
                            link.push(&inbound.header, payload);
                        }
                    }
                    return;
                }
                if let Some(peer) = peer {
                    let r = {
                        let mut pc = peer.lock();
                        if pc.playout.dtmf_busy() {
                            // Our own DTMF toward the peer has the slot.
                            return;
                        }
                        pc.leg.forward_rtp(&inbound, bytes, now, out)
                    };
                    match r {
                        Ok(dest) => peer.send(Port::Rtp, out, dest).await,
                        Err(reason) => tracing::trace!(%reason, "RTP not relayed"),
                    }
                }
            }
            _ => tracing::trace!(%src, "not media, dropped"),
        }
    }
}

async fn receive_loop(shared: Arc<Shared>, port: Port) {
    let mut buf = vec![0u8; RECV_BUF];
    let mut out = Vec::with_capacity(RECV_BUF);
    loop {
        match shared.socket(port).recv_from(&mut buf).await {
            Ok((n, src)) => shared.handle_datagram(port, src, &buf[..n], &mut out).await,
            Err(e) => {
                // UDP receive errors are transient (e.g. ICMP reports); don't spin on them.
                tracing::debug!(error = %e, ?port, "media receive error");
                tokio::task::yield_now().await;
            }
        }
    }
}

async fn tick_loop(shared: Arc<Shared>) {
    let mut out = Vec::new();
    loop {
        let deadline = shared.lock().poll_timeout();
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => {}
            _ = shared.wake.notified() => continue,
        }
        shared.lock().handle_timeout(Instant::now(), &mut out);
        for o in out.drain(..) {
            shared.send(o.port, &o.bytes, o.dest).await;
        }
    }
}

/// One media stream: a local RTP/RTCP socket pair facing one remote party.
///
/// It plays a [`Source`], sends and receives DTMF, or relays its bridged peer. Dropping it
/// stops its tasks and, once they have let go of the sockets, returns the ports to the
/// pool; [`close`](Self::close) does the same and waits for it.
pub struct Stream {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    dtmf_rx: mpsc::Receiver<DtmfDigit>,
}

impl Stream {
    pub(crate) fn start(
        core: StreamCore,
        rtp: UdpSocket,
        rtcp: UdpSocket,
        lease: PortLease,
        mute_mode: MuteMode,
    ) -> Result<Stream, MediaError> {
        let local_rtp = rtp.local_addr().map_err(|source| MediaError::Socket {
            port: lease.port(),
            source,
        })?;
        let local_rtcp = rtcp.local_addr().map_err(|source| MediaError::Socket {
            port: lease.port() + 1,
            source,
        })?;
        let (dtmf_tx, dtmf_rx) = mpsc::channel(DTMF_QUEUE);
        let shared = Arc::new(Shared {
            core: Mutex::new(core),
            rtp,
            rtcp,
            _lease: lease,
            wake: Notify::new(),
            dtmf_tx,
            mute_mode,
            local_rtp,
            local_rtcp,
        });
        let tasks = vec![
            tokio::spawn(receive_loop(shared.clone(), Port::Rtp)),
            tokio::spawn(receive_loop(shared.clone(), Port::Rtcp)),
            tokio::spawn(tick_loop(shared.clone())),
        ];
        Ok(Stream {
            shared,
            tasks,
            dtmf_rx,
        })
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The local RTP address, for the SDP `c=`/`m=` lines.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_rtp
    }

    /// The local RTCP address (RTP port + 1).
    pub fn local_rtcp_addr(&self) -> SocketAddr {
        self.shared.local_rtcp
    }

    /// Sets or changes (re-INVITE) where this stream's remote is and what it negotiated.
    /// Outgoing media continues seamlessly toward the new address; in a conference joined
    /// with [`Conference::join`](super::Conference::join) the mix follows the new codec.
    pub fn set_remote(&self, remote: RemoteMedia) {
        let mut core = self.shared.lock();
        core.leg.set_remote(remote);
        core.playout.set_dtmf_payload_type(remote.dtmf_payload_type);
        core.kick(Instant::now());
        let conference = core.conference.clone();
        drop(core);
        self.shared.wake.notify_one();
        if let Some(link) = conference {
            link.remote_changed(&remote);
        }
    }

    /// The remote, once set.
    pub fn remote(&self) -> Option<RemoteMedia> {
        self.shared.lock().leg.remote().copied()
    }

    /// Plays a source toward the remote (while not bridged or in a conference; bridging
    /// and joining replace it). Interrupts a clip.
    pub fn play(&self, source: Source) {
        let mut core = self.shared.lock();
        core.set_source(source);
        core.kick(Instant::now());
        drop(core);
        self.shared.wake.notify_one();
    }

    /// Plays an announcement clip once, then `then` (usually [`Source::Silence`], which
    /// keeps NAT bindings open while an IVR waits for digits). The receiver says how it
    /// ended: [`ClipEnd::Finished`] after its last frame went out, [`ClipEnd::Interrupted`]
    /// when something else was played, bridged or joined first; it errors if the stream
    /// is closed. Received DTMF keeps arriving on [`dtmf_events`](Self::dtmf_events)
    /// meanwhile, so a caller can type ahead (barge in by playing something else).
    pub fn play_clip(&self, clip: Clip, then: Source) -> oneshot::Receiver<ClipEnd> {
        let (tx, rx) = oneshot::channel();
        let mut core = self.shared.lock();
        core.play_clip(clip, then, tx);
        core.kick(Instant::now());
        drop(core);
        self.shared.wake.notify_one();
        rx
    }

    /// Whether the stream is in a conference.
    pub fn in_conference(&self) -> bool {
        self.shared.lock().conference.is_some()
    }

    /// Sends digits (0-9 * # A-D) as RFC 4733 telephone-events with the payload type the
    /// remote negotiated, after any digits still queued. Works while bridged too: the
    /// peer's audio toward this remote pauses for each event.
    pub fn send_dtmf(&self, digits: &str) -> Result<(), MediaError> {
        let digits = DtmfDigit::parse_str(digits)?;
        let mut core = self.shared.lock();
        let remote = core.leg.remote().copied().ok_or(MediaError::NoRemote)?;
        let pt = remote
            .dtmf_payload_type
            .ok_or(MediaError::NoDtmfPayloadType)?;
        core.playout.queue_dtmf(pt, &digits)?;
        core.kick(Instant::now());
        drop(core);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Digits the remote sent as RFC 4733 events, each once. Read them (e.g. in a
    /// `select!`); up to 32 wait, later ones are dropped.
    pub fn dtmf_events(&mut self) -> &mut mpsc::Receiver<DtmfDigit> {
        &mut self.dtmf_rx
    }

    /// Keeps what the remote says for up to `max` (decoded to 8 kHz PCM), e.g. a
    /// caller recording their name; the clip arrives when `max` is reached or at
    /// [`Stream::stop_capture`]. The stream's own sending is unaffected.
    pub fn capture(&self, max: Duration) -> oneshot::Receiver<crate::clip::Clip> {
        let (tx, rx) = oneshot::channel();
        let samples = (max.as_millis() as usize).saturating_mul(8);
        self.shared.lock().capture(samples, tx);
        rx
    }

    /// Ends a capture early; its receiver gets what was kept.
    pub fn stop_capture(&self) {
        self.shared.lock().finish_capture();
    }

    /// Takes the received-digit queue out of the stream, so that another task can wait on
    /// it while the stream itself is used elsewhere (a meeting's runtime owns its members'
    /// streams and forwards their keypad). [`Stream::dtmf_events`] is empty afterwards.
    pub fn take_dtmf_events(&mut self) -> mpsc::Receiver<DtmfDigit> {
        let (_, closed) = mpsc::channel(1);
        std::mem::replace(&mut self.dtmf_rx, closed)
    }

    /// Mutes what this stream's remote says: while bridged, its audio toward the peer is
    /// replaced by silence (or dropped, per [`MediaConfig::mute_mode`](super::MediaConfig))
    /// and its DTMF is not relayed. To mute the user's desk phone toward the far party,
    /// mute the stream facing the desk phone. Stays set across bridges until unmuted.
    pub fn set_mute(&self, muted: bool) {
        let mode = muted.then_some(self.shared.mute_mode);
        self.shared.lock().leg.set_mute(mode);
    }

    /// Whether this stream's remote is muted.
    pub fn is_muted(&self) -> bool {
        self.shared.lock().leg.mute().is_some()
    }

    /// Stops relaying between this stream and its peer (both directions). Neither plays
    /// anything until told to.
    pub fn unbridge(&self) {
        unbridge(&self.shared);
    }

    /// Whether the stream is bridged.
    pub fn is_bridged(&self) -> bool {
        self.shared.lock().bridged()
    }

    /// Counters, loss, jitter and the last remote address seen.
    pub fn stats(&self) -> StreamStats {
        self.shared.lock().leg.stats()
    }

    /// Stops the stream and waits until its ports are back in the pool.
    pub async fn close(mut self) {
        unbridge(&self.shared);
        conference::unlink_on_drop(&self.shared);
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        // `self` drops here, and with it the last reference to the sockets and lease.
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        unbridge(&self.shared);
        conference::unlink_on_drop(&self.shared);
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("local_addr", &self.shared.local_rtp)
            .finish_non_exhaustive()
    }
}

/// Links two streams as each other's peer (after unlinking any previous peers and taking
/// them out of any conference) and stops what they were playing.
pub(crate) fn bridge(a: &Arc<Shared>, b: &Arc<Shared>) {
    unbridge(a);
    unbridge(b);
    conference::unlink_on_drop(a);
    conference::unlink_on_drop(b);
    for (me, peer) in [(a, b), (b, a)] {
        let mut core = me.lock();
        core.peer = Some(Arc::downgrade(peer));
        core.set_source(Source::Nothing);
        drop(core);
        me.wake.notify_one();
    }
}

/// Unlinks `shared` from its peer, one lock at a time (two bridged streams' tasks lock them
/// in opposite orders, so never hold both).
fn unbridge(shared: &Arc<Shared>) {
    let peer = shared.lock().peer.take();
    if let Some(peer) = peer.and_then(|w| w.upgrade()) {
        let mut pc = peer.lock();
        if pc
            .peer
            .as_ref()
            .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(shared)))
        {
            pc.peer = None;
        }
        drop(pc);
        peer.wake.notify_one();
    }
    shared.wake.notify_one();
}
