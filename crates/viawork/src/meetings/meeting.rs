//! A meeting: what its organizer scheduled (or started with Meet Now) and who may enter how,
//! with UCWA `myOnlineMeeting`'s semantics.
//!
//! [`Input`] is what the API accepts (every field optional, so one type serves create and
//! update); [`Input::apply`] validates it over the current [`Meeting`] (or the defaults)
//! and names the field at fault. [`Meeting::admission`] is the lobby rule that dial-out
//! joins and dial-in callers both go through, in one place:
//!
//! | access level | organizer, leaders | attendees | other signed-in users | anonymous phone callers |
//! | --- | --- | --- | --- | --- |
//! | `everyone` | in | in | in | in |
//! | `same_enterprise` | in | in | in | lobby (in with phone lobby bypass) |
//! | `invited` | in | in | lobby | lobby (in with phone lobby bypass) |
//! | `locked` | in | lobby | lobby | lobby |
//!
//! Who leads: the organizer, the `leaders`, and everyone `automatic_leader_assignment`
//! promotes (`same_enterprise`: every signed-in or PIN-authenticated user; `everyone`).

use serde::{Deserialize, Serialize};

use crate::cli::rfc3339::parse_ms;
use crate::domain::{DomainError, UserUri};
use crate::store::MeetingRow;

/// Longest subject.
pub const MAX_SUBJECT: usize = 256;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 4096;
/// Most attendees (and most leaders) of one meeting.
pub const MAX_PEOPLE: usize = 250;
/// How long after its end a scheduled meeting is kept by default (Skype: 14 days).
pub const SCHEDULED_KEEP_MS: i64 = 14 * DAY_MS;
/// How long a Meet Now meeting is kept by default (UCWA's `expirationTime` default: 8 h).
pub const AD_HOC_KEEP_MS: i64 = 8 * 3600 * 1000;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// Longest scheduled meeting.
pub const MAX_DURATION_MS: i64 = 31 * DAY_MS;

/// Who is admitted without waiting in the lobby.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    /// Anyone, including anonymous phone callers.
    Everyone,
    /// Everyone who signed in or authenticated with their PIN.
    #[default]
    SameEnterprise,
    /// Only the organizer, leaders and attendees.
    Invited,
    /// Only the organizer and leaders.
    Locked,
}

/// Who becomes a leader on joining, besides the organizer and the listed leaders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeaderAssignment {
    /// Nobody else.
    #[default]
    Disabled,
    /// Everyone who signed in or authenticated with their PIN.
    SameEnterprise,
    /// Everyone.
    Everyone,
}

/// The stored settings document of a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// SIP URIs of the invited, lower-case, without the organizer.
    pub attendees: Vec<String>,
    /// SIP URIs of the leaders besides the organizer, lower-case.
    pub leaders: Vec<String>,
    /// Who gets in without the lobby.
    pub access_level: AccessLevel,
    /// Who is promoted to leader on joining.
    pub automatic_leader_assignment: LeaderAssignment,
    /// Announce names of people joining and leaving by phone.
    pub entry_exit_announcement: bool,
    /// Anonymous phone callers skip the lobby (unless the meeting is locked).
    pub lobby_bypass_for_phone_users: bool,
    /// Whether the meeting may be joined by dialling the conference bridge.
    pub phone_user_admission: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            attendees: Vec::new(),
            leaders: Vec::new(),
            access_level: AccessLevel::default(),
            automatic_leader_assignment: LeaderAssignment::default(),
            entry_exit_announcement: true,
            lobby_bypass_for_phone_users: false,
            phone_user_admission: true,
        }
    }
}

/// A meeting, as the domain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    /// Random id, part of the join URL.
    pub id: String,
    /// Organizer's user id.
    pub organizer_id: i64,
    /// Organizer's SIP URI.
    pub organizer: String,
    /// The digits dial-in callers type.
    pub conference_id: String,
    /// Subject line.
    pub subject: String,
    /// Description.
    pub description: String,
    /// Scheduled start (Unix ms); `None` for Meet Now.
    pub starts_at: Option<i64>,
    /// Scheduled end (Unix ms).
    pub ends_at: Option<i64>,
    /// When it may be deleted (Unix ms).
    pub expires_at: i64,
    /// Meet Now.
    pub ad_hoc: bool,
    /// Who and how.
    pub settings: Settings,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms): the version an update must name.
    pub updated_at: i64,
}

/// Someone asking to enter a meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joiner {
    /// A directory user: signed in to the API, or a dial-in caller who typed their PIN.
    User(String),
    /// A dial-in caller who did not authenticate.
    AnonymousPhone,
}

/// Where a joiner goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Admission {
    /// In, as a leader (may mute, admit, lock, remove).
    Leader,
    /// In, as an attendee.
    Attendee,
    /// Waiting in the lobby for a leader to admit them.
    Lobby,
}

impl Meeting {
    /// A stored row read back. A settings document that no longer parses is an error the
    /// caller reports (the store holds only what [`Input::apply`] wrote).
    pub fn from_row(row: MeetingRow) -> Result<Meeting, serde_json::Error> {
        Ok(Meeting {
            settings: serde_json::from_str(&row.settings)?,
            id: row.id,
            organizer_id: row.organizer_id,
            organizer: row.organizer,
            conference_id: row.conference_id,
            subject: row.subject,
            description: row.description,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            expires_at: row.expires_at,
            ad_hoc: row.ad_hoc,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    /// The row to store.
    pub fn to_row(&self) -> MeetingRow {
        MeetingRow {
            id: self.id.clone(),
            organizer_id: self.organizer_id,
            organizer: self.organizer.clone(),
            conference_id: self.conference_id.clone(),
            subject: self.subject.clone(),
            description: self.description.clone(),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            expires_at: self.expires_at,
            ad_hoc: self.ad_hoc,
            settings: serde_json::to_string(&self.settings).unwrap_or_default(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// Whether `uri` organizes or leads the meeting by name.
    pub fn is_named_leader(&self, uri: &str) -> bool {
        uri.eq_ignore_ascii_case(&self.organizer)
            || self
                .settings
                .leaders
                .iter()
                .any(|l| l.eq_ignore_ascii_case(uri))
    }

    /// Whether `uri` may see the meeting's details: its organizer, a leader or an attendee.
    pub fn is_invited(&self, uri: &str) -> bool {
        self.is_named_leader(uri)
            || self
                .settings
                .attendees
                .iter()
                .any(|a| a.eq_ignore_ascii_case(uri))
    }

    /// Where `who` goes on joining (the table in the module documentation).
    pub fn admission(&self, who: &Joiner) -> Admission {
        let s = &self.settings;
        match who {
            Joiner::User(uri) => {
                if self.is_named_leader(uri)
                    || matches!(
                        s.automatic_leader_assignment,
                        LeaderAssignment::SameEnterprise | LeaderAssignment::Everyone
                    )
                {
                    return Admission::Leader;
                }
                let invited = self.is_invited(uri);
                match s.access_level {
                    AccessLevel::Everyone | AccessLevel::SameEnterprise => Admission::Attendee,
                    AccessLevel::Invited if invited => Admission::Attendee,
                    AccessLevel::Invited | AccessLevel::Locked => Admission::Lobby,
                }
            }
            Joiner::AnonymousPhone => {
                if s.automatic_leader_assignment == LeaderAssignment::Everyone
                    && s.access_level != AccessLevel::Locked
                {
                    return Admission::Leader;
                }
                match s.access_level {
                    AccessLevel::Everyone => Admission::Attendee,
                    AccessLevel::Locked => Admission::Lobby,
                    _ if s.lobby_bypass_for_phone_users => Admission::Attendee,
                    _ => Admission::Lobby,
                }
            }
        }
    }
}

/// What the API accepts to create or change a meeting; absent fields keep their value (or
/// the default on create). Times are RFC 3339.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Subject line (at most 256 characters).
    pub subject: Option<String>,
    /// Description (at most 4096 characters).
    pub description: Option<String>,
    /// Scheduled start; required with `end_time`.
    pub start_time: Option<String>,
    /// Scheduled end; after the start, at most 31 days later.
    pub end_time: Option<String>,
    /// SIP URIs of the people invited.
    pub attendees: Option<Vec<String>>,
    /// SIP URIs of the leaders besides the organizer.
    pub leaders: Option<Vec<String>>,
    /// Who gets in without the lobby.
    pub access_level: Option<AccessLevel>,
    /// Who is promoted to leader on joining.
    pub automatic_leader_assignment: Option<LeaderAssignment>,
    /// Announce names of people joining and leaving by phone.
    pub entry_exit_announcement: Option<bool>,
    /// Anonymous phone callers skip the lobby (unless locked).
    pub lobby_bypass_for_phone_users: Option<bool>,
    /// Whether the meeting may be joined through the conference bridge.
    pub phone_user_admission: Option<bool>,
    /// When the meeting may be deleted: between a year ago and ten years ahead; by
    /// default 14 days after the end (Meet Now: 8 hours after it starts).
    pub expiration_time: Option<String>,
}

impl Input {
    /// `base` (the meeting being changed, whose `id`, organizer and conference ID are kept)
    /// with this input applied, validated at `now`. On create, `base` comes from
    /// [`Meeting`] defaults with `ad_hoc` set for Meet Now.
    pub fn apply(
        self,
        mut base: Meeting,
        creating: bool,
        now: i64,
    ) -> Result<Meeting, DomainError> {
        if let Some(s) = self.subject {
            base.subject = text("subject", s, MAX_SUBJECT)?;
        }
        if let Some(d) = self.description {
            base.description = text("description", d, MAX_DESCRIPTION)?;
        }
        let times_changed = self.start_time.is_some() || self.end_time.is_some();
        if let Some(t) = &self.start_time {
            base.starts_at = Some(parse_ms("start_time", t)?);
        }
        if let Some(t) = &self.end_time {
            base.ends_at = Some(parse_ms("end_time", t)?);
        }
        if times_changed {
            if base.ad_hoc {
                return Err(DomainError::invalid(
                    "start_time",
                    "a Meet Now meeting has no schedule",
                ));
            }
            match (base.starts_at, base.ends_at) {
                (Some(s), Some(e)) if e <= s => {
                    return Err(DomainError::invalid("end_time", "must be after start_time"))
                }
                (Some(s), Some(e)) if e - s > MAX_DURATION_MS => {
                    return Err(DomainError::invalid(
                        "end_time",
                        "a meeting lasts at most 31 days",
                    ))
                }
                (Some(_), Some(_)) => {}
                (None, _) => {
                    return Err(DomainError::Required {
                        field: "start_time",
                    })
                }
                (_, None) => return Err(DomainError::Required { field: "end_time" }),
            }
        } else if creating && !base.ad_hoc {
            return Err(DomainError::Required {
                field: "start_time",
            });
        }
        let s = &mut base.settings;
        if let Some(list) = self.attendees {
            s.attendees = people("attendees", list, &base.organizer)?;
        }
        if let Some(list) = self.leaders {
            s.leaders = people("leaders", list, &base.organizer)?;
        }
        if let Some(v) = self.access_level {
            s.access_level = v;
        }
        if let Some(v) = self.automatic_leader_assignment {
            s.automatic_leader_assignment = v;
        }
        if let Some(v) = self.entry_exit_announcement {
            s.entry_exit_announcement = v;
        }
        if let Some(v) = self.lobby_bypass_for_phone_users {
            s.lobby_bypass_for_phone_users = v;
        }
        if let Some(v) = self.phone_user_admission {
            s.phone_user_admission = v;
        }
        match &self.expiration_time {
            Some(t) => {
                let at = parse_ms("expiration_time", t)?;
                if at < now - 365 * DAY_MS || at > now + 3653 * DAY_MS {
                    return Err(DomainError::invalid(
                        "expiration_time",
                        "must be between a year ago and ten years from now",
                    ));
                }
                if base.ends_at.is_some_and(|e| at < e) {
                    return Err(DomainError::invalid(
                        "expiration_time",
                        "must not be before end_time",
                    ));
                }
                base.expires_at = at;
            }
            None if creating || times_changed => {
                base.expires_at = match base.ends_at {
                    Some(end) => end + SCHEDULED_KEEP_MS,
                    None => now + AD_HOC_KEEP_MS,
                };
            }
            None => {}
        }
        Ok(base)
    }
}

fn text(field: &'static str, s: String, max: usize) -> Result<String, DomainError> {
    let s = s.trim().to_owned();
    if s.chars().count() > max {
        return Err(DomainError::TooLong { field, max });
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(DomainError::invalid(field, "contains control characters"));
    }
    Ok(s)
}

/// Validated, lower-cased, de-duplicated SIP URIs without the organizer.
fn people(
    field: &'static str,
    list: Vec<String>,
    organizer: &str,
) -> Result<Vec<String>, DomainError> {
    if list.len() > MAX_PEOPLE {
        return Err(DomainError::invalid(
            field,
            format!("at most {MAX_PEOPLE} people"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, raw) in list.iter().enumerate() {
        let uri: UserUri = raw.parse().map_err(|e: DomainError| {
            DomainError::invalid(field, format!("entry {i}: {}", e.message()))
        })?;
        let uri = uri.as_str().to_ascii_lowercase();
        if !uri.eq_ignore_ascii_case(organizer) && !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn blank(ad_hoc: bool) -> Meeting {
        Meeting {
            id: "m1".into(),
            organizer_id: 1,
            organizer: "sip:alice@example.com".into(),
            conference_id: "1234566".into(),
            subject: String::new(),
            description: String::new(),
            starts_at: None,
            ends_at: None,
            expires_at: 0,
            ad_hoc,
            settings: Settings::default(),
            created_at: NOW,
            updated_at: NOW,
        }
    }

    fn scheduled() -> Input {
        Input {
            subject: Some("  Q3 review ".into()),
            start_time: Some("2027-01-15T09:00:00Z".into()),
            end_time: Some("2027-01-15T10:00:00Z".into()),
            attendees: Some(vec![
                "sip:Bob@example.com".into(),
                "sip:bob@example.com".into(),
                "sip:alice@example.com".into(),
            ]),
            ..Input::default()
        }
    }

    #[test]
    fn create_normalises_people_and_defaults_expiry() {
        let m = scheduled().apply(blank(false), true, NOW).expect("valid");
        assert_eq!(m.subject, "Q3 review");
        assert_eq!(m.settings.attendees, vec!["sip:bob@example.com"]);
        let end = parse_ms("t", "2027-01-15T10:00:00Z").expect("time");
        assert_eq!(m.expires_at, end + SCHEDULED_KEEP_MS);
        let now = Input::default()
            .apply(blank(true), true, NOW)
            .expect("meet now");
        assert_eq!(now.expires_at, NOW + AD_HOC_KEEP_MS);
    }

    #[test]
    fn refusals_name_the_field() {
        let cases: Vec<(Input, &str)> = vec![
            (Input::default(), "start_time"),
            (
                Input {
                    end_time: Some("2027-01-15T08:00:00Z".into()),
                    ..scheduled()
                },
                "end_time",
            ),
            (
                Input {
                    end_time: Some("2027-03-15T08:00:00Z".into()),
                    ..scheduled()
                },
                "end_time",
            ),
            (
                Input {
                    start_time: Some("soon".into()),
                    ..scheduled()
                },
                "start_time",
            ),
            (
                Input {
                    leaders: Some(vec!["bob".into()]),
                    ..scheduled()
                },
                "leaders",
            ),
            (
                Input {
                    subject: Some("x".repeat(300)),
                    ..scheduled()
                },
                "subject",
            ),
            (
                Input {
                    expiration_time: Some("2040-01-01T00:00:00Z".into()),
                    ..scheduled()
                },
                "expiration_time",
            ),
            (
                Input {
                    expiration_time: Some("2027-01-15T09:30:00Z".into()),
                    ..scheduled()
                },
                "expiration_time",
            ),
        ];
        for (input, field) in cases {
            let e = input.apply(blank(false), true, NOW).expect_err(field);
            assert_eq!(e.field(), field, "{e}");
        }
        let e = scheduled()
            .apply(blank(true), true, NOW)
            .expect_err("ad hoc");
        assert_eq!(e.field(), "start_time");
    }

    #[test]
    fn update_keeps_what_is_absent() {
        let m = scheduled().apply(blank(false), true, NOW).expect("valid");
        let before = m.expires_at;
        let m2 = Input {
            access_level: Some(AccessLevel::Locked),
            ..Input::default()
        }
        .apply(m.clone(), false, NOW)
        .expect("update");
        assert_eq!(m2.subject, m.subject);
        assert_eq!(m2.expires_at, before);
        assert_eq!(m2.settings.access_level, AccessLevel::Locked);
        assert_eq!(m2.settings.attendees, m.settings.attendees);
    }

    #[test]
    fn admission_follows_the_table() {
        use AccessLevel::*;
        let mut m = scheduled().apply(blank(false), true, NOW).expect("valid");
        m.settings.leaders = vec!["sip:carol@example.com".into()];
        let org = Joiner::User("sip:ALICE@example.com".into());
        let leader = Joiner::User("sip:carol@example.com".into());
        let att = Joiner::User("sip:bob@example.com".into());
        let other = Joiner::User("sip:dave@example.com".into());
        let anon = Joiner::AnonymousPhone;
        let table = [
            (Everyone, false, ["L", "L", "A", "A", "A"]),
            (SameEnterprise, false, ["L", "L", "A", "A", "Y"]),
            (SameEnterprise, true, ["L", "L", "A", "A", "A"]),
            (Invited, false, ["L", "L", "A", "Y", "Y"]),
            (Invited, true, ["L", "L", "A", "Y", "A"]),
            (Locked, true, ["L", "L", "Y", "Y", "Y"]),
        ];
        for (level, bypass, want) in table {
            m.settings.access_level = level;
            m.settings.lobby_bypass_for_phone_users = bypass;
            let got: Vec<&str> = [&org, &leader, &att, &other, &anon]
                .iter()
                .map(|j| match m.admission(j) {
                    Admission::Leader => "L",
                    Admission::Attendee => "A",
                    Admission::Lobby => "Y",
                })
                .collect();
            assert_eq!(got, want, "{level:?} bypass={bypass}");
        }
        m.settings.access_level = Invited;
        m.settings.lobby_bypass_for_phone_users = false;
        m.settings.automatic_leader_assignment = LeaderAssignment::SameEnterprise;
        assert_eq!(m.admission(&other), Admission::Leader);
        assert_eq!(m.admission(&anon), Admission::Lobby);
    }
}
