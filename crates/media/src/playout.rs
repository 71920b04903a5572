//! What a stream plays by itself (sans-IO): a tone, silence or nothing, with RFC 4733 DTMF
//! laid over it, and an announcement [`Clip`] played once in place of the source (an IVR
//! prompt), after which the source resumes. The engine calls [`Playout::tick`] every 20 ms
//! while [`wants_ticks`](Playout::wants_ticks) says so; while a stream is bridged (or in a
//! conference) only DTMF is generated, and relayed audio is held back while an event is on
//! the wire.
//!
//! Tones, clips and silence are made at 8 kHz. Toward a G.722 remote each frame is
//! upsampled to 16 kHz and encoded by the stream's own G.722 encoder (its ADPCM state and
//! the resampler's filter history run across frames, so there is one per stream); the RTP
//! side is unchanged, 160 bytes and 160 timestamp units per 20 ms (RFC 3551 §4.5.2).

use crate::clip::{Clip, ClipPlayer};
use crate::codec::AudioCodec;
use crate::dtmf::{DtmfDigit, DtmfError, DtmfSender, DtmfTiming};
use crate::g711::FRAME_SAMPLES;
use crate::g722::{G722Encoder, Resampler, FRAME_BYTES, WIDE_FRAME};
use crate::rtp::TxContext;
use crate::tone::{Region, ToneGenerator, ToneKind};

/// What a stream sends when it is not relaying its peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// A generated tone.
    Tone(ToneKind),
    /// Frames of digital silence (keeps NAT bindings and jitter buffers alive).
    Silence,
    /// No packets at all.
    #[default]
    Nothing,
}

/// How a clip played on a stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClipEnd {
    /// Its last sample went out.
    Finished,
    /// Something else was played, bridged or joined first.
    Interrupted,
}

/// What sending G.722 needs besides the 8 kHz frame: the upsampler and the encoder.
#[derive(Debug)]
struct WideTx {
    up: Resampler,
    encoder: G722Encoder,
    wide: [i16; WIDE_FRAME],
}

impl WideTx {
    fn new() -> Box<Self> {
        Box::new(WideTx {
            up: Resampler::new(),
            encoder: G722Encoder::new(),
            wide: [0; WIDE_FRAME],
        })
    }

    fn encode(&mut self, pcm: &[i16; FRAME_SAMPLES], out: &mut [u8; FRAME_BYTES]) {
        self.up.upsample(pcm, &mut self.wide);
        self.encoder.encode(&self.wide, out);
    }
}

/// The local generator of one stream.
#[derive(Debug)]
pub struct Playout {
    source: Source,
    region: Region,
    generator: Option<ToneGenerator>,
    timing: DtmfTiming,
    dtmf: Option<DtmfSender>,
    pcm: [i16; FRAME_SAMPLES],
    payload: [u8; FRAME_SAMPLES],
    clip: Option<ClipPlayer>,
    clip_done: bool,
    /// G.722 state, made on the first G.722 frame and dropped when the codec changes.
    wide: Option<Box<WideTx>>,
}

impl Playout {
    /// Plays nothing yet; tones will use `region`'s cadences.
    pub fn new(region: Region, timing: DtmfTiming) -> Self {
        Playout {
            source: Source::Nothing,
            region,
            generator: None,
            timing,
            dtmf: None,
            pcm: [0; FRAME_SAMPLES],
            payload: [0; FRAME_SAMPLES],
            clip: None,
            clip_done: false,
            wide: None,
        }
    }

    /// Plays `clip` once, in place of the source, from the next tick; the source resumes
    /// after it. Replaces a clip still playing.
    pub fn play_clip(&mut self, clip: Clip) {
        self.clip = Some(ClipPlayer::new(clip));
        self.clip_done = false;
    }

    /// Whether a clip is playing.
    pub fn clip_playing(&self) -> bool {
        self.clip.is_some()
    }

    /// True once after the last frame of a clip went out.
    pub fn take_clip_done(&mut self) -> bool {
        std::mem::take(&mut self.clip_done)
    }

    /// Switches what to play, stopping any clip. A tone starts at the beginning of its
    /// cadence.
    pub fn set_source(&mut self, source: Source) {
        self.clip = None;
        self.generator = match source {
            Source::Tone(kind) => Some(ToneGenerator::new(kind, self.region)),
            _ => None,
        };
        self.source = source;
    }

    /// What is playing.
    pub fn source(&self) -> Source {
        self.source
    }

    /// Queues digits to send as telephone-events with the remote's payload type.
    pub fn queue_dtmf(&mut self, payload_type: u8, digits: &[DtmfDigit]) -> Result<(), DtmfError> {
        let sender = self
            .dtmf
            .get_or_insert_with(|| DtmfSender::new(payload_type, self.timing));
        sender.set_payload_type(payload_type);
        sender.push(digits)
    }

    /// Follows a re-negotiated telephone-event payload type; without one, queued digits
    /// are dropped.
    pub fn set_dtmf_payload_type(&mut self, payload_type: Option<u8>) {
        if let Some(d) = &mut self.dtmf {
            match payload_type {
                Some(pt) => d.set_payload_type(pt),
                None => d.clear_queue(),
            }
        }
    }

    /// Advances a slot in which nothing is generated (see [`sends_this_tick`](Self::sends_this_tick)).
    pub fn skip_tick(&mut self) {
        if let Some(d) = &mut self.dtmf {
            d.skip_tick();
        }
    }

    /// Whether the next [`tick`](Self::tick) produces a packet, so the caller should open a
    /// slot of the outgoing stream for it.
    pub fn sends_this_tick(&self, bridged: bool) -> bool {
        self.dtmf_busy() || (!bridged && (self.source != Source::Nothing || self.clip.is_some()))
    }

    /// True while a DTMF event occupies the stream (relayed audio must wait).
    pub fn dtmf_busy(&self) -> bool {
        self.dtmf.as_ref().is_some_and(|d| d.is_sending_event())
    }

    /// True while digits are queued or being sent.
    pub fn dtmf_pending(&self) -> bool {
        self.dtmf.as_ref().is_some_and(|d| !d.is_idle())
    }

    /// Whether the stream needs 20 ms ticks.
    pub fn wants_ticks(&self, bridged: bool) -> bool {
        self.dtmf_pending() || (!bridged && (self.source != Source::Nothing || self.clip.is_some()))
    }

    /// Generates this slot's packet into `out` (cleared first) and returns its payload
    /// length, or None when nothing is sent this slot.
    pub fn tick(
        &mut self,
        ctx: &mut TxContext,
        codec: AudioCodec,
        payload_type: u8,
        bridged: bool,
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        out.clear();
        if let Some(dtmf) = &mut self.dtmf {
            if dtmf.tick(ctx, out) {
                return Some(out.len() - crate::rtp::HEADER_LEN);
            }
        }
        if bridged {
            return None;
        }
        if let Some(player) = &mut self.clip {
            let samples = player.next_frame();
            self.pcm[..samples.len()].copy_from_slice(samples);
            self.pcm[samples.len()..].fill(0);
            if player.finished() {
                self.clip = None;
                self.clip_done = true;
            }
            self.encode(codec);
            ctx.write_audio(out, payload_type, &self.payload);
            return Some(FRAME_SAMPLES);
        }
        match (self.source, codec.g711()) {
            (Source::Nothing, _) => return None,
            (Source::Silence, Some(law)) => {
                self.wide = None;
                self.payload.fill(law.silence_byte());
            }
            (Source::Silence, None) => {
                // G.722 has no stateless silence byte: encode silence.
                self.pcm.fill(0);
                self.encode(codec);
            }
            (Source::Tone(_), _) => {
                if let Some(g) = &mut self.generator {
                    g.fill(&mut self.pcm);
                }
                self.encode(codec);
            }
        }
        ctx.write_audio(out, payload_type, &self.payload);
        Some(FRAME_SAMPLES)
    }

    /// Encodes the 8 kHz frame in `pcm` into `payload`.
    fn encode(&mut self, codec: AudioCodec) {
        match codec.g711() {
            Some(law) => {
                // A later switch back to G.722 starts afresh, as the remote's decoder does.
                self.wide = None;
                law.encode(&self.pcm, &mut self.payload);
            }
            None => self
                .wide
                .get_or_insert_with(WideTx::new)
                .encode(&self.pcm, &mut self.payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::TelephoneEvent;
    use crate::rtp::RtpPacket;

    fn step(
        p: &mut Playout,
        ctx: &mut TxContext,
        bridged: bool,
    ) -> Option<(u8, bool, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let r = p.tick(ctx, AudioCodec::Pcma, 8, bridged, &mut out);
        ctx.timestamp = ctx.timestamp.wrapping_add(160);
        r.map(|len| {
            let pkt = RtpPacket::parse(&out).unwrap();
            assert_eq!(pkt.payload.len(), len);
            (
                pkt.header.payload_type,
                pkt.header.marker,
                pkt.header.timestamp,
                pkt.payload.to_vec(),
            )
        })
    }

    #[test]
    fn plays_tone_frames_then_dtmf_over_them_then_the_tone_again() {
        let mut p = Playout::new(Region::Eu, DtmfTiming::default());
        let mut ctx = TxContext::new(1, 0, 0);
        assert!(!p.wants_ticks(false));
        p.set_source(Source::Tone(ToneKind::Busy));
        assert!(p.wants_ticks(false) && !p.wants_ticks(true));
        let (pt, marker, ts, payload) = step(&mut p, &mut ctx, false).unwrap();
        assert_eq!((pt, marker, ts, payload.len()), (8, true, 0, 160));
        p.queue_dtmf(100, &DtmfDigit::parse_str("7").unwrap())
            .unwrap();
        assert!(p.dtmf_busy());
        let kinds: Vec<u8> = (0..12)
            .map(|_| step(&mut p, &mut ctx, false).unwrap().0)
            .collect();
        // 5 updates + 2 repeated ends, then tone frames resume during the gap.
        assert_eq!(kinds, [vec![100; 7], vec![8; 5]].concat());
        assert!(!p.dtmf_busy() && p.dtmf_pending());
    }

    #[test]
    fn bridged_streams_only_generate_dtmf() {
        let mut p = Playout::new(Region::Us, DtmfTiming::default());
        p.set_source(Source::Silence);
        let mut ctx = TxContext::new(1, 0, 0);
        assert_eq!(step(&mut p, &mut ctx, true), None);
        p.queue_dtmf(101, &DtmfDigit::parse_str("#").unwrap())
            .unwrap();
        assert!(p.wants_ticks(true));
        let (pt, marker, _, payload) = step(&mut p, &mut ctx, true).unwrap();
        assert_eq!((pt, marker), (101, true));
        assert_eq!(TelephoneEvent::decode(&payload).unwrap().event, 11);
    }

    #[test]
    fn a_clip_plays_once_in_place_of_the_source_then_the_source_resumes() {
        let mut p = Playout::new(Region::Us, DtmfTiming::default());
        p.set_source(Source::Silence);
        p.play_clip(Clip::from(vec![1000i16; 400]));
        let mut ctx = TxContext::new(1, 0, 0);
        let mut done_at = None;
        let mut payloads = Vec::new();
        for i in 0..4 {
            payloads.push(step(&mut p, &mut ctx, false).unwrap().3);
            if p.take_clip_done() {
                done_at = Some(i);
            }
        }
        assert_eq!(done_at, Some(2), "400 samples: three frames");
        let loud = crate::g711::Codec::Pcma.encode_sample(1000);
        assert!(payloads[1].iter().all(|&b| b == loud));
        assert_eq!(&payloads[2][..80], &[loud; 80][..]);
        assert_eq!(&payloads[2][80..], &[0xD5; 80][..], "padded with silence");
        assert_eq!(payloads[3], vec![0xD5; 160], "back to the source");
        assert!(!p.take_clip_done(), "reported once");
        // A new source stops a clip without reporting it finished.
        p.play_clip(Clip::from(vec![1000i16; 400]));
        assert!(p.wants_ticks(false) && p.clip_playing());
        p.set_source(Source::Nothing);
        assert!(!p.clip_playing() && !p.take_clip_done() && !p.wants_ticks(false));
    }

    /// Plays `frames` ticks toward a G.722 remote at payload type 9 and decodes what went out
    /// to 16 kHz.
    fn g722_out(p: &mut Playout, frames: usize) -> Vec<i16> {
        let mut ctx = TxContext::new(1, 0, 0);
        let mut dec = crate::g722::G722Decoder::new();
        let mut pcm = Vec::new();
        for i in 0..frames {
            let mut out = Vec::new();
            assert_eq!(
                p.tick(&mut ctx, AudioCodec::G722, 9, false, &mut out),
                Some(160)
            );
            let pkt = RtpPacket::parse(&out).unwrap();
            assert_eq!(pkt.header.payload_type, 9);
            assert_eq!(pkt.header.timestamp, 160 * i as u32, "8 kHz RTP clock");
            let mut wide = [0i16; WIDE_FRAME];
            dec.decode(pkt.payload, &mut wide);
            pcm.extend_from_slice(&wide);
            ctx.timestamp = ctx.timestamp.wrapping_add(160);
        }
        pcm
    }

    #[test]
    fn clips_tones_and_silence_go_out_as_g722_that_decodes_to_the_same_audio() {
        use crate::goertzel;
        use std::f64::consts::TAU;
        // A 1 kHz clip (8 kHz source) comes back at 1 kHz, at its level, with no image at
        // 8 kHz - 1 kHz from the upsampling.
        let sine: Vec<i16> = (0..8000)
            .map(|i| (8000.0 * (TAU * 1000.0 * i as f64 / 8000.0).sin()) as i16)
            .collect();
        let mut p = Playout::new(Region::Us, DtmfTiming::default());
        p.set_source(Source::Silence);
        p.play_clip(Clip::from(sine));
        let wide = g722_out(&mut p, 25);
        let tail = &wide[5 * WIDE_FRAME..];
        let level = goertzel(tail, 1000.0, 16000);
        assert!(
            (level - 8000.0).abs() < 1200.0,
            "1 kHz came back at {level:.0}"
        );
        assert!(goertzel(tail, 7000.0, 16000) < 300.0, "image at 7 kHz");
        assert!(goertzel(tail, 1370.0, 16000) < 400.0);

        // US ringback (440 + 480 Hz, on for the first 2 s).
        p.set_source(Source::Tone(ToneKind::Ringback));
        let wide = g722_out(&mut p, 25);
        let tail = &wide[5 * WIDE_FRAME..];
        for f in [440.0, 480.0] {
            assert!(goertzel(tail, f, 16000) > 1000.0, "{f} Hz missing");
        }
        assert!(goertzel(tail, 1000.0, 16000) < 200.0);

        // Silence is encoded silence, not a G.711 byte.
        p.set_source(Source::Silence);
        let wide = g722_out(&mut p, 10);
        let tail = &wide[5 * WIDE_FRAME..];
        assert!(tail.iter().all(|s| s.abs() < 50), "{:?}", &tail[..8]);
    }

    #[test]
    fn a_switch_from_g722_back_to_g711_sends_plain_g711() {
        let mut p = Playout::new(Region::Us, DtmfTiming::default());
        p.set_source(Source::Silence);
        let _ = g722_out(&mut p, 2);
        assert!(p.wide.is_some());
        let mut ctx = TxContext::new(1, 0, 0);
        let (pt, _, _, payload) = step(&mut p, &mut ctx, false).unwrap();
        assert_eq!((pt, payload), (8, vec![0xD5; 160]));
        assert!(p.wide.is_none(), "G.722 state dropped");
    }

    #[test]
    fn silence_uses_the_codec_silence_byte() {
        let mut p = Playout::new(Region::Us, DtmfTiming::default());
        p.set_source(Source::Silence);
        let mut ctx = TxContext::new(1, 0, 0);
        let (_, _, _, payload) = step(&mut p, &mut ctx, false).unwrap();
        assert_eq!(payload, vec![0xD5; 160]);
    }
}
