//! The stand-in's node state: a block tree with an active chain, the mempool, block
//! validation and acceptance (`submitblock`), template building and the stand-in's own mining.
//!
//! There is no UTXO set. A non-coinbase transaction in a block must be one the node knows
//! (it was in the mempool, or in a block, at some point) so its fee is known; outpoints of
//! unknown transactions are treated as existing, unspent coins. Double spends, parents that are
//! not confirmed and children placed before their parents are detected.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitcoin::block::Header;
use bitcoin::hashes::Hash;
use bitcoin::pow::Work;
use bitcoin::{
    Amount, Block, BlockHash, CompactTarget, OutPoint, ScriptBuf, Target, Transaction, TxOut, Txid,
};

use super::mempool::Mempool;
use super::params::{
    block_subsidy, BLOCK_RESERVED_WEIGHT, COINBASE_RESERVED_SIGOPS, MAX_BLOCK_SIGOPS_COST,
    MAX_BLOCK_WEIGHT, MEDIAN_TIME_SPAN, TEMPLATE_VERSION,
};
use super::template::{coinbase_tx, refresh_merkle_root, solve_header, BlockTemplate, TemplateTx};
use super::validation::{
    check_block, check_transaction, contextual_check_block, contextual_check_header, is_final,
    witness_commitment_for, witness_commitment_index, witness_commitment_script, RejectKind,
    Rejection,
};

/// Validation state of a stored block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockStatus {
    /// Fully validated (connected at least once), or the chain's starting block.
    Valid,
    /// Stored with its data and passed the contextual checks, never connected
    /// (a block on a branch with no more work than the active chain).
    Unconnected,
    /// Known to be invalid.
    Failed,
}

/// A block the node knows about.
#[derive(Debug, Clone)]
pub struct BlockEntry {
    /// Block hash.
    pub hash: BlockHash,
    /// Height.
    pub height: u32,
    /// Parent hash; `None` for the starting block.
    pub prev: Option<BlockHash>,
    /// Header, when known (the starting block of a chain begun from a template may lack it).
    pub header: Option<Header>,
    /// Full block, when known.
    pub block: Option<Arc<Block>>,
    /// Block time.
    pub time: u32,
    /// Compact target.
    pub bits: CompactTarget,
    /// Total work of the chain up to and including this block.
    pub chainwork: Work,
    /// Median time past of this block (over it and its ten ancestors).
    pub median_time: u32,
    /// For the starting block only: assumed times of the blocks before it, newest first.
    pub prior_times: Vec<u32>,
    /// Validation state.
    pub status: BlockStatus,
}

/// A known non-coinbase transaction and its fee (kept after it leaves the mempool so blocks
/// containing it can be checked and re-orged).
#[derive(Debug, Clone)]
struct KnownTx {
    tx: Arc<Transaction>,
    fee: Amount,
    sigops: u64,
}

/// The part of the node state that changes when blocks are connected and disconnected;
/// cloned to try a re-organisation.
#[derive(Debug, Clone, Default)]
struct ActiveState {
    /// Active chain hashes; index 0 is the starting block at `Node::base_height`.
    chain: Vec<BlockHash>,
    /// Outpoints spent by transactions in the active chain.
    spent: HashMap<OutPoint, Txid>,
    /// Transactions in the active chain and their heights.
    confirmed: HashMap<Txid, u32>,
    mempool: Mempool,
    /// Counts every mempool change (the number after the hash in `longpollid`).
    mempool_updates: u64,
}

/// What `submitblock` (and the stand-in's own mining) answered for a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitResult {
    /// `null`: the block was accepted and is now the tip (or part of the active chain).
    Accepted,
    /// A BIP22 reason string (`duplicate`, `inconclusive`, `bad-txnmrklroot`, ...).
    Rejected(String),
    /// The hex was not a block: JSON-RPC error -22 "Block decode failed".
    DecodeFailed,
}

/// One `submitblock` call as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Hash of the submitted block, if it decoded.
    pub hash: Option<BlockHash>,
    /// The answer.
    pub result: SubmitResult,
}

/// A block accepted through `submitblock`.
#[derive(Debug, Clone)]
pub struct SubmittedBlock {
    /// Block hash.
    pub hash: BlockHash,
    /// Height it was connected at.
    pub height: u32,
    /// The coinbase outputs, for checking payouts.
    pub coinbase_outputs: Vec<TxOut>,
    /// The full block.
    pub block: Block,
}

/// The active chain tip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TipInfo {
    /// Tip hash.
    pub hash: BlockHash,
    /// Tip height.
    pub height: u32,
    /// Tip block time.
    pub time: u32,
    /// Median time past of the tip.
    pub median_time: u32,
    /// Tip compact target.
    pub bits: CompactTarget,
}

/// A starting point that is not the genesis block: the tip of some chain the stand-in only
/// knows by hash, height, target and times (for example the `previousblockhash` of a captured
/// template). Blocks below it do not exist for the stand-in.
#[derive(Debug, Clone)]
pub struct ChainAnchor {
    /// Hash of the starting tip.
    pub hash: BlockHash,
    /// Its height.
    pub height: u32,
    /// Its compact target (also the target every following block must use).
    pub bits: CompactTarget,
    /// Its block time.
    pub time: u32,
    /// Its median time past.
    pub median_time: u32,
    /// The full block, if known (enables getblock/getblockheader on it); its hash must match.
    pub block: Option<Block>,
    /// Chain work up to and including it; defaults to `(height + 1) * work(bits)`.
    pub chainwork: Option<Work>,
}

/// Where the stand-in's chain starts.
#[derive(Debug, Clone)]
pub enum ChainStart {
    /// The regtest genesis block.
    Genesis,
    /// A foreign tip.
    Anchor(Box<ChainAnchor>),
}

/// Errors of the node's control operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// A block the stand-in built itself was not accepted (a bug, or a mempool the tests made inconsistent).
    #[error("stand-in could not mine a block: {0}")]
    MiningFailed(String),
    /// `reorg(depth)` with depth 0 or deeper than the known chain.
    #[error("cannot re-org {depth} blocks: only {available} blocks above the starting block")]
    ReorgDepth {
        /// Requested depth.
        depth: u32,
        /// Blocks available above the starting block.
        available: u32,
    },
    /// The anchor block's hash does not match its declared hash.
    #[error("anchor block hash {actual} does not match the declared hash {declared}")]
    AnchorMismatch {
        /// Declared hash.
        declared: BlockHash,
        /// Hash of the provided block.
        actual: BlockHash,
    },
    /// A transaction was refused by the mempool.
    #[error("mempool rejected transaction: {0}")]
    Mempool(#[from] MempoolError),
}

/// Why a transaction was not added to the mempool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// Coinbase transactions cannot be in the mempool.
    #[error("coinbase transaction")]
    Coinbase,
    /// Failed a context-free check.
    #[error("invalid transaction: {0}")]
    Invalid(String),
    /// Already in the mempool.
    #[error("transaction {0} already in the mempool")]
    AlreadyInMempool(Txid),
    /// Already confirmed in the active chain.
    #[error("transaction {0} already confirmed")]
    AlreadyConfirmed(Txid),
    /// Spends an outpoint another mempool transaction spends.
    #[error("conflicts with mempool transaction {0}")]
    Conflict(Txid),
    /// Spends an output already spent in the chain, or of a known transaction that is neither
    /// in the mempool nor confirmed, or that does not exist.
    #[error("input {0} missing or spent")]
    MissingOrSpent(OutPoint),
}

/// Tunables of the node.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// Script the stand-in's own blocks pay to.
    pub coinbase_script: ScriptBuf,
    /// How long a template stays cached after a mempool-only change (Core: 5 s).
    pub template_cache: Duration,
    /// Fixed node time (UNIX seconds) instead of the system clock (Core's `-mocktime`).
    pub mock_time: Option<u32>,
}

#[derive(Debug, Clone)]
struct CachedTemplate {
    built_at: Instant,
    template: Arc<BlockTemplate>,
}

/// Node state behind the RPC server.
#[derive(Debug)]
pub struct Node {
    blocks: HashMap<BlockHash, BlockEntry>,
    /// The starting block (also in `blocks`; the active chain never drops below it).
    base: BlockEntry,
    base_height: u32,
    state: ActiveState,
    known_txs: HashMap<Txid, KnownTx>,
    external_prevouts: HashMap<OutPoint, TxOut>,
    settings: NodeSettings,
    ibd: bool,
    submitted: Vec<SubmittedBlock>,
    submissions: Vec<Submission>,
    cache: Option<CachedTemplate>,
    last_template_stats: Option<(u64, usize)>,
    extranonce: u64,
}

fn block_work(bits: CompactTarget) -> Work {
    Target::from_compact(bits).to_work()
}

fn work_times(bits: CompactTarget, count: u64) -> Work {
    let one = block_work(bits).to_be_bytes();
    let (high, low) = one.split_at(16);
    let mut low_bytes = [0u8; 16];
    low_bytes.copy_from_slice(low);
    let low = u128::from_be_bytes(low_bytes);
    match (
        high.iter().all(|b| *b == 0),
        low.checked_mul(u128::from(count)),
    ) {
        (true, Some(total)) => {
            let mut bytes = [0u8; 32];
            bytes[16..].copy_from_slice(&total.to_be_bytes());
            Work::from_be_bytes(bytes)
        }
        _ => block_work(bits),
    }
}

/// Chain work as a float (for network hash rate estimates).
pub fn work_to_f64(work: Work) -> f64 {
    work.to_be_bytes()
        .iter()
        .fold(0.0, |acc, b| acc * 256.0 + f64::from(*b))
}

impl Node {
    /// A node whose chain starts at `start`.
    pub fn new(start: ChainStart, settings: NodeSettings) -> Result<Self, NodeError> {
        let entry = match start {
            ChainStart::Genesis => {
                let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
                BlockEntry {
                    hash: genesis.block_hash(),
                    height: 0,
                    prev: None,
                    header: Some(genesis.header),
                    time: genesis.header.time,
                    bits: genesis.header.bits,
                    chainwork: block_work(genesis.header.bits),
                    median_time: genesis.header.time,
                    prior_times: Vec::new(),
                    status: BlockStatus::Valid,
                    block: Some(Arc::new(genesis)),
                }
            }
            ChainStart::Anchor(anchor) => {
                let anchor = *anchor;
                if let Some(block) = &anchor.block {
                    if block.block_hash() != anchor.hash {
                        return Err(NodeError::AnchorMismatch {
                            declared: anchor.hash,
                            actual: block.block_hash(),
                        });
                    }
                }
                BlockEntry {
                    hash: anchor.hash,
                    height: anchor.height,
                    prev: None,
                    header: anchor.block.as_ref().map(|b| b.header),
                    time: anchor.time,
                    bits: anchor.bits,
                    chainwork: anchor
                        .chainwork
                        .unwrap_or_else(|| work_times(anchor.bits, u64::from(anchor.height) + 1)),
                    median_time: anchor.median_time,
                    prior_times: vec![anchor.median_time; MEDIAN_TIME_SPAN - 1],
                    status: BlockStatus::Valid,
                    block: anchor.block.map(Arc::new),
                }
            }
        };
        let mut state = ActiveState::default();
        state.chain.push(entry.hash);
        let base_height = entry.height;
        let mut blocks = HashMap::new();
        blocks.insert(entry.hash, entry.clone());
        Ok(Self {
            blocks,
            base: entry,
            base_height,
            state,
            known_txs: HashMap::new(),
            external_prevouts: HashMap::new(),
            settings,
            ibd: false,
            submitted: Vec::new(),
            submissions: Vec::new(),
            cache: None,
            last_template_stats: None,
            extranonce: 0,
        })
    }

    // ----- clock and flags -----

    /// Current node time (mock time if set).
    pub fn now(&self) -> u32 {
        self.settings.mock_time.unwrap_or_else(|| {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            u32::try_from(secs).unwrap_or(u32::MAX)
        })
    }

    /// Sets or clears the mock time.
    pub fn set_mock_time(&mut self, time: Option<u32>) {
        self.settings.mock_time = time;
    }

    /// Whether the node claims to be in initial block download.
    pub fn ibd(&self) -> bool {
        self.ibd
    }

    /// Sets the initial-block-download flag.
    pub fn set_ibd(&mut self, ibd: bool) {
        self.ibd = ibd;
    }

    // ----- chain queries -----

    /// The tip entry.
    pub fn tip_entry(&self) -> &BlockEntry {
        self.state
            .chain
            .last()
            .and_then(|h| self.blocks.get(h))
            .unwrap_or(&self.base)
    }

    /// Tip summary.
    pub fn tip(&self) -> TipInfo {
        let t = self.tip_entry();
        TipInfo {
            hash: t.hash,
            height: t.height,
            time: t.time,
            median_time: t.median_time,
            bits: t.bits,
        }
    }

    /// Height of the starting block.
    pub fn base_height(&self) -> u32 {
        self.base_height
    }

    /// Hash of the active-chain block at `height`.
    pub fn hash_at(&self, height: u32) -> Option<BlockHash> {
        let index = height.checked_sub(self.base_height)?;
        self.state.chain.get(index as usize).copied()
    }

    /// A stored block.
    pub fn entry(&self, hash: &BlockHash) -> Option<&BlockEntry> {
        self.blocks.get(hash)
    }

    /// Whether `entry` is on the active chain.
    pub fn is_active(&self, entry: &BlockEntry) -> bool {
        self.hash_at(entry.height) == Some(entry.hash)
    }

    /// Confirmations as Core reports them: -1 off the active chain.
    pub fn confirmations(&self, entry: &BlockEntry) -> i64 {
        if self.is_active(entry) {
            i64::from(self.tip_entry().height) - i64::from(entry.height) + 1
        } else {
            -1
        }
    }

    /// Hash of the next block on the active chain.
    pub fn next_hash(&self, entry: &BlockEntry) -> Option<BlockHash> {
        if self.is_active(entry) {
            self.hash_at(entry.height.checked_add(1)?)
        } else {
            None
        }
    }

    /// Highest non-failed stored block (Core's `headers`).
    pub fn best_header_height(&self) -> u32 {
        self.blocks
            .values()
            .filter(|e| e.status != BlockStatus::Failed)
            .map(|e| e.height)
            .max()
            .unwrap_or(0)
    }

    /// Sum of the serialized sizes of stored blocks.
    pub fn size_on_disk(&self) -> u64 {
        self.blocks
            .values()
            .filter_map(|e| e.block.as_ref())
            .map(|b| b.total_size() as u64)
            .sum()
    }

    /// Hash rate estimate over the last `lookup` blocks, like Core's `networkhashps`.
    pub fn network_hash_ps(&self, lookup: u32) -> f64 {
        let tip = self.tip_entry();
        let lookup = lookup.min(tip.height.saturating_sub(self.base_height));
        if lookup == 0 {
            return 0.0;
        }
        let (mut min_time, mut max_time) = (tip.time, tip.time);
        let mut cursor = tip;
        for _ in 0..lookup {
            let Some(prev) = cursor.prev.and_then(|p| self.blocks.get(&p)) else {
                break;
            };
            cursor = prev;
            min_time = min_time.min(cursor.time);
            max_time = max_time.max(cursor.time);
        }
        if min_time == max_time {
            return 0.0;
        }
        let work = work_to_f64(tip.chainwork) - work_to_f64(cursor.chainwork);
        work / f64::from(max_time - min_time)
    }

    /// Weight and transaction count of the last built template.
    pub fn last_template_stats(&self) -> Option<(u64, usize)> {
        self.last_template_stats
    }

    /// Mempool size.
    pub fn mempool_len(&self) -> usize {
        self.state.mempool.len()
    }

    /// Mempool txids, parents first.
    pub fn mempool_txids(&self) -> Vec<Txid> {
        self.state.mempool.txids()
    }

    /// The mempool.
    pub fn mempool(&self) -> &Mempool {
        &self.state.mempool
    }

    /// Adds a transaction received from outside (`sendrawtransaction`): its fee is computed
    /// from the outputs it spends, which the node must know (outputs of known transactions or
    /// coins registered with [`Node::register_prevouts`]), standing in for Core's UTXO lookup.
    pub fn accept_raw_tx(&mut self, tx: Transaction) -> Result<Txid, MempoolError> {
        let mut input_value = Amount::ZERO;
        for input in &tx.input {
            let op = input.previous_output;
            let out = self.prevout(&op).ok_or(MempoolError::MissingOrSpent(op))?;
            input_value = input_value
                .checked_add(out.value)
                .ok_or_else(|| MempoolError::Invalid("bad-txns-inputvalues-outofrange".into()))?;
        }
        let output_value = tx
            .output
            .iter()
            .try_fold(Amount::ZERO, |acc, o| acc.checked_add(o.value))
            .ok_or_else(|| MempoolError::Invalid("bad-txns-txouttotal-toolarge".into()))?;
        let fee = input_value
            .checked_sub(output_value)
            .ok_or_else(|| MempoolError::Invalid("bad-txns-in-belowout".into()))?;
        self.add_mempool_tx(tx, fee, None)
    }

    /// Mempool change counter.
    pub fn mempool_updates(&self) -> u64 {
        self.state.mempool_updates
    }

    /// Accepted submissions.
    pub fn submitted_blocks(&self) -> &[SubmittedBlock] {
        &self.submitted
    }

    /// Every submitblock call.
    pub fn submissions(&self) -> &[Submission] {
        &self.submissions
    }

    fn median_time_of(&self, time: u32, prev: Option<BlockHash>) -> u32 {
        let mut times = Vec::with_capacity(MEDIAN_TIME_SPAN);
        times.push(time);
        let mut cursor = prev;
        while times.len() < MEDIAN_TIME_SPAN {
            let Some(entry) = cursor.and_then(|h| self.blocks.get(&h)) else {
                break;
            };
            times.push(entry.time);
            if entry.prev.is_none() {
                let missing = MEDIAN_TIME_SPAN - times.len();
                times.extend(entry.prior_times.iter().take(missing));
                break;
            }
            cursor = entry.prev;
        }
        times.sort_unstable();
        times[times.len() / 2]
    }

    // ----- mempool -----

    /// Remembers the outputs fabricated transactions spend, so their sigops are counted fully.
    pub fn register_prevouts(&mut self, prevouts: impl IntoIterator<Item = (OutPoint, TxOut)>) {
        self.external_prevouts.extend(prevouts);
    }

    fn prevout(&self, outpoint: &OutPoint) -> Option<TxOut> {
        if let Some(out) = self.external_prevouts.get(outpoint) {
            return Some(out.clone());
        }
        self.known_txs
            .get(&outpoint.txid)
            .and_then(|k| k.tx.output.get(outpoint.vout as usize).cloned())
    }

    /// Adds a transaction with a known fee; `sigops` overrides the computed sigop cost.
    pub fn add_mempool_tx(
        &mut self,
        tx: Transaction,
        fee: Amount,
        sigops: Option<u64>,
    ) -> Result<Txid, MempoolError> {
        if tx.is_coinbase() {
            return Err(MempoolError::Coinbase);
        }
        check_transaction(&tx).map_err(|r| MempoolError::Invalid(r.reason))?;
        let txid = tx.compute_txid();
        if self.state.mempool.contains(&txid) {
            return Err(MempoolError::AlreadyInMempool(txid));
        }
        if self.state.confirmed.contains_key(&txid) {
            return Err(MempoolError::AlreadyConfirmed(txid));
        }
        for input in &tx.input {
            let op = input.previous_output;
            if self.state.spent.contains_key(&op) {
                return Err(MempoolError::MissingOrSpent(op));
            }
            if let Some(other) = self.state.mempool.spender(&op) {
                return Err(MempoolError::Conflict(other));
            }
            if let Some(parent) = self.known_txs.get(&op.txid) {
                let available = self.state.mempool.contains(&op.txid)
                    || self.state.confirmed.contains_key(&op.txid);
                if !available || op.vout as usize >= parent.tx.output.len() {
                    return Err(MempoolError::MissingOrSpent(op));
                }
            }
        }
        let sigops = sigops.unwrap_or_else(|| tx.total_sigop_cost(|op| self.prevout(op)) as u64);
        let tx = Arc::new(tx);
        self.known_txs.insert(
            txid,
            KnownTx {
                tx: Arc::clone(&tx),
                fee,
                sigops,
            },
        );
        self.state.mempool.insert(tx, fee, sigops);
        self.state.mempool_updates += 1;
        Ok(txid)
    }

    // ----- templates -----

    /// The current template. With `use_cache`, the previous template is returned if the tip is
    /// unchanged and it is younger than the cache window (Core keeps serving it for 5 s after a
    /// mempool-only change). Long-poll answers pass `false`: they must show what woke them.
    pub fn block_template(&mut self, use_cache: bool) -> Arc<BlockTemplate> {
        let tip = self.tip_entry().hash;
        if let Some(cached) = self.cache.as_ref().filter(|_| use_cache) {
            if cached.template.prev_hash == tip
                && cached.built_at.elapsed() < self.settings.template_cache
            {
                return Arc::clone(&cached.template);
            }
        }
        let template = Arc::new(self.build_template());
        let weight: u64 =
            template.txs.iter().map(|t| t.weight).sum::<u64>() + BLOCK_RESERVED_WEIGHT;
        self.last_template_stats = Some((weight, template.txs.len()));
        self.cache = Some(CachedTemplate {
            built_at: Instant::now(),
            template: Arc::clone(&template),
        });
        template
    }

    /// Builds a fresh template on the tip from the mempool.
    pub fn build_template(&self) -> BlockTemplate {
        let tip = self.tip_entry();
        let height = tip.height.saturating_add(1);
        let mintime = tip.median_time.saturating_add(1);
        let curtime = self.now().max(mintime);
        let mempool = &self.state.mempool;
        let mut selected: Vec<TemplateTx> = Vec::new();
        let mut position: HashMap<Txid, usize> = HashMap::new();
        let mut skipped: HashSet<Txid> = HashSet::new();
        let mut weight = 0u64;
        let mut sigops = 0u64;
        for entry in mempool.ordered() {
            let parent_skipped = mempool
                .parents_of(&entry.tx)
                .iter()
                .any(|p| skipped.contains(p));
            let fits = weight + entry.weight <= MAX_BLOCK_WEIGHT - BLOCK_RESERVED_WEIGHT
                && sigops + entry.sigops <= MAX_BLOCK_SIGOPS_COST - COINBASE_RESERVED_SIGOPS;
            if parent_skipped || !fits || !is_final(&entry.tx, height, tip.median_time) {
                skipped.insert(entry.txid);
                continue;
            }
            weight += entry.weight;
            sigops += entry.sigops;
            let depends = entry
                .tx
                .input
                .iter()
                .filter_map(|i| position.get(&i.previous_output.txid).copied())
                .collect();
            selected.push(TemplateTx {
                tx: Arc::clone(&entry.tx),
                txid: entry.txid,
                wtxid: entry.wtxid,
                fee: entry.fee,
                sigops: entry.sigops,
                weight: entry.weight,
                depends,
            });
            position.insert(entry.txid, selected.len());
        }
        let fees: Amount = selected.iter().map(|t| t.fee).sum();
        let commitment = witness_commitment_for(selected.iter().map(|t| t.wtxid));
        BlockTemplate {
            prev_hash: tip.hash,
            height,
            version: TEMPLATE_VERSION,
            bits: tip.bits,
            curtime,
            mintime,
            txs: selected,
            coinbase_value: block_subsidy(height) + fees,
            witness_commitment: witness_commitment_script(&commitment),
            longpollid: format!("{}{}", tip.hash, self.state.mempool_updates),
        }
    }

    // ----- block acceptance -----

    /// `submitblock`: Core's pre-processing (add the witness reserved value if missing), the
    /// full acceptance, and bookkeeping of what was submitted.
    pub fn submit_block(&mut self, mut block: Block) -> SubmitResult {
        if self.blocks.contains_key(&block.header.prev_blockhash) {
            add_missing_witness_nonce(&mut block);
        }
        let hash = block.block_hash();
        let result = self.process_block(block.clone());
        if result == SubmitResult::Accepted {
            let height = self.blocks.get(&hash).map_or(0, |e| e.height);
            let coinbase_outputs = block
                .txdata
                .first()
                .map(|c| c.output.clone())
                .unwrap_or_default();
            self.submitted.push(SubmittedBlock {
                hash,
                height,
                coinbase_outputs,
                block,
            });
        }
        self.submissions.push(Submission {
            hash: Some(hash),
            result: result.clone(),
        });
        result
    }

    /// Records a submitblock call whose hex did not decode.
    pub fn record_decode_failure(&mut self) {
        self.submissions.push(Submission {
            hash: None,
            result: SubmitResult::DecodeFailed,
        });
    }

    /// Validates and stores a block, switching the active chain if it now has the most work.
    pub fn process_block(&mut self, block: Block) -> SubmitResult {
        if let Err(r) = check_block(&block, true) {
            return SubmitResult::Rejected(r.reason);
        }
        let hash = block.block_hash();
        if let Some(known) = self.blocks.get(&hash) {
            let answer = if known.status == BlockStatus::Failed {
                "duplicate-invalid"
            } else {
                "duplicate"
            };
            return SubmitResult::Rejected(answer.to_owned());
        }
        let Some(parent) = self.blocks.get(&block.header.prev_blockhash).cloned() else {
            return SubmitResult::Rejected("prev-blk-not-found".to_owned());
        };
        if parent.status == BlockStatus::Failed {
            self.store(block, &parent, BlockStatus::Failed);
            return SubmitResult::Rejected("bad-prevblk".to_owned());
        }
        let height = parent.height.saturating_add(1);
        if let Err(r) =
            contextual_check_header(&block.header, parent.bits, parent.median_time, self.now())
        {
            return SubmitResult::Rejected(r.reason);
        }
        if let Err(r) = contextual_check_block(&block, height, parent.median_time) {
            if r.kind == RejectKind::Remembered {
                self.store(block, &parent, BlockStatus::Failed);
            }
            return SubmitResult::Rejected(r.reason);
        }
        let entry_work = self.store(block, &parent, BlockStatus::Unconnected);
        if entry_work <= self.tip_entry().chainwork {
            return SubmitResult::Rejected("inconclusive".to_owned());
        }
        let checked = self.activate(hash);
        match checked.get(&hash) {
            Some(Ok(())) => SubmitResult::Accepted,
            Some(Err(r)) => SubmitResult::Rejected(r.reason.clone()),
            None => SubmitResult::Rejected("inconclusive".to_owned()),
        }
    }

    /// `getblocktemplate` in proposal mode: would this block be valid on the current tip?
    /// `None` means valid (`null`). Proof of work is not checked.
    pub fn test_block_validity(&self, block: &Block) -> Option<String> {
        let hash = block.block_hash();
        if let Some(known) = self.blocks.get(&hash) {
            return Some(
                match known.status {
                    BlockStatus::Valid => "duplicate",
                    BlockStatus::Failed => "duplicate-invalid",
                    BlockStatus::Unconnected => "duplicate-inconclusive",
                }
                .to_owned(),
            );
        }
        let tip = self.tip_entry();
        if block.header.prev_blockhash != tip.hash {
            return Some("inconclusive-not-best-prevblk".to_owned());
        }
        let height = tip.height.saturating_add(1);
        let result = check_block(block, false)
            .and_then(|()| {
                contextual_check_header(&block.header, tip.bits, tip.median_time, self.now())
            })
            .and_then(|()| contextual_check_block(block, height, tip.median_time))
            .and_then(|()| check_connect(&self.known_txs, &self.state, block, height).map(|_| ()));
        result.err().map(|r| r.reason)
    }

    /// Stores a block as a child of `parent`; returns its chain work.
    fn store(&mut self, block: Block, parent: &BlockEntry, status: BlockStatus) -> Work {
        let hash = block.block_hash();
        let chainwork = parent.chainwork + block_work(block.header.bits);
        let entry = BlockEntry {
            hash,
            height: parent.height.saturating_add(1),
            prev: Some(parent.hash),
            header: Some(block.header),
            time: block.header.time,
            bits: block.header.bits,
            chainwork,
            median_time: self.median_time_of(block.header.time, Some(parent.hash)),
            prior_times: Vec::new(),
            status,
            block: Some(Arc::new(block)),
        };
        self.blocks.insert(hash, entry);
        chainwork
    }

    fn set_status(&mut self, hash: &BlockHash, status: BlockStatus) {
        if let Some(e) = self.blocks.get_mut(hash) {
            e.status = status;
        }
    }

    /// Makes `target` the tip if its branch validates: disconnects back to the fork point and
    /// connects the branch. Returns the validation result of every block it tried to connect.
    fn activate(&mut self, target: BlockHash) -> HashMap<BlockHash, Result<(), Rejection>> {
        let mut checked = HashMap::new();
        let mut path = Vec::new();
        let mut cursor = target;
        loop {
            let Some(entry) = self.blocks.get(&cursor) else {
                return checked;
            };
            if self.is_active(entry) {
                break;
            }
            path.push(cursor);
            match entry.prev {
                Some(prev) => cursor = prev,
                None => return checked,
            }
        }
        path.reverse();
        let fork = cursor;
        let original_work = self.tip_entry().chainwork;
        let is_reorg = self.tip_entry().hash != fork;
        let mut state = if is_reorg {
            self.state.clone()
        } else {
            std::mem::take(&mut self.state)
        };

        while state.chain.last() != Some(&fork) && state.chain.len() > 1 {
            let Some(hash) = state.chain.pop() else { break };
            if let Some(block) = self.blocks.get(&hash).and_then(|e| e.block.clone()) {
                disconnect(&self.known_txs, &mut state, &block);
            }
        }

        for (i, hash) in path.iter().enumerate() {
            let Some((block, height)) = self
                .blocks
                .get(hash)
                .and_then(|e| Some((e.block.clone()?, e.height)))
            else {
                break;
            };
            match check_connect(&self.known_txs, &state, &block, height) {
                Ok(_) => {
                    connect(&mut state, &block, *hash, height);
                    self.set_status(hash, BlockStatus::Valid);
                    checked.insert(*hash, Ok(()));
                }
                Err(rejection) => {
                    for later in &path[i..] {
                        self.set_status(later, BlockStatus::Failed);
                    }
                    checked.insert(*hash, Err(rejection));
                    break;
                }
            }
        }

        let new_work = state
            .chain
            .last()
            .and_then(|h| self.blocks.get(h))
            .map(|e| e.chainwork);
        if !is_reorg || new_work.is_some_and(|w| w > original_work) {
            self.state = state;
        }
        checked
    }

    // ----- the stand-in's own blocks -----

    fn next_extranonce(&mut self) -> [u8; 8] {
        self.extranonce += 1;
        self.extranonce.to_le_bytes()
    }

    /// Mines one block on the tip with the mempool's transactions (like another miner finding a block).
    pub fn mine_block(&mut self, with_mempool: bool) -> Result<BlockHash, NodeError> {
        let mut template = self.build_template();
        if !with_mempool {
            template = template.without_transactions();
        }
        let extranonce = self.next_extranonce();
        let block = template.assemble(&self.settings.coinbase_script.clone(), &extranonce);
        let hash = block.block_hash();
        match self.process_block(block) {
            SubmitResult::Accepted => Ok(hash),
            SubmitResult::Rejected(reason) => Err(NodeError::MiningFailed(reason)),
            SubmitResult::DecodeFailed => Err(NodeError::MiningFailed("decode".to_owned())),
        }
    }

    /// Mines `count` coinbase-only blocks with times spread backwards from now, so the tip ends
    /// up near the current time (used to pre-mine a fresh chain).
    pub fn premine(&mut self, count: u32) -> Result<(), NodeError> {
        let start = self.now().saturating_sub(count);
        for i in 0..count {
            let time = start.saturating_add(i);
            self.mine_on(self.tip_entry().hash, Some(time))?;
        }
        Ok(())
    }

    /// Mines a coinbase-only block on `parent` (not necessarily the tip).
    fn mine_on(
        &mut self,
        parent: BlockHash,
        time: Option<u32>,
    ) -> Result<(BlockHash, SubmitResult), NodeError> {
        let Some(parent) = self.blocks.get(&parent).cloned() else {
            return Err(NodeError::MiningFailed("unknown parent".to_owned()));
        };
        let height = parent.height.saturating_add(1);
        let mintime = parent.median_time.saturating_add(1);
        let time = time.unwrap_or_else(|| self.now()).max(mintime);
        let commitment = witness_commitment_script(&witness_commitment_for(std::iter::empty()));
        let extranonce = self.next_extranonce();
        let coinbase = coinbase_tx(
            height,
            block_subsidy(height),
            &self.settings.coinbase_script,
            &extranonce,
            Some(&commitment),
        );
        let mut block = Block {
            header: Header {
                version: bitcoin::block::Version::from_consensus(TEMPLATE_VERSION),
                prev_blockhash: parent.hash,
                merkle_root: bitcoin::TxMerkleNode::all_zeros(),
                time,
                bits: parent.bits,
                nonce: 0,
            },
            txdata: vec![coinbase],
        };
        refresh_merkle_root(&mut block);
        solve_header(&mut block.header);
        let hash = block.block_hash();
        let result = self.process_block(block);
        match &result {
            SubmitResult::Accepted => Ok((hash, result)),
            SubmitResult::Rejected(r) if r == "inconclusive" => Ok((hash, result)),
            SubmitResult::Rejected(r) => Err(NodeError::MiningFailed(r.clone())),
            SubmitResult::DecodeFailed => Err(NodeError::MiningFailed("decode".to_owned())),
        }
    }

    /// Replaces the last `depth` active blocks by a branch of `depth + 1` coinbase-only blocks
    /// forking at the block below them. Their transactions return to the mempool.
    pub fn reorg(&mut self, depth: u32) -> Result<BlockHash, NodeError> {
        let tip = self.tip_entry().height;
        let available = tip - self.base_height;
        if depth == 0 || depth > available {
            return Err(NodeError::ReorgDepth { depth, available });
        }
        let Some(mut parent) = self.hash_at(tip - depth) else {
            return Err(NodeError::ReorgDepth { depth, available });
        };
        for _ in 0..=depth {
            parent = self.mine_on(parent, None)?.0;
        }
        if self.tip_entry().hash != parent {
            return Err(NodeError::MiningFailed(
                "alternative branch did not become the tip".to_owned(),
            ));
        }
        Ok(parent)
    }
}

/// Core's `submitblock` adds the 32-byte witness reserved value to a coinbase that has a
/// witness commitment but no witness.
fn add_missing_witness_nonce(block: &mut Block) {
    let Some(coinbase) = block.txdata.first_mut() else {
        return;
    };
    if witness_commitment_index(coinbase).is_none() {
        return;
    }
    if let Some(input) = coinbase.input.first_mut() {
        if input.witness.is_empty() {
            input.witness.push([0u8; 32]);
        }
    }
}

/// Checks a block against the active state as if connecting it at `height`; returns its fees.
fn check_connect(
    known: &HashMap<Txid, KnownTx>,
    state: &ActiveState,
    block: &Block,
    height: u32,
) -> Result<Amount, Rejection> {
    let missing = || Rejection::remembered("bad-txns-inputs-missingorspent");
    let positions: HashMap<Txid, usize> = block
        .txdata
        .iter()
        .enumerate()
        .map(|(i, tx)| (tx.compute_txid(), i))
        .collect();
    let mut spent_here: HashSet<OutPoint> = HashSet::new();
    let mut fees = Amount::ZERO;
    let mut sigops: u64 = 0;
    for (i, tx) in block.txdata.iter().enumerate().skip(1) {
        let txid = tx.compute_txid();
        let Some(info) = known.get(&txid) else {
            return Err(missing());
        };
        if state.confirmed.contains_key(&txid) {
            return Err(missing());
        }
        for input in &tx.input {
            let op = input.previous_output;
            if state.spent.contains_key(&op) || !spent_here.insert(op) {
                return Err(missing());
            }
            if let Some(&pos) = positions.get(&op.txid) {
                let exists = block
                    .txdata
                    .get(pos)
                    .is_some_and(|p| (op.vout as usize) < p.output.len());
                if pos >= i || !exists {
                    return Err(missing());
                }
            } else if let Some(parent) = known.get(&op.txid) {
                if !state.confirmed.contains_key(&op.txid)
                    || op.vout as usize >= parent.tx.output.len()
                {
                    return Err(missing());
                }
            }
        }
        sigops = sigops.saturating_add(info.sigops);
        if sigops > MAX_BLOCK_SIGOPS_COST {
            return Err(Rejection::remembered("bad-blk-sigops"));
        }
        fees += info.fee;
    }
    let paid: u64 = block
        .txdata
        .first()
        .map_or(0, |c| c.output.iter().map(|o| o.value.to_sat()).sum());
    if paid > (block_subsidy(height) + fees).to_sat() {
        return Err(Rejection::remembered("bad-cb-amount"));
    }
    Ok(fees)
}

fn connect(state: &mut ActiveState, block: &Block, hash: BlockHash, height: u32) {
    state.chain.push(hash);
    let before = state.mempool.len();
    let mut changed = false;
    for tx in &block.txdata {
        let txid = tx.compute_txid();
        state.confirmed.insert(txid, height);
        if tx.is_coinbase() {
            continue;
        }
        changed |= state.mempool.remove(&txid).is_some();
        for input in &tx.input {
            state.spent.insert(input.previous_output, txid);
            if let Some(conflict) = state.mempool.spender(&input.previous_output) {
                changed |= state.mempool.remove_with_descendants(&conflict) > 0;
            }
        }
    }
    if changed || before != state.mempool.len() {
        state.mempool_updates += 1;
    }
}

fn disconnect(known: &HashMap<Txid, KnownTx>, state: &mut ActiveState, block: &Block) {
    for tx in block.txdata.iter().rev() {
        let txid = tx.compute_txid();
        state.confirmed.remove(&txid);
        if tx.is_coinbase() {
            continue;
        }
        for input in &tx.input {
            if state.spent.get(&input.previous_output) == Some(&txid) {
                state.spent.remove(&input.previous_output);
            }
        }
    }
    let mut changed = false;
    for tx in block.txdata.iter().skip(1) {
        let txid = tx.compute_txid();
        let Some(info) = known.get(&txid) else {
            continue;
        };
        let conflicts = tx
            .input
            .iter()
            .any(|i| state.mempool.spender(&i.previous_output).is_some());
        if !conflicts && !state.mempool.contains(&txid) {
            state
                .mempool
                .insert(Arc::clone(&info.tx), info.fee, info.sigops);
            changed = true;
        }
    }
    if changed {
        state.mempool_updates += 1;
    }
}
