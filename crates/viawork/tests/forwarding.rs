//! Call forwarding settings over HTTP: UCWA's semantics (one active setting; unanswered
//! handling off while forwarding immediately), enforcement of AllowCallForwarding and
//! AllowSimultaneousRing, normalisation of contacts and numbers, the toll-fraud guard, and
//! errors naming the field.

mod common;

use common::http::{request, sign_in};
use serde_json::{json, Value};

use common::PASSWORD;

struct Lab {
    server: common::Server,
    _dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("v.db").display());
        let cli = |args: &[&str]| common::cli(&db, args);
        let voice = |line, forwarding| {
            [
                "--line-uri",
                line,
                "--enterprise-voice",
                "--allow-call-forwarding",
                forwarding,
                "--allow-simultaneous-ring",
                forwarding,
            ]
        };
        common::user(
            &db,
            "sip:alice@example.com",
            "Alice",
            &voice("tel:+14255550101", "true"),
        );
        common::user(
            &db,
            "sip:bob@example.com",
            "Bob",
            &voice("tel:+14255550102", "false"),
        );
        common::user(&db, "sip:carol@example.com", "Carol", &[]);
        // Seven digits dial a local number.
        cli(&[
            "dialplan",
            "rule",
            "new",
            "--name",
            "local",
            "--pattern",
            r"^(\d{7})$",
            "--translation",
            "+1425$1",
        ]);
        let server = common::Server::start_with(&[("VIAWORK_DATABASE", db.as_str())]);
        Lab { server, _dir: dir }
    }

    fn put(&self, token: &str, body: Value) -> common::http::Reply {
        request(
            self.server.http,
            "PUT",
            "/api/v1/me/call-forwarding",
            Some(token),
            Some(&body),
        )
    }

    fn get(&self, token: &str) -> common::http::Reply {
        request(
            self.server.http,
            "GET",
            "/api/v1/me/call-forwarding",
            Some(token),
            None,
        )
    }
}

fn err(r: &common::http::Reply) -> (u16, String, String) {
    let e = &r.json()["error"];
    (
        r.status,
        e["code"].as_str().unwrap_or("").to_owned(),
        e["field"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn settings_round_trip_with_ucwa_semantics_and_normalised_targets() {
    let lab = Lab::new();
    let alice = sign_in(lab.server.http, "sip:alice@example.com", PASSWORD);
    let r = lab.get(&alice);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["active"], "off");
    assert_eq!(r.json()["allowed"]["simultaneous_ring"], true);

    // Simultaneous ring of a number typed locally, unanswered calls to voicemail.
    let r = lab.put(
        &alice,
        json!({
            "active": "simultaneous_ring",
            "simultaneous_ring": {"target": "number", "to": "555 0199", "ring_delay_secs": 5},
            "unanswered": {"target": "voicemail", "to": "sip:vm@example.com", "after_secs": 20}
        }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["simultaneous_ring"]["to"], "+14255550199");
    assert_eq!(v["unanswered_call_handling"], "enabled");
    assert_eq!(
        lab.get(&alice).json()["simultaneous_ring"],
        v["simultaneous_ring"]
    );

    // Immediate forward to a contact (any case): unanswered handling no longer applies but
    // is kept.
    let r = lab.put(
        &alice,
        json!({
            "active": "immediate_forward",
            "immediate_forward": {"target": "contact", "to": "sip:BOB@example.com"},
            "unanswered": {"target": "voicemail", "to": "sip:vm@example.com", "after_secs": 20}
        }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = lab.get(&alice).json();
    assert_eq!(v["immediate_forward"]["to"], "sip:bob@example.com");
    assert_eq!(v["unanswered_call_handling"], "disabled");
    assert_eq!(v["unanswered"]["after_secs"], 20);
    assert!(v["updated_at"].is_string());

    // Off again.
    let r = lab.put(&alice, json!({"active": "off"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(lab.get(&alice).json()["active"], "off");
}

#[test]
fn user_settings_and_the_guard_are_enforced_naming_the_field() {
    let lab = Lab::new();
    let alice = sign_in(lab.server.http, "sip:alice@example.com", PASSWORD);
    let bob = sign_in(lab.server.http, "sip:bob@example.com", PASSWORD);
    let carol = sign_in(lab.server.http, "sip:carol@example.com", PASSWORD);

    // Bob may neither forward nor ring along; voicemail for unanswered calls is fine.
    let r = lab.put(
        &bob,
        json!({"active": "immediate_forward",
               "immediate_forward": {"target": "voicemail", "to": "sip:vm@example.com"}}),
    );
    assert_eq!(
        err(&r),
        (403, "CallForwardingNotAllowed".into(), "active".into()),
        "{}",
        r.body
    );
    let r = lab.put(
        &bob,
        json!({"active": "simultaneous_ring",
               "simultaneous_ring": {"target": "contact", "to": "sip:alice@example.com"}}),
    );
    assert_eq!(
        err(&r),
        (403, "SimultaneousRingNotAllowed".into(), "active".into())
    );
    let r = lab.put(
        &bob,
        json!({"active": "off",
               "unanswered": {"target": "number", "to": "+14255550199", "after_secs": 20}}),
    );
    assert_eq!(
        err(&r),
        (403, "CallForwardingNotAllowed".into(), "unanswered".into())
    );
    let r = lab.put(
        &bob,
        json!({"active": "off",
               "unanswered": {"target": "voicemail", "to": "sip:vm@example.com", "after_secs": 20}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // Carol has no Enterprise Voice.
    assert_eq!(err(&lab.get(&carol)).1, "NotEnterpriseVoice");

    // Targets and bounds.
    let cases = [
        (
            json!({"active": "immediate_forward"}),
            400,
            "immediate_forward",
        ),
        (
            json!({"active": "immediate_forward", "immediate_forward": {"target": "contact", "to": "sip:nobody@example.com"}}),
            404,
            "immediate_forward.to",
        ),
        (
            json!({"active": "immediate_forward", "immediate_forward": {"target": "number", "to": "911"}}),
            400,
            "immediate_forward.to",
        ),
        (
            json!({"active": "immediate_forward", "immediate_forward": {"target": "number", "to": "+19005550100"}}),
            400,
            "immediate_forward.to",
        ),
        (
            json!({"active": "immediate_forward", "immediate_forward": {"target": "number", "to": "+442079460958"}}),
            400,
            "immediate_forward.to",
        ),
        (
            json!({"active": "simultaneous_ring", "simultaneous_ring": {"target": "voicemail", "to": "sip:vm@example.com"}}),
            400,
            "simultaneous_ring.target",
        ),
        (
            json!({"active": "simultaneous_ring", "simultaneous_ring": {"target": "number", "to": "+14255550199", "ring_delay_secs": 61}}),
            400,
            "simultaneous_ring.ring_delay_secs",
        ),
        (
            json!({"active": "off", "unanswered": {"target": "voicemail", "to": "sip:vm@example.com", "after_secs": 2}}),
            400,
            "unanswered.after_secs",
        ),
        (
            json!({"active": "off", "unanswered": {"target": "voicemail", "to": "mailto:x@example.com", "after_secs": 20}}),
            400,
            "unanswered.to",
        ),
        (json!({"active": "sometimes"}), 400, "active"),
    ];
    for (body, status, field) in cases {
        let r = lab.put(&alice, body.clone());
        let (s, _, f) = err(&r);
        assert_eq!((s, f.as_str()), (status, field), "{body} → {}", r.body);
    }
    // Nothing refused was kept.
    assert_eq!(lab.get(&alice).json()["active"], "off");
}
