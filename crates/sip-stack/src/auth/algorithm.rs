//! The digest algorithms we speak: MD5 (RFC 2617, the SIP default of RFC 3261) and
//! SHA-256 (RFC 7616, brought to SIP by RFC 8760), each with its `-sess` variant.
//!
//! An [`Algorithm`] knows its name on the wire, its hash function and how strong it is, so
//! that a client facing several challenges picks the strongest and a server lists its
//! challenges strongest first (RFC 8760 §2.4).

use md5::Md5;
use sha2::{Digest, Sha256};
use std::fmt;

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`, the default when a challenge names no algorithm.
    Md5,
    /// `MD5-sess`: HA1 is rehashed with the nonce and cnonce.
    Md5Sess,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl Algorithm {
    /// Every supported algorithm, strongest first.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Md5,
        Algorithm::Md5Sess,
    ];

    /// Recognises an `algorithm` parameter value (case-insensitive); `None` for algorithms
    /// we do not implement (`SHA-512-256`, `AKAv1-MD5`, ...).
    pub fn parse(s: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The name as written in the `algorithm` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// The algorithm without `-sess`: the one a stored HA1 is computed with.
    pub fn base(self) -> Algorithm {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Algorithm::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => Algorithm::Sha256,
        }
    }

    /// True for the `-sess` variants.
    pub fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// A rank for choosing among challenges: higher is stronger.
    pub fn strength(self) -> u8 {
        match self {
            Algorithm::Sha256 => 4,
            Algorithm::Sha256Sess => 3,
            Algorithm::Md5 => 2,
            Algorithm::Md5Sess => 1,
        }
    }

    /// Length in hex digits of this algorithm's digests (32 for MD5, 64 for SHA-256).
    pub fn hex_len(self) -> usize {
        match self.base() {
            Algorithm::Sha256 => 64,
            _ => 32,
        }
    }

    /// The hash of `data` in lowercase hex, as every digest value is written.
    pub fn hash_hex(self, data: &[u8]) -> String {
        match self.base() {
            Algorithm::Sha256 => hex(&Sha256::digest(data)),
            _ => hex(&Md5::digest(data)),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_case_insensitively_and_rejects_unknown_ones() {
        assert_eq!(Algorithm::parse("md5"), Some(Algorithm::Md5));
        assert_eq!(
            Algorithm::parse("SHA-256-SESS"),
            Some(Algorithm::Sha256Sess)
        );
        assert_eq!(Algorithm::parse("SHA-512-256"), None);
        assert_eq!(Algorithm::parse("AKAv1-MD5"), None);
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::parse(a.as_str()), Some(a));
        }
    }

    #[test]
    fn hashes_to_lowercase_hex_of_the_right_length() {
        assert_eq!(
            Algorithm::Md5.hash_hex(b""),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            Algorithm::Sha256Sess.hash_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        for a in Algorithm::ALL {
            assert_eq!(a.hash_hex(b"x").len(), a.hex_len());
        }
    }
}
