//! The tokio driver around the sans-IO [`TransactionLayer`]: one task owns the layer and
//! the clock; transports feed it; the transaction user (TU) talks to it through an
//! [`EndpointHandle`] and receives [`EndpointEvent`]s on a channel.
//!
//! The task is the only place time enters the stack: it hands `Instant::now()` to the
//! layer on every input and sleeps until the layer's next deadline.

use crate::transaction::{
    Peer, TimerConfig, TransactionError, TransactionKey, TransactionLayer, Transport, TuEvent,
};
use crate::transport::response_target::ResponseTarget;
use crate::transport::{response_target, Incoming, Transports};
use bytes::Bytes;
use sip::{Message, ParseError};
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};
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

enum Command {
    Request(
        Message,
        Peer,
        oneshot::Sender<Result<TransactionKey, TransactionError>>,
    ),
    Response(
        TransactionKey,
        Message,
        oneshot::Sender<Result<(), TransactionError>>,
    ),
    Stateless(Message, Peer),
    AckReceived(TransactionKey),
}

/// The TU's side of a running endpoint. Cheap to clone.
#[derive(Clone)]
pub struct EndpointHandle {
    cmd: mpsc::Sender<Command>,
    local: Vec<(Transport, SocketAddr)>,
}

impl EndpointHandle {
    /// Sends a request in a new client transaction.
    pub async fn send_request(
        &self,
        req: Message,
        peer: Peer,
    ) -> Result<TransactionKey, EndpointError> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Command::Request(req, peer, tx))
            .await
            .map_err(|_| EndpointError::Stopped)?;
        Ok(rx.await.map_err(|_| EndpointError::Stopped)??)
    }

    /// Sends a response on a server transaction.
    pub async fn send_response(
        &self,
        key: TransactionKey,
        resp: Message,
    ) -> Result<(), EndpointError> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Command::Response(key, resp, tx))
            .await
            .map_err(|_| EndpointError::Stopped)?;
        Ok(rx.await.map_err(|_| EndpointError::Stopped)??)
    }

    /// Sends a message outside any transaction (an ACK for a 2xx, a stateless response).
    pub async fn send_stateless(&self, msg: Message, peer: Peer) -> Result<(), EndpointError> {
        self.cmd
            .send(Command::Stateless(msg, peer))
            .await
            .map_err(|_| EndpointError::Stopped)
    }

    /// The TU matched the ACK for a 2xx it sent: stop retransmitting that 2xx.
    pub async fn ack_received(&self, invite_key: TransactionKey) -> Result<(), EndpointError> {
        self.cmd
            .send(Command::AckReceived(invite_key))
            .await
            .map_err(|_| EndpointError::Stopped)
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

/// Binds the transports and starts the endpoint task.
/// Events go out on an unbounded channel: the TU awaits command replies from this task, so
/// a bounded event queue could deadlock the two under load.
pub async fn start(
    config: EndpointConfig,
) -> std::io::Result<(EndpointHandle, mpsc::UnboundedReceiver<EndpointEvent>)> {
    let (in_tx, in_rx) = mpsc::channel::<Incoming>(8192);
    let transports = Transports::bind_with_tls(&config.listen, in_tx, config.tls.clone()).await?;
    let local = transports.local_addrs();
    let (cmd_tx, cmd_rx) = mpsc::channel(8192);
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let layer = TransactionLayer::new(config.timers);
    tokio::spawn(run(layer, transports, in_rx, cmd_rx, ev_tx));
    Ok((EndpointHandle { cmd: cmd_tx, local }, ev_rx))
}

async fn run(
    mut layer: TransactionLayer,
    transports: Transports,
    mut in_rx: mpsc::Receiver<Incoming>,
    mut cmd_rx: mpsc::Receiver<Command>,
    ev_tx: mpsc::UnboundedSender<EndpointEvent>,
) {
    type Queued = Vec<(Bytes, Option<TransactionKey>)>;
    let mut connecting: HashMap<Peer, Queued> = HashMap::new();
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel::<(Peer, Result<(), String>)>();
    loop {
        let deadline = layer.poll_timeout().map(Instant::from_std);
        tokio::select! {
            cmd = cmd_rx.recv() => {
                let Some(cmd) = cmd else { break };
                let now = std::time::Instant::now();
                match cmd {
                    Command::Request(req, peer, reply) => {
                        let (req, peer) = switch_to_tcp_above_mtu(req, peer, transports.tcp().is_some());
                        let _ = reply.send(layer.send_request(req, peer, now));
                    }
                    Command::Response(key, resp, reply) => {
                        let _ = reply.send(layer.send_response(&key, resp, now));
                    }
                    Command::Stateless(msg, peer) => layer.send_stateless(msg, peer),
                    Command::AckReceived(key) => {
                        layer.ack_received(&key);
                    }
                }
            }
            incoming = in_rx.recv() => {
                let Some(incoming) = incoming else { break };
                match incoming {
                    Incoming::Message { msg, peer } => layer.handle_message(msg, peer, std::time::Instant::now()),
                    Incoming::Malformed { bytes, error, peer } => {
                        if ev_tx.send(EndpointEvent::Malformed { bytes, error, peer }).is_err() {
                            break;
                        }
                    }
                }
            }
            done = conn_rx.recv() => {
                if let Some((peer, result)) = done {
                    let queued = connecting.remove(&peer).unwrap_or_default();
                    let stream = transports.stream(peer.transport);
                    for (bytes, key) in queued {
                        let sent = match (&result, stream) {
                            (Ok(()), Some(s)) => matches!(s.send_connected(peer.addr, bytes), Some(Ok(()))),
                            _ => false,
                        };
                        if !sent {
                            tracing::debug!(%peer, error = ?result, "connect failed");
                            if let Some(k) = key {
                                layer.handle_transport_error(&k, std::time::Instant::now());
                            }
                        }
                    }
                }
            }
            _ = sleep_until(deadline) => {
                layer.handle_timeout(std::time::Instant::now());
            }
        }
        while let Some(t) = layer.poll_transmit() {
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
                Transport::Udp => transports.send(peer, bytes).await.err(),
                Transport::Tcp | Transport::Tls => match transports.stream(peer.transport) {
                    None => Some(crate::transport::SendError::NoTransport(peer.transport)),
                    Some(tcp) => {
                        if let Some(queue) = connecting.get_mut(&peer) {
                            queue.push((bytes, t.key));
                            None
                        } else {
                            match tcp.send_connected(peer.addr, bytes.clone()) {
                                Some(r) => r.err(),
                                None => {
                                    // Connect off the protocol task; messages for this peer
                                    // queue up meanwhile and go out in order.
                                    connecting.insert(peer, vec![(bytes, t.key)]);
                                    let tcp = tcp.clone();
                                    let conn_tx = conn_tx.clone();
                                    tokio::spawn(async move {
                                        let r = tcp.connect(peer.addr).await;
                                        let _ = conn_tx.send((peer, r.map_err(|e| e.to_string())));
                                    });
                                    None
                                }
                            }
                        }
                    }
                },
                // WebSocket peers connect to us; a queue push, in order, never blocks.
                Transport::Ws | Transport::Wss => transports.send(peer, bytes).await.err(),
            };
            if let Some(e) = failed {
                tracing::debug!(%peer, error = %e, "send failed");
                if let Some(k) = t.key {
                    layer.handle_transport_error(&k, std::time::Instant::now());
                }
            }
        }
        while let Some(e) = layer.poll_event() {
            if ev_tx.send(EndpointEvent::Tu(e)).is_err() {
                return;
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
