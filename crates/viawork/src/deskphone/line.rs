//! One desk-phone line's dialogs, kept across the PBX's NOTIFYs (RFC 4235 §4.1), without IO.
//!
//! Versions: a document older than or equal to the last one applied is a duplicate and is
//! ignored; a partial document that skips a version means one was lost, so the state is no
//! longer known: nothing is applied and the owner is told to subscribe again (which brings a
//! full document). A full document replaces everything: a dialog missing from it is over.
//! A dialog that ends — `terminated`, or gone from a full document — comes out as a
//! [`DeskCall`] for the call log (answered or not); the line is busy while any dialog is
//! `confirmed` (ringing does not count, as for Call Via Work calls).

use std::collections::HashMap;

use super::dialog_info::{DialogInfo, DialogState, Direction, DocState};
use crate::presence::PhoneActivity;

/// A call on the desk phone that is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskCall {
    /// The PBX's dialog id.
    pub id: String,
    /// The SIP Call-ID, when the PBX gave it.
    pub call_id: Option<String>,
    /// Who started it, when known.
    pub direction: Option<Direction>,
    /// The other party, when known.
    pub remote: Option<String>,
    /// Their name, when known.
    pub remote_name: Option<String>,
    /// When ViaWork first heard of it (Unix ms).
    pub started_at: i64,
    /// When it was answered, if it was.
    pub connected_at: Option<i64>,
    /// When it ended.
    pub ended_at: i64,
}

/// What a NOTIFY changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineOutput {
    /// The phone became busy or idle.
    Activity(PhoneActivity),
    /// A call ended.
    Finished(DeskCall),
    /// A version was skipped: subscribe again for a full document.
    Resubscribe,
}

#[derive(Debug, Clone)]
struct Tracked {
    call_id: Option<String>,
    direction: Option<Direction>,
    remote: Option<String>,
    remote_name: Option<String>,
    state: DialogState,
    started_at: i64,
    connected_at: Option<i64>,
}

/// A line's state.
#[derive(Debug, Default)]
pub struct Line {
    version: Option<u64>,
    dialogs: HashMap<String, Tracked>,
    activity: PhoneActivity,
}

impl Line {
    /// Whether the phone is in a call now.
    pub fn activity(&self) -> PhoneActivity {
        self.activity
    }

    /// A new subscription: the next document starts a new version sequence (the dialogs
    /// stay until that full document says otherwise).
    pub fn resubscribed(&mut self) {
        self.version = None;
    }

    /// Applies a document received at `now_ms`.
    pub fn on_notify(&mut self, info: DialogInfo, now_ms: i64) -> Vec<LineOutput> {
        let mut out = Vec::new();
        match (self.version, info.state) {
            (Some(v), _) if info.version <= v => return out,
            (Some(v), DocState::Partial) if info.version != v + 1 => {
                return vec![LineOutput::Resubscribe]
            }
            (None, DocState::Partial) => return vec![LineOutput::Resubscribe],
            _ => {}
        }
        self.version = Some(info.version);
        if info.state == DocState::Full {
            let listed: Vec<&str> = info.dialogs.iter().map(|d| d.id.as_str()).collect();
            let gone: Vec<String> = self
                .dialogs
                .keys()
                .filter(|id| !listed.contains(&id.as_str()))
                .cloned()
                .collect();
            for id in gone {
                if let Some(t) = self.dialogs.remove(&id) {
                    out.push(LineOutput::Finished(finished(id, t, now_ms)));
                }
            }
        }
        for d in info.dialogs {
            if d.state == DialogState::Terminated {
                let t = self.dialogs.remove(&d.id).unwrap_or(Tracked {
                    call_id: d.call_id.clone(),
                    direction: d.direction,
                    remote: d.remote.clone(),
                    remote_name: d.remote_name.clone(),
                    state: d.state,
                    started_at: now_ms,
                    connected_at: None,
                });
                out.push(LineOutput::Finished(finished(d.id, t, now_ms)));
                continue;
            }
            let t = self.dialogs.entry(d.id).or_insert(Tracked {
                call_id: None,
                direction: None,
                remote: None,
                remote_name: None,
                state: d.state,
                started_at: now_ms,
                connected_at: None,
            });
            t.state = d.state;
            t.call_id = d.call_id.or(t.call_id.take());
            t.direction = d.direction.or(t.direction);
            t.remote = d.remote.or(t.remote.take());
            t.remote_name = d.remote_name.or(t.remote_name.take());
            if d.state == DialogState::Confirmed && t.connected_at.is_none() {
                t.connected_at = Some(now_ms);
            }
        }
        let busy = if self
            .dialogs
            .values()
            .any(|t| t.state == DialogState::Confirmed)
        {
            PhoneActivity::Busy
        } else {
            PhoneActivity::Idle
        };
        if busy != self.activity {
            self.activity = busy;
            out.push(LineOutput::Activity(busy));
        }
        out
    }
}

fn finished(id: String, t: Tracked, now_ms: i64) -> DeskCall {
    DeskCall {
        id,
        call_id: t.call_id,
        direction: t.direction,
        remote: t.remote,
        remote_name: t.remote_name,
        started_at: t.started_at,
        connected_at: t.connected_at,
        ended_at: now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deskphone::dialog_info::Dialog;

    fn doc(version: u64, state: DocState, dialogs: &[(&str, DialogState)]) -> DialogInfo {
        DialogInfo {
            version,
            state,
            entity: "sip:0101@pbx".into(),
            dialogs: dialogs
                .iter()
                .map(|(id, s)| Dialog {
                    id: (*id).into(),
                    call_id: Some(format!("{id}@pbx")),
                    direction: Some(Direction::Recipient),
                    state: *s,
                    remote: Some("sip:+14255550199@pbx".into()),
                    remote_name: None,
                })
                .collect(),
        }
    }

    #[test]
    fn an_answered_call_makes_the_line_busy_then_logs_it() {
        let mut line = Line::default();
        assert!(line.on_notify(doc(0, DocState::Full, &[]), 0).is_empty());
        let out = line.on_notify(
            doc(1, DocState::Partial, &[("a", DialogState::Early)]),
            1_000,
        );
        assert!(out.is_empty(), "ringing is not busy: {out:?}");
        let out = line.on_notify(
            doc(2, DocState::Partial, &[("a", DialogState::Confirmed)]),
            2_000,
        );
        assert_eq!(out, [LineOutput::Activity(PhoneActivity::Busy)]);
        // A duplicate changes nothing.
        assert!(line
            .on_notify(
                doc(2, DocState::Partial, &[("a", DialogState::Terminated)]),
                2_500
            )
            .is_empty());
        let out = line.on_notify(
            doc(3, DocState::Partial, &[("a", DialogState::Terminated)]),
            9_000,
        );
        assert_eq!(
            out,
            [
                LineOutput::Finished(DeskCall {
                    id: "a".into(),
                    call_id: Some("a@pbx".into()),
                    direction: Some(Direction::Recipient),
                    remote: Some("sip:+14255550199@pbx".into()),
                    remote_name: None,
                    started_at: 1_000,
                    connected_at: Some(2_000),
                    ended_at: 9_000,
                }),
                LineOutput::Activity(PhoneActivity::Idle),
            ]
        );
    }

    #[test]
    fn a_lost_version_asks_for_a_full_document_which_replaces_everything() {
        let mut line = Line::default();
        // Partial before any full document: unknown state.
        assert_eq!(
            line.on_notify(doc(5, DocState::Partial, &[]), 0),
            [LineOutput::Resubscribe]
        );
        line.on_notify(
            doc(
                0,
                DocState::Full,
                &[("a", DialogState::Confirmed), ("b", DialogState::Early)],
            ),
            100,
        );
        assert_eq!(line.activity(), PhoneActivity::Busy);
        assert_eq!(
            line.on_notify(doc(2, DocState::Partial, &[]), 200),
            [LineOutput::Resubscribe],
            "version 1 was lost"
        );
        line.resubscribed();
        // The new full document no longer lists "a": it ended (answered), "b" rings on.
        let out = line.on_notify(doc(0, DocState::Full, &[("b", DialogState::Early)]), 300);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(
            matches!(&out[0], LineOutput::Finished(c) if c.id == "a" && c.connected_at == Some(100))
        );
        assert_eq!(out[1], LineOutput::Activity(PhoneActivity::Idle));
        // "b" was never answered: a missed call when it ends.
        let out = line.on_notify(
            doc(1, DocState::Partial, &[("b", DialogState::Terminated)]),
            400,
        );
        assert!(
            matches!(&out[0], LineOutput::Finished(c) if c.id == "b" && c.connected_at.is_none())
        );
    }
}
