//! Schema migrations, one list per SQL dialect, embedded in the binary.
//!
//! `sqlx::migrate!` would need sqlx's macros feature, which we do not build (it pulls in
//! compile-time database access), so the SQL files under `migrations/<dialect>/` are embedded
//! with `include_str!` and applied by the store itself when it opens: inside one transaction,
//! in version order, each recorded in `schema_migrations` with a SHA-256 of its text. Opening
//! again applies nothing; a recorded migration whose text changed, or a database that has
//! versions this binary does not know, is refused with [`StoreError::Migration`].
//!
//! To change the schema, add a file `NNNN_name.sql` to *both* dialect folders and a line to
//! both lists below; never edit a migration that has shipped.

use sha2::{Digest, Sha256};

use super::StoreError;

/// One migration.
pub(crate) struct Migration {
    /// Ordering and identity; strictly increasing in a list.
    pub version: i64,
    /// A short description.
    pub name: &'static str,
    /// The statements (several, `;`-separated).
    pub sql: &'static str,
}

impl Migration {
    /// SHA-256 of the SQL text, lower-case hex.
    pub fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The SQLite migrations.
pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "call_log",
        sql: include_str!("../../migrations/sqlite/0002_call_log.sql"),
    },
    Migration {
        version: 3,
        name: "policy_callback_guard",
        sql: include_str!("../../migrations/sqlite/0003_policy_callback_guard.sql"),
    },
    Migration {
        version: 4,
        name: "change_seq",
        sql: include_str!("../../migrations/sqlite/0004_change_seq.sql"),
    },
    Migration {
        version: 5,
        name: "contacts",
        sql: include_str!("../../migrations/sqlite/0005_contacts.sql"),
    },
    Migration {
        version: 6,
        name: "presence",
        sql: include_str!("../../migrations/sqlite/0006_presence.sql"),
    },
    Migration {
        version: 7,
        name: "conversations",
        sql: include_str!("../../migrations/sqlite/0007_conversations.sql"),
    },
    Migration {
        version: 8,
        name: "call_forwarding",
        sql: include_str!("../../migrations/sqlite/0008_call_forwarding.sql"),
    },
    Migration {
        version: 9,
        name: "meetings",
        sql: include_str!("../../migrations/sqlite/0009_meetings.sql"),
    },
    Migration {
        version: 10,
        name: "recordings",
        sql: include_str!("../../migrations/sqlite/0010_recordings.sql"),
    },
];

/// The PostgreSQL migrations.
pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "call_log",
        sql: include_str!("../../migrations/postgres/0002_call_log.sql"),
    },
    Migration {
        version: 3,
        name: "policy_callback_guard",
        sql: include_str!("../../migrations/postgres/0003_policy_callback_guard.sql"),
    },
    Migration {
        version: 4,
        name: "change_seq",
        sql: include_str!("../../migrations/postgres/0004_change_seq.sql"),
    },
    Migration {
        version: 5,
        name: "contacts",
        sql: include_str!("../../migrations/postgres/0005_contacts.sql"),
    },
    Migration {
        version: 6,
        name: "presence",
        sql: include_str!("../../migrations/postgres/0006_presence.sql"),
    },
    Migration {
        version: 7,
        name: "conversations",
        sql: include_str!("../../migrations/postgres/0007_conversations.sql"),
    },
    Migration {
        version: 8,
        name: "call_forwarding",
        sql: include_str!("../../migrations/postgres/0008_call_forwarding.sql"),
    },
    Migration {
        version: 9,
        name: "meetings",
        sql: include_str!("../../migrations/postgres/0009_meetings.sql"),
    },
    Migration {
        version: 10,
        name: "recordings",
        sql: include_str!("../../migrations/postgres/0010_recordings.sql"),
    },
];

/// The table that records applied migrations (same text for both dialects).
pub(crate) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    checksum   TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// Decides which migrations of `list` to apply, given the `(version, checksum)` pairs already
/// recorded.
pub(crate) fn pending<'a>(
    list: &'a [Migration],
    applied: &[(i64, String)],
) -> Result<Vec<&'a Migration>, StoreError> {
    for (version, checksum) in applied {
        match list.iter().find(|m| m.version == *version) {
            None => {
                return Err(StoreError::Migration {
                    version: *version,
                    message: "the database has a migration this binary does not know \
                              (was it written by a newer ViaWork?)"
                        .into(),
                })
            }
            Some(m) if m.checksum() != *checksum => {
                return Err(StoreError::Migration {
                    version: *version,
                    message: format!(
                        "migration {} ({}) was changed after it was applied",
                        m.version, m.name
                    ),
                })
            }
            Some(_) => {}
        }
    }
    Ok(list
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_strictly_increasing_and_parallel() {
        for list in [SQLITE, POSTGRES] {
            assert!(list.windows(2).all(|w| w[0].version < w[1].version));
        }
        let versions = |l: &[Migration]| l.iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }

    #[test]
    fn pending_skips_applied_and_refuses_unknown_or_changed() {
        let applied = vec![(1, SQLITE[0].checksum())];
        let rest = pending(SQLITE, &applied).unwrap();
        assert_eq!(
            rest.iter().map(|m| m.version).collect::<Vec<_>>(),
            [2, 3, 4, 5, 6, 7, 8, 9, 10]
        );
        let all: Vec<_> = SQLITE.iter().map(|m| (m.version, m.checksum())).collect();
        assert!(pending(SQLITE, &all).unwrap().is_empty());
        assert_eq!(pending(SQLITE, &[]).unwrap().len(), SQLITE.len());
        assert!(matches!(
            pending(SQLITE, &[(999, String::new())]),
            Err(StoreError::Migration { version: 999, .. })
        ));
        assert!(matches!(
            pending(SQLITE, &[(1, "0".into())]),
            Err(StoreError::Migration { version: 1, .. })
        ));
    }
}
