//! Writing the call log off the signalling path. Every call gets its row when it starts
//! and the row is completed when it ends, in batches on a task of its own (group commit:
//! a write waits up to 20 ms for more rows), so a slow store never delays SIP and a crash
//! loses no call written so far: at startup, rows of calls that were live when the server
//! stopped are closed as `failed` by `system`.

use super::manager::{CallView, FinishedCall};
use crate::store::{CallRecordRow, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the writer records.
#[derive(Debug, Clone)]
pub enum LogEntry {
    /// A call started (its row exists from now on).
    Started {
        /// The call.
        view: CallView,
        /// The owner's SIP URI.
        owner: String,
    },
    /// A call is over.
    Finished {
        /// The call.
        call: FinishedCall,
        /// Per-leg media statistics (JSON), when the engine carried media.
        media_stats: Option<String>,
    },
}

/// At most this many rows per write.
const BATCH: usize = 256;
/// How long a write waits for more rows after its first (group commit): under load one
/// transaction carries tens of calls instead of one or two, and the store's worker thread
/// wakes 50 times a second rather than once per call. It is also the most a crash can lose
/// of rows not yet written, beside the write in progress.
const LINGER: Duration = Duration::from_millis(20);
/// Retry delay when the store fails.
const RETRY: Duration = Duration::from_millis(500);

fn row(entry: &LogEntry) -> CallRecordRow {
    let (view, owner, ids, answered, stats) = match entry {
        LogEntry::Started { view, owner } => (view, owner, [None, None], None, None),
        LogEntry::Finished { call, media_stats } => (
            &call.view,
            &call.owner,
            call.sip_call_ids.clone(),
            call.callback_answered_at,
            media_stats.clone(),
        ),
    };
    let ms = |v: Option<u64>| v.map(|v| v as i64);
    let [callback_sip_call_id, far_sip_call_id] = ids;
    CallRecordRow {
        id: view.id.clone(),
        owner_sip_uri: owner.clone(),
        direction: view.direction.into(),
        // The other party: for a call to the user, the caller.
        to_text: match &view.from {
            Some(from) => view.from_name.clone().unwrap_or_else(|| from.clone()),
            None => view.to.clone(),
        },
        to_number: view.from.clone().unwrap_or_else(|| view.to_number.clone()),
        callback_number: view.callback_number.clone(),
        end_reason: view.end_reason.map(|r| r.as_str().to_owned()),
        hung_up_by: view.hung_up_by.map(|h| match h {
            super::HungUpBy::User => "user".to_owned(),
            super::HungUpBy::YourPhone => "your_phone".to_owned(),
            super::HungUpBy::FarEnd => "far_end".to_owned(),
            super::HungUpBy::System => "system".to_owned(),
        }),
        created_at: view.created_at as i64,
        callback_answered_at: ms(answered),
        connected_at: ms(view.connected_at),
        ended_at: ms(view.ended_at),
        callback_sip_call_id,
        far_sip_call_id,
        media_stats: stats,
    }
}

/// Closes rows left open by a previous run (a crash), then writes entries as they come
/// until the channel closes, draining what is queued before returning.
pub async fn writer(store: Arc<dyn Store>, mut rx: mpsc::UnboundedReceiver<LogEntry>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    match store.close_open_call_records(now).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            calls = n,
            "closed call log rows of calls cut off by a restart"
        ),
        Err(e) => tracing::error!(error = %e, "cannot close call log rows left open"),
    }
    let mut batch: Vec<CallRecordRow> = Vec::new();
    let mut open = true;
    while open {
        let Some(first) = rx.recv().await else { break };
        batch.push(row(&first));
        let linger = tokio::time::sleep(LINGER);
        tokio::pin!(linger);
        while batch.len() < BATCH {
            tokio::select! {
                biased;
                entry = rx.recv() => match entry {
                    Some(e) => batch.push(row(&e)),
                    None => {
                        open = false;
                        break;
                    }
                },
                _ = &mut linger => break,
            }
        }
        // A call started and finished in one batch is written once, finished: the store
        // keeps the write row-by-row upserts would have left (`upsert_call_records`).
        let mut tries = 0;
        while let Err(e) = store.upsert_call_records(&batch).await {
            tries += 1;
            metrics::counter!("viawork_call_log_write_errors_total").increment(1);
            tracing::error!(error = %e, rows = batch.len(), tries, "cannot write the call log");
            if tries >= 20 {
                break;
            }
            tokio::time::sleep(RETRY).await;
        }
        batch.clear();
    }
}
