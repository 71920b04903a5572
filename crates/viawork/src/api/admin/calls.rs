//! Live calls and the trunk, for administrators:
//!
//! - `GET /api/v1/admin/calls` — every call in progress (and ended ones whose legs are
//!   still being hung up), each with its `owner`;
//! - `GET /api/v1/admin/trunk` — the trunk: configured, up (per the OPTIONS keep-alive),
//!   seconds since the last answered keep-alive and since the last one sent, the number
//!   of live calls.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::api::{AdminUser, ApiError, AppState};

/// `GET /api/v1/admin/calls` answer (only described: [`live`] builds it as JSON).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
struct AdminCallList {
    calls: Vec<AdminCall>,
}

/// A live call and its owner.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
struct AdminCall {
    #[serde(flatten)]
    call: crate::calls::CallView,
    /// The SIP URI of the user whose call it is.
    owner: String,
}

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/calls", get(live))
        .route("/api/v1/admin/trunk", get(trunk))
}

/// Every live call, with its `owner`.
#[utoipa::path(
    get,
    path = "/api/v1/admin/calls",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every live call, with its owner", body = AdminCallList),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn live(_: AdminUser, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let Some(calls) = state.calls.as_ref() else {
        return Ok(Json(json!({ "calls": [] })));
    };
    let all = calls.handle.all().await?;
    let items: Vec<Value> = all
        .into_iter()
        .map(|(owner, view)| {
            let mut v = serde_json::to_value(view).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("owner".into(), Value::String(owner));
            }
            v
        })
        .collect();
    Ok(Json(json!({ "calls": items })))
}

/// The PBX trunk: configured, up, address and transport.
#[utoipa::path(
    get,
    path = "/api/v1/admin/trunk",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`configured`, `up` (per the OPTIONS keep-alive), the seconds since the last answered keep-alive and since the last one sent, the number of live calls, `address` and `transport`", body = Object),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn trunk(_: AdminUser, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let Some(calls) = state.calls.as_ref() else {
        return Ok(Json(json!({ "configured": false, "up": false })));
    };
    let status = calls.handle.status().await?;
    let mut v = serde_json::to_value(status).unwrap_or(Value::Null);
    if let (Some(o), Some(t)) = (v.as_object_mut(), calls.handle.trunk()) {
        o.insert("address".into(), Value::String(t.peer.addr.to_string()));
        o.insert(
            "transport".into(),
            Value::String(t.peer.transport.as_str().to_ascii_lowercase()),
        );
        let alternates: Vec<Value> = t
            .alternates
            .iter()
            .map(|p| Value::String(p.addr.to_string()))
            .collect();
        o.insert("alternates".into(), Value::Array(alternates));
    }
    Ok(Json(v))
}
