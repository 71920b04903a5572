//! `Subscription-State` (RFC 6665): `active`, `pending` or `terminated`, with
//! `expires`, `reason` and `retry-after`.

use super::{err, split_params, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::params::Params;
use std::fmt;

/// A Subscription-State value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionState<'a> {
    /// The state token.
    pub state: &'a str,
    /// Parameters.
    pub params: Params<'a>,
}

impl<'a> SubscriptionState<'a> {
    /// The `expires` parameter.
    pub fn expires(&self) -> Option<u32> {
        self.params
            .get("expires")
            .flatten()
            .and_then(crate::text::parse_u32)
    }
    /// The `reason` parameter.
    pub fn reason(&self) -> Option<&'a str> {
        self.params.get("reason").flatten()
    }
    /// True when terminated.
    pub fn is_terminated(&self) -> bool {
        self.state.eq_ignore_ascii_case("terminated")
    }
}

impl<'a> TypedHeader<'a> for SubscriptionState<'a> {
    const NAME: HeaderName = HeaderName::SubscriptionState;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        let (state, params) = split_params(HeaderName::SubscriptionState, s)?;
        if !crate::text::is_token(state) {
            return Err(err(HeaderName::SubscriptionState, "state is not a token"));
        }
        for p in ["expires", "retry-after"] {
            if let Some(v) = params.get(p) {
                if v.and_then(crate::text::parse_u32).is_none() {
                    return Err(err(HeaderName::SubscriptionState, "bad delta-seconds"));
                }
            }
        }
        Ok(SubscriptionState { state, params })
    }
}

impl fmt::Display for SubscriptionState<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.state, self.params)
    }
}
