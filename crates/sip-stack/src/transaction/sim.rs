//! A simulated world for the transaction tests: two [`TransactionLayer`]s (a UAC and a
//! UAS), a network between them that loses, duplicates, delays and so reorders datagrams
//! with a seeded RNG, and a virtual clock that jumps to the next thing to happen (a
//! delivery, a layer's `poll_timeout`, a deferred TU action). Runs are deterministic and
//! take milliseconds however many simulated seconds they cover.
//!
//! Messages cross the network as bytes and are parsed again on arrival, as they would be
//! by a transport. The transaction user of each side is a closure the test supplies; it
//! sees every [`TuEvent`] and may call its layer at once or later (via [`Ctx::later`]).

use super::{Peer, TimerConfig, TransactionKey, TransactionLayer, Transport, TuEvent};
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sip::{HeaderName, Message, Method, RequestBuilder, ResponseBuilder};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The UAC's address.
pub(crate) const UAC_ADDR: &str = "10.0.0.1:5060";
/// The UAS's address.
pub(crate) const UAS_ADDR: &str = "10.0.0.2:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("constant address")
}

/// One of the two endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Side {
    Uac,
    Uas,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Uac => Side::Uas,
            Side::Uas => Side::Uac,
        }
    }

    fn addr(self) -> SocketAddr {
        match self {
            Side::Uac => addr(UAC_ADDR),
            Side::Uas => addr(UAS_ADDR),
        }
    }
}

/// How the network misbehaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NetConfig {
    pub loss: f64,
    pub duplicate: f64,
    pub min_delay: Duration,
    pub max_delay: Duration,
    pub transport: Transport,
}

impl NetConfig {
    /// A perfect network with a fixed 10 ms delay.
    pub(crate) fn perfect(transport: Transport) -> NetConfig {
        NetConfig {
            loss: 0.0,
            duplicate: 0.0,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
            transport,
        }
    }

    /// A lossy UDP network; delays between 5 and 150 ms reorder datagrams.
    pub(crate) fn lossy(loss: f64, duplicate: f64) -> NetConfig {
        NetConfig {
            loss,
            duplicate,
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(150),
            transport: Transport::Udp,
        }
    }
}

/// A TU action to run later.
type Action = Box<dyn FnOnce(&mut TransactionLayer, Instant)>;
/// Decides to drop a datagram on purpose (sender, message) → drop?
type Filter = Box<dyn FnMut(Side, &Message) -> bool>;

/// What a TU closure gets with each event.
pub(crate) struct Ctx<'a> {
    pub side: Side,
    pub now: Instant,
    pub layer: &'a mut TransactionLayer,
    transport: Transport,
    deferred: &'a mut Vec<(Instant, Side, Action)>,
}

impl Ctx<'_> {
    /// Runs `f` on this side's layer `after` from now.
    pub(crate) fn later(
        &mut self,
        after: Duration,
        f: impl FnOnce(&mut TransactionLayer, Instant) + 'static,
    ) {
        self.deferred
            .push((self.now + after, self.side, Box::new(f)));
    }

    /// The peer on the other side, over the world's transport.
    pub(crate) fn far_peer(&self) -> Peer {
        Peer::new(self.side.other().addr(), self.transport)
    }
}

/// An event with when and where it happened.
#[derive(Debug, Clone)]
pub(crate) struct Logged {
    pub at: Duration,
    pub side: Side,
    pub event: TuEvent,
}

/// A message a layer asked to send (before the network had its way with it).
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub at: Duration,
    pub from: Side,
    pub msg: Message,
}

/// Two layers, a network and a clock.
pub(crate) struct World {
    pub start: Instant,
    pub now: Instant,
    pub uac: TransactionLayer,
    pub uas: TransactionLayer,
    pub net: NetConfig,
    pub log: Vec<Logged>,
    pub sent: Vec<Sent>,
    rng: StdRng,
    in_flight: BTreeMap<(Instant, u64), (Side, Side, Bytes)>,
    seq: u64,
    deferred: Vec<(Instant, Side, Action)>,
    filter: Option<Filter>,
}

impl World {
    /// A world with default timers.
    pub(crate) fn new(net: NetConfig, seed: u64) -> World {
        World::with_timers(net, seed, TimerConfig::default())
    }

    /// A world with the given timers on both sides.
    pub(crate) fn with_timers(net: NetConfig, seed: u64, timers: TimerConfig) -> World {
        let start = Instant::now();
        World {
            start,
            now: start,
            uac: TransactionLayer::new(timers),
            uas: TransactionLayer::new(timers),
            net,
            log: Vec::new(),
            sent: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
            in_flight: BTreeMap::new(),
            seq: 0,
            deferred: Vec::new(),
            filter: None,
        }
    }

    /// Drops every datagram for which `f(sender, msg)` is true, on top of random loss.
    pub(crate) fn drop_when(&mut self, f: impl FnMut(Side, &Message) -> bool + 'static) {
        self.filter = Some(Box::new(f));
    }

    /// The peer the UAC sends to.
    pub(crate) fn uas_peer(&self) -> Peer {
        Peer::new(Side::Uas.addr(), self.net.transport)
    }

    /// Simulated time since the start.
    pub(crate) fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn layer(&mut self, side: Side) -> &mut TransactionLayer {
        match side {
            Side::Uac => &mut self.uac,
            Side::Uas => &mut self.uas,
        }
    }

    /// Runs until nothing is left to happen or `limit` of simulated time has passed.
    pub(crate) fn run(&mut self, limit: Duration, tu: &mut dyn FnMut(&mut Ctx<'_>, &TuEvent)) {
        let end = self.start + limit;
        loop {
            self.drain(tu);
            let next = [
                self.uac.poll_timeout(),
                self.uas.poll_timeout(),
                self.in_flight.keys().next().map(|k| k.0),
                self.deferred.iter().map(|d| d.0).min(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next.filter(|&n| n <= end) else {
                break;
            };
            self.now = self.now.max(next);
            let now = self.now;
            while let Some(entry) = self.in_flight.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let (from, to, bytes) = entry.remove();
                let msg = Message::parse(bytes).expect("the network carries what a layer sent");
                let peer = Peer::new(from.addr(), self.net.transport);
                self.layer(to).handle_message(msg, peer, now);
            }
            let (due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.deferred)
                .into_iter()
                .partition(|d| d.0 <= now);
            self.deferred = rest;
            for (_, side, f) in due {
                f(self.layer(side), now);
            }
            for side in [Side::Uac, Side::Uas] {
                if self.layer(side).poll_timeout().is_some_and(|t| t <= now) {
                    self.layer(side).handle_timeout(now);
                }
            }
        }
    }

    /// Runs until every timer has run out (at most ten simulated minutes) and checks that
    /// both layers are empty and every transaction ended exactly once.
    pub(crate) fn finish(&mut self, tu: &mut dyn FnMut(&mut Ctx<'_>, &TuEvent)) {
        self.run(Duration::from_secs(600) + self.elapsed(), tu);
        self.assert_clean();
    }

    fn drain(&mut self, tu: &mut dyn FnMut(&mut Ctx<'_>, &TuEvent)) {
        loop {
            let mut progressed = false;
            for side in [Side::Uac, Side::Uas] {
                while let Some(t) = self.layer(side).poll_transmit() {
                    progressed = true;
                    self.transmit(side, t.msg, t.peer);
                }
                while let Some(ev) = self.layer(side).poll_event() {
                    progressed = true;
                    self.log.push(Logged {
                        at: self.now - self.start,
                        side,
                        event: ev.clone(),
                    });
                    let (layer, deferred) = match side {
                        Side::Uac => (&mut self.uac, &mut self.deferred),
                        Side::Uas => (&mut self.uas, &mut self.deferred),
                    };
                    let mut ctx = Ctx {
                        side,
                        now: self.now,
                        layer,
                        transport: self.net.transport,
                        deferred,
                    };
                    tu(&mut ctx, &ev);
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn transmit(&mut self, from: Side, msg: Message, peer: Peer) {
        self.sent.push(Sent {
            at: self.now - self.start,
            from,
            msg: msg.clone(),
        });
        let to = if peer.addr == Side::Uas.addr() {
            Side::Uas
        } else {
            Side::Uac
        };
        if self.filter.as_mut().is_some_and(|f| f(from, &msg)) {
            return;
        }
        if self.net.loss > 0.0 && self.rng.random_bool(self.net.loss) {
            return;
        }
        let copies = if self.net.duplicate > 0.0 && self.rng.random_bool(self.net.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = if self.net.max_delay > self.net.min_delay {
                self.rng
                    .random_range(self.net.min_delay..=self.net.max_delay)
            } else {
                self.net.min_delay
            };
            self.seq += 1;
            self.in_flight
                .insert((self.now + delay, self.seq), (from, to, msg.to_bytes()));
        }
    }

    /// Both layers are empty, no timer is armed, and on each side every transaction that
    /// showed up in an event ended with exactly one `Terminated`, after which nothing else
    /// was said about it.
    pub(crate) fn assert_clean(&self) {
        for (side, layer) in [(Side::Uac, &self.uac), (Side::Uas, &self.uas)] {
            assert!(
                layer.is_empty(),
                "{side:?} still has {} live machines",
                layer.len()
            );
            assert_eq!(layer.poll_timeout(), None, "{side:?} still has a timer");
            assert_eq!(layer.scheduled(), 0);
            assert_eq!(layer.indexed(), 0, "{side:?} left keys in its indexes");
            let mut ended: HashMap<TransactionKey, usize> = HashMap::new();
            let mut seen: Vec<TransactionKey> = Vec::new();
            for l in self.log.iter().filter(|l| l.side == side) {
                let key = match &l.event {
                    TuEvent::Request { key, .. }
                    | TuEvent::Cancel { key, .. }
                    | TuEvent::Response { key, .. }
                    | TuEvent::Timeout { key }
                    | TuEvent::TransportError { key } => *key,
                    TuEvent::Terminated { key } => {
                        *ended.entry(*key).or_default() += 1;
                        continue;
                    }
                    TuEvent::Ack { .. } | TuEvent::AckTimeout { .. } | TuEvent::Stray { .. } => {
                        continue
                    }
                };
                assert!(
                    !ended.contains_key(&key),
                    "{side:?}: event for {key} after it ended: {:?}",
                    l.event
                );
                seen.push(key);
            }
            for key in seen {
                assert_eq!(
                    ended.get(&key),
                    Some(&1),
                    "{side:?}: {key} must end exactly once"
                );
            }
        }
    }

    /// The events of one side.
    pub(crate) fn events(&self, side: Side) -> impl Iterator<Item = &Logged> + '_ {
        self.log.iter().filter(move |l| l.side == side)
    }

    /// Messages `from` sent whose first line starts with `start` (`"INVITE"`, `"SIP/2.0 486"`).
    pub(crate) fn sent_by(&self, from: Side, start: &str) -> Vec<Duration> {
        self.sent
            .iter()
            .filter(|s| s.from == from && s.msg.as_bytes().starts_with(start.as_bytes()))
            .map(|s| s.at)
            .collect()
    }
}

/// A TU that does nothing.
pub(crate) fn idle(_: &mut Ctx<'_>, _: &TuEvent) {}

/// A request from the UAC to the UAS with a fresh branch.
pub(crate) fn request(method: Method, transport: Transport, call_id: &str, cseq: u32) -> Message {
    RequestBuilder::new(&method, &"sip:bob@10.0.0.2")
        .header(
            HeaderName::Via,
            format_args!(
                "SIP/2.0/{transport} {UAC_ADDR};branch={}",
                super::new_branch()
            ),
        )
        .header(HeaderName::MaxForwards, 70)
        .header(HeaderName::From, "<sip:alice@10.0.0.1>;tag=uac1")
        .header(HeaderName::To, "<sip:bob@10.0.0.2>")
        .header(HeaderName::CallId, call_id)
        .header(HeaderName::CSeq, format_args!("{cseq} {method}"))
        .header(HeaderName::Contact, format_args!("<sip:alice@{UAC_ADDR}>"))
        .build()
        .expect("valid request")
}

/// A response to `req` with To tag `tag`.
pub(crate) fn reply(req: &Message, code: u16, tag: &str) -> Message {
    ResponseBuilder::reply(req, code, Some(tag))
        .header(HeaderName::Contact, format_args!("<sip:bob@{UAS_ADDR}>"))
        .build()
        .expect("valid response")
}

/// The ACK a UAC core sends for a 2xx (RFC 3261 §13.2.2.4): a new branch, the To of the
/// 2xx, the INVITE's CSeq number.
pub(crate) fn ack_for_2xx(ok: &Message, transport: Transport) -> Message {
    let cseq = ok.cseq().map(|c| c.seq).unwrap_or(0);
    RequestBuilder::new(&Method::Ack, &"sip:bob@10.0.0.2")
        .header(
            HeaderName::Via,
            format_args!(
                "SIP/2.0/{transport} {UAC_ADDR};branch={}",
                super::new_branch()
            ),
        )
        .header(HeaderName::MaxForwards, 70)
        .header(
            HeaderName::From,
            ok.get(HeaderName::From).unwrap_or_default(),
        )
        .header(HeaderName::To, ok.get(HeaderName::To).unwrap_or_default())
        .header(
            HeaderName::CallId,
            ok.get(HeaderName::CallId).unwrap_or_default(),
        )
        .header(HeaderName::CSeq, format_args!("{cseq} ACK"))
        .build()
        .expect("valid ACK")
}
