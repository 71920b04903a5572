//! SIP over WebSocket (RFC 7118), for browsers and WebRTC gateways: a listener that
//! upgrades HTTP connections with the `sip` subprotocol (over TLS for `wss`), one SIP
//! message per WebSocket message, in text or binary frames. Connections are kept in a
//! table so responses and in-dialog requests go back over them. ViaWork does not open
//! WebSocket connections itself: browsers connect to it.

use super::tls::TlsSettings;
use super::{stamp_received, Incoming, Peer, SendError, Sink, Transport};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sip::{Framing, Message};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::Message as WsMessage;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

struct Inner {
    local: SocketAddr,
    kind: Transport,
    conns: Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>>>,
    sink: Sink,
}

/// A WebSocket (or secure WebSocket) listener and its connections.
#[derive(Clone)]
pub struct WsTransport {
    inner: Arc<Inner>,
}

/// Accepts the upgrade only when the client offers the `sip` subprotocol (RFC 7118 §4.1),
/// and answers with it.
#[allow(clippy::result_large_err)]
fn negotiate(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let offers_sip = req
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("sip"));
    if !offers_sip {
        let mut e = ErrorResponse::new(Some("the sip WebSocket subprotocol is required".into()));
        *e.status_mut() = StatusCode::BAD_REQUEST;
        return Err(e);
    }
    resp.headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static("sip"));
    Ok(resp)
}

impl WsTransport {
    /// Binds a `ws` listener, or a `wss` one when `tls` is given.
    pub async fn bind(
        addr: SocketAddr,
        sink: Sink,
        tls: Option<TlsSettings>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let inner = Arc::new(Inner {
            local,
            kind: if tls.is_some() {
                Transport::Wss
            } else {
                Transport::Ws
            },
            conns: Mutex::new(HashMap::new()),
            sink,
        });
        let acc = inner.clone();
        tokio::spawn(async move {
            loop {
                let (stream, from) = match listener.accept().await {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!(%local, error = %e, "websocket accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let acc = acc.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => upgrade(acc, stream, from).await,
                        Some(tls) => {
                            let acceptor = tokio_rustls::TlsAcceptor::from(tls.server);
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(s)) => upgrade(acc, s, from).await,
                                _ => tracing::info!(%from, "TLS handshake for wss failed"),
                            }
                        }
                    }
                });
            }
        });
        Ok(WsTransport { inner })
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// WS or WSS.
    pub fn kind(&self) -> Transport {
        self.inner.kind
    }

    /// Queues a message on the open connection from `to`.
    pub fn send(&self, to: SocketAddr, bytes: Bytes) -> Result<(), SendError> {
        let err = |k| SendError::Io {
            transport: self.inner.kind,
            addr: to,
            source: std::io::Error::from(k),
        };
        let sender = self
            .inner
            .conns
            .lock()
            .ok()
            .and_then(|c| c.get(&to).cloned())
            .ok_or_else(|| err(std::io::ErrorKind::NotConnected))?;
        sender
            .send(bytes)
            .map_err(|_| err(std::io::ErrorKind::BrokenPipe))
    }
}

async fn upgrade<S>(inner: Arc<Inner>, stream: S, from: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ws = match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        tokio_tungstenite::accept_hdr_async(stream, negotiate),
    )
    .await
    {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::info!(%from, error = %e, "websocket upgrade refused");
            return;
        }
        Err(_) => return,
    };
    let (mut sink, mut source) = ws.split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Bytes>();
    if let Ok(mut c) = inner.conns.lock() {
        c.insert(from, out_tx);
    }
    let writer = tokio::spawn(async move {
        while let Some(b) = out_rx.recv().await {
            // SIP is UTF-8 text in practice; binary frames carry anything else.
            let msg = match String::from_utf8(b.to_vec()) {
                Ok(t) => WsMessage::Text(t.into()),
                Err(e) => WsMessage::Binary(e.into_bytes().into()),
            };
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let peer = Peer::new(from, inner.kind);
    loop {
        let next = match tokio::time::timeout(IDLE_TIMEOUT, source.next()).await {
            Ok(Some(Ok(m))) => m,
            _ => break,
        };
        let bytes = match next {
            WsMessage::Text(t) => Bytes::copy_from_slice(t.as_bytes()),
            WsMessage::Binary(b) => Bytes::copy_from_slice(&b),
            WsMessage::Close(_) => break,
            _ => continue, // ping/pong are answered by tungstenite
        };
        // One SIP message per WebSocket message (RFC 7118 §5): datagram framing.
        let incoming = match Message::parse_framed(bytes.clone(), Framing::Datagram)
            .and_then(|m| stamp_received(m, from))
        {
            Ok(msg) => Incoming::Message { msg, peer },
            Err(error) => Incoming::Malformed { bytes, error, peer },
        };
        if !inner.sink.deliver(incoming) {
            break;
        }
    }
    if let Ok(mut c) = inner.conns.lock() {
        c.remove(&from);
    }
    writer.abort();
}
