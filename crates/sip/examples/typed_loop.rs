//! A loop over parsing and the typed reads, for profiling with callgrind:
//! `valgrind --tool=callgrind target/release/examples/typed_loop`.
use bytes::Bytes;
use sip::Message;
fn main() {
    let buf = Bytes::from_static(include_bytes!("../benches/data/invite-935.sip"));
    let mut n = 0usize;
    for _ in 0..20_000 {
        let m = Message::parse(std::hint::black_box(buf.clone())).unwrap();
        n += m.top_via().unwrap().branch().map_or(0, str::len);
        n += m.from_header().unwrap().tag().map_or(0, str::len);
        n += m.to_header().unwrap().tag().map_or(0, str::len);
        n += m.cseq().unwrap().seq as usize;
        n += m.call_id().unwrap().len();
    }
    println!("{n}");
}
