//! Requests the peer sends within the dialog (RFC 3261 §12.2.2).
//!
//! [`Dialog::handle_request`] decides, before the call engine sees a request, whether the
//! dialog can take it, and answers it itself when it cannot:
//! - a CSeq lower than the last one received is out of order: 500;
//! - a request on a terminated dialog: 481;
//! - a re-INVITE, or an UPDATE with an offer, while our own is in progress: 491; while the
//!   peer's previous one is unanswered: 500 with Retry-After (RFC 3261 §14.2, RFC 3311);
//! - a refresh whose Session-Expires is below our Min-SE: 422 (RFC 4028);
//! - a PRACK that matches no unacknowledged reliable provisional: 481 (RFC 3262).
//!
//! An accepted target refresh (re-INVITE, UPDATE, ...) replaces the remote target with its
//! Contact; a BYE terminates the dialog; an ACK for our 2xx completes the offer/answer.

use super::dialog::{contact_uri, is_target_refresh, DialogState};
use super::glare::{overlap_retry_after, Overlap, Side};
use super::session_timer::SessionTimerConfig;
use super::{Dialog, DialogError};
use sip::headers::RAck;
use sip::{HeaderName, Message, Method, ResponseBuilder};

/// What to do with a request received in the dialog.
// Messages are the currency of the layer, moved once to the transport: not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum RequestOutcome {
    /// Act on it and answer it (with [`Dialog::reply`]; never for ACK).
    Accepted {
        /// The request replaced the remote target.
        target_refreshed: bool,
    },
    /// Send this response and do nothing else: the dialog refused the request.
    Rejected(Message),
    /// Drop it: an ACK that matches no 2xx of ours, or arrives on a terminated dialog.
    Ignored,
}

impl Dialog {
    /// Checks and records a request received in this dialog (the caller found the dialog
    /// by [`super::DialogId::of_received_request`]). Errors mean the request does not
    /// belong here or lacks a header every request has; answer those with 400 or 481.
    pub fn handle_request(&mut self, req: &Message) -> Result<RequestOutcome, DialogError> {
        let method = req.method().cloned().ok_or(DialogError::WrongKind {
            expected: "request",
        })?;
        self.check_request_ids(req)?;
        let seq = req.cseq()?.seq;
        let has_body = !req.body().is_empty();
        match method {
            Method::Ack => {
                if self.awaiting_ack != Some(seq) {
                    return Ok(RequestOutcome::Ignored);
                }
                self.awaiting_ack = None;
                self.negotiation
                    .observe_request(Side::Remote, &method, seq, has_body);
                return Ok(RequestOutcome::Accepted {
                    target_refreshed: false,
                });
            }
            // The transaction layer matches CANCEL to its INVITE; nothing changes here.
            Method::Cancel => {
                return Ok(RequestOutcome::Accepted {
                    target_refreshed: false,
                })
            }
            _ => {}
        }
        if self.state == DialogState::Terminated {
            return Ok(self.reject(req, 481, None));
        }
        if self.remote_cseq.is_some_and(|r| seq < r) {
            return Ok(self.reject(req, 500, None));
        }
        self.remote_cseq = Some(seq);

        match method {
            Method::Prack => {
                let matched = match req.typed::<RAck>() {
                    Ok(Some(rack)) => self.prack_uas.on_prack(&rack),
                    Ok(None) | Err(_) => return Ok(self.reject(req, 400, None)),
                };
                if !matched {
                    return Ok(self.reject(req, 481, None));
                }
            }
            Method::Invite | Method::Update => {
                match self.negotiation.check_incoming(&method, has_body) {
                    Some(Overlap::RequestPending) => return Ok(self.reject(req, 491, None)),
                    Some(Overlap::PeerPending) => {
                        let secs = overlap_retry_after(&mut self.rng);
                        let r = self.reject(req, 500, Some((HeaderName::RetryAfter, secs)));
                        return Ok(r);
                    }
                    None => {}
                }
                if let Some(cfg) = &self.session_config {
                    match cfg.negotiate_uas(req) {
                        Ok(_) => {}
                        Err(DialogError::IntervalTooSmall { min_se }) => {
                            let r = SessionTimerConfig::reject_422(
                                req,
                                min_se,
                                Some(&self.id.local_tag),
                            )
                            .build()?;
                            return Ok(RequestOutcome::Rejected(r));
                        }
                        Err(_) => return Ok(self.reject(req, 400, None)),
                    }
                }
            }
            _ => {}
        }

        let mut target_refreshed = false;
        if is_target_refresh(&method) {
            match contact_uri(req) {
                Ok(Some(uri)) => {
                    target_refreshed = uri != self.remote_target;
                    self.remote_target = uri;
                }
                Ok(None) => {}
                Err(_) => return Ok(self.reject(req, 400, None)),
            }
        }
        self.note_allow(req);
        if method == Method::Invite {
            self.remote_invite_msg = Some(Box::new(req.clone()));
        }
        self.negotiation
            .observe_request(Side::Remote, &method, seq, has_body);
        if method == Method::Bye {
            self.terminate();
        }
        Ok(RequestOutcome::Accepted { target_refreshed })
    }

    fn reject(&self, req: &Message, code: u16, extra: Option<(HeaderName, u32)>) -> RequestOutcome {
        let mut b = ResponseBuilder::reply(req, code, Some(&self.id.local_tag));
        if let Some((name, value)) = extra {
            b = b.header(name, value);
        }
        match b.build() {
            Ok(m) => RequestOutcome::Rejected(m),
            // The request's own headers failed to print back; nothing can answer it.
            Err(_) => RequestOutcome::Ignored,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;
    use bytes::Bytes;
    use std::time::Instant;

    #[test]
    fn lower_cseq_gets_500_and_equal_or_higher_passes() {
        let (mut uac, _) = established();
        let r = peer_request(&uac, Method::Info, 10, None, None);
        assert!(matches!(
            uac.handle_request(&r).unwrap(),
            RequestOutcome::Accepted { .. }
        ));
        assert_eq!(uac.remote_cseq(), Some(10));
        let r = peer_request(&uac, Method::Info, 9, None, None);
        match uac.handle_request(&r).unwrap() {
            RequestOutcome::Rejected(m) => {
                assert_eq!(m.status(), Some(500));
                assert_eq!(m.to_header().unwrap().tag(), Some("alicetag"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(uac.remote_cseq(), Some(10));
        let r = peer_request(&uac, Method::Info, 11, None, None);
        assert!(matches!(
            uac.handle_request(&r).unwrap(),
            RequestOutcome::Accepted { .. }
        ));
        assert_eq!(uac.remote_cseq(), Some(11));
    }

    #[test]
    fn reinvite_and_update_refresh_the_target() {
        let (mut uac, _) = established();
        let r = peer_request(
            &uac,
            Method::Invite,
            5,
            Some("<sip:bob@198.51.100.9:5070>"),
            None,
        );
        assert!(matches!(
            uac.handle_request(&r).unwrap(),
            RequestOutcome::Accepted {
                target_refreshed: true
            }
        ));
        assert_eq!(uac.remote_target().as_str(), "sip:bob@198.51.100.9:5070");
        let ok = uac.reply(&r, 200).unwrap().build(Instant::now()).unwrap();
        assert_eq!(ok.get(HeaderName::Contact), Some("<sip:alice@192.0.2.1>"));
        let r = peer_request(
            &uac,
            Method::Update,
            6,
            Some("<sip:bob@198.51.100.10>"),
            None,
        );
        uac.handle_request(&r).unwrap();
        assert_eq!(uac.remote_target().as_str(), "sip:bob@198.51.100.10");
        // INFO is no target refresh.
        let r = peer_request(&uac, Method::Info, 7, Some("<sip:bob@198.51.100.11>"), None);
        uac.handle_request(&r).unwrap();
        assert_eq!(uac.remote_target().as_str(), "sip:bob@198.51.100.10");
    }

    #[test]
    fn wrong_tags_are_an_error_and_bye_terminates() {
        let (mut uac, _) = established();
        let r = peer_request(&uac, Method::Bye, 3, None, None);
        let wrong = r
            .edit()
            .replace(HeaderName::To, "<sip:alice@example.com>;tag=other")
            .finish()
            .unwrap();
        assert!(matches!(
            uac.handle_request(&wrong),
            Err(DialogError::WrongDialog { .. })
        ));
        assert!(matches!(
            uac.handle_request(&r).unwrap(),
            RequestOutcome::Accepted { .. }
        ));
        assert_eq!(uac.state(), DialogState::Terminated);
        let ok = uac.reply(&r, 200).unwrap().build(Instant::now()).unwrap();
        assert_eq!(ok.status(), Some(200));
        let r = peer_request(&uac, Method::Info, 4, None, None);
        match uac.handle_request(&r).unwrap() {
            RequestOutcome::Rejected(m) => assert_eq!(m.status(), Some(481)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn incoming_reinvite_with_offer_during_ours_gets_491() {
        let (mut uac, _) = established();
        uac.request(Method::Invite, &via())
            .unwrap()
            .body("application/sdp", Bytes::from_static(b"v=0\r\n"))
            .build()
            .unwrap();
        let r = peer_request(&uac, Method::Invite, 2, None, Some("v=0\r\n"));
        match uac.handle_request(&r).unwrap() {
            RequestOutcome::Rejected(m) => assert_eq!(m.status(), Some(491)),
            other => panic!("{other:?}"),
        }
        let r = peer_request(&uac, Method::Update, 3, None, Some("v=0\r\n"));
        match uac.handle_request(&r).unwrap() {
            RequestOutcome::Rejected(m) => assert_eq!(m.status(), Some(491)),
            other => panic!("{other:?}"),
        }
        // A body-less UPDATE (a session refresh) is not an offer and passes.
        let r = peer_request(&uac, Method::Update, 4, None, None);
        assert!(matches!(
            uac.handle_request(&r).unwrap(),
            RequestOutcome::Accepted { .. }
        ));
    }

    #[test]
    fn second_peer_offer_before_answer_gets_500_with_retry_after() {
        let (mut uac, _) = established();
        uac.seed_rng(3);
        let r = peer_request(&uac, Method::Update, 2, None, Some("v=0\r\n"));
        assert!(matches!(
            uac.handle_request(&r).unwrap(),
            RequestOutcome::Accepted { .. }
        ));
        let r2 = peer_request(&uac, Method::Invite, 3, None, Some("v=0\r\n"));
        match uac.handle_request(&r2).unwrap() {
            RequestOutcome::Rejected(m) => {
                assert_eq!(m.status(), Some(500));
                let secs: u32 = m.get(HeaderName::RetryAfter).unwrap().parse().unwrap();
                assert!(secs <= 10);
            }
            other => panic!("{other:?}"),
        }
        // Answering the UPDATE clears the way.
        uac.reply(&r, 200)
            .unwrap()
            .body("application/sdp", Bytes::from_static(b"v=0\r\n"))
            .build(Instant::now())
            .unwrap();
        let r3 = peer_request(&uac, Method::Invite, 4, None, Some("v=0\r\n"));
        assert!(matches!(
            uac.handle_request(&r3).unwrap(),
            RequestOutcome::Accepted { .. }
        ));
    }

    #[test]
    fn ack_for_our_2xx_is_accepted_once_and_stray_acks_ignored() {
        let (_, mut uas) = established();
        // `established` fed the peer's ACK already; a stray one is ignored.
        let ack = peer_request(&uas, Method::Ack, 1, None, None);
        assert!(matches!(
            uas.handle_request(&ack).unwrap(),
            RequestOutcome::Ignored
        ));
    }
}
