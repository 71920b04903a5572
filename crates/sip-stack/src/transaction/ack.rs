//! The ACK an INVITE client transaction sends for a 3xx–6xx final response (RFC 3261
//! §17.1.1.3). It belongs to the INVITE transaction: same branch, so the server
//! transaction absorbs it. (The ACK for a 2xx is a new transaction built by the dialog
//! layer, §13.2.2.4, and leaves through `send_stateless`.)

use super::error::TransactionError;
use sip::{HeaderError, HeaderName, Message, Method, RequestBuilder};

/// Builds the ACK for a non-2xx final `response` to `invite`: the INVITE's Request-URI,
/// Call-ID, From, CSeq number, top Via (only) and Route set, and the To of the response,
/// which carries the UAS's tag.
pub fn build_ack_for_non_2xx(
    invite: &Message,
    response: &Message,
) -> Result<Message, TransactionError> {
    let uri = invite
        .request_uri_str()
        .ok_or(TransactionError::NotARequest)?;
    let missing = |h| TransactionError::Header(HeaderError::new(h, "missing"));
    let from = invite
        .get(HeaderName::From)
        .ok_or(missing(HeaderName::From))?;
    let to = response
        .get(HeaderName::To)
        .ok_or(missing(HeaderName::To))?;
    let mut b = RequestBuilder::new(&Method::Ack, &uri)
        .header(HeaderName::Via, invite.top_via()?)
        .header(
            HeaderName::MaxForwards,
            invite.get(HeaderName::MaxForwards).unwrap_or("70"),
        )
        .header(HeaderName::From, from)
        .header(HeaderName::To, to)
        .header(HeaderName::CallId, invite.call_id()?)
        .header(HeaderName::CSeq, format_args!("{} ACK", invite.cseq()?.seq));
    for route in invite.get_all(HeaderName::Route) {
        b = b.header(HeaderName::Route, route);
    }
    b.build().map_err(|source| TransactionError::Build {
        what: "ACK",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn ack_copies_invite_fields_and_the_response_to_tag() {
        let invite = Message::parse(Bytes::from_static(
            b"INVITE sip:bob@b.example SIP/2.0\r\n\
Via: SIP/2.0/UDP a.example;branch=z9hG4bKabc, SIP/2.0/UDP b.example;branch=z9hG4bKdef\r\n\
Route: <sip:p1.example;lr>\r\nRoute: <sip:p2.example;lr>\r\nMax-Forwards: 69\r\n\
From: <sip:a@a.example>;tag=f\r\nTo: <sip:bob@b.example>\r\nCall-ID: cid\r\nCSeq: 42 INVITE\r\n\
Content-Length: 0\r\n\r\n",
        ))
        .unwrap();
        let resp = sip::ResponseBuilder::reply(&invite, 486, Some("uas1"))
            .build()
            .unwrap();
        let ack = build_ack_for_non_2xx(&invite, &resp).unwrap();
        assert_eq!(ack.method(), Some(&Method::Ack));
        assert_eq!(ack.request_uri_str(), Some("sip:bob@b.example"));
        assert_eq!(ack.get_all(HeaderName::Via).count(), 1);
        assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKabc"));
        assert_eq!(ack.get_all(HeaderName::Route).count(), 2);
        assert_eq!(ack.to_header().unwrap().tag(), Some("uas1"));
        assert_eq!(
            (ack.cseq().unwrap().seq, ack.cseq().unwrap().method()),
            (42, Method::Ack)
        );
        assert_eq!(ack.get(HeaderName::MaxForwards), Some("69"));
        ack.validate().unwrap();
    }
}
