//! Character classes and small scanners from the RFC 3261 §25 grammar.
//!
//! Header values are handed around as `&str` slices of the received buffer. A folded
//! header keeps its CRLF inside the slice, so every scanner here treats CR and LF as
//! linear white space (LWS), which is what folding means.

/// `token` characters (RFC 3261 §25.1): alphanum and `-.!%*_+`'~`.
#[inline]
pub fn is_token_byte(b: u8) -> bool {
    TOKEN_TABLE[b as usize]
}

const TOKEN_TABLE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// `word` characters (Call-ID): token characters plus `()<>:\"/[]?{}`.
#[inline]
pub fn is_word_byte(b: u8) -> bool {
    is_token_byte(b)
        || matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

/// Linear white space, including the CRLF of a folded line.
#[inline]
pub fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// True when `s` is a non-empty `token`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// Trims LWS (space, tab and folding CRLF) from both ends. Byte-wise: LWS is ASCII, so
/// the cut points are always character boundaries.
#[inline]
pub fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let mut start = 0;
    let mut end = b.len();
    while start < end && is_lws(b[start]) {
        start += 1;
    }
    while end > start && is_lws(b[end - 1]) {
        end -= 1;
    }
    &s[start..end]
}

/// Trims LWS from the start.
#[inline]
pub fn trim_start(s: &str) -> &str {
    let b = s.as_bytes();
    let mut start = 0;
    while start < b.len() && is_lws(b[start]) {
        start += 1;
    }
    &s[start..]
}

/// Position of the first `b` in `s`. For the short strings of header values a plain
/// loop beats the set-up cost of a vectorised search.
#[inline]
pub fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

/// Splits at the first `b`, dropping it.
#[inline]
pub fn split_once_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = find_byte(s, b)?;
    Some((&s[..i], &s[i + 1..]))
}

/// Position of the first LWS byte.
#[inline]
pub fn find_lws(s: &str) -> Option<usize> {
    s.bytes().position(is_lws)
}

/// Length in bytes of the quoted string that starts at `s[0] == '"'`, quotes included.
/// Returns `None` when the closing quote is missing.
pub fn quoted_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    debug_assert_eq!(b.first(), Some(&b'"'));
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Removes the quotes and the backslash escapes of a quoted string's inside.
pub fn unquote(inner: &str) -> std::borrow::Cow<'_, str> {
    if !inner.contains('\\') {
        return std::borrow::Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Writes `s` as a quoted string, escaping `"` and `\`.
pub fn write_quoted(f: &mut impl std::fmt::Write, s: &str) -> std::fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

/// Splits a comma-separated header value into its elements, respecting quoted strings
/// and `<...>` URIs (which may contain commas). Elements are trimmed; an empty element
/// (`a,,b`) is yielded as `""` so that typed parsers reject it, as the grammar does.
pub fn split_list(s: &str) -> ListIter<'_> {
    ListIter {
        rest: Some(s),
        whole: false,
    }
}

/// An iterator like [`split_list`]'s that yields `s` whole (for non-list headers).
pub fn split_list_single(s: &str) -> ListIter<'_> {
    ListIter {
        rest: Some(s),
        whole: true,
    }
}

/// Iterator returned by [`split_list`].
#[derive(Clone, Debug)]
pub struct ListIter<'a> {
    rest: Option<&'a str>,
    whole: bool,
}

impl<'a> Iterator for ListIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        if self.whole {
            self.rest = None;
            return Some(trim(s));
        }
        let b = s.as_bytes();
        // Fast path: no quote or '<' before the first comma (or at all) means a plain split.
        match memchr::memchr3(b',', b'"', b'<', b) {
            None => {
                self.rest = None;
                return Some(trim(s));
            }
            Some(i) if b[i] == b',' => {
                self.rest = Some(&s[i + 1..]);
                return Some(trim(&s[..i]));
            }
            Some(_) => {}
        }
        let mut i = 0;
        let mut in_angle = false;
        while i < b.len() {
            match b[i] {
                b'"' => match quoted_len(&s[i..]) {
                    Some(n) => i += n,
                    None => {
                        // Unbalanced quote: hand the rest over whole; the typed parser rejects it.
                        self.rest = None;
                        return Some(trim(s));
                    }
                },
                b'<' => {
                    in_angle = true;
                    i += 1
                }
                b'>' => {
                    in_angle = false;
                    i += 1
                }
                b',' if !in_angle => {
                    self.rest = Some(&s[i + 1..]);
                    return Some(trim(&s[..i]));
                }
                _ => i += 1,
            }
        }
        self.rest = None;
        Some(trim(s))
    }
}

/// Splits `s` at the first byte for which `stop` is true, outside quoted strings.
pub fn split_at_unquoted(s: &str, stop: impl Fn(u8) -> bool) -> (&str, &str) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            match quoted_len(&s[i..]) {
                Some(n) => i += n,
                None => return (s, ""),
            }
            continue;
        }
        if stop(b[i]) {
            return (&s[..i], &s[i..]);
        }
        i += 1;
    }
    (s, "")
}

/// Parses a decimal number with no sign, rejecting overflow.
pub fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Like [`parse_u32`] for values that must fit 16 bits.
pub fn parse_u16(s: &str) -> Option<u16> {
    parse_u32(s).and_then(|v| u16::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_split_respects_quotes_and_angles() {
        let v: Vec<_> =
            split_list(r#""a, b" <sip:x@y;p=1,2>, <sip:z@w> ,"q\"," <sip:a@b>"#).collect();
        assert_eq!(
            v,
            vec![
                r#""a, b" <sip:x@y;p=1,2>"#,
                "<sip:z@w>",
                r#""q\"," <sip:a@b>"#
            ]
        );
    }

    #[test]
    fn list_split_yields_empty_elements() {
        let v: Vec<_> = split_list("a,,b,").collect();
        assert_eq!(v, vec!["a", "", "b", ""]);
    }

    #[test]
    fn unquote_removes_escapes() {
        assert_eq!(unquote(r#"J Rosenberg \\\""#), r#"J Rosenberg \""#);
    }

    #[test]
    fn numbers_reject_overflow_and_signs() {
        assert_eq!(parse_u32("4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32("4294967296"), None);
        assert_eq!(parse_u32("-1"), None);
        assert_eq!(parse_u32("0009"), Some(9));
        assert_eq!(parse_u16("65536"), None);
    }
}
