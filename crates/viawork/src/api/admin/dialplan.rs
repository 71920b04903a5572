//! Dial plans over HTTP (`viawork dialplan ...`); `user` (a SIP address) selects that
//! user's own plan, no `user` the global one:
//!
//! - `GET /api/v1/admin/dialplan/rules?user=` — the rules in order;
//! - `POST /api/v1/admin/dialplan/rules` `{"user"?, "name", "pattern", "translation",
//!   "isInternalExtension"?, "position"?}` — 201 with the rule;
//! - `DELETE /api/v1/admin/dialplan/rules/{name}?user=` — removes it;
//! - `POST /api/v1/admin/dialplan/test` `{"user"?, "number"}` — which rule turns the number
//!   into what (`Test-CsVoiceNormalizationRule`); a number no rule handles is still a 200,
//!   with no `normalized`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{split, Params};
use crate::api::{AdminUser, ApiError, ApiJson, AppState};
use crate::cli::dialplan::{self, RuleInput, RuleList, RuleRemoved, RuleView, TestView};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/dialplan/rules", get(list).post(create))
        .route("/api/v1/admin/dialplan/rules/{name}", delete(remove))
        .route("/api/v1/admin/dialplan/test", post(test))
}

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

async fn create(
    _: AdminUser,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    let (user, input): (Option<String>, RuleInput) = split(body, "user")?;
    let rule = dialplan::new_rule(state.store.as_ref(), user.as_deref(), &input).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestBody {
    #[serde(default)]
    user: Option<String>,
    number: String,
}

async fn test(
    _: AdminUser,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TestBody>,
) -> Result<Json<TestView>, ApiError> {
    Ok(Json(
        dialplan::test(state.store.as_ref(), body.user.as_deref(), &body.number).await?,
    ))
}
