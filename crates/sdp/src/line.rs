//! Lines of an SDP body: splitting the input into numbered `<type>=<value>` lines, and keeping
//! the exact text of each line beside its typed reading.
//!
//! Every typed line of the model is a [`Line<T>`]: the value as read (or as set) plus the text
//! that is printed for it. Parsing keeps the original text, so printing reproduces the input byte
//! for byte even where the input spaces its fields unusually; a setter regenerates the text of the
//! one line it changes and leaves every other line alone. Building a line from a typed value
//! prints it and reads it back, so a value that would not survive the trip (a username holding a
//! space, a CR inside an attribute) is refused rather than producing a broken body.

use std::fmt;

use crate::error::SdpError;

/// Why the value of one line could not be read; the parser adds the line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueError {
    /// The value does not follow the grammar of its line type.
    Bad(String),
    /// The port of an `m=` line is invalid.
    BadPort(String),
}

impl ValueError {
    /// Attaches the 1-based line number and the line type.
    pub(crate) fn at(self, line: usize, kind: char) -> SdpError {
        match self {
            ValueError::Bad(reason) => SdpError::BadLine {
                line,
                reason: format!("bad {kind}= line: {reason}"),
            },
            ValueError::BadPort(found) => SdpError::BadPort { line, found },
        }
    }
}

/// A typed value that one SDP line holds.
pub(crate) trait LineValue: Sized + fmt::Display + PartialEq {
    /// The type letter of the line holding this value.
    fn kind(&self) -> char;
    /// Reads the value of a line of type `kind` (the text after `<type>=`).
    fn read(kind: char, text: &str) -> Result<Self, ValueError>;
}

/// One line: its typed value and the exact text printed after `<type>=`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Line<T> {
    value: T,
    text: String,
}

impl<T: LineValue> Line<T> {
    /// Reads a line of type `kind` from its text, keeping the text verbatim.
    pub(crate) fn read(kind: char, text: &str) -> Result<Self, ValueError> {
        Ok(Line {
            value: T::read(kind, text)?,
            text: text.to_owned(),
        })
    }

    /// Builds a line from a typed value, refusing values that do not read back unchanged.
    pub(crate) fn new(value: T) -> Result<Self, SdpError> {
        let kind = value.kind();
        let text = value.to_string();
        if text.contains(['\r', '\n', '\0']) {
            return Err(SdpError::InvalidValue {
                kind,
                text,
                reason: "a line must not contain CR, LF or NUL",
            });
        }
        match T::read(kind, &text) {
            Ok(back) if back == value => Ok(Line { value, text }),
            _ => Err(SdpError::InvalidValue {
                kind,
                text,
                reason: "it would not read back as the same value",
            }),
        }
    }

    /// Builds a line from a value known to print validly: one read from a body, or built by
    /// changing only numbers of such a value.
    pub(crate) fn trusted(value: T) -> Self {
        let text = value.to_string();
        Line { value, text }
    }

    /// The typed value.
    pub(crate) fn value(&self) -> &T {
        &self.value
    }

    /// The text printed after `<type>=`.
    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Writes `<type>=<text>` and CRLF.
    pub(crate) fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}\r\n", self.value.kind(), self.text)
    }
}

/// Splits `input` into `(line number, type letter, value text)` items.
///
/// Accepts CRLF and bare LF endings; empty lines are skipped but still counted, so line numbers
/// match what a person sees in the body. A non-empty line that is not `<letter>=...` is returned
/// as an error carrying its number.
pub(crate) fn lines(input: &str) -> impl Iterator<Item = Result<(usize, char, &str), SdpError>> {
    input
        .split('\n')
        .enumerate()
        .map(|(index, raw)| (index + 1, raw.strip_suffix('\r').unwrap_or(raw)))
        .filter(|(_, text)| !text.is_empty())
        .map(|(number, text)| {
            split_type(text)
                .ok_or_else(|| SdpError::BadLine {
                    line: number,
                    reason: format!(
                        "expected <type>=<value>, found {:?}",
                        text.chars().take(40).collect::<String>()
                    ),
                })
                .map(|(kind, value)| (number, kind, value))
        })
}

/// Splits `x=value` into its type letter and value.
fn split_type(line: &str) -> Option<(char, &str)> {
    match line.as_bytes() {
        [kind, b'=', ..] if kind.is_ascii_alphabetic() => Some((char::from(*kind), &line[2..])),
        _ => None,
    }
}

/// Splits a value into fields separated by runs of spaces or tabs.
pub(crate) fn fields(text: &str) -> Vec<&str> {
    text.split([' ', '\t']).filter(|f| !f.is_empty()).collect()
}

/// Reads a decimal number, naming `what` in the error.
pub(crate) fn number<N: std::str::FromStr>(text: &str, what: &str) -> Result<N, ValueError> {
    if !text.bytes().all(|b| b.is_ascii_digit()) || text.is_empty() {
        return Err(ValueError::Bad(format!("{what} {text:?} is not a number")));
    }
    text.parse()
        .map_err(|_| ValueError::Bad(format!("{what} {text:?} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_accepts_crlf_and_lf_and_counts_empty_lines() {
        let items: Vec<_> = lines("v=0\r\n\no=x\na=b\r\n")
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(items, vec![(1, 'v', "0"), (3, 'o', "x"), (4, 'a', "b")]);
    }

    #[test]
    fn lines_rejects_a_line_without_type_letter() {
        let err = lines("v=0\r\n=x\r\n").nth(1).unwrap().unwrap_err();
        assert!(matches!(err, SdpError::BadLine { line: 2, .. }), "{err}");
    }

    #[test]
    fn split_type_handles_multibyte_input_without_panicking() {
        assert_eq!(split_type("é=x"), None);
        assert_eq!(split_type("a=é"), Some(('a', "é")));
        assert_eq!(split_type("a"), None);
    }

    #[test]
    fn number_rejects_signs_and_overflow() {
        assert!(number::<u16>("+1", "port").is_err());
        assert!(number::<u16>("65536", "port").is_err());
        assert_eq!(number::<u16>("0049", "port"), Ok(49));
    }
}
