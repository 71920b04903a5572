//! What clients see of conversations and messages (serialised as the API's JSON and the
//! events' `data`), and how it is built from the store's rows.

use serde::Serialize;

use crate::cli::rfc3339::format_ms;
use crate::store::{ConversationRow, MessageRow, ParticipantRow};

/// How a message's text is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain text (clients escape it).
    Plain,
    /// HTML, sanitised by the server.
    Html,
}

impl Format {
    /// Parses `plain` or `html`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "plain" => Some(Format::Plain),
            "html" => Some(Format::Html),
            _ => None,
        }
    }

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::Html => "html",
        }
    }
}

/// A participant as clients see them.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ParticipantView {
    /// SIP URI.
    pub uri: String,
    /// Name.
    pub name: String,
    /// `joined` or `left`.
    #[schema(value_type = String)]
    pub state: &'static str,
}

/// A conversation as clients see it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ConversationView {
    /// Its id.
    pub id: String,
    /// Its subject (may be empty).
    pub subject: String,
    /// Who started it.
    pub created_by: String,
    /// When (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Everyone in it, and who left.
    pub participants: Vec<ParticipantView>,
    /// The Call Via Work calls linked to it, oldest first.
    pub calls: Vec<String>,
    /// Where to read and post messages.
    pub messages_href: String,
}

impl ConversationView {
    /// Builds the view.
    pub fn new(c: &ConversationRow, people: &[ParticipantRow], calls: Vec<String>) -> Self {
        ConversationView {
            messages_href: format!("/api/v1/conversations/{}/messages", c.id),
            id: c.id.clone(),
            subject: c.subject.clone(),
            created_by: c.created_by.clone(),
            created_at: format_ms(c.created_at),
            updated_at: format_ms(c.updated_at),
            participants: people
                .iter()
                .map(|p| ParticipantView {
                    uri: p.sip_uri.clone(),
                    name: p.display_name.clone(),
                    state: if p.left_at.is_some() {
                        "left"
                    } else {
                        "joined"
                    },
                })
                .collect(),
            calls,
        }
    }
}

/// A file sent in a conversation.
#[derive(Debug, Clone, Serialize, PartialEq, serde::Deserialize, utoipa::ToSchema)]
pub struct FileView {
    /// Its id.
    #[serde(default)]
    pub id: String,
    /// File name.
    pub name: String,
    /// Length in bytes.
    pub size: i64,
    /// Media type.
    pub content_type: String,
    /// Where to download it.
    #[serde(default)]
    pub href: String,
}

/// A message as clients see it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct MessageView {
    /// Its id (increasing within the server).
    pub id: i64,
    /// Its conversation.
    pub conversation_id: String,
    /// Who wrote it (SIP URI).
    pub from: String,
    /// `plain`, `html` or `file`.
    pub format: String,
    /// The text (for a file, its name).
    pub text: String,
    /// The file, for `file` messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileView>,
    /// When it was sent (RFC 3339).
    pub time: String,
}

impl MessageView {
    /// Builds the view of a stored message.
    pub fn new(m: &MessageRow) -> MessageView {
        let file = (m.format == "file")
            .then(|| serde_json::from_str::<FileView>(&m.body).ok())
            .flatten()
            .map(|mut f| {
                if let Some(blob) = &m.blob_id {
                    f.href = format!("/api/v1/conversations/{}/files/{blob}", m.conversation_id);
                    f.id = blob.clone();
                }
                f
            });
        MessageView {
            id: m.id,
            conversation_id: m.conversation_id.clone(),
            from: m.sender_sip_uri.clone(),
            format: m.format.clone(),
            text: match &file {
                Some(f) => f.name.clone(),
                None => m.body.clone(),
            },
            file,
            time: format_ms(m.created_at),
        }
    }
}

/// Whether a message reached a recipient.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// Handed to at least one of their signed-in clients.
    Delivered,
    /// Kept until one of their clients signs in.
    Pending,
}

/// One recipient's delivery.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RecipientStatus {
    /// SIP URI.
    pub uri: String,
    /// Where the message is.
    pub status: Delivery,
}

/// A message just sent, with where it got to.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SentMessage {
    /// The message.
    #[serde(flatten)]
    pub message: MessageView,
    /// Each recipient's delivery.
    pub recipients: Vec<RecipientStatus>,
}
