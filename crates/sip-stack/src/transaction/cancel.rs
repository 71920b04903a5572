//! Building a CANCEL (RFC 3261 §9.1). A CANCEL runs its own non-INVITE client transaction
//! but copies the INVITE's top Via, so it shares the INVITE's branch; the CSeq method
//! (CANCEL) keeps the two transactions apart at both ends (§17.1.3, §17.2.3).

use super::error::TransactionError;
use sip::{HeaderError, HeaderName, Message, Method, RequestBuilder};

/// Builds the CANCEL for `invite`: the same Request-URI, Call-ID, From, To, CSeq number,
/// top Via (only) and Route set; CSeq method CANCEL; no body. Send it with
/// [`super::TransactionLayer::send_request`] once the INVITE has had a provisional
/// response (§9.1).
pub fn build_cancel(invite: &Message) -> Result<Message, TransactionError> {
    let uri = invite
        .request_uri_str()
        .ok_or(TransactionError::NotARequest)?;
    let missing = |h| TransactionError::Header(HeaderError::new(h, "missing"));
    let from = invite
        .get(HeaderName::From)
        .ok_or(missing(HeaderName::From))?;
    let to = invite.get(HeaderName::To).ok_or(missing(HeaderName::To))?;
    let mut b = RequestBuilder::new(&Method::Cancel, &uri)
        .header(HeaderName::Via, invite.top_via()?)
        .header(
            HeaderName::MaxForwards,
            invite.get(HeaderName::MaxForwards).unwrap_or("70"),
        )
        .header(HeaderName::From, from)
        .header(HeaderName::To, to)
        .header(HeaderName::CallId, invite.call_id()?)
        .header(
            HeaderName::CSeq,
            format_args!("{} CANCEL", invite.cseq()?.seq),
        );
    for route in invite.get_all(HeaderName::Route) {
        b = b.header(HeaderName::Route, route);
    }
    b.build().map_err(|source| TransactionError::Build {
        what: "CANCEL",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn cancel_copies_what_rfc3261_9_1_lists() {
        let invite = Message::parse(Bytes::from_static(
            b"INVITE sip:bob@b.example;transport=udp SIP/2.0\r\n\
Via: SIP/2.0/UDP a.example:5062;branch=z9hG4bKabc;rport\r\nVia: SIP/2.0/UDP b.example;branch=z9hG4bKdef\r\n\
Route: <sip:p1.example;lr>\r\nMax-Forwards: 70\r\nRequire: 100rel\r\n\
From: \"A\" <sip:a@a.example>;tag=f\r\nTo: <sip:bob@b.example>\r\nCall-ID: cid@a\r\nCSeq: 7 INVITE\r\n\
Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n",
        ))
        .unwrap();
        let c = build_cancel(&invite).unwrap();
        assert_eq!(c.method(), Some(&Method::Cancel));
        assert_eq!(c.request_uri_str(), invite.request_uri_str());
        assert_eq!(c.call_id().unwrap(), "cid@a");
        assert_eq!(c.get(HeaderName::From), invite.get(HeaderName::From));
        assert_eq!(c.get(HeaderName::To), invite.get(HeaderName::To));
        assert_eq!(
            (c.cseq().unwrap().seq, c.cseq().unwrap().method()),
            (7, Method::Cancel)
        );
        assert_eq!(c.get_all(HeaderName::Via).count(), 1);
        assert_eq!(c.top_via().unwrap(), invite.top_via().unwrap());
        assert_eq!(c.get(HeaderName::Route), Some("<sip:p1.example;lr>"));
        assert!(!c.has(HeaderName::Require));
        assert!(c.body().is_empty());
        c.validate().unwrap();
        assert!(build_cancel(
            &sip::ResponseBuilder::reply(&invite, 180, None)
                .build()
                .unwrap()
        )
        .is_err());
    }
}
