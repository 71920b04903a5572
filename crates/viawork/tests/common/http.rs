//! A minimal HTTP/1.1 client for talking to the real server in tests (one request per
//! connection, `Connection: close`), so the tests need no HTTP client crate.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The body as JSON (Null when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request with an optional bearer token and JSON body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    request_raw(
        addr,
        method,
        path,
        token,
        "application/json",
        body.as_bytes(),
    )
}

/// Sends one request with a raw body of `content_type` (uploads).
pub fn request_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> Reply {
    let (status, headers, body) = exchange(addr, method, path, token, content_type, body);
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// `GET`s (or `method`s) `path` and returns the body's bytes; it must answer 200.
pub fn request_bytes(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> Vec<u8> {
    let (status, _, body) = exchange(addr, method, path, token, "application/json", b"");
    assert_eq!(
        status,
        200,
        "{method} {path}: {}",
        String::from_utf8_lossy(&body)
    );
    body
}

/// One request on a fresh connection: status, headers and the raw body.
fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut conn = TcpStream::connect(addr).expect("connect to the HTTP API");
    conn.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    // The server may answer (413) before reading it all; that is fine.
    let _ = conn.write_all(body);
    let mut raw = Vec::new();
    let _ = conn.read_to_end(&mut raw);
    let raw_head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..raw_head_end]).into_owned();
    let body = raw[raw_head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    (status, headers, body)
}

/// Signs in and returns the access token.
pub fn sign_in(addr: SocketAddr, username: &str, password: &str) -> String {
    let r = request(
        addr,
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&serde_json::json!({"username": username, "password": password})),
    );
    assert_eq!(r.status, 200, "sign-in failed: {}", r.body);
    r.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// Polls `GET /api/v1/calls/{id}` until `done` holds (bounded, 20 s); on timeout fails
/// naming `what`, with `context()` (what a peer saw, logs) appended.
pub fn wait_call(
    http: SocketAddr,
    token: &str,
    id: &str,
    what: &str,
    context: impl Fn() -> String,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let what = format!("the call never became {what}");
    poll_with(
        http,
        &format!("/api/v1/calls/{id}"),
        token,
        &what,
        context,
        done,
    )
}

/// Polls `GET path` (which must answer 200) until `done` holds for its JSON (bounded,
/// 20 s); on timeout fails with `what` and the last answer.
pub fn poll(
    http: SocketAddr,
    path: &str,
    token: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    poll_with(http, path, token, what, String::new, done)
}

fn poll_with(
    http: SocketAddr,
    path: &str,
    token: &str,
    what: &str,
    context: impl Fn() -> String,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = request(http, "GET", path, Some(token), None);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        let v = r.json();
        if done(&v) {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {v}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}
