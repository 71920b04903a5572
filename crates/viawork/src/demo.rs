//! `viawork demo`: the whole product on one machine in under a minute, for a newcomer.
//!
//! It makes a fresh SQLite store in a directory (a temporary one by default), seeds it
//! with demo users (Alice and Bob with Enterprise Voice and desk-phone numbers, an admin),
//! an enabled Global Call Via Work policy and the global caller ID, starts the lab PBX
//! ([`crate::lab`]: Kamailio with two auto-answering baresip desk phones, 0101 for Alice and
//! 0102 for Bob) with unknown numbers routed to ViaWork, and runs the server
//! ([`crate::server::run`]) trunked to it. Then it prints where everything is and a curl
//! pair that places a call, and reports what the desk phones do (ringing, answered, hung
//! up) as it happens.
//!
//! Everything listens on 127.0.0.1 except the HTTP API, which listens where `--http` says.
//! The passwords are random for each run and printed. Ctrl-C (or SIGTERM) stops the phones
//! and Kamailio (by process group, via the lab's `Drop`) while the server still answers the
//! phones' BYEs, then the server, and removes the temporary directory; a directory given
//! with `--dir` is kept.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::distr::{Alphanumeric, SampleString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::{policies, routing, users};
use crate::config::Config;
use crate::lab::{self, EventKind, Lab, LabConfig, LabError, PhoneConfig};

/// The global Call Via Work caller ID the demo sets: what Alice's desk phone shows when
/// ViaWork calls it back.
pub const CALLER_ID: &str = "+15551234567";
/// The SQLite file of the demo's store, in its directory. Not `viawork.db`, the server's
/// default, so that `--dir .` never replaces a real store.
pub const STORE_FILE: &str = "viawork-demo.db";
/// The configuration file the demo writes and runs, in its directory.
pub const CONFIG_FILE: &str = "viawork-demo.toml";

/// How long the server gets to answer `/healthz` after it starts.
const SERVER_READY: Duration = Duration::from_secs(20);
/// How long the server gets to stop after Ctrl-C.
const SERVER_STOP: Duration = Duration::from_secs(10);
/// How often the phones' events are looked at, to report them.
const PHONE_POLL: Duration = Duration::from_millis(100);

/// What `viawork demo` was asked for.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the HTTP API listens (port 0: any free port).
    pub http: SocketAddr,
    /// The directory for the store, the config, the lab's files and the recordings;
    /// `None`: a temporary directory, removed when the demo stops.
    pub dir: Option<PathBuf>,
}

/// A demo user: who signs in, and the desk phone of their line.
struct DemoUser {
    sip_uri: &'static str,
    name: &'static str,
    /// The LineURI's number, also the lab phone's number in the plan (`None`: no phone).
    number: Option<&'static str>,
    admin: bool,
    password: String,
}

/// Runs the demo until `shutdown` resolves. Must run inside a multi-threaded Tokio runtime.
pub async fn run(
    options: DemoOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let dir = DemoDir::new(options.dir.as_deref())?;
    let root = dir.path().to_path_buf();
    // The HTTP port first: a taken one is the likeliest mistake, so say it before starting
    // anything. With port 0 a free one is picked now (the server binds it a moment later).
    let http = TcpListener::bind(options.http)
        .and_then(|l| l.local_addr())
        .with_context(|| {
            format!(
                "cannot listen on {} for the HTTP API; choose another address with \
                 --http 127.0.0.1:PORT",
                options.http
            )
        })?;
    println!("Starting the ViaWork demo in {}", root.display());

    let (mut lab, sip) = start_lab(&root.join("lab")).await?;
    let users = demo_users();
    let database = format!("sqlite://{}", root.join(STORE_FILE).display());
    seed(&database, &users)
        .await
        .context("seed the demo store")?;
    let config = write_config(&root, sip, http, &database, lab.pbx())?;
    media::engine::set_default_mixing(config.media.mixing);

    // The server runs on this task (its future is not `Send`), polled beside the rest.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = crate::server::run(config, async move {
        let _ = stop_rx.await;
    });
    tokio::pin!(server);
    tokio::select! {
        ready = wait_healthy(http) => ready?,
        ended = &mut server => {
            return Err(match ended {
                Err(e) => e.context("the server did not start"),
                Ok(()) => anyhow::anyhow!("the server stopped at once"),
            });
        }
    }
    print!("{}", banner(http, &root, dir.is_temporary(), &lab, &users));

    let (mut server_result, lab_failure) = match watch(&mut lab, server.as_mut(), shutdown).await {
        Watched::Shutdown => (None, None),
        Watched::ServerStopped(result) => (Some(result), None),
        Watched::LabFailed(e) => (None, Some(e)),
    };
    let server_stopped_by_itself = server_result.is_some();
    println!("Stopping the demo: the desk phones, Kamailio, then the server.");
    // The phones first, while the server still runs: a phone in a call sends BYE on its way
    // out and leaves at once when it is answered. Stopping is blocking (it waits for each
    // process by PID), so it runs beside this task, which keeps the server going.
    let stopping = tokio::task::spawn_blocking(move || drop(lab));
    tokio::pin!(stopping);
    let mut stopped = false;
    if server_result.is_none() {
        tokio::select! {
            _ = &mut stopping => stopped = true,
            ended = &mut server => server_result = Some(ended),
        }
    }
    if !stopped {
        let _ = stopping.await;
    }
    let server_result = match server_result {
        Some(result) => result,
        None => {
            let _ = stop_tx.send(());
            tokio::time::timeout(SERVER_STOP, &mut server)
                .await
                .unwrap_or_else(|_| {
                    Err(anyhow::anyhow!(
                        "the server did not stop within {SERVER_STOP:?}"
                    ))
                })
        }
    };
    drop(dir);
    if let Some(e) = lab_failure {
        return Err(anyhow::Error::new(e).context("the lab PBX failed"));
    }
    if server_stopped_by_itself {
        return Err(match server_result {
            Ok(()) => anyhow::anyhow!("the server stopped by itself"),
            Err(e) => e.context("the server stopped"),
        });
    }
    server_result
}

/// The demo's directory: given (created if missing, kept) or temporary (removed on drop).
struct DemoDir {
    path: PathBuf,
    temporary: bool,
}

impl DemoDir {
    fn new(given: Option<&Path>) -> anyhow::Result<DemoDir> {
        match given {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("create the demo directory {}", dir.display()))?;
                let path = dir
                    .canonicalize()
                    .with_context(|| format!("resolve {}", dir.display()))?;
                // The store is fresh each run; the file name is the demo's own.
                for suffix in ["", "-wal", "-shm"] {
                    let file = path.join(format!("{STORE_FILE}{suffix}"));
                    if file.exists() {
                        std::fs::remove_file(&file)
                            .with_context(|| format!("remove the old {}", file.display()))?;
                    }
                }
                Ok(DemoDir {
                    path,
                    temporary: false,
                })
            }
            None => {
                let base = std::env::temp_dir();
                for _ in 0..16 {
                    let name = format!(
                        "viawork-demo-{}-{}",
                        std::process::id(),
                        Alphanumeric.sample_string(&mut rand::rng(), 6)
                    );
                    let path = base.join(name);
                    match std::fs::create_dir(&path) {
                        Ok(()) => {
                            return Ok(DemoDir {
                                path,
                                temporary: true,
                            })
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                        Err(e) => {
                            return Err(e).with_context(|| {
                                format!("create a temporary directory in {}", base.display())
                            })
                        }
                    }
                }
                anyhow::bail!("cannot create a temporary directory in {}", base.display())
            }
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn is_temporary(&self) -> bool {
        self.temporary
    }
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Starts Kamailio and the two desk phones on free loopback ports, with unknown numbers
/// routed to ViaWork's SIP port (picked here too, and returned).
async fn start_lab(dir: &Path) -> anyhow::Result<(Lab, SocketAddr)> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        // Kamailio, ViaWork's SIP, then each phone's SIP (two ports) and control port.
        let ports = lab::free_ports(&[1, 1, 2, 1, 2, 1])?;
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let phone = |i: usize, ext: &str, name: &str, tone_hz| PhoneConfig {
            extension: ext.into(),
            name: name.into(),
            sip_port: ports[2 + 2 * i],
            ctrl_port: ports[3 + 2 * i],
            tone_hz,
            auto_answer: true,
        };
        let config = LabConfig {
            dir: dir.to_path_buf(),
            pbx: loopback(ports[0]),
            viawork: Some(loopback(ports[1])),
            phones: vec![phone(0, "0101", "Alice", 440), phone(1, "0102", "Bob", 880)],
        };
        match Lab::start(config).await {
            Ok(lab) => return Ok((lab, loopback(ports[1]))),
            // Another program took a port between the check and the bind: pick others.
            Err(LabError::PortInUse { .. }) if attempts < 3 => continue,
            Err(LabError::Missing { what, .. }) => anyhow::bail!(
                "the demo's lab PBX needs Kamailio and baresip, and {what} is missing.\n\
                 Install them (Debian/Ubuntu): sudo apt-get install kamailio baresip-core"
            ),
            Err(e) => return Err(e).context("start the lab PBX"),
        }
    }
}

fn demo_users() -> Vec<DemoUser> {
    // Random per run: the API may listen beyond loopback (--http 0.0.0.0:8080).
    let password = || format!("demo-{}", Alphanumeric.sample_string(&mut rand::rng(), 10));
    vec![
        DemoUser {
            sip_uri: "sip:alice@example.com",
            name: "Alice Smith",
            number: Some("+14255550101"),
            admin: false,
            password: password(),
        },
        DemoUser {
            sip_uri: "sip:bob@example.com",
            name: "Bob Jones",
            number: Some("+14255550102"),
            admin: false,
            password: password(),
        },
        DemoUser {
            sip_uri: "sip:admin@example.com",
            name: "Ada Admin",
            number: None,
            admin: true,
            password: password(),
        },
    ]
}

/// Creates the users, enables the Global policy and sets the caller ID: what an admin
/// does with `viawork user new`, `policy set` and `routing set`.
async fn seed(database: &str, demo_users: &[DemoUser]) -> anyhow::Result<()> {
    let store = crate::store::open(database).await?;
    let result = async {
        for u in demo_users {
            let input = users::UserInput {
                display_name: Some(u.name.into()),
                password: Some(u.password.clone()),
                line_uri: u.number.map(|n| format!("tel:{n}")),
                enterprise_voice: Some(u.number.is_some()),
                role: Some(if u.admin { "admin" } else { "user" }.into()),
                ..users::UserInput::default()
            };
            users::new_user(store.as_ref(), u.sip_uri, &input).await?;
        }
        let enabled = policies::PolicyInput {
            enabled: Some(true),
            ..policies::PolicyInput::default()
        };
        policies::set_policy(store.as_ref(), "Global", &enabled).await?;
        routing::set_routing(store.as_ref(), CALLER_ID).await?;
        Ok::<_, crate::cli::AdminError>(())
    }
    .await;
    store.close().await;
    Ok(result?)
}

/// Writes the demo's configuration file (to show what it runs) and loads it as the
/// server would. `VIAWORK_*` variables still apply (`VIAWORK_MEDIA_ANCHOR=always` relays
/// the calls' media), except for the addresses the demo must own.
fn write_config(
    dir: &Path,
    sip: SocketAddr,
    http: SocketAddr,
    database: &str,
    pbx: SocketAddr,
) -> anyhow::Result<Config> {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let text = format!(
        "# Written by `viawork demo`: the server trunked to the lab PBX (Kamailio on {pbx}).\n\
         # Every key is documented in docs/configuration.md.\n\
         sip_listen = [{udp}, {tcp}]\n\
         http_listen = {http}\n\
         database = {database}\n\
         \n\
         [pbx]\n\
         address = {pbx_address}\n",
        udp = quote(&format!("udp:{sip}")),
        tcp = quote(&format!("tcp:{sip}")),
        http = quote(&http.to_string()),
        database = quote(database),
        pbx_address = quote(&pbx.to_string()),
    );
    let path = dir.join(CONFIG_FILE);
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    let mut config = Config::load(Some(&path))?;
    // The lab routes to this SIP address and the banner names this HTTP address: the
    // environment must not move them.
    config.sip_listen = vec![
        (sip_stack::transport::Transport::Udp, sip),
        (sip_stack::transport::Transport::Tcp, sip),
    ];
    config.http_listen = http;
    config.database = database.to_owned();
    if let Some(trunk) = config.pbx.as_mut() {
        trunk.host = pbx.ip().to_string();
        trunk.port = Some(pbx.port());
        trunk.transport = crate::config::PbxTransport::Udp;
    }
    Ok(config)
}

/// Waits until the server answers `GET /healthz` with 200.
async fn wait_healthy(http: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + SERVER_READY;
    loop {
        if healthz(http).await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "the server did not answer http://{http}/healthz within {SERVER_READY:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn healthz(http: SocketAddr) -> bool {
    let attempt = async {
        let mut conn = tokio::net::TcpStream::connect(http).await.ok()?;
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n");
        conn.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        conn.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.1 200"))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// The text printed once everything runs.
fn banner(
    http: SocketAddr,
    dir: &Path,
    temporary: bool,
    lab: &Lab,
    demo_users: &[DemoUser],
) -> String {
    let alice = &demo_users[0];
    let base = format!("http://{http}");
    let kept = if temporary {
        "removed when the demo stops"
    } else {
        "kept"
    };
    let mut out = String::new();
    out += "\nViaWork demo is running.\n\n";
    out += &format!("  Web client {base}/   (open it in a browser and sign in as below)\n");
    out += &format!("  API        {base}   (reference: {base}/api/v1/docs)\n");
    out += &format!(
        "  Files      {}   ({kept}): store {STORE_FILE}, config {CONFIG_FILE}, lab/ \
         (Kamailio and phone logs, recordings)\n",
        dir.display()
    );
    out += &format!(
        "  Lab PBX    Kamailio on udp:{} with desk phones that answer by themselves:\n",
        lab.pbx()
    );
    for phone in lab.phones() {
        out += &format!(
            "             {} ({}'s desk phone, {})\n",
            phone.extension(),
            phone.config().name,
            phone.e164()
        );
    }
    out += "\n  Sign in as\n";
    for u in demo_users {
        let what = match (u.admin, u.number) {
            (true, _) => "administrator".to_string(),
            (false, Some(n)) => format!("line {n}, Enterprise Voice"),
            (false, None) => String::new(),
        };
        out += &format!(
            "             {:<24} password: {:<18} {} ({what})\n",
            u.sip_uri, u.password, u.name
        );
    }
    out += &format!(
        "\n  Call Via Work: Alice calls Bob. ViaWork rings Alice's desk phone first (caller ID \
         {CALLER_ID}),\n  then Bob's (caller ID Alice's {}), and joins the two. Paste:\n\n",
        alice.number.unwrap_or_default()
    );
    out += &format!(
        "TOKEN=$(curl -s -X POST {base}/api/v1/auth/token -H 'content-type: application/json' \\\n\
         \x20   -d '{{\"username\":\"{}\",\"password\":\"{}\"}}' | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n",
        alice.sip_uri, alice.password
    );
    out += &format!(
        "curl -s -X POST {base}/api/v1/calls -H \"authorization: Bearer $TOKEN\" \\\n\
         \x20   -H 'content-type: application/json' -d '{{\"to\":\"+14255550102\"}}'\n\n"
    );
    out += &format!(
        "  Then: curl -s {base}/api/v1/calls -H \"authorization: Bearer $TOKEN\"   (state, media)\n\
         \x20       curl -s -X DELETE {base}/api/v1/calls/ID -H \"authorization: Bearer $TOKEN\"   (hang up)\n\
         \x20       curl -s {base}/api/v1/call-log -H \"authorization: Bearer $TOKEN\"\n\
         \x20 The API: docs/calls.md. What the desk phones do is printed below. Ctrl-C stops everything.\n\n"
    );
    out
}

/// Why [`watch`] returned.
enum Watched {
    /// Ctrl-C or SIGTERM.
    Shutdown,
    /// The server stopped by itself.
    ServerStopped(anyhow::Result<()>),
    /// Kamailio or a phone exited.
    LabFailed(LabError),
}

/// Reports the phones' calls until `shutdown` resolves, the server stops or a lab process
/// dies.
async fn watch(
    lab: &mut Lab,
    mut server: std::pin::Pin<&mut impl std::future::Future<Output = anyhow::Result<()>>>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Watched {
    tokio::pin!(shutdown);
    let mut seen = vec![0usize; lab.phones().len()];
    let mut tick = tokio::time::interval(PHONE_POLL);
    loop {
        tokio::select! {
            _ = &mut shutdown => return Watched::Shutdown,
            ended = &mut server => return Watched::ServerStopped(ended),
            _ = tick.tick() => {
                for (phone, seen) in lab.phones().iter().zip(seen.iter_mut()) {
                    let events = phone.events();
                    for event in events.iter().skip(*seen) {
                        if let Some(line) = describe(phone, event) {
                            println!("{line}");
                        }
                    }
                    *seen = events.len();
                }
                if let Err(e) = lab.check_alive() {
                    return Watched::LabFailed(e);
                }
            }
        }
    }
}

/// A line for a phone event worth telling, e.g. `desk phone 0101 (Alice): call from
/// "Call Via Work" <sip:+15551234567@example.com> answered`.
fn describe(phone: &lab::Phone, event: &lab::PhoneEvent) -> Option<String> {
    let who = format!("desk phone {} ({})", phone.extension(), phone.config().name);
    let peer = || {
        let uri = event.peer_uri.clone().unwrap_or_default();
        match event.peer_name.as_deref() {
            Some(name) if !name.is_empty() => format!("\"{name}\" <{uri}>"),
            _ => format!("<{uri}>"),
        }
    };
    let incoming = event.direction.as_deref() == Some("incoming");
    match event.kind {
        EventKind::CallIncoming => Some(format!("{who}: ringing, call from {}", peer())),
        EventKind::CallEstablished if incoming => {
            Some(format!("{who}: answered a call from {}", peer()))
        }
        EventKind::CallEstablished => Some(format!("{who}: connected to {}", peer())),
        EventKind::CallClosed => Some(format!(
            "{who}: call ended ({})",
            event.param.as_deref().unwrap_or("hung up")
        )),
        _ => None,
    }
}
