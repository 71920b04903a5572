//! `Date` (RFC 3261 §20.17): an RFC 1123 date, always in GMT
//! (`Sat, 13 Nov 2010 23:29:00 GMT`).

use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use std::fmt;

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A Date value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second (60 allowed for leap seconds).
    pub second: u8,
    weekday: u8,
}

impl Date {
    /// Seconds since the Unix epoch.
    pub fn unix_time(&self) -> i64 {
        // Days from civil (Howard Hinnant's algorithm).
        let y = self.year as i64 - if self.month <= 2 { 1 } else { 0 };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = self.month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + self.day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146097 + doe - 719468;
        days * 86400 + self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64
    }
}

impl<'a> TypedHeader<'a> for Date {
    const NAME: HeaderName = HeaderName::Date;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        let e = |r| err(HeaderName::Date, r);
        let (wk, rest) = s.split_once(", ").ok_or(e("no weekday"))?;
        let weekday = DAYS.iter().position(|d| *d == wk).ok_or(e("bad weekday"))? as u8;
        let parts: Vec<&str> = rest.split(' ').collect();
        if parts.len() != 5 {
            return Err(e("expected 'DD Mon YYYY HH:MM:SS GMT'"));
        }
        if parts[4] != "GMT" {
            return Err(e("time zone must be GMT"));
        }
        let num = |s: &str, len: usize| {
            (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u16>().ok())
                .flatten()
        };
        let day = num(parts[0], 2)
            .filter(|d| (1..=31).contains(d))
            .ok_or(e("bad day"))? as u8;
        let month = MONTHS
            .iter()
            .position(|m| *m == parts[1])
            .ok_or(e("bad month"))? as u8
            + 1;
        let year = num(parts[2], 4).ok_or(e("bad year"))?;
        let t: Vec<&str> = parts[3].split(':').collect();
        if t.len() != 3 {
            return Err(e("bad time"));
        }
        let hour = num(t[0], 2).filter(|v| *v < 24).ok_or(e("bad hour"))? as u8;
        let minute = num(t[1], 2).filter(|v| *v < 60).ok_or(e("bad minute"))? as u8;
        let second = num(t[2], 2).filter(|v| *v <= 60).ok_or(e("bad second"))? as u8;
        Ok(Date {
            year,
            month,
            day,
            hour,
            minute,
            second,
            weekday,
        })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            DAYS[self.weekday as usize % 7],
            self.day,
            MONTHS[(self.month as usize + 11) % 12],
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_gmt_only() {
        let d = Date::parse("Sat, 13 Nov 2010 23:29:00 GMT").unwrap();
        assert_eq!(d.unix_time(), 1289690940);
        assert_eq!(d.to_string(), "Sat, 13 Nov 2010 23:29:00 GMT");
        assert!(Date::parse("Fri, 01 Jan 2010 16:00:00 EST").is_err());
        assert!(Date::parse("Fri, 1 Jan 2010 16:00:00 GMT").is_err());
    }
}
