//! `Route` and `Record-Route` (RFC 3261 §20.30, §20.34): the proxies a dialog's requests
//! pass through. Each element is a bracketed name-addr.

use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::name_addr::NameAddr;
use std::fmt;

macro_rules! route_header {
    ($(#[$doc:meta])* $name:ident, $hdr:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<'a>(pub NameAddr<'a>);

        impl<'a> TypedHeader<'a> for $name<'a> {
            const NAME: HeaderName = $hdr;
            const LIST: bool = true;
            fn parse(s: &'a str) -> Result<Self, HeaderError> {
                let a = NameAddr::parse(s).map_err(|r| err($hdr, r))?;
                if !a.bracketed {
                    return Err(err($hdr, "route URI must be in <>"));
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

route_header!(
    /// One Route element.
    Route, HeaderName::Route
);
route_header!(
    /// One Record-Route element.
    RecordRoute, HeaderName::RecordRoute
);
