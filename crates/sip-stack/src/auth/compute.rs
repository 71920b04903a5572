//! The digest computation itself (RFC 2617 §3.2.2, RFC 7616 §3.4), shared by client and
//! server so that both sides hash exactly the same strings:
//!
//! ```text
//! HA1  = H(username:realm:password)             stored, see `ha1`
//! HA1' = H(HA1:nonce:cnonce)                    -sess algorithms only
//! HA2  = H(method:digest-uri)                   qop=auth, or no qop
//! resp = H(HA1:nonce:nc:cnonce:qop:HA2)         qop=auth
//! resp = H(HA1:nonce:HA2)                       no qop (RFC 2069 compatibility)
//! ```
//!
//! `qop=auth-int` (which hashes the body) is not implemented.

use super::algorithm::Algorithm;
use super::ha1::Ha1;

/// Quality of protection used in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop<'a> {
    /// No `qop`: the RFC 2069 computation, without cnonce or nonce count.
    None,
    /// `qop=auth` with its nonce count (8 hex digits, hashed as written) and client nonce.
    Auth {
        /// The nonce count, e.g. `00000001`.
        nc: &'a str,
        /// The client nonce.
        cnonce: &'a str,
    },
}

/// Everything a digest response is computed from.
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// HA1 of the base algorithm.
    pub ha1: &'a Ha1,
    /// The server nonce.
    pub nonce: &'a str,
    /// The request method (`REGISTER`, `INVITE`, ...).
    pub method: &'a str,
    /// The `uri` parameter (the Request-URI as sent).
    pub uri: &'a str,
    /// The quality of protection.
    pub qop: Qop<'a>,
}

impl DigestInput<'_> {
    /// The `response` value in lowercase hex. `None` for a `-sess` algorithm without
    /// `qop`, which has no cnonce to derive the session key from.
    pub fn response(&self) -> Option<String> {
        let alg = self.algorithm;
        let ha1 = match (alg.is_sess(), self.qop) {
            (false, _) => self.ha1.as_str().to_owned(),
            (true, Qop::Auth { cnonce, .. }) => {
                alg.hash_hex(format!("{}:{}:{}", self.ha1.as_str(), self.nonce, cnonce).as_bytes())
            }
            (true, Qop::None) => return None,
        };
        let ha2 = alg.hash_hex(format!("{}:{}", self.method, self.uri).as_bytes());
        let kd = match self.qop {
            Qop::Auth { nc, cnonce } => format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce),
            Qop::None => format!("{ha1}:{}:{ha2}", self.nonce),
        };
        Some(alg.hash_hex(kd.as_bytes()))
    }
}

/// Compares two byte strings in time that depends only on their lengths, so that a wrong
/// response does not reveal how many of its leading digits were right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ha1::ha1;

    #[test]
    fn rfc_2617_section_3_5_example() {
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let input = DigestInput {
            algorithm: Algorithm::Md5,
            ha1: &h,
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            method: "GET",
            uri: "/dir/index.html",
            qop: Qop::Auth {
                nc: "00000001",
                cnonce: "0a4f113b",
            },
        };
        assert_eq!(
            input.response().unwrap(),
            "6629fae49393a05397450978507c4ef1"
        );
    }

    #[test]
    fn rfc_7616_section_3_9_1_sha256_example() {
        let h = ha1(
            Algorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        let input = DigestInput {
            algorithm: Algorithm::Sha256,
            ha1: &h,
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            method: "GET",
            uri: "/dir/index.html",
            qop: Qop::Auth {
                nc: "00000001",
                cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            },
        };
        assert_eq!(
            input.response().unwrap(),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        // The same exchange with MD5, also given in RFC 7616 §3.9.1.
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        let md5 = DigestInput {
            algorithm: Algorithm::Md5,
            ha1: &h,
            ..input
        };
        assert_eq!(md5.response().unwrap(), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn rfc_2069_legacy_without_qop() {
        // H(HA1:nonce:HA2), checked against an independent computation.
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let input = DigestInput {
            algorithm: Algorithm::Md5,
            ha1: &h,
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            method: "GET",
            uri: "/dir/index.html",
            qop: Qop::None,
        };
        let ha2 = Algorithm::Md5.hash_hex(b"GET:/dir/index.html");
        let want = Algorithm::Md5.hash_hex(
            format!("{}:dcd98b7102dd2f0e8b11d0f600bfb0c093:{ha2}", h.as_str()).as_bytes(),
        );
        assert_eq!(input.response().unwrap(), want);
        assert_eq!(ha2, "39aff3a2bab6126f332b942af96d3366");
    }

    #[test]
    fn sess_needs_a_cnonce_and_changes_the_response() {
        let h = ha1(Algorithm::Md5, "u", "r", "p");
        let mut input = DigestInput {
            algorithm: Algorithm::Md5Sess,
            ha1: &h,
            nonce: "n",
            method: "REGISTER",
            uri: "sip:r",
            qop: Qop::None,
        };
        assert_eq!(input.response(), None);
        input.qop = Qop::Auth {
            nc: "00000001",
            cnonce: "c",
        };
        let sess = input.response().unwrap();
        input.algorithm = Algorithm::Md5;
        assert_ne!(input.response().unwrap(), sess);
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
