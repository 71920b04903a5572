//! [`LineUri`]: a user's telephone line as Skype's `Set-CsUser -LineURI` writes it,
//! `tel:+14255550101` or `tel:+14255550100;ext=101`.
//!
//! Call Via Work needs a DID on the PBX for every user, and the LineURI set to that DID
//! (deployment prerequisites 2 and 3). So a LineURI here is always a global number, with an
//! optional `ext` parameter for a DID shared by several extensions. Private-extension-only
//! forms (`tel:101`) are refused: the PBX could not be dialled back with them. Other
//! `tel:` parameters (`phone-context`, `isub`, ...) are refused too.
//!
//! Parsing accepts `TEL:` in any case and the RFC 3966 visual separators
//! (`tel:+1-425-555-0101`); the value prints in its bare form (`tel:+14255550101`).

use super::e164::E164;
use super::error::{preview, DomainError};
use super::extension::Extension;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A user's line: a global number and an optional extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LineUri {
    number: E164,
    extension: Option<Extension>,
}

impl LineUri {
    const FIELD: &'static str = "lineUri";
    const MAX_INPUT: usize = 128;

    /// A line from its DID and optional extension.
    pub fn new(number: E164, extension: Option<Extension>) -> LineUri {
        LineUri { number, extension }
    }

    /// The DID (`+14255550100`).
    pub fn number(&self) -> &E164 {
        &self.number
    }

    /// The `ext` parameter, if any (`101`).
    pub fn extension(&self) -> Option<&Extension> {
        self.extension.as_ref()
    }
}

fn invalid(message: impl Into<String>) -> DomainError {
    DomainError::invalid(LineUri::FIELD, message)
}

/// Errors name field `lineUri`.
impl FromStr for LineUri {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let field = LineUri::FIELD;
        if s.len() > LineUri::MAX_INPUT {
            return Err(DomainError::TooLong {
                field,
                max: LineUri::MAX_INPUT,
            });
        }
        let s = s.trim();
        if s.is_empty() {
            return Err(DomainError::Required { field });
        }
        let has_tel = s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("tel:"));
        if !has_tel {
            return Err(invalid(format!(
                "{:?} must start with tel: (for example tel:+14255550101 or \
                 tel:+14255550100;ext=101)",
                preview(s)
            )));
        }
        let tel = match sip::Uri::parse(s) {
            Ok(sip::Uri::Tel(t)) => t,
            _ => return Err(invalid(format!("{:?} is not a valid tel: URI", preview(s)))),
        };
        if !tel.is_global() {
            return Err(invalid(
                "must be a global number, tel:+<country code><number>; extension-only \
                 line URIs cannot be dialled back",
            ));
        }
        let number = E164::parse_field(field, &tel.digits())?;
        let mut extension = None;
        for (name, value) in tel.params.iter() {
            if !name.eq_ignore_ascii_case("ext") {
                return Err(invalid(format!(
                    "parameter {:?} is not supported; only ;ext= may follow the number",
                    preview(name)
                )));
            }
            if extension.is_some() {
                return Err(invalid("has more than one ;ext="));
            }
            // RFC 3966 allows visual separators in the extension too.
            let digits: String = value
                .unwrap_or("")
                .chars()
                .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
                .collect();
            extension = Some(Extension::parse_field(field, &digits)?);
        }
        Ok(LineUri { number, extension })
    }
}

impl TryFrom<String> for LineUri {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<LineUri> for String {
    fn from(l: LineUri) -> String {
        l.to_string()
    }
}

impl fmt::Display for LineUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}", self.number)?;
        if let Some(ext) = &self.extension {
            write!(f, ";ext={ext}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_skype_forms_and_prints_them_back() {
        let l: LineUri = "tel:+14255550101".parse().unwrap();
        assert_eq!(l.number().as_str(), "+14255550101");
        assert_eq!(l.extension(), None);
        assert_eq!(l.to_string(), "tel:+14255550101");

        let l: LineUri = "tel:+14255550100;ext=101".parse().unwrap();
        assert_eq!(l.number().as_str(), "+14255550100");
        assert_eq!(l.extension().map(Extension::as_str), Some("101"));
        assert_eq!(l.to_string(), "tel:+14255550100;ext=101");
        assert_eq!(l.to_string().parse::<LineUri>().unwrap(), l);
    }

    #[test]
    fn normalises_case_and_visual_separators() {
        let l: LineUri = " TEL:+1-425-555-0100;EXT=1-01 ".parse().unwrap();
        assert_eq!(l.to_string(), "tel:+14255550100;ext=101");
    }

    #[test]
    fn refuses_bad_line_uris_naming_the_field() {
        for (input, says) in [
            ("+14255550101", "must start with tel:"),
            ("sip:alice@contoso.com", "must start with tel:"),
            ("tel:101", "global number"),
            ("tel:4255550101", "global number"),
            ("tel:+1 425 555 0101", "not a valid tel: URI"),
            (
                "tel:+14255550101;phone-context=example.com",
                "\"phone-context\"",
            ),
            ("tel:+14255550100;ext=1;ext=2", "more than one"),
            ("tel:+14255550100;ext=abc", "digits only"),
            ("tel:+14255550100;ext=", "not a valid tel: URI"),
            ("tel:+04255550100", "never starts with 0"),
            ("tel:+1", "at least 7"),
            ("tel:+12345;ext=101", "at least 7"),
            ("tel:'; DROP TABLE users;--", "not a valid tel: URI"),
        ] {
            let e = input.parse::<LineUri>().unwrap_err();
            assert_eq!(e.field(), "lineUri", "{input:?}");
            assert!(e.to_string().contains(says), "{input:?}: {e}");
        }
        let e = format!("tel:+1{}", "5".repeat(10_240))
            .parse::<LineUri>()
            .unwrap_err();
        assert!(matches!(
            e,
            DomainError::TooLong {
                field: "lineUri",
                ..
            }
        ));
    }

    #[test]
    fn serde_uses_the_uri_text() {
        let l: LineUri = "tel:+14255550100;ext=101".parse().unwrap();
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(json, "\"tel:+14255550100;ext=101\"");
        assert_eq!(serde_json::from_str::<LineUri>(&json).unwrap(), l);
        assert!(serde_json::from_str::<LineUri>("\"+14255550100\"").is_err());
    }
}
