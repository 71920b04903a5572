//! Where a message comes from or goes to: a socket address and the transport protocol.
//! The transport decides whether the transaction layer retransmits (RFC 3261 §17: only
//! over unreliable transports) and how long it lingers (Timers D, I, J and K are zero over
//! reliable ones).

use std::fmt;
use std::net::SocketAddr;

/// A SIP transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP (RFC 3261 §18), the only unreliable one.
    Udp,
    /// TCP (RFC 3261 §18).
    Tcp,
    /// TLS over TCP (RFC 3261 §26.2).
    Tls,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
}

impl Transport {
    /// True for stream transports, over which the transaction layer never retransmits.
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The Via transport token (`UDP`, `TCP`, `TLS`, `WS`, `WSS`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// Reads a Via transport token, case-insensitively.
    pub fn from_via_token(token: &str) -> Option<Transport> {
        [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Ws,
            Transport::Wss,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(token))
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The far end of a message: its address and the transport it travels over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The remote socket address.
    pub addr: SocketAddr,
    /// The transport protocol.
    pub transport: Transport,
}

impl Peer {
    /// A peer at `addr` over `transport`.
    pub fn new(addr: SocketAddr, transport: Transport) -> Peer {
        Peer { addr, transport }
    }

    /// True when the transport is reliable (see [`Transport::is_reliable`]).
    pub fn is_reliable(&self) -> bool {
        self.transport.is_reliable()
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_udp_is_unreliable_and_tokens_round_trip() {
        assert!(!Transport::Udp.is_reliable());
        for t in [
            Transport::Tcp,
            Transport::Tls,
            Transport::Ws,
            Transport::Wss,
        ] {
            assert!(t.is_reliable());
            assert_eq!(
                Transport::from_via_token(&t.as_str().to_lowercase()),
                Some(t)
            );
        }
        assert_eq!(Transport::from_via_token("SCTP"), None);
    }
}
