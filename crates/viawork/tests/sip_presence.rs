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

// ---- PUBLISH (RFC 3903) ------------------------------------------------------------------

/// A server whose registrar challenges with MD5 only: SIPp computes MD5 digests only and
/// takes the first challenge it is given.
fn md5_server(dir: &std::path::Path) -> common::Server {
    let db = format!("sqlite://{}", dir.join("v.db").display());
    common::user(&db, ALICE, "Alice", &[]);
    common::user(&db, BOB, "Bob", &[]);
    let cfg = dir.join("viawork.toml");
    std::fs::write(&cfg, "[registrar]\ndigest_algorithms = [\"MD5\"]\n").unwrap();
    let cfg = cfg.display().to_string();
    common::Server::start_with(&[
        ("VIAWORK_DATABASE", db.as_str()),
        ("VIAWORK_CONFIG", cfg.as_str()),
    ])
}

/// Runs a PUBLISH scenario as `user` (its password), to `service`@example.com, with extra
/// `-key` pairs; SIPp's exit code says whether every expected answer came.
fn sipp_publish(
    target: std::net::SocketAddr,
    scenario: &str,
    user: &str,
    service: &str,
    keys: &[(&str, &str)],
) {
    let auth_uri = format!("{service}@example.com");
    let mut extra = vec![
        "-key",
        "user",
        user,
        "-key",
        "domain",
        "example.com",
        "-au",
        user,
        "-ap",
        PASSWORD,
        "-s",
        service,
        "-auth_uri",
        auth_uri.as_str(),
    ];
    for (k, v) in keys {
        extra.extend_from_slice(&["-key", k, v]);
    }
    common::sipp::run(&common::sipp::Run {
        scenario,
        target,
        tcp: false,
        calls: 1,
        rate: 1,
        extra: &extra,
    });
}

/// The next `presence.updated` about `uri` with this availability and activity (None: no
/// activity in the event).
fn next_presence(
    events: &mut EventStream,
    uri: &str,
    availability: &str,
    activity: Option<&str>,
) -> serde_json::Value {
    let what = format!("{uri} {availability} {activity:?}");
    events.next_matching(&what, |e| {
        e["type"] == "presence.updated"
            && e["data"]["uri"] == uri
            && e["data"]["availability"] == availability
            && e["data"]["activity"].as_str() == activity
    })
}

#[test]
fn sipp_publishes_presence_with_entity_tags_and_api_watchers_see_each_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = md5_server(dir.path());
    let http = server.http;
    // Alice is signed in through the API (Online); Bob watches her.
    let alice = sign_in(http, ALICE, PASSWORD);
    let _alice_client = EventStream::open(http, &alice, "");
    let bob = sign_in(http, BOB, PASSWORD);
    let mut bob_events = EventStream::open(http, &bob, "");
    let r = request(
        http,
        "POST",
        "/api/v1/presence/subscriptions",
        Some(&bob),
        Some(&json!({ "uris": [ALICE] })),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // Her SIP client publishes on-the-phone, refreshes, is refused a spent tag (412), another
    // package (489), plain text (415) and a 10 s expiry (423), switches to busy, and
    // removes the publication: SIPp fails unless each answer is the one expected.
    sipp_publish(server.udp, "publish_uac.xml", "alice", "alice", &[]);
    // Bob saw each state the publication gave her, in order, and then her own again.
    next_presence(&mut bob_events, ALICE, "Busy", Some("on_the_phone"));
    next_presence(&mut bob_events, ALICE, "Busy", None);
    next_presence(&mut bob_events, ALICE, "Online", None);

    // Nobody publishes for someone else.
    sipp_publish(
        server.udp,
        "publish_denied_uac.xml",
        "alice",
        "bob",
        &[("basic", "closed"), ("activity", "away")],
    );

    // A phone that starts up and publishes plain "open" does not override Do Not Disturb.
    let r = request(
        http,
        "PUT",
        "/api/v1/me/presence",
        Some(&alice),
        Some(&json!({ "availability": "DoNotDisturb" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    next_presence(&mut bob_events, ALICE, "DoNotDisturb", None);
    sipp_publish(
        server.udp,
        "publish_once_uac.xml",
        "alice",
        "alice",
        &[("basic", "open"), ("activity", "unknown")],
    );
    // The 200 came after the publication was applied: what Bob reads now includes it.
    let seen = request(
        http,
        "GET",
        &format!("/api/v1/people/{ALICE}/presence"),
        Some(&bob),
        None,
    );
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.json()["availability"], "DoNotDisturb", "{}", seen.body);
    // Nor does an explicit state: the publication is kept, DND still wins.
    sipp_publish(
        server.udp,
        "publish_once_uac.xml",
        "alice",
        "alice",
        &[("basic", "open"), ("activity", "on-the-phone")],
    );
    let seen = request(
        http,
        "GET",
        &format!("/api/v1/people/{ALICE}/presence"),
        Some(&bob),
        None,
    );
    assert_eq!(seen.json()["availability"], "DoNotDisturb", "{}", seen.body);
    // Back to automatic: the phone's on-the-phone shows.
    let r = request(
        http,
        "PUT",
        "/api/v1/me/presence",
        Some(&alice),
        Some(&json!({ "availability": null })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    next_presence(&mut bob_events, ALICE, "Busy", Some("on_the_phone"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sip_watcher_is_notified_of_what_a_sip_client_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let server = md5_server(dir.path());
    let (handle, mut events) = endpoint::start(EndpointConfig {
        listen: vec![(Transport::Udp, "127.0.0.1:0".parse().unwrap())],
        tls: None,
        timers: TimerConfig::default(),
    })
    .await
    .unwrap();
    let me = handle.local_addr(Transport::Udp).unwrap();
    let to = Peer::new(server.udp, Transport::Udp);
    // Alice's softphone watches Bob, who is signed in nowhere.
    let subscribe = RequestBuilder::new(&Method::Subscribe, &BOB)
        .header(
            HeaderName::Via,
            format!("SIP/2.0/UDP {me};branch={}", new_branch()),
        )
        .header(HeaderName::MaxForwards, 70)
        .header(HeaderName::From, format!("<{ALICE}>;tag=alice2"))
        .header(HeaderName::To, format!("<{BOB}>"))
        .header(HeaderName::CallId, "publish-watch-1")
        .header(HeaderName::CSeq, "1 SUBSCRIBE")
        .header(HeaderName::Contact, format!("<sip:alice@{me}>"))
        .header(HeaderName::Event, "presence")
        .header(HeaderName::Expires, 600)
        .build()
        .unwrap();
    let challenge = final_response(&handle, &mut events, subscribe.clone(), to).await;
    assert_eq!(challenge.status(), Some(407), "{challenge:?}");
    let mut digest = DigestClient::new("alice", PASSWORD);
    let authed = digest.retry(&challenge, &subscribe, &new_branch()).unwrap();
    let ok = final_response(&handle, &mut events, authed, to).await;
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    let b = body(&notify(&handle, &mut events).await);
    assert!(b.contains("<basic>closed</basic>"), "{b}");

    // Bob's phone publishes on-the-phone (SIPp, as Bob): a publication alone signs him
    // in, and Alice is told.
    let target = server.udp;
    tokio::task::spawn_blocking(move || {
        sipp_publish(
            target,
            "publish_once_uac.xml",
            "bob",
            "bob",
            &[("basic", "open"), ("activity", "on-the-phone")],
        )
    })
    .await
    .unwrap();
    let b = body(&notify(&handle, &mut events).await);
    assert!(
        b.contains("<basic>open</basic>") && b.contains("<rpid:on-the-phone/>"),
        "{b}"
    );
}
