//! The directory over HTTP (`viawork user ...`):
//!
//! - `GET /api/v1/admin/users?limit=&after=` — users by SIP address (default 100, at most
//!   1000), after `after` for paging;
//! - `POST /api/v1/admin/users` `{"sipUri", "displayName", "password", ...}` — 201 with
//!   `Location`; a taken SIP address is 409 on `sipUri`;
//! - `GET`/`PATCH`/`DELETE /api/v1/admin/users/{sip_uri}` (the SIP URI percent-encoded) —
//!   the user with their effective policy and callback number; the given fields changed;
//!   removed;
//! - `POST /api/v1/admin/users/import?skip_bad_rows=false` with a `text/csv` body (a
//!   `Get-CsUser | Export-Csv` file) — the per-row report; 422 when rows are bad and nothing
//!   was imported.
//!
//! The body fields are those of [`UserInput`]; see `cli/users.rs`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value};

use super::{percent_encode, split_required, Params};
use crate::api::{AdminUser, ApiError, ApiJson, AppState};
use crate::cli::import::{import_users, ImportView};
use crate::cli::users::{self, Removed, UserDetails, UserInput, UserList, UserView};

/// Users listed per page when `limit` is not given.
const DEFAULT_LIMIT: u32 = 100;
/// The most users one page holds.
const MAX_LIMIT: u32 = 1000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/users", get(list).post(create))
        .route("/api/v1/admin/users/import", post(import))
        .route(
            "/api/v1/admin/users/{sip_uri}",
            get(show).patch(change).delete(remove),
        )
}

/// The users, by SIP URI, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/admin/users",
    tag = "admin",
    security(("bearer" = [])),
    params(("limit" = Option<u32>, Query, description = "Page size"), ("after" = Option<String>, Query, description = "The last SIP URI of the previous page")),
    responses(
        (status = 200, description = "A page of users", body = crate::cli::users::UserList),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn list(
    _: AdminUser,
    State(state): State<AppState>,
    mut params: Params,
) -> Result<Json<UserList>, ApiError> {
    let limit = params.number("limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = params.string("after");
    params.finish()?;
    let list = users::list_users(state.store.as_ref(), after.as_deref(), limit).await?;
    Ok(Json(list))
}

/// Creates a user (`sipUri` and the CLI's user members, camelCase).
#[utoipa::path(
    post,
    path = "/api/v1/admin/users",
    tag = "admin",
    security(("bearer" = [])),
    request_body(content = Object, description = "`sipUri` and the members of UserInput"),
    responses(
        (status = 201, description = "The user; `Location` names it", body = crate::cli::users::UserView),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`Conflict`: taken, or in use", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn create(
    _: AdminUser,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<impl IntoResponse, ApiError> {
    let (sip_uri, input): (String, UserInput) = split_required(body, "sipUri")?;
    let user: UserView = users::new_user(state.store.as_ref(), &sip_uri, &input).await?;
    let location = format!("/api/v1/admin/users/{}", percent_encode(&user.sip_uri));
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(user),
    ))
}

/// One user, with their effective policy.
#[utoipa::path(
    get,
    path = "/api/v1/admin/users/{sip_uri}",
    tag = "admin",
    security(("bearer" = [])),
    params(("sip_uri" = String, Path, description = "The user's SIP URI")),
    responses(
        (status = 200, description = "The user", body = crate::cli::users::UserDetails),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "Not found", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn show(
    _: AdminUser,
    State(state): State<AppState>,
    Path(sip_uri): Path<String>,
) -> Result<Json<UserDetails>, ApiError> {
    Ok(Json(users::get_user(state.store.as_ref(), &sip_uri).await?))
}

/// Changes a user (the members given).
#[utoipa::path(
    patch,
    path = "/api/v1/admin/users/{sip_uri}",
    tag = "admin",
    security(("bearer" = [])),
    params(("sip_uri" = String, Path, description = "The user's SIP URI")),
    request_body(content = crate::cli::users::UserInput, description = "The members to change"),
    responses(
        (status = 200, description = "The user", body = crate::cli::users::UserView),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "Not found", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`Conflict`: taken, or in use", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn change(
    _: AdminUser,
    State(state): State<AppState>,
    Path(sip_uri): Path<String>,
    ApiJson(input): ApiJson<UserInput>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        users::set_user(state.store.as_ref(), &sip_uri, &input).await?,
    ))
}

/// Removes a user.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/users/{sip_uri}",
    tag = "admin",
    security(("bearer" = [])),
    params(("sip_uri" = String, Path, description = "The user's SIP URI")),
    responses(
        (status = 200, description = "What was removed", body = crate::cli::users::Removed),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "Not found", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn remove(
    _: AdminUser,
    State(state): State<AppState>,
    Path(sip_uri): Path<String>,
) -> Result<Json<Removed>, ApiError> {
    Ok(Json(
        users::remove_user(state.store.as_ref(), &sip_uri).await?,
    ))
}

/// Imports users from CSV (the request body); all or nothing unless `skip_bad_rows`.
#[utoipa::path(
    post,
    path = "/api/v1/admin/users/import",
    tag = "admin",
    security(("bearer" = [])),
    params(("skip_bad_rows" = Option<bool>, Query, description = "Import the good rows, report the bad")),
    request_body(content = String, content_type = "text/csv", description = "The CSV file"),
    responses(
        (status = 200, description = "The import report", body = crate::cli::import::ImportView),
        (status = 422, description = "Nothing imported: the report names the bad rows", body = crate::cli::import::ImportView),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn import(
    _: AdminUser,
    State(state): State<AppState>,
    mut params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ImportView>), ApiError> {
    let skip_bad_rows = params.boolean("skip_bad_rows", false)?;
    params.finish()?;
    let text = csv_text(&headers, &body)?;
    // No initial password over the API (it would travel in the URL or beside the CSV);
    // the CLI's `user import --password` offers it.
    let report = import_users(state.store.as_ref(), "body", text, skip_bad_rows, None).await?;
    let status = if !report.committed && report.failed > 0 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)))
}

/// The body as CSV text: `Content-Type: text/csv` (or `text/plain`) and UTF-8.
pub(super) fn csv_text<'a>(headers: &HeaderMap, body: &'a Bytes) -> Result<&'a str, ApiError> {
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            let m = m.trim();
            m.eq_ignore_ascii_case("text/csv") || m.eq_ignore_ascii_case("text/plain")
        });
    if !is_csv {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "send the file as Content-Type: text/csv",
        ));
    }
    std::str::from_utf8(body).map_err(|_| ApiError::bad_request("body", "the CSV is not UTF-8"))
}
