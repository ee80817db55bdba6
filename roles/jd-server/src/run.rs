//! Wiring: node client, chain tracker, transaction cache, listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use node_rpc::NodeClient;
use sv2_noise::ServerKeys;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::chain::ChainTracker;
use crate::config::JdsConfig;
use crate::mempool::TxCache;
use crate::policy::PayoutPolicy;
use crate::server::serve;
use crate::session::{Context, JdsStats};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration value.
    #[error("{0}")]
    Config(String),
    /// The node could not be used.
    #[error("bitcoind: {0}")]
    Node(String),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {detail}")]
    Listen {
        /// Address.
        addr: SocketAddr,
        /// Error.
        detail: String,
    },
}

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
    let authority = sv2_noise::decode_authority_keypair(
        &cfg.server.authority_public_key,
        &cfg.server.authority_secret_key,
    )
    .map_err(|e| {
        StartError::Config(format!(
            "config keys `server.authority_public_key` / `server.authority_secret_key`: {e}. Fix: generate a pair with `sv2-keys authority`"
        ))
    })?;
    let keys = Arc::new(ServerKeys::from_authority(
        authority,
        Duration::from_secs(cfg.server.cert_validity_secs),
    ));
    let node = NodeClient::new(cfg.node_config()).map_err(|e| StartError::Node(e.to_string()))?;
    let mut delay = Duration::from_millis(200);
    let info = loop {
        match node.blockchain_info().await {
            Ok(i) => break i,
            Err(e) if e.is_transient() && delay < Duration::from_secs(5) => {
                tracing::warn!(error = %e, "waiting for bitcoind");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => return Err(StartError::Node(e.to_string())),
        }
    };
    let network = info
        .network()
        .ok_or_else(|| StartError::Node(format!("unknown chain `{}`", info.chain)))?;
    let address = cfg
        .coinbase
        .pool_payout_address
        .parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>()
        .map_err(|e| StartError::Config(format!("config key `coinbase.pool_payout_address`: {e}")))?
        .require_network(network)
        .map_err(|_| {
            StartError::Config(format!(
                "config key `coinbase.pool_payout_address`: not an address of the node's network ({network}). Fix: use the pool's payout address on that network"
            ))
        })?;
    let policy = PayoutPolicy::new(address.script_pubkey(), cfg.min_pool_share_ppm());

    let cache = TxCache::new(Duration::from_millis(
        cfg.validation.mempool_refresh_interval_ms,
    ));
    let (chain, mut tasks) = ChainTracker::start(
        node.clone(),
        cache.clone(),
        Duration::from_millis(cfg.bitcoind.poll_interval_ms),
    );
    let listener = TcpListener::bind(cfg.server.listen)
        .await
        .map_err(|e| StartError::Listen {
            addr: cfg.server.listen,
            detail: e.to_string(),
        })?;
    let local_addr = listener.local_addr().map_err(|e| StartError::Listen {
        addr: cfg.server.listen,
        detail: e.to_string(),
    })?;
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
