//! [`AdminError`]: why an administrative operation was refused, in terms an administrator
//! (or the admin API's JSON answer) can act on — which field, and what is wrong with it.
//!
//! Field names are the API's (camelCase: `sipUri`, `lineUri`, `adminCallbackNumber`), both
//! for refusals of the domain layer and for those of the store, whose snake_case column names
//! are translated here.

use crate::domain::DomainError;
use crate::store::StoreError;

/// An administrative operation failed; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A value is malformed or breaks a rule (HTTP 400).
    #[error("{0}")]
    Invalid(#[from] DomainError),
    /// What the operation names does not exist (HTTP 404).
    #[error("{field}: {message}")]
    NotFound {
        /// The field naming the missing thing (`sipUri`, `identity`, `policyName`, ...).
        field: &'static str,
        /// What is missing.
        message: String,
    },
    /// The value is already taken, or the row changed meanwhile (HTTP 409).
    #[error("{field}: {message}")]
    Conflict {
        /// The field whose value conflicts.
        field: &'static str,
        /// What conflicts.
        message: String,
    },
    /// An input file could not be read or parsed (HTTP 400).
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The store failed (unreachable, migration, corrupt row): not the input's fault (HTTP 503).
    #[error("{0}")]
    Store(StoreError),
}

impl AdminError {
    /// A [`AdminError::NotFound`].
    pub fn not_found(field: &'static str, message: impl Into<String>) -> AdminError {
        AdminError::NotFound {
            field,
            message: message.into(),
        }
    }

    /// A [`AdminError::Conflict`].
    pub fn conflict(field: &'static str, message: impl Into<String>) -> AdminError {
        AdminError::Conflict {
            field,
            message: message.into(),
        }
    }

    /// The input field at fault, if the error is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AdminError::Invalid(e) => Some(e.field()),
            AdminError::NotFound { field, .. } | AdminError::Conflict { field, .. } => Some(field),
            AdminError::File { .. } | AdminError::Store(_) => None,
        }
    }

    /// A short machine-readable kind: `invalid`, `notFound`, `conflict`, `file` or
    /// `unavailable` (what the API maps to 400, 404, 409, 400 and 503).
    pub fn kind(&self) -> &'static str {
        match self {
            AdminError::Invalid(_) => "invalid",
            AdminError::NotFound { .. } => "notFound",
            AdminError::Conflict { .. } => "conflict",
            AdminError::File { .. } => "file",
            AdminError::Store(_) => "unavailable",
        }
    }
}

/// Store refusals keep their meaning, with the field renamed to the API's spelling.
impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> AdminError {
        match e {
            StoreError::Conflict { field } => {
                let field = api_field(field);
                AdminError::conflict(field, "is already taken (or changed meanwhile)")
            }
            StoreError::NotFound { what } => {
                AdminError::not_found(api_field(what), format!("{what} not found"))
            }
            StoreError::Invalid { field, message } => {
                AdminError::Invalid(DomainError::invalid(api_field(field), message))
            }
            other => AdminError::Store(other),
        }
    }
}

/// The API's name for a store column or row kind.
fn api_field(store_field: &'static str) -> &'static str {
    match store_field {
        "sip_uri" => "sipUri",
        "user" => "sipUri",
        "display_name" => "displayName",
        "line_uri" => "lineUri",
        "policy" | "policy_grant" => "policyName",
        "admin_callback_number" => "adminCallbackNumber",
        "updated_at" => "updatedAt",
        "phone_work" => "phoneWork",
        "phone_mobile" => "phoneMobile",
        "phone_home" => "phoneHome",
        "phone_other" => "phoneOther",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_name_the_api_field() {
        let e = AdminError::from(StoreError::Conflict { field: "sip_uri" });
        assert_eq!(e.field(), Some("sipUri"));
        assert_eq!(e.kind(), "conflict");
        let e = AdminError::from(StoreError::NotFound { what: "policy" });
        assert_eq!(e.field(), Some("policyName"));
        assert_eq!(e.kind(), "notFound");
    }
}
