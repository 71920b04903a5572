//! The challenging side: a registrar or user agent server answering 401, or a proxy
//! answering 407 (RFC 3261 §22.2, §22.3).
//!
//! [`DigestServer`] issues stateless nonces (see [`super::nonce`]), so any node configured
//! with the same realm and secret verifies what another issued. It challenges with one
//! header per allowed algorithm, SHA-256 first (RFC 8760 §2.4), and verifies credentials
//! against the HA1 the directory stores per user, realm and algorithm; it never sees a
//! password.
//!
//! Verification is in two steps so that a directory lookup may be asynchronous:
//! [`DigestServer::inspect`] reads the credentials and checks everything that needs no
//! secret (realm, nonce signature, URI); [`DigestServer::check`] takes the HA1 and checks
//! the response. [`DigestServer::verify`] does both with a synchronous lookup.
//!
//! The `uri` parameter is compared to the Request-URI as strings after trimming, not with
//! the RFC 3261 §19.1.4 URI equality rules. The nonce count is not checked for
//! monotonicity (that would need per-nonce state), so a response can be replayed within
//! the nonce lifetime.

use super::algorithm::Algorithm;
use super::challenge::DigestChallenge;
use super::compute::{constant_time_eq, DigestInput};
use super::credentials::DigestCredentials;
use super::failure::{Answer, AuthFailure};
use super::ha1::Ha1;
use super::kind::ChallengeKind;
use super::nonce::{NonceKey, NonceStatus};
use sip::headers::{Authorization, TypedHeader};
use sip::{HeaderName, Message, ParseError, ResponseBuilder};
use std::time::{Duration, SystemTime};

/// The default nonce lifetime.
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// A successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthOk {
    /// The authenticated user name.
    pub username: String,
    /// The realm.
    pub realm: String,
    /// The algorithm the client used.
    pub algorithm: Algorithm,
}

/// Credentials that passed every check needing no secret, waiting for their HA1.
#[derive(Debug, Clone)]
pub struct Presented {
    credentials: DigestCredentials,
    method: String,
    stale: bool,
}

impl Presented {
    /// The user name to look up.
    pub fn username(&self) -> &str {
        &self.credentials.username
    }

    /// The realm to look up (ours).
    pub fn realm(&self) -> &str {
        &self.credentials.realm
    }

    /// The algorithm whose HA1 to look up: `MD5` or `SHA-256` (a `-sess` variant uses the
    /// HA1 of its base algorithm).
    pub fn ha1_algorithm(&self) -> Algorithm {
        self.credentials.algorithm.base()
    }

    /// The parsed credentials.
    pub fn credentials(&self) -> &DigestCredentials {
        &self.credentials
    }
}

/// Challenges requests and verifies their credentials for one realm.
#[derive(Debug, Clone)]
pub struct DigestServer {
    realm: String,
    key: NonceKey,
    algorithms: Vec<Algorithm>,
    nonce_lifetime: Duration,
}

impl DigestServer {
    /// A server for `realm` signing nonces with `key`, offering SHA-256 and MD5, with
    /// nonces valid for [`DEFAULT_NONCE_LIFETIME`].
    pub fn new(realm: impl Into<String>, key: NonceKey) -> DigestServer {
        DigestServer {
            realm: realm.into(),
            key,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
        }
    }

    /// Sets the algorithms offered and accepted. They are challenged strongest first
    /// (SHA-256 before MD5) whatever the order given; an empty list keeps the current one.
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> DigestServer {
        if !algorithms.is_empty() {
            let mut a = algorithms.to_vec();
            a.sort_by_key(|a| std::cmp::Reverse(a.strength()));
            a.dedup();
            self.algorithms = a;
        }
        self
    }

    /// Sets how long a nonce stays fresh.
    pub fn with_nonce_lifetime(mut self, lifetime: Duration) -> DigestServer {
        self.nonce_lifetime = lifetime;
        self
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The algorithms offered, strongest first.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The challenge header name and one value per algorithm, strongest first, all with
    /// the same fresh nonce and `qop="auth"`.
    pub fn challenge(
        &self,
        kind: ChallengeKind,
        stale: bool,
        now: SystemTime,
    ) -> (HeaderName, Vec<String>) {
        let nonce = self.key.issue(&self.realm, now);
        let values = self
            .algorithms
            .iter()
            .map(|&algorithm| {
                DigestChallenge {
                    realm: self.realm.clone(),
                    nonce: nonce.clone(),
                    algorithm,
                    qop_auth: true,
                    opaque: None,
                    stale,
                }
                .to_string()
            })
            .collect();
        (kind.challenge_header(), values)
    }

    /// A complete 401 or 407 answering `request`, with `to_tag` added to the To header
    /// (RFC 3261 §8.2.6.2).
    pub fn challenge_response(
        &self,
        request: &Message,
        kind: ChallengeKind,
        stale: bool,
        to_tag: Option<&str>,
        now: SystemTime,
    ) -> Result<Message, ParseError> {
        let (name, values) = self.challenge(kind, stale, now);
        values
            .into_iter()
            .fold(
                ResponseBuilder::reply(request, kind.status(), to_tag),
                |b, v| b.header(name, v),
            )
            .build()
    }

    /// The response to `request` for `failure`: a challenge, or a 400 whose reason phrase
    /// names the malformed field.
    pub fn failure_response(
        &self,
        request: &Message,
        failure: &AuthFailure,
        kind: ChallengeKind,
        to_tag: Option<&str>,
        now: SystemTime,
    ) -> Result<Message, ParseError> {
        match failure.answer() {
            Answer::Challenge { stale } => {
                self.challenge_response(request, kind, stale, to_tag, now)
            }
            Answer::BadRequest => {
                let what = match failure {
                    AuthFailure::Malformed { what } => *what,
                    _ => "credentials",
                };
                ResponseBuilder::reply(request, 400, to_tag)
                    .build()?
                    .edit()
                    .set_start_line(format!("SIP/2.0 400 Malformed Authorization ({what})"))
                    .finish()
            }
        }
    }

    /// Step one: finds our Digest credentials in `request` and checks the realm, the
    /// nonce's signature and the `uri`. A stale nonce is not yet an error: whether to say
    /// `stale=true` depends on the response being right, which [`DigestServer::check`]
    /// decides.
    pub fn inspect(
        &self,
        request: &Message,
        kind: ChallengeKind,
        now: SystemTime,
    ) -> Result<Presented, AuthFailure> {
        let method = request
            .method()
            .ok_or(AuthFailure::Malformed {
                what: "not a request",
            })?
            .as_str()
            .to_owned();
        let request_uri = request.request_uri_str().ok_or(AuthFailure::Malformed {
            what: "not a request",
        })?;
        let credentials = self.find_ours(request, kind)?;
        if !self.algorithms.contains(&credentials.algorithm) {
            return Err(AuthFailure::Unsupported {
                what: "algorithm",
                value: credentials.algorithm.as_str().to_owned(),
            });
        }
        let stale = match self
            .key
            .check(&self.realm, &credentials.nonce, self.nonce_lifetime, now)
        {
            NonceStatus::Fresh => false,
            NonceStatus::Stale => true,
            NonceStatus::Invalid => return Err(AuthFailure::BadNonce),
        };
        if credentials.uri.trim() != request_uri.trim() {
            return Err(AuthFailure::Malformed {
                what: "uri does not match the Request-URI",
            });
        }
        Ok(Presented {
            credentials,
            method,
            stale,
        })
    }

    /// Step two: checks the response against the HA1 the directory returned (`None` for an
    /// unknown user).
    pub fn check(&self, presented: &Presented, ha1: Option<&Ha1>) -> Result<AuthOk, AuthFailure> {
        let c = &presented.credentials;
        let ha1 = ha1.ok_or_else(|| AuthFailure::UnknownUser {
            username: c.username.clone(),
        })?;
        let wrong = || AuthFailure::WrongResponse {
            username: c.username.clone(),
        };
        let expected = DigestInput {
            algorithm: c.algorithm,
            ha1,
            nonce: &c.nonce,
            method: &presented.method,
            uri: &c.uri,
            qop: c.qop(),
        }
        .response()
        .ok_or(AuthFailure::Malformed { what: "cnonce" })?;
        let given = c.response.to_ascii_lowercase();
        if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return Err(wrong());
        }
        if presented.stale {
            return Err(AuthFailure::StaleNonce);
        }
        Ok(AuthOk {
            username: c.username.clone(),
            realm: c.realm.clone(),
            algorithm: c.algorithm,
        })
    }

    /// Verifies `request`'s credentials of `kind`. `lookup(username, realm, algorithm)`
    /// returns the stored HA1 for `MD5` or `SHA-256`, or `None` for an unknown user; it is
    /// called only for credentials carrying a nonce we issued.
    pub fn verify(
        &self,
        request: &Message,
        kind: ChallengeKind,
        lookup: impl FnOnce(&str, &str, Algorithm) -> Option<Ha1>,
        now: SystemTime,
    ) -> Result<AuthOk, AuthFailure> {
        let presented = self.inspect(request, kind, now)?;
        let ha1 = lookup(
            presented.username(),
            presented.realm(),
            presented.ha1_algorithm(),
        );
        self.check(&presented, ha1.as_ref())
    }

    /// Picks the Digest credentials for our realm among every credentials header line.
    /// Without them, reports the first problem seen: a syntax error, an unknown scheme,
    /// another realm, or nothing at all.
    fn find_ours(
        &self,
        request: &Message,
        kind: ChallengeKind,
    ) -> Result<DigestCredentials, AuthFailure> {
        let mut first_failure: Option<AuthFailure> = None;
        for raw in request.get_all(kind.credentials_header()) {
            // `Authorization` and `Proxy-Authorization` share one grammar.
            let Ok(Authorization(parsed)) = Authorization::parse(raw) else {
                first_failure.get_or_insert(AuthFailure::Malformed {
                    what: "header syntax",
                });
                continue;
            };
            let ours = parsed.scheme.eq_ignore_ascii_case("Digest")
                && parsed
                    .params
                    .get("realm")
                    .is_some_and(|r| r == self.realm.as_str());
            match DigestCredentials::parse(&parsed) {
                Ok(c) if c.realm == self.realm => return Ok(c),
                Err(e) if ours => return Err(e),
                Ok(c) => {
                    first_failure.get_or_insert(AuthFailure::WrongRealm { realm: c.realm });
                }
                Err(e) => {
                    first_failure.get_or_insert(e);
                }
            }
        }
        Err(first_failure.unwrap_or(AuthFailure::Missing))
    }
}
