//! The stream transports, TCP and TLS: a listener plus a table of open connections, reused
//! in both directions (RFC 3261 §18). Messages are framed by Content-Length; a double-CRLF
//! ping is answered with a CRLF pong (RFC 5626 §3.5.1). A framing error closes the
//! connection, since a stream cannot be resynchronised. TLS is the same transport with a
//! rustls handshake in front (see [`super::tls`]).

use super::tls::TlsSettings;
use super::{stamp_received, Incoming, Peer, SendError, Sink, Transport};
use bytes::{Bytes, BytesMut};
use rustls_pki_types::ServerName;
use sip::{frame_length, Framing, Message};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Connections idle this long are closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

struct Inner {
    local: SocketAddr,
    kind: Transport,
    tls: Option<TlsSettings>,
    conns: Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>>>,
    sink: Sink,
}

/// A TCP or TLS listener and its connections.
#[derive(Clone)]
pub struct TcpTransport {
    inner: Arc<Inner>,
}

impl TcpTransport {
    /// Binds a TCP listener, and accepts connections in the background.
    pub async fn bind(addr: SocketAddr, sink: Sink) -> std::io::Result<Self> {
        Self::bind_stream(addr, sink, None).await
    }

    /// Binds a TLS listener with these settings.
    pub async fn bind_tls(addr: SocketAddr, sink: Sink, tls: TlsSettings) -> std::io::Result<Self> {
        Self::bind_stream(addr, sink, Some(tls)).await
    }

    async fn bind_stream(
        addr: SocketAddr,
        sink: Sink,
        tls: Option<TlsSettings>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let inner = Arc::new(Inner {
            local,
            kind: if tls.is_some() {
                Transport::Tls
            } else {
                Transport::Tcp
            },
            tls,
            conns: Mutex::new(HashMap::new()),
            sink,
        });
        let acc = inner.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, from)) => {
                        let _ = stream.set_nodelay(true);
                        match acc.tls.clone() {
                            None => spawn_connection(acc.clone(), stream, from),
                            Some(tls) => {
                                // Handshake off the accept loop; a slow client stalls only itself.
                                let acc = acc.clone();
                                tokio::spawn(async move {
                                    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server);
                                    match tokio::time::timeout(
                                        CONNECT_TIMEOUT,
                                        acceptor.accept(stream),
                                    )
                                    .await
                                    {
                                        Ok(Ok(s)) => spawn_connection(acc, s, from),
                                        Ok(Err(e)) => {
                                            tracing::info!(%from, error = %e, "TLS handshake failed")
                                        }
                                        Err(_) => tracing::info!(%from, "TLS handshake timed out"),
                                    }
                                });
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(%local, error = %e, "tcp accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        Ok(TcpTransport { inner })
    }

    /// TCP or TLS.
    pub fn kind(&self) -> Transport {
        self.inner.kind
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// Number of open connections.
    pub fn connection_count(&self) -> usize {
        self.inner.conns.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Queues `bytes` on the open connection to `to`. Returns `None` when there is no
    /// connection (then [`TcpTransport::connect`] first). Writes on one connection keep
    /// their order: a 180 never overtakes the 200 that follows it.
    pub fn send_connected(&self, to: SocketAddr, bytes: Bytes) -> Option<Result<(), SendError>> {
        let sender = self.inner.conns.lock().ok()?.get(&to).cloned()?;
        Some(sender.send(bytes).map_err(|_| SendError::Io {
            transport: self.inner.kind,
            addr: to,
            source: std::io::ErrorKind::BrokenPipe.into(),
        }))
    }

    /// Opens a connection to `to` (no-op when one is open).
    pub async fn connect(&self, to: SocketAddr) -> Result<(), SendError> {
        if self
            .inner
            .conns
            .lock()
            .map(|c| c.contains_key(&to))
            .unwrap_or(false)
        {
            return Ok(());
        }
        let kind = self.inner.kind;
        let io = |source| SendError::Io {
            transport: kind,
            addr: to,
            source,
        };
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(to))
            .await
            .map_err(|_| io(std::io::ErrorKind::TimedOut.into()))?
            .map_err(io)?;
        let _ = stream.set_nodelay(true);
        match &self.inner.tls {
            None => spawn_connection(self.inner.clone(), stream, to),
            Some(tls) => {
                // Without a host name the certificate must name the IP address.
                let name = ServerName::IpAddress(to.ip().into());
                let connector = tokio_rustls::TlsConnector::from(tls.client.clone());
                let s = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, stream))
                    .await
                    .map_err(|_| io(std::io::ErrorKind::TimedOut.into()))?
                    .map_err(io)?;
                spawn_connection(self.inner.clone(), s, to);
            }
        }
        Ok(())
    }

    /// Sends over the open connection to `to`, connecting first when there is none.
    pub async fn send(&self, to: SocketAddr, bytes: Bytes) -> Result<(), SendError> {
        if let Some(r) = self.send_connected(to, bytes.clone()) {
            return r;
        }
        self.connect(to).await?;
        self.send_connected(to, bytes).unwrap_or(Err(SendError::Io {
            transport: self.inner.kind,
            addr: to,
            source: std::io::ErrorKind::NotConnected.into(),
        }))
    }
}

fn spawn_connection<S>(inner: Arc<Inner>, stream: S, peer_addr: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    // Unbounded: the protocol task must never wait on a slow peer's socket.
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Bytes>();
    if let Ok(mut c) = inner.conns.lock() {
        c.insert(peer_addr, out_tx.clone());
    }
    let (mut rd, mut wr) = tokio::io::split(stream);
    let pong_tx = out_tx.clone();
    tokio::spawn(async move {
        while let Some(b) = out_rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let peer = Peer::new(peer_addr, inner.kind);
        let mut buf = BytesMut::with_capacity(8192);
        'conn: loop {
            let read = tokio::time::timeout(IDLE_TIMEOUT, rd.read_buf(&mut buf)).await;
            match read {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                Ok(Ok(_)) => {}
            }
            loop {
                // RFC 5626 keep-alive: a double CRLF ping gets a single CRLF pong.
                if buf.starts_with(b"\r\n\r\n") {
                    let _ = buf.split_to(4);
                    let _ = pong_tx.send(Bytes::from_static(b"\r\n"));
                    continue;
                }
                if buf.len() <= 2 && buf.iter().all(|&b| b == b'\r' || b == b'\n') {
                    if buf.as_ref() == b"\r\n" {
                        buf.clear(); // a pong, or a lone CRLF between messages
                    }
                    break;
                }
                match frame_length(&buf) {
                    Ok(Some(n)) => {
                        let bytes = buf.split_to(n).freeze();
                        let incoming = match Message::parse_framed(bytes.clone(), Framing::Stream)
                            .and_then(|m| stamp_received(m, peer_addr))
                        {
                            Ok(msg) => Incoming::Message { msg, peer },
                            Err(error) => Incoming::Malformed { bytes, error, peer },
                        };
                        if !inner.sink.deliver(incoming) {
                            break 'conn;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        let bytes = buf.split().freeze();
                        inner
                            .sink
                            .deliver(Incoming::Malformed { bytes, error, peer });
                        break 'conn;
                    }
                }
            }
        }
        if let Ok(mut c) = inner.conns.lock() {
            c.remove(&peer_addr);
        }
    });
}
