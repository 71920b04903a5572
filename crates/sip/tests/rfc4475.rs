//! RFC 4475 torture tests: every valid message parses and validates, every invalid one is
//! rejected with the error the RFC describes. Server-level answers (416, 420, 483 ...) are
//! tested against the running server in the viawork crate.

use bytes::Bytes;
use sip::{Message, ParseError};
use std::path::PathBuf;

fn load(name: &str) -> Bytes {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/rfc4475")
        .join(name);
    Bytes::from(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

fn parse_and_validate(name: &str) -> Result<Message, ParseError> {
    let m = Message::parse(load(name))?;
    m.validate()?;
    Ok(m)
}

fn index() -> Vec<(String, String)> {
    let idx = String::from_utf8(load("INDEX.tsv").to_vec()).unwrap();
    idx.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[3].to_owned())
        })
        .collect()
}

#[test]
fn every_message_in_the_index_is_classified() {
    let idx = index();
    assert_eq!(idx.len(), 51, "49 RFC messages plus test.dat and a variant");
    for (file, class) in idx {
        let r = parse_and_validate(&file);
        match class.as_str() {
            "valid" | "transaction" | "backward-compat" => {
                assert!(r.is_ok(), "{file} ({class}) must be accepted: {r:?}")
            }
            // test.dat has no SIP version on its request line and a header line without a colon.
            "invalid" | "variant" | "extra" => {
                assert!(r.is_err(), "{file} ({class}) must be rejected")
            }
            "application" => {} // checked one by one below
            other => panic!("unknown class {other}"),
        }
    }
}

/// Each invalid message fails for the reason RFC 4475 gives.
#[test]
fn invalid_messages_fail_for_the_right_reason() {
    let cases: &[(&str, &str)] = &[
        ("badinv01.dat", "Via"),
        ("clerr.dat", "Content-Length 9999 is larger"),
        ("ncl.dat", "negative"),
        ("scalar02.dat", "CSeq"),
        ("scalarlg.dat", "CSeq"),
        ("quotbal.dat", "unterminated quoted display name"),
        ("ltgtruri.dat", "Request-URI is not an absolute URI"),
        ("lwsruri.dat", "white space"),
        ("lwsstart.dat", "more than one space"),
        ("trws.dat", "white space"),
        ("escruri.dat", "escaped headers"),
        ("baddate.dat", "GMT"),
        ("regbadct.dat", "must be in <>"),
        ("badaspec.dat", "white space"),
        // As published, baddn.dat lacks the empty line that ends the header section.
        ("baddn.dat", "not terminated by an empty line"),
        (
            "baddn.phpsip-variant.dat",
            "display name has characters that need quotes",
        ),
        ("badvers.dat", "unsupported SIP version"),
        ("mismatch01.dat", "does not match the request method"),
        ("mismatch02.dat", "does not match the request method"),
        ("bigcode.dat", "status code"),
    ];
    for (file, want) in cases {
        let err = parse_and_validate(file).expect_err(file).to_string();
        assert!(
            err.contains(want),
            "{file}: error {err:?} should mention {want:?}"
        );
    }
}

#[test]
fn application_level_messages_parse_and_carry_what_the_server_needs() {
    // 400: missing or repeated single-valued headers.
    for (file, want) in [
        ("insuf.dat", "missing"),
        ("multi01.dat", "more than one"),
        ("mcl01.dat", "more than one Content-Length"),
    ] {
        let e = parse_and_validate(file).expect_err(file).to_string();
        assert!(e.contains(want), "{file}: {e}");
    }
    // Valid messages whose answer depends on the server's capabilities.
    for file in [
        "unkscm.dat",
        "novelsc.dat",
        "unksm2.dat",
        "bext01.dat",
        "invut.dat",
        "regaut01.dat",
        "bcast.dat",
        "zeromf.dat",
        "cparam01.dat",
        "cparam02.dat",
        "regescrt.dat",
        "sdp01.dat",
    ] {
        parse_and_validate(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let m = parse_and_validate("unkscm.dat").unwrap();
    assert!(matches!(
        m.request_uri().unwrap().unwrap(),
        sip::Uri::Other { .. }
    ));
    let m = parse_and_validate("zeromf.dat").unwrap();
    assert_eq!(
        m.typed::<sip::headers::MaxForwards>().unwrap().unwrap().0,
        0
    );
}

#[test]
fn valid_messages_expose_their_values() {
    let m = parse_and_validate("wsinv.dat").unwrap();
    assert_eq!(m.call_id().unwrap(), "wsinv.ndaksdj@192.0.2.1");
    assert_eq!(m.cseq().unwrap().seq, 9);
    let vias: Vec<_> = m
        .typed_all::<sip::headers::Via>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    assert_eq!(m.to_header().unwrap().tag(), Some("1918181833n"));
    assert_eq!(
        m.from_header().unwrap().display_name.unwrap().text(),
        "J Rosenberg \\\""
    );
    assert_eq!(m.body().len(), 150);

    let m = parse_and_validate("dblreq.dat").unwrap();
    assert_eq!(
        m.body().len(),
        m.get(sip::HeaderName::ContentLength)
            .unwrap()
            .parse::<usize>()
            .unwrap()
    );

    let m = parse_and_validate("intmeth.dat").unwrap();
    assert_eq!(
        m.method().unwrap().as_str(),
        "!interesting-Method0123456789_*+`.%indeed'~"
    );

    let m = parse_and_validate("esc02.dat").unwrap();
    // `C%6Fntact` is not Contact: only two Contact headers.
    assert_eq!(m.typed_all::<sip::headers::Contact>().count(), 2);

    let m = parse_and_validate("noreason.dat").unwrap();
    assert_eq!((m.status(), m.reason()), (Some(100), ""));

    let m = parse_and_validate("unreason.dat").unwrap();
    assert_eq!(m.status(), Some(200));
    assert!(m.reason().contains("Ḝ") || !m.reason().is_empty());
}

#[test]
fn serialization_is_byte_for_byte() {
    for (file, class) in index() {
        if class == "valid" {
            let raw = load(&file);
            let m = Message::parse(raw.clone()).unwrap();
            assert_eq!(m.as_bytes(), &raw[..m.as_bytes().len()], "{file}");
            // An edit that changes nothing rewrites nothing but adds nothing either.
            let again = m.edit().finish().unwrap();
            if m.has(sip::HeaderName::ContentLength) {
                assert_eq!(again.as_bytes(), m.as_bytes(), "{file}");
            }
        }
    }
}
