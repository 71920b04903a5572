//! The Call Via Work policy's `AllowInternationalCallback` (a ViaWork extension), end to
//! end: a user whose effective policy allows it may be called back abroad — the call is
//! placed through SIPp playing the PBX — while a user under a policy that does not is
//! refused with 403 `PhoneNumberConflict` before any SIP goes out. The server-wide
//! `calls.allow_*_callback` keys stay at their default (false) here.

mod common;

use common::http::{request, sign_in, wait_call, Reply};
use common::pbx::SippPbx;
use serde_json::json;
use std::net::SocketAddr;

const ALICE: &str = "sip:alice@example.com";
const BOB: &str = "sip:bob@example.com";
const PASSWORD: &str = "S3cret-pass";
/// A London number: abroad for users whose line is in the US.
const LONDON: &str = "+442079460958";

/// A store with Alice and Bob (Enterprise Voice, US lines), Call Via Work enabled globally,
/// the global caller ID set, and Bob granted `Tag:Travel`, which allows international
/// callback numbers (but not premium-rate ones).
fn provisioned_store(dir: &std::path::Path) -> String {
    let db = format!("sqlite://{}", dir.join("v.db").display());
    let cli = |args: &[&str]| common::cli(&db, args);
    for (sip_uri, line) in [(ALICE, "tel:+14255550101"), (BOB, "tel:+14255550102")] {
        cli(&[
            "user",
            "new",
            "--sip-uri",
            sip_uri,
            "--name",
            "Some One",
            "--password",
            PASSWORD,
            "--line-uri",
            line,
            "--enterprise-voice",
        ]);
    }
    cli(&["policy", "set", "--identity", "Global", "--enabled", "true"]);
    cli(&[
        "policy",
        "new",
        "--identity",
        "Tag:Travel",
        "--enabled",
        "true",
        "--allow-international-callback",
        "true",
    ]);
    cli(&["policy", "grant", "--user", BOB, "--policy", "Tag:Travel"]);
    cli(&[
        "routing",
        "set",
        "--call-via-work-caller-id",
        "+15551234567",
    ]);
    db
}

fn place(http: SocketAddr, token: &str, callback_number: &str) -> Reply {
    let body = json!({"to": "+14255550199", "callback_number": callback_number});
    request(http, "POST", "/api/v1/calls", Some(token), Some(&body))
}

fn code(r: &Reply) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_policy_allowing_international_callback_lets_its_users_be_called_back_abroad() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned_store(dir.path());
    // Two SIPp calls: Bob's callback leg and far leg; the refusals send no SIP.
    let mut pbx = SippPbx::start_keys("pbx_uas.xml", 2, &[]);
    let pbx_addr = pbx.addr.to_string();
    let server = common::Server::start_with(&[
        ("VIAWORK_DATABASE", db.as_str()),
        ("VIAWORK_PBX_ADDRESS", pbx_addr.as_str()),
        ("VIAWORK_PBX_OPTIONS_INTERVAL_SECS", "0"),
    ]);

    // Alice's policy (Global) does not allow it.
    let alice = sign_in(server.http, ALICE, PASSWORD);
    let r = place(server.http, &alice, LONDON);
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "PhoneNumberConflict"),
        "{}",
        r.body
    );
    let me = request(server.http, "GET", "/api/v1/me", Some(&alice), None).json();
    assert_eq!(
        me["callViaWork"]["policy"]["allowInternationalCallback"],
        false
    );

    // Bob's allows international, not premium-rate.
    let bob = sign_in(server.http, BOB, PASSWORD);
    let me = request(server.http, "GET", "/api/v1/me", Some(&bob), None).json();
    assert_eq!(me["callViaWork"]["policy"]["identity"], "Tag:Travel");
    assert_eq!(
        me["callViaWork"]["policy"]["allowInternationalCallback"],
        true
    );
    let r = place(server.http, &bob, "+19005550101");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "PhoneNumberConflict"),
        "{}",
        r.body
    );
    let r = place(server.http, &bob, LONDON);
    assert_eq!(r.status, 201, "{}", r.body);
    let call = r.json();
    assert_eq!(call["callback_number"], LONDON);
    let id = call["id"].as_str().unwrap().to_owned();
    wait_call(server.http, &bob, &id, "joined", String::new, |v| {
        // Joined, not only connected: a BYE during the join re-INVITEs races the scenario.
        v["state"] == "connected" && v["media"] == "direct"
    });

    let path = format!("/api/v1/calls/{id}");
    let r = request(server.http, "DELETE", &path, Some(&bob), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "ended");
    pbx.wait_success();
    let invites = pbx.received("INVITE");
    assert!(
        invites.first().is_some_and(|i| i.contains("442079460958")),
        "the callback leg rings London: {invites:?}"
    );
}
