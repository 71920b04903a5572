//! The calls' side of the media engine ([`media`]): the two streams a call needs (one
//! toward each leg), their descriptions for SDP, and carrying out the call's
//! [`MediaAction`]s — ringback, relaying early media, anchoring, hold music, mute, DTMF —
//! and the per-leg statistics for the call log.
//!
//! Opening a stream binds two UDP sockets (RTP and RTCP) and starts its task: four binds
//! per call, too slow for the request path of a click-to-call. So [`CallMedia`] keeps up to
//! [`SPARE_STREAMS`] streams open ahead of need and a background task tops them up after
//! each call setup takes some; a setup only binds when the spares have run out (a burst
//! faster than the refill, or the port range exhausted — then it fails as before). Spare
//! streams hold ports of `media.rtp_port_min`..`rtp_port_max` while idle, and play and
//! send nothing until a call gives them a remote.

use super::call::MediaAction;
use super::leg::LegRole;
use crate::config::MediaConfig;
use media::{Codec, MediaEngine, RemoteMedia, Source, Stream, StreamStats, ToneKind};
use sdp::{LocalMedia, SessionDescription};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};

pub use media::MediaError;

/// Streams kept open ahead of need (two per call setup).
pub const SPARE_STREAMS: usize = 64;

/// Opens streams for calls. Cheap to clone.
#[derive(Clone)]
pub struct CallMedia {
    engine: MediaEngine,
    address: std::net::IpAddr,
    spares: Arc<Spares>,
}

/// Streams opened ahead of need, and the wake-up of the task that tops them up.
struct Spares {
    ready: Mutex<Vec<Stream>>,
    wake: Arc<tokio::sync::Notify>,
}

impl Spares {
    fn ready(&self) -> std::sync::MutexGuard<'_, Vec<Stream>> {
        // A Vec is valid at every step; a panic elsewhere cannot break it.
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Spares {
    fn drop(&mut self) {
        // Lets the refill task see that nobody needs it any more.
        self.wake.notify_one();
    }
}

/// Tops the spares up to [`SPARE_STREAMS`] whenever woken, until they are gone.
async fn refill(spares: Weak<Spares>, wake: Arc<tokio::sync::Notify>, engine: MediaEngine) {
    loop {
        loop {
            let Some(s) = spares.upgrade() else { return };
            if s.ready().len() >= SPARE_STREAMS {
                break;
            }
            match engine.open().await {
                Ok(stream) => s.ready().push(stream),
                // The range is exhausted: try again after the next setup.
                Err(e) => {
                    tracing::debug!(error = %e, "no spare media stream");
                    break;
                }
            }
            drop(s);
            // One bind at a time, letting request handlers run in between.
            tokio::task::yield_now().await;
        }
        wake.notified().await;
    }
}

impl CallMedia {
    /// The engine for `config`; fails on an unusable port range.
    pub fn new(config: &MediaConfig) -> Result<CallMedia, MediaError> {
        let mut c = media::MediaConfig::new(config.address);
        c.port_min = config.rtp_port_min;
        c.port_max = config.rtp_port_max;
        c.region = match config.tone_region.as_str() {
            "uk" => media::Region::Uk,
            "eu" => media::Region::Eu,
            "de" => media::Region::De,
            "fr" => media::Region::Fr,
            "ru" => media::Region::Ru,
            _ => media::Region::Us,
        };
        let engine = MediaEngine::new(c)?;
        let wake = Arc::new(tokio::sync::Notify::new());
        let spares = Arc::new(Spares {
            ready: Mutex::new(Vec::with_capacity(SPARE_STREAMS)),
            wake: wake.clone(),
        });
        // Outside a runtime (some tests) every stream is opened on demand.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(refill(Arc::downgrade(&spares), wake, engine.clone()));
        }
        Ok(CallMedia {
            engine,
            address: config.address,
            spares,
        })
    }

    /// A spare stream, or a new one when none is left.
    async fn stream(&self) -> Result<Stream, MediaError> {
        let spare = self.spares.ready().pop();
        match spare {
            Some(s) => Ok(s),
            None => self.engine.open().await,
        }
    }

    /// Takes the two streams of a call (spares when there are) and describes them for SDP.
    pub async fn open_call(&self) -> Result<(CallStreams, [LocalMedia; 2]), MediaError> {
        let a = self.stream().await;
        let b = self.stream().await;
        self.spares.wake.notify_one();
        let (a, b) = (a?, b?);
        let local = |s: &Stream| LocalMedia::new(self.address, s.local_addr().port());
        let media = [local(&a), local(&b)];
        Ok((
            CallStreams {
                engine: self.engine.clone(),
                streams: [Some(a), Some(b)],
                meeting: None,
            },
            media,
        ))
    }

    /// Spare streams ready now.
    pub fn spares(&self) -> usize {
        self.spares.ready().len()
    }

    /// Streams open now, spares included.
    pub fn streams_open(&self) -> usize {
        self.engine.streams_open()
    }

    /// The engine (meetings start their conferences on it).
    pub fn engine(&self) -> &MediaEngine {
        &self.engine
    }
}

/// Who joins which meeting, and where to hand their stream.
#[derive(Debug, Clone)]
pub struct MeetingJoin {
    /// The meeting's id; `None` for a dial-in caller, whose voice menu finds it.
    pub meeting_id: Option<String>,
    /// The joining user's SIP URI (a dial-in caller's: the user their caller ID names).
    pub user: Option<String>,
    /// Their display name.
    pub name: String,
    /// Invited by someone in the meeting: in without the lobby.
    pub admitted: bool,
    /// Whose call it is (who may end it: the joining user, the inviting leader, or the
    /// bridge for an unknown dial-in caller).
    pub owner: String,
    /// The meetings runtime.
    pub to: tokio::sync::mpsc::UnboundedSender<MeetingMsg>,
}

/// What the calls tell the meetings runtime.
#[derive(Debug)]
pub enum MeetingMsg {
    /// A dial-out join was answered: its call, who, and the stream toward their phone
    /// (with its remote already set).
    Enter {
        /// The call's id.
        call: Arc<str>,
        /// Who joins what.
        join: MeetingJoin,
        /// The stream toward their phone.
        stream: Stream,
    },
    /// A two-party call became a meeting: both parties' streams (leg 0 the user's phone,
    /// leg 1 the far party), with who they are.
    EnterEscalated {
        /// The call's id.
        call: Arc<str>,
        /// The meeting's id.
        meeting_id: String,
        /// Per leg: its index, SIP URI (directory users), name and stream.
        legs: Vec<(usize, Option<String>, String, Stream)>,
    },
    /// One party of an escalated call left (its leg index).
    LegLeft {
        /// The call's id.
        call: Arc<str>,
        /// 0: the user's phone, 1: the far party.
        leg: usize,
    },
    /// A key pressed on the phone, signalled in SIP INFO.
    Digit {
        /// The call's id.
        call: Arc<str>,
        /// `0`-`9`, `*`, `#`, `A`-`D`.
        digit: char,
    },
    /// The call ended (before or after entering).
    Left {
        /// The call's id.
        call: Arc<str>,
    },
}

impl std::fmt::Debug for CallStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallStreams")
            .field("meeting", &self.meeting)
            .finish_non_exhaustive()
    }
}

/// One call's two streams: toward the user's phone and toward the far party. A meeting
/// join hands the first to the meeting when the phone answers.
pub struct CallStreams {
    engine: MediaEngine,
    streams: [Option<Stream>; 2],
    meeting: Option<MeetingJoin>,
}

impl CallStreams {
    /// The same streams for a meeting join by dial-out.
    pub fn for_meeting(mut self, join: MeetingJoin) -> CallStreams {
        self.meeting = Some(join);
        self
    }

    fn stream(&self, role: LegRole) -> Option<&Stream> {
        self.streams[role.index()].as_ref()
    }

    fn stats(&self) -> [StreamStats; 2] {
        let s = |i: usize| {
            self.streams[i]
                .as_ref()
                .map(Stream::stats)
                .unwrap_or_default()
        };
        [s(0), s(1)]
    }

    fn bridge(&self) {
        let [Some(a), Some(b)] = &self.streams else {
            return;
        };
        if let Err(e) = self.engine.bridge(a, b) {
            tracing::warn!(error = %e, "cannot bridge the call's streams");
        }
    }
}

/// Where and how to send to a party, from the SDP it sent (offer or answer): its first
/// audio stream's address, the first G.711 payload type in it, and telephone-event.
pub fn remote_media(body: &[u8]) -> Option<RemoteMedia> {
    let sdp = SessionDescription::parse(std::str::from_utf8(body).ok()?).ok()?;
    let m = sdp.media().iter().find(|m| !m.is_rejected())?;
    let ip = sdp.media_connection(m)?.ip()?;
    let mut codec = None;
    let mut dtmf = None;
    for pt in m.payload_types() {
        match m.payload_format(pt) {
            Some(sdp::PayloadFormat::Audio(sdp::Codec::Pcmu)) if codec.is_none() => {
                codec = Some((Codec::Pcmu, pt))
            }
            Some(sdp::PayloadFormat::Audio(sdp::Codec::Pcma)) if codec.is_none() => {
                codec = Some((Codec::Pcma, pt))
            }
            Some(sdp::PayloadFormat::TelephoneEvent { .. }) if dtmf.is_none() => dtmf = Some(pt),
            _ => {}
        }
    }
    let (codec, pt) = codec?;
    let mut r = RemoteMedia::new(SocketAddr::new(ip, m.port()), codec);
    r.payload_type = pt;
    if let Some(d) = dtmf {
        r = r.with_dtmf(d);
    }
    Some(r)
}

/// The streams of live calls, by call id, on the SIP loop.
#[derive(Default)]
pub struct MediaTable {
    calls: HashMap<Arc<str>, CallStreams>,
    /// Statistics of streams already released, kept for the call log.
    released: HashMap<Arc<str>, [StreamStats; 2]>,
}

impl MediaTable {
    /// Keeps `streams` for `call`.
    pub fn insert(&mut self, call: Arc<str>, streams: CallStreams) {
        self.calls.insert(call, streams);
    }

    /// Applies a call's media action.
    pub fn apply(&mut self, call: &Arc<str>, action: &MediaAction) {
        if let MediaAction::Release = action {
            if let Some(s) = self.remove(call) {
                self.released.insert(call.clone(), s.stats());
            }
            return;
        }
        let Some(s) = self.calls.get_mut(call) else {
            return;
        };
        if let MediaAction::KeypadDigit(digit) = action {
            if let Some(m) = &s.meeting {
                let _ = m.to.send(MeetingMsg::Digit {
                    call: call.clone(),
                    digit: *digit,
                });
            }
            return;
        }
        if let MediaAction::Escalate(e) = action {
            let (Some(a), Some(b)) = (s.streams[0].take(), s.streams[1].take()) else {
                return;
            };
            s.meeting = Some(MeetingJoin {
                meeting_id: Some(e.meeting_id.clone()),
                user: Some(e.user.0.clone()),
                name: e.user.1.clone(),
                admitted: true,
                owner: e.user.0.clone(),
                to: e.to.clone(),
            });
            let legs = vec![
                (0, Some(e.user.0.clone()), e.user.1.clone(), a),
                (1, e.far.0.clone(), e.far.1.clone(), b),
            ];
            let msg = MeetingMsg::EnterEscalated {
                call: call.clone(),
                meeting_id: e.meeting_id.clone(),
                legs,
            };
            if e.to.send(msg).is_err() {
                tracing::warn!(%call, "the meetings runtime is gone");
            }
            return;
        }
        if let MediaAction::LegLeft(role) = action {
            if let Some(m) = &s.meeting {
                let _ = m.to.send(MeetingMsg::LegLeft {
                    call: call.clone(),
                    leg: role.index(),
                });
            }
            return;
        }
        if let MediaAction::EnterMeeting = action {
            let (Some(join), Some(stream)) = (s.meeting.clone(), s.streams[0].take()) else {
                return;
            };
            // The far stream has nothing to do in a meeting.
            s.streams[1] = None;
            let to = join.to.clone();
            if to
                .send(MeetingMsg::Enter {
                    call: call.clone(),
                    join,
                    stream,
                })
                .is_err()
            {
                tracing::warn!(%call, "the meetings runtime is gone");
            }
            return;
        }
        let (cb, far) = (s.stream(LegRole::Callback), s.stream(LegRole::Far));
        match action {
            MediaAction::SetRemote(role, sdp) => match (remote_media(sdp), s.stream(*role)) {
                (Some(r), Some(st)) => st.set_remote(r),
                (None, _) => tracing::debug!(%call, "no usable audio in the SDP"),
                (_, None) => {}
            },
            MediaAction::Ringback => {
                if let Some(cb) = cb {
                    cb.play(Source::Tone(ToneKind::Ringback));
                }
            }
            MediaAction::Bridge | MediaAction::Hold(false) => s.bridge(),
            MediaAction::Hold(true) => {
                if let (Some(cb), Some(far)) = (cb, far) {
                    cb.unbridge();
                    cb.play(Source::Silence);
                    far.play(Source::Tone(ToneKind::HoldMusic));
                }
            }
            MediaAction::Mute(on) => {
                if let Some(cb) = cb {
                    cb.set_mute(*on);
                }
            }
            MediaAction::Dtmf(digits) => {
                if let Some(Err(e)) = far.map(|f| f.send_dtmf(digits)) {
                    tracing::info!(%call, error = %e, "cannot send DTMF");
                }
            }
            MediaAction::Release
            | MediaAction::EnterMeeting
            | MediaAction::KeypadDigit(_)
            | MediaAction::Escalate(_)
            | MediaAction::LegLeft(_) => {}
        }
    }

    /// Frees a finished call's streams and returns their statistics as JSON for the
    /// call log (`{"callback": {...}, "far": {...}}`), if it had any.
    pub fn finish(&mut self, call: &Arc<str>) -> Option<String> {
        let stats = match self.remove(call) {
            Some(s) => Some(s.stats()),
            None => self.released.remove(call),
        }?;
        let leg = |s: &StreamStats| {
            serde_json::json!({
                "packets_sent": s.packets_sent,
                "packets_received": s.packets_received,
                "bytes_sent": s.bytes_sent,
                "bytes_received": s.bytes_received,
                "packets_lost": s.packets_lost,
                "jitter_ms": (s.jitter_ms * 100.0).round() / 100.0,
                "remote": s.remote_addr.map(|a| a.to_string()),
            })
        };
        Some(serde_json::json!({"callback": leg(&stats[0]), "far": leg(&stats[1])}).to_string())
    }

    /// Forgets a call's streams; a meeting join's participant leaves its meeting.
    fn remove(&mut self, call: &Arc<str>) -> Option<CallStreams> {
        let s = self.calls.remove(call)?;
        if let Some(m) = &s.meeting {
            let _ = m.to.send(MeetingMsg::Left { call: call.clone() });
        }
        Some(s)
    }

    /// Calls holding streams.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// True with none.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_media_takes_the_first_g711_and_the_negotiated_event_type() {
        let sdp = "v=0\r\no=x 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n\
                   m=audio 40000 RTP/AVP 9 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\n";
        let r = remote_media(sdp.as_bytes()).unwrap();
        assert_eq!(r.addr, "192.0.2.5:40000".parse().unwrap());
        assert_eq!(r.codec, Codec::Pcma);
        assert_eq!(r.payload_type, 8);
        assert_eq!(r.dtmf_payload_type, Some(96));
        assert!(remote_media(b"garbage").is_none());
    }

    /// Polls (yielding to the refill task) until `done` holds; fails after 10 s.
    async fn until(what: &str, done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "{what}");
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_call_setup_takes_spare_streams_and_the_spares_are_topped_up_after() {
        let config = crate::config::MediaConfig {
            rtp_port_min: 26_000,
            rtp_port_max: 26_999,
            ..Default::default()
        };
        let media = CallMedia::new(&config).unwrap();
        until("the spares fill up", || media.spares() == SPARE_STREAMS).await;
        assert_eq!(media.streams_open(), SPARE_STREAMS);

        // No await point lets the refill run: the call got two spares, bound nothing.
        let (streams, local) = media.open_call().await.unwrap();
        assert_eq!(media.spares(), SPARE_STREAMS - 2);
        assert_eq!(media.streams_open(), SPARE_STREAMS);
        assert_ne!(local[0].port, local[1].port);

        until("the spares are topped up", || {
            media.spares() == SPARE_STREAMS
        })
        .await;
        assert_eq!(media.streams_open(), SPARE_STREAMS + 2);
        drop(streams);
        until("the call's streams are freed", || {
            media.streams_open() == SPARE_STREAMS
        })
        .await;
    }
}
