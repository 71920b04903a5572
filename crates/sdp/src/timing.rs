//! The `t=` line: when the session is active.
//!
//! RFC 8866 §5.9: `t=<start-time> <stop-time>` in NTP seconds; SIP sessions use `t=0 0`
//! (unbounded). RFC 3264 §6 requires an answer to copy the offer's `t=` line.

use std::fmt;

use crate::line::{fields, number, LineValue, ValueError};

/// Timing (`t=`). [`Timing::default`] is `t=0 0`, a session without bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Timing {
    /// Start time in NTP seconds, 0 for "already started".
    pub start: u64,
    /// Stop time in NTP seconds, 0 for "no end".
    pub stop: u64,
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.start, self.stop)
    }
}

impl LineValue for Timing {
    fn kind(&self) -> char {
        't'
    }

    fn read(_kind: char, text: &str) -> Result<Self, ValueError> {
        match fields(text)[..] {
            [start, stop] => Ok(Timing {
                start: number(start, "start time")?,
                stop: number(stop, "stop time")?,
            }),
            ref other => Err(ValueError::Bad(format!(
                "expected 2 fields (start stop), found {}",
                other.len()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_unbounded_and_bounded_timing() {
        assert_eq!(Timing::read('t', "0 0"), Ok(Timing::default()));
        assert_eq!(
            Timing::read('t', "3034423619 3042462419"),
            Ok(Timing {
                start: 3_034_423_619,
                stop: 3_042_462_419
            })
        );
    }

    #[test]
    fn rejects_malformed_timing() {
        assert!(Timing::read('t', "0").is_err());
        assert!(Timing::read('t', "0 x").is_err());
    }
}
