//! A media section: the `m=` line and the lines that follow it up to the next `m=`.
//!
//! RFC 8866 §5.14: `m=<media> <port>[/<number of ports>] <proto> <fmt> ...`. For RTP/AVP the
//! formats are payload type numbers whose meaning `a=rtpmap` (or the static table) gives. A port
//! of 0 marks a stream that is rejected (in an answer) or disabled (in an offer), RFC 3264 §6.
//!
//! The section's other lines are kept in order as [`Field`]s; the typed accessors read them and
//! the setters change only the line they are about.

use std::fmt;

use crate::attribute::{Attribute, Fmtp, Rtcp, RtpMap};
use crate::bandwidth::Bandwidth;
use crate::codec::{Codec, PayloadFormat};
use crate::connection::Connection;
use crate::direction::Direction;
use crate::error::SdpError;
use crate::field::{self, Field};
use crate::line::{fields, number, Line, LineValue, ValueError};

/// The media type of an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `audio`
    Audio,
    /// `video`
    Video,
    /// `text`
    Text,
    /// `application`
    Application,
    /// `message`
    Message,
    /// `image` (T.38 fax)
    Image,
    /// Any other media type, as written.
    Other(String),
}

impl MediaKind {
    fn from_name(name: &str) -> MediaKind {
        [
            MediaKind::Audio,
            MediaKind::Video,
            MediaKind::Text,
            MediaKind::Application,
            MediaKind::Message,
            MediaKind::Image,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(name))
        .unwrap_or_else(|| MediaKind::Other(name.to_owned()))
    }

    /// The name as printed in `m=`.
    pub fn as_str(&self) -> &str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Text => "text",
            MediaKind::Application => "application",
            MediaKind::Message => "message",
            MediaKind::Image => "image",
            MediaKind::Other(name) => name,
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `m=` line itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaLine {
    /// Media type.
    pub kind: MediaKind,
    /// Transport port; 0 rejects or disables the stream.
    pub port: u16,
    /// The `/<number of ports>` suffix, when present.
    pub port_count: Option<u16>,
    /// Transport protocol, e.g. `RTP/AVP`, `RTP/SAVP`, `udptl`.
    pub proto: String,
    /// Media formats; for RTP, payload type numbers.
    pub formats: Vec<String>,
}

impl fmt::Display for MediaLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.port)?;
        if let Some(count) = self.port_count {
            write!(f, "/{count}")?;
        }
        write!(f, " {}", self.proto)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        Ok(())
    }
}

impl LineValue for MediaLine {
    fn kind(&self) -> char {
        'm'
    }

    fn read(_kind: char, text: &str) -> Result<Self, ValueError> {
        let parts = fields(text);
        let [kind, port, proto, formats @ ..] = &parts[..] else {
            return Err(ValueError::Bad(format!(
                "expected <media> <port> <proto> <fmt>..., found {} fields",
                parts.len()
            )));
        };
        let (port_text, count_text) = match port.split_once('/') {
            Some((port, count)) => (port, Some(count)),
            None => (*port, None),
        };
        let bad_port = |_| ValueError::BadPort((*port).to_owned());
        Ok(MediaLine {
            kind: MediaKind::from_name(kind),
            port: number(port_text, "port").map_err(bad_port)?,
            port_count: count_text
                .map(|c| number(c, "port count").map_err(bad_port))
                .transpose()?,
            proto: (*proto).to_owned(),
            formats: formats.iter().map(|f| (*f).to_owned()).collect(),
        })
    }
}

/// A media section: the `m=` line and the lines after it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaDescription {
    line: Line<MediaLine>,
    fields: Vec<Line<Field>>,
}

/// Line types a `c=` goes before in a media section (RFC 8866 order: i, c, b, k, a).
const AFTER_CONNECTION: &[char] = &['b', 'k', 'a'];

impl MediaDescription {
    /// A section with just an `m=` line.
    pub fn new(
        kind: MediaKind,
        port: u16,
        proto: &str,
        formats: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, SdpError> {
        Ok(MediaDescription {
            line: Line::new(MediaLine {
                kind,
                port,
                port_count: None,
                proto: proto.to_owned(),
                formats: formats.into_iter().map(Into::into).collect(),
            })?,
            fields: Vec::new(),
        })
    }

    pub(crate) fn from_parts(line: Line<MediaLine>, fields: Vec<Line<Field>>) -> Self {
        MediaDescription { line, fields }
    }

    pub(crate) fn push_line(&mut self, line: Line<Field>) {
        self.fields.push(line);
    }

    /// The `m=` line.
    pub fn media_line(&self) -> &MediaLine {
        self.line.value()
    }

    /// Replaces the `m=` line.
    pub fn set_media_line(&mut self, media_line: MediaLine) -> Result<(), SdpError> {
        self.line = Line::new(media_line)?;
        Ok(())
    }

    /// The media type.
    pub fn kind(&self) -> &MediaKind {
        &self.media_line().kind
    }

    /// The transport port.
    pub fn port(&self) -> u16 {
        self.media_line().port
    }

    /// Sets the transport port (0 rejects or disables the stream).
    pub fn set_port(&mut self, port: u16) {
        let mut media_line = self.media_line().clone();
        media_line.port = port;
        self.line = Line::trusted(media_line);
    }

    /// Whether the port is 0: rejected in an answer, disabled in an offer.
    pub fn is_rejected(&self) -> bool {
        self.port() == 0
    }

    /// The transport protocol.
    pub fn proto(&self) -> &str {
        &self.media_line().proto
    }

    /// Whether the protocol is plain RTP/AVP (ignoring case), the profile this server speaks.
    pub fn is_rtp_avp(&self) -> bool {
        self.proto().eq_ignore_ascii_case("RTP/AVP")
    }

    /// The formats of the `m=` line.
    pub fn formats(&self) -> &[String] {
        &self.media_line().formats
    }

    /// The formats that are RTP payload type numbers (0–127), in order.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats()
            .iter()
            .filter_map(|f| number::<u8>(f, "payload type").ok())
            .filter(|pt| *pt <= 127)
    }

    /// The lines after `m=`, in order.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        field::values(&self.fields)
    }

    /// Appends a line at the end of the section.
    pub fn push_field(&mut self, field: Field) -> Result<(), SdpError> {
        self.fields.push(Line::new(field)?);
        Ok(())
    }

    /// Appends an attribute at the end of the section.
    pub fn push_attribute(&mut self, attribute: Attribute) -> Result<(), SdpError> {
        self.push_field(Field::Attribute(attribute))
    }

    /// Keeps only the lines for which `keep` returns true.
    pub fn retain_fields(&mut self, mut keep: impl FnMut(&Field) -> bool) {
        self.fields.retain(|l| keep(l.value()));
    }

    /// The first `c=` line of the section.
    pub fn connection(&self) -> Option<&Connection> {
        self.fields().find_map(|f| match f {
            Field::Connection(c) => Some(c),
            _ => None,
        })
    }

    /// Sets the section's `c=`: replaces the first one (dropping any others) or inserts one
    /// before the `b=`, `k=` and `a=` lines.
    pub fn set_connection(&mut self, connection: Connection) -> Result<(), SdpError> {
        let line = Line::new(Field::Connection(connection))?;
        field::replace_or_insert(
            &mut self.fields,
            line,
            |f| matches!(f, Field::Connection(_)),
            AFTER_CONNECTION,
        );
        Ok(())
    }

    /// The `b=` lines.
    pub fn bandwidths(&self) -> impl Iterator<Item = &Bandwidth> {
        self.fields().filter_map(|f| match f {
            Field::Bandwidth(b) => Some(b),
            _ => None,
        })
    }

    /// The attributes, in order.
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        field::attributes(&self.fields)
    }

    /// The first attribute called `name` (ignoring ASCII case).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// The readable `a=rtpmap` lines.
    pub fn rtpmaps(&self) -> impl Iterator<Item = &RtpMap> {
        self.attributes().filter_map(|a| match a {
            Attribute::RtpMap(m) => Some(m),
            _ => None,
        })
    }

    /// The `a=rtpmap` of `payload_type`.
    pub fn rtpmap(&self, payload_type: u8) -> Option<&RtpMap> {
        self.rtpmaps().find(|m| m.payload_type == payload_type)
    }

    /// The `a=fmtp` of `payload_type`.
    pub fn fmtp(&self, payload_type: u8) -> Option<&Fmtp> {
        self.attributes().find_map(|a| match a {
            Attribute::Fmtp(f) if f.payload_type() == Some(payload_type) => Some(f),
            _ => None,
        })
    }

    /// The `a=ptime` value.
    pub fn ptime(&self) -> Option<u32> {
        self.attributes().find_map(|a| match a {
            Attribute::Ptime(ms) => Some(*ms),
            _ => None,
        })
    }

    /// The `a=rtcp` attribute.
    pub fn rtcp(&self) -> Option<&Rtcp> {
        self.attributes().find_map(|a| match a {
            Attribute::Rtcp(r) => Some(r),
            _ => None,
        })
    }

    /// The section's own direction attribute; see
    /// [`SessionDescription::media_direction`](crate::SessionDescription::media_direction) for
    /// the effective one.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes().find_map(|a| match a {
            Attribute::Direction(d) => Some(*d),
            _ => None,
        })
    }

    /// Sets the direction: replaces the first direction attribute (dropping any others) or
    /// appends one at the end of the section.
    pub fn set_direction(&mut self, direction: Direction) {
        let line = Line::trusted(Field::Attribute(Attribute::Direction(direction)));
        field::replace_or_insert(
            &mut self.fields,
            line,
            |f| matches!(f, Field::Attribute(Attribute::Direction(_))),
            &[],
        );
    }

    /// What `payload_type` carries: from its `a=rtpmap`, or from the static table when it has
    /// none. `None` for formats this server does not understand.
    pub fn payload_format(&self, payload_type: u8) -> Option<PayloadFormat> {
        match self.rtpmap(payload_type) {
            Some(map) => PayloadFormat::from_rtpmap(map),
            None => Codec::from_payload_type(payload_type).map(PayloadFormat::Audio),
        }
    }
}

impl fmt::Display for MediaDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.line.write(f)?;
        for line in &self.fields {
            line.write(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media_line(text: &str) -> Result<MediaLine, ValueError> {
        MediaLine::read('m', text)
    }

    fn section(lines: &[(char, &str)]) -> MediaDescription {
        let mut iter = lines.iter();
        let (_, m) = iter.next().unwrap();
        let mut media = MediaDescription::from_parts(Line::read('m', m).unwrap(), Vec::new());
        for (kind, text) in iter {
            media.push_line(Line::read(*kind, text).unwrap());
        }
        media
    }

    #[test]
    fn reads_an_m_line() {
        let m = media_line("audio 49170 RTP/AVP 0 8 101").unwrap();
        assert_eq!(m.kind, MediaKind::Audio);
        assert_eq!((m.port, m.port_count), (49170, None));
        assert_eq!(m.proto, "RTP/AVP");
        assert_eq!(m.formats, ["0", "8", "101"]);
        let m = media_line("video 49170/2 RTP/AVP 31").unwrap();
        assert_eq!(m.port_count, Some(2));
        let m = media_line("image 0 udptl t38").unwrap();
        assert_eq!(
            (m.kind, m.formats),
            (MediaKind::Image, vec!["t38".to_owned()])
        );
    }

    #[test]
    fn bad_ports_are_reported_as_such() {
        assert_eq!(
            media_line("audio 70000 RTP/AVP 0"),
            Err(ValueError::BadPort("70000".into()))
        );
        assert_eq!(
            media_line("audio 4000/x RTP/AVP 0"),
            Err(ValueError::BadPort("4000/x".into()))
        );
        assert!(matches!(media_line("audio 4000"), Err(ValueError::Bad(_))));
    }

    #[test]
    fn static_and_dynamic_payload_formats_are_resolved() {
        let media = section(&[
            ('m', "audio 4000 RTP/AVP 0 9 96 18"),
            ('a', "rtpmap:96 telephone-event/8000"),
        ]);
        assert_eq!(
            media.payload_format(0),
            Some(PayloadFormat::Audio(Codec::Pcmu))
        );
        assert_eq!(
            media.payload_format(9),
            Some(PayloadFormat::Audio(Codec::G722))
        );
        assert_eq!(
            media.payload_format(96),
            Some(PayloadFormat::TelephoneEvent { clock_rate: 8000 })
        );
        assert_eq!(media.payload_format(18), None);
    }

    #[test]
    fn set_direction_keeps_other_lines_in_place() {
        let mut media = section(&[
            ('m', "audio 4000 RTP/AVP 0"),
            ('a', "sendrecv"),
            ('a', "x-unknown:1"),
        ]);
        media.set_direction(Direction::SendOnly);
        assert_eq!(
            media.to_string(),
            "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\na=x-unknown:1\r\n"
        );
        assert_eq!(media.direction(), Some(Direction::SendOnly));
    }

    #[test]
    fn set_connection_inserts_before_attributes_and_set_port_keeps_formats() {
        let mut media = section(&[('m', "audio  4000 RTP/AVP 0 8"), ('a', "ptime:20")]);
        media
            .set_connection(Connection::new("192.0.2.5".parse().unwrap()))
            .unwrap();
        media.set_port(0);
        assert_eq!(
            media.to_string(),
            "m=audio 0 RTP/AVP 0 8\r\nc=IN IP4 192.0.2.5\r\na=ptime:20\r\n"
        );
    }

    #[test]
    fn new_refuses_formats_that_would_not_read_back() {
        assert!(MediaDescription::new(MediaKind::Audio, 1, "RTP/AVP", ["0 8"]).is_err());
        assert!(MediaDescription::new(MediaKind::Audio, 1, "", ["0"]).is_err());
        assert!(
            MediaDescription::new(MediaKind::Other("audio".into()), 1, "RTP/AVP", ["0"]).is_err()
        );
    }
}
