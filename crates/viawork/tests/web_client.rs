//! The browser client end to end: headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from `tests/web/`) against the real server, whose trunk goes to SIPp
//! playing the PBX on loopback (`tests/sipp/pbx_uas.xml`), with a SIPp caller on the PBX
//! side (127.0.0.2, a trusted source) for incoming calls.
//!
//! The spec (`tests/web/client.spec.mjs`) runs one phase per browser launch; this test
//! starts the server once, sets up the PBX each phase needs on the same port, and acts
//! when a phase prints `READY` (starting the caller once the browser's event stream is
//! open). Phases:
//! - `call`: sign in, search, add a contact, Call to Connected, hold, resume, mute, Add
//!   person (colleagues suggested; this server's media is direct, so the call cannot
//!   become a meeting and the page says why), DTMF, hang up, the call log, a `/call?to=` link confirmed and called on a callback number
//!   chosen in the browser;
//! - `im`: two browsers see each other's presence change and exchange IM with typing and
//!   a file, Add audio calls from the conversation; markup is shown as text; sign-out is seen as Offline; a message waits for someone
//!   signed out; another user in the same tab sees nothing of the last; Russian;
//! - `forwarding`: simultaneous ring set in one tab shows in another, a bad number is
//!   refused naming the field, off again;
//! - `admin`: a user has no Administration; an administrator adds, edits and deletes a
//!   dial-plan rule (the test box follows), creates, edits, imports and deletes policies,
//!   creates a person, grants a policy, edits every kind of field (refusals shown at the
//!   field) and finds them after a reload, imports and deletes people; the person signs in;
//! - `group`: 61 messages, of which the window shows 50 and loads the rest on scrolling
//!   up; a conversation started with two people, a third added by another member;
//! - `incoming`: the notification, Accept, the desk phone rung as a callback, connected,
//!   the caller hangs up;
//! - `decline`: the notification's Decline, the caller gets 603;
//! - `desk-phone`: answered on the desk phone, the notification (and the browser's, with
//!   the tab hidden) closes by itself;
//! - `meetings`: the dial-in PIN (refused at its field, then generated and shown once) and
//!   bridge numbers; a meeting scheduled (a bad end time refused at its field), edited,
//!   its join link copied, deleted; Meet Now rings Alice's phone ("Dialing out to …"),
//!   SIPp answers (`pbx_meeting_uas.xml`, media to a tone phone) and the roster shows her as
//!   a leader, speaking; she locks the meeting, Bob opens its join URL and joins into the
//!   lobby, she admits him, mutes him, records (both see "Recording") and stops; the
//!   recording is listed, downloads as a WAV, plays, and she deletes it; she mutes herself, reloads the page (the meeting comes
//!   back), removes him and hangs up, and the roster empties;
//! - `bridge`: Call on a bridge number in the Meetings area places a Call Via Work call to it;
//! - `reconnect`: the server restarts under two browsers; they reconnect with `since=`,
//!   get `resync`, reload and subscribe again;
//! - `add-person`: on the server restarted with `media.anchor = "always"`, Alice calls a
//!   number and adds a third: the meeting panel takes over with the three of them in it;
//!   she removes the two others and hangs up.
//!
//! Screenshots go to `target/tmp/web-client/`; with `UPDATE_SCREENSHOTS=1` they are also
//! copied to `docs/screenshots/`. Needs `node`, `chromium` and `npm ci` in `tests/web`
//! (scripts/test.sh installs them).

mod common;

use common::pbx::SippPbx;
use common::rtp_phone::Phone;
use common::sipp::{free_port, run_at, Run};
use common::PASSWORD;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const ALICE: &str = "sip:alice@example.com";
const BOB: &str = "sip:bob@example.com";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-client")
}

/// Fails at once, with what to do, when the browser or the node project is missing.
fn check_tools() {
    let web = workspace().join("tests/web");
    assert!(
        web.join("node_modules/playwright-core/package.json")
            .exists(),
        "tests/web has no node_modules: run `npm ci --prefix tests/web` (scripts/test.sh does)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: `apt-get install chromium` (scripts/test.sh does)"
    );
}

/// Runs one phase of the spec, calling `on_ready` for each `READY` line it prints, and
/// fails with its output unless it passes. Bounded by `timeout` (90 s, then SIGKILL).
fn phase(http: std::net::SocketAddr, name: &str, mut on_ready: impl FnMut(&str)) {
    let started = Instant::now();
    let mut child = Command::new("timeout")
        .args(["-k", "5", "90", "node", "client.spec.mjs", name])
        .current_dir(workspace().join("tests/web"))
        .env("VIAWORK_URL", format!("http://{http}"))
        .env("PASSWORD", PASSWORD)
        .env("ARTIFACTS", artifacts())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node must be installed (scripts/test.sh installs nodejs)");
    let stderr = child.stderr.take().expect("stderr");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            s.push_str(&line);
            s.push('\n');
        }
        s
    });
    let mut out = String::new();
    for line in BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .map_while(Result::ok)
    {
        if let Some(what) = line.strip_prefix("READY ") {
            on_ready(what);
        }
        out.push_str(&line);
        out.push('\n');
    }
    let status = child.wait().expect("wait for node");
    let errors = errors.join().unwrap_or_default();
    eprintln!(
        "web phase {name}: {:.1} s\n{out}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        status.success() && out.contains(&format!("PASSED {name}")),
        "web phase {name} failed ({status}):\n{out}\n{errors}"
    );
}

/// Alice (line +1 425 555 0101 ext. 101) and Bob (+1 425 555 0102) with Enterprise Voice,
/// colleagues to search among, Call Via Work on, the global caller ID, and a config
/// trusting 127.0.0.2 as the PBX.
fn provision(dir: &Path) -> (String, PathBuf) {
    let db = format!("sqlite://{}", dir.join("v.db").display());
    common::user(
        &db,
        ALICE,
        "Alice Smith",
        &[
            "--line-uri",
            "tel:+14255550101;ext=101",
            "--enterprise-voice",
        ],
    );
    common::user(
        &db,
        BOB,
        "Bob Jones",
        &["--line-uri", "tel:+14255550102", "--enterprise-voice"],
    );
    common::user(
        &db,
        "sip:bonnie@example.com",
        "Bonnie Tyler",
        &["--line-uri", "tel:+14255550103", "--enterprise-voice"],
    );
    common::user(&db, "sip:carl@example.com", "Carl Boyd", &[]);
    common::user(
        &db,
        "sip:admin@example.com",
        "Ada Admin",
        &["--role", "admin"],
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
    let cfg = dir.join("viawork.toml");
    let recordings = dir.join("recordings").display().to_string();
    std::fs::write(
        &cfg,
        format!(
            "[pbx]\ntrusted_sources = [\"127.0.0.2/32\"]\n\n\
         [meetings]\nrecordings_dir = {recordings:?}\n\n\
         [[meetings.bridge_numbers]]\nnumber = \"+14255550150\"\nextension = \"5150\"\n\
         name = \"Redmond\"\nlanguages = [\"en-US\"]\n"
        ),
    )
    .unwrap();
    (db, cfg)
}

/// Carol on the PBX side calls Alice's number with `scenario` (`incoming_caller_uac.xml`:
/// answered, then she hangs up after 1 s; `incoming_declined_uac.xml`: refused with 603).
fn carol_calls_alice(
    server: std::net::SocketAddr,
    scenario: &'static str,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        run_at(
            "127.0.0.2",
            free_port(),
            &Run {
                scenario,
                target: server,
                tcp: false,
                calls: 1,
                rate: 1,
                extra: &["-key", "to", "+14255550101"],
            },
        );
    })
}

#[test]
fn the_browser_client_calls_messages_and_answers_incoming_calls() {
    check_tools();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (db, cfg) = provision(dir.path());
    let pbx_port = free_port();
    let pbx_addr = format!("127.0.0.1:{pbx_port}");
    let cfg = cfg.display().to_string();
    let server = common::Server::start_with(&[
        ("VIAWORK_DATABASE", db.as_str()),
        ("VIAWORK_CONFIG", cfg.as_str()),
        ("VIAWORK_PBX_ADDRESS", pbx_addr.as_str()),
        ("VIAWORK_PBX_OPTIONS_INTERVAL_SECS", "0"),
    ]);
    let _ = std::fs::remove_dir_all(artifacts());

    // Click to call, then a call from a phone link: both legs of each answered.
    let mut pbx = SippPbx::start_on(pbx_port, "pbx_uas.xml", 4, &[]);
    phase(server.http, "call", |_| {});
    pbx.wait_success();
    // The linked call rang the number chosen in the browser first.
    let invites = pbx.received("INVITE");
    assert!(
        invites.iter().any(|i| i
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("INVITE sip:+14255550100@"))),
        "no callback to the chosen number: {invites:#?}"
    );
    drop(pbx);

    // IM, with Add audio: both legs answered.
    let mut pbx = SippPbx::start_on(pbx_port, "pbx_uas.xml", 2, &[]);
    phase(server.http, "im", |_| {});
    pbx.wait_success();
    drop(pbx);
    phase(server.http, "forwarding", |_| {});
    phase(server.http, "admin", |_| {});
    phase(server.http, "group", |_| {});

    // Meetings: Alice's Meet Now and Bob's join by its link are two dial-outs, each
    // answered with its media to a tone phone (so the roster has someone speaking); both
    // end with a BYE from ViaWork (Bob removed, Alice hanging up).
    let phones = [Phone::start(440.0), Phone::start(700.0)];
    let inf = dir.path().join("meeting-phones.csv");
    let lines: String = phones.iter().map(|p| format!("{};\n", p.port)).collect();
    std::fs::write(&inf, format!("SEQUENTIAL\n{lines}")).unwrap();
    let inf = inf.display().to_string();
    let mut pbx = SippPbx::start_on_args(pbx_port, "pbx_meeting_uas.xml", 2, &[], &["-inf", &inf]);
    phase(server.http, "meetings", |_| {});
    pbx.wait_success();
    let invites: Vec<String> = pbx
        .received("INVITE")
        .iter()
        .filter_map(|i| i.lines().next().map(str::to_owned))
        .collect();
    let to = |n: usize, number: &str| {
        invites
            .get(n)
            .is_some_and(|l| l.starts_with(&format!("INVITE sip:{number}@")))
    };
    assert!(
        invites.len() == 2 && to(0, "+14255550101") && to(1, "+14255550102"),
        "the dial-outs did not ring Alice's then Bob's phone: {invites:#?}"
    );
    drop(pbx);
    drop(phones);

    // Calling the bridge number from the Meetings area: a Call Via Work call, both legs
    // answered, the far one to the bridge number.
    let mut pbx = SippPbx::start_on(pbx_port, "pbx_uas.xml", 2, &[]);
    phase(server.http, "bridge", |_| {});
    pbx.wait_success();
    let invites = pbx.received("INVITE");
    assert!(
        invites.iter().any(|i| i
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("INVITE sip:+14255550150@"))),
        "no call to the bridge number: {invites:#?}"
    );
    drop(pbx);

    // Incoming, accepted in the browser: the desk phone branch rings until cancelled,
    // then the Call Via Work callback to the desk phone answers.
    let mut pbx = SippPbx::start_on(pbx_port, "pbx_uas.xml", 2, &[("far_code", "0")]);
    let mut caller = None;
    phase(server.http, "incoming", |_| {
        caller = Some(carol_calls_alice(server.udp, "incoming_caller_uac.xml"))
    });
    caller
        .expect("the phase asked for the caller")
        .join()
        .expect("Carol's call succeeds");
    pbx.wait_success();
    drop(pbx);

    // Incoming, declined in the browser: the desk phone branch is cancelled, the caller
    // gets 603.
    let mut pbx = SippPbx::start_on(pbx_port, "pbx_uas.xml", 1, &[("far_code", "0")]);
    let mut caller = None;
    phase(server.http, "decline", |_| {
        caller = Some(carol_calls_alice(server.udp, "incoming_declined_uac.xml"))
    });
    caller
        .expect("the phase asked for the caller")
        .join()
        .expect("Carol is declined with 603");
    pbx.wait_success();
    drop(pbx);

    // Incoming, answered on the desk phone.
    let mut pbx = SippPbx::start_on(pbx_port, "pbx_uas.xml", 1, &[]);
    let mut caller = None;
    phase(server.http, "desk-phone", |_| {
        caller = Some(carol_calls_alice(server.udp, "incoming_caller_uac.xml"))
    });
    caller
        .expect("the phase asked for the caller")
        .join()
        .expect("Carol's call succeeds");
    pbx.wait_success();

    // The server restarts (same store, same HTTP port) under two signed-in browsers.
    let http = server.http;
    let http_listen = http.to_string();
    let mut server = Some(server);
    phase(http, "reconnect", |_| {
        drop(server.take());
        server = Some(common::Server::start_with(&[
            ("VIAWORK_DATABASE", db.as_str()),
            ("VIAWORK_CONFIG", cfg.as_str()),
            ("VIAWORK_PBX_ADDRESS", pbx_addr.as_str()),
            ("VIAWORK_PBX_OPTIONS_INTERVAL_SECS", "0"),
            ("VIAWORK_HTTP_LISTEN", http_listen.as_str()),
        ]));
    });
    assert!(server.as_ref().is_some_and(|s| s.http == http));

    // Adding a person needs the call's media anchored: the server again, anchoring. The
    // user's phone, the far party and the third person answer with tone phones. Alice
    // removes the two others and hangs up; the far party and Alice's phone get a BYE.
    // (The third person, rung by the invitation call, gets none when removed: see the
    // branch report. SIPp is stopped rather than waited for.)
    drop(pbx);
    drop(server.take());
    let server = common::Server::start_with(&[
        ("VIAWORK_DATABASE", db.as_str()),
        ("VIAWORK_CONFIG", cfg.as_str()),
        ("VIAWORK_PBX_ADDRESS", pbx_addr.as_str()),
        ("VIAWORK_PBX_OPTIONS_INTERVAL_SECS", "0"),
        ("VIAWORK_MEDIA_ANCHOR", "always"),
    ]);
    let phones = [
        Phone::start(440.0),
        Phone::start(700.0),
        Phone::start(1100.0),
    ];
    let inf = dir.path().join("add-person-phones.csv");
    let lines: String = phones.iter().map(|p| format!("{};\n", p.port)).collect();
    std::fs::write(&inf, format!("SEQUENTIAL\n{lines}")).unwrap();
    let inf = inf.display().to_string();
    let pbx = SippPbx::start_on_args(pbx_port, "pbx_meeting_uas.xml", 3, &[], &["-inf", &inf]);
    phase(server.http, "add-person", |_| {});
    let rung = pbx
        .received("INVITE")
        .iter()
        .any(|i| i.starts_with("INVITE sip:+14255550188@"));
    assert!(rung, "the third person was not rung");
    assert!(
        common::rtp_phone::eventually(std::time::Duration::from_secs(10), || pbx
            .received("BYE")
            .len()
            >= 3),
        "the far party, the third person and Alice's phone were not all hung up: {}",
        pbx.messages()
    );
    drop(pbx);
    drop(phones);

    for shot in [
        "main-window",
        "connected-call",
        "phone-width",
        "conversation",
        "call-forwarding",
        "russian",
        "admin",
        "group-conversation",
        "incoming-call",
        "meetings",
    ] {
        let from = artifacts().join(format!("{shot}.png"));
        assert!(from.exists(), "no screenshot {}", from.display());
        if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
            let to = workspace().join(format!("docs/screenshots/{shot}.png"));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).unwrap();
        }
    }
    eprintln!(
        "web client test: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}
