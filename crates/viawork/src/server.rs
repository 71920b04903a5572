//! The running server: binds the SIP transports and serves until told to stop.
//!
//! One task owns the protocol state; transports feed it through a channel. Requests the
//! server answers itself go through [`crate::sip_service::SipService`].

use crate::config::Config;
use crate::sip_service::{first_line, SipService};
use sip::Message;
use sip_stack::transport::{response_target::ResponseTarget, Incoming, Peer, Transports};
use tokio::sync::mpsc;

/// Runs the SIP side until `shutdown` resolves.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::channel::<Incoming>(4096);
    let transports = Transports::bind(&config.sip_listen, tx)
        .await
        .map_err(|e| anyhow::anyhow!("config key `sip_listen`: cannot bind: {e}"))?;
    for (t, addr) in transports.local_addrs() {
        // Tests and operators read this line to learn the bound ports.
        println!("SIP listening on {}:{addr}", t.as_str().to_ascii_lowercase());
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
            incoming = rx.recv() => {
                let Some(incoming) = incoming else { return Ok(()) };
                let reply = match &incoming {
                    Incoming::Message { msg, peer } => {
                        if !msg.is_request() {
                            tracing::debug!(%peer, status = msg.status(), "dropping response that matches no transaction");
                            continue;
                        }
                        tracing::debug!(%peer, line = %first_line(msg.as_bytes()), "request");
                        service.handle_request(msg).map(|r| (r, *peer))
                    }
                    Incoming::Malformed { bytes, error, peer } => {
                        tracing::info!(%peer, %error, line = %first_line(bytes), "malformed message");
                        service.handle_malformed(bytes, error).map(|r| (r, *peer))
                    }
                };
                if let Some((resp, peer)) = reply {
                    send_response(&transports, resp, peer).await;
                }
            }
        }
    }
}

async fn send_response(transports: &Transports, resp: Message, from: Peer) {
    let target = match resp.top_via() {
        Ok(via) => sip_stack::transport::response_target(&via, from),
        Err(_) => ResponseTarget::Peer(from),
    };
    let peer = match target {
        ResponseTarget::Peer(p) => p,
        // Host names in Via need RFC 3263 §5 resolution, which lands with the DNS work;
        // until then answer where the request came from.
        ResponseTarget::Resolve { .. } => from,
    };
    if let Err(e) = transports.send(peer, resp.to_bytes(), false).await {
        tracing::warn!(%peer, error = %e, "could not send response");
    }
}
