//! [`Person`]: a directory user as others see them — the public part of a `UserRow`, without
//! hashes, role, policy or site — held in memory by the search index and answered by the
//! people API.

use crate::store::UserRow;

/// A directory user's public card.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    /// The store's id.
    pub id: i64,
    /// `sip:alice@example.com`, lower case.
    pub sip_uri: String,
    /// The name shown to others.
    pub display_name: String,
    /// Email address.
    pub email: String,
    /// Job title.
    pub title: String,
    /// Department.
    pub department: String,
    /// Office.
    pub office: String,
    /// Work phone number, as the directory has it.
    pub phone_work: String,
    /// Mobile phone number.
    pub phone_mobile: String,
    /// Home phone number.
    pub phone_home: String,
    /// Another phone number.
    pub phone_other: String,
    /// The user's PBX line (`tel:+14255550100;ext=101`), or empty.
    pub line_uri: String,
    /// A disabled user is neither found nor shown.
    pub enabled: bool,
}

impl From<UserRow> for Person {
    fn from(u: UserRow) -> Self {
        Person {
            id: u.id,
            sip_uri: u.sip_uri,
            display_name: u.display_name,
            email: u.email,
            title: u.title,
            department: u.department,
            office: u.office,
            phone_work: u.phone_work,
            phone_mobile: u.phone_mobile,
            phone_home: u.phone_home,
            phone_other: u.phone_other,
            line_uri: u.line_uri,
            enabled: u.enabled,
        }
    }
}

impl Person {
    /// The heap bytes this card holds (for the index's memory estimate).
    pub fn heap_bytes(&self) -> usize {
        [
            &self.sip_uri,
            &self.display_name,
            &self.email,
            &self.title,
            &self.department,
            &self.office,
            &self.phone_work,
            &self.phone_mobile,
            &self.phone_home,
            &self.phone_other,
            &self.line_uri,
        ]
        .iter()
        .map(|s| s.capacity())
        .sum()
    }
}
