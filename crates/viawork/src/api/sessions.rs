//! [`Sessions`]: signing in with a user name and password, and the bearer tokens that
//! follow. Knows nothing of HTTP: `auth.rs` maps its results to answers.
//!
//! - A user name is a SIP URI (`sip:alice@example.com`) or an email address.
//! - Tokens are 32 random bytes in hex, handed out once; the store keeps only their
//!   SHA-256 ([`hash_token`]), so a copy of the database signs nobody in. They expire after
//!   `token_lifetime_secs` and can be revoked (sign-out).
//! - A wrong password and an unknown user are the same failure, and cost the same time:
//!   for an unknown user the password is checked against a dummy argon2id hash made with
//!   the same parameters. Disabled users are told so only after giving the right password.
//! - Failures are counted per user name (whether it exists or not) under a
//!   [`LockoutPolicy`]: the failure that reaches `max_failures` within `window_secs` locks the
//!   name for `lock_secs`, during which every attempt, right or wrong, is refused with the
//!   time left. A successful sign-in resets the count.

use std::sync::Arc;

use crate::directory_cache::DirectoryCache;
use crate::domain::{Password, PasswordHash, UserUri};
use crate::store::{
    generate_token, hash_token, LockoutPolicy, Store, StoreError, TokenRow, UserRow,
};

/// The settings of [`Sessions`].
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// How long a token is valid, in seconds.
    pub token_lifetime_secs: i64,
    /// When repeated failures lock a user name.
    pub lockout: LockoutPolicy,
}

impl Default for SessionSettings {
    /// Tokens for 8 hours; 5 failures in 5 minutes lock the name for 15 minutes.
    fn default() -> Self {
        SessionSettings {
            token_lifetime_secs: 8 * 3600,
            lockout: LockoutPolicy {
                max_failures: 5,
                window_secs: 5 * 60,
                lock_secs: 15 * 60,
            },
        }
    }
}

/// A token just issued; `token` is shown once and never stored.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The bearer token.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// Why a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown user or wrong password (deliberately not told apart).
    #[error("the user name or password is wrong")]
    BadCredentials,
    /// Too many failures: the name is locked for `retry_after_secs` more seconds.
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    LockedOut {
        /// Seconds until the lock ends.
        retry_after_secs: u64,
    },
    /// The password was right but the account is disabled.
    #[error("the account is disabled")]
    Disabled,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sign-in and token checks over a store.
pub struct Sessions {
    store: Arc<dyn Store>,
    /// Where tokens and users are looked up (and told about sign-outs).
    directory: Arc<DirectoryCache>,
    settings: SessionSettings,
    /// Checked for unknown users so that they take as long as known ones.
    dummy_hash: PasswordHash,
    /// Password checks running at once. Each Argon2 check holds ~19 MiB for tens of
    /// milliseconds: unbounded, a burst of sign-ins (or an attacker) grows the server by
    /// gigabytes; bounded to the cores, extra sign-ins wait their turn instead.
    checks: Arc<tokio::sync::Semaphore>,
}

/// Longest user name looked up (a SIP URI or email is far shorter).
const MAX_USERNAME: usize = 320;

impl Sessions {
    /// A session service over `store` that checks the store's change counter before every
    /// token check (see [`Sessions::with_directory`] for a cached one).
    pub fn new(store: Arc<dyn Store>, settings: SessionSettings) -> Self {
        let directory = Arc::new(DirectoryCache::new(
            store.clone(),
            std::time::Duration::ZERO,
        ));
        Self::with_directory(store, directory, settings)
    }

    /// A session service over `store` that looks tokens and users up in `directory`.
    pub fn with_directory(
        store: Arc<dyn Store>,
        directory: Arc<DirectoryCache>,
        settings: SessionSettings,
    ) -> Self {
        let dummy = Password::new("timing-equaliser-not-a-real-password")
            .expect("the dummy password follows the rules");
        Sessions {
            store,
            directory,
            settings,
            dummy_hash: PasswordHash::hash(&dummy),
            checks: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// Checks `username`/`password` at `now` (unix seconds) and issues a token.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        now: i64,
    ) -> Result<IssuedToken, SignInError> {
        let key: String = username
            .trim()
            .chars()
            .take(MAX_USERNAME)
            .collect::<String>()
            .to_lowercase();
        if let Some(locked) = self.locked_for(&key, now).await? {
            return Err(SignInError::LockedOut {
                retry_after_secs: locked,
            });
        }
        let user = self.find_user(&key).await?;
        let hash = match &user {
            Some(u) => PasswordHash::from_phc(&u.password_hash).unwrap_or_else(|e| {
                tracing::error!(user = u.id, error = %e, "stored password hash is unreadable");
                self.dummy_hash.clone()
            }),
            None => self.dummy_hash.clone(),
        };
        let candidate = password.to_owned();
        let right = match self.checks.acquire().await {
            Ok(_permit) => tokio::task::spawn_blocking(move || hash.verify(&candidate))
                .await
                .unwrap_or(false),
            // Never closed.
            Err(_) => false,
        };
        let user = match user {
            Some(u) if right => u,
            _ => {
                let row = self
                    .store
                    .record_login_failure(&key, now, &self.settings.lockout)
                    .await?;
                return Err(match row.locked_until {
                    Some(until) if until > now => SignInError::LockedOut {
                        retry_after_secs: (until - now).unsigned_abs(),
                    },
                    _ => SignInError::BadCredentials,
                });
            }
        };
        if !user.enabled {
            return Err(SignInError::Disabled);
        }
        self.store.reset_login_failures(&key).await?;
        let token = generate_token();
        let lifetime = self.settings.token_lifetime_secs;
        self.store
            .insert_token(&TokenRow {
                token_hash: hash_token(&token),
                user_id: user.id,
                created_at: now,
                expires_at: now.saturating_add(lifetime),
                revoked: false,
            })
            .await?;
        Ok(IssuedToken {
            token,
            expires_in: lifetime,
        })
    }

    /// The enabled user a bearer token signs in at `now`, if it is valid. Answered from
    /// the directory cache: a revocation or a disabled account made elsewhere counts
    /// within its interval.
    pub async fn authenticate(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<Arc<UserRow>>, StoreError> {
        Ok(self
            .directory
            .user_for_token(&hash_token(token), now)
            .await?
            .filter(|u| u.enabled))
    }

    /// Revokes a token (sign-out); it stops working on the next request.
    pub async fn revoke(&self, token: &str) -> Result<(), StoreError> {
        self.store.revoke_token(&hash_token(token)).await?;
        self.directory.mark_stale();
        Ok(())
    }

    /// Seconds left on the lock of `key`, if it is locked at `now`.
    async fn locked_for(&self, key: &str, now: i64) -> Result<Option<u64>, StoreError> {
        let row = self.store.get_login_failure(key).await?;
        Ok(row
            .and_then(|r| r.locked_until)
            .filter(|until| *until > now)
            .map(|until| (until - now).unsigned_abs()))
    }

    /// The user named by a SIP URI, else by an email address.
    async fn find_user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        if name.starts_with("sip:") {
            return match name.parse::<UserUri>() {
                Ok(uri) => self.store.get_user_by_sip_uri(uri.as_str()).await,
                Err(_) => Ok(None),
            };
        }
        if name.is_empty() {
            return Ok(None);
        }
        self.store.get_user_by_email(name).await
    }
}

/// The current time in unix seconds.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
