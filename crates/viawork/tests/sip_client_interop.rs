//! A real SIP client against ViaWork's own registrar: baresip (Debian `baresip-core`, 1.0)
//! registers as a directory user with that user's password, watches an API user's
//! presence through its `presence` module (SUBSCRIBE/NOTIFY), exchanges instant messages
//! (MESSAGE) with them both ways, and publishes its own presence (PUBLISH) without
//! overriding the user's chosen Do Not Disturb.
//!
//! baresip runs headless on loopback: commands go to its `ctrl_tcp` module (netstring
//! JSON), and what it prints for the user (`stdio` user interface: an incoming message is
//! the line `sip:bob@example.com: "text"`) goes to a log file the test reads. It is
//! started in its own process group, stopped by PID when the test ends, and `-t` makes it
//! quit on its own should the test process die first. Every wait polls something observable
//! (the admin registrations API, baresip's contact list, its log, Bob's event stream) with
//! a deadline.
//!
//! Why `registrar.digest_algorithms = ["MD5"]`: baresip 1.0's SIP library (libre 1.1)
//! gives up with "Function not implemented" (ENOSYS) on the first challenge whose algorithm
//! is not MD5 instead of picking the one it supports, so the default challenge pair
//! (SHA-256 first, then MD5, RFC 8760) stops it before it sends a second REGISTER.
//! `docs/sip-clients.md` tells administrators the same.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::events::EventStream;
use common::http::{request, sign_in};
use common::PASSWORD;
use serde_json::{json, Value};

const ALICE: &str = "sip:alice@example.com";
const BOB: &str = "sip:bob@example.com";
const ADMIN: &str = "sip:admin@example.com";

/// How long any one wait may take.
const WAIT: Duration = Duration::from_secs(20);

/// baresip on PATH, or None (the test is skipped, saying so).
fn baresip_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("baresip"))
        .find(|p| p.is_file())
}

/// baresip's module directory (Debian's, or a local build's).
fn modules_dir() -> PathBuf {
    [
        "/usr/lib/baresip/modules",
        "/usr/local/lib/baresip/modules",
        "/usr/lib/x86_64-linux-gnu/baresip/modules",
        "/usr/lib/aarch64-linux-gnu/baresip/modules",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|d| d.join("ctrl_tcp.so").is_file() && d.join("presence.so").is_file())
    .expect("baresip is installed but its modules (ctrl_tcp.so, presence.so) are not")
}

/// A running baresip: the child process (its own process group) and its control port.
struct Baresip {
    child: Child,
    ctrl: u16,
    log: PathBuf,
    /// stdin, kept open: the `stdio` interface (which prints incoming messages) needs a
    /// pollable stdin, and epoll refuses /dev/null.
    _stdin: Option<std::process::ChildStdin>,
}

impl Baresip {
    /// Writes `config`, `accounts` and `contacts` into `dir` and starts baresip there.
    fn start(binary: &Path, dir: &Path, registrar: std::net::SocketAddr) -> Baresip {
        let ports = viawork::lab::free_ports(&[2, 1]).expect("free loopback ports");
        let (sip, ctrl) = (ports[0], ports[1]);
        let config = format!(
            "# baresip for the ViaWork interop test: loopback only, no sound card.
poll_method\t\tepoll
sip_listen\t\t127.0.0.1:{sip}
net_interface\t\t127.0.0.1
audio_source\t\tausine,440
ausrc_srate\t\t48000
ausrc_channels\t\t2
audio_player\t\taubridge,nil
module_path\t\t{modules}
module\t\t\tstdio.so
module\t\t\tg711.so
module\t\t\tausine.so
module\t\t\taubridge.so
module_app\t\taccount.so
module_app\t\tcontact.so
module_app\t\tmenu.so
module_app\t\tpresence.so
module_app\t\tctrl_tcp.so
ctrl_tcp_listen\t\t127.0.0.1:{ctrl}
",
            modules = modules_dir().display(),
        );
        fs::write(dir.join("config"), config).unwrap();
        // Alice's account: the registrar (ViaWork) is also the outbound proxy, since
        // example.com has no DNS here. The password is her ViaWork password. `pubint`
        // makes the `presence` module PUBLISH her state (plain open at start-up).
        fs::write(
            dir.join("accounts"),
            format!(
                "\"Alice\" <{ALICE}>;auth_pass={PASSWORD};outbound=\"sip:{registrar}\";\
                 regint=600;pubint=600\n"
            ),
        )
        .unwrap();
        // Bob is her only contact, watched with SUBSCRIBE (`presence=p2p`), and so the
        // current contact `message` sends to.
        fs::write(
            dir.join("contacts"),
            format!("\"Bob\" <{BOB}>;presence=p2p\n"),
        )
        .unwrap();
        let log = dir.join("baresip.log");
        let out = fs::File::create(&log).unwrap();
        let mut child = Command::new(binary)
            .args(["-f", &dir.display().to_string(), "-t", "180"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("start baresip");
        let stdin = child.stdin.take();
        Baresip {
            child,
            ctrl,
            log,
            _stdin: stdin,
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends one `ctrl_tcp` command and returns its `data` (the command's output).
    fn command(&self, command: &str, params: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut conn = loop {
            match TcpStream::connect(("127.0.0.1", self.ctrl)) {
                Ok(c) => break c,
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "baresip's ctrl_tcp never listened: {e}\n{}",
                        self.log()
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        };
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let body = json!({"command": command, "params": params, "token": "t"}).to_string();
        write!(conn, "{}:{body},", body.len()).unwrap();
        // Netstrings until the response (events may come first).
        let mut buf = Vec::new();
        loop {
            if let Some(v) = take_netstring(&mut buf) {
                if v["response"] == true {
                    assert_eq!(v["ok"], true, "baresip {command}: {v}");
                    return v["data"].as_str().unwrap_or_default().to_owned();
                }
                continue;
            }
            let mut chunk = [0u8; 4096];
            let n = conn
                .read(&mut chunk)
                .unwrap_or_else(|e| panic!("baresip {command}: {e}\n{}", self.log()));
            assert!(n > 0, "baresip closed ctrl_tcp\n{}", self.log());
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Polls `check` (bounded) until it returns Some; fails naming `what` with the log.
    fn wait<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(v) = check() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "baresip: {what}\n--- baresip log ---\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Bob's presence as baresip's contact list shows it (`Online`, `Busy`, `Offline`).
    fn bobs_status(&self) -> String {
        let list = self.command("contacts", "");
        let line = list
            .lines()
            .find(|l| l.contains(BOB))
            .unwrap_or_else(|| panic!("Bob is not in baresip's contacts: {list}"));
        // `>     \x1b[31mOffline\x1b[;m Bob <sip:bob@example.com>`: drop the colour codes.
        let plain: String = strip_ansi(line);
        plain
            .split_whitespace()
            .find(|w| ["Online", "Offline", "Busy", "Unknown"].contains(w))
            .unwrap_or("")
            .to_owned()
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        // By PID: the child we started.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Removes and parses one complete netstring (`LEN:JSON,`) from the front of `buf`.
fn take_netstring(buf: &mut Vec<u8>) -> Option<Value> {
    let colon = buf.iter().position(|b| *b == b':')?;
    let len: usize = std::str::from_utf8(&buf[..colon]).ok()?.parse().ok()?;
    let end = colon + 1 + len;
    if buf.len() < end + 1 {
        return None;
    }
    let v = serde_json::from_slice(&buf[colon + 1..end]).unwrap_or(Value::Null);
    buf.drain(..=end);
    Some(v)
}

#[test]
fn baresip_registers_watches_presence_and_exchanges_messages_with_an_api_user() {
    let Some(binary) = baresip_binary() else {
        eprintln!(
            "SKIPPED baresip_registers_watches_presence_and_exchanges_messages_with_an_api_user: \
             `baresip` is not on PATH (install the Debian package baresip-core)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("v.db").display());
    common::user(&db, ALICE, "Alice", &[]);
    common::user(&db, BOB, "Bob", &[]);
    common::user(&db, ADMIN, "Admin", &["--role", "admin"]);
    let cfg = dir.path().join("viawork.toml");
    // baresip 1.0 answers MD5 challenges only and gives up on any other (module docs).
    fs::write(&cfg, "[registrar]\ndigest_algorithms = [\"MD5\"]\n").unwrap();
    let cfg = cfg.display().to_string();
    let server = common::Server::start_with(&[
        ("VIAWORK_DATABASE", db.as_str()),
        ("VIAWORK_CONFIG", cfg.as_str()),
    ]);
    let http = server.http;
    let admin = sign_in(http, ADMIN, PASSWORD);
    let bob = sign_in(http, BOB, PASSWORD);
    // Bob is signed in through the API: an open event stream makes him Online.
    let mut bob_events = EventStream::open(http, &bob, "");
    // Alice chose Do Not Disturb (through the API, signed in nowhere), and Bob watches her.
    let alice = sign_in(http, ALICE, PASSWORD);
    let r = request(
        http,
        "PUT",
        "/api/v1/me/presence",
        Some(&alice),
        Some(&json!({ "availability": "DoNotDisturb" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = request(
        http,
        "POST",
        "/api/v1/presence/subscriptions",
        Some(&bob),
        Some(&json!({ "uris": [ALICE] })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let alice_is = |events: &mut EventStream, availability: &str| {
        events.next_matching(&format!("Alice {availability}"), |e| {
            e["type"] == "presence.updated"
                && e["data"]["uri"] == ALICE
                && e["data"]["availability"] == availability
        });
    };

    let phone_dir = dir.path().join("baresip");
    fs::create_dir(&phone_dir).unwrap();
    let phone = Baresip::start(&binary, &phone_dir, server.udp);

    // Registered with Alice's password: the admin API lists the contact.
    let reg = phone.wait("Alice's registration in the admin API", || {
        let r = request(
            http,
            "GET",
            "/api/v1/admin/registrations",
            Some(&admin),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["registrations"]
            .as_array()?
            .iter()
            .find(|r| r["aor"] == ALICE)
            .cloned()
    });
    assert!(
        reg["user_agent"]
            .as_str()
            .is_some_and(|ua| ua.starts_with("baresip")),
        "{reg}"
    );
    assert!(
        reg["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("udp:127.0.0.1:")),
        "{reg}"
    );
    phone.wait("registration confirmed in its own log", || {
        phone.log().contains("200 OK (ViaWork").then_some(())
    });
    // Signed in on her phone, Alice reads Do Not Disturb to Bob: neither the registration
    // nor the phone publishing plain "open" at start-up overrides her choice.
    alice_is(&mut bob_events, "DoNotDisturb");

    // Presence: baresip subscribed to Bob and shows him Online, then Busy once he says so
    // through the API, then Online again.
    phone.wait("Bob Online in the contact list", || {
        (phone.bobs_status() == "Online").then_some(())
    });
    let set = |availability: &str| {
        let r = request(
            http,
            "PUT",
            "/api/v1/me/presence",
            Some(&bob),
            Some(&json!({ "availability": availability })),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    set("Busy");
    phone.wait("Bob Busy in the contact list", || {
        (phone.bobs_status() == "Busy").then_some(())
    });
    set("Online");
    phone.wait("Bob Online again in the contact list", || {
        (phone.bobs_status() == "Online").then_some(())
    });
    // baresip logs each change it was notified of.
    let log = strip_ansi(&phone.log());
    for change in ["from Online to Busy", "from Busy to Online"] {
        assert!(
            log.contains(&format!("<{BOB}> changed status {change}")),
            "{log}"
        );
    }

    // API → baresip: Bob writes to Alice; baresip prints it, and Bob's clients learn it
    // was delivered (the client's 200).
    let r = request(
        http,
        "POST",
        "/api/v1/conversations",
        Some(&bob),
        Some(&json!({"to": [ALICE], "message": "Lunch at noon?"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let message_id = r.json()["message"]["id"].clone();
    phone.wait("Bob's message printed", || {
        phone
            .log()
            .contains(&format!("{BOB}: \"Lunch at noon?\""))
            .then_some(())
    });
    bob_events.next_matching("message.status delivered", |e| {
        e["type"] == "message.status"
            && e["data"]["message_id"] == message_id
            && e["data"]["recipients"][0]["status"] == "delivered"
    });

    // baresip → API: Alice answers from the phone (its current contact is Bob); it arrives
    // on Bob's event stream from her, and the phone's MESSAGE got a 2xx.
    phone.command("message", "Yes, see you there");
    let got = bob_events.next_matching("message.received from Alice", |e| {
        e["type"] == "message.received" && e["data"]["message"]["from"] == ALICE
    });
    assert_eq!(got["data"]["message"]["text"], "Yes, see you there");
    assert_eq!(got["data"]["direction"], "incoming");
    assert!(
        !phone.log().contains("message_send"),
        "baresip reported a failed MESSAGE:\n{}",
        phone.log()
    );

    // Alice sets her phone offline: it PUBLISHes closed, which speaks for its own
    // registration too, so Bob sees her Offline; online again, Do Not Disturb again.
    phone.command("presence_offline", "");
    alice_is(&mut bob_events, "Offline");
    phone.command("presence_online", "");
    alice_is(&mut bob_events, "DoNotDisturb");
    let online = bob_events.seen.iter().find(|e| {
        e["type"] == "presence.updated"
            && e["data"]["uri"] == ALICE
            && e["data"]["availability"] == "Online"
    });
    assert!(
        online.is_none(),
        "the phone overrode Do Not Disturb: {online:?}"
    );
    assert!(
        !phone.log().contains("publisher got error"),
        "baresip's PUBLISH was refused:\n{}",
        phone.log()
    );
}
