//! `calls-load`: an open-loop load generator for ViaWork's click-to-call API.
//!
//! It signs in the given users, posts `POST /api/v1/calls` at a fixed rate for a bounded
//! time (each call's send time is scheduled in advance, so a slow server does not slow the
//! offered load), and hangs each call up with `DELETE /api/v1/calls/{id}`: after `--hold`
//! seconds, or with `--hold 0` as soon as a `GET` shows it `connected` and joined (media
//! no longer `engine`). A call counts as successful when the DELETE answers it ended as
//! `completed` — i.e. it had reached `connected`. Alongside, it samples the server's
//! `/metrics` (`viawork_calls_live`) and, given `--pid`, its resident memory and CPU time,
//! and at the end reports the server's `viawork_call_added_seconds` quantiles.
//!
//! Everything is bounded: the number of calls (rate × duration), each request (a timeout),
//! each call (hold + connect budget), the whole run (a deadline after which unfinished
//! calls are abandoned and counted as failures). Only loopback addresses are accepted.
//!
//! Exit status: 0 when every call completed, 1 when some failed, 2 on a usage or setup
//! error. The last line of output is `RESULT {json}` for scripts.
#![recursion_limit = "256"]

mod http;
mod metrics;

use http::{Conn, Pool};
use metrics::{proc_sample, ProcSample, Scrape};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

const USAGE: &str = "\
usage: calls-load --http ADDR (--users FILE | --tokens FILE) --rate N --duration S [options]

  --http ADDR            the server's HTTP API, a loopback ip:port
  --users FILE           one user per line: SIP-URI PASSWORD (signed in at start)
  --tokens FILE          one bearer token per line (instead of --users)
  --write-tokens FILE    after signing in, write the tokens there (for later --tokens)
  --rate N               calls per second, 1..=20000 (open loop)
  --duration S           seconds of posting, 1..=240
  --hold S               seconds a call stays up before DELETE, 0..=300 (default 0:
                         hang up as soon as it is connected)
  --to NUMBER            who to call (default +14255550199)
  --conns N              HTTP connections in the pool, 1..=1024 (default 64)
  --threads N            runtime worker threads, 1..=16 (default 1)
  --connect-budget S     with --hold 0: how long a call may take to connect, 1..=60 (default 10)
  --first-poll-ms MS     with --hold 0: first GET after the 201 (default 400)
  --poll-ms MS           with --hold 0: GET interval after that (default 50)
  --timeout S            per HTTP request, 1..=60 (default 10)
  --pid PID              the server's process: sample its VmRSS and CPU time
  --settle S             after the last call: wait up to S s for viawork_calls_live to
                         reach 0 before the final samples, 0..=120 (default 5)
  --idle S               then wait S s more and sample the server's VmRSS and heap
                         again (does memory go back once idle?), 0..=120 (default 0)
  --steady S             with a hold longer than S: S s after the last POST, while the
                         calls are still up, sample VmRSS, heap and live calls again:
                         memory per call once the setups' transactions (kept 32 s,
                         RFC 6026) are gone, 0..=240 (default 0: not sampled)
  --label TEXT           a name for this run in the report
";

struct Args {
    http: SocketAddr,
    users: Option<String>,
    tokens: Option<String>,
    write_tokens: Option<String>,
    rate: f64,
    duration: f64,
    hold: f64,
    to: String,
    conns: usize,
    threads: usize,
    connect_budget: f64,
    first_poll_ms: u64,
    poll_ms: u64,
    timeout: f64,
    pid: Option<u32>,
    settle: f64,
    idle: f64,
    steady: f64,
    label: String,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        http: "127.0.0.1:8080".parse().map_err(|_| "default address")?,
        users: None,
        tokens: None,
        write_tokens: None,
        rate: 0.0,
        duration: 0.0,
        hold: 0.0,
        to: "+14255550199".into(),
        conns: 64,
        threads: 1,
        connect_budget: 10.0,
        first_poll_ms: 400,
        poll_ms: 50,
        timeout: 10.0,
        pid: None,
        settle: 5.0,
        idle: 0.0,
        steady: 0.0,
        label: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let mut val = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let num = |v: String, lo: f64, hi: f64| -> Result<f64, String> {
            let n: f64 = v
                .parse()
                .map_err(|_| format!("{flag}: {v:?} is not a number"))?;
            if !(lo..=hi).contains(&n) {
                return Err(format!("{flag}: {n} is outside {lo}..={hi}"));
            }
            Ok(n)
        };
        match flag.as_str() {
            "--http" => {
                let v = val()?;
                a.http = v
                    .parse()
                    .map_err(|_| format!("--http: {v:?} is not ip:port"))?;
            }
            "--users" => a.users = Some(val()?),
            "--tokens" => a.tokens = Some(val()?),
            "--write-tokens" => a.write_tokens = Some(val()?),
            "--rate" => a.rate = num(val()?, 1.0, 20_000.0)?,
            "--duration" => a.duration = num(val()?, 1.0, 240.0)?,
            "--hold" => a.hold = num(val()?, 0.0, 300.0)?,
            "--to" => a.to = val()?,
            "--conns" => a.conns = num(val()?, 1.0, 1024.0)? as usize,
            "--threads" => a.threads = num(val()?, 1.0, 16.0)? as usize,
            "--connect-budget" => a.connect_budget = num(val()?, 1.0, 60.0)?,
            "--first-poll-ms" => a.first_poll_ms = num(val()?, 0.0, 10_000.0)? as u64,
            "--poll-ms" => a.poll_ms = num(val()?, 5.0, 5_000.0)? as u64,
            "--timeout" => a.timeout = num(val()?, 1.0, 60.0)?,
            "--pid" => a.pid = Some(num(val()?, 1.0, 4_194_304.0)? as u32),
            "--settle" => a.settle = num(val()?, 0.0, 120.0)?,
            "--idle" => a.idle = num(val()?, 0.0, 120.0)?,
            "--steady" => a.steady = num(val()?, 0.0, 240.0)?,
            "--label" => a.label = val()?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if a.rate == 0.0 || a.duration == 0.0 {
        return Err("--rate and --duration are required".into());
    }
    if a.users.is_none() == a.tokens.is_none() {
        return Err("give exactly one of --users and --tokens".into());
    }
    if !a.http.ip().is_loopback() {
        return Err(format!("--http {}: only loopback addresses", a.http));
    }
    Ok(a)
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("calls-load: {e}");
            }
            eprint!("{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("calls-load: cannot start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match rt.block_on(run(args)) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("calls-load: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// What one call did.
#[derive(Default)]
struct CallResult {
    /// `None` when it completed; else what went wrong first.
    failure: Option<String>,
    /// POST latency from the moment the request was handed to the pool (µs).
    post_us: Option<u64>,
    /// POST latency from the scheduled send time (includes client-side waiting, µs).
    post_sched_us: Option<u64>,
    /// How late the call was dispatched against its schedule (µs).
    lag_us: u64,
    /// 201 → first GET that showed it connected (ms; coarse: bounded by the poll interval).
    connect_ms: Option<u64>,
    gets: u32,
}

struct Ctx {
    pool: Pool,
    tokens: Vec<String>,
    body: Vec<u8>,
    hold: Duration,
    first_poll: Duration,
    poll: Duration,
    budget: Duration,
    live: AtomicI64,
    max_live: AtomicI64,
    /// Calls answered 201 and calls failed so far, for the progress lines.
    created: AtomicI64,
    failed: AtomicI64,
}

fn error_code(r: &http::Response) -> String {
    r.json()["error"]["code"].as_str().unwrap_or("").to_owned()
}

async fn one_call(ctx: Arc<Ctx>, i: u64, scheduled: Instant) -> CallResult {
    let r = one_call_inner(&ctx, i, scheduled).await;
    if r.failure.is_some() {
        ctx.failed.fetch_add(1, Ordering::Relaxed);
    }
    r
}

async fn one_call_inner(ctx: &Ctx, i: u64, scheduled: Instant) -> CallResult {
    let mut res = CallResult {
        lag_us: scheduled.elapsed().as_micros() as u64,
        ..CallResult::default()
    };
    let token = &ctx.tokens[(i % ctx.tokens.len() as u64) as usize];
    let sent = Instant::now();
    let r = ctx
        .pool
        .request("POST", "/api/v1/calls", Some(token), Some(&ctx.body))
        .await;
    let answered = Instant::now();
    res.post_us = Some((answered - sent).as_micros() as u64);
    res.post_sched_us = Some((answered - scheduled).as_micros() as u64);
    let resp = match r {
        Ok(r) => r,
        Err(e) => {
            res.failure = Some(format!("POST {e}"));
            return res;
        }
    };
    if resp.status != 201 {
        res.failure = Some(format!("POST {} {}", resp.status, error_code(&resp)));
        return res;
    }
    let Some(id) = resp.json()["id"].as_str().map(str::to_owned) else {
        res.failure = Some("POST 201 without an id".into());
        return res;
    };
    ctx.created.fetch_add(1, Ordering::Relaxed);
    let live = ctx.live.fetch_add(1, Ordering::Relaxed) + 1;
    ctx.max_live.fetch_max(live, Ordering::Relaxed);
    let path = format!("/api/v1/calls/{id}");
    if ctx.hold.is_zero() {
        tokio::time::sleep(ctx.first_poll).await;
        loop {
            res.gets += 1;
            match ctx.pool.request("GET", &path, Some(token), None).await {
                Ok(r) if r.status == 200 => {
                    let v = r.json();
                    let state = v["state"].as_str().unwrap_or("");
                    if state == "connected" && v["media"].as_str() != Some("engine") {
                        res.connect_ms = Some(answered.elapsed().as_millis() as u64);
                        break;
                    }
                    if state == "ended" {
                        let reason = v["end_reason"].as_str().unwrap_or("?");
                        res.failure = Some(format!("ended before connected: {reason}"));
                        ctx.live.fetch_sub(1, Ordering::Relaxed);
                        return res;
                    }
                }
                Ok(r) => {
                    res.failure = Some(format!("GET {} {}", r.status, error_code(&r)));
                    break;
                }
                Err(e) => {
                    res.failure = Some(format!("GET {e}"));
                    break;
                }
            }
            if answered.elapsed() >= ctx.budget {
                res.failure = Some("not connected within the budget".into());
                break;
            }
            tokio::time::sleep(ctx.poll).await;
        }
    } else {
        tokio::time::sleep_until(answered + ctx.hold).await;
    }
    match ctx.pool.request("DELETE", &path, Some(token), None).await {
        Ok(r) if r.status == 200 => {
            let v = r.json();
            let reason = v["end_reason"].as_str().unwrap_or("?");
            if reason != "completed" && res.failure.is_none() {
                res.failure = Some(format!("ended {reason}"));
            }
        }
        Ok(r) => {
            res.failure
                .get_or_insert_with(|| format!("DELETE {} {}", r.status, error_code(&r)));
        }
        Err(e) => {
            res.failure.get_or_insert_with(|| format!("DELETE {e}"));
        }
    }
    ctx.live.fetch_sub(1, Ordering::Relaxed);
    res
}

async fn sign_in(pool: &Pool, user: &str, password: &str) -> Result<String, String> {
    let body = json!({"username": user, "password": password}).to_string();
    let r = pool
        .request("POST", "/api/v1/auth/token", None, Some(body.as_bytes()))
        .await
        .map_err(|e| format!("sign in {user}: {e}"))?;
    if r.status != 200 {
        return Err(format!(
            "sign in {user}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    r.json()["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("sign in {user}: no access_token"))
}

async fn scrape(conn: &mut Option<Conn>, addr: SocketAddr) -> Option<Scrape> {
    if conn.is_none() {
        *conn = Conn::connect(addr).await.ok();
    }
    let c = conn.as_mut()?;
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        c.send("GET", "/metrics", None, None),
    )
    .await;
    match r {
        Ok(Ok((resp, keep))) if resp.status == 200 => {
            if !keep {
                *conn = None;
            }
            Some(Scrape::parse(&String::from_utf8_lossy(&resp.body)))
        }
        _ => {
            *conn = None;
            None
        }
    }
}

/// What the sampler saw during the run.
#[derive(Default, Clone, Copy)]
struct Peaks {
    rss_peak_kib: u64,
    server_live_max: f64,
    rss_at_live_max_kib: u64,
    /// `viawork_heap_allocated_bytes` when the live calls peaked (servers that report it).
    heap_at_live_max: Option<f64>,
}

fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[idx])
}

fn ms(us: Option<u64>) -> Value {
    us.map_or(Value::Null, |u| json!(u as f64 / 1000.0))
}

async fn run(a: Args) -> Result<bool, String> {
    let pool = Pool::new(a.http, a.conns, Duration::from_secs_f64(a.timeout));
    // Users or tokens.
    let tokens: Vec<String> = if let Some(f) = &a.tokens {
        std::fs::read_to_string(f)
            .map_err(|e| format!("{f}: {e}"))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        let f = a.users.as_deref().unwrap_or_default();
        let text = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
        let mut t = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (user, pass) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("{f}: want `SIP-URI PASSWORD` per line"))?;
            t.push(sign_in(&pool, user, pass.trim()).await?);
            if t.len() > 10_000 {
                return Err(format!("{f}: more than 10000 users"));
            }
        }
        t
    };
    if tokens.is_empty() {
        return Err("no users or tokens".into());
    }
    if let Some(f) = &a.write_tokens {
        std::fs::write(f, tokens.join("\n") + "\n").map_err(|e| format!("{f}: {e}"))?;
    }

    let mut mconn = None;
    let before = scrape(&mut mconn, a.http)
        .await
        .ok_or("cannot read /metrics")?;
    let proc_before = a.pid.and_then(proc_sample);
    if a.pid.is_some() && proc_before.is_none() {
        return Err(format!("cannot read /proc/{}", a.pid.unwrap_or(0)));
    }
    let self_before = metrics::cpu_ticks("/proc/self/stat").unwrap_or(0);

    let ctx = Arc::new(Ctx {
        pool,
        tokens,
        body: json!({"to": a.to}).to_string().into_bytes(),
        hold: Duration::from_secs_f64(a.hold),
        first_poll: Duration::from_millis(a.first_poll_ms),
        poll: Duration::from_millis(a.poll_ms),
        budget: Duration::from_secs_f64(a.connect_budget),
        live: AtomicI64::new(0),
        max_live: AtomicI64::new(0),
        created: AtomicI64::new(0),
        failed: AtomicI64::new(0),
    });

    // Sampler: the server's live calls and memory, twice a second, on its own connection.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        let (addr, pid) = (a.http, a.pid);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let mut conn = None;
            let mut p = Peaks::default();
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            let t0 = Instant::now();
            // Bounded: the run's own deadline stops it well before this.
            for n in 0..2_000u32 {
                tick.tick().await;
                let rss = pid.and_then(proc_sample).map_or(0, |s| s.rss_kib);
                p.rss_peak_kib = p.rss_peak_kib.max(rss);
                let mut live = f64::NAN;
                if let Some(s) = scrape(&mut conn, addr).await {
                    live = s.get("viawork_calls_live", &[]).unwrap_or(0.0);
                    if live > p.server_live_max {
                        p.server_live_max = live;
                        p.rss_at_live_max_kib = rss;
                        p.heap_at_live_max = s.get("viawork_heap_allocated_bytes", &[]);
                    }
                }
                // A progress line every 5 s (stderr): where a run breaks down, and when.
                if n % 10 == 9 {
                    eprintln!(
                        "t={:>4.0}s created {} failed {} client-live {} server-live {} rss {} MiB",
                        t0.elapsed().as_secs_f64(),
                        ctx.created.load(Ordering::Relaxed),
                        ctx.failed.load(Ordering::Relaxed),
                        ctx.live.load(Ordering::Relaxed),
                        live,
                        rss / 1024
                    );
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
            p
        })
    };

    // Open-loop schedule.
    let total = (a.rate * a.duration).round().max(1.0) as u64;
    let interval_ns = 1e9 / a.rate;
    let start = Instant::now() + Duration::from_millis(100);
    let mut set = JoinSet::new();
    let mut results: Vec<CallResult> = Vec::with_capacity(total as usize);
    eprintln!(
        "calls-load {}: {total} calls at {}/s for {} s, hold {} s, {} user tokens",
        a.label,
        a.rate,
        a.duration,
        a.hold,
        ctx.tokens.len()
    );
    for i in 0..total {
        let at = start + Duration::from_nanos((i as f64 * interval_ns) as u64);
        tokio::time::sleep_until(at).await;
        set.spawn(one_call(ctx.clone(), i, at));
        // Reap what is done so the set stays small.
        while let Some(Ok(r)) = set.try_join_next() {
            results.push(r);
        }
    }
    let posted_for = start.elapsed();
    // `viawork_call_added_seconds` is a summary over a sliding window (about a minute):
    // with a long hold, read its quantiles now, while the calls just placed are in it.
    let mut mid = None;
    if a.hold >= 3.0 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        mid = scrape(&mut mconn, a.http).await;
    }
    // Steady state: calls still held, the setups' transactions gone.
    let mut steady = None;
    if a.steady > 0.0 && a.hold > a.steady {
        tokio::time::sleep_until(start + posted_for + Duration::from_secs_f64(a.steady)).await;
        let rss = a.pid.and_then(proc_sample).map(|s| s.rss_kib);
        let m = scrape(&mut mconn, a.http).await;
        let heap = m.as_ref().and_then(|m| m.get("viawork_heap_allocated_bytes", &[]));
        let live = m.as_ref().and_then(|m| m.get("viawork_calls_live", &[]));
        steady = Some((rss, heap, live));
    }
    let deadline =
        Instant::now() + Duration::from_secs_f64(a.hold + a.connect_budget + 3.0 * a.timeout + 5.0);
    let waited = tokio::time::timeout_at(deadline, async {
        while let Some(r) = set.join_next().await {
            if let Ok(r) = r {
                results.push(r);
            }
        }
    })
    .await;
    let unfinished = if waited.is_err() {
        let n = set.len() as u64;
        set.abort_all();
        n
    } else {
        0
    };
    let load_elapsed = start.elapsed();

    // Settle: the server finishes the legs' BYE transactions.
    let settle_deadline = Instant::now() + Duration::from_secs_f64(a.settle);
    let mut after = scrape(&mut mconn, a.http).await;
    while Instant::now() < settle_deadline {
        if after
            .as_ref()
            .and_then(|s| s.get("viawork_calls_live", &[]))
            .is_some_and(|l| l <= 0.0)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        after = scrape(&mut mconn, a.http).await;
    }
    stop.store(true, Ordering::Relaxed);
    let peaks = sampler.await.unwrap_or_default();
    let proc_after = a.pid.and_then(proc_sample);
    let self_after = metrics::cpu_ticks("/proc/self/stat").unwrap_or(0);
    let after = after.unwrap_or_default();
    let (mut rss_idle, mut heap_idle) = (None, None);
    if a.idle > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(a.idle)).await;
        rss_idle = a.pid.and_then(proc_sample).map(|s| s.rss_kib);
        heap_idle = scrape(&mut mconn, a.http)
            .await
            .and_then(|s| s.get("viawork_heap_allocated_bytes", &[]));
    }

    // Tally.
    let attempted = total;
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let (mut created, mut completed, mut gets) = (0u64, 0u64, 0u64);
    let mut post_us = Vec::with_capacity(results.len());
    let mut post_sched_us = Vec::with_capacity(results.len());
    let mut lag_us = Vec::with_capacity(results.len());
    let mut connect_ms = Vec::new();
    for r in &results {
        gets += u64::from(r.gets);
        if let Some(u) = r.post_us {
            post_us.push(u);
        }
        if let Some(u) = r.post_sched_us {
            post_sched_us.push(u);
        }
        lag_us.push(r.lag_us);
        if let Some(c) = r.connect_ms {
            connect_ms.push(c);
        }
        if !r.failure.as_deref().is_some_and(|f| f.starts_with("POST ")) {
            created += 1;
        }
        match &r.failure {
            None => completed += 1,
            Some(f) => *failures.entry(f.clone()).or_default() += 1,
        }
    }
    if unfinished > 0 {
        *failures
            .entry("unfinished at the deadline".into())
            .or_default() += unfinished;
    }
    for v in [
        &mut post_us,
        &mut post_sched_us,
        &mut lag_us,
        &mut connect_ms,
    ] {
        v.sort_unstable();
    }
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.get(name, labels).unwrap_or(0.0) - before.get(name, labels).unwrap_or(0.0)
    };
    let started = delta("viawork_calls_started_total", &[]);
    let mut ended: BTreeMap<String, f64> = BTreeMap::new();
    for (reason, v) in after.by_label("viawork_calls_ended_total", "reason") {
        let b = before
            .get("viawork_calls_ended_total", &[("reason", &reason)])
            .unwrap_or(0.0);
        if v - b > 0.0 {
            ended.insert(reason, v - b);
        }
    }
    let server_failed: f64 = ended
        .iter()
        .filter(|(r, _)| r.as_str() != "completed")
        .map(|(_, v)| v)
        .sum();
    let mut added = serde_json::Map::new();
    let quantiles = mid.as_ref().unwrap_or(&after);
    for phase in ["api_to_callback_invite", "callback_answer_to_far_invite"] {
        let q = |q: &str| {
            quantiles
                .get(
                    "viawork_call_added_seconds",
                    &[("phase", phase), ("quantile", q)],
                )
                .map_or(Value::Null, |s| json!((s * 1e6).round() / 1e3))
        };
        added.insert(
            phase.into(),
            json!({
                "p50_ms": q("0.5"), "p99_ms": q("0.99"), "max_ms": q("1"),
                "count": quantiles.get("viawork_call_added_seconds_count", &[("phase", phase)]),
                "read": if mid.is_some() { "2 s after the last POST" } else { "at the end" },
            }),
        );
    }
    let tck = 100.0; // USER_HZ on Linux x86-64
    let server_cpu_ms = match (proc_before, proc_after) {
        (Some(b), Some(e)) => Some((e.cpu_ticks - b.cpu_ticks) as f64 * 1000.0 / tck),
        _ => None,
    };
    let gen_cpu_ms = (self_after - self_before) as f64 * 1000.0 / tck;
    let ok = failures.is_empty() && completed == attempted && server_failed == 0.0;
    let rss = |s: Option<ProcSample>| s.map(|s| s.rss_kib);
    let live_max = peaks.server_live_max;
    let heap_before = before.get("viawork_heap_allocated_bytes", &[]);
    let heap_per_call = match (heap_before, peaks.heap_at_live_max) {
        (Some(b), Some(p)) if live_max > 0.0 => Some(((p - b) / live_max).round()),
        _ => None,
    };
    let rss_per_call = match proc_before {
        Some(b) if live_max > 0.0 => Some(
            ((peaks.rss_peak_kib.saturating_sub(b.rss_kib)) as f64 * 1024.0 / live_max).round(),
        ),
        _ => None,
    };
    let (rss_steady, heap_steady, live_steady) = steady.unwrap_or((None, None, None));
    let per_live = |now: Option<f64>, before: Option<f64>| match (now, before, live_steady) {
        (Some(n), Some(b), Some(l)) if l > 0.0 => Some(((n - b) / l).round()),
        _ => None,
    };
    let rss_per_call_steady = per_live(
        rss_steady.map(|k| k as f64 * 1024.0),
        proc_before.map(|b| b.rss_kib as f64 * 1024.0),
    );
    let heap_per_call_steady = per_live(heap_steady, heap_before);
    let result = json!({
        "label": a.label,
        "rate": a.rate, "duration_s": a.duration, "hold_s": a.hold,
        "attempted": attempted, "created": created, "completed": completed,
        "failed": attempted - completed, "ok": ok,
        "failures": failures,
        "offered_rate": (attempted as f64 / posted_for.as_secs_f64() * 10.0).round() / 10.0,
        "load_elapsed_s": (load_elapsed.as_secs_f64() * 10.0).round() / 10.0,
        "post_ms": {"p50": ms(percentile(&post_us, 0.5)), "p99": ms(percentile(&post_us, 0.99)),
                    "max": ms(post_us.last().copied())},
        "post_from_schedule_ms": {"p50": ms(percentile(&post_sched_us, 0.5)),
                    "p99": ms(percentile(&post_sched_us, 0.99)), "max": ms(post_sched_us.last().copied())},
        "dispatch_lag_ms": {"p99": ms(percentile(&lag_us, 0.99)), "max": ms(lag_us.last().copied())},
        "connect_ms": {"p50": percentile(&connect_ms, 0.5), "p99": percentile(&connect_ms, 0.99)},
        "gets_per_call": if created > 0 { (gets as f64 / created as f64 * 100.0).round() / 100.0 } else { 0.0 },
        "client_live_max": ctx.max_live.load(Ordering::Relaxed),
        "server": {
            "started": started, "ended": ended,
            "live_max": live_max,
            "live_after": after.get("viawork_calls_live", &[]),
            "added": added,
            "rss_before_kib": rss(proc_before), "rss_peak_kib": peaks.rss_peak_kib,
            "rss_at_live_max_kib": peaks.rss_at_live_max_kib,
            "rss_after_kib": rss(proc_after),
            "rss_per_live_call_bytes": rss_per_call,
            "heap_before_bytes": heap_before,
            "heap_at_live_max_bytes": peaks.heap_at_live_max,
            "heap_after_bytes": after.get("viawork_heap_allocated_bytes", &[]),
            "idle_s": a.idle, "rss_idle_kib": rss_idle, "heap_idle_bytes": heap_idle,
            "heap_per_live_call_bytes": heap_per_call,
            "steady_s": a.steady, "live_steady": live_steady,
            "rss_steady_kib": rss_steady, "heap_steady_bytes": heap_steady,
            "rss_per_call_steady_bytes": rss_per_call_steady,
            "heap_per_call_steady_bytes": heap_per_call_steady,
            "cpu_ms": server_cpu_ms,
            "cpu_us_per_call": server_cpu_ms.filter(|_| completed > 0)
                .map(|c| (c * 1000.0 / completed as f64 * 10.0).round() / 10.0),
        },
        "generator_cpu_ms": gen_cpu_ms,
    });
    print_human(&result);
    println!("RESULT {result}");
    Ok(ok)
}

fn print_human(r: &Value) {
    let s = &r["server"];
    println!(
        "{}: {} attempted at {}/s (offered {}/s), {} created, {} completed, {} failed{}",
        r["label"].as_str().unwrap_or(""),
        r["attempted"],
        r["rate"],
        r["offered_rate"],
        r["created"],
        r["completed"],
        r["failed"],
        if r["ok"] == true {
            ""
        } else {
            "  <-- FAILURES"
        }
    );
    if let Some(f) = r["failures"].as_object() {
        for (k, v) in f {
            println!("  failure {v} × {k}");
        }
    }
    println!(
        "  POST ms p50/p99/max {}/{}/{} (from schedule {}/{}/{}), GETs per call {}",
        r["post_ms"]["p50"],
        r["post_ms"]["p99"],
        r["post_ms"]["max"],
        r["post_from_schedule_ms"]["p50"],
        r["post_from_schedule_ms"]["p99"],
        r["post_from_schedule_ms"]["max"],
        r["gets_per_call"]
    );
    for phase in ["api_to_callback_invite", "callback_answer_to_far_invite"] {
        let a = &s["added"][phase];
        println!(
            "  added {phase}: p50 {} ms, p99 {} ms, max {} ms (count {})",
            a["p50_ms"], a["p99_ms"], a["max_ms"], a["count"]
        );
    }
    println!(
        "  server: started {}, ended {}, live max {} (client {}), RSS KiB before/peak/after {}/{}/{}, CPU {} ms ({} µs per call)",
        s["started"],
        s["ended"],
        s["live_max"],
        r["client_live_max"],
        s["rss_before_kib"],
        s["rss_peak_kib"],
        s["rss_after_kib"],
        s["cpu_ms"],
        s["cpu_us_per_call"]
    );
    if !s["rss_idle_kib"].is_null() {
        println!(
            "  after {} s idle: RSS {} KiB, heap {} bytes",
            s["idle_s"], s["rss_idle_kib"], s["heap_idle_bytes"]
        );
    }
    if !s["live_steady"].is_null() {
        println!(
            "  {} s after the last POST, {} calls up: RSS {} KiB, heap {} bytes: {} bytes RSS, {} bytes heap per call",
            s["steady_s"],
            s["live_steady"],
            s["rss_steady_kib"],
            s["heap_steady_bytes"],
            s["rss_per_call_steady_bytes"],
            s["heap_per_call_steady_bytes"]
        );
    }
    if !s["heap_per_live_call_bytes"].is_null() {
        println!(
            "  server heap bytes before/at live max/after {}/{}/{}: {} per live call",
            s["heap_before_bytes"],
            s["heap_at_live_max_bytes"],
            s["heap_after_bytes"],
            s["heap_per_live_call_bytes"]
        );
    }
}
