//! `Content-Type` (RFC 3261 §20.15) and `Accept` (§20.1): media types with parameters.
//! Accept elements may use `*` wildcards.

use super::{err, split_params, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::params::Params;
use crate::text::{is_token, trim};
use std::fmt;

/// A media type with parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// Type, e.g. `application`.
    pub mtype: &'a str,
    /// Subtype, e.g. `sdp`.
    pub subtype: &'a str,
    /// Parameters (`;charset=...`).
    pub params: Params<'a>,
}

impl MediaType<'_> {
    /// Case-insensitive match on `type/subtype`.
    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// True when this (possibly wildcard) range covers `type/subtype`.
    pub fn matches(&self, mtype: &str, subtype: &str) -> bool {
        (self.mtype == "*" || self.mtype.eq_ignore_ascii_case(mtype))
            && (self.subtype == "*" || self.subtype.eq_ignore_ascii_case(subtype))
    }

    fn parse_in(h: HeaderName, s: &str) -> Result<MediaType<'_>, HeaderError> {
        let (head, params) = split_params(h, s)?;
        let (t, st) = head.split_once('/').ok_or(err(h, "no '/' in media type"))?;
        let (t, st) = (trim(t), trim(st));
        if !is_token(t) || !is_token(st) {
            return Err(err(h, "media type is not token/token"));
        }
        Ok(MediaType {
            mtype: t,
            subtype: st,
            params,
        })
    }
}

impl fmt::Display for MediaType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.mtype, self.subtype, self.params)
    }
}

/// The Content-Type header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentType<'a>(pub MediaType<'a>);

impl<'a> TypedHeader<'a> for ContentType<'a> {
    const NAME: HeaderName = HeaderName::ContentType;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        MediaType::parse_in(HeaderName::ContentType, s).map(ContentType)
    }
}

impl fmt::Display for ContentType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One media range of an Accept header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accept<'a>(pub MediaType<'a>);

impl<'a> TypedHeader<'a> for Accept<'a> {
    const NAME: HeaderName = HeaderName::Accept;
    const LIST: bool = true;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        MediaType::parse_in(HeaderName::Accept, s).map(Accept)
    }
}

impl fmt::Display for Accept<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
