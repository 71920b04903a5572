//! `GET /api/v1/me`: the signed-in user's directory entry (never their hashes), their role,
//! the Call Via Work policy that applies to them (grant → site → global) and the number
//! Call Via Work would ring first when they give none.
//!
//! [`profile`] builds the answer from the store and the domain rules; the handler only
//! extracts the user and serialises it.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::{ApiError, AppState, CurrentUser};
use crate::directory_cache::DirectoryCache;
use crate::domain::{
    callback_number, effective_policy, CallViaWorkPolicy, CallbackSource, DomainError, LineUri,
    PolicyIdentity, PolicySettings, E164,
};
use crate::store::{PolicyRow, UserRow, GLOBAL_POLICY};

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/me", get(me))
}

/// The signed-in user's profile.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user's directory entry, role and Call Via Work situation", body = Profile),
        (status = 401, description = "No valid bearer token", body = super::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = super::openapi::ErrorResponse),
    )
)]
async fn me(State(state): State<AppState>, user: CurrentUser) -> Result<Json<Profile>, ApiError> {
    Ok(Json(profile(&state.directory, &user.user).await?))
}

/// What `/api/v1/me` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    sip_uri: String,
    display_name: String,
    email: String,
    title: String,
    department: String,
    office: String,
    phones: Phones,
    line_uri: Option<String>,
    enterprise_voice: bool,
    enabled: bool,
    role: String,
    site: Option<String>,
    policy_grant: Option<String>,
    allow_call_forwarding: bool,
    allow_simultaneous_ring: bool,
    dial_in_conferencing: bool,
    call_via_work: CallViaWork,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Phones {
    work: String,
    mobile: String,
    home: String,
    other: String,
}

/// The user's Call Via Work situation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CallViaWork {
    /// The effective policy.
    #[schema(value_type = crate::cli::policies::PolicyView)]
    policy: CallViaWorkPolicy,
    /// The number rung first by default (`tel:` URI), when there is one.
    callback_number: Option<String>,
    /// Where it comes from.
    callback_source: Option<CallbackSource>,
    /// Why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    unavailable_reason: Option<String>,
}

/// The Call Via Work policy that applies to `user` (grant → site → global).
pub async fn user_policy(
    directory: &DirectoryCache,
    user: &UserRow,
) -> Result<CallViaWorkPolicy, ApiError> {
    let load = |identity: String| async move {
        match directory.policy(&identity).await? {
            Some(row) => policy_from_row(&row)
                .map(Some)
                .map_err(|e| ApiError::internal(format!("stored policy {identity}: {e}"))),
            None => Ok(None),
        }
    };
    let grant = match &user.policy_grant {
        Some(g) => load(g.clone()).await?,
        None => None,
    };
    let site = match &user.site {
        Some(s) => load(format!("Site:{s}")).await?,
        None => None,
    };
    let global = load(GLOBAL_POLICY.to_owned())
        .await?
        .unwrap_or_else(CallViaWorkPolicy::default_global);
    Ok(effective_policy(grant.as_ref(), site.as_ref(), &global).clone())
}

/// Builds the profile of `user`.
pub async fn profile(directory: &DirectoryCache, user: &UserRow) -> Result<Profile, ApiError> {
    let policy = user_policy(directory, user).await?;
    let user = user.clone();
    let line_uri = (!user.line_uri.is_empty())
        .then(|| user.line_uri.parse::<LineUri>().ok())
        .flatten();
    let (callback_number, callback_source, unavailable_reason) =
        match callback_number(&policy, None, line_uri.as_ref()) {
            Ok(n) => (Some(n.to_string()), Some(n.source()), None),
            Err(e) => (None, None, Some(e.to_string())),
        };
    Ok(Profile {
        sip_uri: user.sip_uri,
        display_name: user.display_name,
        email: user.email,
        title: user.title,
        department: user.department,
        office: user.office,
        phones: Phones {
            work: user.phone_work,
            mobile: user.phone_mobile,
            home: user.phone_home,
            other: user.phone_other,
        },
        line_uri: (!user.line_uri.is_empty()).then_some(user.line_uri),
        enterprise_voice: user.enterprise_voice,
        enabled: user.enabled,
        role: user.role,
        site: user.site,
        policy_grant: user.policy_grant,
        allow_call_forwarding: user.allow_call_forwarding,
        allow_simultaneous_ring: user.allow_simultaneous_ring,
        dial_in_conferencing: user.dial_in_conferencing,
        call_via_work: CallViaWork {
            policy,
            callback_number,
            callback_source,
            unavailable_reason,
        },
    })
}

/// A stored policy row as the domain type.
fn policy_from_row(row: &PolicyRow) -> Result<CallViaWorkPolicy, DomainError> {
    let identity: PolicyIdentity = row.identity.parse()?;
    let admin_callback_number = row
        .admin_callback_number
        .as_deref()
        .map(|n| n.parse::<E164>())
        .transpose()?;
    CallViaWorkPolicy::new(
        identity,
        PolicySettings {
            enabled: row.enabled,
            use_admin_callback_number: row.use_admin_callback_number,
            admin_callback_number,
            allow_international_callback: row.allow_international_callback,
            allow_premium_callback: row.allow_premium_callback,
        },
    )
}
