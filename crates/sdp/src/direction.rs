//! Media direction: `a=sendrecv`, `a=sendonly`, `a=recvonly`, `a=inactive` (RFC 8866 §6.7).
//!
//! A direction is always stated from the point of view of the party whose description holds it.
//! RFC 3264 §6.1 derives the answer's direction from the offer's: what the offerer sends the
//! answerer may receive and vice versa, further limited by what the answerer wants.
//! [`Direction::answer_to`] implements that rule; hold is an offer of `sendonly` (or `inactive`).

use std::fmt;

/// The direction of a media stream, from the point of view of the description holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Send and receive (the default when no direction attribute is present).
    #[default]
    SendRecv,
    /// Send only; the usual way to put the other party on hold.
    SendOnly,
    /// Receive only.
    RecvOnly,
    /// Neither send nor receive.
    Inactive,
}

impl Direction {
    /// The direction with the given capabilities.
    pub fn from_flags(sends: bool, receives: bool) -> Self {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether the stream sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the stream receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other end: `sendonly` ⇄ `recvonly`.
    pub fn reversed(self) -> Self {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// Both limits at once: sends only if both send, receives only if both receive.
    pub fn intersect(self, other: Direction) -> Self {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }

    /// The direction to answer with when the remote party offered `offered` and we would like
    /// `preferred` (RFC 3264 §6.1): `sendonly`→`recvonly`, `recvonly`→`sendonly`,
    /// `inactive`→`inactive`, `sendrecv`→`preferred`.
    pub fn answer_to(offered: Direction, preferred: Direction) -> Self {
        preferred.intersect(offered.reversed())
    }

    /// The attribute name: `sendrecv`, `sendonly`, `recvonly` or `inactive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction named by an attribute name (ASCII case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Direction::*;
    use super::*;

    #[test]
    fn answer_follows_rfc3264_table() {
        assert_eq!(Direction::answer_to(SendOnly, SendRecv), RecvOnly);
        assert_eq!(Direction::answer_to(RecvOnly, SendRecv), SendOnly);
        assert_eq!(Direction::answer_to(Inactive, SendRecv), Inactive);
        for preferred in [SendRecv, SendOnly, RecvOnly, Inactive] {
            assert_eq!(Direction::answer_to(SendRecv, preferred), preferred);
        }
        assert_eq!(Direction::answer_to(SendOnly, SendOnly), Inactive);
    }

    #[test]
    fn names_round_trip_case_insensitively() {
        for d in [SendRecv, SendOnly, RecvOnly, Inactive] {
            assert_eq!(Direction::from_name(d.as_str()), Some(d));
        }
        assert_eq!(Direction::from_name("SENDONLY"), Some(SendOnly));
        assert_eq!(Direction::from_name("send"), None);
    }
}
