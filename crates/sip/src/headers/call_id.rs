//! `Call-ID` (RFC 3261 §20.8): `word [ "@" word ]`, compared byte for byte.

use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::text::is_word_byte;
use std::fmt;

/// A Call-ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallId<'a>(pub &'a str);

/// Checks the `callid` grammar (also used by Replaces).
pub(crate) fn valid_call_id(s: &str) -> bool {
    let (a, b) = match crate::text::split_once_byte(s, b'@') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let word = |w: &str| !w.is_empty() && w.bytes().all(is_word_byte);
    word(a) && b.is_none_or(word)
}

impl<'a> TypedHeader<'a> for CallId<'a> {
    const NAME: HeaderName = HeaderName::CallId;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        if valid_call_id(s) {
            Ok(CallId(s))
        } else {
            Err(err(HeaderName::CallId, "not word[@word]"))
        }
    }
}

impl fmt::Display for CallId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn accepts_word_characters_only() {
        assert!(CallId::parse("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").is_ok());
        assert!(CallId::parse("a b").is_err());
        assert!(CallId::parse("a@b@c").is_err());
        assert!(CallId::parse("").is_err());
    }
}
