//! A Digest challenge as carried by `WWW-Authenticate` and `Proxy-Authenticate`
//! (RFC 2617 §3.2.1, RFC 3261 §22.4): the realm, a nonce, the algorithm, whether `qop=auth`
//! is offered, an opaque value to echo, and `stale`. The server writes one with
//! [`DigestChallenge`]'s `Display`; the client reads one with [`DigestChallenge::parse`].

use super::algorithm::Algorithm;
use sip::headers::Challenge;
use sip::text::write_quoted;
use std::fmt;

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// The scheme is not `Digest`.
    #[error("scheme {0} is not Digest")]
    Scheme(String),
    /// A required parameter is missing.
    #[error("challenge has no {0}")]
    Missing(&'static str),
    /// The algorithm is one we do not implement.
    #[error("unsupported algorithm {0}")]
    Algorithm(String),
    /// `qop` is offered but without `auth` (only `auth-int`, say).
    #[error("unsupported qop {0}")]
    Qop(String),
}

/// A parsed Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// The protection space, usually the domain.
    pub realm: String,
    /// The server nonce.
    pub nonce: String,
    /// The algorithm (MD5 when the challenge names none).
    pub algorithm: Algorithm,
    /// True when `qop` lists `auth`; false for an RFC 2069 challenge without `qop`.
    pub qop_auth: bool,
    /// The opaque value, echoed back unchanged.
    pub opaque: Option<String>,
    /// True when the previous nonce was rejected only for being too old.
    pub stale: bool,
}

impl DigestChallenge {
    /// Reads a challenge header value already split into scheme and parameters.
    pub fn parse(c: &Challenge<'_>) -> Result<DigestChallenge, ChallengeError> {
        if !c.scheme.eq_ignore_ascii_case("Digest") {
            return Err(ChallengeError::Scheme(c.scheme.to_owned()));
        }
        let p = &c.params;
        let realm = p.get("realm").ok_or(ChallengeError::Missing("realm"))?;
        let nonce = p.get("nonce").ok_or(ChallengeError::Missing("nonce"))?;
        let algorithm = match p.get("algorithm") {
            None => Algorithm::Md5,
            Some(a) => {
                Algorithm::parse(&a).ok_or_else(|| ChallengeError::Algorithm(a.into_owned()))?
            }
        };
        let qop_auth = match p.get("qop") {
            None => false,
            Some(q) if q.split(',').any(|o| o.trim().eq_ignore_ascii_case("auth")) => true,
            Some(q) => return Err(ChallengeError::Qop(q.into_owned())),
        };
        Ok(DigestChallenge {
            realm: realm.into_owned(),
            nonce: nonce.into_owned(),
            algorithm,
            qop_auth,
            opaque: p.get("opaque").map(|o| o.into_owned()),
            stale: p
                .get("stale")
                .is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }
}

impl fmt::Display for DigestChallenge {
    /// Writes the header value: `Digest realm="...", nonce="...", algorithm=..., ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest realm=")?;
        write_quoted(f, &self.realm)?;
        f.write_str(", nonce=")?;
        write_quoted(f, &self.nonce)?;
        if let Some(o) = &self.opaque {
            f.write_str(", opaque=")?;
            write_quoted(f, o)?;
        }
        write!(f, ", algorithm={}", self.algorithm)?;
        if self.qop_auth {
            f.write_str(", qop=\"auth\"")?;
        }
        if self.stale {
            f.write_str(", stale=true")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip::headers::{TypedHeader, WwwAuthenticate};

    fn parse(s: &str) -> Result<DigestChallenge, ChallengeError> {
        DigestChallenge::parse(&WwwAuthenticate::parse(s).unwrap())
    }

    #[test]
    fn reads_what_it_writes() {
        let c = DigestChallenge {
            realm: "atlanta.example.com".into(),
            nonce: "abc".into(),
            algorithm: Algorithm::Sha256,
            qop_auth: true,
            opaque: Some("o\"q".into()),
            stale: true,
        };
        assert_eq!(parse(&c.to_string()).unwrap(), c);
    }

    #[test]
    fn defaults_and_refusals() {
        let c = parse(r#"Digest realm="r", nonce="n""#).unwrap();
        assert_eq!(
            (c.algorithm, c.qop_auth, c.stale, c.opaque),
            (Algorithm::Md5, false, false, None)
        );
        let c = parse(r#"Digest realm="r", nonce="n", qop="auth-int, auth", stale=TRUE"#).unwrap();
        assert!(c.qop_auth && c.stale);
        assert_eq!(
            parse(r#"Digest realm="r", nonce="n", qop="auth-int""#),
            Err(ChallengeError::Qop("auth-int".into()))
        );
        assert_eq!(
            parse(r#"Digest realm="r""#),
            Err(ChallengeError::Missing("nonce"))
        );
        assert!(matches!(
            parse(r#"Digest realm="r", nonce="n", algorithm=SHA-512-256"#),
            Err(ChallengeError::Algorithm(_))
        ));
        assert!(matches!(
            parse(r#"Basic realm="r""#),
            Err(ChallengeError::Scheme(_))
        ));
    }
}
