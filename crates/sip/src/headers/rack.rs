//! `RAck` (RFC 3262): which reliable provisional response a PRACK acknowledges.

use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::method::Method;
use std::fmt;

/// A RAck value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RAck<'a> {
    /// The RSeq being acknowledged.
    pub rseq: u32,
    /// The CSeq number of the INVITE.
    pub cseq: u32,
    /// The CSeq method (INVITE).
    pub method_name: &'a str,
}

impl RAck<'_> {
    /// The method.
    pub fn method(&self) -> Method {
        Method::from_token(self.method_name)
    }
}

impl<'a> TypedHeader<'a> for RAck<'a> {
    const NAME: HeaderName = HeaderName::RAck;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        let e = || err(HeaderName::RAck, "expected 'rseq cseq method'");
        let (a, rest) = super::split_ws(s);
        let (b, m) = super::split_ws(rest);
        let rseq = crate::text::parse_u32(a)
            .filter(|&v| v >= 1)
            .ok_or_else(e)?;
        let cseq = crate::text::parse_u32(b)
            .filter(|&v| v < 1 << 31)
            .ok_or_else(e)?;
        if !crate::text::is_token(m) {
            return Err(e());
        }
        Ok(RAck {
            rseq,
            cseq,
            method_name: m,
        })
    }
}

impl fmt::Display for RAck<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.rseq, self.cseq, self.method_name)
    }
}
