//! Running SIPp (Debian package `sip-tester`) against the server on loopback. Every run is
//! bounded: a call count, a rate, SIPp's own timeout and an outer `timeout` that stops a
//! collapsed run (../shared/PEERS.md: `-timeout` alone does not).

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Output};

/// The scenario directory, `tests/sipp` at the workspace root.
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/sipp")
        .join(name)
}

/// A free loopback port for SIPp's own socket: free for UDP and for TCP alike, since a
/// run may use either.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}

/// Options for one SIPp run.
pub struct Run<'a> {
    pub scenario: &'a str,
    pub target: SocketAddr,
    pub tcp: bool,
    pub calls: u32,
    pub rate: u32,
    pub extra: &'a [&'a str],
}

/// Runs SIPp and returns its output; panics with SIPp's screen when it fails.
pub fn run(r: &Run<'_>) -> Output {
    run_at("127.0.0.1", free_port(), r)
}

/// Like [`run`], from local address `ip`:`port` (a client that registers there and is
/// then called there; a caller on another loopback address than the PBX's).
pub fn run_at(ip: &str, port: u16, r: &Run<'_>) -> Output {
    let port = port.to_string();
    let calls = r.calls.to_string();
    let rate = r.rate.to_string();
    let mut args: Vec<String> = vec![
        "-k".into(),
        "5".into(),
        "-s".into(),
        "INT".into(),
        "60".into(),
        "sipp".into(),
        r.target.to_string(),
        "-i".into(),
        ip.into(),
        "-p".into(),
        port,
        "-t".into(),
        if r.tcp { "t1".into() } else { "u1".into() },
        "-m".into(),
        calls,
        "-r".into(),
        rate,
        "-buff_size".into(),
        "4194304".into(),
        "-timeout".into(),
        "50s".into(),
        "-nostdin".into(),
        "-bg".into(),
    ];
    // -bg detaches; run in the foreground instead so the exit code is SIPp's.
    args.retain(|a| a != "-bg");
    // An empty scenario name means a built-in one, given in `extra` (`-sn uac`).
    if !r.scenario.is_empty() {
        args.push("-sf".into());
        args.push(scenario(r.scenario).display().to_string());
    }
    args.extend(r.extra.iter().map(|s| s.to_string()));
    let out = Command::new("timeout")
        .args(&args)
        .output()
        .expect("sipp must be installed (scripts/test.sh installs sip-tester)");
    if !out.status.success() {
        panic!(
            "sipp {} failed ({:?}):\n{}\n{}",
            r.scenario,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}
