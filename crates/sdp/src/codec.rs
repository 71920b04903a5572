//! The payload formats this server can carry: G.711 µ-law and A-law, G.722, and RFC 4733
//! telephone events (DTMF).
//!
//! A format is recognised from its `a=rtpmap` (encoding name ignoring case, clock rate, mono),
//! or, when a payload type below 96 has no `a=rtpmap`, from the static RTP/AVP table of
//! RFC 3551 (0 = PCMU, 8 = PCMA, 9 = G722). G.722 samples at 16 kHz but, by an error kept for
//! compatibility (RFC 3551 §4.5.2), its RTP clock and its `a=rtpmap` say 8000.
//!
//! Telephone events have no static payload type: each party picks a dynamic one (96–127) and
//! the peer must use the number from the other's description, never an assumed 101.

use std::fmt;

use crate::attribute::{Fmtp, RtpMap};
use crate::error::SdpError;

/// An audio codec this server can send and receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
    /// G.722 wideband, static payload type 9.
    G722,
}

impl Codec {
    /// Every codec, in a sensible default preference order.
    pub const ALL: [Codec; 3] = [Codec::Pcmu, Codec::Pcma, Codec::G722];

    /// The encoding name used in `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
        }
    }

    /// The RTP clock rate, as written in `a=rtpmap` (8000 for all three, G.722 included).
    pub fn clock_rate(self) -> u32 {
        8000
    }

    /// The audio sampling rate in Hz (16000 for G.722, unlike its RTP clock).
    pub fn sample_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => 8000,
            Codec::G722 => 16000,
        }
    }

    /// The static RTP/AVP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::G722 => 9,
        }
    }

    /// The codec a static payload type stands for when no `a=rtpmap` says otherwise.
    pub fn from_payload_type(payload_type: u8) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.payload_type() == payload_type)
    }

    /// The codec an `a=rtpmap` describes, whatever its payload type.
    pub fn from_rtpmap(map: &RtpMap) -> Option<Codec> {
        Codec::ALL.into_iter().find(|c| {
            map.encoding_name.eq_ignore_ascii_case(c.encoding_name())
                && map.clock_rate == c.clock_rate()
                && matches!(map.channels, None | Some(1))
        })
    }

    /// The `a=rtpmap` for this codec at `payload_type`.
    pub fn rtpmap(self, payload_type: u8) -> RtpMap {
        RtpMap {
            payload_type,
            encoding_name: self.encoding_name().to_owned(),
            clock_rate: self.clock_rate(),
            channels: None,
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encoding_name())
    }
}

/// What a payload type of an RTP/AVP stream carries, as far as this server understands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// Audio in one of our codecs.
    Audio(Codec),
    /// RFC 4733 telephone events at the given RTP clock rate.
    TelephoneEvent {
        /// The RTP clock rate; must equal the audio codec's for the events to be usable.
        clock_rate: u32,
    },
}

impl PayloadFormat {
    /// The format an `a=rtpmap` describes, if this server understands it.
    pub fn from_rtpmap(map: &RtpMap) -> Option<Self> {
        if TelephoneEvent::is_telephone_event(map) {
            return Some(PayloadFormat::TelephoneEvent {
                clock_rate: map.clock_rate,
            });
        }
        Codec::from_rtpmap(map).map(PayloadFormat::Audio)
    }
}

/// Our RFC 4733 telephone-event configuration: the dynamic payload type we offer and the events
/// we can receive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    payload_type: u8,
    events: String,
}

impl TelephoneEvent {
    /// The encoding name in `a=rtpmap`.
    pub const ENCODING_NAME: &'static str = "telephone-event";
    /// The events usually supported: DTMF digits 0–9, `*`, `#`, A–D and flash.
    pub const DEFAULT_EVENTS: &'static str = "0-16";

    /// Telephone events at dynamic `payload_type` (96–127), receiving `events` (e.g. `0-16`,
    /// `0-15,66`).
    pub fn new(payload_type: u8, events: &str) -> Result<Self, SdpError> {
        let bad = |reason| SdpError::InvalidValue {
            kind: 'a',
            text: format!("fmtp:{payload_type} {events}"),
            reason,
        };
        if !(96..=127).contains(&payload_type) {
            return Err(bad(
                "telephone-event needs a dynamic payload type, 96 to 127",
            ));
        }
        let well_formed = !events.is_empty()
            && events.split(',').all(|range| {
                let mut ends = range.split('-');
                let valid = |s: Option<&str>| {
                    s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                };
                let first = ends.next();
                valid(first) && ends.next().is_none_or(|s| valid(Some(s))) && ends.next().is_none()
            });
        if !well_formed {
            return Err(bad("events must be a list like 0-16 or 0-15,66"));
        }
        Ok(TelephoneEvent {
            payload_type,
            events: events.to_owned(),
        })
    }

    /// The payload type we offer telephone events at.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// The events we can receive, as written in `a=fmtp`.
    pub fn events(&self) -> &str {
        &self.events
    }

    /// Whether an `a=rtpmap` describes telephone events.
    pub fn is_telephone_event(map: &RtpMap) -> bool {
        map.encoding_name
            .eq_ignore_ascii_case(TelephoneEvent::ENCODING_NAME)
            && matches!(map.channels, None | Some(1))
    }

    /// The `a=rtpmap` for telephone events at `payload_type` and `clock_rate`.
    pub fn rtpmap(payload_type: u8, clock_rate: u32) -> RtpMap {
        RtpMap {
            payload_type,
            encoding_name: TelephoneEvent::ENCODING_NAME.to_owned(),
            clock_rate,
            channels: None,
        }
    }

    /// The `a=fmtp` listing our events at `payload_type`.
    pub fn fmtp(&self, payload_type: u8) -> Fmtp {
        Fmtp {
            format: payload_type.to_string(),
            params: self.events.clone(),
        }
    }
}

impl Default for TelephoneEvent {
    /// Payload type 101 with events `0-16`: what most equipment offers.
    fn default() -> Self {
        TelephoneEvent {
            payload_type: 101,
            events: TelephoneEvent::DEFAULT_EVENTS.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pt: u8, name: &str, clock: u32, channels: Option<u32>) -> RtpMap {
        RtpMap {
            payload_type: pt,
            encoding_name: name.into(),
            clock_rate: clock,
            channels,
        }
    }

    #[test]
    fn static_payload_types_are_recognised() {
        assert_eq!(Codec::from_payload_type(0), Some(Codec::Pcmu));
        assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_payload_type(9), Some(Codec::G722));
        assert_eq!(Codec::from_payload_type(18), None);
    }

    #[test]
    fn rtpmap_matching_ignores_case_and_checks_clock_and_channels() {
        assert_eq!(
            Codec::from_rtpmap(&map(0, "pcmu", 8000, None)),
            Some(Codec::Pcmu)
        );
        assert_eq!(
            Codec::from_rtpmap(&map(9, "G722", 8000, Some(1))),
            Some(Codec::G722)
        );
        assert_eq!(Codec::from_rtpmap(&map(9, "G722", 16000, None)), None);
        assert_eq!(Codec::from_rtpmap(&map(8, "PCMA", 8000, Some(2))), None);
        assert_eq!(
            Codec::from_rtpmap(&map(110, "PCMA", 8000, None)),
            Some(Codec::Pcma)
        );
    }

    #[test]
    fn g722_has_an_8000_rtp_clock_and_16000_sample_rate() {
        assert_eq!(Codec::G722.clock_rate(), 8000);
        assert_eq!(Codec::G722.sample_rate(), 16000);
        assert_eq!(Codec::G722.rtpmap(9).to_string(), "9 G722/8000");
    }

    #[test]
    fn telephone_event_is_recognised_at_any_payload_type() {
        assert_eq!(
            PayloadFormat::from_rtpmap(&map(96, "Telephone-Event", 8000, None)),
            Some(PayloadFormat::TelephoneEvent { clock_rate: 8000 })
        );
        assert_eq!(
            PayloadFormat::from_rtpmap(&map(100, "X-NSE", 8000, None)),
            None
        );
    }

    #[test]
    fn telephone_event_config_is_validated() {
        assert!(TelephoneEvent::new(101, "0-16").is_ok());
        assert!(TelephoneEvent::new(96, "0-15,66").is_ok());
        assert!(TelephoneEvent::new(0, "0-16").is_err());
        assert!(TelephoneEvent::new(101, "").is_err());
        assert!(TelephoneEvent::new(101, "0-1-2").is_err());
        assert!(TelephoneEvent::new(101, "0-16 ").is_err());
        let te = TelephoneEvent::default();
        assert_eq!(te.fmtp(97).to_string(), "97 0-16");
    }
}
