//! The SIP message layer of ViaWork: a zero-copy parser, typed headers, URIs and a
//! serializer that keeps what it does not understand byte for byte.
//!
//! Why our own: a back-to-back user agent rewrites a few headers of every message it
//! relays and must leave the rest alone; it parses tens of thousands of messages a second.
//! [`Message::parse`] frames a message in one pass over the buffer without copying or
//! allocating (header spans live inline), and typed views ([`headers`]) parse a value
//! only when asked. [`Message::validate`] applies the full grammar, as RFC 4475 expects of
//! a server. [`builder`] writes new messages and [`edit`] rewrites received ones.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod builder;
pub mod edit;
pub mod error;
pub mod header_name;
pub mod headers;
pub mod message;
pub mod method;
pub mod name_addr;
pub mod params;
pub mod text;
pub mod uri;
mod validate;

pub use builder::{RequestBuilder, ResponseBuilder};
pub use error::{HeaderError, ParseError, UriError};
pub use header_name::HeaderName;
pub use message::{frame_length, Framing, Message, StartLine};
pub use method::Method;
pub use name_addr::{DisplayName, NameAddr};
pub use params::Params;
pub use uri::{Host, SipUri, TelUri, Uri, UriBuf};
