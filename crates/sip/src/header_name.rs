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
        // Dispatch on length and first letter, then compare: one or two candidates.
        let Some(first) = name.first().map(u8::to_ascii_lowercase) else {
            return HeaderName::Other;
        };
        let candidates: &[(HeaderName, &[u8])] = match (name.len(), first) {
            (2, b't') => &[(HeaderName::To, b"to")],
            (3, b'v') => &[(HeaderName::Via, b"via")],
            (4, b'c') => &[(HeaderName::CSeq, b"cseq")],
            (4, b'd') => &[(HeaderName::Date, b"date")],
            (4, b'f') => &[(HeaderName::From, b"from")],
            (4, b'p') => &[(HeaderName::Path, b"path")],
            (4, b'r') => &[(HeaderName::RAck, b"rack"), (HeaderName::RSeq, b"rseq")],
            (5, b'a') => &[(HeaderName::Allow, b"allow")],
            (5, b'e') => &[(HeaderName::Event, b"event")],
            (5, b'r') => &[(HeaderName::Route, b"route")],
            (6, b'a') => &[(HeaderName::Accept, b"accept")],
            (6, b'm') => &[(HeaderName::MinSe, b"min-se")],
            (6, b'r') => &[(HeaderName::Reason, b"reason")],
            (6, b's') => &[(HeaderName::Server, b"server")],
            (7, b'c') => &[
                (HeaderName::CallId, b"call-id"),
                (HeaderName::Contact, b"contact"),
            ],
            (7, b'e') => &[(HeaderName::Expires, b"expires")],
            (7, b'p') => &[(HeaderName::Privacy, b"privacy")],
            (7, b'r') => &[(HeaderName::Require, b"require")],
            (7, b's') => &[(HeaderName::Subject, b"subject")],
            (7, b'w') => &[(HeaderName::Warning, b"warning")],
            (8, b'i') => &[(HeaderName::Identity, b"identity")],
            (8, b'p') => &[(HeaderName::Priority, b"priority")],
            (8, b'r') => &[
                (HeaderName::ReferTo, b"refer-to"),
                (HeaderName::Replaces, b"replaces"),
                (HeaderName::ReplyTo, b"reply-to"),
            ],
            (8, b's') => &[(HeaderName::SipETag, b"sip-etag")],
            (9, b'c') => &[(HeaderName::CallInfo, b"call-info")],
            (9, b'd') => &[(HeaderName::Diversion, b"diversion")],
            (9, b'r') => &[(HeaderName::ReferSub, b"refer-sub")],
            (9, b's') => &[(HeaderName::Supported, b"supported")],
            (9, b't') => &[(HeaderName::Timestamp, b"timestamp")],
            (10, b'a') => &[(HeaderName::AlertInfo, b"alert-info")],
            (10, b'e') => &[(HeaderName::ErrorInfo, b"error-info")],
            (10, b'u') => &[(HeaderName::UserAgent, b"user-agent")],
            (11, b'i') => &[(HeaderName::InReplyTo, b"in-reply-to")],
            (11, b'm') => &[(HeaderName::MinExpires, b"min-expires")],
            (11, b'r') => &[
                (HeaderName::ReferredBy, b"referred-by"),
                (HeaderName::RetryAfter, b"retry-after"),
            ],
            (11, b'u') => &[(HeaderName::Unsupported, b"unsupported")],
            (12, b'a') => &[(HeaderName::AllowEvents, b"allow-events")],
            (12, b'c') => &[(HeaderName::ContentType, b"content-type")],
            (12, b'h') => &[(HeaderName::HistoryInfo, b"history-info")],
            (12, b'm') => &[
                (HeaderName::MaxForwards, b"max-forwards"),
                (HeaderName::MimeVersion, b"mime-version"),
            ],
            (12, b'o') => &[(HeaderName::Organization, b"organization")],
            (12, b'r') => &[(HeaderName::RecordRoute, b"record-route")],
            (12, b's') => &[(HeaderName::SipIfMatch, b"sip-if-match")],
            (13, b'a') => &[(HeaderName::Authorization, b"authorization")],
            (13, b'p') => &[(HeaderName::ProxyRequire, b"proxy-require")],
            (13, b's') => &[(HeaderName::ServiceRoute, b"service-route")],
            (13, b't') => &[(HeaderName::TargetDialog, b"target-dialog")],
            (14, b'c') => &[(HeaderName::ContentLength, b"content-length")],
            (15, b'a') => &[
                (HeaderName::AcceptEncoding, b"accept-encoding"),
                (HeaderName::AcceptLanguage, b"accept-language"),
            ],
            (15, b'r') => &[(HeaderName::RemotePartyId, b"remote-party-id")],
            (15, b's') => &[(HeaderName::SessionExpires, b"session-expires")],
            (16, b'c') => &[
                (HeaderName::ContentEncoding, b"content-encoding"),
                (HeaderName::ContentLanguage, b"content-language"),
            ],
            (16, b'w') => &[(HeaderName::WwwAuthenticate, b"www-authenticate")],
            (18, b'p') => &[(HeaderName::ProxyAuthenticate, b"proxy-authenticate")],
            (18, b's') => &[(HeaderName::SubscriptionState, b"subscription-state")],
            (19, b'a') => &[(HeaderName::AuthenticationInfo, b"authentication-info")],
            (19, b'c') => &[(HeaderName::ContentDisposition, b"content-disposition")],
            (19, b'p') => &[
                (HeaderName::PAssertedIdentity, b"p-asserted-identity"),
                (HeaderName::ProxyAuthorization, b"proxy-authorization"),
            ],
            (20, b'p') => &[(HeaderName::PPreferredIdentity, b"p-preferred-identity")],
            _ => return HeaderName::Other,
        };
        // Candidates are lower case letters and '-': OR-ing 0x20 folds the case of a letter
        // and leaves '-' alone (a CR would fold to '-' too, but names are tokens).
        for &(c, lower) in candidates {
            if name.iter().zip(lower).all(|(&a, &b)| a | 0x20 == b) {
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
        assert_eq!(HeaderName::from_bytes(b""), HeaderName::Other);
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
