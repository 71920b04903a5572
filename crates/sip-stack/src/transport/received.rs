//! Stamping `received` and `rport` on the top Via of an incoming request (RFC 3261
//! §18.2.1, RFC 3581 §4), so that responses find their way back through NAT.

use sip::headers::{TypedHeader, Via};
use sip::text::split_list;
use sip::{HeaderName, Message, ParseError};
use std::fmt::Write;
use std::net::SocketAddr;

fn needs_stamp(via: &Via<'_>, source: SocketAddr) -> bool {
    let host_differs = via.host.ip() != Some(source.ip());
    host_differs || via.rport() == Some(None)
}

/// Returns the request with `received` (when the sent-by host is not the source address,
/// or when `rport` was asked for) and `rport` filled in. Messages that need nothing come
/// back unchanged, without a copy.
pub fn stamp_received(msg: Message, source: SocketAddr) -> Result<Message, ParseError> {
    if !msg.is_request() {
        return Ok(msg);
    }
    let Some(first_line) = msg.get(HeaderName::Via) else {
        return Ok(msg);
    };
    let Some(first) = split_list(first_line).next() else {
        return Ok(msg);
    };
    let via = Via::parse(first)?;
    if !needs_stamp(&via, source) {
        return Ok(msg);
    }
    let wants_rport = via.rport().is_some();
    let mut top = via.rebuild(None, &["received", "rport"]);
    let _ = write!(top, ";received={}", source.ip());
    if wants_rport {
        let _ = write!(top, ";rport={}", source.port());
    }
    // Keep the rest of the first Via line (other comma-separated elements) as written.
    let off = first.as_ptr() as usize - first_line.as_ptr() as usize + first.len();
    let rest = first_line[off..].trim_start();
    if let Some(rest) = rest.strip_prefix(',') {
        let _ = write!(top, ", {}", rest.trim_start());
    }
    let edited = msg.edit().replace(HeaderName::Via, top).finish()?;
    Ok(edited)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn req(via: &str) -> Message {
        Message::parse(Bytes::from(format!(
            "OPTIONS sip:a@b SIP/2.0\r\nVia: {via}\r\nVia: SIP/2.0/UDP second;branch=z9hG4bK2\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )))
        .unwrap()
    }

    #[test]
    fn fills_rport_and_received() {
        let src: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        let m = stamp_received(
            req("SIP/2.0/UDP host.example.com;branch=z9hG4bK1;rport"),
            src,
        )
        .unwrap();
        let v = m.top_via().unwrap();
        assert_eq!(v.received(), Some("192.0.2.7"));
        assert_eq!(v.rport(), Some(Some(40000)));
        assert_eq!(v.branch(), Some("z9hG4bK1"));
        assert_eq!(m.get_all(HeaderName::Via).count(), 2);
    }

    #[test]
    fn leaves_matching_sent_by_alone() {
        let src: SocketAddr = "192.0.2.7:5060".parse().unwrap();
        let m = req("SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1");
        let before = m.as_bytes().to_vec();
        let m = stamp_received(m, src).unwrap();
        assert_eq!(m.as_bytes(), &before[..]);
    }

    #[test]
    fn keeps_other_elements_of_the_first_line() {
        let src: SocketAddr = "192.0.2.9:5060".parse().unwrap();
        let m = stamp_received(
            req("SIP/2.0/UDP h1;branch=z9hG4bK1, SIP/2.0/TCP h2;branch=z9hG4bK3"),
            src,
        )
        .unwrap();
        let vias: Vec<_> = m.typed_all::<Via>().map(Result::unwrap).collect();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[0].received(), Some("192.0.2.9"));
        assert_eq!(vias[1].branch(), Some("z9hG4bK3"));
    }
}
