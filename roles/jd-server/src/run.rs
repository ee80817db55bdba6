//! Wiring: node client, chain tracker, transaction cache, listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::chain::ChainTracker;
use crate::config::JdsConfig;
use crate::mempool::TxCache;
use crate::policy::PayoutPolicy;
use crate::server::serve;
use crate::session::{Context, JdsStats};

pub use role_kit::StartError;

/// A running job declarator server. Dropping it stops it and closes its connections.
pub struct JdsHandle {
    /// Address the listener is bound to.
    pub local_addr: SocketAddr,
    /// Counters.
    pub stats: Arc<JdsStats>,
    /// The node's tip as the server sees it.
    pub chain: ChainTracker,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl JdsHandle {
    /// Stops accepting, closes every connection, stops the node polling.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for JdsHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the server: checks the node (the payout address must be of its network), then
/// spawns the chain tracker and the listener.
pub async fn start_jds(cfg: JdsConfig) -> Result<JdsHandle, StartError> {
    let key = cfg
        .token_key()
        .map_err(|e| StartError::Config(e.to_string()))?;
    let keys = Arc::new(
        role_kit::net::server_keys(
            "server",
            &cfg.server.authority_public_key,
            &cfg.server.authority_secret_key,
            cfg.server.cert_validity_secs,
        )
        .map_err(StartError::Config)?,
    );
    let (node, _, network) = role_kit::node::connect_node(cfg.node_config()).await?;
    let address = role_kit::node::address_on_network(
        "coinbase.pool_payout_address",
        &cfg.coinbase.pool_payout_address,
        network,
        "use the pool's payout address on that network",
    )
    .map_err(StartError::Config)?;
    let policy = PayoutPolicy::new(address.script_pubkey(), cfg.min_pool_share_ppm());

    let cache = TxCache::new(Duration::from_millis(
        cfg.validation.mempool_refresh_interval_ms,
    ));
    let (chain, mut tasks) = ChainTracker::start(
        node.clone(),
        cache.clone(),
        Duration::from_millis(cfg.bitcoind.poll_interval_ms),
    );
    let (listener, local_addr) = role_kit::net::bind(cfg.server.listen).await?;
    let stats = Arc::new(JdsStats::default());
    let ctx = Arc::new(Context::new(
        cfg,
        key,
        policy,
        node,
        cache,
        chain.clone(),
        stats.clone(),
    ));
    let (shutdown, stop) = watch::channel(false);
    tasks.push(tokio::spawn(serve(listener, ctx, keys, stop)));
    tracing::info!(%local_addr, "job declarator server listening");
    Ok(JdsHandle {
        local_addr,
        stats,
        chain,
        shutdown,
        tasks,
    })
}
