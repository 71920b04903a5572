//! Why a request's credentials were not accepted, and what to answer.
//!
//! Every failure but a malformed header is answered with a fresh challenge (401 or 407):
//! missing or foreign credentials because the client may not have tried yet, a stale nonce
//! with `stale=true` so the client retries silently, and a wrong password or unknown user
//! alike so that the answer does not reveal which user names exist. A client that is
//! challenged again after sending credentials knows they were rejected (RFC 3261 §22.2).
//! Malformed credentials get 400, with the reason phrase naming the field.

use super::kind::ChallengeKind;

/// A verification failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// The request carries no credentials of the expected kind.
    #[error("no credentials")]
    Missing,
    /// The only credentials use a scheme other than Digest.
    #[error("credentials use the unknown scheme {scheme}")]
    UnknownScheme {
        /// The scheme as written.
        scheme: String,
    },
    /// Digest credentials, but none for our realm.
    #[error("credentials are for realm {realm:?}, not ours")]
    WrongRealm {
        /// The realm of the first Digest credentials.
        realm: String,
    },
    /// The nonce is ours but expired, and the response was right for it.
    #[error("nonce expired")]
    StaleNonce,
    /// The nonce was not issued by us (forged, tampered, or for another realm).
    #[error("nonce not issued by us")]
    BadNonce,
    /// The directory has no HA1 for this user, realm and algorithm.
    #[error("unknown user {username:?}")]
    UnknownUser {
        /// The user name from the credentials.
        username: String,
    },
    /// The response digest is wrong: wrong password, or a different method or URI hashed.
    #[error("wrong digest response for user {username:?}")]
    WrongResponse {
        /// The user name from the credentials.
        username: String,
    },
    /// The credentials header cannot be read or lacks a required field.
    #[error("malformed credentials: {what}")]
    Malformed {
        /// The field or the problem.
        what: &'static str,
    },
    /// The credentials use something we do not offer (an algorithm, `qop=auth-int`,
    /// `userhash`).
    #[error("unsupported {what} {value:?}")]
    Unsupported {
        /// What is unsupported: `algorithm`, `qop` or `userhash`.
        what: &'static str,
        /// The value as sent.
        value: String,
    },
}

/// What to answer to a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A fresh challenge (401 or 407), with `stale=true` when only the nonce was old.
    Challenge {
        /// Whether to set `stale=true`.
        stale: bool,
    },
    /// 400 Bad Request.
    BadRequest,
}

impl AuthFailure {
    /// What to answer.
    pub fn answer(&self) -> Answer {
        match self {
            AuthFailure::Malformed { .. } => Answer::BadRequest,
            AuthFailure::StaleNonce => Answer::Challenge { stale: true },
            _ => Answer::Challenge { stale: false },
        }
    }

    /// The status code to answer with: 401 or 407 (by `kind`) or 400.
    pub fn status(&self, kind: ChallengeKind) -> u16 {
        match self.answer() {
            Answer::Challenge { .. } => kind.status(),
            Answer::BadRequest => 400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_failures_to_answers() {
        assert_eq!(
            AuthFailure::StaleNonce.answer(),
            Answer::Challenge { stale: true }
        );
        assert_eq!(AuthFailure::Missing.status(ChallengeKind::Proxy), 407);
        assert_eq!(AuthFailure::BadNonce.status(ChallengeKind::Www), 401);
        let wrong = AuthFailure::WrongResponse {
            username: "a".into(),
        };
        assert_eq!(wrong.answer(), Answer::Challenge { stale: false });
        assert_eq!(
            AuthFailure::Malformed { what: "nc" }.status(ChallengeKind::Www),
            400
        );
    }
}
