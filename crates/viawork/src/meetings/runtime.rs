//! The meetings runtime: the meetings in progress, each a [`Roster`] (who, lobby, lock,
//! mutes, keypad commands) over a [`Conference`] of the media engine (the mixer).
//!
//! One task owns every running meeting and its members' streams, so that roster decisions
//! and the conference's state never disagree. It is fed by:
//!
//! - the calls ([`MeetingMsg`]): a dial-out join answered hands over the stream toward
//!   the user's phone; a dial-in call to a bridge number hands over its stream to a voice
//!   menu ([`Ivr`]) that finds the meeting and who the caller is first; a call ended
//!   leaves;
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

use media::{
    Clip, ClipEnd, Conference, MediaEngine, MixerConfig, RosterEvent, Source, Stream, Target,
};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::ivr::{self, Caller, Ivr, PinOwner};
use super::meeting::{Joiner, Meeting};
use super::prompts::{self, Name};
use super::roster::{Effect, ParticipantId, Place, Roster, RosterError};
use super::service::PinCheck;
use super::MeetingsService;
use crate::calls::media::{MeetingJoin, MeetingMsg};
use crate::calls::service::CallsHandle;
use crate::calls::LegRole;
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
    /// The call that brought them (`/api/v1/calls/{call}` for its owner): a client finds
    /// its own join by it.
    pub call: Option<String>,
}

/// A running meeting's roster.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RosterView {
    /// The meeting's id.
    pub meeting_id: String,
    /// New non-leaders wait in the lobby.
    pub locked: bool,
    /// The meeting is being recorded.
    pub recording: bool,
    /// Everyone, in joining order.
    pub participants: Vec<ParticipantView>,
}

/// How often at most a change of who is speaking alone is published.
const SPEAKING_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

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
    /// Start or stop recording (leaders).
    Record(bool),
}

/// Why the runtime refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    /// A recording could not be started.
    #[error("cannot record: {0}")]
    Recording(String),
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
    /// A voice-menu prompt played to its end (the play's generation).
    PromptDone(Arc<str>, u64),
    /// A conference ID looked up.
    Looked(Arc<str>, Option<Meeting>),
    /// A PIN checked: the user it was for, and the verdict.
    Pin(Arc<str>, Option<(String, String)>, PinCheck),
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
        people: Arc<crate::people::Directory>,
        calls: Option<CallsHandle>,
        events: EventHub,
    ) -> MeetingsRuntime {
        let (calls_tx, calls_rx) = mpsc::unbounded_channel();
        let (commands, commands_rx) = mpsc::channel(256);
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let hub = Hub {
            engine,
            meetings,
            people,
            calls,
            events,
            running: HashMap::new(),
            by_call: HashMap::new(),
            menus: HashMap::new(),
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
    /// The name a dial-in guest recorded.
    name_clip: Option<Clip>,
    /// Which leg of an escalated call they are.
    leg: Option<LegRole>,
}

/// Someone arriving at a meeting, their stream already answering.
struct Arrival {
    call: Arc<str>,
    who: Joiner,
    name: String,
    /// The call's owner (to hang it up).
    owner: String,
    /// Invited by someone in the meeting: past the lobby.
    admitted: bool,
    stream: Stream,
    /// The name a dial-in guest recorded.
    name_clip: Option<Clip>,
    /// Which leg of an escalated call they are (both parties share one call).
    leg: Option<LegRole>,
}

struct Running {
    meeting: Meeting,
    roster: Roster,
    conference: Conference,
    members: HashMap<ParticipantId, Member>,
    speaking: HashSet<media::ParticipantId>,
    /// The id of the recording in progress.
    recording: Option<String>,
    /// When the roster was last published.
    published_at: Option<Instant>,
    /// A change of who is speaking waits to be published then.
    speaking_due: Option<Instant>,
}

/// A dial-in caller in the voice menu.
struct Menu {
    ivr: Ivr,
    stream: Stream,
    /// The call's owner (to hang it up).
    owner: String,
    /// The authenticated user's name.
    owner_name: Option<String>,
    /// The meeting the caller's conference ID found.
    meeting: Option<Meeting>,
    /// The guest's recorded name, on its way.
    name: Option<oneshot::Receiver<Clip>>,
    /// Generation of the prompt playing: a finish from an older one is stale.
    playing: u64,
}

struct Hub {
    engine: MediaEngine,
    meetings: MeetingsService,
    people: Arc<crate::people::Directory>,
    calls: Option<CallsHandle>,
    events: EventHub,
    running: HashMap<String, Running>,
    by_call: HashMap<Arc<str>, (String, ParticipantId)>,
    menus: HashMap<Arc<str>, Menu>,
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
            let deadline = self
                .menus
                .values()
                .filter_map(|m| m.ivr.poll_timeout())
                .chain(self.running.values().filter_map(|r| r.speaking_due))
                .min();
            let timer = async move {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(m) = calls.recv() => match m {
                    MeetingMsg::Enter { call, join, stream } => self.enter(call, join, stream).await,
                    MeetingMsg::Left { call } => self.left(&call),
                    MeetingMsg::Digit { call, digit } => self.digit(&call, digit).await,
                    MeetingMsg::EnterEscalated { call, meeting_id, legs } => {
                        self.enter_escalated(call, meeting_id, legs).await
                    }
                    MeetingMsg::LegLeft { call, leg } => {
                        let role = if leg == 0 { LegRole::Callback } else { LegRole::Far };
                        self.member_left(&member_key(&call, Some(role)));
                    }
                },
                Some(c) = commands.recv() => self.command(c).await,
                Some(i) = internal.recv() => match i {
                    Internal::Digit(call, d) => self.digit(&call, d).await,
                    Internal::Media(meeting, ev) => self.media_event(&meeting, ev),
                    Internal::PromptDone(call, generation) => {
                        if let Some(m) = self.menus.get_mut(&call) {
                            if m.playing == generation {
                                m.ivr.handle(ivr::Event::PromptDone, Instant::now());
                            }
                        }
                        self.drive(&call).await;
                    }
                    Internal::Looked(call, meeting) => {
                        if let Some(m) = self.menus.get_mut(&call) {
                            let event = match &meeting {
                                Some(found) => ivr::Event::MeetingFound {
                                    phone_allowed: found.settings.phone_user_admission,
                                },
                                None => ivr::Event::MeetingMissing,
                            };
                            m.meeting = meeting;
                            m.ivr.handle(event, Instant::now());
                        }
                        self.drive(&call).await;
                    }
                    Internal::Pin(call, user, verdict) => {
                        if let Some(m) = self.menus.get_mut(&call) {
                            let event = match (verdict, user) {
                                (PinCheck::Accepted, Some((uri, name))) => {
                                    m.owner_name = Some(name);
                                    ivr::Event::PinAccepted(uri)
                                }
                                (PinCheck::Locked(_), _) => ivr::Event::PinLocked,
                                _ => ivr::Event::PinRefused,
                            };
                            m.ivr.handle(event, Instant::now());
                        }
                        self.drive(&call).await;
                    }
                },
                () = timer => {
                    let now = Instant::now();
                    let flush: Vec<String> = self
                        .running
                        .iter()
                        .filter(|(_, r)| r.speaking_due.is_some_and(|t| t <= now))
                        .map(|(m, _)| m.clone())
                        .collect();
                    for meeting in flush {
                        self.publish(&meeting);
                    }
                    let due: Vec<Arc<str>> = self
                        .menus
                        .iter()
                        .filter(|(_, m)| m.ivr.poll_timeout().is_some_and(|t| t <= now))
                        .map(|(c, _)| c.clone())
                        .collect();
                    for call in due {
                        if let Some(m) = self.menus.get_mut(&call) {
                            m.ivr.handle_timeout(now);
                        }
                        self.drive(&call).await;
                    }
                }
                else => return,
            }
        }
    }

    /// Forwards a member's RFC 4733 digits to the loop under `key` (by a task of its own,
    /// since the stream stays here).
    fn forward_keypad(&self, stream: &mut Stream, key: Arc<str>) {
        let mut digits = stream.take_dtmf_events();
        let tx = self.internal.clone();
        tokio::spawn(async move {
            while let Some(d) = digits.recv().await {
                if tx.send(Internal::Digit(key.clone(), d.to_char())).is_err() {
                    return;
                }
            }
        });
    }

    /// A two-party call turned into a meeting: both parties join, as themselves.
    async fn enter_escalated(
        &mut self,
        call: Arc<str>,
        meeting_id: String,
        legs: Vec<(usize, Option<String>, String, Stream)>,
    ) {
        let owner = legs
            .iter()
            .find(|l| l.0 == 0)
            .and_then(|l| l.1.clone())
            .unwrap_or_default();
        for (index, user, name, mut stream) in legs {
            let leg = if index == 0 {
                LegRole::Callback
            } else {
                LegRole::Far
            };
            self.forward_keypad(&mut stream, member_key(&call, Some(leg)));
            let who = match user {
                Some(u) => Joiner::User(u),
                None => Joiner::AnonymousPhone,
            };
            let arrival = Arrival {
                call: call.clone(),
                who,
                name,
                owner: owner.clone(),
                admitted: true,
                stream,
                name_clip: None,
                leg: Some(leg),
            };
            self.admit_to(&meeting_id, arrival).await;
        }
    }

    async fn enter(&mut self, call: Arc<str>, join: MeetingJoin, mut stream: Stream) {
        self.forward_keypad(&mut stream, call.clone());
        let owner = join.owner.clone();
        match join.meeting_id {
            Some(id) => {
                let who = match &join.user {
                    Some(u) => Joiner::User(u.clone()),
                    None => Joiner::AnonymousPhone,
                };
                let arrival = Arrival {
                    call,
                    who,
                    name: join.name,
                    owner,
                    admitted: join.admitted,
                    stream,
                    name_clip: None,
                    leg: None,
                };
                self.admit_to(&id, arrival).await;
            }
            None => {
                // A dial-in caller: the voice menu first.
                self.menus.insert(
                    call.clone(),
                    Menu {
                        ivr: Ivr::new(join.user.clone()),
                        stream,
                        owner,
                        owner_name: None,
                        meeting: None,
                        name: None,
                        playing: 0,
                    },
                );
                self.drive(&call).await;
            }
        }
    }

    /// Carries out what a caller's voice menu wants.
    async fn drive(&mut self, call: &Arc<str>) {
        loop {
            let Some(m) = self.menus.get_mut(call) else {
                return;
            };
            let Some(action) = m.ivr.poll_action() else {
                return;
            };
            match action {
                ivr::Action::Play(list) => {
                    m.playing += 1;
                    let names: Vec<Name> = list.into_iter().map(prompts::of_prompt).collect();
                    let end = m.stream.play_clip(prompts::concat(&names), Source::Silence);
                    let (tx, c, generation) = (self.internal.clone(), call.clone(), m.playing);
                    tokio::spawn(async move {
                        if let Ok(ClipEnd::Finished) = end.await {
                            let _ = tx.send(Internal::PromptDone(c, generation));
                        }
                    });
                }
                ivr::Action::StopPlaying => {
                    m.playing += 1;
                    m.stream.play(Source::Silence);
                }
                ivr::Action::LookUp(id) => {
                    let (svc, tx, c) = (self.meetings.clone(), self.internal.clone(), call.clone());
                    tokio::spawn(async move {
                        let found = svc.by_conference_id(&id).await.unwrap_or_else(|e| {
                            tracing::warn!(error = %e, "cannot look the conference ID up");
                            None
                        });
                        let _ = tx.send(Internal::Looked(c, found));
                    });
                }
                ivr::Action::CheckPin { owner, pin } => {
                    let (svc, people, tx, c) = (
                        self.meetings.clone(),
                        self.people.clone(),
                        self.internal.clone(),
                        call.clone(),
                    );
                    tokio::spawn(async move {
                        let (user, verdict) = check_pin(&svc, &people, owner, &pin).await;
                        let _ = tx.send(Internal::Pin(c, user, verdict));
                    });
                }
                ivr::Action::StartRecording => {
                    m.name = Some(m.stream.capture(ivr::NAME_MAX));
                }
                ivr::Action::StopRecording => m.stream.stop_capture(),
                ivr::Action::Join(caller) => {
                    let Some(menu) = self.menus.remove(call) else {
                        return;
                    };
                    let Some(meeting) = menu.meeting else {
                        self.hang_up(call, &menu.owner);
                        return;
                    };
                    // A recorded name shorter than 300 ms is noise, not a name.
                    let name_clip = match (caller.clone(), menu.name) {
                        (Caller::Guest { named: true }, Some(rx)) => {
                            rx.await.ok().filter(|c| c.len() >= 2400)
                        }
                        _ => None,
                    };
                    let (who, name) = match caller {
                        Caller::User(uri) => {
                            let name = menu.owner_name.clone().unwrap_or_else(|| uri.clone());
                            (Joiner::User(uri), name)
                        }
                        Caller::Guest { .. } => (Joiner::AnonymousPhone, "Guest".to_owned()),
                    };
                    let arrival = Arrival {
                        call: call.clone(),
                        who,
                        name,
                        owner: menu.owner,
                        admitted: false,
                        stream: menu.stream,
                        name_clip,
                        leg: None,
                    };
                    self.admit_to(&meeting.id, arrival).await;
                    return;
                }
                ivr::Action::HangUp => {
                    let owner = m.owner.clone();
                    self.menus.remove(call);
                    self.hang_up(call, &owner);
                    return;
                }
            }
        }
    }

    /// Puts a caller (their stream already answering) into a meeting, starting it.
    async fn admit_to(&mut self, meeting_id: &str, arrival: Arrival) {
        let Arrival {
            call,
            who,
            name,
            owner,
            admitted,
            stream,
            name_clip,
            leg,
        } = arrival;
        if !self.running.contains_key(meeting_id) {
            let meeting = match self.meetings.get(meeting_id).await {
                Ok(Some(m)) => m,
                Ok(None) | Err(_) => {
                    tracing::info!(meeting = %meeting_id, "joining a meeting that is gone");
                    self.hang_up(&call, &owner);
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
            let id = meeting_id.to_owned();
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
                meeting_id.to_owned(),
                Running {
                    meeting,
                    roster,
                    conference,
                    members: HashMap::new(),
                    speaking: HashSet::new(),
                    recording: None,
                    published_at: None,
                    speaking_due: None,
                },
            );
        }
        let Some(r) = self.running.get_mut(meeting_id) else {
            return;
        };
        let admission = match r.meeting.admission(&who) {
            // Someone in the meeting invited them: no lobby.
            super::Admission::Lobby if admitted => super::Admission::Attendee,
            a => a,
        };
        let user = match who {
            Joiner::User(u) => Some(u),
            Joiner::AnonymousPhone => None,
        };
        let pid = r.roster.join(user, name, admission);
        r.members.insert(
            pid,
            Member {
                call: call.clone(),
                owner,
                stream,
                media: None,
                name_clip,
                leg,
            },
        );
        self.by_call
            .insert(member_key(&call, leg), (meeting_id.to_owned(), pid));
        self.apply(meeting_id);
    }

    /// A call ended: whoever it brought leaves (both parties of an escalated call).
    fn left(&mut self, call: &Arc<str>) {
        if self.menus.remove(call).is_some() {
            return;
        }
        for leg in [None, Some(LegRole::Callback), Some(LegRole::Far)] {
            self.member_left(&member_key(call, leg));
        }
    }

    /// The member under `key` left.
    fn member_left(&mut self, key: &Arc<str>) {
        let Some((meeting, pid)) = self.by_call.remove(key) else {
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
                self.end(&meeting);
            }
        }
    }

    async fn digit(&mut self, call: &Arc<str>, d: char) {
        if let Some(m) = self.menus.get_mut(call) {
            m.ivr.handle(ivr::Event::Digit(d), Instant::now());
            self.drive(call).await;
            return;
        }
        // SIP INFO digits name the call: an escalated call's are its user's.
        let found = self
            .by_call
            .get(call)
            .or_else(|| self.by_call.get(&member_key(call, Some(LegRole::Callback))))
            .cloned();
        let Some((meeting, pid)) = found else {
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
        // Who is speaking changes several times a second: clients get it at most every
        // SPEAKING_EVERY, so that it does not crowd a user's event log.
        if changed && r.speaking_due.is_none() {
            let now = Instant::now();
            let next = r
                .published_at
                .map_or(now, |at| at + SPEAKING_EVERY)
                .max(now);
            r.speaking_due = Some(next);
        }
    }

    async fn command(&mut self, c: Command) {
        match c {
            Command::Act {
                meeting,
                user,
                action: Action::Record(on),
                reply,
            } => {
                let result = self.record(&meeting, &user, on).await;
                self.publish(&meeting);
                let _ = reply.send(result);
            }
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
            Action::Record(_) => {}
        }
        Ok(())
    }

    /// Starts or stops recording `meeting` as `user` (a leader).
    async fn record(&mut self, meeting: &str, user: &str, on: bool) -> Result<(), RuntimeError> {
        let r = self.running.get(meeting).ok_or(RuntimeError::NotRunning)?;
        let leads = r.meeting.is_named_leader(user)
            || r.roster.participants().iter().any(|p| {
                p.leader
                    && p.user
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(user))
            });
        if !leads {
            return Err(RosterError::NotLeader.into());
        }
        if on == r.recording.is_some() {
            return Ok(());
        }
        if !on {
            self.stop_recording(meeting);
            return Ok(());
        }
        // Those who may hear it: whoever may see the meeting, and whoever is in it now.
        let mut viewers: Vec<String> = std::iter::once(r.meeting.organizer.clone())
            .chain(r.meeting.settings.leaders.iter().cloned())
            .chain(r.meeting.settings.attendees.iter().cloned())
            .chain(
                r.roster
                    .participants()
                    .iter()
                    .filter_map(|p| p.user.clone()),
            )
            .map(|u| u.to_ascii_lowercase())
            .collect();
        viewers.sort();
        viewers.dedup();
        let now = crate::store::unix_now_ms();
        let (row, path) = self
            .meetings
            .new_recording(&r.meeting, viewers, now)
            .await
            .map_err(|e| RuntimeError::Recording(e.to_string()))?;
        let Some(r) = self.running.get_mut(meeting) else {
            return Err(RuntimeError::NotRunning);
        };
        let notice = prompts::clip(Name::recording_started);
        if let Err(e) = r.conference.start_recording(&path, Some(notice)) {
            let _ = self.meetings.recording_finished(&row.id, 0, now).await;
            return Err(RuntimeError::Recording(e.to_string()));
        }
        r.recording = Some(row.id);
        Ok(())
    }

    /// Stops a meeting's recording (off the loop: the file is finished on a blocking
    /// thread) and tells everyone.
    fn stop_recording(&mut self, meeting: &str) {
        let Some(r) = self.running.get_mut(meeting) else {
            return;
        };
        let Some(id) = r.recording.take() else {
            return;
        };
        let _ = r
            .conference
            .announce(prompts::clip(Name::recording_stopped), Target::All);
        let (conference, svc) = (r.conference.clone(), self.meetings.clone());
        tokio::spawn(async move {
            let ms = match conference.stop_recording().await {
                Ok(summary) => summary.duration().as_millis() as i64,
                Err(e) => {
                    tracing::warn!(error = %e, recording = %id, "the recording did not finish cleanly");
                    0
                }
            };
            let now = crate::store::unix_now_ms();
            if let Err(e) = svc.recording_finished(&id, ms, now).await {
                tracing::warn!(error = %e, recording = %id, "cannot record the recording's end");
            }
        });
    }

    /// The last participant left: the meeting stops running (its recording is finished).
    fn end(&mut self, meeting: &str) {
        self.stop_recording(meeting);
        self.running.remove(meeting);
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
                        let mut clips = vec![prompts::clip(Name::roll_call)];
                        clips.extend(present.iter().map(|p| name_of(r, *p)));
                        tell(r, pid, prompts::join(&clips));
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
                        let clip = prompts::join(&[name_of(r, pid), prompts::clip(what)]);
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
                            hang_ups.push((m.call.clone(), m.owner.clone(), m.leg));
                        }
                    }
                    Effect::Changed => changed = true,
                }
            }
        }
        for (call, owner, leg) in hang_ups {
            self.by_call.remove(&member_key(&call, leg));
            match leg {
                // Only that party of an escalated call.
                Some(role) => self.drop_leg(&call, &owner, role),
                None => self.hang_up(&call, &owner),
            }
        }
        if changed {
            self.publish(meeting);
        }
        if self
            .running
            .get(meeting)
            .is_some_and(|r| r.roster.is_empty())
        {
            self.end(meeting);
        }
    }

    fn publish(&mut self, meeting: &str) {
        let Some(r) = self.running.get_mut(meeting) else {
            return;
        };
        r.published_at = Some(Instant::now());
        r.speaking_due = None;
        let r = &*r;
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

    fn drop_leg(&self, call: &Arc<str>, owner: &str, leg: LegRole) {
        if let Some(calls) = self.calls.clone() {
            let (call, owner) = (call.to_string(), owner.to_owned());
            tokio::spawn(async move {
                let _ = calls
                    .control(&call, &owner, crate::calls::Control::DropLeg(leg))
                    .await;
            });
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

/// How a participant is named in announcements: the name a dial-in guest recorded, else
/// "a participant" for directory users (ViaWork has no text-to-speech) or "a guest".
fn name_of(r: &Running, pid: ParticipantId) -> Clip {
    if let Some(c) = r.members.get(&pid).and_then(|m| m.name_clip.clone()) {
        return c;
    }
    match r.roster.get(pid).and_then(|p| p.user.as_ref()) {
        Some(_) => prompts::clip(Name::a_participant),
        None => prompts::clip(Name::a_guest),
    }
}

fn view(meeting: &str, r: &Running) -> RosterView {
    RosterView {
        meeting_id: meeting.to_owned(),
        locked: r.roster.is_locked(),
        recording: r.recording.is_some(),
        participants: r
            .roster
            .participants()
            .iter()
            .map(|p| {
                let member = r.members.get(&p.id);
                let media = member.and_then(|m| m.media);
                ParticipantView {
                    id: p.id,
                    user: p.user.clone(),
                    name: p.name.clone(),
                    leader: p.leader,
                    place: p.place,
                    muted: p.muted,
                    speaking: media.is_some_and(|id| r.speaking.contains(&id)),
                    call: member.map(|m| m.call.to_string()),
                }
            })
            .collect(),
    }
}

/// Finds whose PIN a dial-in caller typed and checks it: `(SIP URI, name)` of the user when
/// found, with the verdict.
async fn check_pin(
    svc: &MeetingsService,
    people: &Arc<crate::people::Directory>,
    owner: PinOwner,
    pin: &str,
) -> (Option<(String, String)>, PinCheck) {
    let uri = match owner {
        PinOwner::User(uri) => Some(uri),
        PinOwner::Typed(typed) => match people.index().await {
            Ok(index) => {
                let plus = format!("+{}", typed.trim_start_matches('+'));
                index
                    .by_line_extension(&typed)
                    .or_else(|| index.by_line_number(&plus))
                    .map(|p| p.sip_uri.clone())
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the directory for a PIN check");
                None
            }
        },
    };
    let Some(uri) = uri else {
        return (None, PinCheck::Refused);
    };
    match svc.user(&uri).await {
        Ok(Some(user)) => {
            let now = crate::store::unix_now_ms();
            let verdict = svc
                .check_pin(&user, pin, now)
                .await
                .unwrap_or(PinCheck::Refused);
            (
                Some((user.sip_uri.clone(), user.display_name.clone())),
                verdict,
            )
        }
        _ => (None, PinCheck::Refused),
    }
}

/// How the runtime knows a member by their call: the call's id, or for the two parties of
/// an escalated call the id and the leg.
fn member_key(call: &Arc<str>, leg: Option<LegRole>) -> Arc<str> {
    match leg {
        None => call.clone(),
        Some(l) => format!("{call}#{}", l.index()).into(),
    }
}
