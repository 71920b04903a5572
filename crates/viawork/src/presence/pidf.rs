//! Reading the PIDF documents SIP clients PUBLISH about themselves (RFC 3863, with the data
//! model of RFC 4479 and RPID activities of RFC 4480), down to what presence uses: whether
//! the device can be reached at all (`basic` `open` or `closed`) and the one activity it
//! reports that changes availability ([`EndpointActivity`]). Free text (notes) is not
//! taken: a person's note is theirs to set through the API, not a phone's to overwrite.
//!
//! With quick-xml, matching elements by local name so any namespace prefix reads the same;
//! unknown elements (extensions, RFC 3863 §4.1.7) are skipped. A document whose root is not
//! `presence` or that is not well-formed is refused. A `basic` other than `open` / `closed`
//! states nothing rather than failing the document: baresip 1.0 publishes
//! `<basic>unkown</basic>` when it starts before it has registered.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::model::EndpointActivity;

/// What a published document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The `entity` attribute (the publisher's presentity URI), as written.
    pub entity: String,
    /// False when some tuple's `basic` is `closed` and none is `open`; true otherwise
    /// (also for a document without tuples, or whose `basic` values are neither: it states
    /// nothing).
    pub open: bool,
    /// The RPID activities named, by local name (`on-the-phone`, `busy`, ...).
    pub activities: Vec<String>,
}

/// Why a document is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PidfError {
    /// Not well-formed XML.
    #[error("not well-formed XML: {0}")]
    Xml(String),
    /// Well-formed, but not a PIDF document ViaWork can read.
    #[error("{0}")]
    Invalid(&'static str),
}

impl Published {
    /// The state of the endpoint that published it, None for plain `open` (or activities
    /// that do not change availability). `closed` wins over any activity; otherwise, in
    /// this order: presentation, on-the-phone, meeting / appointment, busy, then away
    /// (also vacation, holiday, sleeping, permanent-absence).
    pub fn endpoint_activity(&self) -> Option<EndpointActivity> {
        if !self.open {
            return Some(EndpointActivity::Unavailable);
        }
        let has = |names: &[&str]| self.activities.iter().any(|a| names.contains(&a.as_str()));
        if has(&["presentation"]) {
            Some(EndpointActivity::Presenting)
        } else if has(&["on-the-phone"]) {
            Some(EndpointActivity::OnThePhone)
        } else if has(&["meeting", "appointment"]) {
            Some(EndpointActivity::InAMeeting)
        } else if has(&["busy"]) {
            Some(EndpointActivity::Busy)
        } else if has(&[
            "away",
            "vacation",
            "holiday",
            "sleeping",
            "permanent-absence",
        ]) {
            Some(EndpointActivity::Away)
        } else {
            None
        }
    }
}

/// At most this many activities are kept from one document (a bound on hostile input).
const MAX_ACTIVITIES: usize = 32;

/// Parses a document.
pub fn parse(xml: &str) -> Result<Published, PidfError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut doc: Option<Published> = None;
    let mut depth = 0usize;
    // Open `activities` elements (nesting depth at which each opened).
    let mut activities_at: Option<usize> = None;
    let mut in_basic = false;
    let mut basic = String::new();
    let (mut saw_open, mut saw_closed) = (false, false);
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| PidfError::Xml(e.to_string()))?;
        let empty = matches!(ev, Event::Empty(_));
        match ev {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name();
                let name: &str = name.as_ref();
                if depth == 0 {
                    if name != "presence" {
                        return Err(PidfError::Invalid("the root element is not presence"));
                    }
                    let entity = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == "entity")
                        .and_then(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .ok()
                                .map(|v| v.into_owned())
                        })
                        .unwrap_or_default();
                    doc = Some(Published {
                        entity,
                        open: true,
                        activities: Vec::new(),
                    });
                } else if let (Some(at), Some(d)) = (activities_at, doc.as_mut()) {
                    // A direct child of <activities> is one activity.
                    if depth == at + 1 && d.activities.len() < MAX_ACTIVITIES {
                        d.activities.push(name.to_ascii_lowercase());
                    }
                } else if name == "activities" && !empty {
                    activities_at = Some(depth);
                } else if name == "basic" && !empty {
                    in_basic = true;
                    basic.clear();
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::Text(t) if in_basic => basic.push_str(&t.xml10_content()),
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                let name = e.local_name();
                let name: &str = name.as_ref();
                if name == "basic" && in_basic {
                    in_basic = false;
                    match basic.trim() {
                        "open" => saw_open = true,
                        "closed" => saw_closed = true,
                        _ => {}
                    }
                } else if activities_at == Some(depth) && name == "activities" {
                    activities_at = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut doc = doc.ok_or(PidfError::Invalid("no presence element"))?;
    doc.open = saw_open || !saw_closed;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What baresip 1.0's `presence` module publishes.
    fn baresip(basic: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\r\n\
             <presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\r\n\
             xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\"\r\n\
             xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\"\r\n\
             entity=\"sip:alice@example.com\">\r\n\
             <dm:person id=\"p4159\"><rpid:activities/></dm:person>\r\n\
             <tuple id=\"t4109\"><status><basic>{basic}</basic></status>\r\n\
             <contact>sip:alice@example.com</contact></tuple></presence>\r\n"
        )
    }

    #[test]
    fn plain_open_states_nothing_and_closed_is_unavailable() {
        let open = parse(&baresip("open")).unwrap();
        assert_eq!(open.entity, "sip:alice@example.com");
        assert!(open.open && open.activities.is_empty());
        assert_eq!(open.endpoint_activity(), None);
        let closed = parse(&baresip("closed")).unwrap();
        assert!(!closed.open);
        assert_eq!(
            closed.endpoint_activity(),
            Some(EndpointActivity::Unavailable)
        );
    }

    #[test]
    fn rpid_activities_map_in_precedence_whatever_the_prefixes() {
        let doc = |acts: &str| {
            format!(
                "<p:presence xmlns:p='urn:ietf:params:xml:ns:pidf' \
                 xmlns:r='urn:ietf:params:xml:ns:pidf:rpid' \
                 xmlns:d='urn:ietf:params:xml:ns:pidf:data-model' entity='sip:a@x'>\
                 <p:tuple id='t'><p:status><p:basic>open</p:basic></p:status></p:tuple>\
                 <d:person id='p'><r:activities>{acts}</r:activities>\
                 <d:note>ignored &amp; kept out</d:note></d:person></p:presence>"
            )
        };
        for (acts, want) in [
            ("<r:busy/>", Some(EndpointActivity::Busy)),
            (
                "<r:busy/><r:on-the-phone/>",
                Some(EndpointActivity::OnThePhone),
            ),
            ("<r:appointment/>", Some(EndpointActivity::InAMeeting)),
            ("<r:away/>", Some(EndpointActivity::Away)),
            ("<r:vacation/>", Some(EndpointActivity::Away)),
            (
                "<r:presentation/><r:busy/>",
                Some(EndpointActivity::Presenting),
            ),
            ("<r:unknown/>", None),
            ("<r:other>gardening</r:other>", None),
            ("", None),
        ] {
            let p = parse(&doc(acts)).unwrap_or_else(|e| panic!("{acts}: {e}"));
            assert_eq!(p.endpoint_activity(), want, "{acts}");
        }
    }

    #[test]
    fn one_open_tuple_of_several_makes_the_device_reachable() {
        let p = parse(
            "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='sip:a@x'>\
             <tuple id='a'><status><basic>closed</basic></status></tuple>\
             <tuple id='b'><status><basic> open </basic></status></tuple></presence>",
        )
        .unwrap();
        assert!(p.open);
        // Activities outside <activities> are not activities.
        let p = parse(
            "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='sip:a@x'><busy/></presence>",
        )
        .unwrap();
        assert!(p.activities.is_empty());
        // baresip 1.0 before it has registered: states nothing.
        let p = parse(&baresip("unkown")).unwrap();
        assert!(p.open);
        assert_eq!(p.endpoint_activity(), None);
    }

    #[test]
    fn not_pidf_or_not_well_formed_is_refused() {
        for bad in [
            "",
            "not xml",
            "<dialog-info version='1' state='full' entity='sip:a@x'/>",
            "<presence entity='sip:a@x'><tuple></presence>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
