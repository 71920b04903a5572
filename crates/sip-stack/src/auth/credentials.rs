//! Digest credentials as carried by `Authorization` and `Proxy-Authorization`
//! (RFC 2617 §3.2.2, RFC 3261 §22.4). The client writes them with [`DigestCredentials`]'s
//! `Display`; the server reads them with [`DigestCredentials::parse`], which checks that
//! every field the computation needs is there and says which one is not.

use super::algorithm::Algorithm;
use super::compute::Qop;
use super::failure::AuthFailure;
use sip::headers::Credentials;
use sip::text::write_quoted;
use std::fmt;

/// The `qop=auth` fields of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QopAuth {
    /// The nonce count as written: 8 hex digits.
    pub nc: String,
    /// The client nonce.
    pub cnonce: String,
}

impl QopAuth {
    /// The nonce count as a number.
    pub fn count(&self) -> u32 {
        u32::from_str_radix(&self.nc, 16).unwrap_or(0)
    }
}

/// Parsed Digest credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    /// The user name.
    pub username: String,
    /// The realm the credentials are for.
    pub realm: String,
    /// The server nonce being answered.
    pub nonce: String,
    /// The `uri` parameter (the Request-URI, RFC 3261 §22.4).
    pub uri: String,
    /// The response digest, hex.
    pub response: String,
    /// The algorithm (MD5 when absent).
    pub algorithm: Algorithm,
    /// `qop=auth` with nc and cnonce, or `None` for an RFC 2069 response.
    pub qop: Option<QopAuth>,
    /// The opaque value echoed from the challenge.
    pub opaque: Option<String>,
}

impl DigestCredentials {
    /// Reads a credentials header value already split into scheme and parameters.
    pub fn parse(c: &Credentials<'_>) -> Result<DigestCredentials, AuthFailure> {
        if !c.scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthFailure::UnknownScheme {
                scheme: c.scheme.to_owned(),
            });
        }
        let p = &c.params;
        let req = |what: &'static str| {
            p.get(what)
                .map(|v| v.into_owned())
                .ok_or(AuthFailure::Malformed { what })
        };
        let realm = req("realm")?;
        let username = req("username")?;
        let nonce = req("nonce")?;
        let uri = req("uri")?;
        let response = req("response")?;
        let algorithm = match p.get("algorithm") {
            None => Algorithm::Md5,
            Some(a) => Algorithm::parse(&a).ok_or_else(|| AuthFailure::Unsupported {
                what: "algorithm",
                value: a.into_owned(),
            })?,
        };
        if let Some(u) = p.get("userhash").filter(|u| u.eq_ignore_ascii_case("true")) {
            return Err(AuthFailure::Unsupported {
                what: "userhash",
                value: u.into_owned(),
            });
        }
        let qop = match p.get("qop") {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc = req("nc")?;
                if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(AuthFailure::Malformed { what: "nc" });
                }
                let cnonce = req("cnonce")?;
                if cnonce.is_empty() {
                    return Err(AuthFailure::Malformed { what: "cnonce" });
                }
                Some(QopAuth { nc, cnonce })
            }
            Some(q) => {
                return Err(AuthFailure::Unsupported {
                    what: "qop",
                    value: q.into_owned(),
                })
            }
        };
        Ok(DigestCredentials {
            username,
            realm,
            nonce,
            uri,
            response,
            algorithm,
            qop,
            opaque: p.get("opaque").map(|o| o.into_owned()),
        })
    }

    /// The quality of protection in the form the computation takes.
    pub fn qop(&self) -> Qop<'_> {
        match &self.qop {
            Some(q) => Qop::Auth {
                nc: &q.nc,
                cnonce: &q.cnonce,
            },
            None => Qop::None,
        }
    }
}

impl fmt::Display for DigestCredentials {
    /// Writes the header value: `Digest username="...", realm="...", ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |f: &mut fmt::Formatter<'_>, name: &str, v: &str| {
            write!(f, ", {name}=")?;
            write_quoted(f, v)
        };
        f.write_str("Digest username=")?;
        write_quoted(f, &self.username)?;
        quoted(f, "realm", &self.realm)?;
        quoted(f, "nonce", &self.nonce)?;
        quoted(f, "uri", &self.uri)?;
        quoted(f, "response", &self.response)?;
        write!(f, ", algorithm={}", self.algorithm)?;
        if let Some(q) = &self.qop {
            quoted(f, "cnonce", &q.cnonce)?;
        }
        if let Some(o) = &self.opaque {
            quoted(f, "opaque", o)?;
        }
        if let Some(q) = &self.qop {
            write!(f, ", qop=auth, nc={}", q.nc)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip::headers::{Authorization, TypedHeader};

    fn parse(s: &str) -> Result<DigestCredentials, AuthFailure> {
        DigestCredentials::parse(&Authorization::parse(s).unwrap())
    }

    fn sample() -> DigestCredentials {
        DigestCredentials {
            username: "bob \"the\" builder".into(),
            realm: "biloxi.com".into(),
            nonce: "n1".into(),
            uri: "sip:bob@biloxi.com".into(),
            response: "0123abcd".into(),
            algorithm: Algorithm::Sha256Sess,
            qop: Some(QopAuth {
                nc: "0000000a".into(),
                cnonce: "c1".into(),
            }),
            opaque: Some("op".into()),
        }
    }

    #[test]
    fn reads_what_it_writes() {
        let c = sample();
        assert_eq!(parse(&c.to_string()).unwrap(), c);
        assert_eq!(c.qop.as_ref().unwrap().count(), 10);
        let legacy = DigestCredentials {
            qop: None,
            opaque: None,
            algorithm: Algorithm::Md5,
            ..c
        };
        assert_eq!(parse(&legacy.to_string()).unwrap(), legacy);
    }

    #[test]
    fn names_the_missing_or_bad_field() {
        let full = r#"Digest username="u", realm="r", nonce="n", uri="sip:r", response="00", qop=auth, nc=00000001, cnonce="c""#;
        assert!(parse(full).is_ok());
        for field in [
            "username", "realm", "nonce", "uri", "response", "nc", "cnonce",
        ] {
            let cut: Vec<&str> = full
                .trim_start_matches("Digest ")
                .split(", ")
                .filter(|p| !p.starts_with(&format!("{field}=")))
                .collect();
            let s = format!("Digest {}", cut.join(", "));
            assert_eq!(
                parse(&s),
                Err(AuthFailure::Malformed { what: field }),
                "{s}"
            );
        }
        assert_eq!(
            parse(&full.replace("nc=00000001", "nc=1")),
            Err(AuthFailure::Malformed { what: "nc" })
        );
        assert!(matches!(
            parse(&full.replace("qop=auth", "qop=auth-int")),
            Err(AuthFailure::Unsupported { what: "qop", .. })
        ));
        assert!(matches!(
            parse(&format!("{full}, algorithm=SHA-512-256")),
            Err(AuthFailure::Unsupported {
                what: "algorithm",
                ..
            })
        ));
        assert!(matches!(
            parse(&format!("{full}, userhash=true")),
            Err(AuthFailure::Unsupported {
                what: "userhash",
                ..
            })
        ));
        assert!(matches!(
            parse("NoOneKnowsThisScheme opaque-data=here"),
            Err(AuthFailure::UnknownScheme { .. })
        ));
    }
}
