//! The outcome of server location: the servers to try, in order, consumed one at a time so
//! that a request can fail over to the next one (RFC 3263 §4.3).
//!
//! Take a [`Peer`] with [`Iterator::next`] and send the request there. When the
//! transaction times out, the transport reports an error, or a 503 comes back, take the
//! next peer and send the request again as a new client transaction (new branch). An ACK
//! for a non-2xx response and a CANCEL go to the same peer as the request they belong to.

use super::blacklist::Blacklist;
use crate::transport::Peer;
use std::time::Instant;

/// The ordered servers to try for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    peers: Vec<Peer>,
    next: usize,
    server_name: Option<String>,
}

impl Plan {
    /// A plan over `peers`, in order. `server_name` is the domain being located.
    pub fn new(peers: Vec<Peer>, server_name: Option<String>) -> Plan {
        Plan {
            peers,
            next: 0,
            server_name,
        }
    }

    /// Every peer of the plan, in order, including those already taken.
    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }

    /// The peers not yet taken.
    pub fn remaining(&self) -> &[Peer] {
        self.peers.get(self.next..).unwrap_or_default()
    }

    /// True when every peer has been taken: failover has nowhere left to go.
    pub fn is_exhausted(&self) -> bool {
        self.remaining().is_empty()
    }

    /// The domain the URI named (not the SRV target), which a TLS server's certificate
    /// must match (RFC 5922 §4). `None` for a numeric target.
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// Moves the remaining peers `blacklist` currently blocks behind the others, keeping
    /// the order within each group, so that they are tried only as a last resort.
    pub fn avoid(&mut self, blacklist: &Blacklist, now: Instant) {
        let start = self.next.min(self.peers.len());
        let rest = &mut self.peers[start..];
        rest.sort_by_key(|p| blacklist.is_blocked(p, now));
    }

    /// The peers, in order.
    pub fn into_peers(self) -> Vec<Peer> {
        self.peers
    }
}

impl Iterator for Plan {
    type Item = Peer;

    fn next(&mut self) -> Option<Peer> {
        let peer = self.peers.get(self.next).copied();
        if peer.is_some() {
            self.next += 1;
        }
        peer
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining().len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for Plan {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Transport;
    use std::time::Duration;

    fn peer(last: u8, transport: Transport) -> Peer {
        Peer::new(([192, 0, 2, last], 5060).into(), transport)
    }

    #[test]
    fn failover_walks_the_peers_in_order() {
        let peers = vec![
            peer(1, Transport::Udp),
            peer(2, Transport::Tcp),
            peer(3, Transport::Udp),
        ];
        let mut plan = Plan::new(peers.clone(), Some("pbx.test".into()));
        assert_eq!(plan.server_name(), Some("pbx.test"));
        assert_eq!(plan.len(), 3);
        assert_eq!(plan.next(), Some(peers[0]));
        assert_eq!(plan.remaining(), &peers[1..]);
        assert_eq!(plan.next(), Some(peers[1]));
        assert_eq!(plan.next(), Some(peers[2]));
        assert!(plan.is_exhausted());
        assert_eq!(plan.next(), None);
        assert_eq!(plan.peers(), peers.as_slice());
    }

    #[test]
    fn blocked_peers_move_to_the_end() {
        let now = Instant::now();
        let peers = vec![
            peer(1, Transport::Udp),
            peer(2, Transport::Udp),
            peer(3, Transport::Udp),
            peer(4, Transport::Udp),
        ];
        let mut blacklist = Blacklist::default();
        blacklist.failed(peers[0], now);
        blacklist.failed(peers[2], now);
        let mut plan = Plan::new(peers.clone(), None);
        plan.avoid(&blacklist, now);
        assert_eq!(plan.remaining(), [peers[1], peers[3], peers[0], peers[2]]);
        // Once the block expires the order is the DNS order again.
        let mut plan = Plan::new(peers.clone(), None);
        plan.avoid(&blacklist, now + Duration::from_secs(3600));
        assert_eq!(plan.remaining(), peers.as_slice());
    }

    #[test]
    fn avoid_leaves_taken_peers_alone() {
        let now = Instant::now();
        let peers = vec![
            peer(1, Transport::Udp),
            peer(2, Transport::Udp),
            peer(3, Transport::Udp),
        ];
        let mut blacklist = Blacklist::default();
        blacklist.failed(peers[1], now);
        let mut plan = Plan::new(peers.clone(), None);
        assert_eq!(plan.next(), Some(peers[0]));
        plan.avoid(&blacklist, now);
        assert_eq!(plan.collect::<Vec<_>>(), [peers[2], peers[1]]);
    }
}
