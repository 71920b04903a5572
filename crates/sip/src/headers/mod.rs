//! Typed header values, parsed on demand from a message's spans.
//!
//! Every type borrows from the message and allocates nothing to parse. Each prints back
//! (`Display`) in canonical form. One concept per file; list-valued headers are split on
//! commas by [`crate::Message::typed_all`], so their types describe one element.

use crate::error::HeaderError;
use crate::header_name::HeaderName;

mod auth;
mod call_id;
mod contact;
mod content_type;
mod cseq;
mod date;
mod event;
mod from_to;
mod identity;
mod numeric;
mod option_tags;
mod privacy;
mod rack;
mod reason;
mod refer;
mod replaces;
mod retry_after;
mod route;
mod session_expires;
mod subscription_state;
mod via;
mod warning;

pub use auth::{
    AuthParams, Authorization, Challenge, Credentials, ProxyAuthenticate, ProxyAuthorization,
    WwwAuthenticate,
};
pub use call_id::CallId;
pub use contact::Contact;
pub use content_type::{Accept, ContentType, MediaType};
pub use cseq::CSeq;
pub use date::Date;
pub use event::{AllowEvents, Event};
pub use from_to::{FromHeader, ToHeader};
pub use identity::{PAssertedIdentity, PPreferredIdentity};
pub use numeric::{ContentLength, Expires, MaxForwards, MinExpires, RSeq};
pub use option_tags::{Allow, ProxyRequire, Require, Supported, Unsupported};
pub use privacy::Privacy;
pub use rack::RAck;
pub use reason::Reason;
pub use refer::{ReferTo, ReferredBy};
pub use replaces::Replaces;
pub use retry_after::RetryAfter;
pub use route::{RecordRoute, Route};
pub use session_expires::{MinSe, Refresher, SessionExpires};
pub use subscription_state::SubscriptionState;
pub use via::Via;
pub use warning::Warning;

/// A header whose value (or one element of whose comma-separated list) has a type.
pub trait TypedHeader<'a>: Sized {
    /// The header this type reads.
    const NAME: HeaderName;
    /// True when the header is a comma-separated list (each element parses on its own).
    const LIST: bool = false;
    /// Parses one value (or list element), trimmed of surrounding LWS.
    fn parse(value: &'a str) -> Result<Self, HeaderError>;
}

/// Shorthand for a header error.
pub(crate) fn err(h: HeaderName, reason: &'static str) -> HeaderError {
    HeaderError::new(h, reason)
}

/// Splits `s` at the first run of LWS: `(word, rest-trimmed)`.
pub(crate) fn split_ws(s: &str) -> (&str, &str) {
    let s = crate::text::trim(s);
    match crate::text::find_lws(s) {
        Some(i) => (&s[..i], crate::text::trim_start(&s[i..])),
        None => (s, ""),
    }
}

/// Splits `value;params` into the leading item and its header parameters.
pub(crate) fn split_params<'a>(
    h: HeaderName,
    s: &'a str,
) -> Result<(&'a str, crate::params::Params<'a>), HeaderError> {
    let (head, params) = crate::text::split_at_unquoted(s, |b| b == b';');
    let params = crate::params::Params::parse_header(params).map_err(|r| err(h, r))?;
    Ok((crate::text::trim(head), params))
}
