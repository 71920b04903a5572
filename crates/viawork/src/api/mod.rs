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
//! | `forwarding.rs` | `GET`/`PUT /api/v1/me/call-forwarding` |
//! | `call_log.rs` | `GET /api/v1/call-log` |
//! | `people.rs` | `GET /api/v1/people?query=&limit=` (search), `GET /api/v1/people/{uri}` (a card) |
//! | `contacts.rs` | `/api/v1/me/contacts` and `/api/v1/me/groups`: the contact list and its groups |
//! | `events.rs` | `GET /api/v1/events` (Server-Sent Events or WebSocket) |
//! | `conversations.rs` | `/api/v1/conversations/...` (IM, files, add audio), `POST /api/v1/calls/{id}/conversation` |
//! | `presence.rs` | `GET`/`PUT /api/v1/me/presence`, `POST /api/v1/me/activity`, `GET /api/v1/people/{uri}/presence`, `GET`/`POST`/`DELETE /api/v1/presence/subscriptions`, `DELETE /api/v1/presence/subscriptions/{uri}`, `GET /api/v1/me/blocked`, `PUT`/`DELETE /api/v1/me/blocked/{uri}` |
//! | `calls.rs` | `POST`/`GET /api/v1/calls`, `GET`/`DELETE /api/v1/calls/{id}` |
//! | `openapi.rs` | `GET /api/v1/openapi.json` (this API's OpenAPI document), `GET /api/v1/docs` (its reference page) |
//! | `web.rs` | `GET /` and the browser client's files (`crates/viawork/web/`, embedded) |
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
mod conversations;
mod error;
mod events;
mod forwarding;
mod health;
mod json;
pub mod me;
mod meetings;
pub mod metrics;
pub mod openapi;
mod people;
mod presence;
mod sessions;
mod web;

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
    /// Instant messaging, when the server runs it.
    pub im: Option<crate::im::ImService>,
    /// The SIP registrar, when the server runs it.
    pub registrar: Option<crate::registrar::Registrar>,
    /// Presence, delivered through `events`.
    pub presence: crate::presence::PresenceService,
    /// The searchable directory (`/api/v1/people`).
    pub people: Arc<crate::people::Directory>,
    /// Contact lists and groups (`/api/v1/me/contacts`, `/api/v1/me/groups`).
    pub contacts: crate::people::Contacts,
    /// Meetings and dial-in PINs (`/api/v1/meetings`).
    pub meetings: crate::meetings::MeetingsService,
    /// Meetings in progress, when the server runs calls (joining needs the PBX trunk).
    pub meetings_runtime: Option<crate::meetings::MeetingsRuntime>,
}

impl AppState {
    /// A state over `store` with `settings` for sessions and the given SIP listeners, and
    /// presence with its default timing. Starts presence's timer task, so it must be called
    /// inside a tokio runtime. Its directory cache reads the store's change counter before
    /// every request; see [`AppState::with_directory_cache`].
    pub fn new(
        store: Arc<dyn Store>,
        settings: SessionSettings,
        sip_listeners: Vec<String>,
    ) -> Self {
        let events = crate::events::EventHub::new(crate::events::DEFAULT_RETENTION);
        let directory = Arc::new(DirectoryCache::new(
            store.clone(),
            std::time::Duration::ZERO,
        ));
        let people = crate::people::Directory::new(store.clone());
        AppState {
            contacts: crate::people::Contacts::new(store.clone(), people.clone()),
            meetings: crate::meetings::MeetingsService::new(
                store.clone(),
                crate::meetings::MeetingsConfig::default(),
                "http://localhost",
            ),
            meetings_runtime: None,
            people,
            sessions: Arc::new(Sessions::with_directory(
                store.clone(),
                directory.clone(),
                settings,
            )),
            directory,
            presence: crate::presence::PresenceService::start(
                store.clone(),
                events.clone(),
                crate::presence::PresenceConfig::default(),
            ),
            store,
            sip_listeners: sip_listeners.into(),
            calls: None,
            events,
            im: None,
            registrar: None,
        }
    }

    /// The same state with presence timed and bounded by `config` (needs a tokio runtime,
    /// as [`AppState::new`] does).
    pub fn with_presence(mut self, config: crate::presence::PresenceConfig) -> Self {
        self.presence = crate::presence::PresenceService::start(
            self.store.clone(),
            self.events.clone(),
            config,
        );
        self
    }

    /// The same state with the SIP registrar.
    pub fn with_registrar(mut self, registrar: crate::registrar::Registrar) -> Self {
        self.registrar = Some(registrar);
        self
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

    /// The same state with meetings configured by `[meetings]`; join URLs default to
    /// `default_base` (the HTTP listener).
    pub fn with_meetings(
        mut self,
        config: crate::meetings::MeetingsConfig,
        default_base: &str,
    ) -> Self {
        self.meetings =
            crate::meetings::MeetingsService::new(self.store.clone(), config, default_base);
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
        .merge(conversations::router())
        .merge(forwarding::router())
        .merge(meetings::router())
        .merge(people::router())
        .merge(contacts::router())
        .merge(events::router())
        .merge(presence::router())
        .merge(admin::router())
        .merge(openapi::router())
        .merge(web::router())
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
