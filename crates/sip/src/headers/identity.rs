//! `P-Asserted-Identity` and `P-Preferred-Identity` (RFC 3325): the identity a trusted
//! network asserts for the caller. Each is a list of name-addr/addr-spec without params.

use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::name_addr::NameAddr;
use std::fmt;

macro_rules! identity_header {
    ($(#[$doc:meta])* $name:ident, $hdr:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<'a>(pub NameAddr<'a>);

        impl<'a> TypedHeader<'a> for $name<'a> {
            const NAME: HeaderName = $hdr;
            const LIST: bool = true;
            fn parse(s: &'a str) -> Result<Self, HeaderError> {
                NameAddr::parse(s).map($name).map_err(|r| err($hdr, r))
            }
        }

        impl fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

identity_header!(
    /// One P-Asserted-Identity element.
    PAssertedIdentity, HeaderName::PAssertedIdentity
);
identity_header!(
    /// One P-Preferred-Identity element.
    PPreferredIdentity, HeaderName::PPreferredIdentity
);
