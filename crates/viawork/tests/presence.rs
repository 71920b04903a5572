//! Presence over HTTP against the real server: Bob watches Alice and sees her changes on
//! his Server-Sent Events stream; blocking makes Alice Offline to Bob (in answers and in
//! events) but not to Carol; a dropped event stream (SSE) or a closed one (WebSocket) is a
//! signed-out endpoint; a WebSocket stream keeps delivering after a large client frame;
//! what Alice chose and whom she blocks survive a restart; bad input gets a 400 naming the
//! field.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::http::{request, sign_in};
use common::Server;
use serde_json::{json, Value};

const ALICE: &str = "sip:alice@example.com";
const BOB: &str = "sip:bob@example.com";
const CAROL: &str = "sip:carol@example.com";
const PASSWORD: &str = "S3cret-pass";

/// A store with Alice, Bob and Carol.
fn provisioned(dir: &std::path::Path) -> String {
    let db = format!("sqlite://{}", dir.join("v.db").display());
    for (uri, name) in [(ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol")] {
        common::cli(
            &db,
            &[
                "user",
                "new",
                "--sip-uri",
                uri,
                "--name",
                name,
                "--password",
                PASSWORD,
            ],
        );
    }
    db
}

/// One open `GET /api/v1/events` stream, read as Server-Sent Events.
struct Sse {
    reader: BufReader<TcpStream>,
}

impl Sse {
    fn open(http: SocketAddr, token: &str) -> Sse {
        let mut conn = TcpStream::connect(http).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        write!(
            conn,
            "GET /api/v1/events HTTP/1.1\r\nHost: {http}\r\nAccept: text/event-stream\r\n\
             Authorization: Bearer {token}\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(conn);
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.contains(" 200 "), "{status}");
        Sse { reader }
    }

    /// The next `presence.updated` event about `uri` (bounded: 15 s).
    fn next_presence_of(&mut self, uri: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut line = String::new();
        while Instant::now() < deadline {
            line.clear();
            if self.reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if let Some(data) = line.trim_end().strip_prefix("data: ") {
                let e: Value = serde_json::from_str(data).expect("event JSON");
                if e["type"] == "presence.updated" && e["data"]["uri"] == uri {
                    return e["data"].clone();
                }
            }
        }
        panic!("no presence.updated about {uri} in time");
    }
}

fn put(http: SocketAddr, path: &str, token: &str, body: Value) -> common::http::Reply {
    request(http, "PUT", path, Some(token), Some(&body))
}

fn get(http: SocketAddr, path: &str, token: &str) -> Value {
    let r = request(http, "GET", path, Some(token), None);
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    r.json()
}

#[test]
fn a_watcher_sees_changes_on_its_event_stream_and_blocking_hides_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned(dir.path());
    let server = Server::start_with(&[("VIAWORK_DATABASE", db.as_str())]);
    let http = server.http;
    let (alice, bob, carol) = (
        sign_in(http, ALICE, PASSWORD),
        sign_in(http, BOB, PASSWORD),
        sign_in(http, CAROL, PASSWORD),
    );

    let mut bob_events = Sse::open(http, &bob);
    // Bob's own stream tells him he is Online now.
    assert_eq!(bob_events.next_presence_of(BOB)["availability"], "Online");
    let r = request(
        http,
        "POST",
        "/api/v1/presence/subscriptions",
        Some(&bob),
        Some(&json!({"uris": [ALICE, "SIP:Alice@Example.com"]})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["subscriptions"],
        json!([{"uri": ALICE, "availability": "Offline"}]),
        "one entry per person; Alice is not signed in"
    );

    // Alice signs in (opens her stream) and chooses Busy with a note.
    let mut alice_events = Sse::open(http, &alice);
    let seen = bob_events.next_presence_of(ALICE);
    assert_eq!(seen["availability"], "Online");
    assert!(seen["last_active_at"].as_u64().is_some(), "{seen}");
    let r = put(
        http,
        "/api/v1/me/presence",
        &alice,
        json!({"availability": "Busy", "note": "Writing the report"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["availability"], "Busy");
    assert_eq!(r.json()["chosen"], "Busy");
    let seen = bob_events.next_presence_of(ALICE);
    assert_eq!(
        (&seen["availability"], &seen["note"]),
        (&json!("Busy"), &json!("Writing the report"))
    );
    // Alice's own clients hear it too.
    assert_eq!(
        alice_events.next_presence_of(ALICE)["availability"],
        "Online"
    );
    assert_eq!(alice_events.next_presence_of(ALICE)["availability"], "Busy");
    let seen = get(http, &format!("/api/v1/people/{ALICE}/presence"), &bob);
    assert_eq!(seen["availability"], "Busy");

    // Alice blocks Bob: Bob's stream says Offline at once, and so does a GET; Carol still
    // sees Busy.
    let r = put(
        http,
        &format!("/api/v1/me/blocked/{BOB}"),
        &alice,
        json!({}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        bob_events.next_presence_of(ALICE),
        json!({"uri": ALICE, "availability": "Offline"}),
        "no note, no activity, no last-active time"
    );
    assert_eq!(
        get(http, &format!("/api/v1/people/{ALICE}/presence"), &bob),
        json!({"uri": ALICE, "availability": "Offline"})
    );
    assert_eq!(
        get(http, &format!("/api/v1/people/{ALICE}/presence"), &carol)["availability"],
        "Busy"
    );
    assert_eq!(
        get(http, "/api/v1/me/blocked", &alice)["blocked"][0]["uri"],
        BOB
    );
    // While blocked, Alice's changes do not reach Bob at all: after the unblock, the next
    // event Bob gets about Alice is her real presence, DoNotDisturb.
    let r = put(
        http,
        "/api/v1/me/presence",
        &alice,
        json!({"availability": "DoNotDisturb"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["note"],
        "Writing the report",
        "an absent note is kept"
    );
    let r = request(
        http,
        "DELETE",
        &format!("/api/v1/me/blocked/{BOB}"),
        Some(&alice),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        bob_events.next_presence_of(ALICE)["availability"],
        "DoNotDisturb"
    );

    // Alice's connection drops (no close, no sign-out): she is Offline to Bob.
    drop(alice_events);
    assert_eq!(
        bob_events.next_presence_of(ALICE)["availability"],
        "Offline"
    );

    // Unsubscribed, Bob hears no more of Alice: the next event about her on his stream
    // comes after he subscribes again.
    let r = request(
        http,
        "DELETE",
        &format!("/api/v1/presence/subscriptions/{ALICE}"),
        Some(&bob),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        get(http, "/api/v1/presence/subscriptions", &bob)["subscriptions"],
        json!([])
    );
    let _alice_again = Sse::open(http, &alice);
    let r = request(
        http,
        "POST",
        "/api/v1/presence/subscriptions",
        Some(&bob),
        Some(&json!({"uris": [ALICE]})),
    );
    assert_eq!(r.json()["subscriptions"][0]["availability"], "DoNotDisturb");
    put(
        http,
        "/api/v1/me/presence",
        &alice,
        json!({"availability": null, "note": ""}),
    );
    // Back to automatic with the note cleared. Nothing reached Bob while he was not
    // watching: Alice signing in again (DoNotDisturb) would otherwise come first.
    let seen = bob_events.next_presence_of(ALICE);
    assert_eq!(seen["availability"], "Online", "{seen}");
    assert!(seen.get("note").is_none(), "{seen}");
}

#[test]
fn chosen_availability_note_and_blocks_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned(dir.path());
    {
        let server = Server::start_with(&[("VIAWORK_DATABASE", db.as_str())]);
        let alice = sign_in(server.http, ALICE, PASSWORD);
        let r = put(
            server.http,
            "/api/v1/me/presence",
            &alice,
            json!({"availability": "Offwork", "note": "Back on Monday"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        // Nobody signed in: others see Offline, and the note.
        assert_eq!(r.json()["availability"], "Offline");
        let r = put(
            server.http,
            &format!("/api/v1/me/blocked/{CAROL}"),
            &alice,
            json!({}),
        );
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let server = Server::start_with(&[("VIAWORK_DATABASE", db.as_str())]);
    let http = server.http;
    let (alice, bob, carol) = (
        sign_in(http, ALICE, PASSWORD),
        sign_in(http, BOB, PASSWORD),
        sign_in(http, CAROL, PASSWORD),
    );
    let own = get(http, "/api/v1/me/presence", &alice);
    assert_eq!(own["chosen"], "Offwork");
    assert_eq!(own["note"], "Back on Monday");
    let _alice_events = Sse::open(http, &alice);
    let seen = get(http, &format!("/api/v1/people/{ALICE}/presence"), &bob);
    assert_eq!(
        (&seen["availability"], &seen["activity"]),
        (&json!("Away"), &json!("off_work")),
        "Offwork reads as Away / off_work"
    );
    assert_eq!(
        get(http, &format!("/api/v1/people/{ALICE}/presence"), &carol),
        json!({"uri": ALICE, "availability": "Offline"})
    );
}

#[test]
fn bad_input_gets_400_or_404_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned(dir.path());
    let server = Server::start_with(&[("VIAWORK_DATABASE", db.as_str())]);
    let http = server.http;
    let alice = sign_in(http, ALICE, PASSWORD);
    let field = |r: &common::http::Reply| r.json()["error"]["field"].clone();
    for (body, f) in [
        (json!({"availability": "Sleeping"}), "availability"),
        (json!({"availability": "IdleOnline"}), "availability"),
        (json!({"availability": 3}), "availability"),
        (
            json!({"availability": "Busy", "note": "x".repeat(501)}),
            "note",
        ),
        (
            json!({"availability": "Busy", "note": "two\nlines"}),
            "note",
        ),
        (json!({"availability": "Busy", "mood": "happy"}), "mood"),
    ] {
        let r = put(http, "/api/v1/me/presence", &alice, body.clone());
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(field(&r), f, "{body}: {}", r.body);
    }
    let subscribe = |uris: Value| {
        request(
            http,
            "POST",
            "/api/v1/presence/subscriptions",
            Some(&alice),
            Some(&json!({ "uris": uris })),
        )
    };
    let r = subscribe(json!([BOB, "bob@example.com"]));
    assert_eq!((r.status, field(&r)), (400, json!("uris[1]")), "{}", r.body);
    let r = subscribe(json!([BOB, "sip:nobody@example.com"]));
    assert_eq!((r.status, field(&r)), (404, json!("uris[1]")), "{}", r.body);
    assert_eq!(
        get(http, "/api/v1/presence/subscriptions", &alice)["subscriptions"],
        json!([]),
        "all or nothing"
    );
    let r = request(
        http,
        "GET",
        "/api/v1/people/sip:nobody@example.com/presence",
        Some(&alice),
        None,
    );
    assert_eq!((r.status, field(&r)), (404, json!("uri")), "{}", r.body);
    // Someone removed from the directory while the server runs is not found any more.
    let carol_path = format!("/api/v1/people/{CAROL}/presence");
    assert_eq!(get(http, &carol_path, &alice)["availability"], "Offline");
    common::cli(&db, &["user", "remove", "--sip-uri", CAROL]);
    let r = request(http, "GET", &carol_path, Some(&alice), None);
    assert_eq!((r.status, field(&r)), (404, json!("uri")), "{}", r.body);
    let r = request(
        http,
        "GET",
        "/api/v1/people/nobody/presence",
        Some(&alice),
        None,
    );
    assert_eq!((r.status, field(&r)), (400, json!("uri")), "{}", r.body);
    let r = put(
        http,
        &format!("/api/v1/me/blocked/{ALICE}"),
        &alice,
        json!({}),
    );
    assert_eq!((r.status, field(&r)), (400, json!("uri")), "{}", r.body);
    let r = request(
        http,
        "DELETE",
        &format!("/api/v1/me/blocked/{BOB}"),
        Some(&alice),
        None,
    );
    assert_eq!((r.status, field(&r)), (404, json!("uri")), "{}", r.body);
    let r = request(
        http,
        "DELETE",
        &format!("/api/v1/presence/subscriptions/{BOB}"),
        Some(&alice),
        None,
    );
    assert_eq!((r.status, field(&r)), (404, json!("uri")), "{}", r.body);
    // Without a token: 401.
    let r = request(http, "GET", "/api/v1/me/presence", None, None);
    assert_eq!(r.status, 401);
    let r = request(http, "POST", "/api/v1/me/activity", Some(&alice), None);
    assert_eq!(r.status, 204, "{}", r.body);
}

/// Polls what `viewer` sees of `target` (bounded, 15 s) until it is `availability`.
fn wait_seen(http: SocketAddr, viewer: &str, target: &str, availability: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = get(http, &format!("/api/v1/people/{target}/presence"), viewer);
        if v["availability"] == availability {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{target} never became {availability}: {v}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_websocket_event_stream_signs_in_until_it_closes() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned(dir.path());
    let server = Server::start_with(&[("VIAWORK_DATABASE", db.as_str())]);
    let http = server.http;
    let (alice, bob) = (sign_in(http, ALICE, PASSWORD), sign_in(http, BOB, PASSWORD));
    let url = format!("ws://{http}/api/v1/events?access_token={alice}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (mut ws, _) = rt
        .block_on(tokio_tungstenite::connect_async(url))
        .expect("websocket");
    wait_seen(http, &bob, ALICE, "Online");
    let streams = || {
        let m = request(http, "GET", "/metrics", None, None).body;
        m.lines()
            .find_map(|l| l.strip_prefix("viawork_presence_event_streams "))
            .map(str::to_owned)
    };
    assert_eq!(streams().as_deref(), Some("1"));
    rt.block_on(ws.close(None)).unwrap();
    drop(ws);
    wait_seen(http, &bob, ALICE, "Offline");
    assert_eq!(streams().as_deref(), Some("0"));
}

#[test]
fn a_websocket_event_stream_delivers_events_after_a_client_frame_larger_than_its_read_buffer() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let dir = tempfile::tempdir().unwrap();
    let db = provisioned(dir.path());
    let server = Server::start_with(&[("VIAWORK_DATABASE", db.as_str())]);
    let http = server.http;
    let alice = sign_in(http, ALICE, PASSWORD);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (mut ws, _) = rt
        .block_on(tokio_tungstenite::connect_async(format!(
            "ws://{http}/api/v1/events?access_token={alice}"
        )))
        .expect("websocket");
    // The server reads client frames with a small buffer (clients only listen); a frame 16
    // times its size must be read whole, not end or wedge the stream.
    rt.block_on(ws.send(Message::text("x".repeat(64 * 1024))))
        .expect("send a large frame");
    let r = put(
        http,
        "/api/v1/me/presence",
        &alice,
        json!({"availability": "Busy", "note": "after-the-large-frame"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let seen = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(m) = ws.next().await {
                let Ok(Message::Text(t)) = m else { continue };
                let e: Value = serde_json::from_str(t.as_str()).expect("JSON event");
                if e["type"] == "presence.updated" && e["data"]["note"] == "after-the-large-frame" {
                    return Some(e);
                }
            }
            None
        })
        .await
    });
    let e = seen
        .expect("the event within 10 s")
        .expect("the stream stayed open");
    assert_eq!(e["data"]["availability"], "Busy", "{e}");
}
