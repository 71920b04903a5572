//! The dialog state of RFC 3261 §12: who the two parties are, where in-dialog requests
//! go (remote target and route set), the CSeq counters, and the state
//! Early → Confirmed → Terminated.
//!
//! A dialog is created by the UAC from the INVITE it sent and a 1xx with a To tag or a
//! 2xx ([`Dialog::uac`]), and by the UAS from the INVITE it received and the 1xx/2xx it
//! sends ([`Dialog::uas`]). From then on it is fed every in-dialog message:
//! requests it receives ([`Dialog::handle_request`]), responses to its requests
//! ([`Dialog::handle_response`]), requests and responses it builds ([`Dialog::request`],
//! [`Dialog::reply`]) and the clock ([`Dialog::handle_timeout`]). Offer/answer and glare
//! ([`super::glare`]), 100rel ([`super::prack`]) and session timers
//! ([`super::session_timer`]) are tracked inside it from those messages.

use super::glare::{Negotiation, OfferState, Side};
use super::prack::{ReliableReceiver, ReliableSender, TAG_100REL};
use super::session_timer::{SessionTimer, SessionTimerConfig};
use super::{DialogError, DialogId, ResponseOutcome};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sip::headers::{Allow, Contact, RecordRoute};
use sip::name_addr::write_name_addr;
use sip::{HeaderName, Message, Method, NameAddr, Uri, UriBuf};
use std::fmt;
use std::time::{Duration, Instant};

/// Which side of the dialog-creating INVITE this side was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We sent the INVITE.
    Uac,
    /// We received it.
    Uas,
}

/// Where the dialog is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// Created by a provisional response; the INVITE has no 2xx yet.
    Early,
    /// The INVITE got a 2xx.
    Confirmed,
    /// Ended (BYE, a failed INVITE, a 481 or 408); no new requests.
    Terminated,
}

/// One party of the dialog: the URI of From or To with its display name (tags are kept
/// in the [`DialogId`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// The display name, unquoted.
    pub display_name: Option<String>,
    /// The address.
    pub uri: UriBuf,
}

impl Party {
    pub(crate) fn from_name_addr(a: &NameAddr<'_>) -> Party {
        Party {
            display_name: a.display_name.map(|d| d.text().into_owned()),
            uri: UriBuf::from(a.uri),
        }
    }

    /// The header value `"Name" <uri>;tag=tag` (no tag parameter when `tag` is empty).
    pub fn with_tag(&self, tag: &str) -> String {
        let mut s = self.to_string();
        if !tag.is_empty() {
            s.push_str(";tag=");
            s.push_str(tag);
        }
        s
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_name_addr(f, self.display_name.as_deref(), &self.uri)
    }
}

/// One element of the route set: a Record-Route value as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    value: String,
    uri: UriBuf,
}

impl RouteEntry {
    fn from_name_addr(a: &NameAddr<'_>) -> RouteEntry {
        RouteEntry {
            value: a.to_string(),
            uri: UriBuf::from(a.uri),
        }
    }

    /// The Route header value (`<sip:proxy;lr>` with any header parameters).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The proxy's URI.
    pub fn uri(&self) -> &UriBuf {
        &self.uri
    }

    /// True when the URI has `lr` (a loose router, RFC 3261 §16.12).
    pub fn is_loose(&self) -> bool {
        self.uri.uri().as_sip().is_some_and(|s| s.is_loose_router())
    }
}

/// The awaited or sent ACK for a 2xx to one of our INVITEs (RFC 3261 §13.2.2.4).
#[derive(Debug, Clone)]
pub(crate) struct AckState {
    pub cseq: u32,
    /// The ACK's bytes, parsed again for the rare 2xx retransmission: a parsed message
    /// is 600 bytes beside its text, kept for the dialog's whole life.
    pub ack: Option<bytes::Bytes>,
}

/// A dialog's randomness (tags, branches, RSeq, back-off): the thread's generator, or a
/// seeded one for reproducible tests. Not a generator per dialog: that was 320 bytes of
/// every live dialog, and seeding it cost a draw from the thread's generator anyway.
#[derive(Debug, Clone, Default)]
pub(crate) struct DialogRng(Option<Box<StdRng>>);

impl DialogRng {
    /// A reproducible generator.
    pub(crate) fn seeded(seed: u64) -> DialogRng {
        DialogRng(Some(Box::new(StdRng::seed_from_u64(seed))))
    }

    /// The generator for a dialog this one's owner creates: seeded from this one when it
    /// is seeded (tests stay reproducible), else the thread's too.
    pub(crate) fn derive(&mut self) -> DialogRng {
        match &mut self.0 {
            Some(r) => DialogRng::seeded(r.next_u64()),
            None => DialogRng(None),
        }
    }
}

impl RngCore for DialogRng {
    fn next_u32(&mut self) -> u32 {
        match &mut self.0 {
            Some(r) => r.next_u32(),
            None => rand::rng().next_u32(),
        }
    }

    fn next_u64(&mut self) -> u64 {
        match &mut self.0 {
            Some(r) => r.next_u64(),
            None => rand::rng().next_u64(),
        }
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        match &mut self.0 {
            Some(r) => r.fill_bytes(dst),
            None => rand::rng().fill_bytes(dst),
        }
    }
}

/// A SIP dialog, sans IO. See the [module docs](super).
#[derive(Debug, Clone)]
pub struct Dialog {
    pub(crate) id: DialogId,
    pub(crate) role: Role,
    pub(crate) state: DialogState,
    pub(crate) local: Party,
    pub(crate) remote: Party,
    pub(crate) remote_target: UriBuf,
    pub(crate) local_contact: UriBuf,
    pub(crate) route_set: Vec<RouteEntry>,
    pub(crate) local_cseq: Option<u32>,
    pub(crate) remote_cseq: Option<u32>,
    pub(crate) secure: bool,
    pub(crate) owns_call_id: bool,
    pub(crate) initial_cseq: u32,
    /// Our last INVITE's CSeq: ACK and CANCEL reuse it.
    pub(crate) last_invite_cseq: Option<u32>,
    /// The ACK for the last 2xx we received to one of our INVITEs.
    pub(crate) ack: Option<AckState>,
    /// The CSeq of the INVITE whose 2xx we sent and whose ACK we await.
    pub(crate) awaiting_ack: Option<u32>,
    /// The peer's latest INVITE, to reject it when a reliable provisional times out.
    /// Boxed: only dialogs the peer started have one, and a message is 600 bytes inline.
    pub(crate) remote_invite_msg: Option<Box<Message>>,
    pub(crate) negotiation: Negotiation,
    pub(crate) prack_uac: ReliableReceiver,
    pub(crate) prack_uas: ReliableSender,
    pub(crate) peer_supports_100rel: bool,
    pub(crate) peer_allows_update: bool,
    pub(crate) session_config: Option<SessionTimerConfig>,
    pub(crate) session_timer: Option<SessionTimer>,
    pub(crate) rng: DialogRng,
}

/// RFC 3261's default T1.
pub(crate) const DEFAULT_T1: Duration = Duration::from_millis(500);

/// True for the methods whose Contact replaces the remote target (RFC 3261 §12.2,
/// RFC 3311, RFC 6665, RFC 3515).
pub(crate) fn is_target_refresh(m: &Method) -> bool {
    matches!(
        m,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
    )
}

/// The first Contact's URI, `None` when there is no Contact, an error when it is `*` or
/// malformed.
pub(crate) fn contact_uri(msg: &Message) -> Result<Option<UriBuf>, DialogError> {
    match msg.typed_all::<Contact>().next() {
        None => Ok(None),
        Some(Err(e)) => Err(e.into()),
        Some(Ok(Contact::Star)) => Err(DialogError::Uri {
            header: HeaderName::Contact,
            reason: "'*' is no target",
        }),
        Some(Ok(Contact::Addr(a))) => Ok(Some(UriBuf::from(a.uri))),
    }
}

/// The Record-Route of `msg` as a route set, in order or reversed (the UAC reverses).
pub(crate) fn route_set(msg: &Message, reverse: bool) -> Result<Vec<RouteEntry>, DialogError> {
    let mut set = Vec::new();
    for rr in msg.typed_all::<RecordRoute>() {
        set.push(RouteEntry::from_name_addr(&rr?.0));
    }
    if reverse {
        set.reverse();
    }
    Ok(set)
}

/// RFC 3261 §12.1.1: secure when the request came over TLS to a SIPS Request-URI.
fn is_secure(invite: &Message) -> bool {
    let sips = matches!(invite.request_uri(), Some(Ok(Uri::Sip(u))) if u.secure);
    sips && invite
        .top_via()
        .is_ok_and(|v| v.transport.eq_ignore_ascii_case("TLS"))
}

fn allows_update(msg: &Message) -> Option<bool> {
    msg.has(HeaderName::Allow).then(|| {
        msg.typed_all::<Allow>()
            .any(|a| a.is_ok_and(|a| a.method() == Method::Update))
    })
}

/// Checks that `resp` answers `invite` (same Call-ID, From tag and CSeq).
pub(crate) fn check_answers(invite: &Message, resp: &Message) -> Result<(), DialogError> {
    if invite.method() != Some(&Method::Invite) {
        return Err(DialogError::WrongKind {
            expected: "INVITE request",
        });
    }
    let status = resp.status().ok_or(DialogError::WrongKind {
        expected: "response",
    })?;
    if !(101..300).contains(&status) {
        return Err(DialogError::NotDialogCreating { status });
    }
    if invite.call_id()? != resp.call_id()? {
        return Err(DialogError::WrongDialog { reason: "Call-ID" });
    }
    if invite.from_header()?.tag() != resp.from_header()?.tag() {
        return Err(DialogError::WrongDialog { reason: "From tag" });
    }
    let (a, b) = (invite.cseq()?, resp.cseq()?);
    if a.seq != b.seq || b.method() != Method::Invite {
        return Err(DialogError::WrongDialog { reason: "CSeq" });
    }
    Ok(())
}

impl Dialog {
    /// The UAC's dialog from the INVITE it sent and a 1xx with a To tag or a 2xx
    /// (RFC 3261 §12.1.2). The outcome tells what that response asks for (a PRACK for a
    /// reliable 1xx, an ACK for a 2xx), exactly as [`Dialog::handle_response`] would.
    pub fn uac(
        invite: &Message,
        response: &Message,
        now: Instant,
    ) -> Result<(Dialog, ResponseOutcome), DialogError> {
        check_answers(invite, response)?;
        let status = response.status().unwrap_or(0);
        let local_tag = invite.from_header()?.tag().ok_or(DialogError::MissingTag {
            header: HeaderName::From,
        })?;
        let remote_tag = match response.to_header()?.tag() {
            Some(t) => t,
            // RFC 2543 peers: a 2xx without a tag has a null tag; a 1xx without one
            // creates no dialog.
            None if status >= 200 => "",
            None => {
                return Err(DialogError::MissingTag {
                    header: HeaderName::To,
                })
            }
        };
        let cseq = invite.cseq()?.seq;
        let local_contact =
            contact_uri(invite)?.ok_or(DialogError::MissingContact { what: "INVITE" })?;
        let remote_target = match contact_uri(response)? {
            Some(u) => u,
            None if status >= 200 => {
                return Err(DialogError::MissingContact { what: "2xx" });
            }
            // An early dialog without a Contact: the Request-URI until one arrives.
            None => invite
                .request_uri_str()
                .and_then(|s| UriBuf::new(s).ok())
                .ok_or(DialogError::Uri {
                    header: HeaderName::Other,
                    reason: "bad Request-URI",
                })?,
        };
        let mut d = Dialog {
            id: DialogId::new(invite.call_id()?, local_tag, remote_tag),
            role: Role::Uac,
            state: DialogState::Early,
            local: Party::from_name_addr(&invite.from_header()?.0),
            remote: Party::from_name_addr(&invite.to_header()?.0),
            remote_target,
            local_contact,
            route_set: route_set(response, true)?,
            local_cseq: Some(cseq),
            remote_cseq: None,
            secure: is_secure(invite),
            owns_call_id: true,
            initial_cseq: cseq,
            last_invite_cseq: Some(cseq),
            ack: None,
            awaiting_ack: None,
            remote_invite_msg: None,
            negotiation: Negotiation::default(),
            prack_uac: ReliableReceiver::new(),
            prack_uas: ReliableSender::new(DEFAULT_T1),
            peer_supports_100rel: false,
            peer_allows_update: false,
            session_config: None,
            session_timer: None,
            rng: DialogRng::default(),
        };
        d.negotiation.observe_request(
            Side::Local,
            &Method::Invite,
            cseq,
            !invite.body().is_empty(),
        );
        let outcome = d.handle_response(response, now)?;
        Ok((d, outcome))
    }

    /// The UAS's dialog from the INVITE it received and the 1xx (with a To tag) or 2xx it
    /// sends (RFC 3261 §12.1.1). The response is taken as sent: a reliable 1xx starts its
    /// retransmissions, a 2xx confirms the dialog. Build later responses to the INVITE
    /// with [`Dialog::reply`].
    pub fn uas(invite: &Message, response: &Message, now: Instant) -> Result<Dialog, DialogError> {
        check_answers(invite, response)?;
        let local_tag = response.to_header()?.tag().ok_or(DialogError::MissingTag {
            header: HeaderName::To,
        })?;
        let remote_tag = invite.from_header()?.tag().unwrap_or("");
        let cseq = invite.cseq()?.seq;
        let remote_target =
            contact_uri(invite)?.ok_or(DialogError::MissingContact { what: "INVITE" })?;
        let local_contact =
            contact_uri(response)?.ok_or(DialogError::MissingContact { what: "response" })?;
        let mut d = Dialog {
            id: DialogId::new(invite.call_id()?, local_tag, remote_tag),
            role: Role::Uas,
            state: DialogState::Early,
            local: Party::from_name_addr(&invite.to_header()?.0),
            remote: Party::from_name_addr(&invite.from_header()?.0),
            remote_target,
            local_contact,
            route_set: route_set(invite, false)?,
            local_cseq: None,
            remote_cseq: Some(cseq),
            secure: is_secure(invite),
            owns_call_id: false,
            initial_cseq: cseq,
            last_invite_cseq: None,
            ack: None,
            awaiting_ack: None,
            remote_invite_msg: Some(Box::new(invite.clone())),
            negotiation: Negotiation::default(),
            prack_uac: ReliableReceiver::new(),
            prack_uas: ReliableSender::new(DEFAULT_T1),
            peer_supports_100rel: super::prack::supports(invite, TAG_100REL),
            peer_allows_update: allows_update(invite).unwrap_or(false),
            session_config: None,
            session_timer: None,
            rng: DialogRng::default(),
        };
        d.negotiation.observe_request(
            Side::Remote,
            &Method::Invite,
            cseq,
            !invite.body().is_empty(),
        );
        d.on_response_sent(response, now)?;
        Ok(d)
    }

    /// Seeds the random choices (back-off, first RSeq, Retry-After), for simulations and
    /// tests that must repeat exactly.
    pub fn seed_rng(&mut self, seed: u64) {
        self.rng = DialogRng::seeded(seed);
    }

    /// Sets T1 for reliable provisional retransmissions (default 500 ms).
    pub fn set_t1(&mut self, t1: Duration) {
        self.prack_uas.set_t1(t1);
    }

    /// Enables session timers (RFC 4028) for refreshes from now on: refresh requests carry
    /// Session-Expires, and incoming ones are checked against our Min-SE. The timer itself
    /// follows every 2xx to INVITE or UPDATE whether or not this is set.
    pub fn set_session_timer(&mut self, config: SessionTimerConfig) {
        self.session_config = Some(config);
    }

    /// Says whether this side generated the Call-ID (true for the UAC of the dialog-creating
    /// INVITE). It decides the glare back-off range.
    pub fn set_owns_call_id(&mut self, owns: bool) {
        self.owns_call_id = owns;
    }

    /// Ends the dialog without a message (for example when the call engine gives up on
    /// it). Requests received from now on get 481.
    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
        self.session_timer = None;
        self.negotiation.retry = None;
        self.prack_uas.final_sent();
    }

    /// The identifier.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        &self.id.call_id
    }

    /// Our tag.
    pub fn local_tag(&self) -> &str {
        &self.id.local_tag
    }

    /// The peer's tag (empty for an RFC 2543 peer).
    pub fn remote_tag(&self) -> &str {
        &self.id.remote_tag
    }

    /// UAC or UAS of the dialog-creating INVITE.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Early, Confirmed or Terminated.
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// Our URI (From in our requests).
    pub fn local(&self) -> &Party {
        &self.local
    }

    /// The peer's URI (To in our requests).
    pub fn remote(&self) -> &Party {
        &self.remote
    }

    /// Where requests go: the peer's latest Contact.
    pub fn remote_target(&self) -> &UriBuf {
        &self.remote_target
    }

    /// Our Contact.
    pub fn local_contact(&self) -> &UriBuf {
        &self.local_contact
    }

    /// Changes our Contact (sent in the next target refresh request or 2xx).
    pub fn set_local_contact(&mut self, contact: UriBuf) {
        self.local_contact = contact;
    }

    /// The route set, in the order requests visit it.
    pub fn route_set(&self) -> &[RouteEntry] {
        &self.route_set
    }

    /// The CSeq of our last request (ACK and CANCEL excepted); `None` before the first.
    pub fn local_cseq(&self) -> Option<u32> {
        self.local_cseq
    }

    /// The highest CSeq received from the peer; `None` before the first.
    pub fn remote_cseq(&self) -> Option<u32> {
        self.remote_cseq
    }

    /// True when the dialog was set up over TLS to a SIPS URI.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// True when this side generated the Call-ID.
    pub fn owns_call_id(&self) -> bool {
        self.owns_call_id
    }

    /// Who owes an offer's answer.
    pub fn offer_state(&self) -> &OfferState {
        &self.negotiation.state
    }

    /// The running session timer, if one was negotiated.
    pub fn session_timer(&self) -> Option<&SessionTimer> {
        self.session_timer.as_ref()
    }

    /// The peer listed UPDATE in an Allow header.
    pub fn peer_allows_update(&self) -> bool {
        self.peer_allows_update
    }

    pub(crate) fn note_allow(&mut self, msg: &Message) {
        if let Some(a) = allows_update(msg) {
            self.peer_allows_update = a;
        }
    }

    /// Checks Call-ID and tags of a received request.
    pub(crate) fn check_request_ids(&self, req: &Message) -> Result<(), DialogError> {
        if req.call_id()? != self.id.call_id {
            return Err(DialogError::WrongDialog { reason: "Call-ID" });
        }
        if req.to_header()?.tag() != Some(self.id.local_tag.as_str()) {
            return Err(DialogError::WrongDialog { reason: "To tag" });
        }
        if req.from_header()?.tag().unwrap_or("") != self.id.remote_tag {
            return Err(DialogError::WrongDialog { reason: "From tag" });
        }
        Ok(())
    }

    /// Checks Call-ID and tags of a received response.
    pub(crate) fn check_response_ids(&self, resp: &Message) -> Result<(), DialogError> {
        if resp.call_id()? != self.id.call_id {
            return Err(DialogError::WrongDialog { reason: "Call-ID" });
        }
        if resp.from_header()?.tag() != Some(self.id.local_tag.as_str()) {
            return Err(DialogError::WrongDialog { reason: "From tag" });
        }
        if resp.to_header()?.tag().unwrap_or("") != self.id.remote_tag {
            return Err(DialogError::WrongDialog { reason: "To tag" });
        }
        Ok(())
    }

    /// The next local CSeq, without consuming it.
    pub(crate) fn next_cseq(&self) -> Result<u32, DialogError> {
        match self.local_cseq {
            None => Ok(1),
            Some(c) if c >= (1 << 31) - 1 => Err(DialogError::CSeqExhausted),
            Some(c) => Ok(c + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn uac_dialog_from_2xx_reverses_record_route() {
        let t0 = Instant::now();
        let inv = invite_from_alice(None);
        let ok = answer(
            &inv,
            200,
            "bobtag",
            &["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"],
            None,
        );
        let (d, outcome) = Dialog::uac(&inv, &ok, t0).unwrap();
        assert_eq!(d.state(), DialogState::Confirmed);
        assert_eq!(d.role(), Role::Uac);
        assert_eq!(
            d.id(),
            &DialogId::new("call-1@a.example.com", "alicetag", "bobtag")
        );
        assert_eq!(d.remote_target().as_str(), "sip:bob@192.0.2.4");
        assert_eq!(d.local_contact().as_str(), "sip:alice@192.0.2.1");
        let rs: Vec<_> = d.route_set().iter().map(RouteEntry::value).collect();
        assert_eq!(rs, ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]);
        assert_eq!(d.local_cseq(), Some(1));
        assert_eq!(d.remote_cseq(), None);
        assert_eq!(d.local().display_name.as_deref(), Some("Alice"));
        assert_eq!(d.remote().uri.as_str(), "sip:bob@example.com");
        assert!(!d.is_secure());
        assert!(d.owns_call_id());
        assert!(matches!(
            outcome,
            ResponseOutcome::AckNeeded {
                cseq: 1,
                offer: false
            }
        ));
    }

    #[test]
    fn uas_dialog_keeps_record_route_order_and_uses_invite_contact() {
        let t0 = Instant::now();
        let inv = invite_from_alice(Some(&[
            "<sip:p1.example.com;lr>",
            "<sip:p2.example.com;lr>",
        ]));
        let ringing = answer(&inv, 180, "bobtag", &[], None);
        let d = Dialog::uas(&inv, &ringing, t0).unwrap();
        assert_eq!(d.state(), DialogState::Early);
        assert_eq!(d.role(), Role::Uas);
        assert_eq!(
            d.id(),
            &DialogId::new("call-1@a.example.com", "bobtag", "alicetag")
        );
        assert_eq!(d.remote_target().as_str(), "sip:alice@192.0.2.1");
        let rs: Vec<_> = d.route_set().iter().map(RouteEntry::value).collect();
        assert_eq!(rs, ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]);
        assert_eq!(d.remote_cseq(), Some(1));
        assert_eq!(d.local_cseq(), None);
        assert!(!d.owns_call_id());
    }

    #[test]
    fn provisional_without_tag_creates_no_dialog() {
        let inv = invite_from_alice(None);
        let ringing = sip::ResponseBuilder::reply(&inv, 180, None)
            .build()
            .unwrap();
        assert!(matches!(
            Dialog::uac(&inv, &ringing, Instant::now()),
            Err(DialogError::MissingTag { .. })
        ));
        let trying = sip::ResponseBuilder::reply(&inv, 100, None)
            .build()
            .unwrap();
        assert!(matches!(
            Dialog::uac(&inv, &trying, Instant::now()),
            Err(DialogError::NotDialogCreating { status: 100 })
        ));
    }

    #[test]
    fn secure_flag_needs_tls_and_sips() {
        let inv = sip::RequestBuilder::new(&Method::Invite, &"sips:bob@example.com")
            .header(HeaderName::Via, "SIP/2.0/TLS a.example.com;branch=z9hG4bK1")
            .header(HeaderName::From, "<sips:alice@example.com>;tag=a")
            .header(HeaderName::To, "<sips:bob@example.com>")
            .header(HeaderName::CallId, "c")
            .header(HeaderName::CSeq, "1 INVITE")
            .header(HeaderName::Contact, "<sips:alice@a.example.com>")
            .build()
            .unwrap();
        let ok = sip::ResponseBuilder::reply(&inv, 200, Some("b"))
            .header(HeaderName::Contact, "<sips:bob@b.example.com>")
            .build()
            .unwrap();
        assert!(Dialog::uac(&inv, &ok, Instant::now())
            .unwrap()
            .0
            .is_secure());
    }
}
