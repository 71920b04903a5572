//! Hands messages to their recipients' event streams exactly once.
//!
//! A message is stored with a pending delivery per recipient before anyone is told. Then
//! one task — this one — publishes it to each recipient who has a client connected now
//! (`EventHub::publish_if_connected`, atomic with the check) and marks that delivery done;
//! the others stay pending. When a user's client opens a stream, the same task publishes
//! their pending messages, oldest first, and tells each sender's clients with a
//! `message.status` event. Because one task does both, a message is never handed over twice
//! (a new message racing a sign-in) and never left pending while its recipient is
//! connected.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::model::{Delivery, MessageView, RecipientStatus};
use super::SipIm;
use crate::events::EventHub;
use crate::store::{unix_now_ms, Store};

/// Pending messages handed over per store read when a client connects.
const PENDING_PAGE: u32 = 200;

/// Work for the delivery task.
pub(super) enum Job {
    /// Hand a new message to its recipients (`(user id, SIP URI)`), answering with where
    /// it got to.
    Deliver {
        message: Arc<MessageView>,
        from_name: String,
        recipients: Vec<(i64, String)>,
        reply: oneshot::Sender<Vec<RecipientStatus>>,
    },
}

/// Runs until both feeds close.
pub(super) async fn run(
    store: Arc<dyn Store>,
    hub: EventHub,
    sip: Option<SipIm>,
    mut jobs: mpsc::Receiver<Job>,
    mut connections: mpsc::UnboundedReceiver<Arc<str>>,
) {
    // Deliveries handed over but not yet recorded: written in one transaction when the
    // queue runs dry (or the batch is full), and always before pending messages are looked
    // up, so that a message is never handed over twice by this task.
    let mut marks: Vec<(i64, i64)> = Vec::new();
    loop {
        tokio::select! {
            job = jobs.recv() => match job {
                Some(Job::Deliver { message, from_name, recipients, reply }) => {
                    let statuses = deliver(&hub, &message, &recipients, &mut marks);
                    let _ = reply.send(statuses);
                    if let Some(sip) = &sip {
                        to_sip_clients(sip, &store, &hub, &message, &from_name, &recipients);
                    }
                    if jobs.is_empty() || marks.len() >= MARK_BATCH {
                        flush(store.as_ref(), &mut marks).await;
                    }
                }
                None => break,
            },
            Some(user) = connections.recv() => {
                flush(store.as_ref(), &mut marks).await;
                if let Err(e) = deliver_pending(store.as_ref(), &hub, &user).await {
                    tracing::warn!(%user, error = %e, "could not deliver pending messages");
                }
            }
        }
    }
    flush(store.as_ref(), &mut marks).await;
}

/// Deliveries recorded per transaction at most.
const MARK_BATCH: usize = 256;

/// Records the deliveries handed over. If the store fails they stay pending and are handed
/// over again when the recipient next connects: at least once rather than lost.
async fn flush(store: &dyn Store, marks: &mut Vec<(i64, i64)>) {
    if marks.is_empty() {
        return;
    }
    if let Err(e) = store.mark_delivered_many(marks, unix_now_ms()).await {
        tracing::warn!(error = %e, count = marks.len(), "could not record deliveries");
    }
    marks.clear();
}

fn deliver(
    hub: &EventHub,
    message: &MessageView,
    recipients: &[(i64, String)],
    marks: &mut Vec<(i64, i64)>,
) -> Vec<RecipientStatus> {
    let data = json!({ "direction": "incoming", "message": message });
    let mut out = Vec::with_capacity(recipients.len());
    for (user_id, uri) in recipients {
        let mut status = Delivery::Pending;
        if hub
            .publish_if_connected(uri, "message.received", &data)
            .is_some()
        {
            marks.push((message.id, *user_id));
            status = Delivery::Delivered;
        }
        out.push(RecipientStatus {
            uri: uri.clone(),
            status,
        });
    }
    out
}

/// Sends the message to the recipients' registered SIP clients too, off this task (a
/// client has seconds to answer); a 2xx counts as delivered, and when that is the first
/// delivery the sender hears it.
fn to_sip_clients(
    sip: &SipIm,
    store: &Arc<dyn Store>,
    hub: &EventHub,
    message: &Arc<MessageView>,
    from_name: &str,
    recipients: &[(i64, String)],
) {
    for (user_id, uri) in recipients {
        if !sip.has_clients(uri) {
            continue;
        }
        let (sip, store, hub, message) = (sip.clone(), store.clone(), hub.clone(), message.clone());
        let (user_id, uri, from_name) = (*user_id, uri.clone(), from_name.to_owned());
        tokio::spawn(async move {
            if !sip.send((&message.from, &from_name), &uri, &message).await {
                return;
            }
            if let Ok(true) = store
                .mark_delivered(message.id, user_id, unix_now_ms())
                .await
            {
                hub.publish(
                    &message.from,
                    "message.status",
                    &json!({
                        "conversation_id": message.conversation_id,
                        "message_id": message.id,
                        "recipients": [{"uri": uri, "status": Delivery::Delivered}],
                    }),
                );
            }
        });
    }
}

async fn deliver_pending(
    store: &dyn Store,
    hub: &EventHub,
    user: &str,
) -> Result<(), crate::store::StoreError> {
    let Some(row) = store.get_user_by_sip_uri(user).await? else {
        return Ok(());
    };
    loop {
        let page = store.pending_messages(row.id, PENDING_PAGE).await?;
        if page.is_empty() {
            return Ok(());
        }
        let mut marked = 0;
        for m in &page {
            let message = MessageView::new(m);
            let data = json!({ "direction": "incoming", "message": message });
            if hub
                .publish_if_connected(&row.sip_uri, "message.received", &data)
                .is_none()
            {
                // Their client went away again: the rest waits for the next one.
                return Ok(());
            }
            if store.mark_delivered(m.id, row.id, unix_now_ms()).await? {
                marked += 1;
            }
            hub.publish(
                &m.sender_sip_uri,
                "message.status",
                &json!({
                    "conversation_id": m.conversation_id,
                    "message_id": m.id,
                    "recipients": [{"uri": row.sip_uri, "status": Delivery::Delivered}],
                }),
            );
        }
        if marked == 0 {
            // Nothing could be marked: do not hand the same page over again.
            return Ok(());
        }
    }
}
