//! The words of presence, as UCWA has them: what a person looks like to others
//! ([`Availability`], [`Activity`]), what they may choose ([`PreferredAvailability`]), their
//! [`Note`], and what a watcher is told ([`Presence`]). Parsed once at the edge; the JSON
//! names are fixed by the API (`docs/presence.md`).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::domain::DomainError;

/// How available a person is, as others see it (UCWA `Availability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
pub enum Availability {
    /// Available.
    Online,
    /// Busy: chosen, or in a call.
    Busy,
    /// Do not disturb.
    DoNotDisturb,
    /// Be right back.
    BeRightBack,
    /// Away (chosen, off work, or idle for long).
    Away,
    /// Online but not active on any device for a while.
    IdleOnline,
    /// Busy but not active on any device for a while.
    IdleBusy,
    /// Not signed in anywhere (or the viewer is blocked).
    Offline,
}

impl Availability {
    /// The API name (`Online`, `IdleBusy`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Online => "Online",
            Availability::Busy => "Busy",
            Availability::DoNotDisturb => "DoNotDisturb",
            Availability::BeRightBack => "BeRightBack",
            Availability::Away => "Away",
            Availability::IdleOnline => "IdleOnline",
            Availability::IdleBusy => "IdleBusy",
            Availability::Offline => "Offline",
        }
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The start of `s`, for an error message (a 10 kB value does not come back whole).
fn preview(s: &str) -> String {
    let mut p: String = s.chars().take(40).collect();
    if p.len() < s.len() {
        p.push('…');
    }
    p
}

/// What a person may set themselves to (UCWA `PreferredAvailability`). `Offwork` reads as
/// [`Availability::Away`] with [`Activity::OffWork`], as in Skype for Business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
pub enum PreferredAvailability {
    /// Available.
    Online,
    /// Busy.
    Busy,
    /// Do not disturb: never overridden by calls.
    DoNotDisturb,
    /// Be right back.
    BeRightBack,
    /// Appear away.
    Away,
    /// Off work.
    Offwork,
}

impl PreferredAvailability {
    /// Every value, in the order the API documents them.
    pub const ALL: [PreferredAvailability; 6] = [
        PreferredAvailability::Online,
        PreferredAvailability::Busy,
        PreferredAvailability::DoNotDisturb,
        PreferredAvailability::BeRightBack,
        PreferredAvailability::Away,
        PreferredAvailability::Offwork,
    ];

    /// The API (and stored) name.
    pub fn as_str(self) -> &'static str {
        match self {
            PreferredAvailability::Online => "Online",
            PreferredAvailability::Busy => "Busy",
            PreferredAvailability::DoNotDisturb => "DoNotDisturb",
            PreferredAvailability::BeRightBack => "BeRightBack",
            PreferredAvailability::Away => "Away",
            PreferredAvailability::Offwork => "Offwork",
        }
    }

    /// How it reads to others, before calls and idleness are applied.
    pub fn reads_as(self) -> (Availability, Option<Activity>) {
        match self {
            PreferredAvailability::Online => (Availability::Online, None),
            PreferredAvailability::Busy => (Availability::Busy, None),
            PreferredAvailability::DoNotDisturb => (Availability::DoNotDisturb, None),
            PreferredAvailability::BeRightBack => (Availability::BeRightBack, None),
            PreferredAvailability::Away => (Availability::Away, None),
            PreferredAvailability::Offwork => (Availability::Away, Some(Activity::OffWork)),
        }
    }
}

impl fmt::Display for PreferredAvailability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Case-insensitive (`busy`, `Busy`, `BUSY`); errors name field `availability` and list the
/// accepted values. `IdleOnline`, `IdleBusy` and `Offline` are computed, never chosen.
impl FromStr for PreferredAvailability {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let t = s.trim();
        PreferredAvailability::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                DomainError::invalid(
                    "availability",
                    format!(
                        "{:?} is not one of Online, Busy, DoNotDisturb, BeRightBack, Away, \
                         Offwork",
                        preview(t)
                    ),
                )
            })
    }
}

/// What a person is doing, when it says more than the availability (UCWA's well-known
/// activity tokens, in snake case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// In a Call Via Work call (or a SIP client's call through ViaWork).
    InACall,
    /// In a conference (published by an endpoint; meetings will feed it).
    InAConference,
    /// On the desk phone, outside ViaWork (RFC 4235 dialog state of the phone).
    OnThePhone,
    /// In a meeting (published by an endpoint; a calendar will feed it).
    InAMeeting,
    /// Presenting (published by an endpoint): reads as DoNotDisturb, as in Skype.
    Presenting,
    /// Chose Offwork.
    OffWork,
    /// Idle on every device (IdleOnline, IdleBusy, or Away after long idleness).
    Inactive,
}

impl Activity {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::InACall => "in_a_call",
            Activity::InAConference => "in_a_conference",
            Activity::OnThePhone => "on_the_phone",
            Activity::InAMeeting => "in_a_meeting",
            Activity::Presenting => "presenting",
            Activity::OffWork => "off_work",
            Activity::Inactive => "inactive",
        }
    }
}

/// What one endpoint (a UC client, a SIP client publishing PIDF) says about itself; the
/// other activities are the server's to decide. How each one counts against the user's
/// chosen availability and their other endpoints is `core.rs`'s rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointActivity {
    /// In a conference.
    InAConference,
    /// In a meeting (RPID `meeting`, `appointment`).
    InAMeeting,
    /// Sharing the screen (RPID `presentation`).
    Presenting,
    /// On the phone (RPID `on-the-phone`): a call ViaWork does not see.
    OnThePhone,
    /// Busy (RPID `busy`): the person said so on this device.
    Busy,
    /// Away (RPID `away`, `vacation`, `holiday`, `sleeping`, `permanent-absence`).
    Away,
    /// This endpoint cannot be reached (PIDF `closed`): it counts as not signed in.
    Unavailable,
}

impl EndpointActivity {
    /// The [`Activity`] it shows as, when it has one (Busy, Away and Unavailable change
    /// the availability only).
    pub fn activity(self) -> Option<Activity> {
        match self {
            EndpointActivity::InAConference => Some(Activity::InAConference),
            EndpointActivity::InAMeeting => Some(Activity::InAMeeting),
            EndpointActivity::Presenting => Some(Activity::Presenting),
            EndpointActivity::OnThePhone => Some(Activity::OnThePhone),
            EndpointActivity::Busy | EndpointActivity::Away | EndpointActivity::Unavailable => None,
        }
    }
}

/// What the user's desk phone is doing, as an RFC 4235 dialog-event subscriber to the PBX
/// will report it. Nothing feeds it yet: this is the hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PhoneActivity {
    /// No dialog, or only ringing.
    #[default]
    Idle,
    /// A confirmed dialog (off hook, talking or holding).
    Busy,
}

/// A personal note (UCWA's `note`): at most [`Note::MAX_CHARS`] characters of one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct Note(String);

impl Note {
    /// The longest note, in characters (Skype for Business allows about as much).
    pub const MAX_CHARS: usize = 500;

    /// The note text (empty when there is none).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// No note.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Empty (or white space only) is no note; otherwise the free-text rule of
/// [`crate::domain::bounded_text`] with field `note`.
impl FromStr for Note {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        if s.trim().is_empty() && s.len() <= Note::MAX_CHARS {
            return Ok(Note::default());
        }
        crate::domain::bounded_text("note", s, Note::MAX_CHARS).map(Note)
    }
}

/// A person's presence as one viewer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Presence {
    /// The availability.
    pub availability: Availability,
    /// The activity, when there is one worth telling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<Activity>,
    /// The personal note (empty: none).
    #[serde(skip_serializing_if = "Note::is_empty")]
    pub note: Note,
    /// When they were last active on any device (Unix milliseconds), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active_at: Option<u64>,
}

impl Presence {
    /// What a blocked viewer sees: Offline, nothing else.
    pub fn hidden() -> Presence {
        Presence {
            availability: Availability::Offline,
            activity: None,
            note: Note::default(),
            last_active_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferred_availability_parses_case_insensitively_and_names_the_field() {
        assert_eq!(
            "busy".parse::<PreferredAvailability>().unwrap(),
            PreferredAvailability::Busy
        );
        assert_eq!(
            " OffWork ".parse::<PreferredAvailability>().unwrap(),
            PreferredAvailability::Offwork
        );
        for bad in ["IdleOnline", "Offline", "", "Busyy"] {
            let e = bad.parse::<PreferredAvailability>().unwrap_err();
            assert_eq!(e.field(), "availability", "{bad}");
        }
        assert_eq!(
            PreferredAvailability::Offwork.reads_as(),
            (Availability::Away, Some(Activity::OffWork))
        );
    }

    #[test]
    fn notes_are_bounded_single_line_text() {
        assert!("".parse::<Note>().unwrap().is_empty());
        assert!("   ".parse::<Note>().unwrap().is_empty());
        assert_eq!(
            " In Oslo this week ".parse::<Note>().unwrap().as_str(),
            "In Oslo this week"
        );
        let long = "x".repeat(Note::MAX_CHARS + 1);
        assert_eq!(long.parse::<Note>().unwrap_err().field(), "note");
        assert_eq!("a\nb".parse::<Note>().unwrap_err().field(), "note");
        assert!("é".repeat(Note::MAX_CHARS).parse::<Note>().is_ok());
    }

    #[test]
    fn json_names_are_the_ucwa_ones() {
        let p = Presence {
            availability: Availability::IdleBusy,
            activity: Some(Activity::InACall),
            note: Note::default(),
            last_active_at: Some(5),
        };
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"availability": "IdleBusy", "activity": "in_a_call", "last_active_at": 5})
        );
    }
}
