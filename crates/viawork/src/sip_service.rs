//! The SIP transaction user of the server, for requests it answers itself: OPTIONS,
//! and the refusals (400, 404, 405, 415, 416, 420, 481, 483, 501, 505) for everything it
//! cannot serve yet. Pure functions from a request to a response, so the RFC 4475 and
//! interop tests exercise exactly what the running server does.
//!
//! The calls, registrar and presence issues replace the 404 and 481 branches with real
//! routing and dialogs.

use bytes::Bytes;
use sip::builder::ResponseBuilder;
use sip::{HeaderName, Message, Method, ParseError};
use sip_stack::uas::{check_request, Capabilities, Refusal};
use std::fmt::Write;

/// Answers requests the server handles by itself.
#[derive(Debug, Clone)]
pub struct SipService {
    caps: Capabilities,
    server_name: String,
    warn_agent: String,
}

/// Largest Warning text, so a huge bad header does not make a huge response.
const MAX_WARNING_TEXT: usize = 200;

impl SipService {
    /// A service for `domain`, announcing `server_name` in Server headers.
    pub fn new(domain: &str, server_name: &str) -> SipService {
        SipService {
            caps: Capabilities {
                allow: vec![
                    Method::Invite,
                    Method::Ack,
                    Method::Bye,
                    Method::Cancel,
                    Method::Options,
                    Method::Register,
                    Method::Info,
                    Method::Update,
                    Method::Prack,
                    Method::Refer,
                    Method::Notify,
                    Method::Subscribe,
                    Method::Publish,
                    Method::Message,
                ],
                supported: vec!["replaces", "timer"],
                accept: vec![
                    "application/sdp",
                    "text/plain",
                    "message/sipfrag",
                    "application/dtmf-relay",
                    "application/dialog-info+xml",
                    "application/pidf+xml",
                    "multipart/mixed",
                ],
            },
            server_name: server_name.to_owned(),
            warn_agent: domain.to_owned(),
        }
    }

    /// The capabilities announced in OPTIONS answers and 405/415/420 responses.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn base(&self, req: &Message, code: u16) -> ResponseBuilder {
        ResponseBuilder::reply(req, code, Some(&new_tag())).header_ext("Server", &self.server_name)
    }

    fn warning(&self, text: &str) -> String {
        let mut t: String = text
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_WARNING_TEXT)
            .collect();
        if t.is_empty() {
            t.push_str("malformed request");
        }
        let mut out = format!("399 {} ", self.warn_agent);
        let _ = sip::text::write_quoted(&mut out, &t);
        out
    }

    /// The response to a well-framed request, or `None` (ACK, a response arriving here, or
    /// REGISTER, which the registrar answers).
    pub fn handle_request(&self, req: &Message) -> Option<Message> {
        let method = req.method()?.clone();
        if method == Method::Ack {
            return None;
        }
        let to_tagged = req.to_header().map(|t| t.tag().is_some()).unwrap_or(false);
        let for_server_itself = method == Method::Options || method == Method::Register;
        if let Err(refusal) = check_request(req, &self.caps, !for_server_itself) {
            tracing::info!(
                method = %method,
                call_id = req.call_id().unwrap_or("-"),
                status = refusal.status(),
                reason = ?refusal,
                "refused request"
            );
            return self.refuse(req, &refusal);
        }
        let response = match method {
            Method::Options => self
                .base(req, 200)
                .header(HeaderName::Allow, self.caps.allow_header())
                .header(HeaderName::Accept, self.caps.accept_header())
                .header(HeaderName::Supported, self.caps.supported_header())
                .header(HeaderName::AcceptLanguage, "en")
                .header(HeaderName::AcceptEncoding, "identity"),
            // No dialogs and no transactions to cancel exist yet.
            Method::Cancel => self.base(req, 481),
            // The registrar (`crate::registrar`) serves REGISTER.
            Method::Register => return None,
            _ if to_tagged => self.base(req, 481),
            // No directory yet: nobody is known here.
            _ => self.base(req, 404),
        };
        let resp = response.build().ok()?;
        tracing::debug!(method = %method, status = resp.status(), "answered request");
        Some(resp)
    }

    /// The refusal of a request that fails the generic checks (Max-Forwards, Require,
    /// URI scheme, ...), as [`handle_request`](Self::handle_request) would answer it; `None`
    /// when it may go on to whoever serves it (the registrar for REGISTER).
    pub fn refusal(&self, req: &Message) -> Option<Message> {
        let method = req.method()?.clone();
        let for_server_itself = method == Method::Options || method == Method::Register;
        let refusal = check_request(req, &self.caps, !for_server_itself).err()?;
        tracing::info!(
            method = %method,
            call_id = req.call_id().unwrap_or("-"),
            status = refusal.status(),
            reason = ?refusal,
            "refused request"
        );
        self.refuse(req, &refusal)
    }

    /// A plain response with this server's To tag and Server header.
    pub fn reply(&self, req: &Message, code: u16) -> Option<Message> {
        self.base(req, code).build().ok()
    }

    fn refuse(&self, req: &Message, r: &Refusal) -> Option<Message> {
        let mut b = self.base(req, r.status());
        b = match r {
            Refusal::BadRequest(text) => b.header(HeaderName::Warning, self.warning(text)),
            Refusal::MethodNotAllowed | Refusal::NotImplemented => {
                b.header(HeaderName::Allow, self.caps.allow_header())
            }
            Refusal::BadExtension(tags) => b.header(HeaderName::Unsupported, tags.join(", ")),
            Refusal::UnsupportedMediaType | Refusal::NotAcceptable => {
                b.header(HeaderName::Accept, self.caps.accept_header())
            }
            Refusal::UnsupportedUriScheme | Refusal::TooManyHops => b,
        };
        b.build().ok()
    }

    /// The response to bytes that did not parse, when enough can be salvaged to route
    /// one: 505 for another SIP version, 400 with a Warning otherwise.
    pub fn handle_malformed(&self, bytes: &Bytes, error: &ParseError) -> Option<Message> {
        let req = sip_stack::salvage::salvage_request(bytes)?;
        let (code, text) = match error {
            ParseError::Version => (505, None),
            e => (400, Some(e.to_string())),
        };
        tracing::info!(status = code, error = %error, "refused malformed request");
        let mut b = self.base(&req, code);
        if let Some(t) = text {
            b = b.header(HeaderName::Warning, self.warning(&t));
        }
        b.build().ok()
    }
}

/// A fresh From or To tag: 64 random bits in hex.
pub fn new_tag() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// `addr` as a Via sent-by or URI host-port (`192.0.2.1:5060`, `[2001:db8::1]:5060`,
/// without an IPv6 scope).
pub fn sent_by(addr: std::net::SocketAddr) -> String {
    match addr {
        std::net::SocketAddr::V4(a) => a.to_string(),
        std::net::SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// For logs: the first line of a message, printable.
pub fn first_line(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(bytes.len())
        .min(120);
    let mut s = String::new();
    for &b in &bytes[..end] {
        if b.is_ascii_graphic() || b == b' ' {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s
}
