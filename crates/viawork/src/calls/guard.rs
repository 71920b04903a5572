//! Guards on the number ViaWork rings first. Whoever can choose the callback number can
//! make ViaWork ring any phone with a "call from work", so a user-chosen number is
//! refused when it is an emergency number, a premium-rate number, or abroad (compared
//! with the user's own line) unless the configuration allows it; and each user may start
//! only so many calls a minute.

use crate::domain::E164;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Emergency short codes, as typed (any country's).
const EMERGENCY: &[&str] = &[
    "911", "112", "999", "000", "110", "119", "100", "101", "102", "103", "08", "061", "060",
];

/// Premium-rate prefixes (E.164): US/Canada 900 and 976, UK 09, Germany 0900, France 089,
/// Italy 89, Spain 80x, Australia 19, Russia 809.
const PREMIUM: &[&str] = &[
    "+1900", "+1976", "+4490", "+4491", "+4498", "+49900", "+3389", "+3989", "+34803", "+34806",
    "+34807", "+6119", "+7809",
];

/// Why a chosen callback number is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// An emergency number.
    #[error("an emergency number cannot be a callback number")]
    Emergency,
    /// A premium-rate number.
    #[error("a premium-rate number cannot be a callback number")]
    Premium,
    /// In another country than the user's line.
    #[error("a callback number abroad is not allowed")]
    International,
}

/// What the guard allows (`[calls]` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GuardPolicy {
    /// Allow numbers in other countries than the user's line.
    pub allow_international: bool,
    /// Allow premium-rate numbers.
    pub allow_premium: bool,
}

/// True when `typed` (what the user entered) is an emergency short code.
pub fn is_emergency(typed: &str) -> bool {
    let digits: String = typed.chars().filter(char::is_ascii_digit).collect();
    EMERGENCY.contains(&digits.as_str())
}

/// The length of the E.164 country code of `n` (ITU-T E.164 assignments: zone 1 and
/// Russia/Kazakhstan have one digit; the listed two-digit codes; three digits otherwise).
pub fn country_code_len(n: &E164) -> usize {
    let d = n.digits().as_bytes();
    match d.first() {
        Some(b'1' | b'7') => 1,
        _ => {
            let two = std::str::from_utf8(&d[..2.min(d.len())]).unwrap_or("");
            const TWO: &[&str] = &[
                "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
                "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61",
                "62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94",
                "95", "98",
            ];
            if TWO.contains(&two) {
                2
            } else {
                3
            }
        }
    }
}

/// Checks a user-chosen callback number. `typed` is what the user entered, `number` its
/// normalised form and `home` the user's own line, if any.
pub fn check_callback(
    typed: &str,
    number: &E164,
    home: Option<&E164>,
    policy: GuardPolicy,
) -> Result<(), GuardError> {
    if is_emergency(typed) {
        return Err(GuardError::Emergency);
    }
    if !policy.allow_premium && PREMIUM.iter().any(|p| number.as_str().starts_with(p)) {
        return Err(GuardError::Premium);
    }
    if !policy.allow_international {
        if let Some(home) = home {
            let n = country_code_len(home);
            if number.digits().get(..n) != home.digits().get(..n) {
                return Err(GuardError::International);
            }
        }
    }
    Ok(())
}

/// At most `max` calls per user in any minute.
#[derive(Debug)]
pub struct RateLimiter {
    max: u32,
    window: Duration,
    starts: HashMap<i64, VecDeque<Instant>>,
}

impl RateLimiter {
    /// A limiter allowing `max` per minute.
    pub fn new(max: u32) -> RateLimiter {
        RateLimiter {
            max,
            window: Duration::from_secs(60),
            starts: HashMap::new(),
        }
    }

    /// Records a call by `user` at `now`, or returns how long until one is allowed.
    pub fn admit(&mut self, user: i64, now: Instant) -> Result<(), Duration> {
        let q = self.starts.entry(user).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() >= self.max as usize {
            let oldest = q.front().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        q.push_back(now);
        // Forget idle users so the map stays as small as the active population.
        if self.starts.len() > 10_000 {
            let window = self.window;
            self.starts
                .retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> E164 {
        s.parse().unwrap()
    }

    #[test]
    fn refuses_emergency_premium_and_abroad() {
        let home = n("+14255550101");
        let p = GuardPolicy::default();
        assert_eq!(
            check_callback("911", &n("+14255550911"), Some(&home), p),
            Err(GuardError::Emergency)
        );
        assert_eq!(
            check_callback("1 900 555 0101", &n("+19005550101"), Some(&home), p),
            Err(GuardError::Premium)
        );
        assert_eq!(
            check_callback("+44 20 7946 0958", &n("+442079460958"), Some(&home), p),
            Err(GuardError::International)
        );
        assert_eq!(
            check_callback("425 555 0199", &n("+14255550199"), Some(&home), p),
            Ok(())
        );
        let open = GuardPolicy {
            allow_international: true,
            allow_premium: true,
        };
        assert_eq!(
            check_callback("+44 20 7946 0958", &n("+442079460958"), Some(&home), open),
            Ok(())
        );
        assert_eq!(
            check_callback("+1 900 555 0101", &n("+19005550101"), Some(&home), open),
            Ok(())
        );
    }

    #[test]
    fn country_codes_have_the_itu_lengths() {
        assert_eq!(country_code_len(&n("+14255550101")), 1);
        assert_eq!(country_code_len(&n("+74951234567")), 1);
        assert_eq!(country_code_len(&n("+442079460958")), 2);
        assert_eq!(country_code_len(&n("+353212345678")), 3);
    }

    #[test]
    fn rate_limit_counts_a_sliding_minute() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(2);
        assert!(r.admit(1, t0).is_ok());
        assert!(r.admit(1, t0 + Duration::from_secs(10)).is_ok());
        let wait = r.admit(1, t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        assert!(r.admit(2, t0 + Duration::from_secs(20)).is_ok(), "per user");
        assert!(r.admit(1, t0 + Duration::from_secs(60)).is_ok());
    }
}
