//! A whole session description: reading it from a SIP body and printing it back.
//!
//! [`SessionDescription::parse`] is lossless: printing a parsed description reproduces the input
//! byte for byte when it used CRLF line endings (bare LF is accepted too; printing always uses
//! CRLF). Lines and attributes this crate has no typed reading for are kept in order. Setters
//! rewrite only the line they change.
//!
//! What parsing insists on: `v=0` first, `o=` second, `s=` (when present) right after `o=`,
//! every line `<letter>=<value>`, and well-formed `o=`, `c=`, `b=`, `t=` and `m=` lines.
//! Everything else is accepted as it comes: attributes whose value cannot be read are kept
//! verbatim (see [`crate::attribute`]), a missing `s=` or `t=` is tolerated, empty lines are
//! skipped. Errors name the line. Parsing never panics.

use std::fmt;
use std::str::FromStr;

use crate::attribute::Attribute;
use crate::bandwidth::Bandwidth;
use crate::connection::Connection;
use crate::direction::Direction;
use crate::error::SdpError;
use crate::field::{self, Field};
use crate::line::{self, Line, LineValue, ValueError};
use crate::media::MediaDescription;
use crate::origin::Origin;
use crate::timing::Timing;

/// The `s=` value, free text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SessionName(String);

impl fmt::Display for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl LineValue for SessionName {
    fn kind(&self) -> char {
        's'
    }

    fn read(_kind: char, text: &str) -> Result<Self, ValueError> {
        Ok(SessionName(text.to_owned()))
    }
}

/// Line types a session-level `c=` goes before (RFC 8866 order: ..., c, b, t, r, z, k, a).
const AFTER_CONNECTION: &[char] = &['b', 't', 'r', 'z', 'k', 'a'];

/// An SDP session description (RFC 8866).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionDescription {
    /// The text after `v=`; always reads as 0.
    version: String,
    origin: Line<Origin>,
    session_name: Option<Line<SessionName>>,
    fields: Vec<Line<Field>>,
    media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// A description with `v=0`, the given origin and `s=` line, and nothing else yet.
    pub fn new(origin: Origin, session_name: &str) -> Result<Self, SdpError> {
        Ok(SessionDescription {
            version: "0".to_owned(),
            origin: Line::new(origin)?,
            session_name: Some(Line::new(SessionName(session_name.to_owned()))?),
            fields: Vec::new(),
            media: Vec::new(),
        })
    }

    /// Reads a session description from a SIP message body.
    pub fn parse(input: &str) -> Result<Self, SdpError> {
        let mut lines = line::lines(input).peekable();

        let (number, kind, text) = lines.next().ok_or(SdpError::Empty)??;
        if kind != 'v' {
            return Err(SdpError::MissingVersion { line: number });
        }
        if text.trim() != "0" {
            return Err(SdpError::UnsupportedVersion {
                line: number,
                found: text.to_owned(),
            });
        }
        let version = text.to_owned();

        let origin = match lines.next().transpose()? {
            Some((number, 'o', text)) => Line::read('o', text).map_err(|e| e.at(number, 'o'))?,
            Some((number, ..)) => return Err(SdpError::MissingOrigin { line: number }),
            None => return Err(SdpError::MissingOrigin { line: number + 1 }),
        };

        let session_name = match lines.next_if(|l| matches!(l, Ok((_, 's', _)))) {
            Some(Ok((_, _, text))) => Some(Line::trusted(SessionName(text.to_owned()))),
            _ => None,
        };

        let mut sdp = SessionDescription {
            version,
            origin,
            session_name,
            fields: Vec::new(),
            media: Vec::new(),
        };
        for item in lines {
            let (number, kind, text) = item?;
            match kind {
                'v' | 'o' => return Err(SdpError::Duplicate { line: number, kind }),
                's' if sdp.session_name.is_some() => {
                    return Err(SdpError::Duplicate { line: number, kind })
                }
                's' => {
                    return Err(SdpError::BadLine {
                        line: number,
                        reason: "s= must directly follow o=".to_owned(),
                    })
                }
                'm' => {
                    let line = Line::read('m', text).map_err(|e| e.at(number, 'm'))?;
                    sdp.media
                        .push(MediaDescription::from_parts(line, Vec::new()));
                }
                _ => {
                    let line = Line::read(kind, text).map_err(|e| e.at(number, kind))?;
                    match sdp.media.last_mut() {
                        Some(media) => media.push_line(line),
                        None => sdp.fields.push(line),
                    }
                }
            }
        }
        Ok(sdp)
    }

    /// The origin (`o=`).
    pub fn origin(&self) -> &Origin {
        self.origin.value()
    }

    /// Replaces the origin.
    pub fn set_origin(&mut self, origin: Origin) -> Result<(), SdpError> {
        self.origin = Line::new(origin)?;
        Ok(())
    }

    /// The `o=` session version.
    pub fn session_version(&self) -> u64 {
        self.origin().session_version
    }

    /// Sets the `o=` session version, leaving the rest of the line as it was read.
    pub fn set_session_version(&mut self, version: u64) {
        let mut origin = self.origin().clone();
        origin.session_version = version;
        self.origin = Line::trusted(origin);
    }

    /// Increments the `o=` session version and returns the new one.
    pub fn bump_version(&mut self) -> u64 {
        let version = self.session_version().wrapping_add(1);
        self.set_session_version(version);
        version
    }

    /// Whether `self` is the same version of the same session as `previous` (RFC 3264 §8: then
    /// it must be identical, e.g. a session refresh re-INVITE carrying the old SDP).
    pub fn is_same_version_as(&self, previous: &SessionDescription) -> bool {
        self.origin().is_same_session(previous.origin())
            && self.session_version() == previous.session_version()
    }

    /// The session name (`s=`), `None` when the line is absent.
    pub fn session_name(&self) -> Option<&str> {
        self.session_name.as_ref().map(|l| l.value().0.as_str())
    }

    /// Sets the session name.
    pub fn set_session_name(&mut self, name: &str) -> Result<(), SdpError> {
        self.session_name = Some(Line::new(SessionName(name.to_owned()))?);
        Ok(())
    }

    /// The session-level lines after `v=`, `o=`, `s=`, in order.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        field::values(&self.fields)
    }

    /// Appends a session-level line (before the media sections).
    pub fn push_field(&mut self, field: Field) -> Result<(), SdpError> {
        self.fields.push(Line::new(field)?);
        Ok(())
    }

    /// Keeps only the session-level lines for which `keep` returns true.
    pub fn retain_fields(&mut self, mut keep: impl FnMut(&Field) -> bool) {
        self.fields.retain(|l| keep(l.value()));
    }

    /// The session-level `c=`.
    pub fn connection(&self) -> Option<&Connection> {
        self.fields().find_map(|f| match f {
            Field::Connection(c) => Some(c),
            _ => None,
        })
    }

    /// Sets the session-level `c=`: replaces the first one (dropping any others) or inserts one
    /// before the `b=`, `t=` and later lines.
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

    /// The session-level `b=` lines.
    pub fn bandwidths(&self) -> impl Iterator<Item = &Bandwidth> {
        self.fields().filter_map(|f| match f {
            Field::Bandwidth(b) => Some(b),
            _ => None,
        })
    }

    /// The first `t=` line.
    pub fn timing(&self) -> Option<&Timing> {
        self.fields().find_map(|f| match f {
            Field::Timing(t) => Some(t),
            _ => None,
        })
    }

    /// The session-level attributes, in order.
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        field::attributes(&self.fields)
    }

    /// The first session-level attribute called `name` (ignoring ASCII case).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// The session-level direction attribute, the default for every media section.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes().find_map(|a| match a {
            Attribute::Direction(d) => Some(*d),
            _ => None,
        })
    }

    /// Sets the session-level direction: replaces the first direction attribute (dropping any
    /// others) or appends one after the session-level lines.
    pub fn set_direction(&mut self, direction: Direction) {
        let line = Line::trusted(Field::Attribute(Attribute::Direction(direction)));
        field::replace_or_insert(
            &mut self.fields,
            line,
            |f| matches!(f, Field::Attribute(Attribute::Direction(_))),
            &[],
        );
    }

    /// The media sections, in order.
    pub fn media(&self) -> &[MediaDescription] {
        &self.media
    }

    /// The media sections, to change them in place.
    pub fn media_mut(&mut self) -> &mut [MediaDescription] {
        &mut self.media
    }

    /// Appends a media section.
    pub fn push_media(&mut self, media: MediaDescription) {
        self.media.push(media);
    }

    /// Replaces all media sections.
    pub fn set_media(&mut self, media: Vec<MediaDescription>) {
        self.media = media;
    }

    /// The direction in effect for `media`: its own attribute, else the session's, else
    /// `sendrecv`. Does not account for a `0.0.0.0` connection; see [`Self::is_media_on_hold`].
    pub fn media_direction(&self, media: &MediaDescription) -> Direction {
        media
            .direction()
            .or_else(|| self.direction())
            .unwrap_or_default()
    }

    /// The connection in effect for `media`: its own `c=`, else the session's.
    pub fn media_connection<'a>(&'a self, media: &'a MediaDescription) -> Option<&'a Connection> {
        media.connection().or_else(|| self.connection())
    }

    /// Whether the sender of this description holds `media`: the stream is not rejected and
    /// its direction is `sendonly` or `inactive`, or its connection address is `0.0.0.0`
    /// (RFC 2543 hold).
    pub fn is_media_on_hold(&self, media: &MediaDescription) -> bool {
        !media.is_rejected()
            && (!self.media_direction(media).receives()
                || self
                    .media_connection(media)
                    .is_some_and(Connection::is_unspecified))
    }

    /// Whether this description puts the call on hold: it has at least one stream that is not
    /// rejected, and every such stream is on hold (see [`Self::is_media_on_hold`]).
    pub fn is_hold(&self) -> bool {
        let mut active = self.media.iter().filter(|m| !m.is_rejected()).peekable();
        active.peek().is_some() && active.all(|m| self.is_media_on_hold(m))
    }
}

impl fmt::Display for SessionDescription {
    /// Prints the description with CRLF line endings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v={}\r\n", self.version)?;
        self.origin.write(f)?;
        if let Some(name) = &self.session_name {
            name.write(f)?;
        }
        for line in &self.fields {
            line.write(f)?;
        }
        for media in &self.media {
            media.fmt(f)?;
        }
        Ok(())
    }
}

impl FromStr for SessionDescription {
    type Err = SdpError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionDescription::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::MediaKind;

    const BASIC: &str = "v=0\r\n\
        o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n\
        s=SDP Seminar\r\n\
        i=A Seminar on the session description protocol\r\n\
        u=http://www.example.com/seminars/sdp.pdf\r\n\
        e=j.doe@example.com (Jane Doe)\r\n\
        c=IN IP4 224.2.17.12/127\r\n\
        t=2873397496 2873404696\r\n\
        a=recvonly\r\n\
        m=audio 49170 RTP/AVP 0\r\n\
        m=video 51372 RTP/AVP 99\r\n\
        a=rtpmap:99 h263-1998/90000\r\n";

    fn parse(text: &str) -> SessionDescription {
        SessionDescription::parse(text).unwrap()
    }

    fn error(text: &str) -> SdpError {
        SessionDescription::parse(text).unwrap_err()
    }

    #[test]
    fn rfc8866_example_round_trips_and_reads() {
        let sdp = parse(BASIC);
        assert_eq!(sdp.to_string(), BASIC);
        assert_eq!(sdp.origin().username, "jdoe");
        assert_eq!(sdp.session_version(), 2_890_842_807);
        assert_eq!(sdp.session_name(), Some("SDP Seminar"));
        assert_eq!(sdp.connection().unwrap().address, "224.2.17.12/127");
        assert_eq!(sdp.timing().unwrap().start, 2_873_397_496);
        assert_eq!(sdp.direction(), Some(Direction::RecvOnly));
        assert_eq!(sdp.media().len(), 2);
        assert_eq!(sdp.media()[1].kind(), &MediaKind::Video);
        assert_eq!(sdp.media()[1].rtpmap(99).unwrap().clock_rate, 90000);
        assert_eq!(sdp.media_direction(&sdp.media()[0]), Direction::RecvOnly);
        let kinds: Vec<char> = sdp.fields().map(Field::kind).collect();
        assert_eq!(kinds, ['i', 'u', 'e', 'c', 't', 'a']);
    }

    #[test]
    fn bare_lf_input_is_accepted_and_printed_with_crlf() {
        let sdp = parse(&BASIC.replace("\r\n", "\n"));
        assert_eq!(sdp.to_string(), BASIC);
    }

    #[test]
    fn irregular_spacing_and_unknown_lines_survive_byte_for_byte() {
        let text = "v=0\r\no=- 01 002  IN IP4 192.0.2.1\r\ns= \r\nc=IN  IP4 192.0.2.1\r\n\
            t=0 0\r\nx=something new\r\na=X-foo\r\nm=audio  4000 RTP/AVP 0 \r\n\
            a=rtpmap:0 pcmu/8000\r\na=ptime:20.5\r\na=weird:: value\r\n";
        let sdp = parse(text);
        assert_eq!(sdp.to_string(), text);
        assert_eq!(sdp.origin().session_id, 1);
        assert_eq!(sdp.media()[0].port(), 4000);
        assert_eq!(
            sdp.media()[0].attribute("ptime"),
            Some(&Attribute::other("ptime", Some("20.5")))
        );
    }

    #[test]
    fn setters_change_only_their_line() {
        let text = "v=0\r\no=- 1 5 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
            m=audio 4000 RTP/AVP 0\r\na=x-custom:1\r\na=sendrecv\r\na=x-custom:2\r\n";
        let mut sdp = parse(text);
        assert_eq!(sdp.bump_version(), 6);
        sdp.set_connection(Connection::new("198.51.100.9".parse().unwrap()))
            .unwrap();
        let media = &mut sdp.media_mut()[0];
        media.set_port(5000);
        media.set_direction(Direction::SendOnly);
        assert_eq!(
            sdp.to_string(),
            "v=0\r\no=- 1 6 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 198.51.100.9\r\nt=0 0\r\n\
             m=audio 5000 RTP/AVP 0\r\na=x-custom:1\r\na=sendonly\r\na=x-custom:2\r\n"
        );
    }

    #[test]
    fn set_connection_inserts_before_timing_when_absent() {
        let mut sdp = parse("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n");
        sdp.set_connection(Connection::new("192.0.2.2".parse().unwrap()))
            .unwrap();
        assert_eq!(
            sdp.to_string(),
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\n"
        );
    }

    #[test]
    fn missing_session_name_is_tolerated() {
        let text = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0 0\r\n";
        let sdp = parse(text);
        assert_eq!(sdp.session_name(), None);
        assert_eq!(sdp.to_string(), text);
    }

    #[test]
    fn hold_is_detected_by_direction_and_by_black_hole_address() {
        let base = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";
        let held = parse(&format!("{base}m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"));
        assert!(held.is_hold());
        let inactive = parse(&format!("{base}a=inactive\r\nm=audio 4000 RTP/AVP 0\r\n"));
        assert!(inactive.is_hold());
        let active = parse(&format!("{base}m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n"));
        assert!(!active.is_hold());
        let black_hole = parse(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP 0\r\n",
        );
        assert!(black_hole.is_hold());
        let no_media = parse(base);
        assert!(!no_media.is_hold());
    }

    #[test]
    fn same_version_detection() {
        let a = parse("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n");
        let mut b = a.clone();
        assert!(b.is_same_version_as(&a));
        b.bump_version();
        assert!(!b.is_same_version_as(&a));
    }

    #[test]
    fn empty_input_is_an_error() {
        assert_eq!(error(""), SdpError::Empty);
        assert_eq!(error("\r\n\r\n"), SdpError::Empty);
    }

    #[test]
    fn first_line_must_be_version_zero() {
        assert_eq!(
            error("o=- 1 1 IN IP4 a\r\n"),
            SdpError::MissingVersion { line: 1 }
        );
        assert_eq!(
            error("v=1\r\no=- 1 1 IN IP4 a\r\n"),
            SdpError::UnsupportedVersion {
                line: 1,
                found: "1".into()
            }
        );
    }

    #[test]
    fn origin_must_follow_version() {
        assert_eq!(error("v=0\r\ns=-\r\n"), SdpError::MissingOrigin { line: 2 });
        assert_eq!(error("v=0\r\n"), SdpError::MissingOrigin { line: 2 });
        assert_eq!(
            error("v=0\r\no=- 1 IN IP4 a\r\n"),
            SdpError::BadLine {
                line: 2,
                reason: "bad o= line: expected 6 fields (username sess-id sess-version \
                         nettype addrtype address), found 5"
                    .into()
            }
        );
    }

    #[test]
    fn malformed_lines_are_named_by_number() {
        let head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n";
        let line_of = |tail: &str| match error(&format!("{head}{tail}")) {
            SdpError::BadLine { line, reason } => (line, reason),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(line_of("c=IN IP4\r\n").0, 4);
        assert_eq!(line_of("t=0 0\r\nb=AS\r\n").0, 5);
        assert_eq!(line_of("t=now\r\n").0, 4);
        assert_eq!(line_of("t=0 0\r\nm=audio\r\n").0, 5);
        assert_eq!(line_of("t=0 0\r\na=\r\n").0, 5);
        let (line, reason) = line_of("t=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN\r\n");
        assert_eq!(line, 6);
        assert!(reason.starts_with("bad c= line"), "{reason}");
        assert_eq!(line_of("t=0 0\r\n garbage\r\n").0, 5);
    }

    #[test]
    fn bad_port_names_the_line() {
        let text = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n\
            m=audio 99999 RTP/AVP 0\r\n";
        assert_eq!(
            error(text),
            SdpError::BadPort {
                line: 5,
                found: "99999".into()
            }
        );
    }

    #[test]
    fn duplicate_and_misplaced_header_lines_are_errors() {
        let head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n";
        assert_eq!(
            error(&format!("{head}o=- 1 1 IN IP4 192.0.2.1\r\n")),
            SdpError::Duplicate { line: 4, kind: 'o' }
        );
        assert_eq!(
            error(&format!("{head}m=audio 1 RTP/AVP 0\r\nv=0\r\n")),
            SdpError::Duplicate { line: 5, kind: 'v' }
        );
        assert_eq!(
            error(&format!("{head}s=again\r\n")),
            SdpError::Duplicate { line: 4, kind: 's' }
        );
        assert!(matches!(
            error("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0 0\r\ns=-\r\n"),
            SdpError::BadLine { line: 4, .. }
        ));
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            SdpError::BadPort {
                line: 5,
                found: "x".into()
            }
            .to_string(),
            "line 5: bad port \"x\" in m= line"
        );
    }

    #[test]
    fn built_descriptions_read_back_equal() {
        let mut sdp = SessionDescription::new(
            Origin::new("viawork", 42, 1, "192.0.2.1".parse().unwrap()),
            "call",
        )
        .unwrap();
        sdp.push_field(Field::Timing(Timing::default())).unwrap();
        let mut media = MediaDescription::new(MediaKind::Audio, 4000, "RTP/AVP", ["0"]).unwrap();
        media.push_attribute(Attribute::Ptime(20)).unwrap();
        sdp.push_media(media);
        assert_eq!(parse(&sdp.to_string()), sdp);
        assert!(sdp.set_session_name("two\r\nlines").is_err());
        assert!(sdp
            .push_field(Field::Other {
                kind: 'c',
                value: "IN IP4 192.0.2.1".into()
            })
            .is_err());
    }
}
