//! Test support: a private PostgreSQL cluster for one test binary, and a fresh database in it
//! per test.
//!
//! The cluster is started once, on first use: `initdb` into a temporary directory, then
//! `pg_ctl start` listening only on 127.0.0.1 (a free port) and on a unix socket in that
//! directory, with durability switched off for speed. PostgreSQL refuses to run as root, so
//! when the tests run as root the directory is given to the `postgres` user and the binaries
//! run through `runuser -u postgres --`.
//!
//! Stopping it: Rust never drops statics, so a `Drop` on the cluster would not run when the
//! test binary exits. Instead a small watcher shell (ignoring Ctrl-C and hang-ups) waits for
//! this process to end, then runs `pg_ctl stop -m fast` on the cluster's data directory and
//! removes the temporary directory. That also covers a test binary that panics or aborts.
//!
//! If the PostgreSQL binaries are missing the tests fail, naming what to install: a backend
//! that is not tested must not look as if it passed.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use sqlx::Connection;

/// The running cluster.
pub struct Cluster {
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// The temporary directory holding `data/`, the socket and `postgres.log`.
    pub dir: PathBuf,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// The cluster of this test binary, started on first use. Panics (failing the test) with the
/// reason if it cannot be started.
pub fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(start) {
        Ok(cluster) => cluster,
        Err(why) => panic!("PostgreSQL test cluster unavailable: {why}"),
    }
}

/// A database created for one test.
pub struct TestDatabase {
    /// `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub url: String,
}

/// Creates a new, empty database in the cluster.
pub async fn database() -> TestDatabase {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Starting the cluster blocks for a second or two: keep it off the runtime's threads.
    let started =
        tokio::task::spawn_blocking(|| CLUSTER.get_or_init(start).as_ref().map(|c| c.port))
            .await
            .expect("start cluster");
    let port = match started {
        Ok(port) => port,
        Err(why) => panic!("PostgreSQL test cluster unavailable: {why}"),
    };
    let name = format!(
        "viawork_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the test cluster");
    // The name is ours (digits and underscores), so formatting it into DDL is safe.
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    conn.close().await.ok();
    TestDatabase {
        url: format!("postgres://postgres@127.0.0.1:{port}/{name}"),
    }
}

fn start() -> Result<Cluster, String> {
    let bin = find_bin_dir()?;
    let as_root = run(Command::new("id").arg("-u"))
        .map(|out| out.trim() == "0")
        .unwrap_or(false);
    let dir = tempfile::Builder::new()
        .prefix("viawork-pg-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?
        .keep();
    if as_root {
        run(Command::new("chown").arg("-R").arg("postgres:").arg(&dir))?;
    }
    let data = dir.join("data");
    let pg = |tool: &str| {
        let exe = bin.join(tool);
        if as_root {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(exe);
            cmd
        } else {
            Command::new(exe)
        }
    };
    run(pg("initdb").arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-sync",
    ]))?;

    spawn_watcher(&bin, &data, &dir, as_root)?;

    // A free port can be taken by someone else before the server binds it: retry.
    let mut last_error = String::new();
    for _ in 0..3 {
        let port = free_port()?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=400",
            dir.display()
        );
        let started = run(pg("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("postgres.log"))
            .args(["-w", "-t", "30", "-o", &options, "start"]));
        match started {
            Ok(_) => return Ok(Cluster { port, dir }),
            Err(e) => {
                let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
                last_error = format!("{e}\n--- postgres.log ---\n{log}");
            }
        }
    }
    Err(last_error)
}

/// Where `initdb` and `pg_ctl` are: on PATH, or the newest `/usr/lib/postgresql/*/bin`.
fn find_bin_dir() -> Result<PathBuf, String> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|d| has_tools(d)) {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "PostgreSQL server binaries (initdb, pg_ctl) were found neither on PATH nor under \
         /usr/lib/postgresql/*/bin; install them (Debian/Ubuntu: apt-get install postgresql) \
         to run the PostgreSQL half of the store tests"
            .to_string()
    })
}

/// Starts the shell that stops the cluster and removes `dir` once this process has ended.
fn spawn_watcher(bin: &Path, data: &Path, dir: &Path, as_root: bool) -> Result<(), String> {
    const SCRIPT: &str = r#"
trap '' INT HUP
while kill -0 "$1" 2>/dev/null; do sleep 0.2; done
if [ "$5" = root ]; then
    runuser -u postgres -- "$2" stop -D "$3" -m fast -w >/dev/null 2>&1
else
    "$2" stop -D "$3" -m fast -w >/dev/null 2>&1
fi
rm -rf "$4"
"#;
    Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("viawork-pg-watcher")
        .arg(std::process::id().to_string())
        .arg(bin.join("pg_ctl"))
        .arg(data)
        .arg(dir)
        .arg(if as_root { "root" } else { "user" })
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("start the cluster watcher: {e}"))
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("find a free port: {e}"))
}

/// Runs a command to completion; its stdout, or an error with its stderr.
fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
