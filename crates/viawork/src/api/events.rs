//! `GET /api/v1/events`: the signed-in user's events, as Server-Sent Events when the
//! client accepts `text/event-stream`, otherwise over a WebSocket. Each event is JSON
//! `{seq, type, time, data}`; `?since=<seq>` resumes after the last one seen (a gap older
//! than the retention gets one `resync` event). Browsers cannot set headers on
//! `EventSource` or `WebSocket`, so the token may also come as `?access_token=`.
//!
//! SSE frames carry the sequence number as the `id:`, so a browser's automatic reconnect
//! (with `Last-Event-ID`) resumes without loss too.
//!
//! An open stream is a signed-in endpoint for presence: it holds an
//! [`EndpointGuard`], dropped with the stream when the client closes or the connection
//! breaks (axum drops the response body then), so the user goes Offline with their last
//! stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::broadcast;

use super::{ApiError, AppState, CurrentUser};
use crate::events::{resync, Event, Subscription};
use crate::presence::EndpointGuard;

/// The WebSocket read buffer per connection. Clients only send close and pong frames, but
/// tungstenite's default (128 KiB) is zero-filled on the first read, so every open socket
/// held 128 KiB resident: 1.2 GiB at 10,000 clients. A longer frame still gets room (the
/// buffer grows to the frame's length).
const WS_READ_BUFFER: usize = 4 * 1024;

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/events", get(events))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    since: Option<String>,
    access_token: Option<String>,
}

/// The signed-in user's events.
///
/// Server-Sent Events when the request accepts `text/event-stream`, otherwise a WebSocket
/// (send the upgrade headers). Each event is JSON `{"seq", "type", "time", "data"}`; SSE
/// frames carry `seq` as their `id:`, so `Last-Event-ID` (or `?since=`) resumes without
/// loss. A gap older than the retention gets one `resync` event.
///
/// Event types: `call.updated` (a call's state, as `GET /api/v1/calls/{id}`),
/// `call_forwarding.updated` (the settings, as `GET /api/v1/me/call-forwarding`),
/// `conversation.updated` (a conversation), `message.received` (an incoming or own outgoing
/// message), `message.status` (delivery of a sent message), `typing` (someone types in a
/// conversation), `presence.updated` (someone watched, or the user), `resync` (events were
/// lost: re-read the state).
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    security(("bearer" = [])),
    params(
        ("since" = Option<String>, Query, description = "Resume after this `seq` (as `Last-Event-ID`)"),
        ("access_token" = Option<String>, Query, description = "The token, for clients that cannot set headers (EventSource, WebSocket in browsers)"),
    ),
    responses(
        (status = 200, description = "An event stream (`text/event-stream`)", content_type = "text/event-stream", body = String),
        (status = 101, description = "Switching to a WebSocket; one JSON event per text message"),
        (status = 400, description = "A bad parameter (named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid token", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn events(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (mut parts, _body) = req.into_parts();
    let headers: HeaderMap = parts.headers.clone();
    let Query(params) = Query::<Params>::from_request_parts(&mut parts, &state)
        .await
        .map_err(|e| ApiError::bad_request("query", e.body_text()))?;
    let ws = WebSocketUpgrade::from_request_parts(&mut parts, &state)
        .await
        .ok();
    let user = match CurrentUser::from_request_parts(&mut parts, &state).await {
        Ok(u) => u.user,
        Err(e) => {
            let Some(token) = params.access_token.as_deref() else {
                return Err(e);
            };
            state
                .sessions
                .authenticate(token, super::sessions::now())
                .await?
                .ok_or_else(|| {
                    ApiError::unauthenticated(
                        "the access token is unknown, expired or revoked; sign in again",
                    )
                })?
        }
    };
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let since = match params.since.or(last_event_id) {
        None => None,
        Some(s) => Some(s.trim().parse::<u64>().map_err(|_| {
            ApiError::bad_request("since", "a sequence number (a whole number) is needed")
        })?),
    };
    let hub = state.events.clone();
    let sub = hub.subscribe(&user.sip_uri, since);
    // The open stream is one of the user's endpoints for presence until it is dropped,
    // however the connection ends.
    let endpoint = state.presence.client_connected(&user).await?;
    let wants_sse = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    if wants_sse || ws.is_none() {
        return Ok(Sse::new(sse_stream(sub, endpoint))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .into_response());
    }
    let ws = ws.expect("checked");
    Ok(ws
        .read_buffer_size(WS_READ_BUFFER)
        .on_upgrade(move |socket| websocket(socket, sub, endpoint))
        .into_response())
}

/// The events as JSON text, backlog first.
fn next_text(e: &Arc<Event>) -> String {
    serde_json::to_string(e.as_ref()).unwrap_or_default()
}

fn sse_stream(
    sub: Subscription,
    endpoint: EndpointGuard,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let state = (VecDeque::from(sub.backlog), sub.live, 0u64, endpoint);
    stream::unfold(
        state,
        |(mut backlog, mut live, mut last, endpoint)| async move {
            let e = match backlog.pop_front() {
                Some(e) => e,
                None => match live.recv().await {
                    Ok(e) => e,
                    // Too slow for the live feed: tell the client to reload.
                    Err(broadcast::error::RecvError::Lagged(_)) => resync(last),
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            };
            last = e.seq;
            let frame = SseEvent::default()
                .id(e.seq.to_string())
                .event(e.kind)
                .data(next_text(&e));
            Some((Ok(frame), (backlog, live, last, endpoint)))
        },
    )
}

/// `_endpoint` is held until the socket ends.
async fn websocket(mut socket: WebSocket, sub: Subscription, _endpoint: EndpointGuard) {
    let mut last = 0u64;
    for e in sub.backlog {
        last = e.seq;
        if socket
            .send(WsMessage::Text(next_text(&e).into()))
            .await
            .is_err()
        {
            return;
        }
    }
    let mut live = sub.live;
    loop {
        tokio::select! {
            got = live.recv() => {
                let e = match got {
                    Ok(e) => e,
                    Err(broadcast::error::RecvError::Lagged(_)) => resync(last),
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                last = e.seq;
                if socket.send(WsMessage::Text(next_text(&e).into())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                // Clients only listen; pings are answered by axum, close ends the loop.
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
