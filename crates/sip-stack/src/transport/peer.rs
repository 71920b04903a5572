//! Who a message came from or goes to: a socket address and the transport.

use std::fmt;
use std::net::SocketAddr;

/// A SIP transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP (unreliable: transactions retransmit).
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP (sips:).
    Tls,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket.
    Wss,
}

impl Transport {
    /// Reliable transports make the transaction layer skip retransmissions.
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The name used in Via headers.
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// Parses a Via transport or `transport=` URI parameter.
    pub fn from_name(s: &str) -> Option<Transport> {
        Some(match s.to_ascii_uppercase().as_str() {
            "UDP" => Transport::Udp,
            "TCP" => Transport::Tcp,
            "TLS" => Transport::Tls,
            "WS" => Transport::Ws,
            "WSS" => Transport::Wss,
            _ => return None,
        })
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.via_name().to_ascii_lowercase())
    }
}

/// A remote address and transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The remote socket address.
    pub addr: SocketAddr,
    /// The transport.
    pub transport: Transport,
}

impl Peer {
    /// A peer.
    pub fn new(addr: SocketAddr, transport: Transport) -> Peer {
        Peer { addr, transport }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.addr)
    }
}
