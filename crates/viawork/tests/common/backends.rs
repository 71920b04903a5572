//! Test support: run one test body against both store backends.
//!
//! A test body is an `async fn NAME(store_url: &str)`; [`both_backends!`] expands each named
//! body into `on_sqlite::NAME` (a database file in a temporary directory) and
//! `on_postgres::NAME` (a fresh database on the binary's private cluster, `postgres.rs`).
//!
//! Include it after `postgres.rs`, from the test crate's root:
//!
//! ```ignore
//! #[path = "common/postgres.rs"]
//! mod postgres;
//! #[path = "common/backends.rs"]
//! #[macro_use]
//! mod backends;
//! ```
#![allow(dead_code)]

/// One test's database; the SQLite file's directory lives as long as this value.
pub struct Db {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("viawork.db").display());
        Db {
            url,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> Db {
        Db {
            url: crate::postgres::database().await.url,
            _dir: None,
        }
    }
}

/// Expands each named `async fn(store_url: &str)` into `on_sqlite::NAME` and
/// `on_postgres::NAME`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = $crate::backends::Db::sqlite();
                    super::$name(&db.url).await
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = $crate::backends::Db::postgres().await;
                    super::$name(&db.url).await
                }
            )*
        }
    };
}
