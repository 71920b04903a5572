//! Token-list headers: `Allow` (methods), `Supported`, `Require`, `Proxy-Require` and
//! `Unsupported` (option tags such as `100rel`, `timer`, `replaces`). One element each.

use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::method::Method;
use crate::text::is_token;
use std::fmt;

macro_rules! token_header {
    ($(#[$doc:meta])* $name:ident, $hdr:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<'a>(pub &'a str);

        impl<'a> TypedHeader<'a> for $name<'a> {
            const NAME: HeaderName = $hdr;
            const LIST: bool = true;
            fn parse(s: &'a str) -> Result<Self, HeaderError> {
                if is_token(s) {
                    Ok($name(s))
                } else {
                    Err(err($hdr, "element is not a token"))
                }
            }
        }

        impl fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
    };
}

token_header!(
    /// One method of an Allow header.
    Allow, HeaderName::Allow
);
token_header!(
    /// One option tag of a Supported header.
    Supported, HeaderName::Supported
);
token_header!(
    /// One option tag of a Require header.
    Require, HeaderName::Require
);
token_header!(
    /// One option tag of a Proxy-Require header.
    ProxyRequire, HeaderName::ProxyRequire
);
token_header!(
    /// One option tag of an Unsupported header.
    Unsupported, HeaderName::Unsupported
);

impl Allow<'_> {
    /// The method.
    pub fn method(&self) -> Method {
        Method::from_token(self.0)
    }
}
