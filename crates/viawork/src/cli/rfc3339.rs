//! Unix milliseconds to and from RFC 3339 timestamps (`2024-05-01T09:30:00.250Z`), for the
//! call log's JSON, CSV and filters.
//!
//! The conversion between a day count and a civil (proleptic Gregorian) date is Howard
//! Hinnant's `days_from_civil` / `civil_from_days`: exact for every `i64` day count this
//! module meets, no tables and no dependency. Times are always formatted in UTC with
//! milliseconds; parsing accepts what people and scripts write:
//!
//! - a full timestamp, `2024-05-01T09:30:00Z`, with optional fraction (`.250`, digits past
//!   the millisecond are dropped) and `Z` or a numeric offset (`+02:00`, `-05:00`);
//!   `t`/`z` in lower case and a space for `T` are accepted (RFC 3339 §5.6 allows them);
//! - an offset's `+` read as a space, as an unencoded `+` in a URL query comes out
//!   (`09:30:00 02:00` is `09:30:00+02:00`);
//! - a date alone, `2024-05-01`, meaning its midnight UTC.
//!
//! Years are 0000 to 9999, as RFC 3339 allows.

use crate::domain::DomainError;

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of the civil date `y-m-d` (month 1-12, day 1-31).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `ms` (unix milliseconds) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_ms(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let (secs, milli) = (in_day / 1000, in_day % 1000);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Parses an RFC 3339 timestamp or a date (see the module documentation) into unix
/// milliseconds; a refusal names `field`.
pub fn parse_ms(field: &'static str, text: &str) -> Result<i64, DomainError> {
    let bad = || {
        DomainError::invalid(
            field,
            "must be an RFC 3339 time such as 2024-05-01T09:30:00Z, or a date such as \
             2024-05-01",
        )
    };
    parse(text.trim()).ok_or_else(bad)
}

/// `digits` ASCII digits at the start of `s`, as a number, and the rest.
fn number(s: &[u8], digits: usize) -> Option<(i64, &[u8])> {
    let head = s.get(..digits)?;
    if !head.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = head.iter().fold(0i64, |n, b| n * 10 + i64::from(b - b'0'));
    Some((n, &s[digits..]))
}

/// `s` without its first byte, if that is `b`.
fn expect(s: &[u8], b: u8) -> Option<&[u8]> {
    (s.first() == Some(&b)).then(|| &s[1..])
}

fn parse(text: &str) -> Option<i64> {
    let s = text.as_bytes();
    let (y, s) = number(s, 4)?;
    let (m, s) = number(expect(s, b'-')?, 2)?;
    let (d, s) = number(expect(s, b'-')?, 2)?;
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let day_ms = days_from_civil(y, m, d) * MS_PER_DAY;
    let Some((&sep, s)) = s.split_first() else {
        return Some(day_ms);
    };
    if !matches!(sep, b'T' | b't' | b' ') {
        return None;
    }
    let (hh, s) = number(s, 2)?;
    let (mm, s) = number(expect(s, b':')?, 2)?;
    let (ss, mut s) = number(expect(s, b':')?, 2)?;
    // 60 is a leap second (RFC 3339 §5.7); unix time has none, so it reads as the next one.
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut milli = 0;
    if let Some(rest) = expect(s, b'.') {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        for (i, b) in rest[..digits.min(3)].iter().enumerate() {
            milli += i64::from(b - b'0') * [100, 10, 1][i];
        }
        s = &rest[digits..];
    }
    let offset_ms = match s {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-' | b' '), rest @ ..] => {
            let (oh, rest) = number(rest, 2)?;
            let (om, rest) = number(expect(rest, b':')?, 2)?;
            if !rest.is_empty() || oh > 23 || om > 59 {
                return None;
            }
            let ms = (oh * 60 + om) * 60_000;
            if *sign == b'-' {
                -ms
            } else {
                ms
            }
        }
        _ => return None,
    };
    Some(day_ms + ((hh * 60 + mm) * 60 + ss) * 1000 + milli - offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants_in_utc_with_milliseconds() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(1_714_555_800_250), "2024-05-01T09:30:00.250Z");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_ms(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn formatting_never_panics_at_the_extremes() {
        for ms in [i64::MIN, i64::MIN + 1, i64::MAX] {
            assert!(format_ms(ms).ends_with('Z'));
        }
    }

    #[test]
    fn civil_conversion_round_trips_every_day_for_centuries() {
        // 1600-03-01 .. 2400-03-01 covers every leap-year rule.
        let start = days_from_civil(1600, 3, 1);
        let end = days_from_civil(2400, 3, 1);
        let mut expected = (1600, 3, 1);
        for z in start..end {
            let civil = civil_from_days(z);
            assert_eq!(civil, expected, "day {z}");
            assert_eq!(days_from_civil(civil.0, civil.1, civil.2), z);
            let (y, m, d) = expected;
            expected = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn parses_timestamps_offsets_fractions_and_dates() {
        let p = |s: &str| parse_ms("since", s).unwrap();
        assert_eq!(p("2024-05-01T09:30:00.250Z"), 1_714_555_800_250);
        assert_eq!(p("2024-05-01T09:30:00Z"), 1_714_555_800_000);
        assert_eq!(p("2024-05-01t09:30:00z"), 1_714_555_800_000);
        assert_eq!(p("2024-05-01 09:30:00Z"), 1_714_555_800_000);
        assert_eq!(p("2024-05-01T11:30:00+02:00"), 1_714_555_800_000);
        assert_eq!(p("2024-05-01T11:30:00 02:00"), 1_714_555_800_000);
        assert_eq!(p("2024-05-01T04:30:00-05:00"), 1_714_555_800_000);
        assert_eq!(p("2024-05-01T09:30:00.2509999Z"), 1_714_555_800_250);
        assert_eq!(p("2024-05-01T09:30:00.2Z"), 1_714_555_800_200);
        assert_eq!(p("2024-05-01"), 1_714_521_600_000);
        assert_eq!(p("1970-01-01T00:00:00Z"), 0);
        assert_eq!(p("1969-12-31T23:59:59.999Z"), -1);
        assert_eq!(p("2016-12-31T23:59:60Z"), p("2017-01-01T00:00:00Z"));
    }

    #[test]
    fn round_trips_through_format() {
        for ms in [0, 1, 999, 1_714_555_800_250, -86_400_001, 4_102_444_800_000] {
            assert_eq!(parse_ms("t", &format_ms(ms)).unwrap(), ms);
        }
    }

    #[test]
    fn refuses_malformed_and_impossible_times_naming_the_field() {
        for bad in [
            "",
            "yesterday",
            "2024-5-01",
            "2024-02-30",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-05-01T",
            "2024-05-01T24:00:00Z",
            "2024-05-01T09:60:00Z",
            "2024-05-01T09:30:00",
            "2024-05-01T09:30:00.Z",
            "2024-05-01T09:30:00+2:00",
            "2024-05-01T09:30:00+02:00x",
            "2024-05-01X09:30:00Z",
            "+2024-05-01",
            "１９７０-01-01",
        ] {
            let e = parse_ms("until", bad).unwrap_err();
            assert_eq!(e.field(), "until", "{bad:?}");
        }
    }
}
