//! The words of the calls API: call states, end reasons, who hung up. Their JSON names
//! are fixed by the API (`docs/calls.md`) and never change.

use serde::Serialize;

/// Where a Call Via Work call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// The callback INVITE to the user's own phone is on its way.
    ConnectingYourPhone,
    /// The user's phone rings.
    YourPhoneRinging,
    /// The user answered; the far party is being called.
    Connecting,
    /// The far party's phone rings.
    Ringing,
    /// Both answered and joined.
    Connected,
    /// The far party is on hold.
    OnHold,
    /// Over; see the end reason.
    Ended,
    /// An incoming call rings the user's phones and clients.
    Incoming,
}

impl CallState {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::ConnectingYourPhone => "connecting_your_phone",
            CallState::YourPhoneRinging => "your_phone_ringing",
            CallState::Connecting => "connecting",
            CallState::Ringing => "ringing",
            CallState::Connected => "connected",
            CallState::OnHold => "on_hold",
            CallState::Ended => "ended",
            CallState::Incoming => "incoming",
        }
    }
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// A connected call was hung up.
    Completed,
    /// Hung up before it connected.
    Cancelled,
    /// The user's phone answered busy (486, 600).
    YourPhoneBusy,
    /// The user's phone rang out.
    YourPhoneNoAnswer,
    /// The user declined on their phone (603).
    YourPhoneDeclined,
    /// The user's phone could not be reached (404, 480, 5xx ...).
    YourPhoneUnreachable,
    /// The far party was busy.
    FarEndBusy,
    /// The far party did not answer.
    FarEndNoAnswer,
    /// The far party declined.
    FarEndDeclined,
    /// The far party could not be reached.
    FarEndUnreachable,
    /// The call was transferred away.
    Transferred,
    /// The trunk to the PBX is down or did not answer.
    TrunkUnavailable,
    /// Anything else (a protocol error).
    Failed,
    /// An incoming call nobody answered (the caller gave up, or it rang out).
    Missed,
    /// The user declined an incoming call.
    Declined,
    /// Every phone of the user was busy.
    Busy,
}

impl EndReason {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Completed => "completed",
            EndReason::Missed => "missed",
            EndReason::Declined => "declined",
            EndReason::Busy => "busy",
            EndReason::Cancelled => "cancelled",
            EndReason::YourPhoneBusy => "your_phone_busy",
            EndReason::YourPhoneNoAnswer => "your_phone_no_answer",
            EndReason::YourPhoneDeclined => "your_phone_declined",
            EndReason::YourPhoneUnreachable => "your_phone_unreachable",
            EndReason::FarEndBusy => "far_end_busy",
            EndReason::FarEndNoAnswer => "far_end_no_answer",
            EndReason::FarEndDeclined => "far_end_declined",
            EndReason::FarEndUnreachable => "far_end_unreachable",
            EndReason::Transferred => "transferred",
            EndReason::TrunkUnavailable => "trunk_unavailable",
            EndReason::Failed => "failed",
        }
    }
}

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HungUpBy {
    /// The user, through the API or a client.
    User,
    /// The user's phone (BYE or a refusal on the callback leg).
    YourPhone,
    /// The far party.
    FarEnd,
    /// ViaWork: a timeout, the trunk, an error.
    System,
}
