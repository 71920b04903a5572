//! [`E164`]: a global telephone number, `+` then 7–15 digits, the first not 0.
//!
//! ITU-T E.164 numbers are a country code and a national number, at most 15 digits in all;
//! the shortest in service have 7 (Niue: country code 683 and 4 digits), so `+1` or `+12345`
//! is a typo or a truncated number, never something to dial.
//!
//! Every number the server dials or shows is one of these: LineURIs, callback numbers,
//! `AdminCallbackNumber`, `CallViaWorkCallerId`, the results of dial plans. People may
//! type the visual separators of printed numbers (`+1 (425) 555-0101`); they are dropped
//! when parsing, and the number is kept and printed in its bare form (`+14255550101`).
//!
//! A number typed without `+` is not an E.164 number: it needs a dial plan to say which
//! country and area it belongs to (see [`super::DialPlan`]).

use super::error::{preview, DomainError, ShowChar};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A global telephone number in E.164 form: `+`, then 7 to 15 digits, the first not 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

impl E164 {
    /// The fewest digits of a number in service (country code included).
    pub const MIN_DIGITS: usize = 7;
    /// The most digits E.164 allows (country code included).
    pub const MAX_DIGITS: usize = 15;
    /// Longest input accepted, separators included.
    const MAX_INPUT: usize = 64;

    /// Parses a number for `field`: `+`, then digits with optional spaces, dashes, dots
    /// and parentheses between them.
    pub fn parse_field(field: &'static str, s: &str) -> Result<E164, DomainError> {
        if s.chars().count() > Self::MAX_INPUT {
            return Err(DomainError::TooLong {
                field,
                max: Self::MAX_INPUT,
            });
        }
        let s = s.trim();
        if s.is_empty() {
            return Err(DomainError::Required { field });
        }
        let Some(rest) = s.strip_prefix('+') else {
            return Err(DomainError::invalid(
                field,
                format!(
                    "{:?} is not an E.164 number: it must start with + and the country code \
                     (for example +14255550101)",
                    preview(s)
                ),
            ));
        };
        let mut digits = String::with_capacity(Self::MAX_DIGITS + 1);
        digits.push('+');
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => {
                    return Err(DomainError::invalid(
                        field,
                        format!(
                            "{:?} contains {}: only digits, spaces, dashes, dots and \
                             parentheses may follow the +",
                            preview(s),
                            ShowChar(c)
                        ),
                    ))
                }
            }
        }
        let n = digits.len() - 1;
        if n == 0 {
            return Err(DomainError::invalid(field, "has no digits after the +"));
        }
        if n < Self::MIN_DIGITS {
            return Err(DomainError::invalid(
                field,
                format!(
                    "has {n} digit{}; an E.164 number has at least {} (country code and \
                     number, for example +14255550101)",
                    if n == 1 { "" } else { "s" },
                    Self::MIN_DIGITS
                ),
            ));
        }
        if n > Self::MAX_DIGITS {
            return Err(DomainError::invalid(
                field,
                format!(
                    "has {n} digits; an E.164 number has at most {}",
                    Self::MAX_DIGITS
                ),
            ));
        }
        if digits.as_bytes()[1] == b'0' {
            return Err(DomainError::invalid(
                field,
                "a country code never starts with 0",
            ));
        }
        Ok(E164(digits))
    }

    /// The number with its `+` (`+14255550101`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the `+` (`14255550101`).
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

/// Errors name field `number`.
impl FromStr for E164 {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        E164::parse_field("number", s)
    }
}

impl TryFrom<String> for E164 {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<E164> for String {
    fn from(n: E164) -> String {
        n.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn parses_bare_and_decorated_numbers_to_the_same_value() {
        let a: E164 = "+14255550101".parse().unwrap();
        let b: E164 = "+1 (425) 555-0101".parse().unwrap();
        let c: E164 = " +1.425.555.0101 ".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(b.as_str(), "+14255550101");
        assert_eq!(b.digits(), "14255550101");
        assert_eq!(b.to_string(), "+14255550101");
        // The shortest and longest numbers: Niue's 7 digits, 15.
        assert_eq!("+683 4002".parse::<E164>().unwrap().digits(), "6834002");
        assert!("+1234567".parse::<E164>().is_ok());
        assert!("+123456789012345".parse::<E164>().is_ok());
    }

    #[test]
    fn refuses_what_is_not_e164() {
        for (input, says) in [
            ("4255550101", "must start with +"),
            ("+1-800-FLOWERS", "contains 'F'"),
            ("+1425555010l", "contains 'l'"),
            ("++14255550101", "contains '+'"),
            ("+1 425 555 0101 x101", "contains 'x'"),
            ("+", "no digits"),
            ("+ - ()", "no digits"),
            ("+1234567890123456", "16 digits"),
            ("+1", "has 1 digit; an E.164 number has at least 7"),
            ("+12345", "has 5 digits; an E.164 number has at least 7"),
            ("+1 (234) 56", "has 6 digits"),
            ("+01", "at least 7"),
            ("+04255550101", "never starts with 0"),
            ("+1;DROP TABLE users", "contains ';'"),
            ("tel:+14255550101", "must start with +"),
            ("+1\u{0660}2", "contains '\u{0660}'"),
            ("+1\u{00a0}425", "contains U+00A0"),
        ] {
            let e = input.parse::<E164>().unwrap_err();
            assert_eq!(e.field(), "number");
            assert!(e.message().contains(says), "{input:?}: {e}");
        }
        assert_eq!(
            "  ".parse::<E164>(),
            Err(DomainError::Required { field: "number" })
        );
    }

    #[test]
    fn refuses_too_short_numbers_naming_the_field() {
        for short in ["+1", "+12345", "+123456"] {
            let e = E164::parse_field("adminCallbackNumber", short).unwrap_err();
            assert_eq!(e.field(), "adminCallbackNumber", "{short:?}");
            assert_eq!(e.code(), "ParameterValidationFailure", "{short:?}");
            assert!(e.message().contains("at least 7"), "{short:?}: {e}");
        }
    }

    #[test]
    fn refuses_ten_kilobytes_naming_the_field() {
        let e = E164::parse_field("workPhone", &format!("+1{}", "0".repeat(10_240))).unwrap_err();
        assert_eq!(
            e,
            DomainError::TooLong {
                field: "workPhone",
                max: 64
            }
        );
    }

    #[test]
    fn serde_uses_the_string_form_and_validates() {
        let n: E164 = "+44 20 7946 0958".parse().unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"+442079460958\"");
        let back: E164 = serde_json::from_str("\"+442079460958\"").unwrap();
        assert_eq!(back, n);
        assert!(serde_json::from_str::<E164>("\"442079460958\"").is_err());
    }

    /// Property: any valid digit string, decorated with random separators, parses to the
    /// bare number, and the bare number round-trips through `Display`. Seeded, so a failure
    /// reproduces. (proptest is not a dependency of this crate.)
    #[test]
    fn property_round_trips_through_display_with_any_separators() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xE164);
        for _ in 0..2000 {
            let len = rng.random_range(E164::MIN_DIGITS..=E164::MAX_DIGITS);
            let mut digits = String::new();
            digits.push(char::from(b'1' + rng.random_range(0..9u8)));
            for _ in 1..len {
                digits.push(char::from(b'0' + rng.random_range(0..10u8)));
            }
            let mut decorated = String::from("+");
            for c in digits.chars() {
                if rng.random_bool(0.3) {
                    decorated.push([' ', '-', '.', '(', ')'][rng.random_range(0..5)]);
                }
                decorated.push(c);
            }
            let n: E164 = decorated.parse().unwrap();
            assert_eq!(n.digits(), digits);
            assert_eq!(n.to_string().parse::<E164>().unwrap(), n);
        }
    }

    /// Property: random text never panics the parser, and whatever it accepts is E.164.
    #[test]
    fn property_random_text_never_panics_and_accepted_values_are_e164() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let alphabet: Vec<char> = "+0123456789 -.()xX;'\u{0660}é\n".chars().collect();
        for _ in 0..5000 {
            let len = rng.random_range(0..24);
            let s: String = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            if let Ok(n) = s.parse::<E164>() {
                let d = n.digits();
                assert!((7..=15).contains(&d.len()) && !d.starts_with('0'));
                assert!(d.bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }
}
