//! Where a response goes (RFC 3261 §18.2.2 with RFC 3581 §4): back over the connection
//! for stream transports; otherwise to `maddr`, or to `received` and `rport`, or to the
//! sent-by address.

use super::{Peer, Transport};
use sip::headers::Via;
use sip::Host;
use std::net::SocketAddr;

/// The destination of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseTarget {
    /// Send here.
    Peer(Peer),
    /// The sent-by is a host name: resolve it (RFC 3263 §5) and send there.
    Resolve {
        /// Host name.
        host: String,
        /// Port, if given.
        port: Option<u16>,
        /// Transport.
        transport: Transport,
    },
}

/// Decides where the response to a request goes. `from` is where the request came from.
pub fn response_target(via: &Via<'_>, from: Peer) -> ResponseTarget {
    if from.transport.is_reliable() {
        return ResponseTarget::Peer(from);
    }
    let default_port = 5060;
    if let Some(maddr) = via.maddr() {
        if let Ok(ip) = maddr.parse() {
            return ResponseTarget::Peer(Peer::new(
                SocketAddr::new(ip, via.port.unwrap_or(default_port)),
                from.transport,
            ));
        }
        return ResponseTarget::Resolve {
            host: maddr.to_owned(),
            port: via.port,
            transport: from.transport,
        };
    }
    if let Some(received) = via.received().and_then(|r| r.parse().ok()) {
        let port = match via.rport() {
            Some(Some(p)) => p,
            Some(None) => from.addr.port(),
            None => via.port.unwrap_or(default_port),
        };
        return ResponseTarget::Peer(Peer::new(SocketAddr::new(received, port), from.transport));
    }
    match via.host {
        Host::Domain(d) => ResponseTarget::Resolve {
            host: d.to_owned(),
            port: via.port,
            transport: from.transport,
        },
        h => {
            let ip = h.ip().unwrap_or(from.addr.ip());
            ResponseTarget::Peer(Peer::new(
                SocketAddr::new(ip, via.port.unwrap_or(default_port)),
                from.transport,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip::headers::TypedHeader;

    #[test]
    fn follows_received_and_rport() {
        let from = Peer::new("192.0.2.1:40000".parse().unwrap(), Transport::Udp);
        let v = Via::parse(
            "SIP/2.0/UDP h.example.com:5070;branch=z9hG4bK1;received=192.0.2.1;rport=40000",
        )
        .unwrap();
        assert_eq!(response_target(&v, from), ResponseTarget::Peer(from));
        let v = Via::parse("SIP/2.0/UDP h.example.com:5070;branch=z9hG4bK1;received=192.0.2.1")
            .unwrap();
        assert_eq!(
            response_target(&v, from),
            ResponseTarget::Peer(Peer::new("192.0.2.1:5070".parse().unwrap(), Transport::Udp))
        );
        let v = Via::parse("SIP/2.0/UDP 192.0.2.5;branch=z9hG4bK1").unwrap();
        assert_eq!(
            response_target(&v, from),
            ResponseTarget::Peer(Peer::new("192.0.2.5:5060".parse().unwrap(), Transport::Udp))
        );
        let tcp = Peer::new("192.0.2.1:40000".parse().unwrap(), Transport::Tcp);
        assert_eq!(response_target(&v, tcp), ResponseTarget::Peer(tcp));
    }
}
