//! `GET /api/v1/admin/registrations`: every SIP client registered with ViaWork's registrar
//! (user, contact, seconds left, where from, User-Agent), for administrators.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::api::{AdminUser, ApiError, AppState};

/// `GET /api/v1/admin/registrations` answer (only described: [`list`] builds it as JSON).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct RegistrationList {
    registrations: Vec<crate::registrar::RegistrationView>,
}

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/registrations", get(list))
}

/// The SIP registrations (contacts bound by the registrar).
#[utoipa::path(
    get,
    path = "/api/v1/admin/registrations",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every registered contact", body = RegistrationList),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn list(_: AdminUser, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let all = state
        .registrar
        .as_ref()
        .map(crate::registrar::Registrar::all)
        .unwrap_or_default();
    Ok(Json(json!({ "registrations": all })))
}
