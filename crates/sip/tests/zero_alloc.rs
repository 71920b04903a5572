//! Parsing, and reading the typed Via/From/To/CSeq/Call-ID, allocate nothing on the heap.
//! A counting global allocator counts this thread's allocations around the parse.

use bytes::Bytes;
use sip::Message;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        // SAFETY: forwarding to the system allocator with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

#[test]
fn parse_and_typed_reads_do_not_allocate() {
    let buf = Bytes::from_static(include_bytes!("../benches/data/invite-935.sip"));
    assert_eq!(buf.len(), 935);
    let n = allocations(|| {
        let m = Message::parse(buf.clone()).unwrap();
        let via = m.top_via().unwrap();
        let from = m.from_header().unwrap();
        let to = m.to_header().unwrap();
        let cseq = m.cseq().unwrap();
        let call_id = m.call_id().unwrap();
        assert_eq!(via.branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(from.tag(), Some("1928301774"));
        assert_eq!(to.tag(), None);
        assert_eq!(cseq.seq, 314159);
        assert!(call_id.ends_with("@192.0.2.10"));
        assert_eq!(m.body().len(), 270);
        drop(m);
    });
    assert_eq!(n, 0, "the parse path allocated {n} times");
}

#[test]
fn the_counter_counts() {
    // Guards the test above against a counter that never moves.
    let n = allocations(|| drop(std::hint::black_box(vec![1u8; 64])));
    assert_eq!(n, 1);
}
