//! The pool of local RTP ports: even ports for RTP with RTCP on the next odd port
//! (RFC 3550 §11), handed out from a configured range.
//!
//! A port the pool thinks free may still be taken by another process, so allocation binds
//! both sockets and moves on to the next pair when either bind fails. The search starts
//! after the last pair handed out, so a just-released port is not reused at once and late
//! packets of an ended call do not land in a new one. A [`PortLease`] returns its pair to
//! the pool when dropped.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard};

use thiserror::Error;

/// Why no port pair could be had.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PortError {
    /// The configured range holds no even/odd pair (or starts at 0).
    #[error("RTP port range {min}-{max} holds no even RTP port with RTCP on the next port")]
    InvalidRange {
        /// Configured minimum.
        min: u16,
        /// Configured maximum.
        max: u16,
    },
    /// Every pair is in use or failed to bind.
    #[error(
        "no free RTP/RTCP port pair on {ip} in {min}-{max}: {in_use} of {capacity} pairs in use, \
         {bind_failures} failed to bind{}",
        last_error.map(|k| format!(" (last error: {k})")).unwrap_or_default()
    )]
    Exhausted {
        /// Address we bind on.
        ip: IpAddr,
        /// Configured minimum.
        min: u16,
        /// Configured maximum.
        max: u16,
        /// Pairs the pool has handed out.
        capacity: usize,
        /// Pairs currently leased.
        in_use: usize,
        /// Pairs that were free in the pool but could not be bound.
        bind_failures: usize,
        /// The last bind error, e.g. `AddrInUse`, or `AddrNotAvailable` for a wrong IP.
        last_error: Option<io::ErrorKind>,
    },
}

#[derive(Debug)]
struct State {
    in_use: Vec<bool>,
    cursor: usize,
}

/// A pool of RTP/RTCP port pairs over `[min, max]`. Cheap to clone; clones share the pool.
#[derive(Clone, Debug)]
pub struct PortPool {
    state: Arc<Mutex<State>>,
    min: u16,
    max: u16,
    first: u16,
}

/// Two bound sockets on an even port and the next one, and the lease that keeps the pair
/// reserved.
#[derive(Debug)]
pub struct BoundPair {
    /// The RTP socket (even port).
    pub rtp: UdpSocket,
    /// The RTCP socket (RTP port + 1).
    pub rtcp: UdpSocket,
    /// Returns the pair to the pool when dropped; keep it as long as the sockets.
    pub lease: PortLease,
}

/// A reserved pair; dropping it makes the pair available again.
#[derive(Debug)]
pub struct PortLease {
    state: Arc<Mutex<State>>,
    index: usize,
    port: u16,
}

impl PortLease {
    /// The RTP port (RTCP is this + 1).
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        if let Some(slot) = lock(&self.state).in_use.get_mut(self.index) {
            *slot = false;
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state is a bitmap that is valid at every step; a panic elsewhere cannot break it.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl PortPool {
    /// A pool over `[min, max]`; RTP ports are the even ones with `port + 1 <= max`.
    pub fn new(min: u16, max: u16) -> Result<Self, PortError> {
        let invalid = PortError::InvalidRange { min, max };
        if min == 0 || min > max {
            return Err(invalid);
        }
        let first = min as u32 + min as u32 % 2;
        if first + 1 > max as u32 {
            return Err(invalid);
        }
        let pairs = (max as u32 - first - 1) as usize / 2 + 1;
        let first = first as u16;
        Ok(PortPool {
            state: Arc::new(Mutex::new(State {
                in_use: vec![false; pairs],
                cursor: rand::random::<u32>() as usize % pairs,
            })),
            min,
            max,
            first,
        })
    }

    /// Number of pairs in the range.
    pub fn capacity(&self) -> usize {
        lock(&self.state).in_use.len()
    }

    /// Number of pairs leased.
    pub fn in_use(&self) -> usize {
        lock(&self.state).in_use.iter().filter(|u| **u).count()
    }

    /// Binds the next free pair on `ip`, skipping pairs that fail to bind.
    pub fn bind_pair(&self, ip: IpAddr) -> Result<BoundPair, PortError> {
        let mut state = lock(&self.state);
        let pairs = state.in_use.len();
        let (mut failures, mut last_error) = (0, None);
        for k in 0..pairs {
            let index = (state.cursor + k) % pairs;
            if state.in_use[index] {
                continue;
            }
            let port = self.first + 2 * index as u16;
            let bound = UdpSocket::bind(SocketAddr::new(ip, port)).and_then(|rtp| {
                UdpSocket::bind(SocketAddr::new(ip, port + 1)).map(|rtcp| (rtp, rtcp))
            });
            match bound {
                Ok((rtp, rtcp)) => {
                    state.in_use[index] = true;
                    state.cursor = (index + 1) % pairs;
                    return Ok(BoundPair {
                        rtp,
                        rtcp,
                        lease: PortLease {
                            state: self.state.clone(),
                            index,
                            port,
                        },
                    });
                }
                Err(e) => {
                    failures += 1;
                    last_error = Some(e.kind());
                }
            }
        }
        Err(PortError::Exhausted {
            ip,
            min: self.min,
            max: self.max,
            capacity: pairs,
            in_use: state.in_use.iter().filter(|u| **u).count(),
            bind_failures: failures,
            last_error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    /// An even port p with p..p+3 currently free on loopback.
    fn free_range() -> u16 {
        for _ in 0..200 {
            let p = 30_000 + 2 * (rand::random::<u16>() % 1_000);
            let socks: Vec<_> = (p..p + 4)
                .map(|q| UdpSocket::bind((LO, q)))
                .collect::<Result<_, _>>()
                .ok()
                .unwrap_or_default();
            if socks.len() == 4 {
                return p;
            }
        }
        panic!("no free port range on loopback");
    }

    #[test]
    fn rejects_ranges_without_a_pair() {
        for (min, max) in [
            (0, 100),
            (3000, 2000),
            (3001, 3001),
            (3001, 3002),
            (65535, 65535),
        ] {
            let err = PortPool::new(min, max).unwrap_err();
            assert_eq!(err, PortError::InvalidRange { min, max }, "{min}-{max}");
        }
        assert_eq!(PortPool::new(3000, 3001).unwrap().capacity(), 1);
        assert_eq!(PortPool::new(65533, 65535).unwrap().capacity(), 1);
        assert_eq!(PortPool::new(3001, 3006).unwrap().capacity(), 2);
        assert_eq!(PortPool::new(20000, 29999).unwrap().capacity(), 5000);
    }

    #[test]
    fn hands_out_even_pairs_until_exhausted_and_reuses_released_ones() {
        let p = free_range();
        let pool = PortPool::new(p, p + 3).unwrap();
        let a = pool.bind_pair(LO).unwrap();
        let b = pool.bind_pair(LO).unwrap();
        for pair in [&a, &b] {
            let port = pair.rtp.local_addr().unwrap().port();
            assert_eq!(port % 2, 0);
            assert_eq!(pair.rtcp.local_addr().unwrap().port(), port + 1);
            assert_eq!(pair.lease.port(), port);
        }
        assert_ne!(a.lease.port(), b.lease.port());
        let err = pool.bind_pair(LO).unwrap_err();
        assert!(
            matches!(
                err,
                PortError::Exhausted {
                    in_use: 2,
                    capacity: 2,
                    bind_failures: 0,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("2 of 2 pairs in use"), "{err}");
        let freed = a.lease.port();
        drop(a);
        assert_eq!(pool.in_use(), 1);
        assert_eq!(pool.bind_pair(LO).unwrap().lease.port(), freed);
    }

    #[test]
    fn skips_ports_taken_by_someone_else() {
        let p = free_range();
        let squatter = UdpSocket::bind((LO, p + 1)).unwrap();
        let pool = PortPool::new(p, p + 3).unwrap();
        let got = pool.bind_pair(LO).unwrap();
        assert_eq!(got.lease.port(), p + 2);
        let err = pool.bind_pair(LO).unwrap_err();
        assert!(
            matches!(
                err,
                PortError::Exhausted {
                    in_use: 1,
                    bind_failures: 1,
                    last_error: Some(io::ErrorKind::AddrInUse),
                    ..
                }
            ),
            "{err:?}"
        );
        drop(squatter);
        assert_eq!(pool.bind_pair(LO).unwrap().lease.port(), p);
    }
}
