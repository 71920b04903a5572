//! Presence for SIP clients (RFC 3856): a client (ViaWork's own SIP stack, driven here as a
//! softphone would be) subscribes to a colleague's presence through the real server — a 407
//! challenge answered with digest credentials, a 200 with the granted expiry — then gets a
//! PIDF NOTIFY at once and another when the colleague changes their availability through
//! the API, and a `terminated` NOTIFY when it unsubscribes.

mod common;

use std::time::Duration;

use common::events::EventStream;
use common::http::{request, sign_in};
use common::PASSWORD;
use serde_json::json;
use sip::{HeaderName, Message, Method, RequestBuilder, ResponseBuilder};
use sip_stack::auth::DigestClient;
use sip_stack::endpoint::{self, EndpointConfig, EndpointEvent, EndpointHandle};
use sip_stack::transaction::{new_branch, Peer, TimerConfig, Transport, TuEvent};
use tokio::sync::mpsc::UnboundedReceiver;

const ALICE: &str = "sip:alice@example.com";
const BOB: &str = "sip:bob@example.com";

/// Waits (bounded) for the next event the test cares about: a response or a request.
async fn next(events: &mut UnboundedReceiver<EndpointEvent>) -> TuEvent {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("the server went quiet")
            .expect("endpoint stopped");
        match ev {
            EndpointEvent::Tu(tu @ (TuEvent::Response { .. } | TuEvent::Request { .. })) => {
                return tu
            }
            _ => continue,
        }
    }
}

/// Sends `req` and returns the final response (provisional ones skipped).
async fn final_response(
    handle: &EndpointHandle,
    events: &mut UnboundedReceiver<EndpointEvent>,
    req: Message,
    to: Peer,
) -> Message {
    handle.send_request(req, to).await.unwrap();
    loop {
        if let TuEvent::Response { msg, .. } = next(events).await {
            if msg.status().unwrap_or(0) >= 200 {
                return msg;
            }
        }
    }
}

/// Takes the next NOTIFY, answers 200, returns it.
async fn notify(handle: &EndpointHandle, events: &mut UnboundedReceiver<EndpointEvent>) -> Message {
    loop {
        if let TuEvent::Request { key, msg, .. } = next(events).await {
            assert_eq!(msg.method(), Some(&Method::Notify), "{msg:?}");
            let ok = ResponseBuilder::reply(&msg, 200, None).build().unwrap();
            handle.send_response(key, ok).await.unwrap();
            return msg;
        }
    }
}

fn body(m: &Message) -> String {
    String::from_utf8_lossy(m.body()).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sip_client_watches_presence_through_subscribe_and_notify() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("v.db").display());
    common::user(&db, ALICE, "Alice", &[]);
    common::user(&db, BOB, "Bob", &[]);
    let server = common::Server::start_with(&[("VIAWORK_DATABASE", db.as_str())]);
    // Bob is signed in (a client with an open event stream).
    let http = server.http;
    let (bob, _bob_client) = tokio::task::spawn_blocking(move || {
        let bob = sign_in(http, BOB, PASSWORD);
        let stream = EventStream::open(http, &bob, "");
        (bob, stream)
    })
    .await
    .unwrap();

    let (handle, mut events) = endpoint::start(EndpointConfig {
        listen: vec![(Transport::Udp, "127.0.0.1:0".parse().unwrap())],
        tls: None,
        timers: TimerConfig::default(),
    })
    .await
    .unwrap();
    let me = handle.local_addr(Transport::Udp).unwrap();
    let to = Peer::new(server.udp, Transport::Udp);
    let subscribe = |cseq: u32, expires: u32, to_tag: Option<&str>| {
        let to_header = match to_tag {
            Some(t) => format!("<{BOB}>;tag={t}"),
            None => format!("<{BOB}>"),
        };
        RequestBuilder::new(&Method::Subscribe, &BOB)
            .header(
                HeaderName::Via,
                format!("SIP/2.0/UDP {me};branch={}", new_branch()),
            )
            .header(HeaderName::MaxForwards, 70)
            .header(HeaderName::From, format!("<{ALICE}>;tag=alice1"))
            .header(HeaderName::To, to_header)
            .header(HeaderName::CallId, "presence-test-1")
            .header(HeaderName::CSeq, format!("{cseq} SUBSCRIBE"))
            .header(HeaderName::Contact, format!("<sip:alice@{me}>"))
            .header(HeaderName::Event, "presence")
            .header(HeaderName::Accept, "application/pidf+xml")
            .header(HeaderName::Expires, expires)
            .build()
            .unwrap()
    };

    // Challenged, then accepted with credentials.
    let first = subscribe(1, 600, None);
    let challenge = final_response(&handle, &mut events, first.clone(), to).await;
    assert_eq!(challenge.status(), Some(407), "{challenge:?}");
    let mut digest = DigestClient::new("alice", PASSWORD);
    let authed = digest.retry(&challenge, &first, &new_branch()).unwrap();
    let ok = final_response(&handle, &mut events, authed, to).await;
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    assert_eq!(ok.get(HeaderName::Expires), Some("600"));
    let to_tag = ok.to_header().unwrap().tag().unwrap().to_owned();

    // At once: Bob is online.
    let n = notify(&handle, &mut events).await;
    assert_eq!(n.get(HeaderName::Event), Some("presence"));
    assert!(n
        .get(HeaderName::SubscriptionState)
        .unwrap()
        .starts_with("active"));
    assert_eq!(n.call_id().unwrap(), "presence-test-1");
    let b = body(&n);
    assert!(
        b.contains("<basic>open</basic>") && b.contains("entity=\"sip:bob@example.com\""),
        "{b}"
    );
    assert!(!b.contains("rpid:busy"), "{b}");

    // Bob goes Busy through the API: a NOTIFY says so.
    tokio::task::spawn_blocking(move || {
        let r = request(
            http,
            "PUT",
            "/api/v1/me/presence",
            Some(&bob),
            Some(&json!({"availability": "Busy", "note": "Budget review"})),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    })
    .await
    .unwrap();
    let n = notify(&handle, &mut events).await;
    let b = body(&n);
    assert!(
        b.contains("<rpid:busy/>") && b.contains("Budget review"),
        "{b}"
    );

    // Unsubscribing (in the dialog, Expires: 0) ends it with a terminated NOTIFY.
    let mut bye = subscribe(3, 0, Some(&to_tag));
    if let Some((name, value)) = digest.authorize(&bye) {
        bye = bye.edit().append(name.as_str(), &value).finish().unwrap();
    }
    let ok = final_response(&handle, &mut events, bye, to).await;
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    let n = notify(&handle, &mut events).await;
    assert!(n
        .get(HeaderName::SubscriptionState)
        .unwrap()
        .starts_with("terminated"));
}
