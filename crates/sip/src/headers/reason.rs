//! `Reason` (RFC 3326): why a request was sent, e.g. a CANCEL's
//! `SIP;cause=200;text="Call completed elsewhere"` or a BYE's Q.850 cause.

use super::{err, split_params, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::params::Params;
use std::borrow::Cow;
use std::fmt;

/// One Reason element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason<'a> {
    /// `SIP`, `Q.850` or an extension token.
    pub protocol: &'a str,
    /// Parameters (`cause`, `text`).
    pub params: Params<'a>,
}

impl<'a> Reason<'a> {
    /// The cause code.
    pub fn cause(&self) -> Option<u16> {
        self.params
            .get("cause")
            .flatten()
            .and_then(crate::text::parse_u16)
    }

    /// The text, unquoted.
    pub fn text(&self) -> Option<Cow<'a, str>> {
        self.params.get_unquoted("text")
    }
}

impl<'a> TypedHeader<'a> for Reason<'a> {
    const NAME: HeaderName = HeaderName::Reason;
    const LIST: bool = true;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        let (protocol, params) = split_params(HeaderName::Reason, s)?;
        if !crate::text::is_token(protocol) {
            return Err(err(HeaderName::Reason, "protocol is not a token"));
        }
        if let Some(c) = params.get("cause") {
            if c.and_then(crate::text::parse_u16).is_none() {
                return Err(err(HeaderName::Reason, "cause is not a number"));
            }
        }
        Ok(Reason { protocol, params })
    }
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.protocol, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_call_completed_elsewhere() {
        let r = Reason::parse("SIP;cause=200;text=\"Call completed elsewhere\"").unwrap();
        assert_eq!((r.protocol, r.cause()), ("SIP", Some(200)));
        assert_eq!(r.text().unwrap(), "Call completed elsewhere");
    }
}
