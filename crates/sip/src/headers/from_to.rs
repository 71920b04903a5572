//! `From` and `To` (RFC 3261 §20.20, §20.39): the logical caller and callee, with the
//! tags that identify the dialog.

use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::name_addr::NameAddr;
use std::fmt;

macro_rules! addr_header {
    ($(#[$doc:meta])* $name:ident, $hdr:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<'a>(pub NameAddr<'a>);

        impl<'a> $name<'a> {
            /// The tag parameter.
            pub fn tag(&self) -> Option<&'a str> {
                self.0.tag()
            }
        }

        impl<'a> std::ops::Deref for $name<'a> {
            type Target = NameAddr<'a>;
            fn deref(&self) -> &NameAddr<'a> {
                &self.0
            }
        }

        impl<'a> TypedHeader<'a> for $name<'a> {
            const NAME: HeaderName = $hdr;
            fn parse(s: &'a str) -> Result<Self, HeaderError> {
                let a = NameAddr::parse(s).map_err(|r| err($hdr, r))?;
                if let Some(t) = a.params.get("tag") {
                    if !t.is_some_and(crate::text::is_token) {
                        return Err(err($hdr, "tag is not a token"));
                    }
                }
                Ok($name(a))
            }
        }

        impl fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}
pub(crate) use addr_header;

addr_header!(
    /// The From header.
    FromHeader, HeaderName::From
);
addr_header!(
    /// The To header.
    ToHeader, HeaderName::To
);
