//! Wiring: node client, template source, job builder, block submitter, accounting flush and
//! the SV2 listener, started as tokio tasks.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use node_rpc::NodeClient;
use sv2_mining::channel::ChannelConfig;
use sv2_mining::extranonce::ExtranonceAllocator;
use sv2_mining::vardiff::VardiffConfig;
use sv2_noise::ServerKeys;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::accounting::{WorkAggregator, WorkSink};
use crate::block::BlockSubmitter;
use crate::config::PoolConfig;
use crate::jobs::{build_job, payout_scripts, CoinbaseSettings, PoolJob};
use crate::server::{serve, Shared};
use crate::session::{ChannelAllocator, SessionSettings};
use crate::template::{NodeState, TemplateSource, TemplateTiming};
use crate::work_journal::WorkJournal;

pub use role_kit::StartError;

/// A running pool.
pub struct PoolHandle {
    /// Address the SV2 listener is bound to.
    pub local_addr: SocketAddr,
    /// Node state as seen by the template source.
    pub node_state: watch::Receiver<NodeState>,
    /// Latest job.
    pub jobs: watch::Receiver<Option<Arc<PoolJob>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl PoolHandle {
    /// Stops every task of the pool.
    pub fn shutdown(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Waits until the first job exists (or the timeout passes); true if it does.
    pub async fn wait_for_job(&mut self, timeout: Duration) -> bool {
        let fut = async {
            loop {
                if self.jobs.borrow_and_update().is_some() {
                    return true;
                }
                if self.jobs.changed().await.is_err() {
                    return false;
                }
            }
        };
        tokio::time::timeout(timeout, fut).await.unwrap_or(false)
    }
}

impl Drop for PoolHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Settings of the mining sessions from the config.
pub fn session_settings(cfg: &PoolConfig) -> SessionSettings {
    let m = &cfg.mining;
    SessionSettings {
        channel: ChannelConfig {
            version_rolling_mask: cfg.version_mask(),
            // `min_difficulty == max_difficulty` pins the difficulty: no controller, no timer.
            vardiff: (m.min_difficulty < m.max_difficulty).then(|| VardiffConfig {
                target_share_interval_ms: (m.share_interval_secs * 1000.0) as u64,
                min_difficulty: m.min_difficulty,
                max_difficulty: m.max_difficulty,
                ..VardiffConfig::default()
            }),
            fixed_difficulty: m.initial_difficulty,
            ..ChannelConfig::default()
        },
        initial_difficulty: m.initial_difficulty,
        max_difficulty: m.max_difficulty,
        max_channels: cfg.limits.max_channels_per_connection,
        ack_batch: m.share_ack_batch,
        ack_interval_ms: m.share_ack_interval_ms,
        max_invalid_per_minute: cfg.limits.max_invalid_shares_per_minute,
        custom_jobs: None,
        share_observer: None,
        declared_blocks: None,
    }
}

/// Starts the pool: checks the node (network of the payout addresses, version), then spawns
/// every task. Returns once the listener is bound; jobs flow as soon as the node answers.
pub async fn start_pool(
    cfg: PoolConfig,
    sink: Arc<dyn WorkSink>,
) -> Result<PoolHandle, StartError> {
    let authority = sv2_noise::decode_authority_keypair(
        &cfg.server.authority_public_key,
        &cfg.server.authority_secret_key,
    )
    .map_err(|e| {
        StartError::Config(format!(
            "config keys `server.authority_public_key` / `server.authority_secret_key`: {e}. Fix: generate a pair with `sv2-keys authority`"
        ))
    })?;
    let keys = ServerKeys::from_authority(
        authority,
        Duration::from_secs(cfg.server.cert_validity_secs),
    );

    let secondaries = cfg
        .secondary_node_configs()
        .into_iter()
        .map(NodeClient::new)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StartError::Node(e.to_string()))?;

    // The payout addresses must belong to the node's network: ask the node (retrying while it starts).
    let (node, info, network) = role_kit::node::connect_node(cfg.node_config()).await?;
    if let Ok(n) = node.network_info().await {
        tracing::info!(version = n.version, subversion = %n.subversion, chain = %info.chain, height = info.blocks, "connected to bitcoind");
    }
    let payouts = payout_scripts(&cfg.payout, network).map_err(StartError::Config)?;
    {
        // Before any job is served: no block of this pool can be at or below this height.
        let sink = sink.clone();
        let height = info.blocks;
        let noted = tokio::task::spawn_blocking(move || sink.serving_from(height)).await;
        if !matches!(noted, Ok(Ok(()))) {
            return Err(StartError::Config(
                "work sink: cannot record the starting block height".into(),
            ));
        }
    }
    let settings = CoinbaseSettings {
        pool_tag: cfg.server.pool_tag.as_bytes().to_vec(),
        extranonce_len: cfg.mining.extranonce_size as usize,
        payouts,
    };
    let extranonce = ExtranonceAllocator::for_pool(
        cfg.server.node_id as u64,
        1,
        (cfg.mining.extranonce_size - cfg.mining.client_extranonce_size - 1) as usize,
        cfg.mining.client_extranonce_size as usize,
        cfg.mining.extranonce_size as usize,
    )
    .map_err(|e| StartError::Config(format!("config key `mining.extranonce_size`: {e}")))?;
    let allocator = Arc::new(ChannelAllocator::new(extranonce));

    let listen_error = |e: std::io::Error| role_kit::net::ListenError {
        addr: cfg.server.listen,
        detail: e.to_string(),
    };
    let listener = bind_listener(cfg.server.listen, cfg.server.reuse_port).map_err(listen_error)?;
    let local_addr = listener.local_addr().map_err(listen_error)?;

    let mut tasks = Vec::new();
    let (source, mut templates, node_state) = TemplateSource::new(
        node.clone(),
        TemplateTiming {
            poll_interval: Duration::from_millis(cfg.bitcoind.poll_interval_ms),
            min_fee_refresh: Duration::from_secs(cfg.bitcoind.min_fee_refresh_secs),
        },
    );
    tasks.push(tokio::spawn(source.run()));

    // Template -> job
    let (jobs_tx, jobs_rx) = watch::channel::<Option<Arc<PoolJob>>>(None);
    {
        let allocator = allocator.clone();
        tasks.push(tokio::spawn(async move {
            while templates.changed().await.is_ok() {
                let update = templates.borrow_and_update().clone();
                let Some(update) = update else { continue };
                match build_job(&update, &settings) {
                    Ok(job) => {
                        if job.new_tip {
                            allocator.on_new_prev_hash();
                        }
                        metrics::histogram!("pool_job_build_seconds")
                            .record(update.received_at.elapsed().as_secs_f64());
                        let _ = jobs_tx.send(Some(Arc::new(job)));
                    }
                    Err(e) => {
                        metrics::counter!("pool_job_build_errors_total").increment(1);
                        tracing::error!(error = %e, "cannot build a job from the template");
                    }
                }
            }
        }));
    }

    // Block submission
    let (sol_tx, mut sol_rx) = mpsc::channel(256);
    {
        let submitter = BlockSubmitter::new(node.clone(), secondaries, sink.clone());
        tasks.push(tokio::spawn(async move {
            while let Some(sol) = sol_rx.recv().await {
                let s = submitter.clone();
                tokio::spawn(async move {
                    let _ = s.submit(sol).await;
                });
            }
        }));
    }

    // Accounting: the work journal (replayed into the ledger first), then the periodic flush.
    let work = Arc::new(open_work(&cfg, &sink).await?);
    {
        let work = work.clone();
        let sink = sink.clone();
        let every = Duration::from_secs(cfg.accounting.flush_interval_secs);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let drained = work.drain_for_flush();
                crate::accounting::publish_hashrate_metrics(&drained.records);
                if drained.records.is_empty() {
                    continue;
                }
                let sink = sink.clone();
                let batch = drained.records;
                let upto = drained.journal_upto;
                let res = tokio::task::spawn_blocking(move || match upto {
                    Some(upto) => sink.record_journaled_work(&batch, upto),
                    None => sink.record_work(&batch),
                })
                .await;
                match (res, upto) {
                    (Ok(Ok(())), Some(upto)) => work.release(upto),
                    (Ok(Ok(())), None) => {}
                    // The journal keeps the segments: a restart replays what did not land.
                    _ => {
                        metrics::counter!("pool_work_flush_errors_total").increment(1);
                        tracing::error!("work flush failed");
                    }
                }
            }
        }));
    }

    if cfg.accounting.journal_sync_ms > 0 && work.has_journal() {
        tasks.push(spawn_journal_sync(
            work.clone(),
            Duration::from_millis(cfg.accounting.journal_sync_ms),
        ));
    }

    let mut session = session_settings(&cfg);
    session.declared_blocks = Some(spawn_declared_recorder(
        sink.clone(),
        work.clone(),
        &mut tasks,
    ));
    if let Some(jd) = &cfg.job_declaration {
        let key = crate::custom_jobs::key_from_config(jd)
            .map_err(|e| StartError::Config(e.to_string()))?;
        session.custom_jobs = Some(Arc::new(crate::custom_jobs::CustomJobVerifier::new(key)));
        tracing::info!("custom jobs accepted with job declarator tokens");
    }
    let shared = Arc::new(Shared {
        session,
        config: cfg,
        keys,
        jobs: jobs_rx.clone(),
        solutions: sol_tx,
        work,
        per_ip: DashMap::new(),
        connections: AtomicU32::new(0),
        allocator,
    });
    tasks.push(tokio::spawn(serve(listener, shared)));
    tracing::info!(%local_addr, "SV2 pool listening");
    Ok(PoolHandle {
        local_addr,
        node_state,
        jobs: jobs_rx,
        tasks,
    })
}

/// Binds the SV2 listener; with `reuse_port`, other processes may bind the same address and
/// the kernel spreads new connections over all of them.
fn bind_listener(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Every `every`, `fdatasync`s the journal files written since the last round (group commit:
/// share handling never waits for the disk).
fn spawn_journal_sync(work: Arc<WorkAggregator>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let files = work.journal_unsynced();
            if files.is_empty() {
                continue;
            }
            let started = std::time::Instant::now();
            let synced =
                tokio::task::spawn_blocking(move || files.iter().try_for_each(|f| f.sync_data()))
                    .await;
            match synced {
                Ok(Ok(())) => metrics::histogram!("pool_work_journal_sync_seconds")
                    .record(started.elapsed().as_secs_f64()),
                res => {
                    metrics::counter!("pool_work_journal_errors_total").increment(1);
                    tracing::error!(?res, "work journal: fdatasync failed");
                }
            }
        }
    })
}

/// Writes blocks found on declared jobs to the sink (retrying while it fails), so the
/// treasury credits them once they are in the best chain.
fn spawn_declared_recorder(
    sink: Arc<dyn WorkSink>,
    work: Arc<WorkAggregator>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> mpsc::Sender<crate::accounting::DeclaredBlock> {
    let (tx, mut rx) = mpsc::channel::<crate::accounting::DeclaredBlock>(256);
    tasks.push(tokio::spawn(async move {
        while let Some(block) = rx.recv().await {
            let mut delay = Duration::from_millis(200);
            for attempt in 1..=8 {
                let sink = sink.clone();
                let b = block.clone();
                match tokio::task::spawn_blocking(move || sink.declared_block(&b)).await {
                    Ok(Ok(())) => {
                        work.declared_recorded(&block.hash);
                        break;
                    }
                    res => {
                        metrics::counter!("pool_work_flush_errors_total").increment(1);
                        tracing::error!(hash = %block.hash, attempt, ?res, "cannot record a block found on a declared job");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(10));
                    }
                }
            }
        }
    }));
    tx
}

/// The work aggregator, with a journal when the sink keeps work durably and a journal
/// directory is configured; journal entries the ledger does not hold yet (a crash before their
/// flush) are written to it first.
async fn open_work(
    cfg: &PoolConfig,
    sink: &Arc<dyn WorkSink>,
) -> Result<WorkAggregator, StartError> {
    let Some(dir) = cfg.work_journal_dir() else {
        return Ok(WorkAggregator::new());
    };
    let sink = sink.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<Option<WorkJournal>, String> {
        let Some(applied) = sink.journal_applied().map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let (journal, pending) = WorkJournal::open(&dir, applied)
            .map_err(|e| format!("work journal {}: {e}", dir.display()))?;
        if let Some(last) = pending.last().map(|e| e.seq) {
            let records = crate::accounting::records_from_journal(&pending);
            let shares: u64 = records.iter().map(|r| r.shares).sum();
            sink.record_journaled_work(&records, last)
                .map_err(|e| format!("replaying the work journal: {e}"))?;
            tracing::info!(
                entries = pending.len(),
                shares,
                "work journal: replayed work acknowledged before the last stop into the ledger"
            );
        }
        // Blocks found on declared jobs that the ledger may not hold yet.
        let declared = journal
            .declared_blocks()
            .map_err(|e| format!("work journal {}: {e}", dir.display()))?;
        for block in &declared {
            sink.declared_block(block)
                .map_err(|e| format!("replaying a declared block: {e}"))?;
            journal.remove_declared(&block.hash);
        }
        if !declared.is_empty() {
            tracing::info!(
                blocks = declared.len(),
                "work journal: replayed blocks found on declared jobs into the ledger"
            );
        }
        let mut journal = journal;
        journal.release(journal.last_seq());
        Ok(Some(journal))
    })
    .await
    .map_err(|e| StartError::Config(format!("work journal: {e}")))?
    .map_err(StartError::Config)?;
    Ok(match res {
        Some(j) => WorkAggregator::with_journal(j),
        None => WorkAggregator::new(),
    })
}
