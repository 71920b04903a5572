//! People: finding colleagues in the directory and keeping a contact list — UCWA's
//! `people` resource (`search`, `myContacts`, `myGroups`) — with no HTTP in it; the API's
//! `people.rs` and `contacts.rs` are thin handlers over it.
//!
//! | File | Concept |
//! |---|---|
//! | `normalize.rs` | folding text (case, diacritics) and phone numbers to comparable keys; parsing a query |
//! | `person.rs` | [`Person`], a user's public card |
//! | `index.rs` | [`SearchIndex`], the in-memory index and the exact > prefix > substring ranking |
//! | `directory.rs` | [`Directory`], the index kept fresh against the store's change counter |
//! | `contacts.rs` | [`Contacts`], contact lists and groups, their limits and errors |
//!
//! Search semantics, the API and the limits are described for users in `docs/people.md`.

pub mod contacts;
pub mod directory;
pub mod index;
pub mod normalize;
pub mod person;

pub use contacts::{Contact, ContactList, ContactUri, Contacts, ContactsError, GroupId};
pub use directory::{Directory, CHECK_INTERVAL};
pub use index::{Hit, MatchKind, SearchIndex, SearchPage};
pub use normalize::{Query, QueryError};
pub use person::Person;
