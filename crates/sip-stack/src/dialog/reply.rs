//! Building the responses a dialog sends, and recording them.
//!
//! [`Dialog::reply`] starts a response to a request of the peer with our To tag, adds our
//! Contact to 1xx/2xx answering a target refresh request, and for a 2xx to INVITE or
//! UPDATE with session timers on, the negotiated Session-Expires. [`InDialogResponse::reliable`]
//! turns a 101–199 to INVITE into a reliable provisional (RFC 3262). Building records the
//! response: offer/answer, the end of the peer's INVITE transaction, the dialog
//! confirmed by a 2xx, the session timer restarted, reliable retransmissions started or
//! stopped. A response built elsewhere is recorded with [`Dialog::on_response_sent`].

use super::dialog::{is_target_refresh, DialogState};
use super::glare::Side;
use super::prack::is_reliable_provisional;
use super::session_timer::{SessionTimer, SessionTimerConfig};
use super::{Dialog, DialogError};
use bytes::Bytes;
use sip::headers::{RSeq, Refresher};
use sip::{HeaderName, Message, Method, ResponseBuilder};
use std::fmt::Display;
use std::time::Instant;

/// A response being built within a dialog; see [`Dialog::reply`].
#[derive(Debug)]
pub struct InDialogResponse<'d> {
    dialog: &'d mut Dialog,
    builder: ResponseBuilder,
    code: u16,
    method: Method,
    reliable: bool,
}

impl Dialog {
    /// Starts the response `code` to `req`, a request of the peer in this dialog (or the
    /// INVITE that created it).
    ///
    /// For a 2xx to INVITE or UPDATE with session timers on, the negotiation of RFC 4028
    /// §9 runs here; it fails with [`DialogError::IntervalTooSmall`] when the request
    /// should have had a 422 (which [`Dialog::handle_request`] sends for in-dialog
    /// requests).
    pub fn reply(&mut self, req: &Message, code: u16) -> Result<InDialogResponse<'_>, DialogError> {
        let method = req.method().cloned().ok_or(DialogError::WrongKind {
            expected: "request",
        })?;
        if !(100..=699).contains(&code) {
            return Err(DialogError::InvalidStatus { status: code });
        }
        if req.call_id()? != self.id.call_id {
            return Err(DialogError::WrongDialog { reason: "Call-ID" });
        }
        let mut b = ResponseBuilder::reply(req, code, Some(&self.id.local_tag));
        if (101..300).contains(&code) && is_target_refresh(&method) {
            b = b.header(
                HeaderName::Contact,
                format_args!("<{}>", self.local_contact),
            );
        }
        if (200..300).contains(&code) && matches!(method, Method::Invite | Method::Update) {
            if let Some(cfg) = &self.session_config {
                let n = cfg.negotiate_uas(req)?;
                b = n
                    .add_to_response(b)
                    .header(HeaderName::Supported, super::session_timer::TAG_TIMER);
            }
        }
        Ok(InDialogResponse {
            dialog: self,
            builder: b,
            code,
            method,
            reliable: false,
        })
    }

    /// Records a response we send in this dialog that was not built by
    /// [`Dialog::reply`] (the UAS's dialog-creating response is recorded by
    /// [`Dialog::uas`]).
    pub fn on_response_sent(&mut self, resp: &Message, now: Instant) -> Result<(), DialogError> {
        let code = resp.status().ok_or(DialogError::WrongKind {
            expected: "response",
        })?;
        let cseq = resp.cseq()?;
        let (method, seq) = (cseq.method(), cseq.seq);
        let reliable = is_reliable_provisional(resp) && method == Method::Invite;
        if reliable {
            if let Ok(Some(RSeq(rseq))) = resp.typed::<RSeq>() {
                self.prack_uas.sent(resp.clone(), rseq, seq, now);
            }
        }
        self.negotiation.observe_response(
            Side::Local,
            &method,
            seq,
            code,
            reliable,
            !resp.body().is_empty(),
        );
        if method == Method::Invite && code >= 200 {
            self.prack_uas.final_sent();
            if code < 300 {
                self.awaiting_ack = Some(seq);
                if self.state == DialogState::Early {
                    self.state = DialogState::Confirmed;
                }
            } else if self.state == DialogState::Early && seq == self.initial_cseq {
                self.terminate();
            }
        }
        if (200..300).contains(&code) && matches!(method, Method::Invite | Method::Update) {
            // Our 2xx fixes the session timer; we are the UAS of this transaction.
            self.session_timer = SessionTimerConfig::negotiated_in_2xx(resp)
                .ok()
                .flatten()
                .map(|n| SessionTimer::start(n, n.refresher == Refresher::Uas, now));
        }
        Ok(())
    }
}

impl InDialogResponse<'_> {
    /// Sends a 101–199 to INVITE reliably (RFC 3262): `Require: 100rel` and the next
    /// RSeq are added at build time, and retransmissions run until the PRACK.
    pub fn reliable(mut self) -> Self {
        self.reliable = true;
        self
    }

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

    /// Sets the body (an offer or answer in a reliable 1xx or a 2xx).
    pub fn body(mut self, content_type: &str, body: Bytes) -> Self {
        self.builder = self.builder.body(content_type, body);
        self
    }

    /// Builds the response and records it (see [`Dialog::on_response_sent`]).
    ///
    /// Fails for a reliable response that is not a 101–199 to INVITE, when the INVITE did
    /// not announce 100rel, while another reliable provisional awaits its PRACK, and for
    /// a 2xx to INVITE while a reliable provisional with a body awaits its PRACK
    /// (RFC 3262 §3).
    pub fn build(self, now: Instant) -> Result<Message, DialogError> {
        let InDialogResponse {
            dialog: d,
            mut builder,
            code,
            method,
            reliable,
        } = self;
        if reliable {
            if !(101..200).contains(&code) || method != Method::Invite {
                return Err(DialogError::NotReliable { status: code });
            }
            if !d.peer_supports_100rel {
                return Err(DialogError::ReliabilityUnsupported);
            }
            let rseq = d.prack_uas.next_rseq(&mut d.rng)?;
            builder = builder
                .header(HeaderName::Require, super::prack::TAG_100REL)
                .header(HeaderName::RSeq, rseq);
        }
        if method == Method::Invite {
            d.prack_uas.check_final(code)?;
        }
        let msg = builder.build()?;
        d.on_response_sent(&msg, now)?;
        Ok(msg)
    }
}
