//! The running server: opens the store, starts the SIP endpoint (transports + transaction
//! layer) and the HTTP API next to it, and serves both until told to stop.
//!
//! Requests the server answers itself go through [`crate::sip_service::SipService`];
//! each answer is sent on the request's server transaction, so retransmissions are
//! absorbed and non-2xx finals are retransmitted until ACKed (RFC 3261 §17.2).
//!
//! Startup order: store (migrations applied; failure names `database`), SIP listeners
//! (`sip_listen`), HTTP listener (`http_listen`). Each bound listener is printed on stdout
//! (`SIP listening on udp:ADDR`, `HTTP listening on http:ADDR`) for operators and tests.
//! When `shutdown` resolves, the HTTP server stops accepting and finishes its requests (for
//! at most [`HTTP_DRAIN`]), the SIP loop stops and the store is closed.

use std::time::Duration;

use crate::api::{self, AppState, SessionSettings};
use crate::config::Config;
use crate::sip_service::{first_line, SipService};
use sip_stack::endpoint::{self, EndpointConfig, EndpointEvent, EndpointHandle};
use sip_stack::transaction::TuEvent;

/// How long in-flight HTTP requests may take to finish after shutdown begins.
pub const HTTP_DRAIN: Duration = Duration::from_secs(5);

/// Runs the server until `shutdown` resolves.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    api::metrics::install();
    let store = crate::store::open(&config.database)
        .await
        .map_err(|e| anyhow::anyhow!("config key `database`: cannot open the store: {e}"))?;
    let (handle, events) = endpoint::start(EndpointConfig {
        listen: config.sip_listen.clone(),
        tls: config.tls.clone(),
        timers: config.timers,
    })
    .await
    .map_err(|e| anyhow::anyhow!("config key `sip_listen`: cannot bind: {e}"))?;
    let mut listeners = Vec::new();
    for (t, addr) in handle.local_addrs() {
        let spec = format!("{}:{addr}", t.as_str().to_ascii_lowercase());
        // Tests and operators read this line to learn the bound ports.
        println!("SIP listening on {spec}");
        tracing::info!(transport = %t, %addr, "SIP listener bound");
        listeners.push(spec);
    }
    let http = tokio::net::TcpListener::bind(config.http_listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "config key `http_listen`: cannot bind {}: {e}",
                config.http_listen
            )
        })?;
    let http_addr = http.local_addr()?;
    println!("HTTP listening on http:{http_addr}");
    tracing::info!(addr = %http_addr, "HTTP listener bound");
    let settings = SessionSettings {
        token_lifetime_secs: i64::try_from(config.token_lifetime.as_secs()).unwrap_or(i64::MAX),
        ..SessionSettings::default()
    };
    let trunk = match &config.pbx {
        Some(pbx) => Some(resolve_trunk(&config, pbx, &handle).await?),
        None => None,
    };
    let (calls_handle, calls, finished) = crate::calls::service::new(
        trunk,
        config.calls.bridge_clients.clone(),
        config.calls.far_ring_timeout,
        std::time::Instant::now(),
    );
    tokio::spawn(crate::calls::log::writer(store.clone(), finished));
    let registrar = crate::registrar::Registrar::start(
        store.clone(),
        &config.domain,
        &config.server_name,
        &config.registrar,
    );
    let sip_im = crate::im::SipIm::new(handle.clone(), registrar.clone(), &config.server_name);
    let mut state = AppState::new(store.clone(), settings, listeners)
        .with_directory_cache(config.directory_cache)
        .with_presence(config.presence)
        .with_registrar(registrar.clone())
        .with_meetings(
            config.meetings.clone(),
            &default_join_base(http_addr, config.meetings.join_url_base.is_none()),
        );
    tokio::spawn(
        state
            .presence
            .clone()
            .follow_calls(calls_handle.subscribe(), calls_handle.clone()),
    );
    tokio::spawn(
        state
            .presence
            .clone()
            .follow_registrations(registrar.subscribe()),
    );
    let desk = match (
        config.pbx.as_ref().and_then(|p| p.dialog_subscription_secs),
        calls_handle.trunk(),
    ) {
        (Some(secs), Some(trunk)) => Some(crate::deskphone::DeskPhones::start(
            handle.clone(),
            trunk.clone(),
            store.clone(),
            state.presence.clone(),
            secs,
        )),
        _ => None,
    };
    let sip_presence = crate::presence::sip::SipPresence::start(
        state.presence.clone(),
        registrar.clone(),
        handle.clone(),
        &config.server_name,
    );
    let sip_publish = crate::presence::publish::SipPublish::start(
        state.presence.clone(),
        registrar.clone(),
        handle.clone(),
        &config.server_name,
    );
    let im = crate::im::ImService::start(
        store.clone(),
        state.events.clone(),
        config.im.clone(),
        Some(sip_im.clone()),
    );
    state.im = Some(im.clone());
    // Load the people directory now rather than on the first search.
    tokio::spawn(state.people.clone().warm());
    tokio::spawn(crate::events::forward_calls(
        state.events.clone(),
        calls_handle.subscribe(),
    ));
    if calls_handle.trunk().is_some() {
        state = state.with_calls(api::calls::CallsApi::new(
            calls_handle.clone(),
            crate::calls::media::CallMedia::new(&config.media).map_err(|e| {
                anyhow::anyhow!(
                    "config key `media.rtp_port_min`: cannot use the RTP port range: {e}"
                )
            })?,
            config.calls.clone(),
            config.media.anchor,
        ));
    }
    // Housekeeping: expired meetings and recordings past their retention, hourly.
    {
        let meetings = state.meetings.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                match meetings.purge(crate::store::unix_now_ms()).await {
                    Ok((0, 0)) => {}
                    Ok((m, r)) => tracing::info!(meetings = m, recordings = r, "purged"),
                    Err(e) => tracing::warn!(error = %e, "cannot purge meetings"),
                }
            }
        });
    }
    // Meetings run their conferences on the calls' media engine.
    if let Some(api) = &state.calls {
        state.meetings_runtime = Some(crate::meetings::MeetingsRuntime::start(
            api.media.engine().clone(),
            state.meetings.clone(),
            state.people.clone(),
            Some(calls_handle.clone()),
            state.events.clone(),
        ));
    }
    // Incoming calls (to users, from the PBX or SIP clients) need the trunk.
    let router = calls_handle.trunk().map(|t| {
        crate::incoming::Router::new(
            state.clone(),
            calls_handle.clone(),
            t.clone(),
            config.calls.clone(),
            handle.clone(),
        )
    });
    let app = api::router(state);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let mut http_task = tokio::spawn(async move {
        axum::serve(http, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            })
            .await
    });

    let sip_loop = SipLoop {
        service: SipService::new(&config.domain, &config.server_name),
        registrar,
        im,
        handle,
        events,
        calls,
        router,
        desk,
        sip_im,
        sip_presence,
        sip_publish,
    };
    let (loop_stop_tx, loop_stop_rx) = tokio::sync::oneshot::channel::<()>();
    // The SIP loop runs as a task of the runtime, not on this (the main) thread: a task
    // woken by a socket task on a worker then usually runs on that same worker, where the
    // main thread would have to be woken for every message.
    let mut sip_task = tokio::spawn(sip_loop.run(loop_stop_rx));
    tokio::pin!(shutdown);
    let result = tokio::select! {
        _ = &mut shutdown => {
            tracing::info!("shutting down");
            Ok(())
        }
        ended = &mut http_task => Err(anyhow::anyhow!("the HTTP server stopped: {:?}", ended)),
        ended = &mut sip_task => match ended {
            Ok(()) => Ok(()),
            Err(e) => Err(anyhow::anyhow!("the SIP loop stopped: {e}")),
        },
    };
    let _ = loop_stop_tx.send(());
    if !sip_task.is_finished() {
        let _ = sip_task.await;
    }
    drop(calls_handle);
    let _ = stop_tx.send(true);
    if !http_task.is_finished()
        && tokio::time::timeout(HTTP_DRAIN, &mut http_task)
            .await
            .is_err()
    {
        tracing::warn!("HTTP requests still running after {HTTP_DRAIN:?}; stopping anyway");
        http_task.abort();
    }
    store.close().await;
    result
}

/// The SIP event loop: the endpoint's events, the call service's commands and timers,
/// each handed to the service that owns it.
struct SipLoop {
    service: SipService,
    registrar: crate::registrar::Registrar,
    im: crate::im::ImService,
    handle: EndpointHandle,
    events: tokio::sync::mpsc::UnboundedReceiver<EndpointEvent>,
    calls: crate::calls::service::CallsCore,
    router: Option<crate::incoming::Router>,
    desk: Option<crate::deskphone::DeskPhones>,
    sip_im: crate::im::SipIm,
    sip_presence: crate::presence::sip::SipPresence,
    sip_publish: crate::presence::publish::SipPublish,
}

impl SipLoop {
    /// Runs until `stop` fires (or is dropped) or the endpoint stops.
    async fn run(mut self, mut stop: tokio::sync::oneshot::Receiver<()>) {
        loop {
            let deadline = self
                .calls
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            tokio::select! {
                _ = &mut stop => break,
                event = self.events.recv() => {
                    let Some(event) = event else { break };
                    let event = match event {
                        // Answers to the MESSAGEs sent to SIP clients first: the call
                        // service claims every other client transaction's events.
                        EndpointEvent::Tu(tu) if self.sip_im.on_tu_event(&tu) => continue,
                        EndpointEvent::Tu(tu) if self.sip_presence.on_tu_event(&tu) => continue,
                        EndpointEvent::Tu(tu)
                            if self.desk.as_ref().is_some_and(|d| d.on_tu_event(&tu)) =>
                        {
                            continue
                        }
                        // The PBX's NOTIFYs about desk phones (RFC 4235).
                        EndpointEvent::Tu(TuEvent::Request { key, msg, peer }) => {
                            // Presence subscriptions of SIP clients (RFC 3856).
                            if crate::presence::sip::SipPresence::claims(&msg)
                                && self.service.refusal(&msg).is_none()
                            {
                                count_sip("in");
                                let notifier = self.sip_presence.clone();
                                tokio::spawn(async move {
                                    notifier.on_subscribe(key, &msg, peer).await;
                                });
                                continue;
                            }
                            // Presence published by SIP clients (RFC 3903).
                            if crate::presence::publish::SipPublish::claims(&msg)
                                && self.service.refusal(&msg).is_none()
                            {
                                count_sip("in");
                                let publisher = self.sip_publish.clone();
                                tokio::spawn(async move {
                                    publisher.on_publish(key, &msg, peer).await;
                                });
                                continue;
                            }
                            if let Some(resp) = self.desk.as_ref().and_then(|d| d.on_notify(&msg)) {
                                count_sip("in");
                                if self.handle.send_response(key, resp).await.is_ok() {
                                    count_sip("out");
                                }
                                continue;
                            }
                            match self.calls
                                .on_tu_event(TuEvent::Request { key, msg, peer }, &self.handle)
                                .await
                            {
                                // A new call to a user: routed off the event loop.
                                Some(TuEvent::Request { key, msg, peer })
                                    if self.router.is_some()
                                        && crate::incoming::Router::claims(&msg)
                                        && self.service.refusal(&msg).is_none() =>
                                {
                                    count_sip("in");
                                    if let Some(r) = self.router.clone() {
                                        tokio::spawn(async move { r.route(key, msg, peer).await });
                                    }
                                    continue;
                                }
                                Some(tu) => EndpointEvent::Tu(tu),
                                None => continue,
                            }
                        }
                        EndpointEvent::Tu(tu) => match self.calls.on_tu_event(tu, &self.handle).await {
                            // A CANCEL for an INVITE still being routed: 200, and 487 to
                            // the INVITE, which will not ring.
                            Some(TuEvent::Cancel {
                                key,
                                invite_key: Some(invite_key),
                                msg,
                                peer,
                            }) => match self.router.as_ref().and_then(|r| r.cancel(invite_key)) {
                                Some(invite) => {
                                    count_sip("in");
                                    if let Some(resp) = self.service.reply(&invite, 487) {
                                        let _ = self.handle.send_response(invite_key, resp).await;
                                    }
                                    if let Some(resp) = self.service.reply(&msg, 200) {
                                        let _ = self.handle.send_response(key, resp).await;
                                    }
                                    continue;
                                }
                                None => EndpointEvent::Tu(TuEvent::Cancel {
                                    key,
                                    invite_key: Some(invite_key),
                                    msg,
                                    peer,
                                }),
                            },
                            Some(tu) => EndpointEvent::Tu(tu),
                            None => continue,
                        },
                        other => other,
                    };
                    handle_event(&self.service, &self.registrar, &self.im, &self.handle, event).await;
                }
                Some(cmd) = self.calls.next_command() => {
                    self.calls.on_command(cmd, &self.handle).await;
                }
                _ = sleep_until(deadline) => {
                    self.calls.on_timer(&self.handle).await;
                }
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Resolves the PBX's address (once, at startup) and finds our listener for its transport.
async fn resolve_trunk(
    config: &Config,
    pbx: &crate::config::PbxConfig,
    handle: &EndpointHandle,
) -> anyhow::Result<crate::calls::trunk::Trunk> {
    let original = pbx;
    let transport = pbx.transport.transport();
    let local = handle.local_addr(transport).ok_or_else(|| {
        anyhow::anyhow!(
            "config key `pbx.transport`: no {} listener in sip_listen to reach the PBX from",
            transport.as_str().to_ascii_lowercase()
        )
    })?;
    let family_ok = |a: &std::net::SocketAddr| a.is_ipv4() == local.is_ipv4();
    // With an outbound proxy, requests go to the proxy; their Request-URIs still name the PBX.
    let (host, port) = match &pbx.outbound_proxy {
        Some((h, p)) => (h.clone(), *p),
        None => (pbx.host.clone(), pbx.port),
    };
    let pbx = &crate::config::PbxConfig {
        host,
        port,
        ..pbx.clone()
    };
    let mut addrs: Vec<std::net::SocketAddr> = Vec::new();
    // RFC 3263: NAPTR → SRV → A/AAAA for a name without a port; an IP literal or a name
    // with a port needs no NAPTR/SRV. Bounded: a PBX name that does not resolve stops
    // startup quickly with the key named.
    if pbx.host.parse::<std::net::IpAddr>().is_err() {
        let scheme = if transport == sip_stack::transaction::Transport::Tls {
            "sips"
        } else {
            "sip"
        };
        let host = match pbx.port {
            Some(p) => format!("{}:{p}", pbx.host),
            None => pbx.host.clone(),
        };
        let uri_text = format!("{scheme}:{host}");
        if let (Ok(uri), Ok(resolver)) = (
            sip::Uri::parse(&uri_text),
            sip_stack::resolve::DnsResolver::system(),
        ) {
            let policy = sip_stack::resolve::Policy::new([transport]);
            let lookup = resolver.resolve_uri(&uri, &policy);
            match tokio::time::timeout(std::time::Duration::from_secs(5), lookup).await {
                Ok(Ok(plan)) => addrs.extend(
                    plan.into_peers()
                        .into_iter()
                        .filter(|p| p.transport == transport)
                        .map(|p| p.addr)
                        .filter(family_ok),
                ),
                Ok(Err(e)) => {
                    tracing::info!(error = %e, "RFC 3263 lookup failed; trying the system resolver")
                }
                Err(_) => tracing::info!("RFC 3263 lookup timed out; trying the system resolver"),
            }
        }
    }
    if addrs.is_empty() {
        let port = pbx.port.unwrap_or(match transport {
            sip_stack::transaction::Transport::Tls => 5061,
            _ => 5060,
        });
        addrs = tokio::net::lookup_host((pbx.host.as_str(), port))
            .await
            .map_err(|e| {
                anyhow::anyhow!("config key `pbx.address`: cannot resolve {}: {e}", pbx.host)
            })?
            .filter(family_ok)
            .collect();
    }
    if addrs.is_empty() {
        anyhow::bail!(
            "config key `pbx.address`: {} has no address of the listener's IP version",
            pbx.host
        );
    }
    tracing::info!(targets = ?addrs, transport = %transport, "PBX trunk");
    Ok(crate::calls::trunk::Trunk::new(
        original.clone(),
        &addrs,
        local,
        &config.domain,
        &config.server_name,
    ))
}

fn count_sip(direction: &'static str) {
    metrics::counter!("viawork_sip_messages_total", "direction" => direction).increment(1);
}

async fn handle_event(
    service: &SipService,
    registrar: &crate::registrar::Registrar,
    im: &crate::im::ImService,
    handle: &EndpointHandle,
    event: EndpointEvent,
) {
    if matches!(
        event,
        EndpointEvent::Tu(TuEvent::Request { .. } | TuEvent::Cancel { .. })
            | EndpointEvent::Malformed { .. }
    ) {
        count_sip("in");
    }
    match event {
        EndpointEvent::Tu(TuEvent::Request { key, msg, peer })
            if msg.method() == Some(&sip::Method::Register) && service.refusal(&msg).is_none() =>
        {
            // The registrar reads the store: answer off the event loop.
            let (registrar, handle) = (registrar.clone(), handle.clone());
            tokio::spawn(async move {
                let transport = peer.transport.as_str();
                if let Some(resp) = registrar.handle(&msg, peer.addr, transport).await {
                    match handle.send_response(key, resp).await {
                        Ok(()) => count_sip("out"),
                        Err(e) => tracing::warn!(error = %e, "could not answer REGISTER"),
                    }
                }
            });
        }
        EndpointEvent::Tu(TuEvent::Request { key, msg, .. })
            if msg.method() == Some(&sip::Method::Message)
                && !msg.to_header().is_ok_and(|t| t.tag().is_some())
                && service.refusal(&msg).is_none() =>
        {
            // IM from a SIP client: authenticated and stored off the event loop.
            let (registrar, im, handle) = (registrar.clone(), im.clone(), handle.clone());
            tokio::spawn(async move {
                if let Some(resp) = crate::im::sip::handle_message(&im, &registrar, &msg).await {
                    match handle.send_response(key, resp).await {
                        Ok(()) => count_sip("out"),
                        Err(e) => tracing::warn!(error = %e, "could not answer MESSAGE"),
                    }
                }
            });
        }
        EndpointEvent::Tu(TuEvent::Request { key, msg, peer }) => {
            tracing::debug!(%peer, line = %first_line(msg.as_bytes()), "request");
            if let Some(resp) = service.handle_request(&msg) {
                match handle.send_response(key, resp).await {
                    Ok(()) => count_sip("out"),
                    Err(e) => tracing::warn!(error = %e, "could not answer request"),
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
                if handle.send_response(key, resp).await.is_ok() {
                    count_sip("out");
                }
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
                if handle.send_stateless(resp, peer).await.is_ok() {
                    count_sip("out");
                }
            }
        }
    }
}

/// Where join URLs point without `meetings.join_url_base`: the HTTP listener as bound, with
/// `localhost` for an unspecified address (which no browser can open) and a warning, since
/// only the administrator knows the name users reach the server by.
fn default_join_base(bound: std::net::SocketAddr, warn: bool) -> String {
    if bound.ip().is_unspecified() {
        if warn {
            tracing::warn!(
                listen = %bound,
                "meetings' join URLs will name localhost: set meetings.join_url_base to the \
                 address users reach this server by"
            );
        }
        return format!("http://localhost:{}", bound.port());
    }
    format!("http://{bound}")
}
