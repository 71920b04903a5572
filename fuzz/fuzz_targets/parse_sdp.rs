//! Any text: SDP parsing, printing and answering must return errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(sdp) = sdp::SessionDescription::parse(text) {
            let printed = sdp.to_string();
            let again = sdp::SessionDescription::parse(&printed).expect("printed SDP parses");
            assert_eq!(again.to_string(), printed);
        }
    }
});
