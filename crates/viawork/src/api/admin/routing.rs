//! The routing configuration over HTTP (`viawork routing ...`):
//! `GET`/`PUT /api/v1/admin/routing` `{"callViaWorkCallerId": "+15551234567" | null}` — the
//! number shown on the user's PBX phone during the callback leg; `null` clears it.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::api::{AdminUser, ApiError, ApiJson, AppState};
use crate::cli::routing::{self, RoutingView};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/routing", get(show).put(set))
}

/// The body of `PUT /routing`: the member must be present, `null` to clear.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RoutingBody {
    #[serde(deserialize_with = "Option::deserialize")]
    call_via_work_caller_id: Option<String>,
}

/// The routing settings (the Call Via Work caller id).
#[utoipa::path(
    get,
    path = "/api/v1/admin/routing",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings", body = crate::cli::routing::RoutingView),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn show(_: AdminUser, State(state): State<AppState>) -> Result<Json<RoutingView>, ApiError> {
    Ok(Json(routing::get_routing(state.store.as_ref()).await?))
}

/// Sets the routing settings (`callViaWorkCallerId`, `null` to clear).
#[utoipa::path(
    put,
    path = "/api/v1/admin/routing",
    tag = "admin",
    security(("bearer" = [])),
    request_body = RoutingBody,
    responses(
        (status = 200, description = "The settings now", body = crate::cli::routing::RoutingView),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn set(
    _: AdminUser,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RoutingBody>,
) -> Result<Json<RoutingView>, ApiError> {
    // The service reads an empty caller ID as "clear".
    let caller_id = body.call_via_work_caller_id.unwrap_or_default();
    Ok(Json(
        routing::set_routing(state.store.as_ref(), &caller_id).await?,
    ))
}
