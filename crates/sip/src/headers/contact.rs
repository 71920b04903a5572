//! `Contact` (RFC 3261 §20.10): where to reach a user agent, or `*` in a REGISTER that
//! removes every binding. `expires` and `q` are checked here, not left to callers.

use super::{err, TypedHeader};
use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::name_addr::NameAddr;
use std::fmt;

/// One Contact element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `*`
    Star,
    /// An address.
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// The address, unless this is `*`.
    pub fn addr(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => Some(a),
        }
    }

    /// The `expires` parameter.
    pub fn expires(&self) -> Option<u32> {
        self.addr()?
            .params
            .get("expires")
            .flatten()
            .and_then(crate::text::parse_u32)
    }

    /// The `q` parameter in thousandths (q=0.5 → 500).
    pub fn q(&self) -> Option<u16> {
        parse_q(self.addr()?.params.get("q").flatten()?)
    }
}

fn parse_q(v: &str) -> Option<u16> {
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, f),
        None => (v, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut milli: u16 = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    for (i, d) in frac.bytes().enumerate() {
        milli += (d - b'0') as u16 * [100, 10, 1][i];
    }
    (milli <= 1000).then_some(milli)
}

impl<'a> TypedHeader<'a> for Contact<'a> {
    const NAME: HeaderName = HeaderName::Contact;
    const LIST: bool = true;
    fn parse(s: &'a str) -> Result<Self, HeaderError> {
        if s == "*" {
            return Ok(Contact::Star);
        }
        let a = NameAddr::parse(s).map_err(|r| err(HeaderName::Contact, r))?;
        if let Some(v) = a.params.get("expires") {
            if v.and_then(crate::text::parse_u32).is_none() {
                return Err(err(HeaderName::Contact, "expires is not delta-seconds"));
            }
        }
        if let Some(v) = a.params.get("q") {
            if v.and_then(parse_q).is_none() {
                return Err(err(HeaderName::Contact, "q is not a qvalue"));
            }
        }
        Ok(Contact::Addr(a))
    }
}

impl fmt::Display for Contact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Star => f.write_str("*"),
            Contact::Addr(a) => a.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_params() {
        let c = Contact::parse(
            r#""Quoted string \"\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33"#,
        )
        .unwrap();
        assert_eq!(c.q(), Some(330));
        assert_eq!(Contact::parse("*").unwrap(), Contact::Star);
        assert!(
            Contact::parse("<sip:user@host129.example.com>\r\n  ;expires=280297596632815").is_err()
        );
        assert!(Contact::parse("<sip:a@b>;q=1.5").is_err());
    }
}
