//! Symmetric latching (RFC 4961 symmetric RTP, "comedia"): send media to the address the
//! remote actually sends from, which behind a NAT is not the address in its SDP.
//!
//! The SDP address is the starting point. The first packet from an acceptable source locks
//! the destination to that source; after that only packets from it are accepted, so a
//! stray or hostile sender cannot hijack the stream. Which sources are acceptable before
//! the lock depends on the mode: with `any_source` (latching on) any address, otherwise
//! only the SDP address's IP (a phone may still send from another port). A new SDP address
//! (a re-INVITE moving the media) unlocks.

use std::net::SocketAddr;

/// Where to send to one remote, and which sources to accept from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latch {
    expected: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    any_source: bool,
}

impl Latch {
    /// A latch with no SDP address yet. `any_source` accepts the first packet from anywhere.
    pub fn new(any_source: bool) -> Self {
        Latch {
            expected: None,
            latched: None,
            any_source,
        }
    }

    /// Sets the address from SDP. A different address than before unlocks the latch.
    pub fn set_expected(&mut self, addr: SocketAddr) {
        if self.expected == Some(addr) {
            return;
        }
        let keep = match (self.expected, self.latched) {
            // Packets arrived before the SDP did: keep the lock if the SDP agrees with it.
            (None, Some(l)) => self.any_source || l.ip() == addr.ip(),
            _ => false,
        };
        if !keep {
            self.latched = None;
        }
        self.expected = Some(addr);
    }

    /// Decides whether a packet from `src` is accepted, latching on the first one.
    pub fn accept(&mut self, src: SocketAddr) -> bool {
        match self.latched {
            Some(l) => l == src,
            None => {
                let ok = self.any_source || self.expected.is_some_and(|e| e.ip() == src.ip());
                if ok {
                    self.latched = Some(src);
                }
                ok
            }
        }
    }

    /// Where to send: the latched source, else the SDP address.
    pub fn destination(&self) -> Option<SocketAddr> {
        self.latched.or(self.expected)
    }

    /// The latched source, if a packet has been accepted.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn sends_to_sdp_address_until_the_first_packet_then_to_its_source() {
        let mut l = Latch::new(true);
        assert_eq!(l.destination(), None);
        l.set_expected(a("192.0.2.1:4000"));
        assert_eq!(l.destination(), Some(a("192.0.2.1:4000")));
        assert!(l.accept(a("198.51.100.7:31000")));
        assert_eq!(l.destination(), Some(a("198.51.100.7:31000")));
        // Locked: others are refused, the latched one still accepted.
        assert!(!l.accept(a("192.0.2.1:4000")));
        assert!(l.accept(a("198.51.100.7:31000")));
    }

    #[test]
    fn without_latching_only_the_sdp_ip_is_accepted() {
        let mut l = Latch::new(false);
        assert!(!l.accept(a("192.0.2.1:4000")), "no SDP yet");
        l.set_expected(a("192.0.2.1:4000"));
        assert!(!l.accept(a("198.51.100.7:4000")));
        assert!(l.accept(a("192.0.2.1:4002")));
        assert_eq!(l.destination(), Some(a("192.0.2.1:4002")));
    }

    #[test]
    fn a_new_sdp_address_unlocks() {
        let mut l = Latch::new(true);
        l.set_expected(a("192.0.2.1:4000"));
        assert!(l.accept(a("192.0.2.1:5000")));
        l.set_expected(a("192.0.2.1:4000"));
        assert_eq!(
            l.latched(),
            Some(a("192.0.2.1:5000")),
            "same SDP keeps the lock"
        );
        l.set_expected(a("192.0.2.9:6000"));
        assert_eq!(l.destination(), Some(a("192.0.2.9:6000")));
        assert!(l.accept(a("192.0.2.9:6002")));
        assert!(!l.accept(a("192.0.2.1:5000")));
    }

    #[test]
    fn early_packets_latch_before_the_sdp_answer_when_latching() {
        let mut l = Latch::new(true);
        assert!(l.accept(a("198.51.100.7:31000")));
        l.set_expected(a("192.0.2.1:4000"));
        assert_eq!(l.destination(), Some(a("198.51.100.7:31000")));
    }
}
