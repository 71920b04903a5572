//! Stateless, verifiable server nonces.
//!
//! A nonce is `hex(timestamp) hex(salt) hex(tag)`: the issue time in seconds since the Unix
//! epoch, 64 random bits, and the first 128 bits of HMAC-SHA-256 over the realm, the time
//! and the salt, keyed with a secret. Any node holding the secret can check a nonce without
//! remembering it, so a cluster of registrars behind one name needs no shared state; a nonce
//! that verifies but is older than the lifetime is *stale* (RFC 2617 `stale=true`), one that
//! does not verify was not issued by us.
//!
//! Time is the wall clock ([`SystemTime`]) because nodes must agree on it. A nonce stamped
//! in the future (a node with a clock ahead) is accepted as fresh.
//!
//! Replay within the lifetime is not prevented: that needs per-nonce state (the highest
//! `nc` seen), which this stateless design leaves to the caller.

use super::algorithm::hex;
use super::compute::constant_time_eq;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const TAG_LEN: usize = 16;
/// Length of a nonce in characters: 16 (time) + 16 (salt) + 32 (tag).
const NONCE_LEN: usize = 16 + 16 + TAG_LEN * 2;

/// What a received nonce turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    /// Issued by a holder of the secret for this realm, within its lifetime.
    Fresh,
    /// Issued by us but older than the lifetime: challenge again with `stale=true`.
    Stale,
    /// Not a nonce of ours (forged, tampered, another realm, or garbage).
    Invalid,
}

/// The secret that signs nonces. Its `Debug` hides it.
#[derive(Clone)]
pub struct NonceKey {
    secret: Vec<u8>,
}

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceKey(<redacted>)")
    }
}

impl NonceKey {
    /// A key from a configured secret, shared by every node that must accept the nonces.
    pub fn new(secret: impl Into<Vec<u8>>) -> NonceKey {
        NonceKey {
            secret: secret.into(),
        }
    }

    /// A random key, for a single node (nonces do not survive a restart).
    pub fn random() -> NonceKey {
        NonceKey::new(rand::random::<[u8; 32]>().to_vec())
    }

    /// Issues a nonce for `realm` at `now`.
    pub fn issue(&self, realm: &str, now: SystemTime) -> String {
        self.issue_with_salt(realm, unix_secs(now), rand::random())
    }

    fn issue_with_salt(&self, realm: &str, secs: u64, salt: u64) -> String {
        let tag = self.tag(realm, secs, salt);
        format!("{secs:016x}{salt:016x}{}", hex(&tag))
    }

    /// Checks a nonce received in credentials for `realm`.
    pub fn check(
        &self,
        realm: &str,
        nonce: &str,
        lifetime: Duration,
        now: SystemTime,
    ) -> NonceStatus {
        if nonce.len() != NONCE_LEN || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return NonceStatus::Invalid;
        }
        // All ASCII, so these byte ranges are char boundaries.
        let (Ok(secs), Ok(salt)) = (
            u64::from_str_radix(&nonce[..16], 16),
            u64::from_str_radix(&nonce[16..32], 16),
        ) else {
            return NonceStatus::Invalid;
        };
        let want = hex(&self.tag(realm, secs, salt));
        if !constant_time_eq(want.as_bytes(), nonce[32..].to_ascii_lowercase().as_bytes()) {
            return NonceStatus::Invalid;
        }
        if unix_secs(now).saturating_sub(secs) > lifetime.as_secs() {
            NonceStatus::Stale
        } else {
            NonceStatus::Fresh
        }
    }

    fn tag(&self, realm: &str, secs: u64, salt: u64) -> [u8; TAG_LEN] {
        let mut msg = Vec::with_capacity(realm.len() + 17);
        msg.extend_from_slice(realm.as_bytes());
        msg.push(0);
        msg.extend_from_slice(&secs.to_be_bytes());
        msg.extend_from_slice(&salt.to_be_bytes());
        let mac = hmac_sha256(&self.secret, &msg);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&mac[..TAG_LEN]);
        tag
    }
}

/// Seconds since the Unix epoch (0 for a clock set before it).
fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// HMAC-SHA-256 (RFC 2104).
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    const LIFE: Duration = Duration::from_secs(300);

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Keys longer than a block are hashed first (RFC 4231 test case 6).
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn fresh_then_stale_with_the_same_secret_on_another_node() {
        let a = NonceKey::new(b"cluster secret".to_vec());
        let b = NonceKey::new(b"cluster secret".to_vec());
        let n = a.issue("example.com", at(1_000_000));
        assert_eq!(n.len(), NONCE_LEN);
        assert_eq!(
            b.check("example.com", &n, LIFE, at(1_000_000)),
            NonceStatus::Fresh
        );
        assert_eq!(
            b.check("example.com", &n, LIFE, at(1_000_300)),
            NonceStatus::Fresh
        );
        assert_eq!(
            b.check("example.com", &n, LIFE, at(1_000_301)),
            NonceStatus::Stale
        );
        // From a node whose clock is behind.
        assert_eq!(
            b.check("example.com", &n, LIFE, at(999_000)),
            NonceStatus::Fresh
        );
    }

    #[test]
    fn rejects_tampering_other_realms_other_secrets_and_garbage() {
        let k = NonceKey::new(b"s".to_vec());
        let n = k.issue_with_salt("example.com", 1_000_000, 42);
        assert_eq!(
            k.check("example.com", &n, LIFE, at(1_000_000)),
            NonceStatus::Fresh
        );
        // A later timestamp with the old tag.
        let forged = format!("{:016x}{}", 1_000_500u64, &n[16..]);
        assert_eq!(
            k.check("example.com", &forged, LIFE, at(1_000_600)),
            NonceStatus::Invalid
        );
        let mut flipped = n.clone().into_bytes();
        flipped[40] = if flipped[40] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            k.check("example.com", &flipped, LIFE, at(1_000_000)),
            NonceStatus::Invalid
        );
        assert_eq!(
            k.check("other.com", &n, LIFE, at(1_000_000)),
            NonceStatus::Invalid
        );
        let other = NonceKey::new(b"t".to_vec());
        assert_eq!(
            other.check("example.com", &n, LIFE, at(1_000_000)),
            NonceStatus::Invalid
        );
        for garbage in ["", "xyz", &"é".repeat(32), &"g".repeat(64), &n[..63]] {
            assert_eq!(
                k.check("example.com", garbage, LIFE, at(0)),
                NonceStatus::Invalid
            );
        }
    }

    #[test]
    fn nonces_issued_in_the_same_second_differ() {
        let k = NonceKey::random();
        assert_ne!(k.issue("r", at(5)), k.issue("r", at(5)));
    }
}
