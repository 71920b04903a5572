//! [`Directory`]: the search index kept fresh against the store, whoever changes the users
//! (this server's admin API, another node of a pool, the admin CLI writing the SQLite file).
//!
//! The store has a change counter ([`Store::change_seq`]) that triggers move on every write
//! to users, policies, routing, dial plans and token revocations. A search reads it — one
//! indexed row — when the last check is more than [`CHECK_INTERVAL`] old; when it moved, a
//! second one-row read ([`Store::users_version`], the users' own counter) tells whether
//! *users* changed (a sign-out revokes a token and moves the change counter too, and must
//! not cost a reload of 100,000 users). Only then is the whole directory read again, in the background, and the
//! new index swapped in; searches meanwhile answer from the previous one.
//!
//! **Freshness bound**: a user created, changed, disabled or removed is searchable as such
//! at most [`CHECK_INTERVAL`] plus one reload after the change commits, counted from the
//! first search after it (an idle server reads nothing). A reload of 100,000 users takes
//! about a second (see docs/performance.md); a directory of a few hundred, milliseconds.
//! Nothing is updated in place: the index is rebuilt whole, which is simple and keeps every
//! search on one consistent snapshot.
//!
//! The decision "is a check due, did something move" is the sans-IO [`Freshness`]; the
//! [`Directory`] is its thin async driver.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::index::SearchIndex;
use super::person::Person;
use crate::store::{Store, StoreError, UsersVersion};

/// How often, at most, a search reads the change counter.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// Users read per query when loading the directory.
const PAGE: u32 = 2_000;

/// What the loaded index reflects, and when the store was last asked.
#[derive(Debug, Clone, Default)]
pub struct Freshness {
    last_check: Option<Instant>,
    seq: Option<i64>,
    version: Option<UsersVersion>,
}

/// What a change-counter reading means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqCheck {
    /// Nothing changed since the index was built.
    Unchanged,
    /// Something changed: compare the users' version.
    Moved,
}

impl Freshness {
    /// True when the store should be asked again at `now`.
    pub fn due(&self, now: Instant, interval: Duration) -> bool {
        self.last_check
            .is_none_or(|last| now.saturating_duration_since(last) >= interval)
    }

    /// Records that the counter read `seq` at `now`.
    pub fn seq_read(&mut self, seq: i64, now: Instant) -> SeqCheck {
        self.last_check = Some(now);
        if self.seq == Some(seq) {
            SeqCheck::Unchanged
        } else {
            SeqCheck::Moved
        }
    }

    /// After [`SeqCheck::Moved`]: true when the users changed (reload), false when only
    /// something else did (the counter value is then taken as current).
    pub fn users_changed(&mut self, seq: i64, version: UsersVersion) -> bool {
        if self.version == Some(version) {
            self.seq = Some(seq);
            false
        } else {
            true
        }
    }

    /// Records that an index was built from the directory as it was at `seq` / `version`
    /// (both read *before* the users, so a change during the load shows as a move later).
    pub fn loaded(&mut self, seq: i64, version: UsersVersion, now: Instant) {
        self.seq = Some(seq);
        self.version = Some(version);
        self.last_check = Some(now);
    }
}

/// The searchable directory, shared by the API handlers.
pub struct Directory {
    store: Arc<dyn Store>,
    interval: Duration,
    index: RwLock<Option<Arc<SearchIndex>>>,
    freshness: tokio::sync::Mutex<Freshness>,
    reloading: AtomicBool,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// A directory over `store`, checked at most every [`CHECK_INTERVAL`]. Nothing is read
    /// until the first search (or [`Directory::warm`]).
    pub fn new(store: Arc<dyn Store>) -> Arc<Directory> {
        Self::with_interval(store, CHECK_INTERVAL)
    }

    /// The same with another check interval.
    pub fn with_interval(store: Arc<dyn Store>, interval: Duration) -> Arc<Directory> {
        Arc::new(Directory {
            store,
            interval,
            index: RwLock::new(None),
            freshness: tokio::sync::Mutex::new(Freshness::default()),
            reloading: AtomicBool::new(false),
        })
    }

    /// Loads the index now (at server start, so the first search does not wait for it).
    pub async fn warm(self: Arc<Self>) {
        if let Err(e) = self.index().await {
            tracing::warn!(error = %e, "could not load the people directory; will retry on search");
        }
    }

    /// The current index: loaded on first use (the caller waits), then checked against the
    /// store at most every interval and rebuilt in the background when users changed.
    pub async fn index(self: &Arc<Self>) -> Result<Arc<SearchIndex>, StoreError> {
        let current = self.current();
        let Some(current) = current else {
            return self.first_load().await;
        };
        if !self.reloading.load(Ordering::Acquire) {
            // One checker at a time; the others answer from the index they have.
            if let Ok(mut fresh) = self.freshness.try_lock() {
                let now = Instant::now();
                if fresh.due(now, self.interval) {
                    match self.users_changed(&mut fresh, now).await {
                        Ok(true) => self.reload_in_background(),
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "people directory check failed; serving the loaded one")
                        }
                    }
                }
            }
        }
        Ok(current)
    }

    fn current(&self) -> Option<Arc<SearchIndex>> {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, index: SearchIndex) -> Arc<SearchIndex> {
        let index = Arc::new(index);
        *self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(index.clone());
        index
    }

    async fn first_load(self: &Arc<Self>) -> Result<Arc<SearchIndex>, StoreError> {
        let mut fresh = self.freshness.lock().await;
        if let Some(index) = self.current() {
            return Ok(index);
        }
        let index = self.load(&mut fresh).await?;
        Ok(self.set(index))
    }

    async fn users_changed(&self, fresh: &mut Freshness, now: Instant) -> Result<bool, StoreError> {
        let seq = self.store.change_seq().await?;
        if fresh.seq_read(seq, now) == SeqCheck::Unchanged {
            return Ok(false);
        }
        let version = self.store.users_version().await?;
        Ok(fresh.users_changed(seq, version))
    }

    fn reload_in_background(self: &Arc<Self>) {
        if self.reloading.swap(true, Ordering::AcqRel) {
            return;
        }
        let dir = self.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = {
                let mut fresh = dir.freshness.lock().await;
                dir.load(&mut fresh).await
            };
            match result {
                Ok(index) => {
                    tracing::info!(
                        people = index.len(),
                        took_ms = started.elapsed().as_millis() as u64,
                        "people directory reloaded"
                    );
                    dir.set(index);
                }
                Err(e) => tracing::warn!(error = %e, "people directory reload failed"),
            }
            dir.reloading.store(false, Ordering::Release);
        });
    }

    /// Reads the whole directory and builds an index, recording what it reflects.
    async fn load(&self, fresh: &mut Freshness) -> Result<SearchIndex, StoreError> {
        let seq = self.store.change_seq().await?;
        let version = self.store.users_version().await?;
        let mut people: Vec<Person> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.store.list_users(after.as_deref(), PAGE).await?;
            let full = page.len() == PAGE as usize;
            after = page.last().map(|u| u.sip_uri.clone());
            people.extend(page.into_iter().map(Person::from));
            if !full {
                break;
            }
        }
        // Building 100,000 people takes a few hundred ms of CPU: keep it off the
        // reactor's threads.
        let index = tokio::task::spawn_blocking(move || SearchIndex::build(people))
            .await
            .map_err(StoreError::unavailable)?;
        fresh.loaded(seq, version, Instant::now());
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::Query;
    use crate::store::UserRow;

    #[test]
    fn freshness_checks_once_per_interval_and_reloads_only_when_users_changed() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let v1 = UsersVersion { seq: 1 };
        let mut f = Freshness::default();
        assert!(f.due(t0, ms(250)), "never checked");
        f.loaded(5, v1, t0);
        assert!(!f.due(t0 + ms(249), ms(250)));
        assert!(f.due(t0 + ms(250), ms(250)));
        assert_eq!(f.seq_read(5, t0 + ms(250)), SeqCheck::Unchanged);
        assert!(!f.due(t0 + ms(300), ms(250)), "the read counts as a check");
        // A token revocation: the counter moves, the users do not.
        assert_eq!(f.seq_read(6, t0 + ms(500)), SeqCheck::Moved);
        assert!(!f.users_changed(6, v1));
        assert_eq!(f.seq_read(6, t0 + ms(750)), SeqCheck::Unchanged);
        // A user edit: both move.
        assert_eq!(f.seq_read(7, t0 + ms(1000)), SeqCheck::Moved);
        let v2 = UsersVersion { seq: 2 };
        assert!(f.users_changed(7, v2));
    }

    fn user(uri: &str, name: &str) -> UserRow {
        UserRow {
            sip_uri: uri.into(),
            display_name: name.into(),
            enabled: true,
            role: "user".into(),
            ..UserRow::default()
        }
    }

    async fn wait_for(dir: &Arc<Directory>, query: &str, want: usize) -> usize {
        let q = Query::parse(query).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let n = dir.index().await.unwrap().search(&q, 20).hits.len();
            if n == want || Instant::now() > deadline {
                return n;
            }
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn the_index_follows_the_store_after_change_seq_moves() {
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        let created = store
            .create_user(&user("sip:ann@example.com", "Ann"))
            .await
            .unwrap();
        let dir = Directory::with_interval(store.clone(), Duration::ZERO);
        assert_eq!(wait_for(&dir, "ann", 1).await, 1);
        store
            .create_user(&user("sip:annie@example.com", "Annie"))
            .await
            .unwrap();
        assert_eq!(wait_for(&dir, "ann", 2).await, 2, "a new user is found");
        let mut ann = store.get_user(created.id).await.unwrap().unwrap();
        ann.enabled = false;
        store.update_user(&ann).await.unwrap();
        assert_eq!(wait_for(&dir, "ann", 1).await, 1, "a disabled user is not");
        assert_eq!(
            dir.index()
                .await
                .unwrap()
                .search(&Query::parse("ann").unwrap(), 5)
                .hits[0]
                .person
                .display_name,
            "Annie"
        );
    }

    #[tokio::test]
    async fn within_the_interval_the_store_is_not_asked() {
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        store
            .create_user(&user("sip:ann@example.com", "Ann"))
            .await
            .unwrap();
        let dir = Directory::with_interval(store.clone(), Duration::from_secs(3600));
        assert_eq!(wait_for(&dir, "ann", 1).await, 1);
        store
            .create_user(&user("sip:annie@example.com", "Annie"))
            .await
            .unwrap();
        let q = Query::parse("ann").unwrap();
        for _ in 0..10 {
            assert_eq!(dir.index().await.unwrap().search(&q, 20).hits.len(), 1);
        }
    }
}
