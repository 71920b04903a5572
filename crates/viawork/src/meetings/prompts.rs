//! The conference bridge's recorded prompts: G.711 µ-law files in `prompts/<lang>/`,
//! generated once from `prompts/<lang>.txt` by `scripts/make-prompts.sh` (espeak-ng and
//! sox) and compiled into the binary, decoded to 8 kHz linear PCM the first time they are
//! needed and shared after that.

use std::sync::{Arc, OnceLock};

use media::{Clip, Codec};

use super::ivr::Prompt;
use super::roster::Notice;

/// Every clip the bridge plays, by file name.
macro_rules! clips {
    ($($name:ident),* $(,)?) => {
        /// A prompt file.
        #[allow(non_camel_case_types, missing_docs)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Name { $($name),* }

        impl Name {
            /// Every file.
            pub const ALL: &'static [Name] = &[$(Name::$name),*];

            fn ulaw(self) -> &'static [u8] {
                match self {
                    $(Name::$name => include_bytes!(concat!(
                        env!("CARGO_MANIFEST_DIR"), "/prompts/en-US/", stringify!($name), ".ul"
                    )),)*
                }
            }

            fn index(self) -> usize {
                self as usize
            }
        }
    };
}

clips!(
    welcome,
    enter_conference_id,
    conference_id_unknown,
    phone_not_allowed,
    leader_question,
    enter_extension,
    enter_pin,
    pin_refused,
    pin_locked,
    record_name,
    beep,
    too_many_attempts,
    goodbye,
    help,
    muted,
    unmuted,
    held_muted,
    audience_muted,
    audience_unmuted,
    locked,
    unlocked,
    admitted_all,
    announcements_on,
    announcements_off,
    leader_only,
    in_lobby,
    joining,
    roll_call,
    has_joined,
    has_left,
    a_guest,
    a_participant,
    recording_started,
    recording_stopped,
    dialing_out,
);

/// The decoded clip of `name`.
pub fn clip(name: Name) -> Clip {
    static DECODED: OnceLock<Vec<Clip>> = OnceLock::new();
    let all = DECODED.get_or_init(|| {
        Name::ALL
            .iter()
            .map(|n| {
                let pcm: Arc<[i16]> = n
                    .ulaw()
                    .iter()
                    .map(|&b| Codec::Pcmu.decode_sample(b))
                    .collect::<Vec<i16>>()
                    .into();
                Clip::new(pcm)
            })
            .collect()
    });
    all[name.index()].clone()
}

/// The file of a voice-menu prompt.
pub fn of_prompt(p: Prompt) -> Name {
    match p {
        Prompt::Welcome => Name::welcome,
        Prompt::EnterConferenceId => Name::enter_conference_id,
        Prompt::ConferenceIdUnknown => Name::conference_id_unknown,
        Prompt::PhoneNotAllowed => Name::phone_not_allowed,
        Prompt::LeaderQuestion => Name::leader_question,
        Prompt::EnterExtension => Name::enter_extension,
        Prompt::EnterPin => Name::enter_pin,
        Prompt::PinRefused => Name::pin_refused,
        Prompt::PinLocked => Name::pin_locked,
        Prompt::RecordName => Name::record_name,
        Prompt::Beep => Name::beep,
        Prompt::TooManyAttempts => Name::too_many_attempts,
        Prompt::Goodbye => Name::goodbye,
    }
}

/// The file of a roster notice.
pub fn of_notice(n: Notice) -> Name {
    match n {
        Notice::Help => Name::help,
        Notice::Muted(true) => Name::muted,
        Notice::Muted(false) => Name::unmuted,
        Notice::HeldMuted => Name::held_muted,
        Notice::AudienceMuted(true) => Name::audience_muted,
        Notice::AudienceMuted(false) => Name::audience_unmuted,
        Notice::Locked(true) => Name::locked,
        Notice::Locked(false) => Name::unlocked,
        Notice::AdmittedAll(_) => Name::admitted_all,
        Notice::Announcements(true) => Name::announcements_on,
        Notice::Announcements(false) => Name::announcements_off,
        Notice::LeaderOnly => Name::leader_only,
        Notice::InLobby => Name::in_lobby,
        Notice::Joining => Name::joining,
    }
}

/// Several prompts played one after the other, as one clip.
pub fn concat(names: &[Name]) -> Clip {
    join(&names.iter().map(|n| clip(*n)).collect::<Vec<_>>())
}

/// Several clips (prompts and recorded names) played one after the other, as one.
pub fn join(clips: &[Clip]) -> Clip {
    let mut out = Vec::with_capacity(clips.iter().map(Clip::len).sum());
    for c in clips {
        out.extend_from_slice(c.samples());
    }
    Clip::new(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prompt_is_audible_speech_of_sensible_length() {
        for &n in Name::ALL {
            let c = clip(n);
            let c = c.samples();
            let secs = c.len() as f64 / 8000.0;
            assert!((0.3..20.0).contains(&secs), "{n:?}: {secs:.2} s");
            // Normalised to -3 dBFS: the loudest sample is near 0.7 of full scale, and the
            // clip is not mostly silence.
            let peak = c.iter().map(|s| i32::from(*s).abs()).max().unwrap_or(0);
            assert!(peak > 16_000, "{n:?}: peak {peak}");
            let rms =
                (c.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / c.len() as f64).sqrt();
            assert!(rms > 1_000.0, "{n:?}: rms {rms:.0}");
        }
    }

    #[test]
    fn the_beep_is_a_1000_hz_tone() {
        let c = clip(Name::beep);
        let c = c.samples();
        let at = |hz| media::goertzel(&c[..800], hz, 8000);
        assert!(
            at(1000.0) > 100.0 * at(600.0),
            "{} vs {}",
            at(1000.0),
            at(600.0)
        );
    }

    #[test]
    fn prompts_and_notices_map_to_distinct_files_where_they_differ() {
        assert_ne!(
            of_notice(Notice::Muted(true)),
            of_notice(Notice::Muted(false))
        );
        assert_ne!(
            of_notice(Notice::Locked(true)),
            of_notice(Notice::Locked(false))
        );
        assert_eq!(of_prompt(Prompt::Goodbye), Name::goodbye);
        let two = concat(&[Name::beep, Name::beep]);
        assert_eq!(two.len(), 2 * clip(Name::beep).len());
    }
}
