//! Salvaging enough of an unparseable request to answer it. RFC 4475 expects a 400 (or a
//! 505 for an unknown version) to malformed requests whenever a response can be routed:
//! that needs the Via, From, To, Call-ID and CSeq lines, even when the start line or
//! another header is broken. This picks those lines out textually (folding included)
//! and builds a minimal request that [`sip::ResponseBuilder::reply`] can answer.

use bytes::Bytes;
use sip::{HeaderName, Message};

/// Returns a minimal parseable request carrying the five headers a response copies, or
/// `None` when the bytes are a response, or when Via, Call-ID or CSeq is missing.
pub fn salvage_request(raw: &[u8]) -> Option<Message> {
    let start = raw.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let raw = &raw[start..];
    if raw.starts_with(b"SIP/") {
        return None; // never answer a response
    }
    let head_end = memchr_crlfcrlf(raw).unwrap_or(raw.len());
    let head = &raw[..head_end];
    let mut out: Vec<u8> = b"OPTIONS sip:invalid.invalid SIP/2.0\r\n".to_vec();
    let mut have = [false; 3]; // Via, Call-ID, CSeq
    let mut keep = false;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            if keep {
                out.extend_from_slice(line);
                out.extend_from_slice(b"\r\n");
            }
            continue;
        }
        keep = false;
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim_ascii_end(&line[..colon]);
        let id = HeaderName::from_bytes(name);
        let slot = match id {
            HeaderName::Via => Some(0),
            HeaderName::CallId => Some(1),
            HeaderName::CSeq => Some(2),
            HeaderName::From | HeaderName::To => None,
            _ => continue,
        };
        if let Some(i) = slot {
            have[i] = true;
        }
        keep = true;
        // Line ends are normalised, so the salvage never carries a bare CR or LF onwards.
        if line.contains(&b'\r') {
            return None;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    if have.contains(&false) {
        return None;
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Message::parse(Bytes::from(out)).ok()
}

fn memchr_crlfcrlf(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n")
}

fn trim_ascii_end(b: &[u8]) -> &[u8] {
    let mut e = b.len();
    while e > 0 && (b[e - 1] == b' ' || b[e - 1] == b'\t') {
        e -= 1;
    }
    &b[..e]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salvages_a_request_with_a_broken_start_line() {
        let raw = b"INVITE  sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\ni: c1\r\nCSeq: 1 INVITE\r\nContent-Length: -3\r\n\r\n";
        let m = salvage_request(raw).unwrap();
        assert_eq!(m.call_id().unwrap(), "c1");
        assert_eq!(m.cseq().unwrap().seq, 1);
        assert!(m.has(HeaderName::From));
    }

    #[test]
    fn never_salvages_responses_or_messages_without_via() {
        assert!(salvage_request(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n").is_none());
        assert!(salvage_request(b"INVITE x\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n\r\n").is_none());
        assert!(salvage_request(b"").is_none());
    }
}
