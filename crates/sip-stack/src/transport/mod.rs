//! Transports: the tokio side that owns sockets. UDP and TCP listeners (TLS and WebSocket
//! later) deliver parsed messages with the peer they came from; `send` picks the right
//! socket or connection. Framing, CRLF keep-alives (RFC 5626 §3.5.1), `received`/`rport`
//! stamping (RFC 3261 §18.2.1, RFC 3581) and response addressing (§18.2.2) live here.
//!
//! Everything protocol-shaped stays sans-IO elsewhere; this module only moves bytes.

mod received;
pub mod response_target;
mod tcp;
pub mod tls;
mod udp;
mod ws;

pub use crate::transaction::{Peer, Transport};
pub use received::stamp_received;
pub use response_target::response_target;
pub use tcp::TcpTransport;
pub use tls::{TlsError, TlsSettings};
pub use udp::UdpTransport;
pub use ws::WsTransport;

use bytes::Bytes;
use sip::{Message, ParseError};
use std::net::SocketAddr;
use std::sync::Arc;

/// What a transport hands up. Messages are the common case and stay unboxed.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Incoming {
    /// A framed and parsed message.
    Message {
        /// The message, with `received`/`rport` already stamped on requests.
        msg: Message,
        /// Where it came from.
        peer: Peer,
    },
    /// Bytes that did not parse. The server may still answer 400 when it can salvage
    /// enough of the header section (see `salvage` in the server).
    Malformed {
        /// The raw bytes.
        bytes: Bytes,
        /// Why they did not parse.
        error: ParseError,
        /// Where they came from.
        peer: Peer,
    },
}

/// Where a transport hands up what it receives. Called on the receiving task, in arrival
/// order per socket or connection, and expected to return quickly: the endpoint runs the
/// message through the transaction layer right there, so no task hand-over sits between a
/// datagram and its transaction. Returns `false` once nobody listens any more; the
/// transport then stops receiving.
#[derive(Clone)]
pub struct Sink(Arc<dyn Fn(Incoming) -> bool + Send + Sync>);

impl Sink {
    /// A sink calling `f`.
    pub fn new(f: impl Fn(Incoming) -> bool + Send + Sync + 'static) -> Sink {
        Sink(Arc::new(f))
    }

    /// Hands `incoming` up; `false` when nobody listens any more.
    pub fn deliver(&self, incoming: Incoming) -> bool {
        (self.0)(incoming)
    }
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

/// Why a send that may not wait did not go out.
#[derive(Debug)]
pub enum TrySendError {
    /// The UDP socket's send buffer is full: send these bytes later, asynchronously.
    WouldBlock(Bytes),
    /// The send failed.
    Failed(SendError),
}

/// Errors sending.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No listener for that transport.
    #[error("no {0:?} transport is configured")]
    NoTransport(Transport),
    /// The socket failed.
    #[error("{transport:?} send to {addr} failed: {source}")]
    Io {
        /// Which transport.
        transport: Transport,
        /// Destination.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// Message too big for UDP and no stream transport to fall back to.
    #[error("message of {0} bytes is too large for UDP")]
    TooLarge(usize),
}

/// The set of running transports, cheap to clone.
#[derive(Clone, Default)]
pub struct Transports {
    udp: Vec<UdpTransport>,
    tcp: Vec<TcpTransport>,
    tls: Vec<TcpTransport>,
    ws: Vec<WsTransport>,
}

/// A request larger than this goes over TCP instead of UDP (RFC 3261 §18.1.1: 200 bytes
/// below a 1500-byte path MTU).
pub const UDP_MTU_LIMIT: usize = 1300;

impl Transports {
    /// Binds the listeners in `listen` and hands what they receive to `sink`.
    pub async fn bind(
        listen: &[(Transport, SocketAddr)],
        sink: Sink,
    ) -> std::io::Result<Transports> {
        Self::bind_with_tls(listen, sink, None).await
    }

    /// Like [`Transports::bind`], with TLS settings for `tls` listeners and outgoing TLS.
    pub async fn bind_with_tls(
        listen: &[(Transport, SocketAddr)],
        sink: Sink,
        tls: Option<TlsSettings>,
    ) -> std::io::Result<Transports> {
        let mut t = Transports::default();
        for &(kind, addr) in listen {
            match kind {
                Transport::Udp => t.udp.push(UdpTransport::bind(addr, sink.clone()).await?),
                Transport::Tcp => t.tcp.push(TcpTransport::bind(addr, sink.clone()).await?),
                Transport::Tls => {
                    let settings = tls.clone().ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            "a tls listener needs a certificate and key",
                        )
                    })?;
                    t.tls
                        .push(TcpTransport::bind_tls(addr, sink.clone(), settings).await?)
                }
                Transport::Ws => {
                    t.ws.push(WsTransport::bind(addr, sink.clone(), None).await?)
                }
                Transport::Wss => {
                    let settings = tls.clone().ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            "a wss listener needs a certificate and key",
                        )
                    })?;
                    t.ws.push(WsTransport::bind(addr, sink.clone(), Some(settings)).await?)
                }
            }
        }
        Ok(t)
    }

    /// The bound local addresses, for logs and health checks.
    pub fn local_addrs(&self) -> Vec<(Transport, SocketAddr)> {
        let mut v: Vec<_> = self
            .udp
            .iter()
            .map(|u| (Transport::Udp, u.local_addr()))
            .collect();
        v.extend(self.tcp.iter().map(|t| (Transport::Tcp, t.local_addr())));
        v.extend(self.tls.iter().map(|t| (Transport::Tls, t.local_addr())));
        v.extend(self.ws.iter().map(|w| (w.kind(), w.local_addr())));
        v
    }

    /// The TCP transport, if one is bound.
    pub fn tcp(&self) -> Option<&TcpTransport> {
        self.tcp.first()
    }

    /// The stream transport for `transport` (TCP or TLS), if one is bound.
    pub fn stream(&self, transport: Transport) -> Option<&TcpTransport> {
        match transport {
            Transport::Tcp => self.tcp.first(),
            Transport::Tls => self.tls.first(),
            _ => None,
        }
    }

    /// Sends bytes to a peer over its transport. (Requests above [`UDP_MTU_LIMIT`] are
    /// moved to TCP, Via included, by the endpoint before their transaction starts.)
    pub async fn send(&self, peer: Peer, bytes: Bytes) -> Result<Peer, SendError> {
        match peer.transport {
            Transport::Udp => {
                let u = self.udp_for(peer.addr, bytes.len())?;
                u.send(peer.addr, &bytes).await?;
                Ok(peer)
            }
            Transport::Tcp | Transport::Tls => {
                let t = self
                    .stream(peer.transport)
                    .ok_or(SendError::NoTransport(peer.transport))?;
                t.send(peer.addr, bytes).await?;
                Ok(peer)
            }
            Transport::Ws | Transport::Wss => {
                let w = self
                    .ws_for(peer.transport)
                    .ok_or(SendError::NoTransport(peer.transport))?;
                w.send(peer.addr, bytes)?;
                Ok(peer)
            }
        }
    }

    /// Sends over UDP or WebSocket without waiting (stream transports are the endpoint's
    /// own business: it tracks their connecting peers). A full UDP send buffer gives the
    /// bytes back to be sent by [`Transports::send`] later.
    pub fn try_send(&self, peer: Peer, bytes: Bytes) -> Result<(), TrySendError> {
        match peer.transport {
            Transport::Udp => {
                let u = self
                    .udp_for(peer.addr, bytes.len())
                    .map_err(TrySendError::Failed)?;
                u.try_send(peer.addr, bytes)
            }
            Transport::Ws | Transport::Wss => {
                let w = self
                    .ws_for(peer.transport)
                    .ok_or(TrySendError::Failed(SendError::NoTransport(peer.transport)))?;
                w.send(peer.addr, bytes).map_err(TrySendError::Failed)
            }
            Transport::Tcp | Transport::Tls => {
                Err(TrySendError::Failed(SendError::NoTransport(peer.transport)))
            }
        }
    }

    /// The UDP socket for a datagram of `len` bytes to `addr`: one of its address family
    /// if there is one.
    fn udp_for(&self, addr: SocketAddr, len: usize) -> Result<&UdpTransport, SendError> {
        if len > 65_507 {
            return Err(SendError::TooLarge(len));
        }
        self.udp
            .iter()
            .find(|u| u.local_addr().is_ipv4() == addr.is_ipv4())
            .or(self.udp.first())
            .ok_or(SendError::NoTransport(Transport::Udp))
    }

    /// The WebSocket transport for `transport` (WS or WSS), if one is bound.
    pub fn ws_for(&self, transport: Transport) -> Option<&WsTransport> {
        self.ws.iter().find(|w| w.kind() == transport)
    }
}
