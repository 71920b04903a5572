//! Instant messages for registered SIP clients (RFC 3428 MESSAGE), interworking with the
//! API side: a MESSAGE from a client goes into the 1:1 conversation of its sender and
//! recipient like a message posted through the API, and a message for a user with
//! registered clients is sent to each of them as a MESSAGE as well as to their event
//! streams.
//!
//! MESSAGE requests are authenticated like calls from clients (407 Proxy-Authenticate with
//! the registrar's digest; the authenticated user is the sender whatever From says). The
//! answer is 200 when the message reached one of the recipient's clients at once, 202 when
//! it was stored for later (RFC 3428 §7). Plain text and HTML bodies are accepted (HTML is
//! sanitised); anything else is 415.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sip::{HeaderName, Message, Method, RequestBuilder, ResponseBuilder};
use sip_stack::auth::ChallengeKind;
use sip_stack::dialog::LocalVia;
use sip_stack::endpoint::EndpointHandle;
use sip_stack::transaction::{Peer, TransactionKey, Transport, TuEvent};
use tokio::sync::oneshot;

use super::model::{Format, MessageView};
use super::{Delivery, ImError, ImService};
use crate::registrar::Registrar;

/// How long a client gets to answer a MESSAGE (Timer F is longer; a phone that does not
/// answer in this time is not worth waiting for).
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Sends MESSAGE requests to registered clients and routes their answers back. Cheap to
/// clone.
#[derive(Clone)]
pub struct SipIm {
    handle: EndpointHandle,
    registrar: Registrar,
    waiting: Arc<Mutex<Waiting>>,
    user_agent: Arc<str>,
}

/// MESSAGEs awaiting their answer. By Call-ID, registered before the request leaves: its
/// answer can reach the SIP loop before `send_request` has returned the transaction key.
/// The key maps to the Call-ID for the transaction's timeout or transport error.
#[derive(Default)]
struct Waiting {
    by_call_id: HashMap<String, oneshot::Sender<u16>>,
    by_key: HashMap<TransactionKey, String>,
}

impl std::fmt::Debug for SipIm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipIm").finish_non_exhaustive()
    }
}

impl SipIm {
    /// Over the server's endpoint and registrar.
    pub fn new(handle: EndpointHandle, registrar: Registrar, user_agent: &str) -> SipIm {
        SipIm {
            handle,
            registrar,
            waiting: Arc::default(),
            user_agent: user_agent.into(),
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the transaction events of MESSAGE requests this sent; false for others.
    pub fn on_tu_event(&self, ev: &TuEvent) -> bool {
        let mut w = self.waiting();
        let (call_id, status) = match ev {
            TuEvent::Response { msg, .. } => {
                let Ok(cid) = msg.call_id() else { return false };
                match msg.status() {
                    Some(s) if s >= 200 => (cid.to_owned(), s),
                    Some(_) => return w.by_call_id.contains_key(cid),
                    None => return false,
                }
            }
            TuEvent::Timeout { key } | TuEvent::TransportError { key } => {
                let Some(cid) = w.by_key.get(key).cloned() else {
                    return false;
                };
                let status = if matches!(ev, TuEvent::Timeout { .. }) {
                    408
                } else {
                    503
                };
                (cid, status)
            }
            TuEvent::Terminated { key } => return w.by_key.remove(key).is_some(),
            _ => return false,
        };
        match w.by_call_id.remove(&call_id) {
            Some(tx) => {
                let _ = tx.send(status);
                true
            }
            None => false,
        }
    }

    /// Whether `aor` has a registered client.
    pub fn has_clients(&self, aor: &str) -> bool {
        !self.registrar.contacts(aor).is_empty()
    }

    /// Sends `message` from `from` to every registered client of `to`; true when one of
    /// them accepted it (2xx).
    pub async fn send(&self, from: (&str, &str), to: &str, message: &MessageView) -> bool {
        let (content_type, text) = match (message.format.as_str(), &message.file) {
            ("html", _) => ("text/html", message.text.clone()),
            (_, Some(f)) => (
                "text/plain",
                format!("sent a file: {} ({} bytes)", f.name, f.size),
            ),
            _ => ("text/plain", message.text.clone()),
        };
        let mut answers = Vec::new();
        for b in self.registrar.contacts(to) {
            let Some(transport) = Transport::from_via_token(&b.transport) else {
                continue;
            };
            let Some(local) = self.handle.local_addr(transport) else {
                continue;
            };
            let Some(req) = self.request(from, to, &b.uri, transport, local, content_type, &text)
            else {
                continue;
            };
            let (tx, rx) = oneshot::channel();
            let call_id = req.call_id().unwrap_or_default().to_owned();
            self.waiting().by_call_id.insert(call_id.clone(), tx);
            match self
                .handle
                .send_request(req, Peer::new(b.source, transport))
                .await
            {
                Ok(key) => {
                    // Only while unanswered: after a final answer no timeout can come, and
                    // the transaction's end may already have passed (TCP).
                    let mut w = self.waiting();
                    if w.by_call_id.contains_key(&call_id) {
                        w.by_key.insert(key, call_id);
                    }
                    drop(w);
                    answers.push(rx);
                }
                Err(e) => {
                    self.waiting().by_call_id.remove(&call_id);
                    tracing::warn!(error = %e, contact = %b.uri, "could not send MESSAGE");
                }
            }
        }
        let mut delivered = false;
        for rx in answers {
            if let Ok(Ok(status)) = tokio::time::timeout(ANSWER_WITHIN, rx).await {
                delivered |= (200..300).contains(&status);
            }
        }
        delivered
    }

    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        (from_uri, from_name): (&str, &str),
        to: &str,
        contact: &str,
        transport: Transport,
        local: std::net::SocketAddr,
        content_type: &str,
        text: &str,
    ) -> Option<Message> {
        let sent_by = crate::sip_service::sent_by(local);
        let via = LocalVia::new(transport.as_str(), &sent_by)
            .ok()?
            .fresh(&mut rand::rng());
        let tag: u64 = rand::random();
        let call_id: u128 = rand::random();
        let name: String = from_name
            .chars()
            .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
            .collect();
        RequestBuilder::new(&Method::Message, &contact)
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, 70)
            .header(
                HeaderName::From,
                format_args!("\"{name}\" <{from_uri}>;tag={tag:x}"),
            )
            .header(HeaderName::To, format_args!("<{to}>"))
            .header(HeaderName::CallId, format_args!("{call_id:x}@{sent_by}"))
            .header(HeaderName::CSeq, "1 MESSAGE")
            .header(HeaderName::UserAgent, &self.user_agent)
            .body(content_type, Bytes::from(text.to_owned()))
            .build()
            .ok()
    }
}

fn reply(req: &Message, code: u16) -> ResponseBuilder {
    ResponseBuilder::reply(req, code, Some(&crate::sip_service::new_tag()))
}

/// Answers a MESSAGE from a SIP client (out of dialog, past the generic checks).
pub async fn handle_message(
    im: &ImService,
    registrar: &Registrar,
    req: &Message,
) -> Option<Message> {
    let sender = match registrar.authenticate(req, ChallengeKind::Proxy).await {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let mut found = Ok(None);
    for candidate in registrar.addressed(req) {
        found = im.store().get_user_by_sip_uri(&candidate).await;
        if !matches!(found, Ok(None)) {
            break;
        }
    }
    let recipient = match found {
        Ok(Some(u)) if u.enabled && u.id != sender.id => u,
        Ok(_) => return reply(req, 404).build().ok(),
        Err(_) => {
            return reply(req, 500)
                .header(HeaderName::RetryAfter, "5")
                .build()
                .ok()
        }
    };
    let content_type = req
        .get(HeaderName::ContentType)
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let format = match content_type.as_str() {
        "text/plain" => Format::Plain,
        "text/html" => Format::Html,
        _ => {
            return reply(req, 415)
                .header(HeaderName::Accept, "text/plain, text/html")
                .build()
                .ok()
        }
    };
    let Ok(text) = std::str::from_utf8(req.body()) else {
        return reply(req, 400)
            .header(HeaderName::Warning, "399 - \"the body is not UTF-8\"")
            .build()
            .ok();
    };
    // Some clients end the body with a line break; it is not part of the message.
    let text = text.trim_end_matches(['\r', '\n']);
    let result = match im.direct_conversation(&sender, &recipient).await {
        Ok(conv) => im.send(&sender, &conv, text, format).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(sent) => {
            let delivered = sent
                .recipients
                .iter()
                .any(|r| r.status == Delivery::Delivered);
            reply(req, if delivered { 200 } else { 202 }).build().ok()
        }
        Err(ImError::Invalid {
            field: "text",
            message,
        }) if !text.trim().is_empty() => reply(req, 413)
            .header(
                HeaderName::Warning,
                format!("399 - \"{}\"", message.replace('"', "'")),
            )
            .build()
            .ok(),
        Err(ImError::Invalid { message, .. }) => reply(req, 400)
            .header(
                HeaderName::Warning,
                format!("399 - \"{}\"", message.replace('"', "'")),
            )
            .build()
            .ok(),
        Err(e) => {
            tracing::warn!(error = %e, "MESSAGE not delivered");
            reply(req, 500).build().ok()
        }
    }
}
