//! A phone's audio on loopback for meeting tests: a UDP socket that sends a tone every
//! 20 ms (bounded) to whoever sent it RTP first (symmetric RTP, as ViaWork latches), in
//! G.711 µ-law by default or in A-law or G.722 (16 kHz audio, RTP clock 8000, the media
//! crate's encoder), sends RFC 4733 digits on request, and keeps what it hears decoded
//! (PCMU, PCMA or G.722, by static payload type; G.722 halved to 8 kHz) so a test can
//! measure each frequency with goertzel.

use std::f64::consts::TAU;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use media::g722::{G722Decoder, G722Encoder, Resampler, WIDE_FRAME};
use media::rtp::{self, RtpPacket};
use media::AudioCodec;

/// Tone amplitude (about -11 dBm0).
pub const AMP: f64 = 6000.0;
/// Goertzel window: the last 400 ms heard.
const WINDOW: usize = 3200;
/// A phone stops sending after this many frames (60 s).
const MAX_FRAMES: u32 = 3000;
const TELEPHONE_EVENT: u8 = 101;

#[derive(Default)]
struct State {
    heard: Vec<i16>,
    /// Samples heard in all (a clock of the media received).
    total: u64,
    /// Where ViaWork's stream sends from (learned from its first packet).
    peer: Option<SocketAddr>,
    digits: Vec<u8>,
    /// Audio payload types received, each once, in order of arrival.
    payload_types: Vec<u8>,
}

/// A test phone.
pub struct Phone {
    /// Its RTP port (put in the SDP answer).
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Phone {
    /// Binds an even port on 127.0.0.1 and starts sending `freq` Hz in µ-law once it knows
    /// where to.
    pub fn start(freq: f64) -> Phone {
        Phone::start_with(freq, AudioCodec::Pcmu)
    }

    /// Like [`start`](Self::start), sending `codec` at its static payload type.
    pub fn start_with(freq: f64, codec: AudioCodec) -> Phone {
        let sock = loop {
            let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
            if s.local_addr().map(|a| a.port() % 2 == 0).unwrap_or(false) {
                break s;
            }
        };
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let port = sock.local_addr().expect("addr").port();
        let sock = Arc::new(sock);
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let receiver = {
            let (sock, state, stop) = (sock.clone(), state.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                let (mut dec, mut down) = (G722Decoder::new(), Resampler::new());
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = sock.recv_from(&mut buf) else {
                        continue;
                    };
                    let Ok(p) = RtpPacket::parse(&buf[..n]) else {
                        continue;
                    };
                    let mut st = state.lock().expect("state");
                    st.peer.get_or_insert(from);
                    let pt = p.header.payload_type;
                    if let Some(codec) = AudioCodec::from_payload_type(pt) {
                        if !st.payload_types.contains(&pt) {
                            st.payload_types.push(pt);
                        }
                        let mut pcm = [0i16; 160];
                        let len = p.payload.len().min(160);
                        match codec.g711() {
                            Some(law) => law.decode(&p.payload[..len], &mut pcm[..len]),
                            None => {
                                let mut wide = [0i16; WIDE_FRAME];
                                dec.decode(&p.payload[..len], &mut wide);
                                down.downsample(&wide, &mut pcm);
                            }
                        }
                        st.heard.extend_from_slice(&pcm[..len]);
                        st.total += len as u64;
                        let excess = st.heard.len().saturating_sub(4 * WINDOW);
                        st.heard.drain(..excess);
                    }
                }
            })
        };
        let sender = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seq: u16 = 0;
                let mut ts: u32 = 0;
                let mut n: u64 = 0;
                let mut enc = G722Encoder::new();
                let start = Instant::now();
                for frame in 0..MAX_FRAMES {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    // Paced by the wall clock: RTP is 50 packets a second.
                    let due = start + Duration::from_millis(20 * u64::from(frame));
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let (peer, digit) = {
                        let mut st = state.lock().expect("state");
                        let d = (!st.digits.is_empty()).then(|| st.digits.remove(0));
                        (st.peer, d)
                    };
                    let Some(peer) = peer else {
                        continue;
                    };
                    let mut pkt = Vec::with_capacity(200);
                    if let Some(event) = digit {
                        // One digit: 3 packets of 60 ms with the end bit on the last,
                        // sent back to back in this slot (duration grows), then audio.
                        for (i, end) in [(1u16, false), (2, false), (3, true)] {
                            pkt.clear();
                            let payload = [
                                event,
                                if end { 0x80 | 10 } else { 10 },
                                ((i * 160) >> 8) as u8,
                                (i * 160) as u8,
                            ];
                            rtp::write_simple(
                                &mut pkt,
                                TELEPHONE_EVENT,
                                i == 1,
                                seq,
                                ts,
                                0x5eed,
                                &payload,
                            );
                            seq = seq.wrapping_add(1);
                            let _ = sock.send_to(&pkt, peer);
                        }
                        ts = ts.wrapping_add(480);
                        continue;
                    }
                    // 20 ms of the tone at the codec's audio rate.
                    let (len, rate) = match codec {
                        AudioCodec::G722 => (WIDE_FRAME as u64, 16000.0),
                        _ => (160, 8000.0),
                    };
                    let pcm: Vec<i16> = (0..len)
                        .map(|i| (AMP * (TAU * freq * (n + i) as f64 / rate).sin()) as i16)
                        .collect();
                    n += len;
                    let mut payload = [0u8; 160];
                    match codec.g711() {
                        Some(law) => law.encode(&pcm, &mut payload),
                        None => enc.encode(&pcm, &mut payload),
                    }
                    pkt.clear();
                    let pt = codec.payload_type();
                    rtp::write_simple(&mut pkt, pt, false, seq, ts, 0x5eed, &payload);
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(160);
                    let _ = sock.send_to(&pkt, peer);
                }
            })
        };
        Phone {
            port,
            state,
            stop,
            threads: vec![receiver, sender],
        }
    }

    /// The amplitude of `freq` in the last 400 ms heard (0 before anything is heard).
    pub fn level(&self, freq: f64) -> f64 {
        let st = self.state.lock().expect("state");
        if st.heard.len() < WINDOW {
            return 0.0;
        }
        media::goertzel(&st.heard[st.heard.len() - WINDOW..], freq, 8000)
    }

    /// Sends to `peer` from now on (the address in the SDP ViaWork offered), as a phone
    /// does as soon as the call is answered, before it hears anything.
    pub fn send_to(&self, peer: SocketAddr) {
        self.state.lock().expect("state").peer = Some(peer);
    }

    /// Samples of audio heard since the start (8000 a second while ViaWork sends).
    pub fn heard_samples(&self) -> u64 {
        self.state.lock().expect("state").total
    }

    /// The audio payload types received so far, each once, in order of arrival.
    pub fn payload_types(&self) -> Vec<u8> {
        self.state.lock().expect("state").payload_types.clone()
    }

    /// Whether ViaWork has sent this phone anything yet.
    pub fn connected(&self) -> bool {
        self.state.lock().expect("state").peer.is_some()
    }

    /// Queues keypad digits (`0`-`9`, `*`, `#`) to send as RFC 4733 events, one per 20 ms.
    pub fn press(&self, keys: &str) {
        let mut st = self.state.lock().expect("state");
        for k in keys.chars() {
            let code = match k {
                '0'..='9' => k as u8 - b'0',
                '*' => 10,
                '#' => 11,
                _ => continue,
            };
            st.digits.push(code);
        }
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Polls `cond` every 20 ms until it holds or `limit` passes; true if it held.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
