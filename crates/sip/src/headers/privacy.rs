//! `Privacy` (RFC 3323): what the caller asks the network to withhold
//! (`id`, `user`, `header`, `session`, `none`, `critical`), separated by `;`.

use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::text::{is_token, trim};
use std::fmt;

/// A Privacy value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Privacy<'a>(&'a str);

impl<'a> Privacy<'a> {
    /// The privacy values.
    pub fn values(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.0.split(';').map(trim)
    }

    /// True when `value` (case-insensitive) is requested.
    pub fn has(&self, value: &str) -> bool {
        self.values().any(|v| v.eq_ignore_ascii_case(value))
    }
}

impl<'a> TypedHeader<'a> for Privacy<'a> {
    const NAME: HeaderName = HeaderName::Privacy;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        if s.split(';').map(trim).all(is_token) {
            Ok(Privacy(s))
        } else {
            Err(err(
                HeaderName::Privacy,
                "values must be tokens separated by ';'",
            ))
        }
    }
}

impl fmt::Display for Privacy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
