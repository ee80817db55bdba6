//! TCP listener and per-connection tasks: Noise handshake, SetupConnection, then the
//! [`crate::session::MiningSession`] state machine driven by frames, jobs and a timer.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use dashmap::DashMap;
use futures::{FutureExt, StreamExt};
use role_kit::net::send_all;
use sv2_codec::common::{error_codes, mining_flags, SetupConnectionError, SetupConnectionSuccess};
use sv2_codec::{Frame, Message, Protocol};
use sv2_noise::ServerKeys;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::accounting::WorkAggregator;
use crate::block::BlockSolution;
use crate::config::PoolConfig;
use crate::jobs::PoolJob;
use crate::session::{MiningSession, SessionSettings};

/// Frames taken from the connection at once: the one awaited plus those already waiting
/// (back-to-back shares are then validated as a batch).
const MAX_FRAMES_PER_WAKE: usize = 64;

/// Why a connection ended.
pub use role_kit::net::ConnError;

/// Everything connection tasks share.
pub struct Shared {
    /// Configuration.
    pub config: PoolConfig,
    /// Noise static key and certificate source.
    pub keys: ServerKeys,
    /// Latest job (None until the node delivered a template).
    pub jobs: watch::Receiver<Option<Arc<PoolJob>>>,
    /// Where block candidates go.
    pub solutions: mpsc::Sender<BlockSolution>,
    /// Accepted-work aggregation.
    pub work: Arc<WorkAggregator>,
    /// Session settings derived from the config.
    pub session: SessionSettings,
    /// Live connections per remote IP.
    pub per_ip: DashMap<IpAddr, u32>,
    /// Live connections in total.
    pub connections: AtomicU32,
    /// Channel id / extranonce allocation shared by all connections.
    pub allocator: Arc<crate::session::ChannelAllocator>,
}

struct ConnGuard {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.shared.connections.fetch_sub(1, Ordering::Relaxed);
        if let Some(mut n) = self.shared.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
        }
        self.shared.per_ip.remove_if(&self.ip, |_, n| *n == 0);
        metrics::gauge!("pool_connections").decrement(1.0);
    }
}

/// Accepts connections forever.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: wait a little instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                metrics::counter!("pool_accept_errors_total").increment(1);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let limits = &shared.config.limits;
        if shared.connections.load(Ordering::Relaxed) >= limits.max_connections {
            metrics::counter!("pool_connections_refused_total", "reason" => "max_connections")
                .increment(1);
            continue;
        }
        {
            let mut n = shared.per_ip.entry(peer.ip()).or_insert(0);
            if *n >= limits.max_connections_per_ip {
                metrics::counter!("pool_connections_refused_total", "reason" => "max_per_ip")
                    .increment(1);
                continue;
            }
            *n += 1;
        }
        shared.connections.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!("pool_connections").increment(1.0);
        let guard = ConnGuard {
            shared: shared.clone(),
            ip: peer.ip(),
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _guard = guard;
            if let Err(e) = handle(tcp, peer, shared).await {
                tracing::debug!(%peer, error = %e, "connection closed");
            }
        });
    }
}

async fn handle(tcp: TcpStream, peer: SocketAddr, shared: Arc<Shared>) -> Result<(), ConnError> {
    let _ = tcp.set_nodelay(true);
    let limits = &shared.config.limits;
    let conn = match sv2_noise::accept(
        tcp,
        &shared.keys,
        Duration::from_secs(limits.handshake_timeout_secs),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            metrics::counter!("pool_handshake_failures_total").increment(1);
            return Err(ConnError::Handshake(e.to_string()));
        }
    };
    let (mut reader, mut writer) = conn.into_split();
    reader.set_max_payload_len(limits.max_frame_bytes);

    let setup = role_kit::net::read_setup(
        &mut reader,
        Duration::from_secs(limits.setup_timeout_secs),
        Protocol::Mining,
    )
    .await
    .inspect_err(|e| {
        if matches!(e, ConnError::SetupRefused(_)) {
            metrics::counter!("pool_bad_frames_total", "stage" => "setup").increment(1);
        }
    })?;
    let refuse = |flags: u32, code: &'static str| {
        Message::from(SetupConnectionError {
            flags,
            error_code: code.to_owned(),
        })
    };
    let reply = if setup.protocol != Protocol::Mining {
        Err(refuse(0, error_codes::UNSUPPORTED_PROTOCOL))
    } else if setup.negotiate_version(2, 2).is_none() {
        Err(refuse(0, error_codes::PROTOCOL_VERSION_MISMATCH))
    } else if setup.flags & mining_flags::REQUIRES_WORK_SELECTION != 0
        && shared.session.custom_jobs.is_none()
    {
        // Custom jobs need job declarator tokens: only with `[job_declaration]`.
        Err(refuse(
            mining_flags::REQUIRES_WORK_SELECTION,
            error_codes::UNSUPPORTED_FEATURE_FLAGS,
        ))
    } else {
        // We accept version rolling and standard jobs; echo nothing we would require.
        Ok(Message::from(SetupConnectionSuccess {
            used_version: 2,
            flags: 0,
        }))
    };
    let mut out = BytesMut::with_capacity(256);
    match reply {
        Ok(ok) => {
            ok.encode_frame(&mut out)
                .map_err(|e| ConnError::Codec(e.to_string()))?;
            writer
                .send(&out)
                .await
                .map_err(|e| ConnError::Transport(e.to_string()))?;
        }
        Err(err) => {
            err.encode_frame(&mut out)
                .map_err(|e| ConnError::Codec(e.to_string()))?;
            let _ = writer.send(&out).await;
            return Err(ConnError::SetupRefused("setup refused"));
        }
    }
    tracing::debug!(%peer, vendor = %setup.vendor, firmware = %setup.firmware, flags = setup.flags, "mining connection set up");

    let mut session = MiningSession::new(
        shared.session.clone(),
        shared.allocator.clone(),
        shared.work.clone(),
        setup.flags,
    );
    let mut jobs = shared.jobs.clone();
    // Jobs already published are sent when a channel opens; only later changes are pushed here.
    let mut session_job = jobs.borrow_and_update().clone();
    // Timers run only when there is something to do: the ack timer is armed while an
    // acknowledgement is pending, the vardiff timer only with vardiff on. An idle connection
    // costs no wake-ups, which leaves the core to block fan-out.
    let ack_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(ack_timer);
    let mut ack_armed: Option<Instant> = None;
    let vardiff_period = session.vardiff_poll_interval();
    let mut vardiff_tick = tokio::time::interval_at(
        tokio::time::Instant::now() + vardiff_period.unwrap_or(Duration::from_secs(3600)),
        vardiff_period.unwrap_or(Duration::from_secs(3600)),
    );
    vardiff_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut outbox: Vec<Message> = Vec::new();
    let mut batch: Vec<Message> = Vec::with_capacity(MAX_FRAMES_PER_WAKE);
    // How the connection ends once the current batch of frames is handled and answered.
    let mut end: Option<Result<(), ConnError>> = None;
    let mut fanout_since: Option<Instant> = None;
    let result = loop {
        tokio::select! {
            biased;
            changed = jobs.changed() => {
                if changed.is_err() { break Ok(()); }
                session_job = take_job(&mut jobs, &mut session, &mut outbox, &mut fanout_since);
            }
            frame = reader.recv() => {
                let bytes = match frame {
                    Ok(Some(b)) => b,
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(ConnError::Transport(e.to_string())),
                };
                match decode(bytes) {
                    Ok(m) => batch.push(m),
                    Err(e) => break Err(e),
                }
                // The frames already waiting, without blocking. How the connection would end
                // after them (end of stream, transport or decoding error) takes effect once
                // they are handled and their replies sent, as frame by frame.
                while batch.len() < MAX_FRAMES_PER_WAKE {
                    match reader.next().now_or_never() {
                        Some(Some(Ok(bytes))) => match decode(bytes) {
                            Ok(m) => batch.push(m),
                            Err(e) => {
                                end = Some(Err(e));
                                break;
                            }
                        },
                        Some(Some(Err(e))) => {
                            end = Some(Err(ConnError::Transport(e.to_string())));
                            break;
                        }
                        Some(None) => {
                            end = Some(Ok(()));
                            break;
                        }
                        None => break,
                    }
                }
                // Judged against the job this session last handled, not the newest one
                // published: the client sent these before it could know a newer job, and the
                // session must not learn a tip its channels were not told about (the next job
                // would then go out without SetNewPrevHash).
                let current = session_job.clone();
                let mut solutions = Vec::new();
                let handled = session.on_messages(&mut batch, current.as_ref(), Instant::now(), &mut outbox, &mut solutions);
                batch.clear();
                // Solutions found before an error still go out, as frame by frame.
                for s in solutions {
                    if shared.solutions.try_send(s).is_err() {
                        tracing::error!("block solution queue full: solution dropped");
                        metrics::counter!("pool_solutions_dropped_total").increment(1);
                    }
                }
                if let Err(reason) = handled {
                    // flush what we have (e.g. error replies) then close
                    shared.work.commit();
                    let _ = send_all(&mut writer, &mut outbox, &mut out).await;
                    break Err(ConnError::Closed(reason));
                }
            }
            _ = &mut ack_timer, if ack_armed.is_some() => {
                ack_armed = None;
                session.flush_due_acks(Instant::now(), &mut outbox);
            }
            _ = vardiff_tick.tick(), if vardiff_period.is_some() => {
                session.poll_vardiff(&mut outbox);
            }
        }
        let due = session.ack_deadline();
        if due != ack_armed {
            if let Some(at) = due {
                ack_timer.as_mut().reset(at.into());
            }
            ack_armed = due;
        }
        if !outbox.is_empty() {
            // Work is journaled before its acknowledgement leaves (crash safety).
            shared.work.commit();
            if let Err(e) = send_all(&mut writer, &mut outbox, &mut out).await {
                break Err(e.into());
            }
            if let Some(t) = fanout_since.take() {
                metrics::histogram!("pool_new_block_to_prevhash_seconds")
                    .record(t.elapsed().as_secs_f64());
            }
        }
        if let Some(result) = end.take() {
            break result;
        }
    };
    session.close();
    result
}

/// Decodes one mining frame; a bad frame is counted and ends the connection.
fn decode(bytes: Bytes) -> Result<Message, ConnError> {
    let frame = Frame::from_bytes(bytes).map_err(|e| {
        metrics::counter!("pool_bad_frames_total", "stage" => "mining").increment(1);
        ConnError::Codec(e.to_string())
    })?;
    Message::from_frame(Protocol::Mining, &frame).map_err(|e| {
        metrics::counter!("pool_bad_frames_total", "stage" => "mining").increment(1);
        ConnError::Codec(e.to_string())
    })
}

/// Hands the latest published job to the session (sent to every channel), notes when a new
/// tip's fan-out started, and returns the job the session now works with.
fn take_job(
    jobs: &mut watch::Receiver<Option<Arc<PoolJob>>>,
    session: &mut MiningSession,
    outbox: &mut Vec<Message>,
    fanout_since: &mut Option<Instant>,
) -> Option<Arc<PoolJob>> {
    let job = jobs.borrow_and_update().clone();
    if let Some(job) = &job {
        session.on_job(job, outbox);
        if job.new_tip {
            *fanout_since = Some(job.received_at);
        }
    }
    job
}
