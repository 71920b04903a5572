//! `GET /api/v1/admin/registrations`: every SIP client registered with ViaWork's registrar
//! (user, contact, seconds left, where from, User-Agent), for administrators.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::api::{AdminUser, ApiError, AppState};

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/registrations", get(list))
}

async fn list(_: AdminUser, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let all = state
        .registrar
        .as_ref()
        .map(crate::registrar::Registrar::all)
        .unwrap_or_default();
    Ok(Json(json!({ "registrations": all })))
}
