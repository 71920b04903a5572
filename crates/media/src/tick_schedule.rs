//! When each conference ticks next: the sans-IO core of the mixing threads.
//!
//! A mixing thread drives many conferences, each on its own 20 ms phase (a conference ticks
//! 20 ms after it started, then every 20 ms), so their work spreads over the period instead
//! of piling up at one instant. [`TickSchedule`] is the thread's min-heap of due times: the
//! thread sleeps until [`next_due`](TickSchedule::next_due), pops what is due, ticks it and
//! puts it back at the time [`after_tick`] gives — one period later, or further when the
//! conference fell more than [`MAX_LAG`] behind, in which case the missed ticks are skipped
//! (and counted) rather than run in a burst that would flood every phone with frames its
//! jitter buffer would drop anyway. [`least_loaded`] picks the thread a new conference goes
//! to. Nothing here reads a clock or touches a thread: the driver
//! (`engine::mixing`) feeds it `Instant`s, and the tests feed it simulated ones.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// A conference's tick period: one 20 ms frame.
pub const TICK: Duration = Duration::from_millis(20);
/// A conference further behind than this skips ticks (counted) instead of bursting.
pub const MAX_LAG: Duration = Duration::from_millis(100);

struct Entry<T> {
    due: Instant,
    /// Insertion order: equal due times pop first in, first out.
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// Items (conferences) keyed by the instant they are next due, earliest first.
pub struct TickSchedule<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    seq: u64,
}

impl<T> Default for TickSchedule<T> {
    fn default() -> Self {
        TickSchedule {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T> std::fmt::Debug for TickSchedule<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TickSchedule")
            .field("len", &self.heap.len())
            .field("next_due", &self.next_due())
            .finish()
    }
}

impl<T> TickSchedule<T> {
    /// An empty schedule.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `item` at `due`.
    pub fn insert(&mut self, item: T, due: Instant) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            due,
            seq: self.seq,
            item,
        }));
    }

    /// The earliest due time: when the thread must be awake next (`None`: nothing to do,
    /// sleep until something is added).
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.due)
    }

    /// Takes the earliest item out if it is due at `now`, with the time it was due. The
    /// caller ticks it and [`insert`](Self::insert)s it again at [`after_tick`]'s time (or
    /// drops it: a conference that ended simply is not put back).
    pub fn pop_due(&mut self, now: Instant) -> Option<(T, Instant)> {
        if self.next_due()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(e)| (e.item, e.due))
    }

    /// Number of scheduled items.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True with nothing scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// Where a conference goes after a tick due at `due` started at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextTick {
    /// The next due time, on the conference's own phase.
    pub due: Instant,
    /// Ticks skipped to get there (the conference was more than [`MAX_LAG`] behind).
    pub skipped: u64,
}

/// The skip rule: the next tick is one period after `due`; if `now` is already more than
/// [`MAX_LAG`] past that, whole periods are skipped so the conference is at most one
/// period behind, keeping its phase.
pub fn after_tick(due: Instant, now: Instant) -> NextTick {
    let next = due + TICK;
    let behind = now.saturating_duration_since(next);
    if behind <= MAX_LAG {
        return NextTick {
            due: next,
            skipped: 0,
        };
    }
    let skipped = (behind.as_nanos() / TICK.as_nanos()) as u64;
    NextTick {
        due: next + TICK * skipped as u32,
        skipped,
    }
}

/// The thread a new conference goes to: the one with the fewest conferences, ties going
/// to the first at or after `cursor` (so equal threads are filled round-robin). `loads`
/// must not be empty.
pub fn least_loaded(loads: &[usize], cursor: usize) -> usize {
    let n = loads.len();
    (0..n)
        .map(|i| (cursor + i) % n)
        .min_by_key(|&i| loads[i])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn pops_in_due_order_and_only_when_due() {
        let t0 = Instant::now();
        let mut s = TickSchedule::new();
        s.insert("c", t0 + ms(15));
        s.insert("a", t0 + ms(5));
        s.insert("b", t0 + ms(10));
        assert_eq!(s.next_due(), Some(t0 + ms(5)));
        assert_eq!(s.pop_due(t0 + ms(4)), None, "nothing is due yet");
        assert_eq!(s.pop_due(t0 + ms(12)), Some(("a", t0 + ms(5))));
        assert_eq!(s.pop_due(t0 + ms(12)), Some(("b", t0 + ms(10))));
        assert_eq!(s.pop_due(t0 + ms(12)), None);
        assert_eq!(s.len(), 1);
        assert_eq!(s.pop_due(t0 + ms(15)), Some(("c", t0 + ms(15))));
        assert!(s.is_empty());
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn equal_due_times_pop_first_in_first_out() {
        let t0 = Instant::now();
        let mut s = TickSchedule::new();
        for name in ["x", "y", "z"] {
            s.insert(name, t0);
        }
        let order: Vec<_> = std::iter::from_fn(|| s.pop_due(t0).map(|(n, _)| n)).collect();
        assert_eq!(order, ["x", "y", "z"]);
    }

    #[test]
    fn conferences_keep_their_own_phase_over_many_ticks() {
        // Two conferences started 7 ms apart, driven by a simulated thread that wakes
        // exactly at every due time: each ticks every 20 ms on its own phase.
        let t0 = Instant::now();
        let mut s = TickSchedule::new();
        s.insert(0usize, t0 + TICK);
        s.insert(1usize, t0 + ms(7) + TICK);
        let mut ticks: [Vec<Instant>; 2] = Default::default();
        let mut now = t0;
        while ticks[0].len() < 100 || ticks[1].len() < 100 {
            now = s.next_due().expect("scheduled");
            while let Some((c, due)) = s.pop_due(now) {
                ticks[c].push(due);
                let next = after_tick(due, now);
                assert_eq!(next.skipped, 0);
                s.insert(c, next.due);
            }
        }
        assert!(now > t0 + ms(2000));
        for (c, offset) in [(0, 0), (1, 7)] {
            for (k, due) in ticks[c].iter().take(100).enumerate() {
                assert_eq!(
                    *due,
                    t0 + ms(offset) + TICK * (k as u32 + 1),
                    "conference {c}"
                );
            }
        }
    }

    #[test]
    fn a_late_tick_within_the_lag_keeps_the_schedule() {
        let t0 = Instant::now();
        // 30 ms late: the next tick is still the next period (it will run at once, late too).
        assert_eq!(
            after_tick(t0, t0 + ms(30)),
            NextTick {
                due: t0 + TICK,
                skipped: 0
            }
        );
        // Exactly 100 ms behind the next due time is still not skipping.
        assert_eq!(after_tick(t0, t0 + TICK + MAX_LAG).skipped, 0);
    }

    #[test]
    fn more_than_100_ms_behind_skips_whole_periods_keeping_the_phase() {
        let t0 = Instant::now();
        // The tick due at t0 ran at t0 + 250 ms: the next (t0 + 20) is 230 ms behind,
        // 11 whole periods are skipped, the conference resumes at t0 + 240 (10 ms behind).
        let next = after_tick(t0, t0 + ms(250));
        assert_eq!(next.skipped, 11);
        assert_eq!(next.due, t0 + ms(240));
        assert!(next.due <= t0 + ms(250));
        assert!(t0 + ms(250) - next.due < TICK);
        // Phase kept: a multiple of 20 ms after the original due time.
        assert_eq!((next.due - t0).as_millis() % 20, 0);
    }

    #[test]
    fn a_stalled_thread_skips_then_runs_on_time_again() {
        // One conference; the thread stalls for 1 s once (a simulated stop of the
        // process), then wakes on time: the ticks in the stall are skipped and counted,
        // the ones after run at their due times.
        let t0 = Instant::now();
        let mut s = TickSchedule::new();
        s.insert((), t0 + TICK);
        let mut skipped = 0;
        let mut late_ticks = 0;
        let mut ran = Vec::new();
        let stall_until = t0 + ms(1_050);
        for _ in 0..200 {
            let due = s.next_due().expect("scheduled");
            let now = if due < stall_until { stall_until } else { due };
            let ((), due) = s.pop_due(now).expect("due");
            if now > due {
                late_ticks += 1;
            }
            ran.push(due);
            let next = after_tick(due, now);
            skipped += next.skipped;
            s.insert((), next.due);
        }
        // Due at 20 ms ran at 1050 (late); the next, 40 ms, is 1010 behind: the 50 periods
        // 40..=1020 are skipped and 1040 runs (at 1050, late); then 1060, 1080, ... on time.
        assert_eq!(skipped, 50);
        assert_eq!(late_ticks, 2);
        assert_eq!(&ran[..3], &[t0 + ms(20), t0 + ms(1_040), t0 + ms(1_060)]);
        assert_eq!(
            ran.len() as u64 + skipped,
            250,
            "every period ran or was skipped"
        );
    }

    #[test]
    fn new_conferences_go_to_the_least_loaded_thread_round_robin_on_ties() {
        assert_eq!(least_loaded(&[3, 1, 2], 0), 1);
        assert_eq!(least_loaded(&[3, 1, 2], 2), 1);
        // Ties: the first at or after the cursor.
        assert_eq!(least_loaded(&[0, 0, 0], 0), 0);
        assert_eq!(least_loaded(&[0, 0, 0], 1), 1);
        assert_eq!(least_loaded(&[0, 0, 0], 5), 2);
        assert_eq!(least_loaded(&[1, 0, 0], 0), 1);
        assert_eq!(least_loaded(&[7], 3), 0);

        // Filling four threads with ten conferences, one ending in between: loads stay
        // within one of each other.
        let mut loads = [0usize; 4];
        let mut cursor = 0;
        for k in 0..10 {
            let t = least_loaded(&loads, cursor);
            cursor = t + 1;
            loads[t] += 1;
            if k == 4 {
                loads[0] -= 1;
            }
            let (min, max) = (loads.iter().min(), loads.iter().max());
            assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1), "{loads:?}");
        }
        assert_eq!(loads.iter().sum::<usize>(), 9);
    }
}
