//! `viawork demo` end to end: the binary starts the lab PBX and the server, prints a banner
//! with the API address and the demo passwords, a call placed as Alice through the API
//! connects her desk phone to Bob's, and SIGTERM stops everything it started. Needs the
//! Debian packages `kamailio` and `baresip-core` (scripts/test.sh installs them).

mod common;

use common::http::{request, sign_in};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the demo may take to print its banner (it starts Kamailio, two phones, seeds
/// a store and starts the server).
const BANNER: Duration = Duration::from_secs(60);
/// How long a call may take to connect, and the demo to stop.
const STEP: Duration = Duration::from_secs(20);

/// The running demo; killed (SIGKILL, by PID) if the test fails before stopping it, in
/// which case the lab's watcher stops Kamailio and the phones.
struct Demo {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Everything printed so far, for failure messages.
    seen: Vec<String>,
}

impl Demo {
    fn start(dir: &Path) -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_viawork"))
            .args(["demo", "--http", "127.0.0.1:0", "--dir"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start viawork demo");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Demo {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until `pick` returns something for one of them (bounded by `within`).
    fn read_until<T>(
        &mut self,
        within: Duration,
        what: &str,
        pick: impl Fn(&str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = pick(&line);
                    self.seen.push(line);
                    if let Some(v) = found {
                        return v;
                    }
                }
                Err(e) => panic!(
                    "viawork demo: no {what} ({e:?}); it printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Sends SIGTERM (what Ctrl-C does too) by PID and waits, bounded, for the exit.
    fn stop(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {}", self.child.id());
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the demo") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "viawork demo did not stop within {STEP:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The value after `key` on a banner line, up to the next space.
fn after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split_whitespace().next()
}

#[test]
fn the_demo_places_a_call_between_its_desk_phones_and_stops_on_sigterm() {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("viawork-demo-test-")
        .tempdir()
        .expect("temp dir");
    let mut demo = Demo::start(dir.path());

    // The banner: the API address first, then the sign-in names and passwords.
    let http: SocketAddr = demo.read_until(BANNER, "API address in the banner", |l| {
        after(l, "API ")
            .and_then(|url| url.strip_prefix("http://"))
            .and_then(|a| a.parse().ok())
    });
    let password = demo.read_until(STEP, "password for Alice", |l| {
        l.contains("sip:alice@example.com")
            .then(|| after(l, "password: ").map(str::to_owned))
            .flatten()
    });
    demo.read_until(STEP, "the curl pair", |l| {
        l.contains("/api/v1/calls").then_some(())
    });
    let banner_at = started.elapsed();
    assert!(dir.path().join("viawork-demo.db").is_file());
    assert!(dir.path().join("viawork-demo.toml").is_file());
    let kamailio_pid: u32 = std::fs::read_to_string(dir.path().join("lab/kamailio.pid"))
        .expect("kamailio.pid in the lab directory")
        .trim()
        .parse()
        .expect("a PID");

    let token = sign_in(http, "sip:alice@example.com", &password);
    let r = request(
        http,
        "POST",
        "/api/v1/calls",
        Some(&token),
        Some(&json!({"to": "+14255550102"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_str().expect("id").to_owned();
    let deadline = Instant::now() + STEP;
    let call = loop {
        let v = request(
            http,
            "GET",
            &format!("/api/v1/calls/{id}"),
            Some(&token),
            None,
        )
        .json();
        if v["state"] == "connected" {
            break v;
        }
        assert!(Instant::now() < deadline, "the call never connected: {v}");
        std::thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(call["callback_number"], "+14255550101", "{call}");
    // The demo reports what the desk phones did, with the caller IDs they showed.
    demo.read_until(STEP, "Alice's phone answering", |l| {
        (l.contains("desk phone 0101") && l.contains("answered") && l.contains("+15551234567"))
            .then_some(())
    });
    demo.read_until(STEP, "Bob's phone answering", |l| {
        (l.contains("desk phone 0102") && l.contains("answered") && l.contains("+14255550101"))
            .then_some(())
    });

    let status = demo.stop();
    assert!(status.success(), "viawork demo exited with {status}");
    assert!(
        !Path::new(&format!("/proc/{kamailio_pid}")).exists(),
        "Kamailio (PID {kamailio_pid}) still runs after the demo stopped"
    );
    // A directory given with --dir is kept.
    assert!(dir.path().join("viawork-demo.db").is_file());
    eprintln!(
        "demo: banner after {banner_at:?}, call connected and demo stopped after {:?}",
        started.elapsed()
    );
}
