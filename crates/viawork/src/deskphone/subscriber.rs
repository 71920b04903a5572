//! The tokio side of desk-phone state: subscribes to the PBX's dialog event package for
//! each Call Via Work user's line (an Enterprise Voice user with a LineURI), answers the
//! PBX's NOTIFYs, and feeds [`Line`] — presence hears when the phone is busy, the call log
//! gets the calls that ended on it.
//!
//! Each refresh is a new subscription (a fresh Call-ID), made every 80 % of the expiry;
//! NOTIFYs of a replaced subscription get 481, which ends it at the PBX (RFC 6665 §4.1.3).
//! That costs one extra dialog for a moment per line and needs no in-dialog SUBSCRIBE
//! state. Users added or changed are picked up at the next refresh. Calls of ViaWork's own
//! (the Call Via Work callback, which shows the global caller ID) are left out of the call
//! log: they are there already, as Call Via Work calls.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sip::headers::{Event as EventHeader, TypedHeader};
use sip::{HeaderName, Message, Method, ResponseBuilder};
use sip_stack::endpoint::EndpointHandle;
use sip_stack::transaction::{TransactionKey, TuEvent};

use super::dialog_info;
use super::line::{DeskCall, Line, LineOutput};
use crate::calls::trunk::Trunk;
use crate::domain::{Dialable, LineUri, UserUri};
use crate::presence::PresenceService;
use crate::store::{CallRecordRow, Store};

struct Entry {
    user: UserUri,
    line: Line,
}

#[derive(Default)]
struct Inner {
    /// Line by the owner's SIP URI.
    lines: HashMap<String, Entry>,
    /// The live subscription of each line, by Call-ID.
    by_call_id: HashMap<String, String>,
    /// SUBSCRIBE transactions in flight.
    waiting: HashSet<TransactionKey>,
}

/// Desk-phone subscriptions. Cheap to clone.
#[derive(Clone)]
pub struct DeskPhones {
    inner: Arc<Mutex<Inner>>,
    handle: EndpointHandle,
    trunk: Arc<Trunk>,
    store: Arc<dyn Store>,
    presence: PresenceService,
    expires: u32,
}

impl DeskPhones {
    /// Subscribes every line now and keeps the subscriptions fresh (a task on the current
    /// runtime), with `expires` seconds per subscription.
    pub fn start(
        handle: EndpointHandle,
        trunk: Arc<Trunk>,
        store: Arc<dyn Store>,
        presence: PresenceService,
        expires: u32,
    ) -> DeskPhones {
        let d = DeskPhones {
            inner: Arc::default(),
            handle,
            trunk,
            store,
            presence,
            expires,
        };
        let again = d.clone();
        tokio::spawn(async move {
            let period = Duration::from_secs(u64::from(again.expires) * 4 / 5);
            loop {
                again.subscribe_all().await;
                tokio::time::sleep(period).await;
            }
        });
        d
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn subscribe_all(&self) {
        let mut after: Option<String> = None;
        loop {
            let page = match self.store.list_users(after.as_deref(), 500).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "desk phones: cannot list users");
                    return;
                }
            };
            let Some(last) = page.last() else { return };
            after = Some(last.sip_uri.clone());
            for u in page.iter().filter(|u| u.enabled && u.enterprise_voice) {
                let (Ok(user), Ok(line)) =
                    (u.sip_uri.parse::<UserUri>(), u.line_uri.parse::<LineUri>())
                else {
                    continue;
                };
                self.subscribe(user, &line).await;
            }
        }
    }

    /// (Re)subscribes one line.
    async fn subscribe(&self, user: UserUri, line: &LineUri) {
        let target = self.trunk.uri_for(&Dialable::E164(line.number().clone()));
        let Some((b, call_id, _tag)) = self.trunk.out_of_dialog(&Method::Subscribe, &target, 1)
        else {
            return;
        };
        let req = b
            .header(
                HeaderName::Contact,
                format_args!("<{}>", self.trunk.contact()),
            )
            .header(HeaderName::Event, "dialog")
            .header(HeaderName::Accept, "application/dialog-info+xml")
            .header(HeaderName::Expires, self.expires)
            .build();
        let Ok(req) = req else { return };
        let aor = user.to_string();
        {
            let mut inner = self.inner();
            inner.by_call_id.retain(|_, a| *a != aor);
            inner.by_call_id.insert(call_id, aor.clone());
            let entry = inner.lines.entry(aor).or_insert_with(|| Entry {
                user,
                line: Line::default(),
            });
            entry.line.resubscribed();
        }
        match self.handle.send_request(req, self.trunk.peer).await {
            Ok(key) => {
                self.inner().waiting.insert(key);
            }
            Err(e) => tracing::warn!(error = %e, "desk phones: cannot send SUBSCRIBE"),
        }
    }

    /// Takes the transaction events of this module's SUBSCRIBEs; false for others.
    pub fn on_tu_event(&self, ev: &TuEvent) -> bool {
        let mut inner = self.inner();
        match ev {
            TuEvent::Response { key, msg } if inner.waiting.contains(key) => {
                if let Some(s) = msg.status().filter(|s| *s >= 300) {
                    tracing::warn!(status = s, "desk phones: the PBX refused a SUBSCRIBE");
                }
                true
            }
            TuEvent::Timeout { key } | TuEvent::TransportError { key }
                if inner.waiting.contains(key) =>
            {
                tracing::warn!("desk phones: a SUBSCRIBE got no answer");
                true
            }
            TuEvent::Terminated { key } => inner.waiting.remove(key),
            _ => false,
        }
    }

    /// Answers a NOTIFY of the dialog package (`None` for any other request).
    pub fn on_notify(&self, req: &Message) -> Option<Message> {
        if req.method() != Some(&Method::Notify) {
            return None;
        }
        let event = req.get(HeaderName::Event)?;
        let package = EventHeader::parse(event)
            .ok()
            .map(|e| e.package.to_ascii_lowercase());
        if package.as_deref() != Some("dialog") {
            return None;
        }
        let call_id = req.call_id().ok()?;
        let reply = |code: u16| ResponseBuilder::reply(req, code, None).build().ok();
        let Some(aor) = self.inner().by_call_id.get(call_id).cloned() else {
            return reply(481);
        };
        let terminated = req.get(HeaderName::SubscriptionState).is_some_and(|s| {
            s.trim_start()
                .to_ascii_lowercase()
                .starts_with("terminated")
        });
        let mut outputs = Vec::new();
        let mut user = None;
        if !req.body().is_empty() {
            let info = std::str::from_utf8(req.body())
                .map_err(|_| "not UTF-8".to_owned())
                .and_then(|t| dialog_info::parse(t).map_err(|e| e.to_string()));
            let info = match info {
                Ok(i) => i,
                Err(e) => {
                    tracing::info!(error = %e, "desk phones: bad dialog-info document");
                    return ResponseBuilder::reply(req, 400, None)
                        .header(
                            HeaderName::Warning,
                            format!("399 - \"{}\"", e.replace('"', "'")),
                        )
                        .build()
                        .ok();
                }
            };
            let now = crate::store::unix_now_ms();
            let mut inner = self.inner();
            if let Some(entry) = inner.lines.get_mut(&aor) {
                outputs = entry.line.on_notify(info, now);
                user = Some(entry.user.clone());
            }
        }
        if terminated {
            self.inner().by_call_id.remove(call_id);
        }
        let resubscribe = terminated || outputs.contains(&LineOutput::Resubscribe);
        if let Some(user) = &user {
            for o in outputs {
                match o {
                    LineOutput::Activity(a) => self.presence.set_phone_activity(user, a),
                    LineOutput::Finished(call) => self.log(user.to_string(), call),
                    LineOutput::Resubscribe => {}
                }
            }
        }
        if resubscribe {
            let me = self.clone();
            tokio::spawn(async move {
                let Ok(Some(row)) = me.store.get_user_by_sip_uri(&aor).await else {
                    return;
                };
                if let (Ok(user), Ok(line)) = (
                    row.sip_uri.parse::<UserUri>(),
                    row.line_uri.parse::<LineUri>(),
                ) {
                    me.subscribe(user, &line).await;
                }
            });
        }
        reply(200)
    }

    /// Writes a call that ended on the desk phone to the call log (unless it was the
    /// callback of a Call Via Work call, or an incoming call ViaWork rang the phone for:
    /// those are logged already).
    fn log(&self, owner: String, call: DeskCall) {
        if call
            .call_id
            .as_deref()
            .is_some_and(|c| crate::calls::leg::is_own_call_id(c, &self.trunk.domain))
        {
            return;
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            let caller_id = store
                .get_routing()
                .await
                .ok()
                .and_then(|r| r.call_via_work_caller_id)
                .map(|c| c.trim_start_matches('+').to_owned());
            let remote = call.remote.clone().unwrap_or_default();
            if caller_id.is_some_and(|c| !c.is_empty() && remote.contains(&c)) {
                return;
            }
            let number: String = remote
                .split_once(':')
                .map_or(remote.as_str(), |(_, r)| r)
                .split(['@', ';'])
                .next()
                .unwrap_or("")
                .to_owned();
            let row = CallRecordRow {
                id: format!("desk-{:032x}", rand::random::<u128>()),
                owner_sip_uri: owner,
                direction: match call.direction {
                    Some(dialog_info::Direction::Initiator) => "desk_phone_outbound",
                    Some(dialog_info::Direction::Recipient) => "desk_phone_inbound",
                    None => "desk_phone",
                }
                .into(),
                to_text: call.remote_name.clone().unwrap_or_else(|| remote.clone()),
                to_number: number,
                callback_number: String::new(),
                end_reason: Some(
                    if call.connected_at.is_some() {
                        "completed"
                    } else {
                        "missed"
                    }
                    .into(),
                ),
                hung_up_by: None,
                created_at: call.started_at,
                callback_answered_at: None,
                connected_at: call.connected_at,
                ended_at: Some(call.ended_at),
                callback_sip_call_id: None,
                far_sip_call_id: call.call_id,
                media_stats: None,
            };
            if let Err(e) = store.upsert_call_records(&[row]).await {
                tracing::warn!(error = %e, "desk phones: cannot write the call log");
            }
        });
    }
}
