//! What can go wrong in the store, in terms a caller can act on.
//!
//! Constraint failures of the database are turned into [`StoreError::Conflict`] (a unique key
//! is taken), [`StoreError::NotFound`] (a row the write refers to is missing) or
//! [`StoreError::Invalid`] (a value the schema refuses). Everything else the database or the
//! connection reports is [`StoreError::Unavailable`]: the request may succeed later, and the
//! edges answer it with 503.

use std::error::Error as StdError;

/// An error from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row the operation needs does not exist (`what` is `"user"`, `"policy"`, ...).
    #[error("{what} not found")]
    NotFound {
        /// The kind of row that is missing.
        what: &'static str,
    },
    /// A unique value is already taken, or the row changed since it was read (`field` is
    /// `"updated_at"` for a failed optimistic update).
    #[error("conflict on {field}: the value is taken or the row changed meanwhile")]
    Conflict {
        /// The field whose value conflicts.
        field: &'static str,
    },
    /// A value the store refuses to write.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// Why it is refused.
        message: String,
    },
    /// The database could not be reached or failed to serve the request.
    #[error("store unavailable: {source}")]
    Unavailable {
        /// What the driver reported.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// A schema migration could not be applied (or the database is newer than this binary).
    #[error("store migration {version} failed: {message}")]
    Migration {
        /// The migration version.
        version: i64,
        /// What went wrong.
        message: String,
    },
}

impl StoreError {
    /// An [`StoreError::Invalid`] for `field`.
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field,
            message: message.into(),
        }
    }

    /// An [`StoreError::Unavailable`] wrapping `source`.
    pub(crate) fn unavailable(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        StoreError::Unavailable {
            source: source.into(),
        }
    }

    /// Classifies a driver error of a write: a unique violation is a conflict on `unique`, a
    /// foreign-key violation means the referenced `missing` row does not exist.
    pub(crate) fn from_write(
        err: sqlx::Error,
        unique: &'static str,
        missing: &'static str,
    ) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return StoreError::Conflict { field: unique };
            }
            if db.is_foreign_key_violation() {
                return StoreError::NotFound { what: missing };
            }
            if db.is_check_violation() {
                return StoreError::invalid("row", db.message().to_owned());
            }
        }
        StoreError::unavailable(err)
    }
}

/// Reads and writes without a more specific classification: constraint violations still map
/// to the matching variant, with `"row"` as the field.
impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::from_write(err, "row", "row")
    }
}
