//! The tokio driver around the sans-IO [`TransactionLayer`]: the layer sits behind one
//! lock; transports run what they receive through it on their own receive tasks, the
//! transaction user (TU) sends through an [`EndpointHandle`] on its own task, and what the
//! layer emits for the TU goes out as [`EndpointEvent`]s on a channel. One timer task
//! sleeps until the layer's next deadline.
//!
//! Why a lock and not a task owning the layer: with a task, every message crossed two
//! channels (socket task → layer task → TU, and TU → layer task → reply to the TU), and
//! each crossing woke a parked thread; profiles of the B2BUA under load were two-thirds
//! kernel time in those wake-ups. The layer's work per message is a few microseconds, so
//! the lock is short and contention low. Time still enters only here: each call hands
//! `Instant::now()` to the layer.

use crate::transaction::{
    Peer, TimerConfig, TransactionError, TransactionKey, TransactionLayer, Transport, TuEvent,
};
use crate::transport::response_target::ResponseTarget;
use crate::transport::{response_target, Incoming, Sink, Transports, TrySendError};
use bytes::Bytes;
use sip::{Message, ParseError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

/// What the endpoint binds and how its timers run.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Listeners, e.g. `(Transport::Udp, 127.0.0.1:5060)`.
    pub listen: Vec<(Transport, SocketAddr)>,
    /// TLS material, needed for `tls` listeners and outgoing TLS.
    pub tls: Option<crate::transport::TlsSettings>,
    /// T1, T2, T4.
    pub timers: TimerConfig,
}

/// What the TU receives. Transaction events are the common case and stay unboxed.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum EndpointEvent {
    /// An event of the transaction layer.
    Tu(TuEvent),
    /// Bytes that did not parse; the TU may answer with [`EndpointHandle::send_stateless`].
    Malformed {
        /// The raw bytes.
        bytes: Bytes,
        /// Why they did not parse.
        error: ParseError,
        /// Where they came from.
        peer: Peer,
    },
}

/// Errors of the handle.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The endpoint task has stopped.
    #[error("the SIP endpoint has stopped")]
    Stopped,
    /// The transaction layer refused.
    #[error(transparent)]
    Transaction(#[from] TransactionError),
}

/// The transaction layer and what sending needs beside it, behind one lock.
struct Core {
    layer: TransactionLayer,
    /// Stream peers being connected: their messages wait here and go out in order.
    connecting: HashMap<Peer, Vec<(Bytes, Option<TransactionKey>)>>,
    /// The deadline the timer task sleeps to.
    armed: Option<Instant>,
}

/// What the TU's handles, the transports' receive tasks and the timer task share. Every
/// caller runs its input through the layer and sends what comes out on its own task (UDP
/// and WebSocket sends do not wait), so a message crosses no channel between the socket
/// and the transaction, nor between the TU and the socket; only events for the TU do.
struct Shared {
    core: Mutex<Core>,
    /// Set once the listeners are bound; until then transmits wait in the layer.
    transports: OnceLock<Transports>,
    events: mpsc::UnboundedSender<EndpointEvent>,
    /// Wakes the timer task when the layer's next deadline moved earlier, or to stop.
    timer: Notify,
    stopped: AtomicBool,
    /// Stream connections finished connecting (or failed).
    connected: mpsc::UnboundedSender<(Peer, Result<(), String>)>,
    /// UDP datagrams the socket could not take at once, sent by a task that may wait.
    backlog: mpsc::UnboundedSender<(Peer, Bytes, Option<TransactionKey>)>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Core> {
        // The layer is consistent between calls; a panic in one must not stop the stack.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the layer, then sends its transmits and events.
    fn with_layer<R>(&self, f: impl FnOnce(&mut TransactionLayer, std::time::Instant) -> R) -> R {
        let mut core = self.lock();
        let r = f(&mut core.layer, std::time::Instant::now());
        self.flush(&mut core);
        r
    }

    fn on_incoming(&self, incoming: Incoming) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            return false;
        }
        match incoming {
            Incoming::Message { msg, peer } => {
                self.with_layer(|layer, now| layer.handle_message(msg, peer, now));
                !self.stopped.load(Ordering::Relaxed)
            }
            Incoming::Malformed { bytes, error, peer } => self
                .events
                .send(EndpointEvent::Malformed { bytes, error, peer })
                .is_ok(),
        }
    }

    /// Sends what the layer wants sent, hands its events to the TU, and re-arms the timer
    /// task when the next deadline moved earlier. Called with the lock held, so transmits
    /// and events leave in the order the layer produced them.
    fn flush(&self, core: &mut Core) {
        if let Some(transports) = self.transports.get() {
            while let Some(t) = core.layer.poll_transmit() {
                let peer = if t.msg.is_request() || t.peer.transport.is_reliable() {
                    t.peer
                } else {
                    match t.msg.top_via().map(|v| response_target(&v, t.peer)) {
                        Ok(ResponseTarget::Peer(p)) => p,
                        _ => t.peer,
                    }
                };
                let bytes = t.msg.to_bytes();
                let failed = match peer.transport {
                    Transport::Tcp | Transport::Tls => {
                        self.send_stream(transports, &mut core.connecting, peer, bytes, t.key)
                    }
                    _ => match transports.try_send(peer, bytes) {
                        Ok(()) => None,
                        Err(TrySendError::WouldBlock(bytes)) => {
                            let _ = self.backlog.send((peer, bytes, t.key));
                            None
                        }
                        Err(TrySendError::Failed(e)) => Some(e),
                    },
                };
                if let Some(e) = failed {
                    tracing::debug!(%peer, error = %e, "send failed");
                    if let Some(k) = t.key {
                        core.layer
                            .handle_transport_error(&k, std::time::Instant::now());
                    }
                }
            }
        }
        while let Some(e) = core.layer.poll_event() {
            if self.events.send(EndpointEvent::Tu(e)).is_err() {
                self.stop();
                return;
            }
        }
        if let Some(next) = core.layer.poll_timeout().map(Instant::from_std) {
            if core.armed.is_none_or(|armed| next < armed) {
                core.armed = Some(next);
                self.timer.notify_one();
            }
        }
    }

    /// A message over TCP or TLS: on the open connection, queued behind a connect in
    /// progress, or queued behind a new connect made off this task.
    fn send_stream(
        &self,
        transports: &Transports,
        connecting: &mut HashMap<Peer, Vec<(Bytes, Option<TransactionKey>)>>,
        peer: Peer,
        bytes: Bytes,
        key: Option<TransactionKey>,
    ) -> Option<crate::transport::SendError> {
        let Some(tcp) = transports.stream(peer.transport) else {
            return Some(crate::transport::SendError::NoTransport(peer.transport));
        };
        if let Some(queue) = connecting.get_mut(&peer) {
            queue.push((bytes, key));
            return None;
        }
        match tcp.send_connected(peer.addr, bytes.clone()) {
            Some(r) => r.err(),
            None => {
                connecting.insert(peer, vec![(bytes, key)]);
                let tcp = tcp.clone();
                let connected = self.connected.clone();
                tokio::spawn(async move {
                    let r = tcp.connect(peer.addr).await;
                    let _ = connected.send((peer, r.map_err(|e| e.to_string())));
                });
                None
            }
        }
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.timer.notify_one();
    }
}

/// Stops the endpoint when the TU's last handle is gone.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// The TU's side of a running endpoint. Cheap to clone.
#[derive(Clone)]
pub struct EndpointHandle {
    shared: Arc<StopOnDrop>,
    local: Vec<(Transport, SocketAddr)>,
}

impl EndpointHandle {
    fn shared(&self) -> Result<&Shared, EndpointError> {
        let shared = &self.shared.0;
        if shared.stopped.load(Ordering::Relaxed) {
            return Err(EndpointError::Stopped);
        }
        Ok(shared)
    }

    /// Sends a request in a new client transaction.
    pub async fn send_request(
        &self,
        req: Message,
        peer: Peer,
    ) -> Result<TransactionKey, EndpointError> {
        let shared = self.shared()?;
        let have_tcp = shared.transports.get().is_some_and(|t| t.tcp().is_some());
        let (req, peer) = switch_to_tcp_above_mtu(req, peer, have_tcp);
        Ok(shared.with_layer(|layer, now| layer.send_request(req, peer, now))?)
    }

    /// Sends a response on a server transaction.
    pub async fn send_response(
        &self,
        key: TransactionKey,
        resp: Message,
    ) -> Result<(), EndpointError> {
        let shared = self.shared()?;
        Ok(shared.with_layer(|layer, now| layer.send_response(&key, resp, now))?)
    }

    /// Sends a message outside any transaction (an ACK for a 2xx, a stateless response).
    pub async fn send_stateless(&self, msg: Message, peer: Peer) -> Result<(), EndpointError> {
        self.shared()?
            .with_layer(|layer, _| layer.send_stateless(msg, peer));
        Ok(())
    }

    /// The TU matched the ACK for a 2xx it sent: stop retransmitting that 2xx.
    pub async fn ack_received(&self, invite_key: TransactionKey) -> Result<(), EndpointError> {
        self.shared()?.with_layer(|layer, _| {
            layer.ack_received(&invite_key);
        });
        Ok(())
    }

    /// The bound listeners.
    pub fn local_addrs(&self) -> &[(Transport, SocketAddr)] {
        &self.local
    }

    /// The bound address of the first listener of `transport`.
    pub fn local_addr(&self, transport: Transport) -> Option<SocketAddr> {
        self.local
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, a)| *a)
    }
}

/// Binds the transports and starts the endpoint's timer task.
/// Events go out on an unbounded channel: the layer runs on the transports' receive tasks
/// and the TU's own task, and neither may wait on a slow TU (the TU awaits nothing from
/// them, but a bounded queue would stall every socket behind one busy consumer).
pub async fn start(
    config: EndpointConfig,
) -> std::io::Result<(EndpointHandle, mpsc::UnboundedReceiver<EndpointEvent>)> {
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let (connected_tx, connected_rx) = mpsc::unbounded_channel();
    let (backlog_tx, backlog_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        core: Mutex::new(Core {
            layer: TransactionLayer::new(config.timers),
            connecting: HashMap::new(),
            armed: None,
        }),
        transports: OnceLock::new(),
        events: ev_tx,
        timer: Notify::new(),
        stopped: AtomicBool::new(false),
        connected: connected_tx,
        backlog: backlog_tx,
    });
    let sink_shared = shared.clone();
    let sink = Sink::new(move |incoming| sink_shared.on_incoming(incoming));
    let transports = match Transports::bind_with_tls(&config.listen, sink, config.tls.clone()).await
    {
        Ok(t) => t,
        Err(e) => {
            shared.stop();
            return Err(e);
        }
    };
    let local = transports.local_addrs();
    let _ = shared.transports.set(transports);
    // Whatever arrived while the listeners were still being bound was answered into the
    // layer; its transmits go out now.
    shared.with_layer(|_, _| ());
    tokio::spawn(run_timers(shared.clone(), connected_rx));
    tokio::spawn(run_backlog(shared.clone(), backlog_rx));
    Ok((
        EndpointHandle {
            shared: Arc::new(StopOnDrop(shared)),
            local,
        },
        ev_rx,
    ))
}

/// The layer's timers, and stream connects finishing. The only task of the endpoint that
/// sleeps; it wakes when the next deadline comes or moves earlier.
async fn run_timers(
    shared: Arc<Shared>,
    mut connected: mpsc::UnboundedReceiver<(Peer, Result<(), String>)>,
) {
    loop {
        if shared.stopped.load(Ordering::Relaxed) {
            break;
        }
        let deadline = shared.lock().armed;
        tokio::select! {
            _ = sleep_until(deadline) => {
                let mut core = shared.lock();
                core.layer.handle_timeout(std::time::Instant::now());
                core.armed = core.layer.poll_timeout().map(Instant::from_std);
                shared.flush(&mut core);
            }
            _ = shared.timer.notified() => {}
            done = connected.recv() => {
                let Some((peer, result)) = done else { break };
                let mut core = shared.lock();
                let queued = core.connecting.remove(&peer).unwrap_or_default();
                let stream = shared.transports.get().and_then(|t| t.stream(peer.transport));
                for (bytes, key) in queued {
                    let sent = match (&result, stream) {
                        (Ok(()), Some(s)) => matches!(s.send_connected(peer.addr, bytes), Some(Ok(()))),
                        _ => false,
                    };
                    if !sent {
                        tracing::debug!(%peer, error = ?result, "connect failed");
                        if let Some(k) = key {
                            core.layer.handle_transport_error(&k, std::time::Instant::now());
                        }
                    }
                }
                shared.flush(&mut core);
            }
        }
    }
}

/// UDP datagrams that met a full send buffer, sent when the socket drains. Rare: they
/// may overtake nothing that matters, UDP promises no order.
async fn run_backlog(
    shared: Arc<Shared>,
    mut backlog: mpsc::UnboundedReceiver<(Peer, Bytes, Option<TransactionKey>)>,
) {
    while let Some((peer, bytes, key)) = backlog.recv().await {
        if shared.stopped.load(Ordering::Relaxed) {
            break;
        }
        let Some(transports) = shared.transports.get() else {
            continue;
        };
        if let Err(e) = transports.send(peer, bytes).await {
            tracing::debug!(%peer, error = %e, "send failed");
            if let Some(k) = key {
                shared.with_layer(|layer, now| layer.handle_transport_error(&k, now));
            }
        }
    }
}

/// RFC 3261 §18.1.1: a request within 200 bytes of the path MTU (1500) goes over TCP when
/// it would have gone over UDP, with its top Via saying so. Congestion-controlled transport
/// for large messages; the caller learns the transport from the returned peer.
fn switch_to_tcp_above_mtu(req: Message, peer: Peer, have_tcp: bool) -> (Message, Peer) {
    if peer.transport != Transport::Udp
        || !have_tcp
        || req.as_bytes().len() <= crate::transport::UDP_MTU_LIMIT
    {
        return (req, peer);
    }
    let Ok(via) = req.top_via() else {
        return (req, peer);
    };
    if !via.transport.eq_ignore_ascii_case("UDP") {
        return (req, peer);
    }
    let first = req.get(sip::HeaderName::Via).unwrap_or("");
    let new_first = match first.find(via.transport) {
        Some(i) => format!("{}TCP{}", &first[..i], &first[i + via.transport.len()..]),
        None => return (req, peer),
    };
    match req.edit().replace(sip::HeaderName::Via, new_first).finish() {
        Ok(m) => (m, Peer::new(peer.addr, Transport::Tcp)),
        Err(_) => (req, peer),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip::builder::RequestBuilder;
    use sip::Method;

    fn request(body_len: usize) -> Message {
        RequestBuilder::new(&Method::Message, &"sip:bob@127.0.0.1")
            .header(
                sip::HeaderName::Via,
                "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKmtu;rport",
            )
            .header(sip::HeaderName::From, "<sip:a@127.0.0.1>;tag=1")
            .header(sip::HeaderName::To, "<sip:bob@127.0.0.1>")
            .header(sip::HeaderName::CallId, "mtu")
            .header(sip::HeaderName::CSeq, "1 MESSAGE")
            .body("text/plain", Bytes::from(vec![b'x'; body_len]))
            .build()
            .unwrap()
    }

    #[test]
    fn large_udp_requests_move_to_tcp_with_their_via() {
        let peer = Peer::new("127.0.0.1:5062".parse().unwrap(), Transport::Udp);
        let (m, p) = switch_to_tcp_above_mtu(request(1400), peer, true);
        assert_eq!(p.transport, Transport::Tcp);
        let via = m.top_via().unwrap();
        assert_eq!(via.transport, "TCP");
        assert_eq!(via.branch(), Some("z9hG4bKmtu"));
        assert_eq!(m.body().len(), 1400);
    }

    #[test]
    fn small_requests_and_no_tcp_stay_on_udp() {
        let peer = Peer::new("127.0.0.1:5062".parse().unwrap(), Transport::Udp);
        let (m, p) = switch_to_tcp_above_mtu(request(100), peer, true);
        assert_eq!(
            (p.transport, m.top_via().unwrap().transport),
            (Transport::Udp, "UDP")
        );
        let (_, p) = switch_to_tcp_above_mtu(request(1400), peer, false);
        assert_eq!(p.transport, Transport::Udp);
    }
}
