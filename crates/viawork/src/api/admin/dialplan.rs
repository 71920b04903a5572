//! Dial plans over HTTP (`viawork dialplan ...`); `user` (a SIP address) selects that
//! user's own plan, no `user` the global one:
//!
//! - `GET /api/v1/admin/dialplan/rules?user=` — the rules in order;
//! - `POST /api/v1/admin/dialplan/rules` `{"user"?, "name", "pattern", "translation",
//!   "isInternalExtension"?, "position"?}` — 201 with the rule;
//! - `PUT /api/v1/admin/dialplan/rules/{name}?user=` `{"name", "pattern", "translation",
//!   "isInternalExtension"?, "position"?}` — changes it (a new name too), keeping its place
//!   unless `position` is given; checked whole first, then swapped in one transaction;
//! - `DELETE /api/v1/admin/dialplan/rules/{name}?user=` — removes it;
//! - `POST /api/v1/admin/dialplan/test` `{"user"?, "number"}` — which rule turns the number
//!   into what (`Test-CsVoiceNormalizationRule`); a number no rule handles is still a 200,
//!   with no `normalized`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{split, Params};
use crate::api::{AdminUser, ApiError, ApiJson, AppState};
use crate::cli::dialplan::{self, RuleInput, RuleList, RuleRemoved, RuleView, TestView};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/dialplan/rules", get(list).post(create))
        .route(
            "/api/v1/admin/dialplan/rules/{name}",
            put(replace).delete(remove),
        )
        .route("/api/v1/admin/dialplan/test", post(test))
}

/// The normalisation rules of the global or a user's dial plan.
#[utoipa::path(
    get,
    path = "/api/v1/admin/dialplan/rules",
    tag = "admin",
    security(("bearer" = [])),
    params(("user" = Option<String>, Query, description = "A user's SIP URI: their dial plan rather than the global one")),
    responses(
        (status = 200, description = "The rules, in order", body = crate::cli::dialplan::RuleList),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "Not found", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn list(
    _: AdminUser,
    State(state): State<AppState>,
    mut params: Params,
) -> Result<Json<RuleList>, ApiError> {
    let user = params.string("user");
    params.finish()?;
    Ok(Json(
        dialplan::list_rules(state.store.as_ref(), user.as_deref()).await?,
    ))
}

/// Adds a normalisation rule (camelCase members of the CLI's rule input; `user` for a user's plan).
#[utoipa::path(
    post,
    path = "/api/v1/admin/dialplan/rules",
    tag = "admin",
    security(("bearer" = [])),
    request_body(content = Object, description = "The members of RuleInput, and `user` for a user's own plan"),
    responses(
        (status = 201, description = "The rule", body = crate::cli::dialplan::RuleView),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "Not found", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`Conflict`: taken, or in use", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn create(
    _: AdminUser,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    let (user, input): (Option<String>, RuleInput) = split(body, "user")?;
    let rule = dialplan::new_rule(state.store.as_ref(), user.as_deref(), &input).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// Changes a rule: the whole rule is given (`RuleInput`); `position` absent keeps its place.
#[utoipa::path(
    put,
    path = "/api/v1/admin/dialplan/rules/{name}",
    tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The rule's current name"), ("user" = Option<String>, Query, description = "A user's SIP URI: their dial plan rather than the global one")),
    request_body = crate::cli::dialplan::RuleInput,
    responses(
        (status = 200, description = "The rule as changed", body = crate::cli::dialplan::RuleView),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "Not found", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn replace(
    _: AdminUser,
    State(state): State<AppState>,
    Path(name): Path<String>,
    mut params: Params,
    ApiJson(input): ApiJson<RuleInput>,
) -> Result<Json<RuleView>, ApiError> {
    let user = params.string("user");
    params.finish()?;
    Ok(Json(
        dialplan::replace_rule(state.store.as_ref(), user.as_deref(), &name, &input).await?,
    ))
}

/// Removes a rule.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/dialplan/rules/{name}",
    tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The rule's name"), ("user" = Option<String>, Query, description = "A user's SIP URI: their dial plan rather than the global one")),
    responses(
        (status = 200, description = "What was removed", body = crate::cli::dialplan::RuleRemoved),
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
    Path(name): Path<String>,
    mut params: Params,
) -> Result<Json<RuleRemoved>, ApiError> {
    let user = params.string("user");
    params.finish()?;
    Ok(Json(
        dialplan::remove_rule(state.store.as_ref(), user.as_deref(), &name).await?,
    ))
}

/// The body of `POST /dialplan/test`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TestBody {
    #[serde(default)]
    user: Option<String>,
    number: String,
}

/// Normalises a number as the dial plan would, naming the rule that matched.
#[utoipa::path(
    post,
    path = "/api/v1/admin/dialplan/test",
    tag = "admin",
    security(("bearer" = [])),
    request_body = TestBody,
    responses(
        (status = 200, description = "The result", body = crate::cli::dialplan::TestView),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "Not found", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store (or the call service) is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn test(
    _: AdminUser,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TestBody>,
) -> Result<Json<TestView>, ApiError> {
    Ok(Json(
        dialplan::test(state.store.as_ref(), body.user.as_deref(), &body.number).await?,
    ))
}
