//! [`Extension`]: a private extension on the PBX, 1–15 digits (`101`, `5309`).
//!
//! Extensions appear in LineURIs after a DID (`tel:+14255550100;ext=101`) and as the
//! result of internal-extension dial plan rules (someone types `101`).

use super::error::{preview, DomainError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A PBX extension: 1 to [`Extension::MAX_DIGITS`] ASCII digits, leading zeros kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Extension(String);

impl Extension {
    /// The most digits an extension may have.
    pub const MAX_DIGITS: usize = 15;

    /// Parses an extension for `field`.
    pub fn parse_field(field: &'static str, s: &str) -> Result<Extension, DomainError> {
        if s.is_empty() {
            return Err(DomainError::Required { field });
        }
        if s.len() > Self::MAX_DIGITS {
            return Err(DomainError::TooLong {
                field,
                max: Self::MAX_DIGITS,
            });
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::invalid(
                field,
                format!("extension {:?} must be digits only", preview(s)),
            ));
        }
        Ok(Extension(s.to_owned()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Errors name field `extension`.
impl FromStr for Extension {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Extension::parse_field("extension", s)
    }
}

impl TryFrom<String> for Extension {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Extension> for String {
    fn from(e: Extension) -> String {
        e.0
    }
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_digits_and_keeps_leading_zeros() {
        assert_eq!("101".parse::<Extension>().unwrap().as_str(), "101");
        assert_eq!("0042".parse::<Extension>().unwrap().to_string(), "0042");
    }

    #[test]
    fn refuses_non_digits_empty_and_long() {
        assert!("10a".parse::<Extension>().is_err());
        assert!(" 101".parse::<Extension>().is_err());
        assert!("+101".parse::<Extension>().is_err());
        assert_eq!(
            "".parse::<Extension>(),
            Err(DomainError::Required { field: "extension" })
        );
        assert!(matches!(
            "1".repeat(16).parse::<Extension>(),
            Err(DomainError::TooLong { max: 15, .. })
        ));
    }
}
