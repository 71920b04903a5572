//! The mixer's tick path does not allocate once participants are set up: checked with a
//! counting global allocator (its own test binary, so nothing else runs in it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use media::clip::Clip;
use media::g711::Codec;
use media::mixer::{AudioCodec, Mixer, MixerConfig, ParticipantId, Target};
use media::rtp::RtpHeader;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn pushing_and_ticking_a_conference_allocates_nothing() {
    let mut m = Mixer::new(MixerConfig::default());
    let codecs = [AudioCodec::Pcmu, AudioCodec::Pcma, AudioCodec::G722];
    for p in 0..10u32 {
        let c = codecs[p as usize % 3];
        m.add(ParticipantId(p), c, c.payload_type()).unwrap();
    }
    let loud: Vec<i16> = (0..160).map(|i| ((i % 40) * 500 - 10_000) as i16).collect();
    let mut payload = [0u8; 160];
    Codec::Pcmu.encode(&loud, &mut payload);
    let clip = Clip::notes(&[(1000.0, 100)], -10.0);
    let run = |m: &mut Mixer, frames: u32| {
        for f in 0..frames {
            for p in 0..10u32 {
                let c = codecs[p as usize % 3];
                let header = RtpHeader {
                    payload_type: c.payload_type(),
                    sequence: f as u16,
                    timestamp: f * 160,
                    ssrc: p,
                    ..RtpHeader::default()
                };
                // Every fifth packet lost, to exercise concealment too.
                if (f + p) % 5 != 0 {
                    m.push(ParticipantId(p), &header, &payload).unwrap();
                }
            }
            m.tick();
            while m.poll_event().is_some() {}
            assert_eq!(m.outputs().count(), 10);
        }
    };
    // Set-up: entry tones, the first events and an announcement, then the steady state.
    run(&mut m, 50);
    m.set_muted(ParticipantId(3), true).unwrap();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    run(&mut m, 200);
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed) - before,
        0,
        "the tick path allocated"
    );
    // An announcement costs its start (the clip is shared), not its ticks.
    m.announce(clip.clone(), Target::All);
    m.announce(clip, Target::Only(ParticipantId(4)));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    run(&mut m, 20);
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed) - before,
        0,
        "announcements allocated"
    );
}
