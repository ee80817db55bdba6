//! The SV1 hashing miner's IO: one TCP connection at a time, the message loop, submission,
//! reconnection.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use sv1::Sv1ClientCodec;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::codec::{FramedRead, FramedWrite};

use super::state::{Sv1Effect, Sv1State, Sv1Tag};
use super::{Sv1MinerConfig, MAX_RECONNECT_WAIT};
use crate::miner::error::MinerError;
use crate::miner::handle::StopSignal;
use crate::miner::hashpool::{FoundShare, HashPool, Work, FOUND_CAPACITY};
use crate::miner::stats::{bump, Stats};
use crate::miner::util::{connect_tcp, reconnect_target, saturating_after};

/// Found shares sent in one write batch at most.
const SUBMIT_BATCH: usize = 64;

pub(super) type Reader = FramedRead<OwnedReadHalf, Sv1ClientCodec>;
pub(super) type Writer = FramedWrite<OwnedWriteHalf, Sv1ClientCodec>;

enum End {
    Done,
    Reconnect { addr: String, wait: Duration },
}

/// Hashing threads plus the receiving end of their shares; lives across reconnections.
pub(super) struct Engine {
    pool: HashPool<Sv1Tag>,
    found: mpsc::Receiver<FoundShare<Sv1Tag>>,
    stats: Arc<Stats>,
}

/// Opens a connection and wraps it in line codecs.
pub(super) async fn open(addr: &str, timeout: Duration) -> Result<(Reader, Writer), MinerError> {
    let tcp = connect_tcp(addr, timeout).await?;
    let (r, w) = tcp.into_split();
    Ok((
        FramedRead::with_capacity(r, Sv1ClientCodec::default(), 1024),
        FramedWrite::new(w, Sv1ClientCodec::default()),
    ))
}

impl Engine {
    pub(super) fn start(config: &Sv1MinerConfig, stats: Arc<Stats>) -> Result<Self, MinerError> {
        let (tx, found) = mpsc::channel(FOUND_CAPACITY);
        let pool = HashPool::start(1, config.threads, tx, Arc::clone(&stats))?;
        Ok(Engine { pool, found, stats })
    }

    pub(super) async fn run(
        mut self,
        config: Sv1MinerConfig,
        mut stop: StopSignal,
    ) -> Result<(), MinerError> {
        let deadline = config.duration.map(|d| saturating_after(Instant::now(), d));
        let mut addr = config.pool.clone();
        let result = loop {
            let r = self.session(&config, &addr, &mut stop, deadline).await;
            self.pool.clear();
            let (next, wait) = match r {
                Ok(End::Done) => break Ok(()),
                Ok(End::Reconnect { addr: to, wait }) => {
                    tracing::info!(%to, ?wait, "pool requested reconnection");
                    bump(&self.stats.reconnects);
                    (to, wait)
                }
                Err(e) => {
                    tracing::warn!(error = %e, %addr, "connection ended");
                    self.stats.error(&e);
                    bump(&self.stats.connection_failures);
                    match config.reconnect_delay {
                        Some(delay) => (addr.clone(), delay),
                        None => break Err(e),
                    }
                }
            };
            addr = next;
            let at = saturating_after(Instant::now(), wait);
            if deadline.is_some_and(|d| d <= at) {
                break Ok(());
            }
            tokio::select! {
                _ = stop.wait() => break Ok(()),
                _ = sleep_until(at) => {}
            }
        };
        let Engine { pool, found, .. } = self;
        drop(found);
        let _ = tokio::task::spawn_blocking(move || pool.shutdown()).await;
        result
    }

    fn limit_reached(&self, config: &Sv1MinerConfig, deadline: Option<Instant>) -> bool {
        deadline.is_some_and(|d| Instant::now() >= d)
            || config
                .max_shares
                .is_some_and(|m| self.stats.shares_submitted.load(Ordering::Relaxed) >= m)
    }

    async fn session(
        &mut self,
        config: &Sv1MinerConfig,
        addr: &str,
        stop: &mut StopSignal,
        deadline: Option<Instant>,
    ) -> Result<End, MinerError> {
        if stop.is_stopped() || self.limit_reached(config, deadline) {
            return Ok(End::Done);
        }
        let (mut reader, mut writer) = tokio::select! {
            _ = stop.wait() => return Ok(End::Done),
            r = open(addr, config.connect_timeout) => r?,
        };
        let mut state = Sv1State::new(
            &config.user,
            config
                .version_rolling
                .then_some(super::VERSION_ROLLING_MASK),
        );
        let r = self
            .drive(
                config,
                addr,
                stop,
                deadline,
                &mut state,
                &mut reader,
                &mut writer,
            )
            .await;
        state.close(&self.stats);
        r
    }

    #[allow(clippy::too_many_arguments)]
    async fn drive(
        &mut self,
        config: &Sv1MinerConfig,
        addr: &str,
        stop: &mut StopSignal,
        deadline: Option<Instant>,
        state: &mut Sv1State,
        reader: &mut Reader,
        writer: &mut Writer,
    ) -> Result<End, MinerError> {
        for req in state.handshake(&config.handshake()) {
            writer.feed(req).await?;
        }
        SinkExt::<sv1::ClientRequest>::flush(writer).await?;
        let setup_deadline = saturating_after(Instant::now(), config.setup_timeout);
        let mut draining: Option<Instant> = None;
        loop {
            if draining.is_none() && self.limit_reached(config, deadline) {
                self.pool.clear();
                draining = Some(saturating_after(Instant::now(), config.drain_timeout));
            }
            if let Some(until) = draining {
                if state.outstanding() == 0 || Instant::now() >= until {
                    return Ok(End::Done);
                }
            }
            let wake_at = draining.or(deadline);
            tokio::select! {
                biased;
                _ = stop.wait() => return Ok(End::Done),
                _ = sleep_until(wake_at.unwrap_or_else(Instant::now)), if wake_at.is_some() => {}
                _ = sleep_until(setup_deadline), if !state.ready() => {
                    return Err(MinerError::Timeout("mining.subscribe / mining.authorize"));
                }
                item = reader.next() => {
                    let msg = match item {
                        None => return Err(MinerError::ConnectionClosed),
                        Some(Err(framing)) => return Err(framing.into()),
                        Some(Ok(Err(bad_line))) => {
                            tracing::debug!(error = %bad_line, "ignoring unparseable line");
                            bump(&self.stats.ignored_messages);
                            continue;
                        }
                        Some(Ok(Ok(msg))) => msg,
                    };
                    for effect in state.handle(msg, &self.stats)? {
                        match effect {
                            Sv1Effect::Work(work, target) => {
                                let work = work.map(|(tag, t)| Work::new(tag, t, config.nonce_bits));
                                self.pool.set_work_and_target(0, work, target);
                            }
                            Sv1Effect::Target(target) => self.pool.set_target(0, target),
                            Sv1Effect::Reconnect { host, port, wait_secs } => {
                                let wait = Duration::from_secs(wait_secs).min(MAX_RECONNECT_WAIT);
                                let addr = reconnect_target(addr, host.as_deref(), port);
                                return Ok(End::Reconnect { addr, wait });
                            }
                        }
                    }
                }
                share = self.found.recv(), if draining.is_none() => {
                    let Some(first) = share else { return Ok(End::Done) };
                    self.submit(config, state, writer, first).await?;
                }
            }
        }
    }

    async fn submit(
        &mut self,
        config: &Sv1MinerConfig,
        state: &mut Sv1State,
        writer: &mut Writer,
        first: FoundShare<Sv1Tag>,
    ) -> Result<(), MinerError> {
        let mut next = Some(first);
        let mut batch = 0;
        while let Some(share) = next.take() {
            if config
                .max_shares
                .is_some_and(|m| self.stats.shares_submitted.load(Ordering::Relaxed) >= m)
            {
                break;
            }
            let w = &share.work;
            match state.submission(&w.tag, &w.template, &share.extranonce, &share.found) {
                Some(sub) => {
                    self.stats.submitted(sub.difficulty, sub.is_block);
                    if sub.is_block {
                        tracing::info!(job = %w.tag.job_id, "share meets the network target");
                    }
                    writer.feed(sub.request).await?;
                }
                None => bump(&self.stats.shares_stale_dropped),
            }
            batch += 1;
            if batch < SUBMIT_BATCH {
                next = self.found.try_recv().ok();
            }
        }
        SinkExt::<sv1::ClientRequest>::flush(writer).await?;
        Ok(())
    }
}
