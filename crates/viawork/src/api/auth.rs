//! Signing in and out (`/api/v1/auth/token`) and the extractors that guard the other routes.
//!
//! - `POST /api/v1/auth/token` `{"username", "password"}` → `{"access_token", "token_type":
//!   "Bearer", "expires_in"}`; 401 `InvalidCredentials` for an unknown user or a wrong
//!   password (the same body either way), 429 `TooManyAttempts` with `Retry-After` while the
//!   name is locked, 403 `AccountDisabled` for a disabled account.
//! - `DELETE /api/v1/auth/token` with the bearer token → 204; the token is revoked.
//!
//! [`CurrentUser`] reads `Authorization: Bearer <token>` and yields the signed-in, enabled
//! user, or 401 with `WWW-Authenticate: Bearer`. [`AdminUser`] also requires the `admin`
//! role (403 otherwise); admin routes take it as their first argument.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::sessions::{now, IssuedToken, SignInError};
use super::{ApiError, ApiJson, AppState};
use crate::domain::Role;
use crate::store::UserRow;

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/auth/token", post(issue).delete(revoke))
}

/// The body of `POST /api/v1/auth/token`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    username: String,
    password: String,
}

/// The answer to `POST /api/v1/auth/token` (OAuth 2.0 member names, RFC 6749 §5.1).
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TokenResponse {
    access_token: String,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the token expires.
    expires_in: i64,
}

impl From<IssuedToken> for TokenResponse {
    fn from(t: IssuedToken) -> Self {
        TokenResponse {
            access_token: t.token,
            token_type: "Bearer",
            expires_in: t.expires_in,
        }
    }
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::BadCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "InvalidCredentials",
                "the user name or password is wrong",
            ),
            SignInError::LockedOut { retry_after_secs } => {
                ApiError::too_many_requests(retry_after_secs)
            }
            SignInError::Disabled => ApiError::new(
                StatusCode::FORBIDDEN,
                "AccountDisabled",
                "the account is disabled; ask an administrator",
            ),
            SignInError::Store(e) => e.into(),
        }
    }
}

/// Signs in: a bearer token for a user name and password.
#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "A malformed body (the field is named)", body = super::openapi::ErrorResponse),
        (status = 401, description = "`InvalidCredentials`: unknown user or wrong password", body = super::openapi::ErrorResponse),
        (status = 403, description = "`AccountDisabled`", body = super::openapi::ErrorResponse),
        (status = 429, description = "`TooManyAttempts`: the name is locked; see `Retry-After`", body = super::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = super::openapi::ErrorResponse),
    )
)]
async fn issue(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let token = state
        .sessions
        .sign_in(&req.username, &req.password, now())
        .await?;
    Ok(Json(token.into()))
}

/// Signs out: revokes the bearer token of the request.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/token",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The token is revoked"),
        (status = 401, description = "No valid bearer token", body = super::openapi::ErrorResponse),
    )
)]
async fn revoke(State(state): State<AppState>, user: CurrentUser) -> Result<StatusCode, ApiError> {
    state.sessions.revoke(&user.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The user signed in by the request's bearer token.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// Their directory entry (shared with the directory cache).
    pub user: Arc<UserRow>,
    /// The token they used (to revoke it on sign-out).
    token: String,
}

impl CurrentUser {
    /// Whether they are an administrator.
    pub fn is_admin(&self) -> bool {
        self.user.role.parse::<Role>() == Ok(Role::Admin)
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts).ok_or_else(|| {
            ApiError::unauthenticated("sign in: send Authorization: Bearer <access_token>")
        })?;
        match state.sessions.authenticate(token, now()).await? {
            Some(user) => Ok(CurrentUser {
                user,
                token: token.to_owned(),
            }),
            None => Err(ApiError::unauthenticated(
                "the access token is unknown, expired or revoked; sign in again",
            )),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A signed-in administrator: 401 without a valid token, 403 for other users.
#[derive(Debug, Clone)]
pub struct AdminUser(pub CurrentUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if user.is_admin() {
            Ok(AdminUser(user))
        } else {
            Err(ApiError::forbidden("this needs an administrator"))
        }
    }
}
