//! `;name=value` parameter lists, for header fields (LWS and quoted values allowed) and for
//! URIs (no LWS, escaped characters). A `Params` keeps the validated raw text and looks
//! parameters up lazily, so parsing a header costs no allocation and prints back unchanged.

use crate::text::{is_lws, is_token_byte, quoted_len, trim, unquote};
use std::borrow::Cow;
use std::fmt;

/// Which grammar a parameter list follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `generic-param` of header fields: LWS around `;` and `=`, quoted values.
    Header,
    /// A header parameter list with no LWS and no quoted values (the common case),
    /// which iterates without the LWS and quote handling.
    HeaderPlain,
    /// `uri-parameter`: no LWS, `paramchar`s and `%XX` escapes.
    Uri,
}

/// A validated parameter list, empty or starting with `;`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Params<'a> {
    raw: &'a str,
    mode: Mode,
}

impl fmt::Debug for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Default for Params<'_> {
    fn default() -> Self {
        Params {
            raw: "",
            mode: Mode::Header,
        }
    }
}

/// `paramchar` of RFC 3261 §25.1 (without `%`, checked as an escape).
const URI_PARAM: [bool; 256] = byte_class(b"-_.!~*'()[]/:&+$", true);

/// Checks `%XX` escapes and the allowed characters of a URI component.
pub(crate) fn valid_escaped(s: &str, allowed: impl Fn(u8) -> bool) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if i + 2 >= b.len() || !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
        } else if allowed(c) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// Scans `b[from..to]` over bytes of `class` and `%XX` escapes; returns where the scan
/// stopped (`to`, or the first byte outside the class), or `None` for a bad escape.
pub(crate) fn scan_escaped(b: &[u8], from: usize, to: usize, class: &[bool; 256]) -> Option<usize> {
    let mut i = from;
    while i < to {
        let c = b[i];
        if class[c as usize] {
            i += 1;
        } else if c == b'%' {
            if i + 2 >= to || !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return None;
            }
            i += 3;
        } else {
            return Some(i);
        }
    }
    Some(to)
}

/// A 256-entry membership table for a byte class, built at compile time.
pub(crate) const fn byte_class(extra: &[u8], alnum: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = alnum && c.is_ascii_alphanumeric();
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        t[extra[j] as usize] = true;
        j += 1;
    }
    t
}

/// Header-parameter values: `token / host / quoted-string`; host adds `[`, `]` and `:`.
fn is_gen_value_byte(b: u8) -> bool {
    is_token_byte(b) || matches!(b, b'[' | b']' | b':')
}

impl<'a> Params<'a> {
    /// Validates a header field's parameter list (`*( SEMI generic-param )`), with the
    /// surrounding LWS trimmed. `raw` must be empty or start with `;` after LWS.
    pub fn parse_header(raw: &'a str) -> Result<Params<'a>, &'static str> {
        let raw = trim(raw);
        let b = raw.as_bytes();
        let mut i = 0;
        let mut plain = true;
        let skip = |i: &mut usize, plain: &mut bool| {
            while *i < b.len() && is_lws(b[*i]) {
                *i += 1;
                *plain = false;
            }
        };
        while i < b.len() {
            if b[i] != b';' {
                return Err("expected ';' before a parameter");
            }
            i += 1;
            skip(&mut i, &mut plain);
            let start = i;
            while i < b.len() && is_token_byte(b[i]) {
                i += 1
            }
            if i == start {
                return Err("empty parameter name");
            }
            skip(&mut i, &mut plain);
            if i < b.len() && b[i] == b'=' {
                i += 1;
                skip(&mut i, &mut plain);
                if i < b.len() && b[i] == b'"' {
                    plain = false;
                    i += quoted_len(&raw[i..]).ok_or("unterminated quoted parameter value")?;
                } else {
                    let vs = i;
                    while i < b.len() && is_gen_value_byte(b[i]) {
                        i += 1
                    }
                    if i == vs {
                        return Err("empty parameter value");
                    }
                }
                skip(&mut i, &mut plain);
            }
        }
        Ok(Params {
            raw,
            mode: if plain {
                Mode::HeaderPlain
            } else {
                Mode::Header
            },
        })
    }

    /// Validates a URI's parameter list (`*( ";" uri-parameter )`).
    pub fn parse_uri(raw: &'a str) -> Result<Params<'a>, &'static str> {
        if raw.is_empty() {
            return Ok(Params {
                raw,
                mode: Mode::Uri,
            });
        }
        let b = raw.as_bytes();
        if b[0] != b';' {
            return Err("expected ';' before a URI parameter");
        }
        let mut i = 1;
        loop {
            let end = scan_escaped(b, i, b.len(), &URI_PARAM).ok_or("bad URI parameter name")?;
            if end == i {
                return Err("bad URI parameter name");
            }
            i = end;
            if i < b.len() && b[i] == b'=' {
                let start = i + 1;
                let end =
                    scan_escaped(b, start, b.len(), &URI_PARAM).ok_or("bad URI parameter value")?;
                if end == start {
                    return Err("bad URI parameter value");
                }
                i = end;
                if i < b.len() && b[i] != b';' {
                    return Err("bad URI parameter value");
                }
            }
            if i == b.len() {
                break;
            }
            if b[i] != b';' {
                return Err("bad URI parameter name");
            }
            i += 1;
        }
        Ok(Params {
            raw,
            mode: Mode::Uri,
        })
    }

    /// The raw text, starting with `;` unless empty.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Iterates `(name, raw value)` pairs; quoted values keep their quotes.
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter {
            rest: self.raw,
            mode: self.mode,
        }
    }

    /// The raw value of the first parameter named `name` (case-insensitive): `None` when
    /// absent, `Some(None)` when present without a value.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The value of `name` with quotes and escapes removed.
    pub fn get_unquoted(&self, name: &str) -> Option<Cow<'a, str>> {
        match self.get(name)? {
            Some(v) if v.starts_with('"') && v.len() >= 2 => Some(unquote(&v[1..v.len() - 1])),
            Some(v) => Some(Cow::Borrowed(v)),
            None => Some(Cow::Borrowed("")),
        }
    }

    /// True when a parameter `name` is present, with or without a value.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Iterator over [`Params`].
#[derive(Clone, Debug)]
pub struct ParamIter<'a> {
    rest: &'a str,
    mode: Mode,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = (&'a str, Option<&'a str>);
    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest.strip_prefix(';')?;
        if self.mode != Mode::Header {
            // No LWS and no quotes: plain byte splits.
            let (item, rest) = match crate::text::find_byte(s, b';') {
                Some(i) => (&s[..i], &s[i..]),
                None => (s, ""),
            };
            self.rest = rest;
            return Some(match crate::text::split_once_byte(item, b'=') {
                Some((n, v)) => (n, Some(v)),
                None => (item, None),
            });
        }
        let (item, rest) = crate::text::split_at_unquoted(s, |b| b == b';');
        self.rest = trim(rest);
        let (name, value) = match crate::text::split_once_byte(item, b'=') {
            Some((n, v)) => (trim(n), Some(trim(v))),
            None => (trim(item), None),
        };
        Some((name, value))
    }
}

impl fmt::Display for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_params_allow_lws_and_quotes() {
        let p =
            Params::parse_header(" ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33")
                .unwrap();
        let v: Vec<_> = p.iter().collect();
        assert_eq!(
            v,
            vec![
                ("newparam", Some("newvalue")),
                ("secondparam", None),
                ("q", Some("0.33"))
            ]
        );
        let p = Params::parse_header(r#";x="a;b\"c";tag=1"#).unwrap();
        assert_eq!(p.get_unquoted("x").unwrap(), "a;b\"c");
        assert_eq!(p.get("TAG"), Some(Some("1")));
    }

    #[test]
    fn header_params_reject_empty_elements() {
        assert!(Params::parse_header(";;").is_err());
        assert!(Params::parse_header(";a=").is_err());
        assert!(Params::parse_header(";a=\"open").is_err());
        assert!(Params::parse_header("a").is_err());
    }

    #[test]
    fn uri_params_check_escapes() {
        assert!(Params::parse_uri(";%6C%72;n%61me=v%61lue%25%34%31").is_ok());
        assert!(Params::parse_uri(";lr;x=%G1").is_err());
        assert!(Params::parse_uri(";a b").is_err());
        assert!(Params::parse_uri(";x=%4").is_err());
    }
}
