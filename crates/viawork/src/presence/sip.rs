//! Presence for SIP clients (RFC 3856 SUBSCRIBE/NOTIFY with RFC 3863 PIDF bodies and RFC
//! 4480 RPID activities): a registered softphone subscribes to a colleague's presence and
//! gets a NOTIFY now and at every change, with what the API's clients see (blocking
//! included).
//!
//! ViaWork is the notifier: it accepts an authenticated SUBSCRIBE (`Event: presence`,
//! 407 challenge with the registrar's digest) for a directory user, answers 200 with the
//! granted expiry, and sends NOTIFYs in the dialog so made (RFC 6665): at once, at each
//! change, and `terminated` when the subscriber unsubscribes (Expires: 0) or the
//! subscription expires. A refresh is an in-dialog SUBSCRIBE. A NOTIFY the client refuses
//! with 481 (or never answers) ends the subscription. Subscriptions live in memory.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::headers::{Contact, Expires};
use sip::{HeaderName, Message, Method, RequestBuilder, ResponseBuilder};
use sip_stack::auth::ChallengeKind;
use sip_stack::dialog::LocalVia;
use sip_stack::endpoint::EndpointHandle;
use sip_stack::transaction::{Peer, TransactionKey, Transport, TuEvent};

use super::model::{Activity, Availability, Presence};
use super::PresenceService;
use crate::domain::UserUri;
use crate::registrar::Registrar;
use crate::sip_service::{new_tag, sent_by};

/// Shortest subscription accepted (RFC 6665 suggests an hour by default).
const MIN_EXPIRES: u32 = 60;
/// Longest granted.
const MAX_EXPIRES: u32 = 3600;

struct Sub {
    watcher: UserUri,
    target: UserUri,
    /// Our tag (the To tag of our 200), their tag (their From tag).
    local_tag: String,
    remote_tag: String,
    /// Where NOTIFYs go: the subscriber's Contact, sent to the address it came from.
    remote_target: String,
    peer: Peer,
    cseq: u32,
    expires_at: Instant,
}

/// The notifier. Cheap to clone.
#[derive(Clone)]
pub struct SipPresence {
    subs: Arc<Mutex<HashMap<String, Sub>>>,
    notifies: Arc<Mutex<HashMap<TransactionKey, String>>>,
    presence: PresenceService,
    registrar: Registrar,
    handle: EndpointHandle,
    server_name: Arc<str>,
}

/// The PIDF document for `entity`'s presence: `open` unless Offline, the availability as a
/// note, RPID activities (busy, on-the-phone, meeting, away, ...), and the user's note.
pub fn pidf(entity: &str, p: &Presence) -> String {
    let open = p.availability != Availability::Offline;
    let mut activities = Vec::new();
    match p.availability {
        Availability::Busy | Availability::IdleBusy => activities.push("busy"),
        Availability::DoNotDisturb => activities.push("busy"),
        Availability::Away | Availability::BeRightBack | Availability::IdleOnline => {
            activities.push("away")
        }
        _ => {}
    }
    match p.activity {
        Some(Activity::InACall) | Some(Activity::OnThePhone) => activities.push("on-the-phone"),
        Some(Activity::InAConference) | Some(Activity::InAMeeting) | Some(Activity::Presenting) => {
            activities.push("meeting")
        }
        Some(Activity::OffWork) => activities.push("vacation"),
        _ => {}
    }
    let mut person = String::new();
    if !activities.is_empty() || !p.note.is_empty() {
        person.push_str("<dm:person id=\"p\">");
        if !activities.is_empty() {
            person.push_str("<rpid:activities>");
            for a in activities {
                person.push_str(&format!("<rpid:{a}/>"));
            }
            person.push_str("</rpid:activities>");
        }
        if !p.note.is_empty() {
            person.push_str(&format!("<dm:note>{}</dm:note>", escape(p.note.as_str())));
        }
        person.push_str("</dm:person>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<presence \
         xmlns=\"urn:ietf:params:xml:ns:pidf\" xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" \
         xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"{}\"><tuple id=\"t\"><status>\
         <basic>{}</basic></status><note>{}</note></tuple>{person}</presence>\r\n",
        escape(entity),
        if open { "open" } else { "closed" },
        p.availability.as_str(),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl SipPresence {
    /// A notifier over presence, the registrar (authentication) and the endpoint; follows
    /// presence changes and expiries on the current runtime.
    pub fn start(
        presence: PresenceService,
        registrar: Registrar,
        handle: EndpointHandle,
        server_name: &str,
    ) -> SipPresence {
        let n = SipPresence {
            subs: Arc::default(),
            notifies: Arc::default(),
            presence,
            registrar,
            handle,
            server_name: server_name.into(),
        };
        let me = n.clone();
        tokio::spawn(async move { me.follow().await });
        n
    }

    fn subs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Sub>> {
        self.subs.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn follow(self) {
        let mut changes = self.presence.watch_changes();
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                change = changes.recv() => match change {
                    Ok(target) => {
                        let ids: Vec<String> = self
                            .subs()
                            .iter()
                            .filter(|(_, s)| s.target == target)
                            .map(|(id, _)| id.clone())
                            .collect();
                        for id in ids {
                            self.notify(&id, false).await;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let ids: Vec<String> = self.subs().keys().cloned().collect();
                        for id in ids {
                            self.notify(&id, false).await;
                        }
                    }
                    Err(_) => return,
                },
                _ = tick.tick() => {
                    let now = Instant::now();
                    let gone: Vec<String> = self
                        .subs()
                        .iter()
                        .filter(|(_, s)| s.expires_at <= now)
                        .map(|(id, _)| id.clone())
                        .collect();
                    for id in gone {
                        self.notify(&id, true).await;
                    }
                }
            }
        }
    }

    /// Takes the transaction events of the NOTIFYs this sent; false for others.
    pub fn on_tu_event(&self, ev: &TuEvent) -> bool {
        let mut notifies = self.notifies.lock().unwrap_or_else(|p| p.into_inner());
        let (key, failed) = match ev {
            TuEvent::Response { key, msg } => (
                key,
                msg.status()
                    .is_some_and(|s| s == 481 || s == 408 || s >= 500),
            ),
            TuEvent::Timeout { key } | TuEvent::TransportError { key } => (key, true),
            TuEvent::Terminated { key } => return notifies.remove(key).is_some(),
            _ => return false,
        };
        let Some(id) = notifies.get(key).cloned() else {
            return false;
        };
        if failed {
            // The subscriber is gone (RFC 6665 §4.2.2).
            self.subs().remove(&id);
        }
        true
    }

    /// Whether this is a SUBSCRIBE for the presence package.
    pub fn claims(req: &Message) -> bool {
        req.method() == Some(&Method::Subscribe)
            && req.get(HeaderName::Event).is_some_and(|e| {
                e.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("presence")
            })
    }

    fn reply(&self, req: &Message, code: u16, to_tag: Option<&str>) -> ResponseBuilder {
        ResponseBuilder::reply(req, code, to_tag).header_ext("Server", &self.server_name)
    }

    /// Answers a presence SUBSCRIBE (new or in-dialog refresh) and then sends the NOTIFY
    /// that follows it (after the answer, so that a client sees them in order).
    pub async fn on_subscribe(&self, key: TransactionKey, req: &Message, peer: Peer) {
        let (resp, then) = self.subscribe(req, peer).await;
        if let Some(resp) = resp {
            if let Err(e) = self.handle.send_response(key, resp).await {
                tracing::warn!(error = %e, "presence: cannot answer SUBSCRIBE");
                return;
            }
        }
        if let Some((id, terminated)) = then {
            self.notify(&id, terminated).await;
        }
    }

    async fn subscribe(
        &self,
        req: &Message,
        peer: Peer,
    ) -> (Option<Message>, Option<(String, bool)>) {
        match self.subscribe_inner(req, peer).await {
            Ok((resp, id, terminated)) => (resp, Some((id, terminated))),
            Err(resp) => (resp, None),
        }
    }

    async fn subscribe_inner(
        &self,
        req: &Message,
        peer: Peer,
    ) -> Result<(Option<Message>, String, bool), Option<Message>> {
        let watcher_row = match self.registrar.authenticate(req, ChallengeKind::Proxy).await {
            Ok(u) => u,
            Err(resp) => return Err(resp),
        };
        let Ok(watcher) = watcher_row.sip_uri.parse::<UserUri>() else {
            return Err(self.reply(req, 403, Some(&new_tag())).build().ok());
        };
        let asked = req
            .typed::<Expires>()
            .ok()
            .flatten()
            .map_or(MAX_EXPIRES, |e| e.0);
        if asked != 0 && asked < MIN_EXPIRES {
            return Err(self
                .reply(req, 423, Some(&new_tag()))
                .header(HeaderName::MinExpires, MIN_EXPIRES)
                .build()
                .ok());
        }
        if let Some(accept) = req.get(HeaderName::Accept) {
            if !accept.to_ascii_lowercase().contains("application/pidf+xml") {
                return Err(self
                    .reply(req, 406, Some(&new_tag()))
                    .header(HeaderName::Accept, "application/pidf+xml")
                    .build()
                    .ok());
            }
        }
        let granted = asked.min(MAX_EXPIRES);
        let call_id = req.call_id().map_err(|_| None)?.to_owned();
        let in_dialog = req
            .to_header()
            .ok()
            .and_then(|t| t.tag())
            .map(str::to_owned);
        let id = if let Some(to_tag) = in_dialog {
            // A refresh or an unsubscribe in an existing subscription.
            let mut subs = self.subs();
            match subs.get_mut(&call_id) {
                Some(s) if s.local_tag == to_tag && s.watcher == watcher => {
                    s.expires_at = Instant::now() + Duration::from_secs(u64::from(granted));
                }
                _ => return Err(self.reply(req, 481, None).build().ok()),
            }
            call_id
        } else {
            let mut found = None;
            for candidate in self.registrar.addressed(req) {
                if let Ok(u) = candidate.parse::<UserUri>() {
                    if self.presence.load_user(&u).await.unwrap_or(false) {
                        found = Some(u);
                        break;
                    }
                }
            }
            let Some(target) = found else {
                return Err(self.reply(req, 404, Some(&new_tag())).build().ok());
            };
            let Some(contact) = req
                .typed_all::<Contact>()
                .flatten()
                .find_map(|c| c.addr().map(|a| a.uri.to_string()))
            else {
                return Err(self
                    .reply(req, 400, Some(&new_tag()))
                    .header(HeaderName::Warning, "399 - \"a SUBSCRIBE needs a Contact\"")
                    .build()
                    .ok());
            };
            let remote_tag = req
                .from_header()
                .ok()
                .and_then(|f| f.tag().map(str::to_owned))
                .ok_or(None)?;
            self.subs().insert(
                call_id.clone(),
                Sub {
                    watcher,
                    target,
                    local_tag: new_tag(),
                    remote_tag,
                    remote_target: contact,
                    peer,
                    cseq: 0,
                    expires_at: Instant::now() + Duration::from_secs(u64::from(granted)),
                },
            );
            call_id
        };
        let local_tag = self
            .subs()
            .get(&id)
            .map(|s| s.local_tag.clone())
            .ok_or(None)?;
        let contact = self.local_contact(peer).ok_or(None)?;
        let resp = self
            .reply(req, 200, Some(&local_tag))
            .header(HeaderName::Expires, granted)
            .header(HeaderName::Contact, format_args!("<{contact}>"))
            .build()
            .ok();
        Ok((resp, id, granted == 0))
    }

    fn local_contact(&self, peer: Peer) -> Option<String> {
        let local: SocketAddr = self.handle.local_addr(peer.transport)?;
        let t = if peer.transport == Transport::Udp {
            String::new()
        } else {
            format!(
                ";transport={}",
                peer.transport.as_str().to_ascii_lowercase()
            )
        };
        Some(format!("sip:presence@{}{t}", sent_by(local)))
    }

    /// Sends the subscription's NOTIFY with the target's presence as the watcher sees it;
    /// `terminated` ends the subscription.
    async fn notify(&self, id: &str, terminated: bool) {
        let (watcher, target) = match self.subs().get(id) {
            Some(s) => (s.watcher.clone(), s.target.clone()),
            None => return,
        };
        let Ok(presence) = self.presence.presence_of(&watcher, &target).await else {
            return;
        };
        let req = {
            let mut subs = self.subs();
            let Some(s) = subs.get_mut(id) else { return };
            s.cseq += 1;
            let left = s
                .expires_at
                .saturating_duration_since(Instant::now())
                .as_secs();
            let state = if terminated {
                "terminated;reason=timeout".to_owned()
            } else {
                format!("active;expires={left}")
            };
            let Some(local) = self.handle.local_addr(s.peer.transport) else {
                return;
            };
            let Ok(via) = LocalVia::new(s.peer.transport.as_str(), &sent_by(local)) else {
                return;
            };
            let contact = format!("<{}>", self.local_contact(s.peer).unwrap_or_default());
            let req = RequestBuilder::new(&Method::Notify, &s.remote_target)
                .header(HeaderName::Via, via.fresh(&mut rand::rng()))
                .header(HeaderName::MaxForwards, 70)
                .header(
                    HeaderName::From,
                    format_args!("<{}>;tag={}", s.target, s.local_tag),
                )
                .header(
                    HeaderName::To,
                    format_args!("<{}>;tag={}", s.watcher, s.remote_tag),
                )
                .header(HeaderName::CallId, id)
                .header(HeaderName::CSeq, format_args!("{} NOTIFY", s.cseq))
                .header(HeaderName::Contact, contact)
                .header(HeaderName::Event, "presence")
                .header(HeaderName::SubscriptionState, state)
                .body(
                    "application/pidf+xml",
                    Bytes::from(pidf(s.target.as_str(), &presence)),
                )
                .build();
            let peer = s.peer;
            if terminated {
                subs.remove(id);
            }
            match req {
                Ok(r) => (r, peer),
                Err(_) => return,
            }
        };
        match self.handle.send_request(req.0, req.1).await {
            Ok(key) => {
                self.notifies
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, id.to_owned());
            }
            Err(e) => tracing::warn!(error = %e, "presence: cannot send NOTIFY"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::model::Note;

    #[test]
    fn pidf_says_open_or_closed_with_rpid_activities_and_the_note_escaped() {
        let busy = Presence {
            availability: Availability::Busy,
            activity: Some(Activity::OnThePhone),
            note: "Back at <5> & later".parse::<Note>().unwrap(),
            last_active_at: None,
        };
        let doc = pidf("sip:alice@example.com", &busy);
        assert!(doc.contains("<basic>open</basic>"), "{doc}");
        assert!(
            doc.contains("<rpid:busy/>") && doc.contains("<rpid:on-the-phone/>"),
            "{doc}"
        );
        assert!(doc.contains("Back at &lt;5&gt; &amp; later"), "{doc}");
        assert!(doc.contains("entity=\"sip:alice@example.com\""));
        let doc = pidf("sip:alice@example.com", &Presence::hidden());
        assert!(doc.contains("<basic>closed</basic>") && !doc.contains("rpid:activities"));
    }
}
