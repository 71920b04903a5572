//! The checks a UAS makes before acting on a request (RFC 3261 §8.2.1–8.2.3, §16.3 for
//! Max-Forwards, RFC 4475 §3.3): which status answers a request it cannot serve. Pure
//! functions over a [`Capabilities`] description, so a server and its tests share them.

use sip::headers::{Accept, ContentType, MaxForwards, ProxyRequire, Require};
use sip::{Message, Method, Uri};

/// What this UAS supports.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// Methods it implements (Allow).
    pub allow: Vec<Method>,
    /// Option tags it supports (Supported).
    pub supported: Vec<&'static str>,
    /// Body types it accepts (Accept), as `type/subtype`.
    pub accept: Vec<&'static str>,
}

impl Capabilities {
    /// The Allow header value.
    pub fn allow_header(&self) -> String {
        self.allow
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
    /// The Supported header value.
    pub fn supported_header(&self) -> String {
        self.supported.join(", ")
    }
    /// The Accept header value.
    pub fn accept_header(&self) -> String {
        self.accept.join(", ")
    }
}

/// Why a request is refused before it reaches the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400 with a Warning text.
    BadRequest(String),
    /// 405 with Allow.
    MethodNotAllowed,
    /// 501 for a method this UAS does not recognise.
    NotImplemented,
    /// 416 for a Request-URI scheme it does not serve.
    UnsupportedUriScheme,
    /// 420 with Unsupported listing these option tags.
    BadExtension(Vec<String>),
    /// 415 with Accept.
    UnsupportedMediaType,
    /// 406: the request's Accept excludes every type the response would carry.
    NotAcceptable,
    /// 483: Max-Forwards is zero on a request that would be forwarded.
    TooManyHops,
}

impl Refusal {
    /// The status code.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::MethodNotAllowed => 405,
            Refusal::NotImplemented => 501,
            Refusal::UnsupportedUriScheme => 416,
            Refusal::BadExtension(_) => 420,
            Refusal::UnsupportedMediaType => 415,
            Refusal::NotAcceptable => 406,
            Refusal::TooManyHops => 483,
        }
    }
}

fn is_known_method(m: &Method) -> bool {
    !matches!(m, Method::Other(_))
}

/// Checks a request in the order of RFC 3261 §8.2. `would_forward` says whether the
/// request is for someone else (so Max-Forwards 0 is a 483); OPTIONS to the server
/// itself is answered whatever its Max-Forwards.
pub fn check_request(
    msg: &Message,
    caps: &Capabilities,
    would_forward: bool,
) -> Result<(), Refusal> {
    if let Err(e) = msg.validate() {
        return Err(Refusal::BadRequest(e.to_string()));
    }
    let Some(method) = msg.method() else {
        return Ok(());
    };
    if !caps.allow.contains(method) {
        return Err(if is_known_method(method) {
            Refusal::MethodNotAllowed
        } else {
            Refusal::NotImplemented
        });
    }
    match msg.request_uri() {
        Some(Ok(Uri::Sip(_))) | Some(Ok(Uri::Tel(_))) => {}
        _ => return Err(Refusal::UnsupportedUriScheme),
    }
    if *method == Method::Ack || *method == Method::Cancel {
        return Ok(()); // §8.2.2.3: Require is not checked on ACK and CANCEL
    }
    let mut unsupported: Vec<String> = Vec::new();
    for tag in msg
        .typed_all::<Require>()
        .filter_map(Result::ok)
        .map(|r| r.0)
        .chain(
            // Proxy-Require binds proxies (RFC 3261 §20.29): it counts when ViaWork routes
            // the request onwards, not when it answers it itself (RFC 4475 §3.3.5).
            msg.typed_all::<ProxyRequire>()
                .filter_map(Result::ok)
                .map(|r| r.0)
                .filter(|_| would_forward),
        )
    {
        if !caps.supported.iter().any(|s| s.eq_ignore_ascii_case(tag))
            && !unsupported.iter().any(|u| u == tag)
        {
            unsupported.push(tag.to_owned());
        }
    }
    if !unsupported.is_empty() {
        return Err(Refusal::BadExtension(unsupported));
    }
    if !msg.body().is_empty() {
        if let Ok(Some(ct)) = msg.typed::<ContentType>() {
            let ok = caps
                .accept
                .iter()
                .any(|a| a.split_once('/').is_some_and(|(t, s)| ct.0.is(t, s)));
            if !ok {
                return Err(Refusal::UnsupportedMediaType);
            }
        }
    }
    if *method == Method::Invite && msg.has(sip::HeaderName::Accept) {
        let accepts_sdp = msg
            .typed_all::<Accept>()
            .filter_map(Result::ok)
            .any(|a| a.0.matches("application", "sdp"));
        if !accepts_sdp {
            return Err(Refusal::NotAcceptable);
        }
    }
    if would_forward && *method != Method::Options {
        if let Ok(Some(MaxForwards(0))) = msg.typed::<MaxForwards>() {
            return Err(Refusal::TooManyHops);
        }
    }
    Ok(())
}
