//! Call Via Work policies and grants over HTTP (`viawork policy ...`):
//!
//! - `GET /api/v1/admin/policies` — all policies, `Global` first;
//! - `POST /api/v1/admin/policies` `{"identity": "Tag:Sales", "enabled", "useAdminCallbackNumber",
//!   "adminCallbackNumber"}` — 201 with `Location`; `Global` cannot be created (400), a taken
//!   identity is 409;
//! - `GET`/`PATCH`/`DELETE /api/v1/admin/policies/{identity}` — one policy; the given
//!   settings changed; removed (its grants cleared), or for `Global` reset — the answer then
//!   carries the reset policy in `policy`;
//! - `POST /api/v1/admin/policies/import?skip_bad_rows=false` with a `text/csv` body (a
//!   `Get-CsCallViaWorkPolicy | Export-Csv` file) — existing policies updated, others
//!   created; the per-row report, 422 when rows are bad and nothing was imported;
//! - `PUT /api/v1/admin/users/{sip_uri}/policy` `{"policy": "Tag:Sales" | null}` — grants a
//!   `Tag:` policy, or with `null` returns the user to their site or the global policy; an
//!   unknown policy is 404 on `policy`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::users::csv_text;
use super::{percent_encode, split_required, Params};
use crate::api::{AdminUser, ApiError, ApiJson, AppState};
use crate::cli::import::{import_policies, ImportView};
use crate::cli::policies::{self, GrantView, PolicyInput, PolicyList, PolicyView, RemovalView};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/policies", get(list).post(create))
        .route("/api/v1/admin/policies/import", post(import))
        .route(
            "/api/v1/admin/policies/{identity}",
            get(show).patch(change).delete(remove),
        )
        .route("/api/v1/admin/users/{sip_uri}/policy", put(grant))
}

/// The Call Via Work policies.
#[utoipa::path(
    get,
    path = "/api/v1/admin/policies",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The policies", body = crate::cli::policies::PolicyList),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn list(_: AdminUser, State(state): State<AppState>) -> Result<Json<PolicyList>, ApiError> {
    Ok(Json(policies::list_policies(state.store.as_ref()).await?))
}

/// Creates a policy (`identity` and the CLI's policy members, camelCase).
#[utoipa::path(
    post,
    path = "/api/v1/admin/policies",
    tag = "admin",
    security(("bearer" = [])),
    request_body(content = Object, description = "`identity` and the members of PolicyInput"),
    responses(
        (status = 201, description = "The policy; `Location` names it", body = crate::cli::policies::PolicyView),
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
    let (identity, input): (String, PolicyInput) = split_required(body, "identity")?;
    let policy = policies::new_policy(state.store.as_ref(), &identity, &input).await?;
    let location = format!(
        "/api/v1/admin/policies/{}",
        percent_encode(&policy.identity)
    );
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(policy),
    ))
}

/// One policy.
#[utoipa::path(
    get,
    path = "/api/v1/admin/policies/{identity}",
    tag = "admin",
    security(("bearer" = [])),
    params(("identity" = String, Path, description = "`Global`, `Site:<name>` or `Tag:<name>`")),
    responses(
        (status = 200, description = "The policy", body = crate::cli::policies::PolicyView),
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
    Path(identity): Path<String>,
) -> Result<Json<PolicyView>, ApiError> {
    Ok(Json(
        policies::get_policy(state.store.as_ref(), &identity).await?,
    ))
}

/// Changes a policy (the members given).
#[utoipa::path(
    patch,
    path = "/api/v1/admin/policies/{identity}",
    tag = "admin",
    security(("bearer" = [])),
    params(("identity" = String, Path, description = "`Global`, `Site:<name>` or `Tag:<name>`")),
    request_body(content = crate::cli::policies::PolicyInput, description = "The members to change"),
    responses(
        (status = 200, description = "The policy", body = crate::cli::policies::PolicyView),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "Not found", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn change(
    _: AdminUser,
    State(state): State<AppState>,
    Path(identity): Path<String>,
    ApiJson(input): ApiJson<PolicyInput>,
) -> Result<Json<PolicyView>, ApiError> {
    Ok(Json(
        policies::set_policy(state.store.as_ref(), &identity, &input).await?,
    ))
}

/// What `DELETE /policies/{identity}` answers: the removal, and for `Global` the policy as
/// reset.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PolicyRemoval)]
#[serde(rename_all = "camelCase")]
struct Removal {
    #[serde(flatten)]
    removal: RemovalView,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<PolicyView>,
}

/// Removes a policy; `Global` is reset to the defaults instead (and answered as `policy`).
#[utoipa::path(
    delete,
    path = "/api/v1/admin/policies/{identity}",
    tag = "admin",
    security(("bearer" = [])),
    params(("identity" = String, Path, description = "`Global`, `Site:<name>` or `Tag:<name>`")),
    responses(
        (status = 200, description = "What was removed", body = Removal),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "Not found", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`Conflict`: taken, or in use", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn remove(
    _: AdminUser,
    State(state): State<AppState>,
    Path(identity): Path<String>,
) -> Result<Json<Removal>, ApiError> {
    let store = state.store.as_ref();
    let removal = policies::remove_policy(store, &identity).await?;
    let policy = match removal.outcome {
        "reset" => Some(policies::get_policy(store, &removal.identity).await?),
        _ => None,
    };
    Ok(Json(Removal { removal, policy }))
}

/// Imports policies from CSV (the request body); all or nothing unless `skip_bad_rows`.
#[utoipa::path(
    post,
    path = "/api/v1/admin/policies/import",
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
        (status = 415, description = "Not sent as text/csv", body = crate::api::openapi::ErrorResponse),
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
    let report = import_policies(state.store.as_ref(), "body", text, skip_bad_rows).await?;
    let status = if !report.committed && report.failed > 0 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)))
}

/// The body of `PUT /users/{sip_uri}/policy`: `policy` must be present, `null` to ungrant.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    #[serde(deserialize_with = "Option::deserialize")]
    policy: Option<String>,
}

/// Grants a user a `Tag:` policy (`null`: none).
#[utoipa::path(
    put,
    path = "/api/v1/admin/users/{sip_uri}/policy",
    tag = "admin",
    security(("bearer" = [])),
    params(("sip_uri" = String, Path, description = "The user's SIP URI")),
    request_body = GrantBody,
    responses(
        (status = 200, description = "The grant", body = crate::cli::policies::GrantView),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "Not found", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn grant(
    _: AdminUser,
    State(state): State<AppState>,
    Path(sip_uri): Path<String>,
    ApiJson(body): ApiJson<GrantBody>,
) -> Result<Json<GrantView>, ApiError> {
    policies::grant(state.store.as_ref(), &sip_uri, body.policy.as_deref())
        .await
        .map(Json)
        .map_err(|e| {
            // The service names the policy `policyName`; here it is the body's `policy`.
            let e = ApiError::from(e);
            if e.field() == Some("policyName") {
                e.with_field("policy")
            } else {
                e
            }
        })
}
