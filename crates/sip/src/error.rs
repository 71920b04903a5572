//! Errors of the message layer. Each says what was wrong and where, so that the server
//! can put it in a `Warning` header of its 400 and in its log line.

use crate::header_name::HeaderName;

/// A message could not be framed or its start line or header section is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but empty lines.
    #[error("empty message")]
    Empty,
    /// The header section does not end with an empty line.
    #[error("header section is not terminated by an empty line")]
    Incomplete,
    /// The message is larger than this implementation accepts.
    #[error("message larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The start line is neither a request line nor a status line.
    #[error("malformed start line: {0}")]
    StartLine(&'static str),
    /// The SIP version is not SIP/2.0.
    #[error("unsupported SIP version")]
    Version,
    /// A request method is not a token.
    #[error("method is not a token")]
    Method,
    /// The status code is not three digits from 100 to 699.
    #[error("status code must be three digits from 100 to 699")]
    StatusCode,
    /// A header line has no colon or its name is not a token.
    #[error("malformed header line {line}")]
    HeaderLine {
        /// 1-based line number in the message.
        line: usize,
    },
    /// Content-Length is missing on a stream transport, or is not a number.
    #[error("invalid Content-Length: {0}")]
    ContentLength(&'static str),
    /// Content-Length says more bytes than the datagram holds.
    #[error("Content-Length {declared} is larger than the {available} body bytes received")]
    BodyTruncated {
        /// What the header declared.
        declared: usize,
        /// What arrived.
        available: usize,
    },
    /// A typed header failed validation.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A rule above the header level (mandatory headers, CSeq method, single-valued headers).
    #[error("{0}")]
    Semantic(String),
}

/// A typed header value does not follow its grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {header} header: {reason}")]
pub struct HeaderError {
    /// Which header.
    pub header: HeaderName,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl HeaderError {
    /// Creates an error for `header`.
    pub fn new(header: HeaderName, reason: &'static str) -> Self {
        HeaderError { header, reason }
    }
}

/// A URI does not follow RFC 3261 §19.1 / RFC 3966 / RFC 3986.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid URI: {0}")]
pub struct UriError(pub &'static str);
