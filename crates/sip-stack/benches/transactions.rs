//! Full INVITE transactions per second on one core, through a client and a server
//! `TransactionLayer` wired back to back: INVITE → 100 Trying → 200 OK, the ACK for the
//! 2xx, and both layers' timers run on a virtual clock so that every transaction also
//! ends (Timers L and M, 64·T1 later). The virtual clock advances 5 ms per call, so each
//! layer holds about 6,400 live transactions in steady state (what a server taking
//! 200 calls/s holds), and each call's transactions end 6,400 calls after they began.
//!
//! Each call's four messages are built in criterion's untimed setup (`iter_batched`) and
//! handed over as parsed `sip::Message`s, as a transport hands over what it just parsed:
//! this measures the transaction layer (matching, state machines, timers, queues), not
//! the builder or the parser (`crates/sip/benches/parse.rs`).
//!
//! Run: `cargo bench -p viawork-sip-stack --bench transactions`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sip::{HeaderName, Message, Method, RequestBuilder, ResponseBuilder};
use sip_stack::transaction::{new_branch, Peer, TimerConfig, TransactionLayer, Transport, TuEvent};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Calls built per untimed setup batch (about 400 KB of messages).
const BATCH: u64 = 100;
/// Calls run before measuring, to reach the steady state.
const WARM_UP_CALLS: usize = 10_000;
/// Virtual time between two calls.
const STEP: Duration = Duration::from_millis(5);

struct Call {
    invite: Message,
    trying: Message,
    ok: Message,
    ack: Message,
}

fn call(i: usize) -> Call {
    let invite = RequestBuilder::new(&Method::Invite, &"sip:bob@10.0.0.2")
        .header(
            HeaderName::Via,
            format_args!("SIP/2.0/UDP 10.0.0.1:5060;branch={};rport", new_branch()),
        )
        .header(HeaderName::MaxForwards, 70)
        .header(HeaderName::From, format_args!("\"Alice\" <sip:alice@10.0.0.1>;tag=a{i}"))
        .header(HeaderName::To, "<sip:bob@10.0.0.2>")
        .header(HeaderName::CallId, format_args!("bench-{i}@10.0.0.1"))
        .header(HeaderName::CSeq, "1 INVITE")
        .header(HeaderName::Contact, "<sip:alice@10.0.0.1:5060>")
        .body(
            "application/sdp",
            bytes::Bytes::from_static(b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"),
        )
        .build()
        .expect("INVITE");
    let trying = ResponseBuilder::reply(&invite, 100, None)
        .build()
        .expect("100");
    let ok = ResponseBuilder::reply(&invite, 200, Some("b1"))
        .header(HeaderName::Contact, "<sip:bob@10.0.0.2:5060>")
        .build()
        .expect("200");
    let ack = RequestBuilder::new(&Method::Ack, &"sip:bob@10.0.0.2:5060")
        .header(
            HeaderName::Via,
            format_args!("SIP/2.0/UDP 10.0.0.1:5060;branch={};rport", new_branch()),
        )
        .header(HeaderName::MaxForwards, 70)
        .header(
            HeaderName::From,
            ok.get(HeaderName::From).unwrap_or_default(),
        )
        .header(HeaderName::To, ok.get(HeaderName::To).unwrap_or_default())
        .header(
            HeaderName::CallId,
            ok.get(HeaderName::CallId).unwrap_or_default(),
        )
        .header(HeaderName::CSeq, "1 ACK")
        .build()
        .expect("ACK");
    Call {
        invite,
        trying,
        ok,
        ack,
    }
}

struct Harness {
    uac: TransactionLayer,
    uas: TransactionLayer,
    uac_addr: Peer,
    uas_addr: Peer,
    now: Instant,
}

impl Harness {
    fn new() -> Harness {
        let peer = |a: &str| Peer::new(a.parse().expect("address"), Transport::Udp);
        Harness {
            uac: TransactionLayer::new(TimerConfig::default()),
            uas: TransactionLayer::new(TimerConfig::default()),
            uac_addr: peer("10.0.0.1:5060"),
            uas_addr: peer("10.0.0.2:5060"),
            now: Instant::now(),
        }
    }

    /// One complete INVITE transaction at each end.
    fn one(&mut self, c: Call) {
        self.now += STEP;
        let now = self.now;
        let Call {
            invite,
            trying,
            ok,
            ack,
        } = c;
        let (mut answers, mut ack) = (Some((trying, ok)), Some(ack));
        let key = self.uac.send_request(invite, self.uas_addr, now);
        black_box(key.expect("INVITE sent"));
        while let Some(t) = self.uac.poll_transmit() {
            self.uas.handle_message(t.msg, self.uac_addr, now);
        }
        while let Some(ev) = self.uas.poll_event() {
            if let TuEvent::Request { key, .. } = ev {
                if let Some((trying, ok)) = answers.take() {
                    let _ = self.uas.send_response(&key, trying, now);
                    let _ = self.uas.send_response(&key, ok, now);
                }
            }
        }
        while let Some(t) = self.uas.poll_transmit() {
            self.uac.handle_message(t.msg, self.uas_addr, now);
        }
        while let Some(ev) = self.uac.poll_event() {
            match ev {
                TuEvent::Response { msg, .. } if msg.status() == Some(200) => {
                    if let Some(ack) = ack.take() {
                        self.uac.send_stateless(ack, self.uas_addr);
                    }
                }
                other => {
                    black_box(other);
                }
            }
        }
        while let Some(t) = self.uac.poll_transmit() {
            self.uas.handle_message(t.msg, self.uac_addr, now);
        }
        self.uac.handle_timeout(now);
        self.uas.handle_timeout(now);
        while let Some(ev) = self.uas.poll_event() {
            black_box(ev);
        }
        while let Some(ev) = self.uac.poll_event() {
            black_box(ev);
        }
        while let Some(t) = self.uas.poll_transmit() {
            black_box(t);
        }
    }
}

fn invite_transactions(c: &mut Criterion) {
    let mut h = Harness::new();
    let mut n = 0;
    for _ in 0..WARM_UP_CALLS {
        n += 1;
        h.one(call(n));
    }
    // Steady state: the calls of the last 64·T1 are live, one transaction at each end (the
    // 2xx retransmissions stopped at the ACK).
    let live = (h.uac.len(), h.uas.len());
    assert_eq!(live, (6400, 6400), "live transactions after the warm-up");
    let mut g = c.benchmark_group("transactions");
    g.throughput(Throughput::Elements(1));
    g.bench_function("invite_100_200_ack", |b| {
        b.iter_batched(
            || {
                n += 1;
                call(n)
            },
            |c| h.one(c),
            // Small batches keep the fresh messages in cache, as a message just received is.
            BatchSize::NumIterations(BATCH),
        )
    });
    g.finish();
}

criterion_group!(benches, invite_transactions);
criterion_main!(benches);
