//! The client's control loop: templates in, jobs out, upstream connections, declarations,
//! custom jobs, share forwarding, block propagation and fallback.
//!
//! One task owns all state and reacts to: new templates from the own node, messages and
//! closures of the upstream links (pool and job declarator server), accepted downstream
//! shares, downstream block candidates, and a 200 ms tick for deadlines.
//!
//! # Modes and fallback
//!
//! * **Pooled**: the current upstream (pool + JDS) is set up. Every template becomes a job
//!   paying the pool payout output; it is served downstream at once (optimistic mining),
//!   declared to the JDS and then set as a custom job on the pool channel. Shares meeting the
//!   pool's target are forwarded (queued until the custom job is acknowledged).
//! * **Solo**: jobs pay the configured solo address; blocks go to the own node only.
//!
//! An upstream is abandoned when a link closes, a request is not answered within
//! `fallback.response_timeout_secs`, the JDS rejects a declaration or the pool rejects a custom
//! job, or the pool rejects `fallback.max_share_rejections` shares in a row. A
//! `stale-chain-tip` rejection is not final: for a job on a tip we already left it is ignored,
//! otherwise the other side's node is given time to catch up (the job is declared again after
//! a second) and only the third such answer in a row leaves the upstream. The client then mines solo at once and
//! tries the next upstream; when none is left it keeps mining solo and starts over after
//! `fallback.retry_secs`. Downstream connections are never touched: their channels keep their
//! extranonce prefixes (see [`crate::jobs`]) and simply receive the next job.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::consensus::encode::deserialize;
use bitcoin::{ScriptBuf, TxOut};
use pool::block::{BlockSolution, BlockSubmitter};
use pool::jobs::PoolJob;
use pool::session::{ChannelAllocator, ObservedShare};
use pool::template::TemplateUpdate;
use sv2_codec::common::{job_declaration_flags, mining_flags};
use sv2_codec::job_declaration::{
    error_codes as jd_codes, AllocateMiningJobToken, ProvideMissingTransactionsSuccess,
    PushSolution,
};
use sv2_codec::mining::{OpenExtendedMiningChannel, SubmitSharesExtended};
use sv2_codec::{JobDeclarationMessage, Message, MiningMessage};
use sv2_mining::header::BlockHeader;
use sv2_mining::target::Target;
use sv2_noise::secp256k1::XOnlyPublicKey;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::{JdcConfig, UpstreamConfig};
use crate::jobs::{CoinbaseTarget, JdcJob, Layout};
use crate::link::{self, Link, LinkEvent, Peer};

/// Jobs remembered to resolve shares and blocks to their job.
const RECENT_JOBS: usize = 64;
/// Shares queued per upstream while custom jobs await acknowledgement.
const MAX_QUEUED_SHARES: usize = 1024;
/// Share hashes remembered to send each share to the pool once.
const FORWARDED_MEMORY: usize = 64;
/// `stale-chain-tip` answers in a row (for jobs on our current tip) before leaving an
/// upstream: its node does not follow the chain ours follows.
const MAX_STALE_ANSWERS: u32 = 3;
/// Delay before declaring a job again after the JDS called it stale.
const REDECLARE_AFTER: Duration = Duration::from_secs(1);

/// What the client currently mines for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No job yet (the first upstream attempt is in progress).
    Starting,
    /// For the upstream with this index in the configuration.
    Pooled {
        /// Index in `[[upstream]]`.
        upstream: usize,
    },
    /// Solo, paying the solo address.
    Solo,
}

/// Counters of a running client.
#[derive(Debug, Default)]
pub struct JdcStats {
    /// Jobs published downstream.
    pub jobs_published: AtomicU64,
    /// Declarations sent.
    pub declarations_sent: AtomicU64,
    /// Declarations the JDS accepted.
    pub declarations_accepted: AtomicU64,
    /// Transactions sent in `ProvideMissingTransactions.Success`.
    pub txs_provided: AtomicU64,
    /// Custom jobs the pool acknowledged.
    pub custom_jobs_set: AtomicU64,
    /// Shares submitted to the pool.
    pub shares_forwarded: AtomicU64,
    /// Shares the pool acknowledged.
    pub shares_accepted_upstream: AtomicU64,
    /// Shares the pool rejected.
    pub shares_rejected_upstream: AtomicU64,
    /// Block candidates from downstream.
    pub blocks_found: AtomicU64,
    /// Blocks the own node accepted.
    pub blocks_accepted: AtomicU64,
    /// `PushSolution`s sent.
    pub push_solutions: AtomicU64,
    /// Upstreams abandoned.
    pub fallbacks: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A declaration or custom job waiting for its answer.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    seq: u64,
    since: Instant,
}

/// A custom job the pool acknowledged.
#[derive(Debug, Clone, Copy)]
struct CustomJob {
    job_id: u32,
    target: Target,
}

struct Upstream {
    idx: usize,
    epoch: u64,
    jds: Link,
    pool: Link,
    since: Instant,
    /// Set when `AllocateMiningJobToken.Success` arrived.
    payout: Option<(ScriptBuf, Vec<TxOut>)>,
    spare_token: Option<Vec<u8>>,
    token_requested: bool,
    /// Set when the channel is open: id, prefix, rollable, target.
    channel: Option<(u32, Vec<u8>, usize)>,
    target: Target,
    ready: bool,
    next_request: u32,
    declarations: HashMap<u32, Waiting>,
    /// Job waiting for a token to be declared.
    undeclared: Option<u64>,
    custom_pending: HashMap<u32, Waiting>,
    custom: HashMap<u64, CustomJob>,
    queued: VecDeque<ObservedShare>,
    /// Hashes of the last shares sent to the pool (a block's share goes out from the solution
    /// and from the share observer, whichever comes first; the other is skipped).
    forwarded: VecDeque<[u8; 32]>,
    sequence: u32,
    rejections: u32,
    /// `stale-chain-tip` answers in a row for jobs on our current tip.
    stale: u32,
    /// A job to declare again (after a `stale-chain-tip` while the JDS's node catches up).
    redeclare: Option<(u64, Instant)>,
}

impl Upstream {
    fn request_id(&mut self) -> u32 {
        self.next_request = self.next_request.wrapping_add(1);
        self.next_request
    }
}

/// Inputs of the runtime.
pub struct RuntimeIo {
    /// Templates of the own node.
    pub templates: watch::Receiver<Option<TemplateUpdate>>,
    /// Where downstream jobs are published.
    pub jobs: watch::Sender<Option<Arc<PoolJob>>>,
    /// Accepted downstream shares.
    pub shares: mpsc::Receiver<ObservedShare>,
    /// Downstream block candidates.
    pub solutions: mpsc::Receiver<BlockSolution>,
    /// Submits blocks to the own node.
    pub submitter: BlockSubmitter,
    /// Downstream channel allocator (prefix reuse on new tips).
    pub allocator: Arc<ChannelAllocator>,
    /// Current mode, for observers.
    pub mode: watch::Sender<Mode>,
    /// Counters.
    pub stats: Arc<JdcStats>,
}

/// The control loop's state; see the module documentation.
pub struct Runtime {
    cfg: Arc<JdcConfig>,
    layout: Layout,
    solo: ScriptBuf,
    io: RuntimeIo,
    events_tx: mpsc::Sender<LinkEvent>,
    events: mpsc::Receiver<LinkEvent>,
    template: Option<TemplateUpdate>,
    next_seq: u64,
    jobs: VecDeque<Arc<JdcJob>>,
    upstream: Option<Upstream>,
    epoch: u64,
    connecting: Connecting,
    retry_at: Option<Instant>,
    decided: bool,
    last_prev_hash: Option<[u8; 32]>,
}

fn authority(key: &str) -> Result<XOnlyPublicKey, String> {
    sv2_noise::decode_public_key(key).map_err(|e| e.to_string())
}

async fn connect_links(
    cfg: UpstreamConfig,
    epoch: u64,
    timeout: Duration,
    events: mpsc::Sender<LinkEvent>,
) -> Result<(Link, Link), String> {
    let jds = link::connect(
        &cfg.jds_address,
        authority(&cfg.jds_authority_public_key)?,
        Peer::Jds,
        job_declaration_flags::DECLARE_TX_DATA,
        epoch,
        timeout,
        events.clone(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let pool = link::connect(
        &cfg.pool_address,
        authority(&cfg.pool_authority_public_key)?,
        Peer::Pool,
        mining_flags::REQUIRES_WORK_SELECTION | mining_flags::REQUIRES_VERSION_ROLLING,
        epoch,
        timeout,
        events,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok((jds, pool))
}

/// A connection attempt in progress.
type Connecting = Option<(usize, u64, JoinHandle<Result<(Link, Link), String>>)>;

/// Waits for the connection attempt (forever if there is none) and clears it.
async fn wait_connect(
    c: &mut Connecting,
) -> (
    usize,
    u64,
    Result<Result<(Link, Link), String>, tokio::task::JoinError>,
) {
    let Some((idx, epoch, handle)) = c.as_mut() else {
        return std::future::pending().await;
    };
    let (idx, epoch) = (*idx, *epoch);
    let result = handle.await;
    *c = None;
    (idx, epoch, result)
}

impl Runtime {
    /// A runtime for `cfg`, paying `solo` when solo.
    pub fn new(cfg: Arc<JdcConfig>, solo: ScriptBuf, io: RuntimeIo) -> Runtime {
        let (events_tx, events) = mpsc::channel(4096);
        let layout = Layout {
            pool_tag: cfg.downstream.pool_tag.as_bytes().to_vec(),
            downstream_len: usize::from(cfg.downstream.extranonce_size),
        };
        Runtime {
            cfg,
            layout,
            solo,
            io,
            events_tx,
            events,
            template: None,
            next_seq: 1,
            jobs: VecDeque::new(),
            upstream: None,
            epoch: 0,
            connecting: None,
            retry_at: None,
            decided: false,
            last_prev_hash: None,
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.fallback.response_timeout_secs)
    }

    /// Runs until the template source stops.
    pub async fn run(mut self) {
        if self.cfg.upstream.is_empty() {
            self.decided = true;
            self.set_mode(Mode::Solo);
        } else {
            self.start_connect(0);
        }
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                changed = self.io.templates.changed() => {
                    if changed.is_err() { return; }
                    let t = self.io.templates.borrow_and_update().clone();
                    if let Some(t) = t {
                        self.template = Some(t);
                        self.publish();
                    }
                }
                Some(ev) = self.events.recv() => self.on_link_event(ev),
                Some(share) = self.io.shares.recv() => self.on_share(share),
                Some(sol) = self.io.solutions.recv() => self.on_solution(sol),
                (idx, epoch, result) = wait_connect(&mut self.connecting) => {
                    match result {
                        Ok(Ok((jds, pool))) => self.on_connected(idx, epoch, jds, pool),
                        Ok(Err(e)) => self.on_connect_failed(idx, &e),
                        Err(e) => self.on_connect_failed(idx, &e.to_string()),
                    }
                }
                _ = tick.tick() => self.on_tick(),
            }
        }
    }

    fn set_mode(&self, mode: Mode) {
        if *self.io.mode.borrow() != mode {
            tracing::info!(?mode, "mode");
            self.io.mode.send_replace(mode);
        }
    }

    // ----- upstream connection -----

    fn start_connect(&mut self, idx: usize) {
        let Some(cfg) = self.cfg.upstream.get(idx).cloned() else {
            return;
        };
        self.epoch += 1;
        let epoch = self.epoch;
        tracing::info!(upstream = idx, pool = %cfg.pool_address, jds = %cfg.jds_address, "connecting upstream");
        let timeout = Duration::from_secs(self.cfg.fallback.connect_timeout_secs);
        let events = self.events_tx.clone();
        let handle = tokio::spawn(connect_links(cfg, epoch, timeout, events));
        self.connecting = Some((idx, epoch, handle));
        self.retry_at = None;
    }

    fn on_connect_failed(&mut self, idx: usize, reason: &str) {
        tracing::warn!(upstream = idx, %reason, "upstream unavailable");
        self.next_after(idx);
    }

    /// After upstream `idx` failed: mine solo and try the next one (or retry later).
    fn next_after(&mut self, idx: usize) {
        if !self.decided || *self.io.mode.borrow() != Mode::Solo {
            self.decided = true;
            self.set_mode(Mode::Solo);
            self.publish();
        }
        if idx + 1 < self.cfg.upstream.len() {
            self.start_connect(idx + 1);
        } else {
            let wait = Duration::from_secs(self.cfg.fallback.retry_secs);
            tracing::warn!(
                retry_in_secs = wait.as_secs(),
                "no upstream left: mining solo"
            );
            self.retry_at = Some(Instant::now() + wait);
        }
    }

    fn on_connected(&mut self, idx: usize, epoch: u64, jds: Link, pool: Link) {
        let Some(cfg) = self.cfg.upstream.get(idx) else {
            return;
        };
        let user = cfg.user_identity.clone();
        let mut up = Upstream {
            idx,
            epoch,
            jds,
            pool,
            since: Instant::now(),
            payout: None,
            spare_token: None,
            token_requested: true,
            channel: None,
            target: Target::MAX,
            ready: false,
            next_request: 0,
            declarations: HashMap::new(),
            undeclared: None,
            custom_pending: HashMap::new(),
            custom: HashMap::new(),
            queued: VecDeque::new(),
            forwarded: VecDeque::new(),
            sequence: 0,
            rejections: 0,
            stale: 0,
            redeclare: None,
        };
        let token_req = up.request_id();
        let channel_req = up.request_id();
        up.jds.send(AllocateMiningJobToken {
            user_identifier: user.clone(),
            request_id: token_req,
        });
        up.pool.send(OpenExtendedMiningChannel {
            request_id: channel_req,
            user_identity: user,
            nominal_hash_rate: 0.0,
            max_target: [0xff; 32],
            min_extranonce_size: u16::from(self.cfg.downstream.extranonce_size),
        });
        self.upstream = Some(up);
    }

    fn fail_over(&mut self, reason: &str) {
        let Some(up) = self.upstream.take() else {
            return;
        };
        bump(&self.io.stats.fallbacks);
        metrics::counter!("jdc_fallbacks_total").increment(1);
        tracing::warn!(upstream = up.idx, %reason, "leaving upstream");
        let idx = up.idx;
        // Dropping the links closes both connections.
        drop(up);
        self.next_after(idx);
    }

    fn on_tick(&mut self) {
        if self.connecting.is_none() && self.upstream.is_none() {
            if let Some(at) = self.retry_at {
                if Instant::now() >= at {
                    self.start_connect(0);
                }
            }
        }
        let newest = self.jobs.back().map(|j| j.seq());
        let due = self.upstream.as_mut().and_then(|u| match u.redeclare {
            Some((seq, at)) if Instant::now() >= at => {
                u.redeclare = None;
                Some(seq)
            }
            _ => None,
        });
        if let Some(seq) = due.filter(|s| Some(*s) == newest) {
            self.declare(seq);
        }
        let timeout = self.timeout();
        let Some(up) = &self.upstream else {
            return;
        };
        let late = |w: &Waiting| w.since.elapsed() > timeout;
        let reason = if !up.ready && up.since.elapsed() > timeout {
            Some("no token or channel in time")
        } else if up.declarations.values().any(late) {
            Some("declaration not answered in time")
        } else if up.custom_pending.values().any(late) {
            Some("custom job not answered in time")
        } else {
            None
        };
        if let Some(r) = reason {
            self.fail_over(r);
        }
    }

    // ----- jobs -----

    fn job(&self, seq: u64) -> Option<Arc<JdcJob>> {
        self.jobs.iter().rev().find(|j| j.seq() == seq).cloned()
    }

    /// Builds and publishes the job of the current template for the current mode; declares
    /// it when pooled.
    fn publish(&mut self) {
        if !self.decided {
            return;
        }
        let Some(update) = self.template.clone() else {
            return;
        };
        let (epoch, target) = match &self.upstream {
            Some(Upstream {
                ready: true,
                epoch,
                payout: Some((script, extra)),
                channel: Some((_, prefix, rollable)),
                ..
            }) => (
                *epoch,
                CoinbaseTarget {
                    payout: script.clone(),
                    extra_outputs: extra.clone(),
                    upstream_prefix: prefix.clone(),
                    upstream_rollable: *rollable,
                },
            ),
            _ => (
                0,
                CoinbaseTarget {
                    payout: self.solo.clone(),
                    extra_outputs: Vec::new(),
                    upstream_prefix: Vec::new(),
                    upstream_rollable: self.layout.downstream_len,
                },
            ),
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let job = match JdcJob::build(seq, epoch, &update, &target, &self.layout) {
            Ok(j) => Arc::new(j),
            Err(e) => {
                tracing::error!(error = %e, "cannot build a job from the template");
                if epoch != 0 {
                    self.fail_over(&format!("job for this upstream cannot be built: {e}"));
                }
                return;
            }
        };
        let prev = job.pool_job.prev_hash;
        if self.last_prev_hash != Some(prev) {
            self.last_prev_hash = Some(prev);
            self.io.allocator.on_new_prev_hash();
        }
        self.jobs.push_back(job.clone());
        while self.jobs.len() > RECENT_JOBS {
            self.jobs.pop_front();
        }
        bump(&self.io.stats.jobs_published);
        tracing::debug!(seq, epoch, height = job.pool_job.height, "job published");
        self.io.jobs.send_replace(Some(job.pool_job.clone()));
        if epoch != 0 {
            self.declare(seq);
        }
    }

    /// Declares job `seq` to the JDS (or remembers it until a token arrives).
    fn declare(&mut self, seq: u64) {
        let Some(job) = self.job(seq) else {
            return;
        };
        let user = self
            .upstream
            .as_ref()
            .and_then(|u| self.cfg.upstream.get(u.idx))
            .map(|c| c.user_identity.clone())
            .unwrap_or_default();
        let Some(up) = self.upstream.as_mut().filter(|u| u.epoch == job.epoch) else {
            return;
        };
        let Some(token) = up.spare_token.take() else {
            up.undeclared = Some(seq);
            return;
        };
        let request_id = up.request_id();
        up.jds.send(job.declare_message(request_id, token));
        up.declarations.insert(
            request_id,
            Waiting {
                seq,
                since: Instant::now(),
            },
        );
        bump(&self.io.stats.declarations_sent);
        if !up.token_requested {
            up.token_requested = true;
            let token_req = up.request_id();
            up.jds.send(AllocateMiningJobToken {
                user_identifier: user,
                request_id: token_req,
            });
        }
    }

    /// Whether a rejection of job `seq` only says our own tip has moved on since.
    fn outdated(&self, seq: u64) -> bool {
        let current = self.template.as_ref().map(|t| t.template.previousblockhash);
        self.job(seq)
            .is_some_and(|j| Some(j.pool_job.template.previousblockhash) != current)
    }

    // ----- upstream messages -----

    fn on_link_event(&mut self, ev: LinkEvent) {
        let current = self.upstream.as_ref().map(|u| u.epoch);
        match ev {
            LinkEvent::Closed {
                epoch,
                peer,
                reason,
                ..
            } if Some(epoch) == current => {
                self.fail_over(&format!("{peer:?} connection closed: {reason}"));
            }
            LinkEvent::Message {
                epoch,
                msg: Message::JobDeclaration(m),
                ..
            } if Some(epoch) == current => self.on_jds(m),
            LinkEvent::Message {
                epoch,
                msg: Message::Mining(m),
                ..
            } if Some(epoch) == current => self.on_pool(m),
            LinkEvent::Message { .. } | LinkEvent::Closed { .. } => {}
        }
    }

    fn on_jds(&mut self, m: JobDeclarationMessage) {
        match m {
            JobDeclarationMessage::AllocateMiningJobTokenSuccess(s) => {
                let outputs: Vec<TxOut> = match deserialize(&s.coinbase_outputs) {
                    Ok(o) => o,
                    Err(_) => return self.fail_over("JDS sent undecodable coinbase outputs"),
                };
                let Some((first, rest)) = outputs.split_first() else {
                    return self.fail_over("JDS requires no pool payout output");
                };
                let payout = (first.script_pubkey.clone(), rest.to_vec());
                let Some(up) = self.upstream.as_mut() else {
                    return;
                };
                let changed = up.payout.as_ref().is_some_and(|p| *p != payout);
                up.payout = Some(payout);
                up.spare_token = Some(s.mining_job_token);
                up.token_requested = false;
                let pending = up.undeclared.take();
                if changed {
                    tracing::info!("pool payout outputs changed");
                    self.publish();
                } else if let Some(seq) = pending {
                    self.declare(seq);
                } else {
                    self.check_ready();
                }
            }
            JobDeclarationMessage::ProvideMissingTransactions(p) => {
                let seq = self
                    .upstream
                    .as_ref()
                    .and_then(|u| u.declarations.get(&p.request_id))
                    .map(|w| w.seq);
                let txs = seq
                    .and_then(|s| self.job(s))
                    .and_then(|j| j.transactions_at(&p.unknown_tx_position_list));
                let Some(txs) = txs else {
                    return self.fail_over("JDS asked for transactions of no pending declaration");
                };
                tracing::info!(
                    request_id = p.request_id,
                    count = txs.len(),
                    "providing transactions to the JDS"
                );
                self.io
                    .stats
                    .txs_provided
                    .fetch_add(txs.len() as u64, Ordering::Relaxed);
                if let Some(up) = &self.upstream {
                    up.jds.send(ProvideMissingTransactionsSuccess {
                        request_id: p.request_id,
                        transaction_list: txs,
                    });
                }
            }
            JobDeclarationMessage::DeclareMiningJobSuccess(s) => {
                let Some(up) = self.upstream.as_mut() else {
                    return;
                };
                let Some(w) = up.declarations.remove(&s.request_id) else {
                    return;
                };
                up.stale = 0;
                bump(&self.io.stats.declarations_accepted);
                let Some(job) = self.job(w.seq) else {
                    return;
                };
                let Some(up) = self.upstream.as_mut() else {
                    return;
                };
                let Some(channel_id) = up.channel.as_ref().map(|c| c.0) else {
                    return;
                };
                let request_id = up.request_id();
                up.pool.send(job.set_custom_message(
                    channel_id,
                    request_id,
                    s.new_mining_job_token,
                ));
                up.custom_pending.insert(
                    request_id,
                    Waiting {
                        seq: w.seq,
                        since: Instant::now(),
                    },
                );
            }
            JobDeclarationMessage::DeclareMiningJobError(e) => {
                let seq = self
                    .upstream
                    .as_mut()
                    .and_then(|u| u.declarations.remove(&e.request_id))
                    .map(|w| w.seq);
                let details = String::from_utf8_lossy(&e.error_details).into_owned();
                if e.error_code == jd_codes::STALE_CHAIN_TIP {
                    if seq.is_some_and(|s| self.outdated(s)) {
                        tracing::debug!("declaration for an old tip refused; a newer one follows");
                        return;
                    }
                    if let (Some(up), Some(seq)) = (self.upstream.as_mut(), seq) {
                        up.stale += 1;
                        if up.stale < MAX_STALE_ANSWERS {
                            tracing::info!(%details, "JDS is behind our tip; declaring again shortly");
                            up.redeclare = Some((seq, Instant::now() + REDECLARE_AFTER));
                            return;
                        }
                    }
                }
                self.fail_over(&format!(
                    "JDS rejected the declaration: {} {details}",
                    e.error_code
                ));
            }
            other => {
                tracing::debug!(message = other.name(), "ignored message from the JDS");
            }
        }
    }

    fn check_ready(&mut self) {
        let Some(up) = self.upstream.as_mut() else {
            return;
        };
        if up.ready || up.payout.is_none() || up.channel.is_none() {
            return;
        }
        up.ready = true;
        let idx = up.idx;
        tracing::info!(upstream = idx, "upstream ready: declaring jobs to the pool");
        self.decided = true;
        self.retry_at = None;
        self.set_mode(Mode::Pooled { upstream: idx });
        self.publish();
    }

    fn on_pool(&mut self, m: MiningMessage) {
        match m {
            MiningMessage::OpenExtendedMiningChannelSuccess(s) => {
                let needed = usize::from(self.cfg.downstream.extranonce_size);
                if usize::from(s.extranonce_size) < needed {
                    return self.fail_over(&format!(
                        "pool leaves {} rollable extranonce bytes, {needed} needed",
                        s.extranonce_size
                    ));
                }
                if s.extranonce_prefix.len() + usize::from(s.extranonce_size) > 32 {
                    return self.fail_over("pool extranonce longer than 32 bytes");
                }
                let Some(up) = self.upstream.as_mut() else {
                    return;
                };
                up.channel = Some((
                    s.channel_id,
                    s.extranonce_prefix,
                    usize::from(s.extranonce_size),
                ));
                up.target = Target::from_le_bytes(s.target);
                self.check_ready();
            }
            MiningMessage::OpenMiningChannelError(e) => {
                self.fail_over(&format!("pool refused the channel: {}", e.error_code));
            }
            MiningMessage::SetCustomMiningJobSuccess(s) => {
                let Some(up) = self.upstream.as_mut() else {
                    return;
                };
                let Some(w) = up.custom_pending.remove(&s.request_id) else {
                    return;
                };
                up.stale = 0;
                up.custom.insert(
                    w.seq,
                    CustomJob {
                        job_id: s.job_id,
                        target: up.target,
                    },
                );
                // Forget custom jobs older than the remembered jobs.
                let oldest = self.jobs.front().map(|j| j.seq()).unwrap_or(0);
                if let Some(up) = self.upstream.as_mut() {
                    up.custom.retain(|seq, _| *seq >= oldest);
                }
                bump(&self.io.stats.custom_jobs_set);
                metrics::counter!("jdc_custom_jobs_total").increment(1);
                self.flush_queued();
            }
            MiningMessage::SetCustomMiningJobError(e) => {
                let seq = self
                    .upstream
                    .as_mut()
                    .and_then(|u| u.custom_pending.remove(&e.request_id))
                    .map(|w| w.seq);
                if e.error_code == "stale-chain-tip" {
                    if seq.is_some_and(|s| self.outdated(s)) {
                        return;
                    }
                    // The pool's node is ahead of ours: our node should catch up soon.
                    if let Some(up) = self.upstream.as_mut() {
                        up.stale += 1;
                        if up.stale < MAX_STALE_ANSWERS {
                            tracing::info!("pool is ahead of our tip; waiting for our node");
                            return;
                        }
                    }
                }
                self.fail_over(&format!("pool rejected the custom job: {}", e.error_code));
            }
            MiningMessage::SetTarget(t) => {
                if let Some(up) = self.upstream.as_mut() {
                    up.target = Target::from_le_bytes(t.maximum_target);
                }
            }
            MiningMessage::SubmitSharesSuccess(s) => {
                self.io
                    .stats
                    .shares_accepted_upstream
                    .fetch_add(u64::from(s.new_submits_accepted_count), Ordering::Relaxed);
                if let Some(up) = self.upstream.as_mut() {
                    up.rejections = 0;
                }
            }
            MiningMessage::SubmitSharesError(e) => {
                bump(&self.io.stats.shares_rejected_upstream);
                let benign = matches!(e.error_code.as_str(), "stale-share" | "duplicate-share");
                let max = self.cfg.fallback.max_share_rejections;
                let Some(up) = self.upstream.as_mut() else {
                    return;
                };
                tracing::debug!(code = %e.error_code, "pool rejected a share");
                if !benign {
                    up.rejections += 1;
                    if up.rejections >= max {
                        self.fail_over(&format!(
                            "pool rejected {max} shares in a row (last: {})",
                            e.error_code
                        ));
                    }
                }
            }
            MiningMessage::CloseChannel(c) => {
                self.fail_over(&format!("pool closed the channel: {}", c.reason_code));
            }
            other => {
                tracing::debug!(
                    message = Message::from(other).name(),
                    "ignored message from the pool"
                );
            }
        }
    }

    // ----- shares and blocks -----

    fn on_share(&mut self, share: ObservedShare) {
        let Some(job) = self.job(share.template_id) else {
            return;
        };
        let Some(up) = self
            .upstream
            .as_mut()
            .filter(|u| u.ready && u.epoch == job.epoch)
        else {
            return;
        };
        if !up.custom.contains_key(&job.seq()) {
            if !up.target.is_met_by(&share.hash) {
                return;
            }
            if up.queued.len() >= MAX_QUEUED_SHARES {
                metrics::counter!("jdc_queued_shares_dropped_total").increment(1);
                up.queued.pop_front();
            }
            up.queued.push_back(share);
            return;
        }
        self.forward(&job, &share);
    }

    fn forward(&mut self, job: &JdcJob, share: &ObservedShare) {
        let Some(up) = self.upstream.as_mut() else {
            return;
        };
        let (Some(custom), Some((channel_id, _, _))) =
            (up.custom.get(&job.seq()).copied(), up.channel.as_ref())
        else {
            return;
        };
        let channel_id = *channel_id;
        if !custom.target.is_met_by(&share.hash) || up.forwarded.contains(&share.hash) {
            return;
        }
        if up.forwarded.len() >= FORWARDED_MEMORY {
            up.forwarded.pop_front();
        }
        up.forwarded.push_back(share.hash);
        up.sequence = up.sequence.wrapping_add(1);
        let sent = up.pool.send(SubmitSharesExtended {
            channel_id,
            sequence_number: up.sequence,
            job_id: custom.job_id,
            nonce: share.nonce,
            ntime: share.ntime,
            version: share.version,
            extranonce: job.upstream_extranonce(&share.extranonce),
        });
        if sent {
            bump(&self.io.stats.shares_forwarded);
            metrics::counter!("jdc_shares_forwarded_total").increment(1);
        }
    }

    fn flush_queued(&mut self) {
        let Some(up) = self.upstream.as_mut() else {
            return;
        };
        let queued: Vec<ObservedShare> = up.queued.drain(..).collect();
        let mut keep = VecDeque::new();
        for share in queued {
            let Some(job) = self.job(share.template_id) else {
                continue;
            };
            let acknowledged = self
                .upstream
                .as_ref()
                .is_some_and(|u| u.custom.contains_key(&job.seq()));
            if acknowledged {
                self.forward(&job, &share);
            } else {
                keep.push_back(share);
            }
        }
        if let Some(up) = self.upstream.as_mut() {
            up.queued = keep;
        }
    }

    fn on_solution(&mut self, sol: BlockSolution) {
        bump(&self.io.stats.blocks_found);
        let job = self.job(sol.job.template_id);
        // The own node first: it always gets the block.
        let submitter = self.io.submitter.clone();
        let stats = self.io.stats.clone();
        let own = sol.clone();
        tokio::spawn(async move {
            match submitter.submit(own).await {
                Ok(o) if o.is_valid_block() => bump(&stats.blocks_accepted),
                Ok(_) | Err(_) => {}
            }
        });
        let Some(job) = job else {
            return;
        };
        if self.upstream.as_ref().is_none_or(|u| u.epoch != job.epoch) {
            return;
        }
        let header = BlockHeader::from_bytes(&sol.header);
        // The pool sees the block's share before the JDS can make its node (and so the pool)
        // move to the next tip, which would make the share stale there: the pool validates it
        // as a block on the declared job and its treasury credits the block to the finder.
        self.on_share(ObservedShare {
            channel_id: 0,
            worker: sol.finder.clone(),
            template_id: sol.job.template_id,
            extranonce: sol.extranonce.clone(),
            version: header.version,
            ntime: header.ntime,
            nonce: header.nonce,
            hash: sol.hash,
        });
        let Some(up) = self.upstream.as_ref() else {
            return;
        };
        let sent = up.jds.send(PushSolution {
            extranonce: job.full_extranonce(&sol.extranonce),
            prev_hash: header.prev_hash,
            nonce: header.nonce,
            ntime: header.ntime,
            nbits: header.nbits,
            version: header.version,
        });
        if sent {
            bump(&self.io.stats.push_solutions);
            tracing::info!(height = job.pool_job.height, "block pushed to the JDS");
        }
    }
}
