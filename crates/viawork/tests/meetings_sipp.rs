//! Meetings joined by dial-out through SIPp playing the PBX: three users join one meeting
//! (`POST /api/v1/meetings/{id}/join`); ViaWork rings each one's phone with the Call Via
//! Work caller ID, and the answered phones' audio goes through the mixer. Each test phone
//! sends its own tone and must hear the others and not itself; the lobby holds an uninvited
//! user until the organizer admits them; `*6` on the keypad (RFC 4733) mutes, the
//! organizer's API mutes others, a non-leader cannot lock. One meeting mixes codecs: a
//! G.722 dial-in caller with two G.711 phones.

mod common;

use std::time::Duration;

use common::http::{request, sign_in, wait_call};
use common::pbx::SippPbx;
use common::rtp_phone::{eventually, Phone, AMP};
use media::AudioCodec;
use serde_json::{json, Value};

const PASSWORD: &str = "S3cret-pass";
const HEARD: f64 = 0.4 * AMP;
const ABSENT: f64 = 300.0;
const LIMIT: Duration = Duration::from_secs(15);

fn provisioned_store(dir: &std::path::Path) -> String {
    let db = format!("sqlite://{}", dir.join("v.db").display());
    let cli = |args: &[&str]| common::cli(&db, args);
    for (user, name, line) in [
        ("alice", "Alice Smith", "tel:+14255550101"),
        ("bob", "Bob Jones", "tel:+14255550102"),
        ("carol", "Carol White", "tel:+14255550103"),
        ("dave", "Dave Brown", "tel:+14255550104"),
    ] {
        cli(&[
            "user",
            "new",
            "--sip-uri",
            &format!("sip:{user}@example.com"),
            "--name",
            name,
            "--password",
            PASSWORD,
            "--line-uri",
            line,
            "--enterprise-voice",
        ]);
    }
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

struct Lab {
    server: common::Server,
    pbx: SippPbx,
    _dir: tempfile::TempDir,
}

impl Lab {
    /// A server on the store `db`, trunked to `pbx`, with `config` as its file (in `dir`).
    fn start(dir: tempfile::TempDir, db: &str, pbx: SippPbx, config: &str) -> Lab {
        let cfg = dir.path().join("viawork.toml");
        std::fs::write(&cfg, config).unwrap();
        let cfg = cfg.display().to_string();
        let pbx_addr = pbx.addr.to_string();
        let server = common::Server::start_with(&[
            ("VIAWORK_DATABASE", db),
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

    fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> common::http::Reply {
        request(self.server.http, method, path, Some(token), body.as_ref())
    }

    fn roster(&self, token: &str, meeting: &str) -> Value {
        let r = self.call(
            token,
            "GET",
            &format!("/api/v1/meetings/{meeting}/roster"),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    fn wait_roster(
        &self,
        token: &str,
        meeting: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut last = Value::Null;
        let ok = eventually(LIMIT, || {
            last = self.roster(token, meeting);
            done(&last)
        });
        assert!(ok, "the roster never showed {what}: {last}");
        last
    }

    /// Joins `meeting` as `token`'s user; returns the call id once it is connected.
    fn join(&self, token: &str, meeting: &str) -> String {
        let r = self.call(
            token,
            "POST",
            &format!("/api/v1/meetings/{meeting}/join"),
            None,
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let call = r.json();
        assert_eq!(call["direction"], "meeting", "{call}");
        assert_eq!(call["state"], "connecting_your_phone", "{call}");
        let id = call["id"].as_str().expect("call id").to_owned();
        wait_call(
            self.server.http,
            token,
            &id,
            "connected",
            || self.pbx.messages(),
            |v| v["state"] == "connected",
        );
        id
    }
}

fn participant<'a>(roster: &'a Value, user: &str) -> &'a Value {
    roster["participants"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["user"] == user))
        .unwrap_or(&Value::Null)
}

/// `phone` hears every frequency of `on` and none of `off`.
fn hears(phone: &Phone, on: &[f64], off: &[f64]) -> bool {
    on.iter().all(|f| phone.level(*f) > HEARD) && off.iter().all(|f| phone.level(*f) < ABSENT)
}

/// The three phones sending 440, 700 and 1100 Hz (in that order) come to hear the other
/// two tones and not their own.
fn assert_each_hears_the_others(phones: [(&str, &Phone); 3]) {
    const TONES: [f64; 3] = [440.0, 700.0, 1100.0];
    let all_hear = eventually(LIMIT, || {
        phones.iter().enumerate().all(|(i, (_, phone))| {
            let others: Vec<f64> = (0..3).filter(|&j| j != i).map(|j| TONES[j]).collect();
            hears(phone, &others, &[TONES[i]])
        })
    });
    let levels: Vec<String> = phones
        .iter()
        .map(|(name, p)| {
            format!(
                "{name} {:.0}/{:.0}/{:.0}",
                p.level(440.0),
                p.level(700.0),
                p.level(1100.0)
            )
        })
        .collect();
    assert!(all_hear, "{} (440/700/1100)", levels.join(", "));
}

#[test]
fn three_phones_joined_by_dial_out_hear_each_other_through_the_mixer_with_lobby_and_mutes() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned_store(dir.path());
    let (a, b, c) = (
        Phone::start(440.0),
        Phone::start(700.0),
        Phone::start(1100.0),
    );
    let d = Phone::start(1500.0);
    // Each answered dial-out sends its media to the next phone, in join order.
    let inf = dir.path().join("phones.csv");
    std::fs::write(
        &inf,
        format!(
            "SEQUENTIAL\n{};\n{};\n{};\n{};\n",
            a.port, b.port, c.port, d.port
        ),
    )
    .unwrap();
    let inf = inf.display().to_string();
    let pbx = SippPbx::start_args("pbx_meeting_uas.xml", 4, &[], &["-inf", &inf]);
    let recordings = dir.path().join("recordings");
    let config = format!(
        "[meetings]\nrecordings_dir = {:?}\n",
        recordings.display().to_string()
    );
    let mut lab = Lab::start(dir, &db, pbx, &config);
    let alice = sign_in(lab.server.http, "sip:alice@example.com", PASSWORD);
    let bob = sign_in(lab.server.http, "sip:bob@example.com", PASSWORD);
    let carol = sign_in(lab.server.http, "sip:carol@example.com", PASSWORD);

    // Only Bob is invited; announcements off so that only the tones are heard.
    let r = lab.call(
        &alice,
        "POST",
        "/api/v1/meetings/now",
        Some(json!({
            "subject": "Stand-up",
            "attendees": ["sip:bob@example.com"],
            "access_level": "invited",
            "entry_exit_announcement": false
        })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let meeting = r.json()["id"].as_str().expect("id").to_owned();

    let alice_call = lab.join(&alice, &meeting);
    let bob_call = lab.join(&bob, &meeting);
    assert!(
        eventually(LIMIT, || hears(&a, &[700.0], &[440.0, 1100.0])
            && hears(&b, &[440.0], &[700.0, 1100.0])),
        "A hears 700: {:.0}, own 440: {:.0}; B hears 440: {:.0}, own 700: {:.0}",
        a.level(700.0),
        a.level(440.0),
        b.level(440.0),
        b.level(700.0)
    );
    let roster = lab.roster(&bob, &meeting);
    assert_eq!(
        participant(&roster, "sip:alice@example.com")["leader"],
        true,
        "{roster}"
    );
    assert_eq!(
        participant(&roster, "sip:bob@example.com")["leader"],
        false,
        "{roster}"
    );
    assert_eq!(
        participant(&roster, "sip:bob@example.com")["place"],
        "in",
        "{roster}"
    );

    // Carol is not invited: she waits in the lobby and hears nobody.
    let carol_call = lab.join(&carol, &meeting);
    let roster = lab.wait_roster(&alice, &meeting, "Carol in the lobby", |r| {
        participant(r, "sip:carol@example.com")["place"] == "lobby"
    });
    let carol_pid = participant(&roster, "sip:carol@example.com")["id"].clone();
    assert!(
        eventually(LIMIT, || c.connected() && hears(&c, &[], &[440.0, 700.0])),
        "C in the lobby hears 440: {:.0}, 700: {:.0}",
        c.level(440.0),
        c.level(700.0)
    );
    assert!(
        hears(&a, &[700.0], &[1100.0]),
        "A hears the lobby: {:.0}",
        a.level(1100.0)
    );
    // A non-leader may neither admit nor lock.
    let r = lab.call(
        &bob,
        "POST",
        &format!("/api/v1/meetings/{meeting}/participants/{carol_pid}/admit"),
        None,
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (403, json!("NotLeader")),
        "{}",
        r.body
    );
    let r = lab.call(
        &bob,
        "POST",
        &format!("/api/v1/meetings/{meeting}/lock"),
        None,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // Carol cannot see the roster of a meeting she is only waiting for? She is in it: she can.
    assert_eq!(
        lab.roster(&carol, &meeting)["participants"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );

    // The organizer admits her: everyone hears the other two and not themselves.
    let r = lab.call(
        &alice,
        "POST",
        &format!("/api/v1/meetings/{meeting}/participants/{carol_pid}/admit"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_each_hears_the_others([("A", &a), ("B", &b), ("C", &c)]);

    // Alice records the meeting: everyone hears the announcement, then 1.5 s of the three
    // tones go into the WAV (the phones' received audio is the clock).
    let dave = sign_in(lab.server.http, "sip:dave@example.com", PASSWORD);
    let rec_path = format!("/api/v1/meetings/{meeting}/recording");
    let r = lab.call(&bob, "POST", &rec_path, None);
    assert_eq!(r.status, 403, "a non-leader records: {}", r.body);
    let r = lab.call(&alice, "POST", &rec_path, None);
    assert_eq!(r.status, 204, "{}", r.body);
    lab.wait_roster(&alice, &meeting, "recording", |r| r["recording"] == true);
    let announcement = std::fs::metadata(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/prompts/en-US/recording_started.ul"
    ))
    .map(|m| m.len())
    .unwrap_or(0);
    let from = a.heard_samples();
    assert!(
        eventually(LIMIT, || a.heard_samples() >= from + announcement + 12_000),
        "the meeting's audio stopped flowing"
    );
    let r = lab.call(&alice, "DELETE", &rec_path, None);
    assert_eq!(r.status, 204, "{}", r.body);
    let list_path = format!("/api/v1/meetings/{meeting}/recordings");
    let mut list = Value::Null;
    assert!(
        eventually(LIMIT, || {
            list = lab.call(&carol, "GET", &list_path, None).json();
            list["recordings"][0]["ended_at"].is_string()
        }),
        "the recording never finished: {list}"
    );
    let rec = list["recordings"][0].clone();
    assert!(rec["duration_ms"].as_i64().unwrap_or(0) >= 1500, "{rec}");
    let audio = rec["links"]["audio"]
        .as_str()
        .expect("audio link")
        .to_owned();
    // Someone who was neither invited nor present may not hear it.
    assert_eq!(
        lab.call(&dave, "GET", &list_path, None).json()["recordings"],
        json!([])
    );
    assert_eq!(lab.call(&dave, "GET", &audio, None).status, 404);
    let wav = common::http::request_bytes(lab.server.http, "GET", &audio, Some(&carol));
    assert_eq!(&wav[..4], b"RIFF", "not a WAV file");
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    let pcm: Vec<i16> = wav[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    // The 0.8 s before the last 0.3 s: the three tones, mixed.
    assert!(pcm.len() > 8000 + 2400, "{} samples", pcm.len());
    let window = &pcm[pcm.len() - 2400 - 6400..pcm.len() - 2400];
    for f in [440.0, 700.0, 1100.0] {
        let level = media::goertzel(window, f, 8000);
        assert!(level > HEARD, "{f} Hz in the recording at {level:.0}");
    }

    // Bob mutes himself on his keypad (*6): nobody hears 700 until he presses *6 again.
    b.press("*6");
    assert!(
        eventually(LIMIT, || hears(&a, &[1100.0], &[700.0])
            && hears(&c, &[440.0], &[700.0])),
        "after *6 A still hears 700: {:.0}",
        a.level(700.0)
    );
    let roster = lab.wait_roster(&alice, &meeting, "Bob muted", |r| {
        participant(r, "sip:bob@example.com")["muted"] == true
    });
    b.press("*6");
    assert!(
        eventually(LIMIT, || hears(&a, &[700.0, 1100.0], &[440.0])),
        "after *6 again A hears 700: {:.0}",
        a.level(700.0)
    );

    // The organizer mutes Carol through the API.
    let r = lab.call(
        &alice,
        "POST",
        &format!("/api/v1/meetings/{meeting}/participants/{carol_pid}/mute"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(
        eventually(LIMIT, || hears(&b, &[440.0], &[1100.0])),
        "B still hears Carol: {:.0}",
        b.level(1100.0)
    );
    // Alice brings Dave in: ViaWork rings him with her number, and he is in at once (not in
    // the lobby, though he was not invited).
    let invite_path = format!("/api/v1/meetings/{meeting}/invite");
    let dave_uri = json!({"to": "sip:dave@example.com"});
    let r = lab.call(&bob, "POST", &invite_path, Some(dave_uri.clone()));
    assert_eq!(r.status, 403, "a non-leader invites: {}", r.body);
    let r = lab.call(&alice, "POST", &invite_path, Some(dave_uri));
    assert_eq!(r.status, 201, "{}", r.body);
    let dave_call = r.json()["id"].as_str().expect("call id").to_owned();
    let r = lab.wait_roster(&alice, &meeting, "Dave in", |r| {
        participant(r, "sip:dave@example.com")["place"] == "in"
    });
    assert_eq!(
        participant(&r, "sip:dave@example.com")["leader"],
        false,
        "{r}"
    );
    assert!(
        eventually(LIMIT, || hears(&d, &[440.0, 700.0], &[1500.0])
            && hears(&a, &[1500.0], &[440.0])),
        "D hears 440 at {:.0}, 700 at {:.0}; A hears 1500 at {:.0}",
        d.level(440.0),
        d.level(700.0),
        a.level(1500.0)
    );
    let bad = lab.call(
        &alice,
        "POST",
        &format!("/api/v1/meetings/{meeting}/participants/{carol_pid}/shout"),
        None,
    );
    assert_eq!(
        (bad.status, bad.json()["error"]["field"].clone()),
        (400, json!("action"))
    );
    drop(roster);

    // Hanging up leaves: the others stay; the meeting ends with the last one.
    // The organizer removes Dave: the call that brought him (hers) is hung up.
    let roster = lab.roster(&alice, &meeting);
    let dave_pid = participant(&roster, "sip:dave@example.com")["id"].clone();
    let r = lab.call(
        &alice,
        "POST",
        &format!("/api/v1/meetings/{meeting}/participants/{dave_pid}/remove"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    wait_call(
        lab.server.http,
        &alice,
        &dave_call,
        "ended",
        || lab.pbx.messages(),
        |v| v["state"] == "ended",
    );
    for (token, call) in [
        (&alice, &alice_call),
        (&bob, &bob_call),
        (&carol, &carol_call),
    ] {
        let r = lab.call(token, "DELETE", &format!("/api/v1/calls/{call}"), None);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    lab.wait_roster(&alice, &meeting, "an empty meeting", |r| {
        r["participants"].as_array().is_some_and(Vec::is_empty)
    });
    lab.pbx.wait_success();
    // Each dial-out rang the user's own number with the Call Via Work caller ID.
    let invites = lab.pbx.received("INVITE");
    assert_eq!(invites.len(), 4, "{invites:#?}");
    // The invitation rang Dave with Alice's own number and name.
    assert!(
        invites[3].starts_with("INVITE sip:+14255550104@"),
        "{}",
        invites[3]
    );
    assert!(
        invites[3].contains("\"Alice Smith\" <sip:+14255550101@"),
        "{}",
        invites[3]
    );
    for (i, n) in ["+14255550101", "+14255550102", "+14255550103"]
        .iter()
        .enumerate()
    {
        assert!(
            invites[i].starts_with(&format!("INVITE sip:{n}@")),
            "{}",
            invites[i]
        );
        assert!(invites[i].contains("sip:+15551234567@"), "{}", invites[i]);
    }
}

/// A meeting in two codecs. Alice and Bob join by dial-out: ViaWork's offer to their phones
/// puts G.722 first, and the phones answer G.711 (µ-law, A-law). A guest dials in from a
/// phone offering PCMU, PCMA and G.722: ViaWork answers G.722 alone (the SIPp scenario
/// fails otherwise), its voice menu and the meeting reach the guest in G.722. Through the
/// mixer each phone hears the other two tones and not its own, each in its own codec.
#[test]
fn a_g722_dial_in_caller_and_two_g711_phones_hear_each_other_and_not_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned_store(dir.path());
    let a = Phone::start_with(440.0, AudioCodec::Pcmu);
    let b = Phone::start_with(700.0, AudioCodec::Pcma);
    let g = Phone::start_with(1100.0, AudioCodec::G722);
    // Each answered dial-out sends its media to the next phone, answering its codec.
    let inf = dir.path().join("phones.csv");
    std::fs::write(
        &inf,
        format!("SEQUENTIAL\n{};0;PCMU;\n{};8;PCMA;\n", a.port, b.port),
    )
    .unwrap();
    let inf = inf.display().to_string();
    let pbx = SippPbx::start_args("pbx_meeting_codec_uas.xml", 2, &[], &["-inf", &inf]);
    let mut lab = Lab::start(
        dir,
        &db,
        pbx,
        "[pbx]\ntrusted_sources = [\"127.0.0.2/32\"]\n\
         [[meetings.bridge_numbers]]\nnumber = \"+14255550100\"\nname = \"Redmond\"\n",
    );
    let alice = sign_in(lab.server.http, "sip:alice@example.com", PASSWORD);
    let bob = sign_in(lab.server.http, "sip:bob@example.com", PASSWORD);
    // Open to everyone, so the guest is in as soon as it typed the conference ID.
    let r = lab.call(
        &alice,
        "POST",
        "/api/v1/meetings/now",
        Some(json!({
            "subject": "Wideband",
            "access_level": "everyone",
            "entry_exit_announcement": false
        })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let m = r.json();
    let meeting = m["id"].as_str().expect("id").to_owned();
    let cid = m["conference_id"].as_str().expect("cid").to_owned();

    let alice_call = lab.join(&alice, &meeting);
    let bob_call = lab.join(&bob, &meeting);
    assert_eq!(lab.pbx.received("INVITE").len(), 2);
    let trace = lab.pbx.messages();
    for number in ["+14255550101", "+14255550102"] {
        let offer = last_offer(&trace, number);
        let lines: Vec<&str> = offer.lines().map(str::trim).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("m=audio ") && l.ends_with(" RTP/AVP 9 0 8 101")),
            "{offer}"
        );
        assert!(lines.contains(&"a=rtpmap:9 G722/8000"), "{offer}");
    }
    assert!(
        eventually(LIMIT, || hears(&a, &[700.0], &[440.0])
            && hears(&b, &[440.0], &[700.0])),
        "A hears 700: {:.0}, own 440: {:.0}; B hears 440: {:.0}, own 700: {:.0}",
        a.level(700.0),
        a.level(440.0),
        b.level(440.0),
        b.level(700.0)
    );

    let guest_caller = dial_in_with(
        lab.server.udp,
        "dialin_g722_uac.xml",
        "+14255550999",
        &g,
        &[],
    );
    assert!(
        eventually(LIMIT, || g.connected()),
        "no prompt reached the guest"
    );
    // The voice menu: welcome, the conference ID, the leader question (no star: a guest),
    // then the guest's name is recorded (five seconds, decoded from G.722).
    g.press(&format!("{cid}#"));
    let mut roster = Value::Null;
    assert!(
        eventually(Duration::from_secs(40), || {
            roster = lab.roster(&alice, &meeting);
            roster["participants"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["user"].is_null() && p["place"] == "in"))
        }),
        "the guest never got in: {roster}"
    );
    assert_eq!(
        roster["participants"].as_array().map(Vec::len),
        Some(3),
        "{roster}"
    );
    assert_each_hears_the_others([("A", &a), ("B", &b), ("G", &g)]);
    // Each phone got only the codec it negotiated, the guest's prompts included.
    assert_eq!(a.payload_types(), [0]);
    assert_eq!(b.payload_types(), [8]);
    assert_eq!(g.payload_types(), [9]);

    // The organizer removes the guest (ViaWork hangs up), then everyone hangs up.
    let guest = roster["participants"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["user"].is_null()))
        .map(|p| p["id"].clone())
        .expect("the guest");
    let r = lab.call(
        &alice,
        "POST",
        &format!("/api/v1/meetings/{meeting}/participants/{guest}/remove"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    guest_caller
        .join()
        .expect("the guest was answered in G.722 and hung up");
    for (token, call) in [(&alice, &alice_call), (&bob, &bob_call)] {
        let r = lab.call(token, "DELETE", &format!("/api/v1/calls/{call}"), None);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    lab.wait_roster(&alice, &meeting, "an empty meeting", |r| {
        r["participants"].as_array().is_some_and(Vec::is_empty)
    });
    lab.pbx.wait_success();
}

/// A dial-in caller from the PBX side (127.0.0.2, a trusted source) calling the bridge
/// number from `from`, its audio on `phone`; returns when ViaWork hangs up.
fn dial_in(server: std::net::SocketAddr, from: &str, phone: &Phone) -> std::thread::JoinHandle<()> {
    dial_in_with(server, "dialin_uac.xml", from, phone, &[])
}

/// Like [`dial_in`] with another scenario and more SIPp `-key`s.
fn dial_in_with(
    server: std::net::SocketAddr,
    scenario: &'static str,
    from: &str,
    phone: &Phone,
    keys: &[(String, String)],
) -> std::thread::JoinHandle<()> {
    let (from, rtp) = (from.to_owned(), phone.port.to_string());
    let keys = keys.to_vec();
    std::thread::spawn(move || {
        let media = common::sipp::free_port().to_string();
        let mut extra: Vec<&str> = vec![
            "-key",
            "to",
            "+14255550100",
            "-key",
            "from",
            &from,
            "-key",
            "rtp",
            &rtp,
            "-mp",
            &media,
        ];
        for (k, v) in &keys {
            extra.extend(["-key", k.as_str(), v.as_str()]);
        }
        common::sipp::run_at(
            "127.0.0.2",
            common::sipp::free_port(),
            &common::sipp::Run {
                scenario,
                target: server,
                tcp: false,
                calls: 1,
                rate: 1,
                extra: &extra,
            },
        );
    })
}

#[test]
fn dial_in_callers_type_the_conference_id_and_pin_wait_in_the_lobby_and_are_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned_store(dir.path());
    let cfg = dir.path().join("viawork.toml");
    std::fs::write(
        &cfg,
        "[pbx]\ntrusted_sources = [\"127.0.0.2/32\"]\n\
         [[meetings.bridge_numbers]]\nnumber = \"+14255550100\"\nname = \"Redmond\"\n",
    )
    .unwrap();
    let cfg = cfg.display().to_string();
    // The trunk is never called here: dial-in calls come from the PBX.
    let server = common::Server::start_with(&[
        ("VIAWORK_DATABASE", db.as_str()),
        ("VIAWORK_CONFIG", cfg.as_str()),
        ("VIAWORK_PBX_ADDRESS", "127.0.0.1:9"),
        ("VIAWORK_PBX_OPTIONS_INTERVAL_SECS", "0"),
    ]);
    let http = server.http;
    let call = |token: &str, method: &str, path: &str, body: Option<Value>| {
        request(http, method, path, Some(token), body.as_ref())
    };
    let alice = sign_in(http, "sip:alice@example.com", PASSWORD);
    let bob = sign_in(http, "sip:bob@example.com", PASSWORD);
    for (token, pin) in [(&alice, "80531"), (&bob, "61729")] {
        let r = call(
            token,
            "PUT",
            "/api/v1/me/dial-in-pin",
            Some(json!({"pin": pin})),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = call(
        &alice,
        "POST",
        "/api/v1/meetings/now",
        Some(json!({"subject": "Dial-in", "entry_exit_announcement": false})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let m = r.json();
    let (meeting, cid) = (
        m["id"].as_str().expect("id").to_owned(),
        m["conference_id"]
            .as_str()
            .expect("conference id")
            .to_owned(),
    );
    assert_eq!(m["dial_in"][0]["number"], "+14255550100", "{m}");
    // The organizer removes a participant: ViaWork hangs their call up.
    let remove = |pid: &Value| {
        let path = format!("/api/v1/meetings/{meeting}/participants/{pid}/remove");
        let r = call(&alice, "POST", &path, None);
        assert_eq!(r.status, 204, "{}", r.body);
    };
    let roster = |token: &str| {
        call(
            token,
            "GET",
            &format!("/api/v1/meetings/{meeting}/roster"),
            None,
        )
        .json()
    };
    let wait_roster = |token: &str, what: &str, done: &dyn Fn(&Value) -> bool| {
        let mut last = Value::Null;
        let ok = eventually(Duration::from_secs(30), || {
            last = roster(token);
            done(&last)
        });
        assert!(ok, "the roster never showed {what}: {last}");
        last
    };

    // Alice calls from her own number: the caller ID names her, so after the conference
    // ID and star only her PIN is asked; typed in one go.
    let a = Phone::start(440.0);
    let alice_caller = dial_in(server.udp, "+14255550101", &a);
    assert!(
        eventually(LIMIT, || a.connected()),
        "no prompt reached Alice's phone"
    );
    a.press(&format!("{cid}#*80531#"));
    let r = wait_roster(&alice, "Alice in as leader", &|r| {
        participant(r, "sip:alice@example.com")["place"] == "in"
    });
    assert_eq!(
        participant(&r, "sip:alice@example.com")["leader"],
        true,
        "{r}"
    );

    // An unknown caller types only the conference ID: a guest, who waits in the lobby of a
    // same-enterprise meeting and hears nobody.
    let g = Phone::start(700.0);
    let guest_caller = dial_in(server.udp, "+14255550999", &g);
    assert!(
        eventually(LIMIT, || g.connected()),
        "no prompt reached the guest"
    );
    g.press(&format!("{cid}#"));
    let r = wait_roster(&alice, "the guest in the lobby", &|r| {
        r["participants"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["user"].is_null() && p["place"] == "lobby")
        })
    });
    let guest = r["participants"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["user"].is_null()))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(guest["leader"], false, "{r}");
    assert!(
        eventually(LIMIT, || hears(&g, &[], &[440.0])
            && hears(&a, &[], &[700.0])),
        "the lobby leaks: guest hears 440 at {:.0}, Alice 700 at {:.0}",
        g.level(440.0),
        a.level(700.0)
    );
    // Alice admits everyone waiting from her keypad (*8).
    a.press("*8");
    assert!(
        eventually(LIMIT, || hears(&g, &[440.0], &[700.0])
            && hears(&a, &[700.0], &[440.0])),
        "after *8 guest hears 440 at {:.0}, Alice hears 700 at {:.0}",
        g.level(440.0),
        a.level(700.0)
    );

    // Bob calls from his number and types three wrong PINs: refused, counted, hung up.
    let b = Phone::start(1100.0);
    let bob_caller = dial_in(server.udp, "+14255550102", &b);
    assert!(
        eventually(LIMIT, || b.connected()),
        "no prompt reached Bob's phone"
    );
    b.press(&format!("{cid}#*11111#"));
    b.press("22222#");
    b.press("33333#");
    bob_caller
        .join()
        .expect("ViaWork hangs up after three wrong PINs");
    let info = call(&bob, "GET", "/api/v1/meetings/dial-in", None).json();
    assert_eq!(info["pin_failed_attempts"], 3, "{info}");
    assert!(info["pin_locked"].is_null(), "{info}");
    // An administrator sees the counters and clears them; Bob may not.
    let admin = sign_in(http, "sip:admin@example.com", PASSWORD);
    let lockout = "/api/v1/admin/users/sip:bob@example.com/pin-lockout";
    assert_eq!(call(&bob, "GET", lockout, None).status, 403);
    let l = call(&admin, "GET", lockout, None).json();
    assert_eq!(
        (l["failed_attempts"].clone(), l["window_failures"].clone()),
        (json!(3), json!(3)),
        "{l}"
    );
    assert_eq!(call(&admin, "DELETE", lockout, None).status, 204);
    let info = call(&bob, "GET", "/api/v1/meetings/dial-in", None).json();
    assert_eq!(info["pin_failed_attempts"], 0, "{info}");
    assert!(participant(&roster(&alice), "sip:bob@example.com").is_null());

    // The organizer removes the guest, then Alice's own call: ViaWork hangs both up.
    let pid = guest["id"].clone();
    remove(&pid);
    guest_caller.join().expect("the guest is hung up");
    let me = participant(&roster(&alice), "sip:alice@example.com")["id"].clone();
    remove(&me);
    alice_caller.join().expect("Alice is hung up");
    wait_roster(&alice, "an empty meeting", &|r| {
        r["participants"].as_array().is_some_and(Vec::is_empty)
    });

    // A phone that signals its keypad in SIP INFO types the conference ID the same way: a
    // guest, in the lobby of the meeting (running again).
    assert_eq!(cid.len(), 7, "the INFO scenario sends seven digits");
    let keys: Vec<(String, String)> = cid
        .chars()
        .chain(std::iter::once('#'))
        .enumerate()
        .map(|(i, c)| (format!("d{}", i + 1), c.to_string()))
        .collect();
    let i = Phone::start(1300.0);
    let info_caller = dial_in_with(server.udp, "dialin_info_uac.xml", "+14255550888", &i, &keys);
    let r = wait_roster(&alice, "the INFO caller in the lobby", &|r| {
        r["participants"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["user"].is_null()))
    });
    let info_guest = r["participants"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["user"].is_null()))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(info_guest["place"], "lobby", "{r}");
    let pid = info_guest["id"].clone();
    remove(&pid);
    info_caller.join().expect("the INFO caller is hung up");

    wait_roster(&alice, "an empty meeting", &|r| {
        r["participants"].as_array().is_some_and(Vec::is_empty)
    });
}

#[test]
fn an_anchored_call_becomes_a_meeting_when_a_third_person_is_added() {
    escalation("always");
}

#[test]
fn a_direct_call_is_re_anchored_and_becomes_a_meeting_when_a_third_person_is_added() {
    escalation("never");
}

/// A Call Via Work call (its media anchored through ViaWork, or phone to phone and moved
/// by re-INVITEs) gets a third person.
fn escalation(anchor: &str) {
    let direct = anchor == "never";
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned_store(dir.path());
    // The user's phone, the far party, the third person, in the order the PBX answers.
    let (a, b, c) = (
        Phone::start(440.0),
        Phone::start(700.0),
        Phone::start(1100.0),
    );
    let inf = dir.path().join("phones.csv");
    std::fs::write(
        &inf,
        format!("SEQUENTIAL\n{};\n{};\n{};\n", a.port, b.port, c.port),
    )
    .unwrap();
    let inf = inf.display().to_string();
    let scenario = if direct {
        "pbx_meeting_reinvite_uas.xml"
    } else {
        "pbx_meeting_uas.xml"
    };
    let mut pbx = SippPbx::start_args(scenario, 3, &[], &["-inf", &inf]);
    let pbx_addr = pbx.addr.to_string();
    let server = common::Server::start_with(&[
        ("VIAWORK_DATABASE", db.as_str()),
        ("VIAWORK_PBX_ADDRESS", pbx_addr.as_str()),
        ("VIAWORK_PBX_OPTIONS_INTERVAL_SECS", "0"),
        ("VIAWORK_MEDIA_ANCHOR", anchor),
    ]);
    let http = server.http;
    let call = |method: &str, path: &str, body: Option<Value>, token: &str| {
        request(http, method, path, Some(token), body.as_ref())
    };
    let alice = sign_in(http, "sip:alice@example.com", PASSWORD);

    // An ordinary Call Via Work call, anchored: the two phones hear each other.
    let r = call(
        "POST",
        "/api/v1/calls",
        Some(json!({"to": "+14255550199"})),
        &alice,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_str().expect("id").to_owned();
    wait_call(
        http,
        &alice,
        &id,
        "connected",
        || pbx.messages(),
        |v| v["state"] == "connected" && v["media"] == if direct { "direct" } else { "relayed" },
    );
    // Phones send as soon as they answer: to the media ViaWork offered them, or, joined
    // phone to phone, to each other.
    if direct {
        a.send_to(format!("127.0.0.1:{}", b.port).parse().expect("addr"));
        b.send_to(format!("127.0.0.1:{}", a.port).parse().expect("addr"));
    } else {
        a.send_to(offered_media(&pbx.messages(), "+14255550101"));
        b.send_to(offered_media(&pbx.messages(), "+14255550199"));
    }
    assert!(
        eventually(LIMIT, || hears(&a, &[700.0], &[440.0])
            && hears(&b, &[440.0], &[700.0])),
        "the call's phones do not hear each other: A {:.0}/{:.0} ({}), B {:.0}/{:.0} ({})",
        a.level(440.0),
        a.level(700.0),
        a.heard_samples(),
        b.level(440.0),
        b.level(700.0),
        b.heard_samples()
    );

    // Add a third person: the call becomes a meeting, the third phone is rung.
    let r = call(
        "POST",
        &format!("/api/v1/calls/{id}/participants"),
        Some(json!({"to": "+14255550188"})),
        &alice,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let meeting = r.json()["meeting"]["id"]
        .as_str()
        .expect("meeting")
        .to_owned();
    let invitation = r.json()["invitation"]["id"]
        .as_str()
        .expect("call")
        .to_owned();
    assert_eq!(r.json()["meeting"]["ad_hoc"], true);
    let roster_path = format!("/api/v1/meetings/{meeting}/roster");
    let mut roster = Value::Null;
    assert!(
        eventually(LIMIT, || {
            roster = call("GET", &roster_path, None, &alice).json();
            roster["participants"]
                .as_array()
                .is_some_and(|ps| ps.len() == 3 && ps.iter().all(|p| p["place"] == "in"))
        }),
        "not three in the meeting: {roster}"
    );
    if direct {
        // Re-anchored: each phone sends to the engine stream its last re-INVITE offered.
        a.send_to(offered_media(&pbx.messages(), "+14255550101"));
        b.send_to(offered_media(&pbx.messages(), "+14255550199"));
    }
    assert_each_hears_the_others([("A", &a), ("B", &b), ("C", &c)]);
    // A second escalation of the same call is refused; the call's own controls are the
    // meeting's now.
    let r = call("POST", &format!("/api/v1/calls/{id}/hold"), None, &alice);
    assert_eq!(r.status, 409, "{}", r.body);

    // The organizer removes the far party: only their leg ends; Alice and the third
    // person go on.
    let far = roster["participants"]
        .as_array()
        .and_then(|ps| {
            ps.iter()
                .find(|p| p["user"].is_null() && p["call"] == id.as_str())
        })
        .map(|p| p["id"].clone())
        .expect("the far party in the roster");
    let r = call(
        "POST",
        &format!("/api/v1/meetings/{meeting}/participants/{far}/remove"),
        None,
        &alice,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(
        eventually(LIMIT, || hears(&a, &[1100.0], &[700.0])
            && hears(&c, &[440.0], &[700.0])),
        "after removing the far party A hears 700 at {:.0}",
        a.level(700.0)
    );
    let v = call("GET", &format!("/api/v1/calls/{id}"), None, &alice).json();
    assert_eq!(v["state"], "connected", "{v}");

    // Alice hangs up her call and the invitation: the meeting empties.
    for call_id in [&id, &invitation] {
        let r = call("DELETE", &format!("/api/v1/calls/{call_id}"), None, &alice);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert!(
        eventually(LIMIT, || call("GET", &roster_path, None, &alice).json()
            ["participants"]
            .as_array()
            .is_some_and(Vec::is_empty)),
        "the meeting did not empty"
    );
    wait_call(
        http,
        &alice,
        &id,
        "ended",
        || pbx.messages(),
        |v| v["state"] == "ended",
    );
    pbx.wait_success();
    let invites = pbx.received("INVITE");
    let third = invites
        .iter()
        .find(|i| i.starts_with("INVITE sip:+14255550188@"))
        .expect("the third person was rung");
    assert!(
        third.contains("\"Alice Smith\" <sip:+14255550101@"),
        "{third}"
    );
    if direct {
        // The join (one re-INVITE each) and the re-anchoring (one more each).
        assert_eq!(invites.len(), 3 + 4, "{invites:#?}");
    }
}

/// Where ViaWork's last offer on the dialog it opened with `number` (in SIPp's trace,
/// messages separated by SIPp's dashed lines) asked to receive audio.
fn offered_media(trace: &str, number: &str) -> std::net::SocketAddr {
    let offer = last_offer(trace, number);
    let ip = offer
        .lines()
        .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))
        .expect("c= line");
    let port = offer
        .lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))
        .and_then(|m| m.split(' ').next())
        .expect("m= line");
    format!("{}:{}", ip.trim(), port).parse().expect("address")
}

/// The last INVITE with an offer on the dialog ViaWork opened with `number`, from SIPp's
/// trace.
fn last_offer<'a>(trace: &'a str, number: &str) -> &'a str {
    let messages: Vec<&str> = trace.split("\n----").collect();
    let call_id = messages
        .iter()
        .find(|m| m.contains(&format!("INVITE sip:{number}@")))
        .and_then(|m| m.lines().find_map(|l| l.strip_prefix("Call-ID:")))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no INVITE to {number} in:\n{trace}"));
    let offer = messages
        .iter()
        .rfind(|m| {
            m.lines().any(|l| l.starts_with("INVITE sip:"))
                && m.contains(call_id)
                && m.contains("m=audio ")
        })
        .expect("an INVITE with an offer");
    offer
}
