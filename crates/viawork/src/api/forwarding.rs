//! `GET`/`PUT /api/v1/me/call-forwarding`: the signed-in user's call forwarding and
//! simultaneous ring settings ([`crate::forwarding`]; `docs/call-forwarding.md`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{ApiError, ApiJson, AppState, CurrentUser};
use crate::calls::guard::GuardPolicy;
use crate::forwarding::{check, Context, ForwardingError, Settings};
use crate::store::UserRow;

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/me/call-forwarding", get(read).put(write))
}

impl From<ForwardingError> for ApiError {
    fn from(e: ForwardingError) -> Self {
        let message = e.to_string();
        match e {
            ForwardingError::NotEnterpriseVoice => {
                ApiError::new(StatusCode::FORBIDDEN, "NotEnterpriseVoice", message)
            }
            ForwardingError::NotAllowed { field, code, .. } => {
                ApiError::new(StatusCode::FORBIDDEN, code, message).with_field(field)
            }
            ForwardingError::Invalid { field, message } => ApiError::bad_request(field, message),
            ForwardingError::UnknownPerson { field, .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "PersonNotFound", message).with_field(field)
            }
            ForwardingError::Store(s) => s.into(),
        }
    }
}

/// What `GET`/`PUT /api/v1/me/call-forwarding` answer (only described: [`view`] builds it).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
struct ForwardingView {
    #[serde(flatten)]
    settings: Settings,
    /// `enabled` or `disabled` (UCWA's `unansweredCallHandling`: off while calls are
    /// forwarded immediately).
    unanswered_call_handling: String,
    /// What the user's settings allow.
    allowed: ForwardingAllowed,
    /// When the settings last changed (RFC 3339); `null` if never.
    updated_at: Option<String>,
}

/// Part of [`ForwardingView`].
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
struct ForwardingAllowed {
    call_forwarding: bool,
    simultaneous_ring: bool,
}

fn view(user: &UserRow, s: &Settings, updated_at: Option<i64>) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "unanswered_call_handling".into(),
            json!(if s.unanswered_applies() {
                "enabled"
            } else {
                "disabled"
            }),
        );
        o.insert(
            "allowed".into(),
            json!({
                "call_forwarding": user.allow_call_forwarding,
                "simultaneous_ring": user.allow_simultaneous_ring,
            }),
        );
        o.insert(
            "updated_at".into(),
            json!(updated_at.map(crate::cli::rfc3339::format_ms)),
        );
    }
    v
}

/// The user's call forwarding and simultaneous ring settings.
#[utoipa::path(
    get,
    path = "/api/v1/me/call-forwarding",
    tag = "forwarding",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings, with `unanswered_call_handling`, `allowed` and `updated_at`", body = ForwardingView),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`NotEnterpriseVoice`", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn read(State(state): State<AppState>, me: CurrentUser) -> Result<Json<Value>, ApiError> {
    if !me.user.enterprise_voice {
        return Err(ForwardingError::NotEnterpriseVoice.into());
    }
    let stored = state.store.get_call_forwarding(me.user.id).await?;
    let (settings, at) = match stored {
        Some((text, at)) => (
            serde_json::from_str(&text)
                .map_err(|e| ApiError::internal(format!("stored forwarding settings: {e}")))?,
            Some(at),
        ),
        None => (Settings::default(), None),
    };
    Ok(Json(view(&me.user, &settings, at)))
}

/// Replaces the settings (checked against the policy, the dial plan and the toll-fraud guard); the user's other clients get `call_forwarding.updated`.
#[utoipa::path(
    put,
    path = "/api/v1/me/call-forwarding",
    tag = "forwarding",
    security(("bearer" = [])),
    request_body(content = crate::forwarding::Settings, description = "The settings (see docs/call-forwarding.md)"),
    responses(
        (status = 200, description = "The settings now", body = ForwardingView),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`NotEnterpriseVoice`, or a target the policy does not allow (code names it)", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "`PersonNotFound`", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn write(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(req): ApiJson<Settings>,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.as_ref();
    let plan = super::calls::dial_plan(&state.directory, &me.user).await?;
    let policy = super::me::user_policy(&state.directory, &me.user).await?;
    let server = state
        .calls
        .as_ref()
        .map(|c| c.guard)
        .unwrap_or(GuardPolicy {
            allow_international: false,
            allow_premium: false,
        });
    let cx = Context {
        store,
        user: &me.user,
        plan: &plan,
        guard: policy.callback_guard(server),
    };
    let settings = check(&cx, req).await?;
    let text = serde_json::to_string(&settings).map_err(ApiError::internal)?;
    let now = crate::store::unix_now_ms();
    store.set_call_forwarding(me.user.id, &text, now).await?;
    let v = view(&me.user, &settings, Some(now));
    // The user's other clients show the change.
    state
        .events
        .publish(&me.user.sip_uri, "call_forwarding.updated", &v);
    Ok(Json(v))
}
