//! The registrar's binding table (RFC 3261 §10.3), without IO: REGISTER requests already
//! parsed into [`Register`] go in with the current time, the bindings and the changes come
//! out; [`Bindings::expire`] drops what timed out. Tested with simulated time.
//!
//! Rules kept: a `*` Contact only alone and with `Expires: 0` (else 400); an expiry below
//! the minimum is refused with 423 and `Min-Expires` (except 0, which removes); above the
//! maximum it is shortened; a request from the same Call-ID whose CSeq is not higher than
//! the stored one is out of order (500, §10.3 step 7); each address of record keeps at most
//! a fixed number of contacts (the oldest is not evicted: the new one is refused with 403,
//! so a hijacked account cannot push the owner's phones out). Contacts are matched by their
//! URI with scheme and host compared case-insensitively (§19.1.4's rules for the common
//! case: clients re-register with the Contact they used).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One contact of a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactReq {
    /// The contact URI as written (without angle brackets).
    pub uri: String,
    /// Its `expires` parameter.
    pub expires: Option<u32>,
    /// Its `q` parameter in thousandths.
    pub q: Option<u16>,
    /// Its `+sip.instance` (RFC 5626), if any.
    pub instance: Option<String>,
}

/// A REGISTER, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// The address of record (the To URI, canonical `sip:user@domain`, lower-case).
    pub aor: String,
    /// Call-ID.
    pub call_id: String,
    /// CSeq number.
    pub cseq: u32,
    /// `Contact: *`.
    pub star: bool,
    /// The `Expires` header.
    pub expires: Option<u32>,
    /// The contacts.
    pub contacts: Vec<ContactReq>,
    /// Where it came from.
    pub source: SocketAddr,
    /// Its transport (`UDP`, `TCP`, ...).
    pub transport: String,
    /// Its User-Agent.
    pub user_agent: Option<String>,
}

/// A registered contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The contact URI.
    pub uri: String,
    /// `q` in thousandths.
    pub q: Option<u16>,
    /// `+sip.instance`.
    pub instance: Option<String>,
    /// When it expires.
    pub expires_at: Instant,
    /// The Call-ID and CSeq of the last REGISTER that touched it.
    pub call_id: String,
    /// CSeq.
    pub cseq: u32,
    /// Where the last REGISTER came from (requests for it go there: clients behind NAT).
    pub source: SocketAddr,
    /// Transport of the last REGISTER.
    pub transport: String,
    /// User-Agent of the last REGISTER.
    pub user_agent: Option<String>,
    /// When it was first registered.
    pub since: Instant,
}

impl Binding {
    /// Seconds left at `now` (rounded up, so a fresh 3600 reads 3600).
    pub fn remaining(&self, now: Instant) -> u32 {
        let d = self.expires_at.saturating_duration_since(now);
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }
}

/// What changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new contact.
    Added {
        /// The address of record.
        aor: String,
        /// The contact URI.
        uri: String,
        /// The device it registered from ([`device`]).
        device: String,
    },
    /// A contact removed by its client (expires 0) or by time.
    Removed {
        /// The address of record.
        aor: String,
        /// The contact URI.
        uri: String,
        /// True when it timed out.
        expired: bool,
    },
}

/// Names the device a request came from, `transport:address` (`udp:192.0.2.7:5060`): what
/// tells presence that a REGISTER and a PUBLISH are the same phone.
pub fn device(transport: &str, source: std::net::SocketAddr) -> String {
    format!("{}:{source}", transport.to_ascii_lowercase())
}

/// Why a REGISTER is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// `*` with other contacts or a non-zero expiry (400).
    #[error("Contact: * must be alone and with Expires: 0")]
    BadStar,
    /// An expiry below the minimum (423 with Min-Expires).
    #[error("interval too brief (minimum {min} s)")]
    IntervalTooBrief {
        /// The minimum.
        min: u32,
    },
    /// A replayed or reordered request (500).
    #[error("out-of-order REGISTER (CSeq not higher than the last one of this Call-ID)")]
    OutOfOrder,
    /// Too many contacts for the address of record (403).
    #[error("too many registered contacts (at most {max})")]
    TooMany {
        /// The limit.
        max: usize,
    },
}

impl RegisterError {
    /// The SIP status.
    pub fn status(&self) -> u16 {
        match self {
            RegisterError::BadStar => 400,
            RegisterError::IntervalTooBrief { .. } => 423,
            RegisterError::OutOfOrder => 500,
            RegisterError::TooMany { .. } => 403,
        }
    }
}

/// Limits of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Shortest expiry accepted (seconds).
    pub min_expires: u32,
    /// Longest expiry granted (seconds).
    pub max_expires: u32,
    /// Expiry when the request gives none.
    pub default_expires: u32,
    /// Contacts per address of record.
    pub max_contacts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 10,
        }
    }
}

/// Every address of record's contacts.
#[derive(Debug, Default)]
pub struct Bindings {
    limits: Limits,
    by_aor: HashMap<String, Vec<Binding>>,
}

/// The comparable form of a contact URI: scheme and host lower-case, the rest as written.
fn key(uri: &str) -> String {
    let (scheme, rest) = uri.split_once(':').unwrap_or(("", uri));
    let (user, hostpart) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (host, params) = match hostpart.find([';', '?']) {
        Some(i) => hostpart.split_at(i),
        None => (hostpart, ""),
    };
    let mut k = scheme.to_ascii_lowercase();
    k.push(':');
    if let Some(u) = user {
        k.push_str(u);
        k.push('@');
    }
    k.push_str(&host.to_ascii_lowercase());
    k.push_str(params);
    k
}

impl Bindings {
    /// An empty table with these limits.
    pub fn new(limits: Limits) -> Bindings {
        Bindings {
            limits,
            by_aor: HashMap::new(),
        }
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Applies a REGISTER at `now`; returns the address of record's contacts afterwards
    /// (for the 200) and what changed. A refused request changes nothing.
    pub fn apply(
        &mut self,
        req: &Register,
        now: Instant,
    ) -> Result<(Vec<Binding>, Vec<Change>), RegisterError> {
        let mut changes = Vec::new();
        if req.star {
            if req.expires != Some(0) || !req.contacts.is_empty() {
                return Err(RegisterError::BadStar);
            }
            let existing = self.by_aor.get(&req.aor).cloned().unwrap_or_default();
            if existing
                .iter()
                .any(|b| b.call_id == req.call_id && req.cseq <= b.cseq)
            {
                return Err(RegisterError::OutOfOrder);
            }
            for b in self.by_aor.remove(&req.aor).unwrap_or_default() {
                changes.push(Change::Removed {
                    aor: req.aor.clone(),
                    uri: b.uri,
                    expired: false,
                });
            }
            return Ok((Vec::new(), changes));
        }
        // Validate everything first, so a refusal changes nothing.
        let list = self.by_aor.get(&req.aor).map(Vec::as_slice).unwrap_or(&[]);
        let mut plan = Vec::with_capacity(req.contacts.len());
        for c in &req.contacts {
            let asked = c
                .expires
                .or(req.expires)
                .unwrap_or(self.limits.default_expires);
            if asked != 0 && asked < self.limits.min_expires {
                return Err(RegisterError::IntervalTooBrief {
                    min: self.limits.min_expires,
                });
            }
            let k = key(&c.uri);
            let found = list.iter().position(|b| key(&b.uri) == k);
            if let Some(i) = found {
                if list[i].call_id == req.call_id && req.cseq <= list[i].cseq {
                    return Err(RegisterError::OutOfOrder);
                }
            }
            plan.push((c, asked.min(self.limits.max_expires), k, found));
        }
        let adding = plan
            .iter()
            .filter(|(_, secs, _, found)| *secs > 0 && found.is_none())
            .count();
        let removing = plan
            .iter()
            .filter(|(_, secs, _, found)| *secs == 0 && found.is_some())
            .count();
        if list.len() + adding - removing > self.limits.max_contacts {
            return Err(RegisterError::TooMany {
                max: self.limits.max_contacts,
            });
        }
        let list = self.by_aor.entry(req.aor.clone()).or_default();
        for (c, secs, k, _) in plan {
            let at = list.iter().position(|b| key(&b.uri) == k);
            match (secs, at) {
                (0, Some(i)) => {
                    let b = list.remove(i);
                    changes.push(Change::Removed {
                        aor: req.aor.clone(),
                        uri: b.uri,
                        expired: false,
                    });
                }
                (0, None) => {}
                (secs, at) => {
                    let binding = Binding {
                        uri: c.uri.clone(),
                        q: c.q,
                        instance: c.instance.clone(),
                        expires_at: now + Duration::from_secs(u64::from(secs)),
                        call_id: req.call_id.clone(),
                        cseq: req.cseq,
                        source: req.source,
                        transport: req.transport.clone(),
                        user_agent: req.user_agent.clone(),
                        since: now,
                    };
                    match at {
                        Some(i) => {
                            let since = list[i].since;
                            list[i] = Binding { since, ..binding };
                        }
                        None => {
                            changes.push(Change::Added {
                                aor: req.aor.clone(),
                                uri: binding.uri.clone(),
                                device: device(&req.transport, req.source),
                            });
                            list.push(binding);
                        }
                    }
                }
            }
        }
        let current = list.clone();
        if list.is_empty() {
            self.by_aor.remove(&req.aor);
        }
        Ok((current, changes))
    }

    /// Drops the bindings that expired at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<Change> {
        let mut changes = Vec::new();
        self.by_aor.retain(|aor, list| {
            list.retain(|b| {
                let live = b.expires_at > now;
                if !live {
                    changes.push(Change::Removed {
                        aor: aor.clone(),
                        uri: b.uri.clone(),
                        expired: true,
                    });
                }
                live
            });
            !list.is_empty()
        });
        changes
    }

    /// When the next binding expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.by_aor
            .values()
            .flat_map(|l| l.iter().map(|b| b.expires_at))
            .min()
    }

    /// The live contacts of an address of record, highest `q` first.
    pub fn contacts(&self, aor: &str, now: Instant) -> Vec<Binding> {
        let mut out: Vec<Binding> = self
            .by_aor
            .get(aor)
            .map(|l| l.iter().filter(|b| b.expires_at > now).cloned().collect())
            .unwrap_or_default();
        out.sort_by_key(|b| std::cmp::Reverse(b.q.unwrap_or(1000)));
        out
    }

    /// Every address of record with its live contacts, for the admin API.
    pub fn all(&self, now: Instant) -> Vec<(String, Vec<Binding>)> {
        let mut out: Vec<(String, Vec<Binding>)> = self
            .by_aor
            .keys()
            .map(|aor| (aor.clone(), self.contacts(aor, now)))
            .filter(|(_, l)| !l.is_empty())
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(
        call_id: &str,
        cseq: u32,
        contacts: &[(&str, Option<u32>)],
        expires: Option<u32>,
    ) -> Register {
        Register {
            aor: "sip:alice@example.com".into(),
            call_id: call_id.into(),
            cseq,
            star: false,
            expires,
            contacts: contacts
                .iter()
                .map(|(u, e)| ContactReq {
                    uri: (*u).into(),
                    expires: *e,
                    q: None,
                    instance: None,
                })
                .collect(),
            source: "127.0.0.1:5070".parse().unwrap(),
            transport: "UDP".into(),
            user_agent: Some("test".into()),
        }
    }

    const A: &str = "sip:alice@127.0.0.1:5070";
    const B: &str = "sip:alice@127.0.0.1:5072;transport=tcp";

    #[test]
    fn register_refresh_expire_and_remove() {
        let t0 = Instant::now();
        let mut t = Bindings::new(Limits::default());
        let (now, ch) = t.apply(&reg("c1", 1, &[(A, None)], Some(600)), t0).unwrap();
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].remaining(t0), 600);
        assert_eq!(
            ch,
            vec![Change::Added {
                aor: "sip:alice@example.com".into(),
                uri: A.into(),
                device: device("UDP", "127.0.0.1:5070".parse().unwrap()),
            }]
        );
        // A refresh with a higher CSeq is no change; the same CSeq again is out of order.
        let (_, ch) = t.apply(&reg("c1", 2, &[(A, Some(120))], None), t0).unwrap();
        assert!(ch.is_empty());
        assert_eq!(
            t.contacts("sip:alice@example.com", t0)[0].remaining(t0),
            120
        );
        assert_eq!(
            t.apply(&reg("c1", 2, &[(A, None)], None), t0),
            Err(RegisterError::OutOfOrder)
        );
        // Another device of the same user.
        t.apply(&reg("c2", 1, &[(B, None)], None), t0).unwrap();
        assert_eq!(t.contacts("sip:alice@example.com", t0).len(), 2);
        assert_eq!(t.next_expiry(), Some(t0 + Duration::from_secs(120)));
        // Time passes: A expires, B (default 3600) stays.
        let ch = t.expire(t0 + Duration::from_secs(121));
        assert_eq!(
            ch,
            vec![Change::Removed {
                aor: "sip:alice@example.com".into(),
                uri: A.into(),
                expired: true
            }]
        );
        // B unregisters (expires 0, host case differs).
        let (now, ch) = t
            .apply(
                &reg(
                    "c2",
                    2,
                    &[("sip:alice@127.0.0.1:5072;transport=tcp", Some(0))],
                    None,
                ),
                t0,
            )
            .unwrap();
        assert!(now.is_empty());
        assert_eq!(ch.len(), 1);
        assert!(t.all(t0).is_empty());
    }

    #[test]
    fn limits_and_star_are_enforced_without_partial_changes() {
        let t0 = Instant::now();
        let limits = Limits {
            max_contacts: 2,
            ..Limits::default()
        };
        let mut t = Bindings::new(limits);
        assert_eq!(
            t.apply(&reg("c1", 1, &[(A, Some(30))], None), t0),
            Err(RegisterError::IntervalTooBrief { min: 60 })
        );
        // Too long is shortened.
        let (now, _) = t
            .apply(&reg("c1", 1, &[(A, Some(999_999))], None), t0)
            .unwrap();
        assert_eq!(now[0].remaining(t0), 3600);
        t.apply(&reg("c2", 1, &[(B, None)], None), t0).unwrap();
        let err = t.apply(&reg("c3", 1, &[("sip:alice@10.0.0.1", None)], None), t0);
        assert_eq!(err, Err(RegisterError::TooMany { max: 2 }));
        assert_eq!(err.unwrap_err().status(), 403);
        assert_eq!(t.contacts("sip:alice@example.com", t0).len(), 2);
        // * needs Expires: 0 and no other contact.
        let mut star = reg("c9", 1, &[], Some(3600));
        star.star = true;
        assert_eq!(t.apply(&star, t0), Err(RegisterError::BadStar));
        star.expires = Some(0);
        let (now, ch) = t.apply(&star, t0).unwrap();
        assert!(now.is_empty());
        assert_eq!(ch.len(), 2);
    }
}
