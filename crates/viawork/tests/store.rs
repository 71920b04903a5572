//! The store suite: every behaviour of `viawork::store::Store`, written once and run against
//! both backends — SQLite on a temporary file and PostgreSQL on a private cluster
//! (`common/postgres.rs`), one fresh database per test.
//!
//! Each `async fn` below takes a [`Fixture`] (how to open *its* database) and is expanded by
//! [`both_backends!`] into `on_sqlite::NAME` and `on_postgres::NAME`.

#[path = "common/postgres.rs"]
mod postgres;

use std::sync::Arc;

use sqlx::Connection;
use viawork::store::{
    self, generate_token, hash_token, Backend, CallLogQuery, CallRecordRow, DialPlanRuleRow,
    ImportRowResult, LockoutPolicy, PolicyRemoval, PolicyRow, PresenceSettingsRow, RoutingRow,
    Store, StoreError, TokenRow, UserRow, GLOBAL_POLICY, GLOBAL_SCOPE,
};
use viawork::store::{ContactTarget, MeetingRow, PinLockoutRow, RecordingRow, UsersVersion};

/// One test's database.
struct Fixture {
    backend: Backend,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    async fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("viawork.db").display());
        Fixture {
            backend: Backend::Sqlite,
            url,
            _dir: Some(dir),
        }
    }

    async fn postgres() -> Fixture {
        Fixture {
            backend: Backend::Postgres,
            url: postgres::database().await.url,
            _dir: None,
        }
    }

    async fn open(&self) -> Arc<dyn Store> {
        let store = store::open(&self.url).await.expect("open store");
        assert_eq!(store.backend(), self.backend);
        store
    }

    /// Leaves the database as ViaWork at schema version 2 did (migrations 1 and 2 applied
    /// and recorded with their checksums, as the store does), then runs `then` on it; all
    /// with a raw connection.
    async fn at_schema_version_2(&self, then: &str) {
        use sha2::{Digest, Sha256};
        let migrations: [(i64, &str, &str); 2] = match self.backend {
            Backend::Sqlite => [
                (
                    1,
                    "initial",
                    include_str!("../migrations/sqlite/0001_initial.sql"),
                ),
                (
                    2,
                    "call_log",
                    include_str!("../migrations/sqlite/0002_call_log.sql"),
                ),
            ],
            Backend::Postgres => [
                (
                    1,
                    "initial",
                    include_str!("../migrations/postgres/0001_initial.sql"),
                ),
                (
                    2,
                    "call_log",
                    include_str!("../migrations/postgres/0002_call_log.sql"),
                ),
            ],
        };
        const TABLE: &str = "CREATE TABLE schema_migrations (version BIGINT NOT NULL \
            PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)";
        const RECORD: &str = "INSERT INTO schema_migrations (version, name, checksum, applied_at) \
             VALUES ($1, $2, $3, 0)";
        let checksum = |sql: &str| -> String {
            Sha256::digest(sql.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        macro_rules! apply {
            ($c:expr) => {{
                sqlx::raw_sql(TABLE).execute(&mut $c).await.unwrap();
                for (version, name, sql) in migrations {
                    sqlx::raw_sql(sql).execute(&mut $c).await.unwrap();
                    sqlx::query(RECORD)
                        .bind(version)
                        .bind(name)
                        .bind(checksum(sql))
                        .execute(&mut $c)
                        .await
                        .unwrap();
                }
                sqlx::raw_sql(then).execute(&mut $c).await.unwrap();
            }};
        }
        match self.backend {
            Backend::Sqlite => {
                let options = self
                    .url
                    .parse::<sqlx::sqlite::SqliteConnectOptions>()
                    .unwrap()
                    .create_if_missing(true);
                let mut c = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .unwrap();
                apply!(c);
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                apply!(c);
            }
        }
    }

    /// The versions recorded in `schema_migrations`, read with a raw connection.
    async fn migration_versions(&self) -> Vec<i64> {
        const SQL: &str = "SELECT version FROM schema_migrations ORDER BY version";
        match self.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(SQL).fetch_all(&mut c).await.unwrap()
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(SQL).fetch_all(&mut c).await.unwrap()
            }
        }
    }
}

/// Expands each named test for both backends.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Fixture::sqlite().await).await
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Fixture::postgres().await).await
                }
            )*
        }
    };
}

both_backends!(
    migrations_apply_once_and_reopening_is_a_no_op,
    user_round_trips_and_updates_optimistically,
    sip_uri_is_unique_whatever_its_case,
    unicode_text_round_trips,
    sql_looking_strings_are_stored_verbatim,
    users_page_in_sip_uri_order,
    global_policy_always_exists_and_removing_it_resets_it,
    policies_are_created_updated_and_removed,
    policy_callback_extensions_round_trip_and_reset_with_global,
    migration_3_gives_existing_policies_the_callback_extensions_false,
    removing_a_granted_tag_clears_the_grants,
    grants_to_unknown_users_or_policies_are_not_found,
    routing_round_trips,
    dial_plan_rules_keep_a_dense_order_through_insert_and_remove,
    a_dial_plan_rule_is_replaced_in_one_write_in_place_or_moved,
    tokens_expire_and_are_revoked,
    login_failures_count_lock_and_reset,
    import_is_all_or_nothing_or_good_rows_only,
    two_handles_share_one_database_concurrently,
    call_records_are_inserted_then_updated_and_rewrites_are_idempotent,
    an_ended_call_record_is_never_reopened,
    a_large_call_record_batch_is_written_whole,
    open_call_records_are_closed_as_failed_by_system,
    the_call_log_pages_newest_first_without_duplicates_or_gaps,
    the_call_log_filters_by_owner_time_and_end_reason,
    call_log_limits_and_values_are_validated_naming_the_field,
    change_seq_moves_with_every_cached_kind_of_change_from_any_handle,
    conversations_messages_deliveries_calls_and_blobs_round_trip,
    presence_settings_and_blocks_round_trip_and_go_with_their_users,
    call_forwarding_settings_round_trip_and_go_with_their_user,
    users_version_moves_with_every_user_change_and_only_then,
    contacts_are_added_listed_with_groups_and_removed,
    contacts_are_unique_per_owner_and_need_existing_users_and_groups,
    contact_groups_are_unique_per_owner_whatever_the_case,
    contact_group_membership_is_per_owner,
    removing_a_user_removes_their_list_and_them_from_other_lists,
    meetings_round_trip_with_unique_conference_ids_and_optimistic_updates,
    pin_lockout_counters_round_trip_and_go_with_their_user,
    recordings_round_trip_and_go_with_their_organizer,
);

/// A valid user row with the given SIP URI.
fn user(sip_uri: &str) -> UserRow {
    UserRow {
        sip_uri: sip_uri.into(),
        display_name: "Test User".into(),
        role: "user".into(),
        enabled: true,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        ..UserRow::default()
    }
}

fn tag(identity: &str) -> PolicyRow {
    PolicyRow {
        identity: identity.into(),
        enabled: true,
        ..PolicyRow::default()
    }
}

fn rule(scope: &str, name: &str, position: i64) -> DialPlanRuleRow {
    DialPlanRuleRow {
        scope: scope.into(),
        position,
        name: name.into(),
        pattern: r"^(\d{4})$".into(),
        translation: "+1425555$1".into(),
        ..DialPlanRuleRow::default()
    }
}

async fn migrations_apply_once_and_reopening_is_a_no_op(fx: Fixture) {
    let first = fx.open().await;
    first.ping().await.unwrap();
    first.create_user(&user("sip:a@example.com")).await.unwrap();
    let second = fx.open().await;
    second.ping().await.unwrap();
    assert_eq!(
        fx.migration_versions().await,
        vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    );
    assert_eq!(second.count_users().await.unwrap(), 1);
    let policies = second.list_policies().await.unwrap();
    assert_eq!(policies.len(), 1, "{policies:?}");
    first.close().await;
    assert!(matches!(
        first.ping().await,
        Err(StoreError::Unavailable { .. })
    ));
    second.ping().await.unwrap();
}

async fn user_round_trips_and_updates_optimistically(fx: Fixture) {
    let store = fx.open().await;
    let store = store.as_ref();
    store.create_policy(&tag("Tag:Sales")).await.unwrap();
    let full = UserRow {
        sip_uri: "sip:Alice@Example.com".into(),
        display_name: "Alice Smith".into(),
        email: "Alice.Smith@Example.com".into(),
        title: "Engineer".into(),
        department: "R&D".into(),
        office: "B12".into(),
        phone_work: "+14255550101".into(),
        phone_mobile: "+14255550102".into(),
        phone_home: "+14255550103".into(),
        phone_other: "+14255550104".into(),
        line_uri: "tel:+14255550101;ext=101".into(),
        enterprise_voice: true,
        enabled: true,
        role: "admin".into(),
        pin_hash: Some("pin-hash".into()),
        ha1_md5: Some("0123456789abcdef0123456789abcdef".into()),
        ha1_sha256: Some("ab".repeat(32)),
        sip_realm: Some("example.com".into()),
        allow_call_forwarding: true,
        allow_simultaneous_ring: true,
        dial_in_conferencing: true,
        site: Some("Redmond".into()),
        policy_grant: Some("Tag:Sales".into()),
        ..user("")
    };
    let created = store.create_user(&full).await.unwrap();
    assert!(created.id > 0);
    assert!(created.created_at > 0);
    assert_eq!(created.created_at, created.updated_at);
    let expected = UserRow {
        id: created.id,
        sip_uri: "sip:alice@example.com".into(),
        created_at: created.created_at,
        updated_at: created.updated_at,
        ..full.clone()
    };
    assert_eq!(created, expected);
    assert_eq!(
        store.get_user(created.id).await.unwrap(),
        Some(expected.clone())
    );
    let by_sip = store.get_user_by_sip_uri("SIP:ALICE@example.COM").await;
    assert_eq!(by_sip.unwrap(), Some(expected.clone()));
    let by_mail = store.get_user_by_email("alice.smith@EXAMPLE.com").await;
    assert_eq!(by_mail.unwrap(), Some(expected.clone()));
    assert_eq!(store.get_user_by_email("").await.unwrap(), None);
    assert_eq!(store.get_user(created.id + 1000).await.unwrap(), None);

    // Whole-row update, guarded by updated_at.
    let change = UserRow {
        display_name: "Alice Jones".into(),
        enterprise_voice: false,
        pin_hash: None,
        site: None,
        policy_grant: None,
        ..expected.clone()
    };
    let updated = store.update_user(&change).await.unwrap();
    assert!(updated.updated_at > expected.updated_at);
    assert_eq!(updated.created_at, expected.created_at);
    assert_eq!(
        updated,
        UserRow {
            updated_at: updated.updated_at,
            ..change.clone()
        }
    );
    // The same stale row again: someone else changed it meanwhile.
    let stale = store.update_user(&change).await.unwrap_err();
    assert!(
        matches!(
            stale,
            StoreError::Conflict {
                field: "updated_at"
            }
        ),
        "{stale:?}"
    );
    assert_eq!(
        store.get_user(created.id).await.unwrap(),
        Some(updated.clone())
    );

    store.remove_user(created.id).await.unwrap();
    assert_eq!(store.get_user(created.id).await.unwrap(), None);
    let again = store.remove_user(created.id).await.unwrap_err();
    assert!(
        matches!(again, StoreError::NotFound { what: "user" }),
        "{again:?}"
    );
    let gone = store.update_user(&updated).await.unwrap_err();
    assert!(
        matches!(gone, StoreError::NotFound { what: "user" }),
        "{gone:?}"
    );
    // Ids are not reused.
    let next = store
        .create_user(&user("sip:bob@example.com"))
        .await
        .unwrap();
    assert!(next.id > created.id);

    let bad_role = store
        .create_user(&UserRow {
            role: "root".into(),
            ..user("sip:c@example.com")
        })
        .await
        .unwrap_err();
    assert!(
        matches!(bad_role, StoreError::Invalid { field: "role", .. }),
        "{bad_role:?}"
    );
    let empty = store.create_user(&user("")).await.unwrap_err();
    assert!(
        matches!(
            empty,
            StoreError::Invalid {
                field: "sip_uri",
                ..
            }
        ),
        "{empty:?}"
    );
}

async fn sip_uri_is_unique_whatever_its_case(fx: Fixture) {
    let store = fx.open().await;
    let alice = store
        .create_user(&user("sip:Alice@Example.com"))
        .await
        .unwrap();
    assert_eq!(alice.sip_uri, "sip:alice@example.com");
    let dup = store
        .create_user(&user("SIP:ALICE@EXAMPLE.COM"))
        .await
        .unwrap_err();
    assert!(
        matches!(dup, StoreError::Conflict { field: "sip_uri" }),
        "{dup:?}"
    );
    let bob = store
        .create_user(&user("sip:bob@example.com"))
        .await
        .unwrap();
    let steal = store
        .update_user(&UserRow {
            sip_uri: "sip:ALICE@example.com".into(),
            ..bob
        })
        .await
        .unwrap_err();
    assert!(
        matches!(steal, StoreError::Conflict { field: "sip_uri" }),
        "{steal:?}"
    );
    assert_eq!(store.count_users().await.unwrap(), 2);
}

async fn unicode_text_round_trips(fx: Fixture) {
    let store = fx.open().await;
    let row = UserRow {
        display_name: "Zoë Ångström 山田太郎 Ελένη 🙂".into(),
        department: "Düsseldorf — Straße".into(),
        email: "Émile@Exämple.com".into(),
        title: "Ingénieure (محندسة)".into(),
        ..user("sip:zoë@exämple.com")
    };
    let created = store.create_user(&row).await.unwrap();
    assert_eq!(created.display_name, row.display_name);
    assert_eq!(created.department, row.department);
    assert_eq!(created.title, row.title);
    let found = store.get_user_by_email("émile@EXÄMPLE.COM").await.unwrap();
    assert_eq!(found.map(|u| u.id), Some(created.id));
    let found = store
        .get_user_by_sip_uri("sip:ZOË@EXÄMPLE.com")
        .await
        .unwrap();
    assert_eq!(found.map(|u| u.id), Some(created.id));
    let policy = store.create_policy(&tag("Tag:Vertrieb-Süd")).await.unwrap();
    assert_eq!(policy.identity, "Tag:Vertrieb-Süd");
    let nul = store
        .create_user(&UserRow {
            display_name: "nul\0byte".into(),
            ..user("sip:nul@example.com")
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            nul,
            StoreError::Invalid {
                field: "display_name",
                ..
            }
        ),
        "{nul:?}"
    );
}

async fn sql_looking_strings_are_stored_verbatim(fx: Fixture) {
    let store = fx.open().await;
    let nasty = [
        "Robert'); DROP TABLE users;--",
        "' OR '1'='1",
        "\"; DELETE FROM policies; --",
        "$1 $2 ?1 :name @x \\ % _ ; /* */",
    ];
    let mut ids = Vec::new();
    for (i, s) in nasty.iter().enumerate() {
        let row = UserRow {
            display_name: s.to_string(),
            title: s.to_string(),
            email: format!("{s}@example.com"),
            ..user(&format!("sip:{}{i}@example.com", s.to_lowercase()))
        };
        let created = store.create_user(&row).await.unwrap();
        let read = store.get_user(created.id).await.unwrap().unwrap();
        assert_eq!(read.display_name, *s);
        assert_eq!(read.title, *s);
        assert_eq!(read.sip_uri, row.sip_uri.to_lowercase());
        ids.push(created.id);
    }
    assert_eq!(store.count_users().await.unwrap(), nasty.len() as i64);
    assert_eq!(
        store.get_user_by_sip_uri("' OR '1'='1").await.unwrap(),
        None
    );
    assert_eq!(store.get_user_by_email("' OR '1'='1").await.unwrap(), None);
    assert_eq!(store.get_policy("Global' OR '1'='1").await.unwrap(), None);

    let identity = "Tag:x'); DELETE FROM users;--";
    store.create_policy(&tag(identity)).await.unwrap();
    store
        .set_policy_grant(ids[0], Some(identity))
        .await
        .unwrap();
    let removal = store.remove_policy(identity).await.unwrap();
    assert_eq!(removal, PolicyRemoval::Removed { grants_cleared: 1 });
    assert_eq!(store.count_users().await.unwrap(), nasty.len() as i64);

    let r = DialPlanRuleRow {
        name: "'; DROP TABLE dial_plan_rules;--".into(),
        pattern: r"^(\d+)'--$".into(),
        translation: "$1'); --".into(),
        ..rule(GLOBAL_SCOPE, "x", 0)
    };
    let inserted = store.insert_dial_plan_rule(&r).await.unwrap();
    let listed = store.list_dial_plan_rules(GLOBAL_SCOPE).await.unwrap();
    assert_eq!(listed, vec![inserted.clone()]);
    assert_eq!(inserted.name, r.name);
    assert_eq!(inserted.translation, r.translation);

    let routing = RoutingRow {
        call_via_work_caller_id: Some("+1'; DROP TABLE routing;--".into()),
    };
    store.set_routing(&routing).await.unwrap();
    assert_eq!(store.get_routing().await.unwrap(), routing);
    assert!(store
        .find_valid_token("' OR 1=1 --", 0)
        .await
        .unwrap()
        .is_none());
}

async fn users_page_in_sip_uri_order(fx: Fixture) {
    let store = fx.open().await;
    for name in ["mallory", "alice", "Zed", "bob", "a-b", "ab", "carol"] {
        store
            .create_user(&user(&format!("sip:{name}@example.com")))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list_users(after.as_deref(), 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        after = page.last().map(|u| u.sip_uri.clone());
        seen.extend(page.into_iter().map(|u| u.sip_uri));
    }
    let mut expected = seen.clone();
    expected.sort(); // byte order, the same on both backends
    assert_eq!(seen, expected);
    assert_eq!(seen.len(), 7);
    assert_eq!(seen[0], "sip:a-b@example.com");
    assert_eq!(seen[6], "sip:zed@example.com");
    assert_eq!(store.count_users().await.unwrap(), 7);
    assert!(store.list_users(None, 0).await.unwrap().is_empty());
}

async fn global_policy_always_exists_and_removing_it_resets_it(fx: Fixture) {
    let store = fx.open().await;
    let defaults = PolicyRow {
        identity: GLOBAL_POLICY.into(),
        enabled: false,
        use_admin_callback_number: false,
        admin_callback_number: None,
        allow_international_callback: false,
        allow_premium_callback: false,
    };
    assert_eq!(
        store.get_policy("Global").await.unwrap(),
        Some(defaults.clone())
    );
    let exists = store.create_policy(&tag("Global")).await.unwrap_err();
    assert!(
        matches!(exists, StoreError::Conflict { field: "identity" }),
        "{exists:?}"
    );

    let set = PolicyRow {
        enabled: true,
        use_admin_callback_number: true,
        admin_callback_number: Some("+14255550100".into()),
        ..defaults.clone()
    };
    assert_eq!(store.update_policy(&set).await.unwrap(), set);
    assert_eq!(store.get_policy("Global").await.unwrap(), Some(set));
    assert_eq!(
        store.remove_policy("Global").await.unwrap(),
        PolicyRemoval::Reset
    );
    assert_eq!(
        store.get_policy("Global").await.unwrap(),
        Some(defaults.clone())
    );
    assert_eq!(
        store.remove_policy("Global").await.unwrap(),
        PolicyRemoval::Reset
    );
    assert_eq!(store.list_policies().await.unwrap(), vec![defaults]);
}

async fn policies_are_created_updated_and_removed(fx: Fixture) {
    let store = fx.open().await;
    let sales = store.create_policy(&tag("Tag:Sales")).await.unwrap();
    assert_eq!(sales, tag("Tag:Sales"));
    store.create_policy(&tag("Site:Redmond")).await.unwrap();
    store.create_policy(&tag("Tag:Admins")).await.unwrap();
    let dup = store.create_policy(&tag("Tag:Sales")).await.unwrap_err();
    assert!(
        matches!(dup, StoreError::Conflict { field: "identity" }),
        "{dup:?}"
    );
    for bad in ["Sales", "Tag:", "Site:", "global", ""] {
        let err = store.create_policy(&tag(bad)).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Invalid {
                    field: "identity",
                    ..
                }
            ),
            "{bad}: {err:?}"
        );
    }
    let identities: Vec<String> = store
        .list_policies()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.identity)
        .collect();
    assert_eq!(
        identities,
        ["Global", "Site:Redmond", "Tag:Admins", "Tag:Sales"]
    );

    let changed = PolicyRow {
        enabled: false,
        use_admin_callback_number: true,
        admin_callback_number: Some("+14255550199".into()),
        ..sales
    };
    assert_eq!(store.update_policy(&changed).await.unwrap(), changed);
    assert_eq!(store.get_policy("Tag:Sales").await.unwrap(), Some(changed));
    assert_eq!(store.get_policy("tag:sales").await.unwrap(), None);
    let missing = store.update_policy(&tag("Tag:Nope")).await.unwrap_err();
    assert!(
        matches!(missing, StoreError::NotFound { what: "policy" }),
        "{missing:?}"
    );

    let removed = store.remove_policy("Site:Redmond").await.unwrap();
    assert_eq!(removed, PolicyRemoval::Removed { grants_cleared: 0 });
    assert_eq!(store.get_policy("Site:Redmond").await.unwrap(), None);
    let missing = store.remove_policy("Site:Redmond").await.unwrap_err();
    assert!(
        matches!(missing, StoreError::NotFound { what: "policy" }),
        "{missing:?}"
    );
}

async fn policy_callback_extensions_round_trip_and_reset_with_global(fx: Fixture) {
    let store = fx.open().await;
    // Not given: false.
    let plain = store.create_policy(&tag("Tag:Plain")).await.unwrap();
    assert!(!plain.allow_international_callback && !plain.allow_premium_callback);
    // Each one alone, on create and on update.
    let abroad = PolicyRow {
        allow_international_callback: true,
        ..tag("Tag:Abroad")
    };
    assert_eq!(store.create_policy(&abroad).await.unwrap(), abroad);
    assert_eq!(store.get_policy("Tag:Abroad").await.unwrap(), Some(abroad));
    let premium = PolicyRow {
        allow_premium_callback: true,
        ..plain
    };
    assert_eq!(store.update_policy(&premium).await.unwrap(), premium);
    assert_eq!(
        store.get_policy("Tag:Plain").await.unwrap(),
        Some(premium.clone())
    );
    let neither = PolicyRow {
        allow_premium_callback: false,
        ..premium
    };
    assert_eq!(store.update_policy(&neither).await.unwrap(), neither);
    let listed = store.list_policies().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|p| (
                p.identity.as_str(),
                p.allow_international_callback,
                p.allow_premium_callback
            ))
            .collect::<Vec<_>>(),
        [
            ("Global", false, false),
            ("Tag:Abroad", true, false),
            ("Tag:Plain", false, false)
        ]
    );

    // Global: both set, then reset by removal.
    let global = store.get_policy(GLOBAL_POLICY).await.unwrap().unwrap();
    let open = PolicyRow {
        allow_international_callback: true,
        allow_premium_callback: true,
        ..global.clone()
    };
    assert_eq!(store.update_policy(&open).await.unwrap(), open);
    store.remove_policy(GLOBAL_POLICY).await.unwrap();
    assert_eq!(store.get_policy(GLOBAL_POLICY).await.unwrap(), Some(global));
}

async fn migration_3_gives_existing_policies_the_callback_extensions_false(fx: Fixture) {
    fx.at_schema_version_2(
        "INSERT INTO policies (identity, enabled, use_admin_callback_number, \
         admin_callback_number) VALUES ('Tag:Old', TRUE, TRUE, '+14255550100'); \
         UPDATE policies SET enabled = TRUE WHERE identity = 'Global'",
    )
    .await;
    assert_eq!(fx.migration_versions().await, vec![1, 2]);
    let store = fx.open().await;
    assert_eq!(
        fx.migration_versions().await,
        vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    );
    assert_eq!(
        store.list_policies().await.unwrap(),
        [
            PolicyRow {
                identity: GLOBAL_POLICY.into(),
                enabled: true,
                ..PolicyRow::default()
            },
            PolicyRow {
                identity: "Tag:Old".into(),
                enabled: true,
                use_admin_callback_number: true,
                admin_callback_number: Some("+14255550100".into()),
                allow_international_callback: false,
                allow_premium_callback: false,
            },
        ]
    );
    // The new columns are writable on the migrated table.
    let old = PolicyRow {
        allow_international_callback: true,
        ..store.get_policy("Tag:Old").await.unwrap().unwrap()
    };
    assert_eq!(store.update_policy(&old).await.unwrap(), old);
}

async fn removing_a_granted_tag_clears_the_grants(fx: Fixture) {
    let store = fx.open().await;
    store.create_policy(&tag("Tag:Sales")).await.unwrap();
    store.create_policy(&tag("Tag:Support")).await.unwrap();
    let mut users = Vec::new();
    for (name, grant) in [("a", "Tag:Sales"), ("b", "Tag:Sales"), ("c", "Tag:Support")] {
        let u = store
            .create_user(&user(&format!("sip:{name}@example.com")))
            .await
            .unwrap();
        let granted = store.set_policy_grant(u.id, Some(grant)).await.unwrap();
        assert_eq!(granted.policy_grant.as_deref(), Some(grant));
        assert!(granted.updated_at > u.updated_at);
        users.push(granted);
    }
    let removal = store.remove_policy("Tag:Sales").await.unwrap();
    assert_eq!(removal, PolicyRemoval::Removed { grants_cleared: 2 });
    for before in &users[..2] {
        let after = store.get_user(before.id).await.unwrap().unwrap();
        assert_eq!(after.policy_grant, None);
        assert!(
            after.updated_at > before.updated_at,
            "the change is visible to updates"
        );
    }
    let c = store.get_user(users[2].id).await.unwrap().unwrap();
    assert_eq!(c, users[2]);
    // A stale copy of a user whose grant was cleared cannot be written back.
    let stale = store.update_user(&users[0]).await.unwrap_err();
    assert!(
        matches!(
            stale,
            StoreError::Conflict {
                field: "updated_at"
            }
        ),
        "{stale:?}"
    );
}

async fn grants_to_unknown_users_or_policies_are_not_found(fx: Fixture) {
    let store = fx.open().await;
    store.create_policy(&tag("Tag:Sales")).await.unwrap();
    let u = store.create_user(&user("sip:a@example.com")).await.unwrap();
    let no_user = store.set_policy_grant(u.id + 99, Some("Tag:Sales")).await;
    assert!(
        matches!(no_user, Err(StoreError::NotFound { what: "user" })),
        "{no_user:?}"
    );
    let no_policy = store.set_policy_grant(u.id, Some("Tag:Nope")).await;
    assert!(
        matches!(no_policy, Err(StoreError::NotFound { what: "policy" })),
        "{no_policy:?}"
    );
    let global = store.set_policy_grant(u.id, Some("Global")).await;
    assert!(
        matches!(
            global,
            Err(StoreError::Invalid {
                field: "policy_grant",
                ..
            })
        ),
        "{global:?}"
    );
    assert_eq!(
        store.get_user(u.id).await.unwrap().unwrap().policy_grant,
        None
    );

    let granted = store
        .set_policy_grant(u.id, Some("Tag:Sales"))
        .await
        .unwrap();
    assert_eq!(granted.policy_grant.as_deref(), Some("Tag:Sales"));
    let cleared = store.set_policy_grant(u.id, None).await.unwrap();
    assert_eq!(cleared.policy_grant, None);

    let create = store
        .create_user(&UserRow {
            policy_grant: Some("Tag:Nope".into()),
            ..user("sip:b@example.com")
        })
        .await;
    assert!(
        matches!(create, Err(StoreError::NotFound { what: "policy" })),
        "{create:?}"
    );
}

async fn routing_round_trips(fx: Fixture) {
    let store = fx.open().await;
    assert_eq!(store.get_routing().await.unwrap(), RoutingRow::default());
    let set = RoutingRow {
        call_via_work_caller_id: Some("+14255550100".into()),
    };
    store.set_routing(&set).await.unwrap();
    assert_eq!(store.get_routing().await.unwrap(), set);
    store.set_routing(&RoutingRow::default()).await.unwrap();
    assert_eq!(store.get_routing().await.unwrap(), RoutingRow::default());
}

async fn a_dial_plan_rule_is_replaced_in_one_write_in_place_or_moved(fx: Fixture) {
    let store = fx.open().await;
    let mut ids = Vec::new();
    for (i, name) in ["A", "B", "C"].into_iter().enumerate() {
        let r = store
            .insert_dial_plan_rule(&rule(GLOBAL_SCOPE, name, i as i64))
            .await
            .unwrap();
        ids.push(r.id);
    }
    let listed = || async {
        let rules = store.list_dial_plan_rules(GLOBAL_SCOPE).await.unwrap();
        let positions: Vec<i64> = rules.iter().map(|r| r.position).collect();
        assert_eq!(positions, (0..rules.len() as i64).collect::<Vec<_>>());
        rules
            .iter()
            .map(|r| format!("{}:{}", r.name, r.translation))
            .collect::<Vec<_>>()
    };

    // In place, renamed (to a name differing only in case too) and rewritten.
    let mut b = rule(GLOBAL_SCOPE, "Bee", 1);
    b.translation = "+1206555$1".into();
    let replaced = store.replace_dial_plan_rule(ids[1], &b).await.unwrap();
    assert_eq!(replaced.position, 1);
    assert_eq!(
        listed().await,
        ["A:+1425555$1", "Bee:+1206555$1", "C:+1425555$1"]
    );
    let same = store
        .replace_dial_plan_rule(replaced.id, &rule(GLOBAL_SCOPE, "bee", 1))
        .await
        .unwrap();

    // Moved first, and past the end (last).
    store
        .replace_dial_plan_rule(ids[2], &rule(GLOBAL_SCOPE, "C", 0))
        .await
        .unwrap();
    assert_eq!(listed().await[0], "C:+1425555$1");
    let last = store
        .replace_dial_plan_rule(ids[0], &rule(GLOBAL_SCOPE, "A", 9))
        .await
        .unwrap();
    assert_eq!(last.position, 2);
    assert_eq!(
        listed().await,
        ["C:+1425555$1", "bee:+1425555$1", "A:+1425555$1"]
    );

    // Refusals change nothing.
    let before = listed().await;
    let taken = store
        .replace_dial_plan_rule(same.id, &rule(GLOBAL_SCOPE, "C", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(taken, StoreError::Conflict { field: "name" }),
        "{taken:?}"
    );
    let gone = store
        .replace_dial_plan_rule(ids[1], &rule(GLOBAL_SCOPE, "X", 0))
        .await
        .unwrap_err();
    assert!(
        matches!(
            gone,
            StoreError::NotFound {
                what: "dial plan rule"
            }
        ),
        "{gone:?}"
    );
    let alice = store
        .create_user(&user("sip:alice@example.com"))
        .await
        .unwrap();
    let elsewhere = store
        .replace_dial_plan_rule(same.id, &rule(&alice.id.to_string(), "X", 0))
        .await
        .unwrap_err();
    assert!(
        matches!(elsewhere, StoreError::Invalid { field: "scope", .. }),
        "{elsewhere:?}"
    );
    assert_eq!(listed().await, before);
}

async fn dial_plan_rules_keep_a_dense_order_through_insert_and_remove(fx: Fixture) {
    let store = fx.open().await;
    let names = |rules: &[DialPlanRuleRow]| {
        let positions: Vec<i64> = rules.iter().map(|r| r.position).collect();
        assert_eq!(positions, (0..rules.len() as i64).collect::<Vec<_>>());
        rules.iter().map(|r| r.name.clone()).collect::<Vec<_>>()
    };
    let a = store
        .insert_dial_plan_rule(&rule(GLOBAL_SCOPE, "A", 0))
        .await
        .unwrap();
    assert_eq!(a.position, 0);
    let b = store
        .insert_dial_plan_rule(&rule(GLOBAL_SCOPE, "B", 7))
        .await
        .unwrap();
    assert_eq!(b.position, 1, "past the end appends");
    store
        .insert_dial_plan_rule(&rule(GLOBAL_SCOPE, "C", 0))
        .await
        .unwrap();
    let d = store
        .insert_dial_plan_rule(&rule(GLOBAL_SCOPE, "D", 1))
        .await
        .unwrap();
    let listed = store.list_dial_plan_rules(GLOBAL_SCOPE).await.unwrap();
    assert_eq!(names(&listed), ["C", "D", "A", "B"]);
    assert_eq!(listed[1], d);

    store.remove_dial_plan_rule(d.id).await.unwrap();
    let listed = store.list_dial_plan_rules(GLOBAL_SCOPE).await.unwrap();
    assert_eq!(names(&listed), ["C", "A", "B"]);
    store.remove_dial_plan_rule(listed[0].id).await.unwrap();
    let listed = store.list_dial_plan_rules(GLOBAL_SCOPE).await.unwrap();
    assert_eq!(names(&listed), ["A", "B"]);
    let missing = store.remove_dial_plan_rule(d.id).await.unwrap_err();
    assert!(
        matches!(
            missing,
            StoreError::NotFound {
                what: "dial plan rule"
            }
        ),
        "{missing:?}"
    );

    let dup = store
        .insert_dial_plan_rule(&rule(GLOBAL_SCOPE, "A", 0))
        .await
        .unwrap_err();
    assert!(
        matches!(dup, StoreError::Conflict { field: "name" }),
        "{dup:?}"
    );
    assert_eq!(
        names(&store.list_dial_plan_rules(GLOBAL_SCOPE).await.unwrap()),
        ["A", "B"]
    );

    // A user's own dial plan is separate, and goes with the user.
    let u = store.create_user(&user("sip:a@example.com")).await.unwrap();
    let scope = u.id.to_string();
    store
        .insert_dial_plan_rule(&rule(&scope, "A", 0))
        .await
        .unwrap();
    store
        .insert_dial_plan_rule(&rule(&scope, "Mine", 0))
        .await
        .unwrap();
    assert_eq!(
        names(&store.list_dial_plan_rules(&scope).await.unwrap()),
        ["Mine", "A"]
    );
    assert_eq!(
        store
            .list_dial_plan_rules(GLOBAL_SCOPE)
            .await
            .unwrap()
            .len(),
        2
    );
    store.remove_user(u.id).await.unwrap();
    assert!(store.list_dial_plan_rules(&scope).await.unwrap().is_empty());

    let nobody = (u.id + 50).to_string();
    let err = store
        .insert_dial_plan_rule(&rule(&nobody, "X", 0))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user" }),
        "{err:?}"
    );
    for bad in ["Global", "", "01", "-3", "x"] {
        let err = store
            .insert_dial_plan_rule(&rule(bad, "X", 0))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: "scope", .. }),
            "{bad}: {err:?}"
        );
    }
    let err = store
        .insert_dial_plan_rule(&rule(GLOBAL_SCOPE, "X", -1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "position",
                ..
            }
        ),
        "{err:?}"
    );
}

async fn tokens_expire_and_are_revoked(fx: Fixture) {
    let store = fx.open().await;
    let now = 1_700_000_000;
    let u = store.create_user(&user("sip:a@example.com")).await.unwrap();
    let raw: Vec<String> = (0..3).map(|_| generate_token()).collect();
    assert_ne!(raw[0], raw[1]);
    assert_eq!(raw[0].len(), 64);
    let token = |raw: &str, expires_at: i64| TokenRow {
        token_hash: hash_token(raw),
        user_id: u.id,
        created_at: now - 10,
        expires_at,
        revoked: false,
    };
    let live = token(&raw[0], now + 60);
    store.insert_token(&live).await.unwrap();
    store.insert_token(&token(&raw[1], now)).await.unwrap();
    store
        .insert_token(&token(&raw[2], now + 3600))
        .await
        .unwrap();
    let dup = store.insert_token(&live).await.unwrap_err();
    assert!(
        matches!(
            dup,
            StoreError::Conflict {
                field: "token_hash"
            }
        ),
        "{dup:?}"
    );
    let orphan = store
        .insert_token(&TokenRow {
            user_id: u.id + 1,
            ..token("other", now + 60)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(orphan, StoreError::NotFound { what: "user" }),
        "{orphan:?}"
    );

    let found = store
        .find_valid_token(&hash_token(&raw[0]), now)
        .await
        .unwrap();
    assert_eq!(found, Some(live.clone()));
    assert_eq!(
        store
            .find_valid_token(&hash_token(&raw[0]), now + 60)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_valid_token(&hash_token(&raw[1]), now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.find_valid_token(&raw[0], now).await.unwrap(),
        None,
        "raw is not a hash"
    );

    store.revoke_token(&live.token_hash).await.unwrap();
    assert_eq!(
        store.find_valid_token(&live.token_hash, now).await.unwrap(),
        None
    );
    let unknown = store
        .revoke_token(&hash_token("unknown"))
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, StoreError::NotFound { what: "token" }),
        "{unknown:?}"
    );

    assert_eq!(store.revoke_user_tokens(u.id).await.unwrap(), 2);
    assert_eq!(store.revoke_user_tokens(u.id).await.unwrap(), 0);
    let third = hash_token(&raw[2]);
    assert_eq!(store.find_valid_token(&third, now).await.unwrap(), None);

    assert_eq!(store.purge_expired_tokens(now).await.unwrap(), 1);
    assert_eq!(store.purge_expired_tokens(now).await.unwrap(), 0);
    assert_eq!(store.purge_expired_tokens(now + 3600).await.unwrap(), 2);

    // Removing a user removes their tokens.
    let fresh = token("fresh", now + 60);
    store.insert_token(&fresh).await.unwrap();
    store.remove_user(u.id).await.unwrap();
    assert_eq!(store.purge_expired_tokens(i64::MAX).await.unwrap(), 0);
}

async fn login_failures_count_lock_and_reset(fx: Fixture) {
    let store = fx.open().await;
    let policy = LockoutPolicy {
        max_failures: 3,
        window_secs: 300,
        lock_secs: 900,
    };
    let t0 = 1_700_000_000;
    assert_eq!(store.get_login_failure("alice").await.unwrap(), None);
    let first = store
        .record_login_failure("Alice", t0, &policy)
        .await
        .unwrap();
    assert_eq!(
        (
            first.key.as_str(),
            first.failures,
            first.first_failure_at,
            first.locked_until
        ),
        ("alice", 1, t0, None)
    );
    let second = store
        .record_login_failure("ALICE", t0 + 10, &policy)
        .await
        .unwrap();
    assert_eq!(
        (
            second.failures,
            second.first_failure_at,
            second.locked_until
        ),
        (2, t0, None)
    );
    let third = store
        .record_login_failure("alice", t0 + 20, &policy)
        .await
        .unwrap();
    assert_eq!(
        (third.failures, third.locked_until),
        (3, Some(t0 + 20 + 900))
    );
    assert_eq!(
        store.get_login_failure("aLiCe").await.unwrap(),
        Some(third.clone())
    );

    // After the window a new count starts; the old lock stays as it was.
    let later = t0 + 20 + 1000;
    let fresh = store
        .record_login_failure("alice", later, &policy)
        .await
        .unwrap();
    assert_eq!(
        (fresh.failures, fresh.first_failure_at, fresh.locked_until),
        (1, later, third.locked_until)
    );

    store
        .record_login_failure("bob", t0, &policy)
        .await
        .unwrap();
    store.reset_login_failures("ALICE").await.unwrap();
    assert_eq!(store.get_login_failure("alice").await.unwrap(), None);
    assert_eq!(
        store
            .get_login_failure("bob")
            .await
            .unwrap()
            .unwrap()
            .failures,
        1
    );
    store.reset_login_failures("nobody").await.unwrap();

    let strict = LockoutPolicy {
        max_failures: 1,
        ..policy
    };
    let locked = store
        .record_login_failure("carol", t0, &strict)
        .await
        .unwrap();
    assert_eq!(locked.locked_until, Some(t0 + 900));
}

async fn import_is_all_or_nothing_or_good_rows_only(fx: Fixture) {
    let store = fx.open().await;
    store.create_policy(&tag("Tag:Sales")).await.unwrap();
    let rows = vec![
        UserRow {
            policy_grant: Some("Tag:Sales".into()),
            ..user("sip:a@example.com")
        },
        user("sip:A@EXAMPLE.com"),
        UserRow {
            role: "root".into(),
            ..user("sip:c@example.com")
        },
        UserRow {
            policy_grant: Some("Tag:Nope".into()),
            ..user("sip:d@example.com")
        },
        user("sip:b@example.com"),
    ];
    let report = store.import_users(&rows, true).await.unwrap();
    assert!(!report.committed);
    assert_eq!((report.created(), report.failed()), (0, 3));
    assert!(
        matches!(report.rows[0], ImportRowResult::RolledBack),
        "{report:?}"
    );
    assert!(matches!(
        report.rows[1],
        ImportRowResult::Failed(StoreError::Conflict { field: "sip_uri" })
    ));
    assert!(matches!(
        report.rows[2],
        ImportRowResult::Failed(StoreError::Invalid { field: "role", .. })
    ));
    assert!(matches!(
        report.rows[3],
        ImportRowResult::Failed(StoreError::NotFound { what: "policy" })
    ));
    assert!(
        matches!(report.rows[4], ImportRowResult::RolledBack),
        "{report:?}"
    );
    assert_eq!(store.count_users().await.unwrap(), 0);

    let report = store.import_users(&rows, false).await.unwrap();
    assert!(report.committed);
    assert_eq!((report.created(), report.failed()), (2, 3));
    let ImportRowResult::Created { id } = report.rows[0] else {
        panic!("{report:?}")
    };
    let a = store.get_user(id).await.unwrap().unwrap();
    assert_eq!(a.sip_uri, "sip:a@example.com");
    assert_eq!(a.policy_grant.as_deref(), Some("Tag:Sales"));
    assert!(matches!(report.rows[4], ImportRowResult::Created { .. }));
    assert_eq!(store.count_users().await.unwrap(), 2);

    // A clean batch in all-or-nothing mode commits.
    let good: Vec<UserRow> = (0..20)
        .map(|i| user(&format!("sip:bulk{i:02}@example.com")))
        .collect();
    let report = store.import_users(&good, true).await.unwrap();
    assert!(report.committed);
    assert_eq!(report.created(), 20);
    assert_eq!(store.count_users().await.unwrap(), 22);
    let empty = store.import_users(&[], true).await.unwrap();
    assert!(empty.committed && empty.rows.is_empty());
}

/// The CLI and the server on one database: two handles writing at once (for SQLite, the same
/// file in WAL mode, with writers waiting on the busy timeout rather than failing).
async fn two_handles_share_one_database_concurrently(fx: Fixture) {
    let server = fx.open().await;
    let cli = fx.open().await;
    let policy = LockoutPolicy {
        max_failures: 1000,
        window_secs: 3600,
        lock_secs: 60,
    };
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let store = if worker % 2 == 0 {
            server.clone()
        } else {
            cli.clone()
        };
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let u = store
                    .create_user(&user(&format!("sip:w{worker}-{i}@example.com")))
                    .await?;
                store.set_policy_grant(u.id, None).await?;
                store
                    .record_login_failure("shared", 1_700_000_000, &policy)
                    .await?;
                let name = format!("w{worker}-{i}");
                store
                    .insert_dial_plan_rule(&rule(GLOBAL_SCOPE, &name, i % 3))
                    .await?;
                store.list_users(None, 5).await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for t in tasks {
        if let Err(e) = t.await.expect("task") {
            panic!("concurrent use failed: {e:?}");
        }
    }
    assert_eq!(server.count_users().await.unwrap(), 80);
    assert_eq!(cli.count_users().await.unwrap(), 80);
    let shared = cli.get_login_failure("shared").await.unwrap().unwrap();
    assert_eq!(shared.failures, 80, "every concurrent failure is counted");
    let rules = server.list_dial_plan_rules(GLOBAL_SCOPE).await.unwrap();
    let positions: Vec<i64> = rules.iter().map(|r| r.position).collect();
    assert_eq!(positions, (0..rules.len() as i64).collect::<Vec<_>>());
    assert_eq!(rules.len(), 80);
    if fx.backend == Backend::Sqlite {
        let path = fx.url.trim_start_matches("sqlite://");
        assert!(
            std::path::Path::new(&format!("{path}-wal")).exists(),
            "WAL file"
        );
        let mut c = sqlx::SqliteConnection::connect(&fx.url).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }
}

#[tokio::test]
async fn open_refuses_unknown_schemes_and_reports_unreachable_servers() {
    let err = store::open("mysql://localhost/viawork")
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, StoreError::Invalid { field: "url", .. }),
        "{err:?}"
    );
    let err = store::open("sqlite://").await.err().unwrap();
    assert!(
        matches!(err, StoreError::Invalid { field: "url", .. }),
        "{err:?}"
    );
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let err = store::open("postgres://postgres@127.0.0.1:1/viawork")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn sqlite_creates_missing_parent_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/viawork.db");
    let store = store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    store.ping().await.unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn sqlite_in_memory_is_one_private_database() {
    let a = store::open("sqlite::memory:").await.unwrap();
    let b = store::open("sqlite::memory:").await.unwrap();
    a.create_user(&user("sip:a@example.com")).await.unwrap();
    // Concurrent readers of one handle see the same database (one shared connection).
    let (x, y, z) = tokio::join!(a.count_users(), a.count_users(), a.count_users());
    assert_eq!((x.unwrap(), y.unwrap(), z.unwrap()), (1, 1, 1));
    assert_eq!(b.count_users().await.unwrap(), 0);
    assert!(a.get_policy(GLOBAL_POLICY).await.unwrap().is_some());
}

// ---- call log ------------------------------------------------------------------------------

/// A live outbound call of `owner` placed at `created_at` (ms).
fn call(id: &str, owner: &str, created_at: i64) -> CallRecordRow {
    CallRecordRow {
        id: id.into(),
        owner_sip_uri: owner.into(),
        direction: "outbound".into(),
        to_text: "Bob".into(),
        to_number: "+14255550123".into(),
        callback_number: "+14255550100".into(),
        created_at,
        ..CallRecordRow::default()
    }
}

/// `call` once it ended, connected for a minute.
fn ended(mut row: CallRecordRow, reason: &str) -> CallRecordRow {
    row.end_reason = Some(reason.into());
    row.hung_up_by = Some("far_end".into());
    row.callback_answered_at = Some(row.created_at + 3_000);
    row.connected_at = Some(row.created_at + 5_000);
    row.ended_at = Some(row.created_at + 65_000);
    row
}

/// A 32-hex-digit call id from a number.
fn call_id(n: u32) -> String {
    format!("{n:032x}")
}

fn all_calls(limit: u32) -> CallLogQuery {
    CallLogQuery {
        limit,
        ..CallLogQuery::default()
    }
}

async fn call_records_are_inserted_then_updated_and_rewrites_are_idempotent(fx: Fixture) {
    let store = fx.open().await;
    let live = call(&call_id(1), "sip:Alice@Example.com", 1_714_555_800_000);
    store
        .upsert_call_records(std::slice::from_ref(&live))
        .await
        .unwrap();
    let stored = store.list_call_records(&all_calls(10)).await.unwrap();
    let lower = CallRecordRow {
        owner_sip_uri: "sip:alice@example.com".into(),
        ..live.clone()
    };
    assert_eq!(stored, vec![lower.clone()], "owner stored lower-case");

    let done = CallRecordRow {
        callback_sip_call_id: Some("cb-1@viawork".into()),
        far_sip_call_id: Some("far-1@viawork".into()),
        media_stats: Some(r#"{"callback":{"packets":3000,"lost":2,"jitter_ms":4.5}}"#.into()),
        ..ended(lower.clone(), "completed")
    };
    store
        .upsert_call_records(std::slice::from_ref(&done))
        .await
        .unwrap();
    store
        .upsert_call_records(std::slice::from_ref(&done))
        .await
        .unwrap();
    let stored = store.list_call_records(&all_calls(10)).await.unwrap();
    assert_eq!(stored, vec![done.clone()], "updated in place, once");

    // A batch with a new row and an update of another is one transaction.
    let second = call(&call_id(2), "sip:bob@example.com", 1_714_555_900_000);
    store
        .upsert_call_records(&[second.clone(), done.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.list_call_records(&all_calls(10)).await.unwrap(),
        vec![second.clone(), done.clone()]
    );
    // A refused row fails the whole batch: nothing of it is written.
    let third = call(&call_id(3), "sip:carol@example.com", 1_714_556_000_000);
    let bad = CallRecordRow {
        to_text: "nul\0".into(),
        ..call(&call_id(4), "sip:dan@example.com", 1)
    };
    let err = store.upsert_call_records(&[third, bad]).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "to_text",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        store.list_call_records(&all_calls(10)).await.unwrap().len(),
        2
    );
    store.upsert_call_records(&[]).await.unwrap();
}

async fn an_ended_call_record_is_never_reopened(fx: Fixture) {
    let store = fx.open().await;
    let live = call(&call_id(1), "sip:alice@example.com", 1_000);
    let done = ended(live.clone(), "far_end_busy");
    store
        .upsert_call_records(std::slice::from_ref(&done))
        .await
        .unwrap();
    // A late "still live" write, alone or in a batch, changes nothing.
    store
        .upsert_call_records(std::slice::from_ref(&live))
        .await
        .unwrap();
    store
        .upsert_call_records(&[CallRecordRow {
            to_text: "changed".into(),
            ..live.clone()
        }])
        .await
        .unwrap();
    assert_eq!(
        store.list_call_records(&all_calls(10)).await.unwrap(),
        vec![done.clone()]
    );
    // A write that still carries ended_at does update (e.g. media statistics added).
    let with_stats = CallRecordRow {
        media_stats: Some("{}".into()),
        ..done
    };
    store
        .upsert_call_records(std::slice::from_ref(&with_stats))
        .await
        .unwrap();
    assert_eq!(
        store.list_call_records(&all_calls(10)).await.unwrap(),
        vec![with_stats.clone()]
    );
    // Several writes of one call in one batch end as they would one by one: a new call
    // that starts and ends in the batch is stored ended even when a late live write
    // follows; the last ended write wins.
    let fresh = call(&call_id(2), "sip:bob@example.com", 2_000);
    let fresh_done = ended(fresh.clone(), "completed");
    let fresh_busy = ended(fresh.clone(), "far_end_busy");
    store
        .upsert_call_records(&[fresh.clone(), fresh_done, fresh_busy.clone(), fresh.clone()])
        .await
        .unwrap();
    store
        .upsert_call_records(&[fresh.clone(), with_stats.clone(), fresh])
        .await
        .unwrap();
    assert_eq!(
        store.list_call_records(&all_calls(10)).await.unwrap(),
        vec![fresh_busy, with_stats]
    );
}

async fn a_large_call_record_batch_is_written_whole(fx: Fixture) {
    let store = fx.open().await;
    // More rows than one statement carries: every one is written, in one transaction.
    let rows: Vec<CallRecordRow> = (0..600)
        .map(|n| {
            call(
                &call_id(n + 1),
                "sip:alice@example.com",
                1_000 + i64::from(n),
            )
        })
        .collect();
    store.upsert_call_records(&rows).await.unwrap();
    let ended_rows: Vec<CallRecordRow> =
        rows.iter().map(|r| ended(r.clone(), "completed")).collect();
    store.upsert_call_records(&ended_rows).await.unwrap();
    let mut stored = store.list_call_records(&all_calls(1000)).await.unwrap();
    stored.sort_by_key(|r| r.created_at);
    let mut want: Vec<CallRecordRow> = ended_rows
        .into_iter()
        .map(|r| CallRecordRow {
            owner_sip_uri: r.owner_sip_uri.to_lowercase(),
            ..r
        })
        .collect();
    want.sort_by_key(|r| r.created_at);
    assert_eq!(stored.len(), 600);
    assert_eq!(stored, want);
}

async fn open_call_records_are_closed_as_failed_by_system(fx: Fixture) {
    let store = fx.open().await;
    let a = call(&call_id(1), "sip:alice@example.com", 1_000);
    let b = CallRecordRow {
        connected_at: Some(2_500),
        ..call(&call_id(2), "sip:alice@example.com", 2_000)
    };
    let c = ended(call(&call_id(3), "sip:bob@example.com", 3_000), "completed");
    store
        .upsert_call_records(&[a.clone(), b.clone(), c.clone()])
        .await
        .unwrap();
    assert_eq!(store.close_open_call_records(90_000).await.unwrap(), 2);
    assert_eq!(store.close_open_call_records(95_000).await.unwrap(), 0);
    let closed = |r: CallRecordRow| CallRecordRow {
        end_reason: Some("failed".into()),
        hung_up_by: Some("system".into()),
        ended_at: Some(90_000),
        ..r
    };
    assert_eq!(
        store.list_call_records(&all_calls(10)).await.unwrap(),
        vec![c, closed(b), closed(a)]
    );
}

async fn the_call_log_pages_newest_first_without_duplicates_or_gaps(fx: Fixture) {
    let store = fx.open().await;
    // 57 calls; several share a created_at, so the id breaks the ties.
    let rows: Vec<CallRecordRow> = (0..57)
        .map(|n| {
            call(
                &call_id(n * 7919 % 1000),
                "sip:alice@example.com",
                i64::from(n / 3),
            )
        })
        .collect();
    store.upsert_call_records(&rows).await.unwrap();
    let mut expected = rows.clone();
    expected.sort_by(|x, y| (y.created_at, &y.id).cmp(&(x.created_at, &x.id)));
    for limit in [1, 5, 10, 57, 100] {
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .list_call_records(&CallLogQuery {
                    before: before.clone(),
                    limit,
                    ..CallLogQuery::default()
                })
                .await
                .unwrap();
            assert!(page.len() <= limit as usize);
            let Some(last) = page.last() else { break };
            before = Some((last.created_at, last.id.clone()));
            seen.extend(page);
        }
        assert_eq!(seen, expected, "limit {limit}");
    }
    // A call placed while paging (newer than the cursor) does not shift later pages.
    let first = store.list_call_records(&all_calls(10)).await.unwrap();
    let last = first.last().unwrap();
    store
        .upsert_call_records(&[call(&call_id(5000), "sip:alice@example.com", 1_000)])
        .await
        .unwrap();
    let next = store
        .list_call_records(&CallLogQuery {
            before: Some((last.created_at, last.id.clone())),
            limit: 10,
            ..CallLogQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(next, expected[10..20]);
}

async fn the_call_log_filters_by_owner_time_and_end_reason(fx: Fixture) {
    let store = fx.open().await;
    let alice = "sip:alice@example.com";
    let bob = "sip:bob@example.com";
    let rows = vec![
        ended(call(&call_id(1), alice, 1_000), "completed"),
        ended(call(&call_id(2), bob, 2_000), "completed"),
        ended(call(&call_id(3), alice, 3_000), "far_end_busy"),
        call(&call_id(4), alice, 4_000),
        ended(call(&call_id(5), bob, 5_000), "far_end_busy"),
    ];
    store.upsert_call_records(&rows).await.unwrap();
    let ids = |q: CallLogQuery| {
        let store = store.clone();
        async move {
            store
                .list_call_records(&CallLogQuery { limit: 100, ..q })
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    let of = |ns: &[u32]| ns.iter().map(|n| call_id(*n)).collect::<Vec<_>>();
    let owner = |o: &str| CallLogQuery {
        owner: Some(o.into()),
        ..CallLogQuery::default()
    };
    assert_eq!(ids(owner(alice)).await, of(&[4, 3, 1]));
    assert_eq!(ids(owner("SIP:Bob@Example.COM")).await, of(&[5, 2]));
    assert_eq!(ids(owner("sip:nobody@example.com")).await, of(&[]));
    let window = CallLogQuery {
        since: Some(2_000),
        until: Some(5_000),
        ..CallLogQuery::default()
    };
    assert_eq!(
        ids(window.clone()).await,
        of(&[4, 3, 2]),
        "since inclusive, until not"
    );
    let reason = CallLogQuery {
        end_reason: Some("far_end_busy".into()),
        ..CallLogQuery::default()
    };
    assert_eq!(ids(reason.clone()).await, of(&[5, 3]));
    let all = CallLogQuery {
        owner: Some(alice.into()),
        before: Some((4_000, call_id(4))),
        ..window
    };
    assert_eq!(ids(all.clone()).await, of(&[3]));
    assert_eq!(
        ids(CallLogQuery {
            end_reason: Some("completed".into()),
            ..all
        })
        .await,
        of(&[])
    );
    // Filter values are bound, never spliced into the SQL.
    assert_eq!(ids(owner("x' OR '1'='1")).await, of(&[]));
}

async fn call_log_limits_and_values_are_validated_naming_the_field(fx: Fixture) {
    let store = fx.open().await;
    for limit in [0, 1001] {
        let err = store
            .list_call_records(&all_calls(limit))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: "limit", .. }),
            "{limit}: {err:?}"
        );
    }
    store.list_call_records(&all_calls(1000)).await.unwrap();
    let row = call(&call_id(1), "sip:alice@example.com", 1);
    let refused = [
        (
            "id",
            CallRecordRow {
                id: String::new(),
                ..row.clone()
            },
        ),
        (
            "id",
            CallRecordRow {
                id: "a".repeat(65),
                ..row.clone()
            },
        ),
        (
            "owner_sip_uri",
            CallRecordRow {
                owner_sip_uri: " ".into(),
                ..row.clone()
            },
        ),
        (
            "direction",
            CallRecordRow {
                direction: String::new(),
                ..row.clone()
            },
        ),
        (
            "to_text",
            CallRecordRow {
                to_text: "x".repeat(2049),
                ..row.clone()
            },
        ),
        (
            "to_number",
            CallRecordRow {
                to_number: "\0".into(),
                ..row.clone()
            },
        ),
        (
            "end_reason",
            CallRecordRow {
                end_reason: Some("x".repeat(65)),
                ..row.clone()
            },
        ),
        (
            "media_stats",
            CallRecordRow {
                media_stats: Some("x".repeat(65 * 1024)),
                ..row.clone()
            },
        ),
    ];
    for (field, bad) in refused {
        let err = store.upsert_call_records(&[bad]).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid { field: f, .. } if *f == field),
            "{field}: {err:?}"
        );
    }
    assert!(store
        .list_call_records(&all_calls(10))
        .await
        .unwrap()
        .is_empty());
    // Unicode and SQL-looking text round-trip verbatim.
    let odd = CallRecordRow {
        to_text: "王秀英'; DROP TABLE call_log; --".into(),
        ..row
    };
    store
        .upsert_call_records(std::slice::from_ref(&odd))
        .await
        .unwrap();
    assert_eq!(
        store.list_call_records(&all_calls(10)).await.unwrap(),
        vec![odd]
    );
}

async fn change_seq_moves_with_every_cached_kind_of_change_from_any_handle(fx: Fixture) {
    let server = fx.open().await;
    // The admin CLI is another handle on the same database.
    let cli = fx.open().await;
    let mut last = server.change_seq().await.unwrap();
    let u = cli.create_user(&user("sip:a@example.com")).await.unwrap();
    moved(&mut last, "create user", server.change_seq().await.unwrap());
    let mut edited = u.clone();
    edited.display_name = "Renamed".into();
    cli.update_user(&edited).await.unwrap();
    moved(&mut last, "update user", server.change_seq().await.unwrap());
    cli.create_policy(&tag("Tag:Sales")).await.unwrap();
    moved(
        &mut last,
        "create policy",
        server.change_seq().await.unwrap(),
    );
    cli.set_policy_grant(u.id, Some("Tag:Sales")).await.unwrap();
    moved(&mut last, "grant", server.change_seq().await.unwrap());
    cli.set_routing(&RoutingRow {
        call_via_work_caller_id: Some("+15551234567".into()),
    })
    .await
    .unwrap();
    moved(&mut last, "routing", server.change_seq().await.unwrap());
    let r = cli
        .insert_dial_plan_rule(&rule(GLOBAL_SCOPE, "four", 0))
        .await
        .unwrap();
    moved(&mut last, "insert rule", server.change_seq().await.unwrap());
    cli.remove_dial_plan_rule(r.id).await.unwrap();
    moved(&mut last, "remove rule", server.change_seq().await.unwrap());

    // Issuing a token and reading are not changes; revoking is.
    let raw = generate_token();
    cli.insert_token(&TokenRow {
        token_hash: hash_token(&raw),
        user_id: u.id,
        created_at: 1_700_000_000,
        expires_at: 1_700_003_600,
        revoked: false,
    })
    .await
    .unwrap();
    cli.find_valid_token(&hash_token(&raw), 1_700_000_001)
        .await
        .unwrap();
    cli.list_users(None, 10).await.unwrap();
    assert_eq!(server.change_seq().await.unwrap(), last, "no change");
    cli.revoke_token(&hash_token(&raw)).await.unwrap();
    moved(
        &mut last,
        "revoke token",
        server.change_seq().await.unwrap(),
    );
    cli.remove_policy("Tag:Sales").await.unwrap();
    moved(
        &mut last,
        "remove policy",
        server.change_seq().await.unwrap(),
    );
    cli.remove_user(u.id).await.unwrap();
    moved(&mut last, "remove user", server.change_seq().await.unwrap());
}

/// Asserts that the change counter moved past `last` and remembers where it is.
fn moved(last: &mut i64, what: &str, now: i64) {
    assert!(now > *last, "{what}: change_seq stayed at {last}");
    *last = now;
}

async fn conversations_messages_deliveries_calls_and_blobs_round_trip(fx: Fixture) {
    use viawork::store::{BlobRow, ConversationRow, MessageRow};
    let store = fx.open().await;
    let a = store.create_user(&user("sip:a@example.com")).await.unwrap();
    let b = store.create_user(&user("sip:b@example.com")).await.unwrap();
    let c = store.create_user(&user("sip:c@example.com")).await.unwrap();
    let conv = ConversationRow {
        id: "c1".into(),
        subject: "Plans — ünïcode".into(),
        created_by: a.sip_uri.clone(),
        created_at: 1_000,
        updated_at: 1_000,
    };
    store
        .create_conversation(&conv, &[a.id, b.id])
        .await
        .unwrap();
    assert!(matches!(
        store.create_conversation(&conv, &[a.id]).await,
        Err(StoreError::Conflict { field: "id" })
    ));
    assert!(matches!(
        store
            .create_conversation(
                &ConversationRow {
                    id: "c2".into(),
                    ..conv.clone()
                },
                &[999]
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.get_conversation("c1").await.unwrap().unwrap(), conv);
    let people = store.list_participants("c1").await.unwrap();
    assert_eq!(
        people
            .iter()
            .map(|p| p.sip_uri.as_str())
            .collect::<Vec<_>>(),
        ["sip:a@example.com", "sip:b@example.com"]
    );

    // Messages: ids increase, pages go newest first, deliveries start pending.
    let mut ids = Vec::new();
    for i in 0..3 {
        let m = store
            .insert_message(
                &MessageRow {
                    conversation_id: "c1".into(),
                    sender_sip_uri: a.sip_uri.clone(),
                    format: "plain".into(),
                    body: format!("m{i}"),
                    created_at: 2_000 + i,
                    ..MessageRow::default()
                },
                &[b.id],
            )
            .await
            .unwrap();
        ids.push(m.id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let page = store.list_messages("c1", None, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["m2", "m1"]
    );
    let older = store
        .list_messages("c1", Some(page[1].id), 2)
        .await
        .unwrap();
    assert_eq!(
        older.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["m0"]
    );
    assert!(matches!(
        store.list_messages("c1", None, 0).await,
        Err(StoreError::Invalid { field: "limit", .. })
    ));
    assert_eq!(
        store
            .get_conversation("c1")
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        2_002
    );
    let pending = store.pending_messages(b.id, 10).await.unwrap();
    assert_eq!(pending.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
    assert!(store.mark_delivered(ids[0], b.id, 3_000).await.unwrap());
    assert!(
        !store.mark_delivered(ids[0], b.id, 3_001).await.unwrap(),
        "once"
    );
    assert_eq!(store.pending_messages(b.id, 10).await.unwrap().len(), 2);
    assert!(store.pending_messages(a.id, 10).await.unwrap().is_empty());
    // Many at once, the already delivered one left as it was.
    store
        .mark_delivered_many(&[(ids[0], b.id), (ids[1], b.id)], 3_100)
        .await
        .unwrap();
    assert_eq!(
        store
            .pending_messages(b.id, 10)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        [ids[2]]
    );
    store.mark_delivered_many(&[], 3_200).await.unwrap();

    // Joining and leaving.
    assert!(store
        .set_participant("c1", c.id, true, 4_000)
        .await
        .unwrap());
    assert!(
        !store
            .set_participant("c1", c.id, true, 4_001)
            .await
            .unwrap(),
        "already in"
    );
    assert_eq!(
        store.list_user_conversations(c.id, 10).await.unwrap().len(),
        1
    );
    assert!(store
        .set_participant("c1", c.id, false, 4_002)
        .await
        .unwrap());
    assert!(store
        .list_user_conversations(c.id, 10)
        .await
        .unwrap()
        .is_empty());
    let left = store.list_participants("c1").await.unwrap();
    assert_eq!(left[2].left_at, Some(4_002));
    assert!(
        store
            .set_participant("c1", c.id, true, 4_003)
            .await
            .unwrap(),
        "back"
    );
    assert_eq!(
        store.list_participants("c1").await.unwrap()[2].left_at,
        None
    );

    // Calls link to one conversation.
    store.link_call("call-1", "c1", 5_000).await.unwrap();
    store.link_call("call-1", "c1", 5_001).await.unwrap();
    store
        .create_conversation(
            &ConversationRow {
                id: "c3".into(),
                ..conv.clone()
            },
            &[a.id],
        )
        .await
        .unwrap();
    assert!(matches!(
        store.link_call("call-1", "c3", 5_002).await,
        Err(StoreError::Conflict { field: "call_id" })
    ));
    assert_eq!(
        store
            .conversation_of_call("call-1")
            .await
            .unwrap()
            .as_deref(),
        Some("c1")
    );
    assert_eq!(store.calls_of_conversation("c1").await.unwrap(), ["call-1"]);

    // Blobs keep their bytes exactly.
    let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let blob = BlobRow {
        id: "b1".into(),
        scope: "conversation:c1".into(),
        owner_id: Some(a.id),
        name: "bytes.bin".into(),
        content_type: "application/octet-stream".into(),
        size: data.len() as i64,
        sha256: "x".into(),
        data: data.clone(),
        created_at: 6_000,
    };
    store.put_blob(&blob).await.unwrap();
    assert_eq!(store.get_blob("b1").await.unwrap().unwrap(), blob);
    assert!(matches!(
        store.put_blob(&blob).await,
        Err(StoreError::Conflict { field: "id" })
    ));
    assert!(store.get_blob("nope").await.unwrap().is_none());

    // Removing a user removes their participation and deliveries, not the history.
    store.remove_user(b.id).await.unwrap();
    assert_eq!(store.list_participants("c1").await.unwrap().len(), 2);
    assert_eq!(store.list_messages("c1", None, 10).await.unwrap().len(), 3);
}

// ---- presence ------------------------------------------------------------------------------

async fn presence_settings_and_blocks_round_trip_and_go_with_their_users(fx: Fixture) {
    let store = fx.open().await;
    let alice = store
        .create_user(&user("sip:alice@example.com"))
        .await
        .unwrap();
    let bob = store
        .create_user(&user("sip:bob@example.com"))
        .await
        .unwrap();
    let carol = store
        .create_user(&user("sip:carol@example.com"))
        .await
        .unwrap();
    assert_eq!(store.get_presence_settings(alice.id).await.unwrap(), None);
    let row = |availability: Option<&str>, note: &str| PresenceSettingsRow {
        user_id: alice.id,
        availability: availability.map(str::to_owned),
        note: note.into(),
        updated_at: 0,
    };
    let stored = store
        .set_presence_settings(&row(Some("Busy"), "Dans le train — 电话"))
        .await
        .unwrap();
    assert!(stored.updated_at > 0);
    assert_eq!(
        store.get_presence_settings(alice.id).await.unwrap(),
        Some(stored)
    );
    // Replaced, back to automatic.
    store.set_presence_settings(&row(None, "")).await.unwrap();
    let got = store
        .get_presence_settings(alice.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.availability, got.note), (None, String::new()));
    // Refused: an availability nobody can choose, a note with NUL, an unknown user.
    for (bad, field) in [
        (row(Some("IdleOnline"), ""), "availability"),
        (row(Some("Busy"), "a\0b"), "note"),
    ] {
        match store.set_presence_settings(&bad).await {
            Err(StoreError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let mut unknown = row(Some("Busy"), "");
    unknown.user_id = 999_999;
    assert!(matches!(
        store.set_presence_settings(&unknown).await,
        Err(StoreError::NotFound { what: "user" })
    ));

    // Blocks: idempotent, listed by SIP URI, not of oneself, not of nobody.
    assert!(store.add_presence_block(alice.id, carol.id).await.unwrap());
    assert!(store.add_presence_block(alice.id, bob.id).await.unwrap());
    assert!(!store.add_presence_block(alice.id, bob.id).await.unwrap());
    let uris: Vec<String> = store
        .list_presence_blocks(alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.blocked_sip_uri)
        .collect();
    assert_eq!(uris, ["sip:bob@example.com", "sip:carol@example.com"]);
    assert!(store.list_presence_blocks(bob.id).await.unwrap().is_empty());
    assert!(matches!(
        store.add_presence_block(alice.id, alice.id).await,
        Err(StoreError::Invalid { field: "uri", .. })
    ));
    assert!(matches!(
        store.add_presence_block(alice.id, 999_999).await,
        Err(StoreError::NotFound { what: "user" })
    ));
    assert!(store
        .remove_presence_block(alice.id, carol.id)
        .await
        .unwrap());
    assert!(!store
        .remove_presence_block(alice.id, carol.id)
        .await
        .unwrap());

    // Removing a user takes their settings, their blocks and the blocks of them.
    store.add_presence_block(bob.id, alice.id).await.unwrap();
    store.remove_user(bob.id).await.unwrap();
    assert!(store
        .list_presence_blocks(alice.id)
        .await
        .unwrap()
        .is_empty());
    store.remove_user(alice.id).await.unwrap();
    assert_eq!(store.get_presence_settings(alice.id).await.unwrap(), None);
}

async fn call_forwarding_settings_round_trip_and_go_with_their_user(fx: Fixture) {
    let store = fx.open().await;
    let a = store.create_user(&user("sip:a@example.com")).await.unwrap();
    assert_eq!(store.get_call_forwarding(a.id).await.unwrap(), None);
    store
        .set_call_forwarding(a.id, r#"{"active":"off"}"#, 1_000)
        .await
        .unwrap();
    store
        .set_call_forwarding(a.id, r#"{"active":"simultaneous_ring"}"#, 2_000)
        .await
        .unwrap();
    assert_eq!(
        store.get_call_forwarding(a.id).await.unwrap(),
        Some((r#"{"active":"simultaneous_ring"}"#.to_owned(), 2_000))
    );
    assert!(matches!(
        store.set_call_forwarding(999_999, "{}", 1).await,
        Err(StoreError::NotFound { what: "user" })
    ));
    store.remove_user(a.id).await.unwrap();
    assert_eq!(store.get_call_forwarding(a.id).await.unwrap(), None);
}

async fn users_version_moves_with_every_user_change_and_only_then(fx: Fixture) {
    let store = fx.open().await;
    let empty = store.users_version().await.unwrap();
    assert_eq!(empty, UsersVersion::default());
    let a = store.create_user(&user("sip:a@example.com")).await.unwrap();
    let one = store.users_version().await.unwrap();
    assert!(one > empty, "insert");
    let mut edited = a.clone();
    edited.display_name = "Renamed".into();
    let edited = store.update_user(&edited).await.unwrap();
    let updated = store.users_version().await.unwrap();
    assert!(updated > one, "update");
    // Not user changes.
    store.create_policy(&tag("Tag:Sales")).await.unwrap();
    let raw = generate_token();
    store
        .insert_token(&TokenRow {
            token_hash: hash_token(&raw),
            user_id: a.id,
            created_at: 1,
            expires_at: 2,
            revoked: false,
        })
        .await
        .unwrap();
    store.revoke_token(&hash_token(&raw)).await.unwrap();
    assert_eq!(store.users_version().await.unwrap(), updated);
    store.remove_user(edited.id).await.unwrap();
    let removed = store.users_version().await.unwrap();
    assert!(removed > updated, "delete");
    // Another handle (the admin CLI) moves it too.
    let cli = fx.open().await;
    cli.create_user(&user("sip:b@example.com")).await.unwrap();
    assert!(
        store.users_version().await.unwrap() > removed,
        "insert by another handle"
    );
}

async fn contacts_are_added_listed_with_groups_and_removed(fx: Fixture) {
    let store = fx.open().await;
    let me = store
        .create_user(&user("sip:me@example.com"))
        .await
        .unwrap();
    let bob = store
        .create_user(&user("sip:bob@example.com"))
        .await
        .unwrap();
    assert!(store.list_contacts(me.id).await.unwrap().is_empty());
    let team = store.create_contact_group(me.id, "Team").await.unwrap();
    let pals = store.create_contact_group(me.id, "Pals").await.unwrap();
    assert_eq!(team.name, "Team");
    assert_eq!(
        store
            .list_contact_groups(me.id)
            .await
            .unwrap()
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>(),
        ["Team", "Pals"]
    );

    let added = store
        .add_contact(
            me.id,
            &ContactTarget::User(bob.id),
            "",
            &[pals.id, team.id, team.id],
        )
        .await
        .unwrap();
    assert_eq!(added.uri, "sip:bob@example.com");
    assert_eq!(added.user_id, Some(bob.id));
    let mut both = vec![team.id, pals.id];
    both.sort();
    assert_eq!(added.groups, both);
    let phone = store
        .add_contact(
            me.id,
            &ContactTarget::Phone("tel:+14255550199".into()),
            "Taxi",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(phone.uri, "tel:+14255550199");
    assert_eq!(store.count_contacts(me.id).await.unwrap(), 2);

    let list = store.list_contacts(me.id).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0], added);
    assert_eq!(list[1].uri, "tel:+14255550199");
    assert_eq!(list[1].name, "Taxi");
    assert!(list[1].groups.is_empty());

    store
        .remove_contact_from_group(me.id, team.id, "sip:bob@example.com")
        .await
        .unwrap();
    assert!(matches!(
        store
            .remove_contact_from_group(me.id, team.id, "sip:bob@example.com")
            .await,
        Err(StoreError::NotFound { what: "membership" })
    ));
    store
        .add_contact_to_group(me.id, team.id, "tel:+14255550199")
        .await
        .unwrap();
    store
        .add_contact_to_group(me.id, team.id, "tel:+14255550199")
        .await
        .expect("already in the group is fine");
    let list = store.list_contacts(me.id).await.unwrap();
    assert_eq!(list[0].groups, [pals.id]);
    assert_eq!(list[1].groups, [team.id]);

    let renamed = store
        .rename_contact_group(me.id, team.id, "Work")
        .await
        .unwrap();
    assert_eq!((renamed.id, renamed.name.as_str()), (team.id, "Work"));
    // Removing a group keeps its contacts.
    store.remove_contact_group(me.id, team.id).await.unwrap();
    let list = store.list_contacts(me.id).await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(list[1].groups.is_empty());

    // SIP URIs are matched whatever their case.
    store
        .remove_contact(me.id, "sip:BOB@example.com")
        .await
        .unwrap();
    store
        .remove_contact(me.id, "tel:+14255550199")
        .await
        .unwrap();
    assert!(store.list_contacts(me.id).await.unwrap().is_empty());
    assert!(matches!(
        store.remove_contact(me.id, "tel:+14255550199").await,
        Err(StoreError::NotFound { what: "contact" })
    ));
}

async fn contacts_are_unique_per_owner_and_need_existing_users_and_groups(fx: Fixture) {
    let store = fx.open().await;
    let me = store
        .create_user(&user("sip:me@example.com"))
        .await
        .unwrap();
    let you = store
        .create_user(&user("sip:you@example.com"))
        .await
        .unwrap();
    let bob = store
        .create_user(&user("sip:bob@example.com"))
        .await
        .unwrap();
    let bob_target = ContactTarget::User(bob.id);
    let taxi = ContactTarget::Phone("tel:+14255550199".into());
    store
        .add_contact(me.id, &bob_target, "", &[])
        .await
        .unwrap();
    store.add_contact(me.id, &taxi, "", &[]).await.unwrap();
    assert!(matches!(
        store.add_contact(me.id, &bob_target, "", &[]).await,
        Err(StoreError::Conflict { field: "uri" })
    ));
    assert!(matches!(
        store.add_contact(me.id, &taxi, "Other name", &[]).await,
        Err(StoreError::Conflict { field: "uri" })
    ));
    // Someone else's list is their own.
    store
        .add_contact(you.id, &bob_target, "", &[])
        .await
        .unwrap();
    store.add_contact(you.id, &taxi, "", &[]).await.unwrap();
    assert!(matches!(
        store
            .add_contact(me.id, &ContactTarget::User(bob.id + 1000), "", &[])
            .await,
        Err(StoreError::NotFound { what: "user" })
    ));
    // A group of someone else, or none: nothing is added.
    let yours = store.create_contact_group(you.id, "Yours").await.unwrap();
    let carol = store
        .create_user(&user("sip:carol@example.com"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .add_contact(me.id, &ContactTarget::User(carol.id), "", &[yours.id])
            .await,
        Err(StoreError::NotFound { what: "group" })
    ));
    assert!(matches!(
        store
            .add_contact(
                me.id,
                &ContactTarget::User(carol.id),
                "",
                &[yours.id + 1000]
            )
            .await,
        Err(StoreError::NotFound { what: "group" })
    ));
    assert_eq!(store.count_contacts(me.id).await.unwrap(), 2, "rolled back");
    assert!(matches!(
        store
            .add_contact(me.id, &ContactTarget::Phone("tel:+1\u{0}".into()), "", &[])
            .await,
        Err(StoreError::Invalid { field: "uri", .. })
    ));
}

async fn contact_groups_are_unique_per_owner_whatever_the_case(fx: Fixture) {
    let store = fx.open().await;
    let me = store
        .create_user(&user("sip:me@example.com"))
        .await
        .unwrap();
    let you = store
        .create_user(&user("sip:you@example.com"))
        .await
        .unwrap();
    let team = store.create_contact_group(me.id, "Team").await.unwrap();
    assert!(matches!(
        store.create_contact_group(me.id, "TEAM").await,
        Err(StoreError::Conflict { field: "name" })
    ));
    store.create_contact_group(you.id, "team").await.unwrap();
    let other = store.create_contact_group(me.id, "Équipe").await.unwrap();
    assert!(matches!(
        store.create_contact_group(me.id, "éQUIPE").await,
        Err(StoreError::Conflict { field: "name" })
    ));
    assert!(matches!(
        store.rename_contact_group(me.id, other.id, "team").await,
        Err(StoreError::Conflict { field: "name" })
    ));
    // A new case of its own name is a rename.
    assert_eq!(
        store
            .rename_contact_group(me.id, team.id, "TEAM")
            .await
            .unwrap()
            .name,
        "TEAM"
    );
    assert!(matches!(
        store.create_contact_group(me.id, "  ").await,
        Err(StoreError::Invalid { field: "name", .. })
    ));
    assert!(matches!(
        store.rename_contact_group(you.id, team.id, "Mine").await,
        Err(StoreError::NotFound { what: "group" })
    ));
    assert!(matches!(
        store.remove_contact_group(you.id, team.id).await,
        Err(StoreError::NotFound { what: "group" })
    ));
    assert_eq!(store.list_contact_groups(me.id).await.unwrap().len(), 2);
}

async fn contact_group_membership_is_per_owner(fx: Fixture) {
    let store = fx.open().await;
    let me = store
        .create_user(&user("sip:me@example.com"))
        .await
        .unwrap();
    let you = store
        .create_user(&user("sip:you@example.com"))
        .await
        .unwrap();
    let bob = store
        .create_user(&user("sip:bob@example.com"))
        .await
        .unwrap();
    store
        .add_contact(you.id, &ContactTarget::User(bob.id), "", &[])
        .await
        .unwrap();
    let mine = store.create_contact_group(me.id, "Mine").await.unwrap();
    let yours = store.create_contact_group(you.id, "Yours").await.unwrap();
    // Bob is on your list, not mine.
    assert!(matches!(
        store
            .add_contact_to_group(me.id, mine.id, "sip:bob@example.com")
            .await,
        Err(StoreError::NotFound { what: "contact" })
    ));
    // Your group is not mine.
    assert!(matches!(
        store
            .add_contact_to_group(me.id, yours.id, "sip:bob@example.com")
            .await,
        Err(StoreError::NotFound { what: "group" })
    ));
    store
        .add_contact_to_group(you.id, yours.id, "sip:bob@example.com")
        .await
        .unwrap();
    assert_eq!(
        store.list_contacts(you.id).await.unwrap()[0].groups,
        [yours.id]
    );
}

async fn removing_a_user_removes_their_list_and_them_from_other_lists(fx: Fixture) {
    let store = fx.open().await;
    let me = store
        .create_user(&user("sip:me@example.com"))
        .await
        .unwrap();
    let bob = store
        .create_user(&user("sip:bob@example.com"))
        .await
        .unwrap();
    let carol = store
        .create_user(&user("sip:carol@example.com"))
        .await
        .unwrap();
    let team = store.create_contact_group(me.id, "Team").await.unwrap();
    store
        .add_contact(me.id, &ContactTarget::User(bob.id), "", &[team.id])
        .await
        .unwrap();
    store
        .add_contact(me.id, &ContactTarget::User(carol.id), "", &[team.id])
        .await
        .unwrap();
    store
        .add_contact(bob.id, &ContactTarget::User(carol.id), "", &[])
        .await
        .unwrap();
    store.create_contact_group(bob.id, "Bob's").await.unwrap();
    store.remove_user(bob.id).await.unwrap();
    let list = store.list_contacts(me.id).await.unwrap();
    assert_eq!(
        list.iter().map(|c| c.uri.as_str()).collect::<Vec<_>>(),
        ["sip:carol@example.com"]
    );
    assert_eq!(list[0].groups, [team.id]);
    assert!(store.list_contacts(bob.id).await.unwrap().is_empty());
    assert!(store.list_contact_groups(bob.id).await.unwrap().is_empty());
    // Bob's id is never reused, so nothing of his comes back with a new user.
    let dave = store
        .create_user(&user("sip:dave@example.com"))
        .await
        .unwrap();
    assert!(store.list_contact_groups(dave.id).await.unwrap().is_empty());
}

fn meeting(id: &str, organizer_id: i64, conference_id: &str, starts_at: Option<i64>) -> MeetingRow {
    MeetingRow {
        id: id.into(),
        organizer_id,
        organizer: String::new(),
        conference_id: conference_id.into(),
        subject: format!("subject {id}"),
        description: "desc".into(),
        starts_at,
        ends_at: starts_at.map(|s| s + 3_600_000),
        expires_at: starts_at.unwrap_or(0) + 10_000_000,
        ad_hoc: starts_at.is_none(),
        settings: r#"{"attendees":[]}"#.into(),
        created_at: 1_000,
        updated_at: 1_000,
    }
}

async fn meetings_round_trip_with_unique_conference_ids_and_optimistic_updates(fx: Fixture) {
    let store = fx.open().await;
    let a = store.create_user(&user("sip:a@example.com")).await.unwrap();
    let b = store.create_user(&user("sip:b@example.com")).await.unwrap();
    let later = meeting("m2", a.id, "2222222", Some(50_000_000));
    let sooner = meeting("m1", a.id, "1111111", Some(20_000_000));
    let now = meeting("m3", a.id, "3333333", None);
    for m in [&later, &now, &sooner] {
        store.create_meeting(m).await.unwrap();
    }
    store
        .create_meeting(&meeting("m4", b.id, "4444444", Some(1)))
        .await
        .unwrap();
    // A taken conference ID is a conflict the service retries; an unknown organizer is
    // not found.
    assert!(matches!(
        store
            .create_meeting(&meeting("m5", b.id, "1111111", None))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store
            .create_meeting(&meeting("m6", 999_999, "6666666", None))
            .await,
        Err(StoreError::NotFound { what: "user" })
    ));
    let got = store.get_meeting("m1").await.unwrap().expect("m1");
    assert_eq!(
        got,
        MeetingRow {
            organizer: "sip:a@example.com".into(),
            ..sooner.clone()
        }
    );
    let by_cid = store.get_meeting_by_conference_id("2222222").await.unwrap();
    assert_eq!(by_cid.map(|m| m.id), Some("m2".to_owned()));
    assert_eq!(store.get_meeting_by_conference_id("9").await.unwrap(), None);
    let ids: Vec<String> = store
        .list_meetings(a.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, ["m1", "m2", "m3"], "scheduled by start, Meet Now last");
    assert_eq!(store.list_meetings(a.id, 2).await.unwrap().len(), 2);
    assert_eq!(store.count_meetings(a.id).await.unwrap(), 3);

    let changed = MeetingRow {
        subject: "new".into(),
        settings: r#"{"attendees":["sip:b@example.com"]}"#.into(),
        updated_at: 2_000,
        ..got.clone()
    };
    assert!(store.update_meeting(&changed, 1_000).await.unwrap());
    // A writer still holding the old version loses.
    assert!(matches!(
        store.update_meeting(&changed, 1_000).await,
        Err(StoreError::Conflict {
            field: "updated_at"
        })
    ));
    let again = store.get_meeting("m1").await.unwrap().expect("m1");
    assert_eq!((again.subject.as_str(), again.updated_at), ("new", 2_000));
    assert_eq!(
        again.conference_id, "1111111",
        "the conference ID never changes"
    );
    assert!(!store
        .update_meeting(&meeting("nope", a.id, "1", None), 1)
        .await
        .unwrap());

    assert!(store.delete_meeting("m2").await.unwrap());
    assert!(!store.delete_meeting("m2").await.unwrap());
    // m3 expires at 10_000_000, m4 at 10_000_001; m1 later.
    assert_eq!(store.delete_expired_meetings(10_000_001).await.unwrap(), 1);
    assert_eq!(store.get_meeting("m3").await.unwrap(), None);
    // Meetings go with their organizer.
    store.remove_user(b.id).await.unwrap();
    assert_eq!(store.get_meeting("m4").await.unwrap(), None);
    assert_eq!(store.count_meetings(a.id).await.unwrap(), 1);
}

async fn pin_lockout_counters_round_trip_and_go_with_their_user(fx: Fixture) {
    let store = fx.open().await;
    let a = store.create_user(&user("sip:a@example.com")).await.unwrap();
    assert_eq!(store.get_pin_lockout(a.id).await.unwrap(), None);
    let row = PinLockoutRow {
        window_start: 10,
        window_failures: 3,
        total_failures: 7,
        locked_until: Some(99),
        locked_out: false,
    };
    store.set_pin_lockout(a.id, Some(&row), 11).await.unwrap();
    let locked = PinLockoutRow {
        locked_out: true,
        locked_until: None,
        ..row
    };
    store
        .set_pin_lockout(a.id, Some(&locked), 12)
        .await
        .unwrap();
    assert_eq!(store.get_pin_lockout(a.id).await.unwrap(), Some(locked));
    store.set_pin_lockout(a.id, None, 13).await.unwrap();
    assert_eq!(store.get_pin_lockout(a.id).await.unwrap(), None);
    store.set_pin_lockout(a.id, Some(&row), 14).await.unwrap();
    assert!(matches!(
        store.set_pin_lockout(999_999, Some(&row), 1).await,
        Err(StoreError::NotFound { what: "user" })
    ));
    store.remove_user(a.id).await.unwrap();
    assert_eq!(store.get_pin_lockout(a.id).await.unwrap(), None);
}

async fn recordings_round_trip_and_go_with_their_organizer(fx: Fixture) {
    let store = fx.open().await;
    let a = store.create_user(&user("sip:a@example.com")).await.unwrap();
    let rec = |id: &str, started_at: i64| RecordingRow {
        id: id.into(),
        meeting_id: "m1".into(),
        organizer_id: a.id,
        subject: "Weekly".into(),
        viewers: r#"["sip:a@example.com"]"#.into(),
        file: format!("{id}.wav"),
        started_at,
        ended_at: None,
        duration_ms: 0,
        bytes: 0,
    };
    store.create_recording(&rec("r2", 2_000)).await.unwrap();
    store.create_recording(&rec("r1", 1_000)).await.unwrap();
    assert!(matches!(
        store.create_recording(&rec("r1", 5)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(store
        .finish_recording("r1", 1_500, 480, 7_724)
        .await
        .unwrap());
    assert!(!store.finish_recording("nope", 1, 1, 1).await.unwrap());
    let r1 = store.get_recording("r1").await.unwrap().expect("r1");
    assert_eq!(
        r1,
        RecordingRow {
            ended_at: Some(1_500),
            duration_ms: 480,
            bytes: 7_724,
            ..rec("r1", 1_000)
        }
    );
    let ids: Vec<String> = store
        .list_recordings("m1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["r1", "r2"]);
    assert!(store.list_recordings("m2").await.unwrap().is_empty());
    let old = store.recordings_started_before(1_500, 10).await.unwrap();
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].id, "r1");
    assert!(store.delete_recording("r1").await.unwrap());
    assert!(!store.delete_recording("r1").await.unwrap());
    store.remove_user(a.id).await.unwrap();
    assert_eq!(store.get_recording("r2").await.unwrap(), None);
}
