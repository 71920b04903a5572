//! Meetings and conferencing (issue 7): scheduled meetings and Meet Now, joined by
//! dial-out to a user's callback number or by dialling a conference bridge number and
//! typing the conference ID and PIN on the phone. `docs/meetings.md` is the guide.
//!
//! | module | what |
//! | --- | --- |
//! | [`meeting`] | the meeting, its settings, validation of API input, the lobby rule |
//! | [`config`] | the `[meetings]` table: bridge numbers, join URLs, PIN policy |
//! | [`ivr`] | the bridge's voice menu for one dial-in caller (sans-IO) |
//! | [`conference_id`] | the digits dial-in callers type, with a check digit |
//! | [`pin_lockout`] | Skype's PIN lockout windows and limits |
//! | [`prompts`] | the recorded prompts (G.711 files made with espeak-ng), decoded once |
//! | [`roster`] | a running meeting's people, lobby, lock, mutes and keypad commands (sans-IO) |
//! | [`runtime`] | the meetings in progress: rosters over media conferences, fed by calls and keypads |
//! | [`service`] | meetings in the store, join URLs, PINs: what the API calls |

pub mod conference_id;
pub mod config;
pub mod ivr;
pub mod meeting;
pub mod pin_lockout;
pub mod prompts;
pub mod roster;
pub mod runtime;
pub mod service;

pub use config::{BridgeNumber, MeetingsConfig};
pub use meeting::{AccessLevel, Admission, Input, Joiner, LeaderAssignment, Meeting, Settings};
pub use runtime::MeetingsRuntime;
pub use service::{MeetingsError, MeetingsService, PinCheck};
