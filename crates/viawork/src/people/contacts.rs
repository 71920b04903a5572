//! [`Contacts`]: a user's contact list and contact groups (UCWA `myContacts` / `myGroups`),
//! with the rules the API needs and no HTTP.
//!
//! - A contact is a directory user, named by SIP URI, or an outside phone number, named by
//!   a `tel:` URI of an E.164 number (with an optional name the owner gives it). The same
//!   person or number is on a list once ([`ContactsError::Duplicate`]).
//! - A contact may be in any number of the owner's groups. A contact in none is shown in the
//!   default group **Other Contacts** ([`OTHER_CONTACTS_ID`]), which always exists, cannot be
//!   renamed, removed or named by another group, and holds exactly the ungrouped contacts
//!   (putting a contact "in" it means taking it out of every other group).
//! - Removing a group keeps its contacts on the list; removing a contact takes it out of its
//!   groups. A removed directory user leaves every list (the store cascades).
//! - Limits, as Skype for Business Server sets them by default: at most
//!   [`MAX_CONTACTS`] (1,000) contacts per user — `MaxContacts` of
//!   `CsUserServicesConfiguration`, which also caps the Exchange unified contact store — and
//!   at most [`MAX_GROUPS`] (64) groups of [`MAX_GROUP_NAME`] characters.
//!
//! Directory users that are disabled stay on lists (an administrator may enable them
//! again). Cards are taken from the search index, or read from the store for a user the
//! index does not hold (just created, or disabled).

use std::sync::Arc;

use crate::domain::{DomainError, E164};
use crate::store::{ContactGroupRow, ContactRow, ContactTarget, Store, StoreError, UserRow};

use super::directory::Directory;
use super::person::Person;

/// The most contacts a user may have.
pub const MAX_CONTACTS: i64 = 1_000;

/// The most groups a user may have (Other Contacts not counted).
pub const MAX_GROUPS: usize = 64;

/// The longest group name, in characters.
pub const MAX_GROUP_NAME: usize = 64;

/// The longest name of a phone contact, in characters.
pub const MAX_CONTACT_NAME: usize = 256;

/// The id of the default group.
pub const OTHER_CONTACTS_ID: &str = "other";

/// The name of the default group.
pub const OTHER_CONTACTS_NAME: &str = "Other Contacts";

/// Why a contact-list operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ContactsError {
    /// A bad value in a request field.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// No directory user has this SIP URI.
    #[error("no user {0} in the directory")]
    UnknownUser(String),
    /// Not on the owner's list.
    #[error("{0} is not in the contact list")]
    UnknownContact(String),
    /// Not one of the owner's groups; `field` is the request member that named it, if any.
    #[error("no contact group {id}")]
    UnknownGroup {
        /// The id, or the ids asked for.
        id: String,
        /// `groups` when the body named it.
        field: Option<&'static str>,
    },
    /// The contact is not in that group.
    #[error("the contact is not in that group")]
    NotInGroup,
    /// Already on the list.
    #[error("{0} is already in the contact list")]
    Duplicate(String),
    /// The owner already has a group of this name.
    #[error("there is already a group named {0:?}")]
    DuplicateGroup(String),
    /// The default group cannot be changed this way.
    #[error("Other Contacts is the default group; it cannot be renamed or removed")]
    DefaultGroup,
    /// A limit is reached.
    #[error("{what} limit of {max} reached")]
    Limit {
        /// `contacts` or `groups`.
        what: &'static str,
        /// The limit.
        max: i64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl ContactsError {
    /// The request field at fault, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ContactsError::Invalid { field, .. } => Some(field),
            ContactsError::UnknownUser(_) | ContactsError::Duplicate(_) => Some("uri"),
            ContactsError::DuplicateGroup(_) => Some("name"),
            ContactsError::UnknownGroup { field, .. } => *field,
            _ => None,
        }
    }
}

impl From<StoreError> for ContactsError {
    fn from(e: StoreError) -> Self {
        ContactsError::Store(e)
    }
}

impl From<DomainError> for ContactsError {
    fn from(e: DomainError) -> Self {
        ContactsError::Invalid {
            field: e.field(),
            message: e.message(),
        }
    }
}

/// A group id as the API has it: a number, or [`OTHER_CONTACTS_ID`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupId {
    /// The default group.
    Other,
    /// One of the owner's groups.
    Id(i64),
}

impl GroupId {
    /// Parses `other` or a decimal id, naming `field` on failure.
    pub fn parse(field: &'static str, s: &str) -> Result<GroupId, ContactsError> {
        if s == OTHER_CONTACTS_ID {
            return Ok(GroupId::Other);
        }
        match s.parse::<i64>() {
            Ok(id) if id > 0 && !s.starts_with('+') => Ok(GroupId::Id(id)),
            _ => Err(ContactsError::Invalid {
                field,
                message: format!("{:?} is not a group id", preview(s)),
            }),
        }
    }
}

impl std::fmt::Display for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupId::Other => f.write_str(OTHER_CONTACTS_ID),
            GroupId::Id(id) => write!(f, "{id}"),
        }
    }
}

/// A contact's URI, parsed: who it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactUri {
    /// A directory user's SIP URI (canonical, lower case).
    Sip(crate::domain::UserUri),
    /// An outside number (`tel:+14255550199`).
    Tel(E164),
}

impl ContactUri {
    /// Parses `sip:...` or `tel:+...`, naming `field` on failure.
    pub fn parse(field: &'static str, s: &str) -> Result<ContactUri, ContactsError> {
        let t = s.trim();
        let scheme = t.get(..4).map(str::to_ascii_lowercase);
        match scheme.as_deref() {
            Some("tel:") => Ok(ContactUri::Tel(
                E164::parse_field(field, &t[4..]).map_err(|e| e.in_field(field))?,
            )),
            Some("sip:") => Ok(ContactUri::Sip(
                t.parse::<crate::domain::UserUri>()
                    .map_err(|e| e.in_field(field))?,
            )),
            _ => Err(ContactsError::Invalid {
                field,
                message: "must be a sip: URI of a directory user or a tel: URI of an E.164 \
                          number (tel:+14255550101)"
                    .into(),
            }),
        }
    }

    /// The canonical form, as stored and listed.
    pub fn as_string(&self) -> String {
        match self {
            ContactUri::Sip(u) => u.as_str().to_owned(),
            ContactUri::Tel(n) => format!("tel:{}", n.as_str()),
        }
    }
}

/// A contact with what the list shows about it.
#[derive(Debug, Clone)]
pub struct Contact {
    /// The stored row (uri, groups).
    pub row: ContactRow,
    /// The directory card, for a user contact.
    pub person: Option<Person>,
}

/// A contact list and its groups.
#[derive(Debug, Clone)]
pub struct ContactList {
    /// The contacts, oldest first.
    pub contacts: Vec<Contact>,
    /// The owner's groups, oldest first (Other Contacts not included).
    pub groups: Vec<ContactGroupRow>,
}

/// The contact-list service.
#[derive(Clone)]
pub struct Contacts {
    store: Arc<dyn Store>,
    directory: Arc<Directory>,
}

impl std::fmt::Debug for Contacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contacts").finish_non_exhaustive()
    }
}

impl Contacts {
    /// The service over `store`, showing cards from `directory`.
    pub fn new(store: Arc<dyn Store>, directory: Arc<Directory>) -> Contacts {
        Contacts { store, directory }
    }

    /// The list of `owner` with its groups and each user contact's card.
    pub async fn list(&self, owner: i64) -> Result<ContactList, ContactsError> {
        let rows = self.store.list_contacts(owner).await?;
        let groups = self.store.list_contact_groups(owner).await?;
        // Cards come from the search index (no read per contact); a user it does not have
        // yet (created within the freshness bound) or any more (disabled) is read.
        let index = self.directory.index().await?;
        let mut contacts = Vec::with_capacity(rows.len());
        for row in rows {
            let person = match row.user_id {
                None => None,
                Some(id) => match index.get(&row.uri) {
                    Some(p) if p.id == id => Some(Person::clone(p)),
                    _ => self.store.get_user(id).await?.map(Person::from),
                },
            };
            contacts.push(Contact { row, person });
        }
        Ok(ContactList { contacts, groups })
    }

    /// Adds `uri` to the list of `owner`, in `groups` (none, or only Other Contacts: the
    /// default group). `name` is for phone contacts only.
    pub async fn add(
        &self,
        owner: i64,
        uri: &str,
        groups: &[GroupId],
        name: Option<&str>,
    ) -> Result<Contact, ContactsError> {
        let uri = ContactUri::parse("uri", uri)?;
        let group_ids: Vec<i64> = groups
            .iter()
            .filter_map(|g| match g {
                GroupId::Id(id) => Some(*id),
                GroupId::Other => None,
            })
            .collect();
        if groups.contains(&GroupId::Other) && !group_ids.is_empty() {
            return Err(ContactsError::Invalid {
                field: "groups",
                message: "Other Contacts holds the contacts in no other group: name it alone \
                          or not at all"
                    .into(),
            });
        }
        let name = name.map(str::trim).unwrap_or("");
        if name.chars().count() > MAX_CONTACT_NAME {
            return Err(ContactsError::Invalid {
                field: "name",
                message: format!("is longer than {MAX_CONTACT_NAME} characters"),
            });
        }
        if name.chars().any(char::is_control) {
            return Err(ContactsError::Invalid {
                field: "name",
                message: "contains a control character".into(),
            });
        }
        let (target, person) = match &uri {
            ContactUri::Sip(sip) => {
                if !name.is_empty() {
                    return Err(ContactsError::Invalid {
                        field: "name",
                        message: "a directory user's name comes from the directory; name only \
                                  phone contacts"
                            .into(),
                    });
                }
                let user: UserRow = self
                    .store
                    .get_user_by_sip_uri(sip.as_str())
                    .await?
                    .ok_or_else(|| ContactsError::UnknownUser(sip.as_str().to_owned()))?;
                if user.id == owner {
                    return Err(ContactsError::Invalid {
                        field: "uri",
                        message: "you cannot add yourself to your contact list".into(),
                    });
                }
                (ContactTarget::User(user.id), Some(Person::from(user)))
            }
            ContactUri::Tel(_) => (ContactTarget::Phone(uri.as_string()), None),
        };
        if self.store.count_contacts(owner).await? >= MAX_CONTACTS {
            return Err(ContactsError::Limit {
                what: "contacts",
                max: MAX_CONTACTS,
            });
        }
        let row = self
            .store
            .add_contact(owner, &target, name, &group_ids)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => ContactsError::Duplicate(uri.as_string()),
                StoreError::NotFound { what: "group" } => ContactsError::UnknownGroup {
                    id: format!(
                        "among {}",
                        group_ids
                            .iter()
                            .map(i64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    field: Some("groups"),
                },
                StoreError::NotFound { what: "user" } => {
                    ContactsError::UnknownUser(uri.as_string())
                }
                e => ContactsError::Store(e),
            })?;
        Ok(Contact { row, person })
    }

    /// Removes `uri` from the list of `owner`.
    pub async fn remove(&self, owner: i64, uri: &str) -> Result<(), ContactsError> {
        let uri = ContactUri::parse("uri", uri)?.as_string();
        self.store
            .remove_contact(owner, &uri)
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => ContactsError::UnknownContact(uri),
                e => ContactsError::Store(e),
            })
    }

    /// The groups of `owner`.
    pub async fn groups(&self, owner: i64) -> Result<Vec<ContactGroupRow>, ContactsError> {
        Ok(self.store.list_contact_groups(owner).await?)
    }

    /// Creates a group named `name`.
    pub async fn create_group(
        &self,
        owner: i64,
        name: &str,
    ) -> Result<ContactGroupRow, ContactsError> {
        let name = group_name(name)?;
        if self.store.list_contact_groups(owner).await?.len() >= MAX_GROUPS {
            return Err(ContactsError::Limit {
                what: "groups",
                max: MAX_GROUPS as i64,
            });
        }
        self.store
            .create_contact_group(owner, &name)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => ContactsError::DuplicateGroup(name.clone()),
                e => ContactsError::Store(e),
            })
    }

    /// Renames the group `id`.
    pub async fn rename_group(
        &self,
        owner: i64,
        id: GroupId,
        name: &str,
    ) -> Result<ContactGroupRow, ContactsError> {
        let GroupId::Id(id) = id else {
            return Err(ContactsError::DefaultGroup);
        };
        let name = group_name(name)?;
        self.store
            .rename_contact_group(owner, id, &name)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => ContactsError::DuplicateGroup(name.clone()),
                StoreError::NotFound { .. } => ContactsError::UnknownGroup {
                    id: id.to_string(),
                    field: None,
                },
                e => ContactsError::Store(e),
            })
    }

    /// Removes the group `id` (its contacts stay).
    pub async fn remove_group(&self, owner: i64, id: GroupId) -> Result<(), ContactsError> {
        let GroupId::Id(id) = id else {
            return Err(ContactsError::DefaultGroup);
        };
        self.store
            .remove_contact_group(owner, id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => ContactsError::UnknownGroup {
                    id: id.to_string(),
                    field: None,
                },
                e => ContactsError::Store(e),
            })
    }

    /// Puts the contact `uri` in the group `id`. Into Other Contacts means out of every
    /// other group.
    pub async fn add_to_group(
        &self,
        owner: i64,
        id: GroupId,
        uri: &str,
    ) -> Result<(), ContactsError> {
        let uri = ContactUri::parse("uri", uri)?.as_string();
        match id {
            GroupId::Id(group) => self
                .store
                .add_contact_to_group(owner, group, &uri)
                .await
                .map_err(|e| membership_error(e, id, uri)),
            GroupId::Other => {
                let contact = self
                    .store
                    .list_contacts(owner)
                    .await?
                    .into_iter()
                    .find(|c| c.uri == uri)
                    .ok_or_else(|| ContactsError::UnknownContact(uri.clone()))?;
                for group in contact.groups {
                    match self
                        .store
                        .remove_contact_from_group(owner, group, &uri)
                        .await
                    {
                        // Removed meanwhile by another request: the outcome is the same.
                        Ok(()) | Err(StoreError::NotFound { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(())
            }
        }
    }

    /// Takes the contact `uri` out of the group `id` (it stays on the list).
    pub async fn remove_from_group(
        &self,
        owner: i64,
        id: GroupId,
        uri: &str,
    ) -> Result<(), ContactsError> {
        let GroupId::Id(group) = id else {
            return Err(ContactsError::DefaultGroup);
        };
        let uri = ContactUri::parse("uri", uri)?.as_string();
        self.store
            .remove_contact_from_group(owner, group, &uri)
            .await
            .map_err(|e| membership_error(e, id, uri))
    }
}

fn membership_error(e: StoreError, group: GroupId, uri: String) -> ContactsError {
    match e {
        StoreError::NotFound { what: "group" } => ContactsError::UnknownGroup {
            id: group.to_string(),
            field: None,
        },
        StoreError::NotFound { what: "contact" } => ContactsError::UnknownContact(uri),
        StoreError::NotFound { .. } => ContactsError::NotInGroup,
        e => ContactsError::Store(e),
    }
}

/// A group name, trimmed and checked.
fn group_name(name: &str) -> Result<String, ContactsError> {
    let name = name.trim();
    let invalid = |message: String| ContactsError::Invalid {
        field: "name",
        message,
    };
    if name.is_empty() {
        return Err(invalid("is required".into()));
    }
    if name.chars().count() > MAX_GROUP_NAME {
        return Err(invalid(format!(
            "is longer than {MAX_GROUP_NAME} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("contains a control character".into()));
    }
    if name.to_lowercase() == OTHER_CONTACTS_NAME.to_lowercase() {
        return Err(ContactsError::DuplicateGroup(name.to_owned()));
    }
    Ok(name.to_owned())
}

fn preview(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_uris_are_sip_users_or_e164_numbers() {
        assert_eq!(
            ContactUri::parse("uri", "sip:Bob@Example.com")
                .unwrap()
                .as_string(),
            "sip:bob@example.com"
        );
        assert_eq!(
            ContactUri::parse("uri", "TEL:+1 (425) 555-0199")
                .unwrap()
                .as_string(),
            "tel:+14255550199"
        );
        for bad in [
            "bob@example.com",
            "tel:4255550199",
            "sips:bob@example.com",
            "",
        ] {
            let e = ContactUri::parse("uri", bad).unwrap_err();
            assert_eq!(e.field(), Some("uri"), "{bad}");
        }
    }

    #[test]
    fn group_ids_are_positive_numbers_or_other() {
        assert_eq!(GroupId::parse("id", "other").unwrap(), GroupId::Other);
        assert_eq!(GroupId::parse("id", "12").unwrap(), GroupId::Id(12));
        for bad in ["0", "-1", "+3", "x", ""] {
            assert_eq!(GroupId::parse("id", bad).unwrap_err().field(), Some("id"));
        }
    }

    #[test]
    fn group_names_are_trimmed_bounded_and_not_the_default() {
        assert_eq!(group_name("  Team  ").unwrap(), "Team");
        assert_eq!(group_name(" ").unwrap_err().field(), Some("name"));
        assert_eq!(
            group_name(&"x".repeat(65)).unwrap_err().field(),
            Some("name")
        );
        assert!(group_name(&"é".repeat(64)).is_ok());
        assert!(matches!(
            group_name("other contacts"),
            Err(ContactsError::DuplicateGroup(_))
        ));
        assert!(group_name("a\u{7}b").is_err());
    }
}
