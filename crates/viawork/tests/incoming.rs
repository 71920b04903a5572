//! Incoming calls and simultaneous ring against real SIP peers on loopback: SIPp plays the
//! caller on the PBX side (from 127.0.0.2, the trunk's trusted source), the PBX that
//! carries the branches to the user's desk phone (127.0.0.1, `tests/sipp/pbx_uas.xml`),
//! and registered SIP clients. Each answer path (PBX phone, SIP client, API accept) and
//! each cancel (the losing branches with `Reason: SIP;cause=200`, a decline, the caller
//! giving up) is checked on the wire and in the user's events.

mod common;

use common::events::EventStream;
use common::http::{poll, request, sign_in};
use common::pbx::SippPbx;
use common::sipp::{free_port, run_at, Run};
use common::PASSWORD;
use serde_json::{json, Value};

const ALICE: &str = "sip:alice@example.com";
const BOB: &str = "sip:bob@example.com";
/// Alice's line as the PBX routes it to ViaWork.
const ALICE_NUMBER: &str = "+14255550101";
/// The caller on the PBX side (`tests/sipp/incoming_*_uac.xml`).
const CAROL: &str = "+14255550123";
/// The number `pbx_uas.xml` answers and then hangs up (a forwarding target here).
const TARGET: &str = "+14255550177";

struct Lab {
    server: common::Server,
    pbx: SippPbx,
    _dir: tempfile::TempDir,
}

impl Lab {
    /// Alice (line +1 425 555 0101 ext. 101) and Bob (+1 425 555 0102), Call Via Work on,
    /// a server whose trunk goes to a SIPp PBX expecting `pbx_calls` INVITEs, answering
    /// desk-phone branches with `far_code` and Call Via Work callbacks with `cb_code`
    /// (`0`: ring until CANCEL).
    fn new(pbx_calls: u32, far_code: &str, cb_code: &str) -> Lab {
        Self::with_config(pbx_calls, far_code, cb_code, "")
    }

    /// Like [`Lab::new`], with more of the configuration file (TOML tables).
    fn with_config(pbx_calls: u32, far_code: &str, cb_code: &str, more: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("v.db").display());
        common::user(
            &db,
            ALICE,
            "Alice",
            &[
                "--line-uri",
                "tel:+14255550101;ext=101",
                "--enterprise-voice",
            ],
        );
        common::user(
            &db,
            BOB,
            "Bob",
            &["--line-uri", "tel:+14255550102", "--enterprise-voice"],
        );
        common::cli(
            &db,
            &["policy", "set", "--identity", "Global", "--enabled", "true"],
        );
        common::cli(
            &db,
            &[
                "routing",
                "set",
                "--call-via-work-caller-id",
                "+15551234567",
            ],
        );
        let cfg = dir.path().join("viawork.toml");
        std::fs::write(
            &cfg,
            format!(
                "[pbx]\ntrusted_sources = [\"127.0.0.2/32\"]\n\
                 [registrar]\ndigest_algorithms = [\"MD5\"]\n{more}"
            ),
        )
        .unwrap();
        let pbx = SippPbx::start_keys(
            "pbx_uas.xml",
            pbx_calls,
            &[("far_code", far_code), ("cb_code", cb_code)],
        );
        let pbx_addr = pbx.addr.to_string();
        let cfg = cfg.display().to_string();
        let server = common::Server::start_with(&[
            ("VIAWORK_DATABASE", db.as_str()),
            ("VIAWORK_CONFIG", cfg.as_str()),
            ("VIAWORK_PBX_ADDRESS", pbx_addr.as_str()),
            ("VIAWORK_PBX_OPTIONS_INTERVAL_SECS", "0"),
        ]);
        Lab {
            server,
            pbx,
            _dir: dir,
        }
    }

    /// The caller on the PBX side runs `scenario` toward Alice's number in the
    /// background; join it to see it succeed.
    fn call_alice(&self, scenario: &'static str) -> std::thread::JoinHandle<()> {
        let target = self.server.udp;
        std::thread::spawn(move || {
            run_at(
                "127.0.0.2",
                free_port(),
                &Run {
                    scenario,
                    target,
                    tcp: false,
                    calls: 1,
                    rate: 1,
                    extra: &["-key", "to", ALICE_NUMBER],
                },
            );
        })
    }

    /// Alice signed in with an event stream open.
    fn alice(&self) -> (String, EventStream) {
        let token = sign_in(self.server.http, ALICE, PASSWORD);
        let events = EventStream::open(self.server.http, &token, "");
        (token, events)
    }

    /// Registers `user`'s SIP client from 127.0.0.1:`port` (digest, 300 s).
    fn register(&self, user: &str, port: u16) {
        run_at(
            "127.0.0.1",
            port,
            &Run {
                scenario: "register_uac.xml",
                target: self.server.udp,
                tcp: false,
                calls: 1,
                rate: 1,
                extra: &[
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
                ],
            },
        );
    }

    /// Bob's registered SIP client calls `to` (a user part or a number at example.com) in
    /// the background, authenticating with his password; join it to see it succeed.
    fn bob_calls(&self, to: &'static str) -> std::thread::JoinHandle<()> {
        self.bob_runs("client_invite_uac.xml", to)
    }

    /// Bob's SIP client runs `scenario` toward `to`, as [`Lab::bob_calls`].
    fn bob_runs(&self, scenario: &'static str, to: &'static str) -> std::thread::JoinHandle<()> {
        let server = self.server.udp;
        std::thread::spawn(move || {
            let auth_uri = format!("{to}@example.com");
            run_at(
                "127.0.0.1",
                free_port(),
                &Run {
                    scenario,
                    target: server,
                    tcp: false,
                    calls: 1,
                    rate: 1,
                    extra: &[
                        "-key",
                        "user",
                        "bob",
                        "-key",
                        "to",
                        to,
                        "-au",
                        "bob",
                        "-ap",
                        PASSWORD,
                        "-auth_uri",
                        &auth_uri,
                    ],
                },
            );
        })
    }

    /// POSTs the `accept` or `decline` link of the call.incoming event `offer`.
    fn follow(&self, token: &str, offer: &Value, link: &str) -> common::http::Reply {
        let href = offer["data"]["links"][link]
            .as_str()
            .unwrap_or_else(|| panic!("no {link} link: {offer}"));
        request(self.server.http, "POST", href, Some(token), None)
    }

    /// Alice's call forwarding settings.
    fn set_forwarding(&self, token: &str, settings: Value) {
        let r = request(
            self.server.http,
            "PUT",
            "/api/v1/me/call-forwarding",
            Some(token),
            Some(&settings),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }

    /// Alice's call log once it holds a finished call.
    fn alice_log(&self, token: &str) -> Vec<Value> {
        let log = poll(
            self.server.http,
            "/api/v1/call-log",
            token,
            "no finished call logged",
            |v| v["calls"][0]["end_reason"].is_string(),
        );
        log["calls"].as_array().cloned().unwrap_or_default()
    }
}

fn incoming(events: &mut EventStream) -> Value {
    events.next_matching("call.incoming", |e| e["type"] == "call.incoming")
}

fn updated(events: &mut EventStream, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    events.next_matching(what, |e| e["type"] == "call.updated" && pred(&e["data"]))
}

/// The header block of the first of `blocks` whose first line contains `needle`.
fn find<'a>(blocks: &'a [String], needle: &str) -> &'a str {
    blocks
        .iter()
        .find(|b| b.lines().next().is_some_and(|l| l.contains(needle)))
        .unwrap_or_else(|| panic!("no request with {needle:?} among {blocks:#?}"))
}

#[test]
fn the_desk_phone_answers_and_clients_see_it_answered_there() {
    let mut lab = Lab::new(1, "200", "200");
    let (token, mut events) = lab.alice();
    let caller = lab.call_alice("incoming_caller_uac.xml");

    let offer = incoming(&mut events);
    let call = &offer["data"];
    assert_eq!(call["direction"], "inbound", "{offer}");
    assert_eq!(call["state"], "incoming", "{offer}");
    assert_eq!(call["from"], CAROL, "{offer}");
    assert_eq!(call["from_name"], "Carol", "{offer}");
    let id = call["id"].as_str().unwrap().to_owned();
    assert_eq!(
        call["links"]["accept"],
        format!("/api/v1/calls/{id}/accept"),
        "{offer}"
    );
    let answered = updated(&mut events, "answered", |c| c["state"] == "connected");
    assert_eq!(answered["data"]["answered_on"], "desk_phone", "{answered}");
    assert!(answered["data"].get("links").is_none(), "{answered}");
    // Too late to accept in a client now.
    let r = request(
        lab.server.http,
        "POST",
        &format!("/api/v1/calls/{id}/accept"),
        Some(&token),
        None,
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "InvalidState", "{}", r.body);

    caller.join().expect("the caller's call succeeds");
    lab.pbx.wait_success();
    // The desk phone was rung on the line's extension, showing the caller.
    let invites = lab.pbx.received("INVITE");
    let desk = find(&invites, "INVITE sip:101@");
    assert!(desk.contains(CAROL), "{desk}");
    let ended = updated(&mut events, "ended", |c| c["state"] == "ended");
    assert_eq!(
        ended["data"]["hung_up_by"], "far_end",
        "the caller hung up: {ended}"
    );
    let log = lab.alice_log(&token);
    assert_eq!(log[0]["direction"], "inbound", "{log:#?}");
}

#[test]
fn a_sip_client_answers_and_the_desk_phone_stops_ringing_as_completed_elsewhere() {
    let mut lab = Lab::new(1, "0", "200");
    let (_token, mut events) = lab.alice();
    let port = free_port();
    lab.register("alice", port);
    let mut client = SippPbx::start_on(port, "pbx_uas.xml", 1, &[("far_code", "200")]);
    let caller = lab.call_alice("incoming_caller_uac.xml");

    incoming(&mut events);
    let answered = updated(&mut events, "answered", |c| c["state"] == "connected");
    assert_eq!(answered["data"]["answered_on"], "sip_client", "{answered}");
    caller.join().expect("the caller's call succeeds");
    client.wait_success();
    lab.pbx.wait_success();
    let cancels = lab.pbx.received("CANCEL");
    assert_eq!(cancels.len(), 1, "{cancels:#?}");
    assert!(
        cancels[0].contains("Reason: SIP;cause=200;text=\"Call completed elsewhere\""),
        "{}",
        cancels[0]
    );
    // The client was called with the caller's identity.
    let invite = &client.received("INVITE")[0];
    assert!(invite.contains(CAROL), "{invite}");
}

#[test]
fn accepting_in_a_client_rings_the_desk_phone_as_a_call_via_work_callback() {
    let mut lab = Lab::new(2, "0", "200");
    let (token, mut events) = lab.alice();
    let caller = lab.call_alice("incoming_caller_uac.xml");

    let offer = incoming(&mut events);
    let r = lab.follow(&token, &offer, "accept");
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["state"], "connecting_your_phone", "{}", r.body);
    assert_eq!(r.json()["callback_number"], ALICE_NUMBER, "{}", r.body);
    let answered = updated(&mut events, "answered", |c| c["state"] == "connected");
    assert_eq!(answered["data"]["answered_on"], "client", "{answered}");

    caller.join().expect("the caller's call succeeds");
    lab.pbx.wait_success();
    let invites = lab.pbx.received("INVITE");
    assert_eq!(invites.len(), 2, "{invites:#?}");
    // First the desk phone with the caller's identity, cancelled as completed elsewhere;
    // then the callback with the Call Via Work caller ID.
    assert!(invites[0].contains(CAROL), "{}", invites[0]);
    assert!(
        invites[1].contains("Call Via Work") && invites[1].contains("+15551234567"),
        "{}",
        invites[1]
    );
    let cancels = lab.pbx.received("CANCEL");
    assert!(cancels[0].contains("cause=200"), "{}", cancels[0]);
}

#[test]
fn declining_without_a_forwarding_rule_refuses_the_caller_with_603() {
    let mut lab = Lab::new(1, "0", "200");
    let (token, mut events) = lab.alice();
    let caller = lab.call_alice("incoming_declined_uac.xml");

    let offer = incoming(&mut events);
    let r = lab.follow(&token, &offer, "decline");
    assert_eq!(r.status, 202, "{}", r.body);
    let ended = updated(&mut events, "ended", |c| c["state"] == "ended");
    assert_eq!(ended["data"]["end_reason"], "declined", "{ended}");
    caller.join().expect("the caller gets 603");
    lab.pbx.wait_success();
    let cancels = lab.pbx.received("CANCEL");
    assert!(cancels[0].contains("cause=603"), "{}", cancels[0]);
}

#[test]
fn declining_with_an_unanswered_rule_forwards_with_diversion() {
    let mut lab = Lab::new(2, "0", "200");
    let (token, mut events) = lab.alice();
    lab.set_forwarding(
        &token,
        json!({
            "active": "off",
            "unanswered": {"target": "number", "to": TARGET, "after_secs": 30}
        }),
    );
    let caller = lab.call_alice("incoming_forwarded_uac.xml");

    let offer = incoming(&mut events);
    let r = lab.follow(&token, &offer, "decline");
    assert_eq!(r.status, 202, "{}", r.body);
    let answered = updated(&mut events, "forwarded", |c| c["state"] == "connected");
    assert_eq!(answered["data"]["answered_on"], "forward", "{answered}");
    caller.join().expect("the forwarded call succeeds");
    lab.pbx.wait_success();
    let invites = lab.pbx.received("INVITE");
    let forward = find(&invites, &format!("INVITE sip:{TARGET}@"));
    assert!(
        forward.contains("Diversion: <sip:+14255550101@") && forward.contains("reason=deflection"),
        "{forward}"
    );
    assert!(forward.contains(CAROL), "{forward}");
}

#[test]
fn a_caller_who_gives_up_is_a_missed_call() {
    let mut lab = Lab::new(1, "0", "200");
    let (token, mut events) = lab.alice();
    let caller = lab.call_alice("incoming_cancel_uac.xml");

    incoming(&mut events);
    let ended = updated(&mut events, "ended", |c| c["state"] == "ended");
    assert_eq!(ended["data"]["end_reason"], "missed", "{ended}");
    caller.join().expect("the caller's CANCEL gets 200 and 487");
    lab.pbx.wait_success();
    let cancels = lab.pbx.received("CANCEL");
    assert_eq!(cancels.len(), 1, "{cancels:#?}");
    assert!(!cancels[0].contains("cause=200"), "{}", cancels[0]);
    let log = lab.alice_log(&token);
    assert_eq!(log[0]["end_reason"], "missed", "{log:#?}");
}

#[test]
fn immediate_forwarding_rings_only_the_target() {
    let mut lab = Lab::new(1, "200", "200");
    let (token, mut events) = lab.alice();
    lab.set_forwarding(
        &token,
        json!({
            "active": "immediate_forward",
            "immediate_forward": {"target": "number", "to": TARGET}
        }),
    );
    let caller = lab.call_alice("incoming_forwarded_uac.xml");

    let answered = updated(&mut events, "forwarded", |c| c["state"] == "connected");
    assert_eq!(answered["data"]["answered_on"], "forward", "{answered}");
    caller.join().expect("the forwarded call succeeds");
    lab.pbx.wait_success();
    let invites = lab.pbx.received("INVITE");
    assert_eq!(invites.len(), 1, "only the target rings: {invites:#?}");
    assert!(
        invites[0].starts_with(&format!("INVITE sip:{TARGET}@"))
            && invites[0].contains("reason=unconditional"),
        "{}",
        invites[0]
    );
    assert!(
        !events.seen.iter().any(|e| e["type"] == "call.incoming"),
        "a forwarded call is not offered to clients"
    );
}

#[test]
fn a_registered_client_calls_a_colleague_whose_desk_phone_shows_the_caller() {
    let mut lab = Lab::new(1, "200", "200");
    let (_token, mut events) = lab.alice();
    let client = lab.bob_calls("alice");
    let offer = incoming(&mut events);
    assert_eq!(offer["data"]["from"], BOB, "{offer}");
    assert_eq!(offer["data"]["from_name"], "Bob", "{offer}");
    let answered = updated(&mut events, "answered", |c| c["state"] == "connected");
    assert_eq!(answered["data"]["answered_on"], "desk_phone", "{answered}");
    client.join().expect("Bob's call succeeds");
    lab.pbx.wait_success();
    // Alice's desk phone shows Bob's number.
    let invite = &lab.pbx.received("INVITE")[0];
    assert!(invite.contains("+14255550102"), "{invite}");
}

#[test]
fn a_registered_client_calls_a_number_through_the_trunk_as_its_user() {
    let mut lab = Lab::new(1, "200", "200");
    let bob = sign_in(lab.server.http, BOB, PASSWORD);
    let mut events = EventStream::open(lab.server.http, &bob, "");
    let client = lab.bob_calls("+14255550199");
    // Bob's clients see his call, as with one placed through the API.
    let connected = updated(&mut events, "connected", |c| c["state"] == "connected");
    assert_eq!(
        connected["data"]["to_number"], "+14255550199",
        "{connected}"
    );
    client.join().expect("Bob's call succeeds");
    lab.pbx.wait_success();
    let invite = &lab.pbx.received("INVITE")[0];
    assert!(
        invite.starts_with("INVITE sip:+14255550199@"),
        "dialled through the trunk: {invite}"
    );
    // Caller ID: Bob's line number and name.
    let from = invite.lines().find(|l| l.starts_with("From:")).unwrap();
    assert!(
        from.contains("+14255550102") && from.contains("Bob"),
        "{from}"
    );
}

#[test]
fn a_late_offer_is_answered_in_the_acks() {
    let mut lab = Lab::new(1, "200", "200");
    let (_token, mut events) = lab.alice();
    let caller = lab.call_alice("incoming_late_offer_uac.xml");
    let answered = updated(&mut events, "answered", |c| c["state"] == "connected");
    assert_eq!(answered["data"]["answered_on"], "desk_phone", "{answered}");
    caller
        .join()
        .expect("the caller got the desk phone's offer");
    lab.pbx.wait_success();
    // The desk phone was asked without an offer and got the caller's answer in its ACK.
    let invite = &lab.pbx.received("INVITE")[0];
    assert!(!invite.contains("application/sdp"), "{invite}");
    let ack = &lab.pbx.received("ACK")[0];
    assert!(ack.contains("application/sdp"), "{ack}");
}

#[test]
fn sip_clients_calls_count_against_the_users_call_limit() {
    let mut lab = Lab::with_config(1, "200", "200", "[calls]\nmax_calls_per_minute = 1\n");
    lab.bob_calls("+14255550199")
        .join()
        .expect("Bob's first call goes through");
    lab.pbx.wait_success();
    lab.bob_runs("client_invite_refused_uac.xml", "+14255550199")
        .join()
        .expect("the second within the minute is refused with 403");
}
