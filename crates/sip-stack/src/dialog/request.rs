//! Building requests within a dialog (RFC 3261 §12.2.1.1).
//!
//! [`Dialog::request`] fills in everything the dialog decides: the Request-URI and Route
//! headers from the remote target and route set (loose routing, or the strict-routing
//! fallback of §12.2.1.1 when the first route has no `lr`), From and To with their tags,
//! Call-ID, the next CSeq (ACK and CANCEL reuse the INVITE's), Max-Forwards, our Contact
//! for target refresh requests and, when session timers are on, Session-Expires. The
//! caller gives the Via (the transaction layer owns branches) and may add headers and a
//! body before [`InDialogRequest::build`], which is when the CSeq is consumed and the
//! request is recorded for offer/answer and glare.

use super::dialog::{is_target_refresh, AckState, DialogState, Role};
use super::glare::Side;
use super::prack::RAckValue;
use super::{Dialog, DialogError};
use bytes::Bytes;
use rand::Rng;
use sip::headers::{Refresher, Via};
use sip::params::Params;
use sip::{HeaderName, Message, Method, RequestBuilder, Uri, UriBuf};
use std::fmt::Display;

/// Max-Forwards of the requests a dialog builds (RFC 3261 §8.1.1.6).
pub const MAX_FORWARDS: u8 = 70;

/// Transport and sent-by of this side's Via, for helpers that build requests on their own
/// ([`super::InviteClient`] ACKs and BYEs); each request gets a fresh branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalVia {
    transport: String,
    sent_by: String,
}

impl LocalVia {
    /// `transport` is `UDP`, `TCP`, `TLS`, ...; `sent_by` is `host[:port]`.
    pub fn new(transport: &str, sent_by: &str) -> Result<LocalVia, DialogError> {
        let v = LocalVia {
            transport: transport.to_owned(),
            sent_by: sent_by.to_owned(),
        };
        let text = v.with_branch("z9hG4bKcheck");
        <Via as sip::headers::TypedHeader>::parse(&text)?;
        Ok(v)
    }

    /// The Via header value with this branch.
    pub fn with_branch(&self, branch: &str) -> String {
        format!(
            "SIP/2.0/{} {};branch={branch}",
            self.transport, self.sent_by
        )
    }

    /// The Via header value with a fresh RFC 3261 branch.
    pub fn fresh(&self, rng: &mut impl Rng) -> String {
        let (a, b): (u64, u32) = (rng.random(), rng.random());
        self.with_branch(&format!("z9hG4bK{a:016x}{b:08x}"))
    }
}

/// The URI as a Request-URI: without `?headers` and the `method` parameter, which a
/// Request-URI may not carry (RFC 3261 §19.1.1, §12.2.1.1).
pub(crate) fn request_uri_form(uri: &UriBuf) -> String {
    let Uri::Sip(mut s) = uri.uri() else {
        return uri.to_string();
    };
    s.headers = None;
    if !s.params.contains("method") {
        return s.to_string();
    }
    let kept: String = s
        .params
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("method"))
        .map(|(n, v)| match v {
            Some(v) => format!(";{n}={v}"),
            None => format!(";{n}"),
        })
        .collect();
    match Params::parse_uri(&kept) {
        Ok(p) => {
            let mut s2 = s;
            s2.params = p;
            s2.to_string()
        }
        Err(_) => s.to_string(),
    }
}

/// A request being built within a dialog; see [`Dialog::request`].
#[derive(Debug)]
pub struct InDialogRequest<'d> {
    dialog: &'d mut Dialog,
    builder: RequestBuilder,
    method: Method,
    cseq: u32,
    has_body: bool,
}

impl Dialog {
    /// Starts a request within the dialog, with `via` as its Via. ACK and CANCEL take the
    /// CSeq of our last INVITE; every other method the next CSeq.
    ///
    /// Refused when the dialog is terminated (except ACK), for a BYE from the UAS of an
    /// early dialog (RFC 3261 §15), for an INVITE while another INVITE is in progress in
    /// either direction (§14.1), and for CANCEL when no INVITE is in progress.
    pub fn request(
        &mut self,
        method: Method,
        via: &Via<'_>,
    ) -> Result<InDialogRequest<'_>, DialogError> {
        let cseq = match method {
            Method::Ack => match (&self.ack, self.last_invite_cseq) {
                (Some(a), _) => a.cseq,
                (None, Some(c)) => c,
                (None, None) => return Err(DialogError::NoInvite { method }),
            },
            Method::Cancel => match (self.negotiation.local_invite, self.last_invite_cseq) {
                (Some(c), _) => c,
                (None, Some(_)) => {
                    return Err(DialogError::NotAllowed {
                        method,
                        reason: "the INVITE has its final response",
                    })
                }
                (None, None) => return Err(DialogError::NoInvite { method }),
            },
            _ => self.next_cseq()?,
        };
        if self.state == DialogState::Terminated && method != Method::Ack {
            return Err(DialogError::NotAllowed {
                method,
                reason: "the dialog is terminated",
            });
        }
        if method == Method::Bye && self.state == DialogState::Early && self.role == Role::Uas {
            return Err(DialogError::NotAllowed {
                method,
                reason: "the callee must not send BYE on an early dialog",
            });
        }
        if method == Method::Invite {
            self.negotiation
                .check_outgoing(&method, false)
                .map_err(|reason| DialogError::NotAllowed {
                    method: method.clone(),
                    reason,
                })?;
        }
        let builder = self.head(&method, cseq, via);
        Ok(InDialogRequest {
            dialog: self,
            builder,
            method,
            cseq,
            has_body: false,
        })
    }

    /// Starts the ACK for the 2xx to our last INVITE (RFC 3261 §13.2.2.4). Once built it
    /// is kept, and sent again for each retransmission of that 2xx
    /// ([`super::ResponseOutcome::ResendAck`]). Add the answer with
    /// [`InDialogRequest::body`] when the 2xx carried an offer.
    pub fn ack(&mut self, via: &Via<'_>) -> Result<InDialogRequest<'_>, DialogError> {
        self.request(Method::Ack, via)
    }

    /// Starts the PRACK for a reliable provisional response (RFC 3262 §4).
    pub fn prack(
        &mut self,
        rack: &RAckValue,
        via: &Via<'_>,
    ) -> Result<InDialogRequest<'_>, DialogError> {
        let r = self.request(Method::Prack, via)?;
        Ok(r.header(HeaderName::RAck, rack))
    }

    /// Request line and the dialog's headers.
    fn head(&self, method: &Method, cseq: u32, via: &Via<'_>) -> RequestBuilder {
        let target = request_uri_form(&self.remote_target);
        let strict = self.route_set.first().filter(|r| !r.is_loose());
        let mut b = match strict {
            // Strict routing: the first route becomes the Request-URI, the remote target
            // the last Route.
            Some(first) => RequestBuilder::new(method, &request_uri_form(first.uri())),
            None => RequestBuilder::new(method, &target),
        };
        b = b
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, MAX_FORWARDS);
        let skip = usize::from(strict.is_some());
        for r in self.route_set.iter().skip(skip) {
            b = b.header(HeaderName::Route, r.value());
        }
        if strict.is_some() {
            b = b.header(HeaderName::Route, format_args!("<{target}>"));
        }
        b = b
            .header(HeaderName::From, self.local.with_tag(&self.id.local_tag))
            .header(HeaderName::To, self.remote.with_tag(&self.id.remote_tag))
            .header(HeaderName::CallId, &self.id.call_id)
            .header(HeaderName::CSeq, format_args!("{cseq} {method}"));
        if is_target_refresh(method) {
            b = b.header(
                HeaderName::Contact,
                format_args!("<{}>", self.local_contact),
            );
        }
        if matches!(method, Method::Invite | Method::Update) {
            if let Some(cfg) = &self.session_config {
                // Keep the refresher where it is (RFC 4028 §7.4): `uac` if we refresh,
                // `uas` if the peer does, our preference when no timer runs.
                let (interval, refresher) = match &self.session_timer {
                    Some(t) if t.we_refresh() => (t.interval(), Some(Refresher::Uac)),
                    Some(t) => (t.interval(), Some(Refresher::Uas)),
                    None => (
                        cfg.session_expires,
                        cfg.prefer_refresher.then_some(Refresher::Uac),
                    ),
                };
                b = cfg.add_to_request(b, interval.max(cfg.min_se), refresher);
            }
        }
        b
    }
}

impl InDialogRequest<'_> {
    /// Adds a header line.
    pub fn header(mut self, name: HeaderName, value: impl Display) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// Adds an extension header line.
    pub fn header_ext(mut self, name: &str, value: impl Display) -> Self {
        self.builder = self.builder.header_ext(name, value);
        self
    }

    /// Sets the body: an offer in INVITE or UPDATE, an answer in ACK, an offer or answer
    /// in PRACK.
    pub fn body(mut self, content_type: &str, body: Bytes) -> Self {
        self.has_body = !body.is_empty();
        self.builder = self.builder.body(content_type, body);
        self
    }

    /// The CSeq number the request will carry.
    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// Builds the request and records it: the CSeq is consumed, an INVITE is in progress,
    /// an offer is outstanding, a BYE ends the dialog, an ACK is kept for resending.
    /// Fails with [`DialogError::OfferPending`] for a second offer.
    pub fn build(self) -> Result<Message, DialogError> {
        let InDialogRequest {
            dialog: d,
            builder,
            method,
            cseq,
            has_body,
        } = self;
        if has_body {
            d.negotiation
                .check_outgoing(&method, true)
                .map_err(|_| DialogError::OfferPending)?;
        }
        let msg = builder.build()?;
        if !matches!(method, Method::Ack | Method::Cancel) {
            d.local_cseq = Some(cseq);
        }
        match method {
            Method::Invite => {
                d.last_invite_cseq = Some(cseq);
                d.ack = None;
                // A new INVITE transaction has its own RSeq space (RFC 3262 §3).
                d.prack_uac.reset();
                d.negotiation.retry = None;
            }
            Method::Update if has_body => d.negotiation.retry = None,
            Method::Ack => {
                d.ack = Some(AckState {
                    cseq,
                    ack: Some(msg.to_bytes()),
                });
            }
            Method::Bye => d.terminate(),
            _ => {}
        }
        d.negotiation
            .observe_request(Side::Local, &method, cseq, has_body);
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;
    use std::time::Instant;

    fn confirmed_uac(rr: &[&str]) -> Dialog {
        let inv = invite_from_alice(None);
        let ok = answer(&inv, 200, "bobtag", rr, None);
        Dialog::uac(&inv, &ok, Instant::now()).unwrap().0
    }

    #[test]
    fn loose_routing_keeps_target_in_request_uri() {
        let mut d = confirmed_uac(&["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]);
        let bye = d.request(Method::Bye, &via()).unwrap().build().unwrap();
        assert_eq!(bye.request_uri_str(), Some("sip:bob@192.0.2.4"));
        let routes: Vec<_> = bye.get_all(HeaderName::Route).collect();
        assert_eq!(
            routes,
            ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
        );
        assert_eq!(bye.from_header().unwrap().tag(), Some("alicetag"));
        assert_eq!(bye.to_header().unwrap().tag(), Some("bobtag"));
        assert_eq!(
            bye.from_header().unwrap().to_string(),
            "\"Alice\" <sip:alice@example.com>;tag=alicetag"
        );
        assert_eq!(bye.call_id().unwrap(), "call-1@a.example.com");
        assert_eq!(bye.cseq().unwrap().seq, 2);
        assert_eq!(bye.get(HeaderName::MaxForwards), Some("70"));
        assert!(!bye.has(HeaderName::Contact));
        bye.validate().unwrap();
        assert_eq!(d.state(), DialogState::Terminated);
    }

    #[test]
    fn strict_router_first_goes_into_request_uri_and_target_last() {
        // The UAC reverses: p2 (strict) comes first.
        let mut d = confirmed_uac(&[
            "<sip:p1.example.com;lr>",
            "<sip:p2.example.com;method=INVITE>",
        ]);
        let info = d.request(Method::Info, &via()).unwrap().build().unwrap();
        assert_eq!(info.request_uri_str(), Some("sip:p2.example.com"));
        let routes: Vec<_> = info.get_all(HeaderName::Route).collect();
        assert_eq!(routes, ["<sip:p1.example.com;lr>", "<sip:bob@192.0.2.4>"]);
        info.validate().unwrap();
    }

    #[test]
    fn no_route_set_means_no_route_header() {
        let mut d = confirmed_uac(&[]);
        let m = d.request(Method::Options, &via()).unwrap().build().unwrap();
        assert!(!m.has(HeaderName::Route));
        assert_eq!(m.request_uri_str(), Some("sip:bob@192.0.2.4"));
    }

    #[test]
    fn cseq_increments_and_ack_cancel_reuse_the_invite_cseq() {
        let mut d = confirmed_uac(&[]);
        // The initial INVITE's 2xx is ACKed with CSeq 1.
        let ack = d.ack(&via()).unwrap().build().unwrap();
        assert_eq!(ack.cseq().unwrap().to_string(), "1 ACK");
        let info = d.request(Method::Info, &via()).unwrap().build().unwrap();
        assert_eq!(info.cseq().unwrap().seq, 2);
        let reinvite = d.request(Method::Invite, &via()).unwrap().build().unwrap();
        assert_eq!(reinvite.cseq().unwrap().seq, 3);
        assert_eq!(
            reinvite.get(HeaderName::Contact),
            Some("<sip:alice@192.0.2.1>")
        );
        // A second INVITE while the first is in progress is refused.
        assert!(matches!(
            d.request(Method::Invite, &via()),
            Err(DialogError::NotAllowed { .. })
        ));
        let cancel = d.request(Method::Cancel, &via()).unwrap().build().unwrap();
        assert_eq!(cancel.cseq().unwrap().to_string(), "3 CANCEL");
        // An unbuilt request consumes nothing.
        let r = d.request(Method::Info, &via()).unwrap();
        assert_eq!(r.cseq(), 4);
        drop(r);
        assert_eq!(d.local_cseq(), Some(3));
        let update = d.request(Method::Update, &via()).unwrap().build().unwrap();
        assert_eq!(update.cseq().unwrap().seq, 4);
        assert!(update.has(HeaderName::Contact));
    }

    #[test]
    fn uas_numbers_its_first_request_from_one_and_cannot_bye_early() {
        let inv = invite_from_alice(None);
        let ringing = answer(&inv, 180, "bobtag", &[], None);
        let mut d = Dialog::uas(&inv, &ringing, Instant::now()).unwrap();
        assert!(matches!(
            d.request(Method::Bye, &via()),
            Err(DialogError::NotAllowed { .. })
        ));
        let upd = d.request(Method::Update, &via()).unwrap().build().unwrap();
        assert_eq!(upd.cseq().unwrap().seq, 1);
        assert_eq!(upd.from_header().unwrap().tag(), Some("bobtag"));
        assert_eq!(upd.to_header().unwrap().tag(), Some("alicetag"));
        assert_eq!(upd.request_uri_str(), Some("sip:alice@192.0.2.1"));
    }

    #[test]
    fn request_uri_drops_headers_and_method() {
        let u = UriBuf::new("sip:p@h;lr;method=INVITE;transport=tcp?Subject=x").unwrap();
        assert_eq!(request_uri_form(&u), "sip:p@h;lr;transport=tcp");
        let u = UriBuf::new("tel:+15551234").unwrap();
        assert_eq!(request_uri_form(&u), "tel:+15551234");
    }

    #[test]
    fn local_via_validates_and_makes_fresh_branches() {
        let v = LocalVia::new("UDP", "192.0.2.1:5060").unwrap();
        let mut rng = rand::rng();
        let (a, b) = (v.fresh(&mut rng), v.fresh(&mut rng));
        assert_ne!(a, b);
        assert!(a.starts_with("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK"));
        assert!(LocalVia::new("UDP", "bad host").is_err());
    }
}
