//! Conference mixer cost (sans-IO, one core): one 20 ms tick of a 10-party conference with
//! three parties talking — ten packets into the jitter buffers, then the tick (decode,
//! loudest-N, sum, clip, encode) — per codec, and the G.722 codec and resampler alone.
//!
//! `cargo bench -p viawork-media --bench mixer`
//!
//! Divide 20 ms by a tick's time for the conferences one core could mix if it did nothing
//! else; the load harness in `bench/mixer` measures the real thing with sockets.

use std::f64::consts::TAU;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use media::g711::Codec;
use media::g722::{G722Decoder, G722Encoder, Resampler, WIDE_FRAME};
use media::mixer::{AudioCodec, Mixer, MixerConfig, ParticipantId};
use media::rtp::RtpHeader;

const PARTIES: u32 = 10;
const TALKERS: u32 = 3;

/// One party's payloads: 50 frames (1 s) of a tone, or of near-silence for listeners.
fn payloads(codec: AudioCodec, party: u32) -> Vec<[u8; 160]> {
    let amp = if party < TALKERS { 6000.0 } else { 20.0 };
    let freq = 300.0 + 170.0 * party as f64;
    let mut enc = G722Encoder::new();
    (0..50u64)
        .map(|f| {
            let mut out = [0u8; 160];
            match codec {
                AudioCodec::G722 => {
                    let pcm: Vec<i16> = (0..WIDE_FRAME as u64)
                        .map(|i| {
                            let t = (f * WIDE_FRAME as u64 + i) as f64 / 16000.0;
                            (amp * (TAU * freq * t).sin()) as i16
                        })
                        .collect();
                    enc.encode(&pcm, &mut out);
                }
                _ => {
                    let law = if codec == AudioCodec::Pcmu {
                        Codec::Pcmu
                    } else {
                        Codec::Pcma
                    };
                    let pcm: Vec<i16> = (0..160u64)
                        .map(|i| {
                            let t = (f * 160 + i) as f64 / 8000.0;
                            (amp * (TAU * freq * t).sin()) as i16
                        })
                        .collect();
                    law.encode(&pcm, &mut out);
                }
            }
            out
        })
        .collect()
}

fn bench_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("mixer_tick_10_parties");
    group.throughput(Throughput::Elements(PARTIES as u64));
    let cases: [(&str, [AudioCodec; 2]); 4] = [
        ("pcmu", [AudioCodec::Pcmu; 2]),
        ("pcma", [AudioCodec::Pcma; 2]),
        ("pcmu_and_pcma", [AudioCodec::Pcmu, AudioCodec::Pcma]),
        ("g722", [AudioCodec::G722; 2]),
    ];
    for (name, codecs) in cases {
        let config = MixerConfig {
            entry_tone: None,
            exit_tone: None,
            ..MixerConfig::default()
        };
        let mut m = Mixer::new(config);
        let mut parties = Vec::new();
        for p in 0..PARTIES {
            let codec = codecs[p as usize % 2];
            m.add(ParticipantId(p), codec, codec.payload_type())
                .unwrap();
            parties.push((codec, payloads(codec, p)));
        }
        let mut frame = 0u32;
        group.bench_function(name, |b| {
            b.iter(|| {
                for (p, (codec, frames)) in parties.iter().enumerate() {
                    let header = RtpHeader {
                        payload_type: codec.payload_type(),
                        sequence: frame as u16,
                        timestamp: frame.wrapping_mul(160),
                        ssrc: p as u32,
                        ..RtpHeader::default()
                    };
                    let payload = &frames[frame as usize % frames.len()];
                    m.push(ParticipantId(p as u32), &header, payload).unwrap();
                }
                m.tick();
                frame = frame.wrapping_add(1);
                black_box(m.outputs().count());
            })
        });
    }
    group.finish();
}

fn bench_g722(c: &mut Criterion) {
    let mut group = c.benchmark_group("g722_frame");
    let pcm: Vec<i16> = (0..WIDE_FRAME)
        .map(|i| (6000.0 * (TAU * 1000.0 * i as f64 / 16000.0).sin()) as i16)
        .collect();
    let mut enc = G722Encoder::new();
    let mut dec = G722Decoder::new();
    let mut bytes = [0u8; 160];
    group.bench_function("encode", |b| {
        b.iter(|| enc.encode(black_box(&pcm), &mut bytes))
    });
    let mut wide = [0i16; WIDE_FRAME];
    group.bench_function("decode", |b| {
        b.iter(|| dec.decode(black_box(&bytes), &mut wide))
    });
    let (mut down, mut up) = (Resampler::new(), Resampler::new());
    let mut narrow = [0i16; WIDE_FRAME / 2];
    group.bench_function("downsample", |b| {
        b.iter(|| down.downsample(black_box(&wide), &mut narrow))
    });
    group.bench_function("upsample", |b| {
        b.iter(|| up.upsample(black_box(&narrow), &mut wide))
    });
    group.finish();
}

criterion_group!(benches, bench_tick, bench_g722);
criterion_main!(benches);
