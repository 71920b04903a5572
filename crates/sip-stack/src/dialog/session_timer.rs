//! Session timers (RFC 4028): a keep-alive for calls, so that a B2BUA does not hold a call
//! whose other end vanished.
//!
//! The INVITE (or a refreshing re-INVITE/UPDATE) proposes a session interval
//! (`Session-Expires`) and the smallest interval it accepts (`Min-SE`); the 2xx fixes the
//! interval and which side refreshes (`refresher=uac|uas`, relative to that transaction).
//! A UAS that finds the interval too small answers 422 with its own Min-SE, and the UAC
//! retries with a larger one. Then:
//! - the refresher sends a re-INVITE or UPDATE at half the interval (§10);
//! - the other side, if no refresh arrived by `interval − min(32 s, interval/3)`, sends
//!   BYE (§10). The refresher ends the call at that point too when its refreshes failed.
//!
//! [`SessionTimerConfig`] holds what this side asks for and does the negotiation;
//! [`SessionTimer`] is the running timer. A [`super::Dialog`] starts or restarts the
//! timer from every 2xx to INVITE or UPDATE it sends or receives (a 2xx without
//! Session-Expires turns it off), and adds the headers to the refresh requests it builds.

use super::prack::supports;
use super::DialogError;
use sip::headers::{MinSe, Refresher, SessionExpires};
use sip::{HeaderName, Message, RequestBuilder, ResponseBuilder};
use std::time::{Duration, Instant};

/// The option tag of RFC 4028.
pub const TAG_TIMER: &str = "timer";

/// The smallest Min-SE allowed (RFC 4028 §5).
pub const MIN_SE_FLOOR: u32 = 90;

/// What this side asks for and accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimerConfig {
    /// The session interval to propose, in seconds (default 1800).
    pub session_expires: u32,
    /// The smallest interval accepted, in seconds (default and floor 90).
    pub min_se: u32,
    /// Ask to be the refresher when the choice is ours (default false: let a UAC that
    /// supports timers refresh).
    pub prefer_refresher: bool,
}

impl Default for SessionTimerConfig {
    fn default() -> Self {
        SessionTimerConfig {
            session_expires: 1800,
            min_se: MIN_SE_FLOOR,
            prefer_refresher: false,
        }
    }
}

/// The outcome of a negotiation: interval and refresher, as in a 2xx's Session-Expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Seconds.
    pub interval: u32,
    /// Which side of the negotiating transaction refreshes.
    pub refresher: Refresher,
}

impl Negotiated {
    /// Adds `Session-Expires` (and `Require: timer` when the UAC refreshes, §9) to the 2xx.
    pub fn add_to_response(&self, b: ResponseBuilder) -> ResponseBuilder {
        let b = b.header(
            HeaderName::SessionExpires,
            format_args!(
                "{};refresher={}",
                self.interval,
                refresher_str(self.refresher)
            ),
        );
        match self.refresher {
            Refresher::Uac => b.header(HeaderName::Require, TAG_TIMER),
            Refresher::Uas => b,
        }
    }
}

fn refresher_str(r: Refresher) -> &'static str {
    match r {
        Refresher::Uac => "uac",
        Refresher::Uas => "uas",
    }
}

impl SessionTimerConfig {
    /// A configuration with the floors applied: Min-SE at least 90 s, the interval at
    /// least Min-SE.
    pub fn new(session_expires: u32, min_se: u32) -> SessionTimerConfig {
        let min_se = min_se.max(MIN_SE_FLOOR);
        SessionTimerConfig {
            session_expires: session_expires.max(min_se),
            min_se,
            prefer_refresher: false,
        }
    }

    /// Adds `Supported: timer`, `Session-Expires` (with `refresher` when given) and
    /// `Min-SE` to a session refresh request (INVITE, re-INVITE or UPDATE, §7.1, §7.4).
    pub fn add_to_request(
        &self,
        b: RequestBuilder,
        interval: u32,
        refresher: Option<Refresher>,
    ) -> RequestBuilder {
        let b = b.header(HeaderName::Supported, TAG_TIMER);
        let b = match refresher {
            Some(r) => b.header(
                HeaderName::SessionExpires,
                format_args!("{interval};refresher={}", refresher_str(r)),
            ),
            None => b.header(HeaderName::SessionExpires, interval),
        };
        b.header(HeaderName::MinSe, self.min_se)
    }

    /// Adds the headers of an initial INVITE: our interval, our Min-SE, and
    /// `refresher=uac` when we prefer to refresh.
    pub fn add_to_invite(&self, b: RequestBuilder) -> RequestBuilder {
        let r = self.prefer_refresher.then_some(Refresher::Uac);
        self.add_to_request(b, self.session_expires, r)
    }

    /// The UAS's negotiation for an INVITE, re-INVITE or UPDATE it will answer with 2xx
    /// (§9). Fails with [`DialogError::IntervalTooSmall`] (answer 422 with
    /// [`SessionTimerConfig::reject_422`]) when the UAC supports timers and proposed less
    /// than our Min-SE; with a header error (answer 400) on a malformed Session-Expires.
    pub fn negotiate_uas(&self, req: &Message) -> Result<Negotiated, DialogError> {
        let uac_supports = supports(req, TAG_TIMER);
        let req_min = req
            .typed::<MinSe>()?
            .map_or(MIN_SE_FLOOR, |m| m.0.max(MIN_SE_FLOOR));
        let ours = if uac_supports && !self.prefer_refresher {
            Refresher::Uac
        } else {
            Refresher::Uas
        };
        match req.typed::<SessionExpires>()? {
            Some(se) => {
                if se.delta < self.min_se && uac_supports {
                    return Err(DialogError::IntervalTooSmall {
                        min_se: self.min_se.max(req_min),
                    });
                }
                // We may lower the interval, never below the request's Min-SE, and never
                // raise it.
                let interval = self.session_expires.max(req_min).min(se.delta).max(1);
                let refresher = match (uac_supports, se.refresher) {
                    (false, _) => Refresher::Uas,
                    (true, Some(r)) => r,
                    (true, None) => ours,
                };
                Ok(Negotiated {
                    interval,
                    refresher,
                })
            }
            None => Ok(Negotiated {
                interval: self.session_expires.max(req_min),
                refresher: ours,
            }),
        }
    }

    /// A 422 Session Interval Too Small answering `req`, with our Min-SE (§6).
    pub fn reject_422(req: &Message, min_se: u32, to_tag: Option<&str>) -> ResponseBuilder {
        ResponseBuilder::reply(req, 422, to_tag).header(HeaderName::MinSe, min_se)
    }

    /// The UAC's reading of a 2xx (§7.2): the negotiated timer, or `None` when the 2xx has
    /// no Session-Expires (no timer). A missing refresher means the UAC refreshes.
    pub fn negotiated_in_2xx(resp: &Message) -> Result<Option<Negotiated>, DialogError> {
        Ok(resp
            .typed::<SessionExpires>()?
            .filter(|se| se.delta > 0)
            .map(|se| Negotiated {
                interval: se.delta,
                refresher: se.refresher.unwrap_or(Refresher::Uac),
            }))
    }

    /// Takes a 422 into account (§7.3): the interval and Min-SE of the retry become the
    /// 422's Min-SE, which is returned. Fails when the 422 has no Min-SE above the
    /// interval we proposed, which would make the retry fail the same way.
    pub fn on_422(&mut self, resp: &Message) -> Result<u32, DialogError> {
        let min = resp.typed::<MinSe>()?.ok_or(DialogError::BadMinSe)?.0;
        if min <= self.session_expires && min <= self.min_se {
            // Nothing would change: the retry would be refused the same way.
            return Err(DialogError::BadMinSe);
        }
        self.min_se = self.min_se.max(min);
        self.session_expires = self.session_expires.max(min);
        Ok(self.session_expires)
    }
}

/// What a [`SessionTimer`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTimerEvent {
    /// We are the refresher and half the interval passed: send a re-INVITE or UPDATE.
    Refresh,
    /// No refresh in time: end the call with BYE.
    Expired,
}

/// A running session timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTimer {
    interval: u32,
    we_refresh: bool,
    refresh_at: Option<Instant>,
    expire_at: Option<Instant>,
}

impl SessionTimer {
    /// Starts (or restarts, after a refresh) the timer of `n`, negotiated at `now`.
    /// `we_refresh` is true when this side is the refresher.
    pub fn start(n: Negotiated, we_refresh: bool, now: Instant) -> SessionTimer {
        let interval = n.interval.max(1);
        let secs = Duration::from_secs(interval.into());
        let margin = Duration::from_secs(u64::from((interval / 3).min(32)));
        SessionTimer {
            interval,
            we_refresh,
            refresh_at: if we_refresh {
                now.checked_add(secs / 2)
            } else {
                None
            },
            expire_at: now.checked_add(secs - margin),
        }
    }

    /// The session interval in seconds.
    pub fn interval(&self) -> u32 {
        self.interval
    }

    /// True when this side refreshes.
    pub fn we_refresh(&self) -> bool {
        self.we_refresh
    }

    /// When the refresh or the expiry is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.refresh_at, self.expire_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the timer.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<SessionTimerEvent> {
        if let Some(at) = self.refresh_at {
            if now >= at {
                self.refresh_at = None;
                return Some(SessionTimerEvent::Refresh);
            }
        }
        if let Some(at) = self.expire_at {
            if now >= at {
                self.expire_at = None;
                self.refresh_at = None;
                return Some(SessionTimerEvent::Expired);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip::Method;

    fn invite(extra: &[(HeaderName, &str)]) -> Message {
        let mut b = RequestBuilder::new(&Method::Invite, &"sip:b@h")
            .header(HeaderName::Via, "SIP/2.0/UDP h;branch=z9hG4bK1")
            .header(HeaderName::From, "<sip:a@h>;tag=a")
            .header(HeaderName::To, "<sip:b@h>")
            .header(HeaderName::CallId, "c")
            .header(HeaderName::CSeq, "1 INVITE");
        for (n, v) in extra {
            b = b.header(*n, v);
        }
        b.build().unwrap()
    }

    #[test]
    fn uas_rejects_small_interval_with_its_min_se_and_uac_retries_larger() {
        let uas = SessionTimerConfig::new(1800, 600);
        let req = invite(&[
            (HeaderName::Supported, "timer"),
            (HeaderName::SessionExpires, "300"),
        ]);
        assert_eq!(
            uas.negotiate_uas(&req),
            Err(DialogError::IntervalTooSmall { min_se: 600 })
        );
        let resp = SessionTimerConfig::reject_422(&req, 600, Some("b"))
            .build()
            .unwrap();
        assert_eq!(resp.status(), Some(422));
        assert_eq!(resp.typed::<MinSe>().unwrap(), Some(MinSe(600)));

        let mut uac = SessionTimerConfig::new(300, 90);
        assert_eq!(uac.on_422(&resp), Ok(600));
        assert_eq!((uac.session_expires, uac.min_se), (600, 600));
        // The retry carries the larger values and is accepted.
        let retry = uac
            .add_to_invite(
                RequestBuilder::new(&Method::Invite, &"sip:b@h")
                    .header(HeaderName::Via, "SIP/2.0/UDP h;branch=z9hG4bK2")
                    .header(HeaderName::From, "<sip:a@h>;tag=a")
                    .header(HeaderName::To, "<sip:b@h>")
                    .header(HeaderName::CallId, "c")
                    .header(HeaderName::CSeq, "2 INVITE"),
            )
            .build()
            .unwrap();
        assert_eq!(retry.get(HeaderName::SessionExpires), Some("600"));
        assert_eq!(retry.get(HeaderName::MinSe), Some("600"));
        let n = uas.negotiate_uas(&retry).unwrap();
        assert_eq!(
            n,
            Negotiated {
                interval: 600,
                refresher: Refresher::Uac
            }
        );
        // A second 422 with the same Min-SE would loop: refused.
        assert_eq!(uac.on_422(&resp), Err(DialogError::BadMinSe));
    }

    #[test]
    fn uas_lowers_but_never_raises_or_goes_below_request_min_se() {
        let uas = SessionTimerConfig::new(900, 90);
        let n = uas
            .negotiate_uas(&invite(&[
                (HeaderName::Supported, "timer"),
                (HeaderName::SessionExpires, "3600;refresher=uas"),
                (HeaderName::MinSe, "1200"),
            ]))
            .unwrap();
        assert_eq!(n.interval, 1200);
        assert_eq!(n.refresher, Refresher::Uas);
        let n = uas
            .negotiate_uas(&invite(&[
                (HeaderName::Supported, "timer"),
                (HeaderName::SessionExpires, "120"),
            ]))
            .unwrap();
        assert_eq!(n.interval, 120);
        assert_eq!(n.refresher, Refresher::Uac);
    }

    #[test]
    fn uas_refreshes_when_the_uac_lacks_timer_support() {
        let uas = SessionTimerConfig::default();
        // No support, a proxy-inserted small interval: accepted as is, UAS refreshes.
        let n = uas
            .negotiate_uas(&invite(&[(HeaderName::SessionExpires, "60")]))
            .unwrap();
        assert_eq!(
            n,
            Negotiated {
                interval: 60,
                refresher: Refresher::Uas
            }
        );
        let n = uas.negotiate_uas(&invite(&[])).unwrap();
        assert_eq!(
            n,
            Negotiated {
                interval: 1800,
                refresher: Refresher::Uas
            }
        );
        let b = n
            .add_to_response(ResponseBuilder::new(200))
            .build()
            .unwrap();
        assert_eq!(
            b.get(HeaderName::SessionExpires),
            Some("1800;refresher=uas")
        );
        assert!(!b.has(HeaderName::Require));
    }

    #[test]
    fn refresher_refreshes_at_half_and_other_side_expires_early() {
        let t0 = Instant::now();
        let n = Negotiated {
            interval: 1800,
            refresher: Refresher::Uac,
        };
        let mut t = SessionTimer::start(n, true, t0);
        assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(900)));
        assert_eq!(t.handle_timeout(t0 + Duration::from_secs(899)), None);
        assert_eq!(
            t.handle_timeout(t0 + Duration::from_secs(900)),
            Some(SessionTimerEvent::Refresh)
        );
        assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(1768)));

        let mut t = SessionTimer::start(n, false, t0);
        assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(1768)));
        assert_eq!(
            t.handle_timeout(t0 + Duration::from_secs(1768)),
            Some(SessionTimerEvent::Expired)
        );
        assert_eq!(t.poll_timeout(), None);
        // Short intervals use a third of the interval as the margin.
        let t = SessionTimer::start(
            Negotiated {
                interval: 90,
                refresher: Refresher::Uas,
            },
            false,
            t0,
        );
        assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    }
}
