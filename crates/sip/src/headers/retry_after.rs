//! `Retry-After` (RFC 3261 §20.33): seconds to wait, an optional comment and a
//! `duration` parameter.

use super::{err, split_params, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::params::Params;
use std::fmt;

/// A Retry-After value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter<'a> {
    /// Seconds.
    pub seconds: u32,
    /// The comment, without parentheses.
    pub comment: Option<&'a str>,
    /// Parameters.
    pub params: Params<'a>,
}

impl<'a> TypedHeader<'a> for RetryAfter<'a> {
    const NAME: HeaderName = HeaderName::RetryAfter;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        let e = |r| err(HeaderName::RetryAfter, r);
        let (head, params) = split_params(HeaderName::RetryAfter, s)?;
        let (num, comment) = match head.find('(') {
            Some(i) => {
                let c = head[i + 1..]
                    .strip_suffix(')')
                    .ok_or(e("unterminated comment"))?;
                (crate::text::trim(&head[..i]), Some(c))
            }
            None => (head, None),
        };
        let seconds = crate::text::parse_u32(num).ok_or(e("not delta-seconds"))?;
        Ok(RetryAfter {
            seconds,
            comment,
            params,
        })
    }
}

impl fmt::Display for RetryAfter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.seconds)?;
        if let Some(c) = self.comment {
            write!(f, " ({c})")?;
        }
        write!(f, "{}", self.params)
    }
}
