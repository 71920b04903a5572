//! [`ApiJson`]: the request body extractor of the API.
//!
//! axum's own `Json` answers a type mismatch with 422 and a plain-text message. The API
//! answers every bad body with 400 and the JSON error naming the member at fault, so a
//! client can point at the field:
//!
//! - not JSON at all (syntax, truncated) → `MalformedJson`, no field;
//! - a member of the wrong type → field = its path (`password`, `user.lineUri`);
//! - a member the type does not know (`#[serde(deny_unknown_fields)]`) or a missing one →
//!   field = that member;
//! - a value the domain refuses → the [`crate::domain::DomainError`]'s field and subcode.
//!
//! The path comes from `serde_path_to_error`, the crate axum itself uses for its messages.
//! A body without `Content-Type: application/json` is 415.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::ApiError;

/// A JSON request body of type `T`, refused with a 4xx [`ApiError`] naming the field.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json") || m.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "send the body as Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::new(
                e.status(),
                "BadRequestBody",
                "the request body could not be read",
            )
        })?;
        parse(&bytes).map(ApiJson)
    }
}

/// An optional body: `Option<ApiJson<T>>` is `None` when the request has no body
/// (`Content-Length: 0`, or no length, type or transfer encoding at all), and otherwise
/// follows [`ApiJson`]'s rules.
impl<T, S> axum::extract::OptionalFromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let length = req.headers().get(header::CONTENT_LENGTH);
        let empty = length.is_some_and(|v| v.as_bytes() == b"0")
            || (length.is_none()
                && !req.headers().contains_key(header::CONTENT_TYPE)
                && !req.headers().contains_key(header::TRANSFER_ENCODING));
        if empty {
            return Ok(None);
        }
        <ApiJson<T> as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// Deserialises `bytes` as `T`, with errors naming the field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        from_serde(&path, &inner)
    })?;
    Ok(value)
}

fn from_serde(path: &str, e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    if matches!(
        e.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "MalformedJson",
            format!("the body is not valid JSON: {e}"),
        );
    }
    let text = e.to_string();
    // serde's own messages without serde_json's " at line L column C".
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m)
        .to_owned();
    // A missing member is reported at its parent (an unknown one already at itself): name
    // the member.
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned());
    let parent = (path != ".").then_some(path);
    let field = match (parent, named) {
        (Some(p), Some(n)) if p == n || p.ends_with(&format!(".{n}")) => p.to_owned(),
        (Some(p), Some(n)) => format!("{p}.{n}"),
        (None, Some(n)) => n,
        (Some(p), None) => p.to_owned(),
        (None, None) => "body".to_owned(),
    };
    ApiError::bad_request(field, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        username: String,
        password: String,
    }

    #[test]
    fn errors_name_the_member() {
        let field = |body: &str| parse::<Req>(body.as_bytes()).unwrap_err();
        assert_eq!(
            field(r#"{"username":"a","password":5}"#).field(),
            Some("password")
        );
        assert_eq!(
            field(r#"{"username":"a","password":"b","colour":1}"#).field(),
            Some("colour")
        );
        assert_eq!(field(r#"{"username":"a"}"#).field(), Some("password"));
        let e = field(r#"{"username":"a","#);
        assert_eq!((e.code(), e.field()), ("MalformedJson", None));
        assert_eq!(field("\"hi\"").field(), Some("body"));
    }
}
