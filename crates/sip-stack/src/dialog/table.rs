//! The dialogs of an endpoint, found by [`DialogId`] (RFC 3261 §12.2.2).
//!
//! A received request with a To tag belongs to the dialog (Call-ID, To tag, From tag); if
//! there is none, the UAS answers 481 (but never answers an ACK). A received response
//! belongs to the dialog (Call-ID, From tag, To tag). [`DialogTable`] does those lookups
//! without allocating, and runs the timers of all its dialogs.

use super::{Dialog, DialogError, DialogEvent, DialogId, DialogState};
use sip::{Message, Method, ResponseBuilder};
use std::collections::HashMap;
use std::time::Instant;

/// Where a received request goes.
// Messages are the currency of the layer, moved once to the transport: not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum RequestMatch<'a> {
    /// To this dialog: pass it to [`Dialog::handle_request`].
    Dialog(&'a mut Dialog),
    /// The To has a tag but no dialog matches: send this 481 (`None` for an ACK, which
    /// gets no response).
    NoDialog(Option<Message>),
    /// The To has no tag: a dialog-creating or out-of-dialog request.
    OutOfDialog,
    /// The request lacks a header a lookup needs; answer 400.
    Malformed(DialogError),
}

/// The dialogs of an endpoint.
#[derive(Debug, Default)]
pub struct DialogTable {
    by_call_id: HashMap<String, Vec<Dialog>>,
    len: usize,
}

impl DialogTable {
    /// An empty table.
    pub fn new() -> DialogTable {
        DialogTable::default()
    }

    /// Adds a dialog, returning the one it replaces (same identifier), if any.
    pub fn insert(&mut self, dialog: Dialog) -> Option<Dialog> {
        let list = self
            .by_call_id
            .entry(dialog.call_id().to_owned())
            .or_default();
        match list.iter_mut().find(|d| d.id == dialog.id) {
            Some(slot) => Some(std::mem::replace(slot, dialog)),
            None => {
                list.push(dialog);
                self.len += 1;
                None
            }
        }
    }

    /// The dialog with these parts.
    pub fn lookup(&self, call_id: &str, local_tag: &str, remote_tag: &str) -> Option<&Dialog> {
        self.by_call_id
            .get(call_id)?
            .iter()
            .find(|d| d.local_tag() == local_tag && d.remote_tag() == remote_tag)
    }

    /// The dialog with these parts, mutably.
    pub fn lookup_mut(
        &mut self,
        call_id: &str,
        local_tag: &str,
        remote_tag: &str,
    ) -> Option<&mut Dialog> {
        self.by_call_id
            .get_mut(call_id)?
            .iter_mut()
            .find(|d| d.local_tag() == local_tag && d.remote_tag() == remote_tag)
    }

    /// The dialog with this identifier.
    pub fn get(&self, id: &DialogId) -> Option<&Dialog> {
        self.lookup(&id.call_id, &id.local_tag, &id.remote_tag)
    }

    /// The dialog with this identifier, mutably.
    pub fn get_mut(&mut self, id: &DialogId) -> Option<&mut Dialog> {
        self.lookup_mut(&id.call_id, &id.local_tag, &id.remote_tag)
    }

    /// Removes a dialog.
    pub fn remove(&mut self, id: &DialogId) -> Option<Dialog> {
        let list = self.by_call_id.get_mut(&id.call_id)?;
        let i = list.iter().position(|d| &d.id == id)?;
        let d = list.swap_remove(i);
        if list.is_empty() {
            self.by_call_id.remove(&id.call_id);
        }
        self.len -= 1;
        Some(d)
    }

    /// Removes and returns every terminated dialog.
    pub fn remove_terminated(&mut self) -> Vec<Dialog> {
        let mut out = Vec::new();
        self.by_call_id.retain(|_, list| {
            let (dead, live): (Vec<_>, Vec<_>) = std::mem::take(list)
                .into_iter()
                .partition(|d| d.state() == DialogState::Terminated);
            out.extend(dead);
            *list = live;
            !list.is_empty()
        });
        self.len -= out.len();
        out
    }

    /// The number of dialogs.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every dialog.
    pub fn iter(&self) -> impl Iterator<Item = &Dialog> {
        self.by_call_id.values().flatten()
    }

    /// Every dialog of a Call-ID (the forks of one call).
    pub fn with_call_id<'a>(&'a self, call_id: &str) -> impl Iterator<Item = &'a Dialog> {
        self.by_call_id.get(call_id).into_iter().flatten()
    }

    /// Finds the dialog of a received request (RFC 3261 §12.2.2).
    pub fn match_request(&mut self, req: &Message) -> RequestMatch<'_> {
        let ids = (|| -> Result<_, DialogError> {
            let to_tag = req.to_header()?.tag();
            let from_tag = req.from_header()?.tag().unwrap_or("");
            Ok((req.call_id()?, to_tag, from_tag))
        })();
        let (call_id, to_tag, from_tag) = match ids {
            Ok(v) => v,
            Err(e) => return RequestMatch::Malformed(e),
        };
        let Some(local) = to_tag else {
            return RequestMatch::OutOfDialog;
        };
        if let Some(d) = self.by_call_id.get_mut(call_id).and_then(|l| {
            l.iter_mut()
                .find(|d| d.local_tag() == local && d.remote_tag() == from_tag)
        }) {
            return RequestMatch::Dialog(d);
        }
        if req.method() == Some(&Method::Ack) {
            RequestMatch::NoDialog(None)
        } else {
            RequestMatch::NoDialog(ResponseBuilder::reply(req, 481, None).build().ok())
        }
    }

    /// Finds the dialog of a received response: (Call-ID, From tag, To tag).
    pub fn match_response(&mut self, resp: &Message) -> Option<&mut Dialog> {
        let call_id = resp.call_id().ok()?;
        let local = resp.from_header().ok()?.tag()?;
        let remote = resp.to_header().ok()?.tag().unwrap_or("");
        self.by_call_id
            .get_mut(call_id)?
            .iter_mut()
            .find(|d| d.local_tag() == local && d.remote_tag() == remote)
    }

    /// The earliest wake-up of any dialog.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.iter().filter_map(Dialog::poll_timeout).min()
    }

    /// Runs the timers of every dialog due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<(DialogId, DialogEvent)> {
        let mut out = Vec::new();
        for d in self.by_call_id.values_mut().flatten() {
            if d.poll_timeout().is_some_and(|t| t <= now) {
                let id = d.id.clone();
                out.extend(d.handle_timeout(now).into_iter().map(|e| (id.clone(), e)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;
    use sip::HeaderName;

    #[test]
    fn requests_and_responses_find_their_dialog() {
        let (uac, uas) = established();
        let mut t = DialogTable::new();
        assert!(t.insert(uac.clone()).is_none());
        assert!(t.insert(uas.clone()).is_none());
        assert_eq!(t.len(), 2);
        assert!(t.insert(uac.clone()).is_some());
        assert_eq!(t.len(), 2);
        // A BYE from Bob to Alice's dialog.
        let bye = peer_request(&uac, Method::Bye, 2, None, None);
        match t.match_request(&bye) {
            RequestMatch::Dialog(d) => assert_eq!(d.role(), super::super::Role::Uac),
            other => panic!("{other:?}"),
        }
        // A request from Alice to Bob's dialog.
        let info = peer_request(&uas, Method::Info, 2, None, None);
        match t.match_request(&info) {
            RequestMatch::Dialog(d) => assert_eq!(d.role(), super::super::Role::Uas),
            other => panic!("{other:?}"),
        }
        // Unknown to-tag: 481; ACK: silence; no to-tag: out of dialog.
        let stale = bye
            .edit()
            .replace(HeaderName::To, "<sip:alice@example.com>;tag=gone")
            .finish()
            .unwrap();
        match t.match_request(&stale) {
            RequestMatch::NoDialog(Some(r)) => assert_eq!(r.status(), Some(481)),
            other => panic!("{other:?}"),
        }
        let ack = peer_request(&uac, Method::Ack, 1, None, None)
            .edit()
            .replace(HeaderName::To, "<sip:alice@example.com>;tag=gone")
            .finish()
            .unwrap();
        assert!(matches!(
            t.match_request(&ack),
            RequestMatch::NoDialog(None)
        ));
        let fresh = bye
            .edit()
            .replace(HeaderName::To, "<sip:alice@example.com>")
            .finish()
            .unwrap();
        assert!(matches!(t.match_request(&fresh), RequestMatch::OutOfDialog));
        // A response to Alice's request finds Alice's dialog.
        let mut uac2 = uac.clone();
        let req = uac2.request(Method::Info, &via()).unwrap().build().unwrap();
        let resp = response_to(&req, 200, None);
        assert_eq!(
            t.match_response(&resp).unwrap().role(),
            super::super::Role::Uac
        );
        // Removal.
        assert!(t.remove(uac.id()).is_some());
        assert_eq!(t.len(), 1);
        t.get_mut(uas.id()).unwrap().terminate();
        assert_eq!(t.remove_terminated().len(), 1);
        assert!(t.is_empty());
    }
}
