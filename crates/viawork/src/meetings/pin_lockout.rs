//! Dial-in PIN lockout, as Skype's PIN policy counts it (sans-IO: rows and times in, rows
//! out; the meetings service reads and writes them through the store).
//!
//! Failures count in a 30-minute window; reaching the *local* limit within it locks the PIN
//! for an hour. Failures also count towards a *global* limit since the last success; reaching
//! it locks the PIN until an administrator unlocks it (`DELETE /api/v1/admin/users/{sip_uri}/pin-lockout`, or setting a
//! new PIN). Skype's limits depend on the PIN length — 10/100 for 4 digits, 25/1000 for 5
//! or 6, 25/5000 for more. The store keeps only a hash, so the length is the PIN policy's
//! minimum length: the limits an administrator chose by choosing the policy, which an
//! attacker cannot raise by typing longer guesses.

use crate::store::PinLockoutRow;

/// Length of the counting window (ms).
pub const WINDOW_MS: i64 = 30 * 60 * 1000;
/// How long reaching the local limit locks (ms).
pub const LOCK_MS: i64 = 60 * 60 * 1000;

/// Failures allowed before locking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Within one window: an hour's lock.
    pub local: i64,
    /// Since the last success: locked until an admin unlocks.
    pub global: i64,
}

impl Limits {
    /// Skype's limits for PINs of `len` digits.
    pub fn for_length(len: usize) -> Limits {
        match len {
            0..=4 => Limits {
                local: 10,
                global: 100,
            },
            5 | 6 => Limits {
                local: 25,
                global: 1000,
            },
            _ => Limits {
                local: 25,
                global: 5000,
            },
        }
    }
}

/// Whether a PIN may be tried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Try it.
    Open,
    /// Locked until this time (Unix ms).
    LockedUntil(i64),
    /// Locked until an administrator unlocks.
    LockedOut,
}

/// What `row` (the stored counters, if any) allows at `now`.
pub fn state(row: Option<&PinLockoutRow>, now: i64) -> State {
    match row {
        Some(r) if r.locked_out => State::LockedOut,
        Some(PinLockoutRow {
            locked_until: Some(until),
            ..
        }) if now < *until => State::LockedUntil(*until),
        _ => State::Open,
    }
}

/// The counters after a failed attempt at `now`.
pub fn after_failure(row: Option<&PinLockoutRow>, limits: Limits, now: i64) -> PinLockoutRow {
    let mut r = row.copied().unwrap_or(PinLockoutRow {
        window_start: now,
        ..PinLockoutRow::default()
    });
    if now - r.window_start >= WINDOW_MS || r.locked_until.is_some_and(|u| now >= u) {
        // A new window: the old one passed, or its lock ran out.
        r.window_start = now;
        r.window_failures = 0;
        r.locked_until = None;
    }
    r.window_failures += 1;
    r.total_failures += 1;
    if r.window_failures >= limits.local {
        r.locked_until = Some(now + LOCK_MS);
    }
    if r.total_failures >= limits.global {
        r.locked_out = true;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn local_limit_locks_for_an_hour_then_opens() {
        let limits = Limits::for_length(5);
        let mut row = None;
        let t0 = 1_000_000;
        for i in 0..24 {
            row = Some(after_failure(row.as_ref(), limits, t0 + i * MIN / 2));
            assert_eq!(state(row.as_ref(), t0 + i * MIN / 2), State::Open, "{i}");
        }
        let at = t0 + 24 * MIN / 2;
        row = Some(after_failure(row.as_ref(), limits, at));
        assert_eq!(state(row.as_ref(), at), State::LockedUntil(at + LOCK_MS));
        assert_eq!(
            state(row.as_ref(), at + LOCK_MS - 1),
            State::LockedUntil(at + LOCK_MS)
        );
        assert_eq!(state(row.as_ref(), at + LOCK_MS), State::Open);
        // After the lock a new window starts counting from one.
        let r = after_failure(row.as_ref(), limits, at + LOCK_MS);
        assert_eq!(r.window_failures, 1);
        assert_eq!(r.total_failures, 26);
    }

    #[test]
    fn failures_spread_over_windows_do_not_lock_locally() {
        let limits = Limits::for_length(4);
        let mut row = None;
        for i in 0..40 {
            // 9 failures per window, 31 minutes apart: never 10 in one window.
            let at = i / 9 * 31 * MIN + i % 9;
            row = Some(after_failure(row.as_ref(), limits, at));
            assert_eq!(state(row.as_ref(), at), State::Open, "{i}");
        }
        assert_eq!(row.map(|r| r.total_failures), Some(40));
    }

    #[test]
    fn global_limit_locks_until_an_admin_unlocks() {
        let limits = Limits {
            local: 1000,
            global: 5,
        };
        let mut row = None;
        for i in 0..5 {
            row = Some(after_failure(row.as_ref(), limits, i * 31 * MIN));
        }
        assert_eq!(state(row.as_ref(), 10 * 31 * MIN), State::LockedOut);
        assert_eq!(state(row.as_ref(), i64::MAX / 2), State::LockedOut);
        // Forgetting the row (a success or an unlock) opens it.
        assert_eq!(state(None, 0), State::Open);
    }

    #[test]
    fn skype_limits_by_length() {
        assert_eq!(
            Limits::for_length(4),
            Limits {
                local: 10,
                global: 100
            }
        );
        assert_eq!(
            Limits::for_length(6),
            Limits {
                local: 25,
                global: 1000
            }
        );
        assert_eq!(
            Limits::for_length(7),
            Limits {
                local: 25,
                global: 5000
            }
        );
    }
}
