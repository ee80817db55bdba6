//! Treasury and fleet accounting: every self-mined satoshi credited per site, hosting partner
//! and treasury account, in an append-only ledger on SQLite or PostgreSQL.
//!
//! * [`ledger::Ledger`] is a [`crate::accounting::WorkSink`]: work batches and found blocks go
//!   in, rewards are split ([`split`]) and credited immature; [`tracker`] follows the node to
//!   mature, orphan (reversing entries) or reinstate them and recovers blocks a crash lost.
//! * [`reports`] computes balances, blocks, BTC mined, uptime and hashrate for the
//!   `sv2-pool treasury` command ([`cli`]), Prometheus ([`metrics`]) and the dashboard.
//!
//! The accounting rules in plain words are in `roles/pool/TREASURY.md`.

pub mod cli;
pub mod config;
pub mod format;
pub mod ledger;
pub mod metrics;
pub mod period;
pub mod reports;
pub mod settings;
pub mod split;
pub mod store;
pub mod tracker;

use std::sync::Arc;
use std::time::Duration;

use node_rpc::NodeClient;
use tokio::task::JoinHandle;

use crate::config::PoolConfig;

pub use ledger::Ledger;
pub use settings::LedgerSettings;

/// Site id of work whose worker maps to no configured site.
pub const UNASSIGNED_SITE: &str = "unassigned";

/// Opens the ledger configured in `[treasury]` (`None` when there is none).
pub fn open_ledger(cfg: &PoolConfig) -> Result<Option<Arc<Ledger>>, store::StoreError> {
    match LedgerSettings::from_config(cfg) {
        Some(settings) => Ok(Some(Arc::new(Ledger::open(settings)?))),
        None => Ok(None),
    }
}

/// Starts the chain tracker for `ledger` against the config's node (asks the node for its
/// network to check the payout scripts).
pub async fn start_tracker(
    cfg: &PoolConfig,
    ledger: Arc<Ledger>,
) -> Result<JoinHandle<()>, String> {
    let t = cfg
        .treasury
        .as_ref()
        .ok_or_else(|| "no [treasury] section".to_owned())?;
    let node = NodeClient::new(cfg.node_config()).map_err(|e| e.to_string())?;
    let (_, network) = role_kit::node::wait_for_node(&node)
        .await
        .map_err(|e| format!("bitcoind: {e}"))?;
    let scripts = crate::jobs::payout_scripts(&cfg.payout, network)?
        .into_iter()
        .map(|p| p.script)
        .collect();
    let grace = ledger.settings().attribution_grace_secs;
    Ok(tracker::spawn_tracker(
        ledger,
        node,
        tracker::TrackerConfig {
            check_interval: Duration::from_millis(t.check_interval_ms),
            pool_tag: cfg.server.pool_tag.as_bytes().to_vec(),
            payout_scripts: scripts,
            network,
            scan_limit: t.recovery_scan_limit,
            recovery_delay_secs: grace,
        },
    ))
}
