//! `GET /metrics`: Prometheus text exposition of the process's counters.
//!
//! The `metrics` facade has one global recorder per process; [`install`] sets a Prometheus
//! recorder once (later calls, and other routers in the same process, share it). Counters:
//!
//! | Name | Labels | Counts |
//! |---|---|---|
//! | `viawork_http_requests_total` | `method`, `route`, `status` | HTTP requests answered |
//! | `viawork_sip_messages_total` | `direction` (`in`/`out`) | SIP messages received and sent |
//! | `viawork_store_errors_total` | | store failures (unreachable, failed queries) |
//! | `viawork_calls_started_total` | | Call Via Work calls started |
//! | `viawork_calls_ended_total` | `reason` | calls ended, by end reason |
//! | `viawork_calls_rejected_total` | `reason` (`overloaded`) | call setups refused before starting: more than `calls.max_pending_setups` at once |
//! | `viawork_calls_live` (gauge) | | calls in progress (ended ones until their legs are done) |
//! | `viawork_call_added_seconds` (summary) | `phase` | time ViaWork adds: `api_to_callback_invite` (API request → callback INVITE sent), `callback_answer_to_far_invite` (callback 200 → far INVITE sent) |
//! | `viawork_call_log_write_errors_total` | | failed call-log batch writes |
//! | `viawork_heap_allocated_bytes` (gauge) | | bytes the process has allocated now (when the binary registered its allocator's statistics, [`set_heap_stats`]) |
//! | `viawork_heap_resident_bytes` (gauge) | | bytes the allocator keeps resident (allocated, its metadata and freed pages not yet returned) |
//!
//! `route` is the matched route pattern (`/api/v1/me`), or `unmatched`, so that paths
//! chosen by clients cannot grow the label set.

use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// What the allocator says about the heap, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct HeapStats {
    /// Allocated by the program and not yet freed.
    pub allocated: u64,
    /// Held in memory by the allocator (allocated, metadata, pages not yet returned).
    pub resident: u64,
}

static HEAP_STATS: OnceLock<fn() -> Option<HeapStats>> = OnceLock::new();

/// Registers how to read the allocator's statistics (the binary knows its allocator; the
/// library does not). `/metrics` then reports `viawork_heap_*`.
pub fn set_heap_stats(read: fn() -> Option<HeapStats>) {
    let _ = HEAP_STATS.set(read);
}

/// Installs the Prometheus recorder as the process's recorder, once; returns its handle
/// (`None` when another recorder was installed first).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            match ::metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    describe();
                    Some(handle)
                }
                Err(_) => {
                    tracing::warn!("another metrics recorder is installed; /metrics stays empty");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    ::metrics::describe_counter!("viawork_http_requests_total", "HTTP requests answered");
    ::metrics::describe_counter!(
        "viawork_sip_messages_total",
        "SIP messages received (in) and sent (out)"
    );
    ::metrics::describe_counter!("viawork_store_errors_total", "store failures");
    ::metrics::describe_counter!("viawork_calls_started_total", "Call Via Work calls started");
    ::metrics::describe_counter!("viawork_calls_ended_total", "calls ended, by end reason");
    ::metrics::describe_gauge!("viawork_calls_live", "calls in progress");
    ::metrics::describe_counter!(
        "viawork_presence_events_total",
        "presence.updated events delivered to users' event streams"
    );
    ::metrics::describe_gauge!(
        "viawork_presence_event_streams",
        "open event streams (signed-in API clients)"
    );
    ::metrics::describe_counter!(
        "viawork_calls_rejected_total",
        "call setups refused before starting, by reason"
    );
    ::metrics::describe_gauge!(
        "viawork_heap_allocated_bytes",
        ::metrics::Unit::Bytes,
        "heap allocated and not freed"
    );
    ::metrics::describe_gauge!(
        "viawork_heap_resident_bytes",
        ::metrics::Unit::Bytes,
        "memory the allocator keeps resident"
    );
    ::metrics::describe_histogram!(
        "viawork_call_added_seconds",
        ::metrics::Unit::Seconds,
        "time ViaWork adds before sending a leg's INVITE"
    );
}

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

async fn render() -> impl IntoResponse {
    if let Some(stats) = HEAP_STATS.get().and_then(|read| read()) {
        ::metrics::gauge!("viawork_heap_allocated_bytes").set(stats.allocated as f64);
        ::metrics::gauge!("viawork_heap_resident_bytes").set(stats.resident as f64);
    }
    let text = install().map(PrometheusHandle::render).unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// Middleware: counts each answered request by method, route pattern and status.
pub(super) async fn count_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let resp = next.run(req).await;
    ::metrics::counter!(
        "viawork_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => resp.status().as_u16().to_string(),
    )
    .increment(1);
    resp
}
