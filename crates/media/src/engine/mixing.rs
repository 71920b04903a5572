//! The mixing threads: dedicated OS threads, outside the tokio runtime, that run every
//! conference's 20 ms tick.
//!
//! A conference's tick has a deadline (a frame every 20 ms to every phone); a tokio task has
//! none: behind tens of thousands of receive-task wake-ups per second on the same workers
//! it waits its turn, and ticks came out several milliseconds late. So the ticks run on a
//! small pool of threads of their own (default: one per core, at most 4), each with a
//! [`TickSchedule`] of its conferences (every conference keeps its own 20 ms phase), sleeping
//! until the earliest due tick on an absolute deadline. A new conference goes to the thread
//! with the fewest. The threads can run at an elevated scheduling priority
//! ([`MixingPriority`]), as FreeSWITCH and Asterisk offer for their timing threads: the
//! kernel then runs a due tick ahead of the receive tasks and anything else on the machine.
//! A thread that may not raise its priority (no root, no `CAP_SYS_NICE`) says so once and
//! runs at normal priority.
//!
//! The threads start with the first conference and hold only weak references: a conference
//! whose last handle is dropped is forgotten at its next due time, and the threads exit once
//! the engine and all its conferences are gone.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::tick_schedule::{after_tick, least_loaded, TickSchedule};

/// Most mixing threads a configuration may ask for.
pub const MAX_MIXING_THREADS: usize = 64;
/// Niceness of [`MixingPriority::High`] threads.
pub const HIGH_NICE: i32 = -10;
/// `SCHED_FIFO` priority of [`MixingPriority::Realtime`] threads: above every normal
/// thread, below the kernel's interrupt threads (50) so the network keeps flowing.
pub const REALTIME_PRIORITY: u8 = 10;

/// The scheduling priority of the mixing threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MixingPriority {
    /// The default time-sharing priority (nice 0).
    Normal,
    /// Nice −10: the kernel's scheduler favours the threads (Linux: `CAP_SYS_NICE` or a
    /// `RLIMIT_NICE` of at least 30, e.g. systemd's `LimitNICE=-10`). On a saturated
    /// machine a due tick still shares the CPU with everything else, only with a larger
    /// share.
    High,
    /// `SCHED_FIFO` at priority 10 (the default): a due tick preempts every normal thread
    /// at once (Linux: `CAP_SYS_NICE` or `RLIMIT_RTPRIO` of at least 10, e.g. systemd's
    /// `LimitRTPRIO=10`). A tick is bounded work and the thread sleeps between ticks; should
    /// one ever spin, the kernel's real-time throttling (95 % of each second by default)
    /// still leaves normal threads some time.
    #[default]
    Realtime,
}

impl MixingPriority {
    /// The configuration name: `normal`, `high`, `realtime`.
    pub fn name(self) -> &'static str {
        match self {
            MixingPriority::Normal => "normal",
            MixingPriority::High => "high",
            MixingPriority::Realtime => "realtime",
        }
    }
}

impl std::fmt::Display for MixingPriority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Not one of `normal`, `high`, `realtime`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not one of normal, high, realtime")]
pub struct UnknownPriority(pub String);

impl std::str::FromStr for MixingPriority {
    type Err = UnknownPriority;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            MixingPriority::Normal,
            MixingPriority::High,
            MixingPriority::Realtime,
        ]
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| UnknownPriority(s.to_owned()))
    }
}

/// How conferences are ticked: how many mixing threads, at what priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MixingConfig {
    /// Mixing threads (1 to [`MAX_MIXING_THREADS`]; 0 is taken as 1).
    pub threads: usize,
    /// Their scheduling priority.
    pub priority: MixingPriority,
}

impl MixingConfig {
    /// The default thread count: one per core, at most 4 (one thread mixes hundreds of
    /// conferences; more threads than cores only adds wake-ups).
    pub fn default_threads() -> usize {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4)
    }
}

impl Default for MixingConfig {
    /// One thread per core (at most 4), [`MixingPriority::Realtime`].
    fn default() -> Self {
        MixingConfig {
            threads: Self::default_threads(),
            priority: MixingPriority::default(),
        }
    }
}

/// What a mixing thread drives: a conference.
pub(crate) trait Ticked: Send + Sync + 'static {
    /// Runs the tick due `late` ago; `now` is when it started.
    fn tick(&self, now: Instant, late: Duration);
    /// Counts ticks skipped because the conference fell too far behind.
    fn skipped(&self, n: u64);
}

/// What a thread is handed and told.
struct Inbox {
    added: Mutex<Vec<(Weak<dyn Ticked>, Instant)>>,
    stop: AtomicBool,
}

struct Worker {
    inbox: Arc<Inbox>,
    thread: Thread,
    /// Conferences on this thread (the least-loaded choice).
    load: Arc<AtomicUsize>,
}

/// The mixing threads of one engine, started with its first conference.
pub(crate) struct MixingPool {
    config: MixingConfig,
    workers: OnceLock<Vec<Worker>>,
    cursor: AtomicUsize,
}

impl std::fmt::Debug for MixingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let loads: Vec<usize> = self
            .workers
            .get()
            .map(|w| w.iter().map(|w| w.load.load(Ordering::Relaxed)).collect())
            .unwrap_or_default();
        f.debug_struct("MixingPool")
            .field("config", &self.config)
            .field("conferences_per_thread", &loads)
            .finish()
    }
}

/// A conference's place on a thread; dropping it (the conference ended) frees the place.
pub(crate) struct Registration {
    load: Arc<AtomicUsize>,
    /// Keeps the threads running while the conference lives, even without its engine.
    _pool: Arc<MixingPool>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.load.fetch_sub(1, Ordering::Relaxed);
    }
}

impl MixingPool {
    pub(crate) fn new(config: MixingConfig) -> Arc<MixingPool> {
        Arc::new(MixingPool {
            config: MixingConfig {
                threads: config.threads.clamp(1, MAX_MIXING_THREADS),
                ..config
            },
            workers: OnceLock::new(),
            cursor: AtomicUsize::new(0),
        })
    }

    fn workers(&self) -> &[Worker] {
        self.workers.get_or_init(|| {
            (0..self.config.threads)
                .map(|i| spawn_worker(i, self.config.priority))
                .collect()
        })
    }

    /// Puts `conf` on the least-loaded thread, first due at `first_due`.
    ///
    /// # Panics
    /// If the operating system cannot start a thread (the first conference only).
    pub(crate) fn add(
        self: &Arc<Self>,
        conf: Weak<dyn Ticked>,
        first_due: Instant,
    ) -> Registration {
        let workers = self.workers();
        let loads: Vec<usize> = workers
            .iter()
            .map(|w| w.load.load(Ordering::Relaxed))
            .collect();
        let i = least_loaded(&loads, self.cursor.load(Ordering::Relaxed));
        self.cursor.store(i + 1, Ordering::Relaxed);
        let w = &workers[i];
        w.load.fetch_add(1, Ordering::Relaxed);
        w.inbox
            .added
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((conf, first_due));
        w.thread.unpark();
        Registration {
            load: w.load.clone(),
            _pool: self.clone(),
        }
    }
}

impl Drop for MixingPool {
    fn drop(&mut self) {
        for w in self.workers.get().into_iter().flatten() {
            w.inbox.stop.store(true, Ordering::Relaxed);
            w.thread.unpark();
        }
    }
}

fn spawn_worker(index: usize, priority: MixingPriority) -> Worker {
    let inbox = Arc::new(Inbox {
        added: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
    });
    let theirs = inbox.clone();
    let handle = std::thread::Builder::new()
        .name(format!("media-mix-{index}"))
        .spawn(move || {
            raise_priority(priority);
            run(&theirs);
        })
        .unwrap_or_else(|e| panic!("cannot start a media mixing thread: {e}"));
    Worker {
        inbox,
        thread: handle.thread().clone(),
        load: Arc::new(AtomicUsize::new(0)),
    }
}

/// A mixing thread's loop: take new conferences, sleep to the earliest due tick, run
/// everything due.
fn run(inbox: &Inbox) {
    let mut schedule: TickSchedule<Weak<dyn Ticked>> = TickSchedule::new();
    loop {
        if inbox.stop.load(Ordering::Relaxed) {
            return;
        }
        {
            let mut added = inbox.added.lock().unwrap_or_else(|e| e.into_inner());
            for (conf, due) in added.drain(..) {
                schedule.insert(conf, due);
            }
        }
        let now = Instant::now();
        match schedule.next_due() {
            // Woken by a new conference or by the pool going away.
            None => std::thread::park(),
            // Spurious and early wake-ups just go round again.
            Some(due) if due > now => std::thread::park_timeout(due - now),
            Some(_) => {
                let Some((conf, due)) = schedule.pop_due(now) else {
                    continue;
                };
                // A conference whose handles are all gone is not put back.
                let Some(c) = conf.upgrade() else {
                    continue;
                };
                c.tick(now, now.saturating_duration_since(due));
                let next = after_tick(due, now);
                if next.skipped > 0 {
                    c.skipped(next.skipped);
                }
                drop(c);
                schedule.insert(conf, next.due);
            }
        }
    }
}

/// Whether the one warning about priority was given.
static PRIORITY_WARNED: AtomicBool = AtomicBool::new(false);

/// Raises the calling thread's priority, or warns (once per process) and carries on.
fn raise_priority(priority: MixingPriority) {
    let result = match priority {
        MixingPriority::Normal => return,
        MixingPriority::High => set_nice(HIGH_NICE),
        MixingPriority::Realtime => set_fifo(REALTIME_PRIORITY),
    };
    match result {
        Ok(()) => tracing::debug!(%priority, "media mixing thread priority raised"),
        Err(error) => {
            if !PRIORITY_WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    %priority,
                    %error,
                    "media mixing threads run at normal priority: raising it needs root or \
                     CAP_SYS_NICE (systemd: AmbientCapabilities=CAP_SYS_NICE, or \
                     LimitNICE=-10 for high, LimitRTPRIO=10 for realtime)"
                );
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn set_nice(nice: i32) -> Result<(), String> {
    // On Linux, PRIO_PROCESS with no pid is the calling thread, not the whole process.
    rustix::process::setpriority_process(None, nice).map_err(|e| e.to_string())
}

#[cfg(target_os = "linux")]
fn set_fifo(priority: u8) -> Result<(), String> {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy,
        ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
    };
    let value = ThreadPriorityValue::try_from(priority).map_err(|e| e.to_string())?;
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Crossplatform(value),
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .map_err(|e| format!("{e:?}"))
}

#[cfg(not(target_os = "linux"))]
fn set_nice(_: i32) -> Result<(), String> {
    Err("not supported on this platform".into())
}

#[cfg(not(target_os = "linux"))]
fn set_fifo(_: u8) -> Result<(), String> {
    Err("not supported on this platform".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_names_parse_in_any_case_and_print_back() {
        for p in [
            MixingPriority::Normal,
            MixingPriority::High,
            MixingPriority::Realtime,
        ] {
            assert_eq!(p.name().parse::<MixingPriority>(), Ok(p));
            assert_eq!(p.name().to_uppercase().parse::<MixingPriority>(), Ok(p));
        }
        assert_eq!(
            "fifo".parse::<MixingPriority>(),
            Err(UnknownPriority("fifo".into()))
        );
    }

    #[derive(Default)]
    struct Counter {
        ticks: AtomicUsize,
        thread: Mutex<Option<String>>,
    }

    impl Ticked for Counter {
        fn tick(&self, _: Instant, _: Duration) {
            self.ticks.fetch_add(1, Ordering::Relaxed);
            *self.thread.lock().unwrap() = std::thread::current().name().map(str::to_owned);
        }
        fn skipped(&self, _: u64) {}
    }

    fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::yield_now();
        }
    }

    #[test]
    fn conferences_are_spread_over_the_least_loaded_threads_and_ticked_there() {
        let pool = MixingPool::new(MixingConfig {
            threads: 2,
            priority: MixingPriority::Normal,
        });
        let confs: Vec<Arc<Counter>> = (0..3).map(|_| Arc::default()).collect();
        let mut regs: Vec<Registration> = confs
            .iter()
            .map(|c| {
                let weak: Weak<Counter> = Arc::downgrade(c);
                pool.add(weak, Instant::now())
            })
            .collect();
        let loads = || -> Vec<usize> {
            let w = pool.workers.get().expect("started");
            w.iter().map(|w| w.load.load(Ordering::Relaxed)).collect()
        };
        assert_eq!(loads(), [2, 1]);
        for c in &confs {
            until("three ticks of every conference", || {
                c.ticks.load(Ordering::Relaxed) >= 3
            });
            let name = c.thread.lock().unwrap().clone().unwrap_or_default();
            assert!(name.starts_with("media-mix-"), "ticked on {name:?}");
        }
        // Round-robin placement: conferences 0 and 2 on thread 0, conference 1 on thread 1.
        let name = |i: usize| confs[i].thread.lock().unwrap().clone();
        assert_eq!(name(0), name(2));
        assert_ne!(name(0), name(1));

        // A conference that ends frees its place; the next goes where there is room.
        drop(regs.remove(0));
        assert_eq!(loads(), [1, 1]);
        let late: Arc<Counter> = Arc::default();
        let weak: Weak<Counter> = Arc::downgrade(&late);
        let _reg = pool.add(weak, Instant::now());
        until("the new conference's first tick", || {
            late.ticks.load(Ordering::Relaxed) >= 1
        });
    }

    #[test]
    fn a_pool_of_zero_threads_gets_one_and_too_many_are_capped() {
        let p = MixingPool::new(MixingConfig {
            threads: 0,
            priority: MixingPriority::Normal,
        });
        assert_eq!(p.config.threads, 1);
        let p = MixingPool::new(MixingConfig {
            threads: 1000,
            priority: MixingPriority::Normal,
        });
        assert_eq!(p.config.threads, MAX_MIXING_THREADS);
        // Nothing started until a conference arrives.
        assert!(p.workers.get().is_none());
    }
}
