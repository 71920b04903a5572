//! [`UserUri`]: a directory user's SIP address of record, `sip:alice@contoso.com`.
//!
//! The address identifies a user everywhere: it is unique in the directory, it is what a
//! phone registers and what the JSON API names people by. So it is kept in one canonical
//! form, and two spellings of the same address compare equal:
//!
//! - scheme `sip:` (typed in any case; `sips:` is refused, TLS is a transport choice);
//! - a user part of letters, digits and `-_.!~*'+` (no %-escapes, no `;`, `?`, `/`);
//! - a domain name (no IP literal), checked label by label;
//! - no password, port, parameters or headers: those belong to a contact, not an AoR;
//! - the whole address in ASCII lower case. RFC 3261 makes the user part case-sensitive,
//!   but Skype for Business treats SIP addresses case-insensitively (they are directory
//!   attributes), and so do we: `sip:Alice@Contoso.com` is `sip:alice@contoso.com`.
//!
//! The grammar is checked by [`sip::Uri::parse`], the same parser the SIP stack uses.

use super::error::{preview, DomainError, ShowChar};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A user's SIP address of record, canonical (`sip:alice@contoso.com`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserUri {
    /// `sip:user@domain`, lower case.
    text: String,
    /// Index of the `@` in `text`.
    at: usize,
}

impl UserUri {
    const FIELD: &'static str = "sipUri";
    /// Longest address accepted.
    pub const MAX_LEN: usize = 256;

    /// The user part (`alice`). It is also the digest username of the user's SIP
    /// credentials (see [`super::SipCredentials`]).
    pub fn user(&self) -> &str {
        &self.text[4..self.at]
    }

    /// The domain (`contoso.com`).
    pub fn domain(&self) -> &str {
        &self.text[self.at + 1..]
    }

    /// The address (`sip:alice@contoso.com`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The address as a URI for SIP messages.
    pub fn to_uri_buf(&self) -> sip::UriBuf {
        // Validated by the same parser at construction.
        sip::UriBuf::from(sip::Uri::Sip(sip::SipUri {
            secure: false,
            user: Some(self.user()),
            password: None,
            host: sip::Host::Domain(self.domain()),
            port: None,
            params: sip::Params::default(),
            headers: None,
        }))
    }
}

fn invalid(message: impl Into<String>) -> DomainError {
    DomainError::invalid(UserUri::FIELD, message)
}

/// Checks a domain name label by label (RFC 1035 §2.3.1, digits allowed first).
fn check_domain(d: &str) -> Result<(), DomainError> {
    if d.len() > 253 {
        return Err(invalid("the domain is longer than 253 characters"));
    }
    for label in d.split('.') {
        if label.is_empty() {
            return Err(invalid(format!(
                "the domain {:?} has an empty label",
                preview(d)
            )));
        }
        if label.len() > 63 {
            return Err(invalid("a domain label is longer than 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid(format!(
                "the domain label {:?} starts or ends with '-'",
                preview(label)
            )));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(invalid(format!(
                "the domain {:?} contains {}",
                preview(d),
                ShowChar(c)
            )));
        }
    }
    Ok(())
}

/// Errors name field `sipUri`.
impl FromStr for UserUri {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let field = UserUri::FIELD;
        if s.len() > UserUri::MAX_LEN {
            return Err(DomainError::TooLong {
                field,
                max: UserUri::MAX_LEN,
            });
        }
        let s = s.trim();
        if s.is_empty() {
            return Err(DomainError::Required { field });
        }
        let scheme = s.get(..4).unwrap_or("");
        if !scheme.eq_ignore_ascii_case("sip:") {
            let hint = if s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("sips:")) {
                "an address of record uses sip:, not sips:"
            } else {
                "must start with sip: (for example sip:alice@contoso.com)"
            };
            return Err(invalid(format!("{:?}: {hint}", preview(s))));
        }
        let uri = match sip::Uri::parse(s) {
            Ok(sip::Uri::Sip(u)) => u,
            Ok(_) => return Err(invalid("is not a SIP URI")),
            Err(e) => {
                return Err(invalid(format!(
                    "{:?} is not a valid SIP URI ({})",
                    preview(s),
                    e.0
                )))
            }
        };
        let Some(user) = uri.user else {
            return Err(invalid(
                "has no user part (for example sip:alice@contoso.com)",
            ));
        };
        if uri.password.is_some() {
            return Err(invalid("must not contain a password"));
        }
        if uri.port.is_some() {
            return Err(invalid("must not contain a port"));
        }
        if !uri.params.is_empty() {
            return Err(invalid("must not contain parameters (;...)"));
        }
        if uri.headers.is_some() {
            return Err(invalid("must not contain headers (?...)"));
        }
        let domain = match uri.host {
            sip::Host::Domain(d) => d,
            _ => return Err(invalid("the host must be a domain name, not an IP address")),
        };
        if let Some(c) = user
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_.!~*'+".contains(*c)))
        {
            return Err(invalid(format!(
                "the user part contains {}; allowed are letters, digits and -_.!~*'+",
                ShowChar(c)
            )));
        }
        check_domain(domain)?;
        let text = format!("sip:{user}@{domain}").to_ascii_lowercase();
        let at = 4 + user.len();
        Ok(UserUri { text, at })
    }
}

impl TryFrom<String> for UserUri {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<UserUri> for String {
    fn from(u: UserUri) -> String {
        u.text
    }
}

impl fmt::Display for UserUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_address_of_record() {
        let u: UserUri = "sip:alice@contoso.com".parse().unwrap();
        assert_eq!(u.user(), "alice");
        assert_eq!(u.domain(), "contoso.com");
        assert_eq!(u.as_str(), "sip:alice@contoso.com");
        assert_eq!(u.to_string().parse::<UserUri>().unwrap(), u);
        assert_eq!(u.to_uri_buf().as_str(), "sip:alice@contoso.com");
        let u: UserUri = "sip:first.last+cvw@eu.contoso.com".parse().unwrap();
        assert_eq!(u.user(), "first.last+cvw");
        assert!("sip:o'brien@contoso.com".parse::<UserUri>().is_ok());
    }

    #[test]
    fn canonicalises_case_so_spellings_compare_equal() {
        let a: UserUri = " SIP:Alice@Contoso.COM ".parse().unwrap();
        assert_eq!(a.as_str(), "sip:alice@contoso.com");
        assert_eq!(a, "sip:alice@contoso.com".parse().unwrap());
    }

    #[test]
    fn refuses_what_is_not_an_address_of_record() {
        for (input, says) in [
            ("alice@contoso.com", "must start with sip:"),
            ("tel:+14255550101", "must start with sip:"),
            ("sips:alice@contoso.com", "not sips:"),
            ("sip:contoso.com", "no user part"),
            ("sip:alice:secret@contoso.com", "password"),
            ("sip:alice@contoso.com:5061", "port"),
            ("sip:alice@contoso.com;transport=tls", "parameters"),
            ("sip:alice@contoso.com?subject=x", "headers"),
            ("sip:alice@192.0.2.1", "IP address"),
            ("sip:alice@[2001:db8::1]", "IP address"),
            ("sip:al%41ice@contoso.com", "'%'"),
            ("sip:a;b@contoso.com", "';'"),
            ("sip:alice@contoso..com", "empty label"),
            ("sip:alice@-contoso.com", "not a valid SIP URI"),
            ("sip:alice@contoso-.com", "starts or ends with '-'"),
            ("sip:alice@cont_oso.com", "'_'"),
            ("sip:alice bob@contoso.com", "not a valid SIP URI"),
            ("<sip:alice@contoso.com>", "must start with sip:"),
            (
                "sip:x'; DROP TABLE users;--@contoso.com",
                "not a valid SIP URI",
            ),
            ("sip:Дмитрий@contoso.com", "not a valid SIP URI"),
        ] {
            let e = input.parse::<UserUri>().unwrap_err();
            assert_eq!(e.field(), "sipUri", "{input:?}");
            assert!(e.to_string().contains(says), "{input:?}: {e}");
        }
    }

    #[test]
    fn refuses_ten_kilobytes_naming_the_field() {
        let e = format!("sip:{}@contoso.com", "a".repeat(10_240))
            .parse::<UserUri>()
            .unwrap_err();
        assert_eq!(
            e,
            DomainError::TooLong {
                field: "sipUri",
                max: 256
            }
        );
    }

    #[test]
    fn serde_uses_the_canonical_text() {
        let u: UserUri = "sip:Bob@Contoso.com".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            "\"sip:bob@contoso.com\""
        );
        let back: UserUri = serde_json::from_str("\"sip:BOB@contoso.com\"").unwrap();
        assert_eq!(back, u);
        assert!(serde_json::from_str::<UserUri>("\"bob@contoso.com\"").is_err());
    }
}
