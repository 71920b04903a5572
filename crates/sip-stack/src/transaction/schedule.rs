//! The layer's wake-ups: an ordered set of `(deadline, owner)` pairs, one per state
//! machine that has a timer armed. Each machine knows its own timers; the schedule only
//! records the earliest, so that [`super::TransactionLayer::poll_timeout`] is the first
//! element and [`super::TransactionLayer::handle_timeout`] visits only machines that are due.

use std::collections::BTreeSet;
use std::time::Instant;

/// What a wake-up belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Owner {
    /// A transaction, by id.
    Transaction(u64),
    /// A UAS 2xx retransmission, by the id of its INVITE server transaction.
    Pending2xx(u64),
}

/// Deadlines ordered by time.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    set: BTreeSet<(Instant, Owner)>,
}

impl Schedule {
    /// Moves `owner`'s wake-up from `old` to `new` (either may be absent).
    pub(crate) fn update(&mut self, owner: Owner, old: Option<Instant>, new: Option<Instant>) {
        if old == new {
            return;
        }
        if let Some(t) = old {
            self.set.remove(&(t, owner));
        }
        if let Some(t) = new {
            self.set.insert((t, owner));
        }
    }

    /// The next deadline.
    pub(crate) fn first(&self) -> Option<Instant> {
        self.set.first().map(|(t, _)| *t)
    }

    /// Removes every wake-up due at `now` and appends its owner to `due`.
    pub(crate) fn take_due(&mut self, now: Instant, due: &mut Vec<Owner>) {
        while let Some(&(t, owner)) = self.set.first() {
            if t > now {
                break;
            }
            self.set.pop_first();
            due.push(owner);
        }
    }

    /// Number of armed wake-ups.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }
}
