//! Per-user event streams: every change a user's clients must see (call states now;
//! presence, messages and the rest with the client API) gets the next sequence number of
//! that user and is kept for a while, so a client that reconnects with the last number it
//! saw gets everything it missed, in order; one that was away longer than the retention
//! gets a single `resync` event telling it to reload its state.
//!
//! Publishing and subscribing happen under one lock, so an event is either in a new
//! subscriber's backlog or in its live feed, never both and never neither.

use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

/// One event, as clients receive it.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// The user's sequence number, from 1, without gaps.
    pub seq: u64,
    /// `call.updated`, `resync`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When it happened (RFC 3339, UTC).
    pub time: String,
    /// The payload, serialised once when published: kept events cost their JSON text
    /// (a few hundred bytes for a call) rather than a tree of maps and strings.
    pub data: Box<RawValue>,
}

impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        (self.seq, self.kind, &self.time, self.data.get())
            == (other.seq, other.kind, &other.time, other.data.get())
    }
}

/// `data` as JSON text (`null` if it cannot be serialised, which our payloads always can).
fn raw<T: Serialize + ?Sized>(data: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(data)
        .unwrap_or_else(|_| RawValue::from_string("null".to_owned()).expect("null is JSON"))
}

/// How long events are kept by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(600);
/// At most this many events per user are kept.
pub const MAX_KEPT: usize = 1000;
/// Live events a slow subscriber may fall behind by before it gets a `resync`.
const LIVE_BUFFER: usize = 256;

#[derive(Debug)]
struct UserLog {
    next_seq: u64,
    kept: VecDeque<(Instant, Arc<Event>)>,
    /// Made by the first subscriber: a user nobody listens for costs no live buffer
    /// ([`LIVE_BUFFER`] slots).
    tx: Option<broadcast::Sender<Arc<Event>>>,
}

impl UserLog {
    fn new() -> UserLog {
        UserLog {
            next_seq: 1,
            kept: VecDeque::new(),
            tx: None,
        }
    }

    /// True while one of the user's clients has a stream open.
    fn has_listener(&self) -> bool {
        self.tx.as_ref().is_some_and(|t| t.receiver_count() > 0)
    }

    /// Numbers, keeps and sends one event; returns its number.
    fn push(
        &mut self,
        kind: &'static str,
        data: Box<RawValue>,
        (now, time): (Instant, String),
        retention: Duration,
    ) -> u64 {
        let event = Arc::new(Event {
            seq: self.next_seq,
            kind,
            time,
            data,
        });
        self.next_seq += 1;
        self.kept.push_back((now, event.clone()));
        self.trim(now, retention);
        // Nobody listening is fine: the event is kept for a reconnect.
        if let Some(tx) = &self.tx {
            let _ = tx.send(event.clone());
        }
        event.seq
    }

    fn trim(&mut self, now: Instant, retention: Duration) {
        while self.kept.len() > MAX_KEPT
            || self
                .kept
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > retention)
        {
            self.kept.pop_front();
        }
    }
}

/// What a new subscriber gets: what it missed (or a `resync`), then the live feed.
#[derive(Debug)]
pub struct Subscription {
    /// Events to send first, in order.
    pub backlog: Vec<Arc<Event>>,
    /// Everything published after the backlog.
    pub live: broadcast::Receiver<Arc<Event>>,
}

/// The events of every user. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventHub {
    inner: Arc<Mutex<HashMap<String, UserLog>>>,
    retention: Duration,
    /// Told the (lower-case) SIP URI of each user whose client opens a stream.
    watchers: Arc<Mutex<Vec<mpsc::UnboundedSender<Arc<str>>>>>,
}

fn now_rfc3339() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    crate::cli::rfc3339::format_ms(ms)
}

impl EventHub {
    /// Keeps each user's events for `retention`.
    pub fn new(retention: Duration) -> EventHub {
        EventHub {
            inner: Arc::new(Mutex::new(HashMap::new())),
            retention,
            watchers: Arc::default(),
        }
    }

    /// Publishes an event for `user` only if one of their clients has a stream open now
    /// (checked under the same lock as the publication); returns its sequence number, or
    /// `None` when nobody is connected and nothing was published. For what must reach a
    /// client exactly once and is kept elsewhere until it does (instant messages).
    pub fn publish_if_connected<T: Serialize + ?Sized>(
        &self,
        user: &str,
        kind: &'static str,
        data: &T,
    ) -> Option<u64> {
        let now = Instant::now();
        let mut users = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let log = users.get_mut(&user.to_ascii_lowercase())?;
        if !log.has_listener() {
            return None;
        }
        Some(log.push(kind, raw(data), (now, now_rfc3339()), self.retention))
    }

    /// True when one of `user`'s clients has an event stream open now.
    pub fn is_connected(&self, user: &str) -> bool {
        let users = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        users
            .get(&user.to_ascii_lowercase())
            .is_some_and(UserLog::has_listener)
    }

    /// A feed of the users whose clients open a stream, each told after the stream is
    /// subscribed (so an event published for them from then on reaches it).
    pub fn watch_connections(&self) -> mpsc::UnboundedReceiver<Arc<str>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tx);
        rx
    }

    /// Publishes an event for `user` (a SIP URI, compared case-insensitively); returns
    /// its sequence number.
    pub fn publish<T: Serialize + ?Sized>(&self, user: &str, kind: &'static str, data: &T) -> u64 {
        self.publish_at(user, kind, raw(data), Instant::now())
    }

    fn publish_at(&self, user: &str, kind: &'static str, data: Box<RawValue>, now: Instant) -> u64 {
        let mut users = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let log = users
            .entry(user.to_ascii_lowercase())
            .or_insert_with(UserLog::new);
        log.push(kind, data, (now, now_rfc3339()), self.retention)
    }

    /// Publishes the same event to many users (a presence change to its watchers) under
    /// one lock, serialised once and with one timestamp; each gets their own sequence
    /// number.
    pub fn publish_many<'a, T: Serialize + ?Sized>(
        &self,
        users: impl IntoIterator<Item = &'a str>,
        kind: &'static str,
        data: &T,
    ) {
        let now = Instant::now();
        let time = now_rfc3339();
        let data = raw(data);
        let mut all = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for user in users {
            let log = match all.get_mut(user) {
                Some(log) => log,
                None => all
                    .entry(user.to_ascii_lowercase())
                    .or_insert_with(UserLog::new),
            };
            log.push(kind, data.clone(), (now, time.clone()), self.retention);
        }
    }

    /// Subscribes `user`, resuming after `since` (the last sequence number the client
    /// saw), or from now without it.
    pub fn subscribe(&self, user: &str, since: Option<u64>) -> Subscription {
        self.subscribe_at(user, since, Instant::now())
    }

    fn subscribe_at(&self, user: &str, since: Option<u64>, now: Instant) -> Subscription {
        let key = user.to_ascii_lowercase();
        let sub = self.subscribe_locked(&key, since, now);
        let key: Arc<str> = key.into();
        self.watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|w| w.send(key.clone()).is_ok());
        sub
    }

    fn subscribe_locked(&self, key: &str, since: Option<u64>, now: Instant) -> Subscription {
        let mut users = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let log = users.entry(key.to_owned()).or_insert_with(UserLog::new);
        log.trim(now, self.retention);
        let live = log
            .tx
            .get_or_insert_with(|| broadcast::channel(LIVE_BUFFER).0)
            .subscribe();
        let latest = log.next_seq - 1;
        let backlog = match since {
            None => Vec::new(),
            Some(s) if s == latest => Vec::new(),
            Some(s) => {
                let oldest = log.kept.front().map_or(latest + 1, |(_, e)| e.seq);
                if s > latest || s + 1 < oldest {
                    vec![resync(latest)]
                } else {
                    log.kept
                        .iter()
                        .filter(|(_, e)| e.seq > s)
                        .map(|(_, e)| e.clone())
                        .collect()
                }
            }
        };
        Subscription { backlog, live }
    }
}

/// The event telling a client it missed too much and must reload; its `seq` is the latest
/// one, so a later reconnect resumes from there.
pub fn resync(latest: u64) -> Arc<Event> {
    Arc::new(Event {
        seq: latest,
        kind: "resync",
        time: now_rfc3339(),
        data: raw(
            &serde_json::json!({"reason": "events since the given sequence number are no longer kept; reload"}),
        ),
    })
}

/// Feeds call changes into the hub as `call.updated` events of their owners.
pub async fn forward_calls(
    hub: EventHub,
    mut calls: broadcast::Receiver<crate::calls::service::CallEvent>,
) {
    loop {
        match calls.recv().await {
            Ok(e) => {
                let kind = if e.incoming {
                    "call.incoming"
                } else {
                    "call.updated"
                };
                hub.publish(&e.owner, kind, &e.view);
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "the event hub fell behind the calls");
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_numbered_per_user_and_resumable() {
        let hub = EventHub::new(DEFAULT_RETENTION);
        assert_eq!(
            hub.publish("sip:Alice@example.com", "call.updated", &json!(1)),
            1
        );
        assert_eq!(
            hub.publish("sip:bob@example.com", "call.updated", &json!(1)),
            1
        );
        assert_eq!(
            hub.publish("sip:alice@example.com", "call.updated", &json!(2)),
            2
        );
        let mut sub = hub.subscribe("sip:alice@example.com", Some(1));
        let seqs: Vec<u64> = sub.backlog.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![2]);
        hub.publish("sip:alice@example.com", "call.updated", &json!(3));
        assert_eq!(sub.live.try_recv().unwrap().seq, 3);
        assert!(sub.live.try_recv().is_err(), "nothing twice");
        // From the start, and already up to date.
        assert_eq!(
            hub.subscribe("sip:alice@example.com", Some(0))
                .backlog
                .len(),
            3
        );
        assert!(hub
            .subscribe("sip:alice@example.com", Some(3))
            .backlog
            .is_empty());
        assert!(hub
            .subscribe("sip:alice@example.com", None)
            .backlog
            .is_empty());
    }

    #[test]
    fn publish_many_numbers_each_users_events_in_their_own_sequence() {
        let hub = EventHub::new(DEFAULT_RETENTION);
        hub.publish("sip:b@x", "call.updated", &json!(0));
        let mut b = hub.subscribe("sip:b@x", None);
        hub.publish_many(
            ["sip:a@x", "sip:B@x"],
            "presence.updated",
            &json!({"availability": "Busy"}),
        );
        let got = b.live.try_recv().unwrap();
        assert_eq!((got.seq, got.kind), (2, "presence.updated"));
        assert_eq!(got.data.get(), r#"{"availability":"Busy"}"#);
        let a = hub.subscribe("sip:a@x", Some(0));
        assert_eq!(a.backlog.len(), 1);
        assert_eq!(a.backlog[0].seq, 1);
    }

    #[test]
    fn a_gap_older_than_the_retention_gets_one_resync() {
        let hub = EventHub::new(DEFAULT_RETENTION);
        for i in 0..(MAX_KEPT + 10) {
            hub.publish("sip:a@x", "call.updated", &json!(i));
        }
        let sub = hub.subscribe("sip:a@x", Some(2));
        assert_eq!(sub.backlog.len(), 1);
        assert_eq!(sub.backlog[0].kind, "resync");
        assert_eq!(sub.backlog[0].seq, (MAX_KEPT + 10) as u64);
        // A number from the future (another server's, a bug) is a resync too.
        let sub = hub.subscribe("sip:a@x", Some(999_999));
        assert_eq!(sub.backlog[0].kind, "resync");
        // Expired by time (simulated).
        let hub = EventHub::new(Duration::from_secs(60));
        let t0 = Instant::now();
        hub.publish_at("sip:a@x", "call.updated", raw(&json!(1)), t0);
        hub.publish_at(
            "sip:a@x",
            "call.updated",
            raw(&json!(2)),
            t0 + Duration::from_secs(50),
        );
        let sub = hub.subscribe_at("sip:a@x", Some(1), t0 + Duration::from_secs(70));
        assert_eq!(sub.backlog.len(), 1, "event 2 is still kept");
        assert_eq!(sub.backlog[0].seq, 2);
        let sub = hub.subscribe_at("sip:a@x", Some(0), t0 + Duration::from_secs(70));
        assert_eq!(sub.backlog[0].kind, "resync", "event 1 expired");
    }
}
