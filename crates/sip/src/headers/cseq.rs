//! `CSeq` (RFC 3261 §20.16): the request's sequence number (below 2^31) and method.

use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::method::Method;
use crate::text::is_token;
use std::fmt;

/// A CSeq value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number.
    pub seq: u32,
    /// The method name as written.
    pub method_name: &'a str,
}

impl CSeq<'_> {
    /// The method.
    pub fn method(&self) -> Method {
        Method::from_token(self.method_name)
    }
}

impl<'a> TypedHeader<'a> for CSeq<'a> {
    const NAME: HeaderName = HeaderName::CSeq;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        let (n, m) = super::split_ws(s);
        let seq = crate::text::parse_u32(n)
            .filter(|&v| v < 1 << 31)
            .ok_or(err(HeaderName::CSeq, "sequence number is not below 2^31"))?;
        if !is_token(m) {
            return Err(err(HeaderName::CSeq, "method is not a token"));
        }
        Ok(CSeq {
            seq,
            method_name: m,
        })
    }
}

impl fmt::Display for CSeq<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_and_bounds() {
        let c = CSeq::parse("0009\r\n  INVITE").unwrap();
        assert_eq!((c.seq, c.method()), (9, Method::Invite));
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert!(CSeq::parse("1").is_err());
        assert!(CSeq::parse("1 INV ITE").is_err());
    }
}
