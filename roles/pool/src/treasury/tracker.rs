//! Chain tracker: a task that asks the node for its best block every
//! `treasury.check_interval_ms` and, after every new tip (or newly attributed block),
//! checks each immature or recently orphaned block with `getblockhash(height)`: blocks that
//! left the best chain are orphaned (reversing entries), ones that came back are reinstated,
//! ones with enough confirmations mature.
//!
//! It also scans new blocks of the best chain for blocks this pool mined that are missing
//! from the ledger (the pool was killed between the node accepting a block and the ledger
//! recording it) and records them, so no found block is ever lost. A block counts as this
//! pool's when its coinbase carries the pool tag and pays only the configured payout scripts.
//!
//! Blocks found on declared (custom) jobs are submitted by the job declarator client and
//! server, not by the pool, and carry the client's tag: the pool stores their hashes
//! ([`Ledger::record_declared`]) and the tracker credits each one, with its finder, as soon
//! as the node has it in the best chain, counting what its coinbase pays the payout scripts.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::{Block, Network, ScriptBuf};
use node_rpc::NodeClient;
use tokio::task::JoinHandle;

use crate::accounting::{unix_now, FoundBlock, WorkerId};

use super::ledger::{BlockSource, Ledger, Observation};
use super::store::StoreError;

/// Blocks re-scanned below the last scanned height (cheap: hashes already seen are skipped).
const SCAN_OVERLAP: u64 = 3;
/// Hashes remembered as "not ours" to avoid fetching them again.
const NOT_OURS_CAPACITY: usize = 512;
/// A declared block the node never shows in the best chain is given up after this long.
const DECLARED_TTL_SECS: u64 = 6 * 3600;
/// JSON-RPC error code of Bitcoin Core for an unknown block.
const RPC_BLOCK_NOT_FOUND: i32 = -5;
/// Work rows are pruned at most this often.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// The chain is re-checked at least this often even without a new tip, so a block credited
/// by a work flush after the last tip check matures on time instead of at the next block.
const RECHECK_EVERY: Duration = Duration::from_secs(30);

/// What the tracker needs besides the ledger and the node.
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    /// How often the node's best block is polled.
    pub check_interval: Duration,
    /// The pool tag put in every coinbase scriptSig.
    pub pool_tag: Vec<u8>,
    /// The payout scripts of the coinbase.
    pub payout_scripts: Vec<ScriptBuf>,
    /// The node's network (for the block subsidy of recovered blocks).
    pub network: Network,
    /// At most this many blocks are scanned per round when catching up (the next round
    /// resumes where this one stopped).
    pub scan_limit: u64,
    /// A block missing from the ledger is recovered only once it is at least this old (the
    /// pool's own recording normally wins the race): by its header time, or by when the
    /// tracker first saw it, whichever is earlier (header times may run ahead of the clock).
    pub recovery_delay_secs: u64,
}

/// Errors of one tracker round (logged; the next round retries).
#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    /// The node did not answer.
    #[error("bitcoind: {0}")]
    Node(#[from] node_rpc::RpcError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] StoreError),
    /// A blocking task failed.
    #[error("task: {0}")]
    Task(String),
    /// The node returned a block that does not decode.
    #[error("undecodable block {0}")]
    Block(String),
}

/// Starts the tracker task.
pub fn spawn_tracker(ledger: Arc<Ledger>, node: NodeClient, cfg: TrackerConfig) -> JoinHandle<()> {
    tokio::spawn(run_tracker(ledger, node, cfg))
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, StoreError> + Send + 'static,
) -> Result<R, TrackerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| TrackerError::Task(e.to_string()))?
        .map_err(TrackerError::Ledger)
}

/// The tracker loop (runs until aborted).
pub async fn run_tracker(ledger: Arc<Ledger>, node: NodeClient, cfg: TrackerConfig) {
    let mut state = Tracker {
        ledger,
        node,
        cfg,
        last_tip: None,
        not_ours: VecDeque::new(),
        first_seen: std::collections::HashMap::new(),
        scan_behind: true,
        last_prune: None,
        last_check: None,
    };
    let mut tick = tokio::time::interval(state.cfg.check_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = state.round().await {
            metrics::counter!("treasury_tracker_errors_total").increment(1);
            tracing::warn!(error = %e, "treasury tracker round failed");
        }
    }
}

/// State of the tracker between rounds.
struct Tracker {
    ledger: Arc<Ledger>,
    node: NodeClient,
    cfg: TrackerConfig,
    last_tip: Option<bitcoin::BlockHash>,
    not_ours: VecDeque<String>,
    /// Unix seconds at which a missing block of this pool was first seen, while it is too
    /// young to recover.
    first_seen: std::collections::HashMap<String, u64>,
    scan_behind: bool,
    last_prune: Option<std::time::Instant>,
    last_check: Option<std::time::Instant>,
}

impl Tracker {
    async fn round(&mut self) -> Result<(), TrackerError> {
        let ledger = self.ledger.clone();
        let attributed = blocking(move || ledger.attribute_due(unix_now())).await?;
        let info = self.node.blockchain_info().await?;
        self.check_declared().await?;
        let tip_changed = self.last_tip != Some(info.bestblockhash);
        let recheck_due = self.last_check.is_none_or(|t| t.elapsed() >= RECHECK_EVERY);
        if tip_changed || attributed > 0 || self.scan_behind || recheck_due {
            self.last_check = Some(std::time::Instant::now());
            self.scan_behind = self.scan(info.blocks).await?;
            self.check_chain(info.blocks, info.bestblockhash.to_string())
                .await?;
            self.last_tip = Some(info.bestblockhash);
        }
        if self.last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            self.last_prune = Some(std::time::Instant::now());
            let ledger = self.ledger.clone();
            let pruned = blocking(move || ledger.prune_work(unix_now())).await?;
            if pruned > 0 {
                tracing::info!(rows = pruned, "pruned old work rows");
            }
        }
        Ok(())
    }

    async fn check_chain(&mut self, height: u64, tip_hash: String) -> Result<(), TrackerError> {
        let ledger = self.ledger.clone();
        let tracked = blocking(move || ledger.blocks_to_check(height)).await?;
        let mut observations = Vec::with_capacity(tracked.len());
        for b in &tracked {
            let active = self.node.block_hash(b.height).await?;
            observations.push(Observation {
                block_id: b.id,
                active_hash: active.map(|h| h.to_string()),
            });
        }
        let ledger = self.ledger.clone();
        let changes =
            blocking(move || ledger.apply_chain(height, &tip_hash, &observations, unix_now()))
                .await?;
        for (what, ids) in [
            ("matured", &changes.matured),
            ("orphaned", &changes.orphaned),
            ("reinstated", &changes.reinstated),
        ] {
            for id in ids {
                if let Some(b) = tracked.iter().find(|b| b.id == *id) {
                    if what == "orphaned" {
                        tracing::warn!(height = b.height, hash = %b.hash, "block left the best chain: credits reversed");
                    } else {
                        tracing::info!(height = b.height, hash = %b.hash, "block {what}");
                    }
                }
                metrics::counter!("treasury_block_transitions_total", "to" => what).increment(1);
            }
        }
        Ok(())
    }

    /// Scans the best chain for this pool's blocks missing from the ledger. Returns true
    /// when it stopped early (a candidate too young to recover yet).
    async fn scan(&mut self, tip_height: u64) -> Result<bool, TrackerError> {
        let ledger = self.ledger.clone();
        let scanned = blocking(move || ledger.meta("scan_height")).await?;
        let Some(scanned) = scanned.and_then(|s| s.parse::<u64>().ok()) else {
            // First start: nothing below the current tip can be ours-and-missing.
            let ledger = self.ledger.clone();
            blocking(move || ledger.set_meta("scan_height", &tip_height.to_string())).await?;
            return Ok(false);
        };
        // Resume where the last scan stopped, never skipping a block: a pool restarted again
        // and again before its scans caught up must still find every block it lost. A round
        // scans at most `scan_limit` blocks; the next round goes on from there.
        let start = scanned.saturating_sub(SCAN_OVERLAP) + 1;
        let end = tip_height.min(start.saturating_add(self.cfg.scan_limit.max(1) - 1));
        let mut done = scanned.min(tip_height);
        let mut behind = end < tip_height;
        for h in start..=end {
            let Some(hash) = self.node.block_hash(h).await? else {
                break;
            };
            let hash_s = hash.to_string();
            if self.not_ours.contains(&hash_s) {
                done = done.max(h);
                continue;
            }
            let ledger = self.ledger.clone();
            let hs = hash_s.clone();
            if blocking(move || ledger.has_block(&hs)).await? {
                done = done.max(h);
                continue;
            }
            let raw: String = self
                .node
                .call(
                    "getblock",
                    vec![serde_json::json!(hash_s), serde_json::json!(0)],
                )
                .await?;
            let block: Block = hex::decode(&raw)
                .ok()
                .and_then(|b| bitcoin::consensus::deserialize(&b).ok())
                .ok_or_else(|| TrackerError::Block(hash_s.clone()))?;
            let Some(found) = self.ours(&block, h, &hash_s) else {
                if self.not_ours.len() >= NOT_OURS_CAPACITY {
                    self.not_ours.pop_front();
                }
                self.not_ours.push_back(hash_s);
                done = done.max(h);
                continue;
            };
            let now = unix_now();
            if self.first_seen.len() >= NOT_OURS_CAPACITY {
                self.first_seen.clear();
            }
            let seen = *self.first_seen.entry(hash_s.clone()).or_insert(now);
            if found
                .time
                .min(seen)
                .saturating_add(self.cfg.recovery_delay_secs)
                > now
            {
                behind = true;
                break;
            }
            self.first_seen.remove(&hash_s);
            let ledger = self.ledger.clone();
            let f = found.clone();
            let outcome =
                blocking(move || ledger.record_block_from(&f, BlockSource::Recovered, unix_now()))
                    .await?;
            tracing::warn!(height = h, hash = %found.hash, reward = found.reward_sats, ?outcome, "recovered a block of this pool missing from the ledger");
            metrics::counter!("treasury_blocks_recovered_total").increment(1);
            done = done.max(h);
        }
        let ledger = self.ledger.clone();
        blocking(move || ledger.set_meta("scan_height", &done.to_string())).await?;
        Ok(behind)
    }

    /// Credits the declared blocks the node now has in its best chain; forgets those credited
    /// already, those that pay nothing to the payout scripts, and those never seen in time.
    async fn check_declared(&mut self) -> Result<(), TrackerError> {
        let ledger = self.ledger.clone();
        let declared = blocking(move || ledger.declared_blocks()).await?;
        for d in declared {
            let ledger = self.ledger.clone();
            let hash = d.hash.clone();
            let credit = if blocking(move || ledger.has_block(&hash)).await? {
                None
            } else {
                match self.declared_in_best_chain(&d).await? {
                    DeclaredState::Waiting
                        if unix_now().saturating_sub(d.time) < DECLARED_TTL_SECS =>
                    {
                        continue;
                    }
                    DeclaredState::Waiting => {
                        metrics::counter!("treasury_declared_blocks_total", "outcome" => "expired")
                            .increment(1);
                        tracing::warn!(hash = %d.hash, finder = %d.finder.full(), "a block found on a declared job never reached the node's best chain: not credited");
                        None
                    }
                    DeclaredState::NotOurs => {
                        metrics::counter!("treasury_declared_blocks_total", "outcome" => "not_paying")
                            .increment(1);
                        tracing::warn!(hash = %d.hash, "a block found on a declared job pays none of the payout scripts: not credited");
                        None
                    }
                    DeclaredState::InChain(found) => Some(found),
                }
            };
            if let Some(found) = credit {
                let ledger = self.ledger.clone();
                let f = found.clone();
                let outcome =
                    blocking(move || ledger.record_block_from(&f, BlockSource::Pool, unix_now()))
                        .await?;
                metrics::counter!("treasury_declared_blocks_total", "outcome" => "credited")
                    .increment(1);
                tracing::info!(height = found.height, hash = %found.hash, reward = found.reward_sats, finder = %found.finder.full(), ?outcome, "block found on a declared job is in the best chain: recorded");
            }
            let ledger = self.ledger.clone();
            blocking(move || ledger.forget_declared(&d.hash)).await?;
        }
        Ok(())
    }

    /// Where a declared block stands on the node.
    async fn declared_in_best_chain(
        &self,
        d: &crate::accounting::DeclaredBlock,
    ) -> Result<DeclaredState, TrackerError> {
        #[derive(serde::Deserialize)]
        struct HeaderInfo {
            confirmations: i64,
            height: u64,
        }
        let header: HeaderInfo = match self
            .node
            .call(
                "getblockheader",
                vec![serde_json::json!(d.hash), serde_json::json!(true)],
            )
            .await
        {
            Ok(h) => h,
            Err(node_rpc::RpcError::Rpc { code, .. }) if code == RPC_BLOCK_NOT_FOUND => {
                return Ok(DeclaredState::Waiting);
            }
            Err(e) => return Err(e.into()),
        };
        if header.confirmations < 1 {
            // Known but not in the best chain (yet, or any more).
            return Ok(DeclaredState::Waiting);
        }
        let raw: String = self
            .node
            .call(
                "getblock",
                vec![serde_json::json!(d.hash), serde_json::json!(0)],
            )
            .await?;
        let block: Block = hex::decode(&raw)
            .ok()
            .and_then(|b| bitcoin::consensus::deserialize(&b).ok())
            .ok_or_else(|| TrackerError::Block(d.hash.clone()))?;
        let reward: u64 = block
            .txdata
            .first()
            .map(|cb| {
                cb.output
                    .iter()
                    .filter(|o| self.cfg.payout_scripts.contains(&o.script_pubkey))
                    .map(|o| o.value.to_sat())
                    .sum()
            })
            .unwrap_or(0);
        if reward == 0 {
            return Ok(DeclaredState::NotOurs);
        }
        Ok(DeclaredState::InChain(FoundBlock {
            height: header.height,
            hash: d.hash.clone(),
            reward_sats: reward,
            fees_sats: reward.saturating_sub(subsidy(header.height, self.cfg.network)),
            finder: d.finder.clone(),
            time: d.time.min(unix_now()),
            node_result: "declared-job".to_owned(),
        }))
    }

    /// The block as a [`FoundBlock`] when its coinbase is this pool's.
    fn ours(&self, block: &Block, height: u64, hash: &str) -> Option<FoundBlock> {
        let coinbase = block.txdata.first()?;
        let input = coinbase.input.first()?;
        let tag = &self.cfg.pool_tag;
        if !tag.is_empty()
            && !input
                .script_sig
                .as_bytes()
                .windows(tag.len())
                .any(|w| w == tag.as_slice())
        {
            return None;
        }
        let mut reward = 0u64;
        let mut paid_us = false;
        for o in &coinbase.output {
            let v = o.value.to_sat();
            if v == 0 {
                continue;
            }
            if !self.cfg.payout_scripts.contains(&o.script_pubkey) {
                return None;
            }
            paid_us = true;
            reward = reward.saturating_add(v);
        }
        if !paid_us {
            return None;
        }
        Some(FoundBlock {
            height,
            hash: hash.to_owned(),
            reward_sats: reward,
            fees_sats: reward.saturating_sub(subsidy(height, self.cfg.network)),
            finder: WorkerId {
                site: super::UNASSIGNED_SITE.to_owned(),
                worker: "unknown".to_owned(),
            },
            // Header times may run ahead of the clock (up to 2 h): a found time in the future
            // would hold the block's attribution back until then.
            time: u64::from(block.header.time).min(unix_now()),
            node_result: "recovered".to_owned(),
        })
    }
}

/// Where a block found on a declared job stands on the node.
enum DeclaredState {
    /// Unknown to the node, or not in its best chain.
    Waiting,
    /// In the best chain, but its coinbase pays none of the payout scripts.
    NotOurs,
    /// In the best chain: this is what to credit.
    InChain(FoundBlock),
}

/// Block subsidy at `height`, satoshis.
pub fn subsidy(height: u64, network: Network) -> u64 {
    let interval = if network == Network::Regtest {
        150
    } else {
        210_000
    };
    let halvings = height / interval;
    if halvings >= 64 {
        0
    } else {
        (50 * 100_000_000u64) >> halvings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsidies() {
        assert_eq!(subsidy(0, Network::Bitcoin), 5_000_000_000);
        assert_eq!(subsidy(840_000, Network::Bitcoin), 312_500_000);
        assert_eq!(subsidy(149, Network::Regtest), 5_000_000_000);
        assert_eq!(subsidy(150, Network::Regtest), 2_500_000_000);
        assert_eq!(subsidy(u64::MAX, Network::Bitcoin), 0);
    }
}
