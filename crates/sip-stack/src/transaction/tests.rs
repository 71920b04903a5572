//! Scenario tests of the transaction layer: two layers over the simulated network of
//! [`super::sim`], or one layer fed by hand. Times are simulated; every scenario ends by
//! checking that no transaction outlives its timers.

use super::sim::{
    ack_for_2xx, idle, reply, request, Ctx, NetConfig, Side, World, UAC_ADDR, UAS_ADDR,
};
use super::*;
use proptest::prelude::*;
use sip::{HeaderName, Message, Method};
use std::time::{Duration, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn peer(addr: &str, transport: Transport) -> Peer {
    Peer::new(addr.parse().expect("test address"), transport)
}

fn is_invite_2xx(msg: &Message) -> bool {
    msg.status().is_some_and(|c| (200..300).contains(&c))
        && msg.cseq().is_ok_and(|c| c.method() == Method::Invite)
}

/// The TUs of an ordinary call: the UAS rings at once and answers `code` after `delay`
/// (other requests get 200 at once); the UAC ACKs every 2xx it hears of, as its dialog
/// layer would.
fn call_tu(code: u16, delay: Duration) -> impl FnMut(&mut Ctx<'_>, &TuEvent) {
    move |ctx, ev| match (ctx.side, ev) {
        (Side::Uas, TuEvent::Request { key, msg, .. }) if msg.method() == Some(&Method::Invite) => {
            let key = *key;
            ctx.layer
                .send_response(&key, reply(msg, 180, "uas"), ctx.now)
                .expect("180 in Proceeding");
            let answer = reply(msg, code, "uas");
            ctx.later(delay, move |layer, now| {
                // The transaction may be gone (transport error); a real TU would log it.
                let _ = layer.send_response(&key, answer, now);
            });
        }
        (Side::Uas, TuEvent::Request { key, msg, .. }) => {
            let ok = reply(msg, 200, "uas");
            ctx.layer
                .send_response(key, ok, ctx.now)
                .expect("final response");
        }
        (Side::Uac, TuEvent::Response { msg, .. } | TuEvent::Stray { msg, .. })
            if is_invite_2xx(msg) =>
        {
            let ack = ack_for_2xx(msg, ctx.far_peer().transport);
            let to = ctx.far_peer();
            ctx.layer.send_stateless(ack, to);
        }
        _ => {}
    }
}

fn responses(w: &World, key: TransactionKey, code: u16) -> Vec<Duration> {
    w.events(Side::Uac)
        .filter(|l| matches!(&l.event, TuEvent::Response { key: k, msg } if *k == key && msg.status() == Some(code)))
        .map(|l| l.at)
        .collect()
}

fn count(w: &World, side: Side, pred: impl Fn(&TuEvent) -> bool) -> usize {
    w.events(side).filter(|l| pred(&l.event)).count()
}

fn when(w: &World, side: Side, pred: impl Fn(&TuEvent) -> bool) -> Vec<Duration> {
    w.events(side)
        .filter(|l| pred(&l.event))
        .map(|l| l.at)
        .collect()
}

fn drain_events(l: &mut TransactionLayer) -> Vec<TuEvent> {
    std::iter::from_fn(|| l.poll_event()).collect()
}

fn drain_transmits(l: &mut TransactionLayer) -> Vec<Message> {
    std::iter::from_fn(|| l.poll_transmit())
        .map(|t| t.msg)
        .collect()
}

fn status_of(msgs: &[Message]) -> Vec<u16> {
    msgs.iter().filter_map(Message::status).collect()
}

/// Runs a layer's timers until none is left (or `limit` past `now`).
fn run_timers(l: &mut TransactionLayer, now: Instant, limit: Duration) -> Instant {
    let mut t = now;
    while let Some(next) = l.poll_timeout().filter(|&n| n <= now + limit) {
        t = next;
        l.handle_timeout(t);
    }
    t
}

// ---- INVITE client: Timers A, B, D and M ----

#[test]
fn invite_completes_over_30_percent_loss_for_many_seeds() {
    let mut retransmissions = 0;
    for seed in 0..200 {
        let mut w = World::new(NetConfig::lossy(0.3, 0.1), seed);
        let invite = request(Method::Invite, Transport::Udp, &format!("lossy-{seed}"), 1);
        let key = w
            .uac
            .send_request(invite, w.uas_peer(), w.now)
            .expect("INVITE");
        let mut tu = call_tu(200, ms(800));
        w.finish(&mut tu);
        assert!(
            !responses(&w, key, 200).is_empty(),
            "seed {seed}: the 200 never reached the UAC TU"
        );
        assert_eq!(
            count(&w, Side::Uac, |e| matches!(e, TuEvent::Timeout { .. })),
            0,
            "seed {seed}"
        );
        let requests = count(&w, Side::Uas, |e| matches!(e, TuEvent::Request { .. }));
        assert_eq!(
            requests, 1,
            "seed {seed}: the UAS TU saw the INVITE {requests} times"
        );
        retransmissions += w.sent_by(Side::Uac, "INVITE").len() - 1;
    }
    assert!(
        retransmissions > 50,
        "the network did lose INVITEs ({retransmissions} retransmissions)"
    );
}

#[test]
fn unanswered_invite_times_out_at_timer_b_after_six_retransmissions() {
    let mut w = World::new(NetConfig::perfect(Transport::Udp), 1);
    w.drop_when(|from, _| from == Side::Uac);
    let invite = request(Method::Invite, Transport::Udp, "timer-b", 1);
    let key = w
        .uac
        .send_request(invite, w.uas_peer(), w.now)
        .expect("INVITE");
    w.finish(&mut idle);
    // Timer A: T1, doubling; 7 transmissions (the INVITE and 6 retransmissions) fit in 64·T1.
    let expected: Vec<Duration> = [0, 500, 1500, 3500, 7500, 15500, 31500].map(ms).to_vec();
    assert_eq!(w.sent_by(Side::Uac, "INVITE"), expected);
    assert_eq!(
        when(
            &w,
            Side::Uac,
            |e| matches!(e, TuEvent::Timeout { key: k } if *k == key)
        ),
        [secs(32)]
    );
    assert_eq!(
        when(&w, Side::Uac, |e| matches!(e, TuEvent::Terminated { .. })),
        [secs(32)]
    );
}

#[test]
fn timers_scale_with_t1() {
    let timers = TimerConfig {
        t1: ms(100),
        ..TimerConfig::default()
    };
    let mut w = World::with_timers(NetConfig::perfect(Transport::Udp), 1, timers);
    w.drop_when(|from, _| from == Side::Uac);
    let key = w
        .uac
        .send_request(
            request(Method::Invite, Transport::Udp, "t1", 1),
            w.uas_peer(),
            w.now,
        )
        .expect("INVITE");
    w.finish(&mut idle);
    let expected: Vec<Duration> = [0, 100, 300, 700, 1500, 3100, 6300].map(ms).to_vec();
    assert_eq!(w.sent_by(Side::Uac, "INVITE"), expected);
    assert_eq!(
        when(
            &w,
            Side::Uac,
            |e| matches!(e, TuEvent::Timeout { key: k } if *k == key)
        ),
        [ms(6400)]
    );
}

#[test]
fn invite_rejected_with_486_is_acked_by_the_transaction_and_lingers_for_timer_d() {
    let mut w = World::new(NetConfig::perfect(Transport::Udp), 1);
    let invite = request(Method::Invite, Transport::Udp, "busy", 1);
    let key = w
        .uac
        .send_request(invite, w.uas_peer(), w.now)
        .expect("INVITE");
    let mut tu = call_tu(486, ms(0));
    w.finish(&mut tu);
    assert_eq!(responses(&w, key, 486), [ms(20)]);
    let acks = w
        .sent
        .iter()
        .filter(|s| s.from == Side::Uac && s.msg.method() == Some(&Method::Ack));
    let acks: Vec<&Message> = acks.map(|s| &s.msg).collect();
    assert_eq!(acks.len(), 1);
    // §17.1.1.3: same branch, To tag from the response.
    assert_eq!(
        acks[0].top_via().unwrap().branch(),
        w.sent[0].msg.top_via().unwrap().branch()
    );
    assert_eq!(acks[0].to_header().unwrap().tag(), Some("uas"));
    // Timer D = 32 s after the 486 arrived; the UAS ends 5 s (Timer I) after the ACK.
    let ended = |side| when(&w, side, |e| matches!(e, TuEvent::Terminated { .. }));
    assert_eq!(ended(Side::Uac), [ms(32_020)]);
    assert_eq!(ended(Side::Uas), [ms(5_030)]);
    assert_eq!(
        count(&w, Side::Uas, |e| matches!(e, TuEvent::Stray { .. })),
        0
    );
}

#[test]
fn forked_2xx_in_the_accepted_state_reach_the_tu_until_timer_m() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let invite = request(Method::Invite, Transport::Udp, "fork", 1);
    let key = l
        .send_request(invite.clone(), peer(UAS_ADDR, Transport::Udp), t0)
        .expect("INVITE");
    let from_uas = peer(UAS_ADDR, Transport::Udp);
    l.handle_message(reply(&invite, 200, "a"), from_uas, t0 + ms(10));
    l.handle_message(reply(&invite, 200, "b"), from_uas, t0 + ms(20));
    l.handle_message(reply(&invite, 200, "a"), from_uas, t0 + ms(30));
    l.handle_message(reply(&invite, 486, "c"), from_uas, t0 + ms(40));
    let tags: Vec<String> = drain_events(&mut l)
        .into_iter()
        .map(|e| match e {
            TuEvent::Response { key: k, msg } if k == key => {
                msg.to_header().unwrap().tag().unwrap().to_owned()
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(tags, ["a", "b", "a"]);
    assert_eq!(
        drain_transmits(&mut l).len(),
        1,
        "no ACK from the transaction for a 2xx"
    );
    assert_eq!(
        l.state(&key),
        Some(TransactionState::ClientInvite(
            client_invite::State::Accepted
        ))
    );
    // Timer M = 64·T1 after the first 2xx; later 2xx are strays for the dialog layer.
    assert_eq!(l.poll_timeout(), Some(t0 + ms(10) + secs(32)));
    run_timers(&mut l, t0, secs(60));
    assert!(matches!(drain_events(&mut l)[..], [TuEvent::Terminated { key: k }] if k == key));
    l.handle_message(reply(&invite, 200, "b"), from_uas, t0 + secs(40));
    assert!(matches!(drain_events(&mut l)[..], [TuEvent::Stray { .. }]));
    assert!(l.is_empty());
}

// ---- non-INVITE client: Timers E, F and K ----

#[test]
fn unanswered_non_invite_retransmits_with_e_capped_at_t2_and_fails_at_timer_f() {
    let mut w = World::new(NetConfig::perfect(Transport::Udp), 1);
    w.drop_when(|from, _| from == Side::Uac);
    let key = w
        .uac
        .send_request(
            request(Method::Options, Transport::Udp, "timer-f", 1),
            w.uas_peer(),
            w.now,
        )
        .expect("OPTIONS");
    w.finish(&mut idle);
    let expected: Vec<Duration> = [
        0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
    ]
    .map(ms)
    .to_vec();
    assert_eq!(w.sent_by(Side::Uac, "OPTIONS"), expected);
    assert_eq!(
        when(
            &w,
            Side::Uac,
            |e| matches!(e, TuEvent::Timeout { key: k } if *k == key)
        ),
        [secs(32)]
    );
}

#[test]
fn non_invite_after_a_provisional_retransmits_every_t2() {
    let mut w = World::new(NetConfig::perfect(Transport::Udp), 1);
    let key = w
        .uac
        .send_request(
            request(Method::Register, Transport::Udp, "prov", 1),
            w.uas_peer(),
            w.now,
        )
        .expect("REGISTER");
    // The UAS TU sends 100 at once and its 200 only after the UAC has given up.
    let mut tu = |ctx: &mut Ctx<'_>, ev: &TuEvent| {
        if let (Side::Uas, TuEvent::Request { key, msg, .. }) = (ctx.side, ev) {
            ctx.layer
                .send_response(key, reply(msg, 100, "x"), ctx.now)
                .expect("100");
            let (key, ok) = (*key, reply(msg, 200, "x"));
            ctx.later(secs(33), move |l, now| {
                l.send_response(&key, ok, now).expect("200")
            });
        }
    };
    w.finish(&mut tu);
    // E fires at T1 in Trying, then every T2 in Proceeding (§17.1.2.2).
    let expected: Vec<Duration> = [0, 500, 4500, 8500, 12500, 16500, 20500, 24500, 28500]
        .map(ms)
        .to_vec();
    assert_eq!(w.sent_by(Side::Uac, "REGISTER"), expected);
    // Each retransmission is answered with the last provisional.
    assert_eq!(w.sent_by(Side::Uas, "SIP/2.0 100").len(), expected.len());
    assert_eq!(
        when(
            &w,
            Side::Uac,
            |e| matches!(e, TuEvent::Timeout { key: k } if *k == key)
        ),
        [secs(32)]
    );
    assert_eq!(
        count(&w, Side::Uac, |e| matches!(e, TuEvent::Stray { .. })),
        1,
        "the late 200"
    );
}

#[test]
fn non_invite_over_udp_lingers_for_timer_k_and_timer_j() {
    let mut w = World::new(NetConfig::perfect(Transport::Udp), 1);
    let key = w
        .uac
        .send_request(
            request(Method::Options, Transport::Udp, "k", 1),
            w.uas_peer(),
            w.now,
        )
        .expect("OPTIONS");
    let mut tu = call_tu(200, ms(0));
    w.finish(&mut tu);
    assert_eq!(responses(&w, key, 200), [ms(20)]);
    // K = T4 after the response; J = 64·T1 after the UAS answered.
    assert_eq!(
        when(&w, Side::Uac, |e| matches!(e, TuEvent::Terminated { .. })),
        [ms(5_020)]
    );
    assert_eq!(
        when(&w, Side::Uas, |e| matches!(e, TuEvent::Terminated { .. })),
        [ms(32_010)]
    );
}

// ---- INVITE server: Timers G, H, I, L, the 100 Trying, 2xx reliability ----

#[test]
fn lost_acks_for_486_make_the_uas_retransmit_until_timer_h() {
    let mut w = World::new(NetConfig::perfect(Transport::Udp), 1);
    w.drop_when(|from, msg| from == Side::Uac && msg.method() == Some(&Method::Ack));
    let key = w
        .uac
        .send_request(
            request(Method::Invite, Transport::Udp, "no-ack", 1),
            w.uas_peer(),
            w.now,
        )
        .expect("INVITE");
    let mut tu = call_tu(486, ms(0));
    w.finish(&mut tu);
    // Timer G: T1 doubling up to T2 from the first 486 at 10 ms; Timer H at 64·T1.
    let expected: Vec<Duration> = [
        0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
    ]
    .map(|t| ms(10 + t))
    .to_vec();
    assert_eq!(
        w.sent_by(Side::Uas, "SIP/2.0 486"),
        expected,
        "10 retransmissions"
    );
    assert_eq!(
        when(&w, Side::Uas, |e| matches!(e, TuEvent::Timeout { .. })),
        [ms(32_010)]
    );
    assert_eq!(
        when(&w, Side::Uas, |e| matches!(e, TuEvent::Terminated { .. })),
        [ms(32_010)]
    );
    // The UAC TU heard the 486 once; its transaction ACKed every copy.
    assert_eq!(responses(&w, key, 486).len(), 1);
    assert_eq!(w.sent_by(Side::Uac, "ACK").len(), expected.len());
}

#[test]
fn lost_acks_for_200_make_the_uas_retransmit_the_2xx_until_an_ack_arrives() {
    let mut w = World::new(NetConfig::perfect(Transport::Udp), 1);
    let mut dropped = 0;
    w.drop_when(move |from, msg| {
        let drop = from == Side::Uac && msg.method() == Some(&Method::Ack) && dropped < 2;
        dropped += usize::from(drop);
        drop
    });
    let key = w
        .uac
        .send_request(
            request(Method::Invite, Transport::Udp, "late-ack", 1),
            w.uas_peer(),
            w.now,
        )
        .expect("INVITE");
    let mut tu = call_tu(200, ms(0));
    w.finish(&mut tu);
    // 200 at 10 ms, again at T1 and 3·T1; the third ACK gets through at 1530 ms.
    assert_eq!(
        w.sent_by(Side::Uas, "SIP/2.0 200"),
        [ms(10), ms(510), ms(1510)]
    );
    assert_eq!(
        responses(&w, key, 200).len(),
        3,
        "every copy reaches the UAC TU, which re-ACKs"
    );
    let ack = when(&w, Side::Uas, |e| matches!(e, TuEvent::Ack { .. }));
    assert_eq!(ack, [ms(1530)]);
    assert_eq!(
        count(&w, Side::Uas, |e| matches!(e, TuEvent::AckTimeout { .. })),
        0
    );
    // Timer L keeps the server transaction 64·T1 after the 2xx; Timer M the client one.
    assert_eq!(
        when(&w, Side::Uas, |e| matches!(e, TuEvent::Terminated { .. })),
        [ms(32_010)]
    );
    assert_eq!(
        when(&w, Side::Uac, |e| matches!(e, TuEvent::Terminated { .. })),
        [ms(32_020)]
    );
}

#[test]
fn a_2xx_never_acked_is_retransmitted_for_64_t1_then_reported() {
    let mut w = World::new(NetConfig::perfect(Transport::Udp), 1);
    w.drop_when(|from, msg| from == Side::Uac && msg.method() == Some(&Method::Ack));
    let key = w
        .uac
        .send_request(
            request(Method::Invite, Transport::Udp, "never-acked", 1),
            w.uas_peer(),
            w.now,
        )
        .expect("INVITE");
    let mut tu = call_tu(200, ms(0));
    w.finish(&mut tu);
    assert_eq!(w.sent_by(Side::Uas, "SIP/2.0 200").len(), 11);
    let invite_key = w
        .events(Side::Uas)
        .find_map(|l| match l.event {
            TuEvent::Request { key, .. } => Some(key),
            _ => None,
        })
        .expect("the INVITE reached the UAS TU");
    let timeouts = when(
        &w,
        Side::Uas,
        |e| matches!(e, TuEvent::AckTimeout { invite_key: k } if *k == invite_key),
    );
    assert_eq!(timeouts, [ms(32_010)]);
    assert_eq!(responses(&w, key, 200).len(), 11);
}

#[test]
fn the_tu_can_report_the_ack_itself() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let invite = request(Method::Invite, Transport::Udp, "tu-ack", 1);
    l.handle_message(invite.clone(), peer(UAC_ADDR, Transport::Udp), t0);
    let Some(TuEvent::Request { key, .. }) = l.poll_event() else {
        panic!("no request")
    };
    l.send_response(&key, reply(&invite, 200, "t"), t0)
        .expect("200");
    assert_eq!(l.len(), 2, "the transaction and its 2xx retransmission");
    assert!(l.ack_received(&key));
    assert!(!l.ack_received(&key));
    assert_eq!(l.len(), 1);
    drain_transmits(&mut l);
    run_timers(&mut l, t0, secs(60));
    assert_eq!(
        drain_transmits(&mut l).len(),
        0,
        "no 2xx retransmission after the ACK"
    );
    assert!(l.is_empty());
}

#[test]
fn request_retransmissions_are_absorbed_and_answered_with_the_last_response() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let from = peer(UAC_ADDR, Transport::Udp);
    let invite = request(Method::Invite, Transport::Udp, "absorb", 1);
    l.handle_message(invite.clone(), from, t0);
    let Some(TuEvent::Request { key, .. }) = l.poll_event() else {
        panic!("no request")
    };
    // Retransmitted before the TU said anything: 100 Trying at once.
    l.handle_message(invite.clone(), from, t0 + ms(50));
    assert_eq!(status_of(&drain_transmits(&mut l)), [100]);
    l.send_response(&key, reply(&invite, 180, "t"), t0 + ms(60))
        .expect("180");
    l.handle_message(invite.clone(), from, t0 + ms(70));
    assert_eq!(status_of(&drain_transmits(&mut l)), [180, 180]);
    l.send_response(&key, reply(&invite, 486, "t"), t0 + ms(80))
        .expect("486");
    l.handle_message(invite.clone(), from, t0 + ms(90));
    assert_eq!(status_of(&drain_transmits(&mut l)), [486, 486]);
    assert_eq!(drain_events(&mut l).len(), 0, "the TU saw the INVITE once");
    // An ACK confirms; more ACKs and INVITEs are absorbed silently.
    let ack = build_ack_for_non_2xx(&invite, &reply(&invite, 486, "t")).expect("ACK");
    l.handle_message(ack.clone(), from, t0 + ms(100));
    l.handle_message(ack, from, t0 + ms(110));
    l.handle_message(invite, from, t0 + ms(120));
    assert_eq!(
        l.state(&key),
        Some(TransactionState::ServerInvite(
            server_invite::State::Confirmed
        ))
    );
    assert_eq!(drain_transmits(&mut l).len(), 0);
    assert_eq!(drain_events(&mut l).len(), 0);
    // Timer I = T4.
    assert_eq!(l.poll_timeout(), Some(t0 + ms(100) + secs(5)));

    // Non-INVITE: absorbed while Trying, answered once the TU has.
    let bye = request(Method::Bye, Transport::Udp, "absorb", 2);
    l.handle_message(bye.clone(), from, t0 + ms(200));
    let Some(TuEvent::Request { key: bye_key, .. }) = l.poll_event() else {
        panic!("no BYE")
    };
    l.handle_message(bye.clone(), from, t0 + ms(210));
    assert_eq!(drain_transmits(&mut l).len(), 0);
    l.send_response(&bye_key, reply(&bye, 200, "t"), t0 + ms(220))
        .expect("200");
    l.handle_message(bye, from, t0 + ms(230));
    assert_eq!(status_of(&drain_transmits(&mut l)), [200, 200]);
    assert_eq!(drain_events(&mut l).len(), 0);
    run_timers(&mut l, t0, secs(60));
    assert!(l.is_empty());
}

#[test]
fn invite_retransmissions_in_the_accepted_state_are_absorbed() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let from = peer(UAC_ADDR, Transport::Udp);
    let invite = request(Method::Invite, Transport::Udp, "accepted", 1);
    l.handle_message(invite.clone(), from, t0);
    let Some(TuEvent::Request { key, .. }) = l.poll_event() else {
        panic!("no request")
    };
    l.send_response(&key, reply(&invite, 200, "t"), t0)
        .expect("200");
    drain_transmits(&mut l);
    l.handle_message(invite.clone(), from, t0 + ms(10));
    assert_eq!(drain_transmits(&mut l).len(), 0);
    assert_eq!(drain_events(&mut l).len(), 0);
    // RFC 6026: another 2xx from the TU goes out; a non-2xx is refused.
    l.send_response(&key, reply(&invite, 200, "t"), t0 + ms(20))
        .expect("2xx again");
    assert!(matches!(
        l.send_response(&key, reply(&invite, 486, "t"), t0 + ms(30)),
        Err(TransactionError::InvalidState {
            status: 486,
            state: "Accepted",
            ..
        })
    ));
    assert_eq!(status_of(&drain_transmits(&mut l)), [200]);
    let end = run_timers(&mut l, t0, secs(60));
    assert_eq!(
        end,
        t0 + ms(20) + secs(32),
        "AckTimeout of the replaced 2xx"
    );
    assert!(l.is_empty());
}

#[test]
fn the_server_sends_100_trying_when_the_tu_is_silent_for_200_ms() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let from = peer(UAC_ADDR, Transport::Udp);
    let invite = request(Method::Invite, Transport::Udp, "trying", 1);
    l.handle_message(invite.clone(), from, t0);
    assert_eq!(l.poll_timeout(), Some(t0 + ms(200)));
    l.handle_timeout(t0 + ms(200));
    let sent = drain_transmits(&mut l);
    assert_eq!(status_of(&sent), [100]);
    assert_eq!(
        sent[0].to_header().unwrap().tag(),
        None,
        "no To tag on 100 Trying"
    );
    assert_eq!(l.poll_timeout(), None, "Proceeding waits for the TU");

    // A TU that answers in time suppresses it.
    let invite2 = request(Method::Invite, Transport::Udp, "trying-2", 1);
    l.handle_message(invite2.clone(), from, t0);
    let key2 = drain_events(&mut l)
        .into_iter()
        .find_map(|e| match e {
            TuEvent::Request { key, msg, .. } if msg.call_id().ok() == Some("trying-2") => {
                Some(key)
            }
            _ => None,
        })
        .expect("second INVITE");
    l.send_response(&key2, reply(&invite2, 180, "t"), t0 + ms(100))
        .expect("180");
    l.handle_timeout(t0 + ms(300));
    assert_eq!(status_of(&drain_transmits(&mut l)), [180]);
}

// ---- reliable transports ----

#[test]
fn reliable_transport_skips_retransmissions_and_zeroes_d_i_j_k() {
    // No Timer A: one INVITE, then Timer B.
    let mut w = World::new(NetConfig::perfect(Transport::Tcp), 1);
    w.drop_when(|from, _| from == Side::Uac);
    w.uac
        .send_request(
            request(Method::Invite, Transport::Tcp, "tcp-b", 1),
            w.uas_peer(),
            w.now,
        )
        .expect("INVITE");
    w.finish(&mut idle);
    assert_eq!(w.sent_by(Side::Uac, "INVITE"), [ms(0)]);
    assert_eq!(
        when(&w, Side::Uac, |e| matches!(e, TuEvent::Timeout { .. })),
        [secs(32)]
    );

    // 486: Timer D = 0 at the UAC, no Timer G and Timer I = 0 at the UAS.
    let mut w = World::new(NetConfig::perfect(Transport::Tcp), 1);
    w.uac
        .send_request(
            request(Method::Invite, Transport::Tcp, "tcp-486", 1),
            w.uas_peer(),
            w.now,
        )
        .expect("INVITE");
    let mut tu = call_tu(486, ms(0));
    w.finish(&mut tu);
    assert_eq!(
        when(&w, Side::Uac, |e| matches!(e, TuEvent::Terminated { .. })),
        [ms(20)]
    );
    assert_eq!(
        when(&w, Side::Uas, |e| matches!(e, TuEvent::Terminated { .. })),
        [ms(30)]
    );
    assert_eq!(w.sent_by(Side::Uas, "SIP/2.0 486").len(), 1);

    // Non-INVITE: Timer E never runs, J = K = 0.
    let mut w = World::new(NetConfig::perfect(Transport::Tcp), 1);
    w.uac
        .send_request(
            request(Method::Options, Transport::Tcp, "tcp-jk", 1),
            w.uas_peer(),
            w.now,
        )
        .expect("OPTIONS");
    let mut tu = call_tu(200, ms(0));
    w.finish(&mut tu);
    assert_eq!(
        when(&w, Side::Uas, |e| matches!(e, TuEvent::Terminated { .. })),
        [ms(10)]
    );
    assert_eq!(
        when(&w, Side::Uac, |e| matches!(e, TuEvent::Terminated { .. })),
        [ms(20)]
    );

    // A 2xx is not retransmitted over TCP, but the missing ACK is still reported at 64·T1.
    let mut w = World::new(NetConfig::perfect(Transport::Tcp), 1);
    w.drop_when(|from, msg| from == Side::Uac && msg.method() == Some(&Method::Ack));
    w.uac
        .send_request(
            request(Method::Invite, Transport::Tcp, "tcp-2xx", 1),
            w.uas_peer(),
            w.now,
        )
        .expect("INVITE");
    let mut tu = call_tu(200, ms(0));
    w.finish(&mut tu);
    assert_eq!(w.sent_by(Side::Uas, "SIP/2.0 200").len(), 1);
    assert_eq!(
        when(&w, Side::Uas, |e| matches!(e, TuEvent::AckTimeout { .. })),
        [ms(32_010)]
    );
}

// ---- CANCEL ----

#[test]
fn cancel_runs_its_own_transaction_and_finds_the_invite_it_cancels() {
    let mut w = World::new(NetConfig::perfect(Transport::Udp), 1);
    let invite = request(Method::Invite, Transport::Udp, "cancel", 1);
    let invite_key = w
        .uac
        .send_request(invite.clone(), w.uas_peer(), w.now)
        .expect("INVITE");
    let mut cancel_key = None;
    let cancel_key_slot = &mut cancel_key;
    let mut tu = |ctx: &mut Ctx<'_>, ev: &TuEvent| match (ctx.side, ev) {
        (Side::Uas, TuEvent::Request { key, msg, .. }) => {
            ctx.layer
                .send_response(key, reply(msg, 180, "u"), ctx.now)
                .expect("180");
        }
        (
            Side::Uas,
            TuEvent::Cancel {
                key,
                invite_key,
                msg,
                ..
            },
        ) => {
            ctx.layer
                .send_response(key, reply(msg, 200, "u"), ctx.now)
                .expect("200 to CANCEL");
            let ik = invite_key.expect("the CANCEL found its INVITE");
            let inv = ctx.layer.invite_request(&ik).expect("live INVITE");
            ctx.layer
                .send_response(&ik, reply(&inv, 487, "u"), ctx.now)
                .expect("487");
        }
        (Side::Uac, TuEvent::Response { key, msg })
            if *key == invite_key && msg.status() == Some(180) =>
        {
            let cancel = build_cancel(&invite).expect("CANCEL");
            let to = ctx.far_peer();
            *cancel_key_slot = Some(ctx.layer.send_request(cancel, to, ctx.now).expect("CANCEL"));
        }
        _ => {}
    };
    w.finish(&mut tu);
    let cancel_key = cancel_key.expect("CANCEL sent");
    assert_ne!(cancel_key, invite_key);
    assert_eq!(responses(&w, cancel_key, 200).len(), 1);
    assert_eq!(responses(&w, invite_key, 487).len(), 1);
    let uas_invite = w
        .events(Side::Uas)
        .find_map(|l| match l.event {
            TuEvent::Request { key, .. } => Some(key),
            _ => None,
        })
        .expect("INVITE at the UAS");
    let found = w.events(Side::Uas).find_map(|l| match l.event {
        TuEvent::Cancel { invite_key, .. } => Some(invite_key),
        _ => None,
    });
    assert_eq!(found, Some(Some(uas_invite)));
}

#[test]
fn a_cancel_for_no_live_invite_says_so() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let invite = request(Method::Invite, Transport::Udp, "lonely", 1);
    let cancel = build_cancel(&invite).expect("CANCEL");
    l.handle_message(cancel, peer(UAC_ADDR, Transport::Udp), Instant::now());
    assert!(matches!(
        drain_events(&mut l)[..],
        [TuEvent::Cancel {
            invite_key: None,
            ..
        }]
    ));
}

// ---- RFC 2543 matching ----

fn rfc2543_request(method: &str, via: &str, to: &str, cseq: &str) -> Message {
    let text = format!(
        "{method} sip:bob@10.0.0.2 SIP/2.0\r\nVia: {via}\r\nFrom: <sip:old@10.0.0.1>;tag=f1\r\n\
         To: {to}\r\nCall-ID: old-call\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
    );
    Message::parse(bytes::Bytes::from(text)).expect("valid request")
}

#[test]
fn rfc2543_requests_match_on_the_old_fields() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let from = peer(UAC_ADDR, Transport::Udp);
    for via in [
        "SIP/2.0/UDP 10.0.0.1:5060;branch=old-1",
        "SIP/2.0/UDP 10.0.0.1:5060",
    ] {
        let invite = rfc2543_request("INVITE", via, "<sip:bob@10.0.0.2>", "1 INVITE");
        l.handle_message(invite.clone(), from, t0);
        l.handle_message(invite.clone(), from, t0 + ms(10));
        let events = drain_events(&mut l);
        let [TuEvent::Request { key, .. }] = events[..] else {
            panic!("{events:?}")
        };
        // CANCEL finds it (same fields, method ignored).
        l.handle_message(
            rfc2543_request("CANCEL", via, "<sip:bob@10.0.0.2>", "1 CANCEL"),
            from,
            t0,
        );
        let events = drain_events(&mut l);
        let [TuEvent::Cancel {
            invite_key: Some(k),
            key: cancel_key,
            ..
        }] = events[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(k, key);
        l.send_response(&cancel_key, reply(&invite, 200, "r"), t0)
            .expect("200");
        l.send_response(&key, reply(&invite, 487, "r"), t0)
            .expect("487");
        // The ACK carries the response's To tag and matches the INVITE transaction.
        l.handle_message(
            rfc2543_request("ACK", via, "<sip:bob@10.0.0.2>;tag=r", "1 ACK"),
            from,
            t0 + ms(20),
        );
        assert_eq!(drain_events(&mut l).len(), 0, "absorbed, not a stray");
        assert_eq!(
            l.state(&key),
            Some(TransactionState::ServerInvite(
                server_invite::State::Confirmed
            ))
        );
        // A different CSeq is a new transaction.
        l.handle_message(
            rfc2543_request("INVITE", via, "<sip:bob@10.0.0.2>", "2 INVITE"),
            from,
            t0,
        );
        assert!(matches!(
            drain_events(&mut l)[..],
            [TuEvent::Request { .. }]
        ));
    }
    run_timers(&mut l, t0, secs(600));
    drain_events(&mut l);
    assert_eq!(
        l.len(),
        2,
        "the two unanswered CSeq 2 INVITEs wait for their TU"
    );
}

// ---- strays, errors, transport failures ----

#[test]
fn responses_matching_no_transaction_are_strays() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let invite = request(Method::Invite, Transport::Udp, "stray", 1);
    l.handle_message(
        reply(&invite, 200, "x"),
        peer(UAS_ADDR, Transport::Udp),
        Instant::now(),
    );
    assert!(matches!(drain_events(&mut l)[..], [TuEvent::Stray { .. }]));
    // Same branch, other CSeq method: not the INVITE's response either.
    let t0 = Instant::now();
    l.send_request(invite.clone(), peer(UAS_ADDR, Transport::Udp), t0)
        .expect("INVITE");
    let cancel = build_cancel(&invite).expect("CANCEL");
    l.handle_message(reply(&cancel, 200, "x"), peer(UAS_ADDR, Transport::Udp), t0);
    assert!(matches!(drain_events(&mut l)[..], [TuEvent::Stray { .. }]));
}

#[test]
fn the_tu_gets_errors_it_can_act_on() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let to = peer(UAS_ADDR, Transport::Udp);
    let invite = request(Method::Invite, Transport::Udp, "errors", 1);
    let ack = ack_for_2xx(&reply(&invite, 200, "x"), Transport::Udp);
    assert_eq!(
        l.send_request(ack, to, t0),
        Err(TransactionError::AckNotAllowed)
    );
    let resp = reply(&invite, 200, "x");
    assert_eq!(
        l.send_request(resp.clone(), to, t0),
        Err(TransactionError::NotARequest)
    );
    let no_branch = invite
        .edit()
        .replace(HeaderName::Via, "SIP/2.0/UDP 10.0.0.1")
        .finish()
        .expect("edit");
    assert_eq!(
        l.send_request(no_branch, to, t0),
        Err(TransactionError::MissingBranch)
    );
    let mismatch = invite
        .edit()
        .replace(HeaderName::CSeq, "1 BYE")
        .finish()
        .expect("edit");
    assert!(matches!(
        l.send_request(mismatch, to, t0),
        Err(TransactionError::CSeqMismatch { .. })
    ));
    let no_call_id = invite
        .edit()
        .remove(HeaderName::CallId)
        .finish()
        .expect("edit");
    assert!(matches!(
        l.send_request(no_call_id, to, t0),
        Err(TransactionError::Header(_))
    ));
    let key = l.send_request(invite.clone(), to, t0).expect("INVITE");
    assert!(matches!(
        l.send_request(invite.clone(), to, t0),
        Err(TransactionError::DuplicateBranch { .. })
    ));
    assert_eq!(
        l.send_response(&key, resp.clone(), t0),
        Err(TransactionError::NotAServerTransaction(key))
    );
    assert_eq!(
        l.send_response(&key, invite.clone(), t0),
        Err(TransactionError::NotAResponse)
    );
    let mut other = TransactionLayer::new(TimerConfig::default());
    assert_eq!(
        other.send_response(&key, resp, t0),
        Err(TransactionError::UnknownTransaction(key))
    );
    // A second final response on a non-INVITE server transaction.
    let bye = request(Method::Bye, Transport::Udp, "errors", 2);
    other.handle_message(bye.clone(), peer(UAC_ADDR, Transport::Udp), t0);
    let Some(TuEvent::Request { key: bye_key, .. }) = other.poll_event() else {
        panic!("no BYE")
    };
    other
        .send_response(&bye_key, reply(&bye, 200, "x"), t0)
        .expect("200");
    let err = other
        .send_response(&bye_key, reply(&bye, 500, "x"), t0)
        .unwrap_err();
    assert!(err.to_string().contains("Completed"), "{err}");
}

#[test]
fn transport_errors_end_the_transaction_except_an_accepted_invite() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let invite = request(Method::Invite, Transport::Tcp, "tx-err", 1);
    let key = l
        .send_request(invite, peer(UAS_ADDR, Transport::Tcp), t0)
        .expect("INVITE");
    let sent = l.poll_transmit().expect("INVITE out");
    assert_eq!(sent.key, Some(key));
    l.handle_transport_error(&key, t0);
    assert!(matches!(
        drain_events(&mut l)[..],
        [TuEvent::TransportError { key: a }, TuEvent::Terminated { key: b }] if a == key && b == key
    ));
    assert!(l.is_empty());

    // RFC 6026 §8.8: an Accepted server transaction stays; the 2xx retransmission stops.
    let invite = request(Method::Invite, Transport::Udp, "tx-err-2", 1);
    l.handle_message(invite.clone(), peer(UAC_ADDR, Transport::Udp), t0);
    let Some(TuEvent::Request { key, .. }) = l.poll_event() else {
        panic!("no request")
    };
    l.send_response(&key, reply(&invite, 200, "x"), t0)
        .expect("200");
    l.handle_transport_error(&key, t0);
    assert!(matches!(
        drain_events(&mut l)[..],
        [TuEvent::TransportError { .. }]
    ));
    assert_eq!(l.len(), 1);
    run_timers(&mut l, t0, secs(60));
    assert!(matches!(
        drain_events(&mut l)[..],
        [TuEvent::Terminated { .. }]
    ));
    assert!(l.is_empty());
}

// ---- properties ----

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Whatever the network does (up to 30 % loss, duplicates, reordering) and whenever the
    /// UAS answers, the INVITE either completes or fails exactly at Timer B, the UAS TU
    /// sees it at most once, and both layers end empty.
    #[test]
    fn invite_completes_or_times_out_and_the_layers_end_empty(
        seed in any::<u64>(),
        loss in 0.0..0.3f64,
        duplicate in 0.0..0.3f64,
        answer_ms in 0u64..5000,
        code in prop::sample::select(vec![200u16, 486, 603]),
    ) {
        let mut w = World::new(NetConfig::lossy(loss, duplicate), seed);
        let invite = request(Method::Invite, Transport::Udp, "prop", 1);
        let key = w.uac.send_request(invite, w.uas_peer(), w.now).expect("INVITE");
        let mut tu = call_tu(code, ms(answer_ms));
        w.finish(&mut tu);
        let finals = responses(&w, key, code);
        let timeouts = when(&w, Side::Uac, |e| matches!(e, TuEvent::Timeout { key: k } if *k == key));
        prop_assert!(finals.is_empty() != timeouts.is_empty(), "finals {finals:?} timeouts {timeouts:?}");
        if let Some(t) = timeouts.first() {
            prop_assert_eq!(*t, secs(32));
        }
        if code != 200 {
            prop_assert!(finals.len() <= 1, "a non-2xx final reaches the TU once");
        }
        let requests = count(&w, Side::Uas, |e| matches!(e, TuEvent::Request { .. }));
        prop_assert!(requests <= 1, "the UAS TU saw the INVITE {} times", requests);
    }

    /// Mangled messages, in any order and at any time, never make the layer panic.
    #[test]
    fn arbitrary_messages_never_panic(
        ops in prop::collection::vec((0usize..8, 0usize..12, any::<u8>(), 0u64..40_000), 1..40),
    ) {
        let mut l = TransactionLayer::new(TimerConfig::default());
        let t0 = Instant::now();
        let invite = request(Method::Invite, Transport::Udp, "fuzz", 1);
        let own = l.send_request(invite.clone(), peer(UAS_ADDR, Transport::Udp), t0).expect("INVITE");
        let templates = [
            invite.clone(),
            reply(&invite, 100, "z"),
            reply(&invite, 200, "z"),
            reply(&invite, 486, "z"),
            build_cancel(&invite).expect("CANCEL"),
            ack_for_2xx(&reply(&invite, 200, "z"), Transport::Udp),
            rfc2543_request("INVITE", "SIP/2.0/UDP h", "<sip:b@h>", "1 INVITE"),
            rfc2543_request("ACK", "SIP/2.0/UDP h", "<sip:b@h>;tag=z", "1 ACK"),
        ];
        let mut keys = vec![own];
        let mut now = t0;
        for (which, line, byte, dt) in ops {
            now += ms(dt % 3000);
            let text = String::from_utf8_lossy(templates[which].as_bytes()).into_owned();
            let mut lines: Vec<String> = text.split("\r\n").map(str::to_owned).collect();
            // Drop or garble one header line (never the start line).
            let i = 1 + line % (lines.len().saturating_sub(3)).max(1);
            if byte % 3 == 0 {
                lines.remove(i);
            } else if let Some((name, _)) = lines[i].clone().split_once(':') {
                lines[i] = format!("{name}: {}", char::from(byte.max(33) & 0x7f));
            }
            let Ok(msg) = Message::parse(bytes::Bytes::from(lines.join("\r\n"))) else { continue };
            l.handle_message(msg.clone(), peer(UAC_ADDR, Transport::Udp), now);
            for ev in drain_events(&mut l) {
                if let TuEvent::Request { key, .. } | TuEvent::Cancel { key, .. } = ev {
                    keys.push(key);
                }
            }
            let key = keys[usize::from(byte) % keys.len()];
            let _ = l.send_response(&key, msg, now);
            if byte % 7 == 0 {
                l.handle_transport_error(&key, now);
            }
            l.handle_timeout(now);
            drain_transmits(&mut l);
        }
    }
}
