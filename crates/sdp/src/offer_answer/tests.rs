//! Offer/answer behaviour, driven with descriptions captured from real equipment.

use std::net::{IpAddr, SocketAddr};

use super::*;
use crate::{Attribute, Codec, Direction, MediaKind, Origin, SessionDescription, TelephoneEvent};

/// A body written with `\n` line ends, as CRLF.
fn crlf(text: &str) -> String {
    text.trim_start_matches('\n').replace('\n', "\r\n")
}

fn parse(text: &str) -> SessionDescription {
    let body = crlf(text);
    let sdp = SessionDescription::parse(&body).unwrap();
    assert_eq!(sdp.to_string(), body, "sample must round-trip");
    sdp
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn local() -> LocalMedia {
    LocalMedia::new(ip("203.0.113.10"), 30000)
}

fn origin() -> Origin {
    Origin::new("viawork", 7000, 1, ip("203.0.113.10"))
}

fn answer(offer: &SessionDescription, local: &LocalMedia) -> Result<Answer, NegotiationError> {
    build_answer(&origin(), "-", offer, local)
}

const BARESIP_OFFER: &str = "
v=0
o=- 1939863458 3592491203 IN IP4 192.168.1.7
s=-
c=IN IP4 192.168.1.7
t=0 0
m=audio 10526 RTP/AVP 9 0 8 101
b=AS:64
a=rtpmap:9 G722/8000/1
a=rtpmap:0 PCMU/8000/1
a=rtpmap:8 PCMA/8000/1
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=label:1
a=ssrc:1434620003 cname:d33e3a4e-8a4f-4d5f-8b65-0e11cd7df08e
a=rtcp-rsize
a=ptime:20
";

const CISCO_OFFER: &str = "
v=0
o=CiscoSystemsSIP-GW-UserAgent 8472 6612 IN IP4 10.1.1.1
s=SIP Call
c=IN IP4 10.1.1.1
t=0 0
m=audio 16434 RTP/AVP 18 0 8 96 100
c=IN IP4 10.1.1.2
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:96 telephone-event/8000
a=fmtp:96 0-16
a=rtpmap:100 X-NSE/8000
a=fmtp:100 192-194
a=ptime:20
";

const ASTERISK_OFFER: &str = "
v=0
o=- 1849583024 1849583024 IN IP4 10.0.0.5
s=Asterisk
c=IN IP4 10.0.0.5
t=0 0
m=audio 17232 RTP/AVP 8 0 3 100
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:3 GSM/8000
a=rtpmap:100 telephone-event/8000
a=fmtp:100 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
";

const LINPHONE_VIDEO_OFFER: &str = "
v=0
o=alice 3242 1234 IN IP4 192.0.2.44
s=Talk
c=IN IP4 192.0.2.44
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
m=audio 7078 RTP/AVP 96 0 8 101
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:101 telephone-event/8000
a=rtcp:7079
a=rtcp-fb:* trr-int 1000
m=video 9078 RTP/AVP 97 98
a=rtpmap:97 VP8/90000
a=rtpmap:98 H264/90000
a=fmtp:98 profile-level-id=42801F
a=rtcp-fb:* ccm fir
";

#[test]
fn baresip_offer_is_answered_in_the_offerers_codec_order() {
    let offer = parse(BARESIP_OFFER);
    let answer = answer(&offer, &local()).unwrap();
    assert_eq!(
        answer.sdp.to_string(),
        crlf(
            "
v=0
o=viawork 7000 1 IN IP4 203.0.113.10
s=-
c=IN IP4 203.0.113.10
t=0 0
m=audio 30000 RTP/AVP 9 0 8 101
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendrecv
"
        )
    );
    let stream = answer.media.audio().unwrap();
    assert_eq!(stream.codec.codec, Codec::G722);
    assert_eq!(
        stream.codecs.iter().map(|c| c.codec).collect::<Vec<_>>(),
        [Codec::G722, Codec::Pcmu, Codec::Pcma]
    );
    assert_eq!(stream.remote_rtp, addr("192.168.1.7:10526"));
    assert_eq!(stream.remote_rtcp, Some(addr("192.168.1.7:10527")));
    assert_eq!(stream.ptime, Some(20));
    assert_eq!(stream.direction, Direction::SendRecv);
    let te = stream.telephone_event.as_ref().unwrap();
    assert_eq!((te.send_pt, te.recv_pt, te.clock_rate), (101, 101, 8000));
    assert_eq!(te.remote_events.as_deref(), Some("0-15"));
    assert!(!answer.remote_hold);
}

#[test]
fn cisco_offer_uses_telephone_event_96_and_the_media_level_address() {
    let offer = parse(CISCO_OFFER);
    let answer = answer(&offer, &local()).unwrap();
    let media = &answer.sdp.media()[0];
    assert_eq!(media.formats(), ["0", "8", "96"]);
    assert_eq!(media.rtpmap(96).unwrap().encoding_name, "telephone-event");
    assert_eq!(media.fmtp(96).unwrap().params, "0-16");
    assert!(media.rtpmap(101).is_none(), "must not assume 101");
    let stream = answer.media.audio().unwrap();
    assert_eq!(stream.codec.codec, Codec::Pcmu);
    assert_eq!(stream.telephone_event.as_ref().unwrap().send_pt, 96);
    assert_eq!(stream.remote_rtp, addr("10.1.1.2:16434"));
}

#[test]
fn asterisk_offer_uses_telephone_event_100_and_prefers_pcma() {
    let offer = parse(ASTERISK_OFFER);
    let answer = answer(&offer, &local()).unwrap();
    let stream = answer.media.audio().unwrap();
    assert_eq!(stream.codec.codec, Codec::Pcma);
    assert_eq!(stream.codec.send_pt, 8);
    let te = stream.telephone_event.as_ref().unwrap();
    assert_eq!((te.send_pt, te.recv_pt), (100, 100));
    assert_eq!(answer.sdp.media()[0].formats(), ["8", "0", "100"]);
}

#[test]
fn video_stream_is_rejected_with_port_zero_keeping_count_and_order() {
    let offer = parse(LINPHONE_VIDEO_OFFER);
    let answer = answer(&offer, &local()).unwrap();
    let media = answer.sdp.media();
    assert_eq!(media.len(), 2);
    assert_eq!(media[0].kind(), &MediaKind::Audio);
    assert_eq!(media[0].formats(), ["0", "8", "101"], "opus is not ours");
    assert_eq!(media[1].to_string(), "m=video 0 RTP/AVP 97 98\r\n");
    let stream = answer.media.audio().unwrap();
    assert_eq!(stream.remote_rtcp, Some(addr("192.0.2.44:7079")));
    assert_eq!(answer.media.streams.len(), 1);
}

#[test]
fn audio_after_video_is_accepted_in_its_own_slot() {
    let offer = parse(
        "
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=video 5002 RTP/AVP 97
a=rtpmap:97 H264/90000
m=audio 5000 RTP/AVP 0
",
    );
    let answer = answer(&offer, &local()).unwrap();
    assert_eq!(answer.sdp.media()[0].port(), 0);
    assert_eq!(answer.sdp.media()[1].port(), 30000);
    assert_eq!(answer.media.audio().unwrap().index, 1);
}

#[test]
fn port_zero_and_unusable_audio_streams_are_rejected_and_the_next_one_accepted() {
    let offer = parse(
        "
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 0 RTP/AVP 0
m=audio 5000 RTP/SAVP 0
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR
m=audio 5002 RTP/AVP 18
m=audio 5004 RTP/AVP 0
m=audio 5006 RTP/AVP 0
",
    );
    let answer = answer(&offer, &local()).unwrap();
    let ports: Vec<u16> = answer.sdp.media().iter().map(|m| m.port()).collect();
    assert_eq!(
        ports,
        [0, 0, 0, 30000, 0],
        "one audio stream, the first usable"
    );
    assert_eq!(answer.sdp.media()[1].proto(), "RTP/SAVP");
    assert_eq!(answer.media.audio().unwrap().index, 3);
}

#[test]
fn offers_we_cannot_use_fail_with_no_acceptable_media() {
    for offer in [
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 5000 RTP/AVP 18\n",
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n\
         m=audio 5000 UDP/TLS/RTP/SAVPF 0\n",
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n",
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n\
         m=image 5000 udptl t38\n",
    ] {
        let offer = parse(offer);
        assert_eq!(
            answer(&offer, &local()).unwrap_err(),
            NegotiationError::NoAcceptableMedia
        );
    }
}

#[test]
fn static_payload_types_without_rtpmap_are_recognised() {
    let offer = parse(
        "
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5000 RTP/AVP 8 9 0
",
    );
    let answer = answer(&offer, &local()).unwrap();
    let stream = answer.media.audio().unwrap();
    assert_eq!(
        stream.codecs.iter().map(|c| c.codec).collect::<Vec<_>>(),
        [Codec::Pcma, Codec::G722, Codec::Pcmu]
    );
    assert!(stream.telephone_event.is_none(), "none offered");
    assert_eq!(answer.sdp.media()[0].formats(), ["8", "9", "0"]);
}

#[test]
fn local_codec_list_limits_the_answer() {
    let offer = parse(BARESIP_OFFER);
    let mut local = local();
    local.codecs = vec![Codec::Pcma];
    local.telephone_event = None;
    let answer = answer(&offer, &local).unwrap();
    assert_eq!(answer.sdp.media()[0].formats(), ["8"]);
    assert!(answer.media.audio().unwrap().telephone_event.is_none());
}

#[test]
fn telephone_event_is_chosen_at_the_codec_clock_rate() {
    let offer = parse(
        "
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5000 RTP/AVP 0 97 98
a=rtpmap:97 telephone-event/48000
a=rtpmap:98 telephone-event/8000
",
    );
    let answer = answer(&offer, &local()).unwrap();
    let te = answer
        .media
        .audio()
        .unwrap()
        .telephone_event
        .clone()
        .unwrap();
    assert_eq!(te.send_pt, 98);
    assert_eq!(answer.sdp.media()[0].formats(), ["0", "98"]);
}

#[test]
fn dynamic_payload_type_for_a_static_codec_is_kept() {
    let offer = parse(
        "
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5000 RTP/AVP 110
a=rtpmap:110 PCMU/8000
",
    );
    let answer = answer(&offer, &local()).unwrap();
    assert_eq!(answer.sdp.media()[0].formats(), ["110"]);
    assert_eq!(
        answer.sdp.media()[0].rtpmap(110).unwrap().to_string(),
        "110 PCMU/8000"
    );
}

fn offer_with(extra_session: &str, extra_media: &str) -> SessionDescription {
    parse(&format!(
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\n{extra_session}t=0 0\nm=audio 5000 RTP/AVP 0\n{extra_media}"
    ))
}

#[test]
fn answer_direction_follows_the_offer() {
    let c = "c=IN IP4 192.0.2.1\n";
    for (attr, expected, hold) in [
        ("a=sendonly\n", Direction::RecvOnly, true),
        ("a=recvonly\n", Direction::SendOnly, false),
        ("a=inactive\n", Direction::Inactive, true),
        ("a=sendrecv\n", Direction::SendRecv, false),
        ("", Direction::SendRecv, false),
    ] {
        let offer = offer_with(c, attr);
        let answer = answer(&offer, &local()).unwrap();
        assert_eq!(answer.sdp.media()[0].direction(), Some(expected), "{attr}");
        assert_eq!(answer.media.audio().unwrap().direction, expected);
        assert_eq!(answer.remote_hold, hold, "{attr}");
    }
}

#[test]
fn sendrecv_offer_gets_our_preferred_direction() {
    let offer = offer_with("c=IN IP4 192.0.2.1\n", "");
    let mut local = local();
    local.direction = Direction::SendOnly;
    let answer = answer(&offer, &local).unwrap();
    assert_eq!(answer.media.audio().unwrap().direction, Direction::SendOnly);
    let held = offer_with("c=IN IP4 192.0.2.1\n", "a=sendonly\n");
    let answer = build_answer(&origin(), "-", &held, &local).unwrap();
    assert_eq!(answer.media.audio().unwrap().direction, Direction::Inactive);
}

#[test]
fn rfc2543_black_hole_hold_is_detected_and_answered_recvonly() {
    let offer = parse(
        "
v=0
o=- 3 4 IN IP4 10.0.0.9
s=-
c=IN IP4 0.0.0.0
t=0 0
m=audio 5004 RTP/AVP 0
",
    );
    assert!(offer.is_hold());
    let answer = answer(&offer, &local()).unwrap();
    assert!(answer.remote_hold);
    let stream = answer.media.audio().unwrap();
    assert_eq!(stream.direction, Direction::RecvOnly);
    assert!(!stream.direction.sends(), "never send to 0.0.0.0");
    assert_eq!(answer.sdp.connection().unwrap().address, "203.0.113.10");
}

#[test]
fn answer_copies_the_offers_timing() {
    let offer = parse(
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=3034423619 3042462419\n\
         m=audio 5000 RTP/AVP 0\n",
    );
    let answer = answer(&offer, &local()).unwrap();
    assert_eq!(answer.sdp.timing().unwrap().start, 3_034_423_619);
}

#[test]
fn missing_or_symbolic_connection_is_an_error() {
    let offer = offer_with("", "");
    assert_eq!(
        answer(&offer, &local()).unwrap_err(),
        NegotiationError::MissingConnection { index: 0 }
    );
    let offer = offer_with("c=IN IP4 media.example.com\n", "");
    let err = answer(&offer, &local()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "m= line #1: connection address \"media.example.com\" is not an IP address"
    );
}

#[test]
fn offer_is_built_from_local_capabilities() {
    let mut local = local();
    local.telephone_event = Some(TelephoneEvent::new(97, "0-15").unwrap());
    let offer = build_offer(&origin(), "ViaWork", &local).unwrap();
    assert_eq!(
        offer.to_string(),
        crlf(
            "
v=0
o=viawork 7000 1 IN IP4 203.0.113.10
s=ViaWork
c=IN IP4 203.0.113.10
t=0 0
m=audio 30000 RTP/AVP 0 8 9 97
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:9 G722/8000
a=rtpmap:97 telephone-event/8000
a=fmtp:97 0-15
a=ptime:20
a=sendrecv
"
        )
    );
    local.codecs.clear();
    assert_eq!(
        build_offer(&origin(), "-", &local).unwrap_err(),
        NegotiationError::NoLocalCodecs
    );
}

#[test]
fn our_offer_answered_by_ourselves_negotiates_consistently() {
    let offer = build_offer(&origin(), "-", &local()).unwrap();
    let remote = LocalMedia::new(ip("198.51.100.20"), 40000);
    let answer = build_answer(&origin(), "-", &offer, &remote).unwrap();
    let ours = negotiate_answer(&offer, &answer.sdp).unwrap();
    let stream = ours.audio().unwrap();
    assert_eq!(stream.remote_rtp, addr("198.51.100.20:40000"));
    assert_eq!(stream.local_port, 30000);
    assert_eq!(stream.codec.codec, Codec::Pcmu);
    assert_eq!(stream.direction, Direction::SendRecv);
    assert_eq!(stream.telephone_event.as_ref().unwrap().send_pt, 101);
}

/// Our standard offer, answered by `answer_media` (lines after `m=` included).
fn negotiate(answer_media: &str) -> Result<NegotiatedMedia, NegotiationError> {
    let offer = build_offer(&origin(), "-", &local()).unwrap();
    let answer = parse(&format!(
        "v=0\no=- 9 9 IN IP4 198.51.100.20\ns=-\nc=IN IP4 198.51.100.20\nt=0 0\n{answer_media}"
    ));
    negotiate_answer(&offer, &answer)
}

#[test]
fn answer_payload_types_are_used_for_sending_ours_for_receiving() {
    let media = negotiate(
        "m=audio 40000 RTP/AVP 8 96\na=rtpmap:8 PCMA/8000\na=rtpmap:96 telephone-event/8000\n\
         a=fmtp:96 0-11\na=ptime:30\n",
    )
    .unwrap();
    let stream = media.audio().unwrap();
    assert_eq!(stream.codec.codec, Codec::Pcma);
    let te = stream.telephone_event.as_ref().unwrap();
    assert_eq!((te.send_pt, te.recv_pt), (96, 101));
    assert_eq!(te.remote_events.as_deref(), Some("0-11"));
    assert_eq!(stream.ptime, Some(30));
}

#[test]
fn answer_without_rtpmap_for_a_dynamic_type_uses_the_offers_mapping() {
    let media = negotiate("m=audio 40000 RTP/AVP 0 101\n").unwrap();
    let te = media.audio().unwrap().telephone_event.clone().unwrap();
    assert_eq!((te.send_pt, te.recv_pt), (101, 101));
}

#[test]
fn answer_direction_and_black_hole_limit_what_we_do() {
    let media = negotiate("m=audio 40000 RTP/AVP 0\na=sendonly\n").unwrap();
    assert_eq!(media.audio().unwrap().direction, Direction::RecvOnly);
    let media = negotiate("m=audio 40000 RTP/AVP 0\nc=IN IP4 0.0.0.0\n").unwrap();
    assert_eq!(media.audio().unwrap().direction, Direction::RecvOnly);
    let media = negotiate("m=audio 40000 RTP/AVP 0\na=rtcp:40005 IN IP4 198.51.100.21\n").unwrap();
    assert_eq!(
        media.audio().unwrap().remote_rtcp,
        Some(addr("198.51.100.21:40005"))
    );
}

#[test]
fn invalid_answers_are_reported() {
    assert_eq!(
        negotiate("m=audio 40000 RTP/AVP 0\nm=video 0 RTP/AVP 31\n").unwrap_err(),
        NegotiationError::MediaCountMismatch {
            offered: 1,
            answered: 2
        }
    );
    assert!(matches!(
        negotiate("m=video 40000 RTP/AVP 31\n").unwrap_err(),
        NegotiationError::MediaMismatch { index: 0, .. }
    ));
    assert_eq!(
        negotiate("m=audio 40000 RTP/AVP 18\na=rtpmap:18 G729/8000\n").unwrap_err(),
        NegotiationError::NoCommonCodec { index: 0 }
    );
    assert_eq!(
        NegotiationError::NoCommonCodec { index: 0 }.to_string(),
        "m= line #1: the answer accepts the stream without any codec of the offer"
    );
}

#[test]
fn rejected_answer_yields_no_stream() {
    let media = negotiate("m=audio 0 RTP/AVP 0\n").unwrap();
    assert!(media.audio().is_none());
}

#[test]
fn reoffer_with_direction_keeps_everything_and_bumps_only_on_change() {
    let previous = parse(BARESIP_OFFER);
    let held = reoffer_with_direction(&previous, Direction::SendOnly);
    assert_eq!(held.session_version(), previous.session_version() + 1);
    assert_eq!(held.media()[0].direction(), Some(Direction::SendOnly));
    assert_eq!(
        held.to_string(),
        previous
            .to_string()
            .replace("a=sendrecv", "a=sendonly")
            .replace(" 3592491203 ", " 3592491204 ")
    );
    let again = reoffer_with_direction(&held, Direction::SendOnly);
    assert_eq!(again, held, "unchanged description keeps its version");
}

fn session() -> LocalSession {
    LocalSession::new(origin(), "-").unwrap()
}

#[test]
fn session_version_grows_only_when_the_description_changes() {
    let mut s = session();
    let first = s.create_offer(&local()).unwrap();
    assert_eq!(first.session_version(), 1);
    s.offer_rejected();
    let refresh = s.create_offer(&local()).unwrap();
    assert_eq!(refresh, first, "refresh re-offer is identical");
    s.offer_rejected();
    let mut moved = local();
    moved.port = 30002;
    let changed = s.create_offer(&moved).unwrap();
    assert_eq!(changed.session_version(), 2);
    assert_eq!(changed.origin().session_id, first.origin().session_id);
    assert_eq!(changed.origin().username, "viawork");
    assert_eq!(s.origin().session_version, 2);
}

#[test]
fn hold_and_resume_re_offers_count_versions() {
    let mut s = session();
    assert_eq!(s.hold().unwrap_err(), NegotiationError::NoPreviousSdp);
    s.create_offer(&local()).unwrap();
    s.offer_rejected();
    let hold = s.hold().unwrap();
    assert_eq!(hold.session_version(), 2);
    assert!(hold.is_hold());
    s.offer_rejected();
    assert_eq!(s.hold().unwrap().session_version(), 2);
    s.offer_rejected();
    let resume = s.resume().unwrap();
    assert_eq!(resume.session_version(), 3);
    assert_eq!(resume.media()[0].direction(), Some(Direction::SendRecv));
}

#[test]
fn answers_share_the_version_counter_with_offers() {
    let mut s = session();
    let a1 = s.create_answer(&parse(BARESIP_OFFER), &local()).unwrap();
    assert_eq!(a1.sdp.session_version(), 1);
    let a2 = s.create_answer(&parse(CISCO_OFFER), &local()).unwrap();
    assert_eq!(a2.sdp.session_version(), 2);
    let a3 = s.create_answer(&parse(CISCO_OFFER), &local()).unwrap();
    assert_eq!(a3.sdp.session_version(), 2);
}

#[test]
fn re_offer_keeps_previous_m_line_slots() {
    let mut s = session();
    s.create_answer(
        &parse(
            "
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=video 5002 RTP/AVP 97
m=audio 5000 RTP/AVP 0
m=text 5004 RTP/AVP 98
",
        ),
        &local(),
    )
    .unwrap();
    let reoffer = s.create_offer(&local()).unwrap();
    let lines: Vec<String> = reoffer
        .media()
        .iter()
        .map(|m| m.media_line().to_string())
        .collect();
    assert_eq!(
        lines,
        [
            "video 0 RTP/AVP 97",
            "audio 30000 RTP/AVP 0 8 9 101",
            "text 0 RTP/AVP 98"
        ]
    );
    assert_eq!(reoffer.session_version(), 2);
}

#[test]
fn answer_is_processed_only_for_a_pending_offer() {
    let mut s = session();
    let remote = LocalMedia::new(ip("198.51.100.20"), 40000);
    let offer = s.create_offer(&local()).unwrap();
    assert!(s.has_pending_offer());
    let answer = build_answer(&origin(), "-", &offer, &remote).unwrap().sdp;
    let media = s.process_answer(&answer).unwrap();
    assert_eq!(
        media.audio().unwrap().remote_rtp,
        addr("198.51.100.20:40000")
    );
    assert_eq!(
        s.process_answer(&answer).unwrap_err(),
        NegotiationError::NoPendingOffer
    );
    s.hold().unwrap();
    assert_eq!(s.hold().unwrap_err(), NegotiationError::OfferPending);
    assert_eq!(
        s.create_answer(&parse(BARESIP_OFFER), &local())
            .unwrap_err(),
        NegotiationError::OfferPending,
        "glare: the SIP layer answers 491"
    );
    s.offer_rejected();
    assert!(!s.has_pending_offer());
    assert!(s.create_answer(&parse(BARESIP_OFFER), &local()).is_ok());
}

/// RFC 3725 flow I: the controller gets A's offer in a 200 OK to an offerless INVITE, offers
/// B on its own leg, and answers A in the ACK; each leg has its own origin and versions.
#[test]
fn third_party_call_control_flow_with_anchored_media() {
    let mut leg_a = LocalSession::new(origin(), "-").unwrap();
    let mut leg_b =
        LocalSession::new(Origin::new("viawork", 8000, 1, ip("203.0.113.10")), "-").unwrap();
    let a_offer = parse(BARESIP_OFFER);
    let b_local = LocalMedia::new(ip("203.0.113.10"), 30002);
    let b_offer = leg_b.create_offer(&b_local).unwrap();
    let b_answer = build_answer(
        &Origin::new("-", 1, 1, ip("10.0.0.5")),
        "-",
        &b_offer,
        &LocalMedia::new(ip("10.0.0.5"), 17232),
    )
    .unwrap()
    .sdp;
    let b_media = leg_b.process_answer(&b_answer).unwrap();
    let a_answer = leg_a.create_answer(&a_offer, &local()).unwrap();
    assert_eq!(b_media.audio().unwrap().remote_rtp, addr("10.0.0.5:17232"));
    assert_eq!(
        a_answer.media.audio().unwrap().remote_rtp,
        addr("192.168.1.7:10526")
    );
    assert_ne!(
        a_answer.sdp.origin().session_id,
        b_offer.origin().session_id
    );
    assert!(a_answer.sdp.media()[0]
        .attributes()
        .all(|a| !matches!(a, Attribute::Other { .. })));
}

/// What a meeting leg of ViaWork's media engine offers and accepts: G.722 first.
fn meeting_local() -> LocalMedia {
    let mut local = local();
    local.codecs = vec![Codec::G722, Codec::Pcmu, Codec::Pcma];
    local.answer_codecs = AnswerCodecs::OurPreferred;
    local
}

#[test]
fn an_offer_puts_g722_first_when_asked_with_its_8000_clock() {
    let offer = build_offer(&origin(), "-", &meeting_local()).unwrap();
    let m = &offer.media()[0];
    assert_eq!(m.formats(), ["9", "0", "8", "101"]);
    let text = offer.to_string();
    assert!(text.contains("a=rtpmap:9 G722/8000\r\n"), "{text}");
    assert!(
        text.contains("a=rtpmap:101 telephone-event/8000\r\n"),
        "{text}"
    );
    // A phone that takes G.722 answers with it first: that is what we send.
    let reply = parse(
        "
v=0
o=- 5 5 IN IP4 192.0.2.9
s=-
c=IN IP4 192.0.2.9
t=0 0
m=audio 7078 RTP/AVP 9 101
a=rtpmap:9 G722/8000
a=rtpmap:101 telephone-event/8000
",
    );
    let stream = negotiate_answer(&offer, &reply).unwrap().streams[0].clone();
    assert_eq!(stream.codec.codec, Codec::G722);
    assert_eq!(stream.telephone_event.map(|t| t.send_pt), Some(101));
}

#[test]
fn answering_with_our_preference_picks_g722_whenever_offered_and_lists_only_it() {
    // baresip offers G722 first, ASTERISK-style offers list it in the middle or last.
    for (offer, want) in [
        (BARESIP_OFFER.to_owned(), "9"),
        (
            "
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5000 RTP/AVP 0 8 9 101
a=rtpmap:101 telephone-event/8000
"
            .to_owned(),
            "9",
        ),
    ] {
        let answer = answer(&parse(&offer), &meeting_local()).unwrap();
        let m = &answer.sdp.media()[0];
        assert_eq!(m.formats()[0], want);
        assert_eq!(m.formats().len(), 2, "one codec and telephone-event: {m:?}");
        let stream = answer.media.audio().unwrap();
        assert_eq!(stream.codecs.len(), 1);
        assert_eq!(stream.codec.codec, Codec::G722);
        assert!(answer.sdp.to_string().contains("a=rtpmap:9 G722/8000\r\n"));
    }
}

#[test]
fn answering_with_our_preference_without_g722_offered_picks_our_first_g711() {
    // Cisco offers G.729, PCMU, PCMA: we take PCMU (our order), alone.
    let cisco = answer(&parse(CISCO_OFFER), &meeting_local()).unwrap();
    assert_eq!(cisco.sdp.media()[0].formats(), ["0", "96"]);
    // A-law first in the offer, but our list says PCMU before PCMA.
    let offer = parse(
        "
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5000 RTP/AVP 8 0
",
    );
    let alaw_first = answer(&offer, &meeting_local()).unwrap();
    assert_eq!(alaw_first.sdp.media()[0].formats(), ["0"]);
    // An administrator who put PCMA first gets PCMA.
    let mut local = meeting_local();
    local.codecs = vec![Codec::G722, Codec::Pcma, Codec::Pcmu];
    let pcma_first = build_answer(&origin(), "-", &offer, &local).unwrap();
    assert_eq!(pcma_first.sdp.media()[0].formats(), ["8"]);
    // G.722 turned off: a G.722-only offer is not acceptable.
    let g722_only = parse(
        "
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5000 RTP/AVP 9
",
    );
    let mut local = meeting_local();
    local.codecs = vec![Codec::Pcmu, Codec::Pcma];
    assert_eq!(
        build_answer(&origin(), "-", &g722_only, &local).unwrap_err(),
        NegotiationError::NoAcceptableMedia
    );
}

#[test]
fn the_default_answer_still_lists_every_shared_codec_in_the_offer_order() {
    let answer = answer(&parse(BARESIP_OFFER), &local()).unwrap();
    assert_eq!(answer.sdp.media()[0].formats(), ["9", "0", "8", "101"]);
}
