//! Writing new messages: requests from scratch, and responses that copy what RFC 3261
//! §8.2.6 says a response copies from its request (Via, From, To, Call-ID, CSeq).
//!
//! Builders write text and parse the result once, so every built message has the same
//! spans and accessors as a received one.

use crate::error::ParseError;
use crate::header_name::HeaderName;
use crate::message::Message;
use crate::method::Method;
use bytes::Bytes;
use std::fmt::{Display, Write};

/// The standard reason phrase of a status code.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        199 => "Early Dialog Terminated",
        200 => "OK",
        202 => "Accepted",
        204 => "No Notification",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        412 => "Conditional Request Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "Unknown",
    }
}

/// Header section shared by both builders.
#[derive(Debug, Clone)]
struct Head {
    text: String,
    body: Option<(String, Bytes)>,
}

/// Room for a typical header section at the start, so that building one rarely grows.
const HEAD_CAPACITY: usize = 1024;

impl Default for Head {
    fn default() -> Head {
        Head {
            text: String::with_capacity(HEAD_CAPACITY),
            body: None,
        }
    }
}

impl Head {
    fn header(&mut self, name: &str, value: &dyn Display) {
        let _ = write!(self.text, "{name}: {value}\r\n");
    }

    fn finish(mut self) -> Result<Message, ParseError> {
        let body = match self.body.take() {
            Some((ct, b)) => {
                let _ = write!(self.text, "Content-Type: {ct}\r\n");
                b
            }
            None => Bytes::new(),
        };
        let _ = write!(self.text, "Content-Length: {}\r\n\r\n", body.len());
        // Exactly the message's size: transactions and dialogs keep it for their lifetime,
        // so the builder's spare room must not go with it.
        let mut v = Vec::with_capacity(self.text.len() + body.len());
        v.extend_from_slice(self.text.as_bytes());
        v.extend_from_slice(&body);
        Message::parse(Bytes::from(v))
    }
}

/// Builds a request.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    head: Head,
}

impl RequestBuilder {
    /// Starts `METHOD uri SIP/2.0`.
    pub fn new(method: &Method, uri: &dyn Display) -> Self {
        let mut head = Head::default();
        let _ = write!(head.text, "{method} {uri} SIP/2.0\r\n");
        RequestBuilder { head }
    }

    /// Adds a header line. The value is written as given.
    pub fn header(mut self, name: HeaderName, value: impl Display) -> Self {
        self.head.header(name.as_str(), &value);
        self
    }

    /// Adds an extension header line.
    pub fn header_ext(mut self, name: &str, value: impl Display) -> Self {
        self.head.header(name, &value);
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(mut self, content_type: &str, body: Bytes) -> Self {
        self.head.body = Some((content_type.to_owned(), body));
        self
    }

    /// Adds Content-Length and parses the result.
    pub fn build(self) -> Result<Message, ParseError> {
        self.head.finish()
    }
}

/// Builds a response.
#[derive(Debug, Clone)]
pub struct ResponseBuilder {
    head: Head,
}

impl ResponseBuilder {
    /// A status line with the standard reason phrase.
    pub fn new(code: u16) -> Self {
        Self::with_reason(code, reason_phrase(code))
    }

    /// A status line with a given reason phrase.
    pub fn with_reason(code: u16, reason: &str) -> Self {
        let mut head = Head::default();
        let _ = write!(head.text, "SIP/2.0 {code} {reason}\r\n");
        ResponseBuilder { head }
    }

    /// A response to `req`: copies every Via line, From, To (adding `to_tag` when the To
    /// has no tag yet and a tag is given; RFC 3261 §8.2.6.2), Call-ID and CSeq.
    pub fn reply(req: &Message, code: u16, to_tag: Option<&str>) -> Self {
        let mut b = Self::new(code);
        for v in req.get_all(HeaderName::Via) {
            b.head.header("Via", &v);
        }
        if let Some(f) = req.get(HeaderName::From) {
            b.head.header("From", &f);
        }
        if let Some(t) = req.get(HeaderName::To) {
            let has_tag = req.to_header().map(|t| t.tag().is_some()).unwrap_or(true);
            match to_tag {
                Some(tag) if !has_tag && code != 100 => {
                    b.head.header("To", &format_args!("{t};tag={tag}"))
                }
                _ => b.head.header("To", &t),
            }
        }
        if let Some(c) = req.get(HeaderName::CallId) {
            b.head.header("Call-ID", &c);
        }
        if let Some(c) = req.get(HeaderName::CSeq) {
            b.head.header("CSeq", &c);
        }
        b
    }

    /// Adds a header line.
    pub fn header(mut self, name: HeaderName, value: impl Display) -> Self {
        self.head.header(name.as_str(), &value);
        self
    }

    /// Adds an extension header line.
    pub fn header_ext(mut self, name: &str, value: impl Display) -> Self {
        self.head.header(name, &value);
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(mut self, content_type: &str, body: Bytes) -> Self {
        self.head.body = Some((content_type.to_owned(), body));
        self
    }

    /// Adds Content-Length and parses the result.
    pub fn build(self) -> Result<Message, ParseError> {
        self.head.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_copies_the_right_headers() {
        let req = RequestBuilder::new(&Method::Invite, &"sip:bob@example.com")
            .header(HeaderName::Via, "SIP/2.0/UDP a.example.com;branch=z9hG4bK1")
            .header(HeaderName::Via, "SIP/2.0/UDP b.example.com;branch=z9hG4bK2")
            .header(HeaderName::From, "<sip:alice@example.com>;tag=a1")
            .header(HeaderName::To, "<sip:bob@example.com>")
            .header(HeaderName::CallId, "c1@example.com")
            .header(HeaderName::CSeq, "1 INVITE")
            .header(HeaderName::MaxForwards, 70)
            .body("application/sdp", Bytes::from_static(b"v=0\r\n"))
            .build()
            .unwrap();
        req.validate().unwrap();
        assert_eq!(req.body(), b"v=0\r\n");
        let resp = ResponseBuilder::reply(&req, 180, Some("b7"))
            .build()
            .unwrap();
        assert_eq!(resp.status(), Some(180));
        assert_eq!(resp.reason(), "Ringing");
        assert_eq!(resp.get_all(HeaderName::Via).count(), 2);
        assert_eq!(resp.to_header().unwrap().tag(), Some("b7"));
        assert_eq!(resp.cseq().unwrap().seq, 1);
        let trying = ResponseBuilder::reply(&req, 100, Some("b7"))
            .build()
            .unwrap();
        assert_eq!(trying.to_header().unwrap().tag(), None);
    }
}
