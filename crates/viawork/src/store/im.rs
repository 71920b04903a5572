//! The rows of instant messaging: conversations, participants, messages and their delivery,
//! calls linked to conversations, and blobs (the files sent in conversations).
//!
//! As everywhere in the store, these are plain rows: the IM service (`crate::im`) validates,
//! sanitises and assigns ids before it writes. Times are unix milliseconds.

/// Longest conversation subject the store accepts, in bytes.
pub const SUBJECT_MAX: usize = 256;
/// At most this many messages per page of history.
pub const MESSAGES_MAX_LIMIT: u32 = 200;

/// A conversation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConversationRow {
    /// Random, URL-safe.
    pub id: String,
    /// May be empty.
    pub subject: String,
    /// The SIP URI of who started it.
    pub created_by: String,
    /// When it started.
    pub created_at: i64,
    /// When it last changed (a message, someone joining or leaving).
    pub updated_at: i64,
}

/// A participant of a conversation, with their directory identity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParticipantRow {
    /// The user.
    pub user_id: i64,
    /// Their SIP URI.
    pub sip_uri: String,
    /// Their name.
    pub display_name: String,
    /// When they (last) joined.
    pub joined_at: i64,
    /// When they left, if they have.
    pub left_at: Option<i64>,
}

/// A message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageRow {
    /// Assigned by the store, increasing.
    pub id: i64,
    /// Its conversation.
    pub conversation_id: String,
    /// Who wrote it.
    pub sender_sip_uri: String,
    /// `plain`, `html` (already sanitised) or `file` (then `body` is the file's JSON
    /// description and `blob_id` the file).
    pub format: String,
    /// The text.
    pub body: String,
    /// The file, for `file` messages (`None` once the file is removed).
    pub blob_id: Option<String>,
    /// When it was sent.
    pub created_at: i64,
}

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlobRow {
    /// Random, URL-safe.
    pub id: String,
    /// What it belongs to (`conversation:<id>`): who may read it is decided there.
    pub scope: String,
    /// Who stored it.
    pub owner_id: Option<i64>,
    /// Its file name.
    pub name: String,
    /// Its media type.
    pub content_type: String,
    /// Its length in bytes.
    pub size: i64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// The content (empty in listings that do not load it).
    pub data: Vec<u8>,
    /// When it was stored.
    pub created_at: i64,
}
