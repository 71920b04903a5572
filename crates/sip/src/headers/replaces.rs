//! `Replaces` (RFC 3891): names an existing dialog that a new INVITE takes over, which is
//! how a PBX phone completes an attended transfer.

use super::{err, split_params, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::params::Params;
use std::fmt;

/// A Replaces value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replaces<'a> {
    /// The Call-ID of the dialog to replace.
    pub call_id: &'a str,
    /// Its to-tag.
    pub to_tag: &'a str,
    /// Its from-tag.
    pub from_tag: &'a str,
    /// Only replace an early dialog.
    pub early_only: bool,
    /// All parameters.
    pub params: Params<'a>,
}

impl<'a> TypedHeader<'a> for Replaces<'a> {
    const NAME: HeaderName = HeaderName::Replaces;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        let e = |r| err(HeaderName::Replaces, r);
        let (call_id, params) = split_params(HeaderName::Replaces, s)?;
        if !super::call_id::valid_call_id(call_id) {
            return Err(e("bad call-id"));
        }
        let to_tag = params.get("to-tag").flatten().ok_or(e("missing to-tag"))?;
        let from_tag = params
            .get("from-tag")
            .flatten()
            .ok_or(e("missing from-tag"))?;
        Ok(Replaces {
            call_id,
            to_tag,
            from_tag,
            early_only: params.contains("early-only"),
            params,
        })
    }
}

impl fmt::Display for Replaces<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.call_id, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses() {
        let r =
            Replaces::parse("98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff;early-only")
                .unwrap();
        assert_eq!(
            (r.call_id, r.to_tag, r.from_tag, r.early_only),
            ("98732@sip.example.com", "ff87ff", "r33th4x0r", true)
        );
        assert!(Replaces::parse("98732@sip.example.com;from-tag=a").is_err());
    }
}
