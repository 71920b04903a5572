//! ViaWork's media engine: RTP/RTCP, G.711, tones, RFC 4733 DTMF and the relay for
//! anchored calls. Sans-IO cores with a thin tokio driver, like the SIP stack.
#![forbid(unsafe_code)]
