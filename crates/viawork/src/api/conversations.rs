//! Instant messaging: `/api/v1/conversations` and what hangs off a conversation
//! (messages, typing, participants, files, add audio), plus `POST
//! /api/v1/calls/{id}/conversation` (IM added to a call). Thin handlers over
//! [`ImService`](crate::im::ImService); `docs/im.md` documents the API.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::calls::{place_call, CallRequest};
use super::{ApiError, ApiJson, AppState, CurrentUser};
use crate::im::files::FileError;
use crate::im::{Format, ImError, ImService};

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations", get(list).post(start))
        .route("/api/v1/conversations/{id}", get(get_one).delete(leave))
        .route(
            "/api/v1/conversations/{id}/messages",
            get(history).post(send),
        )
        .route("/api/v1/conversations/{id}/typing", post(typing))
        .route("/api/v1/conversations/{id}/participants", post(add))
        .route("/api/v1/conversations/{id}/audio", post(audio))
        .route("/api/v1/conversations/{id}/files", post(upload))
        .route("/api/v1/conversations/{id}/files/{file}", get(download))
        .route("/api/v1/calls/{id}/conversation", post(call_conversation))
}

impl From<ImError> for ApiError {
    fn from(e: ImError) -> Self {
        let message = e.to_string();
        match e {
            ImError::NoSuchConversation => ApiError::not_found(message),
            ImError::NoSuchFile => ApiError::not_found(message),
            ImError::UnknownPerson { field, .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "PersonNotFound", message).with_field(field)
            }
            ImError::Invalid { field, message } => ApiError::bad_request(field, message),
            ImError::NotJoined => ApiError::new(StatusCode::CONFLICT, "NotInConversation", message),
            ImError::NotOneToOne => ApiError::new(StatusCode::CONFLICT, "NotOneToOne", message),
            ImError::File(f) => match f {
                FileError::TooLarge { .. } => {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "FileTooLarge", message)
                        .with_field("file")
                }
                FileError::TypeNotAllowed { .. } => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "FileTypeNotAllowed",
                    message,
                )
                .with_field("name"),
                FileError::BadName => ApiError::bad_request("name", message),
                FileError::Empty => ApiError::bad_request("file", message),
            },
            ImError::Store(s) => s.into(),
            ImError::ShuttingDown => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                message,
            ),
        }
    }
}

fn im(state: &AppState) -> Result<&ImService, ApiError> {
    state.im.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "instant messaging is not running",
        )
    })
}

fn format(s: Option<&str>) -> Result<Format, ApiError> {
    match s {
        None => Ok(Format::Plain),
        Some(f) => Format::parse(f).ok_or_else(|| ApiError::bad_request("format", "plain or html")),
    }
}

/// `GET /api/v1/conversations` answer (only described: the handler builds it as JSON).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ConversationList {
    conversations: Vec<crate::im::ConversationView>,
}

/// `GET .../messages` answer (only described: the handler builds it as JSON).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct MessagePage {
    /// Newest first.
    messages: Vec<crate::im::MessageView>,
    /// The URL of the next (older) page; `null` on the last one.
    next: Option<String>,
}

/// `POST .../audio` answer (only described: the handler builds it as JSON).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
struct AudioCall {
    #[serde(flatten)]
    call: crate::calls::CallView,
    /// The conversation the call is linked to.
    conversation_id: String,
}

/// `POST /api/v1/conversations` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StartRequest {
    to: Vec<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// Starts a conversation with one or more people, optionally with a first message.
#[utoipa::path(
    post,
    path = "/api/v1/conversations",
    tag = "conversations",
    security(("bearer" = [])),
    request_body = StartRequest,
    responses(
        (status = 201, description = "The conversation (with `message`, the first message, when one was sent); `Location` names it", body = crate::im::ConversationView),
        (status = 400, description = "A bad body or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "`PersonNotFound`: someone in `to` is not in the directory", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "Instant messaging is not running", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn start(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(req): ApiJson<StartRequest>,
) -> Result<Response, ApiError> {
    let fmt = format(req.format.as_deref())?;
    let (view, sent) = im(&state)?
        .start_conversation(
            &me.user,
            &req.to,
            req.subject.as_deref(),
            req.message.as_deref().map(|m| (m, fmt)),
        )
        .await
        .map_err(|e| match e {
            // The first message's text is `message` here.
            ImError::Invalid {
                field: "text",
                message,
            } => ApiError::bad_request("message", message),
            e => e.into(),
        })?;
    let location = format!("/api/v1/conversations/{}", view.id);
    let mut body = serde_json::to_value(&view).map_err(ApiError::internal)?;
    if let (Some(sent), Some(obj)) = (sent, body.as_object_mut()) {
        obj.insert(
            "message".into(),
            serde_json::to_value(sent).map_err(ApiError::internal)?,
        );
    }
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    before: Option<i64>,
}

fn page(
    q: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Page, ApiError> {
    let Query(p) = q.map_err(|e| ApiError::bad_request("query", e.body_text()))?;
    if let Some(l) = p.limit {
        if !(1..=crate::store::im::MESSAGES_MAX_LIMIT).contains(&l) {
            return Err(ApiError::bad_request(
                "limit",
                format!("from 1 to {}", crate::store::im::MESSAGES_MAX_LIMIT),
            ));
        }
    }
    if p.before.is_some_and(|b| b <= 0) {
        return Err(ApiError::bad_request("before", "a message id"));
    }
    Ok(p)
}

/// The user's conversations, most recent first.
#[utoipa::path(
    get,
    path = "/api/v1/conversations",
    tag = "conversations",
    security(("bearer" = [])),
    params(("limit" = Option<u32>, Query, description = "1 to the server maximum (default 50)")),
    responses(
        (status = 200, description = "The conversations", body = ConversationList),
        (status = 400, description = "A bad body or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "Instant messaging is not running", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn list(
    State(state): State<AppState>,
    me: CurrentUser,
    q: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = page(q)?;
    let list = im(&state)?.list(&me.user, p.limit.unwrap_or(50)).await?;
    Ok(Json(json!({ "conversations": list })))
}

/// One conversation.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}",
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    responses(
        (status = 200, description = "The conversation", body = crate::im::ConversationView),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such conversation of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "Instant messaging is not running", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn get_one(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<crate::im::ConversationView>, ApiError> {
    Ok(Json(im(&state)?.get(&me.user, &id).await?))
}

/// Leaves a conversation.
#[utoipa::path(
    delete,
    path = "/api/v1/conversations/{id}",
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    responses(
        (status = 200, description = "The conversation, left", body = crate::im::ConversationView),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such conversation of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "Instant messaging is not running", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn leave(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<crate::im::ConversationView>, ApiError> {
    Ok(Json(im(&state)?.leave(&me.user, &id).await?))
}

/// The messages, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/messages",
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id"), ("limit" = Option<u32>, Query, description = "1 to the server maximum (default 50)"), ("before" = Option<i64>, Query, description = "Only messages older than this message id")),
    responses(
        (status = 200, description = "A page of messages", body = MessagePage),
        (status = 400, description = "A bad body or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such conversation of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "Instant messaging is not running", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn history(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = page(q)?;
    let limit = p.limit.unwrap_or(50);
    let messages = im(&state)?.history(&me.user, &id, p.before, limit).await?;
    let next = (messages.len() == limit as usize)
        .then(|| messages.last())
        .flatten()
        .map(|m| {
            format!(
                "/api/v1/conversations/{id}/messages?before={}&limit={limit}",
                m.id
            )
        });
    Ok(Json(json!({ "messages": messages, "next": next })))
}

/// `POST .../messages` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SendRequest {
    text: String,
    #[serde(default)]
    format: Option<String>,
}

/// Sends a message.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/messages",
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    request_body = SendRequest,
    responses(
        (status = 201, description = "The message as sent, with each recipient's delivery", body = crate::im::SentMessage),
        (status = 400, description = "A bad body or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such conversation of this user", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`NotInConversation`", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "Instant messaging is not running", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn send(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SendRequest>,
) -> Result<Response, ApiError> {
    let fmt = format(req.format.as_deref())?;
    let sent = im(&state)?.send(&me.user, &id, &req.text, fmt).await?;
    Ok((StatusCode::CREATED, Json(sent)).into_response())
}

/// Says the user is typing (the others get a `conversation.typing` event).
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/typing",
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    responses(
        (status = 204, description = "Sent"),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such conversation of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "Instant messaging is not running", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn typing(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    im(&state)?.typing(&me.user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST .../participants` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AddRequest {
    uri: String,
}

/// Adds a person to the conversation.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/participants",
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    request_body = AddRequest,
    responses(
        (status = 200, description = "The conversation", body = crate::im::ConversationView),
        (status = 400, description = "A bad body or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such conversation, or `PersonNotFound`", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`NotInConversation`", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "Instant messaging is not running", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn add(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AddRequest>,
) -> Result<Json<crate::im::ConversationView>, ApiError> {
    Ok(Json(
        im(&state)?.add_participant(&me.user, &id, &req.uri).await?,
    ))
}

/// `POST .../audio` body (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AudioRequest {
    #[serde(default)]
    callback_number: Option<String>,
}

/// Adds audio: a Call Via Work call to the other party of a one-to-one conversation.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/audio",
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    request_body(content = Option<AudioRequest>, description = "Optional; an empty body rings the default callback number"),
    responses(
        (status = 201, description = "The call, with its `conversation_id`; `Location` names the call", body = AudioCall),
        (status = 400, description = "A bad body or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`DialoutNotAllowed` or `PhoneNumberConflict`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such conversation of this user", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`NotOneToOne` or `NotInConversation`", body = crate::api::openapi::ErrorResponse),
        (status = 429, description = "Over the per-minute call limit", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "Instant messaging is not running", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn audio(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    // The body is optional: nothing at all means no callback number of the user's own.
    let req: AudioRequest = if body.iter().all(u8::is_ascii_whitespace) {
        AudioRequest::default()
    } else {
        super::json::parse(&body)?
    };
    let service = im(&state)?;
    let other = service.other_party(&me.user, &id).await?;
    let view = place_call(
        &state,
        &me.user,
        CallRequest {
            to: other,
            callback_number: req.callback_number,
        },
    )
    .await?;
    service.link_call(&me.user, &id, &view.id).await?;
    let location = format!("/api/v1/calls/{}", view.id);
    let mut body = serde_json::to_value(&view).map_err(ApiError::internal)?;
    if let Some(obj) = body.as_object_mut() {
        obj.insert("conversation_id".into(), json!(id));
    }
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    name: String,
}

/// Sends a file: the request body is the file, its `Content-Type` its type.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/files",
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id"), ("name" = String, Query, description = "The file name")),
    request_body(content = String, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 201, description = "The message carrying the file, with each recipient's delivery", body = crate::im::SentMessage),
        (status = 400, description = "A bad body or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such conversation of this user", body = crate::api::openapi::ErrorResponse),
        (status = 413, description = "`FileTooLarge`", body = crate::api::openapi::ErrorResponse),
        (status = 415, description = "`FileTypeNotAllowed`", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "Instant messaging is not running", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn upload(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|_| ApiError::bad_request("name", "give the file name as ?name="))?;
    let service = im(&state)?;
    let limit = service.config().max_file_bytes;
    let too_large = || ApiError::from(ImError::File(FileError::TooLarge { limit }));
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > limit)
    {
        return Err(too_large());
    }
    let data = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let sent = service
        .send_file(&me.user, &id, &q.name, content_type, data.to_vec())
        .await?;
    Ok((StatusCode::CREATED, Json(sent)).into_response())
}

/// Downloads a file sent in the conversation (`Content-Disposition: attachment`).
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/files/{file}",
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id"), ("file" = String, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The file, with its own content type", content_type = "application/octet-stream", body = String),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such conversation or file", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "Instant messaging is not running", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn download(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let blob = im(&state)?.file(&me.user, &id, &file).await?;
    let content_type = HeaderValue::from_str(&blob.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    // RFC 6266: an ASCII fallback and the exact name percent-encoded.
    let ascii: String = blob
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = blob
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        blob.data,
    )
        .into_response())
}

/// Adds instant messaging to a call: the conversation linked to the call, created if need be.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/conversation",
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's id")),
    responses(
        (status = 200, description = "The call's conversation, which already existed", body = crate::im::ConversationView),
        (status = 201, description = "The call's conversation, new", body = crate::im::ConversationView),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such call of this user", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "Instant messaging is not running", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn call_conversation(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(call_id): Path<String>,
) -> Result<Response, ApiError> {
    let service = im(&state)?;
    let calls = state
        .calls
        .as_ref()
        .ok_or_else(|| ApiError::not_found("no such call"))?;
    let view = calls
        .handle
        .get(&call_id, &me.user.sip_uri)
        .await?
        .ok_or_else(|| ApiError::not_found("no such call"))?;
    let other = view
        .to
        .to_ascii_lowercase()
        .starts_with("sip:")
        .then_some(view.to.as_str());
    let (conv, created) = service
        .conversation_for_call(&me.user, &call_id, other)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(conv)).into_response())
}
