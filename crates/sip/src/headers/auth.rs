//! Authentication headers (RFC 3261 §20.27, §20.28, §20.7, §20.44, RFC 8760):
//! challenges (`WWW-Authenticate`, `Proxy-Authenticate`) and credentials
//! (`Authorization`, `Proxy-Authorization`): a scheme and comma-separated `name=value`
//! parameters. These are not comma-split lists: one value per header line.

use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::text::{is_lws, is_token, is_token_byte, quoted_len, trim, unquote};
use std::borrow::Cow;
use std::fmt;

/// Validated `auth-param` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthParams<'a>(&'a str);

impl<'a> AuthParams<'a> {
    fn parse(h: HeaderName, s: &'a str) -> Result<AuthParams<'a>, HeaderError> {
        let s = trim(s);
        for item in crate::text::split_list(s) {
            if s.is_empty() {
                break;
            }
            let (n, v) = item
                .split_once('=')
                .ok_or(err(h, "parameter without '='"))?;
            let (n, v) = (trim(n), trim(v));
            if !is_token(n) {
                return Err(err(h, "parameter name is not a token"));
            }
            let ok = if v.starts_with('"') {
                quoted_len(v) == Some(v.len())
            } else {
                // Tokens, plus '/' and ':' seen in real opaque values and URIs.
                !v.is_empty()
                    && v.bytes()
                        .all(|b| is_token_byte(b) || matches!(b, b'/' | b':' | b'=' | b'@'))
            };
            if !ok {
                return Err(err(h, "bad parameter value"));
            }
        }
        Ok(AuthParams(s))
    }

    /// Iterates `(name, value)` with quotes removed.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Cow<'a, str>)> + 'a {
        let s = self.0;
        crate::text::split_list(s)
            .filter(|i| !i.is_empty())
            .filter_map(|item| {
                let (n, v) = item.split_once('=')?;
                let v = trim(v);
                let v = if v.len() >= 2 && v.starts_with('"') {
                    unquote(&v[1..v.len() - 1])
                } else {
                    Cow::Borrowed(v)
                };
                Some((trim(n), v))
            })
    }

    /// The value of `name` (case-insensitive), unquoted.
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The raw text.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

fn parse_scheme<'a>(h: HeaderName, s: &'a str) -> Result<(&'a str, AuthParams<'a>), HeaderError> {
    let s = trim(s);
    let end = s
        .find(|c: char| c.is_ascii() && is_lws(c as u8))
        .unwrap_or(s.len());
    let scheme = &s[..end];
    if !is_token(scheme) {
        return Err(err(h, "scheme is not a token"));
    }
    Ok((scheme, AuthParams::parse(h, &s[end..])?))
}

macro_rules! auth_header {
    ($(#[$doc:meta])* $name:ident, $inner:ident, $hdr:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<'a>(pub $inner<'a>);

        impl<'a> TypedHeader<'a> for $name<'a> {
            const NAME: HeaderName = $hdr;
            fn parse(s: &'a str) -> Result<Self, HeaderError> {
                let (scheme, params) = parse_scheme($hdr, s)?;
                Ok($name($inner { scheme, params }))
            }
        }

        impl<'a> std::ops::Deref for $name<'a> {
            type Target = $inner<'a>;
            fn deref(&self) -> &$inner<'a> {
                &self.0
            }
        }
    };
}

/// A challenge: scheme and parameters (`realm`, `nonce`, `algorithm`, `qop`, `stale` ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The scheme, e.g. `Digest`.
    pub scheme: &'a str,
    /// The parameters.
    pub params: AuthParams<'a>,
}

/// Credentials: scheme and parameters (`username`, `realm`, `nonce`, `uri`, `response` ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The scheme, e.g. `Digest`.
    pub scheme: &'a str,
    /// The parameters.
    pub params: AuthParams<'a>,
}

impl fmt::Display for Challenge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.scheme, self.params.as_str())
    }
}

impl fmt::Display for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.scheme, self.params.as_str())
    }
}

auth_header!(
    /// WWW-Authenticate (in 401).
    WwwAuthenticate, Challenge, HeaderName::WwwAuthenticate
);
auth_header!(
    /// Proxy-Authenticate (in 407).
    ProxyAuthenticate, Challenge, HeaderName::ProxyAuthenticate
);
auth_header!(
    /// Authorization.
    Authorization, Credentials, HeaderName::Authorization
);
auth_header!(
    /// Proxy-Authorization.
    ProxyAuthorization, Credentials, HeaderName::ProxyAuthorization
);

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_digest() {
        let c = WwwAuthenticate::parse(r#"Digest realm="atlanta.example.com", qop="auth,auth-int", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", opaque="", stale=FALSE, algorithm=SHA-256"#).unwrap();
        assert_eq!(c.scheme, "Digest");
        assert_eq!(c.params.get("realm").unwrap(), "atlanta.example.com");
        assert_eq!(c.params.get("qop").unwrap(), "auth,auth-int");
        assert_eq!(c.params.get("ALGORITHM").unwrap(), "SHA-256");
        let a = Authorization::parse("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert_eq!(a.scheme, "NoOneKnowsThisScheme");
        assert!(Authorization::parse("Digest realm=\"x").is_err());
    }
}
