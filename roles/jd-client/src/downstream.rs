//! The miner-facing side: the pool's own listener and mining sessions (`pool::server`,
//! `pool::session`), fed with this client's jobs. Accepted shares are observed (and forwarded
//! upstream by the runtime); found blocks arrive as `pool::block::BlockSolution`s.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use pool::accounting::WorkAggregator;
use pool::block::BlockSolution;
use pool::config::PoolConfig;
use pool::jobs::PoolJob;
use pool::server::Shared;
use pool::session::{ChannelAllocator, ObservedShare, ShareObserver};
use sv2_mining::extranonce::ExtranonceAllocator;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::JdcConfig;

/// Hands accepted shares to the runtime without blocking the connection task.
#[derive(Debug)]
pub struct Forwarder(pub mpsc::Sender<ObservedShare>);

impl ShareObserver for Forwarder {
    fn accepted(&self, share: ObservedShare) {
        if self.0.try_send(share).is_err() {
            metrics::counter!("jdc_observed_shares_dropped_total").increment(1);
        }
    }
}

/// Why the downstream side could not start.
#[derive(Debug, thiserror::Error)]
pub enum DownstreamError {
    /// Bad keys or layout.
    #[error("{0}")]
    Config(String),
    /// The listener could not be bound.
    #[error(transparent)]
    Listen(#[from] role_kit::net::ListenError),
}

/// The pool configuration the reused server and sessions read: listener limits and the
/// downstream `[mining]` settings.
fn pool_config(cfg: &JdcConfig) -> Result<PoolConfig, DownstreamError> {
    let d = &cfg.downstream;
    let mut server = toml::Table::new();
    server.insert("listen".into(), d.listen.to_string().into());
    server.insert(
        "authority_public_key".into(),
        d.authority_public_key.clone().into(),
    );
    server.insert(
        "authority_secret_key".into(),
        d.authority_secret_key.clone().into(),
    );
    let mut bitcoind = toml::Table::new();
    bitcoind.insert("url".into(), cfg.bitcoind.url.clone().into());
    let mut doc = toml::Table::new();
    doc.insert("server".into(), server.into());
    doc.insert("bitcoind".into(), bitcoind.into());
    let mut pc: PoolConfig = toml::Value::Table(doc)
        .try_into()
        .map_err(|e| DownstreamError::Config(format!("downstream settings: {e}")))?;
    pc.limits = cfg.limits.clone();
    let m = &mut pc.mining;
    m.share_interval_secs = d.share_interval_secs;
    m.initial_difficulty = d.initial_difficulty;
    m.min_difficulty = d.min_difficulty;
    m.max_difficulty = d.max_difficulty;
    m.version_rolling_mask = d.version_rolling_mask.clone();
    m.extranonce_size = d.extranonce_size;
    m.client_extranonce_size = d.client_extranonce_size;
    m.share_ack_batch = d.share_ack_batch;
    m.share_ack_interval_ms = d.share_ack_interval_ms;
    Ok(pc)
}

/// Starts the downstream listener. Jobs come from `jobs`; accepted shares go to `shares`,
/// block candidates to `solutions`.
pub async fn start(
    cfg: &JdcConfig,
    jobs: watch::Receiver<Option<Arc<PoolJob>>>,
    shares: mpsc::Sender<ObservedShare>,
    solutions: mpsc::Sender<BlockSolution>,
) -> Result<Downstream, DownstreamError> {
    let d = &cfg.downstream;
    let keys = role_kit::net::server_keys(
        "downstream",
        &d.authority_public_key,
        &d.authority_secret_key,
        d.cert_validity_secs,
    )
    .map_err(DownstreamError::Config)?;
    let pc = pool_config(cfg)?;
    let mut session = pool::run::session_settings(&pc);
    session.share_observer = Some(Arc::new(Forwarder(shares)));
    let total = usize::from(d.extranonce_size);
    let client = usize::from(d.client_extranonce_size);
    let extranonce = ExtranonceAllocator::new(Vec::new(), total - client, total).map_err(|e| {
        DownstreamError::Config(format!("config key `downstream.extranonce_size`: {e}"))
    })?;
    let (listener, local) = role_kit::net::bind(d.listen).await?;
    let work = Arc::new(WorkAggregator::new());
    let allocator = Arc::new(ChannelAllocator::new(extranonce));
    let shared = Arc::new(Shared {
        config: pc,
        keys,
        jobs,
        solutions,
        work: work.clone(),
        session,
        per_ip: DashMap::new(),
        connections: AtomicU32::new(0),
        allocator: allocator.clone(),
    });
    let flush = tokio::spawn(async move {
        // Downstream work is not paid out here: it only feeds the hashrate metrics.
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            pool::accounting::publish_hashrate_metrics(&work.drain());
        }
    });
    let serve = tokio::spawn(pool::server::serve(listener, shared));
    Ok(Downstream {
        local_addr: local,
        allocator,
        tasks: vec![serve, flush],
    })
}

/// The running downstream side.
pub struct Downstream {
    /// Bound address.
    pub local_addr: SocketAddr,
    /// Channel ids and prefixes (released prefixes become reusable on new tips).
    pub allocator: Arc<ChannelAllocator>,
    /// Listener and metrics tasks.
    pub tasks: Vec<JoinHandle<()>>,
}
