//! Prometheus metrics (logging is set up by `role_kit::cli::init_logging`).
//!
//! Metrics (all prefixed `translator_`):
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `miners_connected` | gauge | | SV1 connections open |
//! | `miners_ready` | gauge | | miners subscribed + authorized |
//! | `miner_hashrate` | gauge | `worker`, `extranonce1` | per-miner hashrate estimate, H/s |
//! | `hashrate` | gauge | | sum over miners, H/s |
//! | `shares_total` | counter | `result` (accepted/rejected), `reason` | local validation |
//! | `upstream_shares_total` | counter | `result`, `reason` | pool acknowledgements |
//! | `shares_forwarded_total` | counter | | shares sent upstream |
//! | `shares_unforwarded_total` | counter | | upstream-worthy shares on jobs of a lost upstream |
//! | `block_candidates_total` | counter | | shares meeting the network target |
//! | `upstream_connected` | gauge | `upstream` | 1 for the pool in use |
//! | `upstream_state` | gauge | | 0 down, 1 setting up, 2 mining |
//! | `failovers_total` | counter | `reason` | times the translator left a pool |
//! | `miners_disconnected_total` | counter | `reason` | disconnections initiated by either side |
//! | `miners_refused_total` | counter | `reason` | connections refused (limits) |
//!
//! Per-miner series are refreshed every few seconds and dropped by the exporter after
//! [`IDLE_SERIES`] without updates (disconnected miners).

use std::net::SocketAddr;
use std::time::Duration;

/// Time after which a series without updates disappears from `/metrics`.
pub const IDLE_SERIES: Duration = Duration::from_secs(300);

/// `translator_miners_connected`.
pub const MINERS_CONNECTED: &str = "translator_miners_connected";
/// `translator_miners_ready`.
pub const MINERS_READY: &str = "translator_miners_ready";
/// `translator_miner_hashrate`.
pub const MINER_HASHRATE: &str = "translator_miner_hashrate";
/// `translator_hashrate`.
pub const HASHRATE: &str = "translator_hashrate";
/// `translator_shares_total`.
pub const SHARES: &str = "translator_shares_total";
/// `translator_upstream_shares_total`.
pub const UPSTREAM_SHARES: &str = "translator_upstream_shares_total";
/// `translator_shares_forwarded_total`.
pub const FORWARDED: &str = "translator_shares_forwarded_total";
/// `translator_shares_unforwarded_total`.
pub const UNFORWARDED: &str = "translator_shares_unforwarded_total";
/// `translator_block_candidates_total`.
pub const BLOCK_CANDIDATES: &str = "translator_block_candidates_total";
/// `translator_upstream_connected`.
pub const UPSTREAM_CONNECTED: &str = "translator_upstream_connected";
/// `translator_upstream_state`.
pub const UPSTREAM_STATE: &str = "translator_upstream_state";
/// `translator_failovers_total`.
pub const FAILOVERS: &str = "translator_failovers_total";
/// `translator_miners_disconnected_total`.
pub const MINERS_DISCONNECTED: &str = "translator_miners_disconnected_total";
/// `translator_miners_refused_total`.
pub const MINERS_REFUSED: &str = "translator_miners_refused_total";

pub use role_kit::cli::MetricsError;

/// Starts the Prometheus exporter's HTTP listener at `addr` (serves `/metrics`); per-miner
/// gauges leave the output after [`IDLE_SERIES`] without updates.
pub fn init_metrics(addr: SocketAddr) -> Result<(), MetricsError> {
    role_kit::cli::install_prometheus(addr, Some(IDLE_SERIES))
}
