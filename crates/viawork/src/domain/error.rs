//! [`DomainError`]: why a value from outside was refused, and in which field.
//!
//! Every parser in [`crate::domain`] returns this error. It carries the name of the field
//! at fault (in the camelCase the JSON API uses, e.g. `lineUri`, `adminCallbackNumber`) and
//! a message a person can act on, so an HTTP edge can answer
//! `{"error": err.message(), "field": err.field(), "code": err.code()}` without knowing
//! which parser failed.
//!
//! A parser names the field its type is usually found in (`E164` says `number`); an edge
//! that knows better relabels the error with [`DomainError::in_field`].
//! Messages never echo secrets (passwords, PINs) and quote other input only in a short
//! preview, so a 10 kB value does not come back in the answer.

use std::fmt;

/// A value refused by the domain rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The field is required and was empty (or only white space).
    #[error("{field} is required")]
    Required {
        /// The field at fault.
        field: &'static str,
    },
    /// The value is longer than the field allows.
    #[error("{field} is longer than {max} characters")]
    TooLong {
        /// The field at fault.
        field: &'static str,
        /// The most characters the field accepts.
        max: usize,
    },
    /// The value is shorter than the field requires (passwords, PINs).
    #[error("{field} must be at least {min} characters long")]
    TooShort {
        /// The field at fault.
        field: &'static str,
        /// The fewest characters the field accepts.
        min: usize,
    },
    /// The value does not follow the field's format or rules.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// What is wrong, for a person to read.
        message: String,
    },
    /// No dial plan rule turns the number into something dialable (UCWA's
    /// `NormalizationFailed`).
    #[error("{field}: no dial plan rule normalises {input:?}")]
    NormalizationFailed {
        /// The field at fault.
        field: &'static str,
        /// The number as typed (a preview, for long input).
        input: String,
    },
}

impl DomainError {
    /// Builds an [`DomainError::Invalid`].
    pub fn invalid(field: &'static str, message: impl Into<String>) -> DomainError {
        DomainError::Invalid {
            field,
            message: message.into(),
        }
    }

    /// The field at fault, for the API's `"field"` member.
    pub fn field(&self) -> &'static str {
        match self {
            DomainError::Required { field }
            | DomainError::TooLong { field, .. }
            | DomainError::TooShort { field, .. }
            | DomainError::Invalid { field, .. }
            | DomainError::NormalizationFailed { field, .. } => field,
        }
    }

    /// The same error, blamed on `field` instead (an edge that knows the value came from
    /// `adminCallbackNumber` relabels the `number` error of [`super::E164`]).
    pub fn in_field(mut self, new: &'static str) -> DomainError {
        match &mut self {
            DomainError::Required { field }
            | DomainError::TooLong { field, .. }
            | DomainError::TooShort { field, .. }
            | DomainError::Invalid { field, .. }
            | DomainError::NormalizationFailed { field, .. } => *field = new,
        }
        self
    }

    /// The UCWA-style error subcode: `NormalizationFailed` for numbers no dial plan rule
    /// handles, `ParameterValidationFailure` for everything else.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::NormalizationFailed { .. } => "NormalizationFailed",
            _ => "ParameterValidationFailure",
        }
    }

    /// The human message without the field name, for the API's `"error"` member.
    pub fn message(&self) -> String {
        match self {
            DomainError::Required { .. } => "is required".to_owned(),
            DomainError::TooLong { max, .. } => format!("is longer than {max} characters"),
            DomainError::TooShort { min, .. } => format!("must be at least {min} characters long"),
            DomainError::Invalid { message, .. } => message.clone(),
            DomainError::NormalizationFailed { input, .. } => {
                format!("no dial plan rule normalises {input:?}")
            }
        }
    }
}

/// A short, printable preview of outside input for error messages: at most 40 characters,
/// control characters escaped, `…` when cut.
pub(crate) fn preview(s: &str) -> String {
    const MAX: usize = 40;
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A character for an error message: quoted when it is a letter, digit or ASCII symbol,
/// its code point otherwise (controls, spaces, invisible formatting characters).
pub(crate) struct ShowChar(pub char);

impl fmt::Display for ShowChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        if c.is_alphanumeric() || c.is_ascii_graphic() {
            write!(f, "'{c}'")
        } else {
            write!(f, "U+{:04X}", u32::from(c))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_field_and_can_be_relabelled() {
        let e = DomainError::invalid("number", "must start with +");
        assert_eq!(e.field(), "number");
        assert_eq!(e.to_string(), "number: must start with +");
        assert_eq!(e.message(), "must start with +");
        let e = e.in_field("adminCallbackNumber");
        assert_eq!(e.field(), "adminCallbackNumber");
        assert_eq!(e.code(), "ParameterValidationFailure");
    }

    #[test]
    fn normalization_failures_carry_the_ucwa_subcode() {
        let e = DomainError::NormalizationFailed {
            field: "to",
            input: "12".into(),
        };
        assert_eq!(e.code(), "NormalizationFailed");
        assert_eq!(e.field(), "to");
    }

    #[test]
    fn previews_are_short_and_printable() {
        let long = "x".repeat(10_000);
        assert_eq!(preview(&long).chars().count(), 41);
        assert_eq!(preview("a\nb"), "a\\nb");
        assert_eq!(ShowChar('\u{202e}').to_string(), "U+202E");
        assert_eq!(ShowChar(' ').to_string(), "U+0020");
        assert_eq!(ShowChar('x').to_string(), "'x'");
    }
}
