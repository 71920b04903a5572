//! `Refer-To` (RFC 3515) and `Referred-By` (RFC 3892): the target of a transfer and who
//! asked for it. A Refer-To URI may carry an escaped `Replaces` header (attended transfer).

use super::from_to::addr_header;
use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::name_addr::NameAddr;
use std::fmt;

addr_header!(
    /// The Refer-To header.
    ReferTo, HeaderName::ReferTo
);
addr_header!(
    /// The Referred-By header.
    ReferredBy, HeaderName::ReferredBy
);

impl<'a> ReferTo<'a> {
    /// The `Replaces` header embedded in the Refer-To URI (`?Replaces=...`), still escaped.
    pub fn embedded_replaces(&self) -> Option<&'a str> {
        let h = self.0.uri.as_sip()?.headers?;
        h.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            k.eq_ignore_ascii_case("Replaces").then_some(v)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn finds_embedded_replaces() {
        let r = ReferTo::parse("<sip:bob@b.example?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>").unwrap();
        assert_eq!(
            r.embedded_replaces(),
            Some("12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994")
        );
    }
}
