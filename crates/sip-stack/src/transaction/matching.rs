//! Which transaction a received message belongs to.
//!
//! - A response belongs to the client transaction whose request carried the same top Via
//!   branch and whose method is the response's CSeq method (RFC 3261 §17.1.3). The CSeq
//!   method keeps an INVITE and the CANCEL that shares its branch apart.
//! - A request whose top Via branch starts with `z9hG4bK` belongs to the server
//!   transaction with the same branch, the same sent-by and the same method, an ACK
//!   counting as INVITE (§17.2.3).
//! - Without the cookie the request comes from an RFC 2543 element and the older rule
//!   applies: same Request-URI, To tag, From tag, Call-ID, CSeq and top Via. An ACK carries
//!   the To tag of the response it acknowledges, so when an RFC 2543 INVITE transaction
//!   sends a final response the layer registers a second key with that tag.
//! - A CANCEL is a transaction of its own; the INVITE it cancels has the same key with the
//!   method INVITE (§9.2).
//! - The ACK for a 2xx has a branch of its own (§13.2.2.4) and matches no transaction; the
//!   UAS recognises it by Call-ID, CSeq number and To tag ([`AckMatch`]).
//!
//! Every rule comes in two forms: a `…Match` borrowed from a message, which is what a
//! lookup hashes and compares (so matching a received message allocates nothing), and an
//! owned `…Key` that a transaction keeps for as long as it is indexed. Both hash through
//! the same `…Match` type, so an owned key and a message that matches it land in the same
//! bucket of [`super::index::Index`].
//!
//! Reading the top Via takes only what matching needs (branch and sent-by) instead of the
//! full Via grammar: this runs for every message, and validating a message is its
//! receiver's job (`Message::validate`), not the matcher's.

use super::branch::MAGIC_COOKIE;
use super::error::TransactionError;
use sip::text::{split_at_unquoted, trim};
use sip::{HeaderError, HeaderName, Message, Params};
use std::hash::{Hash, Hasher};

/// What matching reads from the top Via.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopVia<'a> {
    /// The whole first element, trimmed (RFC 2543 compares it).
    pub(crate) element: &'a str,
    /// `host[:port]` as written.
    pub(crate) sent_by: &'a str,
    /// The branch parameter, if any.
    pub(crate) branch: Option<&'a str>,
}

impl<'a> TopVia<'a> {
    /// Reads the first element of the first Via line: `sent-protocol LWS sent-by
    /// *( SEMI via-params )`, where sent-protocol is `name / version / transport`.
    pub(crate) fn of(msg: &'a Message) -> Result<TopVia<'a>, HeaderError> {
        let bad = |reason| HeaderError::new(HeaderName::Via, reason);
        let line = msg.get(HeaderName::Via).ok_or(bad("missing"))?;
        let element = trim(split_at_unquoted(line, |b| b == b',').0);
        let (head, params) = split_at_unquoted(element, |b| b == b';');
        let (_, transport_and_host) = head.rsplit_once('/').ok_or(bad("no sent-protocol"))?;
        let transport_and_host = trim(transport_and_host);
        let sent_by = match sip::text::find_lws(transport_and_host) {
            Some(i) => trim(&transport_and_host[i..]),
            None => "",
        };
        if sent_by.is_empty() {
            return Err(bad("no sent-by"));
        }
        let params = Params::parse_header(params).map_err(bad)?;
        Ok(TopVia {
            element,
            sent_by,
            branch: params.get("branch").flatten(),
        })
    }

    fn is_rfc3261(&self) -> bool {
        self.branch.is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }
}

/// ACK belongs to the INVITE transaction (§17.2.3); every other method to its own.
fn transaction_method(m: &str) -> &str {
    if m == "ACK" {
        "INVITE"
    } else {
        m
    }
}

// ---- client transactions ----

/// A client transaction's matching data, borrowed (§17.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ClientMatch<'a> {
    branch: &'a str,
    method: &'a str,
}

impl<'a> ClientMatch<'a> {
    /// What a request the TU is sending will be matched by.
    pub(crate) fn of_request(req: &'a Message) -> Result<ClientMatch<'a>, TransactionError> {
        let method = req.method().ok_or(TransactionError::NotARequest)?;
        let branch = TopVia::of(req)?
            .branch
            .filter(|b| !b.is_empty())
            .ok_or(TransactionError::MissingBranch)?;
        Ok(ClientMatch {
            branch,
            method: method.as_str(),
        })
    }

    /// What a received response matches, when it has a branch and a CSeq.
    pub(crate) fn of_response(resp: &'a Message) -> Option<ClientMatch<'a>> {
        Some(ClientMatch {
            branch: TopVia::of(resp).ok()?.branch?,
            method: resp.cseq().ok()?.method_name,
        })
    }

    /// The owned key.
    pub(crate) fn to_key(self) -> ClientKey {
        ClientKey {
            branch: self.branch.into(),
            method: self.method.into(),
        }
    }

    /// The branch parameter.
    pub(crate) fn branch(&self) -> &'a str {
        self.branch
    }

    /// The method.
    pub(crate) fn method(&self) -> &'a str {
        self.method
    }
}

/// A client transaction's matching data, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientKey {
    branch: Box<str>,
    method: Box<str>,
}

impl ClientKey {
    /// The borrowed form, for hashing and comparing.
    pub(crate) fn as_match(&self) -> ClientMatch<'_> {
        ClientMatch {
            branch: &self.branch,
            method: &self.method,
        }
    }
}

// ---- server transactions ----

/// A server transaction's matching data, borrowed (§17.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ServerMatch<'a> {
    /// Branch with the magic cookie, sent-by (host compared case-insensitively), method.
    Rfc3261 {
        branch: &'a str,
        sent_by: Caseless<'a>,
        method: &'a str,
    },
    /// The RFC 2543 fallback.
    Rfc2543 {
        request_uri: &'a str,
        to_tag: Option<&'a str>,
        from_tag: Option<&'a str>,
        call_id: &'a str,
        cseq: u32,
        method: &'a str,
        top_via: &'a str,
    },
}

impl<'a> ServerMatch<'a> {
    /// What a received request matches. Fails when a header the rule needs is missing.
    pub(crate) fn of_request(req: &'a Message) -> Result<ServerMatch<'a>, HeaderError> {
        let method = req
            .method()
            .map(|m| transaction_method(m.as_str()))
            .ok_or_else(|| HeaderError::new(HeaderName::CSeq, "not a request"))?;
        let via = TopVia::of(req)?;
        if via.is_rfc3261() {
            return Ok(ServerMatch::Rfc3261 {
                branch: via.branch.unwrap_or_default(),
                sent_by: Caseless(via.sent_by),
                method,
            });
        }
        Ok(ServerMatch::Rfc2543 {
            request_uri: req.request_uri_str().unwrap_or_default(),
            to_tag: req.to_header()?.tag(),
            from_tag: req.from_header()?.tag(),
            call_id: req.call_id()?,
            cseq: req.cseq()?.seq,
            method,
            top_via: via.element,
        })
    }

    /// The same data for another method: a CANCEL's with INVITE finds the INVITE it
    /// cancels (§9.2).
    pub(crate) fn with_method(self, m: &'a str) -> ServerMatch<'a> {
        match self {
            ServerMatch::Rfc3261 {
                branch, sent_by, ..
            } => ServerMatch::Rfc3261 {
                branch,
                sent_by,
                method: m,
            },
            ServerMatch::Rfc2543 {
                request_uri,
                to_tag,
                from_tag,
                call_id,
                cseq,
                top_via,
                ..
            } => ServerMatch::Rfc2543 {
                request_uri,
                to_tag,
                from_tag,
                call_id,
                cseq,
                method: m,
                top_via,
            },
        }
    }

    /// For RFC 2543 data, the data of an ACK for a response with To tag `tag`; `None` for
    /// RFC 3261 data (the ACK matches by branch) or when nothing would change.
    pub(crate) fn for_ack_with_to_tag(self, tag: Option<&'a str>) -> Option<ServerMatch<'a>> {
        match self {
            ServerMatch::Rfc2543 { to_tag, .. } if to_tag == tag => None,
            ServerMatch::Rfc2543 {
                request_uri,
                from_tag,
                call_id,
                cseq,
                method,
                top_via,
                ..
            } => Some(ServerMatch::Rfc2543 {
                request_uri,
                to_tag: tag,
                from_tag,
                call_id,
                cseq,
                method,
                top_via,
            }),
            ServerMatch::Rfc3261 { .. } => None,
        }
    }

    /// True for the RFC 2543 fallback.
    pub(crate) fn is_rfc2543(&self) -> bool {
        matches!(self, ServerMatch::Rfc2543 { .. })
    }

    /// The owned key.
    pub(crate) fn to_key(self) -> ServerKey {
        let o = |s: &str| Box::<str>::from(s);
        match self {
            ServerMatch::Rfc3261 {
                branch,
                sent_by,
                method,
            } => ServerKey::Rfc3261 {
                branch: o(branch),
                sent_by: o(sent_by.0),
                method: o(method),
            },
            ServerMatch::Rfc2543 {
                request_uri,
                to_tag,
                from_tag,
                call_id,
                cseq,
                method,
                top_via,
            } => ServerKey::Rfc2543(Box::new(Rfc2543Key {
                request_uri: o(request_uri),
                to_tag: to_tag.map(o),
                from_tag: from_tag.map(o),
                call_id: o(call_id),
                cseq,
                method: o(method),
                top_via: o(top_via),
            })),
        }
    }
}

/// A server transaction's matching data, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServerKey {
    /// See [`ServerMatch::Rfc3261`].
    Rfc3261 {
        branch: Box<str>,
        sent_by: Box<str>,
        method: Box<str>,
    },
    /// See [`ServerMatch::Rfc2543`].
    Rfc2543(Box<Rfc2543Key>),
}

/// The fields RFC 2543 matching compares, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rfc2543Key {
    request_uri: Box<str>,
    to_tag: Option<Box<str>>,
    from_tag: Option<Box<str>>,
    call_id: Box<str>,
    cseq: u32,
    method: Box<str>,
    top_via: Box<str>,
}

impl ServerKey {
    /// The borrowed form, for hashing and comparing.
    pub(crate) fn as_match(&self) -> ServerMatch<'_> {
        match self {
            ServerKey::Rfc3261 {
                branch,
                sent_by,
                method,
            } => ServerMatch::Rfc3261 {
                branch,
                sent_by: Caseless(sent_by),
                method,
            },
            ServerKey::Rfc2543(k) => ServerMatch::Rfc2543 {
                request_uri: &k.request_uri,
                to_tag: k.to_tag.as_deref(),
                from_tag: k.from_tag.as_deref(),
                call_id: &k.call_id,
                cseq: k.cseq,
                method: &k.method,
                top_via: &k.top_via,
            },
        }
    }
}

/// Text compared and hashed without regard to ASCII case (host names, §19.1.4).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caseless<'a>(&'a str);

impl PartialEq for Caseless<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for Caseless<'_> {}

impl Hash for Caseless<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        for b in self.0.bytes() {
            h.write_u8(b.to_ascii_lowercase());
        }
        h.write_u8(0xff);
    }
}

// ---- the ACK for a 2xx ----

/// Recognises the ACK for a 2xx a UAS is retransmitting (§13.3.1.4): same Call-ID, CSeq
/// number and To tag as the 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct AckMatch<'a> {
    call_id: &'a str,
    cseq: u32,
    to_tag: &'a str,
}

impl<'a> AckMatch<'a> {
    /// The data of a 2xx response or of an ACK; `None` when a field is missing.
    pub(crate) fn of(msg: &'a Message) -> Option<AckMatch<'a>> {
        Some(AckMatch {
            call_id: msg.call_id().ok()?,
            cseq: msg.cseq().ok()?.seq,
            to_tag: to_tag(msg)?,
        })
    }

    /// The owned key.
    pub(crate) fn to_key(self) -> AckKey {
        AckKey {
            call_id: self.call_id.into(),
            cseq: self.cseq,
            to_tag: self.to_tag.into(),
        }
    }
}

/// [`AckMatch`], owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AckKey {
    call_id: Box<str>,
    cseq: u32,
    to_tag: Box<str>,
}

impl AckKey {
    /// The borrowed form, for hashing and comparing.
    pub(crate) fn as_match(&self) -> AckMatch<'_> {
        AckMatch {
            call_id: &self.call_id,
            cseq: self.cseq,
            to_tag: &self.to_tag,
        }
    }
}

/// The To tag, read without parsing the address (this runs for every 2xx to an INVITE and
/// every ACK). The header parameters follow the `>` of a name-addr, or start at the first
/// `;` of a bare addr-spec (RFC 3261 §20.10). Agrees with `msg.to_header()?.tag()` on
/// valid headers (tested below).
fn to_tag(msg: &Message) -> Option<&str> {
    let raw = msg.get(HeaderName::To)?;
    let (_, bracketed) = split_at_unquoted(raw, |b| b == b'<');
    let params = if bracketed.is_empty() {
        split_at_unquoted(raw, |b| b == b';').1
    } else {
        &bracketed[bracketed.find('>')? + 1..]
    };
    Params::parse_header(params).ok()?.get("tag").flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::hash::BuildHasher;

    fn msg(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
    }

    fn req(method: &str, via: &str, to: &str, cseq: &str) -> Message {
        msg(&format!(
            "{method} sip:bob@b.example SIP/2.0\nVia: {via}\nFrom: <sip:a@a.example>;tag=f1\n\
             To: {to}\nCall-ID: c1\nCSeq: {cseq}\nContent-Length: 0\n\n"
        ))
    }

    fn hash(m: &impl Hash) -> u64 {
        std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default().hash_one(m)
    }

    #[test]
    fn the_top_via_reader_agrees_with_the_via_parser() {
        for via in [
            "SIP/2.0/UDP host.example:5060;branch=z9hG4bKx;rport",
            "SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw",
            "SIP / 2.0 / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8",
            "SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKx;rport;received=2001:db8::9",
            "SIP/2.0/UDP a.example;branch=z9hG4bK1, SIP/2.0/UDP b.example;branch=z9hG4bK2",
            "SIP/2.0/UDP a.example;x=\"quoted;branch=no\";branch=z9hG4bKyes",
            "SIP/2.0/WSS a.invalid",
        ] {
            let m = req("OPTIONS", via, "<sip:b@b>", "1 OPTIONS");
            let full = m.top_via().unwrap();
            let quick = TopVia::of(&m).unwrap();
            assert_eq!(quick.branch, full.branch(), "{via}");
            let port = full.port.map(|p| format!(":{p}")).unwrap_or_default();
            assert_eq!(quick.sent_by, format!("{}{port}", full.host), "{via}");
        }
        for bad in ["garbage", "SIP/2.0/UDP", "SIP/2.0/UDP host;;"] {
            assert!(
                TopVia::of(&req("OPTIONS", bad, "<sip:b@b>", "1 OPTIONS")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn rfc3261_matches_use_branch_sent_by_and_method_with_ack_as_invite() {
        let via = "SIP/2.0/UDP Host.Example:5060;branch=z9hG4bKx";
        let invite_msg = req("INVITE", via, "<sip:b@b>", "1 INVITE");
        let invite = ServerMatch::of_request(&invite_msg).unwrap();
        let ack_msg = req(
            "ACK",
            "SIP/2.0/UDP host.example:5060;branch=z9hG4bKx",
            "<sip:b@b>;tag=t",
            "1 ACK",
        );
        let ack = ServerMatch::of_request(&ack_msg).unwrap();
        assert_eq!(invite, ack);
        assert_eq!(hash(&invite), hash(&ack));
        let owned = invite.to_key();
        assert_eq!(owned.as_match(), ack);
        assert_eq!(hash(&owned.as_match()), hash(&ack));
        let cancel_msg = req("CANCEL", via, "<sip:b@b>", "1 CANCEL");
        let cancel = ServerMatch::of_request(&cancel_msg).unwrap();
        assert_ne!(cancel, invite);
        assert_eq!(cancel.with_method("INVITE"), invite);
        let other_port_msg = req(
            "INVITE",
            "SIP/2.0/UDP host.example:5070;branch=z9hG4bKx",
            "<sip:b@b>",
            "1 INVITE",
        );
        assert_ne!(ServerMatch::of_request(&other_port_msg).unwrap(), invite);
        assert!(invite.for_ack_with_to_tag(Some("t")).is_none());
    }

    #[test]
    fn rfc2543_matches_compare_the_old_fields_and_the_ack_to_tag() {
        let via = "SIP/2.0/UDP old.example;branch=1234";
        let invite_msg = req("INVITE", via, "<sip:b@b>", "7 INVITE");
        let invite = ServerMatch::of_request(&invite_msg).unwrap();
        assert!(invite.is_rfc2543());
        let ack_msg = req("ACK", via, "<sip:b@b>;tag=r", "7 ACK");
        let ack = ServerMatch::of_request(&ack_msg).unwrap();
        assert_ne!(ack, invite);
        assert_eq!(invite.for_ack_with_to_tag(Some("r")), Some(ack));
        assert_eq!(invite.to_key().as_match(), invite);
        let next_msg = req("INVITE", via, "<sip:b@b>", "8 INVITE");
        assert_ne!(ServerMatch::of_request(&next_msg).unwrap(), invite);
        let no_branch = req("BYE", "SIP/2.0/UDP old.example", "<sip:b@b>;tag=r", "9 BYE");
        assert!(ServerMatch::of_request(&no_branch).is_ok());
    }

    #[test]
    fn the_quick_to_tag_agrees_with_the_to_parser() {
        for to in [
            "<sip:b@b.example>;tag=abc",
            "Bob <sip:b@b.example;transport=tcp>;tag=x-1",
            "\"B <o> b;tag=no\" <sip:b@b.example> ;  tag  =  q9",
            "sip:b@b.example;tag=bare",
            "<sip:b@b.example;tag=uri-param>",
            "<sip:b@b.example>;foo=bar;TAG=upper",
            "<sip:b@b.example>",
            "sip:b@b.example",
        ] {
            let m = req("ACK", "SIP/2.0/UDP h;branch=z9hG4bK1", to, "1 ACK");
            assert_eq!(to_tag(&m), m.to_header().unwrap().tag(), "{to}");
        }
    }

    #[test]
    fn responses_match_by_branch_and_cseq_method() {
        let r = msg(
            "SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bKq\nFrom: <sip:a@a>;tag=1\n\
             To: <sip:b@b>;tag=2\nCall-ID: c\nCSeq: 3 CANCEL\nContent-Length: 0\n\n",
        );
        let k = ClientMatch::of_response(&r).unwrap();
        assert_eq!((k.branch(), k.method()), ("z9hG4bKq", "CANCEL"));
        assert_eq!(k.to_key().as_match(), k);
        let a = AckMatch::of(&r).unwrap();
        assert_eq!(
            a,
            AckMatch {
                call_id: "c",
                cseq: 3,
                to_tag: "2"
            }
        );
        assert_eq!(a.to_key().as_match(), a);
    }
}
