//! The conference bridge's voice menu for one dial-in caller (sans-IO): prompts, digit
//! collection and the caller's way into a meeting, as Skype's conferencing attendant does
//! it.
//!
//! 1. "Welcome … enter the conference ID, followed by pound." Digits typed during a prompt
//!    stop it (barge-in). A malformed ID (its check digit is wrong) is refused without a
//!    lookup; an unknown one after the lookup. Three tries.
//! 2. The meeting found (and admitting phone callers): "If you are the leader or have a
//!    PIN, press star; otherwise please hold." Star → the extension or number (skipped
//!    when the caller ID already names a user) and the PIN, each ended by pound or a pause;
//!    three tries, a locked PIN continues as a guest. No star within a few seconds → guest.
//! 3. A guest records their name after a tone (pound or five seconds ends it), used for
//!    entry announcements and the lobby.
//! 4. [`Action::Join`] hands the caller to the conference with who they are.
//!
//! Digits typed while a lookup or PIN check is in flight are kept (type-ahead) and
//! taken as typed once the answer is in, so a caller who knows the menu can type
//! `1234567#*80531#` in one go.
//!
//! The driver feeds [`Event`]s (digits from RFC 4733 or SIP INFO, prompt completions,
//! lookup and PIN results) and the time, and carries out [`Action`]s: the lookups are
//! asynchronous, so they are actions whose answers come back as events.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::conference_id;

/// How long to wait for the first digit after a prompt ends before asking again.
pub const FIRST_DIGIT: Duration = Duration::from_secs(10);
/// How long a pause ends an entry (as if pound were pressed).
pub const INTER_DIGIT: Duration = Duration::from_secs(5);
/// How long the caller has to press star after the leader question.
pub const STAR_WINDOW: Duration = Duration::from_secs(5);
/// Longest recorded name.
pub const NAME_MAX: Duration = Duration::from_secs(5);
/// Tries for the conference ID and for the PIN.
pub const TRIES: u8 = 3;
/// Longest entry kept (longer input is ignored beyond this).
const MAX_DIGITS: usize = 24;

/// A recorded prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prompt {
    /// "Welcome to the meeting service."
    Welcome,
    /// "Please enter the conference ID, followed by the pound key."
    EnterConferenceId,
    /// "We could not find a meeting with that conference ID."
    ConferenceIdUnknown,
    /// "This meeting cannot be joined by phone."
    PhoneNotAllowed,
    /// "If you are the leader or have a PIN, press star now. Otherwise, please hold."
    LeaderQuestion,
    /// "Please enter your extension or phone number, followed by the pound key."
    EnterExtension,
    /// "Please enter your PIN, followed by the pound key."
    EnterPin,
    /// "That extension and PIN do not match."
    PinRefused,
    /// "Your PIN is locked. You will join as a guest."
    PinLocked,
    /// "After the tone, please say your name, then press pound."
    RecordName,
    /// A short tone.
    Beep,
    /// "Sorry, that was too many attempts."
    TooManyAttempts,
    /// "Goodbye."
    Goodbye,
}

/// Who the caller turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A directory user who typed their PIN (SIP URI).
    User(String),
    /// A guest; `named` if they recorded their name.
    Guest {
        /// A name recording exists.
        named: bool,
    },
}

/// Whose PIN to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinOwner {
    /// The user the caller ID names (SIP URI).
    User(String),
    /// The user with this extension or number, as typed.
    Typed(String),
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A keypad digit (`0`-`9`, `*`, `#`).
    Digit(char),
    /// The prompts of the last [`Action::Play`] finished.
    PromptDone,
    /// [`Action::LookUp`]'s answer: the meeting exists and whether it takes phone callers.
    MeetingFound {
        /// `phone_user_admission`.
        phone_allowed: bool,
    },
    /// [`Action::LookUp`]'s answer: no such meeting.
    MeetingMissing,
    /// [`Action::CheckPin`]'s answer: right, for this user (SIP URI).
    PinAccepted(String),
    /// [`Action::CheckPin`]'s answer: wrong, or no such user.
    PinRefused,
    /// [`Action::CheckPin`]'s answer: locked out.
    PinLocked,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Play these prompts in order (replacing anything playing), then send
    /// [`Event::PromptDone`].
    Play(Vec<Prompt>),
    /// Stop playing (the caller started typing); no `PromptDone` is expected.
    StopPlaying,
    /// Look the conference ID up; answer with `MeetingFound` or `MeetingMissing`.
    LookUp(String),
    /// Check a PIN; answer with `PinAccepted`, `PinRefused` or `PinLocked`.
    CheckPin {
        /// Whose.
        owner: PinOwner,
        /// The digits typed.
        pin: String,
    },
    /// Start recording the caller's name.
    StartRecording,
    /// Stop recording; keep what was recorded.
    StopRecording,
    /// Put the caller in the meeting (the conference decides lobby or not).
    Join(Caller),
    /// Hang up (after the last prompt played).
    HangUp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Collecting the conference ID.
    ConferenceId,
    /// Waiting for the lookup.
    LookingUp,
    /// Waiting for star.
    LeaderQuestion,
    /// Collecting the extension or number.
    Extension,
    /// Collecting the PIN.
    Pin,
    /// Waiting for the PIN check.
    Checking,
    /// Recording the guest's name.
    Recording,
    /// Handed over, or hanging up.
    Done,
}

/// The voice menu of one dial-in call.
#[derive(Debug)]
pub struct Ivr {
    step: Step,
    caller_id_user: Option<String>,
    playing: bool,
    entry: String,
    extension: Option<String>,
    tries: u8,
    deadline: Option<Instant>,
    /// Waiting for the prompt to end before hanging up.
    hang_up_after_prompt: bool,
    /// Digits typed while waiting for a lookup or a PIN check.
    typeahead: VecDeque<char>,
    actions: VecDeque<Action>,
}

impl Ivr {
    /// A call just answered; `caller_id_user` is the directory user the caller ID names, if
    /// any (then only their PIN is asked).
    pub fn new(caller_id_user: Option<String>) -> Ivr {
        let mut ivr = Ivr {
            step: Step::ConferenceId,
            caller_id_user,
            playing: false,
            entry: String::new(),
            extension: None,
            tries: 0,
            deadline: None,
            hang_up_after_prompt: false,
            typeahead: VecDeque::new(),
            actions: VecDeque::new(),
        };
        ivr.play(vec![Prompt::Welcome, Prompt::EnterConferenceId]);
        ivr
    }

    /// The next thing to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Ivr::handle_timeout`] wants to run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the caller has been handed over or is being hung up on.
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// Feeds an event at `now`.
    pub fn handle(&mut self, event: Event, now: Instant) {
        let waiting = matches!(self.step, Step::LookingUp | Step::Checking);
        self.handle_inner(event, now);
        if waiting && !matches!(self.step, Step::LookingUp | Step::Checking) {
            // The answer is in: what was typed meanwhile counts now, in order.
            while let Some(d) = self.typeahead.pop_front() {
                self.digit(d, now);
                if matches!(self.step, Step::LookingUp | Step::Checking | Step::Done) {
                    break;
                }
            }
        }
    }

    fn handle_inner(&mut self, event: Event, now: Instant) {
        match event {
            Event::PromptDone => self.prompt_done(now),
            Event::Digit(d) => self.digit(d, now),
            Event::MeetingFound { phone_allowed } if self.step == Step::LookingUp => {
                if phone_allowed {
                    self.step = Step::LeaderQuestion;
                    self.play(vec![Prompt::LeaderQuestion]);
                } else {
                    self.goodbye(Prompt::PhoneNotAllowed);
                }
            }
            Event::MeetingMissing if self.step == Step::LookingUp => {
                self.retry_conference_id(Prompt::ConferenceIdUnknown);
            }
            Event::PinAccepted(user) if self.step == Step::Checking => {
                self.join(Caller::User(user));
            }
            Event::PinRefused if self.step == Step::Checking => {
                self.tries += 1;
                if self.tries >= TRIES {
                    self.goodbye(Prompt::TooManyAttempts);
                } else {
                    self.ask_identity(Some(Prompt::PinRefused));
                }
            }
            Event::PinLocked if self.step == Step::Checking => {
                self.step = Step::Recording;
                self.play(vec![Prompt::PinLocked, Prompt::RecordName, Prompt::Beep]);
            }
            // Answers that come after the caller moved on are stale.
            _ => {}
        }
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|d| now < d) {
            return;
        }
        self.deadline = None;
        match self.step {
            Step::ConferenceId | Step::Extension | Step::Pin if !self.entry.is_empty() => {
                // A pause ends the entry, as pound would.
                self.submit(now);
            }
            Step::ConferenceId => self.retry_conference_id(Prompt::EnterConferenceId),
            Step::Extension | Step::Pin => {
                self.tries += 1;
                if self.tries >= TRIES {
                    self.goodbye(Prompt::TooManyAttempts);
                } else {
                    self.ask_identity(None);
                }
            }
            Step::LeaderQuestion => {
                self.step = Step::Recording;
                self.play(vec![Prompt::RecordName, Prompt::Beep]);
            }
            Step::Recording => {
                self.actions.push_back(Action::StopRecording);
                self.join(Caller::Guest { named: true });
            }
            Step::LookingUp | Step::Checking | Step::Done => {}
        }
    }

    fn prompt_done(&mut self, now: Instant) {
        if !self.playing {
            return;
        }
        self.playing = false;
        if self.hang_up_after_prompt {
            self.hang_up_after_prompt = false;
            self.actions.push_back(Action::HangUp);
            return;
        }
        self.deadline = match self.step {
            Step::ConferenceId | Step::Extension | Step::Pin => Some(
                now + if self.entry.is_empty() {
                    FIRST_DIGIT
                } else {
                    INTER_DIGIT
                },
            ),
            Step::LeaderQuestion => Some(now + STAR_WINDOW),
            Step::Recording => {
                self.actions.push_back(Action::StartRecording);
                Some(now + NAME_MAX)
            }
            _ => None,
        };
    }

    fn digit(&mut self, d: char, now: Instant) {
        if !matches!(d, '0'..='9' | '*' | '#') {
            return;
        }
        match self.step {
            Step::LookingUp | Step::Checking if self.typeahead.len() < MAX_DIGITS * 2 => {
                self.typeahead.push_back(d);
            }
            Step::ConferenceId | Step::Extension | Step::Pin => {
                self.barge_in();
                match d {
                    '#' => self.submit(now),
                    // Star starts the entry over.
                    '*' => {
                        self.entry.clear();
                        self.deadline = Some(now + FIRST_DIGIT);
                    }
                    _ => {
                        if self.entry.len() < MAX_DIGITS {
                            self.entry.push(d);
                        }
                        self.deadline = Some(now + INTER_DIGIT);
                    }
                }
            }
            Step::LeaderQuestion if d == '*' => {
                self.barge_in();
                self.tries = 0;
                self.ask_identity(None);
            }
            Step::Recording if d == '#' => {
                self.barge_in();
                let recording = self.deadline.is_some();
                if recording {
                    self.actions.push_back(Action::StopRecording);
                }
                self.join(Caller::Guest { named: recording });
            }
            _ => {}
        }
    }

    fn submit(&mut self, now: Instant) {
        let entry = std::mem::take(&mut self.entry);
        self.deadline = None;
        match self.step {
            Step::ConferenceId => {
                if entry.is_empty() {
                    self.deadline = Some(now + FIRST_DIGIT);
                } else if conference_id::is_valid(&entry) {
                    self.step = Step::LookingUp;
                    self.actions.push_back(Action::LookUp(entry));
                } else {
                    self.retry_conference_id(Prompt::ConferenceIdUnknown);
                }
            }
            Step::Extension => {
                if entry.is_empty() {
                    self.deadline = Some(now + FIRST_DIGIT);
                    return;
                }
                self.extension = Some(entry);
                self.step = Step::Pin;
                self.play(vec![Prompt::EnterPin]);
            }
            Step::Pin => {
                if entry.is_empty() {
                    self.deadline = Some(now + FIRST_DIGIT);
                    return;
                }
                let owner = match (&self.caller_id_user, self.extension.take()) {
                    (_, Some(typed)) => PinOwner::Typed(typed),
                    (Some(user), None) => PinOwner::User(user.clone()),
                    (None, None) => return self.ask_identity(None),
                };
                self.step = Step::Checking;
                self.actions
                    .push_back(Action::CheckPin { owner, pin: entry });
            }
            _ => {}
        }
    }

    fn retry_conference_id(&mut self, why: Prompt) {
        self.tries += 1;
        if self.tries >= TRIES {
            return self.goodbye(Prompt::TooManyAttempts);
        }
        self.step = Step::ConferenceId;
        let mut prompts = vec![why];
        if why != Prompt::EnterConferenceId {
            prompts.push(Prompt::EnterConferenceId);
        }
        self.play(prompts);
    }

    /// Asks for the extension (or, when the caller ID names the user, straight for the PIN).
    fn ask_identity(&mut self, why: Option<Prompt>) {
        self.entry.clear();
        self.extension = None;
        let mut prompts: Vec<Prompt> = why.into_iter().collect();
        if self.caller_id_user.is_some() {
            self.step = Step::Pin;
            prompts.push(Prompt::EnterPin);
        } else {
            self.step = Step::Extension;
            prompts.push(Prompt::EnterExtension);
        }
        self.play(prompts);
    }

    fn join(&mut self, caller: Caller) {
        self.step = Step::Done;
        self.deadline = None;
        self.actions.push_back(Action::Join(caller));
    }

    fn goodbye(&mut self, why: Prompt) {
        self.step = Step::Done;
        self.deadline = None;
        self.hang_up_after_prompt = true;
        self.play(vec![why, Prompt::Goodbye]);
    }

    fn play(&mut self, prompts: Vec<Prompt>) {
        self.playing = true;
        self.deadline = None;
        self.actions.push_back(Action::Play(prompts));
    }

    fn barge_in(&mut self) {
        if self.playing {
            self.playing = false;
            self.actions.push_back(Action::StopPlaying);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A driver that plays every prompt instantly unless told to hold it.
    struct Drive {
        ivr: Ivr,
        now: Instant,
        log: Vec<Action>,
    }

    impl Drive {
        fn new(caller: Option<&str>) -> Drive {
            let mut d = Drive {
                ivr: Ivr::new(caller.map(str::to_owned)),
                now: Instant::now(),
                log: Vec::new(),
            };
            d.drain();
            d
        }

        /// Collects actions; completes prompts at once.
        fn drain(&mut self) {
            while let Some(a) = self.ivr.poll_action() {
                let played = matches!(a, Action::Play(_));
                self.log.push(a);
                if played {
                    self.ivr.handle(Event::PromptDone, self.now);
                }
            }
        }

        fn keys(&mut self, keys: &str) {
            for k in keys.chars() {
                self.now += Duration::from_millis(300);
                self.ivr.handle(Event::Digit(k), self.now);
                self.drain();
            }
        }

        fn event(&mut self, e: Event) {
            self.ivr.handle(e, self.now);
            self.drain();
        }

        fn wait(&mut self, d: Duration) {
            let until = self.now + d;
            while let Some(t) = self.ivr.poll_timeout().filter(|t| *t <= until) {
                self.now = t;
                self.ivr.handle_timeout(t);
                self.drain();
            }
            self.now = until;
        }

        fn take(&mut self) -> Vec<Action> {
            std::mem::take(&mut self.log)
        }
    }

    const CID: &str = "79927398713";

    #[test]
    fn leader_with_caller_id_types_only_the_pin() {
        let mut d = Drive::new(Some("sip:alice@example.com"));
        assert_eq!(
            d.take(),
            [Action::Play(vec![
                Prompt::Welcome,
                Prompt::EnterConferenceId
            ])]
        );
        d.keys(&format!("{CID}#"));
        assert_eq!(d.take(), [Action::LookUp(CID.into())]);
        d.event(Event::MeetingFound {
            phone_allowed: true,
        });
        assert_eq!(d.take(), [Action::Play(vec![Prompt::LeaderQuestion])]);
        d.keys("*");
        assert_eq!(d.take(), [Action::Play(vec![Prompt::EnterPin])]);
        d.keys("80531#");
        assert_eq!(
            d.take(),
            [Action::CheckPin {
                owner: PinOwner::User("sip:alice@example.com".into()),
                pin: "80531".into()
            }]
        );
        d.event(Event::PinAccepted("sip:alice@example.com".into()));
        assert_eq!(
            d.take(),
            [Action::Join(Caller::User("sip:alice@example.com".into()))]
        );
        assert!(d.ivr.is_done());
    }

    #[test]
    fn unknown_caller_types_extension_then_pin_and_a_pause_ends_an_entry() {
        let mut d = Drive::new(None);
        d.keys(&format!("{CID}#"));
        d.event(Event::MeetingFound {
            phone_allowed: true,
        });
        d.keys("*");
        assert_eq!(
            d.take().last(),
            Some(&Action::Play(vec![Prompt::EnterExtension]))
        );
        d.keys("101");
        d.wait(INTER_DIGIT);
        assert_eq!(d.take(), [Action::Play(vec![Prompt::EnterPin])]);
        d.keys("80531#");
        assert_eq!(
            d.take(),
            [Action::CheckPin {
                owner: PinOwner::Typed("101".into()),
                pin: "80531".into()
            }]
        );
    }

    #[test]
    fn typing_during_a_prompt_stops_it() {
        // The driver has not finished the welcome; the caller types over it.
        let mut ivr = Ivr::new(None);
        let now = Instant::now();
        assert!(matches!(ivr.poll_action(), Some(Action::Play(_))));
        ivr.handle(Event::Digit('7'), now);
        assert_eq!(ivr.poll_action(), Some(Action::StopPlaying));
        // A late PromptDone from the stopped prompt changes nothing.
        ivr.handle(Event::PromptDone, now);
        assert_eq!(ivr.poll_action(), None);
        assert_eq!(ivr.poll_timeout(), Some(now + INTER_DIGIT));
    }

    #[test]
    fn a_mistyped_id_is_refused_without_lookup_and_three_strikes_hang_up() {
        let mut d = Drive::new(None);
        d.take();
        d.keys("79927398710#");
        assert_eq!(
            d.take(),
            [Action::Play(vec![
                Prompt::ConferenceIdUnknown,
                Prompt::EnterConferenceId
            ])]
        );
        d.keys(&format!("{CID}#"));
        d.event(Event::MeetingMissing);
        assert_eq!(d.take().len(), 2, "lookup, then the retry prompt");
        // Silence counts as a try too.
        d.wait(FIRST_DIGIT);
        assert_eq!(
            d.take(),
            [
                Action::Play(vec![Prompt::TooManyAttempts, Prompt::Goodbye]),
                Action::HangUp
            ]
        );
    }

    #[test]
    fn no_star_makes_a_guest_who_records_a_name() {
        let mut d = Drive::new(Some("sip:alice@example.com"));
        d.keys(&format!("{CID}#"));
        d.event(Event::MeetingFound {
            phone_allowed: true,
        });
        d.take();
        d.wait(STAR_WINDOW);
        assert_eq!(
            d.take(),
            [
                Action::Play(vec![Prompt::RecordName, Prompt::Beep]),
                Action::StartRecording
            ]
        );
        d.keys("#");
        assert_eq!(
            d.take(),
            [
                Action::StopRecording,
                Action::Join(Caller::Guest { named: true })
            ]
        );
    }

    #[test]
    fn recording_stops_by_itself() {
        let mut d = Drive::new(None);
        d.keys(&format!("{CID}#"));
        d.event(Event::MeetingFound {
            phone_allowed: true,
        });
        d.wait(STAR_WINDOW);
        d.take();
        d.wait(NAME_MAX);
        assert_eq!(
            d.take(),
            [
                Action::StopRecording,
                Action::Join(Caller::Guest { named: true })
            ]
        );
    }

    #[test]
    fn wrong_pins_retry_then_hang_up_and_a_locked_pin_joins_as_guest() {
        let mut d = Drive::new(Some("sip:alice@example.com"));
        d.keys(&format!("{CID}#"));
        d.event(Event::MeetingFound {
            phone_allowed: true,
        });
        d.keys("*11111#");
        d.take();
        d.event(Event::PinRefused);
        assert_eq!(
            d.take(),
            [Action::Play(vec![Prompt::PinRefused, Prompt::EnterPin])]
        );
        d.keys("22222#");
        d.event(Event::PinRefused);
        d.keys("33333#");
        d.take();
        d.event(Event::PinRefused);
        assert_eq!(
            d.take(),
            [
                Action::Play(vec![Prompt::TooManyAttempts, Prompt::Goodbye]),
                Action::HangUp
            ]
        );

        let mut d = Drive::new(Some("sip:alice@example.com"));
        d.keys(&format!("{CID}#"));
        d.event(Event::MeetingFound {
            phone_allowed: true,
        });
        d.keys("*11111#");
        d.take();
        d.event(Event::PinLocked);
        assert_eq!(
            d.take(),
            [
                Action::Play(vec![Prompt::PinLocked, Prompt::RecordName, Prompt::Beep]),
                Action::StartRecording
            ]
        );
    }

    #[test]
    fn a_meeting_closed_to_phones_says_so_and_hangs_up() {
        let mut d = Drive::new(None);
        d.keys(&format!("{CID}#"));
        d.take();
        d.event(Event::MeetingFound {
            phone_allowed: false,
        });
        assert_eq!(
            d.take(),
            [
                Action::Play(vec![Prompt::PhoneNotAllowed, Prompt::Goodbye]),
                Action::HangUp
            ]
        );
        // Nothing more happens, whatever is typed.
        d.keys("*123#");
        d.wait(Duration::from_secs(60));
        assert_eq!(d.take(), []);
    }

    #[test]
    fn digits_typed_during_a_lookup_or_check_count_once_it_answers() {
        let mut d = Drive::new(Some("sip:alice@example.com"));
        d.take();
        d.keys(&format!("{CID}#*80531#"));
        assert_eq!(d.take(), [Action::LookUp(CID.into())]);
        d.event(Event::MeetingFound {
            phone_allowed: true,
        });
        let got = d.take();
        assert_eq!(
            got.last(),
            Some(&Action::CheckPin {
                owner: PinOwner::User("sip:alice@example.com".into()),
                pin: "80531".into()
            }),
            "{got:?}"
        );
        // A second try typed before the refusal came back.
        d.keys("44444#");
        d.event(Event::PinRefused);
        assert_eq!(
            d.take().last(),
            Some(&Action::CheckPin {
                owner: PinOwner::User("sip:alice@example.com".into()),
                pin: "44444".into()
            })
        );
    }

    #[test]
    fn stale_answers_and_odd_keys_are_ignored() {
        let mut d = Drive::new(None);
        d.take();
        d.event(Event::PinAccepted("sip:x@example.com".into()));
        d.event(Event::MeetingFound {
            phone_allowed: true,
        });
        d.keys("AB");
        assert_eq!(d.take(), []);
        // Star restarts the entry.
        d.keys("999*");
        d.keys(&format!("{CID}#"));
        assert_eq!(d.take(), [Action::LookUp(CID.into())]);
    }
}
