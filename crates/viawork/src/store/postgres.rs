//! The PostgreSQL backend: a connection pool to a server shared by the nodes of a pool.
//!
//! Transactions run at PostgreSQL's default isolation (read committed); the statements are
//! written so that this is enough — counters are updated in one statement, grants are
//! protected by a foreign key, and writers of one dial plan take an advisory lock on it (the
//! position key, checked at commit, is the backstop). Opening
//! takes a transaction-scoped advisory lock around the migrations, so that several nodes
//! starting at once apply each migration exactly once.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};

use super::migrate::Migration;

/// How long a request waits for a free connection (or a new one) before giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The advisory-lock key that serialises migrations ("ViaWork" in ASCII).
const MIGRATION_LOCK: i64 = 0x0056_6961_576f_726b;

/// The first key of the two-key advisory locks on dial-plan scopes (the second is a hash of
/// the scope). Two-key locks never collide with the one-key [`MIGRATION_LOCK`].
const DIAL_PLAN_LOCK_CLASS: i32 = 0x5644_5052; // "VDPR"

/// The store on a PostgreSQL database.
pub(crate) struct PgStore {
    pool: PgPool,
}

impl PgStore {
    const BACKEND: Backend = Backend::Postgres;
    const MIGRATIONS: &'static [Migration] = migrate::POSTGRES;

    /// Connects a pool to `url` and migrates the database.
    pub(crate) async fn open(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::invalid("url", e.to_string()))?;
        // One direct attempt first: the pool would retry an unreachable server until its
        // acquire timeout, and the CLI should say at once that the database is down.
        let probe = PgConnection::connect_with(&options)
            .await
            .map_err(StoreError::unavailable)?;
        probe.close().await.ok();
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(StoreError::unavailable)?;
        let store = PgStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Starts a write transaction.
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Starts the migration transaction, holding the migration advisory lock until it ends.
    async fn begin_migration(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// Serialises the transactions that reorder one dial plan (until the transaction ends),
    /// so that concurrent inserts and removals neither collide on a position nor deadlock.
    async fn lock_scope(
        tx: &mut Transaction<'static, Postgres>,
        scope: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(DIAL_PLAN_LOCK_CLASS)
            .bind(scope)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

super::sql::impl_store!(PgStore, Postgres, sqlx::postgres::PgRow);
