//! `GET /healthz`: whether this node can serve. 200 with `"status": "ok"` when the store
//! answers a ping (within 2 s) and at least one SIP listener is bound; otherwise 503 with
//! `"status": "degraded"` and the same body, so a load balancer and a person read the same.
//!
//! ```json
//! {"status": "ok", "store": {"reachable": true}, "sip": {"listeners": ["udp:127.0.0.1:5060"]}}
//! ```

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::AppState;

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let health = check(&state).await;
    let status = if health.status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health))
}

/// The body of `/healthz`.
#[derive(Debug, Serialize)]
pub struct Health {
    status: &'static str,
    store: StoreHealth,
    sip: SipHealth,
}

#[derive(Debug, Serialize)]
struct StoreHealth {
    reachable: bool,
}

#[derive(Debug, Serialize)]
struct SipHealth {
    listeners: Vec<String>,
}

/// Pings the store and looks at the SIP listeners.
pub async fn check(state: &AppState) -> Health {
    let reachable = match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            ::metrics::counter!("viawork_store_errors_total").increment(1);
            tracing::warn!(error = %e, "health check: store unreachable");
            false
        }
        Err(_) => {
            ::metrics::counter!("viawork_store_errors_total").increment(1);
            tracing::warn!("health check: store ping timed out");
            false
        }
    };
    let listeners = state.sip_listeners.to_vec();
    Health {
        status: if reachable && !listeners.is_empty() {
            "ok"
        } else {
            "degraded"
        },
        store: StoreHealth { reachable },
        sip: SipHealth { listeners },
    }
}
