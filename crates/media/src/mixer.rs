//! The audio conference mixer (sans-IO): one [`Mixer`] per meeting, fed received RTP
//! payloads and ticked every 20 ms, producing one encoded frame per participant.
//!
//! Per tick ([`Mixer::tick`]):
//! 1. **Pull and decode** one frame per participant from its [`JitterBuffer`]; a missing
//!    frame is concealed by repeating the last good one, fading over four frames, then
//!    silence (the buffer goes idle when the sender stops).
//! 2. **Pick the loudest N talkers** (default 3) among the unmuted participants with audio
//!    above a noise floor, by a smoothed energy; a current talker's energy counts double
//!    (3 dB of hysteresis) so two similar voices do not flap in and out of the mix. Only
//!    talkers are mixed: everyone else's line noise stays out, and the cost of the sum does
//!    not grow with the size of the meeting.
//! 3. **Sum in i32**, add announcements, and give each participant the total *minus its
//!    own voice*, soft-clipped to i16 (linear to 75 % of full scale, then a smooth knee
//!    that approaches but never reaches full scale — no wrap-around, no hard-clip buzz).
//! 4. **Encode once per group**: everyone who is not a talker hears the same mix, so the
//!    listeners of one codec share one encoded frame; each talker (and anyone hearing a
//!    private announcement) gets its own. A 10-party G.711 meeting with 3 talkers encodes
//!    at most 5 frames per tick instead of 10.
//!
//! Everything is fixed-size per participant and reused: after [`Mixer::add`], a tick does
//! not allocate. Sending is the driver's job: each [`MixOutput`] is a payload to write
//! through the participant's own outgoing stream ([`continuity::Outbound`] /
//! [`TxContext`](crate::rtp::TxContext)) so its SSRC, sequence numbers and timestamps stay
//! continuous across an IVR prompt, the meeting and whatever follows.
//!
//! **Sample rate.** The mix runs at 8 kHz. G.711 is narrowband, and in a telephone meeting
//! almost every party is G.711; mixing at 16 kHz would double the cost of every sum and
//! clip, and make every G.711 party pay for a resampler in and out. G.722 parties are
//! decoded to 16 kHz, filtered down to 8 kHz for the mix and their output is brought back
//! up to 16 kHz before encoding (see [`crate::g722`]): they interoperate with everyone at
//! narrowband quality. A meeting of mostly wideband parties would want a 16 kHz mix;
//! that is left for when one exists.
//!
//! Announcements ([`Mixer::announce`]) are [`Clip`]s mixed on top, to everyone or one
//! participant; entry and exit tones are announcements to everyone. The full mix (every
//! talker and every announcement to all) is kept for the recorder ([`Mixer::mix`]).
//! Roster changes — joined, left, muted, speaking started/stopped (2 loud frames on, 500 ms
//! quiet off) — come out of [`Mixer::poll_event`].
//!
//! [`continuity::Outbound`]: crate::continuity::Outbound

use std::collections::VecDeque;
use std::fmt;

use thiserror::Error;

use crate::clip::{Clip, ClipPlayer};
use crate::g722::{G722Decoder, G722Encoder, Resampler};
use crate::jitter::{JitterBuffer, JitterConfig, JitterStats, Pull, FRAME};
use crate::rtp::{RtpHeader, RtpPacket};

/// The most talkers a mix can hold.
pub const MAX_TALKERS: usize = 8;
/// Frames of fading repetition before a missing stream is treated as silent (Q8 gains).
const CONCEAL_GAINS: [i32; 4] = [230, 180, 128, 77];
/// Frames loud in a row before a participant counts as speaking.
const SPEAKING_ON_FRAMES: u16 = 2;
/// Frames quiet in a row before a participant stops speaking (500 ms).
const SPEAKING_OFF_FRAMES: u16 = 25;
/// Soft clipping: linear below the knee, then approaching full scale.
const KNEE: i32 = 24_576;
const FULL: i32 = i16::MAX as i32;

/// A participant's identity in one conference, chosen by whoever adds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u32);

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

pub use crate::codec::AudioCodec;

const CODECS: usize = 3;

/// The mixer's per-codec tables are indexed by codec.
fn codec_index(c: AudioCodec) -> usize {
    c as usize
}

/// Who hears an announcement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// Every participant (and the recording).
    All,
    /// One participant only.
    Only(ParticipantId),
}

/// Identifies an announcement, to stop it or to see it finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnnouncementId(pub u64);

/// A change to the roster, or an announcement that ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RosterEvent {
    /// A participant was added.
    Joined(ParticipantId),
    /// A participant was removed.
    Left(ParticipantId),
    /// A participant's mute changed.
    Muted {
        /// Who.
        participant: ParticipantId,
        /// Muted now.
        muted: bool,
    },
    /// A participant started speaking (heard in the mix or not: also below the loudest N).
    SpeakingStarted(ParticipantId),
    /// A participant stopped speaking (500 ms of quiet, muted, or gone).
    SpeakingStopped(ParticipantId),
    /// An announcement played to its end, was stopped, or lost its only listener.
    AnnouncementFinished(AnnouncementId),
}

/// What the mixer refuses.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum MixerError {
    /// The id is taken.
    #[error("participant {0} is already in the conference")]
    AlreadyPresent(ParticipantId),
    /// No such participant.
    #[error("participant {0} is not in the conference")]
    NoSuchParticipant(ParticipantId),
    /// A packet that is not valid RTP.
    #[error(transparent)]
    Rtp(#[from] crate::rtp::RtpError),
}

/// Settings of one conference's mixer.
#[derive(Clone, Debug)]
pub struct MixerConfig {
    /// How many of the loudest speakers are mixed (1 to [`MAX_TALKERS`]; default 3).
    pub max_talkers: usize,
    /// Jitter buffer depth limits.
    pub jitter: JitterConfig,
    /// Played to everyone when someone joins (None: silent joins).
    pub entry_tone: Option<Clip>,
    /// Played to everyone when someone leaves.
    pub exit_tone: Option<Clip>,
    /// RMS level (16-bit units) below which a participant is never mixed: line noise.
    /// Default 60, about -48 dBm0.
    pub noise_floor: u32,
    /// RMS level above which a frame counts as speech for the roster. Default 300,
    /// about -35 dBm0.
    pub speech_level: u32,
}

impl Default for MixerConfig {
    fn default() -> Self {
        MixerConfig {
            max_talkers: 3,
            jitter: JitterConfig::default(),
            entry_tone: Some(Clip::entry_tone()),
            exit_tone: Some(Clip::exit_tone()),
            noise_floor: 60,
            speech_level: 300,
        }
    }
}

/// A participant's state as the roster shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParticipantState {
    /// Who.
    pub id: ParticipantId,
    /// Its codec.
    pub codec: AudioCodec,
    /// Its audio is not mixed.
    pub muted: bool,
    /// It hears silence.
    pub deaf: bool,
    /// Speaking, per the roster's detector.
    pub speaking: bool,
    /// In the mix this tick (one of the loudest N).
    pub talking: bool,
}

/// One participant's frame from the last tick: send `payload` with `payload_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MixOutput<'a> {
    /// To whom.
    pub participant: ParticipantId,
    /// Its payload type.
    pub payload_type: u8,
    /// One 20 ms encoded frame (160 bytes for all three codecs).
    pub payload: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OutRef {
    None,
    Shared(usize),
    Own,
}

/// G.722's state: the codec runs at 16 kHz, the mix at 8 kHz.
#[derive(Debug)]
struct Wideband {
    decoder: G722Decoder,
    encoder: G722Encoder,
    down: Resampler,
    up: Resampler,
    wide: [i16; 2 * FRAME],
}

impl Wideband {
    fn new() -> Box<Self> {
        Box::new(Wideband {
            decoder: G722Decoder::new(),
            encoder: G722Encoder::new(),
            down: Resampler::new(),
            up: Resampler::new(),
            wide: [0; 2 * FRAME],
        })
    }
}

#[derive(Debug)]
struct Participant {
    id: ParticipantId,
    codec: AudioCodec,
    payload_type: u8,
    jitter: JitterBuffer,
    wide: Option<Box<Wideband>>,
    received: [u8; FRAME],
    pcm: [i16; FRAME],
    last: [i16; FRAME],
    loss_run: usize,
    audible: bool,
    /// Smoothed mean square of the audio.
    level: u64,
    muted: bool,
    deaf: bool,
    talker: bool,
    speaking: bool,
    on_run: u16,
    off_run: u16,
    extra: [i32; FRAME],
    has_extra: bool,
    own: [u8; FRAME],
    out: OutRef,
}

impl Participant {
    fn new(id: ParticipantId, codec: AudioCodec, payload_type: u8, jitter: JitterConfig) -> Self {
        Participant {
            id,
            codec,
            payload_type,
            jitter: JitterBuffer::new(jitter),
            wide: (codec == AudioCodec::G722).then(Wideband::new),
            received: [0; FRAME],
            pcm: [0; FRAME],
            last: [0; FRAME],
            loss_run: 0,
            audible: false,
            level: 0,
            muted: false,
            deaf: false,
            talker: false,
            speaking: false,
            on_run: 0,
            off_run: 0,
            extra: [0; FRAME],
            has_extra: false,
            own: [0; FRAME],
            out: OutRef::None,
        }
    }

    fn decode(&mut self) {
        match (self.codec.g711(), &mut self.wide) {
            (Some(c), _) => c.decode(&self.received, &mut self.pcm),
            (None, Some(w)) => {
                w.decoder.decode(&self.received, &mut w.wide);
                w.down.downsample(&w.wide, &mut self.pcm);
            }
            (None, None) => self.pcm.fill(0),
        }
    }

    /// Pulls, decodes or conceals this tick's frame; returns its mean square.
    fn pull(&mut self) -> u64 {
        match self
            .jitter
            .pull(&mut self.received, self.codec.silence_byte())
        {
            Pull::Frame { .. } => {
                self.decode();
                self.last = self.pcm;
                self.loss_run = 0;
                self.audible = true;
            }
            Pull::Missing if self.loss_run < CONCEAL_GAINS.len() => {
                let g = CONCEAL_GAINS[self.loss_run];
                for (o, &l) in self.pcm.iter_mut().zip(&self.last) {
                    *o = ((l as i32 * g) >> 8) as i16;
                }
                self.loss_run += 1;
                self.audible = true;
            }
            Pull::Missing | Pull::Idle => {
                self.loss_run = self.loss_run.saturating_add(1);
                self.audible = false;
            }
        }
        if !self.audible {
            self.level /= 2;
            return 0;
        }
        let ms = self
            .pcm
            .iter()
            .map(|&s| (s as i64 * s as i64) as u64)
            .sum::<u64>()
            / FRAME as u64;
        self.level = (self.level * 3 + ms) / 4;
        ms
    }

    /// Encodes `pcm` (8 kHz) into `out` with this participant's codec.
    fn encode(
        codec: AudioCodec,
        wide: Option<&mut Wideband>,
        pcm: &[i16; FRAME],
        out: &mut [u8; FRAME],
    ) {
        match (codec.g711(), wide) {
            (Some(c), _) => c.encode(pcm, out),
            (None, Some(w)) => {
                w.up.upsample(pcm, &mut w.wide);
                w.encoder.encode(&w.wide, out);
            }
            (None, None) => out.fill(0xFF),
        }
    }

    fn state(&self) -> ParticipantState {
        ParticipantState {
            id: self.id,
            codec: self.codec,
            muted: self.muted,
            deaf: self.deaf,
            speaking: self.speaking,
            talking: self.talker,
        }
    }
}

#[derive(Clone, Debug)]
struct Announcement {
    id: AnnouncementId,
    player: ClipPlayer,
    target: Target,
}

/// Soft-clips a sum to 16 bits: identity up to ±24576, then a knee with slope 1 at the
/// start that approaches ±32767 asymptotically.
pub fn soft_clip(x: i32) -> i16 {
    let a = x.unsigned_abs() as i64;
    if a <= KNEE as i64 {
        return x as i16;
    }
    let room = (FULL - KNEE) as i64;
    let over = a - KNEE as i64;
    let y = (KNEE as i64 + over * room / (over + room)).min(FULL as i64) as i32;
    (if x < 0 { -y } else { y }) as i16
}

/// The mixer of one conference.
#[derive(Debug)]
pub struct Mixer {
    config: MixerConfig,
    parts: Vec<Participant>,
    total: [i32; FRAME],
    announced: [i32; FRAME],
    mix: [i16; FRAME],
    scratch: [i16; FRAME],
    shared: [[u8; FRAME]; CODECS],
    announcements: Vec<Announcement>,
    next_announcement: u64,
    events: VecDeque<RosterEvent>,
    ticks: u64,
}

impl Mixer {
    /// An empty conference.
    pub fn new(mut config: MixerConfig) -> Self {
        config.max_talkers = config.max_talkers.clamp(1, MAX_TALKERS);
        Mixer {
            config,
            parts: Vec::with_capacity(16),
            total: [0; FRAME],
            announced: [0; FRAME],
            mix: [0; FRAME],
            scratch: [0; FRAME],
            shared: [[0; FRAME]; CODECS],
            announcements: Vec::with_capacity(8),
            next_announcement: 0,
            events: VecDeque::with_capacity(64),
            ticks: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MixerConfig {
        &self.config
    }

    /// Ticks run so far.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Participants in the conference.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// True when nobody is in the conference.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    fn index(&self, id: ParticipantId) -> Result<usize, MixerError> {
        self.parts
            .iter()
            .position(|p| p.id == id)
            .ok_or(MixerError::NoSuchParticipant(id))
    }

    /// Adds a participant sending and receiving `codec` with `payload_type`, and plays the
    /// entry tone to everyone.
    pub fn add(
        &mut self,
        id: ParticipantId,
        codec: AudioCodec,
        payload_type: u8,
    ) -> Result<(), MixerError> {
        if self.index(id).is_ok() {
            return Err(MixerError::AlreadyPresent(id));
        }
        if let Some(tone) = self.config.entry_tone.clone() {
            self.announce(tone, Target::All);
        }
        self.parts.push(Participant::new(
            id,
            codec,
            payload_type,
            self.config.jitter,
        ));
        self.events.push_back(RosterEvent::Joined(id));
        Ok(())
    }

    /// Removes a participant and plays the exit tone to those who remain.
    pub fn remove(&mut self, id: ParticipantId) -> Result<(), MixerError> {
        let i = self.index(id)?;
        let p = self.parts.remove(i);
        if p.speaking {
            self.events.push_back(RosterEvent::SpeakingStopped(id));
        }
        self.events.push_back(RosterEvent::Left(id));
        let events = &mut self.events;
        self.announcements.retain(|a| {
            let keep = a.target != Target::Only(id);
            if !keep {
                events.push_back(RosterEvent::AnnouncementFinished(a.id));
            }
            keep
        });
        if !self.parts.is_empty() {
            if let Some(tone) = self.config.exit_tone.clone() {
                self.announce(tone, Target::All);
            }
        }
        Ok(())
    }

    /// Follows a re-negotiation: the participant now speaks `codec` with `payload_type`.
    pub fn set_codec(
        &mut self,
        id: ParticipantId,
        codec: AudioCodec,
        payload_type: u8,
    ) -> Result<(), MixerError> {
        let i = self.index(id)?;
        let p = &mut self.parts[i];
        if p.codec != codec {
            let jitter = self.config.jitter;
            let mut fresh = Participant::new(id, codec, payload_type, jitter);
            fresh.muted = p.muted;
            fresh.deaf = p.deaf;
            fresh.speaking = p.speaking;
            *p = fresh;
        }
        p.payload_type = payload_type;
        Ok(())
    }

    /// Mutes (their audio is not mixed) or unmutes a participant.
    pub fn set_muted(&mut self, id: ParticipantId, muted: bool) -> Result<(), MixerError> {
        let i = self.index(id)?;
        let p = &mut self.parts[i];
        if p.muted == muted {
            return Ok(());
        }
        p.muted = muted;
        self.events.push_back(RosterEvent::Muted {
            participant: id,
            muted,
        });
        if muted && p.speaking {
            p.speaking = false;
            p.on_run = 0;
            self.events.push_back(RosterEvent::SpeakingStopped(id));
        }
        Ok(())
    }

    /// Makes a participant hear silence (deaf, or on hold) or the meeting again.
    pub fn set_deaf(&mut self, id: ParticipantId, deaf: bool) -> Result<(), MixerError> {
        let i = self.index(id)?;
        self.parts[i].deaf = deaf;
        Ok(())
    }

    /// The roster.
    pub fn participants(&self) -> impl Iterator<Item = ParticipantState> + '_ {
        self.parts.iter().map(Participant::state)
    }

    /// One participant's state.
    pub fn participant(&self, id: ParticipantId) -> Option<ParticipantState> {
        self.index(id).ok().map(|i| self.parts[i].state())
    }

    /// A participant's jitter buffer counters.
    pub fn jitter_stats(&self, id: ParticipantId) -> Option<JitterStats> {
        self.index(id).ok().map(|i| self.parts[i].jitter.stats())
    }

    /// Stores a received packet's payload for the next ticks if it carries the
    /// participant's audio payload type (others — telephone-event, comfort noise — are
    /// ignored).
    pub fn push(
        &mut self,
        id: ParticipantId,
        header: &RtpHeader,
        payload: &[u8],
    ) -> Result<(), MixerError> {
        let i = self.index(id)?;
        let p = &mut self.parts[i];
        if header.payload_type == p.payload_type {
            p.jitter.push(header.ssrc, header.timestamp, payload);
        }
        Ok(())
    }

    /// Parses an RTP datagram and [`push`](Self::push)es it.
    pub fn push_rtp(&mut self, id: ParticipantId, datagram: &[u8]) -> Result<(), MixerError> {
        let pkt = RtpPacket::parse(datagram)?;
        self.push(id, &pkt.header, pkt.payload)
    }

    /// Plays `clip` on top of the mix, to everyone or one participant, from the next tick.
    pub fn announce(&mut self, clip: Clip, target: Target) -> AnnouncementId {
        let id = AnnouncementId(self.next_announcement);
        self.next_announcement += 1;
        self.announcements.push(Announcement {
            id,
            player: ClipPlayer::new(clip),
            target,
        });
        id
    }

    /// Stops an announcement early (reported as finished). False if it already ended.
    pub fn stop_announcement(&mut self, id: AnnouncementId) -> bool {
        let before = self.announcements.len();
        self.announcements.retain(|a| a.id != id);
        let stopped = self.announcements.len() < before;
        if stopped {
            self.events.push_back(RosterEvent::AnnouncementFinished(id));
        }
        stopped
    }

    /// The next roster event, oldest first.
    pub fn poll_event(&mut self) -> Option<RosterEvent> {
        self.events.pop_front()
    }

    /// The full mix of the last tick (every talker and the announcements to everyone):
    /// what a recording of the meeting holds.
    pub fn mix(&self) -> &[i16; FRAME] {
        &self.mix
    }

    /// Each participant's frame from the last tick.
    pub fn outputs(&self) -> impl Iterator<Item = MixOutput<'_>> + '_ {
        self.parts.iter().filter_map(|p| {
            let payload: &[u8] = match p.out {
                OutRef::None => return None,
                OutRef::Shared(c) => &self.shared[c],
                OutRef::Own => &p.own,
            };
            Some(MixOutput {
                participant: p.id,
                payload_type: p.payload_type,
                payload,
            })
        })
    }

    /// The frame for one participant from the last tick.
    pub fn output(&self, id: ParticipantId) -> Option<MixOutput<'_>> {
        self.outputs().find(|o| o.participant == id)
    }

    /// Runs one 20 ms step: pull, select, sum, announce, encode.
    pub fn tick(&mut self) {
        self.ticks += 1;
        let on = self.config.speech_level as u64 * self.config.speech_level as u64;
        let floor = self.config.noise_floor as u64 * self.config.noise_floor as u64;

        // 1. This tick's frame of everyone, the roster's speaking detector, and the
        //    loudest-N ranking (a talker's energy counts double).
        let mut top = [(0u64, usize::MAX); MAX_TALKERS];
        let n = self.config.max_talkers;
        for (i, p) in self.parts.iter_mut().enumerate() {
            let ms = p.pull();
            let loud = p.audible && !p.muted && ms >= on;
            if p.speaking {
                p.off_run = if loud { 0 } else { p.off_run + 1 };
                if p.off_run >= SPEAKING_OFF_FRAMES {
                    p.speaking = false;
                    p.on_run = 0;
                    self.events.push_back(RosterEvent::SpeakingStopped(p.id));
                }
            } else {
                p.on_run = if loud { p.on_run + 1 } else { 0 };
                if p.on_run >= SPEAKING_ON_FRAMES {
                    p.speaking = true;
                    p.off_run = 0;
                    self.events.push_back(RosterEvent::SpeakingStarted(p.id));
                }
            }
            let candidate = p.audible && !p.muted && p.level >= floor;
            let score = if p.talker { p.level * 2 } else { p.level };
            p.talker = false;
            if candidate && score > top[n - 1].0 {
                let mut k = n - 1;
                while k > 0 && top[k - 1].0 < score {
                    top[k] = top[k - 1];
                    k -= 1;
                }
                top[k] = (score, i);
            }
        }

        // 2. The sum of the talkers.
        self.total = [0; FRAME];
        for &(_, i) in &top[..n] {
            let Some(p) = self.parts.get_mut(i) else {
                continue;
            };
            p.talker = true;
            for (t, &s) in self.total.iter_mut().zip(&p.pcm) {
                *t += s as i32;
            }
        }

        // 3. Announcements: to everyone into `announced`, private ones into the listener's
        //    `extra`.
        self.announced = [0; FRAME];
        for p in &mut self.parts {
            p.has_extra = false;
        }
        for a in &mut self.announcements {
            let samples = a.player.next_frame();
            let dest = match a.target {
                Target::All => &mut self.announced,
                Target::Only(id) => match self.parts.iter_mut().find(|p| p.id == id) {
                    Some(p) => {
                        if !p.has_extra {
                            p.extra = [0; FRAME];
                            p.has_extra = true;
                        }
                        &mut p.extra
                    }
                    None => continue,
                },
            };
            for (d, &s) in dest.iter_mut().zip(samples) {
                *d += s as i32;
            }
        }
        if self.announcements.iter().any(|a| a.player.finished()) {
            let events = &mut self.events;
            self.announcements.retain(|a| {
                if a.player.finished() {
                    events.push_back(RosterEvent::AnnouncementFinished(a.id));
                    false
                } else {
                    true
                }
            });
        }
        for (m, (&t, &a)) in self
            .mix
            .iter_mut()
            .zip(self.total.iter().zip(&self.announced))
        {
            *m = soft_clip(t + a);
        }

        // 4. Encode: shared frames for the listeners of each G.711 law, own frames for
        //    talkers, private announcements, the deaf and G.722 (whose encoder has state).
        let mut shared_ready = [false; CODECS];
        for p in &mut self.parts {
            let own_mix = p.talker || p.has_extra;
            if p.deaf {
                self.scratch = [0; FRAME];
                Participant::encode(p.codec, p.wide.as_deref_mut(), &self.scratch, &mut p.own);
                p.out = OutRef::Own;
            } else if own_mix || p.codec == AudioCodec::G722 {
                if own_mix {
                    for i in 0..FRAME {
                        let mut v = self.total[i] + self.announced[i];
                        if p.talker {
                            v -= p.pcm[i] as i32;
                        }
                        if p.has_extra {
                            v += p.extra[i];
                        }
                        self.scratch[i] = soft_clip(v);
                    }
                } else {
                    self.scratch = self.mix;
                }
                Participant::encode(p.codec, p.wide.as_deref_mut(), &self.scratch, &mut p.own);
                p.out = OutRef::Own;
            } else {
                let c = codec_index(p.codec);
                if !shared_ready[c] {
                    Participant::encode(p.codec, None, &self.mix, &mut self.shared[c]);
                    shared_ready[c] = true;
                }
                p.out = OutRef::Shared(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::continuity::Outbound;
    use crate::goertzel;
    use crate::rtp::{self, RtpPacket};
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use std::f64::consts::TAU;
    use std::time::{Duration, Instant};

    const AMP: f64 = 6000.0;

    /// One simulated phone: a tone generator, its RTP sequence, and what it heard.
    struct Phone {
        id: ParticipantId,
        codec: AudioCodec,
        freq: f64,
        n: u64,
        seq: u16,
        ssrc: u32,
        heard: Vec<i16>,
        dec: G722Decoder,
        enc: G722Encoder,
    }

    impl Phone {
        fn new(id: u32, codec: AudioCodec, freq: f64) -> Self {
            Phone {
                id: ParticipantId(id),
                codec,
                freq,
                n: 0,
                seq: 100 * id as u16,
                ssrc: 0x1000 + id,
                heard: Vec::new(),
                dec: G722Decoder::new(),
                enc: G722Encoder::new(),
            }
        }

        /// The next 20 ms packet of its tone (silent when `freq` is 0).
        fn speak(&mut self) -> Vec<u8> {
            let rate = if self.codec == AudioCodec::G722 {
                16000.0
            } else {
                8000.0
            };
            let len = if self.codec == AudioCodec::G722 {
                320
            } else {
                160
            };
            let pcm: Vec<i16> = (0..len)
                .map(|i| {
                    let t = (self.n + i as u64) as f64 / rate;
                    (AMP * (TAU * self.freq * t).sin()) as i16
                })
                .collect();
            self.n += len as u64;
            let mut payload = [0u8; FRAME];
            match self.codec.g711() {
                Some(c) => c.encode(&pcm, &mut payload),
                None => self.enc.encode(&pcm, &mut payload),
            }
            let ts = self.seq as u32 * 160;
            let mut v = Vec::new();
            rtp::write_simple(
                &mut v,
                self.codec.payload_type(),
                false,
                self.seq,
                ts,
                self.ssrc,
                &payload,
            );
            self.seq = self.seq.wrapping_add(1);
            v
        }

        fn hear(&mut self, payload: &[u8]) {
            let mut pcm = [0i16; FRAME];
            match self.codec.g711() {
                Some(c) => c.decode(payload, &mut pcm),
                None => {
                    let mut wide = [0i16; 2 * FRAME];
                    self.dec.decode(payload, &mut wide);
                    // Every other sample is enough for a goertzel below 4 kHz.
                    for (o, w) in pcm.iter_mut().zip(wide.chunks(2)) {
                        *o = w[0];
                    }
                }
            }
            self.heard.extend_from_slice(&pcm);
        }

        fn level_of(&self, freq: f64, from: usize) -> f64 {
            goertzel(&self.heard[from..], freq, 8000)
        }
    }

    /// Runs `ticks` ticks with every phone sending through a network with `loss` and up to
    /// `max_delay` ticks of delay (so reordering), duplicating 2 % of packets.
    fn run(
        mixer: &mut Mixer,
        phones: &mut [Phone],
        ticks: usize,
        loss: f64,
        max_delay: u32,
        rng: &mut StdRng,
    ) {
        let mut net: Vec<(u32, usize, Vec<u8>)> = Vec::new();
        for t in 0..ticks as u32 {
            for (k, p) in phones.iter_mut().enumerate() {
                let pkt = p.speak();
                if rng.random_bool(loss) {
                    continue;
                }
                let at = t + rng.random_range(0..=max_delay);
                if rng.random_bool(0.02) {
                    net.push((at + 1, k, pkt.clone()));
                }
                net.push((at, k, pkt));
            }
            net.retain(|(at, k, pkt)| {
                if *at == t {
                    mixer.push_rtp(phones[*k].id, pkt).unwrap();
                    false
                } else {
                    true
                }
            });
            mixer.tick();
            for o in mixer.outputs() {
                let p = phones.iter_mut().find(|p| p.id == o.participant).unwrap();
                assert_eq!(o.payload_type, p.codec.payload_type());
                p.hear(o.payload);
            }
        }
    }

    fn quiet_config() -> MixerConfig {
        MixerConfig {
            entry_tone: None,
            exit_tone: None,
            ..MixerConfig::default()
        }
    }

    fn conference(config: MixerConfig, parties: &[(AudioCodec, f64)]) -> (Mixer, Vec<Phone>) {
        let mut m = Mixer::new(config);
        let phones: Vec<Phone> = parties
            .iter()
            .enumerate()
            .map(|(i, &(c, f))| Phone::new(i as u32 + 1, c, f))
            .collect();
        for p in &phones {
            m.add(p.id, p.codec, p.codec.payload_type()).unwrap();
        }
        (m, phones)
    }

    const FREQS: [f64; 3] = [440.0, 700.0, 1100.0];

    fn assert_hears_others_not_self(phones: &[Phone], from: usize) {
        for p in phones {
            for q in phones {
                let level = p.level_of(q.freq, from);
                if p.id == q.id {
                    assert!(level < 150.0, "{} hears itself at {level:.0}", p.id);
                } else {
                    assert!(level > 0.6 * AMP, "{} hears {} at {level:.0}", p.id, q.id);
                }
            }
        }
    }

    #[test]
    fn each_of_three_parties_hears_the_other_two_and_not_itself_over_a_lossy_network() {
        let mut rng = StdRng::seed_from_u64(1);
        let parties = FREQS.map(|f| (AudioCodec::Pcmu, f));
        let (mut m, mut phones) = conference(quiet_config(), &parties);
        run(&mut m, &mut phones, 150, 0.03, 2, &mut rng);
        assert_hears_others_not_self(&phones, 50 * FRAME);
        let s = m.jitter_stats(ParticipantId(1)).unwrap();
        assert!(s.duplicates > 0 && s.missing > 0, "{s:?}");
    }

    #[test]
    fn mixed_laws_and_g722_interoperate() {
        let mut rng = StdRng::seed_from_u64(2);
        let parties = [
            (AudioCodec::Pcmu, FREQS[0]),
            (AudioCodec::Pcma, FREQS[1]),
            (AudioCodec::G722, FREQS[2]),
        ];
        let (mut m, mut phones) = conference(quiet_config(), &parties);
        run(&mut m, &mut phones, 120, 0.0, 1, &mut rng);
        assert_hears_others_not_self(&phones, 50 * FRAME);
    }

    #[test]
    fn a_muted_party_drops_out_of_the_mix_but_still_hears() {
        let mut rng = StdRng::seed_from_u64(3);
        let parties = FREQS.map(|f| (AudioCodec::Pcma, f));
        let (mut m, mut phones) = conference(quiet_config(), &parties);
        run(&mut m, &mut phones, 40, 0.0, 0, &mut rng);
        m.set_muted(ParticipantId(2), true).unwrap();
        let from = phones[0].heard.len() + 10 * FRAME;
        run(&mut m, &mut phones, 60, 0.0, 0, &mut rng);
        assert!(phones[0].level_of(700.0, from) < 150.0);
        assert!(phones[2].level_of(700.0, from) < 150.0);
        assert!(
            phones[1].level_of(440.0, from) > 0.6 * AMP,
            "muted still hears"
        );
        assert!(phones[1].level_of(1100.0, from) > 0.6 * AMP);
        let st = m.participant(ParticipantId(2)).unwrap();
        assert!(st.muted && !st.speaking && !st.talking);
    }

    #[test]
    fn only_the_loudest_n_are_mixed_and_listeners_share_one_frame_per_codec() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut cfg = quiet_config();
        cfg.max_talkers = 2;
        // Two talkers, then a third and a silent fourth and fifth.
        let parties = [
            (AudioCodec::Pcmu, 440.0),
            (AudioCodec::Pcmu, 700.0),
            (AudioCodec::Pcmu, 1100.0),
            (AudioCodec::Pcmu, 0.0),
            (AudioCodec::Pcmu, 0.0),
        ];
        let (mut m, mut phones) = conference(cfg, &parties);
        // Three equal voices for two places: whichever two are in first keep their places
        // (hysteresis), the third is not heard.
        run(&mut m, &mut phones, 60, 0.0, 0, &mut rng);
        let talking: Vec<_> = m
            .participants()
            .filter(|p| p.talking)
            .map(|p| p.id.0)
            .collect();
        assert_eq!(talking.len(), 2, "{talking:?}");
        let listeners: Vec<_> = m.outputs().filter(|o| o.participant.0 >= 4).collect();
        assert!(
            std::ptr::eq(listeners[0].payload, listeners[1].payload),
            "shared frame"
        );
        let silent = &phones[3];
        let from = 30 * FRAME;
        let heard: Vec<f64> = [440.0, 700.0, 1100.0]
            .iter()
            .map(|&f| silent.level_of(f, from))
            .collect();
        assert_eq!(
            heard.iter().filter(|&&l| l > 0.6 * AMP).count(),
            2,
            "{heard:?}"
        );
        assert_eq!(heard.iter().filter(|&&l| l < 150.0).count(), 1, "{heard:?}");
    }

    #[test]
    fn roster_events_report_join_speaking_mute_and_leave() {
        let mut rng = StdRng::seed_from_u64(5);
        let (mut m, mut phones) = conference(
            quiet_config(),
            &[(AudioCodec::Pcmu, 440.0), (AudioCodec::Pcmu, 0.0)],
        );
        let mut events = Vec::new();
        let drain = |m: &mut Mixer, events: &mut Vec<RosterEvent>| {
            while let Some(e) = m.poll_event() {
                events.push(e);
            }
        };
        run(&mut m, &mut phones, 10, 0.0, 0, &mut rng);
        drain(&mut m, &mut events);
        let (a, b) = (ParticipantId(1), ParticipantId(2));
        assert_eq!(
            events,
            [
                RosterEvent::Joined(a),
                RosterEvent::Joined(b),
                RosterEvent::SpeakingStarted(a)
            ]
        );
        events.clear();
        // The talker goes quiet: speaking stops after 500 ms, not before.
        phones[0].freq = 0.0;
        run(&mut m, &mut phones, 20, 0.0, 0, &mut rng);
        drain(&mut m, &mut events);
        assert!(events.is_empty(), "{events:?}");
        run(&mut m, &mut phones, 10, 0.0, 0, &mut rng);
        drain(&mut m, &mut events);
        assert_eq!(events, [RosterEvent::SpeakingStopped(a)]);
        events.clear();
        m.set_muted(b, true).unwrap();
        m.set_muted(b, true).unwrap();
        m.remove(a).unwrap();
        drain(&mut m, &mut events);
        assert_eq!(
            events,
            [
                RosterEvent::Muted {
                    participant: b,
                    muted: true
                },
                RosterEvent::Left(a)
            ]
        );
        assert_eq!(m.remove(a), Err(MixerError::NoSuchParticipant(a)));
        assert_eq!(
            m.add(b, AudioCodec::Pcmu, 0),
            Err(MixerError::AlreadyPresent(b))
        );
    }

    #[test]
    fn announcements_reach_everyone_or_one_and_entry_tones_play() {
        let mut rng = StdRng::seed_from_u64(6);
        let (mut m, mut phones) = conference(
            MixerConfig::default(),
            &[(AudioCodec::Pcmu, 0.0), (AudioCodec::Pcmu, 0.0)],
        );
        // The entry tones (660 then 880 Hz) of both joins play to both.
        run(&mut m, &mut phones, 20, 0.0, 0, &mut rng);
        assert!(phones[0].level_of(660.0, 0) > 200.0 && phones[1].level_of(880.0, 0) > 200.0);
        let clip = Clip::notes(&[(1500.0, 400)], -10.0);
        let from = phones[0].heard.len();
        let all = m.announce(clip.clone(), Target::All);
        run(&mut m, &mut phones, 5, 0.0, 0, &mut rng);
        assert!(
            goertzel(m.mix(), 1500.0, 8000) > 2000.0,
            "the recording hears it"
        );
        run(&mut m, &mut phones, 15, 0.0, 0, &mut rng);
        assert!(
            phones[0].level_of(1500.0, from) > 2000.0 && phones[1].level_of(1500.0, from) > 2000.0
        );
        let from = phones[0].heard.len();
        let one = m.announce(clip, Target::Only(ParticipantId(2)));
        run(&mut m, &mut phones, 20, 0.0, 0, &mut rng);
        assert!(phones[0].level_of(1500.0, from) < 100.0);
        assert!(phones[1].level_of(1500.0, from) > 2000.0);
        let mut finished = Vec::new();
        while let Some(e) = m.poll_event() {
            if let RosterEvent::AnnouncementFinished(id) = e {
                finished.push(id);
            }
        }
        assert!(
            finished.contains(&all) && finished.contains(&one),
            "{finished:?}"
        );
    }

    #[test]
    fn a_renegotiated_codec_takes_effect_and_keeps_mute() {
        let mut rng = StdRng::seed_from_u64(8);
        let parties = [(AudioCodec::Pcmu, 440.0), (AudioCodec::Pcmu, 700.0)];
        let (mut m, mut phones) = conference(quiet_config(), &parties);
        run(&mut m, &mut phones, 30, 0.0, 0, &mut rng);
        m.set_muted(ParticipantId(1), true).unwrap();
        m.set_muted(ParticipantId(1), false).unwrap();
        m.set_codec(ParticipantId(2), AudioCodec::Pcma, 8).unwrap();
        phones[1].codec = AudioCodec::Pcma;
        let from = phones[1].heard.len() + 10 * FRAME;
        run(&mut m, &mut phones, 40, 0.0, 0, &mut rng);
        assert_eq!(m.output(ParticipantId(2)).unwrap().payload_type, 8);
        assert!(phones[1].level_of(440.0, from) > 0.6 * AMP);
        assert!(phones[0].level_of(700.0, from) > 0.6 * AMP);
        m.set_muted(ParticipantId(2), true).unwrap();
        m.set_codec(ParticipantId(2), AudioCodec::Pcmu, 0).unwrap();
        assert!(m.participant(ParticipantId(2)).unwrap().muted);
        assert!(m.set_codec(ParticipantId(9), AudioCodec::Pcmu, 0).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever arrives from the network — garbage, any payload type, timestamps and
        /// sizes all over the place — the mixer neither panics nor stops producing frames.
        #[test]
        fn arbitrary_datagrams_never_panic_the_mixer(
            packets in proptest::collection::vec(
                (0u32..3, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1400), proptest::prelude::any::<u32>(), proptest::prelude::any::<bool>()),
                1..120,
            )
        ) {
            let (mut m, _) = conference(MixerConfig::default(), &[
                (AudioCodec::Pcmu, 0.0), (AudioCodec::Pcma, 0.0), (AudioCodec::G722, 0.0),
            ]);
            for (i, (who, bytes, ts, as_rtp)) in packets.iter().enumerate() {
                let id = ParticipantId(who + 1);
                if *as_rtp {
                    // A valid header around arbitrary payload, with the right payload type.
                    let codec = [AudioCodec::Pcmu, AudioCodec::Pcma, AudioCodec::G722][*who as usize];
                    let mut v = Vec::new();
                    rtp::write_simple(&mut v, codec.payload_type(), false, i as u16, *ts, *who, bytes);
                    proptest::prop_assert!(m.push_rtp(id, &v).is_ok());
                } else {
                    let _ = m.push_rtp(id, bytes);
                }
                if i % 3 == 0 {
                    m.tick();
                    proptest::prop_assert_eq!(m.outputs().count(), 3);
                    proptest::prop_assert!(m.outputs().all(|o| o.payload.len() == 160));
                }
            }
        }
    }

    #[test]
    fn soft_clip_is_linear_below_the_knee_monotonic_and_bounded() {
        assert_eq!(soft_clip(1000), 1000);
        assert_eq!(soft_clip(-24_576), -24_576);
        let mut prev = i16::MIN;
        for x in (-200_000..200_000).step_by(97) {
            let y = soft_clip(x);
            assert!(y >= prev, "not monotonic at {x}");
            prev = y;
        }
        // Never the wrap-around of a plain cast, and never quite full scale.
        assert!(soft_clip(i32::MAX) > 32_000 && soft_clip(i32::MIN) < -32_000);
        assert!(soft_clip(40_000) < i16::MAX);
        assert!(soft_clip(3 * 32767) > 30_000);
    }

    #[test]
    fn outputs_written_through_outbound_form_one_continuous_stream() {
        let (mut m, _) = conference(quiet_config(), &[(AudioCodec::Pcmu, 0.0)]);
        let mut tx = Outbound::new(5, 1000, 0);
        let t0 = Instant::now();
        let mut last = None;
        for i in 0..5u32 {
            m.tick();
            let o = m.output(ParticipantId(1)).unwrap();
            let mut bytes = Vec::new();
            tx.local_slot(t0 + Duration::from_millis(20 * i as u64))
                .write_audio(&mut bytes, o.payload_type, o.payload);
            let p = RtpPacket::parse(&bytes).unwrap();
            assert_eq!(p.payload, &[0xFF; 160][..]);
            if let Some((seq, ts)) = last {
                assert_eq!(
                    (p.header.sequence, p.header.timestamp),
                    (u16::wrapping_add(seq, 1), ts + 160)
                );
            }
            last = Some((p.header.sequence, p.header.timestamp));
        }
    }
}
