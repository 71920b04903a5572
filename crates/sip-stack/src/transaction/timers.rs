//! Timer values (RFC 3261 §17.1.1.1 and Appendix A, RFC 6026 §8.4 and §8.7) and the
//! back-off shared by the retransmission timers A, E, G and the UAS 2xx retransmission.
//!
//! Only T1, T2, T4, Timer D and the 100 Trying delay are configurable; every other timer
//! derives from them:
//!
//! | timer | value | what |
//! |-------|-------|------|
//! | A | T1, doubling | INVITE request retransmission (unreliable only) |
//! | B, F, H, L, M | 64·T1 | transaction timeouts, Accepted-state lifetimes |
//! | D | 32 s / 0 | client INVITE absorbs final response retransmissions |
//! | E, G | T1, doubling up to T2 | non-INVITE request, INVITE final response retransmission |
//! | I, K | T4 / 0 | absorb ACK / response retransmissions |
//! | J | 64·T1 / 0 | server non-INVITE absorbs request retransmissions |

use std::time::{Duration, Instant};

/// The timer constants of a [`super::TransactionLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// T1, the round-trip estimate and first retransmission interval (500 ms).
    pub t1: Duration,
    /// T2, the longest retransmission interval of non-INVITE requests and INVITE
    /// responses (4 s).
    pub t2: Duration,
    /// T4, how long a message may stay in the network: Timers I and K (5 s).
    pub t4: Duration,
    /// Timer D over unreliable transports: how long a client INVITE transaction absorbs
    /// final response retransmissions (32 s; RFC 3261 asks for at least 32 s).
    pub timer_d: Duration,
    /// How long a server INVITE transaction waits for the TU's first response before it
    /// sends 100 Trying itself (200 ms, RFC 3261 §17.2.1).
    pub trying_delay: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
            trying_delay: Duration::from_millis(200),
        }
    }
}

/// Bounds that keep timer arithmetic finite and retransmission intervals non-zero.
const MIN_T: Duration = Duration::from_millis(1);
const MAX_T: Duration = Duration::from_secs(3600);

impl TimerConfig {
    /// 64·T1: Timers B, F, H, L, M, J over unreliable transports, and how long a UAS
    /// retransmits a 2xx waiting for its ACK.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }

    /// The same values clamped so that T1, T2 and T4 lie in 1 ms ..= 1 h and the other two
    /// are at most 1 h. The layer applies this to whatever it is given.
    pub fn sanitized(self) -> TimerConfig {
        TimerConfig {
            t1: self.t1.clamp(MIN_T, MAX_T),
            t2: self.t2.clamp(MIN_T, MAX_T),
            t4: self.t4.clamp(MIN_T, MAX_T),
            timer_d: self.timer_d.min(MAX_T),
            trying_delay: self.trying_delay.min(MAX_T),
        }
    }
}

/// A retransmission timer: fires at `at`; each firing waits twice as long as the one
/// before, up to `cap` when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    /// When the timer fires next.
    pub(crate) at: Instant,
    interval: Duration,
    cap: Option<Duration>,
}

impl Backoff {
    /// Arms the timer to fire `first` after `now`.
    pub(crate) fn start(now: Instant, first: Duration, cap: Option<Duration>) -> Backoff {
        Backoff {
            at: now + first,
            interval: first,
            cap,
        }
    }

    /// True when the timer is due at `now`.
    pub(crate) fn due(&self, now: Instant) -> bool {
        self.at <= now
    }

    /// After a retransmission at `now`: the interval doubles (capped) and the timer is re-armed.
    pub(crate) fn fired(&mut self, now: Instant) {
        let doubled = self.interval.saturating_mul(2);
        self.interval = match self.cap {
            Some(cap) => doubled.min(cap),
            None => doubled,
        };
        self.at = now + self.interval;
    }

    /// After a retransmission at `now`: re-armed with a fixed interval (Timer E in the
    /// Proceeding state, RFC 3261 §17.1.2.2).
    pub(crate) fn fired_with(&mut self, now: Instant, interval: Duration) {
        self.interval = interval;
        self.at = now + interval;
    }
}

/// True when an optional one-shot timer is due.
pub(crate) fn due(timer: Option<Instant>, now: Instant) -> bool {
    timer.is_some_and(|t| t <= now)
}

/// The earliest of some optional deadlines.
pub(crate) fn earliest<const N: usize>(timers: [Option<Instant>; N]) -> Option<Instant> {
    timers.into_iter().flatten().min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut b = Backoff::start(t0, ms(500), Some(ms(4000)));
        let mut fired_at = vec![];
        while b.at <= t0 + ms(32_000) {
            fired_at.push((b.at - t0).as_millis());
            b.fired(b.at);
        }
        assert_eq!(
            fired_at,
            [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
    }

    #[test]
    fn sanitizing_keeps_intervals_positive_and_finite() {
        let c = TimerConfig {
            t1: Duration::ZERO,
            t2: Duration::MAX,
            t4: Duration::ZERO,
            timer_d: Duration::MAX,
            trying_delay: Duration::MAX,
        }
        .sanitized();
        assert_eq!(c.t1, MIN_T);
        assert_eq!(c.t2, MAX_T);
        assert_eq!(c.transaction_timeout(), MIN_T * 64);
        assert_eq!(TimerConfig::default().sanitized(), TimerConfig::default());
    }
}
