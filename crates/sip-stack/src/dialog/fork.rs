//! The UAC's initial INVITE and the dialogs its forks create (RFC 3261 §12.1.2,
//! §13.2.2.4; RFC 3262 §4).
//!
//! A proxy may fork our INVITE to several phones. Each answers with its own To tag, so one
//! INVITE can create several early dialogs (from 1xx) and even several confirmed ones (from
//! 2xx, which RFC 6026 makes the transaction layer pass up). [`InviteClient`] keeps one
//! [`Dialog`] per To tag, PRACKs their reliable provisionals, ACKs every 2xx (and every
//! retransmission of it), keeps the first confirmed dialog as the call's and ends every
//! other one with ACK then BYE. It returns what to send as [`InviteAction`]s.
//!
//! It builds those requests itself, with a fresh Via branch each from a [`LocalVia`],
//! except when a reliable provisional or a 2xx carries an offer (our INVITE had none, as in
//! RFC 3725 third-party call control): the PRACK or ACK must then carry an answer, which
//! the call engine provides through [`InviteClient::answer`].

use super::dialog::check_answers;
use super::prack::RAckValue;
use super::request::LocalVia;
use super::session_timer::SessionTimerConfig;
use super::{Dialog, DialogError, DialogId, DialogState, ResponseOutcome};
use bytes::Bytes;
use sip::headers::{TypedHeader, Via};
use sip::{HeaderName, Message, Method};
use std::time::Instant;

/// What an answer is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerFor {
    /// The PRACK acknowledging a reliable provisional that carried an offer.
    Prack(RAckValue),
    /// The ACK of a 2xx that carried an offer.
    Ack,
}

/// Something to send or know about, from [`InviteClient`].
// Messages are the currency of the layer, moved once to the transport: not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum InviteAction {
    /// A 1xx with a new To tag created this early dialog.
    EarlyDialog(DialogId),
    /// Send this PRACK.
    SendPrack {
        /// The early dialog.
        id: DialogId,
        /// The request.
        prack: Message,
    },
    /// The first 2xx: this dialog is the call's.
    Confirmed(DialogId),
    /// Send this ACK (for a 2xx, or again for its retransmission).
    SendAck {
        /// The dialog whose 2xx it acknowledges.
        id: DialogId,
        /// The request.
        ack: Message,
    },
    /// The response on `id` carried an offer: call [`InviteClient::answer`] with the
    /// answer, which goes in the PRACK or ACK.
    AnswerNeeded {
        /// The dialog.
        id: DialogId,
        /// PRACK or ACK.
        answer_for: AnswerFor,
        /// The offer (the response body).
        offer: Bytes,
        /// Its Content-Type.
        content_type: Option<String>,
    },
    /// Send this BYE: it ends a dialog created by an extra 2xx (a second fork answering).
    SendBye {
        /// The extra dialog.
        id: DialogId,
        /// The request.
        bye: Message,
    },
    /// The INVITE failed with this final status; every early dialog is gone.
    Failed {
        /// The status code.
        status: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegKind {
    Early,
    Kept,
    Extra,
}

#[derive(Debug, Clone)]
struct Leg {
    dialog: Dialog,
    kind: LegKind,
    awaiting_answer: Option<AnswerFor>,
}

/// The UAC side of one initial INVITE and its forks. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct InviteClient {
    invite: Message,
    via: LocalVia,
    rng: super::dialog::DialogRng,
    session_timer: Option<SessionTimerConfig>,
    legs: Vec<Leg>,
    failed: Option<u16>,
}

impl InviteClient {
    /// Tracks `invite`, which this side sent. `via` gives transport and sent-by for the
    /// ACKs, PRACKs and BYEs the client builds.
    pub fn new(invite: Message, via: LocalVia) -> Result<InviteClient, DialogError> {
        if invite.method() != Some(&Method::Invite) {
            return Err(DialogError::WrongKind {
                expected: "INVITE request",
            });
        }
        invite.from_header()?.tag().ok_or(DialogError::MissingTag {
            header: HeaderName::From,
        })?;
        invite.call_id()?;
        invite.cseq()?;
        Ok(InviteClient {
            invite,
            via,
            rng: super::dialog::DialogRng::default(),
            session_timer: None,
            legs: Vec::new(),
            failed: None,
        })
    }

    /// Seeds the random choices (branches, and each dialog's own seed).
    pub fn seed_rng(&mut self, seed: u64) {
        self.rng = super::dialog::DialogRng::seeded(seed);
    }

    /// Session timer settings given to every dialog created (the INVITE itself should
    /// carry [`SessionTimerConfig::add_to_invite`]'s headers).
    pub fn set_session_timer(&mut self, config: SessionTimerConfig) {
        self.session_timer = Some(config);
    }

    /// The INVITE.
    pub fn invite(&self) -> &Message {
        &self.invite
    }

    /// The call's dialog: the first one confirmed.
    pub fn dialog(&self) -> Option<&Dialog> {
        self.kept().map(|l| &l.dialog)
    }

    /// The call's dialog, mutably.
    pub fn dialog_mut(&mut self) -> Option<&mut Dialog> {
        self.legs
            .iter_mut()
            .find(|l| l.kind == LegKind::Kept)
            .map(|l| &mut l.dialog)
    }

    /// Hands the call's dialog over (to a [`super::DialogTable`]). Extra forks that answer
    /// later cannot be ACKed and ended after this.
    pub fn into_dialog(self) -> Option<Dialog> {
        self.legs
            .into_iter()
            .find(|l| l.kind == LegKind::Kept)
            .map(|l| l.dialog)
    }

    /// Every dialog of this INVITE still early.
    pub fn early_dialogs(&self) -> impl Iterator<Item = &Dialog> {
        self.legs
            .iter()
            .filter(|l| l.kind == LegKind::Early && l.dialog.state() == DialogState::Early)
            .map(|l| &l.dialog)
    }

    /// Any dialog of this INVITE by identifier (early, kept or extra).
    pub fn get(&self, id: &DialogId) -> Option<&Dialog> {
        self.legs
            .iter()
            .find(|l| &l.dialog.id == id)
            .map(|l| &l.dialog)
    }

    /// Any dialog of this INVITE by identifier, mutably (to send an UPDATE on an early
    /// dialog, say).
    pub fn get_mut(&mut self, id: &DialogId) -> Option<&mut Dialog> {
        self.legs
            .iter_mut()
            .find(|l| &l.dialog.id == id)
            .map(|l| &mut l.dialog)
    }

    /// The final non-2xx status, when the INVITE failed.
    pub fn failed(&self) -> Option<u16> {
        self.failed
    }

    fn kept(&self) -> Option<&Leg> {
        self.legs.iter().find(|l| l.kind == LegKind::Kept)
    }

    fn via_text(&mut self) -> String {
        self.via.fresh(&mut self.rng)
    }

    /// Handles a response to the INVITE: every provisional, the final response, and every
    /// further 2xx (forks and retransmissions).
    pub fn handle_response(
        &mut self,
        resp: &Message,
        now: Instant,
    ) -> Result<Vec<InviteAction>, DialogError> {
        let status = resp.status().ok_or(DialogError::WrongKind {
            expected: "response",
        })?;
        if status == 100 {
            return Ok(Vec::new());
        }
        if status >= 300 {
            // Same checks as a dialog-creating response, for a failure.
            if self.invite.call_id()? != resp.call_id()?
                || self.invite.cseq()?.seq != resp.cseq()?.seq
            {
                return Err(DialogError::WrongDialog {
                    reason: "not a response to this INVITE",
                });
            }
            if self.kept().is_some() || self.failed.is_some() {
                return Ok(Vec::new());
            }
            self.failed = Some(status);
            for l in &mut self.legs {
                l.dialog.terminate();
            }
            self.legs.clear();
            return Ok(vec![InviteAction::Failed { status }]);
        }
        check_answers(&self.invite, resp)?;
        let to_tag = resp.to_header()?.tag();
        let is_2xx = status >= 200;
        if !is_2xx && (to_tag.is_none() || self.kept().is_some() || self.failed.is_some()) {
            // No dialog from a tag-less 1xx; late 1xx after the call is set up are moot.
            return Ok(Vec::new());
        }
        let tag = to_tag.unwrap_or("");
        let mut actions = Vec::new();
        match self.legs.iter().position(|l| l.dialog.remote_tag() == tag) {
            Some(i) => {
                let outcome = self.legs[i].dialog.handle_response(resp, now)?;
                self.follow(i, resp, outcome, &mut actions)?;
            }
            None => {
                let (mut d, outcome) = Dialog::uac(&self.invite, resp, now)?;
                d.rng = self.rng.derive();
                if let Some(cfg) = self.session_timer {
                    d.set_session_timer(cfg);
                }
                let id = d.id.clone();
                // Most INVITEs make one dialog: no spare room for forks that never come.
                self.legs.reserve_exact(1);
                self.legs.push(Leg {
                    dialog: d,
                    kind: LegKind::Early,
                    awaiting_answer: None,
                });
                if !is_2xx {
                    actions.push(InviteAction::EarlyDialog(id));
                }
                let i = self.legs.len() - 1;
                self.follow(i, resp, outcome, &mut actions)?;
            }
        }
        Ok(actions)
    }

    /// Acts on a dialog's outcome for leg `i`.
    fn follow(
        &mut self,
        i: usize,
        resp: &Message,
        outcome: ResponseOutcome,
        actions: &mut Vec<InviteAction>,
    ) -> Result<(), DialogError> {
        let id = self.legs[i].dialog.id.clone();
        match outcome {
            ResponseOutcome::PrackNeeded { rack, offer: true } => {
                self.legs[i].awaiting_answer = Some(AnswerFor::Prack(rack.clone()));
                actions.push(answer_needed(id, AnswerFor::Prack(rack), resp));
            }
            ResponseOutcome::PrackNeeded { rack, offer: false } => {
                let via = self.via_text();
                let via = Via::parse(&via)?;
                let prack = self.legs[i].dialog.prack(&rack, &via)?.build()?;
                actions.push(InviteAction::SendPrack { id, prack });
            }
            ResponseOutcome::AckNeeded { offer, .. } => {
                let first = self.kept().is_none();
                self.legs[i].kind = if first { LegKind::Kept } else { LegKind::Extra };
                if first {
                    actions.push(InviteAction::Confirmed(id.clone()));
                }
                if offer {
                    self.legs[i].awaiting_answer = Some(AnswerFor::Ack);
                    actions.push(answer_needed(id, AnswerFor::Ack, resp));
                } else {
                    self.send_ack(i, None, actions)?;
                }
            }
            ResponseOutcome::ResendAck(ack) => actions.push(InviteAction::SendAck { id, ack }),
            _ => {}
        }
        Ok(())
    }

    /// Builds the ACK of leg `i` (with the answer, if any), and the BYE for an extra leg.
    fn send_ack(
        &mut self,
        i: usize,
        answer: Option<(&str, Bytes)>,
        actions: &mut Vec<InviteAction>,
    ) -> Result<(), DialogError> {
        let via = self.via_text();
        let via = Via::parse(&via)?;
        let id = self.legs[i].dialog.id.clone();
        let mut req = self.legs[i].dialog.ack(&via)?;
        // RFC 3261 §13.2.2.4: the ACK carries the INVITE's credentials.
        for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
            for v in self.invite.get_all(name) {
                req = req.header(name, v);
            }
        }
        if let Some((ct, body)) = answer {
            req = req.body(ct, body);
        }
        let ack = req.build()?;
        actions.push(InviteAction::SendAck {
            id: id.clone(),
            ack,
        });
        if self.legs[i].kind == LegKind::Extra
            && self.legs[i].dialog.state() != DialogState::Terminated
        {
            let via = self.via_text();
            let via = Via::parse(&via)?;
            let bye = self.legs[i].dialog.request(Method::Bye, &via)?.build()?;
            actions.push(InviteAction::SendBye { id, bye });
        }
        Ok(())
    }

    /// Gives the answer to an offer announced by [`InviteAction::AnswerNeeded`]: returns
    /// the PRACK, or the ACK (and, for an extra fork, the BYE) to send.
    pub fn answer(
        &mut self,
        id: &DialogId,
        content_type: &str,
        body: Bytes,
    ) -> Result<Vec<InviteAction>, DialogError> {
        let i = self
            .legs
            .iter()
            .position(|l| &l.dialog.id == id)
            .ok_or_else(|| DialogError::UnknownDialog(id.to_string()))?;
        let mut actions = Vec::new();
        match self.legs[i].awaiting_answer.take() {
            None => return Err(DialogError::NoOfferToAnswer),
            Some(AnswerFor::Prack(rack)) => {
                let via = self.via_text();
                let via = Via::parse(&via)?;
                let prack = self.legs[i]
                    .dialog
                    .prack(&rack, &via)?
                    .body(content_type, body)
                    .build()?;
                actions.push(InviteAction::SendPrack {
                    id: id.clone(),
                    prack,
                });
            }
            Some(AnswerFor::Ack) => self.send_ack(i, Some((content_type, body)), &mut actions)?,
        }
        Ok(actions)
    }
}

fn answer_needed(id: DialogId, answer_for: AnswerFor, resp: &Message) -> InviteAction {
    InviteAction::AnswerNeeded {
        id,
        answer_for,
        offer: resp.body_bytes(),
        content_type: resp.get(HeaderName::ContentType).map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    fn client(inv: &Message) -> InviteClient {
        let mut c = InviteClient::new(inv.clone(), LocalVia::new("UDP", "192.0.2.1:5060").unwrap())
            .unwrap();
        c.seed_rng(11);
        c
    }

    #[test]
    fn forked_2xx_first_kept_extra_gets_ack_then_bye() {
        let inv = invite_with_offer();
        let mut c = client(&inv);
        let t0 = Instant::now();
        // Two phones ring.
        let a = c
            .handle_response(&answer(&inv, 180, "phoneA", &[], None), t0)
            .unwrap();
        assert!(matches!(&a[..], [InviteAction::EarlyDialog(id)] if id.remote_tag == "phoneA"));
        let a = c
            .handle_response(&answer(&inv, 180, "phoneB", &[], None), t0)
            .unwrap();
        assert!(matches!(&a[..], [InviteAction::EarlyDialog(id)] if id.remote_tag == "phoneB"));
        assert_eq!(c.early_dialogs().count(), 2);
        // A ringing again: same early dialog.
        assert!(c
            .handle_response(&answer(&inv, 180, "phoneA", &[], None), t0)
            .unwrap()
            .is_empty());
        // B answers first: kept, ACKed.
        let ok_b = answer(&inv, 200, "phoneB", &[], Some("v=0\r\n"));
        let a = c.handle_response(&ok_b, t0).unwrap();
        let ack_b = match &a[..] {
            [InviteAction::Confirmed(id), InviteAction::SendAck { id: id2, ack }] => {
                assert_eq!(id, id2);
                assert_eq!(id.remote_tag, "phoneB");
                ack.clone()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(ack_b.cseq().unwrap().to_string(), "1 ACK");
        assert_eq!(ack_b.to_header().unwrap().tag(), Some("phoneB"));
        assert!(
            ack_b.get(HeaderName::Authorization).is_some(),
            "credentials copied"
        );
        assert_eq!(c.dialog().unwrap().state(), DialogState::Confirmed);
        // B's 2xx retransmitted: the same ACK again, nothing else.
        match &c.handle_response(&ok_b, t0).unwrap()[..] {
            [InviteAction::SendAck { ack, .. }] => assert_eq!(ack.as_bytes(), ack_b.as_bytes()),
            other => panic!("{other:?}"),
        }
        // A answers too: ACK then BYE on A's dialog.
        let ok_a = answer(&inv, 200, "phoneA", &[], Some("v=0\r\n"));
        let a = c.handle_response(&ok_a, t0).unwrap();
        let ack_a = match &a[..] {
            [InviteAction::SendAck { id, ack }, InviteAction::SendBye { id: id2, bye }] => {
                assert_eq!(id.remote_tag, "phoneA");
                assert_eq!(id2, id);
                assert_eq!(bye.to_header().unwrap().tag(), Some("phoneA"));
                assert_eq!(bye.cseq().unwrap().to_string(), "2 BYE");
                assert_eq!(bye.request_uri_str(), Some("sip:bob@192.0.2.4"));
                ack.clone()
            }
            other => panic!("{other:?}"),
        };
        assert_ne!(
            ack_a.top_via().unwrap().branch(),
            ack_b.top_via().unwrap().branch()
        );
        // A's 2xx retransmitted: ACK only, no second BYE.
        assert!(matches!(
            &c.handle_response(&ok_a, t0).unwrap()[..],
            [InviteAction::SendAck { .. }]
        ));
        // A third fork answering straight with 2xx (no 1xx before).
        let ok_c = answer(&inv, 200, "phoneC", &[], Some("v=0\r\n"));
        assert!(matches!(
            &c.handle_response(&ok_c, t0).unwrap()[..],
            [InviteAction::SendAck { .. }, InviteAction::SendBye { .. }]
        ));
        assert_eq!(c.dialog().unwrap().remote_tag(), "phoneB");
        let kept = c.into_dialog().unwrap();
        assert_eq!(kept.remote_tag(), "phoneB");
    }

    #[test]
    fn offer_in_2xx_waits_for_the_answer_before_ack_and_bye() {
        // Third-party call control: an INVITE without SDP.
        let inv = invite_from_alice(None);
        let mut c = client(&inv);
        let t0 = Instant::now();
        let ok = answer(&inv, 200, "b1", &[], Some("v=0\r\no=offer\r\n"));
        let a = c.handle_response(&ok, t0).unwrap();
        let id = match &a[..] {
            [InviteAction::Confirmed(id), InviteAction::AnswerNeeded {
                id: id2,
                answer_for: AnswerFor::Ack,
                offer,
                content_type,
            }] => {
                assert_eq!(id, id2);
                assert_eq!(&offer[..], b"v=0\r\no=offer\r\n");
                assert_eq!(content_type.as_deref(), Some("application/sdp"));
                id.clone()
            }
            other => panic!("{other:?}"),
        };
        // Retransmission before the answer: nothing to send yet.
        assert!(c.handle_response(&ok, t0).unwrap().is_empty());
        let a = c
            .answer(
                &id,
                "application/sdp",
                Bytes::from_static(b"v=0\r\no=answer\r\n"),
            )
            .unwrap();
        match &a[..] {
            [InviteAction::SendAck { ack, .. }] => assert_eq!(ack.body(), b"v=0\r\no=answer\r\n"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            c.answer(&id, "application/sdp", Bytes::new()),
            Err(DialogError::NoOfferToAnswer)
        ));
        // An extra fork with an offer: answer, then ACK and BYE.
        let ok2 = answer(&inv, 200, "b2", &[], Some("v=0\r\n"));
        let a = c.handle_response(&ok2, t0).unwrap();
        let id2 = match &a[..] {
            [InviteAction::AnswerNeeded { id, .. }] => id.clone(),
            other => panic!("{other:?}"),
        };
        let a = c
            .answer(&id2, "application/sdp", Bytes::from_static(b"v=0\r\n"))
            .unwrap();
        assert!(matches!(
            &a[..],
            [InviteAction::SendAck { .. }, InviteAction::SendBye { .. }]
        ));
    }

    #[test]
    fn failure_ends_every_early_dialog() {
        let inv = invite_with_offer();
        let mut c = client(&inv);
        let t0 = Instant::now();
        c.handle_response(&answer(&inv, 180, "x", &[], None), t0)
            .unwrap();
        let busy = sip::ResponseBuilder::reply(&inv, 486, Some("x"))
            .build()
            .unwrap();
        assert!(matches!(
            &c.handle_response(&busy, t0).unwrap()[..],
            [InviteAction::Failed { status: 486 }]
        ));
        assert_eq!(c.early_dialogs().count(), 0);
        assert_eq!(c.failed(), Some(486));
        assert!(c.dialog().is_none());
    }

    #[test]
    fn reliable_provisionals_are_pracked_once_in_order() {
        let inv = invite_with_offer();
        let mut c = client(&inv);
        let t0 = Instant::now();
        let p1 = reliable(&answer(&inv, 183, "x", &[], Some("v=0\r\n")), 77);
        let a = c.handle_response(&p1, t0).unwrap();
        let prack = match &a[..] {
            [InviteAction::EarlyDialog(_), InviteAction::SendPrack { prack, .. }] => prack.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(prack.get(HeaderName::RAck), Some("77 1 INVITE"));
        assert_eq!(prack.cseq().unwrap().to_string(), "2 PRACK");
        assert_eq!(prack.to_header().unwrap().tag(), Some("x"));
        // Retransmitted: ignored. Out of order (79): ignored. 78: PRACKed.
        assert!(c.handle_response(&p1, t0).unwrap().is_empty());
        let p3 = reliable(&answer(&inv, 180, "x", &[], None), 79);
        assert!(c.handle_response(&p3, t0).unwrap().is_empty());
        let p2 = reliable(&answer(&inv, 180, "x", &[], None), 78);
        match &c.handle_response(&p2, t0).unwrap()[..] {
            [InviteAction::SendPrack { prack, .. }] => {
                assert_eq!(prack.get(HeaderName::RAck), Some("78 1 INVITE"));
                assert_eq!(prack.cseq().unwrap().seq, 3);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reliable_provisional_with_offer_gets_the_answer_in_the_prack() {
        let inv = invite_from_alice(None);
        let mut c = client(&inv);
        let p = reliable(&answer(&inv, 183, "x", &[], Some("v=0\r\n")), 1);
        let a = c.handle_response(&p, Instant::now()).unwrap();
        let id = match &a[..] {
            [InviteAction::EarlyDialog(_), InviteAction::AnswerNeeded {
                id,
                answer_for: AnswerFor::Prack(rack),
                ..
            }] => {
                assert_eq!(rack.rseq, 1);
                id.clone()
            }
            other => panic!("{other:?}"),
        };
        let a = c
            .answer(&id, "application/sdp", Bytes::from_static(b"v=0\r\n"))
            .unwrap();
        match &a[..] {
            [InviteAction::SendPrack { prack, .. }] => assert_eq!(prack.body(), b"v=0\r\n"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            c.get(&id).unwrap().offer_state(),
            &super::super::OfferState::Idle
        );
    }
}
