//! URIs: `sip:`/`sips:` (RFC 3261 §19.1), `tel:` (RFC 3966) and any other absolute URI
//! (kept as scheme and text, so that a server can answer 416 or pass it through).
//!
//! Parsed URIs borrow from the message; [`UriBuf`] owns a validated URI for state that
//! outlives a message (dialog targets, registrations).

use crate::error::UriError;
use crate::params::{byte_class, scan_escaped, valid_escaped, Params};
use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host part of a SIP URI or Via.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A domain name, as written.
    Domain(&'a str),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 reference (written in brackets).
    Ipv6(Ipv6Addr),
}

impl<'a> Host<'a> {
    /// Parses a `host` (hostname, IPv4address or `[IPv6reference]`).
    pub fn parse(s: &'a str) -> Result<Host<'a>, UriError> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or(UriError("unterminated IPv6 reference"))?;
            return inner
                .parse()
                .map(Host::Ipv6)
                .map_err(|_| UriError("bad IPv6 address"));
        }
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(UriError("empty host"));
        }
        let mut digits_and_dots = true;
        for &c in b {
            if !HOSTNAME[c as usize] {
                return Err(UriError("bad host name"));
            }
            digits_and_dots &= c.is_ascii_digit() || c == b'.';
        }
        if digits_and_dots {
            if let Some(a) = parse_ipv4(b) {
                return Ok(Host::Ipv4(a));
            }
        }
        if matches!(b[0], b'.' | b'-') {
            return Err(UriError("bad host name"));
        }
        Ok(Host::Domain(s))
    }

    /// The address, when the host is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            Host::Ipv4(a) => Some(IpAddr::V4(a)),
            Host::Ipv6(a) => Some(IpAddr::V6(a)),
            Host::Domain(_) => None,
        }
    }

    /// Hosts compare case-insensitively (RFC 3261 §19.1.4).
    pub fn eq_host(&self, other: &Host<'_>) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            (Host::Ipv4(a), Host::Ipv4(b)) => a == b,
            (Host::Ipv6(a), Host::Ipv6(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// A dotted quad, as `Ipv4Addr::from_str` reads it (no leading zeros), in one pass:
/// every Via and most Contacts carry one.
fn parse_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    let mut i = 0;
    while n < 4 {
        let start = i;
        let mut v: u32 = 0;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 3 {
            v = v * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || v > 255 || (len > 1 && b[start] == b'0') {
            return None;
        }
        octets[n] = v as u8;
        n += 1;
        if n < 4 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    (i == b.len()).then_some(Ipv4Addr::from(octets))
}

/// Splits `host[:port]`, with IPv6 references in brackets.
pub(crate) fn parse_hostport(s: &str) -> Result<(Host<'_>, Option<u16>), UriError> {
    let (host, port) = if s.starts_with('[') {
        let end = crate::text::find_byte(s, b']').ok_or(UriError("unterminated IPv6 reference"))?;
        let rest = &s[end + 1..];
        match rest.strip_prefix(':') {
            Some(p) => (&s[..=end], Some(p)),
            None if rest.is_empty() => (&s[..=end], None),
            None => return Err(UriError("junk after IPv6 reference")),
        }
    } else {
        match crate::text::split_once_byte(s, b':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => Some(crate::text::parse_u16(p).ok_or(UriError("bad port"))?),
        None => None,
    };
    Ok((Host::parse(host)?, port))
}

/// `user` characters: unreserved plus `user-unreserved`.
const USER: [bool; 256] = byte_class(b"-_.!~*'()&=+$,;?/", true);
/// `password` characters.
const PASSWORD: [bool; 256] = byte_class(b"-_.!~*'()&=+$,", true);
/// `hname`/`hvalue` characters of URI headers.
const HEADER_CHAR: [bool; 256] = byte_class(b"-_.!~*'()[]/?:+$", true);
/// Host name characters (lenient: `_` is seen in the wild).
const HOSTNAME: [bool; 256] = byte_class(b"-._", true);

/// Bytes that never appear in a URI: controls, space, `<`, `>`, `"` and DEL.
const NOT_IN_URI: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i <= b' ' as usize {
        t[i] = true;
        i += 1;
    }
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'"' as usize] = true;
    t[0x7f] = true;
    t
};

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part, still %-escaped.
    pub user: Option<&'a str>,
    /// The password, still %-escaped (deprecated but legal).
    pub password: Option<&'a str>,
    /// The host.
    pub host: Host<'a>,
    /// The port, if given.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr`).
    pub params: Params<'a>,
    /// The `?`-headers, without the `?`, still escaped.
    pub headers: Option<&'a str>,
}

impl<'a> SipUri<'a> {
    /// Parses what follows `sip:` or `sips:`. Each component is scanned once: the
    /// userinfo with its character class, the host with the host-name class, the
    /// parameters with theirs (this is on every typed From/To/Contact read).
    fn parse_rest(secure: bool, rest: &'a str) -> Result<SipUri<'a>, UriError> {
        let b = rest.as_bytes();
        // No unescaped '@' may appear in the user, password, parameters or headers, so the
        // first one ends the userinfo even when the user contains '?' or ';' (RFC 4475 3.1.1.2).
        let (user, password, host_start) = match crate::text::find_byte(rest, b'@') {
            Some(at) => {
                let colon = scan_escaped(b, 0, at, &USER).ok_or(UriError("bad user part"))?;
                if colon == 0 {
                    return Err(UriError("bad user part"));
                }
                if colon < at {
                    if b[colon] != b':' {
                        return Err(UriError("bad user part"));
                    }
                    if scan_escaped(b, colon + 1, at, &PASSWORD) != Some(at) {
                        return Err(UriError("bad password"));
                    }
                    (Some(&rest[..colon]), Some(&rest[colon + 1..at]), at + 1)
                } else {
                    (Some(&rest[..at]), None, at + 1)
                }
            }
            None => (None, None, 0),
        };
        // The host ends at the port's ':', the parameters' ';' or the headers' '?'.
        let mut i = host_start;
        if b.get(i) == Some(&b'[') {
            while i < b.len() && b[i] != b']' {
                i += 1;
            }
            if i == b.len() {
                return Err(UriError("unterminated IPv6 reference"));
            }
            i += 1;
        } else {
            while i < b.len() && !matches!(b[i], b':' | b';' | b'?') {
                i += 1;
            }
        }
        let host = Host::parse(&rest[host_start..i])?;
        let port = if b.get(i) == Some(&b':') {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            Some(crate::text::parse_u16(&rest[start..i]).ok_or(UriError("bad port"))?)
        } else {
            None
        };
        let params_end = crate::text::find_byte(&rest[i..], b'?').map_or(b.len(), |q| i + q);
        if i < params_end && b[i] != b';' {
            return Err(UriError(if port.is_some() {
                "bad port"
            } else {
                "junk after the host"
            }));
        }
        let params = Params::parse_uri(&rest[i..params_end]).map_err(UriError)?;
        let headers = if params_end < b.len() {
            let h = &rest[params_end + 1..];
            let ok = !h.is_empty()
                && h.split('&')
                    .all(|hv| match crate::text::split_once_byte(hv, b'=') {
                        Some((n, v)) => {
                            let c = |b: u8| HEADER_CHAR[b as usize];
                            !n.is_empty() && valid_escaped(n, c) && valid_escaped(v, c)
                        }
                        None => false,
                    });
            if !ok {
                return Err(UriError("bad URI headers"));
            }
            Some(h)
        } else {
            None
        };
        Ok(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// The user part with %-escapes decoded.
    pub fn user_decoded(&self) -> Option<Cow<'a, str>> {
        self.user.map(decode_lossy)
    }

    /// The `transport` parameter, if any.
    pub fn transport(&self) -> Option<&'a str> {
        self.params.get("transport").flatten()
    }

    /// True with the `lr` parameter (a loose router, RFC 3261 §16.12).
    pub fn is_loose_router(&self) -> bool {
        self.params.contains("lr")
    }

    /// The `maddr` parameter, if any.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.get("maddr").flatten()
    }

    /// RFC 3261 §19.1.4 equality for the parts this stack compares (scheme, user,
    /// password, host, port, and the transport/user/ttl/method/maddr parameters).
    pub fn equivalent(&self, other: &SipUri<'_>) -> bool {
        let dec = |u: Option<&str>| u.map(|s| percent_decode(s).into_owned());
        if self.secure != other.secure
            || dec(self.user) != dec(other.user)
            || dec(self.password) != dec(other.password)
            || !self.host.eq_host(&other.host)
            || self.port != other.port
        {
            return false;
        }
        for p in ["transport", "user", "ttl", "method", "maddr"] {
            let a = self.params.get(p);
            let b = other.params.get(p);
            let same = match (a, b) {
                (Some(Some(x)), Some(Some(y))) => x.eq_ignore_ascii_case(y),
                (None, None) => true,
                (Some(None), Some(None)) => true,
                _ => false,
            };
            if !same {
                return false;
            }
        }
        true
    }
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = self.user {
            f.write_str(u)?;
            if let Some(p) = self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        f.write_str(self.params.as_str())?;
        if let Some(h) = self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

/// A `tel:` URI (RFC 3966).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// The number as written, with visual separators (`+1-425-555-0101`).
    pub number: &'a str,
    /// Parameters such as `ext`, `phone-context`, `isub`.
    pub params: Params<'a>,
}

impl<'a> TelUri<'a> {
    fn parse_rest(rest: &'a str) -> Result<TelUri<'a>, UriError> {
        let (number, params) = match crate::text::find_byte(rest, b';') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let visual = |b: u8| matches!(b, b'-' | b'.' | b'(' | b')');
        let ok = if let Some(global) = number.strip_prefix('+') {
            global.bytes().any(|b| b.is_ascii_digit())
                && global.bytes().all(|b| b.is_ascii_digit() || visual(b))
        } else {
            number
                .bytes()
                .any(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#')
                && number
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#' || visual(b))
        };
        if !ok {
            return Err(UriError("bad telephone number"));
        }
        let params = Params::parse_uri(params).map_err(UriError)?;
        Ok(TelUri { number, params })
    }

    /// True for a global number (`+` and a country code).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// The number without visual separators, keeping a leading `+`.
    pub fn digits(&self) -> String {
        self.number
            .chars()
            .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
            .collect()
    }

    /// The `ext` parameter, if any.
    pub fn extension(&self) -> Option<&'a str> {
        self.params.get("ext").flatten()
    }
}

impl fmt::Display for TelUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}{}", self.number, self.params)
    }
}

/// Any URI a SIP message may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:`.
    Tel(TelUri<'a>),
    /// Another scheme (`http:`, `isbn:`, `urn:` ...), kept as written.
    Other {
        /// The scheme, as written.
        scheme: &'a str,
        /// Everything after the colon.
        rest: &'a str,
    },
}

impl<'a> Uri<'a> {
    /// Parses an absolute URI. Whitespace, `<`, `>` and `"` are never part of a URI.
    pub fn parse(s: &'a str) -> Result<Uri<'a>, UriError> {
        // The component scanners of sip:, sips: and tel: accept none of the bytes that
        // never appear in a URI, so only other schemes need the separate scan.
        let b = s.as_bytes();
        let known = |n: usize, name: &[u8]| {
            b.len() > n && b[n] == b':' && b[..n].eq_ignore_ascii_case(name)
        };
        if known(3, b"sip") {
            return SipUri::parse_rest(false, &s[4..]).map(Uri::Sip);
        }
        if known(4, b"sips") {
            return SipUri::parse_rest(true, &s[5..]).map(Uri::Sip);
        }
        if known(3, b"tel") {
            return TelUri::parse_rest(&s[4..]).map(Uri::Tel);
        }
        if b.iter().any(|&c| NOT_IN_URI[c as usize]) {
            return Err(UriError("URI contains white space or a delimiter"));
        }
        let (scheme, rest) = crate::text::split_once_byte(s, b':').ok_or(UriError("no scheme"))?;
        let sb = scheme.as_bytes();
        if sb.is_empty()
            || !sb[0].is_ascii_alphabetic()
            || !sb
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            return Err(UriError("bad scheme"));
        }
        if rest.is_empty() {
            return Err(UriError("nothing after the scheme"));
        }
        Ok(Uri::Other { scheme, rest })
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(s) => Some(s),
            _ => None,
        }
    }

    /// The scheme in lower case for known schemes, as written otherwise.
    pub fn scheme(&self) -> &'a str {
        match self {
            Uri::Sip(s) if s.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other { scheme, .. } => scheme,
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(u) => u.fmt(f),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

/// An owned, validated URI, for state that outlives the message it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UriBuf(String);

impl UriBuf {
    /// Validates and stores `s`.
    pub fn new(s: impl Into<String>) -> Result<UriBuf, UriError> {
        let s = s.into();
        Uri::parse(&s)?;
        Ok(UriBuf(s))
    }

    /// The parsed view.
    pub fn uri(&self) -> Uri<'_> {
        // Validated at construction, so this cannot fail; fall back to Other to stay total.
        Uri::parse(&self.0).unwrap_or(Uri::Other {
            scheme: "",
            rest: &self.0,
        })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UriBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for UriBuf {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UriBuf::new(s)
    }
}

impl From<Uri<'_>> for UriBuf {
    fn from(u: Uri<'_>) -> Self {
        UriBuf(u.to_string())
    }
}

/// Decodes `%XX` escapes. Bytes that do not form an escape are kept.
pub fn percent_decode(s: &str) -> Cow<'_, [u8]> {
    if !s.contains('%') {
        return Cow::Borrowed(s.as_bytes());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(out)
}

/// Decodes `%XX` escapes into text, replacing invalid UTF-8.
pub fn decode_lossy(s: &str) -> Cow<'_, str> {
    match percent_decode(s) {
        Cow::Borrowed(_) => Cow::Borrowed(s),
        Cow::Owned(v) => Cow::Owned(String::from_utf8_lossy(&v).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri<'_> {
        match Uri::parse(s).unwrap() {
            Uri::Sip(u) => u,
            other => panic!("not sip: {other:?}"),
        }
    }

    #[test]
    fn parses_full_sip_uri() {
        let u = sip("sips:alice:secret@[2001:db8::10]:5061;transport=tcp;lr?subject=hi&x=y");
        assert!(u.secure);
        assert_eq!(u.user, Some("alice"));
        assert_eq!(u.password, Some("secret"));
        assert_eq!(u.host, Host::Ipv6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some("tcp"));
        assert!(u.is_loose_router());
        assert_eq!(u.headers, Some("subject=hi&x=y"));
        assert_eq!(
            u.to_string(),
            "sips:alice:secret@[2001:db8::10]:5061;transport=tcp;lr?subject=hi&x=y"
        );
    }

    #[test]
    fn user_part_may_hold_question_marks_and_semicolons() {
        let u = sip("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
        assert_eq!(
            u.user,
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password,
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        assert_eq!(u.host, Host::Domain("example.com"));
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user, Some("user;par=u%40example.net"));
    }

    #[test]
    fn decodes_escapes() {
        let u = sip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(u.user_decoded().unwrap(), "sips:user@example.com");
        let u = sip("sip:null-%00-null@example.com");
        assert_eq!(percent_decode(u.user.unwrap()).as_ref(), b"null-\0-null");
    }

    #[test]
    fn tel_and_other_schemes() {
        match Uri::parse("tel:+1-425-555-0100;ext=101").unwrap() {
            Uri::Tel(t) => {
                assert!(t.is_global());
                assert_eq!(t.digits(), "+14255550100");
                assert_eq!(t.extension(), Some("101"));
            }
            _ => panic!(),
        }
        assert!(matches!(
            Uri::parse("isbn:2983792873").unwrap(),
            Uri::Other { scheme: "isbn", .. }
        ));
        assert!(Uri::parse("tel:+").is_err());
    }

    #[test]
    fn ipv4_reads_like_std() {
        for s in [
            "192.0.2.10",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.",
            "1.2.3.4.5",
            "1..2.3",
            "1234.1.1.1",
            "",
            "1.2.3.4a",
            "10.0.0.010",
        ] {
            assert_eq!(parse_ipv4(s.as_bytes()), s.parse().ok(), "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn ipv4_agrees_with_std(s in "[0-9.]{0,17}") {
            proptest::prop_assert_eq!(parse_ipv4(s.as_bytes()), s.parse().ok());
        }
    }

    #[test]
    fn rejects_bad_uris() {
        for bad in [
            "sip:user@example.com; lr",
            "sip:@example.com",
            "sip:user@exa mple.com",
            "sip:user@host:99999",
            "sip:user@[::1",
            "sip:user@host;x=%ZZ",
            "1sip:x",
            "sip:",
            "<sip:a@b>",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn equivalence_follows_rfc3261() {
        assert!(sip("sip:%61lice@ATLANTA.com;transport=TCP")
            .equivalent(&sip("sip:alice@AtLanTa.CoM;Transport=tcp")));
        assert!(!sip("sip:alice@atlanta.com").equivalent(&sip("sip:alice@atlanta.com:5060")));
        assert!(!sip("sip:ALICE@atlanta.com").equivalent(&sip("sip:alice@atlanta.com")));
    }
}
