//! SIP clients publishing their own presence (RFC 3903 PUBLISH, `Event: presence`, PIDF
//! bodies): ViaWork is the event state compositor. Each publication is an endpoint of its
//! user for the presence core, which aggregates it with the user's other endpoints and
//! chosen availability (`core.rs`: plain `open` changes nothing, so a phone starting up
//! never overrides Do Not Disturb; `closed`, busy, away, on-the-phone are that device's
//! state), and the change reaches API watchers (`presence.updated`) and SIP watchers
//! (NOTIFY) like any other.
//!
//! [`Publications`] is the table without IO: entity tags, expiry, limits, RFC 3903 §6's
//! rules for initial, refresh, modify and remove, and one publication per device (a new
//! initial PUBLISH from a device replaces its old one rather than leaving a stale state
//! beside it). [`SipPublish`] is the driver: it
//! authenticates the PUBLISH like a MESSAGE or SUBSCRIBE (407 with the registrar's
//! digest), accepts it only for the user's own address (403), only for the presence
//! package (489) and PIDF bodies (415), answers with `SIP-ETag` and the granted `Expires`,
//! and removes publications that expire. Publications live in memory: after a restart a
//! client's next refresh gets 412 and it publishes afresh (§6 step 3).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sip::headers::Expires;
use sip::{HeaderName, Message, Method, ResponseBuilder};
use sip_stack::auth::ChallengeKind;
use sip_stack::endpoint::EndpointHandle;
use sip_stack::transaction::{Peer, TransactionKey};
use tokio::sync::Notify;

use super::core::EndpointId;
use super::model::EndpointActivity;
use super::PresenceService;
use crate::domain::UserUri;
use crate::registrar::Registrar;
use crate::sip_service::new_tag;

/// The expiry rules and the bound on publications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Shortest publication accepted (shorter is 423 with Min-Expires).
    pub min_expires: u32,
    /// Longest granted.
    pub max_expires: u32,
    /// Granted when the client asks none (RFC 3903 §12: an hour for presence).
    pub default_expires: u32,
    /// Publications one user may hold at once (one per device is the norm).
    pub max_per_user: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_per_user: 16,
        }
    }
}

/// One PUBLISH, as the table needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRequest {
    /// The authenticated publisher (its own address).
    pub user: UserUri,
    /// The device it came from (`transport:address`, see [`crate::registrar::device`]).
    pub device: String,
    /// `SIP-If-Match`: the publication it refreshes, modifies or removes.
    pub if_match: Option<String>,
    /// `Expires`, when given.
    pub expires: Option<u32>,
    /// What its body says; None for a request without a body (a refresh or removal).
    pub state: Option<Option<EndpointActivity>>,
}

/// A live publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// Stable across refreshes (its first entity tag): the presence endpoint's id.
    pub id: String,
    /// Whose.
    pub user: UserUri,
    /// The device it last came from.
    pub device: String,
    /// What it says.
    pub activity: Option<EndpointActivity>,
    /// Its current entity tag.
    pub etag: String,
    expires_at: Instant,
}

impl Publication {
    /// The presence core's endpoint id for it.
    pub fn endpoint(&self) -> EndpointId {
        endpoint_id(&self.id)
    }
}

fn endpoint_id(id: &str) -> EndpointId {
    EndpointId(format!("sip-publication {id}"))
}

/// What a PUBLISH did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Made, refreshed or modified: 200 with its entity tag and the seconds granted.
    Stored {
        /// The publication now.
        publication: Publication,
        /// Seconds granted.
        expires: u32,
    },
    /// Removed (`Expires: 0` with its tag): 200.
    Removed(Publication),
    /// `Expires: 0` without a tag: nothing to keep, 200.
    Nothing,
}

/// Why a PUBLISH is refused (RFC 3903 §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// `SIP-If-Match` names no publication of this user (412).
    #[error("no publication has this entity tag")]
    UnknownTag,
    /// Expiry below the minimum (423 with Min-Expires).
    #[error("the expiry is below {min} s")]
    IntervalTooBrief {
        /// The minimum.
        min: u32,
    },
    /// An initial publication without a body (400).
    #[error("an initial PUBLISH needs a PIDF body")]
    NoBody,
    /// The user holds the most publications allowed (403).
    #[error("at most {max} publications per user")]
    TooMany {
        /// The limit.
        max: usize,
    },
}

impl PublishError {
    /// The SIP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            PublishError::UnknownTag => 412,
            PublishError::IntervalTooBrief { .. } => 423,
            PublishError::NoBody => 400,
            PublishError::TooMany { .. } => 403,
        }
    }
}

/// Every live publication, by id and by current entity tag.
#[derive(Debug, Default)]
pub struct Publications {
    limits: Limits,
    by_id: HashMap<String, Publication>,
    /// Current entity tag → id.
    tags: HashMap<String, String>,
    /// (user, device) → id: one publication per device.
    by_device: HashMap<(UserUri, String), String>,
    per_user: HashMap<UserUri, usize>,
}

impl Publications {
    /// An empty table.
    pub fn new(limits: Limits) -> Publications {
        Publications {
            limits,
            ..Publications::default()
        }
    }

    /// Applies a PUBLISH at `now`; `fresh_tag` becomes the new entity tag if one is issued
    /// (every successful refresh or modification gets a new one, §6 step 8).
    pub fn apply(
        &mut self,
        req: PublishRequest,
        now: Instant,
        fresh_tag: String,
    ) -> Result<Outcome, PublishError> {
        let asked = req.expires.unwrap_or(self.limits.default_expires);
        if asked != 0 && asked < self.limits.min_expires {
            return Err(PublishError::IntervalTooBrief {
                min: self.limits.min_expires,
            });
        }
        let granted = asked.min(self.limits.max_expires);
        let expires_at = now + Duration::from_secs(u64::from(granted));
        let Some(tag) = req.if_match else {
            if granted == 0 {
                return Ok(Outcome::Nothing);
            }
            let activity = req.state.ok_or(PublishError::NoBody)?;
            // One publication per device: a new initial PUBLISH from a device that has one
            // replaces it (the client restarted and lost its tag, or two went out before
            // the first answer), so a stale state cannot linger beside the new one.
            let key = (req.user.clone(), req.device.clone());
            if let Some(id) = self.by_device.get(&key).cloned() {
                return self.update(
                    &id,
                    req.device,
                    Some(activity),
                    expires_at,
                    granted,
                    fresh_tag,
                );
            }
            let count = self.per_user.entry(req.user.clone()).or_default();
            if *count >= self.limits.max_per_user {
                return Err(PublishError::TooMany {
                    max: self.limits.max_per_user,
                });
            }
            *count += 1;
            let p = Publication {
                id: fresh_tag.clone(),
                user: req.user,
                device: req.device,
                activity,
                etag: fresh_tag.clone(),
                expires_at,
            };
            self.tags.insert(fresh_tag.clone(), fresh_tag.clone());
            self.by_device.insert(key, fresh_tag.clone());
            self.by_id.insert(fresh_tag, p.clone());
            return Ok(Outcome::Stored {
                publication: p,
                expires: granted,
            });
        };
        // Someone else's tag reads as unknown: a tag tells nothing about other users.
        let id = self
            .tags
            .get(tag.trim())
            .filter(|id| self.by_id.get(*id).is_some_and(|p| p.user == req.user))
            .cloned()
            .ok_or(PublishError::UnknownTag)?;
        if granted == 0 {
            return Ok(Outcome::Removed(
                self.remove(&id).ok_or(PublishError::UnknownTag)?,
            ));
        }
        self.update(&id, req.device, req.state, expires_at, granted, fresh_tag)
    }

    /// Refreshes publication `id` (and sets its state when `state` is given) under a new
    /// entity tag.
    fn update(
        &mut self,
        id: &str,
        device: String,
        state: Option<Option<EndpointActivity>>,
        expires_at: Instant,
        granted: u32,
        fresh_tag: String,
    ) -> Result<Outcome, PublishError> {
        let p = self.by_id.get_mut(id).ok_or(PublishError::UnknownTag)?;
        self.tags.remove(&p.etag);
        p.etag = fresh_tag.clone();
        p.expires_at = expires_at;
        if p.device != device {
            // The client's address changed (a new TCP connection, a NAT rebinding).
            let old = (
                p.user.clone(),
                std::mem::replace(&mut p.device, device.clone()),
            );
            if self.by_device.get(&old).is_some_and(|i| i == id) {
                self.by_device.remove(&old);
            }
            self.by_device
                .insert((p.user.clone(), device), id.to_owned());
        }
        if let Some(activity) = state {
            p.activity = activity;
        }
        let p = p.clone();
        self.tags.insert(fresh_tag, id.to_owned());
        Ok(Outcome::Stored {
            publication: p,
            expires: granted,
        })
    }

    fn remove(&mut self, id: &str) -> Option<Publication> {
        let p = self.by_id.remove(id)?;
        self.tags.remove(&p.etag);
        let key = (p.user.clone(), p.device.clone());
        if self.by_device.get(&key).is_some_and(|i| i == id) {
            self.by_device.remove(&key);
        }
        if let Some(n) = self.per_user.get_mut(&p.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_user.remove(&p.user);
            }
        }
        Some(p)
    }

    /// When the next publication expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.by_id.values().map(|p| p.expires_at).min()
    }

    /// Removes and returns the publications expired at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<Publication> {
        let gone: Vec<String> = self
            .by_id
            .values()
            .filter(|p| p.expires_at <= now)
            .map(|p| p.id.clone())
            .collect();
        gone.iter().filter_map(|id| self.remove(id)).collect()
    }

    /// How many publications are live.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// The PUBLISH driver. Cheap to clone.
#[derive(Clone)]
pub struct SipPublish {
    table: Arc<Mutex<Publications>>,
    presence: PresenceService,
    registrar: Registrar,
    handle: EndpointHandle,
    server_name: Arc<str>,
    wake: Arc<Notify>,
}

impl SipPublish {
    /// A compositor over presence, the registrar (authentication) and the endpoint; expires
    /// publications on a task of the current runtime (it ends when the last clone goes).
    pub fn start(
        presence: PresenceService,
        registrar: Registrar,
        handle: EndpointHandle,
        server_name: &str,
    ) -> SipPublish {
        let p = SipPublish {
            table: Arc::new(Mutex::new(Publications::new(Limits::default()))),
            presence: presence.clone(),
            registrar,
            handle,
            server_name: server_name.into(),
            wake: Arc::default(),
        };
        tokio::spawn(expire_forever(
            Arc::downgrade(&p.table),
            presence,
            p.wake.clone(),
        ));
        p
    }

    /// Whether this is a PUBLISH (any event package: others are answered 489 here).
    pub fn claims(req: &Message) -> bool {
        req.method() == Some(&Method::Publish)
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Publications> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reply(&self, req: &Message, code: u16) -> ResponseBuilder {
        ResponseBuilder::reply(req, code, Some(&new_tag())).header_ext("Server", &self.server_name)
    }

    fn bad_request(&self, req: &Message, what: &str) -> Option<Message> {
        tracing::info!(reason = what, "PUBLISH refused");
        self.reply(req, 400)
            .header(HeaderName::Warning, format!("399 - \"{what}\""))
            .build()
            .ok()
    }

    /// Answers a PUBLISH.
    pub async fn on_publish(&self, key: TransactionKey, req: &Message, peer: Peer) {
        if let Some(resp) = self.answer(req, peer).await {
            if let Err(e) = self.handle.send_response(key, resp).await {
                tracing::warn!(error = %e, "presence: cannot answer PUBLISH");
            }
        }
    }

    async fn answer(&self, req: &Message, peer: Peer) -> Option<Message> {
        let user = match self.registrar.authenticate(req, ChallengeKind::Proxy).await {
            Ok(u) => u,
            Err(resp) => return resp,
        };
        let own = user.sip_uri.to_lowercase();
        if !self.registrar.addressed(req).contains(&own) {
            tracing::info!(user = %user.sip_uri, "PUBLISH for someone else refused");
            return self.reply(req, 403).build().ok();
        }
        let Ok(uri) = own.parse::<UserUri>() else {
            return self.reply(req, 403).build().ok();
        };
        let event = req
            .get(HeaderName::Event)
            .and_then(|e| e.split(';').next())
            .map(str::trim)
            .unwrap_or("");
        if !event.eq_ignore_ascii_case("presence") {
            return self
                .reply(req, 489)
                .header(HeaderName::AllowEvents, "presence")
                .build()
                .ok();
        }
        let state = if req.body().is_empty() {
            None
        } else {
            let pidf = req
                .get(HeaderName::ContentType)
                .and_then(|c| c.split(';').next())
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/pidf+xml"));
            if !pidf {
                return self
                    .reply(req, 415)
                    .header(HeaderName::Accept, "application/pidf+xml")
                    .build()
                    .ok();
            }
            let Ok(text) = std::str::from_utf8(req.body()) else {
                return self.bad_request(req, "the PIDF body is not UTF-8");
            };
            match super::pidf::parse(text) {
                Ok(doc) => Some(doc.endpoint_activity()),
                Err(e) => return self.bad_request(req, &format!("PIDF: {e}")),
            }
        };
        let Ok(expires) = req.typed::<Expires>() else {
            return self.bad_request(req, "bad Expires");
        };
        match self.presence.load_user(&uri).await {
            Ok(true) => {}
            Ok(false) => return self.reply(req, 404).build().ok(),
            Err(e) => {
                tracing::warn!(error = %e, "presence: store unavailable");
                return self
                    .reply(req, 500)
                    .header(HeaderName::RetryAfter, "5")
                    .build()
                    .ok();
            }
        }
        let request = PublishRequest {
            user: uri.clone(),
            device: crate::registrar::device(peer.transport.as_str(), peer.addr),
            if_match: req.get(HeaderName::SipIfMatch).map(|t| t.trim().to_owned()),
            expires: expires.map(|e| e.0),
            state,
        };
        // The table and presence change together, so two PUBLISHes of one device reach
        // the core in the order their tags were issued.
        let outcome = {
            let mut table = self.table();
            let outcome = table.apply(request, Instant::now(), new_tag());
            match &outcome {
                Ok(Outcome::Stored { publication: p, .. }) => {
                    self.presence
                        .publication(&uri, p.endpoint(), &p.device, p.activity)
                }
                Ok(Outcome::Removed(p)) => self.presence.endpoint_down(&uri, p.endpoint()),
                _ => {}
            }
            outcome
        };
        self.wake.notify_one();
        match outcome {
            Ok(Outcome::Stored {
                publication,
                expires,
            }) => {
                tracing::debug!(user = %uri, activity = ?publication.activity, "presence published");
                self.reply(req, 200)
                    .header(HeaderName::SipETag, &publication.etag)
                    .header(HeaderName::Expires, expires)
                    .build()
                    .ok()
            }
            Ok(Outcome::Removed(_)) | Ok(Outcome::Nothing) => self
                .reply(req, 200)
                .header(HeaderName::Expires, 0)
                .build()
                .ok(),
            Err(e) => {
                tracing::info!(user = %uri, reason = %e, "PUBLISH refused");
                let mut b = self.reply(req, e.status());
                b = match e {
                    PublishError::IntervalTooBrief { min } => b.header(HeaderName::MinExpires, min),
                    other => b.header(HeaderName::Warning, format!("399 - \"{other}\"")),
                };
                b.build().ok()
            }
        }
    }
}

/// Removes publications as they expire; ends once the compositor is gone.
async fn expire_forever(
    table: Weak<Mutex<Publications>>,
    presence: PresenceService,
    wake: Arc<Notify>,
) {
    loop {
        let next = {
            let Some(t) = table.upgrade() else { return };
            let next = t.lock().unwrap_or_else(|p| p.into_inner()).next_expiry();
            next
        };
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = wake.notified() => continue,
                }
            }
            None => {
                // Woken by the next PUBLISH; a gone compositor is noticed at the next
                // wake-up or, at the latest, within a minute.
                let _ = tokio::time::timeout(Duration::from_secs(60), wake.notified()).await;
                continue;
            }
        }
        let Some(t) = table.upgrade() else { return };
        let mut t = t.lock().unwrap_or_else(|p| p.into_inner());
        for p in t.expire(Instant::now()) {
            tracing::info!(user = %p.user, "presence publication expired");
            presence.endpoint_down(&p.user, p.endpoint());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> UserUri {
        "sip:alice@example.com".parse().unwrap()
    }

    fn req(
        if_match: Option<&str>,
        expires: Option<u32>,
        state: Option<Option<EndpointActivity>>,
    ) -> PublishRequest {
        PublishRequest {
            user: alice(),
            device: "udp:127.0.0.1:5070".into(),
            if_match: if_match.map(str::to_owned),
            expires,
            state,
        }
    }

    fn stored(o: Result<Outcome, PublishError>) -> (Publication, u32) {
        match o {
            Ok(Outcome::Stored {
                publication,
                expires,
            }) => (publication, expires),
            other => panic!("not stored: {other:?}"),
        }
    }

    #[test]
    fn initial_refresh_modify_and_remove_each_with_a_new_tag() {
        let t0 = Instant::now();
        let mut t = Publications::new(Limits::default());
        let (p, granted) = stored(t.apply(
            req(None, Some(600), Some(Some(EndpointActivity::Busy))),
            t0,
            "e1".into(),
        ));
        assert_eq!((p.id.as_str(), p.etag.as_str(), granted), ("e1", "e1", 600));
        // Refresh: no body, state kept, new tag; the old tag is spent.
        let (p, _) = stored(t.apply(req(Some("e1"), Some(600), None), t0, "e2".into()));
        assert_eq!(
            (p.id.as_str(), p.etag.as_str(), p.activity),
            ("e1", "e2", Some(EndpointActivity::Busy))
        );
        assert_eq!(
            t.apply(req(Some("e1"), None, None), t0, "x".into()),
            Err(PublishError::UnknownTag)
        );
        // Modify: a new state under the same publication.
        let (p, granted) = stored(t.apply(req(Some("e2"), None, Some(None)), t0, "e3".into()));
        assert_eq!((p.id.as_str(), p.activity, granted), ("e1", None, 3600));
        // Remove.
        match t.apply(req(Some("e3"), Some(0), None), t0, "x".into()) {
            Ok(Outcome::Removed(p)) => assert_eq!(p.id, "e1"),
            other => panic!("{other:?}"),
        }
        assert!(t.is_empty());
        assert_eq!(t.next_expiry(), None);
    }

    #[test]
    fn expiry_bounds_missing_bodies_and_foreign_tags_are_refused() {
        let t0 = Instant::now();
        let mut t = Publications::new(Limits::default());
        assert_eq!(
            t.apply(req(None, Some(30), Some(None)), t0, "e1".into()),
            Err(PublishError::IntervalTooBrief { min: 60 })
        );
        assert_eq!(
            t.apply(req(None, Some(600), None), t0, "e1".into()),
            Err(PublishError::NoBody)
        );
        assert_eq!(
            t.apply(req(None, Some(0), None), t0, "e1".into()),
            Ok(Outcome::Nothing)
        );
        let (_, granted) = stored(t.apply(req(None, Some(86_400), Some(None)), t0, "e1".into()));
        assert_eq!(granted, 3600);
        // Bob cannot touch Alice's publication, and learns nothing from trying.
        let mut bobs = req(Some("e1"), Some(0), None);
        bobs.user = "sip:bob@example.com".parse().unwrap();
        assert_eq!(t.apply(bobs, t0, "x".into()), Err(PublishError::UnknownTag));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn publications_expire_and_are_bounded_per_user() {
        let t0 = Instant::now();
        let limits = Limits {
            max_per_user: 2,
            ..Limits::default()
        };
        let mut t = Publications::new(limits);
        let on = |device: &str, expires: u32| PublishRequest {
            device: device.into(),
            ..req(None, Some(expires), Some(None))
        };
        stored(t.apply(on("udp:127.0.0.1:1", 60), t0, "a".into()));
        stored(t.apply(on("udp:127.0.0.1:2", 120), t0, "b".into()));
        assert_eq!(
            t.apply(on("udp:127.0.0.1:3", 60), t0, "c".into()),
            Err(PublishError::TooMany { max: 2 })
        );
        assert_eq!(t.next_expiry(), Some(t0 + Duration::from_secs(60)));
        let gone = t.expire(t0 + Duration::from_secs(60));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].id, "a");
        // A refresh of the expired one is unknown; a new one fits again.
        assert_eq!(
            t.apply(req(Some("a"), None, None), t0, "x".into()),
            Err(PublishError::UnknownTag)
        );
        stored(t.apply(on("udp:127.0.0.1:3", 60), t0, "c".into()));
        assert_eq!(t.expire(t0 + Duration::from_secs(3600)).len(), 2);
        assert!(t.is_empty());
    }

    #[test]
    fn a_new_initial_publish_from_the_same_device_replaces_its_publication() {
        let t0 = Instant::now();
        let mut t = Publications::new(Limits::default());
        stored(t.apply(req(None, None, Some(None)), t0, "e1".into()));
        // The phone restarted (or sent two before the first answer): same device, no tag.
        let (p, _) = stored(t.apply(
            req(None, None, Some(Some(EndpointActivity::Unavailable))),
            t0,
            "e2".into(),
        ));
        assert_eq!(
            (p.id.as_str(), p.etag.as_str(), p.activity),
            ("e1", "e2", Some(EndpointActivity::Unavailable))
        );
        assert_eq!(t.len(), 1);
        assert_eq!(
            t.apply(req(Some("e1"), None, None), t0, "x".into()),
            Err(PublishError::UnknownTag)
        );
        // From another address (a reconnect) the refresh moves it there; a new initial
        // publication from the old address is a new one.
        let moved = PublishRequest {
            device: "tcp:127.0.0.1:6000".into(),
            ..req(Some("e2"), None, None)
        };
        let (p, _) = stored(t.apply(moved, t0, "e3".into()));
        assert_eq!(p.device, "tcp:127.0.0.1:6000");
        stored(t.apply(req(None, None, Some(None)), t0, "e4".into()));
        assert_eq!(t.len(), 2);
        match t.apply(req(Some("e3"), Some(0), None), t0, "x".into()) {
            Ok(Outcome::Removed(p)) => assert_eq!(p.id, "e1"),
            other => panic!("{other:?}"),
        }
        stored(t.apply(req(None, None, Some(None)), t0, "e5".into()));
        assert_eq!(t.len(), 1, "e4 was replaced by e5 on the same device");
    }
}
