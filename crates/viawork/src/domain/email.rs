//! [`Email`]: a user's e-mail address, as shown on their contact card (`me.emails`).
//!
//! Deliberately lenient, as the directory is the source of truth and the server sends no
//! mail: one `@`, a local part of at most 64 characters without white space, control
//! characters or `<>()[],;:"\`, and a domain of dot-separated labels of letters (any
//! script), digits and `-`, lower-cased. At most 254 characters. Errors name field `email`.

use super::error::{preview, DomainError, ShowChar};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

const FIELD: &str = "email";

/// An e-mail address with a lower-cased domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Longest address accepted (RFC 5321's path limit less the brackets).
    pub const MAX_CHARS: usize = 254;

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Email {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > Self::MAX_CHARS * 4 || s.trim().chars().count() > Self::MAX_CHARS {
            return Err(DomainError::TooLong {
                field: FIELD,
                max: Self::MAX_CHARS,
            });
        }
        let s = s.trim();
        if s.is_empty() {
            return Err(DomainError::Required { field: FIELD });
        }
        let bad = || {
            DomainError::invalid(
                FIELD,
                format!(
                    "{:?} is not an e-mail address (for example alice@contoso.com)",
                    preview(s)
                ),
            )
        };
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        if local.is_empty() || local.chars().count() > 64 || domain.is_empty() {
            return Err(bad());
        }
        if let Some(c) = local
            .chars()
            .find(|&c| c.is_whitespace() || c.is_control() || "@<>()[],;:\"\\".contains(c))
        {
            return Err(DomainError::invalid(
                FIELD,
                format!("the part before @ contains {}", ShowChar(c)),
            ));
        }
        for label in domain.split('.') {
            let ok = !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-');
            if !ok {
                return Err(DomainError::invalid(
                    FIELD,
                    format!("the domain {:?} is not a domain name", preview(domain)),
                ));
            }
        }
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }
}

impl TryFrom<String> for Email {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_international_addresses() {
        assert_eq!(
            "Alice.Smith@Contoso.COM".parse::<Email>().unwrap().as_str(),
            "Alice.Smith@contoso.com"
        );
        assert!("o'brien+cvw@contoso.com".parse::<Email>().is_ok());
        assert!("дмитрий@пример.рф".parse::<Email>().is_ok());
    }

    #[test]
    fn refuses_what_is_not_an_address_naming_the_field() {
        for bad in [
            "alice",
            "@contoso.com",
            "alice@",
            "alice smith@contoso.com",
            "alice@contoso..com",
            "alice@-contoso.com",
            "x'; DROP TABLE users;--@contoso.com",
            "<alice@contoso.com>",
            "alice\n@contoso.com",
            "a\u{0}b@contoso.com",
        ] {
            let e = bad.parse::<Email>().unwrap_err();
            assert_eq!(e.field(), "email", "{bad:?}");
        }
        let e = format!("{}@contoso.com", "a".repeat(10_240))
            .parse::<Email>()
            .unwrap_err();
        assert!(matches!(e, DomainError::TooLong { field: "email", .. }));
    }
}
