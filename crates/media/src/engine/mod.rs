//! The tokio driver of the media engine.
//!
//! A [`MediaEngine`] hands out [`Stream`]s, each an RTP/RTCP socket pair on an even port of
//! the configured range, facing one remote party. A stream plays tones or silence
//! ([`Stream::play`]), sends and receives RFC 4733 DTMF, and reports statistics; two streams
//! bridged with [`MediaEngine::bridge`] relay each other's media, which is how a Call Via
//! Work call is anchored: one stream faces the user's desk phone, the other the far party.
//! Streams that join a [`Conference`] ([`MediaEngine::conference`]) hear the meeting's mix
//! instead; a stream can also play an announcement [`Clip`](crate::clip::Clip) by itself
//! ([`Stream::play_clip`]), e.g. an IVR prompt before its caller joins.
//!
//! The logic lives in the sans-IO cores ([`relay`](crate::relay),
//! [`playout`](crate::playout), [`dtmf`](crate::dtmf)); each stream runs three small tasks
//! (RTP receive, RTCP receive, a 20 ms ticker that sleeps while there is nothing to
//! generate) around a mutex held only between awaits. Memory per stream is fixed: buffers
//! are reused, and the only queue, received DTMF digits, is bounded.

mod conference;
mod mixing;
mod stream;
mod stream_core;

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use thiserror::Error;

use crate::continuity::Outbound;
use crate::dtmf::{DtmfError, DtmfTiming};
use crate::mixer::{MixerConfig, MixerError};
use crate::playout::Playout;
use crate::ports::{PortError, PortPool};
use crate::recorder::RecordError;
use crate::relay::{Leg, MuteMode};
use crate::tone::Region;

pub use conference::{Conference, RecordingSummary, TickStats};
pub use mixing::{
    MixingConfig, MixingPriority, UnknownPriority, HIGH_NICE, MAX_MIXING_THREADS, REALTIME_PRIORITY,
};
pub use stream::Stream;

/// Configuration of the media engine.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaConfig {
    /// Address the RTP sockets bind to (and which goes into SDP, unless NAT says otherwise).
    pub bind_ip: IpAddr,
    /// Lowest port of the RTP/RTCP range.
    pub port_min: u16,
    /// Highest port of the RTP/RTCP range.
    pub port_max: u16,
    /// Whose ringback and busy tones to play.
    pub region: Region,
    /// Symmetric latching: send to wherever the remote's first packet came from (needed for
    /// phones behind NAT). Off: accept only packets from the SDP address's host.
    pub latching: bool,
    /// What muting does to the muted party's packets.
    pub mute_mode: MuteMode,
    /// Length and spacing of DTMF digits we send.
    pub dtmf: DtmfTiming,
    /// The threads that tick the conferences, and their priority.
    pub mixing: MixingConfig,
}

impl MediaConfig {
    /// Defaults around a bind address: ports 20000-29999, US tones, latching on, mute by
    /// silence, 100 ms digits with 100 ms gaps, conferences mixed on one thread per core
    /// (at most 4) at real-time priority ([`MixingConfig::default`]).
    pub fn new(bind_ip: IpAddr) -> Self {
        MediaConfig {
            bind_ip,
            port_min: 20000,
            port_max: 29999,
            region: Region::Us,
            latching: true,
            mute_mode: MuteMode::Silence,
            dtmf: DtmfTiming::default(),
            mixing: MixingConfig::default(),
        }
    }
}

/// What went wrong in the media engine.
#[derive(Debug, Error)]
pub enum MediaError {
    /// No ports: the range is invalid or exhausted.
    #[error(transparent)]
    Ports(#[from] PortError),
    /// A socket could not be set up for tokio.
    #[error("cannot set up the media socket on port {port}: {source}")]
    Socket {
        /// The local port.
        port: u16,
        /// The OS error.
        source: io::Error,
    },
    /// DTMF asked for before the remote is known.
    #[error("cannot send DTMF: the stream has no remote media yet")]
    NoRemote,
    /// DTMF asked for but the remote did not negotiate telephone-event.
    #[error("cannot send DTMF: the remote did not negotiate telephone-event (RFC 4733)")]
    NoDtmfPayloadType,
    /// Invalid digits or too many queued.
    #[error(transparent)]
    Dtmf(#[from] DtmfError),
    /// A stream cannot be bridged with itself.
    #[error("cannot bridge a stream with itself")]
    BridgeSelf,
    /// A stream is in one conference at a time.
    #[error("the stream is already in a conference")]
    AlreadyInConference,
    /// The mixer refused (unknown or duplicate participant).
    #[error(transparent)]
    Mixer(#[from] MixerError),
    /// A conference records once at a time.
    #[error("the conference is already recording")]
    AlreadyRecording,
    /// Nothing to stop.
    #[error("the conference is not recording")]
    NotRecording,
    /// The recording file cannot be created.
    #[error("cannot create the recording file {path}: {source}")]
    RecordingFile {
        /// The path asked for.
        path: std::path::PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Writing the recording failed.
    #[error(transparent)]
    Recording(#[from] RecordError),
}

struct Inner {
    config: MediaConfig,
    pool: PortPool,
    /// Started with the first conference.
    mixing: Arc<mixing::MixingPool>,
}

/// The media engine: a handle, cheap to clone, that opens streams and bridges them.
#[derive(Clone)]
pub struct MediaEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaEngine")
            .field("config", &self.inner.config)
            .field("ports_in_use", &self.inner.pool.in_use())
            .finish()
    }
}

impl MediaEngine {
    /// An engine over the configured port range. Fails if the range holds no port pair.
    pub fn new(config: MediaConfig) -> Result<Self, MediaError> {
        let pool = PortPool::new(config.port_min, config.port_max)?;
        Ok(MediaEngine {
            inner: Arc::new(Inner {
                mixing: mixing::MixingPool::new(config.mixing),
                config,
                pool,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MediaConfig {
        &self.inner.config
    }

    /// Port pairs in use (one per open stream).
    pub fn streams_open(&self) -> usize {
        self.inner.pool.in_use()
    }

    /// Opens a stream on the next free even port. Must run inside a tokio runtime.
    pub async fn open(&self) -> Result<Stream, MediaError> {
        let config = &self.inner.config;
        let pair = self.inner.pool.bind_pair(config.bind_ip)?;
        let port = pair.lease.port();
        let to_tokio = |s: std::net::UdpSocket, port: u16| {
            s.set_nonblocking(true)
                .and_then(|_| tokio::net::UdpSocket::from_std(s))
                .map_err(|source| MediaError::Socket { port, source })
        };
        let rtp = to_tokio(pair.rtp, port)?;
        let rtcp = to_tokio(pair.rtcp, port + 1)?;
        let leg = Leg::new(Outbound::random(), config.latching);
        let playout = Playout::new(config.region, config.dtmf);
        let core = stream_core::StreamCore::new(leg, playout, Instant::now());
        let stream = Stream::start(core, rtp, rtcp, pair.lease, config.mute_mode)?;
        tracing::debug!(local = %stream.local_addr(), "media stream opened");
        Ok(stream)
    }

    /// Starts an audio conference, ticking every 20 ms from now on one of the engine's
    /// mixing threads ([`MediaConfig::mixing`]; the threads start with the first
    /// conference). Streams join with [`Conference::join`].
    ///
    /// # Panics
    /// If the operating system cannot start the mixing threads (first conference only).
    pub fn conference(&self, config: MixerConfig) -> Conference {
        Conference::start(config, &self.inner.mixing)
    }

    /// Relays media between `a` and `b` in both directions (the anchored call), replacing
    /// whatever they were playing and any earlier bridge of either. Each side keeps its own
    /// SSRC toward its remote, so source changes on one side (a re-INVITE, a transfer) look
    /// like one continuous stream to the other. Undo with [`Stream::unbridge`].
    pub fn bridge(&self, a: &Stream, b: &Stream) -> Result<(), MediaError> {
        if Arc::ptr_eq(a.shared(), b.shared()) {
            return Err(MediaError::BridgeSelf);
        }
        stream::bridge(a.shared(), b.shared());
        Ok(())
    }
}
