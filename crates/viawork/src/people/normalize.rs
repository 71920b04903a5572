//! Normalisation: how directory text and what people type are brought to one comparable
//! form, so that "José", "JOSE" and "jose" meet, and "425 555 0101", "(425) 555-0101" and
//! `+14255550101` meet.
//!
//! - **Text** is folded with [`fold`]: Unicode compatibility decomposition (NFKD, from the
//!   `unicode-normalization` crate of the unicode-rs project — already in our dependency
//!   tree through `idna`), combining marks dropped (é → e, ñ → n, Å → a), lower-cased, and
//!   the few Latin letters that have no decomposition spelt out the way people type them
//!   without the key (ß → ss, ø → o, ł → l, đ → d, æ → ae, œ → oe, þ → th, ı → i). Scripts
//!   without marks (Cyrillic, Greek, CJK) are only lower-cased.
//! - **Words** are the runs of letters and digits of folded text ([`words`]); a name
//!   "Anne-Marie O'Neil" has the words `anne`, `marie`, `o`, `neil`.
//! - **Phone numbers** are compared as digits only ([`phone_keys`]): a directory number
//!   gives its digits, and when written with `+` (an E.164 number) also its national
//!   significant number (without the country code, so "425 555 0101" finds
//!   `+14255550101`); an extension (`;ext=101`, `x101`, `ext. 101`) is a key of its own.
//! - **A query** ([`Query::parse`]) is one phone number when it holds only digits and the
//!   separators people type in numbers (`+ - . ( ) /` and spaces): "425 555 0101" is the
//!   single term `4255550101`, not three. Otherwise it is split on white space; a piece
//!   with `@` (an email or SIP address, `sip:` dropped) stays one term, any other piece is
//!   split into its words.

use std::fmt;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The longest query accepted, in characters (UCWA's `search` limit).
pub const MAX_QUERY_CHARS: usize = 256;

/// The most terms a query may have; more is refused rather than silently cut.
pub const MAX_QUERY_TERMS: usize = 8;

/// Folds `s` for comparison: NFKD, combining marks dropped, lower case, and ß/ø/ł/đ/æ/œ/þ/ı
/// spelt in plain letters.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        for l in c.to_lowercase() {
            match l {
                'ß' => out.push_str("ss"),
                'ø' => out.push('o'),
                'ł' => out.push('l'),
                'đ' | 'ð' => out.push('d'),
                'æ' => out.push_str("ae"),
                'œ' => out.push_str("oe"),
                'þ' => out.push_str("th"),
                'ı' => out.push('i'),
                other => out.push(other),
            }
        }
    }
    out
}

/// The words of folded text: its runs of letters and digits.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// True when `s` looks like a phone number as people type one: optionally `tel:`, then
/// only digits and `+ - . ( ) /` and spaces, with at least one digit.
pub fn is_phone_like(s: &str) -> bool {
    let s = strip_tel(s.trim());
    s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | '(' | ')' | '/' | ' '))
}

fn strip_tel(s: &str) -> &str {
    match s.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("tel:") => &s[4..],
        _ => s,
    }
}

/// The digits of `s`, in order.
pub fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The search keys of a phone number as stored in the directory (free text such as
/// `+1 (425) 555-0101 x101` or a LineURI `tel:+14255550101;ext=101`): its digits, its
/// national significant number when it is written as an international number, and its
/// extension's digits. Numbers with fewer than 3 digits give no key.
pub fn phone_keys(s: &str) -> Vec<String> {
    let s = strip_tel(s.trim());
    let (main, ext) = split_extension(s);
    let mut keys = Vec::with_capacity(3);
    let main_digits = digits(main);
    if main_digits.len() >= 3 {
        let trimmed = main.trim_start();
        let international = if trimmed.starts_with('+') {
            Some(main_digits.as_str())
        } else if trimmed.starts_with("00") {
            main_digits.get(2..)
        } else {
            None
        };
        if let Some(intl) = international {
            if let Some(national) = national_number(intl) {
                keys.push(national.to_owned());
            }
            keys.push(intl.to_owned());
        } else {
            keys.push(main_digits.clone());
        }
    }
    if let Some(ext) = ext {
        let d = digits(ext);
        if !d.is_empty() {
            keys.push(d);
        }
    }
    keys.dedup();
    keys
}

/// Splits an extension off a number: `;ext=`, `ext`, `ext.`, `x` (any case).
fn split_extension(s: &str) -> (&str, Option<&str>) {
    let lower = s.to_ascii_lowercase();
    for marker in [";ext=", "ext.", "ext", "x"] {
        if let Some(at) = lower.find(marker) {
            // `lower` has the byte layout of `s` (ASCII lower-casing keeps lengths).
            return (&s[..at], s.get(at + marker.len()..));
        }
    }
    (s, None)
}

/// The national significant number of the international number `digits` (country code
/// first, no `+`): the digits after the country code, found from the ITU-T E.164
/// assignments (1 and 7 are one digit; the two-digit codes listed below; all others
/// three). `None` when too short to hold a number after the code.
pub fn national_number(digits: &str) -> Option<&str> {
    let b = digits.as_bytes();
    if b.len() < 4 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let len = match (b[0] - b'0', b[1] - b'0') {
        (1, _) | (7, _) => 1,
        (2, 0) | (2, 7) => 2,
        (3, 0..=4) | (3, 6) | (3, 9) => 2,
        (4, 0..=1) | (4, 3..=9) => 2,
        (5, 1..=8) => 2,
        (6, 0..=6) => 2,
        (8, 1..=2) | (8, 4) | (8, 6) => 2,
        (9, 0..=5) | (9, 8) => 2,
        _ => 3,
    };
    digits.get(len..).filter(|n| n.len() >= 3)
}

/// Why a query was refused; each names the request field `query`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Empty, or nothing searchable in it (only punctuation).
    #[error("query is empty: type part of a name, email, SIP address or phone number")]
    Empty,
    /// Longer than [`MAX_QUERY_CHARS`].
    #[error("query is longer than {MAX_QUERY_CHARS} characters")]
    TooLong,
    /// More than [`MAX_QUERY_TERMS`] terms.
    #[error("query has more than {MAX_QUERY_TERMS} words")]
    TooManyTerms,
}

/// A parsed query: its terms, each folded; a user matches when every term matches one of
/// their keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    terms: Vec<String>,
    phone: bool,
}

impl Query {
    /// Parses what a person typed.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong);
        }
        let text = text.trim();
        if is_phone_like(text) {
            return Ok(Query {
                terms: vec![digits(strip_tel(text))],
                phone: true,
            });
        }
        let mut terms: Vec<String> = Vec::new();
        let folded = fold(text);
        for piece in folded.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
            let piece = piece.strip_prefix("sip:").unwrap_or(piece);
            if piece.contains('@') {
                let t = piece.trim_matches(|c: char| !c.is_alphanumeric());
                if !t.is_empty() {
                    terms.push(t.to_owned());
                }
            } else {
                terms.extend(words(piece).map(str::to_owned));
            }
        }
        // "ann ann" is one term: keeping both would only cost time.
        let mut seen = std::collections::HashSet::new();
        terms.retain(|t| seen.insert(t.clone()));
        if terms.is_empty() {
            return Err(QueryError::Empty);
        }
        if terms.len() > MAX_QUERY_TERMS {
            return Err(QueryError::TooManyTerms);
        }
        Ok(Query {
            terms,
            phone: false,
        })
    }

    /// The folded terms.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// True when the query was a phone number (its one term is digits).
    pub fn is_phone(&self) -> bool {
        self.phone
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.terms.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_strips_diacritics_and_case() {
        assert_eq!(fold("José Álvarez"), "jose alvarez");
        assert_eq!(fold("Müller-Lüdenscheidt"), "muller-ludenscheidt");
        assert_eq!(fold("Łukasz Søren Straße"), "lukasz soren strasse");
        assert_eq!(fold("ÆRØ Œuvre"), "aero oeuvre");
        assert_eq!(
            fold("Ｊｏｓｅ"),
            "jose",
            "full-width letters are compatibility forms"
        );
        assert_eq!(fold("Иван"), "иван");
    }

    #[test]
    fn words_split_on_punctuation() {
        let f = fold("Anne-Marie O'Neil");
        assert_eq!(
            words(&f).collect::<Vec<_>>(),
            ["anne", "marie", "o", "neil"]
        );
    }

    #[test]
    fn phone_queries_become_one_digit_term() {
        for typed in [
            "425 555 0101",
            "(425) 555-0101",
            "425.555.0101",
            " 425-555-0101 ",
        ] {
            let q = Query::parse(typed).unwrap();
            assert_eq!(q.terms(), ["4255550101"], "{typed}");
            assert!(q.is_phone());
        }
        let q = Query::parse("+1 425 555 0101").unwrap();
        assert_eq!(q.terms(), ["14255550101"]);
        assert_eq!(
            Query::parse("tel:+14255550101").unwrap().terms(),
            ["14255550101"]
        );
    }

    #[test]
    fn text_queries_split_into_folded_words_and_keep_addresses_whole() {
        assert_eq!(
            Query::parse("José  García").unwrap().terms(),
            ["jose", "garcia"]
        );
        assert_eq!(
            Query::parse("sip:Bob@Example.com").unwrap().terms(),
            ["bob@example.com"]
        );
        assert_eq!(
            Query::parse("anne-marie, bob.smith@ex").unwrap().terms(),
            ["anne", "marie", "bob.smith@ex"]
        );
        assert_eq!(Query::parse("bob bob").unwrap().terms(), ["bob"]);
        assert!(!Query::parse("bob 42").unwrap().is_phone());
    }

    #[test]
    fn bad_queries_are_refused() {
        assert_eq!(Query::parse(""), Err(QueryError::Empty));
        assert_eq!(Query::parse("  -- ,; "), Err(QueryError::Empty));
        assert_eq!(Query::parse(&"a".repeat(257)), Err(QueryError::TooLong));
        assert!(
            Query::parse(&"é".repeat(256)).is_ok(),
            "the limit counts characters"
        );
        assert_eq!(
            Query::parse("a b c d e f g h i"),
            Err(QueryError::TooManyTerms)
        );
    }

    #[test]
    fn phone_keys_give_digits_national_number_and_extension() {
        assert_eq!(
            phone_keys("tel:+14255550101;ext=101"),
            ["4255550101", "14255550101", "101"]
        );
        assert_eq!(
            phone_keys("+1 (425) 555-0101"),
            ["4255550101", "14255550101"]
        );
        assert_eq!(
            phone_keys("+44 20 7946 0958"),
            ["2079460958", "442079460958"]
        );
        assert_eq!(phone_keys("+353 1 234 5678"), ["12345678", "35312345678"]);
        assert_eq!(
            phone_keys("0044 20 7946 0958"),
            ["2079460958", "442079460958"]
        );
        assert_eq!(phone_keys("(425) 555-0101 x22"), ["4255550101", "22"]);
        assert_eq!(phone_keys("425 555 0101 Ext. 7"), ["4255550101", "7"]);
        assert!(phone_keys("").is_empty());
        assert!(phone_keys("12").is_empty());
    }

    #[test]
    fn country_codes_follow_the_e164_assignments() {
        assert_eq!(national_number("14255550101"), Some("4255550101"));
        assert_eq!(national_number("74951234567"), Some("4951234567"));
        assert_eq!(national_number("4930123456"), Some("30123456"));
        assert_eq!(national_number("97221234567"), Some("21234567"));
        assert_eq!(national_number("8613012345678"), Some("13012345678"));
        assert_eq!(national_number("85212345678"), Some("12345678"));
        assert_eq!(national_number("12"), None);
    }
}
