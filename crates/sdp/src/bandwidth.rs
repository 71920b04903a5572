//! The `b=` line: a bandwidth limit for the session or one stream.
//!
//! RFC 8866 §5.8: `b=<bwtype>:<bandwidth>`, e.g. `b=AS:64` (kilobits per second) or `b=TIAS:64000`.

use std::fmt;

use crate::line::{number, LineValue, ValueError};

/// Bandwidth information (`b=`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bandwidth {
    /// The modifier: `AS`, `CT`, `TIAS`, `RS`, `RR` or an extension.
    pub bw_type: String,
    /// The value, in the unit the modifier defines.
    pub bandwidth: u64,
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.bw_type, self.bandwidth)
    }
}

impl LineValue for Bandwidth {
    fn kind(&self) -> char {
        'b'
    }

    fn read(_kind: char, text: &str) -> Result<Self, ValueError> {
        let Some((bw_type, value)) = text.split_once(':') else {
            return Err(ValueError::Bad(format!(
                "expected <bwtype>:<bandwidth>, found {text:?}"
            )));
        };
        if bw_type.is_empty() || bw_type.contains([' ', '\t']) {
            return Err(ValueError::Bad(format!("bad bandwidth type {bw_type:?}")));
        }
        Ok(Bandwidth {
            bw_type: bw_type.to_owned(),
            bandwidth: number(value, "bandwidth")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_prints_bandwidth() {
        let b = Bandwidth::read('b', "AS:64").unwrap();
        assert_eq!((b.bw_type.as_str(), b.bandwidth), ("AS", 64));
        assert_eq!(b.to_string(), "AS:64");
    }

    #[test]
    fn rejects_malformed_bandwidth() {
        assert!(Bandwidth::read('b', "AS").is_err());
        assert!(Bandwidth::read('b', ":64").is_err());
        assert!(Bandwidth::read('b', "AS:lots").is_err());
    }
}
