//! SIPp playing the PBX: a UAS scenario in the background on a loopback port, with its
//! messages traced to a file so tests can check what ViaWork sent (caller IDs).

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A SIPp UAS running in the background.
pub struct SippPbx {
    child: Option<Child>,
    /// Where it listens (UDP).
    pub addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl SippPbx {
    /// Starts `scenario` (in `tests/sipp`) expecting `calls` SIPp calls (one per leg).
    pub fn start(scenario: &str, calls: u32) -> SippPbx {
        Self::start_keys(scenario, calls, &[])
    }

    /// Starts with SIPp `-key NAME VALUE` pairs; see `tests/sipp/pbx_uas.xml` for its keys
    /// (`cb_code`, `far_code`, `challenge`, `far_bye`, `cb_refer`, `refer_code`) and their defaults
    /// here (answer both legs, no challenge, no hang-up from the far leg, accept REFER).
    pub fn start_keys(scenario: &str, calls: u32, keys: &[(&str, &str)]) -> SippPbx {
        Self::start_args(scenario, calls, keys, &[])
    }

    /// Like [`start_keys`](Self::start_keys) with more SIPp arguments (`-inf FILE`).
    pub fn start_args(scenario: &str, calls: u32, keys: &[(&str, &str)], args: &[&str]) -> SippPbx {
        // A port found free may be taken by a parallel test before SIPp binds it: try
        // another one (bounded).
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start_on(super::sipp::free_port(), scenario, calls, keys, args) {
                Ok(pbx) => return pbx,
                Err(e) => last = e,
            }
        }
        panic!("{last}");
    }

    /// Like [`start_keys`](Self::start_keys) on a given port (one a server was configured
    /// with before the PBX started).
    pub fn start_on(port: u16, scenario: &str, calls: u32, keys: &[(&str, &str)]) -> SippPbx {
        Self::try_start_on(port, scenario, calls, keys, &[]).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`start_on`](Self::start_on) with more SIPp arguments (`-inf FILE`).
    pub fn start_on_args(
        port: u16,
        scenario: &str,
        calls: u32,
        keys: &[(&str, &str)],
        args: &[&str],
    ) -> SippPbx {
        Self::try_start_on(port, scenario, calls, keys, args).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start_on(
        port: u16,
        scenario: &str,
        calls: u32,
        keys: &[(&str, &str)],
        args: &[&str],
    ) -> Result<SippPbx, String> {
        let mut all: Vec<(&str, &str)> = vec![
            ("cb_code", "200"),
            ("far_code", "200"),
            ("challenge", "0"),
            ("far_bye", "0"),
            ("cb_refer", "0"),
            ("refer_code", "202"),
        ];
        for (k, v) in keys {
            all.retain(|(n, _)| n != k);
            all.push((k, v));
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let media = super::sipp::free_port();
        let log = dir.path().join("messages.log");
        let mut child = Command::new("timeout")
            .args(["-k", "5", "-s", "INT", "90", "sipp"])
            .arg("-sf")
            .arg(super::sipp::scenario(scenario))
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-t", "u1"])
            .args(["-mi", "127.0.0.1", "-mp", &media.to_string()])
            .args(["-m", &calls.to_string(), "-buff_size", "4194304"])
            .args(all.iter().flat_map(|(k, v)| ["-key", k, v]))
            .args(args)
            .args(["-timeout", "80s", "-nostdin", "-trace_msg", "-message_file"])
            .arg(&log)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sipp must be installed (scripts/test.sh installs sip-tester)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // Ready when SIPp holds its port: binding it ourselves then fails.
        let deadline = Instant::now() + Duration::from_secs(10);
        while UdpSocket::bind(addr).is_ok() {
            if let Ok(Some(status)) = child.try_wait() {
                let out = child.wait_with_output().expect("sipp output");
                return Err(format!(
                    "SIPp exited at start ({status}):\n{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            assert!(Instant::now() < deadline, "SIPp did not bind {addr}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(SippPbx {
            child: Some(child),
            addr,
            log,
            _dir: dir,
        })
    }

    /// Waits for SIPp to finish; panics with its output unless every call succeeded.
    pub fn wait_success(&mut self) {
        let child = self.child.take().expect("running");
        let out = child.wait_with_output().expect("wait for sipp");
        assert!(
            out.status.success(),
            "SIPp PBX failed ({:?}):\n{}\n{}\n--- messages ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.messages()
        );
    }

    /// Everything SIPp traced.
    pub fn messages(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The header blocks of the requests SIPp received with `method`, in order.
    pub fn received(&self, method: &str) -> Vec<String> {
        let text = self.messages();
        let mut out = Vec::new();
        let mut lines = text.lines().peekable();
        while let Some(l) = lines.next() {
            if l.starts_with(&format!("{method} ")) && l.ends_with("SIP/2.0") {
                let mut block = vec![l.to_owned()];
                while let Some(h) = lines.peek() {
                    if h.trim().is_empty() {
                        break;
                    }
                    block.push(lines.next().unwrap().to_owned());
                }
                out.push(block.join("\n"));
            }
        }
        out
    }
}

impl Drop for SippPbx {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM to `timeout`, which passes it on to SIPp (a SIGKILL would orphan
            // SIPp until its own -timeout).
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
