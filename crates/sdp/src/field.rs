//! A line of a session or media section other than `v=`, `o=`, `s=` and `m=`.
//!
//! Sections keep their lines as an ordered list of [`Field`]s so that lines this crate has no
//! typed reading for (`i=`, `u=`, `e=`, `p=`, `r=`, `z=`, `k=`, or a letter no RFC defines) are
//! printed back where they were. The helpers at the bottom implement "replace or insert" so that
//! setters change one line and leave every other line in place.

use std::fmt;

use crate::attribute::Attribute;
use crate::bandwidth::Bandwidth;
use crate::connection::Connection;
use crate::line::{Line, LineValue, ValueError};
use crate::timing::Timing;

/// One line of a session or media section.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// `c=`
    Connection(Connection),
    /// `b=`
    Bandwidth(Bandwidth),
    /// `t=`
    Timing(Timing),
    /// `a=`
    Attribute(Attribute),
    /// Any other line, kept verbatim.
    Other {
        /// The type letter (`i`, `u`, `e`, `p`, `r`, `z`, `k`, or unknown).
        kind: char,
        /// Everything after `<type>=`.
        value: String,
    },
}

impl Field {
    /// The type letter of the line.
    pub fn kind(&self) -> char {
        match self {
            Field::Connection(_) => 'c',
            Field::Bandwidth(_) => 'b',
            Field::Timing(_) => 't',
            Field::Attribute(_) => 'a',
            Field::Other { kind, .. } => *kind,
        }
    }
}

impl fmt::Display for Field {
    /// Prints the value after `<type>=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Connection(c) => c.fmt(f),
            Field::Bandwidth(b) => b.fmt(f),
            Field::Timing(t) => t.fmt(f),
            Field::Attribute(a) => a.fmt(f),
            Field::Other { value, .. } => f.write_str(value),
        }
    }
}

impl LineValue for Field {
    fn kind(&self) -> char {
        Field::kind(self)
    }

    fn read(kind: char, text: &str) -> Result<Self, ValueError> {
        Ok(match kind {
            'c' => Field::Connection(Connection::read(kind, text)?),
            'b' => Field::Bandwidth(Bandwidth::read(kind, text)?),
            't' => Field::Timing(Timing::read(kind, text)?),
            'a' => Field::Attribute(Attribute::read(kind, text)?),
            'v' | 'o' | 's' | 'm' => {
                return Err(ValueError::Bad(format!("{kind}= is not a section field")))
            }
            _ if kind.is_ascii_alphabetic() => Field::Other {
                kind,
                value: text.to_owned(),
            },
            _ => return Err(ValueError::Bad(format!("{kind:?} is not a type letter"))),
        })
    }
}

/// The typed fields of a list, in order.
pub(crate) fn values(lines: &[Line<Field>]) -> impl Iterator<Item = &Field> {
    lines.iter().map(Line::value)
}

/// The attributes of a list, in order.
pub(crate) fn attributes(lines: &[Line<Field>]) -> impl Iterator<Item = &Attribute> {
    values(lines).filter_map(|f| match f {
        Field::Attribute(a) => Some(a),
        _ => None,
    })
}

/// Replaces the first line matching `is_same` with `new` and drops later matches; without a
/// match, inserts `new` before the first line whose type is in `before` (or at the end).
pub(crate) fn replace_or_insert(
    lines: &mut Vec<Line<Field>>,
    new: Line<Field>,
    is_same: impl Fn(&Field) -> bool,
    before: &[char],
) {
    match lines.iter().position(|l| is_same(l.value())) {
        Some(first) => {
            let mut index = 0;
            lines.retain(|l| {
                let keep = index <= first || !is_same(l.value());
                index += 1;
                keep
            });
            if let Some(slot) = lines.get_mut(first) {
                *slot = new;
            }
        }
        None => {
            let at = lines
                .iter()
                .position(|l| before.contains(&l.value().kind()))
                .unwrap_or(lines.len());
            lines.insert(at, new);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direction::Direction;

    fn line(kind: char, text: &str) -> Line<Field> {
        Line::read(kind, text).unwrap()
    }

    #[test]
    fn unknown_letters_are_kept_verbatim() {
        assert_eq!(
            Field::read('x', "anything at all"),
            Ok(Field::Other {
                kind: 'x',
                value: "anything at all".into()
            })
        );
        assert!(Field::read('m', "audio 0 RTP/AVP 0").is_err());
    }

    #[test]
    fn replace_keeps_position_and_drops_duplicates() {
        let mut lines = vec![
            line('a', "x"),
            line('a', "sendonly"),
            line('a', "y"),
            line('a', "inactive"),
        ];
        let is_dir = |f: &Field| matches!(f, Field::Attribute(Attribute::Direction(_)));
        let new = Line::new(Field::Attribute(Attribute::Direction(Direction::SendRecv))).unwrap();
        replace_or_insert(&mut lines, new, is_dir, &[]);
        let texts: Vec<_> = lines.iter().map(Line::text).collect();
        assert_eq!(texts, ["x", "sendrecv", "y"]);
    }

    #[test]
    fn insert_goes_before_the_named_kinds() {
        let mut lines = vec![line('i', "info"), line('b', "AS:64"), line('a', "x")];
        let new = line('c', "IN IP4 192.0.2.1");
        replace_or_insert(
            &mut lines,
            new,
            |f| matches!(f, Field::Connection(_)),
            &['b', 'a'],
        );
        let kinds: Vec<_> = values(&lines).map(Field::kind).collect();
        assert_eq!(kinds, ['i', 'c', 'b', 'a']);
    }
}
