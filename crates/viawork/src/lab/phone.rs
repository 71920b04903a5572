//! A lab desk phone: a baresip process and a client for its `ctrl_tcp` remote control.
//!
//! `ctrl_tcp` speaks netstrings (`LEN:JSON,`) both ways. We send
//! `{"command","params","token"}` and get `{"response":true,"ok","data","token"}` back;
//! baresip also pushes `{"event":true,"type":"CALL_ESTABLISHED","peeruri",...}` for every
//! call and registration event. Events are kept in order so a test can wait for one that
//! arrived before it started waiting.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::audio::wav_data_progress;
use super::config::{Layout, PhoneConfig};
use super::process::{log_tail, Process};
use super::LabError;

/// How long a ctrl_tcp command may take to be answered.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest netstring accepted from baresip (its `listcalls` output is the biggest).
const MAX_FRAME: usize = 1 << 20;

/// What happened on a phone, as baresip reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// An incoming call is ringing (not reported when it is answered automatically).
    CallIncoming,
    /// An outgoing call rings at the far end (180).
    CallRinging,
    /// Early media (183).
    CallProgress,
    /// The call is answered.
    CallEstablished,
    /// The call ended (either side).
    CallClosed,
    /// Registration succeeded.
    RegisterOk,
    /// Registration failed.
    RegisterFail,
    /// Any other event type (`CALL_RTCP`, `CALL_LOCAL_SDP`, ...).
    Other,
}

impl EventKind {
    fn from_type(t: &str) -> EventKind {
        match t {
            "CALL_INCOMING" => EventKind::CallIncoming,
            "CALL_RINGING" => EventKind::CallRinging,
            "CALL_PROGRESS" => EventKind::CallProgress,
            "CALL_ESTABLISHED" => EventKind::CallEstablished,
            "CALL_CLOSED" => EventKind::CallClosed,
            "REGISTER_OK" => EventKind::RegisterOk,
            "REGISTER_FAIL" => EventKind::RegisterFail,
            _ => EventKind::Other,
        }
    }
}

/// One event from baresip's `ctrl_tcp`.
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneEvent {
    /// The event.
    pub kind: EventKind,
    /// baresip's name for it, e.g. `CALL_ESTABLISHED`.
    pub type_name: String,
    /// `incoming` or `outgoing` for call events.
    pub direction: Option<String>,
    /// The other party: the caller's From URI on an incoming call (the caller ID), the
    /// dialled URI on an outgoing one.
    pub peer_uri: Option<String>,
    /// The caller's display name on an incoming call.
    pub peer_name: Option<String>,
    /// baresip's call id (the SIP Call-ID).
    pub call_id: Option<String>,
    /// Event detail, e.g. the reason on `CALL_CLOSED`.
    pub param: Option<String>,
    /// The whole event as received.
    pub raw: Value,
}

impl PhoneEvent {
    fn from_json(v: Value) -> PhoneEvent {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let type_name = s("type").unwrap_or_default();
        PhoneEvent {
            kind: EventKind::from_type(&type_name),
            type_name,
            direction: s("direction"),
            peer_uri: s("peeruri"),
            peer_name: s("peerdisplayname"),
            call_id: s("id"),
            param: s("param"),
            raw: v,
        }
    }

    /// The user part of [`Self::peer_uri`]: `0101` for `sip:0101@127.0.0.1:5060`.
    pub fn peer_user(&self) -> Option<&str> {
        let uri = self.peer_uri.as_deref()?;
        let rest = uri
            .strip_prefix("sip:")
            .or_else(|| uri.strip_prefix("sips:"))?;
        rest.split_once('@').map(|(user, _)| user)
    }
}

/// Events seen so far, oldest first.
#[derive(Default)]
struct Events {
    all: Vec<PhoneEvent>,
}

/// A lab desk phone.
pub struct Phone {
    config: PhoneConfig,
    pbx_port: u16,
    lab_dir: PathBuf,
    ctrl: Control,
    /// Index in the event list where the next [`Phone::wait_for`] starts looking.
    cursor: Mutex<usize>,
    pub(crate) process: Process,
}

impl Phone {
    pub(crate) fn new(
        config: PhoneConfig,
        pbx_port: u16,
        lab_dir: PathBuf,
        process: Process,
        ctrl: Control,
    ) -> Phone {
        Phone {
            config,
            pbx_port,
            lab_dir,
            ctrl,
            cursor: Mutex::new(0),
            process,
        }
    }

    /// The extension, e.g. `0101`.
    pub fn extension(&self) -> &str {
        &self.config.extension
    }

    /// The phone's configuration.
    pub fn config(&self) -> &PhoneConfig {
        &self.config
    }

    /// Its address of record at the PBX: `sip:0101@127.0.0.1:PBXPORT`.
    pub fn sip_uri(&self) -> String {
        format!("sip:{}@127.0.0.1:{}", self.config.extension, self.pbx_port)
    }

    /// Its number in the plan: `+1425555` and the extension.
    pub fn e164(&self) -> String {
        self.config.e164()
    }

    /// baresip's log file.
    pub fn log_path(&self) -> PathBuf {
        Layout::phone_log(&self.lab_dir, &self.config.extension)
    }

    /// Places a call to `uri` (e.g. `sip:+14255550102@127.0.0.1:5060`).
    pub async fn dial(&self, uri: &str) -> Result<String, LabError> {
        self.command("dial", Some(uri)).await
    }

    /// Answers the ringing incoming call (for a phone without `auto_answer`).
    pub async fn answer(&self) -> Result<String, LabError> {
        self.command("accept", None).await
    }

    /// Hangs up the current call.
    pub async fn hangup(&self) -> Result<String, LabError> {
        self.command("hangup", None).await
    }

    /// baresip's text listing of the active calls (`listcalls`).
    pub async fn list_calls(&self) -> Result<String, LabError> {
        self.command("listcalls", None).await
    }

    /// Sends any `ctrl_tcp` command (a baresip `menu` command name) and returns its output.
    pub async fn command(&self, command: &str, params: Option<&str>) -> Result<String, LabError> {
        self.ctrl
            .command(command, params)
            .await
            .map_err(|reason| LabError::Command {
                extension: self.config.extension.clone(),
                command: command.to_string(),
                reason,
            })
    }

    /// Every event received so far, oldest first.
    pub fn events(&self) -> Vec<PhoneEvent> {
        self.ctrl.events.borrow().all.clone()
    }

    /// Waits for the next event of `kind`, returning it. Events are consumed in order: the
    /// search starts after the event the previous `wait_for` returned, so an event that
    /// arrived before the call is found, and each is returned once. Events of other kinds
    /// passed over on the way stay in [`Self::events`].
    pub async fn wait_for(
        &self,
        kind: EventKind,
        timeout: Duration,
    ) -> Result<PhoneEvent, LabError> {
        let start = *lock(&self.cursor);
        let mut rx = self.ctrl.events.subscribe();
        let found = tokio::time::timeout(timeout, async {
            loop {
                {
                    let events = rx.borrow_and_update();
                    if let Some((i, e)) = events
                        .all
                        .iter()
                        .enumerate()
                        .skip(start)
                        .find(|(_, e)| e.kind == kind)
                    {
                        return Some((i, e.clone()));
                    }
                }
                // Sender gone: the control connection closed, no event will come.
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await;
        match found {
            Ok(Some((i, event))) => {
                *lock(&self.cursor) = i + 1;
                Ok(event)
            }
            Ok(None) | Err(_) => Err(LabError::Timeout {
                what: format!("phone {}: event {kind:?}", self.config.extension),
                after: timeout,
                detail: format!(
                    "events seen: {:?}\n--- {} ---\n{}",
                    self.events()
                        .iter()
                        .map(|e| e.type_name.as_str())
                        .collect::<Vec<_>>(),
                    self.log_path().display(),
                    log_tail(&self.log_path(), 20)
                ),
            }),
        }
    }

    /// The directory where `sndfile` records this phone's calls.
    pub fn recordings_dir(&self) -> PathBuf {
        Layout::recordings(&self.lab_dir, &self.config.extension)
    }

    /// What this phone heard in its latest call: the newest `*-dec.wav` (`*-enc.wav` holds
    /// what it sent). `None` before its first call.
    pub fn recording(&self) -> Option<PathBuf> {
        newest_with_suffix(&self.recordings_dir(), "-dec.wav")
    }

    /// Waits until the latest recording holds at least `min` of audio, and returns its path.
    pub async fn wait_for_recording(
        &self,
        min: Duration,
        timeout: Duration,
    ) -> Result<PathBuf, LabError> {
        let deadline = Instant::now() + timeout;
        let mut seen = String::from("no recording yet");
        loop {
            if let Some(path) = self.recording() {
                if let Some((bytes, per_second)) = recorded(&path) {
                    let have = Duration::from_secs_f64(bytes as f64 / per_second.max(1) as f64);
                    if have >= min {
                        return Ok(path);
                    }
                    seen = format!("{} holds {have:?}", path.display());
                }
            }
            if Instant::now() >= deadline {
                return Err(LabError::Timeout {
                    what: format!(
                        "phone {}: a recording of at least {min:?}",
                        self.config.extension
                    ),
                    after: timeout,
                    detail: seen,
                });
            }
            // The recording grows by a 20 ms frame at a time; checking every 50 ms is plenty.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Bytes of audio in a WAV file and the bytes per second it plays at.
fn recorded(path: &Path) -> Option<(u64, u64)> {
    let size = std::fs::metadata(path).ok()?.len();
    let mut header = vec![0u8; 512];
    let mut f = std::fs::File::open(path).ok()?;
    let n = std::io::Read::read(&mut f, &mut header).ok()?;
    header.truncate(n);
    wav_data_progress(size, &header)
}

fn newest_with_suffix(dir: &Path, suffix: &str) -> Option<PathBuf> {
    // sndfile names files `dump-YYYY-MM-DD-HH-MM-SS-{enc,dec}.wav`: the greatest name is the
    // newest; the modification time breaks ties between files of the same second.
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
        .max_by_key(|e| (e.file_name(), e.metadata().and_then(|m| m.modified()).ok()))
        .map(|e| e.path())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

/// A connection to one baresip's `ctrl_tcp`.
pub(crate) struct Control {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Pending,
    events: Arc<watch::Sender<Events>>,
    next_token: AtomicU64,
    reader: JoinHandle<()>,
}

impl Control {
    /// Connects to `ctrl_tcp` and starts reading its frames.
    pub(crate) fn new(stream: TcpStream) -> Control {
        let (read, write) = stream.into_split();
        let pending: Pending = Arc::default();
        let events = Arc::new(watch::Sender::new(Events::default()));
        let reader = tokio::spawn(read_frames(read, pending.clone(), events.clone()));
        Control {
            writer: tokio::sync::Mutex::new(write),
            pending,
            events,
            next_token: AtomicU64::new(1),
            reader,
        }
    }

    async fn command(&self, command: &str, params: Option<&str>) -> Result<String, String> {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed).to_string();
        let mut request = serde_json::json!({ "command": command, "token": token });
        if let Some(p) = params {
            request["params"] = Value::from(p);
        }
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(token.clone(), tx);
        let result = async {
            self.writer
                .lock()
                .await
                .write_all(&netstring(request.to_string().as_bytes()))
                .await
                .map_err(|e| format!("send: {e}"))?;
            let response = tokio::time::timeout(COMMAND_TIMEOUT, rx)
                .await
                .map_err(|_| format!("no response within {COMMAND_TIMEOUT:?}"))?
                .map_err(|_| "control connection closed".to_string())?;
            let data = response
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if response.get("ok").and_then(Value::as_bool) == Some(true) {
                Ok(data)
            } else {
                Err(format!("baresip refused it: {data:?}"))
            }
        }
        .await;
        lock(&self.pending).remove(&token);
        result
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_frames<R: AsyncRead + Unpin>(
    mut read: R,
    pending: Pending,
    events: Arc<watch::Sender<Events>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        while let Some(frame) = take_netstring(&mut buf) {
            let Ok(frame) = frame else {
                tracing::warn!("lab: bad netstring from baresip ctrl_tcp; closing");
                return;
            };
            let Ok(v) = serde_json::from_slice::<Value>(&frame) else {
                continue;
            };
            if v.get("response").and_then(Value::as_bool) == Some(true) {
                let token = v.get("token").and_then(Value::as_str).map(str::to_string);
                if let Some(tx) = token.and_then(|t| lock(&pending).remove(&t)) {
                    let _ = tx.send(v);
                }
            } else if v.get("event").and_then(Value::as_bool) == Some(true) {
                let event = PhoneEvent::from_json(v);
                events.send_modify(|e| e.all.push(event));
            }
        }
        match read.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// `LEN:BYTES,`
fn netstring(payload: &[u8]) -> Vec<u8> {
    let mut out = format!("{}:", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out.push(b',');
    out
}

/// Takes one complete netstring off the front of `buf`: `None` if more bytes are needed,
/// `Some(Err)` if the stream is not netstrings.
fn take_netstring(buf: &mut Vec<u8>) -> Option<Result<Vec<u8>, ()>> {
    let colon = match buf.iter().position(|&b| b == b':') {
        Some(c) => c,
        None if buf.len() > 10 => return Some(Err(())),
        None => return None,
    };
    let len: usize = match std::str::from_utf8(&buf[..colon])
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(len) if len <= MAX_FRAME => len,
        _ => return Some(Err(())),
    };
    let end = colon + 1 + len;
    if buf.len() <= end {
        return None;
    }
    if buf[end] != b',' {
        return Some(Err(()));
    }
    let payload = buf[colon + 1..end].to_vec();
    buf.drain(..=end);
    Some(Ok(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netstrings_round_trip_and_split_across_reads() {
        let mut buf = netstring(b"{\"a\":1}");
        assert_eq!(buf, b"7:{\"a\":1},");
        buf.extend_from_slice(b"3:ab");
        assert_eq!(take_netstring(&mut buf), Some(Ok(b"{\"a\":1}".to_vec())));
        assert_eq!(take_netstring(&mut buf), None);
        buf.extend_from_slice(b"c,");
        assert_eq!(take_netstring(&mut buf), Some(Ok(b"abc".to_vec())));
        assert!(buf.is_empty());
        let mut bad = b"3:abcX".to_vec();
        assert_eq!(take_netstring(&mut bad), Some(Err(())));
    }

    #[test]
    fn events_carry_the_caller_id() {
        let e = PhoneEvent::from_json(serde_json::json!({
            "event": true, "type": "CALL_ESTABLISHED", "class": "call",
            "accountaor": "sip:0102@127.0.0.1:5060", "direction": "incoming",
            "peeruri": "sip:0101@127.0.0.1:5060", "peerdisplayname": "Phone 0101",
            "id": "abc", "param": "sip:0101@127.0.0.1:5060"
        }));
        assert_eq!(e.kind, EventKind::CallEstablished);
        assert_eq!(e.peer_user(), Some("0101"));
        assert_eq!(e.peer_name.as_deref(), Some("Phone 0101"));
        assert_eq!(e.direction.as_deref(), Some("incoming"));
    }

    #[tokio::test]
    async fn commands_are_matched_to_responses_by_token_and_events_are_kept() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A fake baresip: an event first, then the response to the one command.
        let fake = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            let request = loop {
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0, "client closed before sending a command");
                buf.extend_from_slice(&chunk[..n]);
                if let Some(Ok(f)) = take_netstring(&mut buf) {
                    break serde_json::from_slice::<Value>(&f).unwrap();
                }
            };
            assert_eq!(request["command"], "listcalls");
            let event = r#"{"event":true,"type":"CALL_CLOSED","param":"bye"}"#;
            let response = serde_json::json!({
                "response": true, "ok": true, "data": "no calls", "token": request["token"]
            });
            s.write_all(&netstring(event.as_bytes())).await.unwrap();
            s.write_all(&netstring(response.to_string().as_bytes()))
                .await
                .unwrap();
            s
        });
        let ctrl = Control::new(TcpStream::connect(addr).await.unwrap());
        assert_eq!(ctrl.command("listcalls", None).await.unwrap(), "no calls");
        let _conn = fake.await.unwrap();
        let events = ctrl.events.borrow();
        assert_eq!(events.all.len(), 1);
        assert_eq!(events.all[0].kind, EventKind::CallClosed);
        assert_eq!(events.all[0].param.as_deref(), Some("bye"));
    }
}
