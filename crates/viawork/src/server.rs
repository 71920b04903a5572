//! The running server: starts the SIP endpoint (transports + transaction layer) and acts
//! as its transaction user until told to stop.
//!
//! Requests the server answers itself go through [`crate::sip_service::SipService`];
//! each answer is sent on the request's server transaction, so retransmissions are
//! absorbed and non-2xx finals are retransmitted until ACKed (RFC 3261 §17.2).

use crate::config::Config;
use crate::sip_service::{first_line, SipService};
use sip_stack::endpoint::{self, EndpointConfig, EndpointEvent, EndpointHandle};
use sip_stack::transaction::TuEvent;

/// Runs the SIP side until `shutdown` resolves.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let (handle, mut events) = endpoint::start(EndpointConfig {
        listen: config.sip_listen.clone(),
        tls: config.tls.clone(),
        timers: config.timers,
    })
    .await
    .map_err(|e| anyhow::anyhow!("config key `sip_listen`: cannot bind: {e}"))?;
    for (t, addr) in handle.local_addrs() {
        // Tests and operators read this line to learn the bound ports.
        println!(
            "SIP listening on {}:{addr}",
            t.as_str().to_ascii_lowercase()
        );
        tracing::info!(transport = %t, %addr, "SIP listener bound");
    }
    let service = SipService::new(&config.domain, &config.server_name);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => {
                tracing::info!("shutting down");
                return Ok(());
            }
            event = events.recv() => {
                let Some(event) = event else { return Ok(()) };
                handle_event(&service, &handle, event).await;
            }
        }
    }
}

async fn handle_event(service: &SipService, handle: &EndpointHandle, event: EndpointEvent) {
    match event {
        EndpointEvent::Tu(TuEvent::Request { key, msg, peer }) => {
            tracing::debug!(%peer, line = %first_line(msg.as_bytes()), "request");
            if let Some(resp) = service.handle_request(&msg) {
                if let Err(e) = handle.send_response(key, resp).await {
                    tracing::warn!(error = %e, "could not answer request");
                }
            }
        }
        EndpointEvent::Tu(TuEvent::Cancel {
            key,
            invite_key,
            msg,
            ..
        }) => {
            // Every INVITE is answered at once today, so a CANCEL finds nothing to stop:
            // the INVITE transaction is already completed (RFC 3261 §9.2: 200 to the
            // CANCEL only while the INVITE is pending).
            let code = if invite_key.is_some() { 200 } else { 481 };
            if let Some(resp) = service.reply(&msg, code) {
                let _ = handle.send_response(key, resp).await;
            }
        }
        EndpointEvent::Tu(TuEvent::Stray { msg, peer }) => {
            tracing::debug!(%peer, line = %first_line(msg.as_bytes()), "stray message dropped");
        }
        EndpointEvent::Tu(other) => {
            tracing::trace!(event = ?other, "transaction event");
        }
        EndpointEvent::Malformed { bytes, error, peer } => {
            tracing::info!(%peer, %error, line = %first_line(&bytes), "malformed message");
            if let Some(resp) = service.handle_malformed(&bytes, &error) {
                let _ = handle.send_stateless(resp, peer).await;
            }
        }
    }
}
