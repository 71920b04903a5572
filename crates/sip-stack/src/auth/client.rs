//! The challenged side: ViaWork authenticating to a PBX trunk or an upstream proxy
//! (RFC 3261 §22.2, §22.3).
//!
//! Given a 401 or 407 and the request it answered, [`DigestClient`] picks the strongest
//! challenge it can answer (SHA-256 over MD5), computes the credentials with a random
//! cnonce and a nonce count kept per nonce, and either returns the header to add
//! ([`DigestClient::authorization`]) or writes the whole retried request
//! ([`DigestClient::retry`]: same Call-ID and From tag, CSeq + 1, a new Via branch).
//!
//! It refuses to loop: a challenge answering a request that already carried our
//! credentials for that realm means they were rejected, unless the challenge says
//! `stale=true` with a new nonce (RFC 3261 §22.2: do not retry with the same credentials).
//! When a response carries challenges for several realms (a forking proxy), only the
//! strongest one is answered.

use super::algorithm::Algorithm;
use super::challenge::DigestChallenge;
use super::compute::DigestInput;
use super::credentials::{DigestCredentials, QopAuth};
use super::ha1::{ha1, Ha1};
use super::kind::ChallengeKind;
use sip::headers::{Authorization, TypedHeader, Via, WwwAuthenticate};
use sip::text::{is_token, split_list};
use sip::{HeaderName, Message, ParseError};
use std::collections::VecDeque;
use std::fmt::{self, Write};

/// How many nonces the client remembers the count of.
const REMEMBERED_NONCES: usize = 16;

/// Why the client cannot answer a challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The response is not a 401 or 407.
    #[error("status {status:?} is not a challenge")]
    NotAChallenge {
        /// The response's status, `None` for a request.
        status: Option<u16>,
    },
    /// No challenge is one we can answer (another scheme, an algorithm or qop we do not
    /// implement, or a realm we have no HA1 for).
    #[error("no usable challenge; offered: {offered:?}")]
    NoUsableChallenge {
        /// What was offered, one entry per challenge header.
        offered: Vec<String>,
    },
    /// The server challenged credentials we already sent: wrong user name or password.
    #[error("credentials for realm {realm:?} were rejected")]
    CredentialsRejected {
        /// The realm.
        realm: String,
    },
    /// The request lacks what a retry needs.
    #[error("cannot retry the request: bad or missing {what}")]
    BadRequest {
        /// The missing or malformed part.
        what: &'static str,
    },
    /// The retried request did not parse back.
    #[error("retried request: {0}")]
    Build(#[from] ParseError),
}

#[derive(Clone)]
enum Secret {
    Password(String),
    Ha1 {
        realm: String,
        keys: Vec<(Algorithm, Ha1)>,
    },
}

/// A challenge we answered and the last nonce count used with its nonce.
#[derive(Debug, Clone)]
struct NonceUse {
    kind: ChallengeKind,
    challenge: DigestChallenge,
    nc: u32,
}

/// Digest credentials of one user and the nonces they have answered.
#[derive(Clone)]
pub struct DigestClient {
    username: String,
    secret: Secret,
    used: VecDeque<NonceUse>,
}

impl fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestClient")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .field("nonces", &self.used.len())
            .finish()
    }
}

impl DigestClient {
    /// A client that knows the password and so answers any realm and algorithm.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> DigestClient {
        DigestClient {
            username: username.into(),
            secret: Secret::Password(password.into()),
            used: VecDeque::new(),
        }
    }

    /// A client configured with HA1 values for one realm instead of a password; add them
    /// with [`DigestClient::with_ha1`].
    pub fn from_ha1(username: impl Into<String>, realm: impl Into<String>) -> DigestClient {
        DigestClient {
            username: username.into(),
            secret: Secret::Ha1 {
                realm: realm.into(),
                keys: Vec::new(),
            },
            used: VecDeque::new(),
        }
    }

    /// Adds the HA1 for `algorithm` (its `-sess` variant is then answered too). Ignored for
    /// a client built with a password.
    pub fn with_ha1(mut self, algorithm: Algorithm, value: Ha1) -> DigestClient {
        if let Secret::Ha1 { keys, .. } = &mut self.secret {
            keys.retain(|(a, _)| *a != algorithm.base());
            keys.push((algorithm.base(), value));
        }
        self
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The credentials header to add to `request` retried after the 401 or 407 `response`.
    pub fn authorization(
        &mut self,
        response: &Message,
        request: &Message,
    ) -> Result<(HeaderName, String), ClientError> {
        let (kind, creds) = self.answer(response, request)?;
        Ok((kind.credentials_header(), creds.to_string()))
    }

    /// The retried request: `request` with the credentials for `response`'s challenge
    /// (replacing earlier ones for the same realm, keeping those for other realms), CSeq
    /// incremented and the top Via's branch set to `branch`. Call-ID, From tag and every
    /// other header are kept.
    pub fn retry(
        &mut self,
        response: &Message,
        request: &Message,
        branch: &str,
    ) -> Result<Message, ClientError> {
        if !is_token(branch) {
            return Err(ClientError::BadRequest { what: "branch" });
        }
        let cseq = request
            .cseq()
            .map_err(|_| ClientError::BadRequest { what: "CSeq" })?;
        let seq = cseq
            .seq
            .checked_add(1)
            .filter(|s| *s < 1 << 31)
            .ok_or(ClientError::BadRequest { what: "CSeq" })?;
        let via = top_via_with_branch(request, branch)?;
        let (kind, creds) = self.answer(response, request)?;
        let name = kind.credentials_header();
        let others: Vec<&str> = request
            .get_all(name)
            .filter(|raw| credentials_realm(raw).as_deref() != Some(creds.realm.as_str()))
            .collect();
        let edit = request
            .edit()
            .replace(HeaderName::CSeq, format_args!("{seq} {}", cseq.method_name))
            .replace(HeaderName::Via, via)
            .remove(name);
        let edit = others
            .into_iter()
            .fold(edit, |e, raw| e.append(name.as_str(), raw))
            .append(name.as_str(), &creds);
        Ok(edit.finish()?)
    }

    /// Credentials for a new request from the most recently answered challenge, with the
    /// next nonce count (a REGISTER refresh that avoids a round of 401). `None` before any
    /// challenge was answered.
    pub fn authorize(&mut self, request: &Message) -> Option<(HeaderName, String)> {
        let method = request.method()?.as_str().to_owned();
        let uri = request.request_uri_str()?.to_owned();
        let mut last = self.used.pop_back()?;
        let creds = self.credentials(&last.challenge, last.nc + 1, &method, &uri);
        if creds.is_some() {
            last.nc += 1;
        }
        let kind = last.kind;
        self.used.push_back(last);
        creds.map(|c| (kind.credentials_header(), c.to_string()))
    }

    fn answer(
        &mut self,
        response: &Message,
        request: &Message,
    ) -> Result<(ChallengeKind, DigestCredentials), ClientError> {
        let kind = response
            .status()
            .and_then(ChallengeKind::from_status)
            .ok_or(ClientError::NotAChallenge {
                status: response.status(),
            })?;
        let method = request
            .method()
            .ok_or(ClientError::BadRequest { what: "method" })?
            .as_str();
        let uri = request.request_uri_str().ok_or(ClientError::BadRequest {
            what: "Request-URI",
        })?;
        let challenge = self.choose(response, kind)?;
        let previous = request
            .get_all(kind.credentials_header())
            .filter_map(|raw| Authorization::parse(raw).ok())
            .filter_map(|a| DigestCredentials::parse(&a).ok())
            .find(|c| c.realm == challenge.realm);
        if let Some(prev) = previous {
            if !challenge.stale || prev.nonce == challenge.nonce {
                return Err(ClientError::CredentialsRejected {
                    realm: challenge.realm,
                });
            }
        }
        let nc = self.next_nc(kind, &challenge);
        let creds = self
            .credentials(&challenge, nc, method, uri)
            .ok_or_else(|| ClientError::NoUsableChallenge {
                offered: vec![describe(&challenge)],
            })?;
        Ok((kind, creds))
    }

    /// The strongest challenge we can answer, the first of equals.
    fn choose(
        &self,
        response: &Message,
        kind: ChallengeKind,
    ) -> Result<DigestChallenge, ClientError> {
        let mut best: Option<DigestChallenge> = None;
        let mut offered = Vec::new();
        for raw in response.get_all(kind.challenge_header()) {
            // `WWW-Authenticate` and `Proxy-Authenticate` share one grammar.
            let parsed = WwwAuthenticate::parse(raw).map_err(|e| e.to_string());
            let challenge =
                parsed.and_then(|c| DigestChallenge::parse(&c).map_err(|e| e.to_string()));
            match challenge {
                Ok(c) if self.key_for(&c).is_some() && (c.qop_auth || !c.algorithm.is_sess()) => {
                    if best
                        .as_ref()
                        .is_none_or(|b| c.algorithm.strength() > b.algorithm.strength())
                    {
                        best = Some(c);
                    }
                }
                Ok(c) => offered.push(describe(&c)),
                Err(e) => offered.push(e),
            }
        }
        best.ok_or(ClientError::NoUsableChallenge { offered })
    }

    /// The HA1 answering `challenge`, when we have one.
    fn key_for(&self, challenge: &DigestChallenge) -> Option<Ha1> {
        match &self.secret {
            Secret::Password(p) => Some(ha1(
                challenge.algorithm,
                &self.username,
                &challenge.realm,
                p,
            )),
            Secret::Ha1 { realm, keys } => keys
                .iter()
                .find(|(a, h)| {
                    *realm == challenge.realm && *a == challenge.algorithm.base() && h.fits(*a)
                })
                .map(|(_, h)| h.clone()),
        }
    }

    /// Records one more use of the challenge's nonce and returns its count.
    fn next_nc(&mut self, kind: ChallengeKind, challenge: &DigestChallenge) -> u32 {
        let pos = self.used.iter().position(|u| {
            u.kind == kind
                && u.challenge.realm == challenge.realm
                && u.challenge.nonce == challenge.nonce
        });
        let mut entry = match pos.and_then(|i| self.used.remove(i)) {
            Some(u) => u,
            None => NonceUse {
                kind,
                challenge: challenge.clone(),
                nc: 0,
            },
        };
        entry.nc = entry.nc.wrapping_add(1).max(1);
        entry.challenge = challenge.clone();
        let nc = entry.nc;
        self.used.push_back(entry);
        while self.used.len() > REMEMBERED_NONCES {
            self.used.pop_front();
        }
        nc
    }

    fn credentials(
        &self,
        challenge: &DigestChallenge,
        nc: u32,
        method: &str,
        uri: &str,
    ) -> Option<DigestCredentials> {
        let key = self.key_for(challenge)?;
        let qop = challenge.qop_auth.then(|| QopAuth {
            nc: format!("{nc:08x}"),
            cnonce: format!("{:032x}", rand::random::<u128>()),
        });
        let mut creds = DigestCredentials {
            username: self.username.clone(),
            realm: challenge.realm.clone(),
            nonce: challenge.nonce.clone(),
            uri: uri.to_owned(),
            response: String::new(),
            algorithm: challenge.algorithm,
            qop,
            opaque: challenge.opaque.clone(),
        };
        creds.response = DigestInput {
            algorithm: creds.algorithm,
            ha1: &key,
            nonce: &creds.nonce,
            method,
            uri,
            qop: creds.qop(),
        }
        .response()?;
        Some(creds)
    }
}

/// A short description of a challenge for error messages.
fn describe(c: &DigestChallenge) -> String {
    format!("Digest realm={:?} algorithm={}", c.realm, c.algorithm)
}

/// The realm of a credentials header line, if it has one.
fn credentials_realm(raw: &str) -> Option<String> {
    Authorization::parse(raw)
        .ok()
        .and_then(|a| a.params.get("realm").map(|r| r.into_owned()))
}

/// The first Via line of `request` with the top element's branch replaced.
fn top_via_with_branch(request: &Message, branch: &str) -> Result<String, ClientError> {
    let bad = ClientError::BadRequest { what: "Via" };
    let line = request.get(HeaderName::Via).ok_or(bad.clone())?;
    let mut elements = split_list(line);
    let via = Via::parse(elements.next().unwrap_or("")).map_err(|_| bad)?;
    let mut out = format!(
        "{}/{}/{} {}",
        via.protocol, via.version, via.transport, via.host
    );
    if let Some(p) = via.port {
        let _ = write!(out, ":{p}");
    }
    let mut replaced = false;
    for (name, value) in via.params.iter() {
        if name.eq_ignore_ascii_case("branch") {
            let _ = write!(out, ";branch={branch}");
            replaced = true;
        } else {
            let _ = match value {
                Some(v) => write!(out, ";{name}={v}"),
                None => write!(out, ";{name}"),
            };
        }
    }
    if !replaced {
        let _ = write!(out, ";branch={branch}");
    }
    for e in elements {
        out.push_str(", ");
        out.push_str(e);
    }
    Ok(out)
}
