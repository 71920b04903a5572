//! The desk phone's own state, which Skype's Remote Call Control had and Call Via Work
//! lost: ViaWork subscribes to the PBX's dialog event package (RFC 4235) for each Call Via
//! Work user's line, so calls made or taken on the desk phone show the user `on_the_phone`
//! and can be written to the call log.
//!
//! `dialog_info.rs` reads the PBX's documents; `line.rs` keeps one line's dialogs across
//! full and partial NOTIFYs (sans-IO) and says what changed for presence and the call log.
//! `subscriber.rs` subscribes each line over the trunk and answers the NOTIFYs, when
//! `pbx.dialog_subscriptions` is on.

pub mod dialog_info;
pub mod line;
mod subscriber;

pub use subscriber::DeskPhones;
