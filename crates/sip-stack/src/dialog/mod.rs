//! The dialog layer (RFC 3261 §12–§15, RFC 3262, RFC 3311, RFC 4028) as a sans-IO core.
//!
//! A dialog is the peer-to-peer relationship an INVITE sets up: the identifiers, the
//! route and target of in-dialog requests, the CSeq counters, offer/answer state and the
//! timers that belong to it. The layer sits above the transactions
//! ([`crate::transaction`]) and below the call engine. It never sends anything and never
//! reads a clock: it builds requests and responses, checks and records those it is given,
//! and says what to do and when to wake it.
//!
//! ```text
//!  call engine ──request/reply/ack/prack──▶ ┌────────┐ ──Message──▶ transaction layer
//!  transaction ──handle_request/response──▶ │ Dialog │ ──RequestOutcome / ResponseOutcome
//!  clock       ──handle_timeout(now)──────▶ └────────┘ ──DialogEvent, poll_timeout
//! ```
//!
//! Where to look:
//! - [`dialog`](Dialog): the state and the two constructors ([`Dialog::uac`],
//!   [`Dialog::uas`]); [`id`](DialogId) and [`table`](DialogTable): finding a message's
//!   dialog.
//! - [`request`](InDialogRequest): building in-dialog requests (routing, CSeq, ACK);
//!   [`reply`](InDialogResponse): building responses; [`incoming`](RequestOutcome): the
//!   peer's requests (CSeq order, 481, glare); [`response`](ResponseOutcome): responses to
//!   ours (ACK for 2xx, target refresh, 491 back-off).
//! - [`glare`]: offer/answer state and the 491 back-off; [`prack`]: 100rel; [`session_timer`]:
//!   RFC 4028; [`event`](DialogEvent): the timers' wake-ups.
//! - [`fork`](InviteClient): the UAC's initial INVITE, its forks, and ACK + BYE for extra 2xx.
//!
//! Typical UAC use: send the INVITE through the transaction layer, feed its responses to an
//! [`InviteClient`], send the actions it returns, then put the confirmed dialog in a
//! [`DialogTable`]. Typical UAS use: answer the INVITE with a 1xx or 2xx carrying a To tag
//! and Contact, create the dialog with [`Dialog::uas`], and build later responses with
//! [`Dialog::reply`].

#[allow(clippy::module_inception)]
mod dialog;
mod error;
mod event;
pub mod fork;
pub mod glare;
mod id;
mod incoming;
pub mod prack;
mod reply;
pub mod request;
mod response;
pub mod session_timer;
mod table;

pub use dialog::{Dialog, DialogState, Party, Role, RouteEntry};
pub use error::DialogError;
pub use event::DialogEvent;
pub use fork::{AnswerFor, InviteAction, InviteClient};
pub use glare::{glare_backoff, OfferState, Side};
pub use id::DialogId;
pub use incoming::RequestOutcome;
pub use prack::{RAckValue, ReliableReceiver, ReliableSender};
pub use reply::InDialogResponse;
pub use request::{InDialogRequest, LocalVia};
pub use response::{DiscardReason, ResponseOutcome};
pub use session_timer::{Negotiated, SessionTimer, SessionTimerConfig};
pub use table::{DialogTable, RequestMatch};

#[cfg(test)]
pub(crate) mod tests {
    //! Shared fixtures (Alice calls Bob) and the scenarios that cross files: 100rel on
    //! the UAS, session timers in a dialog, and a property test that no message sequence
    //! panics.
    use super::*;
    use bytes::Bytes;
    use sip::headers::{TypedHeader, Via};
    use sip::{HeaderName, Message, Method, RequestBuilder, ResponseBuilder};
    use std::time::{Duration, Instant};

    pub(crate) fn via() -> Via<'static> {
        Via::parse("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKtest").unwrap()
    }

    fn invite_builder(rr: Option<&[&str]>) -> RequestBuilder {
        let mut b = RequestBuilder::new(&Method::Invite, &"sip:bob@example.com")
            .header(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinv")
            .header(HeaderName::MaxForwards, 70)
            .header(HeaderName::From, "\"Alice\" <sip:alice@example.com>;tag=alicetag")
            .header(HeaderName::To, "<sip:bob@example.com>")
            .header(HeaderName::CallId, "call-1@a.example.com")
            .header(HeaderName::CSeq, "1 INVITE")
            .header(HeaderName::Contact, "<sip:alice@192.0.2.1>")
            .header(HeaderName::Supported, "100rel, timer")
            .header(HeaderName::Allow, "INVITE, ACK, BYE, CANCEL, UPDATE, PRACK")
            .header(
                HeaderName::Authorization,
                "Digest username=\"alice\", realm=\"example.com\", nonce=\"n\", uri=\"sip:bob@example.com\", response=\"0123456789abcdef0123456789abcdef\"",
            );
        for r in rr.unwrap_or(&[]) {
            b = b.header(HeaderName::RecordRoute, r);
        }
        b
    }

    /// Alice's INVITE without an offer.
    pub(crate) fn invite_from_alice(rr: Option<&[&str]>) -> Message {
        invite_builder(rr).build().unwrap()
    }

    /// Alice's INVITE with an SDP offer.
    pub(crate) fn invite_with_offer() -> Message {
        invite_builder(None)
            .body("application/sdp", Bytes::from_static(b"v=0\r\no=alice\r\n"))
            .build()
            .unwrap()
    }

    /// Bob's response with his tag, Contact, Allow, the given Record-Route and body.
    pub(crate) fn answer(
        inv: &Message,
        code: u16,
        tag: &str,
        rr: &[&str],
        body: Option<&str>,
    ) -> Message {
        let mut b = ResponseBuilder::reply(inv, code, Some(tag))
            .header(HeaderName::Contact, "<sip:bob@192.0.2.4>")
            .header(HeaderName::Allow, "INVITE, ACK, BYE, CANCEL, UPDATE, PRACK");
        for r in rr {
            b = b.header(HeaderName::RecordRoute, r);
        }
        if let Some(s) = body {
            b = b.body("application/sdp", Bytes::from(s.to_owned()));
        }
        b.build().unwrap()
    }

    /// `resp` made a reliable provisional with this RSeq.
    pub(crate) fn reliable(resp: &Message, rseq: u32) -> Message {
        resp.edit()
            .append("Require", "100rel")
            .append("RSeq", rseq)
            .finish()
            .unwrap()
    }

    /// A request the peer of `d` sends in `d`.
    pub(crate) fn peer_request(
        d: &Dialog,
        method: Method,
        cseq: u32,
        contact: Option<&str>,
        body: Option<&str>,
    ) -> Message {
        let mut b = RequestBuilder::new(&method, d.local_contact())
            .header(HeaderName::Via, "SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKpeer")
            .header(HeaderName::MaxForwards, 70)
            .header(HeaderName::From, d.remote().with_tag(d.remote_tag()))
            .header(HeaderName::To, d.local().with_tag(d.local_tag()))
            .header(HeaderName::CallId, d.call_id())
            .header(HeaderName::CSeq, format_args!("{cseq} {method}"));
        if let Some(c) = contact {
            b = b.header(HeaderName::Contact, c);
        }
        if let Some(s) = body {
            b = b.body("application/sdp", Bytes::from(s.to_owned()));
        }
        b.build().unwrap()
    }

    /// The peer's response to our request `req`.
    pub(crate) fn response_to(req: &Message, code: u16, contact: Option<&str>) -> Message {
        let mut b = ResponseBuilder::reply(req, code, None);
        if let Some(c) = contact {
            b = b.header(HeaderName::Contact, c);
        }
        b.build().unwrap()
    }

    /// Alice's (UAC) and Bob's (UAS) confirmed dialogs after INVITE/200/ACK.
    pub(crate) fn established() -> (Dialog, Dialog) {
        let t0 = Instant::now();
        let inv = invite_with_offer();
        let ok = answer(&inv, 200, "bobtag", &[], Some("v=0\r\no=bob\r\n"));
        let mut uas = Dialog::uas(&inv, &ok, t0).unwrap();
        uas.seed_rng(1);
        let (mut uac, outcome) = Dialog::uac(&inv, &ok, t0).unwrap();
        uac.seed_rng(2);
        assert!(matches!(
            outcome,
            ResponseOutcome::AckNeeded { offer: false, .. }
        ));
        let ack = uac.ack(&via()).unwrap().build().unwrap();
        assert!(matches!(
            uas.handle_request(&ack).unwrap(),
            RequestOutcome::Accepted { .. }
        ));
        assert_eq!(uac.state(), DialogState::Confirmed);
        assert_eq!(uas.state(), DialogState::Confirmed);
        assert_eq!(uac.offer_state(), &OfferState::Idle);
        assert_eq!(uas.offer_state(), &OfferState::Idle);
        (uac, uas)
    }

    fn prack_for(d: &Dialog, cseq: u32, rack: &str) -> Message {
        peer_request(d, Method::Prack, cseq, None, None)
            .edit()
            .append("RAck", rack)
            .finish()
            .unwrap()
    }

    fn status(o: RequestOutcome) -> Option<u16> {
        match o {
            RequestOutcome::Rejected(m) => m.status(),
            _ => None,
        }
    }

    // ---- 100rel, UAS side -------------------------------------------------------------

    #[test]
    fn uas_reliable_provisional_is_retransmitted_until_prack_then_200() {
        let t0 = Instant::now();
        let inv = invite_with_offer();
        let trying_tag = answer(&inv, 180, "bobtag", &[], None);
        let mut d = Dialog::uas(&inv, &trying_tag, t0).unwrap();
        d.seed_rng(9);
        let p = d
            .reply(&inv, 183)
            .unwrap()
            .reliable()
            .body("application/sdp", Bytes::from_static(b"v=0\r\no=bob\r\n"))
            .build(t0)
            .unwrap();
        assert!(super::prack::is_reliable_provisional(&p));
        let rseq = p.typed::<sip::headers::RSeq>().unwrap().unwrap().0;
        assert!((1..1 << 31).contains(&rseq));
        assert_eq!(p.get(HeaderName::Contact), Some("<sip:bob@192.0.2.4>"));
        // The 183 answered the offer.
        assert_eq!(d.offer_state(), &OfferState::Idle);
        // One unacknowledged reliable provisional at a time; no 2xx before its PRACK.
        assert!(matches!(
            d.reply(&inv, 180).unwrap().reliable().build(t0),
            Err(DialogError::ProvisionalPending { .. })
        ));
        assert!(matches!(
            d.reply(&inv, 200).unwrap().build(t0),
            Err(DialogError::ProvisionalPending { .. })
        ));
        // Retransmissions at 0.5, 1.5, 3.5 s; the PRACK arrives at 4 s.
        let mut sent = Vec::new();
        let prack_at = t0 + Duration::from_secs(4);
        while let Some(t) = d.poll_timeout().filter(|t| *t < prack_at) {
            for e in d.handle_timeout(t) {
                match e {
                    DialogEvent::RetransmitProvisional(m) => {
                        assert_eq!(m.as_bytes(), p.as_bytes());
                        sent.push((t - t0).as_millis());
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(sent, [500, 1500, 3500]);
        // A PRACK without RAck is malformed: 400.
        let bare = peer_request(&d, Method::Prack, 2, None, None);
        assert_eq!(status(d.handle_request(&bare).unwrap()), Some(400));
        // A PRACK for another RSeq: 481, retransmissions go on.
        let wrong = prack_for(&d, 2, &format!("{} 1 INVITE", rseq + 1));
        assert_eq!(status(d.handle_request(&wrong).unwrap()), Some(481));
        assert!(d.poll_timeout().is_some());
        let prack = prack_for(&d, 3, &format!("{rseq} 1 INVITE"));
        assert!(matches!(
            d.handle_request(&prack).unwrap(),
            RequestOutcome::Accepted { .. }
        ));
        let ok = d.reply(&prack, 200).unwrap().build(prack_at).unwrap();
        assert_eq!(ok.status(), Some(200));
        assert_eq!(d.poll_timeout(), None);
        // The same PRACK again: no longer matches anything.
        let again = prack_for(&d, 4, &format!("{rseq} 1 INVITE"));
        assert_eq!(status(d.handle_request(&again).unwrap()), Some(481));
        // The next reliable provisional takes RSeq + 1; the 2xx may follow once PRACKed.
        let p2 = d
            .reply(&inv, 180)
            .unwrap()
            .reliable()
            .build(prack_at)
            .unwrap();
        assert_eq!(p2.get(HeaderName::RSeq), Some(&*(rseq + 1).to_string()));
        let prack2 = prack_for(&d, 5, &format!("{} 1 INVITE", rseq + 1));
        assert!(matches!(
            d.handle_request(&prack2).unwrap(),
            RequestOutcome::Accepted { .. }
        ));
        let ok = d.reply(&inv, 200).unwrap().build(prack_at).unwrap();
        assert_eq!(ok.status(), Some(200));
        assert_eq!(d.state(), DialogState::Confirmed);
    }

    #[test]
    fn uas_reliable_provisional_times_out_at_64_t1() {
        let t0 = Instant::now();
        let inv = invite_with_offer();
        let mut d = Dialog::uas(&inv, &answer(&inv, 180, "bobtag", &[], None), t0).unwrap();
        d.set_t1(Duration::from_millis(100));
        d.reply(&inv, 180).unwrap().reliable().build(t0).unwrap();
        let (mut retransmits, mut timed_out) = (0, None);
        while let Some(t) = d.poll_timeout() {
            for e in d.handle_timeout(t) {
                match e {
                    DialogEvent::RetransmitProvisional(_) => retransmits += 1,
                    DialogEvent::ProvisionalTimedOut {
                        invite_cseq,
                        reject,
                        ..
                    } => {
                        assert_eq!(invite_cseq, 1);
                        let reject = reject.expect("the dialog builds the 5xx");
                        assert_eq!(reject.status(), Some(500));
                        assert_eq!(reject.to_header().unwrap().tag(), Some("bobtag"));
                        timed_out = Some(t - t0);
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(retransmits, 6);
        assert_eq!(timed_out, Some(Duration::from_millis(6400)));
        // The 500 ended the early dialog.
        assert_eq!(d.state(), DialogState::Terminated);
    }

    #[test]
    fn reliable_provisional_needs_100rel_in_the_invite() {
        let t0 = Instant::now();
        let inv = invite_with_offer()
            .edit()
            .remove(HeaderName::Supported)
            .finish()
            .unwrap();
        let mut d = Dialog::uas(&inv, &answer(&inv, 180, "bobtag", &[], None), t0).unwrap();
        assert!(matches!(
            d.reply(&inv, 183).unwrap().reliable().build(t0),
            Err(DialogError::ReliabilityUnsupported)
        ));
        assert!(matches!(
            d.reply(&inv, 200).unwrap().reliable().build(t0),
            Err(DialogError::NotReliable { status: 200 })
        ));
    }

    // ---- session timers in a dialog ----------------------------------------------------

    fn invite_with_se(se: &str) -> Message {
        invite_with_offer()
            .edit()
            .append("Session-Expires", se)
            .finish()
            .unwrap()
    }

    #[test]
    fn uas_non_refresher_sends_bye_when_no_refresh_comes() {
        let t0 = Instant::now();
        let inv = invite_with_se("1800");
        let mut d = Dialog::uas(&inv, &answer(&inv, 180, "bobtag", &[], None), t0).unwrap();
        d.set_session_timer(SessionTimerConfig::default());
        let ok = d
            .reply(&inv, 200)
            .unwrap()
            .body("application/sdp", Bytes::from_static(b"v=0\r\n"))
            .build(t0)
            .unwrap();
        assert_eq!(
            ok.get(HeaderName::SessionExpires),
            Some("1800;refresher=uac")
        );
        assert!(ok
            .typed_all::<sip::headers::Require>()
            .any(|r| r.unwrap().0 == "timer"));
        let timer = d.session_timer().unwrap();
        assert!(!timer.we_refresh());
        // Expiry at 1800 − min(32, 600) = 1768 s.
        assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(1768)));

        // A refresh at 900 s restarts it.
        let t1 = t0 + Duration::from_secs(900);
        let upd = peer_request(&d, Method::Update, 2, None, None)
            .edit()
            .append("Session-Expires", "1800;refresher=uac")
            .append("Supported", "timer")
            .finish()
            .unwrap();
        assert!(matches!(
            d.handle_request(&upd).unwrap(),
            RequestOutcome::Accepted { .. }
        ));
        d.reply(&upd, 200).unwrap().build(t1).unwrap();
        assert_eq!(d.poll_timeout(), Some(t1 + Duration::from_secs(1768)));
        assert!(d.handle_timeout(t1 + Duration::from_secs(1767)).is_empty());
        let ev = d.handle_timeout(t1 + Duration::from_secs(1768));
        assert!(matches!(&ev[..], [DialogEvent::SessionExpired]));
        assert_eq!(d.poll_timeout(), None);
    }

    #[test]
    fn uac_refresher_refreshes_at_half_interval_with_update() {
        let t0 = Instant::now();
        let inv = invite_with_se("600;refresher=uac");
        let ok = answer(&inv, 200, "bobtag", &[], Some("v=0\r\n"))
            .edit()
            .append("Session-Expires", "600;refresher=uac")
            .append("Require", "timer")
            .finish()
            .unwrap();
        let (mut d, _) = Dialog::uac(&inv, &ok, t0).unwrap();
        d.set_session_timer(SessionTimerConfig::new(600, 90));
        assert!(d.session_timer().unwrap().we_refresh());
        assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(300)));
        let ev = d.handle_timeout(t0 + Duration::from_secs(300));
        assert!(matches!(
            &ev[..],
            [DialogEvent::RefreshSession {
                method: Method::Update
            }]
        ));
        // The refresh keeps us refresher.
        let upd = d.request(Method::Update, &via()).unwrap().build().unwrap();
        assert_eq!(
            upd.get(HeaderName::SessionExpires),
            Some("600;refresher=uac")
        );
        assert_eq!(upd.get(HeaderName::MinSe), Some("90"));
        let t1 = t0 + Duration::from_secs(301);
        let ok = response_to(&upd, 200, None)
            .edit()
            .append("Session-Expires", "600;refresher=uac")
            .finish()
            .unwrap();
        d.handle_response(&ok, t1).unwrap();
        assert_eq!(d.poll_timeout(), Some(t1 + Duration::from_secs(300)));
        // If the next refreshes go unanswered, the refresher gives up at 600 − 32 s.
        assert!(matches!(
            &d.handle_timeout(t1 + Duration::from_secs(300))[..],
            [DialogEvent::RefreshSession { .. }]
        ));
        assert!(matches!(
            &d.handle_timeout(t1 + Duration::from_secs(568))[..],
            [DialogEvent::SessionExpired]
        ));
    }

    #[test]
    fn uac_refresh_gets_422_and_retries_with_the_min_se() {
        let (mut uac, _) = established();
        uac.set_session_timer(SessionTimerConfig::new(120, 90));
        let upd = uac
            .request(Method::Update, &via())
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(upd.get(HeaderName::SessionExpires), Some("120"));
        let too_small = response_to(&upd, 422, None)
            .edit()
            .append("Min-SE", "300")
            .finish()
            .unwrap();
        assert!(matches!(
            uac.handle_response(&too_small, Instant::now()).unwrap(),
            ResponseOutcome::SessionIntervalTooSmall { min_se: 300 }
        ));
        let retry = uac
            .request(Method::Update, &via())
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(retry.get(HeaderName::SessionExpires), Some("300"));
        assert_eq!(retry.get(HeaderName::MinSe), Some("300"));
        assert_eq!(retry.cseq().unwrap().seq, upd.cseq().unwrap().seq + 1);
    }

    #[test]
    fn uas_rejects_too_small_refresh_with_422_and_min_se() {
        let (_, mut uas) = established();
        uas.set_session_timer(SessionTimerConfig::new(1800, 600));
        let reinvite = peer_request(&uas, Method::Invite, 2, None, Some("v=0\r\n"))
            .edit()
            .append("Supported", "timer")
            .append("Session-Expires", "300")
            .finish()
            .unwrap();
        match uas.handle_request(&reinvite).unwrap() {
            RequestOutcome::Rejected(m) => {
                assert_eq!(m.status(), Some(422));
                assert_eq!(m.get(HeaderName::MinSe), Some("600"));
            }
            other => panic!("{other:?}"),
        }
        // Nothing is left in progress: the next, larger refresh is accepted.
        let reinvite = peer_request(&uas, Method::Invite, 3, None, Some("v=0\r\n"))
            .edit()
            .append("Supported", "timer")
            .append("Session-Expires", "600")
            .finish()
            .unwrap();
        assert!(matches!(
            uas.handle_request(&reinvite).unwrap(),
            RequestOutcome::Accepted { .. }
        ));
        let ok = uas
            .reply(&reinvite, 200)
            .unwrap()
            .build(Instant::now())
            .unwrap();
        assert_eq!(
            ok.get(HeaderName::SessionExpires),
            Some("600;refresher=uac")
        );
    }

    // ---- property test: no input panics ------------------------------------------------

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        const METHODS: [&str; 10] = [
            "INVITE", "ACK", "BYE", "CANCEL", "UPDATE", "PRACK", "INFO", "OPTIONS", "REFER", "FOO",
        ];
        const CODES: [u16; 14] = [
            100, 180, 183, 200, 202, 300, 401, 408, 422, 481, 486, 491, 500, 603,
        ];
        const ODD: [&str; 12] = [
            "",
            "0",
            "1",
            "90",
            "2147483647",
            "4294967295",
            "99999999999",
            "abc",
            "1 2 INVITE",
            "<sip:x@y>",
            "*",
            "600;refresher=maybe",
        ];

        #[derive(Debug, Clone)]
        enum Op {
            Request {
                method: usize,
                cseq: u32,
                tag_ok: bool,
                body: bool,
                header: (usize, String),
            },
            Response {
                code: usize,
                method: usize,
                cseq: u32,
                tag_ok: bool,
                body: bool,
                rseq: Option<u32>,
                header: (usize, String),
            },
            Send {
                method: usize,
                body: bool,
            },
            Reply {
                code: usize,
                reliable: bool,
                body: bool,
            },
            Advance(u32),
        }

        fn header_value() -> impl Strategy<Value = (usize, String)> {
            (
                0usize..6,
                prop_oneof![
                    (0usize..ODD.len()).prop_map(|i| ODD[i].to_owned()),
                    "[ -~]{0,12}",
                ],
            )
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                (
                    0..METHODS.len(),
                    0u32..20,
                    any::<bool>(),
                    any::<bool>(),
                    header_value()
                )
                    .prop_map(|(method, cseq, tag_ok, body, header)| Op::Request {
                        method,
                        cseq,
                        tag_ok,
                        body,
                        header
                    }),
                (
                    0..CODES.len(),
                    0..METHODS.len(),
                    0u32..20,
                    any::<bool>(),
                    any::<bool>(),
                    proptest::option::of(0u32..5),
                    header_value()
                )
                    .prop_map(
                        |(code, method, cseq, tag_ok, body, rseq, header)| Op::Response {
                            code,
                            method,
                            cseq,
                            tag_ok,
                            body,
                            rseq,
                            header
                        }
                    ),
                (0..METHODS.len(), any::<bool>())
                    .prop_map(|(method, body)| Op::Send { method, body }),
                (0..CODES.len(), any::<bool>(), any::<bool>()).prop_map(
                    |(code, reliable, body)| Op::Reply {
                        code,
                        reliable,
                        body
                    }
                ),
                (0u32..40_000).prop_map(Op::Advance),
            ]
        }

        const HEADERS: [&str; 6] = [
            "Session-Expires",
            "Min-SE",
            "RAck",
            "RSeq",
            "Contact",
            "Require",
        ];

        fn with_header(b: RequestBuilder, (i, v): &(usize, String)) -> RequestBuilder {
            b.header_ext(HEADERS[*i % HEADERS.len()], v)
        }

        /// Feeds one op; the result does not matter, only that nothing panics.
        fn run(d: &mut Dialog, last_req: &mut Option<Message>, op: &Op, now: &mut Instant) {
            match op {
                Op::Request {
                    method,
                    cseq,
                    tag_ok,
                    body,
                    header,
                } => {
                    let m = Method::from_token(METHODS[*method]);
                    let to = if *tag_ok {
                        d.local().with_tag(d.local_tag())
                    } else {
                        d.local().with_tag("zz")
                    };
                    let mut b = RequestBuilder::new(&m, d.local_contact())
                        .header(HeaderName::Via, "SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKf")
                        .header(HeaderName::From, d.remote().with_tag(d.remote_tag()))
                        .header(HeaderName::To, to)
                        .header(HeaderName::CallId, d.call_id())
                        .header(HeaderName::CSeq, format_args!("{cseq} {m}"));
                    b = with_header(b, header);
                    if *body {
                        b = b.body("application/sdp", Bytes::from_static(b"v=0\r\n"));
                    }
                    if let Ok(req) = b.build() {
                        let _ = d.handle_request(&req);
                        *last_req = Some(req);
                    }
                }
                Op::Response {
                    code,
                    method,
                    cseq,
                    tag_ok,
                    body,
                    rseq,
                    header,
                } => {
                    let m = Method::from_token(METHODS[*method]);
                    let to = if *tag_ok {
                        d.remote().with_tag(d.remote_tag())
                    } else {
                        d.remote().with_tag("other")
                    };
                    let mut b = ResponseBuilder::new(CODES[*code])
                        .header(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKf")
                        .header(HeaderName::From, d.local().with_tag(d.local_tag()))
                        .header(HeaderName::To, to)
                        .header(HeaderName::CallId, d.call_id())
                        .header(HeaderName::CSeq, format_args!("{cseq} {m}"))
                        .header_ext(HEADERS[header.0 % HEADERS.len()], &header.1);
                    if let Some(r) = rseq {
                        b = b
                            .header(HeaderName::Require, "100rel")
                            .header(HeaderName::RSeq, r);
                    }
                    if *body {
                        b = b.body("application/sdp", Bytes::from_static(b"v=0\r\n"));
                    }
                    if let Ok(resp) = b.build() {
                        let _ = d.handle_response(&resp, *now);
                    }
                }
                Op::Send { method, body } => {
                    let m = Method::from_token(METHODS[*method]);
                    let r = if m == Method::Prack {
                        d.prack(
                            &RAckValue {
                                rseq: 1,
                                cseq: 1,
                                method: Method::Invite,
                            },
                            &via(),
                        )
                    } else {
                        d.request(m, &via())
                    };
                    if let Ok(mut r) = r {
                        if *body {
                            r = r.body("application/sdp", Bytes::from_static(b"v=0\r\n"));
                        }
                        let _ = r.build();
                    }
                }
                Op::Reply {
                    code,
                    reliable,
                    body,
                } => {
                    if let Some(req) = last_req.as_ref() {
                        if let Ok(mut r) = d.reply(req, CODES[*code]) {
                            if *reliable {
                                r = r.reliable();
                            }
                            if *body {
                                r = r.body("application/sdp", Bytes::from_static(b"v=0\r\n"));
                            }
                            let _ = r.build(*now);
                        }
                    }
                }
                Op::Advance(ms) => {
                    *now += Duration::from_millis(u64::from(*ms));
                    for _ in 0..100 {
                        match d.poll_timeout() {
                            Some(t) if t <= *now => {
                                let _ = d.handle_timeout(*now);
                            }
                            _ => break,
                        }
                    }
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn random_message_sequences_never_panic(
                ops in proptest::collection::vec(op(), 1..40),
                which in 0u8..3,
            ) {
                let t0 = Instant::now();
                let inv = invite_with_se("90");
                let mut d = match which {
                    0 => established().0,
                    1 => established().1,
                    _ => Dialog::uas(&inv, &answer(&inv, 180, "bobtag", &[], None), t0).unwrap(),
                };
                d.set_session_timer(SessionTimerConfig::default());
                d.seed_rng(u64::from(which));
                let (mut now, mut last) = (t0, Some(inv));
                let mut prev_remote = d.remote_cseq();
                for op in &ops {
                    run(&mut d, &mut last, op, &mut now);
                    // Invariants: the remote CSeq never goes down, the local one stays valid.
                    prop_assert!(d.remote_cseq() >= prev_remote);
                    prev_remote = d.remote_cseq();
                    prop_assert!(d.local_cseq().is_none_or(|c| c < 1 << 31));
                }
            }

            #[test]
            fn random_responses_to_an_invite_client_never_panic(
                resps in proptest::collection::vec(
                    (0..CODES.len(), 0u8..4, any::<bool>(), proptest::option::of(0u32..4)),
                    1..30,
                )
            ) {
                let inv = invite_from_alice(None);
                let via = LocalVia::new("UDP", "192.0.2.1").unwrap();
                let mut c = InviteClient::new(inv.clone(), via).unwrap();
                c.seed_rng(3);
                let t0 = Instant::now();
                for (code, tag, body, rseq) in resps {
                    let tag = ["a", "b", "c", ""][tag as usize];
                    let to_tag = (!tag.is_empty()).then_some(tag);
                    let mut b = ResponseBuilder::reply(&inv, CODES[code], to_tag)
                        .header(HeaderName::Contact, "<sip:bob@192.0.2.4>");
                    if let Some(r) = rseq {
                        b = b.header(HeaderName::Require, "100rel").header(HeaderName::RSeq, r);
                    }
                    if body {
                        b = b.body("application/sdp", Bytes::from_static(b"v=0\r\n"));
                    }
                    let resp = b.build().unwrap();
                    if let Ok(actions) = c.handle_response(&resp, t0) {
                        for a in actions {
                            if let InviteAction::AnswerNeeded { id, .. } = a {
                                let sdp = Bytes::from_static(b"v=0\r\n");
                                let _ = c.answer(&id, "application/sdp", sdp);
                            }
                        }
                    }
                }
                // The call's dialog, once chosen, is confirmed (or already ended).
                prop_assert!(c.dialog().is_none_or(|d| d.state() != DialogState::Early));
            }
        }
    }
}
