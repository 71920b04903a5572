//! The directory cache: what every API request and every click-to-call reads from the
//! store — the user a bearer token signs in, users, Call Via Work policies, dial plans
//! (compiled) and the routing settings — kept in memory so that a request costs no store
//! query at all in the steady state.
//!
//! # Why it stays correct
//! The store keeps a change counter ([`Store::change_seq`]) that database triggers move on
//! every change to users, policies, routing, dial plans and token revocations, whoever
//! writes (this server, another node on the same PostgreSQL, the admin CLI writing the
//! SQLite file). The cache remembers the counter it was filled at and, at most every
//! `interval` (`directory_cache_ms`, default 250 ms; 0 = before every request), reads it
//! again (one indexed read of one row); when it moved, everything is dropped and refilled
//! lazily, one entry at a time as requests need them. So a revoked token, a disabled user,
//! a changed policy or dial plan takes effect within `interval` plus one query, from any
//! writer. Writes made through this server's own API also call [`DirectoryCache::mark_stale`]
//! so that they take effect on the very next request.
//!
//! A token entry also ends at the token's expiry, so an expired token is refused exactly
//! when the store would refuse it. Unknown tokens are not remembered (each costs a query,
//! as before). Maps keyed by outside input (tokens, SIP URIs) are bounded: one that fills
//! up is emptied and refilled on demand.
//!
//! An entry loaded while the counter is being re-checked is kept only if no reset happened
//! since its load began (a generation number), so a load that raced a change never
//! outlives it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::cli::AdminError;
use crate::domain::{DialPlan, E164};
use crate::store::{PolicyRow, RoutingRow, Store, StoreError, UserRow};

/// Default of `directory_cache_ms`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);

/// Most entries one map holds before it is emptied (tokens and SIP URIs come from
/// outside, so the maps must not grow without bound).
const MAX_ENTRIES: usize = 100_000;

/// A token the store found valid: whose it is and until when.
#[derive(Debug, Clone, Copy)]
struct TokenEntry {
    user_id: i64,
    expires_at: i64,
}

#[derive(Default)]
struct Maps {
    tokens: HashMap<String, TokenEntry>,
    users: HashMap<i64, Option<Arc<UserRow>>>,
    users_by_sip_uri: HashMap<String, Option<Arc<UserRow>>>,
    policies: HashMap<String, Option<Arc<PolicyRow>>>,
    dial_plans: HashMap<String, Arc<DialPlan>>,
    routing: Option<Arc<RoutingRow>>,
}

struct State {
    maps: Maps,
    /// The change counter the maps were filled at (`None`: never read).
    seq: Option<i64>,
    /// When the counter was last read (`None`: read it before the next use).
    checked_at: Option<Instant>,
    /// Moves on every reset; a load keeps its result only if it has not moved.
    generation: u64,
}

/// The cache. Share it as `Arc<DirectoryCache>`.
pub struct DirectoryCache {
    store: Arc<dyn Store>,
    interval: Duration,
    state: Mutex<State>,
    /// One counter check at a time; the others wait for its result.
    checking: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for DirectoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryCache")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl DirectoryCache {
    /// A cache over `store` that re-reads the change counter at most every `interval`
    /// (zero: before every use).
    pub fn new(store: Arc<dyn Store>, interval: Duration) -> DirectoryCache {
        DirectoryCache {
            store,
            interval,
            state: Mutex::new(State {
                maps: Maps::default(),
                seq: None,
                checked_at: None,
                generation: 0,
            }),
            checking: tokio::sync::Mutex::new(()),
        }
    }

    /// How stale an entry may be.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Makes the next use read the change counter (after a write through this server).
    pub fn mark_stale(&self) {
        self.lock().checked_at = None;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every step leaves the maps valid; a panic elsewhere cannot break them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn due(&self, now: Instant) -> bool {
        match self.lock().checked_at {
            None => true,
            Some(t) => self.interval.is_zero() || now.duration_since(t) >= self.interval,
        }
    }

    /// Reads the change counter if it is due, and drops everything when it moved.
    async fn refresh(&self) -> Result<(), StoreError> {
        if !self.due(Instant::now()) {
            return Ok(());
        }
        let _one = self.checking.lock().await;
        // Someone else may have checked while this one waited.
        if !self.due(Instant::now()) {
            return Ok(());
        }
        // Taken before the read: an entry is never trusted past `interval` from it.
        let started = Instant::now();
        let seq = self.store.change_seq().await?;
        let mut s = self.lock();
        if s.seq != Some(seq) {
            s.maps = Maps::default();
            s.seq = Some(seq);
            s.generation += 1;
        }
        s.checked_at = Some(started);
        Ok(())
    }

    /// The cached value of `key` in the map `pick` chooses, or `load`ed and kept.
    async fn get<K, V, E, F>(
        &self,
        pick: fn(&mut Maps) -> &mut HashMap<K, V>,
        key: &K,
        load: F,
    ) -> Result<V, E>
    where
        K: Hash + Eq + Clone,
        V: Clone,
        E: From<StoreError>,
        F: std::future::Future<Output = Result<V, E>>,
    {
        self.refresh().await?;
        let generation = {
            let mut s = self.lock();
            if let Some(v) = pick(&mut s.maps).get(key) {
                return Ok(v.clone());
            }
            s.generation
        };
        let value = load.await?;
        let mut s = self.lock();
        if s.generation == generation {
            let map = pick(&mut s.maps);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(key.clone(), value.clone());
        }
        Ok(value)
    }

    /// The user the token with this hash signs in at `now` (unix seconds), if it is valid
    /// (neither revoked nor expired); disabled users are returned too.
    pub async fn user_for_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<Arc<UserRow>>, StoreError> {
        self.refresh().await?;
        let (cached, generation) = {
            let s = self.lock();
            (s.maps.tokens.get(token_hash).copied(), s.generation)
        };
        let entry = match cached {
            Some(e) if now < e.expires_at => e,
            Some(_) => return Ok(None),
            None => {
                let Some(row) = self.store.find_valid_token(token_hash, now).await? else {
                    return Ok(None);
                };
                let e = TokenEntry {
                    user_id: row.user_id,
                    expires_at: row.expires_at,
                };
                let mut s = self.lock();
                if s.generation == generation {
                    if s.maps.tokens.len() >= MAX_ENTRIES {
                        s.maps.tokens.clear();
                    }
                    s.maps.tokens.insert(token_hash.to_owned(), e);
                }
                e
            }
        };
        self.user(entry.user_id).await
    }

    /// The user with this id.
    pub async fn user(&self, id: i64) -> Result<Option<Arc<UserRow>>, StoreError> {
        self.get(|m| &mut m.users, &id, async {
            Ok::<_, StoreError>(self.store.get_user(id).await?.map(Arc::new))
        })
        .await
    }

    /// The user with this SIP URI (lower-case, as the store keeps them).
    pub async fn user_by_sip_uri(&self, sip_uri: &str) -> Result<Option<Arc<UserRow>>, StoreError> {
        self.get(|m| &mut m.users_by_sip_uri, &sip_uri.to_owned(), async {
            Ok::<_, StoreError>(self.store.get_user_by_sip_uri(sip_uri).await?.map(Arc::new))
        })
        .await
    }

    /// The policy with this identity.
    pub async fn policy(&self, identity: &str) -> Result<Option<Arc<PolicyRow>>, StoreError> {
        self.get(|m| &mut m.policies, &identity.to_owned(), async {
            Ok::<_, StoreError>(self.store.get_policy(identity).await?.map(Arc::new))
        })
        .await
    }

    /// The dial plan of `scope` (a user id in decimal, or the global scope), compiled.
    pub async fn dial_plan(&self, scope: &str) -> Result<Arc<DialPlan>, AdminError> {
        self.get(|m| &mut m.dial_plans, &scope.to_owned(), async {
            Ok::<_, AdminError>(Arc::new(
                crate::cli::dialplan::load_plan(self.store.as_ref(), scope).await?,
            ))
        })
        .await
    }

    /// The global Call Via Work caller ID (`CallViaWorkCallerId`), if the administrator
    /// set a valid one.
    pub async fn call_via_work_caller_id(&self) -> Result<Option<E164>, StoreError> {
        Ok(self
            .routing()
            .await?
            .call_via_work_caller_id
            .as_deref()
            .and_then(|s| s.parse().ok()))
    }

    /// The global routing settings.
    pub async fn routing(&self) -> Result<Arc<RoutingRow>, StoreError> {
        self.refresh().await?;
        let generation = {
            let s = self.lock();
            if let Some(r) = &s.maps.routing {
                return Ok(r.clone());
            }
            s.generation
        };
        let row = Arc::new(self.store.get_routing().await?);
        let mut s = self.lock();
        if s.generation == generation {
            s.maps.routing = Some(row.clone());
        }
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{hash_token, TokenRow};

    async fn store_with_alice() -> (Arc<dyn Store>, UserRow) {
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        let alice = store
            .create_user(&UserRow {
                sip_uri: "sip:alice@example.com".into(),
                display_name: "Alice".into(),
                enabled: true,
                role: "user".into(),
                ..UserRow::default()
            })
            .await
            .unwrap();
        (store, alice)
    }

    #[tokio::test]
    async fn entries_are_served_from_memory_until_the_counter_is_read_again() {
        let (store, alice) = store_with_alice().await;
        // An interval no test outlasts: only mark_stale makes it look again.
        let cache = DirectoryCache::new(store.clone(), Duration::from_secs(3600));
        let name = |u: Option<Arc<UserRow>>| u.map(|u| u.display_name.clone());
        assert_eq!(
            name(cache.user(alice.id).await.unwrap()).as_deref(),
            Some("Alice")
        );

        let mut renamed = alice.clone();
        renamed.display_name = "Alice B.".into();
        store.update_user(&renamed).await.unwrap();
        assert_eq!(
            name(cache.user(alice.id).await.unwrap()).as_deref(),
            Some("Alice"),
            "served from memory"
        );
        cache.mark_stale();
        assert_eq!(
            name(cache.user(alice.id).await.unwrap()).as_deref(),
            Some("Alice B."),
            "the counter moved: reloaded"
        );
    }

    #[tokio::test]
    async fn a_token_ends_at_its_expiry_and_at_its_revocation() {
        let (store, alice) = store_with_alice().await;
        let cache = DirectoryCache::new(store.clone(), Duration::ZERO);
        let hash = hash_token("t0ken");
        store
            .insert_token(&TokenRow {
                token_hash: hash.clone(),
                user_id: alice.id,
                created_at: 1_000,
                expires_at: 2_000,
                revoked: false,
            })
            .await
            .unwrap();
        let id = |u: Option<Arc<UserRow>>| u.map(|u| u.id);
        assert_eq!(
            id(cache.user_for_token(&hash, 1_500).await.unwrap()),
            Some(alice.id)
        );
        assert_eq!(
            id(cache.user_for_token(&hash, 1_999).await.unwrap()),
            Some(alice.id)
        );
        assert_eq!(id(cache.user_for_token(&hash, 2_000).await.unwrap()), None);
        assert_eq!(
            id(cache.user_for_token("unknown", 1_500).await.unwrap()),
            None
        );

        store.revoke_token(&hash).await.unwrap();
        assert_eq!(id(cache.user_for_token(&hash, 1_500).await.unwrap()), None);
    }
}
