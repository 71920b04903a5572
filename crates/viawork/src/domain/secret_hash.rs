//! Argon2id hashing shared by [`super::PasswordHash`] and [`super::PinHash`]: PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) with the argon2 crate's default cost
//! (the OWASP recommendation: 19 MiB, 2 passes, 1 lane) and a 16-byte random salt.
//! Verification reads the cost from the stored string, so raising the cost later keeps old
//! hashes verifiable, and compares in constant time (argon2's `Output` equality).

use super::error::DomainError;
use argon2::password_hash::{PasswordHash as Phc, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

/// Hashes `secret` with a fresh salt.
pub(crate) fn hash(secret: &[u8]) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    // Neither can fail: 16 bytes is a valid salt and the default parameters are valid.
    let salt = SaltString::encode_b64(&salt).expect("a 16-byte salt encodes");
    Argon2::default()
        .hash_password(secret, &salt)
        .expect("argon2 default parameters are valid")
        .to_string()
}

/// True when `secret` hashes to the stored `phc` string.
pub(crate) fn verify(phc: &str, secret: &[u8]) -> bool {
    match Phc::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(secret, &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Checks that `phc` is an argon2id PHC string with valid parameters (a stored hash read
/// back from the store).
pub(crate) fn check(field: &'static str, phc: &str) -> Result<(), DomainError> {
    let parsed = Phc::new(phc)
        .map_err(|e| DomainError::invalid(field, format!("is not a PHC hash string ({e})")))?;
    if parsed.algorithm != argon2::Algorithm::Argon2id.ident() {
        return Err(DomainError::invalid(field, "is not an argon2id hash"));
    }
    argon2::Params::try_from(&parsed)
        .map_err(|e| DomainError::invalid(field, format!("has bad argon2 parameters ({e})")))?;
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err(DomainError::invalid(field, "has no salt or no hash"));
    }
    Ok(())
}
