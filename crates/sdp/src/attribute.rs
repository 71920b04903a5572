//! The `a=` line: attributes, with typed readings of the ones offer/answer relies on.
//!
//! RFC 8866 §5.13: `a=<name>` or `a=<name>:<value>`. This module reads `rtpmap`, `fmtp`, `ptime`,
//! `rtcp` and the four direction attributes into typed variants; every other attribute is kept
//! as [`Attribute::Other`]. Names are matched ignoring ASCII case. An attribute whose value does
//! not follow its grammar (say `a=ptime:20.5`) is not an error: it is kept verbatim as
//! [`Attribute::Other`] and ignored by negotiation, so one odd attribute from a peer never fails
//! a call.

use std::fmt;

use crate::connection::Connection;
use crate::direction::Direction;
use crate::line::{fields, number, LineValue, ValueError};

/// An attribute (`a=`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Attribute {
    /// `a=rtpmap:<payload type> <encoding>/<clock rate>[/<channels>]`.
    RtpMap(RtpMap),
    /// `a=fmtp:<format> <parameters>`.
    Fmtp(Fmtp),
    /// `a=ptime:<milliseconds>`, the packet duration the sender of this description wants to receive.
    Ptime(u32),
    /// `a=sendrecv`, `a=sendonly`, `a=recvonly` or `a=inactive`.
    Direction(Direction),
    /// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
    Rtcp(Rtcp),
    /// Any other attribute, or a known one whose value could not be read.
    Other {
        /// The name, before the first `:`.
        name: String,
        /// The value after the first `:`, `None` for a property attribute such as `a=rtcp-mux`.
        value: Option<String>,
    },
}

impl Attribute {
    /// An attribute without a typed reading.
    pub fn other(name: &str, value: Option<&str>) -> Self {
        Attribute::Other {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        }
    }

    /// The attribute name as printed (`rtpmap`, `sendonly`, ...).
    pub fn name(&self) -> &str {
        match self {
            Attribute::RtpMap(_) => "rtpmap",
            Attribute::Fmtp(_) => "fmtp",
            Attribute::Ptime(_) => "ptime",
            Attribute::Direction(d) => d.as_str(),
            Attribute::Rtcp(_) => "rtcp",
            Attribute::Other { name, .. } => name,
        }
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::RtpMap(map) => write!(f, "rtpmap:{map}"),
            Attribute::Fmtp(fmtp) => write!(f, "fmtp:{fmtp}"),
            Attribute::Ptime(ms) => write!(f, "ptime:{ms}"),
            Attribute::Direction(d) => f.write_str(d.as_str()),
            Attribute::Rtcp(rtcp) => write!(f, "rtcp:{rtcp}"),
            Attribute::Other { name, value: None } => f.write_str(name),
            Attribute::Other {
                name,
                value: Some(value),
            } => write!(f, "{name}:{value}"),
        }
    }
}

impl LineValue for Attribute {
    fn kind(&self) -> char {
        'a'
    }

    fn read(_kind: char, text: &str) -> Result<Self, ValueError> {
        let (name, value) = match text.split_once(':') {
            Some((name, value)) => (name, Some(value)),
            None => (text, None),
        };
        if name.is_empty() {
            return Err(ValueError::Bad("empty attribute name".into()));
        }
        let typed = match value {
            None => Direction::from_name(name).map(Attribute::Direction),
            Some(value) if name.eq_ignore_ascii_case("rtpmap") => {
                RtpMap::read(value).ok().map(Attribute::RtpMap)
            }
            Some(value) if name.eq_ignore_ascii_case("fmtp") => {
                Fmtp::read(value).ok().map(Attribute::Fmtp)
            }
            Some(value) if name.eq_ignore_ascii_case("ptime") => {
                number(value.trim(), "ptime").ok().map(Attribute::Ptime)
            }
            Some(value) if name.eq_ignore_ascii_case("rtcp") => {
                Rtcp::read(value).ok().map(Attribute::Rtcp)
            }
            Some(_) => None,
        };
        Ok(typed.unwrap_or_else(|| Attribute::other(name, value)))
    }
}

/// An RTP payload type mapping (`a=rtpmap`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtpMap {
    /// The RTP payload type, 0 to 127.
    pub payload_type: u8,
    /// The encoding name as written (`PCMU`, `telephone-event`, ...); compare ignoring case.
    pub encoding_name: String,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// For audio, the number of channels when given (`/1`, `/2`).
    pub channels: Option<u32>,
}

impl RtpMap {
    fn read(value: &str) -> Result<Self, ValueError> {
        let [pt, encoding] = fields(value)[..] else {
            return Err(ValueError::Bad(format!("bad rtpmap {value:?}")));
        };
        let payload_type: u8 = number(pt, "payload type")?;
        if payload_type > 127 {
            return Err(ValueError::Bad(format!("payload type {pt} above 127")));
        }
        let mut parts = encoding.split('/');
        let name = parts.next().unwrap_or_default();
        let clock = parts.next().unwrap_or_default();
        let channels = parts.next().map(|c| number(c, "channels")).transpose()?;
        if name.is_empty() || parts.next().is_some() {
            return Err(ValueError::Bad(format!("bad rtpmap encoding {encoding:?}")));
        }
        Ok(RtpMap {
            payload_type,
            encoding_name: name.to_owned(),
            clock_rate: number(clock, "clock rate")?,
            channels,
        })
    }
}

impl fmt::Display for RtpMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding_name, self.clock_rate
        )?;
        if let Some(channels) = self.channels {
            write!(f, "/{channels}")?;
        }
        Ok(())
    }
}

/// Format-specific parameters (`a=fmtp`), e.g. `a=fmtp:101 0-16`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fmtp {
    /// The format the parameters apply to; for RTP a payload type number.
    pub format: String,
    /// The parameters as written, e.g. `0-16` or `annexb=no`.
    pub params: String,
}

impl Fmtp {
    /// The payload type, when the format is one.
    pub fn payload_type(&self) -> Option<u8> {
        number::<u8>(&self.format, "payload type")
            .ok()
            .filter(|pt| *pt <= 127)
    }

    /// The value of `key` in `key=value;key=value` parameters (key compared ignoring case).
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.params.split(';').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
        })
    }

    fn read(value: &str) -> Result<Self, ValueError> {
        let value = value.trim_start_matches([' ', '\t']);
        let (format, params) = match value.split_once([' ', '\t']) {
            Some((format, params)) => (format, params.trim_start_matches([' ', '\t'])),
            None => (value, ""),
        };
        if format.is_empty() {
            return Err(ValueError::Bad("fmtp without format".into()));
        }
        Ok(Fmtp {
            format: format.to_owned(),
            params: params.to_owned(),
        })
    }
}

impl fmt::Display for Fmtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.params.is_empty() {
            f.write_str(&self.format)
        } else {
            write!(f, "{} {}", self.format, self.params)
        }
    }
}

/// Where RTCP is to be sent when not to the RTP port + 1 (`a=rtcp`, RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rtcp {
    /// The RTCP port.
    pub port: u16,
    /// The RTCP address, when it differs from the stream's connection address.
    pub connection: Option<Connection>,
}

impl Rtcp {
    fn read(value: &str) -> Result<Self, ValueError> {
        let (port, connection) = match fields(value)[..] {
            [port] => (port, None),
            [port, net_type, addr_type, address] => (
                port,
                Some(Connection {
                    net_type: net_type.to_owned(),
                    addr_type: addr_type.to_owned(),
                    address: address.to_owned(),
                }),
            ),
            _ => return Err(ValueError::Bad(format!("bad rtcp {value:?}"))),
        };
        Ok(Rtcp {
            port: number(port, "rtcp port")?,
            connection,
        })
    }
}

impl fmt::Display for Rtcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.port)?;
        if let Some(c) = &self.connection {
            write!(f, " {c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::Line;

    fn read(text: &str) -> Attribute {
        Attribute::read('a', text).unwrap()
    }

    #[test]
    fn reads_rtpmap_with_and_without_channels() {
        assert_eq!(
            read("rtpmap:0 PCMU/8000"),
            Attribute::RtpMap(RtpMap {
                payload_type: 0,
                encoding_name: "PCMU".into(),
                clock_rate: 8000,
                channels: None
            })
        );
        let Attribute::RtpMap(map) = read("rtpmap:9 G722/8000/1") else {
            panic!("not an rtpmap")
        };
        assert_eq!(map.channels, Some(1));
        assert_eq!(map.to_string(), "9 G722/8000/1");
    }

    #[test]
    fn reads_fmtp_ptime_rtcp_and_directions() {
        let Attribute::Fmtp(fmtp) = read("fmtp:101 0-16") else {
            panic!("not an fmtp")
        };
        assert_eq!(
            (fmtp.payload_type(), fmtp.params.as_str()),
            (Some(101), "0-16")
        );
        let Attribute::Fmtp(fmtp) = read("fmtp:18 annexb=no;foo=bar") else {
            panic!("not an fmtp")
        };
        assert_eq!(fmtp.parameter("AnnexB"), Some("no"));
        assert_eq!(read("ptime:20"), Attribute::Ptime(20));
        assert_eq!(read("sendonly"), Attribute::Direction(Direction::SendOnly));
        assert_eq!(read("INACTIVE"), Attribute::Direction(Direction::Inactive));
        let Attribute::Rtcp(rtcp) = read("rtcp:53021 IN IP4 126.16.64.4") else {
            panic!("not rtcp")
        };
        assert_eq!(rtcp.port, 53021);
        assert_eq!(rtcp.connection.unwrap().address, "126.16.64.4");
    }

    #[test]
    fn unreadable_known_attributes_are_kept_as_other() {
        assert_eq!(read("ptime:20.5"), Attribute::other("ptime", Some("20.5")));
        assert_eq!(
            read("rtpmap:200 PCMU/8000"),
            Attribute::other("rtpmap", Some("200 PCMU/8000"))
        );
        assert_eq!(read("rtcp:70000"), Attribute::other("rtcp", Some("70000")));
        assert_eq!(read("sendonly:x"), Attribute::other("sendonly", Some("x")));
        assert_eq!(read("rtcp-mux"), Attribute::other("rtcp-mux", None));
    }

    #[test]
    fn empty_name_is_an_error() {
        assert!(Attribute::read('a', "").is_err());
        assert!(Attribute::read('a', ":x").is_err());
    }

    #[test]
    fn typed_attributes_print_and_read_back() {
        for attr in [
            Attribute::Ptime(30),
            Attribute::Direction(Direction::RecvOnly),
            Attribute::Fmtp(Fmtp {
                format: "96".into(),
                params: "0-15".into(),
            }),
            Attribute::Rtcp(Rtcp {
                port: 9,
                connection: None,
            }),
            Attribute::other("label", Some("1")),
        ] {
            assert!(Line::new(attr.clone()).is_ok(), "{attr}");
        }
    }

    #[test]
    fn other_that_reads_back_as_typed_is_refused() {
        assert!(Line::new(Attribute::other("ptime", Some("20"))).is_err());
        assert!(Line::new(Attribute::other("x:y", None)).is_err());
    }
}
