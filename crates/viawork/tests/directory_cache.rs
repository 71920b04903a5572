//! The API's directory cache (`directory_cache_ms`) and the call-setup limit
//! (`calls.max_pending_setups`), end to end against the real server.
//!
//! The cache keeps tokens, users, policies, dial plans and routing in memory; changes made
//! behind the server's back (the admin CLI writing the SQLite file, another writer on the
//! store) must still count within the interval, and changes made through the server's own
//! API on the next request. Each "within the interval" is polled with a deadline far longer
//! than the interval, never slept for.

mod common;

use common::http::{request, sign_in};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const ALICE: &str = "sip:alice@example.com";
const BOB: &str = "sip:bob@example.com";
const CAROL: &str = "sip:carol@example.com";
const PASSWORD: &str = "S3cret-pass";

/// A store with Alice, Bob and Carol (Enterprise Voice), Call Via Work enabled globally and
/// the caller ID set.
fn provisioned_store(dir: &std::path::Path) -> String {
    let db = format!("sqlite://{}", dir.join("v.db").display());
    for (n, sip_uri) in [ALICE, BOB, CAROL].into_iter().enumerate() {
        let line = format!("tel:+1425555010{n}");
        common::cli(
            &db,
            &[
                "user",
                "new",
                "--sip-uri",
                sip_uri,
                "--name",
                "Some One",
                "--password",
                PASSWORD,
                "--line-uri",
                &line,
                "--enterprise-voice",
            ],
        );
    }
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
    db
}

/// Polls `GET /api/v1/me` with `token` until `done(status, body)` holds; fails after 15 s
/// (the cache interval in these tests is 300 ms).
fn wait_me(
    http: SocketAddr,
    token: &str,
    what: &str,
    done: impl Fn(u16, &serde_json::Value) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = request(http, "GET", "/api/v1/me", Some(token), None);
        if done(r.status, &r.json()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still {} {} after 15 s",
            r.status,
            r.body
        );
        std::thread::yield_now();
    }
}

#[test]
fn changes_by_the_cli_or_another_writer_count_within_the_interval_and_own_changes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned_store(dir.path());
    let server = common::Server::start_with(&[
        ("VIAWORK_DATABASE", db.as_str()),
        ("VIAWORK_DIRECTORY_CACHE_MS", "300"),
    ]);
    let alice = sign_in(server.http, ALICE, PASSWORD);
    let bob = sign_in(server.http, BOB, PASSWORD);
    let carol = sign_in(server.http, CAROL, PASSWORD);
    let carol2 = sign_in(server.http, CAROL, PASSWORD);
    for t in [&alice, &bob, &carol, &carol2] {
        let r = request(server.http, "GET", "/api/v1/me", Some(t), None);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["callViaWork"]["policy"]["enabled"], true);
    }

    // A policy changed by the CLI (which writes the file directly).
    common::cli(
        &db,
        &[
            "policy",
            "set",
            "--identity",
            "Global",
            "--enabled",
            "false",
        ],
    );
    wait_me(server.http, &alice, "policy disabled by the CLI", |s, v| {
        s == 200 && v["callViaWork"]["policy"]["enabled"] == false
    });

    // A user disabled by the CLI: their token stops working.
    common::cli(
        &db,
        &["user", "set", "--sip-uri", ALICE, "--enabled", "false"],
    );
    wait_me(server.http, &alice, "user disabled by the CLI", |s, _| {
        s == 401
    });

    // A user removed by the CLI: their tokens go with them.
    common::cli(&db, &["user", "remove", "--sip-uri", BOB]);
    wait_me(server.http, &bob, "user removed by the CLI", |s, _| {
        s == 401
    });

    // Tokens revoked by another writer on the same store.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = viawork::store::open(&db).await.unwrap();
        let carol_row = store.get_user_by_sip_uri(CAROL).await.unwrap().unwrap();
        assert_eq!(store.revoke_user_tokens(carol_row.id).await.unwrap(), 2);
        store.close().await;
    });
    wait_me(server.http, &carol, "token revoked in the store", |s, _| {
        s == 401
    });

    // Signing out through the API counts on the very next request.
    let carol3 = sign_in(server.http, CAROL, PASSWORD);
    let r = request(server.http, "GET", "/api/v1/me", Some(&carol3), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = request(
        server.http,
        "DELETE",
        "/api/v1/auth/token",
        Some(&carol3),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = request(server.http, "GET", "/api/v1/me", Some(&carol3), None);
    assert_eq!(
        r.status, 401,
        "a signed-out token is refused at once: {}",
        r.body
    );
}

/// Sends a `POST /api/v1/calls` whose body is announced but not yet sent, so that the
/// request holds its setup place while the server waits for the body.
fn post_without_body(http: SocketAddr, token: &str, body: &str) -> TcpStream {
    let mut conn = TcpStream::connect(http).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    write!(
        conn,
        "POST /api/v1/calls HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    conn.flush().unwrap();
    conn
}

#[test]
fn a_call_setup_beyond_the_limit_is_refused_at_once_with_503_overloaded() {
    let dir = tempfile::tempdir().unwrap();
    let db = provisioned_store(dir.path());
    // A trunk that is never used: every request here fails validation before any SIP.
    let server = common::Server::start_with(&[
        ("VIAWORK_DATABASE", db.as_str()),
        ("VIAWORK_PBX_ADDRESS", "127.0.0.1:9"),
        ("VIAWORK_PBX_OPTIONS_INTERVAL_SECS", "0"),
        ("VIAWORK_CALLS_MAX_PENDING_SETUPS", "1"),
    ]);
    let alice = sign_in(server.http, ALICE, PASSWORD);
    let bad = json!({"to": ""});
    let r = request(
        server.http,
        "POST",
        "/api/v1/calls",
        Some(&alice),
        Some(&bad),
    );
    assert_eq!(
        r.status, 400,
        "a free place: the request is checked: {}",
        r.body
    );

    // One setup waits for its body and holds the only place.
    let body = bad.to_string();
    let mut held = post_without_body(server.http, &alice, &body);
    let deadline = Instant::now() + Duration::from_secs(15);
    let refused = loop {
        let r = request(
            server.http,
            "POST",
            "/api/v1/calls",
            Some(&alice),
            Some(&bad),
        );
        if r.status == 503 {
            break r;
        }
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(
            Instant::now() < deadline,
            "never refused while a setup was held"
        );
        std::thread::yield_now();
    };
    assert_eq!(
        refused.json()["error"]["code"],
        "Overloaded",
        "{}",
        refused.body
    );
    assert_eq!(refused.header("retry-after"), Some("1"));
    // Refused before the token is even looked at.
    let r = request(server.http, "POST", "/api/v1/calls", None, Some(&bad));
    assert_eq!(r.status, 503, "{}", r.body);

    // The held request completes; its place is free again.
    held.write_all(body.as_bytes()).unwrap();
    let mut raw = String::new();
    held.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    let r = request(
        server.http,
        "POST",
        "/api/v1/calls",
        Some(&alice),
        Some(&bad),
    );
    assert_eq!(r.status, 400, "{}", r.body);

    let metrics = request(server.http, "GET", "/metrics", None, None).body;
    let rejected = metrics
        .lines()
        .find(|l| l.starts_with("viawork_calls_rejected_total{reason=\"overloaded\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok());
    assert!(rejected.is_some_and(|n| n >= 2.0), "{metrics}");
}
