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
//!   UAS recognises it by Call-ID, CSeq number and To tag ([`AckKey`]).
//!
//! Keys own their strings so that they can live in the layer's hash maps.

use super::error::TransactionError;
use sip::{HeaderError, Message, Method};

/// ACK belongs to the INVITE transaction (§17.2.3); every other method to its own.
fn transaction_method(m: &Method) -> Method {
    match m {
        Method::Ack => Method::Invite,
        other => other.clone(),
    }
}

/// Identifies a client transaction (§17.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    branch: Box<str>,
    method: Method,
}

impl ClientKey {
    /// The key of a request the TU is sending.
    pub(crate) fn for_request(req: &Message) -> Result<ClientKey, TransactionError> {
        let method = req.method().ok_or(TransactionError::NotARequest)?;
        let via = req.top_via()?;
        let branch = via
            .branch()
            .filter(|b| !b.is_empty())
            .ok_or(TransactionError::MissingBranch)?;
        Ok(ClientKey {
            branch: branch.into(),
            method: method.clone(),
        })
    }

    /// The key a received response matches, when it has a branch and a CSeq.
    pub(crate) fn for_response(resp: &Message) -> Option<ClientKey> {
        let via = resp.top_via().ok()?;
        let branch = via.branch()?;
        let cseq = resp.cseq().ok()?;
        Some(ClientKey {
            branch: branch.into(),
            method: cseq.method(),
        })
    }

    /// The branch parameter.
    pub(crate) fn branch(&self) -> &str {
        &self.branch
    }

    /// The request method.
    pub(crate) fn method(&self) -> &Method {
        &self.method
    }
}

/// Identifies a server transaction (§17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ServerKey {
    /// Branch with the magic cookie, sent-by (host lower-cased, port as written), method.
    Rfc3261 {
        branch: Box<str>,
        sent_by: Box<str>,
        method: Method,
    },
    /// The RFC 2543 fallback.
    Rfc2543(Box<Rfc2543Key>),
}

/// The fields RFC 2543 matching compares (§17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Rfc2543Key {
    request_uri: Box<str>,
    to_tag: Option<Box<str>>,
    from_tag: Option<Box<str>>,
    call_id: Box<str>,
    cseq: u32,
    method: Method,
    top_via: Box<str>,
}

impl ServerKey {
    /// The key of a received request. Fails when a header the rule needs is missing.
    pub(crate) fn for_request(req: &Message) -> Result<ServerKey, HeaderError> {
        let method = req
            .method()
            .map(transaction_method)
            .ok_or_else(|| HeaderError::new(sip::HeaderName::CSeq, "not a request"))?;
        let via = req.top_via()?;
        if via.is_rfc3261() {
            use std::fmt::Write;
            let mut sent_by = String::with_capacity(32);
            let _ = write!(sent_by, "{}", via.host);
            sent_by.make_ascii_lowercase();
            if let Some(p) = via.port {
                let _ = write!(sent_by, ":{p}");
            }
            return Ok(ServerKey::Rfc3261 {
                branch: via.branch().unwrap_or_default().into(),
                sent_by: sent_by.into(),
                method,
            });
        }
        let cseq = req.cseq()?;
        Ok(ServerKey::Rfc2543(Box::new(Rfc2543Key {
            request_uri: req.request_uri_str().unwrap_or_default().into(),
            to_tag: req.to_header()?.tag().map(Into::into),
            from_tag: req.from_header()?.tag().map(Into::into),
            call_id: req.call_id()?.into(),
            cseq: cseq.seq,
            method,
            top_via: via.to_string().into(),
        })))
    }

    /// The same key for another method: a CANCEL's key with INVITE finds the INVITE it
    /// cancels (§9.2).
    pub(crate) fn with_method(&self, method: Method) -> ServerKey {
        match self {
            ServerKey::Rfc3261 {
                branch, sent_by, ..
            } => ServerKey::Rfc3261 {
                branch: branch.clone(),
                sent_by: sent_by.clone(),
                method,
            },
            ServerKey::Rfc2543(k) => ServerKey::Rfc2543(Box::new(Rfc2543Key {
                method,
                ..(**k).clone()
            })),
        }
    }

    /// True for keys of the RFC 2543 fallback.
    pub(crate) fn is_rfc2543(&self) -> bool {
        matches!(self, ServerKey::Rfc2543(_))
    }

    /// For an RFC 2543 key, the key an ACK for a response with To tag `tag` carries; `None`
    /// for RFC 3261 keys (the ACK matches by branch) or when nothing would change.
    pub(crate) fn for_ack_with_to_tag(&self, tag: Option<&str>) -> Option<ServerKey> {
        match self {
            ServerKey::Rfc3261 { .. } => None,
            ServerKey::Rfc2543(k) if k.to_tag.as_deref() == tag => None,
            ServerKey::Rfc2543(k) => Some(ServerKey::Rfc2543(Box::new(Rfc2543Key {
                to_tag: tag.map(Into::into),
                ..(**k).clone()
            }))),
        }
    }
}

/// Recognises the ACK for a 2xx a UAS is retransmitting (§13.3.1.4): same Call-ID, CSeq
/// number and To tag as the 2xx.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct AckKey {
    call_id: Box<str>,
    cseq: u32,
    to_tag: Box<str>,
}

impl AckKey {
    /// The key of a 2xx response or of an ACK; `None` when a field is missing.
    pub(crate) fn of(msg: &Message) -> Option<AckKey> {
        Some(AckKey {
            call_id: msg.call_id().ok()?.into(),
            cseq: msg.cseq().ok()?.seq,
            to_tag: msg.to_header().ok()?.tag()?.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
    }

    fn req(method: &str, via: &str, to: &str, cseq: &str) -> Message {
        msg(&format!(
            "{method} sip:bob@b.example SIP/2.0\nVia: {via}\nFrom: <sip:a@a.example>;tag=f1\n\
             To: {to}\nCall-ID: c1\nCSeq: {cseq}\nContent-Length: 0\n\n"
        ))
    }

    #[test]
    fn rfc3261_keys_use_branch_sent_by_and_method_with_ack_as_invite() {
        let via = "SIP/2.0/UDP Host.Example:5060;branch=z9hG4bKx";
        let invite = ServerKey::for_request(&req("INVITE", via, "<sip:b@b>", "1 INVITE")).unwrap();
        let ack = ServerKey::for_request(&req(
            "ACK",
            "SIP/2.0/UDP host.example:5060;branch=z9hG4bKx",
            "<sip:b@b>;tag=t",
            "1 ACK",
        ))
        .unwrap();
        assert_eq!(invite, ack);
        let cancel = ServerKey::for_request(&req("CANCEL", via, "<sip:b@b>", "1 CANCEL")).unwrap();
        assert_ne!(cancel, invite);
        assert_eq!(cancel.with_method(Method::Invite), invite);
        let other_port = ServerKey::for_request(&req(
            "INVITE",
            "SIP/2.0/UDP host.example:5070;branch=z9hG4bKx",
            "<sip:b@b>",
            "1 INVITE",
        ))
        .unwrap();
        assert_ne!(other_port, invite);
        assert!(invite.for_ack_with_to_tag(Some("t")).is_none());
    }

    #[test]
    fn rfc2543_keys_compare_the_old_fields_and_the_ack_to_tag() {
        let via = "SIP/2.0/UDP old.example;branch=1234";
        let invite = ServerKey::for_request(&req("INVITE", via, "<sip:b@b>", "7 INVITE")).unwrap();
        assert!(matches!(invite, ServerKey::Rfc2543(_)));
        let ack = ServerKey::for_request(&req("ACK", via, "<sip:b@b>;tag=r", "7 ACK")).unwrap();
        assert_ne!(ack, invite);
        assert_eq!(invite.for_ack_with_to_tag(Some("r")), Some(ack));
        let next = ServerKey::for_request(&req("INVITE", via, "<sip:b@b>", "8 INVITE")).unwrap();
        assert_ne!(next, invite);
        let no_branch = "SIP/2.0/UDP old.example";
        assert!(ServerKey::for_request(&req("BYE", no_branch, "<sip:b@b>;tag=r", "9 BYE")).is_ok());
    }

    #[test]
    fn response_keys_take_the_cseq_method() {
        let r = msg(
            "SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bKq\nFrom: <sip:a@a>;tag=1\n\
             To: <sip:b@b>;tag=2\nCall-ID: c\nCSeq: 3 CANCEL\nContent-Length: 0\n\n",
        );
        let k = ClientKey::for_response(&r).unwrap();
        assert_eq!((k.branch(), k.method()), ("z9hG4bKq", &Method::Cancel));
        let a = AckKey::of(&r).unwrap();
        assert_eq!(
            a,
            AckKey {
                call_id: "c".into(),
                cseq: 3,
                to_tag: "2".into()
            }
        );
    }
}
