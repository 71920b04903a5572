//! `Event` and `Allow-Events` (RFC 6665): the event package of a subscription
//! (`dialog`, `presence`, `refer`, `message-summary`) with its `id`.

use super::{err, split_params, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::params::Params;
use crate::text::is_token;
use std::fmt;

/// An Event value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// The package (with template suffixes, e.g. `presence.winfo`).
    pub package: &'a str,
    /// Parameters.
    pub params: Params<'a>,
}

impl<'a> Event<'a> {
    /// The `id` parameter.
    pub fn id(&self) -> Option<&'a str> {
        self.params.get("id").flatten()
    }
}

fn parse_event(h: HeaderName, s: &str) -> Result<Event<'_>, HeaderError> {
    let (package, params) = split_params(h, s)?;
    if !is_token(package) {
        return Err(err(h, "event type is not a token"));
    }
    Ok(Event { package, params })
}

impl<'a> TypedHeader<'a> for Event<'a> {
    const NAME: HeaderName = HeaderName::Event;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        parse_event(HeaderName::Event, s)
    }
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.package, self.params)
    }
}

/// One package of an Allow-Events header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowEvents<'a>(pub &'a str);

impl<'a> TypedHeader<'a> for AllowEvents<'a> {
    const NAME: HeaderName = HeaderName::AllowEvents;
    const LIST: bool = true;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        if is_token(s) {
            Ok(AllowEvents(s))
        } else {
            Err(err(HeaderName::AllowEvents, "event type is not a token"))
        }
    }
}
