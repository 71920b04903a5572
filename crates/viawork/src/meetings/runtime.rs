//! The meetings runtime: the meetings in progress, each a [`Roster`] (who, lobby, lock,
//! mutes, keypad commands) over a [`Conference`] of the media engine (the mixer).
//!
//! One task owns every running meeting and its members' streams, so that roster decisions
//! and the conference's state never disagree. It is fed by:
//!
//! - the calls ([`MeetingMsg`]): a dial-out join answered hands over the stream toward
//!   the user's phone; a call ended leaves;
//! - each member's keypad (a small task per member forwards the stream's RFC 4733 digits);
//! - the conference's roster events (who is speaking);
//! - the API ([`MeetingsRuntime::roster`], [`MeetingsRuntime::act`]).
//!
//! A meeting starts running when its first participant arrives and stops (its conference
//! ends) when the last one leaves. Roster changes go to the participants' and the
//! organizer's event streams as `meeting.roster`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use media::{Clip, Conference, MediaEngine, MixerConfig, RosterEvent, Source, Stream, Target};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::meeting::{Joiner, Meeting};
use super::prompts::{self, Name};
use super::roster::{Effect, ParticipantId, Place, Roster, RosterError};
use super::MeetingsService;
use crate::calls::media::{MeetingJoin, MeetingMsg};
use crate::calls::service::CallsHandle;
use crate::events::EventHub;

/// A participant as clients see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParticipantView {
    /// Their id in this meeting (for leader actions).
    pub id: ParticipantId,
    /// Their SIP URI when they are a directory user.
    pub user: Option<String>,
    /// Their name.
    pub name: String,
    /// Leads the meeting.
    pub leader: bool,
    /// `in` or `lobby`.
    pub place: Place,
    /// Not heard.
    pub muted: bool,
    /// Speaking now.
    pub speaking: bool,
}

/// A running meeting's roster.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RosterView {
    /// The meeting's id.
    pub meeting_id: String,
    /// New non-leaders wait in the lobby.
    pub locked: bool,
    /// Everyone, in joining order.
    pub participants: Vec<ParticipantView>,
}

/// What a leader (or a participant, for themselves) asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Mute or unmute someone (themselves: anyone; others: leaders).
    Mute(ParticipantId, bool),
    /// Let someone in from the lobby.
    Admit(ParticipantId),
    /// End someone's participation.
    Remove(ParticipantId),
    /// Lock or unlock.
    Lock(bool),
}

/// Why the runtime refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// Nobody is in the meeting.
    #[error("the meeting is not in progress")]
    NotRunning,
    /// Refused by the roster.
    #[error(transparent)]
    Roster(#[from] RosterError),
    /// The runtime has stopped.
    #[error("the meetings runtime is not running")]
    Stopped,
}

enum Command {
    Roster {
        meeting: String,
        reply: oneshot::Sender<Option<RosterView>>,
    },
    Act {
        meeting: String,
        user: String,
        action: Action,
        reply: oneshot::Sender<Result<(), RuntimeError>>,
    },
}

enum Internal {
    Digit(Arc<str>, char),
    Media(String, RosterEvent),
}

/// The runtime's handle; cheap to clone.
#[derive(Clone)]
pub struct MeetingsRuntime {
    calls: mpsc::UnboundedSender<MeetingMsg>,
    commands: mpsc::Sender<Command>,
}

impl std::fmt::Debug for MeetingsRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeetingsRuntime").finish_non_exhaustive()
    }
}

impl MeetingsRuntime {
    /// Starts the runtime's task (inside a tokio runtime). Conferences run on `engine`;
    /// `calls` hangs up removed participants.
    pub fn start(
        engine: MediaEngine,
        meetings: MeetingsService,
        calls: Option<CallsHandle>,
        events: EventHub,
    ) -> MeetingsRuntime {
        let (calls_tx, calls_rx) = mpsc::unbounded_channel();
        let (commands, commands_rx) = mpsc::channel(256);
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let hub = Hub {
            engine,
            meetings,
            calls,
            events,
            running: HashMap::new(),
            by_call: HashMap::new(),
            internal: internal_tx,
        };
        tokio::spawn(hub.run(calls_rx, commands_rx, internal_rx));
        MeetingsRuntime {
            calls: calls_tx,
            commands,
        }
    }

    /// Where dial-out joins hand their streams ([`MeetingJoin::to`]).
    pub fn calls_sender(&self) -> mpsc::UnboundedSender<MeetingMsg> {
        self.calls.clone()
    }

    /// The roster of a running meeting (`None` when nobody is in it).
    pub async fn roster(&self, meeting: &str) -> Result<Option<RosterView>, RuntimeError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Roster {
                meeting: meeting.to_owned(),
                reply,
            })
            .await
            .map_err(|_| RuntimeError::Stopped)?;
        rx.await.map_err(|_| RuntimeError::Stopped)
    }

    /// Does `action` as `user`: the organizer and named leaders act as leaders whether or
    /// not they are in the meeting; others as their own participant.
    pub async fn act(&self, meeting: &str, user: &str, action: Action) -> Result<(), RuntimeError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Act {
                meeting: meeting.to_owned(),
                user: user.to_owned(),
                action,
                reply,
            })
            .await
            .map_err(|_| RuntimeError::Stopped)?;
        rx.await.map_err(|_| RuntimeError::Stopped)?
    }
}

struct Member {
    call: Arc<str>,
    /// The call's owner (to hang it up).
    owner: String,
    stream: Stream,
    /// Its id in the conference, once connected.
    media: Option<media::ParticipantId>,
}

struct Running {
    meeting: Meeting,
    roster: Roster,
    conference: Conference,
    members: HashMap<ParticipantId, Member>,
    speaking: HashSet<media::ParticipantId>,
}

struct Hub {
    engine: MediaEngine,
    meetings: MeetingsService,
    calls: Option<CallsHandle>,
    events: EventHub,
    running: HashMap<String, Running>,
    by_call: HashMap<Arc<str>, (String, ParticipantId)>,
    internal: mpsc::UnboundedSender<Internal>,
}

impl Hub {
    async fn run(
        mut self,
        mut calls: mpsc::UnboundedReceiver<MeetingMsg>,
        mut commands: mpsc::Receiver<Command>,
        mut internal: mpsc::UnboundedReceiver<Internal>,
    ) {
        loop {
            tokio::select! {
                Some(m) = calls.recv() => match m {
                    MeetingMsg::Enter { call, join, stream } => self.enter(call, join, stream).await,
                    MeetingMsg::Left { call } => self.left(&call),
                },
                Some(c) = commands.recv() => self.command(c),
                Some(i) = internal.recv() => match i {
                    Internal::Digit(call, d) => self.digit(&call, d),
                    Internal::Media(meeting, ev) => self.media_event(&meeting, ev),
                },
                else => return,
            }
        }
    }

    async fn enter(&mut self, call: Arc<str>, join: MeetingJoin, mut stream: Stream) {
        if !self.running.contains_key(&join.meeting_id) {
            let meeting = match self.meetings.get(&join.meeting_id).await {
                Ok(Some(m)) => m,
                Ok(None) | Err(_) => {
                    tracing::info!(meeting = %join.meeting_id, "joining a meeting that is gone");
                    self.hang_up(&call, &join.user);
                    return;
                }
            };
            let conference = self.engine.conference(MixerConfig {
                entry_tone: None,
                exit_tone: None,
                ..MixerConfig::default()
            });
            let mut events = conference.events();
            let tx = self.internal.clone();
            let id = join.meeting_id.clone();
            tokio::spawn(async move {
                loop {
                    match events.recv().await {
                        Ok(ev) => {
                            if tx.send(Internal::Media(id.clone(), ev)).is_err() {
                                return;
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
            let roster = Roster::new(
                meeting.settings.access_level,
                meeting.settings.entry_exit_announcement,
            );
            self.running.insert(
                join.meeting_id.clone(),
                Running {
                    meeting,
                    roster,
                    conference,
                    members: HashMap::new(),
                    speaking: HashSet::new(),
                },
            );
        }
        // The keypad: forwarded by a task of its own, since the stream stays here.
        let mut digits = stream.take_dtmf_events();
        let tx = self.internal.clone();
        let c = call.clone();
        tokio::spawn(async move {
            while let Some(d) = digits.recv().await {
                if tx.send(Internal::Digit(c.clone(), d.to_char())).is_err() {
                    return;
                }
            }
        });
        let Some(r) = self.running.get_mut(&join.meeting_id) else {
            return;
        };
        let admission = r.meeting.admission(&Joiner::User(join.user.clone()));
        let pid = r
            .roster
            .join(Some(join.user.clone()), join.name.clone(), admission);
        r.members.insert(
            pid,
            Member {
                call: call.clone(),
                owner: join.user.clone(),
                stream,
                media: None,
            },
        );
        self.by_call.insert(call, (join.meeting_id.clone(), pid));
        self.apply(&join.meeting_id);
    }

    fn left(&mut self, call: &Arc<str>) {
        let Some((meeting, pid)) = self.by_call.remove(call) else {
            return;
        };
        if let Some(r) = self.running.get_mut(&meeting) {
            r.roster.leave(pid);
        }
        self.apply(&meeting);
        if let Some(r) = self.running.get_mut(&meeting) {
            // Dropping the stream takes it out of the conference and frees its ports.
            r.members.remove(&pid);
            if r.roster.is_empty() {
                self.running.remove(&meeting);
            }
        }
    }

    fn digit(&mut self, call: &Arc<str>, d: char) {
        let Some((meeting, pid)) = self.by_call.get(call).cloned() else {
            return;
        };
        if let Some(r) = self.running.get_mut(&meeting) {
            r.roster.digit(pid, d, Instant::now());
        }
        self.apply(&meeting);
    }

    fn media_event(&mut self, meeting: &str, ev: RosterEvent) {
        let Some(r) = self.running.get_mut(meeting) else {
            return;
        };
        let changed = match ev {
            RosterEvent::SpeakingStarted(id) => r.speaking.insert(id),
            RosterEvent::SpeakingStopped(id) => r.speaking.remove(&id),
            _ => false,
        };
        if changed {
            self.publish(meeting);
        }
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Roster { meeting, reply } => {
                let _ = reply.send(self.running.get(&meeting).map(|r| view(&meeting, r)));
            }
            Command::Act {
                meeting,
                user,
                action,
                reply,
            } => {
                let result = self.act(&meeting, &user, action);
                self.apply(&meeting);
                let _ = reply.send(result);
            }
        }
    }

    fn act(&mut self, meeting: &str, user: &str, action: Action) -> Result<(), RuntimeError> {
        let r = self
            .running
            .get_mut(meeting)
            .ok_or(RuntimeError::NotRunning)?;
        let own = r
            .roster
            .participants()
            .iter()
            .find(|p| {
                p.user
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(user))
            })
            .map(|p| p.id);
        // The organizer and named leaders lead from anywhere (the client, without a phone
        // in the meeting); others through their participant.
        let by = if r.meeting.is_named_leader(user) {
            None
        } else {
            Some(own.ok_or(RosterError::NotLeader)?)
        };
        match action {
            Action::Mute(pid, muted) if Some(pid) == own => r.roster.set_self_mute(pid, muted)?,
            Action::Mute(pid, muted) => r.roster.set_mute(by, pid, muted)?,
            Action::Admit(pid) => r.roster.admit(by, pid)?,
            Action::Remove(pid) => r.roster.remove(by, pid)?,
            Action::Lock(on) => r.roster.set_locked(by, on)?,
        }
        Ok(())
    }

    /// Carries out what the roster decided.
    fn apply(&mut self, meeting: &str) {
        let mut changed = false;
        let mut hang_ups = Vec::new();
        if let Some(r) = self.running.get_mut(meeting) {
            while let Some(effect) = r.roster.poll_effect() {
                match effect {
                    Effect::Tell(pid, notice) => {
                        tell(r, pid, prompts::clip(prompts::of_notice(notice)));
                    }
                    Effect::RollCall(pid, present) => {
                        let mut names = vec![Name::roll_call];
                        names.extend(present.iter().map(|p| name_of(&r.roster, *p)));
                        tell(r, pid, prompts::concat(&names));
                    }
                    Effect::Connect(pid) => {
                        if let Some(m) = r.members.get_mut(&pid) {
                            match r.conference.join(&m.stream) {
                                Ok(id) => m.media = Some(id),
                                Err(e) => tracing::warn!(error = %e, "cannot join the conference"),
                            }
                        }
                    }
                    Effect::Mute(pid, muted) => {
                        if let Some(id) = r.members.get(&pid).and_then(|m| m.media) {
                            let _ = r.conference.set_muted(id, muted);
                        }
                    }
                    Effect::Announce(pid, joined) => {
                        let what = if joined {
                            Name::has_joined
                        } else {
                            Name::has_left
                        };
                        let clip = prompts::concat(&[name_of(&r.roster, pid), what]);
                        // Not to the one arriving: they hear "joining".
                        for (other, m) in &r.members {
                            if *other != pid {
                                if let Some(id) = m.media {
                                    let _ = r.conference.announce(clip.clone(), Target::Only(id));
                                }
                            }
                        }
                    }
                    Effect::Remove(pid) => {
                        if let Some(m) = r.members.remove(&pid) {
                            hang_ups.push((m.call.clone(), m.owner.clone()));
                        }
                    }
                    Effect::Changed => changed = true,
                }
            }
        }
        for (call, owner) in hang_ups {
            self.by_call.remove(&call);
            self.hang_up(&call, &owner);
        }
        if changed {
            self.publish(meeting);
        }
        if self
            .running
            .get(meeting)
            .is_some_and(|r| r.roster.is_empty())
        {
            self.running.remove(meeting);
        }
    }

    fn publish(&self, meeting: &str) {
        let Some(r) = self.running.get(meeting) else {
            return;
        };
        let v = view(meeting, r);
        let mut told: HashSet<String> = HashSet::new();
        let organizer = r.meeting.organizer.to_ascii_lowercase();
        for user in r
            .roster
            .participants()
            .iter()
            .filter_map(|p| p.user.as_deref())
            .map(str::to_ascii_lowercase)
            .chain(std::iter::once(organizer))
        {
            if told.insert(user.clone()) {
                self.events.publish(&user, "meeting.roster", &v);
            }
        }
    }

    fn hang_up(&self, call: &Arc<str>, owner: &str) {
        if let Some(calls) = self.calls.clone() {
            let (call, owner) = (call.to_string(), owner.to_owned());
            tokio::spawn(async move {
                let _ = calls.hang_up(&call, &owner).await;
            });
        }
    }
}

/// Plays `clip` to one participant: over the meeting once they are in it, by itself on
/// their stream while they wait in the lobby.
fn tell(r: &Running, pid: ParticipantId, clip: Clip) {
    let Some(m) = r.members.get(&pid) else {
        return;
    };
    match m.media {
        Some(id) => {
            let _ = r.conference.announce(clip, Target::Only(id));
        }
        None => {
            // Nobody waits for the end of a notice to someone in the lobby.
            drop(m.stream.play_clip(clip, Source::Silence));
        }
    }
}

/// How a participant is named in announcements: directory users and guests alike have no
/// recorded name yet.
fn name_of(roster: &Roster, pid: ParticipantId) -> Name {
    match roster.get(pid).and_then(|p| p.user.as_ref()) {
        Some(_) => Name::a_participant,
        None => Name::a_guest,
    }
}

fn view(meeting: &str, r: &Running) -> RosterView {
    RosterView {
        meeting_id: meeting.to_owned(),
        locked: r.roster.is_locked(),
        participants: r
            .roster
            .participants()
            .iter()
            .map(|p| {
                let media = r.members.get(&p.id).and_then(|m| m.media);
                ParticipantView {
                    id: p.id,
                    user: p.user.clone(),
                    name: p.name.clone(),
                    leader: p.leader,
                    place: p.place,
                    muted: p.muted,
                    speaking: media.is_some_and(|id| r.speaking.contains(&id)),
                }
            })
            .collect(),
    }
}
