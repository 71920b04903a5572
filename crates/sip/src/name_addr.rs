//! `name-addr` / `addr-spec` with header parameters: the shape of From, To, Contact,
//! Route, Record-Route, Refer-To, Referred-By and P-Asserted-Identity values.

use crate::params::Params;
use crate::text::{is_lws, is_token_byte, quoted_len, trim, unquote, write_quoted};
use crate::uri::Uri;
use std::borrow::Cow;
use std::fmt;

/// A display name, quoted or as a run of tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayName<'a> {
    /// The inside of a quoted string, escapes still in place.
    Quoted(&'a str),
    /// `*(token LWS)`, trimmed.
    Tokens(&'a str),
}

impl<'a> DisplayName<'a> {
    /// The text a person would read.
    pub fn text(&self) -> Cow<'a, str> {
        match *self {
            DisplayName::Quoted(q) => unquote(q),
            DisplayName::Tokens(t) => Cow::Borrowed(t),
        }
    }
}

/// A parsed address with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name, if any.
    pub display_name: Option<DisplayName<'a>>,
    /// The URI.
    pub uri: Uri<'a>,
    /// The URI was written in angle brackets.
    pub bracketed: bool,
    /// Header parameters after the address (`;tag=...`, `;expires=...`).
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    /// Parses one address. Fails on the RFC 4475 traps: unbalanced quotes, a display name
    /// with non-token characters unquoted, white space inside `<...>`, and an unbracketed
    /// URI that carries `?` headers or commas.
    pub fn parse(s: &'a str) -> Result<NameAddr<'a>, &'static str> {
        let s = trim(s);
        let b = s.as_bytes();
        if b.is_empty() {
            return Err("empty address");
        }
        let (display_name, rest) = if b[0] == b'"' {
            let n = quoted_len(s).ok_or("unterminated quoted display name")?;
            let rest = crate::text::trim_start(&s[n..]);
            if !rest.starts_with('<') {
                return Err("quoted display name without <URI>");
            }
            (Some(DisplayName::Quoted(&s[1..n - 1])), rest)
        } else if let Some(lt) = crate::text::find_byte(s, b'<') {
            let dn = trim(&s[..lt]);
            if !dn.bytes().all(|c| is_token_byte(c) || is_lws(c)) {
                return Err("display name has characters that need quotes");
            }
            let dn = if dn.is_empty() {
                None
            } else {
                Some(DisplayName::Tokens(dn))
            };
            (dn, &s[lt..])
        } else {
            (None, s)
        };
        if let Some(inner) = rest.strip_prefix('<') {
            let gt = crate::text::find_byte(inner, b'>').ok_or("missing '>'")?;
            let uri = Uri::parse(&inner[..gt]).map_err(|e| e.0)?;
            let params = Params::parse_header(&inner[gt + 1..])?;
            Ok(NameAddr {
                display_name,
                uri,
                bracketed: true,
                params,
            })
        } else {
            // addr-spec: parameters belong to the header, so the URI ends at the first ';'.
            let end = crate::text::find_byte(rest, b';').unwrap_or(rest.len());
            let uri_text = trim(&rest[..end]);
            if uri_text.contains(['?', ',']) {
                return Err("a URI with headers or commas must be in <>");
            }
            let uri = Uri::parse(uri_text).map_err(|e| e.0)?;
            let params = Params::parse_header(&rest[end..])?;
            Ok(NameAddr {
                display_name,
                uri,
                bracketed: false,
                params,
            })
        }
    }

    /// The `tag` parameter (From, To).
    pub fn tag(&self) -> Option<&'a str> {
        self.params.get("tag").flatten()
    }
}

impl fmt::Display for NameAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.display_name {
            Some(DisplayName::Quoted(q)) => write!(f, "\"{q}\" ")?,
            Some(DisplayName::Tokens(t)) => write!(f, "{t} ")?,
            None => {}
        }
        if self.bracketed || self.display_name.is_some() {
            write!(f, "<{}>", self.uri)?;
        } else {
            write!(f, "{}", self.uri)?;
        }
        f.write_str(self.params.as_str())
    }
}

/// Writes `"name" <uri>` with the name quoted and escaped, for building messages.
pub fn write_name_addr(
    f: &mut impl fmt::Write,
    display: Option<&str>,
    uri: &dyn fmt::Display,
) -> fmt::Result {
    if let Some(d) = display {
        write_quoted(f, d)?;
        f.write_char(' ')?;
    }
    write!(f, "<{uri}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms() {
        let a = NameAddr::parse(
            r#""J Rosenberg \\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8"#,
        )
        .unwrap();
        assert_eq!(a.display_name.unwrap().text(), r#"J Rosenberg \""#);
        assert_eq!(a.tag(), Some("98asjd8"));
        let a = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display_name, Some(DisplayName::Tokens("caller")));
        let a = NameAddr::parse("sip:user@example.com;tag=1;x").unwrap();
        assert!(!a.bracketed);
        assert_eq!(a.tag(), Some("1"));
        assert!(a.params.contains("x"));
        let a =
            NameAddr::parse(" sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert_eq!(a.tag(), Some("1918181833n"));
    }

    #[test]
    fn rejects_rfc4475_traps() {
        assert!(NameAddr::parse(r#""Mr. J. User <sip:j.user@example.com>"#).is_err());
        assert!(NameAddr::parse("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
        assert!(NameAddr::parse(r#""Watson, Thomas" < sip:t.watson@example.org >"#).is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(NameAddr::parse(r#""Joe" <sip:joe@example.org>;;;;"#).is_err());
    }

    #[test]
    fn prints_back() {
        for s in [
            r#""A \"q\"" <sip:a@b>;tag=1"#,
            "<sip:a@b;lr>",
            "sip:a@b;tag=x",
            "Bob <tel:+15551234>",
        ] {
            assert_eq!(NameAddr::parse(s).unwrap().to_string(), s);
        }
    }
}
