//! The SIP stack (endpoint + transaction layer) against SIPp on loopback, both ways, over
//! UDP and TCP, including lossy runs where SIPp drops messages (its `lost` attribute) so
//! retransmissions, absorption and 2xx/ACK reliability are exercised for real.
//!
//! The stack side is a minimal transaction user written here: an answering UAS, and a UAC
//! that places calls and hangs them up.

mod common;

use bytes::Bytes;
use common::sipp::{free_port, scenario};
use sip::builder::{RequestBuilder, ResponseBuilder};
use sip::{HeaderName, Message, Method};
use sip_stack::endpoint::{self, EndpointConfig, EndpointEvent, EndpointHandle};
use sip_stack::transaction::{new_branch, Peer, TimerConfig, Transport, TuEvent};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

async fn start_endpoint() -> (
    EndpointHandle,
    tokio::sync::mpsc::UnboundedReceiver<EndpointEvent>,
) {
    endpoint::start(EndpointConfig {
        listen: vec![
            (Transport::Udp, "127.0.0.1:0".parse().unwrap()),
            (Transport::Tcp, "127.0.0.1:0".parse().unwrap()),
        ],
        tls: None,
        timers: TimerConfig::default(),
    })
    .await
    .unwrap()
}

/// Runs SIPp in the background (bounded by `timeout`), returning its exit status.
fn spawn_sipp(args: Vec<String>) -> tokio::task::JoinHandle<std::process::Output> {
    tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args(["-k", "5", "-s", "INT", "90", "sipp"])
            .args(&args)
            // Lossy runs drop up to a third of the messages; give retransmissions room.
            .args(["-max_invite_retrans", "12", "-max_non_invite_retrans", "12"])
            .output()
            .expect("sipp must be installed (scripts/test.sh installs sip-tester)")
    })
}

fn check(out: std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "sipp {what} failed ({:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The answering UAS: 180 then 200 with SDP to INVITE, 200 to BYE. Returns when SIPp ends.
async fn serve_calls(transport: Transport, sipp_scenario: &[&str], calls: u32, lossless: bool) {
    let (handle, mut events) = start_endpoint().await;
    let target = handle.local_addr(transport).unwrap();
    let mut args: Vec<String> = vec![target.to_string()];
    args.extend(sipp_scenario.iter().map(|s| s.to_string()));
    args.extend(
        [
            "-i",
            "127.0.0.1",
            "-t",
            if transport == Transport::Udp {
                "u1"
            } else {
                "t1"
            },
            "-m",
            &calls.to_string(),
            "-r",
            "20",
            "-l",
            "20",
            "-d",
            "100",
            "-buff_size",
            "4194304",
            "-timeout",
            "80s",
            "-nostdin",
            "-p",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    args.push(free_port().to_string());
    let sipp = spawn_sipp(args);
    tokio::pin!(sipp);
    let mut acks = 0u32;
    let mut byes = 0u32;
    loop {
        tokio::select! {
            out = &mut sipp => {
                check(out.unwrap(), "uac against the stack");
                break;
            }
            Some(ev) = events.recv() => {
                match ev {
                    EndpointEvent::Tu(TuEvent::Request { key, msg, .. }) => {
                        let tag = format!("uas{}", rand::random::<u32>());
                        match msg.method() {
                            Some(Method::Invite) => {
                                let ringing = ResponseBuilder::reply(&msg, 180, Some(&tag)).build().unwrap();
                                handle.send_response(key, ringing).await.unwrap();
                                let ok = ResponseBuilder::reply(&msg, 200, Some(&tag))
                                    .header(HeaderName::Contact, format!("<sip:echo@{target}>"))
                                    .body("application/sdp", Bytes::from_static(SDP.as_bytes()))
                                    .build()
                                    .unwrap();
                                handle.send_response(key, ok).await.unwrap();
                            }
                            Some(Method::Bye) => {
                                byes += 1;
                                let ok = ResponseBuilder::reply(&msg, 200, None).build().unwrap();
                                handle.send_response(key, ok).await.unwrap();
                            }
                            _ => {
                                let r = ResponseBuilder::reply(&msg, 405, Some(&tag)).build().unwrap();
                                handle.send_response(key, r).await.unwrap();
                            }
                        }
                    }
                    EndpointEvent::Tu(TuEvent::Ack { .. }) => acks += 1,
                    _ => {}
                }
            }
        }
    }
    assert_eq!(byes, calls, "every call was hung up");
    if lossless {
        assert!(
            acks >= calls,
            "every 2xx was acknowledged ({acks} ACKs for {calls} calls)"
        );
    } else {
        // SIPp drops some ACKs for good and its BYE ends the call first: legal, and the
        // 2xx retransmissions stop with the transaction (RFC 6026 Timer L).
        assert!(acks > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_calls_the_stack_as_uas_over_udp_and_tcp() {
    serve_calls(Transport::Udp, &["-sn", "uac"], 20, true).await;
    serve_calls(Transport::Tcp, &["-sn", "uac"], 20, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_over_a_lossy_path_completes_every_call() {
    let sf = scenario("uac_lossy.xml").display().to_string();
    serve_calls(Transport::Udp, &["-sf", &sf], 30, false).await;
}

/// The stack as UAC: places `calls` calls to SIPp as UAS, ACKs every 2xx (copies too) and
/// hangs up each call.
async fn place_calls(transport: Transport, sipp_scenario: &[&str], calls: u32) {
    let (handle, mut events) = start_endpoint().await;
    let port = free_port();
    let mut args: Vec<String> = sipp_scenario.iter().map(|s| s.to_string()).collect();
    args.extend(
        [
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            if transport == Transport::Udp {
                "u1"
            } else {
                "t1"
            },
            "-m",
            &calls.to_string(),
            "-buff_size",
            "4194304",
            "-timeout",
            "80s",
            "-nostdin",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let sipp = spawn_sipp(args);
    tokio::pin!(sipp);
    let sipp_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let peer = Peer::new(sipp_addr, transport);
    let local = handle.local_addr(transport).unwrap();
    // SIPp needs a moment to bind; a TCP connect would fail before that. Retry the first
    // INVITE on transport errors instead of sleeping a fixed time.
    let mut invites: HashMap<String, u32> = HashMap::new();
    let mut next_call = 0u32;
    let mut done = 0u32;
    let mut acks_sent = 0u32;
    let new_invite = |n: u32| -> Message {
        RequestBuilder::new(&Method::Invite, &format!("sip:service@{sipp_addr}"))
            .header(
                HeaderName::Via,
                format!(
                    "SIP/2.0/{} {local};branch={};rport",
                    transport.as_str(),
                    new_branch()
                ),
            )
            .header(HeaderName::From, format!("<sip:stack@{local}>;tag=uac{n}"))
            .header(HeaderName::To, format!("<sip:service@{sipp_addr}>"))
            .header(
                HeaderName::CallId,
                format!("stack-call-{n}-{}", rand::random::<u32>()),
            )
            .header(HeaderName::CSeq, "1 INVITE")
            .header(HeaderName::Contact, format!("<sip:stack@{local}>"))
            .header(HeaderName::MaxForwards, 70)
            .body("application/sdp", Bytes::from_static(SDP.as_bytes()))
            .build()
            .unwrap()
    };
    let mut ticker = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            out = &mut sipp => {
                check(out.unwrap(), "uas against the stack");
                break;
            }
            _ = ticker.tick(), if next_call < calls && invites.len() < 10 => {
                let inv = new_invite(next_call);
                invites.insert(inv.call_id().unwrap().to_owned(), next_call);
                next_call += 1;
                handle.send_request(inv, peer).await.unwrap();
            }
            Some(ev) = events.recv() => {
                let resp = match ev {
                    EndpointEvent::Tu(TuEvent::Response { msg, .. }) => msg,
                    EndpointEvent::Tu(TuEvent::Stray { msg, .. }) if !msg.is_request() => msg,
                    EndpointEvent::Tu(TuEvent::TransportError { .. }) | EndpointEvent::Tu(TuEvent::Timeout { .. }) => {
                        // SIPp not listening yet (TCP): place the call again.
                        if next_call > 0 && done == 0 { next_call -= 1; invites.clear(); }
                        continue;
                    }
                    _ => continue,
                };
                let cseq = resp.cseq().unwrap();
                let call_id = resp.call_id().unwrap().to_owned();
                match (cseq.method(), resp.status()) {
                    (Method::Invite, Some(200)) => {
                        let to = resp.get(HeaderName::To).unwrap();
                        let from = resp.get(HeaderName::From).unwrap();
                        let ack = RequestBuilder::new(&Method::Ack, &format!("sip:service@{sipp_addr}"))
                            .header(HeaderName::Via, format!("SIP/2.0/{} {local};branch={};rport", transport.as_str(), new_branch()))
                            .header(HeaderName::From, from)
                            .header(HeaderName::To, to)
                            .header(HeaderName::CallId, &call_id)
                            .header(HeaderName::CSeq, format!("{} ACK", cseq.seq))
                            .header(HeaderName::MaxForwards, 70)
                            .build()
                            .unwrap();
                        handle.send_stateless(ack, peer).await.unwrap();
                        acks_sent += 1;
                        if invites.contains_key(&call_id) {
                            // First 2xx of this call: hang up.
                            let bye = RequestBuilder::new(&Method::Bye, &format!("sip:service@{sipp_addr}"))
                                .header(HeaderName::Via, format!("SIP/2.0/{} {local};branch={};rport", transport.as_str(), new_branch()))
                                .header(HeaderName::From, from)
                                .header(HeaderName::To, to)
                                .header(HeaderName::CallId, &call_id)
                                .header(HeaderName::CSeq, format!("{} BYE", cseq.seq + 1))
                                .header(HeaderName::MaxForwards, 70)
                                .build()
                                .unwrap();
                            handle.send_request(bye, peer).await.unwrap();
                        }
                    }
                    (Method::Bye, Some(200)) if invites.remove(&call_id).is_some() => done += 1,
                    _ => {}
                }
            }
        }
    }
    assert_eq!(done, calls, "every call completed with a 200 to its BYE");
    assert!(acks_sent >= calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_as_uac_calls_sipp_uas_over_udp_and_tcp() {
    place_calls(Transport::Udp, &["-sn", "uas"], 20).await;
    place_calls(Transport::Tcp, &["-sn", "uas"], 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_as_uac_over_a_lossy_path_completes_every_call() {
    let sf = scenario("uas_lossy.xml").display().to_string();
    place_calls(Transport::Udp, &["-sf", &sf], 20).await;
}

/// RFC 3263 §4.3 failover on a real network: the first target refuses the TCP connection
/// (nothing listens there), the endpoint reports a transport error, and the request goes
/// again, with a new branch, to the second target, which answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_moves_to_the_next_target_after_a_transport_error() {
    use sip_stack::failover::{Failover, Outcome, Verdict};
    use sip_stack::resolve::Plan;
    let (uas, mut uas_events) = start_endpoint().await;
    let (uac, mut uac_events) = start_endpoint().await;
    let live = uas.local_addr(Transport::Tcp).unwrap();
    // A port that was just free: connecting to it is refused.
    let dead: SocketAddr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    tokio::spawn(async move {
        while let Some(ev) = uas_events.recv().await {
            if let EndpointEvent::Tu(TuEvent::Request { key, msg, .. }) = ev {
                let ok = ResponseBuilder::reply(&msg, 200, Some("fo"))
                    .build()
                    .unwrap();
                uas.send_response(key, ok).await.unwrap();
            }
        }
    });
    let local = uac.local_addr(Transport::Tcp).unwrap();
    let options = RequestBuilder::new(&Method::Options, &"sip:pbx@pbx.test")
        .header(
            HeaderName::Via,
            format!("SIP/2.0/TCP {local};branch={};rport", new_branch()),
        )
        .header(HeaderName::From, format!("<sip:viawork@{local}>;tag=fo1"))
        .header(HeaderName::To, "<sip:pbx@pbx.test>")
        .header(HeaderName::CallId, "failover-1")
        .header(HeaderName::CSeq, "1 OPTIONS")
        .header(HeaderName::MaxForwards, 70)
        .build()
        .unwrap();
    let plan = Plan::new(
        vec![
            Peer::new(dead, Transport::Tcp),
            Peer::new(live, Transport::Tcp),
        ],
        None,
    );
    let mut failover = Failover::new(options, plan);
    let (msg, peer) = failover.next_attempt().unwrap().unwrap();
    assert_eq!(peer.addr, dead);
    uac.send_request(msg, peer).await.unwrap();
    loop {
        let outcome = match uac_events.recv().await.expect("endpoint running") {
            EndpointEvent::Tu(TuEvent::TransportError { .. }) => Outcome::TransportError,
            EndpointEvent::Tu(TuEvent::Timeout { .. }) => Outcome::Timeout,
            EndpointEvent::Tu(TuEvent::Response { msg, .. })
                if msg.status().unwrap_or(0) >= 200 =>
            {
                Outcome::Final(msg.status().unwrap())
            }
            _ => continue,
        };
        match failover.on_outcome(outcome).unwrap() {
            Verdict::Retry(msg, peer) => {
                assert_eq!(peer.addr, live);
                uac.send_request(msg, peer).await.unwrap();
            }
            Verdict::Done => {
                assert_eq!(outcome, Outcome::Final(200));
                break;
            }
            Verdict::Exhausted(o) => panic!("no target answered: {o:?}"),
        }
    }
    assert_eq!(failover.attempts(), 2);
}
