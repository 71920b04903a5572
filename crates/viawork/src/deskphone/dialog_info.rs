//! Reading RFC 4235 `application/dialog-info+xml` documents: what the PBX says about the
//! calls on a user's desk phone. With quick-xml (a well-kept streaming reader; the
//! documents are small and only a few elements matter, so no DOM and no schema).
//!
//! Namespaces are matched by local name, so prefixed documents read the same. Unknown
//! elements and attributes are skipped (RFC 4235 §4 allows extensions). A document without
//! a `dialog-info` root, or with a missing or non-numeric `version`, is refused.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Whether a document is the whole state or changes to it (§4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocState {
    /// Every dialog of the entity.
    Full,
    /// Only the dialogs that changed.
    Partial,
}

/// A dialog's state (§3.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// An INVITE is out or in, nothing back yet.
    Trying,
    /// A provisional response without a To tag.
    Proceeding,
    /// Ringing (a provisional response with a tag).
    Early,
    /// Answered: the phone is in a call.
    Confirmed,
    /// Over.
    Terminated,
}

impl DialogState {
    fn parse(s: &str) -> Option<DialogState> {
        Some(match s.trim() {
            "trying" => DialogState::Trying,
            "proceeding" => DialogState::Proceeding,
            "early" => DialogState::Early,
            "confirmed" => DialogState::Confirmed,
            "terminated" => DialogState::Terminated,
            _ => return None,
        })
    }
}

/// Who started the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The desk phone called out.
    Initiator,
    /// The desk phone was called.
    Recipient,
}

/// One dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// Its id in the document (stable across NOTIFYs).
    pub id: String,
    /// Its SIP Call-ID, when given.
    pub call_id: Option<String>,
    /// Who started it, when given.
    pub direction: Option<Direction>,
    /// Its state.
    pub state: DialogState,
    /// The other party's identity (a URI), when given.
    pub remote: Option<String>,
    /// The other party's display name, when given.
    pub remote_name: Option<String>,
}

/// A document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogInfo {
    /// Increases by one with each NOTIFY of a subscription (§4.1.2).
    pub version: u64,
    /// Full or partial.
    pub state: DocState,
    /// Whose dialogs these are (a URI).
    pub entity: String,
    /// The dialogs.
    pub dialogs: Vec<Dialog>,
}

/// Why a document is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogInfoError {
    /// Not well-formed XML.
    #[error("not well-formed XML: {0}")]
    Xml(String),
    /// A required part is missing or wrong.
    #[error("{0}")]
    Invalid(&'static str),
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// Where the reader is, for text content.
#[derive(Clone, Copy, PartialEq, Eq)]
enum In {
    Other,
    State,
    RemoteIdentity,
}

/// Parses a document.
pub fn parse(xml: &str) -> Result<DialogInfo, DialogInfoError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut info: Option<DialogInfo> = None;
    let mut current: Option<(Dialog, bool)> = None; // the dialog, and whether a state was read
    let mut in_remote = false;
    let mut at = In::Other;
    let mut text = String::new();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| DialogInfoError::Xml(e.to_string()))?;
        // An empty <state/> or <identity/> has no text and no end tag.
        let empty = matches!(ev, Event::Empty(_));
        match ev {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "dialog-info" => {
                    let version = attr(&e, "version")
                        .and_then(|v| v.trim().parse().ok())
                        .ok_or(DialogInfoError::Invalid(
                            "dialog-info needs a numeric version",
                        ))?;
                    let state = match attr(&e, "state").as_deref().map(str::trim) {
                        Some("full") => DocState::Full,
                        Some("partial") => DocState::Partial,
                        _ => return Err(DialogInfoError::Invalid("state must be full or partial")),
                    };
                    info = Some(DialogInfo {
                        version,
                        state,
                        entity: attr(&e, "entity").unwrap_or_default(),
                        dialogs: Vec::new(),
                    });
                }
                "dialog" if info.is_some() => {
                    let id = attr(&e, "id")
                        .filter(|s| !s.is_empty())
                        .ok_or(DialogInfoError::Invalid("a dialog needs an id"))?;
                    current = Some((
                        Dialog {
                            id,
                            call_id: attr(&e, "call-id"),
                            direction: match attr(&e, "direction").as_deref() {
                                Some("initiator") => Some(Direction::Initiator),
                                Some("recipient") => Some(Direction::Recipient),
                                _ => None,
                            },
                            state: DialogState::Trying,
                            remote: None,
                            remote_name: None,
                        },
                        false,
                    ));
                }
                "state" if current.is_some() && !empty => {
                    text.clear();
                    at = In::State;
                }
                "remote" if current.is_some() => in_remote = true,
                "identity" if in_remote => {
                    if let Some((d, _)) = current.as_mut() {
                        d.remote_name = attr(&e, "display");
                    }
                    if !empty {
                        text.clear();
                        at = In::RemoteIdentity;
                    }
                }
                _ => {}
            },
            Event::Text(t) if at != In::Other => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if at != In::Other => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .map(str::to_owned),
                    Err(_) => None,
                };
                text.push_str(
                    &resolved.ok_or(DialogInfoError::Invalid("an unknown entity reference"))?,
                );
            }
            Event::End(e) => match e.local_name().as_ref() {
                "dialog" => {
                    if let (Some(info), Some((d, seen))) = (info.as_mut(), current.take()) {
                        if !seen {
                            return Err(DialogInfoError::Invalid("a dialog needs a state"));
                        }
                        info.dialogs.push(d);
                    }
                }
                "remote" => in_remote = false,
                "state" | "identity" => {
                    if let Some((d, seen)) = current.as_mut() {
                        match at {
                            In::State => {
                                d.state = DialogState::parse(&text)
                                    .ok_or(DialogInfoError::Invalid("unknown dialog state"))?;
                                *seen = true;
                            }
                            In::RemoteIdentity => d.remote = Some(text.trim().to_owned()),
                            In::Other => {}
                        }
                    }
                    text.clear();
                    at = In::Other;
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    info.ok_or(DialogInfoError::Invalid("no dialog-info element"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIRMED: &str = r#"<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="3" state="full"
             entity="sip:0101@pbx.example.com">
  <dialog id="d1" call-id="abc@pbx" local-tag="1" remote-tag="2" direction="recipient">
    <state event="remote-bye">confirmed</state>
    <local><identity>sip:0101@pbx.example.com</identity></local>
    <remote><identity display="Bob &amp; Co">sip:+14255550199@pbx.example.com</identity>
      <target uri="sip:+14255550199@10.0.0.1"/></remote>
  </dialog>
</dialog-info>"#;

    #[test]
    fn a_confirmed_incoming_call_is_read() {
        let info = parse(CONFIRMED).unwrap();
        assert_eq!(info.version, 3);
        assert_eq!(info.state, DocState::Full);
        assert_eq!(info.entity, "sip:0101@pbx.example.com");
        assert_eq!(
            info.dialogs,
            [Dialog {
                id: "d1".into(),
                call_id: Some("abc@pbx".into()),
                direction: Some(Direction::Recipient),
                state: DialogState::Confirmed,
                remote: Some("sip:+14255550199@pbx.example.com".into()),
                remote_name: Some("Bob & Co".into()),
            }]
        );
    }

    #[test]
    fn prefixed_and_empty_documents_and_errors() {
        let prefixed = r#"<d:dialog-info xmlns:d="urn:ietf:params:xml:ns:dialog-info" version="0" state="partial" entity="sip:a@b"><d:dialog id="x"><d:state>terminated</d:state></d:dialog></d:dialog-info>"#;
        let info = parse(prefixed).unwrap();
        assert_eq!(info.state, DocState::Partial);
        assert_eq!(info.dialogs[0].state, DialogState::Terminated);
        assert!(
            parse(r#"<dialog-info version="1" state="full" entity="sip:a@b"/>"#)
                .unwrap()
                .dialogs
                .is_empty()
        );
        for bad in [
            "",
            "<dialog-info",
            r#"<dialog-info state="full"/>"#,
            r#"<dialog-info version="x" state="full"/>"#,
            r#"<dialog-info version="1" state="some"/>"#,
            r#"<dialog-info version="1" state="full"><dialog id="a"><state>ringing</state></dialog></dialog-info>"#,
            r#"<dialog-info version="1" state="full"><dialog id="a"></dialog></dialog-info>"#,
            r#"<dialog-info version="1" state="full"><dialog><state>early</state></dialog></dialog-info>"#,
            "<other/>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
