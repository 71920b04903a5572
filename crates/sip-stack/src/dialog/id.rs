//! The dialog identifier (RFC 3261 §12): Call-ID, local tag and remote tag.
//!
//! Use it to find the dialog a message belongs to. Which header holds the local tag
//! depends on the direction: in a request we receive, our tag is in To and the peer's in
//! From; in a response we receive, ours is in From and the peer's in To. The
//! constructors here do that swap so that callers never do it by hand.
//!
//! A peer that follows RFC 2543 may send no tag; its tag is then the empty string
//! ("null" in RFC 3261 §12.1.2).

use super::DialogError;
use sip::{HeaderName, Message};
use std::fmt;

/// Identifies one dialog from this side's point of view.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId {
    /// The Call-ID, compared byte for byte.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag; empty when the peer sent none.
    pub remote_tag: String,
}

impl DialogId {
    /// A dialog identifier from its three parts.
    pub fn new(
        call_id: impl Into<String>,
        local_tag: impl Into<String>,
        remote_tag: impl Into<String>,
    ) -> DialogId {
        DialogId {
            call_id: call_id.into(),
            local_tag: local_tag.into(),
            remote_tag: remote_tag.into(),
        }
    }

    /// The dialog a received request belongs to: local tag from To, remote tag from From.
    /// Fails when the To has no tag (the request is not within a dialog).
    pub fn of_received_request(req: &Message) -> Result<DialogId, DialogError> {
        if !req.is_request() {
            return Err(DialogError::WrongKind {
                expected: "request",
            });
        }
        let local = req.to_header()?.tag().ok_or(DialogError::MissingTag {
            header: HeaderName::To,
        })?;
        let remote = req.from_header()?.tag().unwrap_or("");
        Ok(DialogId::new(req.call_id()?, local, remote))
    }

    /// The dialog a received response belongs to: local tag from From, remote tag from To
    /// (empty when the To has none).
    pub fn of_received_response(resp: &Message) -> Result<DialogId, DialogError> {
        if resp.is_request() {
            return Err(DialogError::WrongKind {
                expected: "response",
            });
        }
        let local = resp.from_header()?.tag().ok_or(DialogError::MissingTag {
            header: HeaderName::From,
        })?;
        let remote = resp.to_header()?.tag().unwrap_or("");
        Ok(DialogId::new(resp.call_id()?, local, remote))
    }

    /// True when the three parts are these.
    pub fn is(&self, call_id: &str, local_tag: &str, remote_tag: &str) -> bool {
        self.call_id == call_id && self.local_tag == local_tag && self.remote_tag == remote_tag
    }
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};local-tag={};remote-tag={}",
            self.call_id, self.local_tag, self.remote_tag
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
    }

    #[test]
    fn request_and_response_swap_the_tags() {
        let req = msg("BYE sip:a@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:b@h>;tag=peer\nTo: <sip:a@h>;tag=me\nCall-ID: c1\nCSeq: 2 BYE\n\n");
        assert_eq!(
            DialogId::of_received_request(&req).unwrap(),
            DialogId::new("c1", "me", "peer")
        );
        let resp = msg("SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=me\nTo: <sip:b@h>;tag=peer\nCall-ID: c1\nCSeq: 2 BYE\n\n");
        assert_eq!(
            DialogId::of_received_response(&resp).unwrap(),
            DialogId::new("c1", "me", "peer")
        );
    }

    #[test]
    fn request_without_to_tag_is_not_in_a_dialog() {
        let req = msg("INVITE sip:a@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:b@h>;tag=peer\nTo: <sip:a@h>\nCall-ID: c1\nCSeq: 1 INVITE\n\n");
        assert_eq!(
            DialogId::of_received_request(&req),
            Err(DialogError::MissingTag {
                header: HeaderName::To
            })
        );
    }
}
