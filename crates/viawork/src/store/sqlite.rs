//! The SQLite backend: one database file embedded in the process, the default for a node
//! that serves a site on its own.
//!
//! The file runs in WAL mode, so readers never wait for the writer and the CLI can change
//! the directory while the server is running; a busy timeout makes a second writer wait for
//! the first instead of failing. Write transactions start with `BEGIN IMMEDIATE`, taking the
//! write lock up front: a deferred transaction that read first could otherwise fail with
//! `SQLITE_BUSY` when it tries to write after another connection committed. Foreign keys are
//! switched on for every connection.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::migrate::Migration;

/// How long a connection waits for another one's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The store on a SQLite file.
pub(crate) struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    const BACKEND: Backend = Backend::Sqlite;
    const MIGRATIONS: &'static [Migration] = migrate::SQLITE;

    /// Opens (creating if missing) the database file at `path` and migrates it. The path
    /// `:memory:` gives a private in-memory database (for tests of other modules).
    pub(crate) async fn open(path: &str) -> Result<Self, StoreError> {
        if path.is_empty() {
            return Err(StoreError::invalid("url", "the SQLite path is empty"));
        }
        if path == ":memory:" {
            return Self::open_in_memory().await;
        }
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(StoreError::unavailable)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(StoreError::unavailable)?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// An in-memory database lives as long as its last connection, and each connection would
    /// otherwise get its own: so one connection, kept for the life of the pool.
    async fn open_in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(StoreError::unavailable)?
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(StoreError::unavailable)?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Starts a transaction that holds the write lock from its first statement.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Starts the migration transaction; the write lock serialises concurrent openers.
    async fn begin_migration(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.begin_write().await
    }

    /// Nothing to do: a write transaction already excludes every other writer.
    async fn lock_scope(
        _tx: &mut Transaction<'static, Sqlite>,
        _scope: &str,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

super::sql::impl_store!(SqliteStore, Sqlite, sqlx::sqlite::SqliteRow);
