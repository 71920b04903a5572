//! [`ImService`]: the rules of conversations, for the API and (later) SIP MESSAGE.
//!
//! Who may do what: only participants who have not left post, type, add people, attach
//! files or add audio; anyone who ever took part reads history and files (a conversation
//! they never joined is "not found", so ids leak nothing). A 1:1 conversation stays 1:1
//! for its two people: posting to it brings back the other one if they had left. Adding
//! someone to a 1:1 turns it into a group conversation.

use std::sync::Arc;

use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::delivery::{self, Job};
use super::files::{FileError, ImConfig};
use super::html;
use super::model::{ConversationView, FileView, Format, MessageView, SentMessage};
use crate::events::EventHub;
use crate::store::model::hex;
use crate::store::{
    unix_now_ms, BlobRow, ConversationRow, MessageRow, ParticipantRow, Store, StoreError, UserRow,
};

/// Why an IM request is refused.
#[derive(Debug, thiserror::Error)]
pub enum ImError {
    /// No such conversation, or the user is not in it.
    #[error("no such conversation")]
    NoSuchConversation,
    /// No such file in the conversation.
    #[error("no such file")]
    NoSuchFile,
    /// A SIP URI that is no enabled directory user.
    #[error("{uri} is not a user of this server")]
    UnknownPerson {
        /// The field it came in.
        field: &'static str,
        /// The URI.
        uri: String,
    },
    /// A value out of bounds.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The user left the conversation (or must be in it for this).
    #[error("you are not in this conversation any more")]
    NotJoined,
    /// Audio needs exactly one other person in the conversation.
    #[error("add audio needs a conversation with exactly one other person in it")]
    NotOneToOne,
    /// A file refused by `[im]`.
    #[error(transparent)]
    File(#[from] FileError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The delivery task is gone (shutting down).
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// Conversations and messages. Cheap to clone.
#[derive(Clone)]
pub struct ImService {
    store: Arc<dyn Store>,
    hub: EventHub,
    config: Arc<ImConfig>,
    delivery: mpsc::Sender<Job>,
}

impl std::fmt::Debug for ImService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A random id: 16 bytes from the OS-seeded generator, as 32 hex digits.
fn new_id() -> String {
    hex(&rand::random::<[u8; 16]>())
}

impl ImService {
    /// Starts the service (and its delivery task) on the current tokio runtime; with `sip`,
    /// messages also go to the recipients' registered SIP clients.
    pub fn start(
        store: Arc<dyn Store>,
        hub: EventHub,
        config: ImConfig,
        sip: Option<super::SipIm>,
    ) -> ImService {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(delivery::run(
            store.clone(),
            hub.clone(),
            sip,
            rx,
            hub.watch_connections(),
        ));
        ImService {
            store,
            hub,
            config: Arc::new(config),
            delivery: tx,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The `[im]` settings.
    pub fn config(&self) -> &ImConfig {
        &self.config
    }

    /// Resolves SIP URIs to enabled directory users.
    async fn people(&self, field: &'static str, uris: &[String]) -> Result<Vec<UserRow>, ImError> {
        let mut out: Vec<UserRow> = Vec::with_capacity(uris.len());
        for uri in uris {
            let uri = uri.trim();
            let unknown = || ImError::UnknownPerson {
                field,
                uri: uri.to_owned(),
            };
            if uri.is_empty() || uri.len() > 256 || !uri.to_ascii_lowercase().starts_with("sip:") {
                return Err(unknown());
            }
            let user = self
                .store
                .get_user_by_sip_uri(&uri.to_lowercase())
                .await?
                .filter(|u| u.enabled)
                .ok_or_else(unknown)?;
            if !out.iter().any(|u| u.id == user.id) {
                out.push(user);
            }
        }
        Ok(out)
    }

    /// The conversation and its participants, if `me` ever took part in it.
    async fn load(
        &self,
        me: &UserRow,
        id: &str,
    ) -> Result<(ConversationRow, Vec<ParticipantRow>), ImError> {
        if id.is_empty() || id.len() > 64 {
            return Err(ImError::NoSuchConversation);
        }
        let conv = self
            .store
            .get_conversation(id)
            .await?
            .ok_or(ImError::NoSuchConversation)?;
        let people = self.store.list_participants(id).await?;
        if !people.iter().any(|p| p.user_id == me.id) {
            return Err(ImError::NoSuchConversation);
        }
        Ok((conv, people))
    }

    /// Like [`load`](Self::load), and `me` must not have left.
    async fn load_joined(
        &self,
        me: &UserRow,
        id: &str,
    ) -> Result<(ConversationRow, Vec<ParticipantRow>), ImError> {
        let (conv, people) = self.load(me, id).await?;
        if people
            .iter()
            .any(|p| p.user_id == me.id && p.left_at.is_some())
        {
            return Err(ImError::NotJoined);
        }
        Ok((conv, people))
    }

    async fn view(
        &self,
        conv: &ConversationRow,
        people: &[ParticipantRow],
    ) -> Result<ConversationView, ImError> {
        let calls = self.store.calls_of_conversation(&conv.id).await?;
        Ok(ConversationView::new(conv, people, calls))
    }

    /// Stores a new conversation started by `me` with these participants (`me` among
    /// them).
    async fn create(
        &self,
        me: &UserRow,
        subject: &str,
        participants: &[i64],
        now: i64,
    ) -> Result<ConversationRow, ImError> {
        Ok(self
            .store
            .create_conversation(
                &ConversationRow {
                    id: new_id(),
                    subject: subject.to_owned(),
                    created_by: me.sip_uri.clone(),
                    created_at: now,
                    updated_at: now,
                },
                participants,
            )
            .await?)
    }

    /// Tells everyone who is or was in it that the conversation changed.
    async fn announce(&self, id: &str) -> Result<ConversationView, ImError> {
        let conv = self
            .store
            .get_conversation(id)
            .await?
            .ok_or(ImError::NoSuchConversation)?;
        let people = self.store.list_participants(id).await?;
        let view = self.view(&conv, &people).await?;
        let data = json!({ "conversation": view });
        for p in &people {
            self.hub.publish(&p.sip_uri, "conversation.updated", &data);
        }
        Ok(view)
    }

    /// Starts a conversation from `me` with `to`, with an optional subject and first
    /// message.
    pub async fn start_conversation(
        &self,
        me: &UserRow,
        to: &[String],
        subject: Option<&str>,
        message: Option<(&str, Format)>,
    ) -> Result<(ConversationView, Option<SentMessage>), ImError> {
        if to.is_empty() {
            return Err(ImError::Invalid {
                field: "to",
                message: "name at least one person (SIP URI)".into(),
            });
        }
        if to.len() >= self.config.max_participants {
            return Err(ImError::Invalid {
                field: "to",
                message: format!(
                    "a conversation has at most {} participants",
                    self.config.max_participants
                ),
            });
        }
        let others = self.people("to", to).await?;
        if others.iter().any(|u| u.id == me.id) {
            return Err(ImError::Invalid {
                field: "to",
                message: "you cannot start a conversation with yourself".into(),
            });
        }
        let subject = subject.map(str::trim).unwrap_or("");
        if subject.len() > crate::store::im::SUBJECT_MAX || subject.chars().any(char::is_control) {
            return Err(ImError::Invalid {
                field: "subject",
                message: format!(
                    "at most {} bytes, no control characters",
                    crate::store::im::SUBJECT_MAX
                ),
            });
        }
        // Check the message before anything is created.
        let first = message
            .map(|(text, format)| self.prepare_text(text, format))
            .transpose()?;
        let now = unix_now_ms();
        let mut ids = vec![me.id];
        ids.extend(others.iter().map(|u| u.id));
        let conv = self.create(me, subject, &ids, now).await?;
        let view = self.announce(&conv.id).await?;
        let sent = match first {
            Some((body, format)) => Some(self.post(me, &conv.id, body, format, None).await?),
            None => None,
        };
        Ok((view, sent))
    }

    /// The 1:1 conversation of `me` with `other` to continue (the most recent one both are
    /// still in), started if there is none: where a SIP client's MESSAGE goes.
    pub async fn direct_conversation(
        &self,
        me: &UserRow,
        other: &UserRow,
    ) -> Result<String, ImError> {
        if let Some(c) = self.store.find_pair_conversation(me.id, other.id).await? {
            return Ok(c.id);
        }
        let (view, _) = self
            .start_conversation(me, std::slice::from_ref(&other.sip_uri), None, None)
            .await?;
        Ok(view.id)
    }

    /// The conversation, if `me` takes or took part.
    pub async fn get(&self, me: &UserRow, id: &str) -> Result<ConversationView, ImError> {
        let (conv, people) = self.load(me, id).await?;
        self.view(&conv, &people).await
    }

    /// `me`'s conversations, most recently active first.
    pub async fn list(&self, me: &UserRow, limit: u32) -> Result<Vec<ConversationView>, ImError> {
        let rows = self.store.list_user_conversations(me.id, limit).await?;
        let mut out = Vec::with_capacity(rows.len());
        for conv in &rows {
            let people = self.store.list_participants(&conv.id).await?;
            out.push(self.view(conv, &people).await?);
        }
        Ok(out)
    }

    /// Checks and cleans a message's text.
    fn prepare_text(&self, text: &str, format: Format) -> Result<(String, Format), ImError> {
        let body = match format {
            Format::Plain => text.to_owned(),
            Format::Html => html::sanitize(text),
        };
        if body.trim().is_empty() {
            return Err(ImError::Invalid {
                field: "text",
                message: "the message is empty".into(),
            });
        }
        if body.len() > self.config.max_message_bytes || body.contains('\0') {
            return Err(ImError::Invalid {
                field: "text",
                message: format!(
                    "at most {} bytes (after sanitising), no NUL characters",
                    self.config.max_message_bytes
                ),
            });
        }
        Ok((body, format))
    }

    /// Sends a text message from `me`.
    pub async fn send(
        &self,
        me: &UserRow,
        id: &str,
        text: &str,
        format: Format,
    ) -> Result<SentMessage, ImError> {
        let (body, format) = self.prepare_text(text, format)?;
        self.post(me, id, body, format, None).await
    }

    /// Stores a message (text or file) and hands it over.
    async fn post(
        &self,
        me: &UserRow,
        id: &str,
        body: String,
        format: Format,
        file: Option<String>,
    ) -> Result<SentMessage, ImError> {
        let (_, mut people) = self.load_joined(me, id).await?;
        let now = unix_now_ms();
        // A 1:1 conversation always has its two people: bring the other one back.
        if people.len() == 2 {
            if let Some(other) = people
                .iter_mut()
                .find(|p| p.user_id != me.id && p.left_at.is_some())
            {
                self.store
                    .set_participant(id, other.user_id, true, now)
                    .await?;
                other.left_at = None;
                self.announce(id).await?;
            }
        }
        let recipients: Vec<(i64, String)> = people
            .iter()
            .filter(|p| p.user_id != me.id && p.left_at.is_none())
            .map(|p| (p.user_id, p.sip_uri.clone()))
            .collect();
        let format_name = if file.is_some() {
            "file"
        } else {
            format.as_str()
        };
        let row = self
            .store
            .insert_message(
                &MessageRow {
                    id: 0,
                    conversation_id: id.to_owned(),
                    sender_sip_uri: me.sip_uri.clone(),
                    format: format_name.to_owned(),
                    body,
                    blob_id: file,
                    created_at: now,
                },
                &recipients.iter().map(|(u, _)| *u).collect::<Vec<_>>(),
            )
            .await?;
        let message = Arc::new(MessageView::new(&row));
        // The sender's own clients see it too (another tab, the phone app).
        self.hub.publish(
            &me.sip_uri,
            "message.received",
            &json!({ "direction": "outgoing", "message": *message }),
        );
        let (reply, statuses) = oneshot::channel();
        self.delivery
            .send(Job::Deliver {
                message: message.clone(),
                from_name: me.display_name.clone(),
                recipients,
                reply,
            })
            .await
            .map_err(|_| ImError::ShuttingDown)?;
        let recipients = statuses.await.map_err(|_| ImError::ShuttingDown)?;
        self.hub.publish(
            &me.sip_uri,
            "message.status",
            &json!({
                "conversation_id": id,
                "message_id": message.id,
                "recipients": recipients,
            }),
        );
        Ok(SentMessage {
            message: (*message).clone(),
            recipients,
        })
    }

    /// Tells the others that `me` is typing (not stored; only connected clients see it).
    pub async fn typing(&self, me: &UserRow, id: &str) -> Result<(), ImError> {
        let (_, people) = self.load_joined(me, id).await?;
        let data = json!({ "conversation_id": id, "from": me.sip_uri });
        for p in people
            .iter()
            .filter(|p| p.user_id != me.id && p.left_at.is_none())
        {
            self.hub.publish_if_connected(&p.sip_uri, "typing", &data);
        }
        Ok(())
    }

    /// A page of history, newest first.
    pub async fn history(
        &self,
        me: &UserRow,
        id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageView>, ImError> {
        self.load(me, id).await?;
        if !(1..=crate::store::im::MESSAGES_MAX_LIMIT).contains(&limit) {
            return Err(ImError::Invalid {
                field: "limit",
                message: format!("from 1 to {}", crate::store::im::MESSAGES_MAX_LIMIT),
            });
        }
        Ok(self
            .store
            .list_messages(id, before, limit)
            .await?
            .iter()
            .map(MessageView::new)
            .collect())
    }

    /// `me` leaves the conversation.
    pub async fn leave(&self, me: &UserRow, id: &str) -> Result<ConversationView, ImError> {
        self.load(me, id).await?;
        self.store
            .set_participant(id, me.id, false, unix_now_ms())
            .await?;
        self.announce(id).await
    }

    /// `me` adds `uri` to the conversation.
    pub async fn add_participant(
        &self,
        me: &UserRow,
        id: &str,
        uri: &str,
    ) -> Result<ConversationView, ImError> {
        let (_, people) = self.load_joined(me, id).await?;
        let joined = people.iter().filter(|p| p.left_at.is_none()).count();
        if joined >= self.config.max_participants {
            return Err(ImError::Invalid {
                field: "uri",
                message: format!(
                    "a conversation has at most {} participants",
                    self.config.max_participants
                ),
            });
        }
        let user = self
            .people("uri", &[uri.to_owned()])
            .await?
            .pop()
            .ok_or(ImError::NoSuchConversation)?;
        self.store
            .set_participant(id, user.id, true, unix_now_ms())
            .await?;
        self.announce(id).await
    }

    /// The one other person of a conversation `me` is in, for add audio.
    pub async fn other_party(&self, me: &UserRow, id: &str) -> Result<String, ImError> {
        let (_, people) = self.load_joined(me, id).await?;
        let mut others = people
            .iter()
            .filter(|p| p.user_id != me.id && p.left_at.is_none());
        match (others.next(), others.next()) {
            (Some(p), None) => Ok(p.sip_uri.clone()),
            _ => Err(ImError::NotOneToOne),
        }
    }

    /// Links a call `me` placed to the conversation and tells its participants.
    pub async fn link_call(
        &self,
        me: &UserRow,
        id: &str,
        call_id: &str,
    ) -> Result<ConversationView, ImError> {
        self.load(me, id).await?;
        self.store.link_call(call_id, id, unix_now_ms()).await?;
        self.announce(id).await
    }

    /// The conversation of a call `me` owns, created (with `me` and `other`, the called
    /// directory user if it is one) the first time it is asked for; true when created.
    pub async fn conversation_for_call(
        &self,
        me: &UserRow,
        call_id: &str,
        other: Option<&str>,
    ) -> Result<(ConversationView, bool), ImError> {
        if let Some(id) = self.store.conversation_of_call(call_id).await? {
            return Ok((self.get(me, &id).await?, false));
        }
        let mut ids = vec![me.id];
        if let Some(uri) = other {
            if let Some(u) = self
                .store
                .get_user_by_sip_uri(&uri.to_lowercase())
                .await?
                .filter(|u| u.enabled && u.id != me.id)
            {
                ids.push(u.id);
            }
        }
        let now = unix_now_ms();
        let conv = self.create(me, "", &ids, now).await?;
        match self.store.link_call(call_id, &conv.id, now).await {
            Ok(()) => Ok((self.announce(&conv.id).await?, true)),
            // Another request linked it first: use theirs (ours stays empty and unseen).
            Err(StoreError::Conflict { .. }) => {
                let id = self
                    .store
                    .conversation_of_call(call_id)
                    .await?
                    .ok_or(ImError::NoSuchConversation)?;
                Ok((self.get(me, &id).await?, false))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Stores a file and sends it as a message.
    pub async fn send_file(
        &self,
        me: &UserRow,
        id: &str,
        name: &str,
        content_type: &str,
        data: Vec<u8>,
    ) -> Result<SentMessage, ImError> {
        let name = self.config.check_file(name, data.len())?;
        let content_type = content_type.trim();
        let content_type = if content_type.is_empty()
            || content_type.len() > 255
            || content_type.chars().any(|c| c.is_control())
        {
            "application/octet-stream"
        } else {
            content_type
        };
        self.load_joined(me, id).await?;
        let blob = BlobRow {
            id: new_id(),
            scope: format!("conversation:{id}"),
            owner_id: Some(me.id),
            name: name.clone(),
            content_type: content_type.to_owned(),
            size: i64::try_from(data.len()).unwrap_or(i64::MAX),
            sha256: hex(&Sha256::digest(&data)),
            data,
            created_at: unix_now_ms(),
        };
        self.store.put_blob(&blob).await?;
        let body = serde_json::to_string(&FileView {
            id: String::new(),
            name,
            size: blob.size,
            content_type: blob.content_type.clone(),
            href: String::new(),
        })
        .map_err(|e| ImError::Invalid {
            field: "name",
            message: e.to_string(),
        })?;
        self.post(me, id, body, Format::Plain, Some(blob.id)).await
    }

    /// A file of a conversation `me` takes or took part in.
    pub async fn file(&self, me: &UserRow, id: &str, file_id: &str) -> Result<BlobRow, ImError> {
        self.load(me, id).await?;
        if file_id.is_empty() || file_id.len() > 64 {
            return Err(ImError::NoSuchFile);
        }
        self.store
            .get_blob(file_id)
            .await?
            .filter(|b| b.scope == format!("conversation:{id}"))
            .ok_or(ImError::NoSuchFile)
    }
}
