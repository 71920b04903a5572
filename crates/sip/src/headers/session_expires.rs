//! `Session-Expires` and `Min-SE` (RFC 4028): session timer interval, which side
//! refreshes it, and the smallest interval a side accepts.

use super::{err, split_params, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::params::Params;
use std::fmt;

/// Which side refreshes the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    /// The UAC of the refreshing transaction.
    Uac,
    /// The UAS.
    Uas,
}

/// A Session-Expires value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires<'a> {
    /// Interval in seconds.
    pub delta: u32,
    /// The refresher parameter.
    pub refresher: Option<Refresher>,
    /// Parameters.
    pub params: Params<'a>,
}

impl<'a> TypedHeader<'a> for SessionExpires<'a> {
    const NAME: HeaderName = HeaderName::SessionExpires;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        let e = |r| err(HeaderName::SessionExpires, r);
        let (n, params) = split_params(HeaderName::SessionExpires, s)?;
        let delta = crate::text::parse_u32(n).ok_or(e("not delta-seconds"))?;
        let refresher = match params.get("refresher") {
            None => None,
            Some(Some(v)) if v.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
            Some(Some(v)) if v.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
            Some(_) => return Err(e("refresher must be uac or uas")),
        };
        Ok(SessionExpires {
            delta,
            refresher,
            params,
        })
    }
}

impl fmt::Display for SessionExpires<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.delta, self.params)
    }
}

/// A Min-SE value (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinSe(pub u32);

impl<'a> TypedHeader<'a> for MinSe {
    const NAME: HeaderName = HeaderName::MinSe;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        let (n, _) = split_params(HeaderName::MinSe, s)?;
        crate::text::parse_u32(n)
            .map(MinSe)
            .ok_or(err(HeaderName::MinSe, "not delta-seconds"))
    }
}

impl fmt::Display for MinSe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
