//! Header names: the ones this stack knows by name (with their compact forms,
//! RFC 3261 §7.3.3), matched case-insensitively, and any other token kept as written.
//!
//! Recognition runs once per header line on the parse path, so it dispatches on length
//! first and compares bytes without allocating.

use std::fmt;

/// A header name. `Other` covers every extension header; its text lives in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HeaderName {
    /// `Accept`
    Accept,
    /// `Accept-Encoding`
    AcceptEncoding,
    /// `Accept-Language`
    AcceptLanguage,
    /// `Alert-Info`
    AlertInfo,
    /// `Allow`
    Allow,
    /// `Allow-Events` (compact `u`)
    AllowEvents,
    /// `Authentication-Info`
    AuthenticationInfo,
    /// `Authorization`
    Authorization,
    /// `Call-ID` (compact `i`)
    CallId,
    /// `Call-Info`
    CallInfo,
    /// `Contact` (compact `m`)
    Contact,
    /// `Content-Disposition`
    ContentDisposition,
    /// `Content-Encoding` (compact `e`)
    ContentEncoding,
    /// `Content-Language`
    ContentLanguage,
    /// `Content-Length` (compact `l`)
    ContentLength,
    /// `Content-Type` (compact `c`)
    ContentType,
    /// `CSeq`
    CSeq,
    /// `Date`
    Date,
    /// `Error-Info`
    ErrorInfo,
    /// `Event` (compact `o`)
    Event,
    /// `Expires`
    Expires,
    /// `From` (compact `f`)
    From,
    /// `In-Reply-To`
    InReplyTo,
    /// `Max-Forwards`
    MaxForwards,
    /// `Min-Expires`
    MinExpires,
    /// `Min-SE`
    MinSe,
    /// `MIME-Version`
    MimeVersion,
    /// `Organization`
    Organization,
    /// `P-Asserted-Identity`
    PAssertedIdentity,
    /// `P-Preferred-Identity`
    PPreferredIdentity,
    /// `Priority`
    Priority,
    /// `Privacy`
    Privacy,
    /// `Proxy-Authenticate`
    ProxyAuthenticate,
    /// `Proxy-Authorization`
    ProxyAuthorization,
    /// `Proxy-Require`
    ProxyRequire,
    /// `RAck`
    RAck,
    /// `Reason`
    Reason,
    /// `Record-Route`
    RecordRoute,
    /// `Refer-To` (compact `r`)
    ReferTo,
    /// `Referred-By` (compact `b`)
    ReferredBy,
    /// `Replaces`
    Replaces,
    /// `Reply-To`
    ReplyTo,
    /// `Require`
    Require,
    /// `Retry-After`
    RetryAfter,
    /// `Route`
    Route,
    /// `RSeq`
    RSeq,
    /// `Server`
    Server,
    /// `Session-Expires` (compact `x`)
    SessionExpires,
    /// `Subject` (compact `s`)
    Subject,
    /// `Subscription-State`
    SubscriptionState,
    /// `Supported` (compact `k`)
    Supported,
    /// `Timestamp`
    Timestamp,
    /// `To` (compact `t`)
    To,
    /// `Unsupported`
    Unsupported,
    /// `User-Agent`
    UserAgent,
    /// `Via` (compact `v`)
    Via,
    /// `Warning`
    Warning,
    /// `WWW-Authenticate`
    WwwAuthenticate,
    /// `Path`
    Path,
    /// `Service-Route`
    ServiceRoute,
    /// `SIP-ETag`
    SipETag,
    /// `SIP-If-Match`
    SipIfMatch,
    /// `Identity` (compact `y`)
    Identity,
    /// `Refer-Sub`
    ReferSub,
    /// `Target-Dialog`
    TargetDialog,
    /// `Remote-Party-ID`
    RemotePartyId,
    /// `Diversion`
    Diversion,
    /// `History-Info`
    HistoryInfo,
    /// Any header this stack does not know by name.
    Other,
}

impl HeaderName {
    /// Recognises a header name (full or compact form, any case). Unknown names give `Other`.
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        if name.len() == 1 {
            return match name[0].to_ascii_lowercase() {
                b'u' => HeaderName::AllowEvents,
                b'i' => HeaderName::CallId,
                b'm' => HeaderName::Contact,
                b'e' => HeaderName::ContentEncoding,
                b'l' => HeaderName::ContentLength,
                b'c' => HeaderName::ContentType,
                b'o' => HeaderName::Event,
                b'f' => HeaderName::From,
                b'r' => HeaderName::ReferTo,
                b'b' => HeaderName::ReferredBy,
                b'x' => HeaderName::SessionExpires,
                b's' => HeaderName::Subject,
                b'k' => HeaderName::Supported,
                b't' => HeaderName::To,
                b'v' => HeaderName::Via,
                b'y' => HeaderName::Identity,
                _ => HeaderName::Other,
            };
        }
        let candidates: &[HeaderName] = match name.len() {
            2 => &[HeaderName::To],
            3 => &[HeaderName::Via],
            4 => &[
                HeaderName::CSeq,
                HeaderName::Date,
                HeaderName::From,
                HeaderName::RAck,
                HeaderName::RSeq,
                HeaderName::Path,
            ],
            5 => &[HeaderName::Allow, HeaderName::Event, HeaderName::Route],
            6 => &[
                HeaderName::Accept,
                HeaderName::MinSe,
                HeaderName::Reason,
                HeaderName::Server,
            ],
            7 => &[
                HeaderName::CallId,
                HeaderName::Contact,
                HeaderName::Expires,
                HeaderName::Privacy,
                HeaderName::Require,
                HeaderName::Subject,
                HeaderName::Warning,
            ],
            8 => &[
                HeaderName::Priority,
                HeaderName::ReferTo,
                HeaderName::Replaces,
                HeaderName::ReplyTo,
                HeaderName::SipETag,
                HeaderName::Identity,
            ],
            9 => &[
                HeaderName::CallInfo,
                HeaderName::Supported,
                HeaderName::Timestamp,
                HeaderName::ReferSub,
                HeaderName::Diversion,
            ],
            10 => &[
                HeaderName::AlertInfo,
                HeaderName::ErrorInfo,
                HeaderName::UserAgent,
            ],
            11 => &[
                HeaderName::InReplyTo,
                HeaderName::MinExpires,
                HeaderName::ReferredBy,
                HeaderName::RetryAfter,
                HeaderName::Unsupported,
            ],
            12 => &[
                HeaderName::AllowEvents,
                HeaderName::ContentType,
                HeaderName::MaxForwards,
                HeaderName::MimeVersion,
                HeaderName::Organization,
                HeaderName::RecordRoute,
                HeaderName::SipIfMatch,
                HeaderName::HistoryInfo,
            ],
            13 => &[
                HeaderName::Authorization,
                HeaderName::ProxyRequire,
                HeaderName::ServiceRoute,
                HeaderName::TargetDialog,
            ],
            14 => &[HeaderName::ContentLength],
            15 => &[
                HeaderName::AcceptEncoding,
                HeaderName::AcceptLanguage,
                HeaderName::SessionExpires,
                HeaderName::RemotePartyId,
            ],
            16 => &[
                HeaderName::ContentEncoding,
                HeaderName::ContentLanguage,
                HeaderName::WwwAuthenticate,
            ],
            18 => &[HeaderName::ProxyAuthenticate, HeaderName::SubscriptionState],
            19 => &[
                HeaderName::AuthenticationInfo,
                HeaderName::ContentDisposition,
                HeaderName::PAssertedIdentity,
                HeaderName::ProxyAuthorization,
            ],
            20 => &[HeaderName::PPreferredIdentity],
            _ => return HeaderName::Other,
        };
        for &c in candidates {
            if c.as_str().as_bytes().eq_ignore_ascii_case(name) {
                return c;
            }
        }
        HeaderName::Other
    }

    /// The canonical spelling of a known header; `""` for `Other`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HeaderName::Accept => "Accept",
            HeaderName::AcceptEncoding => "Accept-Encoding",
            HeaderName::AcceptLanguage => "Accept-Language",
            HeaderName::AlertInfo => "Alert-Info",
            HeaderName::Allow => "Allow",
            HeaderName::AllowEvents => "Allow-Events",
            HeaderName::AuthenticationInfo => "Authentication-Info",
            HeaderName::Authorization => "Authorization",
            HeaderName::CallId => "Call-ID",
            HeaderName::CallInfo => "Call-Info",
            HeaderName::Contact => "Contact",
            HeaderName::ContentDisposition => "Content-Disposition",
            HeaderName::ContentEncoding => "Content-Encoding",
            HeaderName::ContentLanguage => "Content-Language",
            HeaderName::ContentLength => "Content-Length",
            HeaderName::ContentType => "Content-Type",
            HeaderName::CSeq => "CSeq",
            HeaderName::Date => "Date",
            HeaderName::ErrorInfo => "Error-Info",
            HeaderName::Event => "Event",
            HeaderName::Expires => "Expires",
            HeaderName::From => "From",
            HeaderName::InReplyTo => "In-Reply-To",
            HeaderName::MaxForwards => "Max-Forwards",
            HeaderName::MinExpires => "Min-Expires",
            HeaderName::MinSe => "Min-SE",
            HeaderName::MimeVersion => "MIME-Version",
            HeaderName::Organization => "Organization",
            HeaderName::PAssertedIdentity => "P-Asserted-Identity",
            HeaderName::PPreferredIdentity => "P-Preferred-Identity",
            HeaderName::Priority => "Priority",
            HeaderName::Privacy => "Privacy",
            HeaderName::ProxyAuthenticate => "Proxy-Authenticate",
            HeaderName::ProxyAuthorization => "Proxy-Authorization",
            HeaderName::ProxyRequire => "Proxy-Require",
            HeaderName::RAck => "RAck",
            HeaderName::Reason => "Reason",
            HeaderName::RecordRoute => "Record-Route",
            HeaderName::ReferTo => "Refer-To",
            HeaderName::ReferredBy => "Referred-By",
            HeaderName::Replaces => "Replaces",
            HeaderName::ReplyTo => "Reply-To",
            HeaderName::Require => "Require",
            HeaderName::RetryAfter => "Retry-After",
            HeaderName::Route => "Route",
            HeaderName::RSeq => "RSeq",
            HeaderName::Server => "Server",
            HeaderName::SessionExpires => "Session-Expires",
            HeaderName::Subject => "Subject",
            HeaderName::SubscriptionState => "Subscription-State",
            HeaderName::Supported => "Supported",
            HeaderName::Timestamp => "Timestamp",
            HeaderName::To => "To",
            HeaderName::Unsupported => "Unsupported",
            HeaderName::UserAgent => "User-Agent",
            HeaderName::Via => "Via",
            HeaderName::Warning => "Warning",
            HeaderName::WwwAuthenticate => "WWW-Authenticate",
            HeaderName::Path => "Path",
            HeaderName::ServiceRoute => "Service-Route",
            HeaderName::SipETag => "SIP-ETag",
            HeaderName::SipIfMatch => "SIP-If-Match",
            HeaderName::Identity => "Identity",
            HeaderName::ReferSub => "Refer-Sub",
            HeaderName::TargetDialog => "Target-Dialog",
            HeaderName::RemotePartyId => "Remote-Party-ID",
            HeaderName::Diversion => "Diversion",
            HeaderName::HistoryInfo => "History-Info",
            HeaderName::Other => "",
        }
    }

    /// The compact form, where RFC 3261 or an extension defines one.
    pub const fn compact(self) -> Option<char> {
        match self {
            HeaderName::AllowEvents => Some('u'),
            HeaderName::CallId => Some('i'),
            HeaderName::Contact => Some('m'),
            HeaderName::ContentEncoding => Some('e'),
            HeaderName::ContentLength => Some('l'),
            HeaderName::ContentType => Some('c'),
            HeaderName::Event => Some('o'),
            HeaderName::From => Some('f'),
            HeaderName::ReferTo => Some('r'),
            HeaderName::ReferredBy => Some('b'),
            HeaderName::SessionExpires => Some('x'),
            HeaderName::Subject => Some('s'),
            HeaderName::Supported => Some('k'),
            HeaderName::To => Some('t'),
            HeaderName::Via => Some('v'),
            HeaderName::Identity => Some('y'),
            _ => None,
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderName::Other => f.write_str("extension"),
            other => f.write_str(other.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderName;

    #[test]
    fn recognises_full_and_compact_forms_in_any_case() {
        assert_eq!(
            HeaderName::from_bytes(b"MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_bytes(b"v"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"L"), HeaderName::ContentLength);
        assert_eq!(HeaderName::from_bytes(b"call-id"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"X-Custom"), HeaderName::Other);
    }

    #[test]
    fn every_known_name_round_trips() {
        for n in ALL {
            assert_eq!(HeaderName::from_bytes(n.as_str().as_bytes()), *n, "{n:?}");
            if let Some(c) = n.compact() {
                assert_eq!(HeaderName::from_bytes(c.to_string().as_bytes()), *n);
            }
        }
    }

    const ALL: &[HeaderName] = &[
        HeaderName::Accept,
        HeaderName::AcceptEncoding,
        HeaderName::AcceptLanguage,
        HeaderName::AlertInfo,
        HeaderName::Allow,
        HeaderName::AllowEvents,
        HeaderName::AuthenticationInfo,
        HeaderName::Authorization,
        HeaderName::CallId,
        HeaderName::CallInfo,
        HeaderName::Contact,
        HeaderName::ContentDisposition,
        HeaderName::ContentEncoding,
        HeaderName::ContentLanguage,
        HeaderName::ContentLength,
        HeaderName::ContentType,
        HeaderName::CSeq,
        HeaderName::Date,
        HeaderName::ErrorInfo,
        HeaderName::Event,
        HeaderName::Expires,
        HeaderName::From,
        HeaderName::InReplyTo,
        HeaderName::MaxForwards,
        HeaderName::MinExpires,
        HeaderName::MinSe,
        HeaderName::MimeVersion,
        HeaderName::Organization,
        HeaderName::PAssertedIdentity,
        HeaderName::PPreferredIdentity,
        HeaderName::Priority,
        HeaderName::Privacy,
        HeaderName::ProxyAuthenticate,
        HeaderName::ProxyAuthorization,
        HeaderName::ProxyRequire,
        HeaderName::RAck,
        HeaderName::Reason,
        HeaderName::RecordRoute,
        HeaderName::ReferTo,
        HeaderName::ReferredBy,
        HeaderName::Replaces,
        HeaderName::ReplyTo,
        HeaderName::Require,
        HeaderName::RetryAfter,
        HeaderName::Route,
        HeaderName::RSeq,
        HeaderName::Server,
        HeaderName::SessionExpires,
        HeaderName::Subject,
        HeaderName::SubscriptionState,
        HeaderName::Supported,
        HeaderName::Timestamp,
        HeaderName::To,
        HeaderName::Unsupported,
        HeaderName::UserAgent,
        HeaderName::Via,
        HeaderName::Warning,
        HeaderName::WwwAuthenticate,
        HeaderName::Path,
        HeaderName::ServiceRoute,
        HeaderName::SipETag,
        HeaderName::SipIfMatch,
        HeaderName::Identity,
        HeaderName::ReferSub,
        HeaderName::TargetDialog,
        HeaderName::RemotePartyId,
        HeaderName::Diversion,
        HeaderName::HistoryInfo,
    ];
}
