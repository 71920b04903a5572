//! Errors from reading an SDP body and from writing typed values into one.
//!
//! Every error met while parsing names the 1-based line of the body it concerns, so the edge can
//! put it into a `Warning` header of a `488`/`400` and into its log line. [`SdpError::InvalidValue`]
//! is the one error without a line: it is returned when a caller builds a line from a typed value
//! that could not be printed and read back unchanged (a username with a space, a CR in a value).

/// An SDP body could not be read, or a typed value cannot be written into one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The input holds no lines at all.
    #[error("empty SDP body")]
    Empty,
    /// The first line is not `v=`.
    #[error("line {line}: an SDP body must start with v=")]
    MissingVersion {
        /// 1-based line number.
        line: usize,
    },
    /// The `v=` line holds something other than `0`.
    #[error("line {line}: unsupported SDP version v={found:?}, only v=0 exists")]
    UnsupportedVersion {
        /// 1-based line number.
        line: usize,
        /// The value found after `v=`.
        found: String,
    },
    /// The line after `v=` is not `o=` (or the body ends there).
    #[error("line {line}: expected the o= line after v=")]
    MissingOrigin {
        /// 1-based line number.
        line: usize,
    },
    /// A line that may appear only once (`v=`, `o=`, `s=`) appears again.
    #[error("line {line}: duplicate {kind}= line")]
    Duplicate {
        /// 1-based line number of the second occurrence.
        line: usize,
        /// The line's type letter.
        kind: char,
    },
    /// A line does not follow its grammar.
    #[error("line {line}: {reason}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What was wrong, naming the line type (e.g. `bad c= line: expected 3 fields, found 2`).
        reason: String,
    },
    /// The port of an `m=` line is not a number from 0 to 65535 (or its port count is invalid).
    #[error("line {line}: bad port {found:?} in m= line")]
    BadPort {
        /// 1-based line number.
        line: usize,
        /// The port field as found.
        found: String,
    },
    /// A typed value would not survive printing and reading back, so it was not written.
    #[error("cannot write {kind}={text:?}: {reason}")]
    InvalidValue {
        /// The type letter of the line being written.
        kind: char,
        /// The text the value prints as.
        text: String,
        /// Why it was refused.
        reason: &'static str,
    },
}
