//! Any bytes: framing, parsing, validation, every typed accessor and an edit must return
//! errors, never panic.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip::headers::*;
use sip::{HeaderName, Message};

fuzz_target!(|data: &[u8]| {
    let _ = sip::frame_length(data);
    if let Ok(m) = Message::parse(Bytes::copy_from_slice(data)) {
        let _ = m.validate();
        let _ = m.request_uri();
        let _ = m.top_via();
        let _ = m.call_id();
        let _ = m.cseq();
        let _ = m.from_header().map(|f| f.display_name.map(|d| d.text().into_owned()));
        let _ = m.to_header();
        for v in m.typed_all::<Via>().flatten() {
            let _ = (v.branch(), v.rport(), v.received(), v.to_string());
        }
        for c in m.typed_all::<Contact>().flatten() {
            let _ = (c.expires(), c.q(), c.to_string());
        }
        let _ = m.typed_all::<Route>().count();
        let _ = m.typed::<WwwAuthenticate>().map(|c| c.map(|c| c.params.get("nonce")));
        let _ = m.typed::<Replaces>();
        let _ = m.typed::<Date>();
        let _ = m.typed::<SessionExpires>();
        let _ = m.typed_all::<Reason>().count();
        let _ = m
            .edit()
            .insert_top(HeaderName::Via, "SIP/2.0/UDP x;branch=z9hG4bK1")
            .remove(HeaderName::Route)
            .finish();
    }
});
