//! Presence routes (`docs/presence.md`), thin over [`crate::presence::PresenceService`]:
//!
//! - `GET /api/v1/me/presence` — the user's presence as others see it, and what they chose;
//! - `PUT /api/v1/me/presence` `{"availability": "Busy" | null, "note"?: "..."}` — choose
//!   (null or absent: automatic); a note that is absent is kept, `""` clears it;
//! - `POST /api/v1/me/activity` — the user is active (UCWA's reportMyActivity);
//! - `GET /api/v1/people/{uri}/presence` — someone's presence (404 for unknown users);
//! - `POST /api/v1/presence/subscriptions` `{"uris": [...]}` — watch people: their
//!   presence now, then `presence.updated` events; `GET` lists, `DELETE
//!   /api/v1/presence/subscriptions/{uri}` stops one, `DELETE` of the collection all;
//! - `GET /api/v1/me/blocked`, `PUT`/`DELETE /api/v1/me/blocked/{uri}` — people who see
//!   the user as Offline.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiError, ApiJson, AppState, CurrentUser};
use crate::domain::UserUri;
use crate::presence::service::presence_json;
use crate::presence::{Note, PreferredAvailability, PresenceError};

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me/presence", get(get_own).put(set_own))
        .route("/api/v1/me/activity", post(activity))
        .route("/api/v1/people/{uri}/presence", get(get_other))
        .route(
            "/api/v1/presence/subscriptions",
            get(list_subscriptions)
                .post(subscribe)
                .delete(unsubscribe_all),
        )
        .route(
            "/api/v1/presence/subscriptions/{uri}",
            axum::routing::delete(unsubscribe),
        )
        .route("/api/v1/me/blocked", get(list_blocked))
        .route("/api/v1/me/blocked/{uri}", put(block).delete(unblock))
}

impl From<PresenceError> for ApiError {
    fn from(e: PresenceError) -> Self {
        match e {
            PresenceError::UnknownUser { field, uri } => {
                ApiError::not_found(format!("no user has the SIP URI {uri}")).with_field(field)
            }
            PresenceError::LimitExceeded { field, max } => ApiError::new(
                StatusCode::FORBIDDEN,
                "LimitExceeded",
                format!("at most {max} entries are allowed"),
            )
            .with_field(field),
            PresenceError::Invalid { field, message } => ApiError::bad_request(field, message),
            PresenceError::Store(e) => e.into(),
        }
    }
}

/// A SIP URI from the path, or 400 naming `field`.
fn parse_uri(field: &str, text: &str) -> Result<UserUri, ApiError> {
    text.parse::<UserUri>()
        .map_err(|e| ApiError::bad_request(field, e.to_string()))
}

fn me(user: &CurrentUser) -> Result<UserUri, ApiError> {
    parse_uri("sipUri", &user.user.sip_uri)
}

/// A person's presence as the viewer sees it (only described: `presence_json` builds it).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PresenceDocument)]
#[allow(dead_code)]
struct PresenceDoc {
    /// Their SIP URI.
    uri: String,
    availability: crate::presence::Availability,
    /// The activity, when there is one worth telling.
    #[serde(skip_serializing_if = "Option::is_none")]
    activity: Option<crate::presence::Activity>,
    /// The personal note; absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    /// When they were last active on any device (Unix milliseconds), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_active_at: Option<u64>,
}

/// What `GET`/`PUT /api/v1/me/presence` answer (only described: [`Own`] is built).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OwnPresence)]
#[allow(dead_code)]
struct OwnDoc {
    #[serde(flatten)]
    presence: PresenceDoc,
    /// What the user chose; `null`: automatic.
    chosen: Option<PreferredAvailability>,
}

/// The user's own presence, and what they chose (null: automatic).
#[derive(Debug, Serialize)]
struct Own {
    #[serde(flatten)]
    presence: Value,
    chosen: Option<PreferredAvailability>,
}

/// The user's presence as others see it, and what they chose (`chosen`, null: automatic).
#[utoipa::path(
    get,
    path = "/api/v1/me/presence",
    tag = "presence",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The presence and `chosen`", body = OwnDoc),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn get_own(State(state): State<AppState>, user: CurrentUser) -> Result<Json<Own>, ApiError> {
    let uri = me(&user)?;
    let p = state.presence.presence_of(&uri, &uri).await?;
    Ok(Json(Own {
        presence: presence_json(&uri, &p),
        chosen: state.presence.chosen(&user.user).await?,
    }))
}

/// The body of `PUT /api/v1/me/presence`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SetPresence {
    availability: Option<String>,
    note: Option<String>,
}

/// Chooses an availability (null or absent: automatic) and/or a note (absent: kept, "": cleared).
#[utoipa::path(
    put,
    path = "/api/v1/me/presence",
    tag = "presence",
    security(("bearer" = [])),
    request_body = SetPresence,
    responses(
        (status = 200, description = "The presence now", body = OwnDoc),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn set_own(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<SetPresence>,
) -> Result<Json<Own>, ApiError> {
    let uri = me(&user)?;
    let chosen = req
        .availability
        .as_deref()
        .map(str::parse::<PreferredAvailability>)
        .transpose()?;
    let note = req.note.as_deref().map(str::parse::<Note>).transpose()?;
    let p = state.presence.set_own(&user.user, chosen, note).await?;
    Ok(Json(Own {
        presence: presence_json(&uri, &p),
        chosen,
    }))
}

/// Reports that the user is active (resets Away).
#[utoipa::path(
    post,
    path = "/api/v1/me/activity",
    tag = "presence",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Noted"),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn activity(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<StatusCode, ApiError> {
    state.presence.report_activity(&me(&user)?);
    Ok(StatusCode::NO_CONTENT)
}

/// Someone's presence, as the user may see it (Offline when blocked).
#[utoipa::path(
    get,
    path = "/api/v1/people/{uri}/presence",
    tag = "presence",
    security(("bearer" = [])),
    params(("uri" = String, Path, description = "A SIP URI (`sip:bob@example.com`)")),
    responses(
        (status = 200, description = "The presence", body = PresenceDoc),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No user has this SIP URI (or it is not watched/blocked)", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn get_other(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(uri): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let target = parse_uri("uri", &uri)?;
    let p = state.presence.presence_of(&me(&user)?, &target).await?;
    Ok(Json(presence_json(&target, &p)))
}

/// The body of `POST /api/v1/presence/subscriptions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Subscribe {
    uris: Vec<String>,
}

/// The people watched, with their presence.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Subscriptions {
    #[schema(value_type = Vec<PresenceDoc>)]
    subscriptions: Vec<Value>,
}

/// Watches people: their presence now, then `presence.updated` events.
#[utoipa::path(
    post,
    path = "/api/v1/presence/subscriptions",
    tag = "presence",
    security(("bearer" = [])),
    request_body = Subscribe,
    responses(
        (status = 200, description = "Everyone watched, with their presence", body = Subscriptions),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`LimitExceeded`: too many watched", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No user has this SIP URI (or it is not watched/blocked)", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn subscribe(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<Subscribe>,
) -> Result<Json<Subscriptions>, ApiError> {
    let uris = req
        .uris
        .iter()
        .enumerate()
        .map(|(i, u)| parse_uri(&format!("uris[{i}]"), u))
        .collect::<Result<Vec<_>, _>>()?;
    let got = state.presence.subscribe(&user.user, &uris).await?;
    let mut seen = std::collections::HashSet::new();
    Ok(Json(Subscriptions {
        subscriptions: got
            .iter()
            .filter(|(u, _)| seen.insert(u.clone()))
            .map(|(u, p)| presence_json(u, p))
            .collect(),
    }))
}

/// The people watched, with their presence.
#[utoipa::path(
    get,
    path = "/api/v1/presence/subscriptions",
    tag = "presence",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Everyone watched", body = Subscriptions),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn list_subscriptions(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Subscriptions>, ApiError> {
    let got = state.presence.subscriptions(&me(&user)?);
    Ok(Json(Subscriptions {
        subscriptions: got.iter().map(|(u, p)| presence_json(u, p)).collect(),
    }))
}

/// Stops watching one person.
#[utoipa::path(
    delete,
    path = "/api/v1/presence/subscriptions/{uri}",
    tag = "presence",
    security(("bearer" = [])),
    params(("uri" = String, Path, description = "A SIP URI (`sip:bob@example.com`)")),
    responses(
        (status = 204, description = "Stopped"),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No user has this SIP URI (or it is not watched/blocked)", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn unsubscribe(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(uri): Path<String>,
) -> Result<StatusCode, ApiError> {
    let target = parse_uri("uri", &uri)?;
    match state.presence.unsubscribe(&me(&user)?, Some(&target)) {
        0 => Err(ApiError::not_found(format!("you do not watch {target}")).with_field("uri")),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// Stops watching everyone.
#[utoipa::path(
    delete,
    path = "/api/v1/presence/subscriptions",
    tag = "presence",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Stopped"),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn unsubscribe_all(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<StatusCode, ApiError> {
    state.presence.unsubscribe(&me(&user)?, None);
    Ok(StatusCode::NO_CONTENT)
}

/// One blocked person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Blocked {
    uri: String,
    /// When they were blocked (Unix seconds).
    blocked_at: i64,
}

/// The people the user blocks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct BlockedList {
    blocked: Vec<Blocked>,
}

/// The people who see the user as Offline.
#[utoipa::path(
    get,
    path = "/api/v1/me/blocked",
    tag = "presence",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The blocked people", body = BlockedList),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn list_blocked(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<BlockedList>, ApiError> {
    let rows = state.presence.blocked(&user.user).await?;
    Ok(Json(BlockedList {
        blocked: rows
            .into_iter()
            .map(|r| Blocked {
                uri: r.blocked_sip_uri,
                blocked_at: r.created_at,
            })
            .collect(),
    }))
}

/// Blocks a person: they see the user as Offline.
#[utoipa::path(
    put,
    path = "/api/v1/me/blocked/{uri}",
    tag = "presence",
    security(("bearer" = [])),
    params(("uri" = String, Path, description = "A SIP URI (`sip:bob@example.com`)")),
    responses(
        (status = 204, description = "Blocked"),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`LimitExceeded`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No user has this SIP URI (or it is not watched/blocked)", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn block(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(uri): Path<String>,
) -> Result<StatusCode, ApiError> {
    let other = parse_uri("uri", &uri)?;
    state.presence.set_blocked(&user.user, &other, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unblocks a person.
#[utoipa::path(
    delete,
    path = "/api/v1/me/blocked/{uri}",
    tag = "presence",
    security(("bearer" = [])),
    params(("uri" = String, Path, description = "A SIP URI (`sip:bob@example.com`)")),
    responses(
        (status = 204, description = "Unblocked"),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No user has this SIP URI (or it is not watched/blocked)", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn unblock(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(uri): Path<String>,
) -> Result<StatusCode, ApiError> {
    let other = parse_uri("uri", &uri)?;
    match state
        .presence
        .set_blocked(&user.user, &other, false)
        .await?
    {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found(format!("you do not block {other}")).with_field("uri")),
    }
}
