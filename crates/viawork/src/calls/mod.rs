//! Call Via Work calls: the trunk to the PBX, the RFC 3725 call engine and the service
//! that runs it.
//!
//! - [`model`]: states, end reasons and who hung up, as the API names them.
//! - [`leg`]: one SIP leg (UAC dialog) toward the PBX, sans-IO.
//! - [`call`]: the third-party call control state machine over two legs, sans-IO.
//! - [`ringing`]: an incoming call ringing the user's phones, clients and forwards.
//! - [`sdp_relay`]: SDP passed between legs under ViaWork's origin.
//! - [`trunk`]: addressing, caller ID, number format and keep-alive of the PBX trunk.
//! - [`manager`]: every live call, routing SIP events and timers, sans-IO.
//! - [`service`]: the tokio side: commands from the API, the event bus, the call log.

pub mod call;
pub mod guard;
pub mod leg;
pub mod log;
pub mod manager;
pub mod media;
pub mod model;
pub mod ringing;
pub mod sdp_relay;
pub mod service;
pub mod trunk;

pub use call::{Call, CallNotice, CallSetup, Control, ControlError, Escalation, MediaAction};
pub use leg::{LegEvent, LegFailure, LegRole, LegSetup, SipOut};
pub use manager::{CallManager, CallView, FinishedCall, NewCall, Output, StartError};
pub use model::{CallState, EndReason, HungUpBy};
#[cfg(test)]
mod tests;
