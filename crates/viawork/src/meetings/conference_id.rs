//! Conference IDs: the digits a dial-in caller types to reach a meeting.
//!
//! Skype's IDs are a housekeeping digit, a conference directory, a number and a check
//! digit. ViaWork has one directory, so an ID is random digits (the first never 0, so the
//! ID reads the same however it is stored) followed by a Luhn check digit: the IVR refuses
//! a mistyped ID — any single wrong digit and most swapped neighbours — without a store
//! lookup, and a caller guessing IDs needs ten times the tries. Seven digits by default;
//! the service draws longer ones when short IDs keep colliding.

use rand::Rng;

/// Shortest and longest IDs this module draws or accepts.
pub const LENGTHS: std::ops::RangeInclusive<usize> = 5..=12;

/// The length drawn first.
pub const DEFAULT_LENGTH: usize = 7;

/// A random conference ID of `len` digits (clamped to [`LENGTHS`]), the last one the Luhn
/// check digit.
pub fn generate<R: Rng + ?Sized>(rng: &mut R, len: usize) -> String {
    let len = len.clamp(*LENGTHS.start(), *LENGTHS.end());
    let mut digits = String::with_capacity(len);
    digits.push(char::from(b'1' + rng.random_range(0..9u8)));
    for _ in 1..len - 1 {
        digits.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    let check = check_digit(&digits);
    digits.push(char::from(b'0' + check));
    digits
}

/// Whether `id` is digits of an allowed length whose last digit checks out.
pub fn is_valid(id: &str) -> bool {
    LENGTHS.contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_digit())
        && !id.starts_with('0')
        && id
            .as_bytes()
            .last()
            .is_some_and(|&last| check_digit(&id[..id.len() - 1]) == last - b'0')
}

/// The Luhn check digit for `payload` (ASCII digits).
fn check_digit(payload: &str) -> u8 {
    let sum: u32 = payload
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn known_luhn_values() {
        // 7992739871 → check digit 3 (the textbook example).
        assert_eq!(check_digit("7992739871"), 3);
        assert!(is_valid("79927398713"));
        assert!(!is_valid("79927398710"));
    }

    #[test]
    fn generated_ids_are_valid_and_of_the_asked_length() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for len in [1, 5, 7, 9, 12, 40] {
            let id = generate(&mut rng, len);
            assert_eq!(id.len(), len.clamp(5, 12), "{id}");
            assert!(is_valid(&id), "{id}");
            assert!(!id.starts_with('0'));
        }
    }

    #[test]
    fn every_single_digit_typo_is_caught() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..50 {
            let id = generate(&mut rng, DEFAULT_LENGTH);
            for pos in 0..id.len() {
                for d in b'0'..=b'9' {
                    let mut typo = id.clone().into_bytes();
                    if typo[pos] == d {
                        continue;
                    }
                    typo[pos] = d;
                    let typo = String::from_utf8(typo).unwrap_or_default();
                    assert!(!is_valid(&typo), "{id} → {typo} passed");
                }
            }
        }
    }

    #[test]
    fn refuses_non_digits_and_bad_lengths() {
        for s in ["", "1234", "12a4567", "0123455", "1234567890123", "#123456"] {
            assert!(!is_valid(s), "{s}");
        }
    }
}
