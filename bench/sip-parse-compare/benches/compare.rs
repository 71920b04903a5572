//! ViaWork's parser beside rsipstack 0.7's, in one process, on the same 935-byte INVITE.
//! Run: `cd bench/sip-parse-compare && cargo bench`.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use rsipstack::sip::headers::untyped::ToTypedHeader;
use rsipstack::sip::HeadersExt;
use std::hint::black_box;

const INVITE: &[u8] = include_bytes!("../../../crates/sip/benches/data/invite-935.sip");

fn compare(c: &mut Criterion) {
    let buf = Bytes::from_static(INVITE);
    let mut g = c.benchmark_group("parse_invite_935");
    g.bench_function("viawork/bare", |b| {
        b.iter(|| sip::Message::parse(black_box(buf.clone())).unwrap())
    });
    g.bench_function("rsipstack/bare", |b| {
        b.iter(|| rsipstack::sip::parser::parse_message(black_box(INVITE)).unwrap())
    });
    g.bench_function("viawork/typed", |b| {
        b.iter(|| {
            let m = sip::Message::parse(black_box(buf.clone())).unwrap();
            let via = m.top_via().unwrap();
            let from = m.from_header().unwrap();
            let to = m.to_header().unwrap();
            let cseq = m.cseq().unwrap();
            let call_id = m.call_id().unwrap();
            black_box((via.branch().is_some(), from.tag().is_some(), to.tag().is_some(), cseq.seq, call_id.len()));
        })
    });
    g.bench_function("rsipstack/typed", |b| {
        b.iter(|| {
            let m = rsipstack::sip::parser::parse_message(black_box(INVITE)).unwrap();
            let via = m.via_header().unwrap().typed().unwrap();
            let from = m.from_header().unwrap().typed().unwrap();
            let to = m.to_header().unwrap().typed().unwrap();
            let cseq = m.cseq_header().unwrap().typed().unwrap();
            let call_id = m.call_id_header().unwrap().clone();
            black_box((via, from, to, cseq, call_id));
        })
    });
    g.finish();
}

criterion_group!(benches, compare);
criterion_main!(benches);
