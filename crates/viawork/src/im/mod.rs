//! Instant messaging: conversations (1:1 and group) between directory users, messages with
//! per-recipient delivery status, typing indicators, history, file transfer, and the link
//! between conversations and Call Via Work calls ("add audio" to an IM conversation, IM
//! added to a call).
//!
//! The behaviour lives in [`ImService`] (`service.rs`), which knows nothing of HTTP: the
//! API (`api/conversations.rs`) and, later, SIP MESSAGE from registered clients call it.
//! Everything a conversation holds is in the store (`store/im.rs`), so history survives
//! restarts and a message to someone who is not signed in waits there; `delivery.rs` hands
//! messages to users' event streams exactly once — at once when one of their clients is
//! connected, otherwise when one connects. HTML messages are sanitised (`html.rs`) before
//! they are stored; files are checked against `[im]` (`files.rs`) and kept by the store's
//! blob facility.
//!
//! Skype for Business refused an IM to a user who was offline ("we couldn't send this
//! message"); ViaWork keeps it and delivers it when they sign in.

mod delivery;
pub mod files;
pub mod html;
pub mod model;
mod service;
pub mod sip;

pub use files::ImConfig;
pub use model::{
    ConversationView, Delivery, FileView, Format, MessageView, ParticipantView, RecipientStatus,
    SentMessage,
};
pub use service::{ImError, ImService};
pub use sip::SipIm;
