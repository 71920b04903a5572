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
//! | `people.rs` | `GET /api/v1/people?query=&limit=` (search), `GET /api/v1/people/{uri}` (a card) |
//! | `contacts.rs` | `/api/v1/me/contacts` and `/api/v1/me/groups`: the contact list and its groups |
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
mod contacts;
mod error;
mod events;
mod health;
mod json;
mod me;
pub mod metrics;
mod people;
mod sessions;

use std::sync::Arc;

use axum::Router;

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
    /// The bound SIP listeners, as `transport:address` (`udp:127.0.0.1:5060`).
    pub sip_listeners: Arc<[String]>,
    /// Calls, when the server runs a call service.
    pub calls: Option<calls::CallsApi>,
    /// Every user's event stream (`/api/v1/events`).
    pub events: crate::events::EventHub,
    /// The searchable directory (`/api/v1/people`).
    pub people: Arc<crate::people::Directory>,
    /// Contact lists and groups (`/api/v1/me/contacts`, `/api/v1/me/groups`).
    pub contacts: crate::people::Contacts,
}

impl AppState {
    /// A state over `store` with `settings` for sessions and the given SIP listeners.
    pub fn new(
        store: Arc<dyn Store>,
        settings: SessionSettings,
        sip_listeners: Vec<String>,
    ) -> Self {
        let people = crate::people::Directory::new(store.clone());
        AppState {
            contacts: crate::people::Contacts::new(store.clone(), people.clone()),
            people,
            sessions: Arc::new(Sessions::new(store.clone(), settings)),
            store,
            sip_listeners: sip_listeners.into(),
            calls: None,
            events: crate::events::EventHub::new(crate::events::DEFAULT_RETENTION),
        }
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
        .merge(people::router())
        .merge(contacts::router())
        .merge(events::router())
        .merge(admin::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(metrics::count_requests))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such resource")
}
