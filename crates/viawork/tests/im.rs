//! Instant messaging through the real server: two (or three) users over HTTP, each with
//! event streams, exchanging messages with delivery status; offline delivery; HTML
//! sanitising; typing; history; leaving; files; bad input; and add audio turning a
//! conversation into a connected Call Via Work call with a SIPp PBX.

mod common;

use common::events::EventStream;
use common::http::{poll, request, request_raw, sign_in, wait_call};
use common::pbx::SippPbx;
use common::sipp::{run, Run};
use serde_json::{json, Value};

const ALICE: &str = "sip:alice@example.com";
const BOB: &str = "sip:bob@example.com";
const CAROL: &str = "sip:carol@example.com";
use common::PASSWORD;

/// A store with Alice, Bob and Carol (Alice and Bob with Enterprise Voice and lines), the
/// Global policy on and the Call Via Work caller ID set.
fn provisioned_store(dir: &std::path::Path) -> String {
    let db = format!("sqlite://{}", dir.join("v.db").display());
    let cli = |args: &[&str]| common::cli(&db, args);
    let voice = |line| ["--line-uri", line, "--enterprise-voice"];
    common::user(&db, ALICE, "Alice Smith", &voice("tel:+14255550101"));
    common::user(&db, BOB, "Bob Jones", &voice("tel:+14255550102"));
    common::user(&db, CAROL, "Carol White", &[]);
    common::user(&db, "sip:admin@example.com", "Admin", &["--role", "admin"]);
    cli(&["policy", "set", "--identity", "Global", "--enabled", "true"]);
    cli(&[
        "routing",
        "set",
        "--call-via-work-caller-id",
        "+15551234567",
    ]);
    db
}

struct Lab {
    server: common::Server,
    _dir: tempfile::TempDir,
}

impl Lab {
    fn new(config: &str, env: &[(&str, &str)]) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let db = provisioned_store(dir.path());
        let cfg = dir.path().join("viawork.toml");
        std::fs::write(&cfg, config).unwrap();
        let cfg = cfg.display().to_string();
        let mut all = vec![
            ("VIAWORK_DATABASE", db.as_str()),
            ("VIAWORK_CONFIG", cfg.as_str()),
        ];
        all.extend_from_slice(env);
        Lab {
            server: common::Server::start_with(&all),
            _dir: dir,
        }
    }

    fn token(&self, uri: &str) -> String {
        sign_in(self.server.http, uri, PASSWORD)
    }

    fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> common::http::Reply {
        request(self.server.http, method, path, Some(token), body.as_ref())
    }

    fn stream(&self, token: &str) -> EventStream {
        EventStream::open(self.server.http, token, "")
    }
}

fn status_of(v: &Value, uri: &str) -> String {
    v["recipients"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["uri"] == uri))
        .map(|r| r["status"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default()
}

#[test]
fn two_users_exchange_messages_with_delivery_status_and_offline_delivery() {
    let lab = Lab::new("", &[]);
    let (alice, bob) = (lab.token(ALICE), lab.token(BOB));
    let mut bob_events = lab.stream(&bob);

    // Alice starts a conversation with a first message; Bob is connected: delivered.
    let r = lab.call(
        &alice,
        "POST",
        "/api/v1/conversations",
        Some(json!({"to": [BOB], "subject": "Lunch", "message": "hi Bob"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let conv = r.json();
    let id = conv["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("location").unwrap(),
        format!("/api/v1/conversations/{id}")
    );
    assert_eq!(conv["subject"], "Lunch");
    assert_eq!(status_of(&conv["message"], BOB), "delivered", "{conv}");
    let invited = bob_events.next_of("conversation.updated");
    assert_eq!(invited["data"]["conversation"]["id"], id.as_str());
    let got = bob_events.next_of("message.received");
    assert_eq!(got["data"]["direction"], "incoming");
    assert_eq!(got["data"]["message"]["text"], "hi Bob");
    assert_eq!(got["data"]["message"]["from"], ALICE);

    // Bob answers while Alice has no client connected: pending.
    let r = lab.call(
        &bob,
        "POST",
        &format!("/api/v1/conversations/{id}/messages"),
        Some(json!({"text": "hello Alice"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let reply_id = r.json()["id"].as_i64().unwrap();
    assert_eq!(status_of(&r.json(), ALICE), "pending", "{}", r.body);

    // Alice signs in (opens a stream): the waiting message arrives, and Bob's client
    // hears it was delivered.
    let mut alice_events = lab.stream(&alice);
    let got = alice_events.next_of("message.received");
    assert_eq!(got["data"]["message"]["text"], "hello Alice");
    assert_eq!(got["data"]["message"]["id"], reply_id);
    let st = bob_events.next_matching("message.status delivered", |e| {
        e["type"] == "message.status"
            && e["data"]["message_id"] == reply_id
            && e["data"]["recipients"][0]["status"] == "delivered"
    });
    assert_eq!(st["data"]["recipients"][0]["uri"], ALICE);

    // Delivered exactly once: a new client of Alice's gets the next message first, not the
    // old one again.
    drop(alice_events);
    let mut alice_again = lab.stream(&alice);
    let r = lab.call(
        &bob,
        "POST",
        &format!("/api/v1/conversations/{id}/messages"),
        Some(json!({"text": "marker"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let first = alice_again.next_of("message.received");
    assert_eq!(
        first["data"]["message"]["text"], "marker",
        "{:#?}",
        alice_again.seen
    );

    // Both see the conversation in their list, with both participants.
    let r = lab.call(&alice, "GET", "/api/v1/conversations", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.json();
    let c = &list["conversations"][0];
    assert_eq!(c["id"], id.as_str());
    let uris: Vec<&str> = c["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris, [ALICE, BOB]);
}

#[test]
fn html_is_sanitised_typing_is_relayed_and_history_pages_newest_first() {
    let lab = Lab::new("", &[]);
    let (alice, bob) = (lab.token(ALICE), lab.token(BOB));
    let mut bob_events = lab.stream(&bob);
    let r = lab.call(
        &alice,
        "POST",
        "/api/v1/conversations",
        Some(json!({"to": [BOB]})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let messages = format!("/api/v1/conversations/{id}/messages");

    let r = lab.call(
        &alice,
        "POST",
        &format!("/api/v1/conversations/{id}/typing"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let t = bob_events.next_of("typing");
    assert_eq!(t["data"]["from"], ALICE);
    assert_eq!(t["data"]["conversation_id"], id.as_str());

    let r = lab.call(
        &alice,
        "POST",
        &messages,
        Some(json!({"text": "<b>bold</b><script>alert(1)</script><img src=x onerror=alert(2)>", "format": "html"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let text = r.json()["text"].as_str().unwrap().to_owned();
    assert!(text.contains("<b>bold</b>"), "{text}");
    assert!(
        !text.contains("script") && !text.contains("onerror"),
        "{text}"
    );
    let got = bob_events.next_of("message.received");
    assert_eq!(got["data"]["message"]["text"], text.as_str());
    assert_eq!(got["data"]["message"]["format"], "html");

    for i in 0..5 {
        let r = lab.call(
            &bob,
            "POST",
            &messages,
            Some(json!({"text": format!("m{i}")})),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = lab.call(&alice, "GET", &format!("{messages}?limit=4"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let page = r.json();
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["m4", "m3", "m2", "m1"]);
    let next = page["next"].as_str().expect("a next page").to_owned();
    let r = lab.call(&alice, "GET", &next, None);
    let texts: Vec<String> = r.json()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["m0", text.as_str()]);
    assert!(r.json()["next"].is_null(), "{}", r.body);
}

#[test]
fn group_conversations_add_people_and_leaving_stops_delivery() {
    let lab = Lab::new("", &[]);
    let (alice, bob, carol) = (lab.token(ALICE), lab.token(BOB), lab.token(CAROL));
    let mut carol_events = lab.stream(&carol);
    let r = lab.call(
        &alice,
        "POST",
        "/api/v1/conversations",
        Some(json!({"to": [BOB]})),
    );
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let messages = format!("/api/v1/conversations/{id}/messages");

    // Carol is not in it: it does not exist for her.
    assert_eq!(lab.call(&carol, "GET", &messages, None).status, 404);
    let r = lab.call(
        &alice,
        "POST",
        &format!("/api/v1/conversations/{id}/participants"),
        Some(json!({"uri": CAROL})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["participants"].as_array().unwrap().len(), 3);
    carol_events.next_matching("added to the conversation", |e| {
        e["type"] == "conversation.updated" && e["data"]["conversation"]["id"] == id.as_str()
    });
    let r = lab.call(&bob, "POST", &messages, Some(json!({"text": "to all"})));
    assert_eq!(status_of(&r.json(), CAROL), "delivered", "{}", r.body);
    assert_eq!(status_of(&r.json(), ALICE), "pending", "{}", r.body);

    // Audio is for two.
    let r = lab.call(
        &alice,
        "POST",
        &format!("/api/v1/conversations/{id}/audio"),
        None,
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (409, json!("NotOneToOne")),
        "{}",
        r.body
    );

    // Carol leaves: no more messages for her, and she cannot post.
    let r = lab.call(
        &carol,
        "DELETE",
        &format!("/api/v1/conversations/{id}"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let carol_state = r.json()["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["uri"] == CAROL)
        .unwrap()["state"]
        .clone();
    assert_eq!(carol_state, "left");
    let r = lab.call(&bob, "POST", &messages, Some(json!({"text": "after"})));
    assert_eq!(r.status, 201);
    let to: Vec<String> = r.json()["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["uri"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(to, [ALICE]);
    let r = lab.call(&carol, "POST", &messages, Some(json!({"text": "me too"})));
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (409, json!("NotInConversation"))
    );
    // She still reads what was said while she was in it.
    assert_eq!(lab.call(&carol, "GET", &messages, None).status, 200);
}

#[test]
fn files_are_uploaded_checked_and_downloaded_by_participants_only() {
    let lab = Lab::new("[im]\nmax_file_bytes = 1024\n", &[]);
    let (alice, bob, carol) = (lab.token(ALICE), lab.token(BOB), lab.token(CAROL));
    let mut bob_events = lab.stream(&bob);
    let r = lab.call(
        &alice,
        "POST",
        "/api/v1/conversations",
        Some(json!({"to": [BOB]})),
    );
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let http = lab.server.http;
    let upload = |name: &str, body: &[u8]| {
        request_raw(
            http,
            "POST",
            &format!("/api/v1/conversations/{id}/files?name={name}"),
            Some(&alice),
            "text/plain",
            body,
        )
    };
    let r = upload("notes%20v2.txt", b"minutes of the meeting\n");
    assert_eq!(r.status, 201, "{}", r.body);
    let sent = r.json();
    assert_eq!(sent["format"], "file");
    assert_eq!(sent["file"]["name"], "notes v2.txt");
    assert_eq!(sent["file"]["size"], 23);
    let href = sent["file"]["href"].as_str().unwrap().to_owned();
    let got = bob_events.next_of("message.received");
    assert_eq!(got["data"]["message"]["file"]["href"], href.as_str());

    let r = request(http, "GET", &href, Some(&bob), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "minutes of the meeting\n");
    assert!(r
        .header("content-disposition")
        .unwrap()
        .contains("attachment"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(request(http, "GET", &href, Some(&carol), None).status, 404);

    let r = upload("big.txt", &[b'x'; 1025]);
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (413, json!("FileTooLarge")),
        "{}",
        r.body
    );
    let r = upload("setup.exe", b"MZ");
    assert_eq!(
        (r.status, r.json()["error"]["field"].clone()),
        (415, json!("name")),
        "{}",
        r.body
    );
    let r = upload("empty.txt", b"");
    assert_eq!(
        (r.status, r.json()["error"]["field"].clone()),
        (400, json!("file")),
        "{}",
        r.body
    );
}

#[test]
fn bad_requests_name_the_field() {
    let lab = Lab::new("", &[]);
    let alice = lab.token(ALICE);
    let post = |body: Value| lab.call(&alice, "POST", "/api/v1/conversations", Some(body));
    let field =
        |r: &common::http::Reply| r.json()["error"]["field"].as_str().unwrap_or("").to_owned();
    let r = post(json!({"to": []}));
    assert_eq!((r.status, field(&r)), (400, "to".into()), "{}", r.body);
    let r = post(json!({"to": ["sip:nobody@example.com"]}));
    assert_eq!((r.status, field(&r)), (404, "to".into()), "{}", r.body);
    let r = post(json!({"to": [ALICE]}));
    assert_eq!((r.status, field(&r)), (400, "to".into()), "{}", r.body);
    let r = post(json!({"to": [BOB], "message": "x", "format": "rtf"}));
    assert_eq!((r.status, field(&r)), (400, "format".into()), "{}", r.body);
    let r = post(json!({"to": [BOB], "message": "  "}));
    assert_eq!((r.status, field(&r)), (400, "message".into()), "{}", r.body);
    let r = post(json!({"to": [BOB], "colour": "red"}));
    assert_eq!(r.status, 400, "{}", r.body);
    let r = post(json!({"to": [BOB]}));
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let messages = format!("/api/v1/conversations/{id}/messages");
    let r = lab.call(
        &alice,
        "POST",
        &messages,
        Some(json!({"text": "x".repeat(40_000)})),
    );
    assert_eq!((r.status, field(&r)), (400, "text".into()), "{}", r.body);
    let r = lab.call(&alice, "GET", &format!("{messages}?limit=0"), None);
    assert_eq!((r.status, field(&r)), (400, "limit".into()), "{}", r.body);
    let r = lab.call(&alice, "GET", "/api/v1/conversations/nope/messages", None);
    assert_eq!(r.status, 404, "{}", r.body);
    let r = request(lab.server.http, "GET", &messages, None, None);
    assert_eq!(r.status, 401, "{}", r.body);
}

#[test]
fn add_audio_turns_a_conversation_into_a_connected_call_and_a_call_gets_its_conversation() {
    let mut pbx = SippPbx::start("pbx_uas.xml", 2);
    let pbx_addr = pbx.addr.to_string();
    let lab = Lab::new(
        "",
        &[
            ("VIAWORK_PBX_ADDRESS", pbx_addr.as_str()),
            ("VIAWORK_PBX_OPTIONS_INTERVAL_SECS", "0"),
        ],
    );
    let (alice, bob) = (lab.token(ALICE), lab.token(BOB));
    let mut bob_events = lab.stream(&bob);
    let r = lab.call(
        &alice,
        "POST",
        "/api/v1/conversations",
        Some(json!({"to": [BOB]})),
    );
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let r = lab.call(
        &alice,
        "POST",
        &format!("/api/v1/conversations/{id}/audio"),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let call = r.json();
    let call_id = call["id"].as_str().unwrap().to_owned();
    assert_eq!(call["conversation_id"], id.as_str());
    assert_eq!(call["to"], BOB);
    assert_eq!(
        r.header("location").unwrap(),
        format!("/api/v1/calls/{call_id}")
    );
    let context = || format!("--- the PBX saw ---\n{}", pbx.messages());
    wait_call(
        lab.server.http,
        &alice,
        &call_id,
        "connected",
        context,
        |v| v["state"] == "connected" && v["media"] == "direct",
    );
    // Bob's line was dialled for the far leg.
    let invites = pbx.received("INVITE");
    assert!(
        invites.iter().any(|i| i.contains("4255550102")),
        "{invites:#?}"
    );
    // The conversation lists the call, for both.
    bob_events.next_matching("the call linked", |e| {
        e["type"] == "conversation.updated"
            && e["data"]["conversation"]["calls"][0] == call_id.as_str()
    });
    // The call's conversation is this one.
    let r = lab.call(
        &alice,
        "POST",
        &format!("/api/v1/calls/{call_id}/conversation"),
        None,
    );
    assert_eq!(
        (r.status, r.json()["id"].clone()),
        (200, json!(id)),
        "{}",
        r.body
    );
    let r = lab.call(&alice, "DELETE", &format!("/api/v1/calls/{call_id}"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    pbx.wait_success();
}

#[test]
fn a_sip_client_registers_and_exchanges_messages_with_an_api_user() {
    // SIPp computes MD5 digests only, and takes the first challenge it is given.
    let lab = Lab::new("[registrar]\ndigest_algorithms = [\"MD5\"]\n", &[]);
    let bob = lab.token(BOB);
    let admin = lab.token("sip:admin@example.com");
    let mut bob_events = lab.stream(&bob);
    let target = lab.server.udp;
    // Alice's SIP client registers from a port, then listens there for a message.
    let port = common::sipp::free_port().to_string();
    let auth = [
        "-key",
        "user",
        "alice",
        "-key",
        "domain",
        "example.com",
        "-au",
        "alice",
        "-ap",
        PASSWORD,
        "-p",
        &port,
    ];
    run(&Run {
        scenario: "register_uac.xml",
        target,
        tcp: false,
        calls: 1,
        rate: 1,
        extra: &auth,
    });
    let listen = port.clone();
    let client = std::thread::spawn(move || {
        run(&Run {
            scenario: "message_uas.xml",
            target,
            tcp: false,
            calls: 1,
            rate: 1,
            extra: &["-p", &listen],
        })
    });
    poll(
        lab.server.http,
        "/api/v1/admin/registrations",
        &admin,
        "alice never registered",
        |v| v["registrations"][0]["aor"] == ALICE,
    );

    // Bob writes from the API; Alice has no API client, so the SIP client gets it and
    // Bob's client hears it was delivered.
    let r = lab.call(
        &bob,
        "POST",
        "/api/v1/conversations",
        Some(json!({"to": [ALICE], "message": "hello from the API"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let conv = r.json()["id"].as_str().unwrap().to_owned();
    let message_id = r.json()["message"]["id"].as_i64().unwrap();
    bob_events.next_matching("delivered to the SIP client", |e| {
        e["type"] == "message.status"
            && e["data"]["message_id"] == message_id
            && e["data"]["recipients"][0]["status"] == "delivered"
    });
    client.join().unwrap();

    // Alice answers from SIP: it lands in the same conversation on Bob's stream.
    run(&Run {
        scenario: "message_uac.xml",
        target,
        tcp: false,
        calls: 1,
        rate: 1,
        extra: &[
            "-key",
            "user",
            "alice",
            "-key",
            "domain",
            "example.com",
            "-au",
            "alice",
            "-ap",
            PASSWORD,
            "-s",
            "bob",
            "-auth_uri",
            "bob@example.com",
        ],
    });
    let got = bob_events.next_matching("the SIP message", |e| {
        e["type"] == "message.received" && e["data"]["message"]["from"] == ALICE
    });
    assert_eq!(got["data"]["message"]["text"], "hi from SIP");
    assert_eq!(got["data"]["message"]["conversation_id"], conv.as_str());
}
