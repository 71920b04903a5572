//! HA1, the password-equivalent secret of digest authentication:
//! `H(username ":" realm ":" password)` (RFC 2617 §3.2.2.2, RFC 7616 §3.4.2).
//!
//! The directory stores an HA1 per user, per realm and per algorithm (MD5 and SHA-256)
//! instead of the password, and the server never needs anything else. A client may also be
//! configured with HA1 values instead of a password. `-sess` algorithms store the same HA1
//! as their base algorithm; the session key is derived per nonce when computing.

use super::algorithm::Algorithm;
use std::fmt;

/// A stored HA1: lowercase hex. Its `Debug` hides the value, which is as good as a password.
#[derive(Clone, PartialEq, Eq)]
pub struct Ha1(String);

impl Ha1 {
    /// Reads an HA1 from hex (either case), as the directory stores it. `None` when the
    /// text is not hex of an MD5 (32 digits) or SHA-256 (64 digits) length.
    pub fn from_hex(hex: &str) -> Option<Ha1> {
        let hex = hex.trim();
        let ok = matches!(hex.len(), 32 | 64) && hex.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| Ha1(hex.to_ascii_lowercase()))
    }

    /// The lowercase hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when this HA1 has the length of `algorithm`'s digests.
    pub fn fits(&self, algorithm: Algorithm) -> bool {
        self.0.len() == algorithm.hex_len()
    }
}

impl fmt::Debug for Ha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ha1(<redacted>)")
    }
}

/// Computes the HA1 to store for `username` in `realm` with `algorithm` (for a `-sess`
/// algorithm, the HA1 of its base algorithm).
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> Ha1 {
    let a1 = format!("{username}:{realm}:{password}");
    Ha1(algorithm.base().hash_hex(a1.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_the_rfc_2617_ha1() {
        // RFC 2617 §3.5: HA1 of Mufasa / testrealm@host.com / Circle Of Life.
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert_eq!(h.as_str(), "939e7578ed9e3c518a452acee763bce9");
        assert_eq!(
            ha1(
                Algorithm::Md5Sess,
                "Mufasa",
                "testrealm@host.com",
                "Circle Of Life"
            ),
            h
        );
        assert!(h.fits(Algorithm::Md5) && !h.fits(Algorithm::Sha256));
    }

    #[test]
    fn reads_hex_and_hides_it_from_debug() {
        let h = Ha1::from_hex("939E7578ED9E3C518A452ACEE763BCE9").unwrap();
        assert_eq!(h.as_str(), "939e7578ed9e3c518a452acee763bce9");
        assert_eq!(format!("{h:?}"), "Ha1(<redacted>)");
        assert!(Ha1::from_hex("xyz").is_none());
        assert!(Ha1::from_hex("939e7578ed9e3c518a452acee763bce").is_none());
        assert!(Ha1::from_hex("939e7578ed9e3c518a452acee763bceg").is_none());
    }
}
