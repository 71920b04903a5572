//! `Warning` (RFC 3261 §20.43): a three-digit code, the agent that added it and a
//! quoted text. ViaWork puts the parse error here when it answers 400.

use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::text::{quoted_len, trim, unquote};
use std::borrow::Cow;
use std::fmt;

/// One Warning element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warning<'a> {
    /// The code, 300–399.
    pub code: u16,
    /// The warn-agent (host[:port] or a pseudonym).
    pub agent: &'a str,
    /// The text inside the quotes, escapes still in place.
    pub text_raw: &'a str,
}

impl<'a> Warning<'a> {
    /// The text, unescaped.
    pub fn text(&self) -> Cow<'a, str> {
        unquote(self.text_raw)
    }
}

impl<'a> TypedHeader<'a> for Warning<'a> {
    const NAME: HeaderName = HeaderName::Warning;
    const LIST: bool = true;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        let e = |r| err(HeaderName::Warning, r);
        let (code, rest) = super::split_ws(s);
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(e("code must be three digits"));
        }
        let (agent, text) = super::split_ws(rest);
        if agent.is_empty() {
            return Err(e("no warn-agent"));
        }
        let text = trim(text);
        if !text.starts_with('"') || quoted_len(text) != Some(text.len()) {
            return Err(e("text must be one quoted string"));
        }
        Ok(Warning {
            code: code.parse().map_err(|_| e("bad code"))?,
            agent,
            text_raw: &text[1..text.len() - 1],
        })
    }
}

impl fmt::Display for Warning<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} \"{}\"", self.code, self.agent, self.text_raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_and_rejects() {
        let w = Warning::parse("399 viawork \"Bad \\\"Via\\\"\"").unwrap();
        assert_eq!(w.text(), "Bad \"Via\"");
        assert!(Warning::parse("1812 overture \"In Progress\"").is_err());
    }
}
