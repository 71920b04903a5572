//! The call log: `GET /api/v1/call-log?limit=&cursor=` — the signed-in user's own calls,
//! newest first, a page at a time:
//!
//! ```json
//! {"calls": [{"id": "…", "direction": "outbound", "to": "Bob", "to_number": "+14255550123",
//!             "callback_number": "+14255550100", "state": "ended", "end_reason": "completed",
//!             "hung_up_by": "far_end", "created_at": "2024-05-01T09:30:00.000Z",
//!             "callback_answered_at": "…", "connected_at": "…", "ended_at": "…",
//!             "duration_secs": 61, "sip_call_ids": {"callback": "…", "far": "…"},
//!             "media_stats": null}],
//!  "next": "<cursor>"}
//! ```
//!
//! `limit` is 1 to 200 (default 50); `next` is `null` on the last page, else passed back as
//! `cursor` for the following one. A bad `limit`, a `cursor` this server did not issue or an
//! unknown parameter is a 400 `ParameterValidationFailure` naming it. The listing itself is
//! [`crate::cli::call_log`]'s, shared with the admin routes (`admin/call_log.rs`) and the
//! CLI; this file also holds [`CallLogParams`], the query reader both routes use.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};

use super::{ApiError, AppState, CurrentUser};
use crate::cli::call_log::{
    list_calls, Audience, CallLogFilter, CallLogPage, Cursor, DEFAULT_LIMIT, USER_MAX_LIMIT,
};
use crate::domain::{DomainError, UserUri};

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/call-log", get(own_calls))
}

/// The signed-in user's own calls, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/call-log",
    tag = "calls",
    security(("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, description = "1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of the call log", body = crate::cli::call_log::CallLogPage),
        (status = 400, description = "A bad `limit` or `cursor`, or an unknown parameter (named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn own_calls(
    State(state): State<AppState>,
    user: CurrentUser,
    mut params: CallLogParams,
) -> Result<Json<CallLogPage>, ApiError> {
    let limit = params.limit(DEFAULT_LIMIT, USER_MAX_LIMIT)?;
    let cursor = params.cursor()?;
    params.finish()?;
    let owner: UserUri =
        user.user.sip_uri.parse().map_err(|e| {
            ApiError::internal(format!("stored SIP URI {}: {e}", user.user.sip_uri))
        })?;
    let page = list_calls(
        state.store.as_ref(),
        &CallLogFilter::of_user(owner),
        cursor.as_ref(),
        limit,
        Audience::Owner,
    )
    .await?;
    Ok(Json(page))
}

/// The query parameters of a call-log route, taken one by one; [`CallLogParams::finish`]
/// refuses any left over, so a misspelt parameter is a 400 naming it. An empty value is the
/// same as an absent one.
pub(super) struct CallLogParams(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for CallLogParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Query(map)| CallLogParams(map))
            .map_err(|e| ApiError::bad_request("query", e.body_text()))
    }
}

impl CallLogParams {
    /// The value of `name`, if given and not empty.
    pub(super) fn text(&mut self, name: &str) -> Option<String> {
        self.0.remove(name).filter(|v| !v.trim().is_empty())
    }

    /// `limit`: a whole number from 1 to `max`, `default` when absent.
    pub(super) fn limit(&mut self, default: u32, max: u32) -> Result<u32, ApiError> {
        let Some(text) = self.text("limit") else {
            return Ok(default);
        };
        match text.trim().parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(DomainError::invalid(
                "limit",
                format!("must be a whole number from 1 to {max}"),
            )
            .into()),
        }
    }

    /// `cursor`: where the page starts.
    pub(super) fn cursor(&mut self) -> Result<Option<Cursor>, ApiError> {
        Ok(self.text("cursor").map(|c| Cursor::parse(&c)).transpose()?)
    }

    /// `user`, `since`, `until` and `end_reason` (the administrator's filters).
    pub(super) fn filter(&mut self) -> Result<CallLogFilter, ApiError> {
        let user = self.text("user");
        let since = self.text("since");
        let until = self.text("until");
        let end_reason = self.text("end_reason");
        Ok(CallLogFilter::parse(
            user.as_deref(),
            since.as_deref(),
            until.as_deref(),
            end_reason.as_deref(),
        )?)
    }

    /// Refuses the parameters not taken.
    pub(super) fn finish(self) -> Result<(), ApiError> {
        match self.0.into_keys().min() {
            None => Ok(()),
            Some(name) => Err(ApiError::bad_request(
                name.clone(),
                format!("unknown query parameter `{name}`"),
            )),
        }
    }
}
