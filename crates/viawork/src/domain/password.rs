//! Web passwords and the SIP digest credentials derived from them.
//!
//! [`Password`] is a password as a person chose it, checked against these rules (after
//! NIST SP 800-63B: length matters, composition rules do not):
//!
//! - 8 to 1024 characters (Unicode scalar values), kept verbatim: spaces, including
//!   leading and trailing ones, are part of the password; no Unicode normalisation;
//! - not only white space;
//! - no control characters (new lines, tabs, NUL): no client can type them, so they are a
//!   paste accident, and they would break the digest computation of some phones.
//!
//! Messages never repeat the password. `Debug` prints `Password(<redacted>)`.
//!
//! [`PasswordHash`] is what the store keeps for web sign-in: an argon2id PHC string.
//! [`SipCredentials`] is what it keeps for SIP digest authentication: the HA1 of the
//! password per realm, for MD5 and for SHA-256 (RFC 8760), never the password itself.

use super::error::DomainError;
use super::secret_hash;
use super::user_uri::UserUri;
use serde::{Deserialize, Serialize};
use sip_stack::auth::{ha1, Algorithm, Ha1};
use std::fmt;
use std::str::FromStr;

const FIELD: &str = "password";

/// A password that follows the rules of this module.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

impl Password {
    /// Fewest characters.
    pub const MIN_CHARS: usize = 8;
    /// Most characters.
    pub const MAX_CHARS: usize = 1024;

    /// Checks `s` against the rules (errors in field `password`).
    pub fn new(s: &str) -> Result<Password, DomainError> {
        if s.len() > Self::MAX_CHARS * 4 || s.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::TooLong {
                field: FIELD,
                max: Self::MAX_CHARS,
            });
        }
        if s.chars().count() < Self::MIN_CHARS {
            return Err(DomainError::TooShort {
                field: FIELD,
                min: Self::MIN_CHARS,
            });
        }
        if s.chars().all(char::is_whitespace) {
            return Err(DomainError::invalid(FIELD, "must not be only white space"));
        }
        if s.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                FIELD,
                "must not contain control characters (new lines, tabs, ...)",
            ));
        }
        Ok(Password(s.to_owned()))
    }

    /// The password, to hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl FromStr for Password {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Password::new(s)
    }
}

impl TryFrom<String> for Password {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Password::new(&s)
    }
}

/// An argon2id hash of a [`Password`], as a PHC string.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Hashes `password` with a fresh random salt (tens of milliseconds, by design).
    pub fn hash(password: &Password) -> PasswordHash {
        PasswordHash(secret_hash::hash(password.0.as_bytes()))
    }

    /// True when `candidate` is the password. Never fails: a candidate that could not be
    /// a valid password is simply wrong (and is refused before hashing when absurdly long).
    pub fn verify(&self, candidate: &str) -> bool {
        candidate.len() <= Password::MAX_CHARS * 4
            && secret_hash::verify(&self.0, candidate.as_bytes())
    }

    /// Reads a stored hash (errors in field `passwordHash`).
    pub fn from_phc(s: &str) -> Result<PasswordHash, DomainError> {
        secret_hash::check("passwordHash", s)?;
        Ok(PasswordHash(s.to_owned()))
    }

    /// The PHC string, to store.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

impl TryFrom<String> for PasswordHash {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PasswordHash::from_phc(&s)
    }
}

impl From<PasswordHash> for String {
    fn from(h: PasswordHash) -> String {
        h.0
    }
}

/// A user's SIP digest credentials in one realm: the digest username (the user part of
/// their SIP URI) and the HA1 for MD5 and for SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipCredentials {
    username: String,
    realm: String,
    md5: Ha1,
    sha256: Ha1,
}

impl SipCredentials {
    /// Computes the HA1s of `password` for `user` in `realm` (errors in field `realm`
    /// when the realm is empty or holds a `"`, `\` or control character, which cannot be
    /// written in a challenge).
    pub fn new(
        user: &UserUri,
        realm: &str,
        password: &Password,
    ) -> Result<SipCredentials, DomainError> {
        check_realm(realm)?;
        let username = user.user();
        Ok(SipCredentials {
            username: username.to_owned(),
            realm: realm.to_owned(),
            md5: ha1(Algorithm::Md5, username, realm, password.expose()),
            sha256: ha1(Algorithm::Sha256, username, realm, password.expose()),
        })
    }

    /// Rebuilds stored credentials from their hex HA1s (errors in field `ha1Md5` or
    /// `ha1Sha256` when a value is not hex of the right length).
    pub fn from_stored(
        username: &str,
        realm: &str,
        md5_hex: &str,
        sha256_hex: &str,
    ) -> Result<SipCredentials, DomainError> {
        check_realm(realm)?;
        let md5 = Ha1::from_hex(md5_hex)
            .filter(|h| h.fits(Algorithm::Md5))
            .ok_or_else(|| DomainError::invalid("ha1Md5", "is not 32 hex digits"))?;
        let sha256 = Ha1::from_hex(sha256_hex)
            .filter(|h| h.fits(Algorithm::Sha256))
            .ok_or_else(|| DomainError::invalid("ha1Sha256", "is not 64 hex digits"))?;
        Ok(SipCredentials {
            username: username.to_owned(),
            realm: realm.to_owned(),
            md5,
            sha256,
        })
    }

    /// The digest username.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The HA1 for `algorithm` (a `-sess` variant uses its base algorithm's HA1).
    pub fn ha1(&self, algorithm: Algorithm) -> &Ha1 {
        match algorithm.base() {
            Algorithm::Sha256 => &self.sha256,
            _ => &self.md5,
        }
    }

    /// The MD5 HA1.
    pub fn ha1_md5(&self) -> &Ha1 {
        &self.md5
    }

    /// The SHA-256 HA1.
    pub fn ha1_sha256(&self) -> &Ha1 {
        &self.sha256
    }
}

fn check_realm(realm: &str) -> Result<(), DomainError> {
    if realm.is_empty() {
        return Err(DomainError::Required { field: "realm" });
    }
    if realm.len() > 256 {
        return Err(DomainError::TooLong {
            field: "realm",
            max: 256,
        });
    }
    if realm
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Err(DomainError::invalid(
            "realm",
            "must not contain '\"', '\\' or control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_long_enough_passwords_verbatim() {
        for p in [
            "correct horse",
            "12345678",
            " spaced ",
            "Пароль-надёжный",
            "x'; DROP TABLE--",
        ] {
            assert_eq!(Password::new(p).unwrap().expose(), p);
        }
        assert!(Password::new(&"é".repeat(1024)).is_ok());
    }

    #[test]
    fn refuses_short_long_blank_and_control_passwords_without_echoing_them() {
        assert_eq!(
            Password::new("short1!"),
            Err(DomainError::TooShort {
                field: "password",
                min: 8
            })
        );
        assert!(matches!(
            Password::new(&"a".repeat(10 * 1024)),
            Err(DomainError::TooLong {
                field: "password",
                max: 1024
            })
        ));
        assert!(Password::new(&"a".repeat(1025)).is_err());
        let e = Password::new("          ").unwrap_err();
        assert!(e.to_string().contains("white space"));
        let e = Password::new("secret\npassword").unwrap_err();
        assert_eq!(e.field(), "password");
        assert!(!e.to_string().contains("secret"));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let p = Password::new("hunter2hunter2").unwrap();
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
        let h = PasswordHash::hash(&p);
        assert_eq!(format!("{h:?}"), "PasswordHash(<redacted>)");
    }

    #[test]
    fn hashes_with_argon2id_and_verifies() {
        let p = Password::new("correct horse battery staple").unwrap();
        let h = PasswordHash::hash(&p);
        assert!(h.as_phc().starts_with("$argon2id$v=19$"));
        assert!(h.verify("correct horse battery staple"));
        assert!(!h.verify("correct horse battery stapl"));
        assert!(!h.verify(""));
        assert!(!h.verify(&"x".repeat(100_000)));
        // Salted: the same password hashes differently, and both verify.
        let h2 = PasswordHash::hash(&p);
        assert_ne!(h, h2);
        assert!(h2.verify(p.expose()));
        // Read back from the store.
        let back = PasswordHash::from_phc(h.as_phc()).unwrap();
        assert!(back.verify(p.expose()));
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<PasswordHash>(&json).unwrap(), h);
    }

    #[test]
    fn refuses_stored_hashes_that_are_not_argon2id() {
        for bad in [
            "",
            "plaintext",
            "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$2b$12$abcdefghijklmnopqrstuu5Sx2u4n1aZcFh0n/9s2oY0hZrmfQ2W.",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ",
        ] {
            let e = PasswordHash::from_phc(bad).unwrap_err();
            assert_eq!(e.field(), "passwordHash", "{bad:?}");
        }
    }

    #[test]
    fn computes_digest_ha1_for_md5_and_sha256() {
        let user: UserUri = "sip:Mufasa@contoso.com".parse().unwrap();
        let p = Password::new("Circle Of Life").unwrap();
        let c = SipCredentials::new(&user, "testrealm@host.com", &p).unwrap();
        assert_eq!(c.username(), "mufasa");
        assert_eq!(c.realm(), "testrealm@host.com");
        assert_eq!(
            c.ha1_md5().as_str(),
            Algorithm::Md5.hash_hex(b"mufasa:testrealm@host.com:Circle Of Life")
        );
        assert_eq!(
            c.ha1(Algorithm::Sha256Sess).as_str(),
            Algorithm::Sha256.hash_hex(b"mufasa:testrealm@host.com:Circle Of Life")
        );
        assert_eq!(c.ha1(Algorithm::Md5Sess), c.ha1_md5());
        assert_eq!(c.ha1_sha256().as_str().len(), 64);

        let back = SipCredentials::from_stored(
            c.username(),
            c.realm(),
            c.ha1_md5().as_str(),
            c.ha1_sha256().as_str(),
        )
        .unwrap();
        assert_eq!(back, c);
        let e =
            SipCredentials::from_stored("a", "r", c.ha1_sha256().as_str(), c.ha1_sha256().as_str())
                .unwrap_err();
        assert_eq!(e.field(), "ha1Md5");
    }

    #[test]
    fn refuses_realms_that_cannot_be_quoted() {
        let user: UserUri = "sip:a@contoso.com".parse().unwrap();
        let p = Password::new("password1").unwrap();
        for bad in ["", "a\"b", "a\\b", "a\nb"] {
            let e = SipCredentials::new(&user, bad, &p).unwrap_err();
            assert_eq!(e.field(), "realm");
        }
    }
}
