//! Test support: start the real `viawork` binary on loopback with ephemeral ports, learn
//! the ports from its startup lines, and stop it (by PID, via the child handle) on drop.
#![allow(dead_code)]

pub mod events;
pub mod http;
pub mod pbx;
pub mod rtp_phone;
pub mod sipp;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// A running server.
pub struct Server {
    child: Child,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub tls: Option<SocketAddr>,
    pub ws: Option<SocketAddr>,
    /// The HTTP API.
    pub http: SocketAddr,
    /// Holds the server's SQLite file (`VIAWORK_DATABASE`) until the server is dropped.
    _data: tempfile::TempDir,
}

impl Server {
    /// Starts `viawork serve` listening on ephemeral UDP and TCP ports of 127.0.0.1.
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    /// Starts with extra environment variables.
    pub fn start_with(env: &[(&str, &str)]) -> Server {
        let data = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_viawork"));
        cmd.arg("serve")
            .env("VIAWORK_SIP_LISTEN", "udp:127.0.0.1:0,tcp:127.0.0.1:0")
            .env("VIAWORK_HTTP_LISTEN", "127.0.0.1:0")
            .env(
                "VIAWORK_DATABASE",
                format!("sqlite://{}", data.path().join("v.db").display()),
            )
            .env("VIAWORK_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start viawork");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut udp, mut tcp, mut tls, mut ws, mut http) = (None, None, None, None, None);
        let want_ws = env
            .iter()
            .any(|(k, v)| *k == "VIAWORK_SIP_LISTEN" && v.contains("ws:"));
        let want_tls = env
            .iter()
            .any(|(k, v)| *k == "VIAWORK_SIP_LISTEN" && v.contains("tls:"));
        while udp.is_none()
            || tcp.is_none()
            || http.is_none()
            || (want_tls && tls.is_none())
            || (want_ws && ws.is_none())
        {
            let line = lines
                .next()
                .expect("viawork exited before listening")
                .expect("read stdout");
            if let Some(addr) = line.strip_prefix("HTTP listening on http:") {
                http = Some(addr.parse().expect("http addr"));
            }
            if let Some(rest) = line.strip_prefix("SIP listening on ") {
                let (t, addr) = rest.split_once(':').expect("transport:addr");
                let addr: SocketAddr = addr.parse().expect("addr");
                match t {
                    "udp" => udp = Some(addr),
                    "tcp" => tcp = Some(addr),
                    "tls" => tls = Some(addr),
                    "ws" => ws = Some(addr),
                    _ => {}
                }
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            udp: udp.expect("udp"),
            tcp: tcp.expect("tcp"),
            tls,
            ws,
            http: http.expect("http"),
            _data: data,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of a response's status line.
pub fn status_of(resp: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(resp.get(..12)?).ok()?;
    s.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// Value of the first header `name` (case-insensitive) in a response.
pub fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    resp.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Runs the admin CLI (`viawork ARGS --database DB`) and fails the test with its stderr
/// unless it succeeds.
pub fn cli(db: &str, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_viawork"))
        .args(args)
        .args(["--database", db])
        .output()
        .expect("run the CLI");
    assert!(
        out.status.success(),
        "viawork {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The password test users get from [`user`].
pub const PASSWORD: &str = "S3cret-pass";

/// Creates a user with the CLI: `uri`, `name`, the password [`PASSWORD`] and any further
/// `user new` options (`--line-uri`, `--enterprise-voice`, `--role admin`, ...).
pub fn user(db: &str, uri: &str, name: &str, options: &[&str]) {
    let mut args = vec![
        "user",
        "new",
        "--sip-uri",
        uri,
        "--name",
        name,
        "--password",
        PASSWORD,
    ];
    args.extend_from_slice(options);
    cli(db, &args);
}
