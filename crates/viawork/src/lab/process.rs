//! Child processes of the lab: started in their own process group with output captured in a
//! log file, and stopped by PID (process group), never by name.
//!
//! Each child leads its own group, so a Ctrl-C at the terminal does not reach it and one
//! signal reaches all of Kamailio's worker processes. If the lab's own process dies before
//! [`super::Lab`] is dropped (a panic that aborts, a killed test binary), a small watcher
//! shell kills the groups: it reads their ids on a pipe from us and acts when that pipe
//! closes without the word `done`.

use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::LabError;

/// How long a child gets to exit on SIGTERM before its group gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// A running child process of the lab.
pub(crate) struct Process {
    /// Human name for errors, e.g. `kamailio` or `baresip 0101`.
    pub(crate) name: String,
    pub(crate) log: PathBuf,
    child: Child,
    /// Set once the child has been reaped (then its PID may belong to someone else).
    exited: Option<String>,
}

impl Process {
    /// Starts `cmd` in a new process group with stdin from /dev/null and stdout and stderr
    /// written to `log` (truncated first).
    pub(crate) fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Process, LabError> {
        let io = |what: &str, source| LabError::Io {
            what: format!("{what} for {name}"),
            source,
        };
        let out = File::options()
            .create(true)
            .write(true)
            .truncate(true)
            .open(log)
            .map_err(|e| io(&format!("open log {}", log.display()), e))?;
        let err = out.try_clone().map_err(|e| io("clone log handle", e))?;
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| io(&format!("start {:?}", cmd.get_program()), e))?;
        Ok(Process {
            name: name.to_string(),
            log: log.to_path_buf(),
            child,
            exited: None,
        })
    }

    /// The PID, which is also the process group id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Err(Died)` with the tail of the log if the child has exited.
    pub(crate) fn check_alive(&mut self) -> Result<(), LabError> {
        if self.exited.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status.to_string());
            }
        }
        match &self.exited {
            None => Ok(()),
            Some(status) => Err(died(&self.name, status, &self.log)),
        }
    }

    /// Stops the process group: SIGTERM, up to [`STOP_GRACE`] for the leader to exit, then
    /// SIGKILL for anything left in the group, then reaps the leader.
    pub(crate) fn stop(&mut self) {
        if self.exited.is_some() {
            return;
        }
        let pgid = self.pid();
        signal_group(pgid, "TERM");
        let deadline = Instant::now() + STOP_GRACE;
        // The leader is watched through /proc rather than reaped, so its (zombie) PID keeps
        // the group id ours until the SIGKILL below is sent.
        while Instant::now() < deadline && !is_gone_or_zombie(pgid) {
            std::thread::sleep(Duration::from_millis(10));
        }
        signal_group(pgid, "KILL");
        let status = self.child.wait();
        self.exited = Some(match status {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        });
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The error for a child that exited, with the tail of its log.
pub(crate) fn died(name: &str, status: &str, log: &Path) -> LabError {
    let tail = log_tail(log, 25);
    if tail.contains("Address already in use") {
        return LabError::PortInUse {
            what: format!("{name} (it exited: {status}; log {})", log.display()),
            detail: tail,
        };
    }
    LabError::Died {
        name: name.to_string(),
        status: status.to_string(),
        log: log.to_path_buf(),
        tail,
    }
}

/// The last `lines` lines of a log file (baresip's terminal control characters removed).
pub(crate) fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read(log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", log.display()));
    let text = text.replace("\x1b[31m", "").replace("\x1b[;m", "");
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn signal_group(pgid: u32, signal: &str) {
    // std can only SIGKILL a single PID; the shell's `kill` reaches the whole group.
    let _ = Command::new("sh")
        .arg("-c")
        .arg(r#"kill -s "$0" -- "-$1" 2>/dev/null"#)
        .arg(signal)
        .arg(pgid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn is_gone_or_zombie(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and may hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_none_or(|state| state == 'Z' || state == 'X'),
        Err(_) => true,
    }
}

/// Kills the lab's process groups if the lab's own process goes away without dropping it.
pub(crate) struct Watcher {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Watcher {
    pub(crate) fn start() -> Result<Watcher, LabError> {
        // Group ids arrive one per line; EOF without `done` means our process died.
        const SCRIPT: &str = r#"
trap '' INT HUP
groups=
while read -r line; do
    case "$line" in
        done) exit 0 ;;
        *) groups="$groups $line" ;;
    esac
done
for g in $groups; do kill -s KILL -- "-$g" 2>/dev/null; done
"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg("viawork-lab-watcher")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|source| LabError::Io {
                what: "start the lab's watcher shell (sh)".into(),
                source,
            })?;
        let stdin = child.stdin.take();
        Ok(Watcher { child, stdin })
    }

    /// Registers a process group to kill should this process die.
    pub(crate) fn watch(&mut self, pgid: u32) {
        if let Some(stdin) = &mut self.stdin {
            let _ = writeln!(stdin, "{pgid}");
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // The lab stopped its processes itself: tell the watcher to leave quietly.
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "done");
        }
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits (bounded) until `log` has a line holding a PID, and returns it.
    fn pid_in(log: &Path) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if let Some(pid) = text.lines().find_map(|l| l.trim().parse().ok()) {
                return pid;
            }
            assert!(Instant::now() < deadline, "no PID in {}", log.display());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("viawork-lab-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn stop_ends_the_whole_group_and_a_dead_child_reports_its_log() {
        let dir = temp_dir("proc");
        let log = dir.join("sh.log");
        // A shell with a grandchild: both must go when the group is stopped.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 60 & echo $!; wait"]);
        let mut p = Process::spawn("sleeper", cmd, &log).unwrap();
        let grandchild = pid_in(&log);
        p.check_alive().unwrap();
        let started = Instant::now();
        p.stop();
        assert!(started.elapsed() < STOP_GRACE + Duration::from_secs(1));
        assert!(p.check_alive().is_err());
        // The signal is delivered asynchronously: on a loaded machine the grandchild may
        // take a moment to die (bounded).
        let deadline = Instant::now() + Duration::from_secs(5);
        while !is_gone_or_zombie(grandchild) {
            assert!(Instant::now() < deadline, "the grandchild survived");
            std::thread::sleep(Duration::from_millis(5));
        }

        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo boom >&2; exit 3"]);
        let mut p = Process::spawn("failer", cmd, &log).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let err = loop {
            if let Err(e) = p.check_alive() {
                break e;
            }
            assert!(Instant::now() < deadline, "the failing shell never exited");
            std::thread::sleep(Duration::from_millis(5));
        };
        let text = err.to_string();
        assert!(text.contains("failer") && text.contains("boom"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_watcher_kills_the_groups_when_the_lab_process_goes_away() {
        let dir = temp_dir("watcher");
        let log = dir.join("sh.log");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo $$; exec sleep 60"]);
        let mut p = Process::spawn("orphan", cmd, &log).unwrap();
        assert_eq!(pid_in(&log), p.pid());
        let mut watcher = Watcher::start().unwrap();
        watcher.watch(p.pid());
        // Closing the pipe without `done` is what our process dying looks like.
        watcher.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        while p.check_alive().is_ok() {
            assert!(
                Instant::now() < deadline,
                "the watcher did not kill the group"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
