//! The `viawork` command line: `serve` runs the server; `demo` runs it with a lab PBX and
//! demo users (see `viawork::demo`); the other subcommands administer the directory,
//! policies, routing and dial plans directly in the store (see `viawork::cli`), with the
//! server running or not.

use clap::{Parser, Subcommand};

/// jemalloc rather than glibc's malloc. Measured with bench/calls (docs/performance.md):
/// after 10,000 held calls ended, glibc kept the whole peak resident for good (its
/// per-thread arenas rarely shrink); jemalloc returns freed pages to the system after its
/// decay time (background threads, enabled in `serve`). It also tells `/metrics` how much
/// heap is in use (`viawork_heap_allocated_bytes`), which is how memory per call is
/// measured.
#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The allocator's statistics for `/metrics`.
#[cfg(target_os = "linux")]
fn heap_stats() -> Option<viawork::api::metrics::HeapStats> {
    use tikv_jemalloc_ctl::{epoch, stats};
    // The statistics are a snapshot taken when the epoch moves.
    epoch::advance().ok()?;
    Some(viawork::api::metrics::HeapStats {
        allocated: stats::allocated::read().ok()? as u64,
        resident: stats::resident::read().ok()? as u64,
    })
}
use std::net::SocketAddr;
use std::path::PathBuf;
use viawork::cli::{self, AdminCommand, Format, Status};

#[derive(Parser)]
#[command(name = "viawork", version, about = "ViaWork: a Call Via Work server")]
struct Cli {
    /// Configuration file (TOML). Every key is optional.
    #[arg(long, global = true, env = "VIAWORK_CONFIG")]
    config: Option<PathBuf>,
    /// Database for the admin commands (sqlite://PATH or postgres://...); overrides the
    /// configuration's `database` key.
    #[arg(long, global = true)]
    database: Option<String>,
    /// Output of the admin commands: human (tables) or json (for scripts).
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Try it: a fresh store with demo users, a lab PBX (Kamailio and two auto-answering
    /// baresip desk phones) and the server trunked to it. Ignores --config and --database.
    Demo {
        /// Where the HTTP API listens (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: SocketAddr,
        /// Directory for the store, config, lab logs and recordings (created if missing,
        /// kept). Default: a temporary directory, removed when the demo stops.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    #[command(flatten)]
    Admin(AdminCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let default_log = match cli.command {
        Command::Serve => "info",
        // The banner and the phones' events are the demo's output; logs only for trouble.
        Command::Demo { .. } | Command::Admin(_) => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIAWORK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // One JSON object per line for log shippers; human-readable lines otherwise.
    if std::env::var("VIAWORK_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.init();
    }
    let result = match cli.command {
        Command::Serve => serve(cli.config),
        Command::Demo { http, dir } => demo(viawork::demo::DemoOptions { http, dir }),
        Command::Admin(command) => {
            return admin(cli.config, cli.database.as_deref(), cli.output, command)
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("viawork: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn serve(config: Option<PathBuf>) -> anyhow::Result<()> {
    let config = viawork::config::Config::load(config.as_deref())?;
    open_file_limit();
    // Every media engine the server creates ticks meetings on these threads (the engine is
    // built deep in the calls code from `media::MediaConfig::new`, which takes this default).
    media::engine::set_default_mixing(config.media.mixing);
    #[cfg(target_os = "linux")]
    {
        // Purge freed pages in the background, so an idle server gives memory back too.
        if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
            tracing::info!(error = %e, "jemalloc background threads unavailable");
        }
        viawork::api::metrics::set_heap_stats(heap_stats);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(viawork::server::run(config, shutdown_signal()))
}

/// Raises the open-file limit (a socket per connected client) and says so, or warns when
/// it stays low.
fn open_file_limit() {
    use viawork::fd_limit::{raise, Outcome, LOW};
    let limit = match raise() {
        Outcome::Raised(from, to) => {
            tracing::info!(from, to, "raised the open-file limit to the hard limit");
            Some(to)
        }
        Outcome::Unchanged(limit) => limit,
        Outcome::Refused(at, error) => {
            tracing::warn!(limit = at, ?error, "could not raise the open-file limit");
            Some(at)
        }
    };
    if let Some(n) = limit.filter(|n| *n < LOW) {
        tracing::warn!(
            limit = n,
            "the open-file limit allows fewer than about {n} connected clients; raise the hard \
             limit (LimitNOFILE= in a systemd unit, ulimit -Hn)"
        );
    }
}

fn demo(options: viawork::demo::DemoOptions) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(viawork::demo::run(options, shutdown_signal()))
}

/// Runs one admin command: exit 0 when done, 1 when refused (nothing changed), with the
/// reason on stderr.
fn admin(
    config: Option<PathBuf>,
    database: Option<&str>,
    format: Format,
    command: AdminCommand,
) -> std::process::ExitCode {
    let url = match cli::database_url(config.as_deref(), database) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("viawork: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("viawork: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = rt.block_on(async {
        let store = viawork::store::open(&url).await?;
        let outcome = cli::run(store.as_ref(), command, format).await;
        store.close().await;
        outcome
    });
    match outcome {
        Ok(Status::Success) => std::process::ExitCode::SUCCESS,
        Ok(Status::Failed) => std::process::ExitCode::FAILURE,
        Err(e) => {
            cli::print_error(format, &e);
            std::process::ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
