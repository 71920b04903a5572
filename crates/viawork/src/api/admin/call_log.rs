//! The call log for administrators, everyone's calls newest first (`viawork calllog ...`):
//!
//! - `GET /api/v1/admin/call-log?user=&since=&until=&end_reason=&limit=&cursor=` — a page
//!   of calls shaped as in `GET /api/v1/call-log` plus each call's `owner`; `limit` 1 to 500
//!   (default 50);
//! - `GET /api/v1/admin/call-log.csv` with the same filters — the calls as a CSV download
//!   (`text/csv; charset=utf-8`, `Content-Disposition: attachment; filename="call-log.csv"`),
//!   at most `limit` (default and most 100000) rows; when calls are left over, the
//!   `X-Next-Cursor` header carries the `cursor` to export the rest.
//!
//! `user` is a SIP address, `since` (inclusive) and `until` (exclusive) RFC 3339 times or
//! dates, `end_reason` a reason such as `completed`. A bad value or an unknown parameter is
//! a 400 naming it. The columns are
//! [`CSV_COLUMNS`](crate::cli::call_log::CSV_COLUMNS); see `cli/call_log.rs` for the quoting.

use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::api::call_log::CallLogParams;
use crate::api::{AdminUser, ApiError, AppState};
use crate::cli::call_log::{
    export_csv, list_calls, Audience, CallLogPage, DEFAULT_LIMIT, MAX_EXPORT_ROWS, MAX_LIMIT,
};

/// The response header that carries the cursor after a CSV export stopped at its limit.
const NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/call-log", get(list))
        .route("/api/v1/admin/call-log.csv", get(csv))
}

/// Everyone's calls, newest first, filtered, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/admin/call-log",
    tag = "admin",
    security(("bearer" = [])),
    params(("user" = Option<String>, Query, description = "Only this user's calls"), ("since" = Option<String>, Query, description = "RFC 3339 or a date"), ("until" = Option<String>, Query, description = "RFC 3339 or a date"), ("end_reason" = Option<String>, Query, description = "Only calls that ended so"), ("cursor" = Option<String>, Query, description = "The `next` of the previous page"), ("limit" = Option<u32>, Query, description = "1 to the maximum (default 50)")),
    responses(
        (status = 200, description = "A page of the call log (entries carry `owner`)", body = crate::cli::call_log::CallLogPage),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn list(
    _: AdminUser,
    State(state): State<AppState>,
    mut params: CallLogParams,
) -> Result<Json<CallLogPage>, ApiError> {
    let filter = params.filter()?;
    let limit = params.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor = params.cursor()?;
    params.finish()?;
    let page = list_calls(
        state.store.as_ref(),
        &filter,
        cursor.as_ref(),
        limit,
        Audience::Admin,
    )
    .await?;
    Ok(Json(page))
}

/// The call log as CSV (the same filters), for spreadsheets and billing.
#[utoipa::path(
    get,
    path = "/api/v1/admin/call-log.csv",
    tag = "admin",
    security(("bearer" = [])),
    params(("user" = Option<String>, Query, description = "Only this user's calls"), ("since" = Option<String>, Query, description = "RFC 3339 or a date"), ("until" = Option<String>, Query, description = "RFC 3339 or a date"), ("end_reason" = Option<String>, Query, description = "Only calls that ended so"), ("cursor" = Option<String>, Query, description = "The `next` of the previous page"), ("limit" = Option<u32>, Query, description = "At most this many rows")),
    responses(
        (status = 200, description = "CSV, one call a row", content_type = "text/csv", body = String),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn csv(
    _: AdminUser,
    State(state): State<AppState>,
    mut params: CallLogParams,
) -> Result<Response, ApiError> {
    let filter = params.filter()?;
    let limit = params.limit(MAX_EXPORT_ROWS, MAX_EXPORT_ROWS)?;
    let cursor = params.cursor()?;
    params.finish()?;
    let mut body = String::new();
    let summary = export_csv(
        state.store.as_ref(),
        &filter,
        cursor.as_ref(),
        limit,
        &mut body,
    )
    .await?;
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"call-log.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    if let Some(next) = summary.next {
        // Hex digits only: always a valid header value.
        if let Ok(value) = HeaderValue::from_str(&next) {
            resp.headers_mut().insert(NEXT_CURSOR, value);
        }
    }
    Ok(resp)
}
