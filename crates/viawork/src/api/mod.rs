//! The HTTP API: health, metrics, sign-in and the signed-in user's profile, served by axum
//! next to the SIP endpoint.
//!
//! Routing is composed from one small [`Router`] per area, each in its own file; handlers
//! only extract typed input, call one function and map its result to a response:
//!
//! | File | Routes |
//! |---|---|
//! | `health.rs` | `GET /healthz` |
//! | `metrics.rs` | `GET /metrics` (and the request counter middleware) |
//! | `auth.rs` | `POST`/`DELETE /api/v1/auth/token`, the [`CurrentUser`] and [`AdminUser`] extractors |
//! | `me.rs` | `GET /api/v1/me` |
//! | `call_log.rs` | `GET /api/v1/call-log` |
//! | `events.rs` | `GET /api/v1/events` (Server-Sent Events or WebSocket) |
//! | `calls.rs` | `POST`/`GET /api/v1/calls`, `GET`/`DELETE /api/v1/calls/{id}` |
//! | `admin/` | `/api/v1/admin/...`: users, policies and grants, routing, dial plans (the admin CLI's operations) |
//!
//! The behaviour behind sign-in lives in `sessions.rs` ([`Sessions`]), which knows nothing of
//! HTTP. Every error is an [`ApiError`] (`error.rs`): a status and the JSON body
//! `{"error": {"code", "message", "field"}}`; request bodies are read with [`ApiJson`]
//! (`json.rs`), which turns malformed JSON, wrong types and unknown members into a 400
//! naming the field.
//!
//! Build a router with [`router`] over an [`AppState`]; `server::run` serves it on
//! `http_listen`, tests call it in-process.

mod admin;
mod auth;
mod call_log;
pub mod calls;
mod error;
mod events;
mod health;
mod json;
mod me;
pub mod metrics;
mod sessions;

use std::sync::Arc;

use axum::Router;

use crate::directory_cache::DirectoryCache;
use crate::store::Store;

pub use auth::{AdminUser, CurrentUser};
pub use error::ApiError;
pub use json::ApiJson;
pub use sessions::{IssuedToken, SessionSettings, Sessions, SignInError};

/// What every handler can reach: the store, the session service and what `/healthz`
/// reports. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Sign-in, tokens and lockout.
    pub sessions: Arc<Sessions>,
    /// Users, policies, dial plans and routing as the API reads them.
    pub directory: Arc<DirectoryCache>,
    /// The bound SIP listeners, as `transport:address` (`udp:127.0.0.1:5060`).
    pub sip_listeners: Arc<[String]>,
    /// Calls, when the server runs a call service.
    pub calls: Option<calls::CallsApi>,
    /// Every user's event stream (`/api/v1/events`).
    pub events: crate::events::EventHub,
}

impl AppState {
    /// A state over `store` with `settings` for sessions and the given SIP listeners. Its
    /// directory cache reads the store's change counter before every request; see
    /// [`AppState::with_directory_cache`].
    pub fn new(
        store: Arc<dyn Store>,
        settings: SessionSettings,
        sip_listeners: Vec<String>,
    ) -> Self {
        let directory = Arc::new(DirectoryCache::new(
            store.clone(),
            std::time::Duration::ZERO,
        ));
        AppState {
            sessions: Arc::new(Sessions::with_directory(
                store.clone(),
                directory.clone(),
                settings,
            )),
            directory,
            store,
            sip_listeners: sip_listeners.into(),
            calls: None,
            events: crate::events::EventHub::new(crate::events::DEFAULT_RETENTION),
        }
    }

    /// The same state with a directory cache that re-reads the store's change counter at
    /// most every `interval` (`directory_cache_ms`).
    pub fn with_directory_cache(mut self, interval: std::time::Duration) -> Self {
        let directory = Arc::new(DirectoryCache::new(self.store.clone(), interval));
        self.sessions = Arc::new(Sessions::with_directory(
            self.store.clone(),
            directory.clone(),
            *self.sessions.settings(),
        ));
        self.directory = directory;
        self
    }

    /// The same state with the calls API.
    pub fn with_calls(mut self, calls: calls::CallsApi) -> Self {
        self.calls = Some(calls);
        self
    }
}

/// The whole HTTP API, with request counting and a JSON 404 for unknown paths.
pub fn router(state: AppState) -> Router {
    metrics::install();
    Router::new()
        .merge(health::router())
        .merge(metrics::router())
        .merge(auth::router())
        .merge(me::router())
        .merge(calls::router())
        .merge(call_log::router())
        .merge(events::router())
        .merge(admin::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin_writes_mark_stale,
        ))
        .layer(axum::middleware::from_fn(metrics::count_requests))
        .with_state(state)
}

/// After an admin request that may have written (any method but GET and HEAD), the
/// directory cache re-reads the store's change counter before its next use, so the
/// change counts from the next request on rather than after `directory_cache_ms`.
async fn admin_writes_mark_stale(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let writes = req.uri().path().starts_with("/api/v1/admin/")
        && !matches!(
            *req.method(),
            axum::http::Method::GET | axum::http::Method::HEAD
        );
    let resp = next.run(req).await;
    if writes {
        state.directory.mark_stale();
    }
    resp
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such resource")
}
