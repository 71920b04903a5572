//! An index from matching data to transaction ids that stores each key once.
//!
//! A lookup hashes the borrowed `…Match` of a received message (see [`super::matching`])
//! with a per-layer SipHash key and gets the ids whose keys hashed the same; the caller
//! confirms each candidate against the owned key its transaction keeps. Matching a message
//! therefore allocates nothing, and a key is not copied into the index. Hash collisions,
//! accidental or provoked, cost a comparison, never a wrong match.

use super::ids::IdHasher;
use smallvec::SmallVec;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, RandomState};

/// Key hash → ids of the machines indexed under a key with that hash.
#[derive(Debug, Default)]
pub(crate) struct Index {
    state: RandomState,
    buckets: HashMap<u64, SmallVec<[u64; 1]>, BuildHasherDefault<IdHasher>>,
}

impl Index {
    /// The hash of some matching data, as this index computes it.
    pub(crate) fn hash(&self, key: &impl Hash) -> u64 {
        self.state.hash_one(key)
    }

    /// The ids indexed under `hash`, to be confirmed by the caller.
    pub(crate) fn candidates(&self, hash: u64) -> &[u64] {
        self.buckets.get(&hash).map_or(&[], |ids| ids.as_slice())
    }

    /// Indexes `id` under `hash`.
    pub(crate) fn insert(&mut self, hash: u64, id: u64) {
        self.buckets.entry(hash).or_default().push(id);
    }

    /// Removes `id` from under `hash`.
    pub(crate) fn remove(&mut self, hash: u64, id: u64) {
        if let Some(ids) = self.buckets.get_mut(&hash) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.buckets.remove(&hash);
            }
        }
    }

    /// Number of hashes in use.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.buckets.len()
    }
}
