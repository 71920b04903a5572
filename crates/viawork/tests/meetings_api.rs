//! Meetings over HTTP: scheduling and Meet Now with conference IDs, join URLs and bridge
//! numbers from `[meetings]`, who may see and change a meeting, the per-organizer limit,
//! dial-in PINs under the PIN policy, and errors naming the field.

mod common;

use common::http::{request, sign_in};
use common::PASSWORD;
use serde_json::{json, Value};

struct Lab {
    server: common::Server,
    _dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("v.db").display());
        let config = dir.path().join("viawork.toml");
        std::fs::write(
            &config,
            r#"
[meetings]
join_url_base = "https://meet.example.com/"
max_per_organizer = 3

[[meetings.bridge_numbers]]
number = "+14255550100"
extension = "5100"
name = "Redmond"
"#,
        )
        .unwrap();
        let voice = |line| ["--line-uri", line, "--enterprise-voice"];
        common::user(
            &db,
            "sip:alice@example.com",
            "Alice",
            &voice("tel:+14255550101;ext=101"),
        );
        common::user(
            &db,
            "sip:bob@example.com",
            "Bob",
            &voice("tel:+14255550102"),
        );
        common::user(
            &db,
            "sip:carol@example.com",
            "Carol",
            &["--dial-in-conferencing", "false"],
        );
        let config = config.display().to_string();
        let server = common::Server::start_with(&[
            ("VIAWORK_DATABASE", db.as_str()),
            ("VIAWORK_CONFIG", config.as_str()),
        ]);
        Lab { server, _dir: dir }
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
}

fn err(r: &common::http::Reply) -> (u16, String, String) {
    let e = &r.json()["error"];
    (
        r.status,
        e["code"].as_str().unwrap_or("").to_owned(),
        e["field"].as_str().unwrap_or("").to_owned(),
    )
}

fn header<'a>(r: &'a common::http::Reply, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn meetings_are_scheduled_shown_to_the_invited_and_changed_only_by_the_organizer() {
    let lab = Lab::new();
    let alice = sign_in(lab.server.http, "sip:alice@example.com", PASSWORD);
    let bob = sign_in(lab.server.http, "sip:bob@example.com", PASSWORD);
    let carol = sign_in(lab.server.http, "sip:carol@example.com", PASSWORD);
    // Alice's other client follows her meetings.
    let mut other_tab = common::events::EventStream::open(lab.server.http, &alice, "");

    let r = lab.call(
        &alice,
        "POST",
        "/api/v1/meetings",
        Some(json!({
            "subject": "Q3 review",
            "start_time": "2027-01-15T09:00:00Z",
            "end_time": "2027-01-15T10:00:00Z",
            "attendees": ["sip:BOB@example.com", "sip:alice@example.com"],
            "access_level": "invited"
        })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let m = r.json();
    let id = m["id"].as_str().expect("id").to_owned();
    assert_eq!(
        header(&r, "location"),
        Some(format!("/api/v1/meetings/{id}").as_str())
    );
    assert_eq!(m["role"], "organizer");
    assert_eq!(m["organizer"], "sip:alice@example.com");
    assert_eq!(m["attendees"], json!(["sip:bob@example.com"]));
    assert_eq!(m["join_url"], format!("https://meet.example.com/meet/{id}"));
    assert_eq!(m["dial_in"][0]["number"], "+14255550100");
    assert_eq!(m["dial_in"][0]["name"], "Redmond");
    assert_eq!(m["expiration_time"], "2027-01-29T10:00:00.000Z");
    let cid = m["conference_id"].as_str().expect("conference id");
    assert_eq!(cid.len(), 7);
    assert!(cid.bytes().all(|b| b.is_ascii_digit()), "{cid}");

    // The attendee sees it; someone not invited cannot tell it exists.
    let path = format!("/api/v1/meetings/{id}");
    let r = lab.call(&bob, "GET", &path, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["role"], "attendee");
    assert_eq!(err(&lab.call(&carol, "GET", &path, None)).0, 404);
    assert_eq!(err(&lab.call(&carol, "DELETE", &path, None)).0, 404);

    // Only the organizer changes it.
    let r = lab.call(&bob, "PATCH", &path, Some(json!({"subject": "mine now"})));
    assert_eq!(err(&r), (403, "NotOrganizer".into(), String::new()));
    let r = lab.call(
        &alice,
        "PATCH",
        &path,
        Some(json!({"subject": "Q3 review (moved)", "leaders": ["sip:bob@example.com"]})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = lab.call(&bob, "GET", &path, None);
    assert_eq!(r.json()["subject"], "Q3 review (moved)");
    assert_eq!(r.json()["role"], "leader");
    assert_eq!(r.json()["conference_id"], cid, "the conference ID stays");
    assert_eq!(r.json()["start_time"], "2027-01-15T09:00:00.000Z");

    // Meet Now needs no body and has no schedule; the list puts it last.
    let r = request(
        lab.server.http,
        "POST",
        "/api/v1/meetings/now",
        Some(&alice),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let now = r.json();
    assert_eq!(now["ad_hoc"], true);
    assert!(now["start_time"].is_null());
    assert_ne!(now["conference_id"], cid);
    let r = lab.call(&alice, "GET", "/api/v1/meetings", None);
    let ids: Vec<&str> = r.json()["meetings"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect::<Vec<_>>()
        .into_iter()
        .map(|s| if s == id { "scheduled" } else { "now" })
        .collect();
    assert_eq!(ids, ["scheduled", "now"]);
    assert_eq!(
        lab.call(&bob, "GET", "/api/v1/meetings", None).json()["meetings"],
        json!([])
    );

    let e = other_tab.next_matching("the scheduled meeting", |e| {
        e["type"] == "meeting.updated" && e["data"]["subject"] == "Q3 review"
    });
    assert_eq!(e["data"]["id"], id.as_str());
    other_tab.next_matching("the change", |e| {
        e["type"] == "meeting.updated" && e["data"]["subject"] == "Q3 review (moved)"
    });

    // Deleted.
    assert_eq!(lab.call(&alice, "DELETE", &path, None).status, 204);
    let e = other_tab.next_of("meeting.deleted");
    assert_eq!(e["data"]["id"], id.as_str());
    assert_eq!(err(&lab.call(&alice, "GET", &path, None)).0, 404);
}

#[test]
fn bad_meeting_input_names_the_field_and_the_organizer_limit_holds() {
    let lab = Lab::new();
    let alice = sign_in(lab.server.http, "sip:alice@example.com", PASSWORD);
    let post = |body: Value| lab.call(&alice, "POST", "/api/v1/meetings", Some(body));
    let times = json!({"start_time": "2027-01-15T09:00:00Z", "end_time": "2027-01-15T10:00:00Z"});
    let with = |extra: Value| {
        let mut v = times.clone();
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    };
    let cases = [
        (json!({"subject": "no times"}), "start_time"),
        (
            with(json!({"end_time": "2027-01-15T08:00:00Z"})),
            "end_time",
        ),
        (with(json!({"start_time": "tomorrow"})), "start_time"),
        (with(json!({"attendees": ["bob"]})), "attendees"),
        (with(json!({"access_level": "secret"})), "access_level"),
        (with(json!({"colour": "blue"})), "colour"),
        (with(json!({"subject": "x".repeat(300)})), "subject"),
    ];
    for (body, field) in cases {
        let r = post(body.clone());
        let (status, _, f) = err(&r);
        assert_eq!((status, f.as_str()), (400, field), "{body} → {}", r.body);
    }
    let r = lab.call(
        &alice,
        "POST",
        "/api/v1/meetings/now",
        Some(json!({"start_time": "2027-01-15T09:00:00Z"})),
    );
    assert_eq!(err(&r).2, "start_time", "{}", r.body);

    // max_per_organizer = 3.
    for _ in 0..3 {
        assert_eq!(post(times.clone()).status, 201);
    }
    let r = post(times.clone());
    assert_eq!(
        err(&r),
        (409, "TooManyOnlineMeetings".into(), String::new()),
        "{}",
        r.body
    );
}

#[test]
fn dial_in_pins_follow_the_policy_and_need_dial_in_conferencing() {
    let lab = Lab::new();
    let alice = sign_in(lab.server.http, "sip:alice@example.com", PASSWORD);
    let carol = sign_in(lab.server.http, "sip:carol@example.com", PASSWORD);
    let info = lab
        .call(&alice, "GET", "/api/v1/meetings/dial-in", None)
        .json();
    assert_eq!(info["pin_set"], false);
    assert_eq!(info["dial_in_conferencing"], true);
    assert_eq!(info["pin_min_length"], 5);
    assert_eq!(info["bridge_numbers"][0]["extension"], "5100");

    let put =
        |token: &str, body: Option<Value>| lab.call(token, "PUT", "/api/v1/me/dial-in-pin", body);
    // Too short, a run, repeats, part of her own number, not digits.
    for bad in ["1357", "12345", "11119", "121212", "50101", "2468a"] {
        let r = put(&alice, Some(json!({"pin": bad})));
        assert_eq!(err(&r).0, 400, "{bad}: {}", r.body);
        assert_eq!(err(&r).2, "pin", "{bad}: {}", r.body);
        assert!(
            !r.body.contains(bad),
            "the refusal repeats the PIN: {}",
            r.body
        );
    }
    let r = put(&alice, Some(json!({"pin": "80531"})));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["pin"].is_null());
    assert_eq!(
        lab.call(&alice, "GET", "/api/v1/meetings/dial-in", None)
            .json()["pin_set"],
        true
    );
    // Generated when none is given, shown once.
    let r = request(
        lab.server.http,
        "PUT",
        "/api/v1/me/dial-in-pin",
        Some(&alice),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let pin = r.json()["pin"].as_str().expect("generated").to_owned();
    assert!(
        pin.len() >= 5 && pin.bytes().all(|b| b.is_ascii_digit()),
        "{pin}"
    );

    let r = put(&carol, Some(json!({"pin": "80531"})));
    assert_eq!(err(&r), (403, "DialInNotEnabled".into(), String::new()));
}
