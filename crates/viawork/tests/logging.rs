//! With `VIAWORK_LOG_FORMAT=json` every log line is one JSON object (for log shippers).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn json_log_lines_parse() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_viawork"))
        .arg("serve")
        .env("VIAWORK_LOG_FORMAT", "json")
        .env("VIAWORK_LOG", "info")
        .env("VIAWORK_SIP_LISTEN", "udp:127.0.0.1:0")
        .env("VIAWORK_HTTP_LISTEN", "127.0.0.1:0")
        .env(
            "VIAWORK_DATABASE",
            format!("sqlite://{}/v.db", dir.path().display()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
        let msg = v["fields"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        seen.push(msg.clone());
        if msg == "HTTP listener bound" {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.iter().any(|m| m == "SIP listener bound"), "{seen:?}");
}
