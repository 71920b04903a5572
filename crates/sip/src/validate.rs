//! Full validation of a parsed message, the checks a server makes before acting on it
//! (RFC 3261 §8.2, RFC 4475). Framing already checked the start line and header lines;
//! this parses every known header with its type and checks the rules between headers.

use crate::error::{HeaderError, ParseError};
use crate::header_name::HeaderName as H;
use crate::headers::*;
use crate::message::Message;
use crate::text::split_list;
use crate::uri::Uri;

fn check<'a, T: TypedHeader<'a>>(value: &'a str) -> Result<(), HeaderError> {
    if T::LIST {
        if value.is_empty() {
            return if matches!(T::NAME, H::Via | H::Contact | H::Route | H::RecordRoute) {
                Err(HeaderError::new(T::NAME, "empty"))
            } else {
                Ok(())
            };
        }
        for elem in split_list(value) {
            T::parse(elem)?;
        }
        Ok(())
    } else {
        T::parse(value).map(|_| ())
    }
}

fn check_field(id: H, v: &str) -> Result<(), HeaderError> {
    match id {
        H::Via => check::<Via>(v),
        H::From => check::<FromHeader>(v),
        H::To => check::<ToHeader>(v),
        H::CallId => check::<CallId>(v),
        H::CSeq => check::<CSeq>(v),
        H::MaxForwards => check::<MaxForwards>(v),
        H::ContentLength => check::<ContentLength>(v),
        H::ContentType => check::<ContentType>(v),
        H::Accept => check::<Accept>(v),
        H::Expires => check::<Expires>(v),
        H::MinExpires => check::<MinExpires>(v),
        H::Contact => check::<Contact>(v),
        H::Route => check::<Route>(v),
        H::RecordRoute => check::<RecordRoute>(v),
        H::Allow => check::<Allow>(v),
        H::Supported => check::<Supported>(v),
        H::Require => check::<Require>(v),
        H::ProxyRequire => check::<ProxyRequire>(v),
        H::Unsupported => check::<Unsupported>(v),
        H::WwwAuthenticate => check::<WwwAuthenticate>(v),
        H::ProxyAuthenticate => check::<ProxyAuthenticate>(v),
        H::Authorization => check::<Authorization>(v),
        H::ProxyAuthorization => check::<ProxyAuthorization>(v),
        H::PAssertedIdentity => check::<PAssertedIdentity>(v),
        H::PPreferredIdentity => check::<PPreferredIdentity>(v),
        H::Privacy => check::<Privacy>(v),
        H::Reason => check::<Reason>(v),
        H::ReferTo => check::<ReferTo>(v),
        H::ReferredBy => check::<ReferredBy>(v),
        H::Replaces => check::<Replaces>(v),
        H::Event => check::<Event>(v),
        H::AllowEvents => check::<AllowEvents>(v),
        H::SubscriptionState => check::<SubscriptionState>(v),
        H::SessionExpires => check::<SessionExpires>(v),
        H::MinSe => check::<MinSe>(v),
        H::RSeq => check::<RSeq>(v),
        H::RAck => check::<RAck>(v),
        H::Warning => check::<Warning>(v),
        H::RetryAfter => check::<RetryAfter>(v),
        H::Date => check::<Date>(v),
        _ => Ok(()),
    }
}

/// Headers that may appear once only.
const SINGLE: &[H] = &[
    H::From,
    H::To,
    H::CallId,
    H::CSeq,
    H::MaxForwards,
    H::ContentLength,
    H::ContentType,
    H::Expires,
    H::MinExpires,
    H::RSeq,
    H::RAck,
    H::SessionExpires,
    H::MinSe,
    H::Replaces,
    H::ReferTo,
    H::Event,
    H::SubscriptionState,
    H::Date,
];

pub(crate) fn validate(m: &Message) -> Result<(), ParseError> {
    let buf = m.buffer();
    for f in m.fields() {
        let v = std::str::from_utf8(&buf[f.value.range()]).map_err(|_| {
            ParseError::Semantic(format!(
                "{} header value is not UTF-8",
                String::from_utf8_lossy(&buf[f.name.range()])
            ))
        })?;
        check_field(f.id, v)?;
    }
    for &h in SINGLE {
        if m.fields().iter().filter(|f| f.id == h).count() > 1 {
            return Err(ParseError::Semantic(format!("more than one {h} header")));
        }
    }
    for h in [H::To, H::From, H::CSeq, H::CallId, H::Via] {
        if !m.has(h) {
            return Err(ParseError::Semantic(format!("missing {h} header")));
        }
    }
    if let Some(method) = m.method() {
        let cseq = m.cseq()?;
        if cseq.method_name != method.as_str() {
            return Err(ParseError::Semantic(format!(
                "CSeq method {} does not match the request method {}",
                cseq.method_name, method
            )));
        }
        let uri = m
            .request_uri()
            .unwrap_or(Err(crate::error::UriError("missing")));
        match uri {
            Ok(Uri::Sip(u)) if u.headers.is_some() => {
                return Err(ParseError::Semantic(
                    "Request-URI must not contain escaped headers".into(),
                ))
            }
            Ok(_) => {}
            Err(e) => return Err(ParseError::Semantic(format!("Request-URI: {e}"))),
        }
    }
    Ok(())
}
