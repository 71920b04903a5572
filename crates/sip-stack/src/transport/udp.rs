//! The UDP transport: one socket, one receive task. Each datagram is one message
//! (RFC 3261 §18.3); CRLF keep-alives are dropped.

use super::{stamp_received, Incoming, Peer, SendError, Sink, Transport, TrySendError};
use bytes::Bytes;
use sip::Message;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;

/// A bound UDP socket.
#[derive(Clone, Debug)]
pub struct UdpTransport {
    socket: Arc<UdpSocket>,
    local: SocketAddr,
}

impl UdpTransport {
    /// Binds and starts handing what arrives to `sink`.
    pub async fn bind(addr: SocketAddr, sink: Sink) -> std::io::Result<Self> {
        let socket = Arc::new(UdpSocket::bind(addr).await?);
        let local = socket.local_addr()?;
        let rx_sock = socket.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                let (n, from) = match rx_sock.recv_from(&mut buf).await {
                    Ok(v) => v,
                    Err(e) => {
                        // ICMP errors surface here on some platforms; keep serving.
                        tracing::debug!(%local, error = %e, "udp receive error");
                        continue;
                    }
                };
                let data = &buf[..n];
                if data.iter().all(|&b| b == b'\r' || b == b'\n') {
                    continue; // keep-alive
                }
                let bytes = Bytes::copy_from_slice(data);
                let peer = Peer::new(from, Transport::Udp);
                let incoming =
                    match Message::parse(bytes.clone()).and_then(|m| stamp_received(m, from)) {
                        Ok(msg) => Incoming::Message { msg, peer },
                        Err(error) => Incoming::Malformed { bytes, error, peer },
                    };
                if !sink.deliver(incoming) {
                    break;
                }
            }
        });
        Ok(UdpTransport { socket, local })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends one datagram if the socket can take it now.
    pub fn try_send(&self, to: SocketAddr, bytes: Bytes) -> Result<(), TrySendError> {
        match self.socket.try_send_to(&bytes, to) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                Err(TrySendError::WouldBlock(bytes))
            }
            Err(source) => Err(TrySendError::Failed(SendError::Io {
                transport: Transport::Udp,
                addr: to,
                source,
            })),
        }
    }

    /// Sends one datagram.
    pub async fn send(&self, to: SocketAddr, bytes: &[u8]) -> Result<(), SendError> {
        self.socket
            .send_to(bytes, to)
            .await
            .map(|_| ())
            .map_err(|source| SendError::Io {
                transport: Transport::Udp,
                addr: to,
                source,
            })
    }
}
