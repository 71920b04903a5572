//! Headers whose value is one decimal number: Max-Forwards (0–255), Content-Length,
//! Expires and Min-Expires (delta-seconds, up to 2^32-1) and RSeq (RFC 3262, 1 to 2^31-1).

use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use std::fmt;

macro_rules! numeric_header {
    ($(#[$doc:meta])* $name:ident, $ty:ty, $hdr:expr, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name(pub $ty);

        impl<'a> TypedHeader<'a> for $name {
            const NAME: HeaderName = $hdr;
            fn parse(s: &'a str) -> Result<Self, HeaderError> {
                match crate::text::parse_u32(s) {
                    Some(v) if ($min..=$max).contains(&(v as u64)) => Ok($name(v as $ty)),
                    _ => Err(err($hdr, concat!("not a number from ", stringify!($min), " to ", stringify!($max)))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

numeric_header!(
    /// `Max-Forwards`: hops left.
    MaxForwards, u8, HeaderName::MaxForwards, 0, 255
);
numeric_header!(
    /// `Content-Length`: body size in bytes.
    ContentLength, u32, HeaderName::ContentLength, 0, 4294967295
);
numeric_header!(
    /// `Expires`: seconds.
    Expires, u32, HeaderName::Expires, 0, 4294967295
);
numeric_header!(
    /// `Min-Expires`: seconds.
    MinExpires, u32, HeaderName::MinExpires, 0, 4294967295
);
numeric_header!(
    /// `RSeq`: reliable provisional response number (RFC 3262).
    RSeq, u32, HeaderName::RSeq, 1, 2147483647
);

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn bounds() {
        assert_eq!(MaxForwards::parse("0068").unwrap(), MaxForwards(68));
        assert!(MaxForwards::parse("300").is_err());
        assert!(Expires::parse("10000000000000000000000").is_err());
        assert!(RSeq::parse("0").is_err());
        assert!(ContentLength::parse("-1").is_err());
    }
}
