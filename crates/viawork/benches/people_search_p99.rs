//! A bounded latency harness for people search: builds the index of a synthetic directory
//! of 100,000 users (`support/people_data.rs`), runs 100,000 searches (limit 20) of a mix of
//! query kinds, timing each, and prints p50/p90/p99/p99.9/max per kind and overall, the
//! index build time and its memory estimate. With `--reload` it also stores the directory
//! in a temporary SQLite file and times a full load through `people::Directory` (what a
//! change to the users costs before it is searchable).
//!
//! `cargo bench -p viawork --bench people_search_p99 [-- --reload]` (or `bench/people/run.sh`)

#[path = "support/people_data.rs"]
mod people_data;

use std::time::{Duration, Instant};

use rand::Rng;
use viawork::people::{Directory, Query, SearchIndex};

const USERS: usize = 100_000;
const SEARCHES: usize = 100_000;

fn main() {
    let reload = std::env::args().any(|a| a == "--reload");
    let people = people_data::directory(USERS);
    let started = Instant::now();
    let index = SearchIndex::build(people.clone());
    let build = started.elapsed();
    println!(
        "people search: {} users ({} enabled), {} keys; index built in {} ms, ~{:.1} MiB",
        USERS,
        index.len(),
        index.key_count(),
        build.as_millis(),
        index.heap_bytes() as f64 / (1024.0 * 1024.0)
    );

    let mut rng = people_data::rng();
    let kinds = people_data::KINDS.len();
    let mut per_kind: Vec<Vec<Duration>> = vec![Vec::new(); kinds];
    let mut found = vec![0usize; kinds];
    // The slowest queries, to say where the tail comes from.
    let mut slowest: Vec<(Duration, usize, String)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    for _ in 0..SEARCHES {
        if Instant::now() > deadline {
            println!("stopped at the 120 s bound");
            break;
        }
        let kind = rng.random_range(0..kinds);
        let text = people_data::query(kind, &people, &mut rng);
        let t = Instant::now();
        // Parsing is part of what a request costs.
        let page = Query::parse(&text).map(|q| index.search(&q, 20));
        let took = t.elapsed();
        per_kind[kind].push(took);
        if slowest.len() < 10 || took > slowest[slowest.len() - 1].0 {
            slowest.push((took, kind, text.clone()));
            slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
            slowest.truncate(10);
        }
        if page.is_ok_and(|p| !p.hits.is_empty()) {
            found[kind] += 1;
        }
    }
    println!();
    println!(
        "| {:<32} | {:>6} | {:>6} | {:>8} | {:>8} | {:>8} | {:>8} | {:>8} |",
        "query kind", "n", "found", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs"
    );
    println!(
        "|{:-<34}|{:-<8}|{:-<8}|{:-<10}|{:-<10}|{:-<10}|{:-<10}|{:-<10}|",
        "", "", "", "", "", "", "", ""
    );
    let mut all: Vec<Duration> = Vec::new();
    for (kind, times) in per_kind.iter_mut().enumerate() {
        row(people_data::KINDS[kind], times, found[kind]);
        all.extend_from_slice(times);
    }
    row("all", &mut all, found.iter().sum());
    println!();
    println!("slowest searches:");
    for (took, kind, text) in &slowest {
        println!(
            "  {:>8.1} µs  {:<32} {text:?}",
            took.as_secs_f64() * 1e6,
            people_data::KINDS[*kind]
        );
    }

    if reload {
        let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
        rt.block_on(async {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("people.db").display());
            let store = viawork::store::open(&url).await.expect("open store");
            let rows: Vec<viawork::store::UserRow> = people
                .iter()
                .map(|p| viawork::store::UserRow {
                    sip_uri: p.sip_uri.clone(),
                    display_name: p.display_name.clone(),
                    email: p.email.clone(),
                    title: p.title.clone(),
                    department: p.department.clone(),
                    office: p.office.clone(),
                    phone_work: p.phone_work.clone(),
                    phone_mobile: p.phone_mobile.clone(),
                    line_uri: p.line_uri.clone(),
                    enabled: p.enabled,
                    role: "user".into(),
                    password_hash:
                        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
                    ..viawork::store::UserRow::default()
                })
                .collect();
            for chunk in rows.chunks(10_000) {
                store.import_users(chunk, true).await.expect("import");
            }
            let directory = Directory::new(store.clone());
            let t = Instant::now();
            let loaded = directory.index().await.expect("load");
            println!();
            println!(
                "full load of {} users from SQLite through people::Directory: {} ms",
                loaded.len(),
                t.elapsed().as_millis()
            );
            let t = Instant::now();
            store.users_version().await.expect("version");
            println!(
                "users_version: {} µs; change_seq: {} µs",
                t.elapsed().as_micros(),
                {
                    let t = Instant::now();
                    store.change_seq().await.expect("seq");
                    t.elapsed().as_micros()
                }
            );
        });
    }
    println!();
    println!(
        "command: cargo bench -p viawork --bench people_search_p99{}",
        if reload { " -- --reload" } else { "" }
    );
}

fn row(name: &str, times: &mut [Duration], found: usize) {
    times.sort_unstable();
    let q = |p: f64| -> f64 {
        if times.is_empty() {
            return 0.0;
        }
        let i = ((times.len() as f64 - 1.0) * p).round() as usize;
        times[i].as_secs_f64() * 1e6
    };
    println!(
        "| {:<32} | {:>6} | {:>6} | {:>8.1} | {:>8.1} | {:>8.1} | {:>8.1} | {:>8.1} |",
        name,
        times.len(),
        found,
        q(0.50),
        q(0.90),
        q(0.99),
        q(0.999),
        q(1.0)
    );
}
