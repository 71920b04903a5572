//! Free text from people: display names, titles, departments, offices.
//!
//! [`bounded_text`] is the one rule for such fields, and [`DisplayName`] and [`ProfileText`]
//! are the values it produces. The rule:
//!
//! - leading and trailing white space is trimmed; what remains must not be empty;
//! - at most `max` characters (Unicode scalar values, not bytes), so a 10 kB paste is
//!   refused with the field's name instead of being stored;
//! - no control characters (tabs, new lines, NUL, C1 controls), no line or paragraph
//!   separators (U+2028, U+2029) and no bidirectional overrides or isolates
//!   (U+202A–U+202E, U+2066–U+2069), which can make a name display as something else;
//! - everything else is kept verbatim: any script ("Дмитрий Иванов", "José Ñúñez", "王秀英"),
//!   apostrophes, quotes, and zero-width joiners (needed by some scripts and emoji).
//!
//! Text that looks like SQL or markup is just text here: it is kept as typed, never
//! interpreted. Storing and displaying it safely is the job of the store (bound parameters)
//! and of the client (escaping).

use super::error::{DomainError, ShowChar};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Checks `value` against the free-text rule of this module for `field`, returning it
/// trimmed. `max_chars` counts characters, not bytes.
pub fn bounded_text(
    field: &'static str,
    value: &str,
    max_chars: usize,
) -> Result<String, DomainError> {
    // A character is at most 4 bytes, so anything longer than this is too long without
    // counting (and white space to trim cannot make a 10 kB value short).
    if value.len() > max_chars.saturating_mul(4).saturating_add(1024) {
        return Err(DomainError::TooLong {
            field,
            max: max_chars,
        });
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(DomainError::Required { field });
    }
    if value.chars().count() > max_chars {
        return Err(DomainError::TooLong {
            field,
            max: max_chars,
        });
    }
    if let Some(c) = value.chars().find(|&c| is_forbidden(c)) {
        return Err(DomainError::invalid(
            field,
            format!(
                "contains the invisible or control character {}",
                ShowChar(c)
            ),
        ));
    }
    Ok(value.to_owned())
}

/// Control characters, line/paragraph separators and bidirectional controls.
fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A person's display name ("José Ñúñez"): free text of at most
/// [`DisplayName::MAX_CHARS`] characters, errors in field `displayName`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    /// The longest display name accepted (Active Directory's `displayName` allows 256).
    pub const MAX_CHARS: usize = 256;

    /// The name as stored (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DisplayName {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        bounded_text("displayName", s, Self::MAX_CHARS).map(DisplayName)
    }
}

impl TryFrom<String> for DisplayName {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DisplayName> for String {
    fn from(n: DisplayName) -> String {
        n.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A short profile field (title, department, office): free text of at most
/// [`ProfileText::MAX_CHARS`] characters. Built with [`ProfileText::new`] naming the field;
/// deserialised values report field `text` (relabel with [`DomainError::in_field`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProfileText(String);

impl ProfileText {
    /// The longest profile text accepted.
    pub const MAX_CHARS: usize = 256;

    /// Checks `value` for `field` (e.g. `"title"`, `"department"`, `"office"`).
    pub fn new(field: &'static str, value: &str) -> Result<ProfileText, DomainError> {
        bounded_text(field, value, Self::MAX_CHARS).map(ProfileText)
    }

    /// The text as stored (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProfileText {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ProfileText::new("text", &s)
    }
}

impl From<ProfileText> for String {
    fn from(t: ProfileText) -> String {
        t.0
    }
}

impl fmt::Display for ProfileText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_in_any_script() {
        for name in [
            "Дмитрий Иванов",
            "José Ñúñez",
            "王秀英",
            "Zoë O'Brien-Smith",
            "محمد علي",
            "👩\u{200d}💻 Dev",
        ] {
            let n: DisplayName = name.parse().unwrap();
            assert_eq!(n.as_str(), name);
        }
    }

    #[test]
    fn keeps_sql_looking_text_verbatim() {
        let sql = "Robert'); DROP TABLE users;--";
        assert_eq!(sql.parse::<DisplayName>().unwrap().as_str(), sql);
        let t = ProfileText::new("title", "1' OR '1'='1").unwrap();
        assert_eq!(t.as_str(), "1' OR '1'='1");
    }

    #[test]
    fn trims_and_requires_something() {
        assert_eq!(
            "  Alice  ".parse::<DisplayName>().unwrap().as_str(),
            "Alice"
        );
        assert_eq!(
            " \t ".parse::<DisplayName>(),
            Err(DomainError::Required {
                field: "displayName"
            })
        );
    }

    #[test]
    fn refuses_ten_kilobytes_naming_the_field() {
        let big = "a".repeat(10 * 1024);
        let e = big.parse::<DisplayName>().unwrap_err();
        assert_eq!(e.field(), "displayName");
        assert!(matches!(e, DomainError::TooLong { max: 256, .. }));
        let e = ProfileText::new("department", &big).unwrap_err();
        assert_eq!(e.field(), "department");
        // The limit counts characters: 256 Cyrillic letters (512 bytes) are fine, 257 not.
        assert!("Д".repeat(256).parse::<DisplayName>().is_ok());
        assert!("Д".repeat(257).parse::<DisplayName>().is_err());
    }

    #[test]
    fn refuses_control_and_bidi_characters() {
        for bad in [
            "Ali\nce",
            "Al\0ice",
            "a\u{202e}gnp.exe",
            "x\u{2028}y",
            "a\u{85}b",
        ] {
            let e = bad.parse::<DisplayName>().unwrap_err();
            assert_eq!(e.field(), "displayName", "{bad:?}");
            assert!(e.message().contains("U+"), "{e}");
        }
    }

    #[test]
    fn round_trips_through_serde_and_validates_on_the_way_in() {
        let n: DisplayName = "José".parse().unwrap();
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"José\"");
        assert_eq!(serde_json::from_str::<DisplayName>(&json).unwrap(), n);
        assert!(serde_json::from_str::<DisplayName>("\"a\\u0007b\"").is_err());
    }
}
