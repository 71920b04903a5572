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
//! Usage: presence-load --http ADDR --target URI --watchers N --watcher-format
//! 'sip:pw{:04}@example.com' --password PW [--flips 50] [--interval-ms 100]
//! [--flip-timeout-ms 5000] [--concurrency 16] [--messages M --rate R]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};

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
    /// IM mode: this many messages between pairs of watchers instead of presence flips.
    messages: usize,
    /// IM mode: messages per second offered (open loop).
    rate: f64,
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
        messages: 0,
        rate: 200.0,
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
            "--concurrency" => a.concurrency = (num(&v)? as usize).max(1),
            "--messages" => a.messages = (num(&v)? as usize).min(1_000_000),
            "--rate" => a.rate = (num(&v)? as f64).clamp(1.0, 100_000.0),
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    if a.target.is_empty() || a.password.is_empty() {
        return Err("--target and --password are required".into());
    }
    Ok(a)
}

fn watcher_uri(format: &str, i: usize) -> String {
    format.replace("{:04}", &format!("{i:04}"))
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

/// Opens `token`'s event stream; once it answers 200, forwards every `presence.updated`
/// about `target` whose note is `flip-K` as a receipt, until the stream ends.
async fn open_stream(
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
            // Cheap filter first: most lines are not ours.
            let Some(data) = line.trim_end().strip_prefix("data: ") else {
                continue;
            };
            if data.contains("message.received") && data.contains("\"im-") {
                let at = Instant::now();
                let Ok(e) = serde_json::from_str::<Value>(data) else {
                    continue;
                };
                if e["data"]["direction"] != "incoming" {
                    continue;
                }
                let k = e["data"]["message"]["text"]
                    .as_str()
                    .and_then(|t| t.strip_prefix("im-"))
                    .and_then(|k| k.parse::<usize>().ok());
                if let Some(k) = k {
                    if receipts.send((k, watcher, at)).is_err() {
                        return;
                    }
                }
                continue;
            }
            if !data.contains("presence.updated") || !data.contains("flip-") {
                continue;
            }
            let at = Instant::now();
            let Ok(e) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if e["data"]["uri"] != target.as_str() {
                continue;
            }
            let flip = e["data"]["note"]
                .as_str()
                .and_then(|n| n.strip_prefix("flip-"))
                .and_then(|k| k.parse().ok());
            if let Some(k) = flip {
                if receipts.send((k, watcher, at)).is_err() {
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
    let tokens = bounded(a.watchers, a.concurrency, move |i| {
        let (pw, uri) = (pw.clone(), watcher_uri(&fmt, i + 1));
        async move { sign_in(http, &uri, &pw).await }
    })
    .await?;
    eprintln!(
        "signed in 1 + {} users in {:.1} s",
        a.watchers,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel::<Receipt>();
    let mut readers = Vec::with_capacity(a.watchers);
    for (i, token) in tokens.iter().enumerate() {
        readers.push(open_stream(http, token.clone(), a.target.clone(), i, tx.clone()).await?);
    }
    // The target is signed in too (an open stream).
    let (ttx, _trx) = mpsc::unbounded_channel();
    let target_stream = open_stream(http, target_token.clone(), String::new(), 0, ttx).await?;
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
        "opened {} event streams and subscribed in {:.1} s",
        a.watchers,
        t.elapsed().as_secs_f64()
    );

    if a.messages > 0 {
        let result = im_phase(&a, &tokens, &mut rx).await;
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
        "presence fan-out: 1 target, {} watchers (SSE), {} flips in {:.1} s",
        a.watchers, a.flips, elapsed
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

/// IM mode: watchers in pairs (2i writes to 2i+1), one conversation per pair, then
/// `--messages` messages offered open loop at `--rate` across the pairs; each is timed from
/// its POST to the `message.received` event on the recipient's stream.
async fn im_phase(
    a: &Args,
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
    let conversations = Arc::new(conversations);
    // Discard whatever arrived while setting up (conversation.updated is filtered anyway).
    while rx.try_recv().is_ok() {}

    let n = a.messages;
    let gap = Duration::from_secs_f64(1.0 / a.rate);
    let sent_at: Arc<std::sync::Mutex<Vec<Option<Instant>>>> =
        Arc::new(std::sync::Mutex::new(vec![None; n]));
    let post_ms: Arc<std::sync::Mutex<Vec<f64>>> = Arc::default();
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let inflight = Arc::new(Semaphore::new(512));
    let start = Instant::now();
    let mut posts = Vec::with_capacity(n);
    for k in 0..n {
        tokio::time::sleep_until((start + gap * k as u32).into()).await;
        let Ok(permit) = inflight.clone().acquire_owned().await else {
            break;
        };
        let (toks, convs, sent_at, post_ms, failures) = (
            tokens.clone(),
            conversations.clone(),
            sent_at.clone(),
            post_ms.clone(),
            failures.clone(),
        );
        posts.push(tokio::spawn(async move {
            let _permit = permit;
            let p = k % convs.len();
            let path = format!("/api/v1/conversations/{}/messages", convs[p]);
            let t = Instant::now();
            sent_at.lock().unwrap()[k] = Some(t);
            match request(
                http,
                "POST",
                &path,
                Some(&toks[2 * p]),
                Some(&json!({"text": format!("im-{k}")})),
            )
            .await
            {
                Ok((201, _)) => post_ms
                    .lock()
                    .unwrap()
                    .push(t.elapsed().as_secs_f64() * 1e3),
                _ => {
                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    let offered_secs = start.elapsed().as_secs_f64();
    let mut delivered = vec![None::<f64>; n];
    let mut count = 0;
    let deadline = tokio::time::Instant::now() + a.flip_timeout + Duration::from_secs(5);
    while count < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((k, _, at))) if k < n && delivered[k].is_none() => {
                if let Some(sent) = sent_at.lock().unwrap()[k] {
                    delivered[k] = Some(at.duration_since(sent).as_secs_f64() * 1e3);
                    count += 1;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let all_secs = start.elapsed().as_secs_f64();
    for p in posts {
        let _ = p.await;
    }
    let mut lat: Vec<f64> = delivered.iter().flatten().copied().collect();
    lat.sort_by(|x, y| x.total_cmp(y));
    let mut post = post_ms.lock().unwrap().clone();
    post.sort_by(|x, y| x.total_cmp(y));
    let failed = failures.load(std::sync::atomic::Ordering::Relaxed);
    println!();
    println!(
        "IM: {} clients with open event streams (SSE), {} conversations, {} messages offered at {:.0}/s over {:.1} s; {} delivered, {} POSTs failed; all delivered within {:.1} s ({:.0} messages/s end to end)",
        a.watchers, pairs, n, a.rate, offered_secs, count, failed, all_secs, count as f64 / all_secs
    );
    println!("| measure | p50 ms | p90 ms | p99 ms | max ms | samples |");
    println!("|---|---|---|---|---|---|");
    for (name, v) in [
        (
            "POST sent → message.received on the recipient's stream",
            &lat,
        ),
        ("POST /api/v1/conversations/{id}/messages response", &post),
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
    println!(
        "RESULT {}",
        json!({
            "clients": a.watchers,
            "messages": n,
            "rate": a.rate,
            "delivered": count,
            "failed_posts": failed,
            "messages_per_s": count as f64 / all_secs,
            "delivery_p50_ms": percentile(&lat, 50.0),
            "delivery_p99_ms": percentile(&lat, 99.0),
        })
    );
    if count < n || failed > 0 {
        return Err(format!(
            "{} of {n} messages delivered, {failed} POSTs failed",
            count
        ));
    }
    Ok(())
}
