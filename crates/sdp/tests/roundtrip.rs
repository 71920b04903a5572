//! Property tests of the lossless model: valid descriptions print back byte for byte, built
//! descriptions read back equal, and no input whatsoever makes the parser panic.

use proptest::prelude::*;
use sdp::{
    Attribute, Connection, Direction, Field, Fmtp, MediaDescription, MediaKind, Origin, RtpMap,
    SdpError, SessionDescription, Timing,
};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`{|}~-]{1,12}"
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,24}", "\\PC{0,8}"]
}

/// Field separator: usually one space, sometimes an irregular run.
fn sep() -> impl Strategy<Value = &'static str> {
    prop_oneof![8 => Just(" "), 1 => Just("  "), 1 => Just("\t")]
}

fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<std::net::Ipv4Addr>().prop_map(|ip| format!("IN IP4 {ip}")),
        any::<std::net::Ipv6Addr>().prop_map(|ip| format!("IN IP6 {ip}")),
        token().prop_map(|host| format!("IN IP4 {host}")),
    ]
}

fn attribute() -> impl Strategy<Value = String> {
    prop_oneof![
        token(),
        (token(), text()).prop_map(|(n, v)| format!("{n}:{v}")),
        (
            0u8..=127,
            token(),
            any::<u32>(),
            proptest::option::of(1u32..3)
        )
            .prop_map(|(pt, name, clock, ch)| match ch {
                Some(ch) => format!("rtpmap:{pt} {}/{clock}/{ch}", name.replace('/', "")),
                None => format!("rtpmap:{pt} {}/{clock}", name.replace('/', "")),
            }),
        (0u8..=127, "[ -~]{0,12}").prop_map(|(pt, p)| format!("fmtp:{pt} {p}")),
        any::<u32>().prop_map(|ms| format!("ptime:{ms}")),
        prop_oneof![
            Just("sendrecv"),
            Just("sendonly"),
            Just("recvonly"),
            Just("inactive")
        ]
        .prop_map(str::to_owned),
        (any::<u16>(), proptest::option::of(address()))
            .prop_map(|(p, a)| a.map_or(format!("rtcp:{p}"), |a| format!("rtcp:{p} {a}"))),
    ]
}

/// Lines allowed in a section: c=, b=, unknown letters, a=.
fn section_line() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => (address(), sep()).prop_map(|(a, s)| format!("c={}", a.replace(' ', s))),
        1 => (token(), any::<u32>()).prop_map(|(t, n)| format!("b={}:{n}", t.replace(':', ""))),
        1 => ("[ikdfghjlnqwxy]", text()).prop_map(|(k, v)| format!("{k}={v}")),
        5 => attribute().prop_map(|a| format!("a={a}")),
    ]
}

fn media() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("audio".to_owned()), Just("video".to_owned()), token()],
        any::<u16>(),
        proptest::option::of(1u16..8),
        prop_oneof![Just("RTP/AVP".to_owned()), token()],
        proptest::collection::vec(
            prop_oneof![(0u8..=127).prop_map(|p| p.to_string()), token()],
            0..5,
        ),
        sep(),
        proptest::collection::vec(section_line(), 0..8),
    )
        .prop_map(|(kind, port, count, proto, formats, sep, lines)| {
            let port = count.map_or(port.to_string(), |c| format!("{port}/{c}"));
            let mut m = format!("m={kind}{sep}{port}{sep}{proto}");
            for f in formats {
                m.push_str(sep);
                m.push_str(&f);
            }
            std::iter::once(m)
                .chain(lines)
                .collect::<Vec<_>>()
                .join("\r\n")
        })
}

/// A valid description as text, CRLF-terminated.
fn valid_sdp() -> impl Strategy<Value = String> {
    (
        (token(), any::<u64>(), any::<u64>(), address(), sep()),
        proptest::option::of(text()),
        proptest::collection::vec(section_line(), 0..6),
        proptest::option::of((any::<u64>(), any::<u64>())),
        proptest::collection::vec(media(), 0..4),
    )
        .prop_map(
            |((user, id, version, addr, sep), name, fields, timing, media)| {
                let mut lines = vec!["v=0".to_owned()];
                lines.push(format!("o={user} {id} {version} {addr}").replace(' ', sep));
                if let Some(name) = name {
                    lines.push(format!("s={name}"));
                }
                lines.extend(fields);
                if let Some((start, stop)) = timing {
                    lines.push(format!("t={start} {stop}"));
                }
                lines.extend(media);
                let mut body = lines.join("\r\n");
                body.push_str("\r\n");
                body
            },
        )
}

/// Parses, and when that succeeds checks that printing is stable.
fn parse_and_check(input: &str) -> Result<SessionDescription, SdpError> {
    let result = SessionDescription::parse(input);
    if let Ok(sdp) = &result {
        let printed = sdp.to_string();
        let again = SessionDescription::parse(&printed).expect("printed SDP must parse");
        assert_eq!(&again, sdp);
        assert_eq!(again.to_string(), printed);
    }
    if let Err(
        SdpError::BadLine { line, .. }
        | SdpError::BadPort { line, .. }
        | SdpError::MissingVersion { line }
        | SdpError::MissingOrigin { line }
        | SdpError::UnsupportedVersion { line, .. }
        | SdpError::Duplicate { line, .. },
    ) = &result
    {
        assert!(
            *line >= 1 && *line <= input.split('\n').count() + 1,
            "{result:?}"
        );
    }
    result
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn valid_descriptions_print_back_byte_for_byte(body in valid_sdp()) {
        let sdp = parse_and_check(&body).map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
        prop_assert_eq!(sdp.to_string(), body);
    }

    #[test]
    fn lf_only_input_prints_as_crlf(body in valid_sdp()) {
        let lf = body.replace("\r\n", "\n");
        let sdp = parse_and_check(&lf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(sdp.to_string(), body);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_and_check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_line_soup_never_panics(
        lines in proptest::collection::vec("[a-z=]{0,2}[ -~\r]{0,30}", 0..20)
    ) {
        let _ = parse_and_check(&lines.join("\n"));
        let _ = parse_and_check(&format!("v=0\no=- 1 1 IN IP4 a\n{}", lines.join("\r\n")));
    }

    #[test]
    fn mutated_valid_descriptions_never_panic(
        body in valid_sdp(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 1..6),
    ) {
        let mut chars: Vec<char> = body.chars().collect();
        for (at, op, c) in edits {
            if chars.is_empty() {
                break;
            }
            let i = at.index(chars.len());
            match op {
                0 => chars.insert(i, c),
                1 => { chars.remove(i); }
                _ => chars[i] = c,
            }
        }
        let _ = parse_and_check(&chars.into_iter().collect::<String>());
    }

    #[test]
    fn built_descriptions_read_back_equal(
        (user, id, version) in (token(), any::<u64>(), any::<u64>()),
        ip in any::<std::net::IpAddr>(),
        name in "[ -~]{0,20}",
        streams in proptest::collection::vec(
            (any::<u16>(), proptest::collection::vec(0u8..=127, 1..5), any::<Option<u32>>(), 0usize..4),
            0..3,
        ),
    ) {
        let mut sdp = SessionDescription::new(Origin::new(&user, id, version, ip), &name).unwrap();
        sdp.push_field(Field::Connection(Connection::new(ip))).unwrap();
        sdp.push_field(Field::Timing(Timing::default())).unwrap();
        for (port, pts, ptime, dir) in streams {
            let mut m = MediaDescription::new(
                MediaKind::Audio, port, "RTP/AVP", pts.iter().map(|p| p.to_string()),
            ).unwrap();
            for pt in &pts {
                m.push_attribute(Attribute::RtpMap(RtpMap {
                    payload_type: *pt,
                    encoding_name: "X".into(),
                    clock_rate: 8000,
                    channels: None,
                })).unwrap();
                m.push_attribute(Attribute::Fmtp(Fmtp { format: pt.to_string(), params: "a=b".into() })).unwrap();
            }
            if let Some(ms) = ptime {
                m.push_attribute(Attribute::Ptime(ms)).unwrap();
            }
            m.set_direction([Direction::SendRecv, Direction::SendOnly, Direction::RecvOnly, Direction::Inactive][dir]);
            sdp.push_media(m);
        }
        let back = SessionDescription::parse(&sdp.to_string()).unwrap();
        prop_assert_eq!(back, sdp);
    }
}
