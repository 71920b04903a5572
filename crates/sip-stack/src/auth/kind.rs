//! Who challenges: the user agent server or registrar answering 401 with `WWW-Authenticate`
//! (credentials come back in `Authorization`), or a proxy answering 407 with
//! `Proxy-Authenticate` (credentials in `Proxy-Authorization`), RFC 3261 §22.2 and §22.3.

use sip::HeaderName;

/// The kind of challenge, which fixes the status code and the header names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeKind {
    /// 401 Unauthorized, `WWW-Authenticate` / `Authorization`.
    Www,
    /// 407 Proxy Authentication Required, `Proxy-Authenticate` / `Proxy-Authorization`.
    Proxy,
}

impl ChallengeKind {
    /// The kind a challenge response's status code means; `None` unless 401 or 407.
    pub fn from_status(code: u16) -> Option<ChallengeKind> {
        match code {
            401 => Some(ChallengeKind::Www),
            407 => Some(ChallengeKind::Proxy),
            _ => None,
        }
    }

    /// 401 or 407.
    pub fn status(self) -> u16 {
        match self {
            ChallengeKind::Www => 401,
            ChallengeKind::Proxy => 407,
        }
    }

    /// The header carrying challenges.
    pub fn challenge_header(self) -> HeaderName {
        match self {
            ChallengeKind::Www => HeaderName::WwwAuthenticate,
            ChallengeKind::Proxy => HeaderName::ProxyAuthenticate,
        }
    }

    /// The header carrying credentials.
    pub fn credentials_header(self) -> HeaderName {
        match self {
            ChallengeKind::Www => HeaderName::Authorization,
            ChallengeKind::Proxy => HeaderName::ProxyAuthorization,
        }
    }
}
