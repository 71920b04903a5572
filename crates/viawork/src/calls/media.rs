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
//!
//! Which codecs a leg negotiates depends on where its media ends. A leg the relay joins to
//! another phone (a Call Via Work callback leg and its far leg, an escalated call's legs)
//! offers and accepts only G.711 ([`RELAY_CODECS`]): the relay re-encodes between µ-law and
//! A-law byte for byte, and nothing else, so the two phones must share G.711. A leg that
//! ends in a meeting's mixer (a dial-in caller, a dial-out join, an invitation:
//! [`CallMedia::open_meeting_call`]) negotiates `media.meeting_codecs`, G.722 first by
//! default, and answers with the single codec it prefers, since the mixer takes one
//! payload type per participant.

use super::call::MediaAction;
use super::leg::LegRole;
use crate::config::MediaConfig;
use media::{AudioCodec, MediaEngine, RemoteMedia, Source, Stream, StreamStats, ToneKind};
use sdp::{AnswerCodecs, LocalMedia, SessionDescription};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};

pub use media::MediaError;

/// Streams kept open ahead of need (two per call setup).
pub const SPARE_STREAMS: usize = 64;

/// The codecs of a leg the relay joins to another phone: the two G.711 laws, between which
/// it re-encodes.
pub const RELAY_CODECS: [sdp::Codec; 2] = [sdp::Codec::Pcmu, sdp::Codec::Pcma];

/// Our media for a relayed leg at `address`:`port`: G.711 only, answers in the offer's
/// order.
pub fn relay_local(address: std::net::IpAddr, port: u16) -> LocalMedia {
    let mut local = LocalMedia::new(address, port);
    local.codecs = RELAY_CODECS.to_vec();
    local
}

/// Our media for a leg that ends in a meeting's mixer: `codecs` in that preference, and
/// answers naming only the preferred one the offer has.
pub fn meeting_local(address: std::net::IpAddr, port: u16, codecs: &[sdp::Codec]) -> LocalMedia {
    let mut local = LocalMedia::new(address, port);
    local.codecs = codecs.to_vec();
    local.answer_codecs = AnswerCodecs::OurPreferred;
    local
}

/// Opens streams for calls. Cheap to clone.
#[derive(Clone)]
pub struct CallMedia {
    engine: MediaEngine,
    address: std::net::IpAddr,
    spares: Arc<Spares>,
    /// `media.meeting_codecs`.
    meeting_codecs: Arc<[sdp::Codec]>,
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
        c.mixing = config.mixing;
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
            meeting_codecs: config.meeting_codecs.clone().into(),
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

    /// Takes the two streams of a call (spares when there are) and describes them for SDP
    /// as relayed legs (G.711).
    pub async fn open_call(&self) -> Result<(CallStreams, [LocalMedia; 2]), MediaError> {
        self.open(false).await
    }

    /// Like [`open_call`](Self::open_call) for a call whose first leg joins a meeting
    /// (dial-in, dial-out join, invitation): that leg negotiates `media.meeting_codecs`.
    /// The second stream is described as a relayed leg (a meeting call has no far leg).
    pub async fn open_meeting_call(&self) -> Result<(CallStreams, [LocalMedia; 2]), MediaError> {
        self.open(true).await
    }

    async fn open(&self, meeting: bool) -> Result<(CallStreams, [LocalMedia; 2]), MediaError> {
        let a = self.stream().await;
        let b = self.stream().await;
        self.spares.wake.notify_one();
        let (a, b) = (a?, b?);
        let port = |s: &Stream| s.local_addr().port();
        let first = match meeting {
            true => meeting_local(self.address, port(&a), &self.meeting_codecs),
            false => relay_local(self.address, port(&a)),
        };
        let media = [first, relay_local(self.address, port(&b))];
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

/// The audio codecs our side of an SDP exchange lists, if it parses and has an audio
/// stream.
fn listed_codecs(body: &[u8]) -> Option<Vec<sdp::Codec>> {
    let sdp = SessionDescription::parse(std::str::from_utf8(body).ok()?).ok()?;
    let m = sdp.media().iter().find(|m| !m.is_rejected())?;
    let codecs: Vec<sdp::Codec> = m
        .payload_types()
        .filter_map(|pt| match m.payload_format(pt) {
            Some(sdp::PayloadFormat::Audio(c)) => Some(c),
            _ => None,
        })
        .collect();
    (!codecs.is_empty()).then_some(codecs)
}

/// Where and how to send to a party, from the SDP it sent (`theirs`, an offer or an
/// answer) and ours in the same exchange: its first audio stream's address, the first
/// codec in `theirs` that `accepted` allows and `ours` lists, and telephone-event.
///
/// The rule follows RFC 3264: an answerer lists what it will send first, so when
/// `theirs` answers our offer its first shared codec is the one; when we answered
/// `theirs`, our answer lists only codecs we chose (a meeting leg: exactly one), and the
/// first of those in the offer is the one. Without a usable `ours`, the first accepted
/// codec in `theirs`.
pub fn remote_media(
    theirs: &[u8],
    ours: Option<&[u8]>,
    accepted: &[sdp::Codec],
) -> Option<RemoteMedia> {
    let sdp = SessionDescription::parse(std::str::from_utf8(theirs).ok()?).ok()?;
    let m = sdp.media().iter().find(|m| !m.is_rejected())?;
    let ip = sdp.media_connection(m)?.ip()?;
    let ours = ours.and_then(listed_codecs);
    let usable =
        |c: &sdp::Codec| accepted.contains(c) && ours.as_ref().is_none_or(|ours| ours.contains(c));
    let mut codec = None;
    let mut dtmf = None;
    for pt in m.payload_types() {
        match m.payload_format(pt) {
            Some(sdp::PayloadFormat::Audio(c)) if codec.is_none() && usable(&c) => {
                codec = Some((engine_codec(c), pt))
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

/// The media engine's name for an SDP codec.
fn engine_codec(c: sdp::Codec) -> AudioCodec {
    match c {
        sdp::Codec::Pcmu => AudioCodec::Pcmu,
        sdp::Codec::Pcma => AudioCodec::Pcma,
        sdp::Codec::G722 => AudioCodec::G722,
    }
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
            MediaAction::SetRemote(role, sdp) => {
                // Only a meeting's own leg may have negotiated G.722; a relayed leg's
                // codec must be one the relay can re-encode.
                let accepted: &[sdp::Codec] = match (&s.meeting, role) {
                    (Some(_), LegRole::Callback) => &sdp::Codec::ALL,
                    _ => &RELAY_CODECS,
                };
                let remote = remote_media(&sdp.theirs, sdp.ours.as_deref(), accepted);
                match (remote, s.stream(*role)) {
                    (Some(r), Some(st)) => st.set_remote(r),
                    (None, _) => tracing::debug!(%call, "no usable audio in the SDP"),
                    (_, None) => {}
                }
            }
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
        let r = remote_media(sdp.as_bytes(), None, &RELAY_CODECS).unwrap();
        assert_eq!(r.addr, "192.0.2.5:40000".parse().unwrap());
        assert_eq!(r.codec, AudioCodec::Pcma);
        assert_eq!(r.payload_type, 8);
        assert_eq!(r.dtmf_payload_type, Some(96));
        assert!(remote_media(b"garbage", None, &RELAY_CODECS).is_none());
    }

    fn phone_sdp(formats: &str, extra: &str) -> Vec<u8> {
        format!(
            "v=0\r\no=phone 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n\
             m=audio 40000 RTP/AVP {formats}\r\n{extra}a=rtpmap:101 telephone-event/8000\r\n"
        )
        .into_bytes()
    }

    fn ip() -> std::net::IpAddr {
        "203.0.113.10".parse().unwrap()
    }

    fn codecs_of(sdp: &[u8]) -> Vec<String> {
        let sdp = SessionDescription::parse(std::str::from_utf8(sdp).unwrap()).unwrap();
        sdp.media()[0].formats().to_vec()
    }

    const DEFAULT_MEETING: [sdp::Codec; 3] = [sdp::Codec::G722, sdp::Codec::Pcmu, sdp::Codec::Pcma];

    #[test]
    fn a_relayed_leg_offers_g711_only_and_a_meeting_leg_offers_g722_first() {
        use super::super::sdp_relay::LegSession;
        let relay = LegSession::new(relay_local(ip(), 20000)).own_offer();
        assert_eq!(codecs_of(&relay), ["0", "8", "101"]);
        let meeting = LegSession::new(meeting_local(ip(), 20002, &DEFAULT_MEETING)).own_offer();
        assert_eq!(codecs_of(&meeting), ["9", "0", "8", "101"]);
        let text = String::from_utf8(meeting.to_vec()).unwrap();
        assert!(text.contains("a=rtpmap:9 G722/8000\r\n"), "{text}");
        // With G.722 left out of media.meeting_codecs, meeting legs are G.711 too.
        let narrow = [sdp::Codec::Pcma, sdp::Codec::Pcmu];
        let meeting = LegSession::new(meeting_local(ip(), 20002, &narrow)).own_offer();
        assert_eq!(codecs_of(&meeting), ["8", "0", "101"]);
    }

    #[test]
    fn a_dial_in_caller_offering_g722_anywhere_is_answered_and_heard_in_g722() {
        use super::super::sdp_relay::LegSession;
        for formats in ["0 8 9 101", "9 0 101", "8 9 101"] {
            let offer = phone_sdp(formats, "");
            let mut ours = LegSession::new(meeting_local(ip(), 20000, &DEFAULT_MEETING));
            let answer = ours.own_answer(&offer).unwrap();
            assert_eq!(codecs_of(&answer), ["9", "101"], "offer {formats}");
            let r = remote_media(&offer, Some(&answer), &sdp::Codec::ALL).unwrap();
            assert_eq!((r.codec, r.payload_type), (AudioCodec::G722, 9));
            assert_eq!(r.dtmf_payload_type, Some(101));
        }
        // No G.722 offered: our first G.711 law that the caller has, alone.
        let offer = phone_sdp("8 0 101", "");
        let answer = LegSession::new(meeting_local(ip(), 20000, &DEFAULT_MEETING))
            .own_answer(&offer)
            .unwrap();
        assert_eq!(codecs_of(&answer), ["0", "101"]);
        let r = remote_media(&offer, Some(&answer), &sdp::Codec::ALL).unwrap();
        assert_eq!((r.codec, r.payload_type), (AudioCodec::Pcmu, 0));
        // G.722 disabled: a caller offering it first still gets G.711.
        let offer = phone_sdp("9 8 101", "");
        let answer = LegSession::new(meeting_local(ip(), 20000, &RELAY_CODECS))
            .own_answer(&offer)
            .unwrap();
        assert_eq!(codecs_of(&answer), ["8", "101"]);
        let r = remote_media(&offer, Some(&answer), &sdp::Codec::ALL).unwrap();
        assert_eq!(r.codec, AudioCodec::Pcma);
    }

    #[test]
    fn a_dial_out_join_sends_what_the_phone_answered_first() {
        use super::super::sdp_relay::LegSession;
        let offer = LegSession::new(meeting_local(ip(), 20000, &DEFAULT_MEETING)).own_offer();
        // A G.722 phone; one that prefers PCMU though it lists G.722; a G.711-only one;
        // G.722 at a dynamic payload type.
        for (answer, codec, pt) in [
            (phone_sdp("9 101", ""), AudioCodec::G722, 9),
            (phone_sdp("0 9 101", ""), AudioCodec::Pcmu, 0),
            (phone_sdp("8 101", ""), AudioCodec::Pcma, 8),
            (
                phone_sdp("112 101", "a=rtpmap:112 G722/8000\r\n"),
                AudioCodec::G722,
                112,
            ),
        ] {
            let r = remote_media(&answer, Some(&offer), &sdp::Codec::ALL).unwrap();
            assert_eq!((r.codec, r.payload_type), (codec, pt));
        }
    }

    #[test]
    fn a_relayed_leg_never_takes_g722_even_when_the_phone_lists_it_first() {
        let answer = phone_sdp("9 0 101", "");
        let r = remote_media(&answer, None, &RELAY_CODECS).unwrap();
        assert_eq!(r.codec, AudioCodec::Pcmu);
        assert!(remote_media(&phone_sdp("9 101", ""), None, &RELAY_CODECS).is_none());
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
