//! Remembering servers that just failed, so new requests try the others first.
//!
//! After a timeout or transport error a peer is blocked for a while, twice as long after
//! each consecutive failure up to a cap; a 503 with Retry-After blocks it for the time the
//! server asked (RFC 3261 §21.5.4, RFC 3263 §4.3). A success clears the record. Sans-IO:
//! the caller passes the current [`Instant`].

use crate::transport::Peer;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Entry {
    until: Instant,
    failures: u32,
}

/// Peers to avoid for now, with exponential backoff.
#[derive(Debug, Clone)]
pub struct Blacklist {
    entries: HashMap<Peer, Entry>,
    base: Duration,
    max: Duration,
}

impl Default for Blacklist {
    /// 30 s after a first failure, doubling up to 10 min.
    fn default() -> Blacklist {
        Blacklist::new(Duration::from_secs(30), Duration::from_secs(600))
    }
}

impl Blacklist {
    /// Blocks for `base` after a first failure, doubling per further failure up to `max`.
    pub fn new(base: Duration, max: Duration) -> Blacklist {
        Blacklist {
            entries: HashMap::new(),
            base,
            max: max.max(base),
        }
    }

    /// Records a failure (timeout, transport error) of `peer` at `now`; returns how long
    /// it is blocked.
    pub fn failed(&mut self, peer: Peer, now: Instant) -> Duration {
        let failures = self
            .entries
            .get(&peer)
            .map_or(0, |e| e.failures)
            .saturating_add(1);
        let doublings = (failures - 1).min(31);
        let block = self
            .base
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max);
        let until = now.checked_add(block).unwrap_or(now);
        self.entries.insert(peer, Entry { until, failures });
        block
    }

    /// Blocks `peer` until `until` (a 503's Retry-After), unless it is already blocked
    /// for longer. Does not count as a failure for the backoff.
    pub fn block_until(&mut self, peer: Peer, until: Instant) {
        let entry = self
            .entries
            .entry(peer)
            .or_insert(Entry { until, failures: 0 });
        entry.until = entry.until.max(until);
    }

    /// Forgets `peer`'s failures: it answered.
    pub fn succeeded(&mut self, peer: &Peer) {
        self.entries.remove(peer);
    }

    /// True while `peer` is blocked.
    pub fn is_blocked(&self, peer: &Peer, now: Instant) -> bool {
        self.blocked_until(peer).is_some_and(|until| now < until)
    }

    /// When `peer`'s current or last block ends, if it has failed since its last success.
    pub fn blocked_until(&self, peer: &Peer) -> Option<Instant> {
        self.entries.get(peer).map(|e| e.until)
    }

    /// Drops the records of peers whose block ended more than the maximum block ago, so the
    /// map does not grow without bound; their backoff starts over.
    pub fn purge(&mut self, now: Instant) {
        let max = self.max;
        self.entries
            .retain(|_, e| e.until.checked_add(max).is_some_and(|end| now < end));
    }

    /// How many peers have a record.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no peer has a record.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Transport;

    fn peer() -> Peer {
        Peer::new(([192, 0, 2, 1], 5060).into(), Transport::Udp)
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let now = Instant::now();
        let mut b = Blacklist::new(Duration::from_secs(10), Duration::from_secs(60));
        let blocks: Vec<u64> = (0..6).map(|_| b.failed(peer(), now).as_secs()).collect();
        assert_eq!(blocks, [10, 20, 40, 60, 60, 60]);
        assert!(b.is_blocked(&peer(), now + Duration::from_secs(59)));
        assert!(!b.is_blocked(&peer(), now + Duration::from_secs(60)));
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let now = Instant::now();
        let mut b = Blacklist::new(Duration::from_secs(1), Duration::from_secs(3600));
        for _ in 0..100 {
            assert!(b.failed(peer(), now) <= Duration::from_secs(3600));
        }
    }

    #[test]
    fn success_clears_the_backoff() {
        let now = Instant::now();
        let mut b = Blacklist::default();
        b.failed(peer(), now);
        b.failed(peer(), now);
        b.succeeded(&peer());
        assert!(!b.is_blocked(&peer(), now));
        assert_eq!(b.failed(peer(), now), Duration::from_secs(30));
    }

    #[test]
    fn retry_after_blocks_without_counting_a_failure() {
        let now = Instant::now();
        let mut b = Blacklist::default();
        b.block_until(peer(), now + Duration::from_secs(120));
        assert!(b.is_blocked(&peer(), now + Duration::from_secs(119)));
        b.block_until(peer(), now + Duration::from_secs(5));
        assert_eq!(
            b.blocked_until(&peer()),
            Some(now + Duration::from_secs(120))
        );
        assert_eq!(b.failed(peer(), now), Duration::from_secs(30));
    }

    #[test]
    fn purge_forgets_long_expired_blocks() {
        let now = Instant::now();
        let mut b = Blacklist::new(Duration::from_secs(10), Duration::from_secs(20));
        b.failed(peer(), now);
        b.purge(now + Duration::from_secs(29));
        assert_eq!(b.len(), 1);
        b.purge(now + Duration::from_secs(30));
        assert!(b.is_empty());
    }
}
