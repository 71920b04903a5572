//! Client PINs for dial-in conferencing, with Skype's PIN policy (`Set-CsPinPolicy`).
//!
//! A dial-in caller who is the organizer joins as leader by typing their PIN on the
//! phone keypad, so a PIN is digits only. [`PinPolicy`] holds Skype's two rules that shape
//! a PIN: `MinPasswordLength` (default 5, range 4–24) and `AllowCommonPatterns` (default
//! false). With common patterns disallowed, [`Pin::new`] refuses:
//!
//! - a run of 4 or more identical digits anywhere (`11112`, `90000`);
//! - a run of 4 or more consecutive digits, ascending or descending, anywhere (`12345`,
//!   `54321`, `71234`; `7890` is not a run, 9 and 0 are not consecutive);
//! - a PIN that repeats a shorter pattern (`121212`, `123123`, `12121`);
//! - with [`Pin::new_for_user`], a PIN found inside the user's own numbers or extension.
//!
//! Messages never repeat the PIN. Lockout counters, history (`PINHistoryCount`) and
//! lifetime (`PINLifetime`) are state, not format, and live with the store.
//!
//! The store keeps a [`PinHash`] (argon2id), never the PIN.

use super::e164::E164;
use super::error::DomainError;
use super::extension::Extension;
use super::secret_hash;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

const FIELD: &str = "pin";

/// Skype's PIN policy: how long a PIN must be and whether common patterns are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PinPolicyFields", into = "PinPolicyFields")]
pub struct PinPolicy {
    min_length: usize,
    allow_common_patterns: bool,
}

/// The serialised form of [`PinPolicy`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PinPolicyFields {
    #[serde(default = "default_min_length")]
    min_length: usize,
    #[serde(default)]
    allow_common_patterns: bool,
}

fn default_min_length() -> usize {
    PinPolicy::DEFAULT_MIN_LENGTH
}

impl PinPolicy {
    /// `MinPasswordLength`'s default.
    pub const DEFAULT_MIN_LENGTH: usize = 5;
    /// `MinPasswordLength`'s range, which is also the longest PIN accepted.
    pub const MIN_LENGTH_RANGE: std::ops::RangeInclusive<usize> = 4..=24;

    /// A policy (errors in field `minLength` when outside 4–24).
    pub fn new(min_length: usize, allow_common_patterns: bool) -> Result<PinPolicy, DomainError> {
        if !Self::MIN_LENGTH_RANGE.contains(&min_length) {
            return Err(DomainError::invalid(
                "minLength",
                format!("must be between 4 and 24, not {min_length}"),
            ));
        }
        Ok(PinPolicy {
            min_length,
            allow_common_patterns,
        })
    }

    /// The fewest digits a PIN may have.
    pub fn min_length(&self) -> usize {
        self.min_length
    }

    /// True when trivial PINs (`11111`, `12345`) are allowed.
    pub fn allow_common_patterns(&self) -> bool {
        self.allow_common_patterns
    }
}

impl Default for PinPolicy {
    /// Skype's defaults: at least 5 digits, no common patterns.
    fn default() -> PinPolicy {
        PinPolicy {
            min_length: Self::DEFAULT_MIN_LENGTH,
            allow_common_patterns: false,
        }
    }
}

impl TryFrom<PinPolicyFields> for PinPolicy {
    type Error = DomainError;
    fn try_from(f: PinPolicyFields) -> Result<Self, Self::Error> {
        PinPolicy::new(f.min_length, f.allow_common_patterns)
    }
}

impl From<PinPolicy> for PinPolicyFields {
    fn from(p: PinPolicy) -> Self {
        PinPolicyFields {
            min_length: p.min_length,
            allow_common_patterns: p.allow_common_patterns,
        }
    }
}

/// A PIN that satisfies a [`PinPolicy`]. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    /// The longest PIN accepted.
    pub const MAX_LEN: usize = 24;

    /// Checks `s` against `policy` (errors in field `pin`).
    pub fn new(policy: &PinPolicy, s: &str) -> Result<Pin, DomainError> {
        Pin::new_for_user(policy, s, &[], None)
    }

    /// Checks `s` against `policy` and, unless common patterns are allowed, refuses a PIN
    /// that appears in one of the user's `numbers` (LineURI, mobile, ...) or `extension`.
    pub fn new_for_user(
        policy: &PinPolicy,
        s: &str,
        numbers: &[E164],
        extension: Option<&Extension>,
    ) -> Result<Pin, DomainError> {
        if s.len() > Self::MAX_LEN {
            return Err(DomainError::TooLong {
                field: FIELD,
                max: Self::MAX_LEN,
            });
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::invalid(FIELD, "must be digits only"));
        }
        if s.len() < policy.min_length {
            return Err(DomainError::TooShort {
                field: FIELD,
                min: policy.min_length,
            });
        }
        if !policy.allow_common_patterns {
            if let Some(why) = common_pattern(s.as_bytes()) {
                return Err(DomainError::invalid(
                    FIELD,
                    format!("is too easy to guess: {why}"),
                ));
            }
            let own = numbers
                .iter()
                .map(E164::digits)
                .chain(extension.map(Extension::as_str));
            if own.into_iter().any(|n| n.contains(s)) {
                return Err(DomainError::invalid(
                    FIELD,
                    "is too easy to guess: it is part of your own phone number or extension",
                ));
            }
        }
        Ok(Pin(s.to_owned()))
    }

    /// A random PIN of the policy's minimum length that the policy accepts, as
    /// `Set-CsClientPin` makes when no PIN is given.
    pub fn generate<R: Rng + ?Sized>(policy: &PinPolicy, rng: &mut R) -> Pin {
        loop {
            let s: String = (0..policy.min_length)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect();
            if let Ok(pin) = Pin::new(policy, &s) {
                return pin;
            }
        }
    }

    /// The digits, to show once to the user who set or generated them.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The argon2id hash to store.
    pub fn hash(&self) -> PinHash {
        PinHash(secret_hash::hash(self.0.as_bytes()))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

/// Why `pin` (ASCII digits) is a common pattern, if it is one.
fn common_pattern(pin: &[u8]) -> Option<&'static str> {
    const RUN: usize = 4;
    let n = pin.len();
    for w in pin.windows(RUN) {
        if w.iter().all(|&d| d == w[0]) {
            return Some("it repeats a digit 4 or more times in a row");
        }
        if w.windows(2).all(|p| p[1] == p[0] + 1) || w.windows(2).all(|p| p[0] == p[1] + 1) {
            return Some("it has 4 or more consecutive digits");
        }
    }
    let periodic = (1..=n / 2).any(|p| (p..n).all(|i| pin[i] == pin[i - p]));
    if periodic {
        return Some("it repeats a shorter pattern");
    }
    None
}

/// An argon2id hash of a [`Pin`], as a PHC string.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PinHash(String);

impl PinHash {
    /// True when `candidate` (the digits typed on the keypad) is the PIN.
    pub fn verify(&self, candidate: &str) -> bool {
        candidate.len() <= Pin::MAX_LEN && secret_hash::verify(&self.0, candidate.as_bytes())
    }

    /// Reads a stored hash (errors in field `pinHash`).
    pub fn from_phc(s: &str) -> Result<PinHash, DomainError> {
        secret_hash::check("pinHash", s)?;
        Ok(PinHash(s.to_owned()))
    }

    /// The PHC string, to store.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PinHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinHash(<redacted>)")
    }
}

impl TryFrom<String> for PinHash {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PinHash::from_phc(&s)
    }
}

impl From<PinHash> for String {
    fn from(h: PinHash) -> String {
        h.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn default_pin(s: &str) -> Result<Pin, DomainError> {
        Pin::new(&PinPolicy::default(), s)
    }

    #[test]
    fn policy_defaults_and_range_follow_skype() {
        let p = PinPolicy::default();
        assert_eq!(p.min_length(), 5);
        assert!(!p.allow_common_patterns());
        assert!(PinPolicy::new(4, false).is_ok());
        assert!(PinPolicy::new(24, true).is_ok());
        for bad in [0, 3, 25] {
            assert_eq!(PinPolicy::new(bad, false).unwrap_err().field(), "minLength");
        }
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"minLength":5,"allowCommonPatterns":false}"#);
        assert_eq!(serde_json::from_str::<PinPolicy>("{}").unwrap(), p);
        assert!(serde_json::from_str::<PinPolicy>(r#"{"minLength":2}"#).is_err());
    }

    #[test]
    fn accepts_ordinary_pins() {
        for ok in ["72913", "40817", "1357924680", "902741"] {
            assert_eq!(default_pin(ok).unwrap().expose(), ok);
        }
    }

    #[test]
    fn refuses_non_digits_short_and_long_pins() {
        for bad in [
            "7291a",
            "72 913",
            "+72913",
            "７２９１３",
            "1'; DROP TABLE pins;--",
        ] {
            let e = default_pin(bad).unwrap_err();
            assert_eq!(e.field(), "pin");
            assert!(e.to_string().contains("digits only"), "{bad:?}: {e}");
        }
        assert_eq!(
            default_pin("7291"),
            Err(DomainError::TooShort {
                field: "pin",
                min: 5
            })
        );
        assert_eq!(
            default_pin(""),
            Err(DomainError::TooShort {
                field: "pin",
                min: 5
            })
        );
        assert!(matches!(
            default_pin(&"7".repeat(10_240)),
            Err(DomainError::TooLong {
                field: "pin",
                max: 24
            })
        ));
        let four = PinPolicy::new(4, false).unwrap();
        assert!(Pin::new(&four, "7291").is_ok());
    }

    #[test]
    fn refuses_common_patterns_unless_allowed() {
        for (bad, says) in [
            ("11111", "repeats a digit"),
            ("90000", "repeats a digit"),
            ("12345", "consecutive"),
            ("54321", "consecutive"),
            ("71234", "consecutive"),
            ("98765432", "consecutive"),
            ("121212", "shorter pattern"),
            ("123123", "shorter pattern"),
            ("12121", "shorter pattern"),
            ("909090", "shorter pattern"),
        ] {
            let e = default_pin(bad).unwrap_err();
            assert_eq!(e.field(), "pin");
            assert!(e.to_string().contains(says), "{bad}: {e}");
            assert!(!e.to_string().contains(bad), "the message repeats the PIN");
            let lax = PinPolicy::new(5, true).unwrap();
            assert!(Pin::new(&lax, bad).is_ok(), "{bad}");
        }
        // Wrap-around is not a run; three in a row is fine.
        assert!(default_pin("78901").is_ok());
        assert!(default_pin("12392").is_ok());
    }

    #[test]
    fn refuses_the_users_own_number_or_extension() {
        let numbers = ["+14255550101".parse::<E164>().unwrap()];
        let ext: Extension = "48213".parse().unwrap();
        let p = PinPolicy::default();
        for bad in ["50101", "42555", "48213"] {
            let e = Pin::new_for_user(&p, bad, &numbers, Some(&ext)).unwrap_err();
            assert!(e.to_string().contains("own phone number"), "{bad}: {e}");
        }
        assert!(Pin::new_for_user(&p, "72913", &numbers, Some(&ext)).is_ok());
    }

    #[test]
    fn generated_pins_satisfy_the_policy() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for policy in [PinPolicy::default(), PinPolicy::new(4, false).unwrap()] {
            for _ in 0..500 {
                let pin = Pin::generate(&policy, &mut rng);
                assert_eq!(pin.expose().len(), policy.min_length());
                assert!(Pin::new(&policy, pin.expose()).is_ok());
            }
        }
    }

    #[test]
    fn hashes_and_verifies_without_showing_the_pin() {
        let pin = default_pin("72913").unwrap();
        assert_eq!(format!("{pin:?}"), "Pin(<redacted>)");
        let h = pin.hash();
        assert!(h.as_phc().starts_with("$argon2id$"));
        assert!(h.verify("72913"));
        assert!(!h.verify("72914"));
        assert!(!h.verify(&"7".repeat(100)));
        assert_eq!(format!("{h:?}"), "PinHash(<redacted>)");
        let back = PinHash::from_phc(h.as_phc()).unwrap();
        assert!(back.verify("72913"));
        assert_eq!(PinHash::from_phc("72913").unwrap_err().field(), "pinHash");
    }
}
