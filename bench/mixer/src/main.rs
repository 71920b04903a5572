//! Conference mixer load harness: K conferences of N participants (default 10), every
//! participant a real UDP socket on loopback sending G.711 µ-law every 20 ms, three of
//! each conference talking (a tone), the rest sending near-silence.
//!
//! Two processes, so the engine can be pinned to its own cores (`taskset`) while the
//! phones run elsewhere:
//!
//! ```text
//! mixer-load engine --conferences K [--parties 10] [--threads 2] [--warmup 3] [--secs 10] --ports FILE
//!                   [--mixing-threads N] [--mixing-priority normal|high|realtime]
//! mixer-load phones --ports FILE [--parties 10] [--threads 1] --secs S
//! ```
//!
//! `engine` (tokio workers `--threads`, conferences ticked by the engine's mixing threads,
//! by default as `MediaConfig::new` says) opens the streams, joins them, writes their ports to FILE (one per line,
//! conference by conference), runs `warmup` seconds, zeroes the tick counters, runs `secs`
//! more and prints one JSON line: tick lateness (max and the worst conference's p99),
//! ticks later than 5 ms, ticks skipped, frames the sockets refused, and its CPU time.
//! `phones` reads FILE, sends for `secs` seconds from one socket per participant, drains
//! what comes back every tick and prints one JSON line: frames sent, received, and frames
//! missing from the received sequences (gaps) in the middle of the run. Everything is
//! bounded by the given durations; nothing leaves loopback.

use std::f64::consts::TAU;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::g711::Codec;
use media::mixer::MixerConfig;
use media::rtp::{self, RtpPacket};
use media::{MediaConfig, MediaEngine, MixingPriority, RemoteMedia};
use tokio::net::UdpSocket;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const TALKERS: usize = 3;

struct Args(Vec<String>);

impl Args {
    fn get<T: std::str::FromStr>(&self, name: &str, default: Option<T>) -> T {
        let flag = format!("--{name}");
        match self.0.iter().position(|a| *a == flag) {
            Some(i) => self
                .0
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| die(&format!("{flag} needs a valid value"))),
            None => default.unwrap_or_else(|| die(&format!("{flag} is required"))),
        }
    }
}

fn die(msg: &str) -> ! {
    eprintln!("mixer-load: {msg}");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let role = args.get(1).cloned().unwrap_or_default();
    let a = Args(args);
    match role.as_str() {
        "engine" => engine(&a),
        "phones" => phones(&a),
        _ => die("usage: mixer-load engine|phones [options] (see the source's header)"),
    }
}

/// User + system CPU seconds of this process so far (Linux /proc).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn engine(a: &Args) {
    let conferences: usize = a.get("conferences", None);
    let parties: usize = a.get("parties", Some(10));
    let threads: usize = a.get("threads", Some(2));
    let warmup: u64 = a.get("warmup", Some(3));
    let secs: u64 = a.get("secs", Some(10));
    let ports: String = a.get("ports", None);
    let mut config = MediaConfig::new(LO);
    config.port_min = 10_000;
    config.port_max = 60_000;
    config.mixing.threads = a.get("mixing-threads", Some(config.mixing.threads));
    config.mixing.priority =
        a.get::<MixingPriority>("mixing-priority", Some(config.mixing.priority));
    let mixing = config.mixing;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let engine = MediaEngine::new(config).expect("engine");
        // Until a phone's first packet latches it, a stream sends to the discard port.
        let placeholder = SocketAddr::new(LO, 9);
        let mut confs = Vec::new();
        let mut streams = Vec::new();
        let mut list = String::new();
        for _ in 0..conferences {
            let conf = engine.conference(MixerConfig {
                entry_tone: None,
                exit_tone: None,
                ..MixerConfig::default()
            });
            for _ in 0..parties {
                let s = engine.open().await.unwrap_or_else(|e| die(&e.to_string()));
                s.set_remote(RemoteMedia::new(placeholder, Codec::Pcmu));
                conf.join(&s).unwrap_or_else(|e| die(&e.to_string()));
                list.push_str(&format!("{}\n", s.local_addr().port()));
                streams.push(s);
            }
            confs.push(conf);
        }
        let tmp = format!("{ports}.tmp");
        std::fs::write(&tmp, list).expect("write ports");
        std::fs::rename(&tmp, &ports).expect("publish ports");
        tokio::time::sleep(Duration::from_secs(warmup)).await;
        for c in &confs {
            c.reset_tick_stats();
        }
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        let stats: Vec<_> = confs.iter().map(|c| c.tick_stats()).collect();
        let late_max = stats.iter().map(|s| s.late_max).max().unwrap_or_default();
        let mut p99s: Vec<Duration> = stats.iter().map(|s| s.late_p99).collect();
        p99s.sort();
        let p99_worst = p99s.last().copied().unwrap_or_default();
        let p99_median = p99s.get(p99s.len() / 2).copied().unwrap_or_default();
        let sum = |f: fn(&media::engine::TickStats) -> u64| stats.iter().map(f).sum::<u64>();
        println!(
            "{{\"conferences\":{conferences},\"participants\":{},\"threads\":{threads},\
             \"mixing_threads\":{},\"mixing_priority\":\"{}\",\
             \"ticks\":{},\"late_max_ms\":{:.3},\"late_p99_worst_ms\":{:.3},\
             \"late_p99_median_ms\":{:.3},\"late_over_5ms\":{},\"skipped\":{},\
             \"sent\":{},\"send_dropped\":{},\"cpu_s\":{:.2},\"wall_s\":{:.2},\"cpu_cores\":{:.2}}}",
            conferences * parties,
            mixing.threads,
            mixing.priority,
            sum(|s| s.ticks),
            late_max.as_secs_f64() * 1e3,
            p99_worst.as_secs_f64() * 1e3,
            p99_median.as_secs_f64() * 1e3,
            sum(|s| s.late_over_5ms),
            sum(|s| s.skipped),
            sum(|s| s.sent),
            sum(|s| s.send_dropped),
            cpu,
            wall,
            cpu / wall,
        );
        drop(confs);
        for s in streams {
            s.close().await;
        }
    });
}

/// 50 frames (1 s) of µ-law: a tone for talkers, near-silence for the others.
fn frames(talker: bool, freq: f64) -> Vec<[u8; 160]> {
    let amp = if talker { 6000.0 } else { 15.0 };
    (0..50u64)
        .map(|f| {
            let pcm: Vec<i16> = (0..160u64)
                .map(|i| (amp * (TAU * freq * (f * 160 + i) as f64 / 8000.0).sin()) as i16)
                .collect();
            let mut out = [0u8; 160];
            Codec::Pcmu.encode(&pcm, &mut out);
            out
        })
        .collect()
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
    gaps: AtomicU64,
    send_errors: AtomicU64,
}

struct Phone {
    sock: UdpSocket,
    dest: SocketAddr,
    frames: Vec<[u8; 160]>,
    last_seq: Option<u16>,
}

fn phones(a: &Args) {
    let parties: usize = a.get("parties", Some(10));
    let threads: usize = a.get("threads", Some(1));
    let secs: u64 = a.get("secs", None);
    let ports: String = a.get("ports", None);
    let list = std::fs::read_to_string(&ports).unwrap_or_else(|e| die(&format!("{ports}: {e}")));
    let ports: Vec<u16> = list.lines().filter_map(|l| l.trim().parse().ok()).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime");
    let counters = Arc::new(Counters::default());
    rt.block_on(async {
        let start = Instant::now();
        // Count only the middle of the run: the first second (latching, jitter-buffer
        // prefill) and the last (phones stopping one by one) are not the steady state.
        let window = (
            Duration::from_secs(1),
            Duration::from_secs(secs.saturating_sub(1)),
        );
        let mut tasks = Vec::new();
        for (g, group) in ports.chunks(parties).enumerate() {
            let mut phones = Vec::new();
            for (i, &port) in group.iter().enumerate() {
                let sock = UdpSocket::bind((LO, 0)).await.expect("bind");
                let freq = 300.0 + 150.0 * i as f64;
                phones.push(Phone {
                    sock,
                    dest: SocketAddr::new(LO, port),
                    frames: frames(i < TALKERS, freq),
                    last_seq: None,
                });
            }
            let counters = counters.clone();
            tasks.push(tokio::spawn(async move {
                // Spread the groups over the 20 ms period like independent phones would be.
                let offset = Duration::from_micros((g as u64 * 7_919) % 20_000);
                let mut tick = tokio::time::interval_at(
                    (Instant::now() + offset).into(),
                    Duration::from_millis(20),
                );
                let mut buf = [0u8; 2048];
                let mut pkt = Vec::with_capacity(200);
                let total = secs * 50;
                for n in 0..total {
                    tick.tick().await;
                    let counting = {
                        let t = start.elapsed();
                        t >= window.0 && t < window.1
                    };
                    for p in &mut phones {
                        while let Ok(len) = p.sock.try_recv(&mut buf) {
                            let Ok(r) = RtpPacket::parse(&buf[..len]) else {
                                continue;
                            };
                            let seq = r.header.sequence;
                            if counting {
                                counters.received.fetch_add(1, Ordering::Relaxed);
                                if let Some(last) = p.last_seq {
                                    let gap = seq.wrapping_sub(last).wrapping_sub(1);
                                    if gap < 1000 {
                                        counters.gaps.fetch_add(gap as u64, Ordering::Relaxed);
                                    }
                                }
                            }
                            p.last_seq = Some(seq);
                        }
                        pkt.clear();
                        let frame = &p.frames[n as usize % p.frames.len()];
                        let seq = n as u16;
                        rtp::write_simple(
                            &mut pkt,
                            0,
                            n == 0,
                            seq,
                            seq as u32 * 160,
                            0x5EED,
                            frame,
                        );
                        match p.sock.try_send_to(&pkt, p.dest) {
                            Ok(_) => counters.sent.fetch_add(1, Ordering::Relaxed),
                            Err(_) => counters.send_errors.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    println!(
        "{{\"phones\":{},\"sent\":{},\"send_errors\":{},\"received_in_window\":{},\"gaps_in_window\":{}}}",
        ports.len(),
        counters.sent.load(Ordering::Relaxed),
        counters.send_errors.load(Ordering::Relaxed),
        counters.received.load(Ordering::Relaxed),
        counters.gaps.load(Ordering::Relaxed),
    );
}
