//! Desk-phone state (RFC 4235) with a SIPp PBX: ViaWork subscribes to the dialog package of
//! a Call Via Work user's line; a call answered on the desk phone makes the user Busy /
//! `on_the_phone` for their watchers and back when it ends, and lands in their call log.

mod common;

use common::events::EventStream;
use common::http::{poll, request, sign_in};
use common::pbx::SippPbx;
use serde_json::json;

const ALICE: &str = "sip:alice@example.com";
const BOB: &str = "sip:bob@example.com";
use common::PASSWORD;

#[test]
fn a_call_on_the_desk_phone_shows_in_presence_and_the_call_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("v.db").display());
    let cli = |args: &[&str]| common::cli(&db, args);
    common::user(
        &db,
        ALICE,
        "Alice",
        &["--line-uri", "tel:+14255550101", "--enterprise-voice"],
    );
    common::user(&db, BOB, "Bob", &[]);
    cli(&[
        "routing",
        "set",
        "--call-via-work-caller-id",
        "+15551234567",
    ]);
    let cfg = dir.path().join("viawork.toml");
    std::fs::write(&cfg, "[pbx]\ndialog_subscriptions = true\n").unwrap();
    // The PBX starts after Bob watches Alice: ViaWork's SUBSCRIBE is retransmitted until
    // it answers, so nothing the PBX tells can be missed.
    let port = common::sipp::free_port();
    let pbx_addr = format!("127.0.0.1:{port}");
    let cfg = cfg.display().to_string();
    let server = common::Server::start_with(&[
        ("VIAWORK_DATABASE", db.as_str()),
        ("VIAWORK_CONFIG", cfg.as_str()),
        ("VIAWORK_PBX_ADDRESS", pbx_addr.as_str()),
        ("VIAWORK_PBX_OPTIONS_INTERVAL_SECS", "0"),
    ]);
    // Alice is signed in (presence shows nobody without a client).
    let alice = sign_in(server.http, ALICE, PASSWORD);
    let _alice_client = EventStream::open(server.http, &alice, "");
    let bob = sign_in(server.http, BOB, PASSWORD);
    let mut events = EventStream::open(server.http, &bob, "");
    let r = request(
        server.http,
        "POST",
        "/api/v1/presence/subscriptions",
        Some(&bob),
        Some(&json!({"uris": [ALICE]})),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let mut pbx = SippPbx::start_on(port, "pbx_dialog_uas.xml", 1, &[]);
    let busy = events.next_matching("Alice on the phone", |e| {
        e["type"] == "presence.updated"
            && e["data"]["uri"] == ALICE
            && e["data"]["activity"] == "on_the_phone"
    });
    assert_eq!(busy["data"]["availability"], "Busy", "{busy}");
    events.next_matching("Alice off the phone", |e| {
        e["type"] == "presence.updated"
            && e["data"]["uri"] == ALICE
            && e["data"]["activity"] != "on_the_phone"
    });
    pbx.wait_success();

    // The call is in Alice's call log.
    let log = poll(
        server.http,
        "/api/v1/call-log",
        &alice,
        "no call logged",
        |v| v["calls"].as_array().is_some_and(|a| !a.is_empty()),
    );
    let call = &log["calls"][0];
    assert_eq!(call["direction"], "desk_phone_inbound", "{call}");
    assert_eq!(call["end_reason"], "completed", "{call}");
    assert_eq!(call["to_number"], "+14255550177", "{call}");
    assert_eq!(call["to"], "Carol Customer", "{call}");
}
