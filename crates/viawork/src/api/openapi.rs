//! The OpenAPI 3.1 description of the native API, built with `utoipa` from the handlers'
//! own `#[utoipa::path]` annotations, and the two routes that publish it:
//!
//! - `GET /api/v1/openapi.json`: the document (no sign-in, like any API description: it
//!   names the routes and shapes, never data).
//! - `GET /api/v1/docs`: a small reference page, compiled into the binary (no CDN, nothing
//!   fetched at build or run time), that reads `openapi.json` and lists tags, paths,
//!   methods, parameters, bodies, responses and schemas.
//!
//! Every failure shares one schema component, [`ErrorResponse`], the body of an
//! [`ApiError`](super::ApiError). Signed-in routes name the `bearer` security scheme.

use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::AppState;

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(document))
        .route("/api/v1/docs", get(reference_page))
}

/// The body of every API error (see `error.rs`, which writes it).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // only described, never built: error.rs serialises the real body
pub struct ErrorResponse {
    /// What went wrong.
    error: ErrorDetail,
}

/// The inside of [`ErrorResponse`].
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// A stable, UCWA-style subcode a client can branch on
    /// (`ParameterValidationFailure`, `Unauthenticated`, `Forbidden`, `NotFound`,
    /// `Conflict`, `TooManyAttempts`, `ServiceUnavailable`, `InternalError`, ...).
    #[schema(example = "ParameterValidationFailure")]
    code: String,
    /// For people.
    #[schema(example = "is required")]
    message: String,
    /// The member of the request at fault, when there is one.
    #[schema(example = "password")]
    field: Option<String>,
}

/// Adds the `bearer` security scheme the signed-in routes refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The access_token from POST /api/v1/auth/token, sent as \
                         Authorization: Bearer <token>",
                    ))
                    .build(),
            ),
        );
    }
}

/// The whole native API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ViaWork API",
        description = "The native HTTP API of ViaWork, a Call Via Work server. Errors are \
                       `{\"error\": {\"code\", \"message\", \"field\"}}` (ErrorResponse)."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "api", description = "This description and its reference page"),
        (name = "auth", description = "Signing in and out"),
        (name = "me", description = "The signed-in user"),
        (name = "calls", description = "Click to call (Call Via Work), call control and the call log"),
        (name = "conversations", description = "Instant messaging: conversations, messages, files, adding audio"),
        (name = "presence", description = "Presence, watching people, blocking"),
        (name = "people", description = "The directory"),
        (name = "contacts", description = "The contact list and its groups"),
        (name = "forwarding", description = "Call forwarding and simultaneous ring"),
        (name = "meetings", description = "Meetings, Meet Now and dial-in PINs"),
        (name = "events", description = "The user's event stream (SSE or WebSocket)"),
        (name = "admin", description = "Administration (the admin CLI's operations); needs the admin role"),
    ),
    paths(
        document,
        reference_page,
        super::auth::issue,
        super::auth::revoke,
        super::me::me,
        super::calls::create,
        super::calls::list,
        super::calls::get_one,
        super::calls::hang_up,
        super::calls::hold,
        super::calls::resume,
        super::calls::mute,
        super::calls::unmute,
        super::calls::dtmf,
        super::calls::transfer,
        super::calls::accept,
        super::calls::decline,
        super::call_log::own_calls,
        super::conversations::start,
        super::conversations::list,
        super::conversations::get_one,
        super::conversations::leave,
        super::conversations::history,
        super::conversations::send,
        super::conversations::typing,
        super::conversations::add,
        super::conversations::audio,
        super::conversations::upload,
        super::conversations::download,
        super::conversations::call_conversation,
        super::presence::get_own,
        super::presence::set_own,
        super::presence::activity,
        super::presence::get_other,
        super::presence::subscribe,
        super::presence::list_subscriptions,
        super::presence::unsubscribe,
        super::presence::unsubscribe_all,
        super::presence::list_blocked,
        super::presence::block,
        super::presence::unblock,
        super::people::search,
        super::people::card,
        super::contacts::list,
        super::contacts::add,
        super::contacts::remove,
        super::contacts::groups,
        super::contacts::create_group,
        super::contacts::rename_group,
        super::contacts::remove_group,
        super::contacts::add_to_group,
        super::contacts::remove_from_group,
        super::forwarding::read,
        super::forwarding::write,
        super::meetings::create,
        super::meetings::meet_now,
        super::meetings::list,
        super::meetings::show,
        super::meetings::change,
        super::meetings::remove,
        super::meetings::dial_in,
        super::meetings::set_pin,
        super::meetings::join,
        super::meetings::invite,
        super::meetings::escalate,
        super::meetings::pin_lockout,
        super::meetings::unlock_pin,
        super::meetings::roster,
        super::meetings::lock,
        super::meetings::unlock,
        super::meetings::participant_action,
        super::meetings::start_recording,
        super::meetings::stop_recording,
        super::meetings::recordings,
        super::meetings::recording,
        super::meetings::delete_recording,
        super::meetings::recording_audio,
        super::events::events,
    ),
    components(schemas(ErrorResponse, ErrorDetail))
)]
pub struct ApiDoc;

/// The document, as `GET /api/v1/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(super::admin::AdminDoc::openapi());
    unique_operation_ids(&mut doc);
    doc
}

/// Names every operation after its method and path (`get_admin_users_sip_uri`): handler
/// names repeat across files (`list`, `show`), and OpenAPI wants operation ids unique.
fn unique_operation_ids(doc: &mut utoipa::openapi::OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let slug: String = path
            .trim_start_matches("/api/v1/")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
            .split('_')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        let ops = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ];
        for (method, op) in ops {
            if let Some(op) = op {
                op.operation_id = Some(format!("{method}_{slug}"));
            }
        }
    }
}

/// The OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "api",
    responses((status = 200, description = "This OpenAPI 3.1 document", body = Object))
)]
async fn document() -> impl IntoResponse {
    Json(openapi())
}

/// The reference page: static HTML and JavaScript that renders `openapi.json`.
#[utoipa::path(
    get,
    path = "/api/v1/docs",
    tag = "api",
    responses((status = 200, description = "An HTML page", content_type = "text/html"))
)]
async fn reference_page() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Html(include_str!("openapi_page.html")),
    )
}
