//! Conferences on loopback: plain UDP sockets play the phones, each sending its own tone at
//! 20 ms, and what each one receives is decoded and checked with goertzel.

use std::f64::consts::TAU;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use media::dtmf::TelephoneEvent;
use media::g722::{G722Decoder, G722Encoder, WIDE_FRAME};
use media::mixer::{MixerConfig, RosterEvent, Target};
use media::rtp::{self, RtpPacket};
use media::{
    goertzel, AudioCodec, Clip, ClipEnd, Codec, Conference, MediaConfig, MediaEngine,
    ParticipantId, RemoteMedia, Source, Stream,
};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::timeout;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(5);
/// Tone amplitude each phone sends (about -11 dBm0).
const AMP: f64 = 6000.0;
/// What counts as hearing a tone / as not hearing it, in goertzel amplitude.
const HEARD: f64 = 0.5 * AMP;
const ABSENT: f64 = 300.0;
/// Goertzel window: the last 400 ms received.
const WINDOW: usize = 3200;
/// Every phone stops sending after this many frames (the tests end long before).
const MAX_FRAMES: u32 = 1000;

fn engine() -> MediaEngine {
    MediaEngine::new(MediaConfig::new(LO)).unwrap()
}

fn quiet() -> MixerConfig {
    MixerConfig {
        entry_tone: None,
        exit_tone: None,
        ..MixerConfig::default()
    }
}

/// What a phone received: decoded audio at 8 kHz and the headers.
#[derive(Default)]
struct Heard {
    pcm: Vec<i16>,
    ssrcs: Vec<u32>,
    last_seq: Option<u16>,
    seq_jumps: u32,
    last_payload: Vec<u8>,
    last_payload_type: u8,
}

/// A phone on loopback sending a tone to its engine stream and recording what it hears.
struct Phone {
    sock: Arc<UdpSocket>,
    heard: Arc<Mutex<Heard>>,
    freq: Arc<Mutex<f64>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Phone {
    async fn start(stream: &Stream, codec: AudioCodec, freq: f64) -> Phone {
        let sock = Arc::new(UdpSocket::bind((LO, 0)).await.unwrap());
        let heard = Arc::new(Mutex::new(Heard::default()));
        let freq = Arc::new(Mutex::new(freq));
        let dest = stream.local_addr();
        let sender = {
            let (sock, freq) = (sock.clone(), freq.clone());
            tokio::spawn(async move {
                let mut enc = G722Encoder::new();
                let mut tick = tokio::time::interval(Duration::from_millis(20));
                let rate = if codec == AudioCodec::G722 {
                    16000.0
                } else {
                    8000.0
                };
                let mut n = 0u64;
                for seq in 0..MAX_FRAMES as u16 {
                    tick.tick().await;
                    let f = *freq.lock().unwrap();
                    let len = if codec == AudioCodec::G722 {
                        WIDE_FRAME
                    } else {
                        160
                    };
                    let pcm: Vec<i16> = (0..len as u64)
                        .map(|i| (AMP * (TAU * f * (n + i) as f64 / rate).sin()) as i16)
                        .collect();
                    n += len as u64;
                    let mut payload = [0u8; 160];
                    match codec {
                        AudioCodec::Pcmu => Codec::Pcmu.encode(&pcm, &mut payload),
                        AudioCodec::Pcma => Codec::Pcma.encode(&pcm, &mut payload),
                        AudioCodec::G722 => enc.encode(&pcm, &mut payload),
                    }
                    let mut pkt = Vec::new();
                    let ts = seq as u32 * 160;
                    rtp::write_simple(&mut pkt, codec.payload_type(), false, seq, ts, 77, &payload);
                    let _ = sock.send_to(&pkt, dest).await;
                }
            })
        };
        let receiver = {
            let (sock, heard) = (sock.clone(), heard.clone());
            tokio::spawn(async move {
                let mut dec = G722Decoder::new();
                let mut buf = [0u8; 2048];
                while let Ok((n, _)) = sock.recv_from(&mut buf).await {
                    let Ok(p) = RtpPacket::parse(&buf[..n]) else {
                        continue;
                    };
                    let mut pcm = [0i16; 160];
                    match p.header.payload_type {
                        0 => Codec::Pcmu.decode(p.payload, &mut pcm),
                        8 => Codec::Pcma.decode(p.payload, &mut pcm),
                        9 => {
                            let mut wide = [0i16; WIDE_FRAME];
                            dec.decode(p.payload, &mut wide);
                            for (o, w) in pcm.iter_mut().zip(wide.chunks(2)) {
                                *o = w[0];
                            }
                        }
                        _ => continue,
                    }
                    let mut h = heard.lock().unwrap();
                    h.pcm.extend_from_slice(&pcm[..p.payload.len().min(160)]);
                    if !h.ssrcs.contains(&p.header.ssrc) {
                        h.ssrcs.push(p.header.ssrc);
                    }
                    if let Some(last) = h.last_seq {
                        if p.header.sequence != last.wrapping_add(1) {
                            h.seq_jumps += 1;
                        }
                    }
                    h.last_seq = Some(p.header.sequence);
                    h.last_payload = p.payload.to_vec();
                    h.last_payload_type = p.header.payload_type;
                }
            })
        };
        Phone {
            sock,
            heard,
            freq,
            tasks: vec![sender, receiver],
        }
    }

    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    /// Goertzel level of `freq` over the last 400 ms heard (0 until that much arrived).
    fn level(&self, freq: f64) -> f64 {
        let h = self.heard.lock().unwrap();
        if h.pcm.len() < WINDOW {
            return 0.0;
        }
        goertzel(&h.pcm[h.pcm.len() - WINDOW..], freq, 8000)
    }

    fn samples(&self) -> usize {
        self.heard.lock().unwrap().pcm.len()
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Polls `cond` every 10 ms until it holds, failing with `what` after the deadline.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let ok = timeout(WAIT, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "not within {WAIT:?}: {what}");
}

/// Hears every frequency of `on` and none of `off`.
fn hears(p: &Phone, on: &[f64], off: &[f64]) -> bool {
    on.iter().all(|&f| p.level(f) > HEARD) && off.iter().all(|&f| p.level(f) < ABSENT)
}

async fn party(
    engine: &MediaEngine,
    conf: &Conference,
    codec: AudioCodec,
    freq: f64,
) -> (Stream, Phone, ParticipantId) {
    let stream = engine.open().await.unwrap();
    let phone = Phone::start(&stream, codec, freq).await;
    let id = match codec {
        AudioCodec::Pcmu | AudioCodec::Pcma => {
            let law = if codec == AudioCodec::Pcmu {
                Codec::Pcmu
            } else {
                Codec::Pcma
            };
            stream.set_remote(RemoteMedia::new(phone.addr(), law).with_dtmf(101));
            conf.join(&stream).unwrap()
        }
        AudioCodec::G722 => {
            stream.set_remote(RemoteMedia::new(phone.addr(), AudioCodec::G722).with_dtmf(101));
            conf.join(&stream).unwrap()
        }
    };
    (stream, phone, id)
}

const F: [f64; 3] = [440.0, 700.0, 1100.0];

#[test]
fn the_handles_can_be_shared_across_tasks() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Conference>();
    shareable::<Clip>();
    fn sendable<T: Send + 'static>() {}
    sendable::<Stream>();
    sendable::<tokio::sync::broadcast::Receiver<RosterEvent>>();
}

#[tokio::test]
async fn three_parties_each_hear_the_other_two_and_not_themselves_and_mute_removes_one() {
    let engine = engine();
    let conf = engine.conference(quiet());
    let mut events = conf.events();
    let mut parties = Vec::new();
    for f in F {
        parties.push(party(&engine, &conf, AudioCodec::Pcmu, f).await);
    }
    conf.reset_tick_stats();
    let phones: Vec<&Phone> = parties.iter().map(|p| &p.1).collect();
    eventually("each hears the other two and not itself", || {
        (0..3).all(|i| {
            let others: Vec<f64> = (0..3).filter(|&j| j != i).map(|j| F[j]).collect();
            hears(phones[i], &others, &[F[i]])
        })
    })
    .await;
    // Roster: three joins, and each of the three starts speaking.
    let (mut joined, mut speaking) = (Vec::new(), Vec::new());
    while speaking.len() < 3 {
        match timeout(WAIT, events.recv()).await.unwrap().unwrap() {
            RosterEvent::SpeakingStarted(id) if !speaking.contains(&id) => speaking.push(id),
            RosterEvent::Joined(id) => joined.push(id),
            _ => {}
        }
    }
    joined.sort();
    speaking.sort();
    assert_eq!(joined, speaking);
    assert_eq!(conf.participants().iter().filter(|p| p.speaking).count(), 3);

    let muted = parties[1].2;
    conf.set_muted(muted, true).unwrap();
    eventually("the muted party's tone is gone for the others", || {
        hears(phones[0], &[F[2]], &[F[0], F[1]]) && hears(phones[2], &[F[0]], &[F[1], F[2]])
    })
    .await;
    assert!(
        hears(phones[1], &[F[0], F[2]], &[F[1]]),
        "the muted party still hears"
    );
    conf.set_muted(muted, false).unwrap();
    eventually("back after unmuting", || {
        hears(phones[0], &[F[1], F[2]], &[F[0]])
    })
    .await;

    // One SSRC per receiver for the whole conference, consecutive sequence numbers.
    for p in &phones {
        let h = p.heard.lock().unwrap();
        assert_eq!(h.ssrcs.len(), 1);
        assert!(h.seq_jumps <= 2, "{} sequence jumps", h.seq_jumps);
    }
    let stats = conf.tick_stats();
    assert!(stats.ticks > 20 && stats.sent >= 3 * (stats.ticks - 2));
    let js = conf.jitter_stats(parties[0].2).unwrap();
    assert!(js.received > 20 && js.played > 20, "{js:?}");
    assert!(conf.jitter_stats(ParticipantId(999)).is_none());
}

#[tokio::test]
async fn a_g722_party_interoperates_with_g711_parties() {
    let engine = engine();
    let conf = engine.conference(quiet());
    let a = party(&engine, &conf, AudioCodec::Pcmu, F[0]).await;
    let b = party(&engine, &conf, AudioCodec::Pcma, F[1]).await;
    let c = party(&engine, &conf, AudioCodec::G722, F[2]).await;
    eventually("everyone hears the other two across codecs", || {
        hears(&a.1, &[F[1], F[2]], &[F[0]])
            && hears(&b.1, &[F[0], F[2]], &[F[1]])
            && hears(&c.1, &[F[0], F[1]], &[F[2]])
    })
    .await;
    assert_eq!(c.1.heard.lock().unwrap().last_payload.len(), 160);
}

#[tokio::test]
async fn a_reinvite_to_another_law_is_followed_by_the_mix() {
    let engine = engine();
    let conf = engine.conference(quiet());
    let a = party(&engine, &conf, AudioCodec::Pcmu, F[0]).await;
    let b = party(&engine, &conf, AudioCodec::Pcmu, F[1]).await;
    eventually("a and b hear each other", || {
        hears(&a.1, &[F[1]], &[]) && hears(&b.1, &[F[0]], &[])
    })
    .await;
    // b's stream is re-negotiated to A-law; its phone still sends µ-law (payload type 0),
    // which the mixer no longer takes as b's audio.
    b.0.set_remote(RemoteMedia::new(b.1.addr(), Codec::Pcma).with_dtmf(101));
    eventually(
        "b receives A-law and still hears a; a no longer hears b",
        || {
            b.1.heard.lock().unwrap().last_payload_type == 8
                && hears(&b.1, &[F[0]], &[])
                && hears(&a.1, &[], &[F[1]])
        },
    )
    .await;
    assert_eq!(conf.participant(b.2).unwrap().codec, AudioCodec::Pcma);
}

#[tokio::test]
async fn a_recording_holds_the_mixed_tones_after_its_announcement() {
    let engine = engine();
    let conf = engine.conference(quiet());
    let mut parties = Vec::new();
    for f in F {
        parties.push(party(&engine, &conf, AudioCodec::Pcmu, f).await);
    }
    eventually("the meeting is under way", || {
        hears(&parties[0].1, &[F[1], F[2]], &[F[0]])
    })
    .await;
    let path = std::env::temp_dir().join(format!("viawork-rec-{}.wav", std::process::id()));
    let notice = Clip::notes(&[(1500.0, 400)], -10.0);
    conf.start_recording(&path, Some(notice)).unwrap();
    assert!(matches!(
        conf.start_recording(&path, None),
        Err(media::MediaError::AlreadyRecording)
    ));
    // Everyone hears the notice.
    eventually("the recording notice reaches the parties", || {
        parties.iter().all(|p| p.1.level(1500.0) > 1000.0)
    })
    .await;
    // 1.5 s of recording: the file grows past 24,000 bytes of samples (buffered writes).
    eventually("the recording grows", || {
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) > 44 + 24_000
    })
    .await;
    let summary = conf.stop_recording().await.unwrap();
    assert!(!conf.is_recording());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(bytes.len() as u64, 44 + 2 * summary.samples);
    let clip = Clip::from_wav(&bytes).expect("a valid WAV");
    let pcm = clip.samples();
    assert!(
        summary.duration() >= Duration::from_millis(1500),
        "{summary:?}"
    );
    // The notice is at the start, the three tones all through.
    assert!(goertzel(&pcm[..2400], 1500.0, 8000) > 1000.0);
    let tail = &pcm[pcm.len() - WINDOW..];
    for f in F {
        assert!(
            goertzel(tail, f, 8000) > HEARD,
            "{f} Hz missing from the recording"
        );
    }
    assert!(goertzel(tail, 1500.0, 8000) < ABSENT);
}

#[tokio::test]
async fn dtmf_still_arrives_in_a_conference_and_leaving_returns_the_stream_to_silence() {
    let engine = engine();
    let conf = engine.conference(quiet());
    let (mut a, pa, ida) = party(&engine, &conf, AudioCodec::Pcmu, F[0]).await;
    let (_b, pb, _) = party(&engine, &conf, AudioCodec::Pcmu, F[1]).await;
    eventually("a hears b", || hears(&pa, &[F[1]], &[])).await;
    // The phone presses 6 (RFC 4733, three packets of one event).
    for (i, end) in [false, false, true].into_iter().enumerate() {
        let ev = TelephoneEvent {
            event: 6,
            end,
            volume: 10,
            duration: 160 * (i as u16 + 1),
        };
        let mut pkt = Vec::new();
        rtp::write_simple(
            &mut pkt,
            101,
            i == 0,
            9000 + i as u16,
            99_000,
            78,
            &ev.encode(),
        );
        pa.sock.send_to(&pkt, a.local_addr()).await.unwrap();
    }
    let digit = timeout(WAIT, a.dtmf_events().recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(digit.to_char(), '6');

    let ssrc = pa.heard.lock().unwrap().ssrcs[0];
    conf.leave(ida).unwrap();
    assert!(!a.in_conference());
    eventually("a hears plain silence from its stream", || {
        let h = pa.heard.lock().unwrap();
        h.last_payload == [0xFF; 160]
    })
    .await;
    assert_eq!(
        pa.heard.lock().unwrap().ssrcs,
        [ssrc],
        "one stream before and after"
    );
    // b no longer hears a.
    eventually("b stops hearing a", || hears(&pb, &[], &[F[0]])).await;
    assert!(conf.leave(ida).is_err());
    // The stream can join again.
    let again = conf.join(&a).unwrap();
    assert_ne!(again, ida);
    assert!(matches!(
        conf.join(&a),
        Err(media::MediaError::AlreadyInConference)
    ));
    eventually("b hears a again", || hears(&pb, &[F[0]], &[])).await;
    *pa.freq.lock().unwrap() = 0.0;
}

#[tokio::test]
async fn a_dropped_stream_leaves_and_entry_exit_tones_and_private_announcements_play() {
    let engine = engine();
    let conf = engine.conference(MixerConfig::default());
    let mut events = conf.events();
    let (a, pa, ida) = party(&engine, &conf, AudioCodec::Pcmu, 0.0).await;
    let (b, pb, idb) = party(&engine, &conf, AudioCodec::Pcmu, 0.0).await;
    eventually("the entry chime reaches a", || pa.level(880.0) > 500.0).await;
    let private = Clip::notes(&[(1500.0, 600)], -10.0);
    let ann = conf.announce(private, Target::Only(idb)).unwrap();
    eventually("b hears its private announcement", || {
        pb.level(1500.0) > 1000.0
    })
    .await;
    assert!(pa.level(1500.0) < ABSENT, "a does not");
    assert!(conf
        .announce(Clip::entry_tone(), Target::Only(ParticipantId(999)))
        .is_err());
    drop(b);
    let mut seen = Vec::new();
    // b's private announcement ends with b.
    while !(seen.contains(&RosterEvent::Left(idb))
        && seen.contains(&RosterEvent::AnnouncementFinished(ann)))
    {
        seen.push(timeout(WAIT, events.recv()).await.unwrap().unwrap());
    }
    assert_eq!(conf.participants().len(), 1);
    let before = pa.samples();
    eventually("the exit chime reaches a", || {
        pa.samples() > before + WINDOW && pa.level(660.0) > 500.0
    })
    .await;
    // Ending the conference returns the last stream to silence.
    drop(conf);
    eventually("a plays silence on its own", || {
        !a.in_conference() && pa.heard.lock().unwrap().last_payload == [0xFF; 160]
    })
    .await;
    let _ = ida;
}

#[tokio::test]
async fn a_prompt_clip_plays_then_reports_finished_and_play_interrupts_one() {
    let engine = engine();
    let stream = engine.open().await.unwrap();
    let phone = Phone::start(&stream, AudioCodec::Pcmu, 0.0).await;
    stream.set_remote(RemoteMedia::new(phone.addr(), Codec::Pcmu));
    let prompt = Clip::notes(&[(1000.0, 300)], -10.0);
    let done = stream.play_clip(prompt.clone(), Source::Silence);
    assert_eq!(timeout(WAIT, done).await.unwrap(), Ok(ClipEnd::Finished));
    // The last frames are on their way when the clip reports finished.
    eventually("the whole prompt arrives", || phone.samples() >= 2400).await;
    let heard = phone.heard.lock().unwrap().pcm.clone();
    assert!(goertzel(&heard[..2400], 1000.0, 8000) > 2000.0);
    eventually("silence follows the prompt", || {
        phone.heard.lock().unwrap().last_payload == [0xFF; 160]
    })
    .await;
    let done = stream.play_clip(prompt, Source::Silence);
    stream.play(Source::Silence);
    assert_eq!(timeout(WAIT, done).await.unwrap(), Ok(ClipEnd::Interrupted));
}

#[tokio::test]
async fn a_g722_stream_plays_its_prompt_in_g722_and_joins_as_g722() {
    let engine = engine();
    let conf = engine.conference(quiet());
    let stream = engine.open().await.unwrap();
    let phone = Phone::start(&stream, AudioCodec::G722, F[2]).await;
    stream.set_remote(RemoteMedia::new(phone.addr(), AudioCodec::G722));
    // The IVR's prompt (an 8 kHz clip) goes out as G.722, and decodes to its tone.
    let prompt = Clip::notes(&[(1000.0, 400)], -10.0);
    let done = stream.play_clip(prompt, Source::Silence);
    assert_eq!(timeout(WAIT, done).await.unwrap(), Ok(ClipEnd::Finished));
    eventually("the whole prompt arrives", || phone.samples() >= 3200).await;
    {
        let h = phone.heard.lock().unwrap();
        assert_eq!(h.last_payload_type, 9);
        assert!(goertzel(&h.pcm[400..3200], 1000.0, 8000) > 2000.0);
    }
    // Joined by its remote alone, it is a G.722 participant, and hears the others.
    let id = conf.join(&stream).unwrap();
    assert_eq!(conf.participant(id).unwrap().codec, AudioCodec::G722);
    let other = party(&engine, &conf, AudioCodec::Pcma, F[0]).await;
    eventually("the G.722 party hears the A-law party, not itself", || {
        hears(&phone, &[F[0]], &[F[2]])
    })
    .await;
    eventually("the A-law party hears the G.722 party", || {
        hears(&other.1, &[F[2]], &[F[0]])
    })
    .await;
}
