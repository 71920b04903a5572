//! [`Role`]: what a directory user may do through the API: `user` (their own settings and
//! calls) or `admin` (the directory, policies, dial plans).

use super::error::{preview, DomainError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A user's role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An ordinary user.
    #[default]
    User,
    /// An administrator.
    Admin,
}

impl Role {
    /// `user` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

/// Case-insensitive; errors name field `role`.
impl FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            r if r.eq_ignore_ascii_case("user") => Ok(Role::User),
            r if r.eq_ignore_ascii_case("admin") => Ok(Role::Admin),
            r => Err(DomainError::invalid(
                "role",
                format!("{:?} is not a role: use user or admin", preview(r)),
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_two_roles() {
        assert_eq!("Admin".parse::<Role>().unwrap(), Role::Admin);
        assert_eq!(" user ".parse::<Role>().unwrap(), Role::User);
        assert_eq!(Role::Admin.to_string(), "admin");
        assert_eq!(Role::default(), Role::User);
        assert_eq!("root".parse::<Role>().unwrap_err().field(), "role");
        assert_eq!(serde_json::to_string(&Role::Admin).unwrap(), "\"admin\"");
    }
}
