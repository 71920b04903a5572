//! The engine on loopback, with plain tokio sockets playing the phones.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use media::dtmf::{DtmfReceiver, TelephoneEvent};
use media::ports::PortError;
use media::rtcp::{self, RtcpPacket};
use media::rtp::{self, RtpHeader, RtpPacket};
use media::tone::dbm0_to_amplitude;
use media::{
    goertzel, Codec, MediaConfig, MediaEngine, MediaError, Region, RemoteMedia, Source, ToneKind,
};
use tokio::net::UdpSocket;
use tokio::time::timeout;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(3);

fn engine(region: Region) -> MediaEngine {
    let mut config = MediaConfig::new(LO);
    config.region = region;
    MediaEngine::new(config).unwrap()
}

/// A phone's RTP socket and its RTCP socket on the next port.
async fn phone_pair(ip: IpAddr) -> (UdpSocket, UdpSocket) {
    for _ in 0..100 {
        let rtp = UdpSocket::bind((ip, 0)).await.unwrap();
        let port = rtp.local_addr().unwrap().port();
        if port % 2 == 1 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind((ip, port + 1)).await {
            return (rtp, rtcp);
        }
    }
    panic!("no adjacent port pair on loopback");
}

async fn phone() -> UdpSocket {
    UdpSocket::bind((LO, 0)).await.unwrap()
}

async fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0; 2048];
    let (n, from) = timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .expect("no packet within 3 s")
        .unwrap();
    buf.truncate(n);
    (buf, from)
}

async fn recv_rtp(sock: &UdpSocket) -> (RtpHeader, Vec<u8>, SocketAddr) {
    let (buf, from) = recv(sock).await;
    let p = RtpPacket::parse(&buf).expect("valid RTP");
    (p.header, p.payload.to_vec(), from)
}

/// Awaits a condition on engine state that a packet we sent will make true.
async fn wait_for(mut cond: impl FnMut() -> bool) {
    timeout(WAIT, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("condition not met within 3 s");
}

fn audio(seq: u16, ssrc: u32, fill: u8) -> Vec<u8> {
    let mut v = Vec::new();
    rtp::write_simple(&mut v, 0, false, seq, seq as u32 * 160, ssrc, &[fill; 160]);
    v
}

#[tokio::test]
async fn tones_reach_the_remote_and_decode_to_the_regional_frequencies() {
    let cases = [
        (
            Region::Us,
            ToneKind::Ringback,
            Codec::Pcmu,
            &[440.0, 480.0][..],
            620.0,
        ),
        (
            Region::Us,
            ToneKind::Busy,
            Codec::Pcmu,
            &[480.0, 620.0][..],
            440.0,
        ),
        (
            Region::Eu,
            ToneKind::Ringback,
            Codec::Pcma,
            &[425.0][..],
            1000.0,
        ),
        (
            Region::Uk,
            ToneKind::Ringback,
            Codec::Pcma,
            &[400.0, 450.0][..],
            425.0,
        ),
    ];
    for (region, kind, codec, freqs, absent) in cases {
        let engine = engine(region);
        let stream = engine.open().await.unwrap();
        let phone = phone().await;
        stream.set_remote(RemoteMedia::new(phone.local_addr().unwrap(), codec));
        stream.play(Source::Tone(kind));
        // 300 ms: inside the first on period of every cadence tested.
        let mut pcm = Vec::new();
        let mut prev: Option<RtpHeader> = None;
        for i in 0..15 {
            let (h, payload, from) = recv_rtp(&phone).await;
            assert_eq!(from, stream.local_addr());
            assert_eq!(h.payload_type, codec.payload_type());
            assert_eq!(payload.len(), 160);
            if i == 0 {
                assert!(h.marker, "the first packet starts a talkspurt");
            }
            if let Some(p) = prev {
                assert_eq!(h.ssrc, p.ssrc);
                assert_eq!(h.sequence, p.sequence.wrapping_add(1));
                // A tick more than 60 ms late (a starved machine) restarts the talkspurt:
                // marker set, timestamp re-based forward by whole frames. Otherwise frame
                // follows frame.
                let step = h.timestamp.wrapping_sub(p.timestamp);
                if h.marker {
                    assert!(
                        step > 160 && step % 160 == 0,
                        "a restart jumps frames: {step}"
                    );
                } else {
                    assert_eq!(step, 160, "frame follows frame");
                }
            }
            prev = Some(h);
            pcm.extend(payload.iter().map(|&b| codec.decode_sample(b)));
        }
        let window = &pcm[160..]; // skip the fade-in
        let spec = match kind {
            ToneKind::Busy => region.busy(),
            _ => region.ringback(),
        };
        let level = dbm0_to_amplitude(spec.level_dbm0);
        for &f in freqs {
            let a = goertzel(window, f, 8000);
            assert!(a > 0.8 * level, "{region:?} {kind:?}: {f} Hz at {a}");
        }
        let stray = goertzel(window, absent, 8000);
        assert!(
            stray < 0.2 * level,
            "{region:?} {kind:?}: stray {absent} Hz at {stray}"
        );
        assert!(stream.stats().packets_sent >= 15);
        assert_eq!(stream.stats().bytes_sent, stream.stats().packets_sent * 160);
    }
}

#[tokio::test]
async fn dtmf_goes_out_as_rfc4733_with_the_negotiated_payload_type() {
    let engine = engine(Region::Us);
    let stream = engine.open().await.unwrap();
    let phone = phone().await;
    stream.set_remote(RemoteMedia::new(phone.local_addr().unwrap(), Codec::Pcmu).with_dtmf(96));
    stream.send_dtmf("1#").unwrap();
    let mut rx = DtmfReceiver::new();
    let mut digits = String::new();
    let mut events = Vec::new();
    for _ in 0..14 {
        let (h, payload, _) = recv_rtp(&phone).await;
        assert_eq!(h.payload_type, 96, "the negotiated PT, not 101");
        let ev = TelephoneEvent::decode(&payload).unwrap();
        events.push((h.marker, h.timestamp, ev.event, ev.end, ev.duration));
        if let Some(d) = rx.on_packet(h.ssrc, h.timestamp, &payload) {
            digits.push(d.to_char());
        }
    }
    assert_eq!(digits, "1#");
    for (digit, event) in events.chunks(7).enumerate() {
        let ts = event[0].1;
        for (i, &(marker, t, code, end, duration)) in event.iter().enumerate() {
            assert_eq!(marker, i == 0);
            assert_eq!(t, ts, "one timestamp per event");
            assert_eq!(code, [1, 11][digit]);
            assert_eq!(
                end,
                i >= 4,
                "end bit on the last update and its two repeats"
            );
            assert_eq!(duration as usize, 160 * (i + 1).min(5));
        }
    }
    assert_ne!(events[0].1, events[7].1, "each event has its own timestamp");
}

#[tokio::test]
async fn dtmf_needs_a_remote_with_telephone_event_and_valid_digits() {
    let engine = engine(Region::Us);
    let stream = engine.open().await.unwrap();
    assert!(matches!(stream.send_dtmf("1"), Err(MediaError::NoRemote)));
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    stream.set_remote(RemoteMedia::new(addr, Codec::Pcmu));
    assert!(matches!(
        stream.send_dtmf("1"),
        Err(MediaError::NoDtmfPayloadType)
    ));
    stream.set_remote(RemoteMedia::new(addr, Codec::Pcmu).with_dtmf(101));
    let err = stream.send_dtmf("12E").unwrap_err();
    assert!(err.to_string().contains("'E' at position 2"), "{err}");
}

#[tokio::test]
async fn dtmf_sent_by_one_stream_is_received_by_another_once_per_digit() {
    let engine = engine(Region::Us);
    let a = engine.open().await.unwrap();
    let mut b = engine.open().await.unwrap();
    a.set_remote(RemoteMedia::new(b.local_addr(), Codec::Pcmu).with_dtmf(101));
    b.set_remote(RemoteMedia::new(a.local_addr(), Codec::Pcmu).with_dtmf(101));
    a.send_dtmf("42#*").unwrap();
    let mut got = String::new();
    for _ in 0..4 {
        let d = timeout(WAIT, b.dtmf_events().recv())
            .await
            .unwrap()
            .unwrap();
        got.push(d.to_char());
    }
    assert_eq!(got, "42#*");
    // Once all 4 digits x 7 packets reached b, still no digit was reported twice.
    wait_for(|| b.stats().packets_received == 28).await;
    assert!(b.dtmf_events().try_recv().is_err());
}

struct Call {
    desk: (UdpSocket, UdpSocket),
    far: (UdpSocket, UdpSocket),
    a: media::Stream,
    b: media::Stream,
    _decoy: UdpSocket,
}

/// A bridged call: `a` faces the desk phone, `b` the far party. The desk phone's SDP
/// address is a decoy, so media only reaches the real desk socket through latching.
async fn call(engine: &MediaEngine) -> Call {
    let desk = phone_pair(LO).await;
    let far = phone_pair(LO).await;
    let decoy = phone().await;
    let a = engine.open().await.unwrap();
    let b = engine.open().await.unwrap();
    a.set_remote(RemoteMedia::new(decoy.local_addr().unwrap(), Codec::Pcmu).with_dtmf(101));
    b.set_remote(RemoteMedia::new(far.0.local_addr().unwrap(), Codec::Pcmu).with_dtmf(96));
    engine.bridge(&a, &b).unwrap();
    Call {
        desk,
        far,
        a,
        b,
        _decoy: decoy,
    }
}

#[tokio::test]
async fn a_bridge_relays_both_ways_latches_and_keeps_one_ssrc_per_side() {
    let engine = engine(Region::Us);
    let c = call(&engine).await;
    let desk_addr = c.desk.0.local_addr().unwrap();
    let far_addr = c.far.0.local_addr().unwrap();

    c.desk
        .0
        .send_to(&audio(1, 0x1111, 0x55), c.a.local_addr())
        .await
        .unwrap();
    let (h, payload, from) = recv_rtp(&c.far.0).await;
    assert_eq!(from, c.b.local_addr());
    assert_eq!(payload, vec![0x55; 160]);
    assert_ne!(h.ssrc, 0x1111, "the far party sees our SSRC");
    let far_ssrc = h.ssrc;
    let mut last = h;

    // The far party answers; it reaches the real desk socket, not the SDP decoy.
    c.far
        .0
        .send_to(&audio(50, 0x2222, 0x66), c.b.local_addr())
        .await
        .unwrap();
    let (h, payload, from) = recv_rtp(&c.desk.0).await;
    assert_eq!((from, payload), (c.a.local_addr(), vec![0x66; 160]));
    assert_ne!(h.ssrc, 0x2222);

    for seq in 2..=4 {
        c.desk
            .0
            .send_to(&audio(seq, 0x1111, 0x55), c.a.local_addr())
            .await
            .unwrap();
        last = recv_rtp(&c.far.0).await.0;
    }
    // Re-INVITE on the desk side: a new SSRC with new numbering. The far party sees one
    // continuous stream.
    let mut fresh = Vec::new();
    rtp::write_simple(
        &mut fresh,
        0,
        false,
        40_000,
        7_777_777,
        0x3333,
        &[0x77; 160],
    );
    c.desk.0.send_to(&fresh, c.a.local_addr()).await.unwrap();
    let (h, payload, _) = recv_rtp(&c.far.0).await;
    assert_eq!(payload, vec![0x77; 160]);
    assert_eq!(h.ssrc, far_ssrc);
    assert_eq!(h.sequence, last.sequence.wrapping_add(1));
    let advanced = h.timestamp.wrapping_sub(last.timestamp);
    assert!(
        advanced >= 160 && advanced % 160 == 0 && advanced < 160 * 200,
        "{advanced}"
    );
    assert!(h.marker);

    // RTCP from the desk's RTCP port goes to the far party's RTCP port, translated.
    let mut sr = Vec::new();
    let info = rtcp::SenderInfo {
        ntp: rtcp::NtpTime::now(),
        rtp_timestamp: 7_777_777,
        packet_count: 5,
        octet_count: 800,
    };
    rtcp::write_sender_report(&mut sr, 0x3333, &info, None);
    rtcp::write_sdes_cname(&mut sr, 0x3333, "desk");
    c.desk.1.send_to(&sr, c.a.local_rtcp_addr()).await.unwrap();
    let (buf, from) = recv(&c.far.1).await;
    assert_eq!(from, c.b.local_rtcp_addr());
    let first = rtcp::parse_compound(&buf).next().unwrap().unwrap();
    let RtcpPacket::SenderReport(got) = first else {
        panic!("{first:?}")
    };
    assert_eq!(got.ssrc, far_ssrc);
    assert_eq!(got.info.rtp_timestamp, h.timestamp);

    let a = c.a.stats();
    assert_eq!(a.packets_received, 5);
    assert_eq!(a.remote_addr, Some(desk_addr));
    assert_eq!(a.packets_sent, 1);
    let b = c.b.stats();
    assert_eq!((b.packets_sent, b.packets_received), (5, 1));
    assert_eq!(b.remote_addr, Some(far_addr));
}

#[tokio::test]
async fn a_tone_then_relayed_media_reach_the_far_party_as_one_stream() {
    let engine = engine(Region::Us);
    let desk = phone().await;
    let far = phone().await;
    let a = engine.open().await.unwrap();
    let b = engine.open().await.unwrap();
    a.set_remote(RemoteMedia::new(desk.local_addr().unwrap(), Codec::Pcmu));
    b.set_remote(RemoteMedia::new(far.local_addr().unwrap(), Codec::Pcmu));
    b.play(Source::Tone(ToneKind::Ringback));
    let mut last = recv_rtp(&far).await.0;
    for _ in 0..3 {
        last = recv_rtp(&far).await.0;
    }
    engine.bridge(&a, &b).unwrap();
    desk.send_to(&audio(9, 0x4444, 0x55), a.local_addr())
        .await
        .unwrap();
    // Tone frames sent before the bridge took effect may still arrive first.
    let relayed = loop {
        let (h, payload, _) = recv_rtp(&far).await;
        if payload == vec![0x55; 160] {
            break h;
        }
        last = h;
    };
    assert_eq!(relayed.ssrc, last.ssrc);
    assert_eq!(relayed.sequence, last.sequence.wrapping_add(1));
    let advanced = relayed.timestamp.wrapping_sub(last.timestamp);
    assert!(
        advanced >= 160 && advanced % 160 == 0 && advanced < 160 * 200,
        "{advanced}"
    );
    assert!(relayed.marker);
}

#[tokio::test]
async fn muting_the_desk_stream_silences_it_toward_the_far_party_only() {
    let engine = engine(Region::Us);
    let c = call(&engine).await;
    c.a.set_mute(true);
    assert!(c.a.is_muted());
    c.desk
        .0
        .send_to(&audio(1, 0x1111, 0x55), c.a.local_addr())
        .await
        .unwrap();
    let (_, payload, _) = recv_rtp(&c.far.0).await;
    assert_eq!(payload, vec![0xFF; 160], "µ-law silence");
    c.far
        .0
        .send_to(&audio(1, 0x2222, 0x66), c.b.local_addr())
        .await
        .unwrap();
    assert_eq!(recv_rtp(&c.desk.0).await.1, vec![0x66; 160]);
    c.a.set_mute(false);
    c.desk
        .0
        .send_to(&audio(2, 0x1111, 0x55), c.a.local_addr())
        .await
        .unwrap();
    assert_eq!(recv_rtp(&c.far.0).await.1, vec![0x55; 160]);
}

#[tokio::test]
async fn received_dtmf_is_reported_and_relayed_with_the_far_payload_type() {
    let engine = engine(Region::Us);
    let mut c = call(&engine).await;
    let ev = TelephoneEvent {
        event: 5,
        end: false,
        volume: 10,
        duration: 160,
    };
    let mut pkt = Vec::new();
    rtp::write_simple(&mut pkt, 101, true, 1, 8000, 0x1111, &ev.encode());
    c.desk.0.send_to(&pkt, c.a.local_addr()).await.unwrap();
    let (h, payload, _) = recv_rtp(&c.far.0).await;
    assert_eq!((h.payload_type, h.marker), (96, true));
    assert_eq!(TelephoneEvent::decode(&payload), Some(ev));
    let d = timeout(WAIT, c.a.dtmf_events().recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.to_char(), '5');
}

#[tokio::test]
async fn our_dtmf_toward_a_bridged_party_uses_its_payload_type() {
    let engine = engine(Region::Us);
    let c = call(&engine).await;
    c.b.send_dtmf("9").unwrap();
    let (h, payload, _) = recv_rtp(&c.far.0).await;
    assert_eq!((h.payload_type, h.marker), (96, true));
    assert_eq!(TelephoneEvent::decode(&payload).unwrap().event, 9);
}

#[tokio::test]
async fn stats_count_packets_bytes_and_loss() {
    let engine = engine(Region::Us);
    let c = call(&engine).await;
    let seqs: Vec<u16> = (1..=12).filter(|s| *s != 5 && *s != 9).collect();
    for &seq in &seqs {
        c.desk
            .0
            .send_to(&audio(seq, 0x1111, 0x55), c.a.local_addr())
            .await
            .unwrap();
    }
    // Every packet relayed means every packet counted.
    for _ in &seqs {
        recv_rtp(&c.far.0).await;
    }
    let a = c.a.stats();
    assert_eq!(a.packets_received, 10);
    assert_eq!(a.bytes_received, 1600);
    assert_eq!(a.packets_lost, 2);
    assert_eq!(c.b.stats().packets_sent, 10);
    assert_eq!(c.b.stats().bytes_sent, 1600);
}

#[tokio::test]
async fn unbridged_streams_stop_relaying_and_play_their_own_source() {
    let engine = engine(Region::Us);
    let c = call(&engine).await;
    c.desk
        .0
        .send_to(&audio(1, 0x1111, 0x55), c.a.local_addr())
        .await
        .unwrap();
    recv_rtp(&c.far.0).await;
    c.b.unbridge();
    assert!(!c.a.is_bridged() && !c.b.is_bridged());
    c.b.play(Source::Silence);
    // Silence frames flow; a desk packet sent now is not relayed among them.
    recv_rtp(&c.far.0).await;
    c.desk
        .0
        .send_to(&audio(2, 0x1111, 0x55), c.a.local_addr())
        .await
        .unwrap();
    wait_for(|| c.a.stats().packets_received == 2).await;
    for _ in 0..10 {
        let (h, payload, _) = recv_rtp(&c.far.0).await;
        assert_eq!((h.payload_type, payload), (0, vec![0xFF; 160]));
    }
}

#[tokio::test]
async fn a_new_remote_address_receives_the_same_stream() {
    let engine = engine(Region::Us);
    let stream = engine.open().await.unwrap();
    let (p1, p2) = (phone().await, phone().await);
    stream.set_remote(RemoteMedia::new(p1.local_addr().unwrap(), Codec::Pcmu));
    stream.play(Source::Silence);
    let mut last = recv_rtp(&p1).await.0;
    for _ in 0..2 {
        last = recv_rtp(&p1).await.0;
    }
    stream.set_remote(RemoteMedia::new(p2.local_addr().unwrap(), Codec::Pcmu));
    let (h, _, _) = recv_rtp(&p2).await;
    assert_eq!(h.ssrc, last.ssrc);
    let frames = h.sequence.wrapping_sub(last.sequence);
    assert!((1..10).contains(&frames), "{frames}");
    assert_eq!(
        h.timestamp.wrapping_sub(last.timestamp),
        160 * frames as u32
    );
}

#[tokio::test]
async fn exhausting_the_port_range_is_an_error_and_closing_frees_a_port() {
    let p = loop {
        let p = 30_000 + 2 * (rand::random::<u16>() % 1_000);
        let free = (p..p + 4).all(|q| std::net::UdpSocket::bind((LO, q)).is_ok());
        if free {
            break p;
        }
    };
    let mut config = MediaConfig::new(LO);
    config.port_min = p;
    config.port_max = p + 3;
    let engine = MediaEngine::new(config).unwrap();
    let s1 = engine.open().await.unwrap();
    let s2 = engine.open().await.unwrap();
    assert_eq!(engine.streams_open(), 2);
    let ports = [s1.local_addr().port(), s2.local_addr().port()];
    ports
        .iter()
        .for_each(|port| assert!(*port == p || *port == p + 2, "{port}"));
    assert_ne!(ports[0], ports[1]);
    assert_eq!(s1.local_rtcp_addr().port(), ports[0] + 1);
    let err = engine.open().await.unwrap_err();
    assert!(
        matches!(
            err,
            MediaError::Ports(PortError::Exhausted { in_use: 2, .. })
        ),
        "{err:?}"
    );
    s1.close().await;
    assert_eq!(engine.streams_open(), 1);
    let s3 = engine.open().await.unwrap();
    assert_eq!(s3.local_addr().port(), ports[0]);
    drop(s2);
}

#[tokio::test]
async fn bridging_a_stream_with_itself_is_refused() {
    let engine = engine(Region::Us);
    let a = engine.open().await.unwrap();
    assert!(matches!(engine.bridge(&a, &a), Err(MediaError::BridgeSelf)));
}

#[tokio::test]
async fn works_over_ipv6_loopback() {
    let ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let engine = MediaEngine::new(MediaConfig::new(ip)).unwrap();
    let stream = engine.open().await.unwrap();
    assert!(stream.local_addr().is_ipv6());
    let (phone, _) = phone_pair(ip).await;
    stream.set_remote(RemoteMedia::new(phone.local_addr().unwrap(), Codec::Pcma));
    stream.play(Source::Tone(ToneKind::Busy));
    let (h, _, from) = recv_rtp(&phone).await;
    assert_eq!((h.payload_type, from), (8, stream.local_addr()));
}

/// A caller recording their name: the stream keeps what the remote sends, decoded, until
/// the limit (or a stop), while it goes on playing by itself.
#[tokio::test]
async fn a_capture_keeps_what_the_remote_says_up_to_its_limit() {
    let engine = engine(Region::Us);
    let stream = engine.open().await.unwrap();
    let phone = phone().await;
    stream.set_remote(RemoteMedia::new(phone.local_addr().unwrap(), Codec::Pcmu));
    let done = stream.capture(Duration::from_millis(200));
    // 15 frames of 600 Hz from the phone: the capture keeps the first 200 ms.
    let dest = stream.local_addr();
    for seq in 0..15u16 {
        let pcm: Vec<i16> = (0..160)
            .map(|i| {
                let n = f64::from(seq) * 160.0 + f64::from(i);
                (6000.0 * (std::f64::consts::TAU * 600.0 * n / 8000.0).sin()) as i16
            })
            .collect();
        let mut payload = [0u8; 160];
        Codec::Pcmu.encode(&pcm, &mut payload);
        let mut pkt = Vec::new();
        media::rtp::write_simple(
            &mut pkt,
            0,
            seq == 0,
            seq,
            u32::from(seq) * 160,
            9,
            &payload,
        );
        phone.send_to(&pkt, dest).await.unwrap();
    }
    let clip = timeout(WAIT, done)
        .await
        .expect("capture filled")
        .expect("a clip");
    assert_eq!(clip.len(), 1600);
    let at = |hz| goertzel(clip.samples(), hz, 8000);
    assert!(
        at(600.0) > 2000.0 && at(1000.0) < 200.0,
        "{} {}",
        at(600.0),
        at(1000.0)
    );
    // Stopped early, a capture hands over what it has (nothing here).
    let early = stream.capture(Duration::from_secs(5));
    stream.stop_capture();
    assert_eq!(
        timeout(WAIT, early)
            .await
            .expect("handed over")
            .expect("clip")
            .len(),
        0
    );
}
