//! Click to call against SIPp playing the PBX: the API places a Call Via Work call, the
//! callback and far legs reach the PBX with the right caller IDs, the legs are joined
//! and hung up.

mod common;

use common::http::{request, sign_in, wait_call};
use common::pbx::SippPbx;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ALICE: &str = "sip:alice@example.com";
const PASSWORD: &str = "S3cret-pass";

/// A store with Alice (Enterprise Voice, line +1 425 555 0101), Call Via Work enabled
/// globally and the global caller ID +1 555 123 4567.
fn provisioned_store(dir: &std::path::Path) -> String {
    let db = format!("sqlite://{}", dir.join("v.db").display());
    let cli = |args: &[&str]| common::cli(&db, args);
    cli(&[
        "user",
        "new",
        "--sip-uri",
        ALICE,
        "--name",
        "Alice Smith",
        "--password",
        PASSWORD,
        "--line-uri",
        "tel:+14255550101",
        "--enterprise-voice",
    ]);
    cli(&[
        "user",
        "new",
        "--sip-uri",
        "sip:admin@example.com",
        "--name",
        "Admin",
        "--password",
        PASSWORD,
        "--role",
        "admin",
    ]);
    cli(&["policy", "set", "--identity", "Global", "--enabled", "true"]);
    cli(&[
        "routing",
        "set",
        "--call-via-work-caller-id",
        "+15551234567",
    ]);
    db
}

fn server_for(db: &str, pbx: &SippPbx, extra: &[(&str, &str)]) -> common::Server {
    let pbx_addr = pbx.addr.to_string();
    let mut env = vec![
        ("VIAWORK_DATABASE", db),
        ("VIAWORK_PBX_ADDRESS", pbx_addr.as_str()),
        ("VIAWORK_PBX_OPTIONS_INTERVAL_SECS", "0"),
    ];
    env.extend_from_slice(extra);
    common::Server::start_with(&env)
}

fn header<'a>(block: &'a str, name: &str) -> &'a str {
    block
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or("")
}

fn click_to_call_connects_and_hangs_up(anchor: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned_store(dir.path());
    let mut pbx = SippPbx::start("pbx_uas.xml", 2);
    let server = server_for(&db, &pbx, &[("VIAWORK_MEDIA_ANCHOR", anchor)]);
    let token = sign_in(server.http, ALICE, PASSWORD);

    let r = request(
        server.http,
        "POST",
        "/api/v1/calls",
        Some(&token),
        Some(&json!({"to": "+1 (425) 555-0199"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let call = r.json();
    let id = call["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/calls/{id}").as_str())
    );
    assert_eq!(call["callback_number"], "+14255550101");
    assert_eq!(call["to"], "+1 (425) 555-0199");
    assert_eq!(call["state"], "connecting_your_phone");

    let want = if anchor == "always" {
        "relayed"
    } else {
        "direct"
    };
    let v = wait_call(server.http, &token, &id, "connected", String::new, |v| {
        v["state"] == "connected" && v["media"] == want
    });
    assert_eq!(v["to_number"], "+14255550199");

    let list = request(server.http, "GET", "/api/v1/calls", Some(&token), None).json();
    assert_eq!(list["calls"][0]["id"], id.as_str());

    // Administrators see the live call and the trunk; users may not.
    let admin = sign_in(server.http, "sip:admin@example.com", PASSWORD);
    let live = request(
        server.http,
        "GET",
        "/api/v1/admin/calls",
        Some(&admin),
        None,
    )
    .json();
    assert_eq!(live["calls"][0]["id"], id.as_str(), "{live}");
    assert_eq!(live["calls"][0]["owner"], ALICE);
    let trunk = request(
        server.http,
        "GET",
        "/api/v1/admin/trunk",
        Some(&admin),
        None,
    )
    .json();
    assert_eq!(trunk["configured"], true, "{trunk}");
    assert_eq!(trunk["up"], true, "{trunk}");
    assert_eq!(trunk["live_calls"], 1, "{trunk}");
    assert_eq!(trunk["address"], pbx.addr.to_string());
    let r = request(
        server.http,
        "GET",
        "/api/v1/admin/trunk",
        Some(&token),
        None,
    );
    assert_eq!(r.status, 403);

    let r = request(
        server.http,
        "DELETE",
        &format!("/api/v1/calls/{id}"),
        Some(&token),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "ended");
    assert_eq!(r.json()["end_reason"], "completed");
    assert_eq!(r.json()["hung_up_by"], "user");
    pbx.wait_success();

    // Caller IDs: the callback leg shows the global Call Via Work number, the far leg the
    // user's own number and name.
    let invites = pbx.received("INVITE");
    let callback = invites
        .iter()
        .find(|b| b.starts_with("INVITE sip:+14255550101@"))
        .expect("callback INVITE");
    assert!(
        header(callback, "From").contains("sip:+15551234567@"),
        "{callback}"
    );
    assert!(
        header(callback, "From").contains("\"Call Via Work\""),
        "{callback}"
    );
    let far = invites
        .iter()
        .find(|b| b.starts_with("INVITE sip:+14255550199@"))
        .expect("far INVITE");
    assert!(
        header(far, "From").contains("\"Alice Smith\" <sip:+14255550101@"),
        "{far}"
    );
    assert!(
        header(far, "P-Asserted-Identity").contains("sip:+14255550101@"),
        "{far}"
    );
    // Direct media: each leg got one re-INVITE; anchored: none.
    let expected = if anchor == "always" { 2 } else { 4 };
    assert_eq!(invites.len(), expected, "{invites:#?}");

    // The call log has it, written off the signalling path (so wait for it).
    let deadline = Instant::now() + Duration::from_secs(10);
    let entry = loop {
        let log = request(server.http, "GET", "/api/v1/call-log", Some(&token), None).json();
        let found = log["calls"]
            .as_array()
            .and_then(|c| {
                c.iter()
                    .find(|e| e["id"] == id.as_str() && e["state"] == "ended")
            })
            .cloned();
        if let Some(e) = found {
            break e;
        }
        assert!(Instant::now() < deadline, "not in the call log: {log}");
        std::thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(entry["end_reason"], "completed");
    assert_eq!(entry["hung_up_by"], "user");
    assert_eq!(entry["callback_number"], "+14255550101");
    assert!(entry["sip_call_ids"]["callback"].is_string(), "{entry}");
    assert!(entry["sip_call_ids"]["far"].is_string(), "{entry}");
    assert!(entry["connected_at"].is_string(), "{entry}");
    assert!(entry["media_stats"]["callback"].is_object(), "{entry}");
}

#[test]
fn click_to_call_joins_the_phones_directly() {
    click_to_call_connects_and_hangs_up("never");
}

#[test]
fn click_to_call_anchored_through_the_relay() {
    click_to_call_connects_and_hangs_up("always");
}

#[test]
fn refusals_name_their_ucwa_subcodes() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned_store(dir.path());
    let pbx = SippPbx::start("pbx_uas.xml", 1);
    let server = server_for(&db, &pbx, &[]);
    let token = sign_in(server.http, ALICE, PASSWORD);
    let post = |body: Value| {
        request(
            server.http,
            "POST",
            "/api/v1/calls",
            Some(&token),
            Some(&body),
        )
    };
    let code =
        |r: &common::http::Reply| r.json()["error"]["code"].as_str().unwrap_or("").to_owned();

    let r = post(json!({"to": "not a number"}));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "NormalizationFailed"),
        "{}",
        r.body
    );
    assert_eq!(r.json()["error"]["field"], "to");
    let r = post(json!({"to": "+14255550199", "callback_number": "911"}));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "PhoneNumberConflict"),
        "{}",
        r.body
    );
    let r = post(json!({"to": "+14255550199", "callback_number": "+442079460958"}));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "PhoneNumberConflict"),
        "{}",
        r.body
    );
    let r = post(json!({"to": "+14255550199", "extra": 1}));
    assert_eq!(r.status, 400, "{}", r.body);
    let r = post(json!({"callback_number": "+14255550100"}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "to");
    let r = request(server.http, "GET", "/api/v1/calls/0123", Some(&token), None);
    assert_eq!(r.status, 404);
    let r = request(
        server.http,
        "POST",
        "/api/v1/calls",
        None,
        Some(&json!({"to": "1"})),
    );
    assert_eq!(r.status, 401);
}

/// A signed-in Alice with a server and a SIPp PBX started with `keys` and `env`.
struct Ctx {
    server: common::Server,
    pbx: SippPbx,
    token: String,
    _dir: tempfile::TempDir,
}

impl Ctx {
    fn new(legs: u32, keys: &[(&str, &str)], env: &[(&str, &str)]) -> Ctx {
        let dir = tempfile::tempdir().unwrap();
        let db = provisioned_store(dir.path());
        let pbx = SippPbx::start_keys("pbx_uas.xml", legs, keys);
        let server = server_for(&db, &pbx, env);
        let token = sign_in(server.http, ALICE, PASSWORD);
        Ctx {
            server,
            pbx,
            token,
            _dir: dir,
        }
    }

    fn call(&self) -> String {
        let r = request(
            self.server.http,
            "POST",
            "/api/v1/calls",
            Some(&self.token),
            Some(&json!({"to": "+14255550199"})),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_owned()
    }

    /// Polls the call until `done` holds; on timeout, fails with what the PBX saw.
    fn wait(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let pbx = || format!("--- the PBX saw ---\n{}", self.pbx.messages());
        wait_call(self.server.http, &self.token, id, what, pbx, done)
    }

    /// Waits (bounded) until what the PBX received satisfies `done`.
    fn wait_pbx(&self, what: &str, done: impl Fn(&SippPbx) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(&self.pbx) {
            assert!(
                Instant::now() < deadline,
                "the PBX never saw {what}:\n{}",
                self.pbx.messages()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn post(&self, id: &str, action: &str, body: Option<Value>) -> common::http::Reply {
        request(
            self.server.http,
            "POST",
            &format!("/api/v1/calls/{id}/{action}"),
            Some(&self.token),
            body.as_ref(),
        )
    }

    fn hang_up(&self, id: &str) -> Value {
        let r = request(
            self.server.http,
            "DELETE",
            &format!("/api/v1/calls/{id}"),
            Some(&self.token),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }
}

fn ended_as(v: &Value, reason: &str, by: &str) {
    assert_eq!(v["state"], "ended", "{v}");
    assert_eq!(v["end_reason"], reason, "{v}");
    assert_eq!(v["hung_up_by"], by, "{v}");
}

#[test]
fn refusals_by_the_users_phone_end_the_call() {
    for (code, reason) in [
        ("486", "your_phone_busy"),
        ("603", "your_phone_declined"),
        ("503", "trunk_unavailable"),
    ] {
        let mut ctx = Ctx::new(1, &[("cb_code", code)], &[]);
        let id = ctx.call();
        let v = ctx.wait(&id, "ended", |v| v["state"] == "ended");
        ended_as(&v, reason, "your_phone");
        ctx.pbx.wait_success();
        assert_eq!(
            ctx.pbx.received("INVITE").len(),
            1,
            "no far leg after {code}"
        );
    }
}

#[test]
fn refusals_by_the_far_party_hang_up_the_users_phone() {
    for (code, reason) in [("486", "far_end_busy"), ("603", "far_end_declined")] {
        let mut ctx = Ctx::new(2, &[("far_code", code)], &[]);
        let id = ctx.call();
        let v = ctx.wait(&id, "ended", |v| v["state"] == "ended");
        ended_as(&v, reason, "far_end");
        ctx.pbx.wait_success();
        assert_eq!(
            ctx.pbx.received("BYE").len(),
            1,
            "the user's phone is hung up"
        );
    }
}

#[test]
fn hanging_up_while_either_phone_rings_cancels_it() {
    let mut ctx = Ctx::new(1, &[("cb_code", "0")], &[]);
    let id = ctx.call();
    ctx.wait(&id, "your_phone_ringing", |v| {
        v["state"] == "your_phone_ringing"
    });
    ended_as(&ctx.hang_up(&id), "cancelled", "user");
    ctx.pbx.wait_success();
    assert_eq!(ctx.pbx.received("CANCEL").len(), 1);

    let mut ctx = Ctx::new(2, &[("far_code", "0")], &[]);
    let id = ctx.call();
    ctx.wait(&id, "ringing", |v| v["state"] == "ringing");
    ended_as(&ctx.hang_up(&id), "cancelled", "user");
    ctx.pbx.wait_success();
    assert_eq!(ctx.pbx.received("CANCEL").len(), 1);
    assert_eq!(ctx.pbx.received("BYE").len(), 1);
}

#[test]
fn the_far_party_hanging_up_ends_the_call() {
    let mut ctx = Ctx::new(2, &[("far_bye", "1")], &[]);
    let id = ctx.call();
    let v = ctx.wait(&id, "ended", |v| v["state"] == "ended");
    ended_as(&v, "completed", "far_end");
    ctx.pbx.wait_success();
}

#[test]
fn digest_challenges_from_the_pbx_are_answered() {
    let mut ctx = Ctx::new(
        2,
        &[("challenge", "1")],
        &[
            ("VIAWORK_PBX_USERNAME", "vw"),
            ("VIAWORK_PBX_PASSWORD", "s3cret"),
        ],
    );
    let id = ctx.call();
    ctx.wait(&id, "connected", |v| {
        v["state"] == "connected" && v["media"] == "direct"
    });
    ended_as(&ctx.hang_up(&id), "completed", "user");
    ctx.pbx.wait_success();
    let invites = ctx.pbx.received("INVITE");
    let authorized = invites
        .iter()
        .filter(|b| header(b, "Authorization").contains("username=\"vw\""))
        .count();
    assert!(
        authorized >= 2,
        "both legs retried with credentials: {invites:#?}"
    );
}

#[test]
fn hold_resume_mute_and_dtmf_on_a_direct_call() {
    let mut ctx = Ctx::new(2, &[], &[]);
    let id = ctx.call();
    ctx.wait(&id, "connected", |v| {
        v["state"] == "connected" && v["media"] == "direct"
    });
    let r = ctx.post(&id, "hold", None);
    assert_eq!(r.status, 202, "{}", r.body);
    ctx.wait(&id, "on_hold", |v| v["state"] == "on_hold");
    let r = ctx.post(&id, "resume", None);
    assert_eq!(r.status, 202, "{}", r.body);
    ctx.wait(&id, "resumed", |v| {
        v["state"] == "connected" && v["media"] == "direct"
    });
    let r = ctx.post(&id, "dtmf", Some(json!({"digits": "42#"})));
    assert_eq!(r.status, 202, "{}", r.body);
    let r = ctx.post(&id, "dtmf", Some(json!({"digits": "9x"})));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "digits");
    let r = ctx.post(&id, "mute", None);
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["muted"], true);
    // Hang up only once the PBX has the three INFOs and the mute re-INVITE's ACK (the
    // ninth ACK: 2 initial, 2 join, 2 hold, 2 resume, 1 mute); a BYE crossing them would
    // race the scenario.
    ctx.wait_pbx("the DTMF and the mute done", |p| {
        p.received("INFO").len() == 3 && p.received("ACK").len() == 9
    });
    ended_as(&ctx.hang_up(&id), "completed", "user");
    ctx.pbx.wait_success();
    let text = ctx.pbx.messages();
    assert!(
        text.matches("a=inactive").count() >= 2,
        "hold re-INVITEs both phones"
    );
    assert!(
        text.contains("a=sendonly"),
        "mute re-INVITEs the user's phone"
    );
    let infos = ctx.pbx.received("INFO");
    assert_eq!(infos.len(), 3, "{infos:#?}");
    assert!(text.contains("Signal=4") && text.contains("Signal=#"));
}

#[test]
fn blind_transfer_by_refer() {
    let mut ctx = Ctx::new(2, &[], &[]);
    let id = ctx.call();
    ctx.wait(&id, "connected", |v| {
        v["state"] == "connected" && v["media"] == "direct"
    });
    let r = ctx.post(&id, "transfer", Some(json!({"to": "+14255550177"})));
    assert_eq!(r.status, 202, "{}", r.body);
    let v = ctx.wait(&id, "ended", |v| v["state"] == "ended");
    ended_as(&v, "transferred", "user");
    ctx.pbx.wait_success();
    let refer = &ctx.pbx.received("REFER")[0];
    assert!(
        header(refer, "Refer-To").contains("sip:+14255550177@"),
        "{refer}"
    );

    let mut ctx = Ctx::new(2, &[("refer_code", "603")], &[]);
    let id = ctx.call();
    ctx.wait(&id, "connected", |v| {
        v["state"] == "connected" && v["media"] == "direct"
    });
    assert_eq!(
        ctx.post(&id, "transfer", Some(json!({"to": "+14255550177"})))
            .status,
        202
    );
    ctx.wait(&id, "transfer failed", |v| v["transfer_failed"] == 603);
    ended_as(&ctx.hang_up(&id), "completed", "user");
    ctx.pbx.wait_success();
}

#[test]
fn a_transfer_on_the_users_desk_phone_keeps_the_others_connected() {
    // Three SIPp calls: the callback leg (which sends REFER), the far leg, the target.
    let mut ctx = Ctx::new(3, &[("cb_refer", "1")], &[]);
    let id = ctx.call();
    let v = ctx.wait(&id, "transferred", |v| v["state"] == "ended");
    ended_as(&v, "transferred", "your_phone");
    // Closing it in the client leaves the transferred call alone.
    ended_as(&ctx.hang_up(&id), "transferred", "your_phone");
    // The target hangs up after 500 ms; ViaWork then hangs up the far party.
    ctx.pbx.wait_success();
    let invites = ctx.pbx.received("INVITE");
    assert!(
        invites
            .iter()
            .any(|b| b.starts_with("INVITE sip:+14255550177@")),
        "the target was called: {invites:#?}"
    );
    // NOTIFYs: the transfer is under way, then done (the final one ends the subscription).
    let notifies = ctx.pbx.received("NOTIFY");
    assert!(notifies.len() >= 2, "{notifies:#?}");
    assert!(header(&notifies[0], "Subscription-State").starts_with("active"));
    let last = notifies.last().unwrap();
    assert!(
        header(last, "Subscription-State").starts_with("terminated"),
        "{last}"
    );
    assert_eq!(header(last, "Event"), "refer");
}

#[test]
fn an_invite_with_replaces_from_the_pbx_takes_the_users_place() {
    let mut ctx = Ctx::new(2, &[], &[]);
    let id = ctx.call();
    ctx.wait(&id, "connected", |v| {
        v["state"] == "connected" && v["media"] == "direct"
    });
    // The callback leg's dialog, as the PBX (SIPp) knows it: from ViaWork's ACK to it.
    let acks = ctx.pbx.received("ACK");
    let ack = acks
        .iter()
        .find(|b| header(b, "From").contains("Call Via Work"))
        .expect("ACK on the callback leg");
    let tag = |h: &str| h.split(";tag=").nth(1).unwrap_or("").to_owned();
    let (call_id, vw_tag, pbx_tag) = (
        header(ack, "Call-ID").to_owned(),
        tag(header(ack, "From")),
        tag(header(ack, "To")),
    );
    common::sipp::run(&common::sipp::Run {
        scenario: "pbx_replaces_uac.xml",
        target: ctx.server.udp,
        tcp: false,
        calls: 1,
        rate: 1,
        extra: &[
            "-key",
            "replaces_callid",
            &call_id,
            "-key",
            "replaces_to_tag",
            &vw_tag,
            "-key",
            "replaces_from_tag",
            &pbx_tag,
        ],
    });
    let v = ctx.wait(&id, "transferred", |v| v["state"] == "ended");
    ended_as(&v, "transferred", "your_phone");
    // The replaced leg was hung up, the far party re-INVITEd with the new party's media
    // (port 40004) and, once the new party hung up, hung up too.
    ctx.pbx.wait_success();
    let invites = ctx.pbx.received("INVITE");
    assert!(
        ctx.pbx.messages().contains("m=audio 40004 "),
        "{invites:#?}"
    );
    assert_eq!(ctx.pbx.received("BYE").len(), 2);
}

#[test]
fn a_sip_client_calls_the_pbx_through_viawork_as_a_plain_b2bua() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned_store(dir.path());
    let mut pbx = SippPbx::start("pbx_uas.xml", 5);
    let server = server_for(
        &db,
        &pbx,
        &[("VIAWORK_CALLS_BRIDGE_CLIENTS", "127.0.0.0/8")],
    );
    // SIPp's built-in UAC: INVITE with SDP, ACK, a pause, BYE — five calls.
    common::sipp::run(&common::sipp::Run {
        scenario: "",
        target: server.udp,
        tcp: false,
        calls: 5,
        rate: 10,
        extra: &["-sn", "uac", "-s", "+14255550199", "-d", "200"],
    });
    pbx.wait_success();
    let invites = pbx.received("INVITE");
    assert_eq!(invites.len(), 5, "{invites:#?}");
    for b in &invites {
        assert!(b.starts_with("INVITE sip:+14255550199@"), "{b}");
    }
    assert_eq!(pbx.received("BYE").len(), 5);
}

#[test]
fn calls_go_through_the_outbound_proxy_with_the_pbx_in_the_request_uri() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned_store(dir.path());
    let mut pbx = SippPbx::start("pbx_uas.xml", 2);
    let proxy = pbx.addr.to_string();
    // The PBX's name need not resolve: every request goes to the proxy (SIPp here).
    let server = common::Server::start_with(&[
        ("VIAWORK_DATABASE", db.as_str()),
        ("VIAWORK_PBX_ADDRESS", "pbx.invalid:5060"),
        ("VIAWORK_PBX_OUTBOUND_PROXY", proxy.as_str()),
        ("VIAWORK_PBX_OPTIONS_INTERVAL_SECS", "0"),
    ]);
    let token = sign_in(server.http, ALICE, PASSWORD);
    let r = request(
        server.http,
        "POST",
        "/api/v1/calls",
        Some(&token),
        Some(&json!({"to": "+14255550199"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    wait_call(server.http, &token, &id, "connected", String::new, |v| {
        v["state"] == "connected" && v["media"] == "direct"
    });
    request(
        server.http,
        "DELETE",
        &format!("/api/v1/calls/{id}"),
        Some(&token),
        None,
    );
    pbx.wait_success();
    let invites = pbx.received("INVITE");
    let first = &invites[0];
    assert!(
        first.starts_with("INVITE sip:+14255550101@pbx.invalid:5060"),
        "{first}"
    );
    assert_eq!(header(first, "Route"), format!("<sip:{proxy};lr>"));
}

#[test]
fn a_trunk_that_stops_answering_keep_alives_fails_calls_fast() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned_store(dir.path());
    // A "PBX" that holds its port and answers nothing.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let server = common::Server::start_with(&[
        ("VIAWORK_DATABASE", db.as_str()),
        ("VIAWORK_PBX_ADDRESS", silent_addr.as_str()),
        ("VIAWORK_PBX_OPTIONS_INTERVAL_SECS", "5"),
        // T1 = 50 ms: the keep-alive's Timer F fires after 3.2 s.
        ("VIAWORK_SIP_T1_MS", "50"),
    ]);
    let admin = sign_in(server.http, "sip:admin@example.com", PASSWORD);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let t = request(
            server.http,
            "GET",
            "/api/v1/admin/trunk",
            Some(&admin),
            None,
        )
        .json();
        if t["up"] == false {
            assert!(t["last_probe_secs_ago"].is_number(), "{t}");
            break;
        }
        assert!(Instant::now() < deadline, "the trunk never went down: {t}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let token = sign_in(server.http, ALICE, PASSWORD);
    let r = request(
        server.http,
        "POST",
        "/api/v1/calls",
        Some(&token),
        Some(&json!({"to": "+14255550199"})),
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "CallbackUriUnreachable");
    assert!(r.body.contains("trunk_unavailable"), "{}", r.body);
}

/// Reads Server-Sent Events from `/api/v1/events` until `until` holds (bounded).
fn read_sse(
    http: std::net::SocketAddr,
    query: &str,
    token: &str,
    until: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    use std::io::{BufRead, BufReader, Write};
    let mut conn = std::net::TcpStream::connect(http).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    write!(
        conn,
        "GET /api/v1/events{query} HTTP/1.1\r\nHost: {http}\r\nAccept: text/event-stream\r\n\
         Authorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut events = Vec::new();
    let mut reader = BufReader::new(conn);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            events.push(serde_json::from_str::<Value>(data).expect("event JSON"));
            if until(&events) {
                return events;
            }
        }
    }
    panic!("the stream ended before the condition held: {events:#?}");
}

#[test]
fn events_stream_call_states_in_order_and_resume_after_a_reconnect() {
    let mut ctx = Ctx::new(2, &[], &[]);
    let http = ctx.server.http;
    let token = ctx.token.clone();
    // since=0: everything from this user's first event, however the thread and the call
    // interleave.
    let watcher = std::thread::spawn(move || {
        read_sse(http, "?since=0", &token, |ev| {
            ev.iter()
                .any(|e| e["data"]["state"] == "connected" && e["data"]["media"] == "direct")
        })
    });
    let id = ctx.call();
    let events = watcher.join().unwrap();
    let states: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "call.updated" && e["data"]["id"] == id.as_str())
        .map(|e| e["data"]["state"].as_str().unwrap())
        .collect();
    let mut dedup = states.clone();
    dedup.dedup();
    assert_eq!(
        dedup,
        [
            "connecting_your_phone",
            "your_phone_ringing",
            "connecting",
            "ringing",
            "connected"
        ],
        "{events:#?}"
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs[0], 1);
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "no gaps: {seqs:?}"
    );
    // A reconnect with since= gets what it missed.
    ctx.hang_up(&id);
    let last_seen = *seqs.last().unwrap();
    let missed = read_sse(
        ctx.server.http,
        &format!("?since={last_seen}"),
        &ctx.token,
        |ev| ev.iter().any(|e| e["data"]["state"] == "ended"),
    );
    assert_eq!(missed[0]["seq"].as_u64().unwrap(), last_seen + 1);
    ctx.pbx.wait_success();
    // A bad since names the field.
    let r = request(
        ctx.server.http,
        "GET",
        "/api/v1/events?since=x",
        Some(&ctx.token),
        None,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "since");
}

#[test]
fn events_over_a_websocket_with_the_token_in_the_query() {
    use futures_util::StreamExt;
    let mut ctx = Ctx::new(2, &[], &[]);
    let url = format!(
        "ws://{}/api/v1/events?since=0&access_token={}",
        ctx.server.http, ctx.token
    );
    let id = ctx.call();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let events = rt.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket");
        let mut events: Vec<Value> = Vec::new();
        let read = async {
            while let Some(Ok(msg)) = ws.next().await {
                if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    // Joined, not only connected: hanging up during the join's re-INVITEs
                    // would race the PBX scenario.
                    let done = v["data"]["state"] == "connected" && v["data"]["media"] == "direct";
                    events.push(v);
                    if done {
                        break;
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .expect("connected within 20 s");
        events
    });
    assert_eq!(events[0]["seq"], 1);
    assert_eq!(events[0]["type"], "call.updated");
    assert_eq!(events[0]["data"]["id"], id.as_str());
    ctx.hang_up(&id);
    ctx.pbx.wait_success();
    // Without a token: 401.
    let r = request(ctx.server.http, "GET", "/api/v1/events", None, None);
    assert_eq!(r.status, 401);
}

/// Polls Alice's own presence (bounded, 20 s) until `done` holds.
fn wait_presence(ctx: &Ctx, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = request(
            ctx.server.http,
            "GET",
            "/api/v1/me/presence",
            Some(&ctx.token),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        if done(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "Alice never became {what}: {v}\n{}",
            ctx.pbx.messages()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn a_connected_call_makes_its_user_busy_in_a_call_until_it_ends() {
    let mut ctx = Ctx::new(2, &[], &[]);
    // Alice is signed in: her event stream is open (and never read; it only has to exist).
    let mut stream = std::net::TcpStream::connect(ctx.server.http).unwrap();
    std::io::Write::write_all(
        &mut stream,
        format!(
            "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\
             Authorization: Bearer {}\r\n\r\n",
            ctx.token
        )
        .as_bytes(),
    )
    .unwrap();
    wait_presence(&ctx, "Online", |v| v["availability"] == "Online");
    let id = ctx.call();
    ctx.wait(&id, "connected", |v| v["state"] == "connected");
    let v = wait_presence(&ctx, "in a call", |v| v["activity"] == "in_a_call");
    assert_eq!(v["availability"], "Busy", "{v}");
    ctx.hang_up(&id);
    let v = wait_presence(&ctx, "back from the call", |v| v.get("activity").is_none());
    assert_eq!(v["availability"], "Online", "{v}");
    ctx.pbx.wait_success();
}
