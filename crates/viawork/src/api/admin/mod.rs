//! The admin API under `/api/v1/admin/...`: the operations of the admin CLI over HTTP, for a
//! signed-in administrator (401 without a token, 403 for other users).
//!
//! Every handler takes [`AdminUser`](super::AdminUser) first, extracts its typed input,
//! calls one service function of [`crate::cli`] (the same the `viawork` command runs) and
//! answers its view as JSON. An [`AdminError`] becomes an [`ApiError`] naming the field:
//! invalid → 400, not found → 404, conflict → 409, unreadable CSV → 400, store down → 503.
//!
//! | File | Routes |
//! |---|---|
//! | `users.rs` | `GET`/`POST /users`, `GET`/`PATCH`/`DELETE /users/{sip_uri}`, `POST /users/import` |
//! | `policies.rs` | `GET`/`POST /policies`, `GET`/`PATCH`/`DELETE /policies/{identity}`, `POST /policies/import`, `PUT /users/{sip_uri}/policy` |
//! | `routing.rs` | `GET`/`PUT /routing` |
//! | `dialplan.rs` | `GET`/`POST /dialplan/rules`, `PUT`/`DELETE /dialplan/rules/{name}`, `POST /dialplan/test` |
//!
//! Request bodies are camelCase JSON with unknown members refused. Creating bodies carry the
//! key of the new thing (`sipUri`, `identity`, `user`) next to the CLI's input type; query
//! parameters are checked by [`Params`], which also refuses unknown ones.

mod call_log;
mod calls;
mod dialplan;
mod policies;
mod registrations;
mod routing;
mod users;

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::json::parse;
use super::{ApiError, AppState};
use crate::cli::AdminError;

/// The admin API's part of the OpenAPI document (merged into `openapi.rs`'s).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        users::list,
        users::create,
        users::show,
        users::change,
        users::remove,
        users::import,
        policies::list,
        policies::create,
        policies::show,
        policies::change,
        policies::remove,
        policies::import,
        policies::grant,
        routing::show,
        routing::set,
        dialplan::list,
        dialplan::create,
        dialplan::replace,
        dialplan::remove,
        dialplan::test,
        call_log::list,
        call_log::csv,
        calls::live,
        calls::trunk,
        registrations::list,
    ),
    components(schemas(crate::cli::dialplan::RuleInput))
)]
pub(super) struct AdminDoc;

/// The routes of the admin API.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .merge(users::router())
        .merge(policies::router())
        .merge(routing::router())
        .merge(dialplan::router())
        .merge(call_log::router())
        .merge(calls::router())
        .merge(registrations::router())
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(e) => e.into(),
            AdminError::NotFound { field, message } => {
                ApiError::not_found(message).with_field(field)
            }
            AdminError::Conflict { field, message } => {
                ApiError::new(StatusCode::CONFLICT, "Conflict", message).with_field(field)
            }
            AdminError::File { message, .. } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "MalformedCsv",
                format!("the body is not a readable CSV file: {message}"),
            )
            .with_field("body"),
            AdminError::Store(e) => e.into(),
        }
    }
}

/// Splits the string member `key` off a JSON object body and reads the rest as `T` (the
/// CLI's input type, which refuses unknown members): `{"sipUri": ..., <UserInput>}`.
/// A member that is absent or `null` is `None`; one of another type is a 400 naming it.
fn split<T: DeserializeOwned>(
    mut body: Map<String, Value>,
    key: &str,
) -> Result<(Option<String>, T), ApiError> {
    let value = match body.remove(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            return Err(ApiError::bad_request(
                key,
                format!("invalid type: {}, expected a string", kind(&other)),
            ))
        }
    };
    let rest = serde_json::to_vec(&Value::Object(body)).map_err(ApiError::internal)?;
    Ok((value, parse(&rest)?))
}

/// The same as [`split`], with `key` required.
fn split_required<T: DeserializeOwned>(
    body: Map<String, Value>,
    key: &'static str,
) -> Result<(String, T), ApiError> {
    match split(body, key)? {
        (Some(value), rest) => Ok((value, rest)),
        (None, _) => Err(ApiError::bad_request(key, "is required")),
    }
}

/// Percent-encodes all but RFC 3986 unreserved characters, for a path segment.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "sequence",
        Value::Object(_) => "map",
    }
}

/// Query parameters, taken one by one and checked; [`Params::finish`] refuses any left
/// over, so a misspelt parameter is a 400 naming it rather than silently ignored.
struct Params(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Query(map)| Params(map))
            .map_err(|e| ApiError::bad_request("query", e.body_text()))
    }
}

impl Params {
    fn string(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    fn boolean(&mut self, name: &'static str, default: bool) -> Result<bool, ApiError> {
        match self.0.remove(name).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(ApiError::bad_request(name, "must be true or false")),
        }
    }

    fn number(&mut self, name: &'static str, default: u32, max: u32) -> Result<u32, ApiError> {
        let Some(text) = self.0.remove(name) else {
            return Ok(default);
        };
        match text.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(
                name,
                format!("must be a whole number from 1 to {max}"),
            )),
        }
    }

    fn finish(self) -> Result<(), ApiError> {
        match self.0.into_keys().min() {
            None => Ok(()),
            Some(name) => Err(ApiError::bad_request(
                name.clone(),
                format!("unknown query parameter `{name}`"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::percent_encode;

    #[test]
    fn sip_uris_are_percent_encoded_for_the_location() {
        assert_eq!(
            percent_encode("sip:zoë@example.com"),
            "sip%3Azo%C3%AB%40example.com"
        );
    }
}
