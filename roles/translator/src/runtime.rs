//! The tokio shell: SV1 listener and per-miner tasks, the upstream connection with
//! failover, and the task that drives the [`Bridge`]. All protocol decisions are taken by the
//! sans-IO types; this module only moves bytes, keeps time and enforces socket-level limits.
//!
//! Per miner there is exactly one task (reading lines, writing queued lines) and one bounded
//! queue of outgoing line batches ([`MINER_QUEUE`]); the read buffer starts at
//! [`MINER_READ_BUFFER`] bytes and grows for longer lines (up to `limits.max_line_bytes`) or
//! bursts ([`MINER_BURST_BUFFER`]). A miner whose queue is full is too slow to follow the job
//! stream and is disconnected.
//!
//! The share path is batched at every step, so that its cost is the bridge's work and not
//! per-line overhead: every complete line of one read goes to the bridge task as one event;
//! the bridge task takes up to [`EVENT_BATCH`] events per wake-up; the answers of one dispatch
//! to the same miner are concatenated into one queue entry; the miner task writes everything
//! queued with one `write_all`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use sv1::{ClientRequest, Sv1Error};
use sv2_codec::{CodecError, Frame, Message, Protocol};
use sv2_noise::NoiseConnection;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::bridge::{Action, Bridge, BridgeCounters, BridgeSettings};
use crate::config::{Settings, UpstreamTarget};
use crate::downstream::MinerId;
use crate::failover::{Attempt, FailoverPolicy};
use crate::telemetry as t;

mod lines;

use lines::LineReader;
pub use lines::MINER_BURST_BUFFER;

/// Outgoing lines queued per miner before it counts as too slow.
pub const MINER_QUEUE: usize = 64;
/// Initial read buffer per miner connection.
pub const MINER_READ_BUFFER: usize = 512;
/// Capacity of the event queue into the bridge task.
pub const EVENT_QUEUE: usize = 8192;
/// Events the bridge task handles before it dispatches their actions.
pub const EVENT_BATCH: usize = 256;
/// Queued bytes a miner task gathers into one write at most.
pub const MAX_COALESCED_WRITE: usize = 64 * 1024;
/// Capacity of the message queue towards the pool.
pub const UPSTREAM_QUEUE: usize = 8192;
/// Largest SV2 frame payload accepted from a pool.
pub const MAX_UPSTREAM_PAYLOAD: usize = 1 << 20;

/// Why the translator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The SV1 listening socket could not be opened.
    #[error(transparent)]
    Listen(#[from] role_kit::net::ListenError),
    /// Invalid extranonce layout.
    #[error("extranonce layout: {0}")]
    Extranonce(String),
}

/// A snapshot of the translator for operators and tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// Index of the upstream in use (connected, set up or not).
    pub upstream: Option<usize>,
    /// Miners have an upstream channel with work.
    pub mining: bool,
    /// SV1 connections.
    pub miners: usize,
    /// Miners receiving jobs.
    pub ready: usize,
    /// Times the translator moved to another upstream connection.
    pub failovers: u64,
    /// Share totals.
    pub counters: BridgeCounters,
    /// Extranonce2 size given to miners.
    pub extranonce2_size: usize,
}

/// A running translator.
pub struct TranslatorHandle {
    /// Address the SV1 listener is bound to.
    pub local_addr: SocketAddr,
    status: watch::Receiver<Status>,
    shutdown: watch::Sender<bool>,
    bridge_task: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl TranslatorHandle {
    /// A receiver of status snapshots (updated on upstream events and every second).
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Waits until `pred` holds for a status snapshot (or `timeout` passes).
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&Status) -> bool,
    ) -> Option<Status> {
        let mut rx = self.status.clone();
        let fut = async {
            loop {
                {
                    let s = rx.borrow_and_update();
                    if pred(&s) {
                        return Some(s.clone());
                    }
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(timeout, fut).await.ok().flatten()
    }

    /// Graceful stop: miners get `client.reconnect`, their queues are flushed, then every
    /// task ends.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(b) = self.bridge_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), b).await;
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for TranslatorHandle {
    fn drop(&mut self) {
        if let Some(b) = &self.bridge_task {
            b.abort();
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

enum UpEvent {
    Connected {
        index: usize,
        host: String,
        port: u16,
        failovers: u64,
    },
    Message(Message),
    Lost(String),
}

enum Event {
    MinerConnected {
        id: MinerId,
        tx: mpsc::Sender<Bytes>,
    },
    /// Every complete line one read delivered, in order.
    MinerLines {
        id: MinerId,
        lines: Vec<Result<ClientRequest, Sv1Error>>,
    },
    MinerGone {
        id: MinerId,
        reason: &'static str,
    },
    Upstream {
        generation: u64,
        event: UpEvent,
    },
}

enum Control {
    Abandon {
        generation: u64,
        reason: String,
    },
    Redirect {
        generation: u64,
        host: String,
        port: u16,
    },
}

/// Starts the translator: binds the SV1 listener, then connects upstream in the background.
pub async fn start_translator(settings: Settings) -> Result<TranslatorHandle, StartError> {
    let bridge = Bridge::new(BridgeSettings::from_settings(&settings))
        .map_err(|e| StartError::Extranonce(e.to_string()))?;
    let (listener, local_addr) = role_kit::net::bind(settings.listen).await?;
    let settings = Arc::new(settings);
    let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
    let (frames_tx, frames_rx) = mpsc::channel(UPSTREAM_QUEUE);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (status_tx, status_rx) = watch::channel(Status {
        extranonce2_size: settings.extranonce2_size,
        ..Status::default()
    });
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let accepting = Arc::new(AtomicBool::new(true));
    let live = Arc::new(AtomicU32::new(0));

    let listener_task = tokio::spawn(accept_loop(
        listener,
        settings.clone(),
        events_tx.clone(),
        accepting.clone(),
        live.clone(),
    ));
    let upstream_task = tokio::spawn(upstream_loop(
        settings.clone(),
        events_tx,
        frames_rx,
        control_rx,
    ));
    let bridge_task = tokio::spawn(bridge_loop(
        bridge,
        events_rx,
        frames_tx,
        control_tx,
        status_tx,
        shutdown_rx,
        accepting,
    ));
    tracing::info!(%local_addr, site = %settings.site, mode = ?settings.mode, upstreams = settings.upstreams.len(), "SV1 translator listening");
    Ok(TranslatorHandle {
        local_addr,
        status: status_rx,
        shutdown: shutdown_tx,
        bridge_task: Some(bridge_task),
        tasks: vec![listener_task, upstream_task],
    })
}

// ----- SV1 side -------------------------------------------------------------------------------

async fn accept_loop(
    listener: TcpListener,
    settings: Arc<Settings>,
    events: mpsc::Sender<Event>,
    accepting: Arc<AtomicBool>,
    live: Arc<AtomicU32>,
) {
    let mut next_id: MinerId = 1;
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !accepting.load(Ordering::Relaxed) {
            metrics::counter!(t::MINERS_REFUSED, "reason" => "no_upstream").increment(1);
            continue;
        }
        if live.load(Ordering::Relaxed) >= settings.limits.max_miners {
            tracing::warn!(%peer, max = settings.limits.max_miners, "max_miners reached: connection refused");
            metrics::counter!(t::MINERS_REFUSED, "reason" => "max_miners").increment(1);
            continue;
        }
        let _ = tcp.set_nodelay(true);
        live.fetch_add(1, Ordering::Relaxed);
        let id = next_id;
        next_id = next_id.wrapping_add(1).max(1);
        let (tx, rx) = mpsc::channel(MINER_QUEUE);
        if events.send(Event::MinerConnected { id, tx }).await.is_err() {
            return;
        }
        tracing::debug!(miner = id, %peer, "miner connected");
        tokio::spawn(miner_task(
            id,
            tcp,
            rx,
            events.clone(),
            settings.limits.max_line_bytes,
            settings.limits.idle_timeout,
            live.clone(),
        ));
    }
}

struct LiveGuard(Arc<AtomicU32>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn miner_task(
    id: MinerId,
    tcp: TcpStream,
    mut rx: mpsc::Receiver<Bytes>,
    events: mpsc::Sender<Event>,
    max_line: usize,
    idle: Duration,
    live: Arc<AtomicU32>,
) {
    let _guard = LiveGuard(live);
    let (mut r, mut w) = tcp.into_split();
    let mut reader = LineReader::new(max_line);
    let idle_timer = tokio::time::sleep(idle);
    tokio::pin!(idle_timer);
    let reason: &'static str = loop {
        tokio::select! {
            read = reader.read(&mut r) => {
                let (lines, end) = match read {
                    Ok(x) => x,
                    Err(_) => break "io_error",
                };
                if !lines.is_empty() {
                    idle_timer.as_mut().reset(tokio::time::Instant::now() + idle);
                    if events.send(Event::MinerLines { id, lines }).await.is_err() {
                        break "shutdown";
                    }
                }
                if let Some(reason) = end {
                    break reason;
                }
            },
            out = rx.recv() => match out {
                Some(bytes) => {
                    if write_queued(&mut w, bytes, &mut rx).await.is_err() {
                        break "io_error";
                    }
                }
                None => break "closed_by_translator",
            },
            _ = &mut idle_timer => break "idle_timeout",
        }
    };
    let _ = w.shutdown().await;
    let _ = events.send(Event::MinerGone { id, reason }).await;
}

/// Writes `first` and every line batch already queued behind it with one `write_all`
/// (one syscall for a burst of answers instead of one per answer).
async fn write_queued(
    w: &mut OwnedWriteHalf,
    first: Bytes,
    rx: &mut mpsc::Receiver<Bytes>,
) -> std::io::Result<()> {
    let Ok(second) = rx.try_recv() else {
        return w.write_all(&first).await;
    };
    let mut buf = Vec::with_capacity(first.len() + second.len() * 4);
    buf.extend_from_slice(&first);
    buf.extend_from_slice(&second);
    while buf.len() < MAX_COALESCED_WRITE {
        match rx.try_recv() {
            Ok(more) => buf.extend_from_slice(&more),
            Err(_) => break,
        }
    }
    w.write_all(&buf).await
}

// ----- bridge task ----------------------------------------------------------------------------

/// Lines queued for miners during one dispatch, one entry per miner, so that a burst of
/// answers to one miner becomes one queue entry and one write.
#[derive(Default)]
struct Outbox {
    pending: HashMap<MinerId, Pending>,
}

enum Pending {
    One(Bytes),
    Many(BytesMut),
}

impl Outbox {
    fn push(&mut self, id: MinerId, line: Bytes) {
        match self.pending.entry(id) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Pending::One(line));
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let p = o.get_mut();
                match p {
                    Pending::One(first) => {
                        let mut buf = BytesMut::with_capacity((first.len() + line.len()) * 2);
                        buf.extend_from_slice(first);
                        buf.extend_from_slice(&line);
                        *p = Pending::Many(buf);
                    }
                    Pending::Many(buf) => buf.extend_from_slice(&line),
                }
            }
        }
    }

    fn take(&mut self, id: MinerId) -> Option<Bytes> {
        self.pending.remove(&id).map(Pending::into_bytes)
    }

    /// Hands every miner its lines; miners whose queue is full are disconnected.
    fn flush(&mut self, senders: &mut HashMap<MinerId, mpsc::Sender<Bytes>>) {
        for (id, p) in self.pending.drain() {
            send_to_miner(senders, id, p.into_bytes());
        }
    }
}

impl Pending {
    fn into_bytes(self) -> Bytes {
        match self {
            Pending::One(b) => b,
            Pending::Many(b) => b.freeze(),
        }
    }
}

fn send_to_miner(senders: &mut HashMap<MinerId, mpsc::Sender<Bytes>>, id: MinerId, bytes: Bytes) {
    if let Some(tx) = senders.get(&id) {
        if tx.try_send(bytes).is_err() {
            tracing::info!(miner = id, "miner not reading its lines: disconnecting");
            metrics::counter!(t::MINERS_DISCONNECTED, "reason" => "slow").increment(1);
            senders.remove(&id);
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn bridge_loop(
    mut bridge: Bridge,
    mut events: mpsc::Receiver<Event>,
    frames: mpsc::Sender<(u64, Message)>,
    control: mpsc::UnboundedSender<Control>,
    status: watch::Sender<Status>,
    mut shutdown: watch::Receiver<bool>,
    accepting: Arc<AtomicBool>,
) {
    let epoch = Instant::now();
    let now_ms = || u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut senders: HashMap<MinerId, mpsc::Sender<Bytes>> = HashMap::new();
    let mut generation: u64 = 0;
    let mut current_index: Option<usize> = None;
    let mut failovers: u64 = 0;
    let mut out: Vec<Action> = Vec::new();
    let mut outbox = Outbox::default();
    let mut batch: Vec<Event> = Vec::with_capacity(EVENT_BATCH);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut publish = false;
        tokio::select! {
            // Shutdown first, then the 1 s tick (so a busy event stream cannot starve vardiff
            // and timeouts), then events.
            biased;
            _ = shutdown.changed() => {
                bridge.shutdown(&mut out);
                dispatch(&mut out, &mut outbox, &mut senders, &frames, &control, &mut generation, &accepting);
                outbox.flush(&mut senders);
                senders.clear();
                break;
            }
            _ = tick.tick() => {
                bridge.tick(now_ms(), &mut out);
                publish = true;
            }
            n = events.recv_many(&mut batch, EVENT_BATCH) => {
                if n == 0 {
                    break;
                }
                let now = now_ms();
                for ev in batch.drain(..) {
                    match ev {
                        Event::MinerConnected { id, tx } => {
                            if bridge.miner_connected(id, now) {
                                senders.insert(id, tx);
                            }
                        }
                        Event::MinerLines { id, lines } => {
                            for line in lines {
                                bridge.miner_line(id, line, now, &mut out);
                            }
                        }
                        Event::MinerGone { id, reason } => {
                            // Lines already produced for it go nowhere.
                            outbox.take(id);
                            out.retain(|a| !matches!(a, Action::ToMiner(m, _) if *m == id));
                            senders.remove(&id);
                            bridge.miner_disconnected(id, reason, &mut out);
                        }
                        Event::Upstream { generation: g, event } => {
                            publish = true;
                            // Actions of earlier events go out under the generation they were
                            // produced with, as if every event were dispatched on its own.
                            settle(&out, &mut current_index);
                            dispatch(&mut out, &mut outbox, &mut senders, &frames, &control, &mut generation, &accepting);
                            match event {
                                UpEvent::Connected { index, host, port, failovers: f } => {
                                    generation = g;
                                    current_index = Some(index);
                                    failovers = f;
                                    metrics::gauge!(t::UPSTREAM_CONNECTED, "upstream" => format!("{host}:{port}")).set(1.0);
                                    bridge.upstream_connected(&host, port, now, &mut out);
                                }
                                UpEvent::Message(m) if g == generation => bridge.upstream_message(m, now, &mut out),
                                UpEvent::Lost(reason) if g == generation => {
                                    tracing::warn!(%reason, "upstream connection lost");
                                    generation = 0;
                                    current_index = None;
                                    bridge.upstream_lost(now);
                                }
                                _ => {}
                            }
                            settle(&out, &mut current_index);
                            dispatch(&mut out, &mut outbox, &mut senders, &frames, &control, &mut generation, &accepting);
                        }
                    }
                }
            }
        }
        settle(&out, &mut current_index);
        dispatch(
            &mut out,
            &mut outbox,
            &mut senders,
            &frames,
            &control,
            &mut generation,
            &accepting,
        );
        outbox.flush(&mut senders);
        if publish {
            let snapshot = Status {
                upstream: current_index,
                mining: bridge.mining(),
                miners: bridge.miner_count(),
                ready: bridge.ready_count(),
                failovers,
                counters: bridge.counters(),
                extranonce2_size: bridge.extranonce2_len(),
            };
            status.send_if_modified(|s| {
                if *s == snapshot {
                    false
                } else {
                    *s = snapshot;
                    true
                }
            });
        }
    }
}

/// An upstream abandoned by the bridge is no longer the one in use.
fn settle(out: &[Action], current_index: &mut Option<usize>) {
    if out.iter().any(|a| matches!(a, Action::AbandonUpstream(_))) {
        *current_index = None;
    }
}

/// Carries out the bridge's actions; lines for miners gather in `outbox` (sent by
/// [`Outbox::flush`] at the end of the batch, or before a miner's `CloseMiner`).
#[allow(clippy::too_many_arguments)]
fn dispatch(
    out: &mut Vec<Action>,
    outbox: &mut Outbox,
    senders: &mut HashMap<MinerId, mpsc::Sender<Bytes>>,
    frames: &mpsc::Sender<(u64, Message)>,
    control: &mpsc::UnboundedSender<Control>,
    generation: &mut u64,
    accepting: &AtomicBool,
) {
    for action in out.drain(..) {
        match action {
            Action::ToMiner(id, bytes) => {
                if senders.contains_key(&id) {
                    outbox.push(id, bytes);
                }
            }
            Action::CloseMiner(id) => {
                if let Some(bytes) = outbox.take(id) {
                    send_to_miner(senders, id, bytes);
                }
                senders.remove(&id);
            }
            Action::ToUpstream(m) => {
                if *generation == 0 {
                    continue;
                }
                if let Err(e) = frames.try_send((*generation, m)) {
                    let full = matches!(e, mpsc::error::TrySendError::Full(_));
                    tracing::warn!(
                        full,
                        "upstream queue unavailable: abandoning the connection"
                    );
                    let _ = control.send(Control::Abandon {
                        generation: *generation,
                        reason: "upstream queue full".into(),
                    });
                    *generation = 0;
                }
            }
            Action::AbandonUpstream(reason) => {
                metrics::counter!(t::FAILOVERS, "reason" => "abandoned").increment(1);
                let _ = control.send(Control::Abandon {
                    generation: *generation,
                    reason,
                });
                *generation = 0;
            }
            Action::RedirectUpstream { host, port } => {
                let _ = control.send(Control::Redirect {
                    generation: *generation,
                    host,
                    port,
                });
            }
            Action::Accepting(on) => accepting.store(on, Ordering::Relaxed),
        }
    }
}

// ----- SV2 side -------------------------------------------------------------------------------

async fn connect_upstream(
    host: &str,
    port: u16,
    target: &UpstreamTarget,
    timeout: Duration,
) -> Result<NoiseConnection, String> {
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| "TCP connect timed out".to_owned())?
        .map_err(|e| format!("TCP connect: {e}"))?;
    let mut conn = sv2_noise::connect(tcp, target.authority, timeout)
        .await
        .map_err(|e| format!("Noise handshake: {e}"))?;
    conn.set_max_payload_len(MAX_UPSTREAM_PAYLOAD);
    Ok(conn)
}

enum Outcome {
    Lost(String),
    Abandoned(String),
    Redirect(String, u16),
    Primary(Box<NoiseConnection>),
    Closed,
}

async fn upstream_loop(
    settings: Arc<Settings>,
    events: mpsc::Sender<Event>,
    mut frames: mpsc::Receiver<(u64, Message)>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let f = &settings.failover;
    let mut policy = FailoverPolicy::new(
        settings.upstreams.len(),
        f.backoff_initial,
        f.backoff_max,
        f.primary_retry,
    );
    let epoch = Instant::now();
    let now_ms = || u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut attempt: Attempt = policy.first();
    let mut redirect: Option<(String, u16)> = None;
    let mut preconnected: Option<NoiseConnection> = None;
    let mut generation: u64 = 0;
    loop {
        let Some(target) = settings.upstreams.get(attempt.index) else {
            return;
        };
        let (host, port) = redirect
            .take()
            .unwrap_or_else(|| (target.host.clone(), target.port));
        let conn = match preconnected.take() {
            Some(c) => c,
            None => {
                if !attempt.delay.is_zero() {
                    tracing::info!(
                        delay_ms = attempt.delay.as_millis() as u64,
                        "waiting before the next upstream round"
                    );
                    tokio::time::sleep(attempt.delay).await;
                }
                // Messages queued for an older connection are dropped.
                while frames.try_recv().is_ok() {}
                match connect_upstream(&host, port, target, f.connect_timeout).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(upstream = %format!("{host}:{port}"), error = %e, "upstream unreachable");
                        attempt = policy.on_failure(attempt.index, now_ms());
                        continue;
                    }
                }
            }
        };
        generation += 1;
        policy.on_connected(attempt.index, now_ms());
        tracing::info!(upstream = %format!("{host}:{port}"), index = attempt.index, "upstream connected");
        if events
            .send(Event::Upstream {
                generation,
                event: UpEvent::Connected {
                    index: attempt.index,
                    host: host.clone(),
                    port,
                    failovers: policy.failovers(),
                },
            })
            .await
            .is_err()
        {
            return;
        }
        let outcome = run_connection(
            conn,
            generation,
            &events,
            &mut frames,
            &mut control,
            &mut policy,
            &settings,
            &now_ms,
        )
        .await;
        metrics::gauge!(t::UPSTREAM_CONNECTED, "upstream" => format!("{host}:{port}")).set(0.0);
        match outcome {
            Outcome::Closed => return,
            Outcome::Lost(reason) => {
                let _ = events
                    .send(Event::Upstream {
                        generation,
                        event: UpEvent::Lost(reason),
                    })
                    .await;
                metrics::counter!(t::FAILOVERS, "reason" => "lost").increment(1);
                attempt = policy.on_failure(attempt.index, now_ms());
            }
            Outcome::Abandoned(reason) => {
                tracing::warn!(%reason, "upstream abandoned");
                attempt = policy.on_failure(attempt.index, now_ms());
            }
            Outcome::Redirect(h, p) => {
                let _ = events
                    .send(Event::Upstream {
                        generation,
                        event: UpEvent::Lost("redirected by the pool".into()),
                    })
                    .await;
                let h = if h.is_empty() { host.clone() } else { h };
                let p = if p == 0 { port } else { p };
                redirect = Some((h, p));
                attempt = Attempt {
                    index: attempt.index,
                    delay: Duration::ZERO,
                };
            }
            Outcome::Primary(conn) => {
                let _ = events
                    .send(Event::Upstream {
                        generation,
                        event: UpEvent::Lost("switching back to the first upstream".into()),
                    })
                    .await;
                metrics::counter!(t::FAILOVERS, "reason" => "back_to_primary").increment(1);
                policy.on_probe_succeeded(now_ms());
                preconnected = Some(*conn);
                attempt = Attempt {
                    index: 0,
                    delay: Duration::ZERO,
                };
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_connection(
    conn: NoiseConnection,
    generation: u64,
    events: &mpsc::Sender<Event>,
    frames: &mut mpsc::Receiver<(u64, Message)>,
    control: &mut mpsc::UnboundedReceiver<Control>,
    policy: &mut FailoverPolicy,
    settings: &Settings,
    clock: &(dyn Fn() -> u64 + Sync),
) -> Outcome {
    let mut probe: Option<JoinHandle<Result<NoiseConnection, String>>> = None;
    let outcome = connection_loop(
        conn, generation, events, frames, control, policy, settings, clock, &mut probe,
    )
    .await;
    if let Some(p) = probe {
        p.abort();
    }
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn connection_loop(
    conn: NoiseConnection,
    generation: u64,
    events: &mpsc::Sender<Event>,
    frames: &mut mpsc::Receiver<(u64, Message)>,
    control: &mut mpsc::UnboundedReceiver<Control>,
    policy: &mut FailoverPolicy,
    settings: &Settings,
    clock: &(dyn Fn() -> u64 + Sync),
    probe: &mut Option<JoinHandle<Result<NoiseConnection, String>>>,
) -> Outcome {
    let (mut reader, mut writer) = conn.into_split();
    let mut buf = BytesMut::with_capacity(512);
    let mut probe_timer = tokio::time::interval(Duration::from_secs(1));
    probe_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            frame = reader.recv() => {
                let bytes = match frame {
                    Ok(Some(b)) => b,
                    Ok(None) => return Outcome::Lost("connection closed by the pool".into()),
                    Err(e) => return Outcome::Lost(format!("transport: {e}")),
                };
                let decoded = Frame::from_bytes(bytes).map_err(|e| e.to_string()).and_then(|f| {
                    match Message::from_frame(Protocol::Mining, &f) {
                        Ok(m) => Ok(Some(m)),
                        // Unknown extensions are ignored, as the spec requires.
                        Err(CodecError::UnsupportedExtension { .. }) => Ok(None),
                        Err(e) => Err(e.to_string()),
                    }
                });
                let msg = match decoded {
                    Ok(Some(m)) => m,
                    Ok(None) => continue,
                    Err(e) => return Outcome::Lost(format!("undecodable frame: {e}")),
                };
                if events.send(Event::Upstream { generation, event: UpEvent::Message(msg) }).await.is_err() {
                    return Outcome::Closed;
                }
            }
            item = frames.recv() => {
                let Some(first) = item else { return Outcome::Closed };
                let mut batch = vec![first];
                while batch.len() < 256 {
                    match frames.try_recv() {
                        Ok(x) => batch.push(x),
                        Err(_) => break,
                    }
                }
                for (g, m) in batch {
                    if g != generation {
                        continue;
                    }
                    buf.clear();
                    if let Err(e) = m.encode_frame(&mut buf) {
                        tracing::error!(error = %e, message = m.name(), "cannot encode an SV2 message");
                        continue;
                    }
                    if let Err(e) = writer.feed(&buf[..]).await {
                        return Outcome::Lost(format!("transport: {e}"));
                    }
                }
                if let Err(e) = writer.flush().await {
                    return Outcome::Lost(format!("transport: {e}"));
                }
            }
            c = control.recv() => match c {
                None => return Outcome::Closed,
                Some(Control::Abandon { generation: g, reason }) if g == generation => {
                    return Outcome::Abandoned(reason);
                }
                Some(Control::Redirect { generation: g, host, port }) if g == generation => {
                    return Outcome::Redirect(host, port);
                }
                Some(_) => {}
            },
            _ = probe_timer.tick(), if probe.is_none() => {
                if policy.probe_due(clock()) {
                    if let Some(primary) = settings.upstreams.first().cloned() {
                        let timeout = settings.failover.connect_timeout;
                        tracing::debug!(upstream = %primary.label(), "probing the first upstream");
                        *probe = Some(tokio::spawn(async move {
                            connect_upstream(&primary.host, primary.port, &primary, timeout).await
                        }));
                    }
                }
            }
            res = async {
                match probe.as_mut() {
                    Some(p) => p.await,
                    None => std::future::pending().await,
                }
            } => {
                *probe = None;
                match res {
                    Ok(Ok(conn)) => {
                        tracing::info!("first upstream is back: switching to it");
                        return Outcome::Primary(Box::new(conn));
                    }
                    Ok(Err(e)) => tracing::debug!(error = %e, "first upstream still unavailable"),
                    Err(e) => tracing::debug!(error = %e, "probe task failed"),
                }
                policy.on_probe_failed(clock());
            }
        }
    }
}
