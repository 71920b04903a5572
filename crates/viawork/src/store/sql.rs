//! The SQL both backends share, and the [`Store`](super::Store) implementation generated from
//! it for each.
//!
//! Every statement here is written in the subset of SQL that SQLite and PostgreSQL both accept
//! (`$n` parameters, `ON CONFLICT ... DO UPDATE`, `RETURNING`, `TRUE`/`FALSE`), and is always
//! parameterised: every statement is a `&'static str` (column lists are spliced in with
//! `concat!` at compile time) and values are bound, never formatted into the text. The one
//! exception is the call-log listing, whose WHERE clause holds only the filters asked for
//! (so that each combination gets its own plan and uses its index): it is assembled with
//! sqlx's `QueryBuilder` from `&'static str` fragments, the values still bound. sqlx's query API is the
//! same for both databases, but its types are not (a `Query<Sqlite, _>` is not a
//! `Query<Postgres, _>`), and writing the code generically over `sqlx::Database` needs a wall
//! of trait bounds per function. So the implementation is one macro, [`impl_store!`],
//! expanded once in `sqlite.rs` and once in `postgres.rs`; each backend supplies only how it
//! connects, how it starts a write transaction (`begin_write`, `begin_migration`) and how it
//! serialises writers of one dial plan (`lock_scope`).

/// The columns of `users` as [`UserRow`](super::UserRow) has them, in the order the row
/// decoder reads.
macro_rules! user_columns {
    () => {
        "id, sip_uri, display_name, email, title, department, office, phone_work, \
         phone_mobile, phone_home, phone_other, line_uri, enterprise_voice, enabled, role, \
         password_hash, pin_hash, ha1_md5, ha1_sha256, sip_realm, allow_call_forwarding, \
         allow_simultaneous_ring, dial_in_conferencing, site, policy_grant, created_at, \
         updated_at"
    };
}
pub(crate) use user_columns;

/// The columns of `recordings`, as `recording_from_row` reads them.
macro_rules! recording_select {
    () => {
        "SELECT id, meeting_id, organizer_id, subject, viewers, file, started_at, ended_at, \
         duration_ms, bytes FROM recordings"
    };
}
pub(crate) use recording_select;

/// The columns of `meetings` with the organizer's SIP URI, as `meeting_from_row` reads them.
macro_rules! meeting_select {
    () => {
        "SELECT m.id, m.organizer_id, u.sip_uri AS organizer, m.conference_id, m.subject, \
         m.description, m.starts_at, m.ends_at, m.expires_at, m.ad_hoc, m.settings, \
         m.created_at, m.updated_at FROM meetings m JOIN users u ON u.id = m.organizer_id"
    };
}
pub(crate) use meeting_select;

/// The 25 writable user columns, bound as `$1..$25` by [`bind_user!`].
macro_rules! user_writable {
    () => {
        "sip_uri, email_key, display_name, email, title, department, office, phone_work, \
         phone_mobile, phone_home, phone_other, line_uri, enterprise_voice, enabled, role, \
         password_hash, pin_hash, ha1_md5, ha1_sha256, sip_realm, allow_call_forwarding, \
         allow_simultaneous_ring, dial_in_conferencing, site, policy_grant"
    };
}
pub(crate) use user_writable;

/// The columns of `policies`.
macro_rules! policy_columns {
    () => {
        "identity, enabled, use_admin_callback_number, admin_callback_number, \
         allow_international_callback, allow_premium_callback"
    };
}
pub(crate) use policy_columns;

/// The columns of `dial_plan_rules`.
macro_rules! rule_columns {
    () => {
        "id, scope, position, name, pattern, translation, is_internal_extension"
    };
}
pub(crate) use rule_columns;

/// The columns of `tokens`.
macro_rules! token_columns {
    () => {
        "token_hash, user_id, created_at, expires_at, revoked"
    };
}
pub(crate) use token_columns;

/// The columns of `login_failures`.
macro_rules! failure_columns {
    () => {
        "key, failures, first_failure_at, locked_until"
    };
}
pub(crate) use failure_columns;

/// The columns of `call_log` in the order `upsert_call_records` binds a
/// [`CallRecordRow`](super::CallRecordRow).
macro_rules! call_log_columns {
    () => {
        "id, owner_sip_uri, direction, to_text, to_number, callback_number, end_reason, \
         hung_up_by, created_at, callback_answered_at, connected_at, ended_at, \
         callback_sip_call_id, far_sip_call_id, media_stats"
    };
}
pub(crate) use call_log_columns;

/// In the login-failure upsert: the failure at `$2` starts a new count, the window (`$4`
/// seconds) since the first counted failure having passed.
macro_rules! new_failure_window {
    () => {
        "$2 - login_failures.first_failure_at >= $4"
    };
}
pub(crate) use new_failure_window;

/// In the login-failure upsert: the count after this failure.
macro_rules! next_failure_count {
    () => {
        concat!(
            "CASE WHEN ",
            $crate::store::sql::new_failure_window!(),
            " THEN 1 ELSE login_failures.failures + 1 END"
        )
    };
}
pub(crate) use next_failure_count;

/// Binds the writable columns of a user (`$1..$25`, the order of [`user_writable!`]).
macro_rules! bind_user {
    ($query:expr, $u:expr) => {
        $query
            .bind($u.sip_uri.to_lowercase())
            .bind($u.email.to_lowercase())
            .bind(&$u.display_name)
            .bind(&$u.email)
            .bind(&$u.title)
            .bind(&$u.department)
            .bind(&$u.office)
            .bind(&$u.phone_work)
            .bind(&$u.phone_mobile)
            .bind(&$u.phone_home)
            .bind(&$u.phone_other)
            .bind(&$u.line_uri)
            .bind($u.enterprise_voice)
            .bind($u.enabled)
            .bind(&$u.role)
            .bind(&$u.password_hash)
            .bind(&$u.pin_hash)
            .bind(&$u.ha1_md5)
            .bind(&$u.ha1_sha256)
            .bind(&$u.sip_realm)
            .bind($u.allow_call_forwarding)
            .bind($u.allow_simultaneous_ring)
            .bind($u.dial_in_conferencing)
            .bind(&$u.site)
            .bind(&$u.policy_grant)
    };
}
pub(crate) use bind_user;

/// `updated_at` after a change at `$n`: now, but always later than before, so that an
/// optimistic update sees every change even within one second.
macro_rules! next_updated_at {
    ($n:literal) => {
        concat!(
            "CASE WHEN ",
            $n,
            " > updated_at THEN ",
            $n,
            " ELSE updated_at + 1 END"
        )
    };
}
pub(crate) use next_updated_at;

/// The columns of `contact_groups`.
macro_rules! group_columns {
    () => {
        "id, owner_id, name, created_at"
    };
}
pub(crate) use group_columns;

/// The id of the contact `$2` (a user's SIP URI or a `tel:` URI, lower case) on the list of
/// `$1`.
macro_rules! contact_by_uri {
    () => {
        "SELECT c.id FROM contacts c LEFT JOIN users u ON u.id = c.user_id \
         WHERE c.owner_id = $1 AND (c.tel = $2 OR u.sip_uri = $2)"
    };
}
pub(crate) use contact_by_uri;

/// Generates the row decoders and `impl Store for $store`, for the sqlx database `$db` whose
/// rows are `$row`. `$store` must have a `pool` field, the inherent methods `begin_write()`,
/// `begin_migration()` and `lock_scope(tx, scope)` (serialises writers of one dial plan), and
/// the constants `BACKEND` and `MIGRATIONS`.
macro_rules! impl_store {
    ($store:ident, $db:ty, $row:ty) => {
        use sqlx::Row as _;

        use $crate::store::model::{
            CallLogQuery, CallRecordRow, ContactGroupRow, ContactRow, ContactTarget,
            DialPlanRuleRow, ImportReport, ImportRowResult, LockoutPolicy, LoginFailureRow,
            MeetingRow, PinLockoutRow, PolicyRemoval, RecordingRow, PolicyRow, PresenceBlockRow, PresenceSettingsRow, RoutingRow, TokenRow,
            UserRow, UsersVersion, GLOBAL_POLICY,
        };
        use $crate::store::sql::{
            bind_user, call_log_columns, contact_by_uri, failure_columns,
            group_columns, meeting_select, new_failure_window, recording_select, next_failure_count, next_updated_at,
            policy_columns, rule_columns, token_columns, user_columns, user_writable,
        };
        use $crate::store::im::{BlobRow, ConversationRow, MessageRow, ParticipantRow};
        use $crate::store::{check, migrate, unix_now, Backend, Store, StoreError};

        fn user_from_row(r: &$row) -> Result<UserRow, sqlx::Error> {
            Ok(UserRow {
                id: r.try_get("id")?,
                sip_uri: r.try_get("sip_uri")?,
                display_name: r.try_get("display_name")?,
                email: r.try_get("email")?,
                title: r.try_get("title")?,
                department: r.try_get("department")?,
                office: r.try_get("office")?,
                phone_work: r.try_get("phone_work")?,
                phone_mobile: r.try_get("phone_mobile")?,
                phone_home: r.try_get("phone_home")?,
                phone_other: r.try_get("phone_other")?,
                line_uri: r.try_get("line_uri")?,
                enterprise_voice: r.try_get("enterprise_voice")?,
                enabled: r.try_get("enabled")?,
                role: r.try_get("role")?,
                password_hash: r.try_get("password_hash")?,
                pin_hash: r.try_get("pin_hash")?,
                ha1_md5: r.try_get("ha1_md5")?,
                ha1_sha256: r.try_get("ha1_sha256")?,
                sip_realm: r.try_get("sip_realm")?,
                allow_call_forwarding: r.try_get("allow_call_forwarding")?,
                allow_simultaneous_ring: r.try_get("allow_simultaneous_ring")?,
                dial_in_conferencing: r.try_get("dial_in_conferencing")?,
                site: r.try_get("site")?,
                policy_grant: r.try_get("policy_grant")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        }

        fn policy_from_row(r: &$row) -> Result<PolicyRow, sqlx::Error> {
            Ok(PolicyRow {
                identity: r.try_get("identity")?,
                enabled: r.try_get("enabled")?,
                use_admin_callback_number: r.try_get("use_admin_callback_number")?,
                admin_callback_number: r.try_get("admin_callback_number")?,
                allow_international_callback: r.try_get("allow_international_callback")?,
                allow_premium_callback: r.try_get("allow_premium_callback")?,
            })
        }

        fn rule_from_row(r: &$row) -> Result<DialPlanRuleRow, sqlx::Error> {
            Ok(DialPlanRuleRow {
                id: r.try_get("id")?,
                scope: r.try_get("scope")?,
                position: r.try_get("position")?,
                name: r.try_get("name")?,
                pattern: r.try_get("pattern")?,
                translation: r.try_get("translation")?,
                is_internal_extension: r.try_get("is_internal_extension")?,
            })
        }

        fn token_from_row(r: &$row) -> Result<TokenRow, sqlx::Error> {
            Ok(TokenRow {
                token_hash: r.try_get("token_hash")?,
                user_id: r.try_get("user_id")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
                revoked: r.try_get("revoked")?,
            })
        }

        fn conversation_from_row(r: &$row) -> Result<ConversationRow, sqlx::Error> {
            Ok(ConversationRow {
                id: r.try_get("id")?,
                subject: r.try_get("subject")?,
                created_by: r.try_get("created_by")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        }

        fn message_from_row(r: &$row) -> Result<MessageRow, sqlx::Error> {
            Ok(MessageRow {
                id: r.try_get("id")?,
                conversation_id: r.try_get("conversation_id")?,
                sender_sip_uri: r.try_get("sender_sip_uri")?,
                format: r.try_get("format")?,
                body: r.try_get("body")?,
                blob_id: r.try_get("blob_id")?,
                created_at: r.try_get("created_at")?,
            })
        }

        fn presence_settings_from_row(r: &$row) -> Result<PresenceSettingsRow, sqlx::Error> {
            Ok(PresenceSettingsRow {
                user_id: r.try_get("user_id")?,
                availability: r.try_get("availability")?,
                note: r.try_get("note")?,
                updated_at: r.try_get("updated_at")?,
            })
        }
        fn failure_from_row(r: &$row) -> Result<LoginFailureRow, sqlx::Error> {
            Ok(LoginFailureRow {
                key: r.try_get("key")?,
                failures: r.try_get("failures")?,
                first_failure_at: r.try_get("first_failure_at")?,
                locked_until: r.try_get("locked_until")?,
            })
        }

        fn call_record_from_row(r: &$row) -> Result<CallRecordRow, sqlx::Error> {
            Ok(CallRecordRow {
                id: r.try_get("id")?,
                owner_sip_uri: r.try_get("owner_sip_uri")?,
                direction: r.try_get("direction")?,
                to_text: r.try_get("to_text")?,
                to_number: r.try_get("to_number")?,
                callback_number: r.try_get("callback_number")?,
                end_reason: r.try_get("end_reason")?,
                hung_up_by: r.try_get("hung_up_by")?,
                created_at: r.try_get("created_at")?,
                callback_answered_at: r.try_get("callback_answered_at")?,
                connected_at: r.try_get("connected_at")?,
                ended_at: r.try_get("ended_at")?,
                callback_sip_call_id: r.try_get("callback_sip_call_id")?,
                far_sip_call_id: r.try_get("far_sip_call_id")?,
                media_stats: r.try_get("media_stats")?,
            })
        }

        /// Inserts a checked user through any executor of this backend (the pool, a
        /// transaction or a savepoint).
        async fn insert_user<'e, E>(exec: E, u: &UserRow, now: i64) -> Result<UserRow, StoreError>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            const SQL: &str = concat!(
                "INSERT INTO users (",
                user_writable!(),
                ", created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                 $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, \
                 $26, $26) RETURNING ",
                user_columns!()
            );
            let row = bind_user!(sqlx::query(SQL), u)
                .bind(now)
                .fetch_one(exec)
                .await
                .map_err(|e| StoreError::from_write(e, "sip_uri", "policy"))?;
            Ok(user_from_row(&row)?)
        }

        impl $store {
            /// Applies the pending migrations in one transaction.
            async fn migrate(&self) -> Result<(), StoreError> {
                let mut tx = self.begin_migration().await?;
                sqlx::query(migrate::CREATE_TABLE).execute(&mut *tx).await?;
                let applied =
                    sqlx::query("SELECT version, checksum FROM schema_migrations ORDER BY version")
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?)))
                        .collect::<Result<Vec<_>, sqlx::Error>>()?;
                for m in migrate::pending(Self::MIGRATIONS, &applied)? {
                    let failed = |e: sqlx::Error| StoreError::Migration {
                        version: m.version,
                        message: e.to_string(),
                    };
                    sqlx::raw_sql(m.sql)
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                    sqlx::query(
                        "INSERT INTO schema_migrations (version, name, checksum, applied_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(m.version)
                    .bind(m.name)
                    .bind(m.checksum())
                    .bind(unix_now())
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
                }
                tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                Self::BACKEND
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await
            }

            // ---- users -------------------------------------------------------------------

            async fn create_user(&self, user: &UserRow) -> Result<UserRow, StoreError> {
                check::user(user)?;
                insert_user(&self.pool, user, unix_now()).await
            }

            async fn get_user(&self, id: i64) -> Result<Option<UserRow>, StoreError> {
                const SQL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
                let row = sqlx::query(SQL).bind(id).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(user_from_row).transpose()?)
            }

            async fn get_user_by_sip_uri(
                &self,
                sip_uri: &str,
            ) -> Result<Option<UserRow>, StoreError> {
                const SQL: &str =
                    concat!("SELECT ", user_columns!(), " FROM users WHERE sip_uri = $1");
                let row = sqlx::query(SQL)
                    .bind(sip_uri.to_lowercase())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(user_from_row).transpose()?)
            }

            async fn get_user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
                const SQL: &str = concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE email_key = $1 ORDER BY id LIMIT 1"
                );
                if email.is_empty() {
                    return Ok(None);
                }
                let row = sqlx::query(SQL)
                    .bind(email.to_lowercase())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(user_from_row).transpose()?)
            }

            async fn list_users(
                &self,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<UserRow>, StoreError> {
                const SQL: &str = concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE sip_uri > $1 ORDER BY sip_uri LIMIT $2"
                );
                let rows = sqlx::query(SQL)
                    .bind(after.unwrap_or("").to_lowercase())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
            }

            async fn count_users(&self) -> Result<i64, StoreError> {
                let row = sqlx::query("SELECT COUNT(*) FROM users")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get::<i64, _>(0)?)
            }

            async fn update_user(&self, user: &UserRow) -> Result<UserRow, StoreError> {
                const SQL: &str = concat!(
                    "UPDATE users SET (",
                    user_writable!(),
                    ") = ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                     $16, $17, $18, $19, $20, $21, $22, $23, $24, $25), updated_at = ",
                    next_updated_at!("$26"),
                    " WHERE id = $27 AND updated_at = $28 RETURNING ",
                    user_columns!()
                );
                check::user(user)?;
                let row = bind_user!(sqlx::query(SQL), user)
                    .bind(unix_now())
                    .bind(user.id)
                    .bind(user.updated_at)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| StoreError::from_write(e, "sip_uri", "policy"))?;
                match row {
                    Some(row) => Ok(user_from_row(&row)?),
                    None if self.get_user(user.id).await?.is_some() => Err(StoreError::Conflict {
                        field: "updated_at",
                    }),
                    None => Err(StoreError::NotFound { what: "user" }),
                }
            }

            async fn remove_user(&self, id: i64) -> Result<(), StoreError> {
                let scope = id.to_string();
                let mut tx = self.begin_write().await?;
                Self::lock_scope(&mut tx, &scope).await?;
                sqlx::query("DELETE FROM dial_plan_rules WHERE scope = $1")
                    .bind(&scope)
                    .execute(&mut *tx)
                    .await?;
                let removed = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if removed == 0 {
                    return Err(StoreError::NotFound { what: "user" });
                }
                tx.commit().await?;
                Ok(())
            }

            async fn import_users(
                &self,
                rows: &[UserRow],
                all_or_nothing: bool,
            ) -> Result<ImportReport, StoreError> {
                let now = unix_now();
                let mut results = Vec::with_capacity(rows.len());
                let mut failed = false;
                let mut tx = self.begin_write().await?;
                for user in rows {
                    if let Err(e) = check::user(user) {
                        failed = true;
                        results.push(ImportRowResult::Failed(e));
                        continue;
                    }
                    // A savepoint per row: a refused row must not abort the transaction.
                    let mut savepoint = sqlx::Acquire::begin(&mut tx).await?;
                    match insert_user(&mut *savepoint, user, now).await {
                        Ok(created) => {
                            savepoint.commit().await?;
                            results.push(ImportRowResult::Created { id: created.id });
                        }
                        Err(e @ StoreError::Unavailable { .. }) => return Err(e),
                        Err(e) => {
                            savepoint.rollback().await?;
                            failed = true;
                            results.push(ImportRowResult::Failed(e));
                        }
                    }
                }
                if failed && all_or_nothing {
                    tx.rollback().await?;
                    for r in &mut results {
                        if matches!(r, ImportRowResult::Created { .. }) {
                            *r = ImportRowResult::RolledBack;
                        }
                    }
                    return Ok(ImportReport {
                        committed: false,
                        rows: results,
                    });
                }
                tx.commit().await?;
                Ok(ImportReport {
                    committed: true,
                    rows: results,
                })
            }

            // ---- policies and grants ---------------------------------------------------

            async fn list_policies(&self) -> Result<Vec<PolicyRow>, StoreError> {
                const SQL: &str = concat!(
                    "SELECT ",
                    policy_columns!(),
                    " FROM policies ORDER BY CASE WHEN identity = 'Global' THEN 0 \
                     WHEN substr(identity, 1, 5) = 'Site:' THEN 1 ELSE 2 END, identity"
                );
                let rows = sqlx::query(SQL).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(policy_from_row).collect::<Result<_, _>>()?)
            }

            async fn get_policy(&self, identity: &str) -> Result<Option<PolicyRow>, StoreError> {
                const SQL: &str =
                    concat!("SELECT ", policy_columns!(), " FROM policies WHERE identity = $1");
                let row = sqlx::query(SQL)
                    .bind(identity)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(policy_from_row).transpose()?)
            }

            async fn create_policy(&self, policy: &PolicyRow) -> Result<PolicyRow, StoreError> {
                check::policy(policy)?;
                if policy.identity == GLOBAL_POLICY {
                    return Err(StoreError::Conflict { field: "identity" });
                }
                const SQL: &str = concat!(
                    "INSERT INTO policies (",
                    policy_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                    policy_columns!()
                );
                let row = sqlx::query(SQL)
                    .bind(&policy.identity)
                    .bind(policy.enabled)
                    .bind(policy.use_admin_callback_number)
                    .bind(&policy.admin_callback_number)
                    .bind(policy.allow_international_callback)
                    .bind(policy.allow_premium_callback)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| StoreError::from_write(e, "identity", "policy"))?;
                Ok(policy_from_row(&row)?)
            }

            async fn update_policy(&self, policy: &PolicyRow) -> Result<PolicyRow, StoreError> {
                check::policy(policy)?;
                const SQL: &str = concat!(
                    "UPDATE policies SET enabled = $2, use_admin_callback_number = $3, \
                     admin_callback_number = $4, allow_international_callback = $5, \
                     allow_premium_callback = $6 WHERE identity = $1 RETURNING ",
                    policy_columns!()
                );
                let row = sqlx::query(SQL)
                    .bind(&policy.identity)
                    .bind(policy.enabled)
                    .bind(policy.use_admin_callback_number)
                    .bind(&policy.admin_callback_number)
                    .bind(policy.allow_international_callback)
                    .bind(policy.allow_premium_callback)
                    .fetch_optional(&self.pool)
                    .await?;
                match row {
                    Some(row) => Ok(policy_from_row(&row)?),
                    None => Err(StoreError::NotFound { what: "policy" }),
                }
            }

            async fn remove_policy(&self, identity: &str) -> Result<PolicyRemoval, StoreError> {
                check::policy_identity(identity)?;
                if identity == GLOBAL_POLICY {
                    sqlx::query(
                        "INSERT INTO policies (identity, enabled, use_admin_callback_number, \
                         admin_callback_number, allow_international_callback, \
                         allow_premium_callback) VALUES ($1, FALSE, FALSE, NULL, FALSE, FALSE) \
                         ON CONFLICT (identity) DO UPDATE SET enabled = FALSE, \
                         use_admin_callback_number = FALSE, admin_callback_number = NULL, \
                         allow_international_callback = FALSE, allow_premium_callback = FALSE",
                    )
                    .bind(GLOBAL_POLICY)
                    .execute(&self.pool)
                    .await?;
                    return Ok(PolicyRemoval::Reset);
                }
                const CLEAR: &str = concat!(
                    "UPDATE users SET policy_grant = NULL, updated_at = ",
                    next_updated_at!("$2"),
                    " WHERE policy_grant = $1"
                );
                let mut tx = self.begin_write().await?;
                let grants_cleared = sqlx::query(CLEAR)
                    .bind(identity)
                    .bind(unix_now())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let removed = sqlx::query("DELETE FROM policies WHERE identity = $1")
                    .bind(identity)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if removed == 0 {
                    return Err(StoreError::NotFound { what: "policy" });
                }
                tx.commit().await?;
                Ok(PolicyRemoval::Removed { grants_cleared })
            }

            async fn set_policy_grant(
                &self,
                user_id: i64,
                identity: Option<&str>,
            ) -> Result<UserRow, StoreError> {
                const SQL: &str = concat!(
                    "UPDATE users SET policy_grant = $2, updated_at = ",
                    next_updated_at!("$3"),
                    " WHERE id = $1 RETURNING ",
                    user_columns!()
                );
                if let Some(identity) = identity {
                    check::grant_identity(identity)?;
                }
                let row = sqlx::query(SQL)
                    .bind(user_id)
                    .bind(identity)
                    .bind(unix_now())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| StoreError::from_write(e, "policy_grant", "policy"))?;
                match row {
                    Some(row) => Ok(user_from_row(&row)?),
                    None => Err(StoreError::NotFound { what: "user" }),
                }
            }

            // ---- routing -----------------------------------------------------------------

            async fn get_routing(&self) -> Result<RoutingRow, StoreError> {
                let row = sqlx::query("SELECT call_via_work_caller_id FROM routing WHERE id = 1")
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(match row {
                    Some(row) => RoutingRow {
                        call_via_work_caller_id: row.try_get("call_via_work_caller_id")?,
                    },
                    None => RoutingRow::default(),
                })
            }

            async fn set_routing(&self, routing: &RoutingRow) -> Result<(), StoreError> {
                if let Some(id) = &routing.call_via_work_caller_id {
                    check::text("call_via_work_caller_id", id)?;
                }
                sqlx::query(
                    "INSERT INTO routing (id, call_via_work_caller_id) VALUES (1, $1) \
                     ON CONFLICT (id) DO UPDATE \
                     SET call_via_work_caller_id = excluded.call_via_work_caller_id",
                )
                .bind(&routing.call_via_work_caller_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            // ---- dial plans ----------------------------------------------------------------

            async fn list_dial_plan_rules(
                &self,
                scope: &str,
            ) -> Result<Vec<DialPlanRuleRow>, StoreError> {
                check::scope(scope)?;
                const SQL: &str = concat!(
                    "SELECT ",
                    rule_columns!(),
                    " FROM dial_plan_rules WHERE scope = $1 ORDER BY position, id"
                );
                let rows = sqlx::query(SQL).bind(scope).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(rule_from_row).collect::<Result<_, _>>()?)
            }

            async fn insert_dial_plan_rule(
                &self,
                rule: &DialPlanRuleRow,
            ) -> Result<DialPlanRuleRow, StoreError> {
                let user = check::rule(rule)?;
                let mut tx = self.begin_write().await?;
                Self::lock_scope(&mut tx, &rule.scope).await?;
                if let Some(user_id) = user {
                    let exists = sqlx::query("SELECT id FROM users WHERE id = $1")
                        .bind(user_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound { what: "user" });
                    }
                }
                let count: i64 =
                    sqlx::query("SELECT COUNT(*) FROM dial_plan_rules WHERE scope = $1")
                        .bind(&rule.scope)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get(0)?;
                let position = rule.position.min(count);
                sqlx::query(
                    "UPDATE dial_plan_rules SET position = position + 1 \
                     WHERE scope = $1 AND position >= $2",
                )
                .bind(&rule.scope)
                .bind(position)
                .execute(&mut *tx)
                .await?;
                const INSERT: &str = concat!(
                    "INSERT INTO dial_plan_rules \
                     (scope, position, name, pattern, translation, is_internal_extension) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                    rule_columns!()
                );
                let row = sqlx::query(INSERT)
                    .bind(&rule.scope)
                    .bind(position)
                    .bind(&rule.name)
                    .bind(&rule.pattern)
                    .bind(&rule.translation)
                    .bind(rule.is_internal_extension)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| StoreError::from_write(e, "name", "user"))?;
                let inserted = rule_from_row(&row)?;
                tx.commit()
                    .await
                    .map_err(|e| StoreError::from_write(e, "position", "user"))?;
                Ok(inserted)
            }

            async fn remove_dial_plan_rule(&self, id: i64) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let scope = sqlx::query("SELECT scope FROM dial_plan_rules WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(scope) = scope else {
                    return Err(StoreError::NotFound {
                        what: "dial plan rule",
                    });
                };
                let scope: String = scope.try_get("scope")?;
                Self::lock_scope(&mut tx, &scope).await?;
                // Read the position only now: it may have moved while we waited for the lock.
                let row =
                    sqlx::query("DELETE FROM dial_plan_rules WHERE id = $1 RETURNING position")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(row) = row else {
                    return Err(StoreError::NotFound {
                        what: "dial plan rule",
                    });
                };
                let position: i64 = row.try_get("position")?;
                sqlx::query(
                    "UPDATE dial_plan_rules SET position = position - 1 \
                     WHERE scope = $1 AND position > $2",
                )
                .bind(scope)
                .bind(position)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            // ---- tokens ------------------------------------------------------------------

            async fn insert_token(&self, token: &TokenRow) -> Result<(), StoreError> {
                if token.token_hash.is_empty() {
                    return Err(StoreError::invalid("token_hash", "is empty"));
                }
                check::text("token_hash", &token.token_hash)?;
                const SQL: &str = concat!(
                    "INSERT INTO tokens (",
                    token_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5)"
                );
                sqlx::query(SQL)
                    .bind(&token.token_hash)
                    .bind(token.user_id)
                    .bind(token.created_at)
                    .bind(token.expires_at)
                    .bind(token.revoked)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| StoreError::from_write(e, "token_hash", "user"))?;
                Ok(())
            }

            async fn find_valid_token(
                &self,
                token_hash: &str,
                now: i64,
            ) -> Result<Option<TokenRow>, StoreError> {
                const SQL: &str = concat!(
                    "SELECT ",
                    token_columns!(),
                    " FROM tokens WHERE token_hash = $1 AND revoked = FALSE AND expires_at > $2"
                );
                let row = sqlx::query(SQL)
                    .bind(token_hash)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(token_from_row).transpose()?)
            }

            async fn revoke_token(&self, token_hash: &str) -> Result<(), StoreError> {
                let changed = sqlx::query("UPDATE tokens SET revoked = TRUE WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                if changed == 0 {
                    return Err(StoreError::NotFound { what: "token" });
                }
                Ok(())
            }

            async fn revoke_user_tokens(&self, user_id: i64) -> Result<u64, StoreError> {
                Ok(sqlx::query(
                    "UPDATE tokens SET revoked = TRUE WHERE user_id = $1 AND revoked = FALSE",
                )
                .bind(user_id)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn purge_expired_tokens(&self, now: i64) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM tokens WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            // ---- login failures ----------------------------------------------------------

            async fn record_login_failure(
                &self,
                key: &str,
                now: i64,
                policy: &LockoutPolicy,
            ) -> Result<LoginFailureRow, StoreError> {
                // One statement, so that concurrent failures are all counted. $1 key, $2 now,
                // $3 max_failures, $4 window_secs, $5 lock_secs.
                const SQL: &str = concat!(
                    "INSERT INTO login_failures (",
                    failure_columns!(),
                    ") VALUES ($1, 1, $2, CASE WHEN 1 >= $3 THEN $2 + $5 ELSE NULL END) \
                     ON CONFLICT (key) DO UPDATE SET failures = ",
                    next_failure_count!(),
                    ", first_failure_at = CASE WHEN ",
                    new_failure_window!(),
                    " THEN $2 ELSE login_failures.first_failure_at END, locked_until = CASE WHEN ",
                    next_failure_count!(),
                    " >= $3 THEN $2 + $5 ELSE login_failures.locked_until END RETURNING ",
                    failure_columns!()
                );
                check::text("key", key)?;
                let row = sqlx::query(SQL)
                    .bind(key.to_lowercase())
                    .bind(now)
                    .bind(policy.max_failures)
                    .bind(policy.window_secs)
                    .bind(policy.lock_secs)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(failure_from_row(&row)?)
            }

            async fn get_login_failure(
                &self,
                key: &str,
            ) -> Result<Option<LoginFailureRow>, StoreError> {
                const SQL: &str =
                    concat!("SELECT ", failure_columns!(), " FROM login_failures WHERE key = $1");
                let row = sqlx::query(SQL)
                    .bind(key.to_lowercase())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(failure_from_row).transpose()?)
            }

            async fn reset_login_failures(&self, key: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM login_failures WHERE key = $1")
                    .bind(key.to_lowercase())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            // ---- call log ----------------------------------------------------------------

            async fn upsert_call_records(&self, rows: &[CallRecordRow]) -> Result<(), StoreError> {
                // One statement per chunk of rows: each statement is a round trip to the
                // database (for SQLite, to sqlx's worker thread), so a row per statement
                // made the call log the busiest thread under load. The WHERE of the
                // update keeps an ended row ended: a write without ended_at (a late
                // "still live" update) leaves it as it is.
                const UPSERT: &str = " ON CONFLICT (id) DO UPDATE SET \
                     owner_sip_uri = excluded.owner_sip_uri, \
                     direction = excluded.direction, \
                     to_text = excluded.to_text, \
                     to_number = excluded.to_number, \
                     callback_number = excluded.callback_number, \
                     end_reason = excluded.end_reason, \
                     hung_up_by = excluded.hung_up_by, \
                     created_at = excluded.created_at, \
                     callback_answered_at = excluded.callback_answered_at, \
                     connected_at = excluded.connected_at, \
                     ended_at = excluded.ended_at, \
                     callback_sip_call_id = excluded.callback_sip_call_id, \
                     far_sip_call_id = excluded.far_sip_call_id, \
                     media_stats = excluded.media_stats \
                     WHERE call_log.ended_at IS NULL OR excluded.ended_at IS NOT NULL";
                /// 15 values a row: well under SQLite's 32,766 and PostgreSQL's 65,535
                /// bound parameters.
                const CHUNK: usize = 256;
                for row in rows {
                    check::call_record(row)?;
                }
                // A statement may not touch a row twice (PostgreSQL refuses), so each id
                // gets the write that row-by-row upserts would have left: the last one
                // that ends the call if there is one (after it, live writes change
                // nothing), else the last.
                let mut last = std::collections::HashMap::with_capacity(rows.len());
                for (i, r) in rows.iter().enumerate() {
                    let ended = r.ended_at.is_some();
                    let keep = last.entry(r.id.as_str()).or_insert((i, ended));
                    if ended || !keep.1 {
                        *keep = (i, ended);
                    }
                }
                let last: std::collections::HashMap<&str, usize> =
                    last.into_iter().map(|(id, (i, _))| (id, i)).collect();
                let rows: Vec<&CallRecordRow> = rows
                    .iter()
                    .enumerate()
                    .filter(|(i, r)| last.get(r.id.as_str()) == Some(i))
                    .map(|(_, r)| r)
                    .collect();
                if rows.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                for chunk in rows.chunks(CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(concat!(
                        "INSERT INTO call_log (",
                        call_log_columns!(),
                        ") "
                    ));
                    q.push_values(chunk, |mut b, r| {
                        b.push_bind(&r.id)
                            .push_bind(r.owner_sip_uri.to_lowercase())
                            .push_bind(&r.direction)
                            .push_bind(&r.to_text)
                            .push_bind(&r.to_number)
                            .push_bind(&r.callback_number)
                            .push_bind(&r.end_reason)
                            .push_bind(&r.hung_up_by)
                            .push_bind(r.created_at)
                            .push_bind(r.callback_answered_at)
                            .push_bind(r.connected_at)
                            .push_bind(r.ended_at)
                            .push_bind(&r.callback_sip_call_id)
                            .push_bind(&r.far_sip_call_id)
                            .push_bind(&r.media_stats);
                    });
                    q.push(UPSERT);
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn close_open_call_records(&self, now_ms: i64) -> Result<u64, StoreError> {
                Ok(sqlx::query(
                    "UPDATE call_log SET end_reason = 'failed', hung_up_by = 'system', \
                     ended_at = $1 WHERE ended_at IS NULL",
                )
                .bind(now_ms)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn list_call_records(
                &self,
                q: &CallLogQuery,
            ) -> Result<Vec<CallRecordRow>, StoreError> {
                check::call_log_query(q)?;
                let mut sql = sqlx::QueryBuilder::<$db>::new(concat!(
                    "SELECT ",
                    call_log_columns!(),
                    " FROM call_log WHERE 1 = 1"
                ));
                if let Some(owner) = &q.owner {
                    sql.push(" AND owner_sip_uri = ")
                        .push_bind(owner.to_lowercase());
                }
                if let Some((created_at, id)) = &q.before {
                    sql.push(" AND (created_at, id) < (")
                        .push_bind(*created_at)
                        .push(", ")
                        .push_bind(id.clone())
                        .push(")");
                }
                if let Some(since) = q.since {
                    sql.push(" AND created_at >= ").push_bind(since);
                }
                if let Some(until) = q.until {
                    sql.push(" AND created_at < ").push_bind(until);
                }
                if let Some(reason) = &q.end_reason {
                    sql.push(" AND end_reason = ").push_bind(reason.clone());
                }
                sql.push(" ORDER BY created_at DESC, id DESC LIMIT ")
                    .push_bind(i64::from(q.limit));
                let rows = sql.build().fetch_all(&self.pool).await?;
                Ok(rows
                    .iter()
                    .map(call_record_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn change_seq(&self) -> Result<i64, StoreError> {
                let row = sqlx::query("SELECT seq FROM change_seq WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get("seq")?)
            }

            // ---- instant messaging ---------------------------------------------------------

            async fn create_conversation(
                &self,
                conv: &ConversationRow,
                participants: &[i64],
            ) -> Result<ConversationRow, StoreError> {
                check::text("id", &conv.id)?;
                check::text("subject", &conv.subject)?;
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO conversations (id, subject, created_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4)",
                )
                .bind(&conv.id)
                .bind(&conv.subject)
                .bind(&conv.created_by)
                .bind(conv.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::from_write(e, "id", "user"))?;
                for user_id in participants {
                    sqlx::query(
                        "INSERT INTO conversation_participants \
                         (conversation_id, user_id, joined_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (conversation_id, user_id) DO NOTHING",
                    )
                    .bind(&conv.id)
                    .bind(user_id)
                    .bind(conv.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StoreError::from_write(e, "user", "user"))?;
                }
                tx.commit().await?;
                Ok(ConversationRow {
                    updated_at: conv.created_at,
                    ..conv.clone()
                })
            }

            async fn get_conversation(
                &self,
                id: &str,
            ) -> Result<Option<ConversationRow>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, subject, created_by, created_at, updated_at \
                     FROM conversations WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.as_ref().map(conversation_from_row).transpose()?)
            }

            async fn find_pair_conversation(
                &self,
                a: i64,
                b: i64,
            ) -> Result<Option<ConversationRow>, StoreError> {
                let row = sqlx::query(
                    "SELECT c.id, c.subject, c.created_by, c.created_at, c.updated_at \
                     FROM conversations c \
                     JOIN conversation_participants pa \
                       ON pa.conversation_id = c.id AND pa.user_id = $1 AND pa.left_at IS NULL \
                     JOIN conversation_participants pb \
                       ON pb.conversation_id = c.id AND pb.user_id = $2 AND pb.left_at IS NULL \
                     WHERE (SELECT COUNT(*) FROM conversation_participants p \
                            WHERE p.conversation_id = c.id) = 2 \
                     ORDER BY c.updated_at DESC, c.id DESC LIMIT 1",
                )
                .bind(a)
                .bind(b)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.as_ref().map(conversation_from_row).transpose()?)
            }

            async fn list_participants(
                &self,
                conversation_id: &str,
            ) -> Result<Vec<ParticipantRow>, StoreError> {
                let rows = sqlx::query(
                    "SELECT p.user_id, u.sip_uri, u.display_name, p.joined_at, p.left_at \
                     FROM conversation_participants p JOIN users u ON u.id = p.user_id \
                     WHERE p.conversation_id = $1 ORDER BY p.joined_at, p.user_id",
                )
                .bind(conversation_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        Ok::<_, sqlx::Error>(ParticipantRow {
                            user_id: r.try_get("user_id")?,
                            sip_uri: r.try_get("sip_uri")?,
                            display_name: r.try_get("display_name")?,
                            joined_at: r.try_get("joined_at")?,
                            left_at: r.try_get("left_at")?,
                        })
                    })
                    .collect::<Result<_, _>>()?)
            }

            async fn list_user_conversations(
                &self,
                user_id: i64,
                limit: u32,
            ) -> Result<Vec<ConversationRow>, StoreError> {
                check::limit(limit, $crate::store::im::MESSAGES_MAX_LIMIT)?;
                let rows = sqlx::query(
                    "SELECT c.id, c.subject, c.created_by, c.created_at, c.updated_at \
                     FROM conversations c JOIN conversation_participants p \
                     ON p.conversation_id = c.id \
                     WHERE p.user_id = $1 AND p.left_at IS NULL \
                     ORDER BY c.updated_at DESC, c.id DESC LIMIT $2",
                )
                .bind(user_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .iter()
                    .map(conversation_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn set_participant(
                &self,
                conversation_id: &str,
                user_id: i64,
                joined: bool,
                now: i64,
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let changed = if joined {
                    sqlx::query(
                        "INSERT INTO conversation_participants \
                         (conversation_id, user_id, joined_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (conversation_id, user_id) DO UPDATE \
                         SET joined_at = excluded.joined_at, left_at = NULL \
                         WHERE conversation_participants.left_at IS NOT NULL",
                    )
                    .bind(conversation_id)
                    .bind(user_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StoreError::from_write(e, "user", "conversation or user"))?
                    .rows_affected()
                } else {
                    sqlx::query(
                        "UPDATE conversation_participants SET left_at = $3 \
                         WHERE conversation_id = $1 AND user_id = $2 AND left_at IS NULL",
                    )
                    .bind(conversation_id)
                    .bind(user_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                };
                if changed > 0 {
                    sqlx::query("UPDATE conversations SET updated_at = $2 WHERE id = $1")
                        .bind(conversation_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(changed > 0)
            }

            async fn insert_message(
                &self,
                msg: &MessageRow,
                recipients: &[i64],
            ) -> Result<MessageRow, StoreError> {
                check::text("body", &msg.body)?;
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(
                    "INSERT INTO messages \
                     (conversation_id, sender_sip_uri, format, body, blob_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(&msg.conversation_id)
                .bind(&msg.sender_sip_uri)
                .bind(&msg.format)
                .bind(&msg.body)
                .bind(&msg.blob_id)
                .bind(msg.created_at)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| StoreError::from_write(e, "id", "conversation"))?;
                let id: i64 = row.try_get("id")?;
                for user_id in recipients {
                    sqlx::query(
                        "INSERT INTO message_deliveries (message_id, user_id) VALUES ($1, $2)",
                    )
                    .bind(id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StoreError::from_write(e, "user", "user"))?;
                }
                sqlx::query("UPDATE conversations SET updated_at = $2 WHERE id = $1")
                    .bind(&msg.conversation_id)
                    .bind(msg.created_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(MessageRow { id, ..msg.clone() })
            }

            async fn list_messages(
                &self,
                conversation_id: &str,
                before: Option<i64>,
                limit: u32,
            ) -> Result<Vec<MessageRow>, StoreError> {
                check::limit(limit, $crate::store::im::MESSAGES_MAX_LIMIT)?;
                let rows = sqlx::query(
                    "SELECT id, conversation_id, sender_sip_uri, format, body, blob_id, \
                     created_at FROM messages WHERE conversation_id = $1 AND id < $2 \
                     ORDER BY id DESC LIMIT $3",
                )
                .bind(conversation_id)
                .bind(before.unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .iter()
                    .map(message_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn mark_delivered(
                &self,
                message_id: i64,
                user_id: i64,
                now: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE message_deliveries SET delivered_at = $3 \
                     WHERE message_id = $1 AND user_id = $2 AND delivered_at IS NULL",
                )
                .bind(message_id)
                .bind(user_id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn mark_delivered_many(
                &self,
                marks: &[(i64, i64)],
                now: i64,
            ) -> Result<(), StoreError> {
                if marks.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                for (message_id, user_id) in marks {
                    sqlx::query(
                        "UPDATE message_deliveries SET delivered_at = $3 \
                         WHERE message_id = $1 AND user_id = $2 AND delivered_at IS NULL",
                    )
                    .bind(message_id)
                    .bind(user_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn pending_messages(
                &self,
                user_id: i64,
                limit: u32,
            ) -> Result<Vec<MessageRow>, StoreError> {
                let rows = sqlx::query(
                    "SELECT m.id, m.conversation_id, m.sender_sip_uri, m.format, m.body, \
                     m.blob_id, m.created_at FROM message_deliveries d \
                     JOIN messages m ON m.id = d.message_id \
                     WHERE d.user_id = $1 AND d.delivered_at IS NULL \
                     ORDER BY d.message_id LIMIT $2",
                )
                .bind(user_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .iter()
                    .map(message_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn link_call(
                &self,
                call_id: &str,
                conversation_id: &str,
                now: i64,
            ) -> Result<(), StoreError> {
                check::text("call_id", call_id)?;
                let linked = sqlx::query(
                    "INSERT INTO conversation_calls (call_id, conversation_id, created_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (call_id) DO NOTHING",
                )
                .bind(call_id)
                .bind(conversation_id)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(|e| StoreError::from_write(e, "call_id", "conversation"))?;
                if linked.rows_affected() == 0
                    && self.conversation_of_call(call_id).await?.as_deref()
                        != Some(conversation_id)
                {
                    return Err(StoreError::Conflict { field: "call_id" });
                }
                Ok(())
            }

            async fn conversation_of_call(
                &self,
                call_id: &str,
            ) -> Result<Option<String>, StoreError> {
                let row = sqlx::query(
                    "SELECT conversation_id FROM conversation_calls WHERE call_id = $1",
                )
                .bind(call_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|r| r.try_get("conversation_id")).transpose()?)
            }

            async fn calls_of_conversation(
                &self,
                conversation_id: &str,
            ) -> Result<Vec<String>, StoreError> {
                let rows = sqlx::query(
                    "SELECT call_id FROM conversation_calls WHERE conversation_id = $1 \
                     ORDER BY created_at, call_id",
                )
                .bind(conversation_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .iter()
                    .map(|r| r.try_get("call_id"))
                    .collect::<Result<_, _>>()?)
            }

            async fn put_blob(&self, blob: &BlobRow) -> Result<(), StoreError> {
                check::text("id", &blob.id)?;
                check::text("name", &blob.name)?;
                sqlx::query(
                    "INSERT INTO blobs \
                     (id, scope, owner_id, name, content_type, size, sha256, data, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&blob.id)
                .bind(&blob.scope)
                .bind(blob.owner_id)
                .bind(&blob.name)
                .bind(&blob.content_type)
                .bind(blob.size)
                .bind(&blob.sha256)
                .bind(&blob.data)
                .bind(blob.created_at)
                .execute(&self.pool)
                .await
                .map_err(|e| StoreError::from_write(e, "id", "user"))?;
                Ok(())
            }

            async fn get_blob(&self, id: &str) -> Result<Option<BlobRow>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, scope, owner_id, name, content_type, size, sha256, data, \
                     created_at \
                     FROM blobs WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row
                    .map(|r| {
                        Ok::<_, sqlx::Error>(BlobRow {
                            id: r.try_get("id")?,
                            scope: r.try_get("scope")?,
                            owner_id: r.try_get("owner_id")?,
                            name: r.try_get("name")?,
                            content_type: r.try_get("content_type")?,
                            size: r.try_get("size")?,
                            sha256: r.try_get("sha256")?,
                            data: r.try_get("data")?,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .transpose()?)
            }

            // ---- presence ----------------------------------------------------------------

            async fn get_presence_settings(
                &self,
                user_id: i64,
            ) -> Result<Option<PresenceSettingsRow>, StoreError> {
                let row = sqlx::query(
                    "SELECT user_id, availability, note, updated_at FROM presence_settings \
                     WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.as_ref().map(presence_settings_from_row).transpose()?)
            }

            async fn set_presence_settings(
                &self,
                row: &PresenceSettingsRow,
            ) -> Result<PresenceSettingsRow, StoreError> {
                check::presence_settings(row)?;
                let stored = sqlx::query(
                    "INSERT INTO presence_settings (user_id, availability, note, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
                     availability = excluded.availability, note = excluded.note, \
                     updated_at = excluded.updated_at \
                     RETURNING user_id, availability, note, updated_at",
                )
                .bind(row.user_id)
                .bind(&row.availability)
                .bind(&row.note)
                .bind(unix_now())
                .fetch_one(&self.pool)
                .await
                .map_err(|e| StoreError::from_write(e, "user_id", "user"))?;
                Ok(presence_settings_from_row(&stored)?)
            }

            async fn list_presence_blocks(
                &self,
                user_id: i64,
            ) -> Result<Vec<PresenceBlockRow>, StoreError> {
                let rows = sqlx::query(
                    "SELECT b.blocked_user_id, u.sip_uri, b.created_at FROM presence_blocks b \
                     JOIN users u ON u.id = b.blocked_user_id WHERE b.user_id = $1 \
                     ORDER BY u.sip_uri",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        Ok(PresenceBlockRow {
                            blocked_user_id: r.try_get("blocked_user_id")?,
                            blocked_sip_uri: r.try_get("sip_uri")?,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?)
            }

            async fn add_presence_block(
                &self,
                user_id: i64,
                blocked_user_id: i64,
            ) -> Result<bool, StoreError> {
                if user_id == blocked_user_id {
                    return Err(StoreError::invalid("uri", "nobody can block themselves"));
                }
                let done = sqlx::query(
                    "INSERT INTO presence_blocks (user_id, blocked_user_id, created_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (user_id, blocked_user_id) DO NOTHING",
                )
                .bind(user_id)
                .bind(blocked_user_id)
                .bind(unix_now())
                .execute(&self.pool)
                .await
                .map_err(|e| StoreError::from_write(e, "uri", "user"))?;
                Ok(done.rows_affected() > 0)
            }

            async fn remove_presence_block(
                &self,
                user_id: i64,
                blocked_user_id: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "DELETE FROM presence_blocks WHERE user_id = $1 AND blocked_user_id = $2",
                )
                .bind(user_id)
                .bind(blocked_user_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            // ---- call forwarding -----------------------------------------------------------

            async fn get_call_forwarding(
                &self,
                user_id: i64,
            ) -> Result<Option<(String, i64)>, StoreError> {
                let row = sqlx::query(
                    "SELECT settings, updated_at FROM call_forwarding WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row
                    .map(|r| Ok::<_, sqlx::Error>((r.try_get("settings")?, r.try_get("updated_at")?)))
                    .transpose()?)
            }

            async fn set_call_forwarding(
                &self,
                user_id: i64,
                settings: &str,
                now: i64,
            ) -> Result<(), StoreError> {
                check::text("settings", settings)?;
                sqlx::query(
                    "INSERT INTO call_forwarding (user_id, settings, updated_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE SET \
                     settings = excluded.settings, updated_at = excluded.updated_at",
                )
                .bind(user_id)
                .bind(settings)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(|e| StoreError::from_write(e, "user_id", "user"))?;
                Ok(())
            }

            // ---- people: directory version, contacts and groups ---------------------------

            async fn users_version(&self) -> Result<UsersVersion, StoreError> {
                let row = sqlx::query("SELECT seq FROM users_seq WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(UsersVersion {
                    seq: row.try_get("seq")?,
                })
            }

            async fn list_contacts(&self, owner_id: i64) -> Result<Vec<ContactRow>, StoreError> {
                let rows = sqlx::query(
                    "SELECT c.id, c.user_id, COALESCE(u.sip_uri, c.tel) AS uri, c.name, \
                     c.created_at FROM contacts c LEFT JOIN users u ON u.id = c.user_id \
                     WHERE c.owner_id = $1 ORDER BY c.id",
                )
                .bind(owner_id)
                .fetch_all(&self.pool)
                .await?;
                let mut contacts = rows
                    .iter()
                    .map(|r| {
                        Ok(ContactRow {
                            id: r.try_get("id")?,
                            owner_id,
                            user_id: r.try_get("user_id")?,
                            uri: r.try_get("uri")?,
                            name: r.try_get("name")?,
                            groups: Vec::new(),
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()?;
                let members = sqlx::query(
                    "SELECT m.contact_id, m.group_id FROM contact_group_members m \
                     JOIN contacts c ON c.id = m.contact_id WHERE c.owner_id = $1 \
                     ORDER BY m.contact_id, m.group_id",
                )
                .bind(owner_id)
                .fetch_all(&self.pool)
                .await?;
                for m in &members {
                    let contact_id: i64 = m.try_get("contact_id")?;
                    let group_id: i64 = m.try_get("group_id")?;
                    if let Ok(i) = contacts.binary_search_by_key(&contact_id, |c| c.id) {
                        contacts[i].groups.push(group_id);
                    }
                }
                Ok(contacts)
            }

            async fn count_contacts(&self, owner_id: i64) -> Result<i64, StoreError> {
                let row = sqlx::query("SELECT COUNT(*) FROM contacts WHERE owner_id = $1")
                    .bind(owner_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get::<i64, _>(0)?)
            }

            async fn add_contact(
                &self,
                owner_id: i64,
                target: &ContactTarget,
                name: &str,
                groups: &[i64],
            ) -> Result<ContactRow, StoreError> {
                check::text("name", name)?;
                let (user_id, tel) = match target {
                    ContactTarget::User(id) => (Some(*id), None),
                    ContactTarget::Phone(tel) => {
                        check::text("uri", tel)?;
                        if tel.is_empty() {
                            return Err(StoreError::invalid("uri", "is empty"));
                        }
                        (None, Some(tel.to_lowercase()))
                    }
                };
                let now = unix_now();
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(
                    "INSERT INTO contacts (owner_id, user_id, tel, name, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(owner_id)
                .bind(user_id)
                .bind(&tel)
                .bind(name)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| StoreError::from_write(e, "uri", "user"))?;
                let id: i64 = row.try_get("id")?;
                let mut in_groups: Vec<i64> = groups.to_vec();
                in_groups.sort_unstable();
                in_groups.dedup();
                for &group_id in &in_groups {
                    let added = sqlx::query(
                        "INSERT INTO contact_group_members (group_id, contact_id) \
                         SELECT id, $2 FROM contact_groups WHERE id = $1 AND owner_id = $3",
                    )
                    .bind(group_id)
                    .bind(id)
                    .bind(owner_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if added == 0 {
                        return Err(StoreError::NotFound { what: "group" });
                    }
                }
                let uri = match (user_id, tel) {
                    (Some(user_id), _) => sqlx::query("SELECT sip_uri FROM users WHERE id = $1")
                        .bind(user_id)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("sip_uri")?,
                    (None, Some(tel)) => tel,
                    (None, None) => String::new(),
                };
                tx.commit().await?;
                Ok(ContactRow {
                    id,
                    owner_id,
                    user_id,
                    uri,
                    name: name.to_owned(),
                    groups: in_groups,
                    created_at: now,
                })
            }

            async fn remove_contact(&self, owner_id: i64, uri: &str) -> Result<(), StoreError> {
                let removed = sqlx::query(concat!(
                    "DELETE FROM contacts WHERE id = (",
                    contact_by_uri!(),
                    ")"
                ))
                .bind(owner_id)
                .bind(uri.to_lowercase())
                .execute(&self.pool)
                .await?
                .rows_affected();
                if removed == 0 {
                    return Err(StoreError::NotFound { what: "contact" });
                }
                Ok(())
            }

            async fn list_contact_groups(
                &self,
                owner_id: i64,
            ) -> Result<Vec<ContactGroupRow>, StoreError> {
                const SQL: &str = concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM contact_groups WHERE owner_id = $1 ORDER BY id"
                );
                let rows = sqlx::query(SQL).bind(owner_id).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(group_from_row).collect::<Result<_, _>>()?)
            }

            async fn create_contact_group(
                &self,
                owner_id: i64,
                name: &str,
            ) -> Result<ContactGroupRow, StoreError> {
                const SQL: &str = concat!(
                    "INSERT INTO contact_groups (owner_id, name, name_key, created_at) \
                     VALUES ($1, $2, $3, $4) RETURNING ",
                    group_columns!()
                );
                check::group_name(name)?;
                let row = sqlx::query(SQL)
                    .bind(owner_id)
                    .bind(name)
                    .bind(name.to_lowercase())
                    .bind(unix_now())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| StoreError::from_write(e, "name", "user"))?;
                Ok(group_from_row(&row)?)
            }

            async fn rename_contact_group(
                &self,
                owner_id: i64,
                group_id: i64,
                name: &str,
            ) -> Result<ContactGroupRow, StoreError> {
                const SQL: &str = concat!(
                    "UPDATE contact_groups SET name = $3, name_key = $4 \
                     WHERE id = $1 AND owner_id = $2 RETURNING ",
                    group_columns!()
                );
                check::group_name(name)?;
                let row = sqlx::query(SQL)
                    .bind(group_id)
                    .bind(owner_id)
                    .bind(name)
                    .bind(name.to_lowercase())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| StoreError::from_write(e, "name", "group"))?;
                match row {
                    Some(row) => Ok(group_from_row(&row)?),
                    None => Err(StoreError::NotFound { what: "group" }),
                }
            }

            async fn remove_contact_group(
                &self,
                owner_id: i64,
                group_id: i64,
            ) -> Result<(), StoreError> {
                let removed =
                    sqlx::query("DELETE FROM contact_groups WHERE id = $1 AND owner_id = $2")
                        .bind(group_id)
                        .bind(owner_id)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                if removed == 0 {
                    return Err(StoreError::NotFound { what: "group" });
                }
                Ok(())
            }

            async fn add_contact_to_group(
                &self,
                owner_id: i64,
                group_id: i64,
                uri: &str,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let contact_id = group_and_contact(&mut tx, owner_id, group_id, uri).await?;
                sqlx::query(
                    "INSERT INTO contact_group_members (group_id, contact_id) VALUES ($1, $2) \
                     ON CONFLICT (group_id, contact_id) DO NOTHING",
                )
                .bind(group_id)
                .bind(contact_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn remove_contact_from_group(
                &self,
                owner_id: i64,
                group_id: i64,
                uri: &str,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let contact_id = group_and_contact(&mut tx, owner_id, group_id, uri).await?;
                let removed = sqlx::query(
                    "DELETE FROM contact_group_members WHERE group_id = $1 AND contact_id = $2",
                )
                .bind(group_id)
                .bind(contact_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if removed == 0 {
                    return Err(StoreError::NotFound { what: "membership" });
                }
                tx.commit().await?;
                Ok(())
            }

            // ---- meetings and dial-in PIN lockout ---------------------------------------

            async fn create_meeting(&self, m: &MeetingRow) -> Result<(), StoreError> {
                check::text("subject", &m.subject)?;
                check::text("description", &m.description)?;
                check::text("settings", &m.settings)?;
                sqlx::query(
                    "INSERT INTO meetings (id, organizer_id, conference_id, subject, description, \
                     starts_at, ends_at, expires_at, ad_hoc, settings, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(&m.id)
                .bind(m.organizer_id)
                .bind(&m.conference_id)
                .bind(&m.subject)
                .bind(&m.description)
                .bind(m.starts_at)
                .bind(m.ends_at)
                .bind(m.expires_at)
                .bind(m.ad_hoc)
                .bind(&m.settings)
                .bind(m.created_at)
                .bind(m.updated_at)
                .execute(&self.pool)
                .await
                // Both keys are unique; the id is random, so a clash is the conference ID
                // far more often, and the caller draws both again either way.
                .map_err(|e| StoreError::from_write(e, "conference_id", "user"))?;
                Ok(())
            }

            async fn get_meeting(&self, id: &str) -> Result<Option<MeetingRow>, StoreError> {
                let row = sqlx::query(concat!(meeting_select!(), " WHERE m.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(meeting_from_row).transpose()?)
            }

            async fn get_meeting_by_conference_id(
                &self,
                conference_id: &str,
            ) -> Result<Option<MeetingRow>, StoreError> {
                let row = sqlx::query(concat!(meeting_select!(), " WHERE m.conference_id = $1"))
                    .bind(conference_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(meeting_from_row).transpose()?)
            }

            async fn list_meetings(
                &self,
                organizer_id: i64,
                limit: i64,
            ) -> Result<Vec<MeetingRow>, StoreError> {
                let rows = sqlx::query(concat!(
                    meeting_select!(),
                    " WHERE m.organizer_id = $1 \
                     ORDER BY m.ad_hoc, m.starts_at, m.created_at, m.id LIMIT $2"
                ))
                .bind(organizer_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(meeting_from_row).collect::<Result<_, _>>()?)
            }

            async fn count_meetings(&self, organizer_id: i64) -> Result<i64, StoreError> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM meetings WHERE organizer_id = $1")
                    .bind(organizer_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get("n")?)
            }

            async fn update_meeting(
                &self,
                m: &MeetingRow,
                expected_updated_at: i64,
            ) -> Result<bool, StoreError> {
                check::text("subject", &m.subject)?;
                check::text("description", &m.description)?;
                check::text("settings", &m.settings)?;
                let mut tx = self.pool.begin().await?;
                let current = sqlx::query("SELECT updated_at FROM meetings WHERE id = $1")
                    .bind(&m.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(current) = current else {
                    return Ok(false);
                };
                let at: i64 = current.try_get("updated_at")?;
                if at != expected_updated_at {
                    return Err(StoreError::Conflict { field: "updated_at" });
                }
                sqlx::query(
                    "UPDATE meetings SET subject = $2, description = $3, starts_at = $4, \
                     ends_at = $5, expires_at = $6, settings = $7, updated_at = $8 WHERE id = $1",
                )
                .bind(&m.id)
                .bind(&m.subject)
                .bind(&m.description)
                .bind(m.starts_at)
                .bind(m.ends_at)
                .bind(m.expires_at)
                .bind(&m.settings)
                .bind(m.updated_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn delete_meeting(&self, id: &str) -> Result<bool, StoreError> {
                let n = sqlx::query("DELETE FROM meetings WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            async fn delete_expired_meetings(&self, now: i64) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM meetings WHERE expires_at < $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn get_pin_lockout(
                &self,
                user_id: i64,
            ) -> Result<Option<PinLockoutRow>, StoreError> {
                let row = sqlx::query(
                    "SELECT window_start, window_failures, total_failures, locked_until, \
                     locked_out FROM pin_lockouts WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row
                    .map(|r| {
                        Ok::<_, sqlx::Error>(PinLockoutRow {
                            window_start: r.try_get("window_start")?,
                            window_failures: r.try_get("window_failures")?,
                            total_failures: r.try_get("total_failures")?,
                            locked_until: r.try_get("locked_until")?,
                            locked_out: r.try_get("locked_out")?,
                        })
                    })
                    .transpose()?)
            }

            async fn set_pin_lockout(
                &self,
                user_id: i64,
                row: Option<&PinLockoutRow>,
                now: i64,
            ) -> Result<(), StoreError> {
                let Some(l) = row else {
                    sqlx::query("DELETE FROM pin_lockouts WHERE user_id = $1")
                        .bind(user_id)
                        .execute(&self.pool)
                        .await?;
                    return Ok(());
                };
                sqlx::query(
                    "INSERT INTO pin_lockouts (user_id, window_start, window_failures, \
                     total_failures, locked_until, locked_out, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id) DO UPDATE SET \
                     window_start = excluded.window_start, \
                     window_failures = excluded.window_failures, \
                     total_failures = excluded.total_failures, \
                     locked_until = excluded.locked_until, locked_out = excluded.locked_out, \
                     updated_at = excluded.updated_at",
                )
                .bind(user_id)
                .bind(l.window_start)
                .bind(l.window_failures)
                .bind(l.total_failures)
                .bind(l.locked_until)
                .bind(l.locked_out)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(|e| StoreError::from_write(e, "user_id", "user"))?;
                Ok(())
            }

            // ---- dial plans: changing a rule in place ------------------------------------

            async fn replace_dial_plan_rule(
                &self,
                id: i64,
                rule: &DialPlanRuleRow,
            ) -> Result<DialPlanRuleRow, StoreError> {
                check::rule(rule)?;
                let mut tx = self.begin_write().await?;
                let old = sqlx::query("SELECT scope FROM dial_plan_rules WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(old) = old else {
                    return Err(StoreError::NotFound {
                        what: "dial plan rule",
                    });
                };
                let scope: String = old.try_get("scope")?;
                if scope != rule.scope {
                    return Err(StoreError::invalid(
                        "scope",
                        "a rule stays in its own dial plan",
                    ));
                }
                Self::lock_scope(&mut tx, &scope).await?;
                // As in remove_dial_plan_rule: the position is read under the lock.
                let removed =
                    sqlx::query("DELETE FROM dial_plan_rules WHERE id = $1 RETURNING position")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(removed) = removed else {
                    return Err(StoreError::NotFound {
                        what: "dial plan rule",
                    });
                };
                let gap: i64 = removed.try_get("position")?;
                sqlx::query(
                    "UPDATE dial_plan_rules SET position = position - 1 \
                     WHERE scope = $1 AND position > $2",
                )
                .bind(&scope)
                .bind(gap)
                .execute(&mut *tx)
                .await?;
                let count: i64 =
                    sqlx::query("SELECT COUNT(*) FROM dial_plan_rules WHERE scope = $1")
                        .bind(&scope)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get(0)?;
                let position = rule.position.min(count);
                sqlx::query(
                    "UPDATE dial_plan_rules SET position = position + 1 \
                     WHERE scope = $1 AND position >= $2",
                )
                .bind(&scope)
                .bind(position)
                .execute(&mut *tx)
                .await?;
                const INSERT: &str = concat!(
                    "INSERT INTO dial_plan_rules \
                     (scope, position, name, pattern, translation, is_internal_extension) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                    rule_columns!()
                );
                let row = sqlx::query(INSERT)
                    .bind(&scope)
                    .bind(position)
                    .bind(&rule.name)
                    .bind(&rule.pattern)
                    .bind(&rule.translation)
                    .bind(rule.is_internal_extension)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| StoreError::from_write(e, "name", "user"))?;
                let replaced = rule_from_row(&row)?;
                tx.commit()
                    .await
                    .map_err(|e| StoreError::from_write(e, "position", "user"))?;
                Ok(replaced)
            }

            // ---- meeting recordings ---------------------------------------------------

            async fn create_recording(&self, r: &RecordingRow) -> Result<(), StoreError> {
                check::text("subject", &r.subject)?;
                sqlx::query(
                    "INSERT INTO recordings (id, meeting_id, organizer_id, subject, viewers, \
                     file, started_at, ended_at, duration_ms, bytes) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&r.id)
                .bind(&r.meeting_id)
                .bind(r.organizer_id)
                .bind(&r.subject)
                .bind(&r.viewers)
                .bind(&r.file)
                .bind(r.started_at)
                .bind(r.ended_at)
                .bind(r.duration_ms)
                .bind(r.bytes)
                .execute(&self.pool)
                .await
                .map_err(|e| StoreError::from_write(e, "id", "user"))?;
                Ok(())
            }

            async fn finish_recording(
                &self,
                id: &str,
                ended_at: i64,
                duration_ms: i64,
                bytes: i64,
            ) -> Result<bool, StoreError> {
                let n = sqlx::query(
                    "UPDATE recordings SET ended_at = $2, duration_ms = $3, bytes = $4 \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(ended_at)
                .bind(duration_ms)
                .bind(bytes)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n > 0)
            }

            async fn get_recording(&self, id: &str) -> Result<Option<RecordingRow>, StoreError> {
                let row = sqlx::query(concat!(recording_select!(), " WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(recording_from_row).transpose()?)
            }

            async fn list_recordings(
                &self,
                meeting_id: &str,
            ) -> Result<Vec<RecordingRow>, StoreError> {
                let rows = sqlx::query(concat!(
                    recording_select!(),
                    " WHERE meeting_id = $1 ORDER BY started_at, id"
                ))
                .bind(meeting_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(recording_from_row).collect::<Result<_, _>>()?)
            }

            async fn delete_recording(&self, id: &str) -> Result<bool, StoreError> {
                let n = sqlx::query("DELETE FROM recordings WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            async fn recordings_started_before(
                &self,
                before: i64,
                limit: i64,
            ) -> Result<Vec<RecordingRow>, StoreError> {
                let rows = sqlx::query(concat!(
                    recording_select!(),
                    " WHERE started_at < $1 ORDER BY started_at, id LIMIT $2"
                ))
                .bind(before)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(recording_from_row).collect::<Result<_, _>>()?)
            }
        }

        fn recording_from_row(r: &$row) -> Result<RecordingRow, sqlx::Error> {
            Ok(RecordingRow {
                id: r.try_get("id")?,
                meeting_id: r.try_get("meeting_id")?,
                organizer_id: r.try_get("organizer_id")?,
                subject: r.try_get("subject")?,
                viewers: r.try_get("viewers")?,
                file: r.try_get("file")?,
                started_at: r.try_get("started_at")?,
                ended_at: r.try_get("ended_at")?,
                duration_ms: r.try_get("duration_ms")?,
                bytes: r.try_get("bytes")?,
            })
        }

        fn meeting_from_row(r: &$row) -> Result<MeetingRow, sqlx::Error> {
            Ok(MeetingRow {
                id: r.try_get("id")?,
                organizer_id: r.try_get("organizer_id")?,
                organizer: r.try_get("organizer")?,
                conference_id: r.try_get("conference_id")?,
                subject: r.try_get("subject")?,
                description: r.try_get("description")?,
                starts_at: r.try_get("starts_at")?,
                ends_at: r.try_get("ends_at")?,
                expires_at: r.try_get("expires_at")?,
                ad_hoc: r.try_get("ad_hoc")?,
                settings: r.try_get("settings")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        }

        fn group_from_row(r: &$row) -> Result<ContactGroupRow, sqlx::Error> {
            Ok(ContactGroupRow {
                id: r.try_get("id")?,
                owner_id: r.try_get("owner_id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
            })
        }

        /// Checks that `group_id` is a group of `owner_id` and finds their contact `uri`.
        async fn group_and_contact(
            tx: &mut sqlx::Transaction<'static, $db>,
            owner_id: i64,
            group_id: i64,
            uri: &str,
        ) -> Result<i64, StoreError> {
            let group = sqlx::query("SELECT id FROM contact_groups WHERE id = $1 AND owner_id = $2")
                .bind(group_id)
                .bind(owner_id)
                .fetch_optional(&mut **tx)
                .await?;
            if group.is_none() {
                return Err(StoreError::NotFound { what: "group" });
            }
            let contact = sqlx::query(contact_by_uri!())
                .bind(owner_id)
                .bind(uri.to_lowercase())
                .fetch_optional(&mut **tx)
                .await?;
            match contact {
                Some(row) => Ok(row.try_get("id")?),
                None => Err(StoreError::NotFound { what: "contact" }),
            }
        }
    };
}
pub(crate) use impl_store;
