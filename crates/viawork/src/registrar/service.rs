//! [`Registrar`]: REGISTER requests in, responses out, changes broadcast.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use serde::Serialize;
use sip::headers::{Contact, Expires, ToHeader};
use sip::{HeaderName, Message, ResponseBuilder, Uri};
use sip_stack::auth::{ChallengeKind, DigestServer, Ha1, NonceKey};
use tokio::sync::broadcast;

use super::bindings::{Binding, Bindings, Change, ContactReq, Register};
use crate::sip_service::new_tag;
use crate::store::Store;

/// A registered contact, for the APIs.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RegistrationView {
    /// The user (address of record).
    pub aor: String,
    /// The contact URI.
    pub contact: String,
    /// Seconds until it expires.
    pub expires_in: u32,
    /// Where it registered from (`transport:address`).
    pub source: String,
    /// Its User-Agent.
    pub user_agent: Option<String>,
}

/// The registrar. Cheap to clone.
#[derive(Clone)]
pub struct Registrar {
    table: Arc<Mutex<Bindings>>,
    digest: DigestServer,
    store: Arc<dyn Store>,
    changes: broadcast::Sender<Change>,
    server_name: Arc<str>,
    wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar").finish_non_exhaustive()
    }
}

/// The canonical `sip:user@host` (lower-case) of a SIP URI with a user part.
fn user_at_host(uri: Option<Uri<'_>>) -> Option<String> {
    match uri {
        Some(Uri::Sip(u)) if u.user.is_some() => {
            Some(format!("sip:{}@{}", u.user.unwrap_or_default(), u.host).to_lowercase())
        }
        _ => None,
    }
}

impl Registrar {
    /// Who a client's request is addressed to, in the order to look them up: its
    /// Request-URI as `sip:user@host` and, since clients often address users at the
    /// server's IP address rather than the domain, the same user in our domain. Empty when
    /// the Request-URI names no user.
    pub fn addressed(&self, req: &Message) -> Vec<String> {
        let Some(target) = user_at_host(req.request_uri().and_then(Result::ok)) else {
            return Vec::new();
        };
        let in_domain = target
            .split_once('@')
            .map(|(user, _)| format!("{user}@{}", self.domain()));
        std::iter::once(target).chain(in_domain).collect()
    }

    /// A registrar for users of `realm` (the SIP domain), with these limits. Starts its
    /// expiry task on the current runtime.
    pub fn start(
        store: Arc<dyn Store>,
        realm: &str,
        server_name: &str,
        config: &super::RegistrarConfig,
    ) -> Registrar {
        let r = Registrar {
            table: Arc::new(Mutex::new(Bindings::new(config.limits))),
            digest: DigestServer::new(realm, NonceKey::random())
                .with_algorithms(&config.algorithms),
            store,
            changes: broadcast::channel(1024).0,
            server_name: server_name.into(),
            wake: Arc::default(),
        };
        tokio::spawn(r.clone().expire_forever());
        r
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Bindings> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The SIP domain (the digest realm).
    pub fn domain(&self) -> &str {
        self.digest.realm()
    }

    /// Contacts coming and going.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// The live contacts of a user (SIP URI, lower-case), highest `q` first.
    pub fn contacts(&self, aor: &str) -> Vec<Binding> {
        self.table().contacts(aor, Instant::now())
    }

    /// Every registration.
    pub fn all(&self) -> Vec<RegistrationView> {
        let now = Instant::now();
        self.table()
            .all(now)
            .into_iter()
            .flat_map(|(aor, list)| {
                list.into_iter().map(move |b| RegistrationView {
                    aor: aor.clone(),
                    contact: b.uri.clone(),
                    expires_in: b.remaining(now),
                    source: super::device(&b.transport, b.source),
                    user_agent: b.user_agent.clone(),
                })
            })
            .collect()
    }

    async fn expire_forever(self) {
        loop {
            let next = self.table().next_expiry();
            match next {
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                        _ = self.wake.notified() => continue,
                    }
                }
                None => self.wake.notified().await,
            }
            let changes = self.table().expire(Instant::now());
            for c in changes {
                tracing::info!(change = ?c, "registration expired");
                let _ = self.changes.send(c);
            }
            if Arc::strong_count(&self.table) == 1 {
                // The server dropped the registrar.
                return;
            }
        }
    }

    fn reply(&self, req: &Message, code: u16) -> ResponseBuilder {
        ResponseBuilder::reply(req, code, Some(&new_tag())).header_ext("Server", &self.server_name)
    }

    /// Answers a REGISTER that passed the generic request checks.
    pub async fn handle(
        &self,
        req: &Message,
        peer: SocketAddr,
        transport: &str,
    ) -> Option<Message> {
        let now = SystemTime::now();
        let user = match self.authenticate(req, ChallengeKind::Www).await {
            Ok(u) => u,
            Err(resp) => return resp,
        };
        // The address of record: the To URI (§10.3 step 3); one may register only their
        // own (step 4).
        let aor =
            user_at_host(req.to_header().ok().map(|t: ToHeader<'_>| t.0.uri)).unwrap_or_default();
        if user.sip_uri.to_lowercase() != aor {
            tracing::info!(user = %user.sip_uri, %aor, "REGISTER for someone else refused");
            return self.reply(req, 403).build().ok();
        }
        let register = match parse(req, &aor, peer, transport) {
            Ok(r) => r,
            Err(what) => {
                return self
                    .reply(req, 400)
                    .header(HeaderName::Warning, format!("399 - \"{what}\""))
                    .build()
                    .ok()
            }
        };
        let result = if register.contacts.is_empty() && !register.star {
            // A query (§10.3 step 6 without contacts): the current bindings.
            Ok((self.contacts(&aor), Vec::new()))
        } else {
            self.table().apply(&register, Instant::now())
        };
        match result {
            Ok((bindings, changes)) => {
                self.wake.notify_one();
                for c in changes {
                    tracing::info!(change = ?c, "registration");
                    let _ = self.changes.send(c);
                }
                let at = Instant::now();
                let mut b = self.reply(req, 200);
                for binding in &bindings {
                    b = b.header(
                        HeaderName::Contact,
                        format!("<{}>;expires={}", binding.uri, binding.remaining(at)),
                    );
                }
                b.header(HeaderName::Date, httpdate(now)).build().ok()
            }
            Err(e) => {
                let mut b = self.reply(req, e.status());
                if let super::bindings::RegisterError::IntervalTooBrief { min } = e {
                    b = b.header(HeaderName::MinExpires, min.to_string());
                } else {
                    b = b.header(HeaderName::Warning, format!("399 - \"{e}\""));
                }
                b.build().ok()
            }
        }
    }

    /// The directory user whose digest credentials `req` carries, or the response to send
    /// instead: a challenge (`kind`: 401 for a registrar, 407 for requests ViaWork routes)
    /// when there are none or they do not verify, the same for unknown users and wrong
    /// passwords so nobody can probe for accounts; 500 when the store is down.
    pub async fn authenticate(
        &self,
        req: &Message,
        kind: ChallengeKind,
    ) -> Result<crate::store::UserRow, Option<Message>> {
        let now = SystemTime::now();
        let presented = match self.digest.inspect(req, kind, now) {
            Ok(p) => p,
            Err(failure) => return Err(self.challenge(req, &failure, kind, now)),
        };
        let user = self
            .store
            .get_user_by_sip_uri(
                &format!("sip:{}@{}", presented.username(), presented.realm()).to_lowercase(),
            )
            .await;
        let user = match user {
            Ok(u) => u.filter(|u| u.enabled && u.sip_realm.as_deref() == Some(presented.realm())),
            Err(e) => {
                tracing::warn!(error = %e, "registrar: store unavailable");
                return Err(self
                    .reply(req, 500)
                    .header(HeaderName::RetryAfter, "5")
                    .build()
                    .ok());
            }
        };
        let ha1 = user.as_ref().and_then(|u| {
            let hex = match presented.ha1_algorithm() {
                sip_stack::auth::Algorithm::Sha256 => u.ha1_sha256.as_deref(),
                _ => u.ha1_md5.as_deref(),
            }?;
            Ha1::from_hex(hex)
        });
        if let Err(failure) = self.digest.check(&presented, ha1.as_ref()) {
            tracing::info!(reason = ?failure, method = ?req.method(), "not authenticated");
            return Err(self.challenge(req, &failure, kind, now));
        }
        user.ok_or_else(|| self.reply(req, 403).build().ok())
    }

    fn challenge(
        &self,
        req: &Message,
        failure: &sip_stack::auth::AuthFailure,
        kind: ChallengeKind,
        now: SystemTime,
    ) -> Option<Message> {
        let resp = self
            .digest
            .failure_response(req, failure, kind, Some(&new_tag()), now)
            .ok()?;
        resp.edit()
            .append("Server", &self.server_name)
            .finish()
            .ok()
    }
}

/// Reads the parts of a REGISTER the table needs.
fn parse(req: &Message, aor: &str, peer: SocketAddr, transport: &str) -> Result<Register, String> {
    let call_id = req.call_id().map_err(|_| "missing Call-ID")?.to_owned();
    let cseq = req.cseq().map_err(|_| "bad CSeq")?.seq;
    let expires = req
        .typed::<Expires>()
        .map_err(|_| "bad Expires")?
        .map(|e| e.0);
    let mut star = false;
    let mut contacts = Vec::new();
    for c in req.typed_all::<Contact>() {
        match c.map_err(|_| "bad Contact")? {
            Contact::Star => star = true,
            Contact::Addr(a) => {
                let instance = a
                    .params
                    .get("+sip.instance")
                    .flatten()
                    .map(|s| s.trim_matches('"').to_owned());
                contacts.push(ContactReq {
                    uri: a.uri.to_string(),
                    expires: Contact::Addr(a).expires(),
                    q: Contact::Addr(a).q(),
                    instance,
                });
            }
        }
    }
    if contacts.len() > 32 {
        return Err("too many Contact values".into());
    }
    Ok(Register {
        aor: aor.to_owned(),
        call_id,
        cseq,
        star,
        expires,
        contacts,
        source: peer,
        transport: transport.to_owned(),
        user_agent: req
            .get(HeaderName::UserAgent)
            .map(|s| s.chars().take(200).collect()),
    })
}

/// An RFC 7231 IMF-fixdate for the Date header.
fn httpdate(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let rfc = crate::cli::rfc3339::format_ms(secs * 1000);
    // rfc: YYYY-MM-DDTHH:MM:SS.sssZ
    let (y, m, d) = (&rfc[0..4], &rfc[5..7], &rfc[8..10]);
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][m.parse::<usize>().unwrap_or(1).clamp(1, 12) - 1];
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    format!(
        "{weekday}, {d} {month} {y} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates_are_imf_fixdate() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(784_111_777);
        assert_eq!(super::httpdate(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
