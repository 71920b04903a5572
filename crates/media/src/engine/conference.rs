//! The driver of one audio conference: a [`Mixer`] ticked every 20 ms on its own phase by
//! one of the engine's mixing threads (`engine::mixing`, outside the tokio runtime), fed by
//! the receive tasks of the [`Stream`]s that joined it, sending each participant's frame
//! through that participant's own stream.
//!
//! A joined stream keeps its sockets, latching, statistics, RTCP and received DTMF (read
//! them from [`Stream::dtmf_events`] as before: a meeting's `*6` arrives there, muted or
//! not). What changes is where its audio goes and where its outgoing audio comes from: its
//! received audio goes into the mixer instead of to a bridged peer, and the conference's
//! tick writes the mix through the stream's own outgoing [`Outbound`](crate::continuity::Outbound),
//! so the phone sees one continuous RTP stream from the IVR prompt to the meeting and back.
//! Leaving returns the stream to [`Source::Silence`](crate::Source::Silence).
//!
//! Each conference has one mutex: the tick (on a mixing thread) locks it for the mix and the
//! sends (non-blocking `try_send_to`, a dozen microseconds for ten participants), receive tasks
//! lock it for a copy into a jitter buffer. Locks are never nested the other way round
//! (stream, then conference), so the two cannot deadlock. A recording's disk writes happen
//! on a blocking thread fed through a bounded queue, never on the tick.

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::Path;
use std::sync::mpsc::{self as std_mpsc, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::clip::Clip;
use crate::jitter::FRAME;
use crate::mixer::{
    AnnouncementId, AudioCodec, Mixer, MixerConfig, ParticipantId, ParticipantState, RosterEvent,
    Target,
};
use crate::recorder::{RecordError, Recorder};
use crate::rtp::RtpHeader;
use crate::tick_schedule::TICK;

use super::mixing::{MixingPool, Registration, Ticked};
use super::stream::Shared as StreamShared;
use super::{MediaError, Stream};

/// Roster events buffered per subscriber.
const EVENT_QUEUE: usize = 256;
/// Recording frames buffered for the writer thread: 5 s.
const RECORD_QUEUE: usize = 250;
/// Lateness histogram: 100 µs buckets up to 50 ms, then one overflow bucket.
const BUCKET_US: u64 = 100;
const BUCKETS: usize = 500;

/// How punctual a conference's ticks were, and what they could not deliver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickStats {
    /// Ticks run.
    pub ticks: u64,
    /// The latest a tick started after its due time.
    pub late_max: Duration,
    /// 99th percentile of that lateness (100 µs resolution).
    pub late_p99: Duration,
    /// Ticks that started more than 5 ms late.
    pub late_over_5ms: u64,
    /// Ticks skipped because the conference fell more than 100 ms behind.
    pub skipped: u64,
    /// Frames the socket refused (send buffer full).
    pub send_dropped: u64,
    /// Frames sent.
    pub sent: u64,
    /// Recording frames dropped because the disk fell 5 s behind.
    pub recording_dropped: u64,
}

/// What a finished recording holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordingSummary {
    /// Samples at 8 kHz.
    pub samples: u64,
    /// Frames dropped because the disk could not keep up (each a 20 ms gap).
    pub dropped_frames: u64,
}

impl RecordingSummary {
    /// Length of the recording.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples * 125)
    }
}

/// The link from a joined stream to its conference.
#[derive(Clone, Debug)]
pub(crate) struct ConferenceLink {
    conf: Weak<ConfShared>,
    id: ParticipantId,
    /// Joined with [`Conference::join`]: the codec follows the stream's remote.
    follows_remote: bool,
}

impl ConferenceLink {
    /// The participant this stream is.
    pub fn id(&self) -> ParticipantId {
        self.id
    }

    /// Hands a received packet to the mixer.
    pub fn push(&self, header: &RtpHeader, payload: &[u8]) {
        if let Some(c) = self.conf.upgrade() {
            // Unknown only in the instant between joining and being added: nothing to keep.
            let _ = c.lock().mixer.push(self.id, header, payload);
        }
    }

    /// Follows a re-negotiated remote (when the participant joined with its remote's law).
    pub fn remote_changed(&self, remote: &crate::RemoteMedia) {
        if !self.follows_remote {
            return;
        }
        if let Some(c) = self.conf.upgrade() {
            let _ = c
                .lock()
                .mixer
                .set_codec(self.id, remote.codec, remote.payload_type);
        }
    }

    /// Removes the participant (its stream is going away).
    pub fn leave(self) {
        if let Some(c) = self.conf.upgrade() {
            c.remove(self.id);
        }
    }
}

struct Member {
    id: ParticipantId,
    stream: Weak<StreamShared>,
}

struct Tap {
    frames: Option<std_mpsc::SyncSender<[i16; FRAME]>>,
    writer: JoinHandle<Result<u64, RecordError>>,
    dropped: u64,
}

struct Lateness {
    hist: Box<[u32; BUCKETS + 1]>,
    stats: TickStats,
}

impl Lateness {
    fn new() -> Self {
        Lateness {
            hist: Box::new([0; BUCKETS + 1]),
            stats: TickStats::default(),
        }
    }

    fn record(&mut self, late: Duration) {
        self.stats.ticks += 1;
        self.stats.late_max = self.stats.late_max.max(late);
        if late > Duration::from_millis(5) {
            self.stats.late_over_5ms += 1;
        }
        let bucket = (late.as_micros() as u64 / BUCKET_US).min(BUCKETS as u64) as usize;
        self.hist[bucket] += 1;
    }

    fn snapshot(&self) -> TickStats {
        let mut s = self.stats;
        let want = s.ticks - s.ticks / 100;
        let mut seen = 0u64;
        for (i, &n) in self.hist.iter().enumerate() {
            seen += n as u64;
            if seen >= want && n > 0 {
                s.late_p99 = Duration::from_micros((i as u64 + 1) * BUCKET_US).min(s.late_max);
                break;
            }
        }
        s
    }
}

struct ConfCore {
    mixer: Mixer,
    members: Vec<Member>,
    next_id: u32,
    recording: Option<Tap>,
    lateness: Lateness,
    packet: Vec<u8>,
}

pub(crate) struct ConfShared {
    core: Mutex<ConfCore>,
    events: broadcast::Sender<RosterEvent>,
}

impl ConfShared {
    fn lock(&self) -> MutexGuard<'_, ConfCore> {
        // The core is consistent between calls; a panic (a bug) must not end the meeting.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, core: &mut ConfCore) {
        while let Some(e) = core.mixer.poll_event() {
            // No subscriber is fine: the roster is also readable on demand.
            let _ = self.events.send(e);
        }
    }

    fn remove(&self, id: ParticipantId) -> Option<Member> {
        let mut core = self.lock();
        core.mixer.remove(id).ok()?;
        let member = core
            .members
            .iter()
            .position(|m| m.id == id)
            .map(|i| core.members.remove(i));
        self.publish(&mut core);
        member
    }

    fn tick(&self, now: Instant, late: Duration) {
        let mut guard = self.lock();
        let ConfCore {
            mixer,
            members,
            recording,
            lateness,
            packet,
            ..
        } = &mut *guard;
        lateness.record(late);
        // Streams dropped without leaving (their Drop removes them; this is the backstop).
        members.retain(|m| {
            let alive = m.stream.strong_count() > 0;
            if !alive {
                let _ = mixer.remove(m.id);
            }
            alive
        });
        mixer.tick();
        if let Some(tap) = recording {
            if let Some(frames) = &tap.frames {
                match frames.try_send(*mixer.mix()) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        tap.dropped += 1;
                        lateness.stats.recording_dropped += 1;
                    }
                    // The writer stopped on an error; stop_recording reports it.
                    Err(TrySendError::Disconnected(_)) => tap.frames = None,
                }
            }
        }
        for out in mixer.outputs() {
            let Some(stream) = members
                .iter()
                .find(|m| m.id == out.participant)
                .and_then(|m| m.stream.upgrade())
            else {
                continue;
            };
            match stream.send_mixed(now, out.payload_type, out.payload, packet) {
                Some(true) => lateness.stats.sent += 1,
                Some(false) => lateness.stats.send_dropped += 1,
                None => {}
            }
        }
        self.publish(&mut guard);
    }
}

impl Ticked for ConfShared {
    fn tick(&self, now: Instant, late: Duration) {
        ConfShared::tick(self, now, late);
    }

    fn skipped(&self, n: u64) {
        self.lock().lateness.stats.skipped += n;
    }
}

/// Releases the members when the last [`Conference`] handle goes (the mixing thread
/// forgets the conference at its next due time: it holds it only weakly).
struct Guard {
    shared: Arc<ConfShared>,
    /// The conference's place on a mixing thread.
    _ticking: Registration,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let members = std::mem::take(&mut self.shared.lock().members);
        for m in members {
            if let Some(s) = m.stream.upgrade() {
                s.leave_conference(m.id);
            }
        }
    }
}

/// One audio conference: a handle, cheap to clone; the conference ends (its streams go back
/// to silence, a recording is finished) when the last handle is dropped.
///
/// Created by [`MediaEngine::conference`](super::MediaEngine::conference).
#[derive(Clone)]
pub struct Conference {
    shared: Arc<ConfShared>,
    _guard: Arc<Guard>,
}

impl std::fmt::Debug for Conference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conference")
            .field("participants", &self.shared.lock().mixer.len())
            .finish_non_exhaustive()
    }
}

impl Conference {
    /// Starts an empty conference ticking on one of `pool`'s threads, first 20 ms from now.
    pub(crate) fn start(config: MixerConfig, pool: &Arc<MixingPool>) -> Conference {
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        let shared = Arc::new(ConfShared {
            core: Mutex::new(ConfCore {
                mixer: Mixer::new(config),
                members: Vec::with_capacity(16),
                next_id: 1,
                recording: None,
                lateness: Lateness::new(),
                packet: Vec::with_capacity(crate::rtp::HEADER_LEN + FRAME),
            }),
            events,
        });
        let weak: Weak<ConfShared> = Arc::downgrade(&shared);
        let ticking = pool.add(weak, Instant::now() + TICK);
        Conference {
            _guard: Arc::new(Guard {
                shared: shared.clone(),
                _ticking: ticking,
            }),
            shared,
        }
    }

    /// Adds a stream speaking the codec its remote negotiated (G.711 µ/A-law or G.722,
    /// [`Stream::set_remote`] first), and follows it when the remote changes. The stream
    /// stops playing or relaying by itself (a bridge is undone, a clip is interrupted) and
    /// hears the meeting.
    pub fn join(&self, stream: &Stream) -> Result<ParticipantId, MediaError> {
        let remote = stream.remote().ok_or(MediaError::NoRemote)?;
        self.add(stream, remote.codec, remote.payload_type, true)
    }

    /// Adds a stream with an explicit codec and payload type, whatever its remote says
    /// (tests, and a driver that negotiates by itself). Its codec then changes only
    /// through [`set_codec`](Self::set_codec).
    pub fn join_as(
        &self,
        stream: &Stream,
        codec: AudioCodec,
        payload_type: u8,
    ) -> Result<ParticipantId, MediaError> {
        self.add(stream, codec, payload_type, false)
    }

    /// Changes a participant's codec (a re-INVITE). Participants that joined with
    /// [`join`](Self::join) follow [`Stream::set_remote`] by themselves.
    pub fn set_codec(
        &self,
        id: ParticipantId,
        codec: AudioCodec,
        payload_type: u8,
    ) -> Result<(), MediaError> {
        Ok(self
            .shared
            .lock()
            .mixer
            .set_codec(id, codec, payload_type)?)
    }

    fn add(
        &self,
        stream: &Stream,
        codec: AudioCodec,
        payload_type: u8,
        follows_remote: bool,
    ) -> Result<ParticipantId, MediaError> {
        let sh = stream.shared();
        if stream.in_conference() {
            return Err(MediaError::AlreadyInConference);
        }
        stream.unbridge();
        let id = {
            let mut core = self.shared.lock();
            let id = ParticipantId(core.next_id);
            core.next_id += 1;
            id
        };
        sh.link_conference(ConferenceLink {
            conf: Arc::downgrade(&self.shared),
            id,
            follows_remote,
        })?;
        let mut core = self.shared.lock();
        core.mixer.add(id, codec, payload_type)?;
        core.members.push(Member {
            id,
            stream: Arc::downgrade(sh),
        });
        self.shared.publish(&mut core);
        Ok(id)
    }

    /// Removes a participant; its stream goes back to playing silence.
    pub fn leave(&self, id: ParticipantId) -> Result<(), MediaError> {
        let member = self.shared.remove(id).ok_or(MediaError::Mixer(
            crate::mixer::MixerError::NoSuchParticipant(id),
        ))?;
        if let Some(s) = member.stream.upgrade() {
            s.leave_conference(id);
        }
        Ok(())
    }

    /// Mutes a participant (not heard; still hears, and its DTMF still arrives).
    pub fn set_muted(&self, id: ParticipantId, muted: bool) -> Result<(), MediaError> {
        let mut core = self.shared.lock();
        core.mixer.set_muted(id, muted)?;
        self.shared.publish(&mut core);
        Ok(())
    }

    /// Makes a participant hear silence (hold) or the meeting again.
    pub fn set_deaf(&self, id: ParticipantId, deaf: bool) -> Result<(), MediaError> {
        Ok(self.shared.lock().mixer.set_deaf(id, deaf)?)
    }

    /// Plays a clip on top of the meeting, to everyone or to one participant. Its end comes
    /// as [`RosterEvent::AnnouncementFinished`].
    pub fn announce(&self, clip: Clip, target: Target) -> Result<AnnouncementId, MediaError> {
        let mut core = self.shared.lock();
        if let Target::Only(id) = target {
            core.mixer
                .participant(id)
                .ok_or(crate::mixer::MixerError::NoSuchParticipant(id))?;
        }
        Ok(core.mixer.announce(clip, target))
    }

    /// Stops an announcement early. False if it already ended.
    pub fn stop_announcement(&self, id: AnnouncementId) -> bool {
        let mut core = self.shared.lock();
        let stopped = core.mixer.stop_announcement(id);
        self.shared.publish(&mut core);
        stopped
    }

    /// The roster: who is in, muted, deaf, speaking.
    pub fn participants(&self) -> Vec<ParticipantState> {
        self.shared.lock().mixer.participants().collect()
    }

    /// One participant's state.
    pub fn participant(&self, id: ParticipantId) -> Option<ParticipantState> {
        self.shared.lock().mixer.participant(id)
    }

    /// A participant's receive counters (jitter buffer: received, late, duplicates,
    /// missing, dropped, restarts), for call-quality records. The stream's own
    /// [`Stream::stats`] has the RTP-level loss and jitter.
    pub fn jitter_stats(&self, id: ParticipantId) -> Option<crate::jitter::JitterStats> {
        self.shared.lock().mixer.jitter_stats(id)
    }

    /// Number of participants.
    pub fn len(&self) -> usize {
        self.shared.lock().mixer.len()
    }

    /// True with nobody in.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Roster events from now on: joined, left, muted, speaking started/stopped,
    /// announcement finished. A subscriber more than 256 events behind gets
    /// `RecvError::Lagged` and should re-read [`participants`](Self::participants).
    pub fn events(&self) -> broadcast::Receiver<RosterEvent> {
        self.shared.events.subscribe()
    }

    /// Starts recording the meeting (the full mix) into a new WAV file at `path`, playing
    /// `announcement` to everybody first (it is in the recording too). The file is created
    /// here; writes happen off the tick on a blocking thread.
    pub fn start_recording(
        &self,
        path: &Path,
        announcement: Option<Clip>,
    ) -> Result<(), MediaError> {
        if self.is_recording() {
            return Err(MediaError::AlreadyRecording);
        }
        let file = File::create(path).map_err(|source| MediaError::RecordingFile {
            path: path.to_owned(),
            source,
        })?;
        self.start_recording_to(BufWriter::new(file), announcement)
    }

    /// Starts recording into any writer (a file, a buffer), as
    /// [`start_recording`](Self::start_recording).
    pub fn start_recording_to<W: Write + Seek + Send + 'static>(
        &self,
        writer: W,
        announcement: Option<Clip>,
    ) -> Result<(), MediaError> {
        let mut core = self.shared.lock();
        if core.recording.is_some() {
            return Err(MediaError::AlreadyRecording);
        }
        let mut recorder = Recorder::new(writer)?;
        let (tx, rx) = std_mpsc::sync_channel::<[i16; FRAME]>(RECORD_QUEUE);
        let writer = tokio::task::spawn_blocking(move || {
            for frame in rx {
                recorder.write(&frame)?;
            }
            let samples = recorder.samples();
            recorder.finish()?;
            Ok(samples)
        });
        core.recording = Some(Tap {
            frames: Some(tx),
            writer,
            dropped: 0,
        });
        if let Some(clip) = announcement {
            core.mixer.announce(clip, Target::All);
        }
        Ok(())
    }

    /// Whether a recording is running.
    pub fn is_recording(&self) -> bool {
        self.shared.lock().recording.is_some()
    }

    /// Stops the recording and waits until the file is complete (header fixed up,
    /// flushed).
    pub async fn stop_recording(&self) -> Result<RecordingSummary, MediaError> {
        let tap = self
            .shared
            .lock()
            .recording
            .take()
            .ok_or(MediaError::NotRecording)?;
        let Tap {
            frames,
            writer,
            dropped,
        } = tap;
        drop(frames);
        let samples = writer
            .await
            .map_err(|e| MediaError::Recording(RecordError::Io(std::io::Error::other(e))))??;
        Ok(RecordingSummary {
            samples,
            dropped_frames: dropped,
        })
    }

    /// Tick punctuality and delivery counters since the start (or the last reset).
    pub fn tick_stats(&self) -> TickStats {
        self.shared.lock().lateness.snapshot()
    }

    /// Zeroes the tick counters (a benchmark's warm-up is over).
    pub fn reset_tick_stats(&self) {
        self.shared.lock().lateness = Lateness::new();
    }
}

/// Takes a stream out of its conference as the stream goes away.
pub(crate) fn unlink_on_drop(sh: &StreamShared) {
    if let Some(link) = sh.take_conference() {
        link.leave();
    }
}
