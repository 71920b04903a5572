//! The registrar against SIPp on loopback: digest challenge and registration, expiry
//! limits (423 with Min-Expires), queries, `Contact: *` removal, the same challenge for a
//! wrong password and for a user that does not exist, and 403 for registering someone
//! else's address; the admin API lists what is registered.

mod common;

use common::http::{poll, request, sign_in};
use common::sipp::{run, Run};
use serde_json::Value;

use common::PASSWORD;

struct Lab {
    server: common::Server,
    admin: String,
    _dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("v.db").display());
        for (uri, role) in [
            ("sip:alice@example.com", "user"),
            ("sip:bob@example.com", "user"),
            ("sip:admin@example.com", "admin"),
        ] {
            common::user(&db, uri, "Test", &["--role", role]);
        }
        // SIPp computes MD5 digests only, and takes the first challenge it is given.
        let cfg = dir.path().join("viawork.toml");
        std::fs::write(&cfg, "[registrar]\ndigest_algorithms = [\"MD5\"]\n").unwrap();
        let cfg = cfg.display().to_string();
        let server = common::Server::start_with(&[
            ("VIAWORK_DATABASE", db.as_str()),
            ("VIAWORK_CONFIG", cfg.as_str()),
        ]);
        let admin = sign_in(server.http, "sip:admin@example.com", PASSWORD);
        Lab {
            server,
            admin,
            _dir: dir,
        }
    }

    fn sipp(&self, scenario: &str, user: &str, password: &str, extra: &[&str]) {
        let mut args = vec![
            "-key",
            "user",
            user,
            "-key",
            "domain",
            "example.com",
            "-au",
            user,
            "-ap",
            password,
        ];
        args.extend_from_slice(extra);
        run(&Run {
            scenario,
            target: self.server.udp,
            tcp: false,
            calls: 1,
            rate: 1,
            extra: &args,
        });
    }

    /// Polls Alice's presence as `token` sees it until it reads `availability` (bounded).
    fn wait_presence(&self, token: &str, availability: &str) {
        poll(
            self.server.http,
            "/api/v1/people/sip:alice@example.com/presence",
            token,
            &format!("Alice never became {availability}"),
            |v| v["availability"] == availability,
        );
    }

    fn registrations(&self) -> Vec<Value> {
        let r = request(
            self.server.http,
            "GET",
            "/api/v1/admin/registrations",
            Some(&self.admin),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["registrations"].as_array().unwrap().clone()
    }
}

#[test]
fn sipp_registers_with_digest_within_limits_and_unregisters() {
    let lab = Lab::new();
    assert!(lab.registrations().is_empty());
    lab.sipp("register_uac.xml", "alice", PASSWORD, &[]);
    let regs = lab.registrations();
    assert_eq!(regs.len(), 1, "{regs:#?}");
    assert_eq!(regs[0]["aor"], "sip:alice@example.com");
    assert!(regs[0]["contact"]
        .as_str()
        .unwrap()
        .starts_with("sip:alice@127.0.0.1:"));
    let left = regs[0]["expires_in"].as_u64().unwrap();
    assert!((290..=300).contains(&left), "{left}");
    assert_eq!(regs[0]["user_agent"], "SIPp registrar test");
    assert!(regs[0]["source"]
        .as_str()
        .unwrap()
        .starts_with("udp:127.0.0.1:"));
    // Users may not read it.
    let alice = sign_in(lab.server.http, "sip:alice@example.com", PASSWORD);
    let r = request(
        lab.server.http,
        "GET",
        "/api/v1/admin/registrations",
        Some(&alice),
        None,
    );
    assert_eq!(r.status, 403);

    // A registered client is a signed-in endpoint: Alice is Online to Bob.
    let bob = sign_in(lab.server.http, "sip:bob@example.com", PASSWORD);
    lab.wait_presence(&bob, "Online");

    lab.sipp("unregister_uac.xml", "alice", PASSWORD, &[]);
    assert!(lab.registrations().is_empty());
    lab.wait_presence(&bob, "Offline");
}

#[test]
fn wrong_passwords_and_unknown_users_get_the_same_challenge_and_others_addresses_403() {
    let lab = Lab::new();
    lab.sipp("register_denied_uac.xml", "alice", "wrong-password", &[]);
    lab.sipp("register_denied_uac.xml", "nobody", "whatever", &[]);
    lab.sipp(
        "register_other_uac.xml",
        "alice",
        PASSWORD,
        &["-key", "other", "bob"],
    );
    assert!(lab.registrations().is_empty());
}
