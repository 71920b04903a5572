//! [`PolicyIdentity`]: which Call Via Work policy an operation is about, in Skype's
//! `XdsIdentity` form: `Global`, `Site:Redmond` or `Tag:Sales`.
//!
//! Skype has three scopes: the one global policy, one per topology site, and per-user
//! policies (`Tag:`) that are granted to users. Identities are parsed case-insensitively
//! (`global`, `site:Redmond`, `TAG:Sales`) and printed in Skype's spelling (`Global`,
//! `Site:Redmond`, `Tag:Sales`), keeping the name as typed. Two identities whose names
//! differ only in case are the same policy, as in Skype; [`PolicyIdentity::key`] gives the
//! folded form a store can use as a unique key.
//!
//! A [`PolicyName`] is 1–256 characters of letters (any script), digits, space, `-`, `_`
//! and `.`; surrounding spaces are trimmed.
//!
//! Granting takes a bare name too, as `Grant-CsCallViaWorkPolicy -PolicyName` does:
//! [`PolicyName::parse_grant`] accepts `Sales` or `Tag:Sales`.

use super::error::{preview, DomainError, ShowChar};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

const FIELD: &str = "identity";

/// The name of a site or per-user (tag) policy, as typed; compared case-insensitively.
#[derive(Debug, Clone)]
pub struct PolicyName {
    /// As typed (trimmed).
    name: String,
    /// Lower-cased, for comparisons.
    folded: String,
}

impl PolicyName {
    /// The longest name accepted, in characters.
    pub const MAX_CHARS: usize = 256;

    /// Checks a bare name (`Sales`, `Redmond HQ`), for errors in `field`.
    pub fn parse_field(field: &'static str, s: &str) -> Result<PolicyName, DomainError> {
        if s.len() > Self::MAX_CHARS * 4 {
            return Err(DomainError::TooLong {
                field,
                max: Self::MAX_CHARS,
            });
        }
        let name = s.trim();
        if name.is_empty() {
            return Err(DomainError::invalid(field, "the policy name is empty"));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::TooLong {
                field,
                max: Self::MAX_CHARS,
            });
        }
        if let Some(c) = name
            .chars()
            .find(|&c| !(c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.')))
        {
            return Err(DomainError::invalid(
                field,
                format!(
                    "the policy name {:?} contains {}; allowed are letters, digits, space, \
                     '-', '_' and '.'",
                    preview(name),
                    ShowChar(c)
                ),
            ));
        }
        Ok(PolicyName {
            name: name.to_owned(),
            folded: name.to_lowercase(),
        })
    }

    /// Reads the `PolicyName` of a grant: `Tag:Sales` or the bare `Sales` (errors in field
    /// `policyName`). Global and site policies cannot be granted: they apply by scope.
    pub fn parse_grant(s: &str) -> Result<PolicyName, DomainError> {
        const GRANT: &str = "policyName";
        match s.parse::<PolicyIdentity>() {
            Ok(PolicyIdentity::Tag(name)) => Ok(name),
            Ok(other) => Err(DomainError::invalid(
                GRANT,
                format!("{other} applies by scope and cannot be granted; grant a Tag: policy"),
            )),
            Err(_) if !s.contains(':') => PolicyName::parse_field(GRANT, s),
            Err(e) => Err(e.in_field(GRANT)),
        }
    }

    /// The name as typed.
    pub fn as_str(&self) -> &str {
        &self.name
    }
}

impl PartialEq for PolicyName {
    fn eq(&self, other: &Self) -> bool {
        self.folded == other.folded
    }
}

impl Eq for PolicyName {}

impl Hash for PolicyName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.folded.hash(state);
    }
}

impl PartialOrd for PolicyName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PolicyName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.folded.cmp(&other.folded)
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Which policy: the global one, a site's, or a per-user (tag) policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PolicyIdentity {
    /// `Global`: always exists, applies when nothing narrower does.
    Global,
    /// `Site:<name>`: applies to the users homed on that site.
    Site(PolicyName),
    /// `Tag:<name>`: a per-user policy, applies to the users it is granted to.
    Tag(PolicyName),
}

impl PolicyIdentity {
    /// The scope word: `Global`, `Site` or `Tag`.
    pub fn scope(&self) -> &'static str {
        match self {
            PolicyIdentity::Global => "Global",
            PolicyIdentity::Site(_) => "Site",
            PolicyIdentity::Tag(_) => "Tag",
        }
    }

    /// The name of a site or tag policy.
    pub fn name(&self) -> Option<&PolicyName> {
        match self {
            PolicyIdentity::Global => None,
            PolicyIdentity::Site(n) | PolicyIdentity::Tag(n) => Some(n),
        }
    }

    /// The case-folded identity (`global`, `site:redmond`, `tag:sales`): equal for equal
    /// identities, for a store's unique key.
    pub fn key(&self) -> String {
        match self {
            PolicyIdentity::Global => "global".to_owned(),
            PolicyIdentity::Site(n) => format!("site:{}", n.folded),
            PolicyIdentity::Tag(n) => format!("tag:{}", n.folded),
        }
    }
}

/// Errors name field `identity`.
impl FromStr for PolicyIdentity {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() {
            return Err(DomainError::Required { field: FIELD });
        }
        if t.eq_ignore_ascii_case("global") {
            return Ok(PolicyIdentity::Global);
        }
        let bad_form = || {
            DomainError::invalid(
                FIELD,
                format!(
                    "{:?} is not a policy identity: use Global, Site:<name> or Tag:<name>",
                    preview(t)
                ),
            )
        };
        let Some((scope, name)) = t.split_once(':') else {
            return Err(bad_form());
        };
        if scope.eq_ignore_ascii_case("site") {
            PolicyName::parse_field(FIELD, name).map(PolicyIdentity::Site)
        } else if scope.eq_ignore_ascii_case("tag") {
            PolicyName::parse_field(FIELD, name).map(PolicyIdentity::Tag)
        } else {
            Err(bad_form())
        }
    }
}

impl TryFrom<String> for PolicyIdentity {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<PolicyIdentity> for String {
    fn from(p: PolicyIdentity) -> String {
        p.to_string()
    }
}

impl fmt::Display for PolicyIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyIdentity::Global => f.write_str("Global"),
            PolicyIdentity::Site(n) => write!(f, "Site:{n}"),
            PolicyIdentity::Tag(n) => write!(f, "Tag:{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> PolicyIdentity {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_three_scopes_case_insensitively() {
        assert_eq!(id("Global"), PolicyIdentity::Global);
        assert_eq!(id(" global "), PolicyIdentity::Global);
        let site = id("site:Redmond");
        assert_eq!(site.scope(), "Site");
        assert_eq!(site.to_string(), "Site:Redmond");
        let tag = id("TAG:Sales");
        assert_eq!(tag.to_string(), "Tag:Sales");
        assert_eq!(tag.name().map(PolicyName::as_str), Some("Sales"));
        assert_eq!(
            id("Tag: ContosoUser1CvWP ").to_string(),
            "Tag:ContosoUser1CvWP"
        );
    }

    #[test]
    fn names_differing_in_case_are_the_same_policy() {
        assert_eq!(id("Tag:Sales"), id("tag:SALES"));
        assert_eq!(id("Tag:Sales").key(), "tag:sales");
        assert_eq!(id("Site:Redmond").key(), "site:redmond");
        assert_eq!(id("Global").key(), "global");
        assert_ne!(id("Tag:Sales"), id("Site:Sales"));
        assert_eq!(id("Tag:Отдел").key(), "tag:отдел");
    }

    #[test]
    fn accepts_unicode_letters_digits_and_the_allowed_punctuation() {
        for s in [
            "Tag:Ventes Île-de-France",
            "Tag:Отдел_продаж.2",
            "Site:東京",
            "Tag:a",
        ] {
            assert_eq!(id(s).to_string(), s);
        }
        assert!(format!("Tag:{}", "é".repeat(256))
            .parse::<PolicyIdentity>()
            .is_ok());
    }

    #[test]
    fn refuses_bad_identities_saying_what_is_wrong() {
        for (input, says) in [
            ("Sales", "use Global, Site:<name> or Tag:<name>"),
            ("User:alice", "use Global, Site:<name> or Tag:<name>"),
            ("Global:x", "use Global, Site:<name> or Tag:<name>"),
            ("Tag:", "name is empty"),
            ("Site:   ", "name is empty"),
            ("Tag:Sales;DROP TABLE policies", "contains ';'"),
            ("Tag:a/b", "contains '/'"),
            ("Tag:a:b", "contains ':'"),
            ("Tag:tab\there", "contains U+0009"),
            ("Tag:x\u{202e}y", "contains U+202E"),
        ] {
            let e = input.parse::<PolicyIdentity>().unwrap_err();
            assert_eq!(e.field(), "identity", "{input:?}");
            assert!(e.to_string().contains(says), "{input:?}: {e}");
        }
        assert_eq!(
            "".parse::<PolicyIdentity>(),
            Err(DomainError::Required { field: "identity" })
        );
        let e = format!("Tag:{}", "a".repeat(10_240))
            .parse::<PolicyIdentity>()
            .unwrap_err();
        assert_eq!(
            e,
            DomainError::TooLong {
                field: "identity",
                max: 256
            }
        );
        assert!(format!("Tag:{}", "a".repeat(257))
            .parse::<PolicyIdentity>()
            .is_err());
    }

    #[test]
    fn grants_take_tag_names_bare_or_qualified() {
        assert_eq!(PolicyName::parse_grant("Sales").unwrap().as_str(), "Sales");
        assert_eq!(
            PolicyName::parse_grant("Tag:Sales").unwrap().as_str(),
            "Sales"
        );
        for bad in ["Global", "Site:Redmond", "x;y", "Tag:"] {
            let e = PolicyName::parse_grant(bad).unwrap_err();
            assert_eq!(e.field(), "policyName", "{bad:?}");
        }
        assert!(PolicyName::parse_grant("Global")
            .unwrap_err()
            .to_string()
            .contains("cannot be granted"));
    }

    #[test]
    fn serde_uses_the_identity_text() {
        let t = id("tag:Sales");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"Tag:Sales\"");
        assert_eq!(
            serde_json::from_str::<PolicyIdentity>("\"Global\"").unwrap(),
            PolicyIdentity::Global
        );
        assert!(serde_json::from_str::<PolicyIdentity>("\"Sales\"").is_err());
    }
}
