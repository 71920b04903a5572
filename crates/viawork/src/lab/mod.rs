//! The lab PBX: Kamailio as a registrar and router by extension, with baresip desk phones
//! that answer automatically, all on loopback. Used by `viawork demo` and the tests.
//!
//! [`Lab::start`] renders the configs from a [`LabConfig`] (no files are needed beside
//! the binary), writes them under [`LabConfig::dir`], starts Kamailio, then one baresip per
//! phone, and returns once every phone is registered. Dropping the [`Lab`] stops them all
//! by process group; the caller removes the directory.
//!
//! # Number plan and routing
//!
//! Extension `NNNN` (four digits) is also `+1425555NNNN`. Kamailio routes a request by
//! its Request-URI user part:
//! - a configured extension, or `+1425555NNNN` / `1425555NNNN` whose last four digits are
//!   one: to the phone registered for it (`lookup("location")`), 480 if it is not
//!   registered;
//! - anything else: to [`LabConfig::viawork`] (Request-URI host rewritten to it, like a
//!   trunk), or 404 when it is unset or the request came from ViaWork itself;
//! - OPTIONS with no user part, to the PBX itself: 200 (keep-alives).
//!
//! Kamailio record-routes INVITE, SUBSCRIBE and REFER so that in-dialog requests (ACK,
//! re-INVITE, BYE, REFER, NOTIFY) from either side pass through it. Nobody authenticates:
//! the lab listens on 127.0.0.1 only.
//!
//! # Registration
//!
//! A phone counts as registered when an OPTIONS for `sip:EXT@pbx` sent to Kamailio comes
//! back 200 — answered by that phone through the PBX's `lookup("location")`. That proves
//! the registration and the route end to end with no extra tool (Kamailio answers 480
//! while the phone is not registered). `kamcmd -s unix:DIR/kamailio_ctl ul.dump` shows
//! the registrations when debugging.
//!
//! # Proving who heard whom
//!
//! Each phone sends a sine at its [`PhoneConfig::tone_hz`] and records what it hears
//! ([`Phone::recording`]); [`read_wav`] and [`goertzel`] measure a tone in it.

mod audio;
mod config;
mod phone;
mod probe;
mod process;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

pub use audio::{goertzel, parse_wav, read_wav, Wav};
pub use config::{
    render, validate, LabConfig, PhoneConfig, Rendered, RenderedPhone, DEFAULT_BARESIP_MODULES,
    E164_PREFIX, RTP_PORTS,
};
pub use phone::{EventKind, Phone, PhoneEvent};

use config::Layout;
use process::{log_tail, Process, Watcher};

/// Kamailio's shared memory (`-m`, MB). The lab routes a handful of calls; a few MB are
/// in use at any time, and the pages are only touched as they are used.
pub const KAMAILIO_SHM_MB: u32 = 64;
/// Kamailio's private memory per process (`-M`, MB).
pub const KAMAILIO_PKG_MB: u32 = 32;

/// How long Kamailio gets to answer its first OPTIONS.
const KAMAILIO_READY: Duration = Duration::from_secs(10);
/// How long a phone gets to open its control port.
const CTRL_READY: Duration = Duration::from_secs(10);
/// How long the phones get, together, to register.
const REGISTERED: Duration = Duration::from_secs(15);
/// Pause between two probes of a condition that is not met yet.
const RETRY: Duration = Duration::from_millis(50);

/// Why the lab could not start or do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A program or file the lab needs is not installed.
    #[error("{what} not found; install it (Debian/Ubuntu: apt-get install {package})")]
    Missing {
        /// What was looked for, and where.
        what: String,
        /// The Debian package providing it.
        package: &'static str,
    },
    /// The configuration cannot run.
    #[error("lab configuration: {0}")]
    Config(String),
    /// A port the lab needs is taken.
    #[error("port in use: {what}: {detail}")]
    PortInUse {
        /// Which port, and whose.
        what: String,
        /// The bind error or the log of the process that could not bind.
        detail: String,
    },
    /// A file operation or process start failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A lab process exited while it should be running.
    #[error("{name} exited early ({status}); last lines of {}:\n{tail}", log.display())]
    Died {
        /// `kamailio` or `baresip EXT`.
        name: String,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The end of the log.
        tail: String,
    },
    /// A condition was not met in time.
    #[error("timed out after {after:?} waiting for {what}\n{detail}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The time allowed.
        after: Duration,
        /// What was seen instead, and log tails.
        detail: String,
    },
    /// A `ctrl_tcp` command failed.
    #[error("phone {extension}: command `{command}` failed: {reason}")]
    Command {
        /// The phone.
        extension: String,
        /// The command.
        command: String,
        /// Why.
        reason: String,
    },
    /// A recording is not a 16-bit PCM WAV file.
    #[error("WAV file {}: {reason}", path.display())]
    Wav {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// A running lab PBX with its phones. Dropping it stops every process it started.
pub struct Lab {
    // Fields drop in this order: the phones first (they unregister from a PBX that is still
    // there), then Kamailio, then the watcher is told all is stopped.
    phones: Vec<Phone>,
    kamailio: Process,
    _watcher: Watcher,
    config: LabConfig,
}

impl Lab {
    /// Writes the configs, starts Kamailio and the phones, and waits until every phone is
    /// registered. Must run inside a Tokio runtime (the phones' control connections are
    /// read by tasks). On error, whatever was started is stopped again.
    pub async fn start(config: LabConfig) -> Result<Lab, LabError> {
        let kamailio_bin = find_binary("kamailio", "kamailio")?;
        let baresip_bin = find_binary("baresip", "baresip-core")?;
        let modules = find_baresip_modules()?;
        let rendered = render(&config, &modules)?;
        check_ports_free(&config)?;
        write_files(&config, &rendered)?;

        let dir = &config.dir;
        let mut watcher = Watcher::start()?;
        let mut cmd = Command::new(kamailio_bin);
        cmd.arg("-f")
            .arg(Layout::kamailio_cfg(dir))
            .args(["-DD", "-E"])
            .args(["-m", &KAMAILIO_SHM_MB.to_string()])
            .args(["-M", &KAMAILIO_PKG_MB.to_string()])
            .arg("-P")
            .arg(Layout::kamailio_pid(dir))
            // Runtime and working directories in the lab's own: Kamailio's defaults are
            // shared system paths (and "/").
            .arg("-Y")
            .arg(dir)
            .arg("-w")
            .arg(dir);
        let mut kamailio = Process::spawn("kamailio", cmd, &Layout::kamailio_log(dir))?;
        watcher.watch(kamailio.pid());
        wait_for_kamailio(&mut kamailio, config.pbx).await?;

        let mut processes = Vec::new();
        for (phone, files) in config.phones.iter().zip(&rendered.phones) {
            let mut cmd = Command::new(&baresip_bin);
            cmd.arg("-f").arg(&files.dir);
            let name = format!("baresip {}", phone.extension);
            let process = Process::spawn(&name, cmd, &Layout::phone_log(dir, &phone.extension))?;
            watcher.watch(process.pid());
            processes.push(process);
        }
        let mut phones = Vec::new();
        for (phone, mut process) in config.phones.iter().zip(processes) {
            let stream = connect_ctrl(&mut process, phone).await?;
            phones.push(Phone::new(
                phone.clone(),
                config.pbx.port(),
                dir.clone(),
                process,
                phone::Control::new(stream),
            ));
        }
        let mut lab = Lab {
            phones,
            kamailio,
            _watcher: watcher,
            config,
        };
        lab.wait_registered().await?;
        Ok(lab)
    }

    /// The phone with extension `ext`.
    ///
    /// # Panics
    /// If the lab has no such phone (see [`Lab::try_phone`]).
    pub fn phone(&self, ext: &str) -> &Phone {
        self.try_phone(ext)
            .unwrap_or_else(|| panic!("the lab has no phone with extension {ext}"))
    }

    /// The phone with extension `ext`, if any.
    pub fn try_phone(&self, ext: &str) -> Option<&Phone> {
        self.phones.iter().find(|p| p.extension() == ext)
    }

    /// All phones, in configuration order.
    pub fn phones(&self) -> &[Phone] {
        &self.phones
    }

    /// Kamailio's address (UDP and TCP).
    pub fn pbx(&self) -> SocketAddr {
        self.config.pbx
    }

    /// A SIP URI for `user` at the PBX: `sip:USER@127.0.0.1:PORT`.
    pub fn uri(&self, user: &str) -> String {
        format!("sip:{user}@{}", self.config.pbx)
    }

    /// The configuration the lab runs.
    pub fn config(&self) -> &LabConfig {
        &self.config
    }

    /// Kamailio's log (its stderr).
    pub fn kamailio_log(&self) -> PathBuf {
        Layout::kamailio_log(&self.config.dir)
    }

    /// Kamailio's `ctl` socket: `kamcmd -s unix:PATH ul.dump` lists registrations.
    pub fn kamcmd_socket(&self) -> PathBuf {
        Layout::kamailio_ctl(&self.config.dir)
    }

    /// Checks that Kamailio and every phone still run.
    pub fn check_alive(&mut self) -> Result<(), LabError> {
        self.kamailio.check_alive()?;
        for phone in &mut self.phones {
            phone.process.check_alive()?;
        }
        Ok(())
    }

    /// Waits until an OPTIONS for each phone's extension, sent to the PBX, is answered 200
    /// by that phone.
    async fn wait_registered(&mut self) -> Result<(), LabError> {
        let deadline = Instant::now() + REGISTERED;
        for i in 0..self.phones.len() {
            let uri = self.uri(self.phones[i].extension());
            let mut last = None;
            loop {
                self.check_alive()?;
                last = probe::options(self.config.pbx, &uri, Duration::from_millis(500))
                    .await
                    .map_err(|source| LabError::Io {
                        what: format!("send OPTIONS {uri} to {}", self.config.pbx),
                        source,
                    })?
                    .or(last);
                if last == Some(200) {
                    break;
                }
                if Instant::now() >= deadline {
                    let phone = &self.phones[i];
                    return Err(LabError::Timeout {
                        what: format!("phone {} to register", phone.extension()),
                        after: REGISTERED,
                        detail: format!(
                            "last answer to OPTIONS {uri}: {last:?}\n--- {} ---\n{}\n--- {} ---\n{}",
                            phone.log_path().display(),
                            log_tail(&phone.log_path(), 20),
                            self.kamailio_log().display(),
                            log_tail(&self.kamailio_log(), 20)
                        ),
                    });
                }
                tokio::time::sleep(RETRY).await;
            }
        }
        Ok(())
    }
}

/// Finds `count` ports on 127.0.0.1, each the start of `span` consecutive ports free for
/// both UDP and TCP, and all distinct (e.g. `&[1, 2, 1]`: the PBX, a phone's SIP port with
/// its second TCP listener, its control port). The ports are free when returned; another
/// process may still take one before the lab binds it, which [`Lab::start`] reports as
/// [`LabError::PortInUse`].
pub fn free_ports(spans: &[u16]) -> Result<Vec<u16>, LabError> {
    // Holding every probe socket until all are found keeps the ports distinct.
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for &span in spans {
        let mut found = None;
        for _ in 0..200 {
            // A random base rather than the kernel's pick: Linux hands out even ports to
            // bind() and odd ones to connect(), so on a busy machine (many outgoing
            // connections) the port after the kernel's pick is nearly always taken.
            let base: u16 = rand::random_range(20_000..60_000);
            let Ok(probe) = TcpListener::bind(("127.0.0.1", base)) else {
                continue;
            };
            let mut sockets = (Vec::new(), Vec::new());
            let all_free = (0..span.max(1)).all(|k| {
                let Some(port) = base.checked_add(k) else {
                    return false;
                };
                let udp = UdpSocket::bind(("127.0.0.1", port));
                let tcp = if k == 0 {
                    None
                } else {
                    Some(TcpListener::bind(("127.0.0.1", port)))
                };
                match (udp, tcp) {
                    (Ok(u), None) => {
                        sockets.0.push(u);
                        true
                    }
                    (Ok(u), Some(Ok(t))) => {
                        sockets.0.push(u);
                        sockets.1.push(t);
                        true
                    }
                    _ => false,
                }
            });
            if all_free {
                held.push((probe, sockets));
                found = Some(base);
                break;
            }
        }
        ports.push(found.ok_or_else(|| LabError::PortInUse {
            what: format!("{span} consecutive free ports on 127.0.0.1"),
            detail: "none found in 200 attempts".into(),
        })?);
    }
    Ok(ports)
}

/// `name` on PATH, or in the sbin directories that a non-root PATH may lack.
fn find_binary(name: &str, package: &'static str) -> Result<PathBuf, LabError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| LabError::Missing {
            what: format!("`{name}` (searched PATH and /usr/sbin)"),
            package,
        })
}

/// baresip's module directory: the one holding the modules the lab loads.
fn find_baresip_modules() -> Result<PathBuf, LabError> {
    let needed = [
        "ctrl_tcp.so",
        "menu.so",
        "ausine.so",
        "aubridge.so",
        "sndfile.so",
        "g711.so",
        "account.so",
    ];
    let candidates = [
        DEFAULT_BARESIP_MODULES,
        "/usr/local/lib/baresip/modules",
        "/usr/lib/x86_64-linux-gnu/baresip/modules",
        "/usr/lib/aarch64-linux-gnu/baresip/modules",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|d| needed.iter().all(|m| d.join(m).is_file()))
        .ok_or_else(|| LabError::Missing {
            what: format!(
                "baresip modules {} (searched {})",
                needed.join(", "),
                candidates.join(", ")
            ),
            package: "baresip-core",
        })
}

/// Fails early, naming the port, when one of the lab's ports is taken.
fn check_ports_free(config: &LabConfig) -> Result<(), LabError> {
    let taken = |what: String, e: std::io::Error| LabError::PortInUse {
        what,
        detail: e.to_string(),
    };
    let pbx = config.pbx;
    UdpSocket::bind(pbx).map_err(|e| taken(format!("Kamailio UDP {pbx}"), e))?;
    TcpListener::bind(pbx).map_err(|e| taken(format!("Kamailio TCP {pbx}"), e))?;
    for p in &config.phones {
        let ext = &p.extension;
        let sip = SocketAddr::from(([127, 0, 0, 1], p.sip_port));
        UdpSocket::bind(sip).map_err(|e| taken(format!("phone {ext} SIP UDP {sip}"), e))?;
        TcpListener::bind(sip).map_err(|e| taken(format!("phone {ext} SIP TCP {sip}"), e))?;
        let second = SocketAddr::from(([127, 0, 0, 1], p.sip_port.saturating_add(1)));
        TcpListener::bind(second)
            .map_err(|e| taken(format!("phone {ext} second SIP TCP {second}"), e))?;
        let ctrl = SocketAddr::from(([127, 0, 0, 1], p.ctrl_port));
        TcpListener::bind(ctrl).map_err(|e| taken(format!("phone {ext} ctrl_tcp {ctrl}"), e))?;
    }
    Ok(())
}

fn write_files(config: &LabConfig, rendered: &Rendered) -> Result<(), LabError> {
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|source| LabError::Io {
            what: format!("write {}", path.display()),
            source,
        })
    };
    let mkdir = |path: &Path| {
        std::fs::create_dir_all(path).map_err(|source| LabError::Io {
            what: format!("create {}", path.display()),
            source,
        })
    };
    mkdir(&config.dir)?;
    write(&Layout::kamailio_cfg(&config.dir), &rendered.kamailio_cfg)?;
    for phone in &rendered.phones {
        mkdir(&phone.dir)?;
        write(&phone.dir.join("config"), &phone.config)?;
        write(&phone.dir.join("accounts"), &phone.accounts)?;
        // Recordings of an earlier run in the same directory would pass for this run's.
        let recordings = Layout::recordings(&config.dir, &phone.extension);
        if recordings.exists() {
            std::fs::remove_dir_all(&recordings).map_err(|source| LabError::Io {
                what: format!("clear {}", recordings.display()),
                source,
            })?;
        }
        mkdir(&recordings)?;
    }
    Ok(())
}

/// Waits until Kamailio answers an OPTIONS to itself.
async fn wait_for_kamailio(kamailio: &mut Process, pbx: SocketAddr) -> Result<(), LabError> {
    let deadline = Instant::now() + KAMAILIO_READY;
    let uri = format!("sip:{pbx}");
    loop {
        kamailio.check_alive()?;
        let answer = probe::options(pbx, &uri, Duration::from_millis(200))
            .await
            .map_err(|source| LabError::Io {
                what: format!("send OPTIONS to Kamailio at {pbx}"),
                source,
            })?;
        if answer == Some(200) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(LabError::Timeout {
                what: format!("Kamailio to answer OPTIONS {uri}"),
                after: KAMAILIO_READY,
                detail: format!(
                    "last answer: {answer:?}\n--- {} ---\n{}",
                    kamailio.log.display(),
                    log_tail(&kamailio.log, 20)
                ),
            });
        }
        // A timed-out probe already waited; only a quick wrong answer needs a pause.
        if answer.is_some() {
            tokio::time::sleep(RETRY).await;
        }
    }
}

/// Connects to a phone's `ctrl_tcp` once baresip has opened it.
async fn connect_ctrl(process: &mut Process, phone: &PhoneConfig) -> Result<TcpStream, LabError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], phone.ctrl_port));
    let deadline = Instant::now() + CTRL_READY;
    loop {
        process.check_alive()?;
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) if Instant::now() >= deadline => {
                return Err(LabError::Timeout {
                    what: format!("phone {}: ctrl_tcp on {addr}", phone.extension),
                    after: CTRL_READY,
                    detail: format!(
                        "last error: {e}\n--- {} ---\n{}",
                        process.log.display(),
                        log_tail(&process.log, 20)
                    ),
                })
            }
            Err(_) => tokio::time::sleep(RETRY).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_and_have_their_neighbours_free() {
        let ports = free_ports(&[1, 2, 1, 2, 1]).unwrap();
        let mut all: Vec<u16> = ports.clone();
        all.push(ports[1] + 1);
        all.push(ports[3] + 1);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 7, "{ports:?}");
    }

    #[test]
    fn a_taken_port_is_named() {
        let held = UdpSocket::bind("127.0.0.1:0").unwrap();
        let config = LabConfig {
            dir: PathBuf::from("/tmp/unused"),
            pbx: held.local_addr().unwrap(),
            viawork: None,
            phones: vec![],
        };
        let err = check_ports_free(&config).unwrap_err();
        assert!(
            matches!(&err, LabError::PortInUse { what, .. } if what.contains("Kamailio UDP")),
            "{err}"
        );
    }
}
