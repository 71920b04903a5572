//! The `o=` line: who created the session and which version of its description this is.
//!
//! RFC 8866 §5.2: `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
//! The tuple of everything but the version identifies the session; RFC 3264 §8 requires the
//! version to grow by exactly one each time a party sends a changed description, and to stay
//! the same when it resends an unchanged one. [`crate::offer_answer::LocalSession`] keeps that
//! counter for our side.

use std::fmt;
use std::net::IpAddr;

use crate::line::{fields, number, LineValue, ValueError};

/// The origin (`o=`) of a session description.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The user's login on the originating host, `-` when there is none.
    pub username: String,
    /// Numeric session identifier, the same for every description of the session.
    pub session_id: u64,
    /// Version of this description; grows by one on every change.
    pub session_version: u64,
    /// Network type, `IN` for the Internet.
    pub net_type: String,
    /// Address type, `IP4` or `IP6`.
    pub addr_type: String,
    /// Address (or host name) of the machine that created the session.
    pub address: String,
}

impl Origin {
    /// An origin on the Internet (`IN IP4`/`IN IP6`) for `address`.
    pub fn new(username: &str, session_id: u64, session_version: u64, address: IpAddr) -> Self {
        Origin {
            username: username.to_owned(),
            session_id,
            session_version,
            net_type: "IN".to_owned(),
            addr_type: addr_type(address).to_owned(),
            address: address.to_string(),
        }
    }

    /// Whether `other` describes the same session: every field equal except the version.
    pub fn is_same_session(&self, other: &Origin) -> bool {
        self.username == other.username
            && self.session_id == other.session_id
            && self.net_type == other.net_type
            && self.addr_type == other.addr_type
            && self.address == other.address
    }
}

/// `IP4` or `IP6`, the SDP address type of `address`.
pub(crate) fn addr_type(address: IpAddr) -> &'static str {
    match address {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.net_type,
            self.addr_type,
            self.address
        )
    }
}

impl LineValue for Origin {
    fn kind(&self) -> char {
        'o'
    }

    fn read(_kind: char, text: &str) -> Result<Self, ValueError> {
        let [username, id, version, net_type, addr_type, address] = fields(text)[..] else {
            return Err(ValueError::Bad(format!(
                "expected 6 fields (username sess-id sess-version nettype addrtype address), found {}",
                fields(text).len()
            )));
        };
        Ok(Origin {
            username: username.to_owned(),
            session_id: number(id, "sess-id")?,
            session_version: number(version, "sess-version")?,
            net_type: net_type.to_owned(),
            addr_type: addr_type.to_owned(),
            address: address.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::Line;

    #[test]
    fn reads_and_prints_an_origin() {
        let line = Line::<Origin>::read('o', "- 1445454010 1445454011 IN IP4 192.0.2.7").unwrap();
        let o = line.value();
        assert_eq!(o.username, "-");
        assert_eq!(o.session_id, 1_445_454_010);
        assert_eq!(o.session_version, 1_445_454_011);
        assert_eq!((o.net_type.as_str(), o.addr_type.as_str()), ("IN", "IP4"));
        assert_eq!(o.address, "192.0.2.7");
        assert_eq!(o.to_string(), "- 1445454010 1445454011 IN IP4 192.0.2.7");
    }

    #[test]
    fn rejects_missing_fields_and_bad_numbers() {
        assert!(Origin::read('o', "- 1 2 IN IP4").is_err());
        let err = Origin::read('o', "- 1 x IN IP4 a").unwrap_err();
        assert_eq!(
            err,
            ValueError::Bad("sess-version \"x\" is not a number".into())
        );
        assert!(Origin::read('o', "- 99999999999999999999 1 IN IP4 a").is_err());
    }

    #[test]
    fn refuses_a_username_with_a_space() {
        let o = Origin::new("a b", 1, 1, "192.0.2.1".parse().unwrap());
        assert!(Line::new(o).is_err());
    }

    #[test]
    fn same_session_ignores_the_version() {
        let a = Origin::new("-", 7, 1, "192.0.2.1".parse().unwrap());
        let mut b = a.clone();
        b.session_version = 2;
        assert!(a.is_same_session(&b));
        b.session_id = 8;
        assert!(!a.is_same_session(&b));
    }
}
