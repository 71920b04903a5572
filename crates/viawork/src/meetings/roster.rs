//! One running meeting's people and rules (sans-IO): who is in, who waits in the lobby,
//! who leads, who is muted, whether the meeting is locked, and Skype's keypad commands.
//!
//! The media side (mixer, prompts) and the signalling side (calls) are the driver's; the
//! roster decides and says what to do as [`Effect`]s. Leaders (the organizer, the named
//! leaders, those promoted) may lock, admit, mute others and remove; anyone may mute
//! themselves unless a leader muted the audience.
//!
//! Keypad commands are star and a digit (Skype's defaults, `Set-CsDialInConferencingDtmfConfiguration`):
//!
//! | keys | command | who |
//! | --- | --- | --- |
//! | `*1` | help: the list of commands | anyone |
//! | `*3` | private roll call: the names of those present, to the caller only | anyone |
//! | `*4` | mute or unmute the audience (everyone but leaders; they cannot unmute themselves) | leaders |
//! | `*6` | mute or unmute myself | anyone |
//! | `*7` | lock or unlock the meeting (new non-leaders wait in the lobby) | leaders |
//! | `*8` | admit everyone waiting in the lobby | leaders |
//! | `*9` | entry and exit announcements on or off | leaders |
//!
//! A star with no digit within [`COMMAND_WINDOW`] is forgotten.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::meeting::{AccessLevel, Admission};

/// How long after star the command digit may come.
pub const COMMAND_WINDOW: Duration = Duration::from_secs(3);

/// A participant's id within one meeting.
pub type ParticipantId = u64;

/// Where a participant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// In the meeting, hearing and heard.
    In,
    /// Waiting in the lobby (hears only prompts).
    Lobby,
}

/// A participant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Participant {
    /// Their id in this meeting.
    pub id: ParticipantId,
    /// Their SIP URI when they are a directory user.
    pub user: Option<String>,
    /// What to call them.
    pub name: String,
    /// Leads the meeting.
    pub leader: bool,
    /// In or in the lobby.
    pub place: Place,
    /// Muted (by themselves or a leader).
    pub muted: bool,
    /// Muted by a leader's audience mute: they cannot unmute themselves.
    pub held_muted: bool,
}

/// A prompt the roster wants played to one participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The list of keypad commands.
    Help,
    /// "You are muted." / "You are unmuted."
    Muted(bool),
    /// "A leader has muted the audience; you cannot unmute yourself."
    HeldMuted,
    /// "The audience is muted." / "...unmuted." (to the leader who did it)
    AudienceMuted(bool),
    /// "The meeting is locked." / "...unlocked."
    Locked(bool),
    /// "Everyone in the lobby has been admitted." (with how many)
    AdmittedAll(usize),
    /// "Announcements are on." / "...off."
    Announcements(bool),
    /// "Only a leader can do that."
    LeaderOnly,
    /// "Please wait; someone in the meeting will let you in soon."
    InLobby,
    /// "You are now joining the meeting."
    Joining,
}

/// What the driver must carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Play a notice to one participant.
    Tell(ParticipantId, Notice),
    /// Read the roll call (the names of those in the meeting) to one participant.
    RollCall(ParticipantId, Vec<ParticipantId>),
    /// Connect the participant's audio to the mix (they left the lobby, or joined).
    Connect(ParticipantId),
    /// Set whether the participant's audio goes into the mix.
    Mute(ParticipantId, bool),
    /// Announce that the participant joined (`true`) or left to everyone in.
    Announce(ParticipantId, bool),
    /// End the participant's call (a leader removed them).
    Remove(ParticipantId),
    /// The roster changed (publish it).
    Changed,
}

/// Why a leader's action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    /// Not a leader.
    #[error("only a leader of the meeting can do that")]
    NotLeader,
    /// No such participant.
    #[error("no such participant")]
    NoParticipant,
}

/// One running meeting's roster.
#[derive(Debug)]
pub struct Roster {
    people: Vec<Participant>,
    next_id: ParticipantId,
    locked: bool,
    announcements: bool,
    audience_muted: bool,
    star: Option<(ParticipantId, Instant)>,
    effects: VecDeque<Effect>,
}

impl Roster {
    /// An empty meeting with its settings: locked when its access level is `locked`,
    /// announcing entries when `entry_exit_announcement`.
    pub fn new(access: AccessLevel, entry_exit_announcement: bool) -> Roster {
        Roster {
            people: Vec::new(),
            next_id: 1,
            locked: access == AccessLevel::Locked,
            announcements: entry_exit_announcement,
            audience_muted: false,
            star: None,
            effects: VecDeque::new(),
        }
    }

    /// The next thing to do.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// Everyone, in joining order.
    pub fn participants(&self) -> &[Participant] {
        &self.people
    }

    /// One participant.
    pub fn get(&self, id: ParticipantId) -> Option<&Participant> {
        self.people.iter().find(|p| p.id == id)
    }

    /// Whether the meeting is locked.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// Whether nobody is left (in or waiting).
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// Someone arrives, with the admission the meeting's rule gave them
    /// ([`super::Meeting::admission`]); a locked meeting sends non-leaders to the lobby.
    pub fn join(
        &mut self,
        user: Option<String>,
        name: String,
        admission: Admission,
    ) -> ParticipantId {
        let id = self.next_id;
        self.next_id += 1;
        let leader = admission == Admission::Leader;
        let place = if leader || (admission == Admission::Attendee && !self.locked) {
            Place::In
        } else {
            Place::Lobby
        };
        let held = self.audience_muted && !leader;
        self.people.push(Participant {
            id,
            user,
            name,
            leader,
            place,
            muted: held,
            held_muted: held,
        });
        match place {
            Place::In => self.enter(id),
            Place::Lobby => self.effects.push_back(Effect::Tell(id, Notice::InLobby)),
        }
        self.effects.push_back(Effect::Changed);
        id
    }

    /// Someone's call ended.
    pub fn leave(&mut self, id: ParticipantId) {
        let Some(i) = self.people.iter().position(|p| p.id == id) else {
            return;
        };
        let p = self.people.remove(i);
        if p.place == Place::In && self.announcements {
            self.effects.push_back(Effect::Announce(id, false));
        }
        if self.star.is_some_and(|(s, _)| s == id) {
            self.star = None;
        }
        self.effects.push_back(Effect::Changed);
    }

    /// A keypad digit from a participant at `now`.
    pub fn digit(&mut self, id: ParticipantId, d: char, now: Instant) {
        if self.get(id).is_none() {
            return;
        }
        if d == '*' {
            self.star = Some((id, now));
            return;
        }
        let armed = self
            .star
            .take()
            .is_some_and(|(who, at)| who == id && now.duration_since(at) <= COMMAND_WINDOW);
        if !armed {
            return;
        }
        let in_meeting = self.get(id).is_some_and(|p| p.place == Place::In);
        match d {
            '1' => self.effects.push_back(Effect::Tell(id, Notice::Help)),
            '3' if in_meeting => {
                let present = self
                    .people
                    .iter()
                    .filter(|p| p.place == Place::In)
                    .map(|p| p.id)
                    .collect();
                self.effects.push_back(Effect::RollCall(id, present));
            }
            '6' if in_meeting => self.toggle_self_mute(id),
            '4' => self.as_leader(id, |r| {
                let on = !r.audience_muted;
                r.mute_audience(on);
                r.effects
                    .push_back(Effect::Tell(id, Notice::AudienceMuted(on)));
            }),
            '7' => self.as_leader(id, |r| {
                r.locked = !r.locked;
                let locked = r.locked;
                r.effects
                    .push_back(Effect::Tell(id, Notice::Locked(locked)));
                r.effects.push_back(Effect::Changed);
            }),
            '8' => self.as_leader(id, |r| {
                let n = r.admit_all();
                r.effects
                    .push_back(Effect::Tell(id, Notice::AdmittedAll(n)));
            }),
            '9' => self.as_leader(id, |r| {
                r.announcements = !r.announcements;
                let on = r.announcements;
                r.effects
                    .push_back(Effect::Tell(id, Notice::Announcements(on)));
            }),
            _ => {}
        }
    }

    /// A leader (`by`) or the organizer's API admits someone from the lobby.
    pub fn admit(
        &mut self,
        by: Option<ParticipantId>,
        id: ParticipantId,
    ) -> Result<(), RosterError> {
        self.check_leader(by)?;
        let p = self
            .people
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or(RosterError::NoParticipant)?;
        if p.place == Place::Lobby {
            p.place = Place::In;
            self.enter(id);
            self.effects.push_back(Effect::Changed);
        }
        Ok(())
    }

    /// Mutes or unmutes someone (a leader's action; `by: None` is the organizer's API). A
    /// participant muting themselves goes through [`Roster::set_self_mute`].
    pub fn set_mute(
        &mut self,
        by: Option<ParticipantId>,
        id: ParticipantId,
        muted: bool,
    ) -> Result<(), RosterError> {
        self.check_leader(by)?;
        let p = self
            .people
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or(RosterError::NoParticipant)?;
        p.muted = muted;
        p.held_muted = muted && !p.leader && self.audience_muted;
        self.effects.push_back(Effect::Mute(id, muted));
        self.effects
            .push_back(Effect::Tell(id, Notice::Muted(muted)));
        self.effects.push_back(Effect::Changed);
        Ok(())
    }

    /// A participant mutes or unmutes themselves (from the client or `*6`); refused while
    /// a leader holds the audience muted.
    pub fn set_self_mute(&mut self, id: ParticipantId, muted: bool) -> Result<(), RosterError> {
        let p = self
            .people
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or(RosterError::NoParticipant)?;
        if !muted && p.held_muted {
            self.effects.push_back(Effect::Tell(id, Notice::HeldMuted));
            return Ok(());
        }
        if p.muted != muted {
            p.muted = muted;
            self.effects.push_back(Effect::Mute(id, muted));
            self.effects.push_back(Effect::Changed);
        }
        self.effects
            .push_back(Effect::Tell(id, Notice::Muted(muted)));
        Ok(())
    }

    /// Locks or unlocks (a leader's action).
    pub fn set_locked(
        &mut self,
        by: Option<ParticipantId>,
        locked: bool,
    ) -> Result<(), RosterError> {
        self.check_leader(by)?;
        if self.locked != locked {
            self.locked = locked;
            self.effects.push_back(Effect::Changed);
        }
        Ok(())
    }

    /// Removes someone (a leader's action): their call is ended.
    pub fn remove(
        &mut self,
        by: Option<ParticipantId>,
        id: ParticipantId,
    ) -> Result<(), RosterError> {
        self.check_leader(by)?;
        if self.get(id).is_none() {
            return Err(RosterError::NoParticipant);
        }
        self.effects.push_back(Effect::Remove(id));
        self.leave(id);
        Ok(())
    }

    fn toggle_self_mute(&mut self, id: ParticipantId) {
        let muted = self.get(id).is_some_and(|p| p.muted);
        let _ = self.set_self_mute(id, !muted);
    }

    fn mute_audience(&mut self, on: bool) {
        self.audience_muted = on;
        for p in self.people.iter_mut().filter(|p| !p.leader) {
            p.held_muted = on;
            if p.muted != on {
                p.muted = on;
                self.effects.push_back(Effect::Mute(p.id, on));
            }
        }
        self.effects.push_back(Effect::Changed);
    }

    fn admit_all(&mut self) -> usize {
        let waiting: Vec<ParticipantId> = self
            .people
            .iter()
            .filter(|p| p.place == Place::Lobby)
            .map(|p| p.id)
            .collect();
        for id in &waiting {
            let _ = self.admit(None, *id);
        }
        waiting.len()
    }

    fn enter(&mut self, id: ParticipantId) {
        let muted = self.get(id).is_some_and(|p| p.muted);
        self.effects.push_back(Effect::Tell(id, Notice::Joining));
        self.effects.push_back(Effect::Connect(id));
        if muted {
            self.effects.push_back(Effect::Mute(id, true));
        }
        if self.announcements {
            self.effects.push_back(Effect::Announce(id, true));
        }
        if let Some(p) = self.people.iter_mut().find(|p| p.id == id) {
            p.place = Place::In;
        }
    }

    fn as_leader(&mut self, id: ParticipantId, f: impl FnOnce(&mut Roster)) {
        if self
            .get(id)
            .is_some_and(|p| p.leader && p.place == Place::In)
        {
            f(self);
        } else {
            self.effects.push_back(Effect::Tell(id, Notice::LeaderOnly));
        }
    }

    fn check_leader(&self, by: Option<ParticipantId>) -> Result<(), RosterError> {
        match by {
            None => Ok(()),
            Some(id) if self.get(id).is_some_and(|p| p.leader) => Ok(()),
            Some(_) => Err(RosterError::NotLeader),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(r: &mut Roster) -> Vec<Effect> {
        std::iter::from_fn(|| r.poll_effect()).collect()
    }

    fn keys(r: &mut Roster, id: ParticipantId, s: &str, now: Instant) {
        for c in s.chars() {
            r.digit(id, c, now);
        }
    }

    #[test]
    fn joining_connects_and_announces_and_the_lobby_waits() {
        let mut r = Roster::new(AccessLevel::Invited, true);
        let alice = r.join(
            Some("sip:alice@example.com".into()),
            "Alice".into(),
            Admission::Leader,
        );
        assert_eq!(
            drain(&mut r),
            [
                Effect::Tell(alice, Notice::Joining),
                Effect::Connect(alice),
                Effect::Announce(alice, true),
                Effect::Changed
            ]
        );
        let guest = r.join(None, "Guest".into(), Admission::Lobby);
        assert_eq!(
            drain(&mut r),
            [Effect::Tell(guest, Notice::InLobby), Effect::Changed]
        );
        assert_eq!(r.get(guest).map(|p| p.place), Some(Place::Lobby));
        // A non-leader cannot admit; the leader can.
        let bob = r.join(None, "Bob".into(), Admission::Attendee);
        drain(&mut r);
        assert_eq!(r.admit(Some(bob), guest), Err(RosterError::NotLeader));
        r.admit(Some(alice), guest).expect("admit");
        assert!(drain(&mut r).contains(&Effect::Connect(guest)));
        r.leave(bob);
        assert_eq!(
            drain(&mut r),
            [Effect::Announce(bob, false), Effect::Changed]
        );
    }

    #[test]
    fn keypad_commands_follow_skype_and_need_a_leader_where_skype_does() {
        let now = Instant::now();
        let mut r = Roster::new(AccessLevel::SameEnterprise, false);
        let lead = r.join(None, "Lead".into(), Admission::Leader);
        let att = r.join(None, "Att".into(), Admission::Attendee);
        drain(&mut r);

        keys(&mut r, att, "*7", now);
        assert_eq!(drain(&mut r), [Effect::Tell(att, Notice::LeaderOnly)]);
        assert!(!r.is_locked());

        keys(&mut r, lead, "*7", now);
        assert!(r.is_locked());
        drain(&mut r);
        // Locked: a newcomer who would be admitted waits.
        let late = r.join(None, "Late".into(), Admission::Attendee);
        assert_eq!(r.get(late).map(|p| p.place), Some(Place::Lobby));
        drain(&mut r);
        keys(&mut r, lead, "*8", now);
        let e = drain(&mut r);
        assert!(e.contains(&Effect::Connect(late)), "{e:?}");
        assert!(e.contains(&Effect::Tell(lead, Notice::AdmittedAll(1))));

        // *4: the audience is muted and cannot unmute itself; leaders are not muted.
        keys(&mut r, lead, "*4", now);
        let e = drain(&mut r);
        assert!(e.contains(&Effect::Mute(att, true)) && e.contains(&Effect::Mute(late, true)));
        assert!(!e.contains(&Effect::Mute(lead, true)));
        keys(&mut r, att, "*6", now);
        assert_eq!(drain(&mut r), [Effect::Tell(att, Notice::HeldMuted)]);
        keys(&mut r, lead, "*4", now);
        assert!(drain(&mut r).contains(&Effect::Mute(att, false)));
        // *6 toggles self mute.
        keys(&mut r, att, "*6", now);
        assert!(drain(&mut r).contains(&Effect::Mute(att, true)));
        keys(&mut r, att, "*6", now);
        assert!(drain(&mut r).contains(&Effect::Mute(att, false)));

        // *3 reads those present to the asker only; *1 is help.
        keys(&mut r, att, "*3", now);
        assert_eq!(
            drain(&mut r),
            [Effect::RollCall(att, vec![lead, att, late])]
        );
        keys(&mut r, att, "*1", now);
        assert_eq!(drain(&mut r), [Effect::Tell(att, Notice::Help)]);
        // *9 switches announcements on for later joiners.
        keys(&mut r, lead, "*9", now);
        drain(&mut r);
        let next = r.join(None, "Next".into(), Admission::Leader);
        assert!(drain(&mut r).contains(&Effect::Announce(next, true)));
    }

    #[test]
    fn a_star_without_a_digit_in_time_is_forgotten_and_digits_alone_do_nothing() {
        let now = Instant::now();
        let mut r = Roster::new(AccessLevel::Everyone, false);
        let a = r.join(None, "A".into(), Admission::Leader);
        drain(&mut r);
        r.digit(a, '*', now);
        r.digit(a, '7', now + COMMAND_WINDOW + Duration::from_millis(1));
        assert!(!r.is_locked());
        keys(&mut r, a, "7", now);
        assert!(!r.is_locked());
        assert_eq!(drain(&mut r), []);
    }

    #[test]
    fn leaders_mute_and_remove_through_the_api() {
        let mut r = Roster::new(AccessLevel::Everyone, false);
        let a = r.join(None, "A".into(), Admission::Leader);
        let b = r.join(None, "B".into(), Admission::Attendee);
        drain(&mut r);
        assert_eq!(r.set_mute(Some(b), a, true), Err(RosterError::NotLeader));
        r.set_mute(None, b, true).expect("organizer's API");
        assert!(r.get(b).is_some_and(|p| p.muted));
        assert_eq!(r.remove(None, 99), Err(RosterError::NoParticipant));
        r.remove(Some(a), b).expect("remove");
        assert!(drain(&mut r).contains(&Effect::Remove(b)));
        assert!(r.get(b).is_none());
        r.leave(a);
        assert!(r.is_empty());
    }
}
