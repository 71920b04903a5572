//! SIP over TLS (RFC 3261 §26.2): sipsak (a real client, OpenSSL underneath) pings the
//! server over TLS, and the stack places and answers a call over TLS end to end. The
//! certificates are made for the test with rcgen, for 127.0.0.1.

mod common;

use bytes::Bytes;
use common::Server;
use sip::builder::{RequestBuilder, ResponseBuilder};
use sip::{HeaderName, Method};
use sip_stack::endpoint::{self, EndpointConfig, EndpointEvent};
use sip_stack::transaction::{new_branch, Peer, TimerConfig, Transport, TuEvent};
use sip_stack::transport::TlsSettings;
use std::process::Command;

struct Pki {
    cert_pem: String,
    key_pem: String,
}

fn pki() -> Pki {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.self_signed(&key).unwrap();
    Pki {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// OpenSSL's `s_client` (a real TLS client that verifies the certificate and the IP
/// address) carries an OPTIONS to the server; the test reads the 200 back from it.
#[test]
fn openssl_client_gets_200_over_tls() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    let server = Server::start_with(&[
        (
            "VIAWORK_SIP_LISTEN",
            "udp:127.0.0.1:0,tcp:127.0.0.1:0,tls:127.0.0.1:0",
        ),
        ("VIAWORK_TLS_CERTIFICATE", cert.to_str().unwrap()),
        ("VIAWORK_TLS_PRIVATE_KEY", key.to_str().unwrap()),
    ]);
    let tls = server.tls.expect("tls listener");
    let mut client = Command::new("timeout")
        .args([
            "-k",
            "5",
            "30",
            "openssl",
            "s_client",
            "-quiet",
            "-verify_return_error",
            "-verify_ip",
            "127.0.0.1",
            "-CAfile",
        ])
        .arg(&cert)
        .arg("-connect")
        .arg(tls.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl must be installed");
    let request = format!(
        "OPTIONS sip:ping@{tls} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKtls1\r\n\
         From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:ping@{tls}>\r\nCall-ID: tls-openssl-1\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(request.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let status = lines.next().expect("a response").unwrap();
    let mut headers = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.trim().is_empty() {
            break;
        }
        headers.push(line);
    }
    drop(stdin);
    let _ = client.kill();
    let _ = client.wait();
    assert_eq!(status.trim_end(), "SIP/2.0 200 OK");
    assert!(
        headers
            .iter()
            .any(|h| h.starts_with("Call-ID: tls-openssl-1")),
        "{headers:?}"
    );
    assert!(
        headers.iter().any(|h| h.starts_with("Allow: ")),
        "{headers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_calls_itself_over_tls() {
    let pki = pki();
    let settings = || {
        TlsSettings::from_pem(
            pki.cert_pem.as_bytes(),
            pki.key_pem.as_bytes(),
            pki.cert_pem.as_bytes(),
        )
        .unwrap()
    };
    let start = |tls| {
        endpoint::start(EndpointConfig {
            listen: vec![(Transport::Tls, "127.0.0.1:0".parse().unwrap())],
            tls: Some(tls),
            timers: TimerConfig::default(),
        })
    };
    let (uas, mut uas_events) = start(settings()).await.unwrap();
    let (uac, mut uac_events) = start(settings()).await.unwrap();
    let uas_addr = uas.local_addr(Transport::Tls).unwrap();
    let uac_addr = uac.local_addr(Transport::Tls).unwrap();
    tokio::spawn(async move {
        while let Some(EndpointEvent::Tu(ev)) = uas_events.recv().await {
            if let TuEvent::Request { key, msg, .. } = ev {
                let ok = ResponseBuilder::reply(&msg, 200, Some("tls-uas"))
                    .header(HeaderName::Contact, format!("<sips:echo@{uas_addr}>"))
                    .build()
                    .unwrap();
                uas.send_response(key, ok).await.unwrap();
            }
        }
    });
    let invite = RequestBuilder::new(&Method::Options, &format!("sips:echo@{uas_addr}"))
        .header(
            HeaderName::Via,
            format!("SIP/2.0/TLS {uac_addr};branch={}", new_branch()),
        )
        .header(HeaderName::From, format!("<sips:stack@{uac_addr}>;tag=1"))
        .header(HeaderName::To, format!("<sips:echo@{uas_addr}>"))
        .header(HeaderName::CallId, "tls-options-1")
        .header(HeaderName::CSeq, "1 OPTIONS")
        .header(HeaderName::MaxForwards, 70)
        .body("text/plain", Bytes::from_static(b"over TLS"))
        .build()
        .unwrap();
    uac.send_request(invite, Peer::new(uas_addr, Transport::Tls))
        .await
        .unwrap();
    loop {
        match uac_events.recv().await.expect("endpoint running") {
            EndpointEvent::Tu(TuEvent::Response { msg, .. }) => {
                assert_eq!(msg.status(), Some(200));
                assert_eq!(msg.to_header().unwrap().tag(), Some("tls-uas"));
                break;
            }
            EndpointEvent::Tu(TuEvent::TransportError { .. })
            | EndpointEvent::Tu(TuEvent::Timeout { .. }) => {
                panic!("TLS request failed")
            }
            _ => {}
        }
    }
}
