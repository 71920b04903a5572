//! Relay-core throughput (sans-IO, one core) and G.711 frame encoding.
//!
//! `cargo bench -p viawork-media --bench relay`

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use media::continuity::Outbound;
use media::g711::{Codec, FRAME_SAMPLES};
use media::relay::{Leg, Port, Relay, RemoteMedia, Side};
use media::tone::{Region, ToneGenerator, ToneKind};

fn relay(b_codec: Codec) -> (Relay, SocketAddr) {
    let a_addr: SocketAddr = "10.0.0.1:4000".parse().unwrap();
    let mut a = Leg::new(Outbound::new(1, 0, 0), true);
    let mut b = Leg::new(Outbound::new(2, 0, 0), true);
    a.set_remote(RemoteMedia::new(a_addr, Codec::Pcmu).with_dtmf(101));
    b.set_remote(RemoteMedia::new("10.0.0.2:5000".parse().unwrap(), b_codec).with_dtmf(101));
    (Relay::new(a, b), a_addr)
}

fn bench_relay(c: &mut Criterion) {
    let mut group = c.benchmark_group("relay");
    group.throughput(Throughput::Elements(1));
    for (name, b_codec) in [("pcmu_to_pcmu", Codec::Pcmu), ("pcmu_to_pcma", Codec::Pcma)] {
        let (mut relay, src) = relay(b_codec);
        let mut packet = Vec::new();
        media::rtp::write_simple(&mut packet, 0, false, 0, 0, 0x1111, &[0x55; FRAME_SAMPLES]);
        let t0 = Instant::now();
        let mut seq: u16 = 0;
        group.bench_function(name, |bench| {
            bench.iter(|| {
                // A fresh packet each time: next sequence number and timestamp, 20 ms later.
                seq = seq.wrapping_add(1);
                let ts = (seq as u32).wrapping_mul(160);
                packet[2..4].copy_from_slice(&seq.to_be_bytes());
                packet[4..8].copy_from_slice(&ts.to_be_bytes());
                let now = t0 + Duration::from_millis(20 * seq as u64);
                let t = relay
                    .handle(Side::A, Port::Rtp, src, black_box(&packet), now)
                    .unwrap();
                black_box(t.bytes.len());
            })
        });
    }
    group.finish();
}

fn bench_g711(c: &mut Criterion) {
    let mut group = c.benchmark_group("g711");
    group.throughput(Throughput::Elements(FRAME_SAMPLES as u64));
    let pcm = ToneGenerator::new(ToneKind::Ringback, Region::Us).next_frame();
    let mut out = [0u8; FRAME_SAMPLES];
    for codec in [Codec::Pcmu, Codec::Pcma] {
        group.bench_function(format!("encode_frame_{}", codec.name()), |bench| {
            bench.iter(|| {
                codec.encode(black_box(&pcm), &mut out);
                black_box(&out);
            })
        });
    }
    let mut back = [0i16; FRAME_SAMPLES];
    group.bench_function("decode_frame_PCMU", |bench| {
        bench.iter(|| {
            Codec::Pcmu.decode(black_box(&out), &mut back);
            black_box(&back);
        })
    });
    group.finish();
}

criterion_group!(benches, bench_relay, bench_g711);
criterion_main!(benches);
