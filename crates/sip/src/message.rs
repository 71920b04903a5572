//! The SIP message: one received buffer plus the spans of its start line, header fields
//! and body. Parsing finds the spans in one pass and copies nothing; typed header values
//! are parsed on demand from the spans (see [`crate::headers`]), so a proxy-like path that
//! reads five headers pays for five, not for forty.
//!
//! Framing follows RFC 3261 §7.5 and §18.3: leading CRLFs are skipped, a datagram's body is
//! what Content-Length says (extra octets are dropped, too few are an error), and on a
//! stream [`frame_length`] tells where a message ends.

use crate::error::{HeaderError, ParseError};
use crate::header_name::HeaderName;
use crate::headers::TypedHeader;
use crate::method::Method;
use crate::text::{is_token_byte, split_list, split_list_single};
use crate::uri::Uri;
use bytes::Bytes;
use bytestring::ByteString;
use smallvec::SmallVec;
use std::fmt;

/// The largest message accepted (RFC 3261 leaves it open; 64 KiB is the UDP limit and
/// generous for TCP).
pub const MAX_MESSAGE_SIZE: usize = 65_535;

/// A byte range inside the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    pub(crate) fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One header line (with its continuation lines when folded).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderField {
    pub id: HeaderName,
    pub name: Span,
    pub value: Span,
    /// End of the last line of the field, before its CRLF.
    pub line_end: u32,
}

/// A request line or a status line.
#[derive(Debug, Clone)]
pub enum StartLine {
    /// `Method Request-URI SIP/2.0`
    Request {
        /// The method.
        method: Method,
        /// Where the Request-URI is.
        #[doc(hidden)]
        uri: SpanRef,
    },
    /// `SIP/2.0 Status-Code Reason-Phrase`
    Response {
        /// The status code, 100 to 699.
        code: u16,
        /// Where the reason phrase is.
        #[doc(hidden)]
        reason: SpanRef,
    },
}

/// An opaque position in a message's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanRef(pub(crate) Span);

/// A parsed SIP message.
#[derive(Clone)]
pub struct Message {
    buf: Bytes,
    start: StartLine,
    start_line_end: u32,
    headers: SmallVec<[HeaderField; 20]>,
    body: Span,
    /// The start line and headers (up to the body) as text, when they are valid UTF-8:
    /// checked once per message, so typed reads need not check each value again.
    head: Option<ByteString>,
}

/// How a message arrived, which decides how a missing Content-Length is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One datagram is one message; the body may lack Content-Length (RFC 3261 §18.3).
    Datagram,
    /// The buffer was cut by [`frame_length`]; Content-Length is required.
    Stream,
}

fn find_line_end(b: &[u8], from: usize) -> Option<(usize, usize)> {
    // Returns (end of line content, start of next line). Accepts CRLF and a bare LF.
    let nl = memchr::memchr(b'\n', &b[from..])? + from;
    let end = if nl > from && b[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    Some((end, nl + 1))
}

fn skip_leading_crlf(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| c == b'\r' || c == b'\n').count()
}

impl Message {
    /// Parses a datagram (UDP) or a message already framed by [`frame_length`].
    pub fn parse(buf: Bytes) -> Result<Message, ParseError> {
        Self::parse_framed(buf, Framing::Datagram)
    }

    /// Parses with the given framing rules.
    pub fn parse_framed(buf: Bytes, framing: Framing) -> Result<Message, ParseError> {
        if buf.len() > MAX_MESSAGE_SIZE {
            return Err(ParseError::TooLarge {
                limit: MAX_MESSAGE_SIZE,
            });
        }
        let b = &buf[..];
        let first = skip_leading_crlf(b);
        if first == b.len() {
            return Err(ParseError::Empty);
        }
        let (sl_end, mut pos) = find_line_end(b, first).ok_or(ParseError::Incomplete)?;
        let start = parse_start_line(b, first, sl_end)?;
        let mut headers: SmallVec<[HeaderField; 20]> = SmallVec::new();
        let mut content_length: Option<Span> = None;
        let mut line_no = 1;
        let body_start;
        loop {
            line_no += 1;
            let (end, next) = find_line_end(b, pos).ok_or(ParseError::Incomplete)?;
            if end == pos {
                body_start = next;
                break;
            }
            let c = b[pos];
            if c == b' ' || c == b'\t' {
                // A folded continuation of the previous field.
                let last = headers
                    .last_mut()
                    .ok_or(ParseError::HeaderLine { line: line_no })?;
                let trimmed = trim_end(b, pos, end);
                if trimmed > pos {
                    if last.value.start == last.value.end {
                        // The value started on this continuation line.
                        let vs = skip_ws(b, pos, end);
                        last.value = Span::new(vs, trimmed);
                    } else {
                        last.value.end = trimmed as u32;
                    }
                }
                last.line_end = end as u32;
                pos = next;
                continue;
            }
            // One pass over the name: token bytes, optional white space, then the colon.
            let mut name_end = pos;
            while name_end < end && is_token_byte(b[name_end]) {
                name_end += 1;
            }
            let colon = skip_ws(b, name_end, end);
            if name_end == pos || colon >= end || b[colon] != b':' {
                return Err(ParseError::HeaderLine { line: line_no });
            }
            let vs = skip_ws(b, colon + 1, end);
            let ve = trim_end(b, vs, end);
            let id = HeaderName::from_bytes(&b[pos..name_end]);
            let field = HeaderField {
                id,
                name: Span::new(pos, name_end),
                value: Span::new(vs, ve.max(vs)),
                line_end: end as u32,
            };
            if id == HeaderName::ContentLength && content_length.is_none() {
                content_length = Some(field.value);
            }
            headers.push(field);
            pos = next;
        }
        // Content-Length may have been folded; read it after all lines are in.
        let cl = match headers.iter().find(|h| h.id == HeaderName::ContentLength) {
            Some(h) => Some(parse_content_length(&b[h.value.range()])?),
            None => None,
        };
        let available = b.len() - body_start;
        let body_len = match (cl, framing) {
            (Some(n), _) if n > available => {
                return Err(ParseError::BodyTruncated {
                    declared: n,
                    available,
                })
            }
            (Some(n), _) => n,
            (None, Framing::Datagram) => available,
            (None, Framing::Stream) => {
                return Err(ParseError::ContentLength("missing on a stream transport"))
            }
        };
        let head = ByteString::try_from(buf.slice(..body_start)).ok();
        Ok(Message {
            start,
            start_line_end: sl_end as u32,
            headers,
            body: Span::new(body_start, body_start + body_len),
            head,
            buf,
        })
    }

    /// The start line.
    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    /// True for requests.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method, for requests.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code, for responses.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase, for responses (empty when absent or not UTF-8).
    pub fn reason(&self) -> &str {
        match self.start {
            StartLine::Response { reason, .. } => self.str_at(reason.0),
            StartLine::Request { .. } => "",
        }
    }

    /// The Request-URI text, for requests.
    pub fn request_uri_str(&self) -> Option<&str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.str_at(uri.0)),
            StartLine::Response { .. } => None,
        }
    }

    /// The parsed Request-URI, for requests.
    pub fn request_uri(&self) -> Option<Result<Uri<'_>, crate::error::UriError>> {
        self.request_uri_str().map(Uri::parse)
    }

    pub(crate) fn str_at(&self, span: Span) -> &str {
        if let Some(head) = &self.head {
            if let Some(s) = head.get(span.range()) {
                return s;
            }
        }
        // A head that is not UTF-8 as a whole: check the value itself.
        std::str::from_utf8(&self.buf[span.range()]).unwrap_or("")
    }

    /// The whole message as received (up to the end of the body).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.body.end as usize]
    }

    /// The buffer the message lives in, up to the end of the body.
    pub fn to_bytes(&self) -> Bytes {
        self.buf.slice(..self.body.end as usize)
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.buf[self.body.range()]
    }

    /// The body as a shared buffer, without copying.
    pub fn body_bytes(&self) -> Bytes {
        self.buf.slice(self.body.range())
    }

    /// Iterates `(name, raw value)` for every header line, in order. Names are as written.
    pub fn headers(&self) -> impl Iterator<Item = (HeaderName, &str, &str)> + '_ {
        self.headers
            .iter()
            .map(|h| (h.id, self.str_at(h.name), self.str_at(h.value)))
    }

    /// Number of header lines.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    pub(crate) fn fields(&self) -> &[HeaderField] {
        &self.headers
    }

    pub(crate) fn buffer(&self) -> &Bytes {
        &self.buf
    }

    pub(crate) fn start_line_span(&self) -> Span {
        let first = skip_leading_crlf(&self.buf);
        Span::new(first, self.start_line_end as usize)
    }

    /// The raw value of the first `name` header line.
    pub fn get(&self, name: HeaderName) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.id == name)
            .map(|h| self.str_at(h.value))
    }

    /// The raw values of every `name` header line, in order.
    pub fn get_all(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.id == name)
            .map(|h| self.str_at(h.value))
    }

    /// The raw values of an extension header, by case-insensitive name.
    pub fn get_ext<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.headers
            .iter()
            .filter(move |h| {
                h.id == HeaderName::Other
                    && self.buf[h.name.range()].eq_ignore_ascii_case(name.as_bytes())
            })
            .map(|h| self.str_at(h.value))
    }

    /// True when at least one `name` header is present.
    pub fn has(&self, name: HeaderName) -> bool {
        self.headers.iter().any(|h| h.id == name)
    }

    /// The first value of a single-valued typed header; `Ok(None)` when absent.
    pub fn typed<'s, T: TypedHeader<'s>>(&'s self) -> Result<Option<T>, HeaderError> {
        match self.get(T::NAME) {
            Some(v) => T::parse(v).map(Some),
            None => Ok(None),
        }
    }

    /// Every element of a list-valued typed header, across repeated lines and commas.
    pub fn typed_all<'s, T: TypedHeader<'s> + 's>(
        &'s self,
    ) -> impl Iterator<Item = Result<T, HeaderError>> + 's {
        self.get_all(T::NAME)
            .flat_map(|v| {
                let mut it = split_list(v);
                if !T::LIST {
                    // Not a list: the whole line is one value.
                    it = split_list_single(v);
                } else if v.is_empty() {
                    // An empty list header (`Supported:`) has no elements.
                    it = split_list_single("");
                    it.next();
                }
                it
            })
            .map(T::parse)
    }

    /// A required single-valued header, or an error naming it.
    pub fn require<'s, T: TypedHeader<'s>>(&'s self) -> Result<T, HeaderError> {
        self.typed::<T>()?
            .ok_or_else(|| HeaderError::new(T::NAME, "missing"))
    }

    /// The topmost Via (the first element of the first Via line).
    pub fn top_via(&self) -> Result<crate::headers::Via<'_>, HeaderError> {
        let first = self
            .get(HeaderName::Via)
            .ok_or_else(|| HeaderError::new(HeaderName::Via, "missing"))?;
        let elem = split_list(first).next().unwrap_or("");
        crate::headers::Via::parse(elem)
    }

    /// The Call-ID.
    pub fn call_id(&self) -> Result<&str, HeaderError> {
        self.require::<crate::headers::CallId>().map(|c| c.0)
    }

    /// The CSeq.
    pub fn cseq(&self) -> Result<crate::headers::CSeq<'_>, HeaderError> {
        self.require()
    }

    /// The From header.
    pub fn from_header(&self) -> Result<crate::headers::FromHeader<'_>, HeaderError> {
        self.require()
    }

    /// The To header.
    pub fn to_header(&self) -> Result<crate::headers::ToHeader<'_>, HeaderError> {
        self.require()
    }

    /// Checks everything a server must check before acting on a message: every known
    /// header's grammar, the mandatory headers of RFC 3261 §8.1.1, single-valued headers
    /// appearing once, the CSeq method matching the request method, the Request-URI's
    /// syntax (no `?headers` in a SIP Request-URI), and UTF-8 in every header value.
    ///
    /// An unknown Request-URI scheme is *not* an error here: that is a 416, decided by the
    /// server.
    pub fn validate(&self) -> Result<(), ParseError> {
        crate::validate::validate(self)
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

fn skip_ws(b: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

fn trim_end(b: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && (b[end - 1] == b' ' || b[end - 1] == b'\t') {
        end -= 1;
    }
    end
}

fn parse_content_length(v: &[u8]) -> Result<usize, ParseError> {
    let s = std::str::from_utf8(v).map_err(|_| ParseError::ContentLength("not a number"))?;
    let s = crate::text::trim(s);
    if s.starts_with('-') {
        return Err(ParseError::ContentLength("negative"));
    }
    if s.contains(',') {
        return Err(ParseError::ContentLength("more than one value"));
    }
    match crate::text::parse_u32(s) {
        Some(n) if (n as usize) <= MAX_MESSAGE_SIZE => Ok(n as usize),
        Some(_) => Err(ParseError::ContentLength(
            "larger than the message size limit",
        )),
        None => Err(ParseError::ContentLength("not a number")),
    }
}

fn parse_start_line(b: &[u8], start: usize, end: usize) -> Result<StartLine, ParseError> {
    let line = &b[start..end];
    if line.starts_with(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        if !line.starts_with(b"SIP/2.0 ") {
            return Err(ParseError::Version);
        }
        let rest = &line[8..];
        if rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
            return Err(ParseError::StatusCode);
        }
        if rest.len() > 3 && rest[3] != b' ' {
            return Err(ParseError::StatusCode);
        }
        let code =
            (rest[0] - b'0') as u16 * 100 + (rest[1] - b'0') as u16 * 10 + (rest[2] - b'0') as u16;
        if !(100..=699).contains(&code) {
            return Err(ParseError::StatusCode);
        }
        let rs = (start + 8 + 4).min(end);
        return Ok(StartLine::Response {
            code,
            reason: SpanRef(Span::new(rs, end)),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version, single spaces, nothing trailing.
    let sp1 =
        memchr::memchr(b' ', line).ok_or(ParseError::StartLine("no space after the method"))?;
    let method = &line[..sp1];
    if method.is_empty() || !method.iter().all(|&c| is_token_byte(c)) {
        return Err(ParseError::Method);
    }
    let rest = &line[sp1 + 1..];
    let sp2 = memchr::memchr(b' ', rest)
        .ok_or(ParseError::StartLine("no space after the Request-URI"))?;
    let uri = &rest[..sp2];
    let version = &rest[sp2 + 1..];
    if uri.is_empty() {
        return Err(ParseError::StartLine(
            "more than one space between elements",
        ));
    }
    if version != b"SIP/2.0" {
        return Err(if version.contains(&b' ') || version.is_empty() {
            ParseError::StartLine("white space in the Request-URI or after the version")
        } else {
            ParseError::Version
        });
    }
    if uri.iter().any(|&c| c <= b' ' || c == 0x7f) || uri[0] == b'<' {
        return Err(ParseError::StartLine("Request-URI is not an absolute URI"));
    }
    // Method is a token, hence ASCII.
    let method = Method::from_token(std::str::from_utf8(method).map_err(|_| ParseError::Method)?);
    let us = start + sp1 + 1;
    Ok(StartLine::Request {
        method,
        uri: SpanRef(Span::new(us, us + sp2)),
    })
}

/// On a stream, how many bytes of `buf` make the next message: `Ok(Some(n))` when a whole
/// message is there, `Ok(None)` when more bytes are needed. Leading CRLFs (keep-alives,
/// RFC 5626) are counted into the message and skipped by [`Message::parse_framed`].
pub fn frame_length(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    let first = skip_leading_crlf(buf);
    let mut pos = first;
    let mut cl: Option<usize> = None;
    let mut in_cl = false;
    loop {
        let Some((end, next)) = find_line_end(buf, pos) else {
            if buf.len() > MAX_MESSAGE_SIZE {
                return Err(ParseError::TooLarge {
                    limit: MAX_MESSAGE_SIZE,
                });
            }
            return Ok(None);
        };
        if end == pos && pos != first {
            let n = cl.ok_or(ParseError::ContentLength("missing on a stream transport"))?;
            let total = next + n;
            if total - first > MAX_MESSAGE_SIZE {
                return Err(ParseError::TooLarge {
                    limit: MAX_MESSAGE_SIZE,
                });
            }
            return Ok(if buf.len() >= total {
                Some(total)
            } else {
                None
            });
        }
        let line = &buf[pos..end];
        if pos != first {
            if line[0] == b' ' || line[0] == b'\t' {
                if in_cl && cl.is_none() {
                    cl = Some(parse_content_length(line)?);
                }
            } else if let Some(colon) = memchr::memchr(b':', line) {
                let name = &line[..trim_end(line, 0, colon)];
                in_cl = HeaderName::from_bytes(name) == HeaderName::ContentLength;
                if in_cl && cl.is_none() {
                    let v = &line[colon + 1..];
                    if v.iter().any(|c| !c.is_ascii_whitespace()) {
                        cl = Some(parse_content_length(v)?);
                    }
                }
            }
        }
        pos = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    #[test]
    fn parses_a_request() {
        let m = Message::parse(Bytes::from_static(INVITE.as_bytes())).unwrap();
        assert_eq!(m.method(), Some(&Method::Invite));
        assert_eq!(m.request_uri_str(), Some("sip:bob@biloxi.example.com"));
        assert_eq!(m.header_count(), 9);
        assert_eq!(m.get(HeaderName::MaxForwards), Some("70"));
        assert_eq!(m.body(), b"v=0\n");
        assert_eq!(
            m.call_id().unwrap(),
            "a84b4c76e66710@pc33.atlanta.example.com"
        );
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK776asdhds"));
    }

    #[test]
    fn frames_a_stream() {
        let two = format!("\r\n\r\n{INVITE}{INVITE}");
        let n = frame_length(two.as_bytes()).unwrap().unwrap();
        assert_eq!(n, 4 + INVITE.len());
        assert_eq!(frame_length(&two.as_bytes()[..n - 1]).unwrap(), None);
        let m = Message::parse_framed(
            Bytes::copy_from_slice(&two.as_bytes()[..n]),
            Framing::Stream,
        )
        .unwrap();
        assert_eq!(m.body(), b"v=0\n");
        let no_cl = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n";
        assert!(frame_length(no_cl.as_bytes()).is_err());
    }

    #[test]
    fn rejects_bad_start_lines() {
        for bad in [
            "INVITE  sip:a@b SIP/2.0\r\n\r\n",
            "INVITE sip:a@b SIP/2.0 \r\n\r\n",
            "INVITE sip:a@b SIP/7.0\r\n\r\n",
            "INVITE <sip:a@b> SIP/2.0\r\n\r\n",
            "INVITE sip:a@b; lr SIP/2.0\r\n\r\n",
            "SIP/2.0 4294967301 Big\r\n\r\n",
            "SIP/2.0 99 Low\r\n\r\n",
            "SIP/2.0 20 Short\r\n\r\n",
            "INV@ITE sip:a@b SIP/2.0\r\n\r\n",
        ] {
            assert!(Message::parse(Bytes::from(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejects_header_lines_without_colon_and_truncated_bodies() {
        let m = "OPTIONS sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n";
        assert_eq!(
            Message::parse(Bytes::from(m)).unwrap_err(),
            ParseError::HeaderLine { line: 2 }
        );
        let m = "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc";
        assert!(matches!(
            Message::parse(Bytes::from(m)).unwrap_err(),
            ParseError::BodyTruncated {
                declared: 10,
                available: 3
            }
        ));
    }
}
