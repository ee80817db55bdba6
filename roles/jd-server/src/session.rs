//! One job declarator client connection: token allocation, declarations (with missing
//! transactions), and solutions.
//!
//! The connection task feeds decoded messages and timer expiries; replies are appended to an
//! outbox. Node calls (mempool lookups, proposal checks, block submission) are awaited inline:
//! a connection handles one message at a time, so a client cannot make the server do more
//! than one thing for it at once.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitcoin::Wtxid;
use node_rpc::{NodeClient, SubmitBlockOutcome};
use sv2_codec::job_declaration::{
    error_codes, AllocateMiningJobToken, AllocateMiningJobTokenSuccess, DeclareMiningJob,
    DeclareMiningJobError, DeclareMiningJobSuccess, ProvideMissingTransactions,
    ProvideMissingTransactionsSuccess, PushSolution,
};
use sv2_codec::{JobDeclarationMessage, Message};
use sv2_mining::channel::custom::{CoinbaseSplit, DeclaredCoinbase};
use sv2_mining::channel::jd_token::TokenKey;

use crate::chain::{ChainTracker, ChainView};
use crate::config::JdsConfig;
use crate::declare::{check_witness_commitment, parse_wtxids, DeclaredJob, Rejection};
use crate::mempool::{KnownTx, TxCache};
use crate::policy::PayoutPolicy;

/// Declared jobs kept per connection for `PushSolution` (the spec requires only the last).
pub const RECENT_JOBS: usize = 8;

/// Counters of a running server (tests read them; metrics mirror them).
#[derive(Debug, Default)]
pub struct JdsStats {
    /// Connections set up.
    pub connections: AtomicU64,
    /// Tokens handed out.
    pub tokens_allocated: AtomicU64,
    /// Declarations received.
    pub declarations: AtomicU64,
    /// Declarations accepted.
    pub declarations_accepted: AtomicU64,
    /// Declarations rejected.
    pub declarations_rejected: AtomicU64,
    /// `ProvideMissingTransactions` sent.
    pub missing_tx_requests: AtomicU64,
    /// Transactions received from clients.
    pub txs_provided: AtomicU64,
    /// `PushSolution` received.
    pub solutions: AtomicU64,
    /// Blocks the node accepted (or already had) after a `PushSolution`.
    pub blocks_accepted: AtomicU64,
    /// Blocks the node rejected.
    pub blocks_rejected: AtomicU64,
}

impl JdsStats {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Everything connections share.
pub struct Context {
    /// Configuration.
    pub cfg: JdsConfig,
    /// Token MAC key (shared with the pool).
    pub key: TokenKey,
    /// Coinbase output policy.
    pub policy: PayoutPolicy,
    /// The node.
    pub node: NodeClient,
    /// Known transactions.
    pub cache: TxCache,
    /// The node's tip.
    pub chain: ChainTracker,
    /// Counters.
    pub stats: Arc<JdsStats>,
    /// Allocation token ids already used for a declaration, with their expiry.
    used_tokens: Mutex<HashMap<u64, u64>>,
    next_token_id: AtomicU64,
}

impl Context {
    /// New shared context.
    pub fn new(
        cfg: JdsConfig,
        key: TokenKey,
        policy: PayoutPolicy,
        node: NodeClient,
        cache: TxCache,
        chain: ChainTracker,
        stats: Arc<JdsStats>,
    ) -> Self {
        // Random start: ids of a restarted server do not repeat earlier ones.
        let start = bitcoin::secp256k1::rand::random::<u64>() >> 1;
        Context {
            cfg,
            key,
            policy,
            node,
            cache,
            chain,
            stats,
            used_tokens: Mutex::new(HashMap::new()),
            next_token_id: AtomicU64::new(start),
        }
    }

    /// Marks an allocation token as used; false if it already was.
    fn consume_token(&self, id: u64, expires_at: u64, now: u64) -> bool {
        let mut used = self
            .used_tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        used.retain(|_, exp| *exp > now);
        used.insert(id, expires_at).is_none()
    }
}

/// Unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

struct Pending {
    msg: DeclareMiningJob,
    coinbase: DeclaredCoinbase,
    wtxids: Vec<Wtxid>,
    resolved: Vec<Option<Arc<KnownTx>>>,
    missing: Vec<u16>,
    view: ChainView,
    deadline: Instant,
    token_id: u64,
}

/// State of one connection.
pub struct Session {
    ctx: Arc<Context>,
    pending: HashMap<u32, Pending>,
    jobs: VecDeque<Arc<DeclaredJob>>,
    window_start: Instant,
    tokens_in_window: u32,
}

fn reject(request_id: u32, r: &Rejection) -> Message {
    metrics::counter!("jds_declarations_rejected_total", "reason" => r.code).increment(1);
    tracing::info!(request_id, code = r.code, details = %r.details, "declaration rejected");
    Message::from(DeclareMiningJobError {
        request_id,
        error_code: r.code.to_owned(),
        error_details: r.details.as_bytes().iter().take(1024).copied().collect(),
    })
}

impl Session {
    /// New session on `ctx`.
    pub fn new(ctx: Arc<Context>) -> Self {
        Session {
            ctx,
            pending: HashMap::new(),
            jobs: VecDeque::new(),
            window_start: Instant::now(),
            tokens_in_window: 0,
        }
    }

    /// The earliest deadline of a declaration waiting for transactions.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// Rejects declarations whose missing transactions did not arrive in time.
    pub fn on_timeout(&mut self, now: Instant, out: &mut Vec<Message>) {
        let expired: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.pending.remove(&id);
            JdsStats::bump(&self.ctx.stats.declarations_rejected);
            out.push(reject(
                id,
                &Rejection::new(
                    error_codes::MISSING_TXS,
                    "missing transactions were not provided in time",
                ),
            ));
        }
    }

    /// Handles one message; `Err` closes the connection.
    pub async fn on_message(
        &mut self,
        msg: JobDeclarationMessage,
        out: &mut Vec<Message>,
    ) -> Result<(), String> {
        match msg {
            JobDeclarationMessage::AllocateMiningJobToken(m) => self.allocate(m, out),
            JobDeclarationMessage::DeclareMiningJob(m) => {
                JdsStats::bump(&self.ctx.stats.declarations);
                let id = m.request_id;
                if let Err(r) = self.declare(m, out).await {
                    JdsStats::bump(&self.ctx.stats.declarations_rejected);
                    out.push(reject(id, &r));
                }
                Ok(())
            }
            JobDeclarationMessage::ProvideMissingTransactionsSuccess(m) => {
                let id = m.request_id;
                if let Err(r) = self.provided(m, out).await {
                    JdsStats::bump(&self.ctx.stats.declarations_rejected);
                    out.push(reject(id, &r));
                }
                Ok(())
            }
            JobDeclarationMessage::PushSolution(m) => {
                self.push_solution(m).await;
                Ok(())
            }
            other => Err(format!(
                "unexpected {} from a job declarator client",
                other.name()
            )),
        }
    }

    fn allocate(
        &mut self,
        m: AllocateMiningJobToken,
        out: &mut Vec<Message>,
    ) -> Result<(), String> {
        if self.window_start.elapsed() >= Duration::from_secs(60) {
            self.window_start = Instant::now();
            self.tokens_in_window = 0;
        }
        self.tokens_in_window += 1;
        if self.tokens_in_window > self.ctx.cfg.limits.max_tokens_per_minute {
            metrics::counter!("jds_connections_cut_total", "reason" => "token_rate").increment(1);
            return Err("token allocation rate exceeded".into());
        }
        let id = self.ctx.next_token_id.fetch_add(1, Ordering::Relaxed);
        let expires = unix_now() + self.ctx.cfg.tokens.allocation_lifetime_secs;
        let token = self
            .ctx
            .key
            .mint_allocation(id, expires, &self.ctx.policy.digest());
        JdsStats::bump(&self.ctx.stats.tokens_allocated);
        metrics::counter!("jds_tokens_allocated_total").increment(1);
        tracing::debug!(user = %m.user_identifier, request_id = m.request_id, "token allocated");
        out.push(Message::from(AllocateMiningJobTokenSuccess {
            request_id: m.request_id,
            mining_job_token: token,
            coinbase_outputs: self.ctx.policy.coinbase_outputs(),
        }));
        Ok(())
    }

    /// The tip for a declaration at `height`: the current view, or a fresh one from the node
    /// when the client is ahead of our last template.
    async fn view_for(&self, height: u64) -> Result<ChainView, Rejection> {
        if let Some(v) = self.ctx.chain.current().filter(|v| v.height == height) {
            return Ok(v);
        }
        // The client may have seen a new block a moment before our node: give the node a
        // short grace period before calling the declaration stale.
        let grace = Duration::from_millis(self.ctx.cfg.validation.tip_grace_ms);
        let started = Instant::now();
        loop {
            let v = self.ctx.chain.fresh().await.map_err(|e| {
                Rejection::new(
                    error_codes::INTERNAL_ERROR,
                    format!("node unavailable: {e}"),
                )
            })?;
            if v.height == height {
                return Ok(v);
            }
            if v.height + 1 != height || started.elapsed() >= grace {
                return Err(Rejection::new(
                    error_codes::STALE_CHAIN_TIP,
                    format!(
                        "declared height {height}, the node mines height {}",
                        v.height
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn declare(
        &mut self,
        m: DeclareMiningJob,
        out: &mut Vec<Message>,
    ) -> Result<(), Rejection> {
        if self.pending.contains_key(&m.request_id) {
            return Err(Rejection::new(
                error_codes::INVALID_JOB,
                "request id already waiting for transactions",
            ));
        }
        if self.pending.len() >= self.ctx.cfg.limits.max_pending_declarations {
            return Err(Rejection::new(
                error_codes::INVALID_JOB,
                "too many declarations waiting for transactions",
            ));
        }
        let now = unix_now();
        let token = self
            .ctx
            .key
            .verify_allocation(&m.mining_job_token, &self.ctx.policy.digest(), now)
            .map_err(|e| Rejection::new(error_codes::INVALID_MINING_JOB_TOKEN, e.to_string()))?;
        if !self.ctx.consume_token(token.id, token.expires_at, now) {
            return Err(Rejection::new(
                error_codes::INVALID_MINING_JOB_TOKEN,
                "token already used",
            ));
        }
        let coinbase =
            CoinbaseSplit::from_declared(&m.coinbase_tx_prefix, &m.coinbase_tx_suffix)
                .map_err(|e| Rejection::new(error_codes::INVALID_COINBASE_TX, e.to_string()))?;
        let height = coinbase.split.height().ok_or_else(|| {
            Rejection::new(
                error_codes::INVALID_COINBASE_TX,
                "scriptSig does not start with a BIP34 height",
            )
        })?;
        let view = self.view_for(u64::from(height)).await?;
        let wtxids = parse_wtxids(&m.wtxid_list)?;
        let resolved = self
            .ctx
            .cache
            .resolve(&self.ctx.node, &wtxids)
            .await
            .map_err(|e| Rejection::new(error_codes::INTERNAL_ERROR, format!("node: {e}")))?;
        // A SEQ0_64K list has at most 65535 entries: positions fit in a u16.
        let missing: Vec<u16> = resolved
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_none())
            .filter_map(|(i, _)| u16::try_from(i).ok())
            .collect();
        let pending = Pending {
            coinbase,
            wtxids,
            resolved,
            view,
            deadline: Instant::now()
                + Duration::from_secs(self.ctx.cfg.validation.missing_txs_timeout_secs),
            token_id: token.id,
            missing,
            msg: m,
        };
        if pending.missing.is_empty() {
            return self.finish(pending, &[], out).await;
        }
        JdsStats::bump(&self.ctx.stats.missing_tx_requests);
        metrics::counter!("jds_missing_tx_requests_total").increment(1);
        tracing::info!(
            request_id = pending.msg.request_id,
            missing = pending.missing.len(),
            of = pending.wtxids.len(),
            "asking the client for transactions the node does not have"
        );
        out.push(Message::from(ProvideMissingTransactions {
            request_id: pending.msg.request_id,
            unknown_tx_position_list: pending.missing.clone(),
        }));
        self.pending.insert(pending.msg.request_id, pending);
        Ok(())
    }

    async fn provided(
        &mut self,
        m: ProvideMissingTransactionsSuccess,
        out: &mut Vec<Message>,
    ) -> Result<(), Rejection> {
        let Some(mut pending) = self.pending.remove(&m.request_id) else {
            tracing::debug!(
                request_id = m.request_id,
                "transactions for no waiting declaration"
            );
            return Ok(());
        };
        if m.transaction_list.len() != pending.missing.len() {
            return Err(Rejection::new(
                error_codes::MISSING_TXS,
                format!(
                    "{} transactions provided, {} requested",
                    m.transaction_list.len(),
                    pending.missing.len()
                ),
            ));
        }
        let mut fresh = Vec::with_capacity(m.transaction_list.len());
        for (pos, raw) in pending.missing.iter().zip(m.transaction_list) {
            let i = usize::from(*pos);
            let expected = pending.wtxids.get(i).copied();
            let tx = KnownTx::from_raw(raw, None).filter(|t| Some(t.wtxid) == expected);
            let Some(tx) = tx else {
                return Err(Rejection::new(
                    error_codes::INVALID_JOB,
                    format!("provided transaction for position {i} does not match its wtxid"),
                ));
            };
            let tx = self.ctx.cache.insert(tx);
            if let Some(slot) = pending.resolved.get_mut(i) {
                *slot = Some(tx.clone());
            }
            fresh.push(tx);
        }
        self.ctx
            .stats
            .txs_provided
            .fetch_add(fresh.len() as u64, Ordering::Relaxed);
        self.finish(pending, &fresh, out).await
    }

    /// Relays provided transactions to the node (in block order, so parents go first) and
    /// learns their fees from the node's mempool.
    async fn relay(&self, provided: &[Arc<KnownTx>], order: &[Option<Arc<KnownTx>>]) {
        let mut relayed = 0usize;
        for tx in order.iter().flatten() {
            if !provided.iter().any(|p| p.wtxid == tx.wtxid) {
                continue;
            }
            match self.ctx.node.send_raw_transaction(&tx.raw).await {
                Ok(_) => relayed += 1,
                Err(e) => {
                    tracing::info!(txid = %tx.txid, error = %e, "node refused a provided transaction")
                }
            }
        }
        if relayed > 0 {
            if let Err(e) = self.ctx.cache.refresh(&self.ctx.node, true).await {
                tracing::warn!(error = %e, "mempool refresh failed");
            }
        }
    }

    async fn finish(
        &mut self,
        pending: Pending,
        provided: &[Arc<KnownTx>],
        out: &mut Vec<Message>,
    ) -> Result<(), Rejection> {
        let ctx = self.ctx.clone();
        if !provided.is_empty() && ctx.cfg.validation.relay_provided_txs {
            self.relay(provided, &pending.resolved).await;
        }
        let mut txs = Vec::with_capacity(pending.resolved.len());
        for t in pending.resolved {
            let Some(t) = t else {
                return Err(Rejection::new(
                    error_codes::MISSING_TXS,
                    "a transaction is still missing",
                ));
            };
            let t = match (t.fee, ctx.cache.node_fee(&t.wtxid)) {
                (None, Some(fee)) => Arc::new(KnownTx {
                    fee: Some(fee),
                    ..(*t).clone()
                }),
                _ => t,
            };
            txs.push(t);
        }
        let outputs = pending
            .coinbase
            .split
            .tx_outputs()
            .map_err(|e| Rejection::new(error_codes::INVALID_COINBASE_TX, e.to_string()))?;
        check_witness_commitment(&outputs, pending.coinbase.witness_reserved_value(), &txs)?;
        let request_id = pending.msg.request_id;
        let job = DeclaredJob::new(
            request_id,
            pending.msg.version,
            pending.coinbase,
            txs,
            pending.view,
        );
        let verdict = ctx
            .policy
            .judge(&outputs, pending.view.subsidy, job.known_fees());
        if !verdict.ok() {
            return Err(Rejection::new(
                error_codes::INVALID_COINBASE_TX,
                format!(
                    "coinbase pays the pool {} sat, the policy requires {} sat (value basis {} sat)",
                    verdict.paid, verdict.required, verdict.basis
                ),
            ));
        }
        if ctx.cfg.validation.check_block_proposal {
            let block = job.proposal(unix_now() as u32)?;
            match ctx.node.check_block_proposal(&block).await {
                Ok(None) => {}
                Ok(Some(reason)) => {
                    let code = if reason.starts_with("bad-cb") {
                        error_codes::INVALID_COINBASE_TX
                    } else if reason.contains("prevblk") {
                        error_codes::STALE_CHAIN_TIP
                    } else {
                        error_codes::INVALID_JOB
                    };
                    return Err(Rejection::new(
                        code,
                        format!("node rejects the block: {reason}"),
                    ));
                }
                Err(e) => {
                    return Err(Rejection::new(
                        error_codes::INTERNAL_ERROR,
                        format!("node unavailable: {e}"),
                    ))
                }
            }
        }
        let token = ctx.key.mint_declared(
            pending.token_id,
            unix_now() + ctx.cfg.tokens.declared_lifetime_secs,
            &job.commitment,
        );
        tracing::info!(
            request_id,
            height = job.view.height,
            txs = job.txs.len(),
            pool_paid = verdict.paid,
            "declaration accepted"
        );
        JdsStats::bump(&ctx.stats.declarations_accepted);
        metrics::counter!("jds_declarations_accepted_total").increment(1);
        self.jobs.push_front(Arc::new(job));
        self.jobs.truncate(RECENT_JOBS);
        out.push(Message::from(DeclareMiningJobSuccess {
            request_id,
            new_mining_job_token: token,
        }));
        Ok(())
    }

    async fn push_solution(&mut self, m: PushSolution) {
        JdsStats::bump(&self.ctx.stats.solutions);
        let found = self.jobs.iter().find_map(|j| {
            j.solved_block(
                &m.extranonce,
                m.prev_hash,
                m.version,
                m.ntime,
                m.nbits,
                m.nonce,
            )
        });
        let Some((header, bytes)) = found else {
            tracing::warn!("PushSolution matches none of the recently declared jobs");
            metrics::counter!("jds_solutions_unmatched_total").increment(1);
            return;
        };
        let mut hash = header.hash();
        hash.reverse();
        let hash = hex::encode(hash);
        match self.ctx.node.submit_block(hex::encode(&bytes)).await {
            Ok(outcome) if outcome.is_valid_block() => {
                JdsStats::bump(&self.ctx.stats.blocks_accepted);
                metrics::counter!("jds_blocks_submitted_total", "result" => "accepted")
                    .increment(1);
                tracing::info!(%hash, result = outcome.label(), "block from PushSolution accepted by the node");
            }
            Ok(SubmitBlockOutcome::Inconclusive) => {
                tracing::warn!(%hash, "block from PushSolution not on the best chain");
            }
            Ok(outcome) => {
                JdsStats::bump(&self.ctx.stats.blocks_rejected);
                metrics::counter!("jds_blocks_submitted_total", "result" => "rejected")
                    .increment(1);
                tracing::error!(%hash, result = outcome.label(), "node rejected the block from PushSolution");
            }
            Err(e) => {
                JdsStats::bump(&self.ctx.stats.blocks_rejected);
                tracing::error!(%hash, error = %e, "submitblock failed");
            }
        }
    }
}
