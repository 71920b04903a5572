//! Responses to the requests this side sent in the dialog (RFC 3261 §12.2.1.2, §13.2.2,
//! §14.1; RFC 3262 §4; RFC 4028 §7).
//!
//! [`Dialog::handle_response`] updates the dialog and says what the response asks for:
//! an ACK for a 2xx to INVITE (which the dialog builds, not the transaction layer:
//! RFC 3261 §13.2.2.4), the same ACK again for a retransmitted 2xx, a PRACK for a new
//! reliable provisional, a retry after a 491 back-off or with a larger session interval
//! after a 422, or nothing. A 2xx to a target refresh replaces the remote target; the
//! first 2xx to the initial INVITE confirms the dialog and recomputes the route set; a
//! 481 or 408 (or a transaction timeout, [`Dialog::handle_request_timeout`]) ends it.

use super::dialog::{contact_uri, route_set, DialogState, Role};
use super::glare::{glare_backoff, OfferState, Side};
use super::prack::{ProvisionalCheck, RAckValue};
use super::session_timer::{SessionTimer, SessionTimerConfig};
use super::{Dialog, DialogError};
use sip::headers::Refresher;
use sip::{Message, Method};
use std::time::Instant;

/// Why a response is dropped without effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscardReason {
    /// A retransmission of a response already processed.
    Retransmission,
    /// A reliable provisional response whose RSeq skips one (RFC 3262 §4).
    OutOfOrder,
    /// A reliable provisional response without a valid RSeq.
    MissingRSeq,
    /// A response to an INVITE that is not our latest, or arriving on a terminated dialog.
    Stale,
}

/// What a response to one of our requests asks for.
// Messages are the currency of the layer, moved once to the transport: not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ResponseOutcome {
    /// Recorded; nothing to send.
    Processed,
    /// A new reliable provisional response: send a PRACK ([`Dialog::prack`]) with this
    /// RAck. `offer` is true when the response carried an offer, which the PRACK answers.
    PrackNeeded {
        /// The RAck of the PRACK.
        rack: RAckValue,
        /// The provisional response carried an offer.
        offer: bool,
    },
    /// A 2xx to our INVITE: send the ACK ([`Dialog::ack`]). `offer` is true when the 2xx
    /// carried an offer, which the ACK must answer.
    AckNeeded {
        /// The INVITE's CSeq.
        cseq: u32,
        /// The 2xx carried an offer.
        offer: bool,
    },
    /// A retransmitted 2xx: send this ACK again.
    ResendAck(Message),
    /// Drop the response.
    Discard(DiscardReason),
    /// A 491: the request may be retried at `at` ([`super::DialogEvent::RetryOffer`]
    /// fires then).
    RetryScheduled {
        /// The refused method (INVITE or UPDATE).
        method: Method,
        /// When the back-off ends.
        at: Instant,
    },
    /// A 422: session timer settings were raised to `min_se`; send the request again now.
    SessionIntervalTooSmall {
        /// The new interval.
        min_se: u32,
    },
    /// The dialog is terminated (481, 408, a failed initial INVITE, a BYE's response).
    Terminated,
}

impl Dialog {
    /// Records a response to a request this side sent in this dialog.
    pub fn handle_response(
        &mut self,
        resp: &Message,
        now: Instant,
    ) -> Result<ResponseOutcome, DialogError> {
        let code = resp.status().ok_or(DialogError::WrongKind {
            expected: "response",
        })?;
        self.check_response_ids(resp)?;
        let cseq = resp.cseq()?;
        let (method, seq) = (cseq.method(), cseq.seq);
        let has_body = !resp.body().is_empty();

        if method == Method::Invite && (200..300).contains(&code) {
            if let Some(a) = self.ack.as_ref().filter(|a| a.cseq == seq) {
                // RFC 3261 §13.2.2.4: every retransmission of the 2xx gets the same ACK.
                return Ok(match a.ack.clone().map(Message::parse) {
                    Some(Ok(m)) => ResponseOutcome::ResendAck(m),
                    // Our own ACK always parses; were it not to, the 2xx is dropped.
                    Some(Err(_)) | None => ResponseOutcome::Discard(DiscardReason::Retransmission),
                });
            }
        }
        if self.state == DialogState::Terminated {
            return Ok(match (method, code) {
                (Method::Bye, 200..) => ResponseOutcome::Terminated,
                _ => ResponseOutcome::Discard(DiscardReason::Stale),
            });
        }
        if code == 100 {
            return Ok(ResponseOutcome::Processed);
        }
        if method == Method::Invite && self.last_invite_cseq != Some(seq) {
            return Ok(ResponseOutcome::Discard(DiscardReason::Stale));
        }
        if code == 481 || code == 408 {
            self.negotiation
                .observe_response(Side::Remote, &method, seq, code, false, has_body);
            self.terminate();
            return Ok(ResponseOutcome::Terminated);
        }
        match (&method, code) {
            (Method::Invite, 101..=199) => self.invite_provisional(resp, seq, has_body),
            (Method::Invite, 200..=299) => {
                if self.state == DialogState::Early && self.role == Role::Uac {
                    // §13.2.2.4: the route set is recomputed from the 2xx.
                    self.route_set = route_set(resp, true)?;
                    self.state = DialogState::Confirmed;
                }
                self.refresh_target(resp);
                self.note_allow(resp);
                self.negotiation.observe_response(
                    Side::Remote,
                    &method,
                    seq,
                    code,
                    false,
                    has_body,
                );
                self.restart_session_timer(resp, now);
                self.ack = Some(super::dialog::AckState {
                    cseq: seq,
                    ack: None,
                });
                let offer = match &self.negotiation.state {
                    OfferState::Offered {
                        by: Side::Remote,
                        method: Method::Invite,
                        cseq,
                    } => *cseq == seq,
                    _ => false,
                };
                Ok(ResponseOutcome::AckNeeded { cseq: seq, offer })
            }
            (Method::Update, 200..=299) => {
                self.refresh_target(resp);
                self.negotiation.observe_response(
                    Side::Remote,
                    &method,
                    seq,
                    code,
                    false,
                    has_body,
                );
                self.restart_session_timer(resp, now);
                Ok(ResponseOutcome::Processed)
            }
            (Method::Invite | Method::Update, 300..) => {
                self.negotiation.observe_response(
                    Side::Remote,
                    &method,
                    seq,
                    code,
                    false,
                    has_body,
                );
                if method == Method::Invite
                    && self.state == DialogState::Early
                    && seq == self.initial_cseq
                {
                    self.terminate();
                    return Ok(ResponseOutcome::Terminated);
                }
                if code == 491 {
                    let at = now + glare_backoff(self.owns_call_id, &mut self.rng);
                    self.negotiation.retry = Some((at, method.clone()));
                    return Ok(ResponseOutcome::RetryScheduled { method, at });
                }
                if code == 422 {
                    if let Some(cfg) = self.session_config.as_mut() {
                        if let Ok(min_se) = cfg.on_422(resp) {
                            return Ok(ResponseOutcome::SessionIntervalTooSmall { min_se });
                        }
                    }
                }
                Ok(ResponseOutcome::Processed)
            }
            (Method::Bye, 200..) => {
                self.terminate();
                Ok(ResponseOutcome::Terminated)
            }
            _ => {
                self.negotiation.observe_response(
                    Side::Remote,
                    &method,
                    seq,
                    code,
                    false,
                    has_body,
                );
                Ok(ResponseOutcome::Processed)
            }
        }
    }

    /// Our request `method`/`cseq` got no response (Timer B or F): RFC 3261 §12.2.1.2
    /// treats that like a 408 and ends the dialog.
    pub fn handle_request_timeout(&mut self, method: &Method, cseq: u32) {
        self.negotiation
            .observe_response(Side::Remote, method, cseq, 408, false, false);
        self.terminate();
    }

    fn invite_provisional(
        &mut self,
        resp: &Message,
        seq: u32,
        has_body: bool,
    ) -> Result<ResponseOutcome, DialogError> {
        if self.state == DialogState::Early {
            self.refresh_target(resp);
        }
        let check = self.prack_uac.check(resp);
        let reliable = matches!(check, ProvisionalCheck::Acknowledge(_));
        let discard = match check {
            ProvisionalCheck::Retransmission => Some(DiscardReason::Retransmission),
            ProvisionalCheck::OutOfOrder => Some(DiscardReason::OutOfOrder),
            ProvisionalCheck::MissingRSeq => Some(DiscardReason::MissingRSeq),
            _ => None,
        };
        if let Some(d) = discard {
            return Ok(ResponseOutcome::Discard(d));
        }
        self.negotiation.observe_response(
            Side::Remote,
            &Method::Invite,
            seq,
            resp.status().unwrap_or(180),
            reliable,
            has_body,
        );
        match check {
            ProvisionalCheck::Acknowledge(rack) => {
                let offer = has_body && self.negotiation.state.offered_by(Side::Remote);
                Ok(ResponseOutcome::PrackNeeded { rack, offer })
            }
            _ => Ok(ResponseOutcome::Processed),
        }
    }

    /// RFC 3261 §12.2.1.2: a 2xx to a target refresh carries the new remote target.
    fn refresh_target(&mut self, resp: &Message) {
        if let Ok(Some(uri)) = contact_uri(resp) {
            self.remote_target = uri;
        }
    }

    /// A 2xx to our INVITE or UPDATE fixes the session timer; we are its UAC.
    fn restart_session_timer(&mut self, resp: &Message, now: Instant) {
        self.session_timer = SessionTimerConfig::negotiated_in_2xx(resp)
            .ok()
            .flatten()
            .map(|n| SessionTimer::start(n, n.refresher == Refresher::Uac, now));
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::super::DialogEvent;
    use super::*;
    use bytes::Bytes;
    use sip::HeaderName;
    use std::time::Duration;

    fn glare_round(owns: bool, seed: u64) -> Duration {
        let (mut uac, _) = established();
        uac.set_owns_call_id(owns);
        uac.seed_rng(seed);
        let t0 = Instant::now();
        let reinvite = uac
            .request(Method::Invite, &via())
            .unwrap()
            .body("application/sdp", Bytes::from_static(b"v=0\r\n"))
            .build()
            .unwrap();
        // The peer's re-INVITE crosses ours: we answer 491 ...
        let theirs = peer_request(&uac, Method::Invite, 7, None, Some("v=0\r\n"));
        match uac.handle_request(&theirs).unwrap() {
            super::super::RequestOutcome::Rejected(m) => assert_eq!(m.status(), Some(491)),
            other => panic!("{other:?}"),
        }
        // ... and get 491 for ours.
        let r491 = response_to(&reinvite, 491, None);
        let at = match uac.handle_response(&r491, t0).unwrap() {
            ResponseOutcome::RetryScheduled { method, at } => {
                assert_eq!(method, Method::Invite);
                at
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(uac.poll_timeout(), Some(at));
        assert!(uac.handle_timeout(at - Duration::from_millis(1)).is_empty());
        let ev = uac.handle_timeout(at);
        assert!(matches!(
            &ev[..],
            [DialogEvent::RetryOffer {
                method: Method::Invite
            }]
        ));
        assert_eq!(uac.poll_timeout(), None);
        // The retry is allowed now.
        uac.request(Method::Invite, &via())
            .unwrap()
            .body("application/sdp", Bytes::from_static(b"v=0\r\n"))
            .build()
            .unwrap();
        at - t0
    }

    #[test]
    fn glare_backoff_for_call_id_owner_is_2_1_to_4_s() {
        for seed in 0..50 {
            let d = glare_round(true, seed);
            assert!(
                d >= Duration::from_millis(2100) && d <= Duration::from_secs(4),
                "{d:?}"
            );
            assert_eq!(d.as_millis() % 10, 0);
        }
    }

    #[test]
    fn glare_backoff_for_non_owner_is_0_to_2_s() {
        for seed in 0..50 {
            let d = glare_round(false, seed);
            assert!(d <= Duration::from_secs(2), "{d:?}");
            assert_eq!(d.as_millis() % 10, 0);
        }
    }

    #[test]
    fn update_glare_schedules_a_retry_too() {
        let (mut uac, _) = established();
        let upd = uac
            .request(Method::Update, &via())
            .unwrap()
            .body("application/sdp", Bytes::from_static(b"v=0\r\n"))
            .build()
            .unwrap();
        // No second offer while the first is outstanding.
        assert!(matches!(
            uac.request(Method::Update, &via())
                .unwrap()
                .body("application/sdp", Bytes::from_static(b"v=0\r\n"))
                .build(),
            Err(DialogError::OfferPending)
        ));
        let t0 = Instant::now();
        match uac
            .handle_response(&response_to(&upd, 491, None), t0)
            .unwrap()
        {
            ResponseOutcome::RetryScheduled { method, .. } => assert_eq!(method, Method::Update),
            other => panic!("{other:?}"),
        }
        assert_eq!(uac.offer_state(), &OfferState::Idle);
    }

    #[test]
    fn reinvite_2xx_refreshes_target_and_retransmission_gets_the_same_ack() {
        let (mut uac, _) = established();
        let reinvite = uac
            .request(Method::Invite, &via())
            .unwrap()
            .build()
            .unwrap();
        let ok = response_to(&reinvite, 200, Some("<sip:bob@203.0.113.7>"))
            .edit()
            .set_body(Some("application/sdp"), Bytes::from_static(b"v=0\r\n"))
            .finish()
            .unwrap();
        let t0 = Instant::now();
        match uac.handle_response(&ok, t0).unwrap() {
            ResponseOutcome::AckNeeded { cseq, offer } => {
                assert_eq!(cseq, reinvite.cseq().unwrap().seq);
                assert!(offer, "offer-less re-INVITE: the 2xx carries the offer");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(uac.remote_target().as_str(), "sip:bob@203.0.113.7");
        // Before the ACK is built a retransmission is just dropped.
        assert!(matches!(
            uac.handle_response(&ok, t0).unwrap(),
            ResponseOutcome::Discard(DiscardReason::Retransmission)
        ));
        let ack = uac
            .ack(&via())
            .unwrap()
            .body("application/sdp", Bytes::from_static(b"v=0\r\n"))
            .build()
            .unwrap();
        assert_eq!(ack.cseq().unwrap().method(), Method::Ack);
        assert_eq!(ack.cseq().unwrap().seq, reinvite.cseq().unwrap().seq);
        assert_eq!(uac.offer_state(), &OfferState::Idle);
        match uac.handle_response(&ok, t0).unwrap() {
            ResponseOutcome::ResendAck(m) => assert_eq!(m.as_bytes(), ack.as_bytes()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn response_481_or_timeout_terminates() {
        let (mut uac, _) = established();
        let info = uac.request(Method::Info, &via()).unwrap().build().unwrap();
        assert!(matches!(
            uac.handle_response(&response_to(&info, 481, None), Instant::now())
                .unwrap(),
            ResponseOutcome::Terminated
        ));
        assert_eq!(uac.state(), DialogState::Terminated);
        let (mut uac, _) = established();
        uac.handle_request_timeout(&Method::Info, 2);
        assert_eq!(uac.state(), DialogState::Terminated);
    }

    #[test]
    fn response_from_another_fork_is_refused() {
        let (mut uac, _) = established();
        let info = uac.request(Method::Info, &via()).unwrap().build().unwrap();
        let other = response_to(&info, 200, None)
            .edit()
            .replace(HeaderName::To, "<sip:bob@example.com>;tag=someoneelse")
            .finish()
            .unwrap();
        assert!(matches!(
            uac.handle_response(&other, Instant::now()),
            Err(DialogError::WrongDialog { reason: "To tag" })
        ));
    }
}
