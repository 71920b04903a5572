//! The running server answers each RFC 4475 message as the RFC expects: 400 with a Warning
//! for malformed requests, 505 for another version, 416/420/415/406 for what it does not
//! serve, 483 for Max-Forwards 0, silence for responses and broadcast Vias.
//!
//! Each torture message is sent over UDP with its top Via's sent-by pointed at the test's
//! socket (so responses come back here), followed by a sentinel OPTIONS: the server handles
//! datagrams in order, so whatever arrives before the sentinel's 200 is the answer to the
//! message, and nothing before it means no answer.

mod common;

use common::{header, status_of, Server};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::Duration;

fn load(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../sip/tests/rfc4475")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Points the first Via's sent-by at `addr`, keeping everything else.
fn redirect_via(msg: &[u8], addr: &str) -> Vec<u8> {
    let text = msg.to_vec();
    let mut out = Vec::with_capacity(text.len() + 32);
    let mut done = false;
    for line in text.split_inclusive(|&b| b == b'\n') {
        let lower = line.to_ascii_lowercase();
        let is_via =
            lower.starts_with(b"via:") || lower.starts_with(b"via ") || lower.starts_with(b"v:");
        if !done && is_via {
            // "Via: SIP/2.0/UDP host;params" → replace host[:port] up to ';' or line end.
            let s = String::from_utf8_lossy(line).to_string();
            if let Some(proto_end) = s
                .find("/UDP ")
                .or_else(|| s.find("/TCP "))
                .or_else(|| s.find("/TLS "))
            {
                let host_start = proto_end + 5;
                let rest = &s[host_start..];
                let host_end = rest.find([';', '\r', '\n', ',']).unwrap_or(rest.len());
                let new = format!("{}{}{}", &s[..host_start], addr, &rest[host_end..]);
                out.extend_from_slice(new.as_bytes());
                done = true;
                continue;
            }
        }
        out.extend_from_slice(line);
    }
    out
}

fn sentinel(addr: &str, n: usize) -> Vec<u8> {
    format!(
        "OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch=z9hG4bKsentinel{n}\r\n\
         From: <sip:t@127.0.0.1>;tag=s\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: sentinel-{n}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Sends a message and returns what the server answered to it (before the sentinel).
fn exchange(sock: &UdpSocket, server: &Server, msg: &[u8], n: usize) -> Vec<String> {
    exchange_at_least(sock, server, msg, n, 0)
}

/// Like [`exchange`], but also waits for `min` answers: the registrar answers REGISTER off
/// the event loop (it reads the store), so its answer may come after the sentinel's.
fn exchange_at_least(
    sock: &UdpSocket,
    server: &Server,
    msg: &[u8],
    n: usize,
    min: usize,
) -> Vec<String> {
    let me = sock.local_addr().unwrap().to_string();
    sock.send_to(&redirect_via(msg, &me), server.udp).unwrap();
    sock.send_to(&sentinel(&me, n), server.udp).unwrap();
    let mut answers = Vec::new();
    let mut sentinel_seen = false;
    let mut buf = vec![0u8; 65536];
    while !sentinel_seen || answers.len() < min {
        let (len, _) = sock
            .recv_from(&mut buf)
            .expect("server answered nothing, not even the sentinel");
        let text = String::from_utf8_lossy(&buf[..len]).to_string();
        if text.contains(&format!("Call-ID: sentinel-{n}\r\n")) {
            assert_eq!(status_of(text.as_bytes()), Some(200));
            sentinel_seen = true;
        } else {
            answers.push(text);
        }
    }
    answers
}

#[test]
fn server_answers_torture_messages_as_rfc4475_expects() {
    let server = Server::start();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    // A safety net against a hung server, not a synchronisation device.
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let cases: &[(&str, Option<u16>)] = &[
        // invalid messages
        ("badinv01.dat", Some(400)),
        ("clerr.dat", Some(400)),
        ("ncl.dat", Some(400)),
        ("scalar02.dat", Some(400)),
        ("quotbal.dat", Some(400)),
        ("ltgtruri.dat", Some(400)),
        ("lwsruri.dat", Some(400)),
        ("lwsstart.dat", Some(400)),
        ("trws.dat", Some(400)),
        ("escruri.dat", Some(400)),
        ("baddate.dat", Some(400)),
        ("regbadct.dat", Some(400)),
        ("badaspec.dat", Some(400)),
        ("baddn.phpsip-variant.dat", Some(400)),
        ("badvers.dat", Some(505)),
        ("mismatch01.dat", Some(400)),
        ("mismatch02.dat", Some(400)),
        // a response is never answered
        ("scalarlg.dat", None),
        ("bigcode.dat", None),
        ("bcast.dat", None),
        ("noreason.dat", None),
        // application-level handling
        ("insuf.dat", Some(400)),
        ("multi01.dat", Some(400)),
        ("mcl01.dat", Some(400)),
        ("unkscm.dat", Some(416)),
        ("novelsc.dat", Some(416)),
        ("bext01.dat", Some(420)),
        ("invut.dat", Some(415)),
        ("sdp01.dat", Some(406)),
        ("zeromf.dat", Some(200)),
        ("badbranch.dat", Some(200)),
        // valid requests for users this server does not have (yet)
        ("inv2543.dat", Some(404)),
        ("esc01.dat", Some(404)),
        ("lwsdisp.dat", Some(200)),
        // REGISTER is always challenged first, whatever the Authorization scheme.
        ("regaut01.dat", Some(401)),
        ("cparam01.dat", Some(401)),
        ("cparam02.dat", Some(401)),
        ("regescrt.dat", Some(401)),
        ("unksm2.dat", Some(401)),
        ("intmeth.dat", Some(501)),
        ("esc02.dat", Some(501)),
    ];
    for (i, (file, want)) in cases.iter().enumerate() {
        // Many torture messages share one branch; a socket (sent-by) per message keeps
        // each in its own server transaction instead of matching as a retransmission.
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        // A safety net against a hung server, not a synchronisation device.
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let msg = load(file);
        let answers = if msg.starts_with(b"REGISTER") {
            exchange_at_least(&sock, &server, &msg, i, 1)
        } else {
            exchange(&sock, &server, &msg, i)
        };
        match want {
            None => assert!(
                answers.is_empty(),
                "{file}: expected no answer, got {answers:?}"
            ),
            Some(code) => {
                assert_eq!(
                    answers.len(),
                    1,
                    "{file}: expected one answer, got {answers:?}"
                );
                assert_eq!(
                    status_of(answers[0].as_bytes()),
                    Some(*code),
                    "{file}: {}",
                    answers[0]
                );
                let a = &answers[0];
                match code {
                    400 => assert!(
                        header(a, "Warning").is_some_and(|w| w.starts_with("399 ")),
                        "{file}: {a}"
                    ),
                    420 => assert_eq!(
                        header(a, "Unsupported"),
                        Some("nothingSupportsThis, nothingSupportsThisEither")
                    ),
                    415 | 406 => {
                        assert!(header(a, "Accept").is_some_and(|v| v.contains("application/sdp")))
                    }
                    501 | 405 => assert!(header(a, "Allow").is_some()),
                    401 => assert!(
                        header(a, "WWW-Authenticate").is_some_and(
                            |c| c.starts_with("Digest ") && c.contains("algorithm=SHA-256")
                        ),
                        "{file}: {a}"
                    ),
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn max_forwards_zero_on_a_request_to_forward_is_483() {
    let server = Server::start();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let me = sock.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKmf0\r\n\
         From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: mf0\r\n\
         CSeq: 1 INVITE\r\nMax-Forwards: 0\r\nContent-Length: 0\r\n\r\n"
    );
    // Under load the INVITE transaction may send its own 100 Trying (RFC 3261 §17.2.1)
    // before the refusal: read up to the final answer (bounded by the read timeout).
    sock.send_to(invite.as_bytes(), server.udp).unwrap();
    let mut buf = vec![0u8; 65536];
    let mut seen = Vec::new();
    let status = loop {
        let (len, _) = sock.recv_from(&mut buf).expect("no final answer");
        let text = String::from_utf8_lossy(&buf[..len]).to_string();
        let status = status_of(text.as_bytes());
        seen.push(text);
        if status != Some(100) {
            break status;
        }
    };
    assert_eq!(status, Some(483), "{seen:?}");
}

#[test]
fn in_dialog_requests_without_a_dialog_get_481() {
    let server = Server::start();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let me = sock.local_addr().unwrap();
    let bye = format!(
        "BYE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKbye\r\n\
         From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\nCall-ID: nodialog\r\n\
         CSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let answers = exchange(&sock, &server, bye.as_bytes(), 2000);
    assert_eq!(status_of(answers[0].as_bytes()), Some(481), "{answers:?}");
    let invite = bye.replace("BYE", "INVITE").replace(";tag=2", "").replace(
        "Max-Forwards: 70",
        "Proxy-Require: x-nobody\r\nMax-Forwards: 70",
    );
    let answers = exchange(&sock, &server, invite.as_bytes(), 2002);
    assert_eq!(status_of(answers[0].as_bytes()), Some(420), "{answers:?}");
    assert_eq!(header(&answers[0], "Unsupported"), Some("x-nobody"));
    // PUBLISH is presence (RFC 3903): challenged like MESSAGE and SUBSCRIBE.
    let publish = bye.replace("BYE", "PUBLISH").replace(";tag=2", "");
    // Answered off the event loop, like REGISTER: maybe after the sentinel.
    let answers = exchange_at_least(&sock, &server, publish.as_bytes(), 2001, 1);
    assert_eq!(status_of(answers[0].as_bytes()), Some(407), "{answers:?}");
    assert!(header(&answers[0], "Proxy-Authenticate").is_some_and(|c| c.starts_with("Digest ")));
}
