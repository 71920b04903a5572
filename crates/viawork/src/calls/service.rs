//! The tokio side of the calls: the API talks to the SIP loop through a [`CallsHandle`]
//! (a bounded command channel), the loop owns the [`CallManager`] and moves its outputs
//! to the endpoint, the media engine, the event bus and the call log.
//!
//! Everything runs on the SIP loop's task, so call state needs no locks; the API waits
//! for each answer on a oneshot channel.

use super::call::{Control, ControlError};
use super::log::LogEntry;
use super::manager::{CallManager, CallView, NewCall, NewInvite, Output, StartError};
use super::media::{CallStreams, MediaTable};
use super::trunk::Trunk;
use sip::{Message, Method};
use sip_stack::endpoint::EndpointHandle;
use sip_stack::transaction::{Peer, TransactionKey, TuEvent};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{broadcast, mpsc, oneshot};

/// A change of a call, for whoever listens (the client API's event streams).
#[derive(Debug, Clone)]
pub struct CallEvent {
    /// The owner's SIP URI.
    pub owner: Arc<str>,
    /// The call as it is now.
    pub view: CallView,
    /// An incoming call offered to the owner's clients for the first time
    /// (`call.incoming` rather than `call.updated`).
    pub incoming: bool,
}

/// What the trunk looks like, for `/api/v1/admin/trunk` and the metrics.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrunkStatus {
    /// Configured at all.
    pub configured: bool,
    /// Up (or keep-alives off).
    pub up: bool,
    /// Seconds since the last answered keep-alive.
    pub last_ok_secs_ago: Option<u64>,
    /// Seconds since the last keep-alive went out.
    pub last_probe_secs_ago: Option<u64>,
    /// Live calls.
    pub live_calls: usize,
}

enum Command {
    Start {
        id: String,
        new: Box<NewCall>,
        streams: Option<CallStreams>,
        reply: oneshot::Sender<Result<CallView, StartError>>,
    },
    HangUp {
        id: String,
        owner: String,
        reply: oneshot::Sender<Option<CallView>>,
    },
    Get {
        id: String,
        owner: String,
        reply: oneshot::Sender<Option<CallView>>,
    },
    List {
        owner: String,
        reply: oneshot::Sender<Vec<CallView>>,
    },
    Status {
        reply: oneshot::Sender<TrunkStatus>,
    },
    All {
        reply: oneshot::Sender<Vec<(String, CallView)>>,
    },
    Control {
        id: String,
        owner: String,
        control: Control,
        /// New engine streams the control needs (re-anchoring a direct call).
        streams: Option<CallStreams>,
        reply: oneshot::Sender<Option<Result<CallView, ControlError>>>,
    },
    Invite {
        id: String,
        new: NewInvite,
        key: TransactionKey,
        invite: Box<Message>,
        peer: Peer,
        reply: oneshot::Sender<Result<CallView, StartError>>,
    },
    Answer {
        id: String,
        owner: String,
        accept: bool,
        reply: oneshot::Sender<Option<Option<CallView>>>,
    },
}

/// Why the calls service did not answer.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The SIP loop is gone (shutting down).
    #[error("the call service is not running")]
    Stopped,
}

/// The API's side. Cheap to clone.
#[derive(Clone)]
pub struct CallsHandle {
    tx: mpsc::Sender<Command>,
    events: broadcast::Sender<CallEvent>,
    trunk: Option<Arc<Trunk>>,
}

impl CallsHandle {
    /// The trunk, when one is configured.
    pub fn trunk(&self) -> Option<&Arc<Trunk>> {
        self.trunk.as_ref()
    }

    /// Subscribes to call changes.
    pub fn subscribe(&self) -> broadcast::Receiver<CallEvent> {
        self.events.subscribe()
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, ServiceError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| ServiceError::Stopped)?;
        rx.await.map_err(|_| ServiceError::Stopped)
    }

    /// Starts a call.
    pub async fn start(
        &self,
        id: String,
        new: NewCall,
        streams: Option<CallStreams>,
    ) -> Result<Result<CallView, StartError>, ServiceError> {
        self.ask(|reply| Command::Start {
            id,
            new: Box::new(new),
            streams,
            reply,
        })
        .await
    }

    /// Hangs up `owner`'s call.
    pub async fn hang_up(&self, id: &str, owner: &str) -> Result<Option<CallView>, ServiceError> {
        self.ask(|reply| Command::HangUp {
            id: id.to_owned(),
            owner: owner.to_owned(),
            reply,
        })
        .await
    }

    /// One of `owner`'s calls.
    pub async fn get(&self, id: &str, owner: &str) -> Result<Option<CallView>, ServiceError> {
        self.ask(|reply| Command::Get {
            id: id.to_owned(),
            owner: owner.to_owned(),
            reply,
        })
        .await
    }

    /// `owner`'s live calls.
    pub async fn list(&self, owner: &str) -> Result<Vec<CallView>, ServiceError> {
        self.ask(|reply| Command::List {
            owner: owner.to_owned(),
            reply,
        })
        .await
    }

    /// Carries out an in-call control; `None` when the call is not `owner`'s.
    pub async fn control(
        &self,
        id: &str,
        owner: &str,
        control: Control,
    ) -> Result<Option<Result<CallView, ControlError>>, ServiceError> {
        self.control_with_streams(id, owner, control, None).await
    }

    /// [`CallsHandle::control`] with new engine streams for the call, kept for it before
    /// the control runs (escalating a direct call re-anchors it on them).
    pub async fn control_with_streams(
        &self,
        id: &str,
        owner: &str,
        control: Control,
        streams: Option<CallStreams>,
    ) -> Result<Option<Result<CallView, ControlError>>, ServiceError> {
        self.ask(|reply| Command::Control {
            id: id.to_owned(),
            owner: owner.to_owned(),
            control,
            streams,
            reply,
        })
        .await
    }

    /// Takes a new INVITE (server transaction `key`, from `peer`) as the router decided:
    /// rings it for a user, or passes a SIP client's call on to the PBX.
    pub async fn invite(
        &self,
        id: String,
        new: NewInvite,
        key: TransactionKey,
        invite: Message,
        peer: Peer,
    ) -> Result<Result<CallView, StartError>, ServiceError> {
        self.ask(|reply| Command::Invite {
            id,
            new,
            key,
            invite: Box::new(invite),
            peer,
            reply,
        })
        .await
    }

    /// `owner` accepts or declines their incoming call: `None` when it is not theirs,
    /// `Some(None)` when it no longer rings for clients.
    pub async fn answer(
        &self,
        id: &str,
        owner: &str,
        accept: bool,
    ) -> Result<Option<Option<CallView>>, ServiceError> {
        self.ask(|reply| Command::Answer {
            id: id.to_owned(),
            owner: owner.to_owned(),
            accept,
            reply,
        })
        .await
    }

    /// Every live call with its owner (admin view).
    pub async fn all(&self) -> Result<Vec<(String, CallView)>, ServiceError> {
        self.ask(|reply| Command::All { reply }).await
    }

    /// The trunk's state.
    pub async fn status(&self) -> Result<TrunkStatus, ServiceError> {
        self.ask(|reply| Command::Status { reply }).await
    }
}

/// The SIP loop's side.
pub struct CallsCore {
    manager: CallManager,
    trunk: Option<Arc<Trunk>>,
    rx: mpsc::Receiver<Command>,
    events: broadcast::Sender<CallEvent>,
    finished: mpsc::UnboundedSender<LogEntry>,
    media: MediaTable,
}

/// Creates the two sides. Finished calls go out on the returned receiver (the call log
/// writer drains it off the SIP loop, so a slow store never delays signalling).
pub fn new(
    trunk: Option<Trunk>,
    bridge_clients: Vec<crate::config::Cidr>,
    ring_timeout: std::time::Duration,
    now: Instant,
) -> (CallsHandle, CallsCore, mpsc::UnboundedReceiver<LogEntry>) {
    let (tx, rx) = mpsc::channel(1024);
    let (events, _) = broadcast::channel(4096);
    let (ftx, frx) = mpsc::unbounded_channel();
    let interval = trunk
        .as_ref()
        .map(|t| t.config().options_interval_secs)
        .filter(|s| *s > 0)
        .map(std::time::Duration::from_secs);
    let health = super::trunk::TrunkHealth::new(interval, now);
    let trunk = trunk.map(Arc::new);
    let mut manager = CallManager::new(health);
    if let Some(t) = &trunk {
        manager.set_trusted(t.trusted_sources());
        if !bridge_clients.is_empty() {
            manager.set_bridging(Some(super::manager::Bridging {
                trunk: t.clone(),
                clients: bridge_clients,
                ring_timeout,
            }));
        }
    }
    (
        CallsHandle {
            tx,
            events: events.clone(),
            trunk: trunk.clone(),
        },
        CallsCore {
            manager,
            trunk,
            rx,
            events,
            finished: ftx,
            media: MediaTable::default(),
        },
        frx,
    )
}

impl CallsCore {
    /// The next command from the API; `None` when every handle is gone.
    pub async fn next_command(&mut self) -> Option<CommandMsg> {
        self.rx.recv().await.map(CommandMsg)
    }

    /// When [`CallsCore::on_timer`] must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.manager.poll_timeout()
    }

    /// Runs due timers, then sends what they produced.
    pub async fn on_timer(&mut self, endpoint: &EndpointHandle) {
        self.manager.handle_timeout(Instant::now());
        self.flush(endpoint).await;
    }

    /// Handles an API command.
    pub async fn on_command(&mut self, cmd: CommandMsg, endpoint: &EndpointHandle) {
        let now = Instant::now();
        match cmd.0 {
            Command::Start {
                id,
                new,
                streams,
                reply,
            } => {
                let owner = new.owner.clone();
                let r = self.manager.start(&id, *new, now);
                metrics::counter!("viawork_calls_started_total").increment(u64::from(r.is_ok()));
                metrics::gauge!("viawork_calls_live").set(self.manager.len() as f64);
                if let Ok(view) = &r {
                    if let Some(streams) = streams {
                        self.media.insert(Arc::from(id.as_str()), streams);
                    }
                    let _ = self.finished.send(LogEntry::Started {
                        view: view.clone(),
                        owner,
                    });
                }
                let _ = reply.send(r);
            }
            Command::HangUp { id, owner, reply } => {
                let _ = reply.send(self.manager.hang_up(&id, &owner, now));
            }
            Command::Get { id, owner, reply } => {
                let _ = reply.send(self.manager.get(&id, &owner));
            }
            Command::List { owner, reply } => {
                let _ = reply.send(self.manager.list(&owner));
            }
            Command::Control {
                id,
                owner,
                control,
                streams,
                reply,
            } => {
                if let Some(s) = streams {
                    if self.manager.get(&id, &owner).is_some() {
                        self.media.insert(Arc::from(id.as_str()), s);
                    }
                }
                let _ = reply.send(self.manager.control(&id, &owner, control, now));
            }
            Command::Invite {
                id,
                new,
                key,
                invite,
                peer,
                reply,
            } => {
                let owner = new.owner().to_owned();
                if matches!(new, NewInvite::Ring(_)) {
                    metrics::counter!("viawork_calls_incoming_total").increment(1);
                }
                let mut new = new;
                let streams = match &mut new {
                    NewInvite::DialIn(d) => d.streams.take(),
                    _ => None,
                };
                let r = self.manager.take_invite(&id, new, key, &invite, peer, now);
                if let (Ok(_), Some(streams)) = (&r, streams) {
                    self.media.insert(Arc::from(id.as_str()), streams);
                }
                metrics::gauge!("viawork_calls_live").set(self.manager.len() as f64);
                if let Ok(view) = &r {
                    let _ = self.finished.send(LogEntry::Started {
                        view: view.clone(),
                        owner,
                    });
                }
                let _ = reply.send(r);
            }
            Command::Answer {
                id,
                owner,
                accept,
                reply,
            } => {
                let _ = reply.send(self.manager.answer(&id, &owner, accept, now));
            }
            Command::All { reply } => {
                let _ = reply.send(self.manager.all());
            }
            Command::Status { reply } => {
                let h = self.manager.health();
                let _ = reply.send(TrunkStatus {
                    configured: self.trunk.is_some(),
                    up: self.trunk.is_some() && h.is_up(),
                    last_ok_secs_ago: h.last_ok().map(|t| now.duration_since(t).as_secs()),
                    last_probe_secs_ago: h.last_probe().map(|t| now.duration_since(t).as_secs()),
                    live_calls: self.manager.len(),
                });
            }
        }
        self.flush(endpoint).await;
    }

    /// Offers a transaction event to the calls; returns it back when no call wants it.
    pub async fn on_tu_event(
        &mut self,
        event: TuEvent,
        endpoint: &EndpointHandle,
    ) -> Option<TuEvent> {
        let now = Instant::now();
        let rest = match event {
            TuEvent::Response { key, msg } => {
                self.manager.on_response(Some(key), &msg, now);
                None
            }
            TuEvent::Stray { msg, peer } if msg.status().is_some() => {
                self.manager.on_response(None, &msg, now);
                let _ = peer;
                None
            }
            TuEvent::Request { key, msg, peer } => {
                if self.manager.on_request_from(key, &msg, Some(peer), now) {
                    None
                } else {
                    Some(TuEvent::Request { key, msg, peer })
                }
            }
            TuEvent::Ack {
                invite_key,
                msg,
                peer,
            } => {
                if self.manager.on_ack(invite_key, &msg, now) {
                    None
                } else {
                    Some(TuEvent::Ack {
                        invite_key,
                        msg,
                        peer,
                    })
                }
            }
            TuEvent::Cancel {
                key,
                invite_key,
                msg,
                peer,
            } => {
                if self.manager.on_cancel(key, &msg, now) {
                    None
                } else {
                    Some(TuEvent::Cancel {
                        key,
                        invite_key,
                        msg,
                        peer,
                    })
                }
            }
            TuEvent::Timeout { key } => {
                self.manager.on_failure(key, true, now);
                Some(TuEvent::Timeout { key })
            }
            TuEvent::TransportError { key } => {
                self.manager.on_failure(key, false, now);
                Some(TuEvent::TransportError { key })
            }
            TuEvent::Terminated { key } => {
                self.manager.on_terminated(key);
                Some(TuEvent::Terminated { key })
            }
            other => Some(other),
        };
        self.flush(endpoint).await;
        rest
    }

    async fn flush(&mut self, endpoint: &EndpointHandle) {
        // Outputs can produce more outputs (a probe result), so loop until empty.
        loop {
            let outputs: Vec<Output> = self.manager.drain().collect();
            if outputs.is_empty() {
                break;
            }
            for o in outputs {
                self.execute(o, endpoint).await;
            }
        }
    }

    async fn execute(&mut self, o: Output, endpoint: &EndpointHandle) {
        use super::leg::SipOut;
        match o {
            Output::Sip {
                call,
                role,
                out,
                since,
            } => match out {
                SipOut::Request { msg, peer } => {
                    let method = msg.method().cloned().unwrap_or(Method::Invite);
                    let sip_call_id = msg.call_id().unwrap_or("").to_owned();
                    let branch = msg
                        .top_via()
                        .ok()
                        .and_then(|v| v.branch().map(str::to_owned));
                    match endpoint.send_request(msg, peer).await {
                        Ok(key) => {
                            if let Some((phase, t)) = since {
                                metrics::histogram!("viawork_call_added_seconds", "phase" => phase)
                                    .record(t.elapsed().as_secs_f64());
                            }
                            self.manager
                                .bind(key, call, role, method, sip_call_id, branch)
                        }
                        Err(e) => tracing::warn!(error = %e, %call, "could not send a request"),
                    }
                }
                SipOut::Response { key, msg } => {
                    if let Err(e) = endpoint.send_response(key, msg).await {
                        tracing::debug!(error = %e, %call, "could not send a response");
                    }
                }
                SipOut::Stateless { msg, peer } => {
                    let _ = endpoint.send_stateless(msg, peer).await;
                }
                SipOut::AckReceived(key) => {
                    let _ = endpoint.ack_received(key).await;
                }
            },
            Output::Media { call, action } => self.media.apply(&call, &action),
            Output::Changed {
                owner,
                view,
                incoming,
            } => {
                if view.state == super::CallState::Ended {
                    if let Some(r) = view.end_reason {
                        metrics::counter!("viawork_calls_ended_total", "reason" => r.as_str())
                            .increment(1);
                    }
                }
                tracing::debug!(call = %view.id, state = view.state.as_str(), "call state");
                // Nobody listening is fine: events are best effort until the event API.
                let _ = self.events.send(CallEvent {
                    owner,
                    view,
                    incoming,
                });
            }
            Output::Finished(f) => {
                metrics::gauge!("viawork_calls_live").set(self.manager.len() as f64);
                let media_stats = self.media.finish(&Arc::from(f.view.id.as_str()));
                let _ = self.finished.send(LogEntry::Finished {
                    call: f,
                    media_stats,
                });
            }
            Output::Reply { key, msg } => {
                let _ = endpoint.send_response(key, msg).await;
            }
            Output::Probe => {
                let key = match self
                    .trunk
                    .as_ref()
                    .and_then(|t| t.options().map(|m| (m, t.peer)))
                {
                    Some((msg, peer)) => endpoint.send_request(msg, peer).await.ok(),
                    None => None,
                };
                self.manager.bind_probe(key, Instant::now());
            }
        }
    }
}

/// An API command on its way to [`CallsCore::on_command`].
pub struct CommandMsg(Command);
