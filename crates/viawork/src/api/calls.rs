//! Click to call: `POST /api/v1/calls`, `GET /api/v1/calls`, `GET`/`DELETE
//! /api/v1/calls/{id}`.
//!
//! [`place_call`] decides everything before a single SIP message goes out: the user may
//! call (Enterprise Voice and an enabled Call Via Work policy, else 403
//! `DialoutNotAllowed`), `to` normalises through the user's dial plan (else 400
//! `NormalizationFailed`), the callback number follows the policy and the toll-fraud
//! guard (else 403 `PhoneNumberConflict`), the user is under the per-minute limit (else
//! 429), the trunk is there and up (else 503 `CallbackUriUnreachable`). Then the call
//! service starts the callback leg.
//!
//! Overload: at most `calls.max_pending_setups` setups are handled at once. One more is
//! refused at once, before its token is even checked, with 503 `Overloaded` and
//! `Retry-After: 1` (counted in `viawork_calls_rejected_total{reason="overloaded"}`):
//! a client that is told to retry is better served than one whose request waits for
//! seconds in a queue behind work the server cannot catch up with.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};

use super::{ApiError, ApiJson, AppState, CurrentUser};
use crate::calls::guard::{check_callback, GuardPolicy, RateLimiter};
use crate::calls::media::{CallMedia, MeetingJoin};
use crate::calls::sdp_relay::LegSession;
use crate::calls::service::CallsHandle;
use crate::calls::{CallSetup, CallView, Control, ControlError, NewCall, StartError};
use crate::config::{Anchor, CallsConfig};
use crate::directory_cache::DirectoryCache;
use crate::domain::{callback_number, CallbackError, DialPlan, Dialable, LineUri, E164};
use crate::store::{UserRow, GLOBAL_SCOPE};

/// What the calls API needs besides the store.
#[derive(Clone)]
pub struct CallsApi {
    /// The call service.
    pub handle: CallsHandle,
    /// The media engine's side for calls.
    pub media: CallMedia,
    /// `[calls]`.
    pub config: CallsConfig,
    /// `media.anchor`.
    pub anchor: Anchor,
    /// What user-chosen callback numbers may be.
    pub guard: GuardPolicy,
    limiter: Arc<Mutex<RateLimiter>>,
    /// One permit per setup in progress (`calls.max_pending_setups`).
    setups: Arc<Semaphore>,
}

impl CallsApi {
    /// The calls API over a running call service.
    pub fn new(
        handle: CallsHandle,
        media: CallMedia,
        config: CallsConfig,
        anchor: Anchor,
    ) -> CallsApi {
        CallsApi {
            limiter: Arc::new(Mutex::new(RateLimiter::new(config.max_calls_per_minute))),
            setups: Arc::new(Semaphore::new(config.max_pending_setups as usize)),
            guard: GuardPolicy {
                allow_international: config.allow_international_callback,
                allow_premium: config.allow_premium_callback,
            },
            handle,
            media,
            config,
            anchor,
        }
    }
}

impl CallsApi {
    /// Counts a call `user_id` starts against `calls.max_calls_per_minute`; `Err` holds
    /// how long until one more is allowed. API calls and SIP clients' calls share it.
    pub async fn admit(&self, user_id: i64) -> Result<(), std::time::Duration> {
        self.limiter.lock().await.admit(user_id, Instant::now())
    }
}

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/calls", get(list).post(create))
        .route("/api/v1/calls/{id}", get(get_one).delete(hang_up))
        .route("/api/v1/calls/{id}/hold", post(hold))
        .route("/api/v1/calls/{id}/resume", post(resume))
        .route("/api/v1/calls/{id}/mute", post(mute))
        .route("/api/v1/calls/{id}/unmute", post(unmute))
        .route("/api/v1/calls/{id}/dtmf", post(dtmf))
        .route("/api/v1/calls/{id}/transfer", post(transfer))
        .route("/api/v1/calls/{id}/accept", post(accept))
        .route("/api/v1/calls/{id}/decline", post(decline))
}

/// `POST /api/v1/calls/{id}/dtmf` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DtmfRequest {
    /// `0-9`, `*`, `#`, `A-D`; at most 32.
    pub digits: String,
}

/// `POST /api/v1/calls/{id}/transfer` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// Where to send the far party: a `sip:` URI, a `tel:` URI or digits.
    pub to: String,
}

/// Carries out `c` on `user`'s call `id`: 202 with the call, 404, or 409 naming why not.
pub(crate) async fn control(
    state: &AppState,
    user: &UserRow,
    id: &str,
    c: Control,
) -> Result<Response, ApiError> {
    let api = calls(state)?;
    match api.handle.control(id, &user.sip_uri, c).await? {
        None => Err(ApiError::not_found("no such call")),
        Some(Ok(view)) => Ok((StatusCode::ACCEPTED, Json(view)).into_response()),
        Some(Err(e)) => Err(control_error(e)),
    }
}

/// A control the call refused: 409 with its UCWA-style code.
pub(crate) fn control_error(e: ControlError) -> ApiError {
    let code = match e {
        ControlError::NotConnected => "CallNotConnected",
        ControlError::Busy => "CallBusy",
        ControlError::Unsupported => "NotSupported",
        ControlError::NotAnchored => "MediaNotAnchored",
    };
    ApiError::new(StatusCode::CONFLICT, code, e.to_string())
}

/// Puts the far party on hold.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/hold",
    tag = "calls",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's id")),
    responses(
        (status = 202, description = "Accepted; the call as it is now (events follow)", body = crate::calls::CallView),
        (status = 409, description = "Not possible in the call's state (`InvalidState`, `NotSupported`, ...)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such call of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "`CallbackUriUnreachable`: no PBX trunk; `ServiceUnavailable`: shutting down", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn hold(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    control(&state, &user.user, &id, Control::Hold).await
}

/// Takes the far party off hold.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/resume",
    tag = "calls",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's id")),
    responses(
        (status = 202, description = "Accepted; the call as it is now (events follow)", body = crate::calls::CallView),
        (status = 409, description = "Not possible in the call's state (`InvalidState`, `NotSupported`, ...)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such call of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "`CallbackUriUnreachable`: no PBX trunk; `ServiceUnavailable`: shutting down", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn resume(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    control(&state, &user.user, &id, Control::Resume).await
}

/// Mutes the user's phone toward the far party.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/mute",
    tag = "calls",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's id")),
    responses(
        (status = 202, description = "Accepted; the call as it is now (events follow)", body = crate::calls::CallView),
        (status = 409, description = "Not possible in the call's state (`InvalidState`, `NotSupported`, ...)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such call of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "`CallbackUriUnreachable`: no PBX trunk; `ServiceUnavailable`: shutting down", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn mute(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    control(&state, &user.user, &id, Control::Mute).await
}

/// Unmutes the user's phone.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/unmute",
    tag = "calls",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's id")),
    responses(
        (status = 202, description = "Accepted; the call as it is now (events follow)", body = crate::calls::CallView),
        (status = 409, description = "Not possible in the call's state (`InvalidState`, `NotSupported`, ...)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such call of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "`CallbackUriUnreachable`: no PBX trunk; `ServiceUnavailable`: shutting down", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn unmute(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    control(&state, &user.user, &id, Control::Unmute).await
}

/// Sends DTMF digits to the far party (RFC 4733).
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/dtmf",
    tag = "calls",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's id")),
    request_body = DtmfRequest,
    responses(
        (status = 202, description = "Accepted; the call as it is now (events follow)", body = crate::calls::CallView),
        (status = 400, description = "A bad body (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "Not possible in the call's state (`InvalidState`, `NotSupported`, ...)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such call of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "`CallbackUriUnreachable`: no PBX trunk; `ServiceUnavailable`: shutting down", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn dtmf(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<DtmfRequest>,
) -> Result<Response, ApiError> {
    let digits = req.digits.trim().to_ascii_uppercase();
    if digits.is_empty()
        || digits.len() > 32
        || !digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D'))
    {
        return Err(ApiError::bad_request(
            "digits",
            "1 to 32 of 0-9, *, # and A-D",
        ));
    }
    control(&state, &user.user, &id, Control::Dtmf(digits)).await
}

/// Transfers the far party (blind transfer, REFER) to another number or URI.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/transfer",
    tag = "calls",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's id")),
    request_body = TransferRequest,
    responses(
        (status = 202, description = "Accepted; the call as it is now (events follow)", body = crate::calls::CallView),
        (status = 400, description = "A bad body (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "Not possible in the call's state (`InvalidState`, `NotSupported`, ...)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such call of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "`CallbackUriUnreachable`: no PBX trunk; `ServiceUnavailable`: shutting down", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn transfer(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<TransferRequest>,
) -> Result<Response, ApiError> {
    let api = calls(&state)?;
    let directory = state.directory.as_ref();
    let plan = dial_plan(directory, &user.user).await?;
    let to = resolve_to(directory, &plan, &req.to).await?;
    let trunk = api
        .handle
        .trunk()
        .cloned()
        .ok_or_else(|| ApiError::not_found("no such call"))?;
    control(
        &state,
        &user.user,
        &id,
        Control::Transfer(trunk.uri_for(&to)),
    )
    .await
}

/// `GET /api/v1/calls` answer (only described: the handler builds it as JSON).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct CallList {
    /// The calls.
    calls: Vec<crate::calls::CallView>,
}

/// `POST /api/v1/calls` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    /// Who to call: a `sip:` URI, a `tel:` URI or digits.
    pub to: String,
    /// The number to ring first, if the user chooses one.
    #[serde(default)]
    pub callback_number: Option<String>,
}

fn calls(state: &AppState) -> Result<&CallsApi, ApiError> {
    state.calls.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "CallbackUriUnreachable",
            "calls are not available: no PBX trunk is configured",
        )
    })
}

/// A place among the call setups in progress, held until the answer is ready; taken
/// before any other extractor so that an overloaded server spends nothing more on the
/// request.
pub(crate) struct SetupSlot(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl FromRequestParts<AppState> for SetupSlot {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(api) = &state.calls else {
            // No calls at all: the handler says so.
            return Ok(SetupSlot(None));
        };
        match api.setups.clone().try_acquire_owned() {
            Ok(permit) => Ok(SetupSlot(Some(permit))),
            Err(_) => {
                metrics::counter!("viawork_calls_rejected_total", "reason" => "overloaded")
                    .increment(1);
                Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Overloaded",
                    format!(
                        "the server is setting up {} calls already; try again shortly",
                        api.config.max_pending_setups
                    ),
                )
                .with_retry_after(1))
            }
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/calls",
    tag = "calls",
    security(("bearer" = [])),
    request_body = CallRequest,
    responses(
        (status = 201, description = "The callback leg to the user's phone is on its way; `Location` names the call", body = crate::calls::CallView),
        (status = 400, description = "A bad body, or `NormalizationFailed`: `to` does not normalise", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`DialoutNotAllowed` or `PhoneNumberConflict` (toll-fraud guard)", body = crate::api::openapi::ErrorResponse),
        (status = 429, description = "Over the per-minute call limit", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "`Overloaded` (with `Retry-After`) or `CallbackUriUnreachable`", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn create(
    State(state): State<AppState>,
    _slot: SetupSlot,
    user: CurrentUser,
    ApiJson(req): ApiJson<CallRequest>,
) -> Result<Response, ApiError> {
    let view = place_call(&state, &user.user, req).await?;
    let location = format!("/api/v1/calls/{}", view.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/calls",
    tag = "calls",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's live calls", body = CallList),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "No call service", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<serde_json::Value>, ApiError> {
    let api = calls(&state)?;
    let list = api.handle.list(&user.user.sip_uri).await?;
    Ok(Json(serde_json::json!({ "calls": list })))
}

#[utoipa::path(
    get,
    path = "/api/v1/calls/{id}",
    tag = "calls",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's id")),
    responses(
        (status = 200, description = "The call", body = crate::calls::CallView),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such call of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "`CallbackUriUnreachable`: no PBX trunk; `ServiceUnavailable`: shutting down", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<CallView>, ApiError> {
    let api = calls(&state)?;
    api.handle
        .get(&id, &user.user.sip_uri)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no such call"))
}

#[utoipa::path(
    delete,
    path = "/api/v1/calls/{id}",
    tag = "calls",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's id")),
    responses(
        (status = 200, description = "Hung up; the call as it ends", body = crate::calls::CallView),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such call of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "`CallbackUriUnreachable`: no PBX trunk; `ServiceUnavailable`: shutting down", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn hang_up(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<CallView>, ApiError> {
    let api = calls(&state)?;
    api.handle
        .hang_up(&id, &user.user.sip_uri)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no such call"))
}

/// Accepts or declines `user`'s incoming call `id`.
async fn answer(
    state: &AppState,
    user: &UserRow,
    id: &str,
    accept: bool,
) -> Result<Response, ApiError> {
    let api = calls(state)?;
    match api.handle.answer(id, &user.sip_uri, accept).await? {
        None => Err(ApiError::not_found("no such call")),
        Some(Some(view)) => Ok((StatusCode::ACCEPTED, Json(view)).into_response()),
        Some(None) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "InvalidState",
            "the call is not ringing for this client any more (answered elsewhere, \
             accepted or declined already, or the caller gave up)",
        )),
    }
}

/// Accepts an incoming call: the user's PBX phone rings as a Call Via Work callback
/// (showing the Call Via Work caller ID) and is connected to the caller when answered.
/// The other places the call rang stop ringing.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/accept",
    tag = "calls",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's id")),
    responses(
        (status = 202, description = "Accepted; the call as it is now (`connecting_your_phone`; events follow)", body = crate::calls::CallView),
        (status = 409, description = "`InvalidState`: no longer ringing for clients", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such call of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "No call service", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn accept(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    answer(&state, &user.user, &id, true).await
}

/// Declines an incoming call: it goes to the user's unanswered-call target if they set
/// one, else the caller gets `603 Decline`.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/decline",
    tag = "calls",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's id")),
    responses(
        (status = 202, description = "Declined; the call as it is now", body = crate::calls::CallView),
        (status = 409, description = "`InvalidState`: no longer ringing", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such call of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "No call service", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn decline(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    answer(&state, &user.user, &id, false).await
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "PhoneNumberConflict", message)
        .with_field("callback_number")
}

pub(crate) async fn dial_plan(
    directory: &DirectoryCache,
    user: &UserRow,
) -> Result<Arc<DialPlan>, ApiError> {
    let own = directory
        .dial_plan(&user.id.to_string())
        .await
        .map_err(|e| ApiError::internal(format!("dial plan of {}: {e}", user.sip_uri)))?;
    if !own.rules().is_empty() {
        return Ok(own);
    }
    directory
        .dial_plan(GLOBAL_SCOPE)
        .await
        .map_err(|e| ApiError::internal(format!("global dial plan: {e}")))
}

/// The directory user `to` names, when it is a `sip:` URI of one (any case, parameters
/// ignored).
pub(crate) async fn directory_user(
    directory: &DirectoryCache,
    to: &str,
) -> Result<Option<Arc<UserRow>>, ApiError> {
    match sip::Uri::parse(to.trim()) {
        Ok(sip::Uri::Sip(u)) => {
            let canonical = format!("sip:{}@{}", u.user.unwrap_or(""), u.host).to_lowercase();
            Ok(directory.user_by_sip_uri(&canonical).await?)
        }
        _ => Ok(None),
    }
}

/// Turns `to` into something to dial: a directory user's line, or a number through the
/// dial plan.
async fn resolve_to(
    directory: &DirectoryCache,
    plan: &DialPlan,
    to: &str,
) -> Result<Dialable, ApiError> {
    let failed = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "NormalizationFailed",
            format!("the dial plan cannot normalise {to:?}"),
        )
        .with_field("to")
    };
    let to = to.trim();
    if to.is_empty() || to.len() > 256 {
        return Err(ApiError::bad_request(
            "to",
            "give a SIP URI, a tel: URI or a number",
        ));
    }
    let typed = match sip::Uri::parse(to) {
        Ok(sip::Uri::Sip(u)) => {
            // A directory user: call their line.
            let canonical = format!("sip:{}@{}", u.user.unwrap_or(""), u.host);
            if let Some(row) = directory.user_by_sip_uri(&canonical.to_lowercase()).await? {
                let line = row.line_uri.parse::<LineUri>().map_err(|_| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "NormalizationFailed",
                        format!("{} has no phone line", row.sip_uri),
                    )
                    .with_field("to")
                })?;
                return Ok(Dialable::E164(line.number().clone()));
            }
            u.user_decoded()
                .map(|c| c.into_owned())
                .ok_or_else(failed)?
        }
        Ok(sip::Uri::Tel(t)) => t.digits(),
        Ok(sip::Uri::Other { .. }) => {
            return Err(ApiError::bad_request(
                "to",
                "only sip:, sips: and tel: URIs can be called",
            ))
        }
        Err(_) => to.to_owned(),
    };
    plan.normalize(&typed)
        .map(|n| n.result)
        .map_err(|_| failed())
}

/// What a Call Via Work call connects the user's phone to once it answers.
pub enum FarEnd {
    /// A party to dial: `to` as the user gave it (SIP URI, tel: URI or digits).
    Dial(String),
    /// A meeting (dial-out join): its id and conference ID.
    Meeting {
        /// The meeting's id.
        id: String,
        /// Its conference ID (shown as the number).
        conference_id: String,
    },
    /// Someone invited into a running meeting: ViaWork rings `to` (as the user gave it)
    /// with the inviting user's own number and name, and puts them in the meeting — past
    /// the lobby — when they answer.
    Invite {
        /// The meeting's id.
        id: String,
        /// Who to ring.
        to: String,
    },
}

/// Checks and starts a call for `user`. See the [module docs](self).
pub async fn place_call(
    state: &AppState,
    user: &UserRow,
    req: CallRequest,
) -> Result<CallView, ApiError> {
    start_call(
        state,
        user,
        req.callback_number.as_deref(),
        FarEnd::Dial(req.to),
    )
    .await
}

/// Checks and starts a Call Via Work call for `user`: their phone first (on
/// `chosen_callback` if the policy lets them choose), then `far`.
pub async fn start_call(
    state: &AppState,
    user: &UserRow,
    chosen_callback: Option<&str>,
    far: FarEnd,
) -> Result<CallView, ApiError> {
    let requested_at = Instant::now();
    let api = calls(state)?;
    let directory = state.directory.as_ref();
    if !user.enterprise_voice {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "DialoutNotAllowed",
            "the user is not enabled for Enterprise Voice",
        ));
    }
    let policy = super::me::user_policy(directory, user).await?;
    let plan = dial_plan(directory, user).await?;
    let line = user.line_uri.parse::<LineUri>().ok();
    let choice = match chosen_callback.map(str::trim) {
        None | Some("") => None,
        Some(typed) => {
            // Before normalising: a dial plan may well not know emergency short codes.
            if crate::calls::guard::is_emergency(typed) {
                return Err(conflict(
                    crate::calls::guard::GuardError::Emergency.to_string(),
                ));
            }
            let n = match plan.normalize(typed) {
                Ok(n) => n.result,
                Err(_) => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "NormalizationFailed",
                        format!("the dial plan cannot normalise {typed:?}"),
                    )
                    .with_field("callback_number"))
                }
            };
            let Dialable::E164(n) = n else {
                return Err(conflict(
                    "a callback number must be a full phone number, not an extension",
                ));
            };
            check_callback(
                typed,
                &n,
                line.as_ref().map(LineUri::number),
                policy.callback_guard(api.guard),
            )
            .map_err(|e| conflict(e.to_string()))?;
            Some(n)
        }
    };
    let callback = callback_number(&policy, choice, line.as_ref()).map_err(|e| match e {
        CallbackError::Disabled { .. } => {
            ApiError::new(StatusCode::FORBIDDEN, e.subcode(), e.to_string())
        }
        CallbackError::UserChoiceNotAllowed { .. } => conflict(e.to_string()),
        CallbackError::NoNumber => ApiError::bad_request("callback_number", e.to_string()),
    })?;
    let to = match &far {
        FarEnd::Dial(to) | FarEnd::Invite { to, .. } => {
            Some(resolve_to(directory, &plan, to).await?)
        }
        FarEnd::Meeting { .. } => None,
    };
    // An invited directory user joins as themselves.
    let invitee = match &far {
        FarEnd::Invite { to, .. } => directory_user(directory, to)
            .await?
            .map(|row| (row.sip_uri.to_ascii_lowercase(), row.display_name.clone())),
        _ => None,
    };
    let runtime = match (&far, &state.meetings_runtime) {
        (FarEnd::Meeting { .. } | FarEnd::Invite { .. }, None) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "meetings need the media engine and a PBX trunk",
            ))
        }
        (_, r) => r.clone(),
    };
    let trunk = api.handle.trunk().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "CallbackUriUnreachable",
            "no PBX trunk is configured",
        )
    })?;
    let caller_id: E164 = directory.call_via_work_caller_id().await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "CallbackUriUnreachable",
            "the administrator has not set the Call Via Work caller ID (CallViaWorkCallerId)",
        )
    })?;
    if let Err(wait) = api.admit(user.id).await {
        let secs = wait.as_secs().max(1);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyCalls",
            format!("too many calls in the last minute; try again in {secs} seconds"),
        )
        .with_retry_after(secs));
    }
    let own_number = line
        .as_ref()
        .map(|l| l.number().clone())
        .unwrap_or_else(|| callback.number().clone());
    let callback_dial = match (&far, &to) {
        // An invitation rings the invited party instead of the user's phone.
        (FarEnd::Invite { .. }, Some(to)) => to.clone(),
        _ => Dialable::E164(callback.number().clone()),
    };
    let meeting = matches!(far, FarEnd::Meeting { .. } | FarEnd::Invite { .. });
    // A meeting join's phone talks to the mixer (G.722 when it can); any other callback
    // leg is relayed to a far party, so G.711 only.
    let opened = match meeting {
        true => api.media.open_meeting_call().await,
        false => api.media.open_call().await,
    };
    let (streams, local) = opened.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            e.to_string(),
        )
    })?;
    let [m1, m2] = local;
    let display = (!user.display_name.is_empty()).then(|| user.display_name.clone());
    let callback_leg = match &far {
        FarEnd::Invite { .. } => {
            trunk.leg(trunk.uri_for(&callback_dial), &own_number, display.clone())
        }
        _ => trunk.leg(
            trunk.uri_for(&callback_dial),
            &caller_id,
            Some("Call Via Work".to_owned()),
        ),
    };
    let far_leg = match &to {
        Some(to) => trunk.leg(trunk.uri_for(to), &own_number, display),
        // A meeting has no far leg; the template is never used.
        None => callback_leg.clone(),
    };
    let rung = callback_dial.to_string();
    let (to_text, to_number, streams) = match (far, to, runtime) {
        (FarEnd::Dial(text), Some(to), _) => (text.trim().to_owned(), to.to_string(), streams),
        (FarEnd::Meeting { id, conference_id }, _, Some(rt)) => (
            format!("meeting:{id}"),
            conference_id,
            streams.for_meeting(MeetingJoin {
                meeting_id: Some(id),
                user: Some(user.sip_uri.to_ascii_lowercase()),
                name: user.display_name.clone(),
                admitted: false,
                owner: user.sip_uri.clone(),
                to: rt.calls_sender(),
            }),
        ),
        (FarEnd::Invite { id, to: text }, Some(to), Some(rt)) => {
            let (invited, name) = match invitee {
                Some((uri, name)) => (Some(uri), name),
                None => (None, to.to_string()),
            };
            (
                format!("meeting:{id}"),
                text.trim().to_owned(),
                streams.for_meeting(MeetingJoin {
                    meeting_id: Some(id),
                    user: invited,
                    name,
                    admitted: true,
                    owner: user.sip_uri.clone(),
                    to: rt.calls_sender(),
                }),
            )
        }
        _ => return Err(ApiError::internal("a call without a far end")),
    };
    let setup = CallSetup {
        meeting,
        callback: callback_leg,
        far: far_leg,
        sessions: [LegSession::new(m1), LegSession::new(m2)],
        anchor: api.anchor == Anchor::Always || !trunk.config().reinvite_without_sdp,
        pbx_refer_replaces: trunk.config().refer_with_replaces,
        ring_timeouts: [
            api.config.callback_ring_timeout,
            api.config.far_ring_timeout,
        ],
    };
    let id = format!("{:032x}", rand::random::<u128>());
    let new = NewCall {
        owner: user.sip_uri.clone(),
        to: to_text,
        to_number,
        callback_number: rung,
        setup,
        requested_at: Some(requested_at),
    };
    match api.handle.start(id, new, Some(streams)).await? {
        Ok(view) => Ok(view),
        Err(StartError::TrunkUnavailable) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "CallbackUriUnreachable",
            "the trunk to the PBX is unavailable (trunk_unavailable)",
        )),
        Err(e @ StartError::Build(_)) => Err(ApiError::internal(e)),
    }
}
