//! Presence: who is available, busy, away or offline, as UCWA models it, aggregated over
//! all of a user's signed-in endpoints and kept up to date for everyone who watches them.
//!
//! - `model.rs` — the values ([`Availability`], [`PreferredAvailability`], [`Activity`],
//!   [`Note`], [`Presence`]), parsed at the edge.
//! - `core.rs` — [`PresenceCore`], the sans-IO rules: endpoints, chosen availability,
//!   calls, the desk phone, idleness, subscriptions and blocking, fed inputs and `Instant`s.
//! - `service.rs` — [`PresenceService`], the tokio driver: loads and saves what must
//!   survive a restart in the store, runs the timers, follows the calls service and
//!   delivers notices as `presence.updated` events through the [`crate::events::EventHub`].
//! - `sip.rs` — SIP watchers (SUBSCRIBE/NOTIFY); `publish.rs` — SIP clients publishing
//!   their own state (PUBLISH), read by `pidf.rs`.
//!
//! The HTTP routes are in `api/presence.rs`; the rules and limits for users in
//! `docs/presence.md`.

pub mod core;
pub mod model;
pub mod pidf;
pub mod publish;
pub mod service;
pub mod sip;

pub use self::core::{
    EndpointId, EndpointKind, Input, Notice, PresenceConfig, PresenceCore, Stored, SubscribeError,
    MAX_SUBSCRIPTIONS_PER_USER,
};
pub use model::{
    Activity, Availability, EndpointActivity, Note, PhoneActivity, PreferredAvailability, Presence,
};
pub use service::{EndpointGuard, PresenceError, PresenceService};
