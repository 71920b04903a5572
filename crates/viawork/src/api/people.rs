//! People search and cards:
//!
//! - `GET /api/v1/people?query=&limit=` — the directory's enabled users matching `query`
//!   (names, email, SIP URI, phone numbers; see `docs/people.md`), best first:
//!   `{"results": [Card + "match"], "moreResultsAvailable": bool}`. `query` is required
//!   (1–256 characters, at most 8 words); `limit` is 1 to 100, default 20.
//! - `GET /api/v1/people/{uri}` — one enabled user's card; 404 for anyone else.
//!
//! Both need a signed-in user. The search index and its freshness are
//! [`crate::people::Directory`]'s; these handlers only read parameters and shape JSON.
//! Each card links to the person's presence (`/api/v1/people/{uri}/presence`, served by the
//! presence routes).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::call_log::CallLogParams;
use super::{ApiError, AppState, CurrentUser};
use crate::domain::{DomainError, UserUri};
use crate::people::{MatchKind, Person, Query, QueryError};

/// Results per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 20;

/// The most results per page (UCWA's `search` limit).
pub const MAX_LIMIT: u32 = 100;

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/people", get(search))
        .route("/api/v1/people/{uri}", get(card))
}

/// A person as the API shows them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    uri: String,
    name: String,
    title: String,
    department: String,
    office: String,
    email: String,
    phones: Phones,
    line_uri: Option<String>,
    links: Links,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = PersonPhones)]
struct Phones {
    work: String,
    mobile: String,
    home: String,
    other: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = PersonLinks)]
struct Links {
    #[serde(rename = "self")]
    this: String,
    presence: String,
}

impl From<&Person> for Card {
    fn from(p: &Person) -> Self {
        Card {
            uri: p.sip_uri.clone(),
            name: p.display_name.clone(),
            title: p.title.clone(),
            department: p.department.clone(),
            office: p.office.clone(),
            email: p.email.clone(),
            phones: Phones {
                work: p.phone_work.clone(),
                mobile: p.phone_mobile.clone(),
                home: p.phone_home.clone(),
                other: p.phone_other.clone(),
            },
            line_uri: (!p.line_uri.is_empty()).then(|| p.line_uri.clone()),
            links: Links {
                this: format!("/api/v1/people/{}", p.sip_uri),
                presence: format!("/api/v1/people/{}/presence", p.sip_uri),
            },
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct Found {
    #[serde(flatten)]
    card: Card,
    /// `exact`, `prefix` or `substring`.
    #[serde(rename = "match")]
    #[schema(value_type = String)]
    kind: MatchKind,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SearchAnswer {
    results: Vec<Found>,
    more_results_available: bool,
}

/// Searches the directory (name, e-mail, SIP URI, phone numbers; exact, then prefix, then substring matches).
#[utoipa::path(
    get,
    path = "/api/v1/people",
    tag = "people",
    security(("bearer" = [])),
    params(("query" = String, Query, description = "What to look for"), ("limit" = Option<u32>, Query, description = "1 to 100 (default 20)")),
    responses(
        (status = 200, description = "The matches, best first", body = SearchAnswer),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn search(
    State(state): State<AppState>,
    _user: CurrentUser,
    mut params: CallLogParams,
) -> Result<Json<SearchAnswer>, ApiError> {
    let limit = params.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let text = params
        .text("query")
        .ok_or(DomainError::Required { field: "query" })?;
    params.finish()?;
    let query = Query::parse(&text)
        .map_err(|e: QueryError| ApiError::from(DomainError::invalid("query", e.to_string())))?;
    let index = state.people.index().await?;
    let page = index.search(&query, limit as usize);
    Ok(Json(SearchAnswer {
        results: page
            .hits
            .iter()
            .map(|h| Found {
                card: Card::from(h.person.as_ref()),
                kind: h.kind,
            })
            .collect(),
        more_results_available: page.more,
    }))
}

/// A person's directory card.
#[utoipa::path(
    get,
    path = "/api/v1/people/{uri}",
    tag = "people",
    security(("bearer" = [])),
    params(("uri" = String, Path, description = "A SIP URI (`sip:bob@example.com`)")),
    responses(
        (status = 200, description = "The card", body = Card),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such person", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn card(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(uri): Path<String>,
) -> Result<Json<Card>, ApiError> {
    let uri: UserUri = uri.parse().map_err(|e: DomainError| e.in_field("uri"))?;
    let index = state.people.index().await?;
    match index.get(uri.as_str()) {
        Some(p) => Ok(Json(Card::from(p.as_ref()))),
        None => {
            // The index may not have a user created within the freshness bound yet.
            match state.store.get_user_by_sip_uri(uri.as_str()).await? {
                Some(u) if u.enabled => Ok(Json(Card::from(&Person::from(u)))),
                _ => Err(ApiError::not_found(format!(
                    "no user {uri} in the directory"
                ))),
            }
        }
    }
}
