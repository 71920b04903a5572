//! Property tests: typed values print and parse back to the same text, generated messages
//! survive parse → edit → parse with their values intact, and no input makes the parser,
//! the validator or any typed accessor panic.

use bytes::Bytes;
use proptest::prelude::*;
use sip::headers::*;
use sip::{HeaderName, Message, NameAddr, Uri};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,12}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        any::<[u16; 8]>().prop_map(|s| format!("[{}]", std::net::Ipv6Addr::from(s))),
    ]
}

fn sip_uri() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        proptest::option::of("[a-zA-Z0-9_.!~*'()&=+$,;?/-]{1,12}|[+][0-9]{5,15}"),
        host(),
        proptest::option::of(1u16..),
        proptest::collection::vec((token(), proptest::option::of("[a-zA-Z0-9_.-]{1,8}")), 0..3),
    )
        .prop_map(|(secure, user, host, port, params)| {
            let mut s = String::from(if secure { "sips:" } else { "sip:" });
            if let Some(u) = user {
                s.push_str(&u);
                s.push('@');
            }
            s.push_str(&host);
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            for (n, v) in params {
                let n: String = n.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
                if n.is_empty() {
                    continue;
                }
                s.push(';');
                s.push_str(&n);
                if let Some(v) = v {
                    s.push('=');
                    s.push_str(&v);
                }
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn uris_print_as_parsed(u in sip_uri()) {
        let parsed = Uri::parse(&u).unwrap();
        prop_assert_eq!(parsed.to_string(), u);
    }

    #[test]
    fn name_addrs_round_trip(display in "[ -~&&[^\"\\\\]]{0,16}", u in sip_uri(), tag in token()) {
        let text = format!("\"{display}\" <{u}>;tag={tag}");
        let a = NameAddr::parse(&text).unwrap();
        prop_assert_eq!(a.tag(), Some(tag.as_str()));
        let printed = a.to_string();
        prop_assert_eq!(NameAddr::parse(&printed).unwrap().to_string(), printed);
    }

    #[test]
    fn vias_round_trip(h in host(), port in proptest::option::of(1u16..), branch in token(), t in prop_oneof![Just("UDP"), Just("TCP"), Just("TLS"), Just("WS")]) {
        let text = match port {
            Some(p) => format!("SIP/2.0/{t} {h}:{p};branch=z9hG4bK{branch};rport"),
            None => format!("SIP/2.0/{t} {h};branch=z9hG4bK{branch};rport"),
        };
        let v = Via::parse(&text).unwrap();
        let want = format!("z9hG4bK{branch}");
        prop_assert_eq!(v.branch(), Some(want.as_str()));
        prop_assert_eq!(v.port, port);
        prop_assert_eq!(v.to_string(), text);
    }

    #[test]
    fn cseq_round_trips(seq in 0u32..(1 << 31), m in token()) {
        let text = format!("{seq} {m}");
        let c = CSeq::parse(&text).unwrap();
        prop_assert_eq!(c.seq, seq);
        prop_assert_eq!(c.to_string(), text);
    }

    #[test]
    fn generated_requests_survive_parse_edit_parse(
        uri in sip_uri(), from in sip_uri(), to in sip_uri(), tag in token(), call_id in "[a-zA-Z0-9.-]{1,20}(@[a-z0-9.]{1,10})?",
        seq in 0u32..(1 << 31), branch in token(), body in proptest::collection::vec(any::<u8>(), 0..200),
        extra in proptest::collection::vec(("X-[A-Za-z]{1,8}", "[ -~]{0,30}"), 0..4),
    ) {
        let mut text = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{branch}\r\nFrom: <{from}>;tag={tag}\r\nTo: <{to}>\r\nCall-ID: {call_id}\r\nCSeq: {seq} INVITE\r\nMax-Forwards: 70\r\n"
        );
        for (n, v) in &extra {
            text.push_str(&format!("{n}: {}\r\n", v.trim()));
        }
        text.push_str(&format!("Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n", body.len()));
        let mut raw = text.into_bytes();
        raw.extend_from_slice(&body);
        let m = Message::parse(Bytes::from(raw.clone())).unwrap();
        m.validate().unwrap();
        prop_assert_eq!(m.as_bytes(), &raw[..]);
        prop_assert_eq!(m.body(), &body[..]);
        let e = m.edit().insert_top(HeaderName::Via, "SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp").finish().unwrap();
        e.validate().unwrap();
        prop_assert_eq!(e.call_id().unwrap(), call_id.as_str());
        prop_assert_eq!(e.cseq().unwrap().seq, seq);
        prop_assert_eq!(e.from_header().unwrap().tag(), Some(tag.as_str()));
        prop_assert_eq!(e.typed_all::<Via>().count(), 2);
        prop_assert_eq!(e.body(), &body[..]);
        for (n, v) in &extra {
            prop_assert!(e.get_ext(n).any(|x| x == v.trim()));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise(&raw);
    }

    #[test]
    fn mutated_messages_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let base = include_bytes!("../benches/data/invite-935.sip");
        let mut raw = base.to_vec();
        let i = pos.index(raw.len());
        raw[i] = byte;
        raw.truncate(cut.index(raw.len() + 1).max(1));
        exercise(&raw);
    }
}

/// Parses and reads everything; must never panic.
fn exercise(raw: &[u8]) {
    let _ = sip::frame_length(raw);
    if let Ok(m) = Message::parse(Bytes::copy_from_slice(raw)) {
        let _ = m.validate();
        let _ = m.request_uri();
        let _ = m.top_via();
        let _ = m.typed_all::<Via>().count();
        let _ = m.typed_all::<Contact>().count();
        let _ = m.typed_all::<Route>().count();
        let _ = m.typed::<ContentType>();
        let _ = m.typed::<WwwAuthenticate>();
        let _ = m.typed::<Date>();
        let _ = m
            .edit()
            .insert_top(HeaderName::Via, "SIP/2.0/UDP x;branch=z9hG4bK1")
            .finish();
    }
}
