//! Parsing a 935-byte INVITE with an SDP body: bare framing (start line, header spans,
//! body) and framing plus typed reads of Via, From, To, CSeq and Call-ID.
//!
//! Run: `cargo bench -p viawork-sip --bench parse`. The comparison with rsipstack's
//! parser, in the same process, is in `bench/sip-parse-compare` (a separate workspace so
//! the everyday build does not compile rsipstack).

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sip::Message;
use std::hint::black_box;

const INVITE: &[u8] = include_bytes!("data/invite-935.sip");

fn parse(c: &mut Criterion) {
    let buf = Bytes::from_static(INVITE);
    let mut g = c.benchmark_group("parse_invite_935");
    g.throughput(Throughput::Elements(1));
    g.bench_function("bare", |b| {
        b.iter(|| Message::parse(black_box(buf.clone())).unwrap())
    });
    g.bench_function("typed", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(buf.clone())).unwrap();
            let via = m.top_via().unwrap();
            let from = m.from_header().unwrap();
            let to = m.to_header().unwrap();
            let cseq = m.cseq().unwrap();
            let call_id = m.call_id().unwrap();
            black_box((via.branch(), from.tag(), to.tag(), cseq.seq, call_id.len()));
        })
    });
    g.finish();
    let m = Message::parse(buf.clone()).unwrap();
    let mut g = c.benchmark_group("typed_read");
    g.bench_function("via", |b| {
        b.iter(|| black_box(&m).top_via().unwrap().branch().is_some())
    });
    g.bench_function("from", |b| {
        b.iter(|| black_box(&m).from_header().unwrap().tag().is_some())
    });
    g.bench_function("to", |b| {
        b.iter(|| black_box(&m).to_header().unwrap().tag().is_none())
    });
    g.bench_function("cseq", |b| b.iter(|| black_box(&m).cseq().unwrap().seq));
    g.bench_function("call_id", |b| {
        b.iter(|| black_box(&m).call_id().unwrap().len())
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
