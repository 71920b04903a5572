//! Presence fan-out load: signs in one target user and W watcher users, opens a
//! Server-Sent Events stream (`GET /api/v1/events`) for each, subscribes every watcher to
//! the target, then changes the target's presence N times (`PUT /api/v1/me/presence`,
//! alternating Busy / Online with the note `flip-K`) and measures, for every flip, when it
//! reached each watcher's stream: per-delivery latency (PUT sent → event read) and per-flip
//! "all streams" latency (PUT sent → the last watcher's event).
//!
//! Bounded: at most `--flips` changes, each waited for at most `--flip-timeout-ms`; every
//! connection goes to the `--http` address (loopback in `run.sh`). Prints a table and one
//! JSON line (`RESULT {...}`) for the script.
//!
//! With `--messages M` it measures the IM path instead: the watchers in pairs, one
//! conversation per pair, M messages offered open loop at `--rate` per second, each timed
//! from its POST to the recipient's `message.received` event.
//!
//! `--transport ws|sse` picks how the event streams are opened: a WebSocket (one JSON event
//! per text message) or Server-Sent Events. The default is WebSocket in IM mode (the issue's
//! figure is for WebSocket clients) and SSE for presence (the published presence figures).
//!
//! Usage: presence-load --http ADDR --target URI --watchers N --watcher-format
//! 'sip:pw{:05}@example.com' --password PW [--flips 50] [--interval-ms 100]
//! [--flip-timeout-ms 5000] [--concurrency 16] [--sign-in-concurrency N]
//! [--messages M] [--rate R[,R2,...]] [--step-secs S] [--transport ws|sse] [--server-pid PID]
//!
//! A list of rates is a ladder: each rate in turn (M messages, or S seconds' worth), until one
//! is not sustained (a message lost or refused, the sender held back by the in-flight cap,
//! or the end-to-end rate under 98 % of the offered one; see `Step::sustained`). With
//! `--server-pid` each step reports the server's CPU and RSS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// How a client's event stream is carried.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    WebSocket,
    Sse,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::WebSocket => "WebSocket",
            Transport::Sse => "SSE",
        }
    }
}

struct Args {
    http: SocketAddr,
    target: String,
    watchers: usize,
    watcher_format: String,
    password: String,
    flips: usize,
    interval: Duration,
    flip_timeout: Duration,
    concurrency: usize,
    /// Sign-ins in flight at once: each costs the server an argon2 verification (19 MiB,
    /// tens of ms of one core), and the server runs as many at once as it has cores.
    sign_in_concurrency: usize,
    /// WebSocket or SSE; `None` picks by mode.
    transport: Option<Transport>,
    /// IM mode: this many messages between pairs of watchers instead of presence flips.
    messages: usize,
    /// IM mode: messages per second offered (open loop); several make a ladder, run in
    /// turn until one is not sustained.
    rates: Vec<f64>,
    /// IM mode: each rate runs this long (messages = rate × seconds) instead of `messages`.
    step_secs: Option<u64>,
    /// The server's process, to read its CPU time and memory per step.
    server_pid: Option<u32>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        http: "127.0.0.1:18090".parse().map_err(|e| format!("{e}"))?,
        target: String::new(),
        watchers: 1000,
        watcher_format: "sip:pw{:04}@example.com".into(),
        password: String::new(),
        flips: 50,
        interval: Duration::from_millis(100),
        flip_timeout: Duration::from_millis(5000),
        concurrency: 16,
        sign_in_concurrency: 0,
        transport: None,
        messages: 0,
        rates: vec![200.0],
        step_secs: None,
        server_pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{k}: {v:?} is not a number"))
        };
        match k.as_str() {
            "--http" => a.http = v.parse().map_err(|_| format!("--http: {v:?}"))?,
            "--target" => a.target = v,
            "--watchers" => a.watchers = num(&v)? as usize,
            "--watcher-format" => a.watcher_format = v,
            "--password" => a.password = v,
            "--flips" => a.flips = (num(&v)? as usize).min(10_000),
            "--interval-ms" => a.interval = Duration::from_millis(num(&v)?),
            "--flip-timeout-ms" => a.flip_timeout = Duration::from_millis(num(&v)?.min(60_000)),
            "--concurrency" => a.concurrency = (num(&v)? as usize).clamp(1, 1024),
            "--sign-in-concurrency" => a.sign_in_concurrency = (num(&v)? as usize).clamp(1, 64),
            "--transport" => {
                a.transport = Some(match v.as_str() {
                    "ws" | "websocket" => Transport::WebSocket,
                    "sse" => Transport::Sse,
                    _ => return Err(format!("--transport: {v:?} is not ws or sse")),
                })
            }
            "--messages" => a.messages = (num(&v)? as usize).min(1_000_000),
            "--rate" => {
                a.rates = v
                    .split(',')
                    .map(|r| num(r.trim()).map(|r| (r as f64).clamp(1.0, 100_000.0)))
                    .collect::<Result<_, _>>()?;
                a.rates.truncate(20);
            }
            "--step-secs" => a.step_secs = Some(num(&v)?.clamp(1, 600)),
            "--server-pid" => a.server_pid = Some(num(&v)? as u32),
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    if a.target.is_empty() || a.password.is_empty() {
        return Err("--target and --password are required".into());
    }
    if a.sign_in_concurrency == 0 {
        a.sign_in_concurrency = a.concurrency;
    }
    Ok(a)
}

fn watcher_uri(format: &str, i: usize) -> String {
    format
        .replace("{:04}", &format!("{i:04}"))
        .replace("{:05}", &format!("{i:05}"))
}

/// One request on a fresh connection (`Connection: close`); returns status and body.
async fn request(
    http: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<(u16, String), String> {
    let io = async {
        let mut conn = TcpStream::connect(http).await.map_err(|e| e.to_string())?;
        conn.set_nodelay(true).ok();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        conn.read_to_end(&mut raw)
            .await
            .map_err(|e| e.to_string())?;
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("no status line")?;
        Ok::<_, String>((status, body.to_owned()))
    };
    tokio::time::timeout(Duration::from_secs(30), io)
        .await
        .map_err(|_| "timeout".to_string())?
}

async fn sign_in(http: SocketAddr, user: &str, password: &str) -> Result<String, String> {
    let (status, body) = request(
        http,
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&json!({"username": user, "password": password})),
    )
    .await?;
    if status != 200 {
        return Err(format!("sign-in of {user}: {status} {body}"));
    }
    let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    v["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no access_token".into())
}

/// A delivery: (flip, watcher, when read).
type Receipt = (usize, usize, Instant);

/// The receipt an event (its JSON text) gives, if it is one the run waits for: an incoming
/// `message.received` whose text is `im-K`, or a `presence.updated` about `target` whose
/// note is `flip-K`.
fn receipt_of(data: &str, target: &str) -> Option<usize> {
    // Cheap filters first: most events are not ours.
    if data.contains("message.received") && data.contains("\"im-") {
        let e = serde_json::from_str::<Value>(data).ok()?;
        if e["data"]["direction"] != "incoming" {
            return None;
        }
        return e["data"]["message"]["text"]
            .as_str()?
            .strip_prefix("im-")?
            .parse()
            .ok();
    }
    if !data.contains("presence.updated") || !data.contains("flip-") {
        return None;
    }
    let e = serde_json::from_str::<Value>(data).ok()?;
    if e["data"]["uri"] != target {
        return None;
    }
    e["data"]["note"]
        .as_str()?
        .strip_prefix("flip-")?
        .parse()
        .ok()
}

/// Opens `token`'s event stream over `transport`; once the server has accepted it, forwards
/// every receipt (see [`receipt_of`]) until the stream ends or the receiver is gone.
async fn open_stream(
    http: SocketAddr,
    transport: Transport,
    token: String,
    target: String,
    watcher: usize,
    receipts: mpsc::UnboundedSender<Receipt>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    match transport {
        Transport::Sse => open_sse(http, token, target, watcher, receipts).await,
        Transport::WebSocket => open_ws(http, token, target, watcher, receipts).await,
    }
}

async fn open_sse(
    http: SocketAddr,
    token: String,
    target: String,
    watcher: usize,
    receipts: mpsc::UnboundedSender<Receipt>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let mut conn = TcpStream::connect(http).await.map_err(|e| e.to_string())?;
    conn.set_nodelay(true).ok();
    let req = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: {http}\r\nAccept: text/event-stream\r\n\
         Authorization: Bearer {token}\r\n\r\n"
    );
    conn.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(30), reader.read_line(&mut line))
        .await
        .map_err(|_| "event stream: no answer".to_string())?
        .map_err(|e| e.to_string())?;
    if !line.contains(" 200 ") {
        return Err(format!("event stream: {}", line.trim_end()));
    }
    Ok(tokio::spawn(async move {
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let Some(data) = line.trim_end().strip_prefix("data: ") else {
                continue;
            };
            let at = Instant::now();
            if let Some(k) = receipt_of(data, &target) {
                if receipts.send((k, watcher, at)).is_err() {
                    return;
                }
            }
        }
    }))
}

/// A WebSocket client's read buffer: events are a few hundred bytes, and tungstenite's
/// default (128 KiB, zero-filled) would cost 1.2 GiB at 10,000 clients here.
const WS_READ_BUFFER: usize = 4 * 1024;

async fn open_ws(
    http: SocketAddr,
    token: String,
    target: String,
    watcher: usize,
    receipts: mpsc::UnboundedSender<Receipt>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let mut req = format!("ws://{http}/api/v1/events")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {token}")
            .parse()
            .map_err(|_| "token is not a header value".to_string())?,
    );
    let handshake = async {
        let conn = TcpStream::connect(http).await.map_err(|e| e.to_string())?;
        conn.set_nodelay(true).ok();
        let config = WebSocketConfig::default().read_buffer_size(WS_READ_BUFFER);
        tokio_tungstenite::client_async_with_config(req, conn, Some(config))
            .await
            .map_err(|e| format!("event stream (WebSocket): {e}"))
    };
    let (mut ws, _response) = tokio::time::timeout(Duration::from_secs(30), handshake)
        .await
        .map_err(|_| "event stream (WebSocket): no answer".to_string())??;
    Ok(tokio::spawn(async move {
        while let Some(msg) = ws.next().await {
            let at = Instant::now();
            let text = match msg {
                Ok(WsMessage::Text(t)) => t,
                // tungstenite answers pings itself when it next reads or writes.
                Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_)) => continue,
                Ok(WsMessage::Binary(_)) => continue,
                Ok(WsMessage::Close(_)) | Err(_) => return,
            };
            if let Some(k) = receipt_of(text.as_str(), &target) {
                if receipts.send((k, watcher, at)).is_err() {
                    // The run is over: close politely (bounded; the server may be gone).
                    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                    return;
                }
            }
        }
    }))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `f` over `0..n` with at most `limit` at once; fails on the first error.
async fn bounded<T, F, Fut>(n: usize, limit: usize, f: F) -> Result<Vec<T>, String>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
{
    let sem = Arc::new(Semaphore::new(limit));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let fut = f(i);
        tasks.push(tokio::spawn(async move {
            let r = fut.await;
            drop(permit);
            r
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.map_err(|e| e.to_string())??);
    }
    Ok(out)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("presence-load: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args).await {
        eprintln!("presence-load: {e}");
        std::process::exit(1);
    }
}

async fn run(a: Args) -> Result<(), String> {
    let http = a.http;
    let t = Instant::now();
    let target_token = sign_in(http, &a.target, &a.password).await?;
    let pw = a.password.clone();
    let fmt = a.watcher_format.clone();
    let tokens = bounded(a.watchers, a.sign_in_concurrency, move |i| {
        let (pw, uri) = (pw.clone(), watcher_uri(&fmt, i + 1));
        async move { sign_in(http, &uri, &pw).await }
    })
    .await?;
    eprintln!(
        "signed in 1 + {} users in {:.1} s ({} at a time)",
        a.watchers,
        t.elapsed().as_secs_f64(),
        a.sign_in_concurrency
    );
    let transport = a.transport.unwrap_or(if a.messages > 0 {
        Transport::WebSocket
    } else {
        Transport::Sse
    });

    let t = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel::<Receipt>();
    let mut readers = Vec::with_capacity(a.watchers);
    let opened = bounded(a.watchers, a.concurrency, |i| {
        let (token, target, tx) = (tokens[i].clone(), a.target.clone(), tx.clone());
        open_stream(http, transport, token, target, i, tx)
    })
    .await?;
    readers.extend(opened);
    // The target is signed in too (an open stream).
    let (ttx, _trx) = mpsc::unbounded_channel();
    let target_stream =
        open_stream(http, transport, target_token.clone(), String::new(), 0, ttx).await?;
    let tokens = Arc::new(tokens);
    let target = a.target.clone();
    let toks = tokens.clone();
    bounded(a.watchers, a.concurrency, move |i| {
        let (toks, target) = (toks.clone(), target.clone());
        async move {
            let (status, body) = request(
                http,
                "POST",
                "/api/v1/presence/subscriptions",
                Some(&toks[i]),
                Some(&json!({ "uris": [target] })),
            )
            .await?;
            if status != 200 {
                return Err(format!("subscribe: {status} {body}"));
            }
            Ok(())
        }
    })
    .await?;
    eprintln!(
        "opened {} event streams ({}) and subscribed in {:.1} s",
        a.watchers,
        transport.name(),
        t.elapsed().as_secs_f64()
    );

    if let Some(s) = a.server_pid.and_then(server_sample) {
        eprintln!(
            "server with {} streams open: RSS {:.0} MiB (peak so far {:.0} MiB, the sign-ins' password hashing)",
            a.watchers + 1,
            s.rss_mib,
            s.peak_rss_mib
        );
    }
    if let Some(s) = server_sample(std::process::id()) {
        eprintln!("load generator RSS: {:.0} MiB", s.rss_mib);
    }
    if a.messages > 0 {
        let result = im_phase(&a, transport, &tokens, &mut rx).await;
        drop(readers);
        drop(target_stream);
        return result;
    }

    let mut deliveries: Vec<f64> = Vec::with_capacity(a.flips * a.watchers);
    let mut all_reached: Vec<f64> = Vec::with_capacity(a.flips);
    let mut put_ms: Vec<f64> = Vec::with_capacity(a.flips);
    let mut missing = 0usize;
    let run_start = Instant::now();
    for k in 0..a.flips {
        let availability = if k % 2 == 0 { "Busy" } else { "Online" };
        let sent = Instant::now();
        let (status, body) = request(
            http,
            "PUT",
            "/api/v1/me/presence",
            Some(&target_token),
            Some(&json!({"availability": availability, "note": format!("flip-{k}")})),
        )
        .await?;
        put_ms.push(sent.elapsed().as_secs_f64() * 1e3);
        if status != 200 {
            return Err(format!("flip {k}: {status} {body}"));
        }
        let mut got = vec![false; a.watchers];
        let mut count = 0;
        let mut last = sent;
        let deadline = tokio::time::Instant::now() + a.flip_timeout;
        while count < a.watchers {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((flip, w, at))) if flip == k && !got[w] => {
                    got[w] = true;
                    count += 1;
                    deliveries.push(at.duration_since(sent).as_secs_f64() * 1e3);
                    last = last.max(at);
                }
                Ok(Some(_)) => {} // a late or duplicate receipt
                Ok(None) | Err(_) => break,
            }
        }
        missing += a.watchers - count;
        if count == a.watchers {
            all_reached.push(last.duration_since(sent).as_secs_f64() * 1e3);
        }
        tokio::time::sleep(a.interval).await;
    }
    let elapsed = run_start.elapsed().as_secs_f64();
    drop(readers);
    drop(target_stream);

    for v in [&mut deliveries, &mut all_reached, &mut put_ms] {
        v.sort_by(|x, y| x.total_cmp(y));
    }
    println!();
    println!(
        "presence fan-out: 1 target, {} watchers ({}), {} flips in {:.1} s",
        a.watchers,
        transport.name(),
        a.flips,
        elapsed
    );
    println!("| measure | p50 ms | p90 ms | p99 ms | max ms | samples |");
    println!("|---|---|---|---|---|---|");
    for (name, v) in [
        ("PUT sent → event read, per watcher", &deliveries),
        ("PUT sent → last watcher's event, per flip", &all_reached),
        ("PUT /api/v1/me/presence response", &put_ms),
    ] {
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            percentile(v, 50.0),
            percentile(v, 90.0),
            percentile(v, 99.0),
            v.last().copied().unwrap_or(f64::NAN),
            v.len()
        );
    }
    println!("missing deliveries: {missing}");
    println!(
        "RESULT {}",
        json!({
            "watchers": a.watchers,
            "flips": a.flips,
            "missing": missing,
            "delivery_p50_ms": percentile(&deliveries, 50.0),
            "delivery_p99_ms": percentile(&deliveries, 99.0),
            "all_p50_ms": percentile(&all_reached, 50.0),
            "all_p99_ms": percentile(&all_reached, 99.0),
            "put_p50_ms": percentile(&put_ms, 50.0),
        })
    );
    if missing > 0 {
        return Err(format!("{missing} deliveries did not arrive in time"));
    }
    Ok(())
}

/// Persistent HTTP/1.1 connections for the message POSTs, as a browser (or a proxy in
/// front of the server) keeps them: a connection per POST would add a TCP handshake and an
/// accepted connection per message and leave thousands of sockets in TIME_WAIT at these
/// rates. Connections are created on demand, so there are at most as many as POSTs in flight.
struct Pool {
    http: SocketAddr,
    idle: std::sync::Mutex<Vec<BufReader<TcpStream>>>,
}

impl Pool {
    fn new(http: SocketAddr) -> Pool {
        Pool {
            http,
            idle: std::sync::Mutex::default(),
        }
    }

    /// POSTs `body` to `path` as `token`'s user; status and body.
    async fn post(&self, path: &str, token: &str, body: &Value) -> Result<(u16, String), String> {
        let body = body.to_string();
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.http,
            body.len()
        );
        let pooled = self.idle.lock().map_err(|_| "pool poisoned")?.pop();
        if let Some(conn) = pooled {
            match self.exchange(conn, &req).await {
                Ok(r) => return Ok(r),
                // The server closed the idle connection before reading the request (it
                // answered nothing), so sending it again on a new one cannot duplicate it.
                Err(Exchange::Unanswered) => {}
                Err(Exchange::Failed(e)) => return Err(e),
            }
        }
        let conn = TcpStream::connect(self.http)
            .await
            .map_err(|e| e.to_string())?;
        conn.set_nodelay(true).ok();
        self.exchange(BufReader::new(conn), &req)
            .await
            .map_err(|e| match e {
                Exchange::Unanswered => "connection closed without an answer".to_string(),
                Exchange::Failed(e) => e,
            })
    }

    async fn exchange(
        &self,
        mut conn: BufReader<TcpStream>,
        req: &str,
    ) -> Result<(u16, String), Exchange> {
        let io = async {
            conn.get_mut()
                .write_all(req.as_bytes())
                .await
                .map_err(|_| Exchange::Unanswered)?;
            let mut line = String::new();
            let n = conn
                .read_line(&mut line)
                .await
                .map_err(|_| Exchange::Unanswered)?;
            if n == 0 {
                return Err(Exchange::Unanswered);
            }
            let failed = |m: &str| Exchange::Failed(m.to_owned());
            let status: u16 = line
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| failed("no status line"))?;
            let (mut length, mut close) = (0usize, false);
            loop {
                line.clear();
                if conn
                    .read_line(&mut line)
                    .await
                    .map_err(|e| failed(&e.to_string()))?
                    == 0
                {
                    return Err(failed("connection closed in the response head"));
                }
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                let (name, value) = l.split_once(':').unwrap_or((l, ""));
                if name.eq_ignore_ascii_case("content-length") {
                    length = value
                        .trim()
                        .parse()
                        .map_err(|_| failed("bad content-length"))?;
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.trim().eq_ignore_ascii_case("close");
                }
            }
            let mut body = vec![0u8; length.min(1 << 20)];
            conn.read_exact(&mut body)
                .await
                .map_err(|e| failed(&e.to_string()))?;
            Ok((status, String::from_utf8_lossy(&body).into_owned(), close))
        };
        let (status, body, close) = tokio::time::timeout(Duration::from_secs(30), io)
            .await
            .map_err(|_| Exchange::Failed("timeout".into()))??;
        if !close {
            if let Ok(mut idle) = self.idle.lock() {
                idle.push(conn);
            }
        }
        Ok((status, body))
    }
}

enum Exchange {
    /// Nothing came back (the request may not have been read).
    Unanswered,
    Failed(String),
}

/// The server's CPU time (user + system) and memory, read from /proc (same machine: the
/// benchmark is loopback only).
#[derive(Clone, Copy)]
struct ServerSample {
    cpu_secs: f64,
    rss_mib: f64,
    peak_rss_mib: f64,
}

fn server_sample(pid: u32) -> Option<ServerSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) closing `)`; utime and stime are
    // fields 14 and 15, in USER_HZ ticks (100 per second on Linux on x86 and arm64).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
    };
    Some(ServerSample {
        cpu_secs: ticks / 100.0,
        rss_mib: kib("VmRSS:")? / 1024.0,
        peak_rss_mib: kib("VmHWM:")? / 1024.0,
    })
}

/// This process's CPU time (user + system), seconds.
fn own_cpu_secs() -> Option<f64> {
    server_sample(std::process::id()).map(|s| s.cpu_secs)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Message POSTs in flight at most (each on its own keep-alive connection): about two
/// seconds of the highest rates, so a short stall is absorbed and only a server that falls
/// behind for good makes the sender wait.
const MAX_IN_FLIGHT: usize = 4096;

/// The outcome of one rate of the IM ladder.
struct Step {
    rate: f64,
    messages: usize,
    delivered: usize,
    /// Messages that reached a stream other than their recipient's.
    misdelivered: usize,
    failed: usize,
    /// The sender found [`MAX_IN_FLIGHT`] messages in flight and had to wait: the server
    /// fell behind.
    saturated: bool,
    offered_secs: f64,
    all_secs: f64,
    latency: Vec<f64>,
    post: Vec<f64>,
    server: Option<(ServerSample, ServerSample)>,
    /// This load generator's own CPU over the step, % of one core (it shares the machine).
    own_cpu: Option<f64>,
    load_before: String,
    load_after: String,
}

impl Step {
    /// Kept up: nothing lost, misdelivered or refused, the sender never found
    /// [`MAX_IN_FLIGHT`] messages in flight (so it kept its schedule), and the end-to-end
    /// rate (all delivered over the time from the first send to the last delivery) is at
    /// least 98 % of the offered one: the backlog at the end is under 2 % of the step
    /// (0.4 s of a 20 s step), so it was not growing. A short stall that the server then
    /// catches up on passes; it shows in the latency tail, reported beside.
    fn sustained(&self) -> bool {
        self.delivered == self.messages
            && self.misdelivered == 0
            && self.failed == 0
            && !self.saturated
            && self.messages as f64 / self.all_secs >= 0.98 * self.rate
    }
}

/// IM mode: watchers in pairs (2i writes to 2i+1), one conversation per pair, then for each
/// rate of `--rate` (a ladder, lowest first) `--messages` messages (or `--step-secs` of
/// them) offered open loop across the pairs, at most [`MAX_IN_FLIGHT`] in flight; each is timed from its
/// POST to the `message.received` event on the recipient's stream. The ladder stops after
/// the first rate that is not sustained.
async fn im_phase(
    a: &Args,
    transport: Transport,
    tokens: &Arc<Vec<String>>,
    rx: &mut mpsc::UnboundedReceiver<Receipt>,
) -> Result<(), String> {
    let http = a.http;
    let pairs = a.watchers / 2;
    if pairs == 0 {
        return Err("IM mode needs at least 2 watchers".into());
    }
    let fmt = a.watcher_format.clone();
    let toks = tokens.clone();
    let t = Instant::now();
    let conversations = bounded(pairs, a.concurrency, move |p| {
        let (toks, peer) = (toks.clone(), watcher_uri(&fmt, 2 * p + 2));
        async move {
            let (status, body) = request(
                http,
                "POST",
                "/api/v1/conversations",
                Some(&toks[2 * p]),
                Some(&json!({ "to": [peer] })),
            )
            .await?;
            if status != 201 {
                return Err(format!("conversation: {status} {body}"));
            }
            let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
            v["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| "conversation without id".to_string())
        }
    })
    .await?;
    eprintln!(
        "opened {pairs} conversations in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let conversations = Arc::new(conversations);
    let pool = Arc::new(Pool::new(http));
    let mut steps: Vec<Step> = Vec::new();
    let mut base = 0usize;
    for (i, &rate) in a.rates.iter().enumerate() {
        if i > 0 {
            // Let the previous step's last work (delivery marks) finish before the next.
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        let n = match a.step_secs {
            Some(secs) => ((rate * secs as f64) as usize).clamp(1, 1_000_000),
            None => a.messages,
        };
        // Discard what arrived in between (conversation.updated is filtered anyway).
        while rx.try_recv().is_ok() {}
        let step = im_step(a, rate, n, base, tokens, &conversations, &pool, rx).await;
        base += n;
        let kept = step.sustained();
        print_step(a, transport, pairs, &step);
        steps.push(step);
        if !kept {
            break;
        }
    }
    let best = steps
        .iter()
        .filter(|s| s.sustained())
        .map(|s| s.rate)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    println!();
    match best {
        Some(r) => println!(
            "highest rate sustained with zero loss: {r:.0} messages/s ({} clients, {})",
            a.watchers,
            transport.name()
        ),
        None => println!("no rate of the ladder was sustained"),
    }
    println!(
        "SUMMARY {}",
        json!({"clients": a.watchers, "transport": transport.name(), "highest_sustained": best})
    );
    let last = steps.last().ok_or("no step ran")?;
    if last.delivered < last.messages || last.failed > 0 {
        return Err(format!(
            "{} of {} messages delivered, {} POSTs failed at {:.0}/s",
            last.delivered, last.messages, last.failed, last.rate
        ));
    }
    Ok(())
}

/// One rate: `n` messages, numbered from `base`, offered open loop at `rate` per second.
#[allow(clippy::too_many_arguments)]
async fn im_step(
    a: &Args,
    rate: f64,
    n: usize,
    base: usize,
    tokens: &Arc<Vec<String>>,
    conversations: &Arc<Vec<String>>,
    pool: &Arc<Pool>,
    rx: &mut mpsc::UnboundedReceiver<Receipt>,
) -> Step {
    let gap = Duration::from_secs_f64(1.0 / rate);
    let sent_at: Arc<std::sync::Mutex<Vec<Option<Instant>>>> =
        Arc::new(std::sync::Mutex::new(vec![None; n]));
    let post_ms: Arc<std::sync::Mutex<Vec<f64>>> = Arc::default();
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let inflight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let load_before = loadavg();
    let server_before = a.server_pid.and_then(server_sample);
    let own_before = own_cpu_secs();
    let start = Instant::now();
    let mut posts = Vec::with_capacity(n);
    let mut saturated = false;
    for k in 0..n {
        tokio::time::sleep_until((start + gap.mul_f64(k as f64)).into()).await;
        let permit = match inflight.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                saturated = true;
                let Ok(p) = inflight.clone().acquire_owned().await else {
                    break;
                };
                p
            }
        };
        let (toks, convs, sent_at, post_ms, failures, pool) = (
            tokens.clone(),
            conversations.clone(),
            sent_at.clone(),
            post_ms.clone(),
            failures.clone(),
            pool.clone(),
        );
        posts.push(tokio::spawn(async move {
            let _permit = permit;
            let p = k % convs.len();
            let path = format!("/api/v1/conversations/{}/messages", convs[p]);
            let t = Instant::now();
            if let Ok(mut s) = sent_at.lock() {
                s[k] = Some(t);
            }
            let body = json!({"text": format!("im-{}", base + k)});
            match pool.post(&path, &toks[2 * p], &body).await {
                Ok((201, _)) => {
                    if let Ok(mut v) = post_ms.lock() {
                        v.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                }
                Ok((status, body)) => {
                    if failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 3 {
                        eprintln!("message {}: {status} {body}", base + k);
                    }
                }
                Err(e) => {
                    if failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 3 {
                        eprintln!("message {}: {e}", base + k);
                    }
                }
            }
        }));
    }
    let offered_secs = start.elapsed().as_secs_f64();
    let mut delivered = vec![None::<f64>; n];
    let (mut count, mut misdelivered) = (0, 0);
    let deadline = tokio::time::Instant::now() + a.flip_timeout + Duration::from_secs(5);
    while count < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((k, w, at))) if (base..base + n).contains(&k) => {
                let i = k - base;
                // Message i went from watcher 2p to 2p + 1 (p = i mod pairs).
                if w != 2 * (i % conversations.len()) + 1 {
                    misdelivered += 1;
                    continue;
                }
                if delivered[i].is_some() {
                    continue;
                }
                let sent = sent_at.lock().ok().and_then(|s| s[i]);
                if let Some(sent) = sent {
                    delivered[i] = Some(at.duration_since(sent).as_secs_f64() * 1e3);
                    count += 1;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let all_secs = start.elapsed().as_secs_f64();
    let server_after = a.server_pid.and_then(server_sample);
    let own_cpu = own_cpu_secs()
        .zip(own_before)
        .map(|(a, b)| (a - b) / all_secs * 100.0);
    let load_after = loadavg();
    for p in posts {
        let _ = p.await;
    }
    let mut latency: Vec<f64> = delivered.iter().flatten().copied().collect();
    latency.sort_by(|x, y| x.total_cmp(y));
    let mut post = post_ms.lock().map(|v| v.clone()).unwrap_or_default();
    post.sort_by(|x, y| x.total_cmp(y));
    Step {
        rate,
        messages: n,
        delivered: count,
        misdelivered,
        failed: failures.load(std::sync::atomic::Ordering::Relaxed),
        saturated,
        offered_secs,
        all_secs,
        latency,
        post,
        server: server_before.zip(server_after),
        own_cpu,
        load_before,
        load_after,
    }
}

fn print_step(a: &Args, transport: Transport, pairs: usize, s: &Step) {
    println!();
    println!(
        "IM at {:.0}/s: {} clients with open event streams ({}), {} conversations, {} messages offered over {:.1} s ({:.0}/s); {} delivered ({} to a wrong stream), {} POSTs failed; all delivered within {:.1} s ({:.0} messages/s end to end): {}",
        s.rate,
        a.watchers,
        transport.name(),
        pairs,
        s.messages,
        s.offered_secs,
        s.messages as f64 / s.offered_secs,
        s.delivered,
        s.misdelivered,
        s.failed,
        s.all_secs,
        s.delivered as f64 / s.all_secs,
        if s.sustained() {
            "sustained"
        } else if s.saturated {
            "NOT sustained (the in-flight cap was reached: the server fell behind)"
        } else {
            "NOT sustained"
        }
    );
    println!("| measure | p50 ms | p90 ms | p99 ms | max ms | samples |");
    println!("|---|---|---|---|---|---|");
    for (name, v) in [
        (
            "POST sent → message.received on the recipient's stream",
            &s.latency,
        ),
        ("POST /api/v1/conversations/{id}/messages response", &s.post),
    ] {
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            percentile(v, 50.0),
            percentile(v, 90.0),
            percentile(v, 99.0),
            v.last().copied().unwrap_or(f64::NAN),
            v.len()
        );
    }
    let server = s.server.map(|(before, after)| {
        let cpu = (after.cpu_secs - before.cpu_secs) / s.all_secs * 100.0;
        println!(
            "server: {cpu:.0} % CPU (of one core) over the step; RSS {:.0} MiB at the end, peak {:.0} MiB",
            after.rss_mib, after.peak_rss_mib
        );
        json!({"cpu_percent": cpu, "rss_mib": after.rss_mib, "peak_rss_mib": after.peak_rss_mib})
    });
    if let Some(cpu) = s.own_cpu {
        println!("load generator: {cpu:.0} % CPU (of one core) over the step");
    }
    println!(
        "machine load average: {} before, {} after",
        s.load_before, s.load_after
    );
    println!(
        "RESULT {}",
        json!({
            "clients": a.watchers,
            "transport": transport.name(),
            "rate": s.rate,
            "messages": s.messages,
            "delivered": s.delivered,
            "misdelivered": s.misdelivered,
            "failed_posts": s.failed,
            "offered_per_s": s.messages as f64 / s.offered_secs,
            "messages_per_s": s.delivered as f64 / s.all_secs,
            "sustained": s.sustained(),
            "saturated": s.saturated,
            "load_generator_cpu_percent": s.own_cpu,
            "delivery_p50_ms": percentile(&s.latency, 50.0),
            "delivery_p99_ms": percentile(&s.latency, 99.0),
            "post_p50_ms": percentile(&s.post, 50.0),
            "post_p99_ms": percentile(&s.post, 99.0),
            "server": server,
            "load_before": s.load_before,
            "load_after": s.load_after,
        })
    );
}
