//! ViaWork's media engine: RTP/RTCP, G.711, call-progress tones, RFC 4733 DTMF, the
//! relay that anchors a Call Via Work call between the user's desk phone and the far party,
//! and the conference mixer of audio meetings (with recording and announcements).
//!
//! Like the SIP stack, the protocol logic is sans-IO — plain state machines fed datagrams
//! and [`Instant`](std::time::Instant)s that return what to send — and [`engine`] is the
//! thin tokio driver that owns the sockets and the clock.
//!
//! | module | what | ours or a crate's |
//! | --- | --- | --- |
//! | [`g711`] | µ-law / A-law, [`Codec`] | ours: a few lines of bit twiddling on the hot path |
//! | [`codec`] | [`AudioCodec`]: what an engine stream may speak (G.711 laws, G.722) | ours |
//! | [`g722`] | G.722 frames, 16 ↔ 8 kHz [`Resampler`](g722::Resampler) | codec: `audio-codec` (pure Rust, allocation-free); resampler ours |
//! | [`rtp`] | RTP header parse/write, [`TxContext`](rtp::TxContext) | ours: zero-copy, never panics, proptested |
//! | [`rtcp`] | SR/RR/SDES/BYE, RFC 5761 demux | ours: only the parts a call needs |
//! | [`stats`] | RFC 3550 A.1/A.3/A.8 loss and jitter, [`StreamStats`] | ours: the RFC's reference code |
//! | [`tone`] | ringback/busy by [`Region`], hold melody | ours: no crate knows E.180 cadences |
//! | [`mod@goertzel`] | single-frequency detector | ours: ten lines |
//! | [`dtmf`] | RFC 4733 payload, sender, receiver, in-band tone | ours: must share seq/timestamps with the audio |
//! | [`latch`] | symmetric RTP latching | ours |
//! | [`continuity`] | one continuous outgoing stream across source changes | ours |
//! | [`relay`] | two-legged relay core: latch, rewrite, mute, transcode, RTCP | ours |
//! | [`clip`] | announcement [`Clip`]s (shared 8 kHz PCM), WAV prompts, chimes | ours |
//! | [`playout`] | what a stream plays by itself: [`Source`], a [`Clip`] once | ours |
//! | [`jitter`] | adaptive per-participant jitter buffer | ours: one ring for all three codecs |
//! | [`mixer`] | conference mixer: loudest-N, minus-own, soft clip, codec groups, roster | ours: the core of meetings |
//! | [`tick_schedule`] | when each conference ticks: due-time heap, skip rule, thread choice | ours |
//! | [`recorder`] | WAV (PCM16 mono 8 kHz) over any `Write + Seek` | ours: a 44-byte header |
//! | [`ports`] | even RTP / odd RTCP port pool | ours |
//! | [`engine`] | tokio driver: [`MediaEngine`], [`Stream`], bridging, [`Conference`]; mixing threads | tokio; `thread-priority`, `rustix` for the threads' priority |
//!
//! DESIGN.md lists `rtp-types` among the chosen dependencies; we do not use it here. The
//! relay needs a parse that hands back a payload range and a header write into a reused
//! buffer, the code for that is shorter than the glue, and RTP/RTCP/G.711 on the hot path
//! are better owned (see each module). Everything allocates per stream, not per packet,
//! except the 50-per-second generated frames.
//!
//! Meetings: [`MediaEngine::conference`] gives a [`Conference`] that streams join; it mixes on
//! its own 20 ms tick, run by one of the engine's mixing threads (outside tokio), and sends
//! each participant's frame through the participant's own [`continuity::Outbound`]. See
//! `docs/media-mixer.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod clip;
pub mod codec;
pub mod continuity;
pub mod dtmf;
pub mod engine;
pub mod g711;
pub mod g722;
pub mod goertzel;
pub mod jitter;
pub mod latch;
pub mod mixer;
pub mod playout;
pub mod ports;
pub mod recorder;
pub mod relay;
pub mod rtcp;
pub mod rtp;
pub mod stats;
pub mod tick_schedule;
pub mod tone;

pub use clip::Clip;
pub use codec::AudioCodec;
pub use dtmf::DtmfDigit;
pub use engine::{
    Conference, MediaConfig, MediaEngine, MediaError, MixingConfig, MixingPriority, Stream,
};
pub use g711::Codec;
pub use goertzel::goertzel;
pub use mixer::{MixerConfig, ParticipantId, RosterEvent, Target};
pub use playout::{ClipEnd, Source};
pub use relay::{MuteMode, RemoteMedia, Side};
pub use stats::StreamStats;
pub use tone::{Region, ToneKind};
