//! The SV2 load run: prepare (or attach to) a pool, open the connections, measure the idle
//! pool, mine blocks for fan-out, run the share phase, drain, and report.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sv2_noise::secp256k1::XOnlyPublicKey;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::addrs::SourcePlan;
use super::conn::{self, ConnContext, Phase};
use super::env::{self, ChildProcess, PoolSpawn};
use super::error::LoadError;
use super::fanout::FanoutClock;
use super::mix::ShareMix;
use super::procfs::{self, ProcSample};
use super::report::{self, Percentiles, PoolMetrics, Report, ServerUsage, Tick};
use super::stats::{get, LoadStats, ShareKind};
use crate::bitcoind::StandIn;
use crate::miner::sv2::ChannelMode;

/// Most connections one run opens.
pub const MAX_CONNECTIONS: usize = 200_000;
/// Longest share phase.
pub const MAX_SHARE_PHASE: Duration = Duration::from_secs(3600);

/// Which pool the load goes to.
#[derive(Debug, Clone)]
pub enum PoolTarget {
    /// A running pool.
    Attach {
        /// SV2 address.
        addr: SocketAddr,
        /// Its authority public key.
        authority: XOnlyPublicKey,
        /// Its process id, for RSS and CPU (same machine only).
        pid: Option<u32>,
        /// Its `/metrics` address, scraped every second.
        metrics: Option<SocketAddr>,
    },
    /// Start a stand-in here and the `sv2-pool` binary as a child process.
    Spawn(SpawnPool),
}

/// How to start the pool for a self-contained run.
#[derive(Debug, Clone)]
pub struct SpawnPool {
    /// `sv2-pool` binary (default: next to this executable, else on `PATH`).
    pub bin: Option<PathBuf>,
    /// `taskset -c` CPU list for the pool, e.g. `"0"`.
    pub cpus: Option<String>,
    /// Network `nbits` of the stand-in chain.
    pub nbits: u32,
    /// Fixed share difficulty of the pool (min = initial = max).
    pub difficulty: f64,
    /// `share_ack_batch`.
    pub ack_batch: u32,
    /// `share_ack_interval_ms`.
    pub ack_interval_ms: u64,
    /// Enable the pool's `/metrics` (and scrape it every second like Prometheus would).
    pub metrics: bool,
    /// Keep the work directory (config, pool log) after the run.
    pub keep_workdir: bool,
}

impl Default for SpawnPool {
    fn default() -> Self {
        SpawnPool {
            bin: None,
            cpus: None,
            nbits: env::DEFAULT_SV2_NBITS,
            difficulty: DEFAULT_SHARE_DIFFICULTY,
            ack_batch: 16,
            ack_interval_ms: 100,
            metrics: false,
            keep_workdir: false,
        }
    }
}

/// Pool share difficulty of self-contained runs: target ≈ 0.75 · 2^256, so three hashes in
/// four meet it (and, at the default stand-in `nbits`, one in 65 536 is a block).
pub const DEFAULT_SHARE_DIFFICULTY: f64 = 3.1e-10;

/// Everything an SV2 load run needs; build with [`Sv2LoadOptions::new`].
#[derive(Debug, Clone)]
pub struct Sv2LoadOptions {
    /// The pool.
    pub target: PoolTarget,
    /// Standard or extended channels (one per connection).
    pub mode: ChannelMode,
    /// Connections to open.
    pub connections: usize,
    /// New connections per second.
    pub connect_rate: f64,
    /// Connection setups (TCP + Noise + SetupConnection + open) in flight at once.
    pub connect_concurrency: usize,
    /// Connections per loopback source address.
    pub per_source: usize,
    /// Explicit source addresses (default: 127.0.0.1, .2, ... as needed for loopback pools).
    pub sources: Option<Vec<IpAddr>>,
    /// `user_identity` prefix (`{user}-{i}` per connection).
    pub user: String,
    /// Total shares per second in the share phase (0: as fast as the window allows).
    pub rate: f64,
    /// Share phase length (zero: no share phase, only connections and fan-out).
    pub duration: Duration,
    /// Stop the share phase after this many shares.
    pub max_shares: Option<u64>,
    /// Invalid / stale / duplicate fractions.
    pub mix: ShareMix,
    /// Unanswered shares allowed per connection.
    pub window: usize,
    /// Hashes spent at most per share.
    pub hash_budget: u64,
    /// Wait after the ramp before measuring the idle pool.
    pub settle: Duration,
    /// Give up opening connections after this long.
    pub ramp_timeout: Duration,
    /// Blocks to mine (and time the fan-out of) while the connections are idle.
    pub idle_blocks: u32,
    /// Mine a block this often during the share phase (stale shares need new blocks).
    pub block_interval: Option<Duration>,
    /// After the share phase, wait at most this long for answers.
    pub drain: Duration,
    /// Timeout of each step of a connection's setup.
    pub setup_timeout: Duration,
    /// Print a progress line to stderr every second.
    pub progress: bool,
    /// Mean time of one standard share in `cargo bench --bench share_validation`
    /// (`c_standard_cache_hit`), ns: the report then gives the pool's ratio to it.
    pub validation_bench_ns: Option<f64>,
}

impl Sv2LoadOptions {
    /// Defaults: standard channels, 10 000 shares/s for 20 s with 1 % of each bad kind.
    pub fn new(target: PoolTarget, connections: usize) -> Self {
        Sv2LoadOptions {
            target,
            mode: ChannelMode::Standard,
            connections,
            connect_rate: 2000.0,
            connect_concurrency: 256,
            per_source: super::addrs::DEFAULT_PER_SOURCE,
            sources: None,
            user: "load.worker".into(),
            rate: 10_000.0,
            duration: Duration::from_secs(20),
            max_shares: None,
            mix: ShareMix {
                invalid: 0.01,
                stale: 0.01,
                duplicate: 0.01,
            },
            window: 1024,
            hash_budget: 1 << 16,
            settle: Duration::from_secs(3),
            ramp_timeout: Duration::from_secs(600),
            idle_blocks: 3,
            block_interval: Some(Duration::from_secs(5)),
            drain: Duration::from_secs(5),
            setup_timeout: Duration::from_secs(30),
            progress: true,
            validation_bench_ns: None,
        }
    }

    fn validate(&self) -> Result<(), LoadError> {
        let bad = |m: &str| Err(LoadError::Config(m.to_owned()));
        if self.connections == 0 || self.connections > MAX_CONNECTIONS {
            return bad(&format!("connections must be in 1..={MAX_CONNECTIONS}"));
        }
        if !(self.connect_rate.is_finite() && self.connect_rate > 0.0) {
            return bad("connect rate must be positive");
        }
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return bad("share rate must be >= 0");
        }
        if self.duration > MAX_SHARE_PHASE {
            return bad("the share phase lasts at most one hour");
        }
        if self.connect_concurrency == 0 || self.window == 0 || self.hash_budget == 0 {
            return bad("connect concurrency, window and hash budget must be positive");
        }
        if self
            .block_interval
            .is_some_and(|d| d < Duration::from_millis(100))
        {
            return bad("block interval must be at least 100 ms");
        }
        self.mix.validate()
    }
}

/// What the run is doing, for the progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Ramp,
    Idle,
    Blocks,
    Share,
    Drain,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Ramp => "ramp",
            Stage::Idle => "idle",
            Stage::Blocks => "blocks",
            Stage::Share => "share",
            Stage::Drain => "drain",
        }
    }
}

/// The pool and what belongs to it for the duration of the run.
struct PoolEnv {
    addr: SocketAddr,
    authority: XOnlyPublicKey,
    pid: Option<u32>,
    metrics: Option<SocketAddr>,
    standin: Option<Arc<StandIn>>,
    child: Option<ChildProcess>,
    workdir: Option<(PathBuf, bool)>,
}

impl Drop for PoolEnv {
    fn drop(&mut self) {
        // Stop the pool before removing its files.
        self.child = None;
        if let Some((dir, keep)) = &self.workdir {
            if !keep {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

async fn prepare(target: &PoolTarget, notes: &mut Vec<String>) -> Result<PoolEnv, LoadError> {
    match target {
        PoolTarget::Attach {
            addr,
            authority,
            pid,
            metrics,
        } => {
            notes.push(
                "attached to a running pool: fan-out is timed from the first connection that saw each block"
                    .into(),
            );
            Ok(PoolEnv {
                addr: *addr,
                authority: *authority,
                pid: *pid,
                metrics: *metrics,
                standin: None,
                child: None,
                workdir: None,
            })
        }
        PoolTarget::Spawn(s) => {
            let standin = env::start_standin(s.nbits).await?;
            let dir = env::work_dir("pool")?;
            let listen: SocketAddr = format!("127.0.0.1:{}", env::free_port()?)
                .parse()
                .map_err(|e| LoadError::Env(format!("listen address: {e}")))?;
            let metrics = if s.metrics {
                Some(
                    format!("127.0.0.1:{}", env::free_port()?)
                        .parse()
                        .map_err(|e| LoadError::Env(format!("metrics address: {e}")))?,
                )
            } else {
                None
            };
            let spawn = PoolSpawn {
                bin: env::find_binary("sv2-pool", s.bin.as_deref()),
                cpus: s.cpus.clone(),
                listen,
                difficulty: (s.difficulty, s.difficulty, s.difficulty),
                ack_batch: s.ack_batch,
                ack_interval_ms: s.ack_interval_ms,
                metrics,
                node_id: 0,
            };
            let (child, authority) = env::spawn_pool(&spawn, &standin, &dir).await?;
            if s.keep_workdir {
                notes.push(format!("pool config and log kept in {}", dir.display()));
            }
            Ok(PoolEnv {
                addr: listen,
                authority,
                pid: Some(child.pid()),
                metrics,
                standin: Some(standin),
                child: Some(child),
                workdir: Some((dir, s.keep_workdir)),
            })
        }
    }
}

/// `Max open files` (soft) of a process, from `/proc/<pid>/limits`.
fn open_file_limit(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Shared between the run and its progress printer.
struct Progress {
    stage: Mutex<Stage>,
}

impl Progress {
    fn set(&self, s: Stage) {
        *self.stage.lock().unwrap_or_else(PoisonError::into_inner) = s;
    }

    fn get(&self) -> Stage {
        *self.stage.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn spawn_progress(
    stats: Arc<LoadStats>,
    progress: Arc<Progress>,
    pid: Option<u32>,
    start: Instant,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut prev = Tick::of(&stats, 0.0);
        let mut prev_cpu: Option<(f64, f64)> = None;
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.tick().await;
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.changed() => return,
            }
            let t = start.elapsed().as_secs_f64();
            let now = Tick::of(&stats, t);
            let server = pid.and_then(|p| procfs::sample(p).ok()).map(|s| {
                let cores = prev_cpu
                    .map(|(t0, c0)| (s.cpu_secs - c0) / (t - t0).max(1e-3))
                    .unwrap_or(0.0);
                prev_cpu = Some((t, s.cpu_secs));
                (s.rss_kib, cores)
            });
            eprintln!(
                "{}",
                report::progress_line(progress.get().name(), &stats, &prev, &now, server)
            );
            prev = now;
        }
    })
}

fn spawn_scraper(
    addr: SocketAddr,
    last: Arc<Mutex<Option<String>>>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.changed() => return,
            }
            if let Ok(text) = env::scrape_metrics(addr).await {
                *last.lock().unwrap_or_else(PoisonError::into_inner) = Some(text);
            }
        }
    })
}

fn in_flight(stats: &LoadStats) -> u64 {
    stats
        .sent_total()
        .saturating_sub(get(&stats.accepted) + get(&stats.rejected) + get(&stats.unanswered))
}

/// Mines a block on the stand-in and records it for fan-out.
async fn mine_and_record(
    standin: &Arc<StandIn>,
    fanout: &FanoutClock,
    stats: &LoadStats,
) -> Result<[u8; 32], LoadError> {
    let (hash, accepted_at) = env::mine_block(standin).await?;
    fanout.mined(hash, accepted_at, get(&stats.channels_open));
    Ok(hash)
}

/// Runs an SV2 load test to completion and returns its report.
pub async fn run_sv2(opts: Sv2LoadOptions) -> Result<Report, LoadError> {
    opts.validate()?;
    let start = Instant::now();
    let self_before = procfs::sample_self().ok();
    let mut notes = Vec::new();
    let wanted_fds = opts.connections as u64 + 1024;
    match procfs::raise_nofile_limit(wanted_fds) {
        Ok(l) if l < wanted_fds => notes.push(format!(
            "RLIMIT_NOFILE of the load generator is {l} (hard limit), below {wanted_fds}: connections beyond it fail"
        )),
        Ok(_) => {}
        Err(e) => notes.push(format!("cannot raise RLIMIT_NOFILE: {e}")),
    }
    let pool = prepare(&opts.target, &mut notes).await?;
    if let Some(limit) = pool.pid.and_then(open_file_limit) {
        // The pool needs one descriptor per connection plus a few of its own.
        if limit < opts.connections as u64 + 64 {
            notes.push(format!(
                "the pool's open-file limit is {limit}: it cannot hold {} connections (raise it with `ulimit -n` / LimitNOFILE)",
                opts.connections
            ));
        }
    }

    let stats = Arc::new(LoadStats::default());
    let fanout = Arc::new(FanoutClock::new());
    let sources = match &opts.sources {
        Some(s) => SourcePlan::explicit(s.clone(), opts.per_source),
        None => SourcePlan::for_destination(pool.addr, opts.connections, opts.per_source),
    };
    let source_count = sources.len();
    let ctx = Arc::new(ConnContext {
        dest: pool.addr,
        authority: pool.authority,
        sources,
        mode: opts.mode,
        user: opts.user.clone(),
        numbered: true,
        nominal_hash_rate: 0.0,
        setup_timeout: opts.setup_timeout,
        setup_gate: Semaphore::new(opts.connect_concurrency),
        rate_per_conn: opts.rate / opts.connections as f64,
        mix: opts.mix,
        window: opts.window,
        hash_budget: opts.hash_budget,
        shares_left: AtomicU64::new(opts.max_shares.unwrap_or(u64::MAX)),
        stats: Arc::clone(&stats),
        fanout: Arc::clone(&fanout),
    });
    let (phase_tx, phase_rx) = watch::channel(Phase::Idle);
    let (stop_tx, stop_rx) = watch::channel(false);
    let progress = Arc::new(Progress {
        stage: Mutex::new(Stage::Ramp),
    });
    let printer = opts.progress.then(|| {
        spawn_progress(
            Arc::clone(&stats),
            Arc::clone(&progress),
            pool.pid,
            start,
            stop_rx.clone(),
        )
    });
    let scraped = Arc::new(Mutex::new(None));
    let scraper = pool
        .metrics
        .map(|a| spawn_scraper(a, Arc::clone(&scraped), stop_rx.clone()));

    let sample = |pid: Option<u32>| pid.and_then(|p| procfs::sample(p).ok());
    // Let the pool fetch its first template before measuring it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = sample(pool.pid);

    // Ramp: open connections at the configured rate.
    let mut tasks = JoinSet::new();
    let ramp_start = Instant::now();
    let mut spawned = 0usize;
    let n = opts.connections;
    let ramp_deadline = ramp_start + opts.ramp_timeout;
    let ramp_done = |stats: &LoadStats| {
        (get(&stats.channels_opened) + get(&stats.connect_failures)) as usize >= n
    };
    while !ramp_done(&stats) && Instant::now() < ramp_deadline {
        let due = ((ramp_start.elapsed().as_secs_f64() * opts.connect_rate) as usize + 1).min(n);
        while spawned < due {
            tasks.spawn(conn::run(Arc::clone(&ctx), spawned, phase_rx.clone()));
            spawned += 1;
        }
        while tasks.try_join_next().is_some() {}
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ramp_secs = ramp_start.elapsed().as_secs_f64();
    if !ramp_done(&stats) {
        notes.push(format!(
            "ramp timed out after {ramp_secs:.0} s with {} of {n} channels open",
            get(&stats.channels_open)
        ));
    }

    progress.set(Stage::Idle);
    tokio::time::sleep(opts.settle).await;
    let connections_idle = get(&stats.channels_open);
    let idle = sample(pool.pid);

    // Fan-out at scale: blocks while every connection is idle.
    if let Some(standin) = &pool.standin {
        progress.set(Stage::Blocks);
        for _ in 0..opts.idle_blocks {
            let expected = get(&stats.channels_open);
            let hash = mine_and_record(standin, &fanout, &stats).await?;
            let deadline = Instant::now() + Duration::from_secs(30);
            while fanout.reached(&hash) < expected && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    // Share phase.
    let mut share_secs = 0.0;
    let mut share_cpu: Option<(ProcSample, ProcSample, f64)> = None;
    if !opts.duration.is_zero() && opts.max_shares != Some(0) {
        progress.set(Stage::Share);
        let cpu0 = sample(pool.pid);
        let share_start = Instant::now();
        let _ = phase_tx.send(Phase::Share(share_start));
        let end = share_start + opts.duration;
        let mut next_block = opts.block_interval.map(|d| share_start + d);
        loop {
            let now = Instant::now();
            if now >= end || get(&ctx.shares_left) == 0 {
                break;
            }
            if let (Some(at), Some(standin)) = (next_block, &pool.standin) {
                if now >= at {
                    mine_and_record(standin, &fanout, &stats).await?;
                    next_block = opts.block_interval.map(|d| Instant::now() + d);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        share_secs = share_start.elapsed().as_secs_f64();
        progress.set(Stage::Drain);
        let _ = phase_tx.send(Phase::Drain);
        let drain_end = Instant::now() + opts.drain;
        while in_flight(&stats) > 0 && Instant::now() < drain_end {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let phase_secs = share_start.elapsed().as_secs_f64();
        if let (Some(a), Some(b)) = (cpu0, sample(pool.pid)) {
            share_cpu = Some((a, b, phase_secs));
        }
    }
    let end_sample = sample(pool.pid);

    // Stop.
    let _ = phase_tx.send(Phase::Stop);
    let _ = stop_tx.send(true);
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if closed.is_err() {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    if let Some(p) = printer {
        let _ = p.await;
    }
    if let Some(s) = scraper {
        let _ = s.await;
    }
    // A last scrape for the totals.
    if let Some(a) = pool.metrics {
        if let Ok(text) = env::scrape_metrics(a).await {
            *scraped.lock().unwrap_or_else(PoisonError::into_inner) = Some(text);
        }
    }

    // Report.
    let detail = stats.merged();
    let (blocks, fan_hist) = fanout.summary();
    let sent: std::collections::BTreeMap<ShareKind, u64> = ShareKind::ALL
        .iter()
        .map(|k| (*k, get(&stats.sent[k.index()])))
        .collect();
    let sent_total = stats.sent_total();
    let acked = get(&stats.acked);
    let rejected = get(&stats.rejected);
    let per_sec = |v: u64| {
        if share_secs > 0.0 {
            v as f64 / share_secs
        } else {
            0.0
        }
    };
    let server = match (pool.pid, before, idle) {
        (Some(pid), Some(b), Some(i)) => {
            let answered = get(&stats.accepted) + rejected;
            let (cpu, cores) = share_cpu
                .map(|(a, b, secs)| {
                    let c = (b.cpu_secs - a.cpu_secs).max(0.0);
                    (c, c / secs.max(1e-3))
                })
                .unwrap_or((0.0, 0.0));
            Some(ServerUsage {
                pid,
                rss_before_kib: b.rss_kib,
                rss_idle_kib: i.rss_kib,
                rss_per_idle_connection_kib: if connections_idle > 0 {
                    i.rss_kib.saturating_sub(b.rss_kib) as f64 / connections_idle as f64
                } else {
                    0.0
                },
                rss_end_kib: end_sample.map_or(0, |s| s.rss_kib),
                share_phase_cpu_secs: cpu,
                share_phase_cores: cores,
                cpu_secs_per_1k_shares: (answered > 0 && share_cpu.is_some())
                    .then(|| cpu / (answered as f64 / 1000.0)),
            })
        }
        _ => None,
    };
    let pool_metrics = scraped
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_deref()
        .map(|text| {
            let fan = report::prometheus_histogram(text, "pool_new_block_to_prevhash_seconds");
            PoolMetrics {
                fanout_samples: fan.map_or(0, |f| f.0),
                fanout_p50_le_ms: fan.and_then(|f| f.1).map(|s| s * 1000.0),
                fanout_p99_le_ms: fan.and_then(|f| f.2).map(|s| s * 1000.0),
                validation_mean_us: report::prometheus_mean(text, "pool_share_validation_seconds")
                    .map(|s| s * 1e6),
            }
        });
    let self_after = procfs::sample_self().ok();
    let acked_per_sec = per_sec(acked);
    let validation = opts
        .validation_bench_ns
        .filter(|ns| *ns > 0.0)
        .map(|ns| 1e9 / ns);
    if get(&stats.budget_exhausted) > 0 {
        notes.push(format!(
            "the share target was too hard for the hash budget ({} misses): configure the pool's difficulty as in benches/scenarios/README.md",
            get(&stats.budget_exhausted)
        ));
    }
    let last_error = stats
        .last_error
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Ok(Report {
        mode: match opts.mode {
            ChannelMode::Standard => "sv2-standard".into(),
            ChannelMode::Extended => "sv2-extended".into(),
        },
        target: pool.addr.to_string(),
        connections_requested: n,
        connections_opened: get(&stats.channels_opened),
        connections_idle,
        connect_failures: get(&stats.connect_failures),
        disconnects: get(&stats.disconnects),
        source_addresses: source_count,
        ramp_secs,
        rate_requested: opts.rate,
        pool_ack: match &opts.target {
            PoolTarget::Spawn(s) => Some((s.ack_batch, s.ack_interval_ms)),
            PoolTarget::Attach { .. } => None,
        },
        share_secs,
        sent,
        sent_total,
        sent_per_sec: per_sec(sent_total),
        acked,
        acked_per_sec,
        rejected,
        unanswered: get(&stats.unanswered),
        rejected_by_reason: detail.verdicts.by_reason(),
        verdicts: Some(detail.verdicts),
        accept_latency: Percentiles::of(&detail.accept_latency),
        reject_latency: Percentiles::of(&detail.reject_latency),
        blocks,
        fanout: Percentiles::of(&fan_hist),
        server,
        pool_metrics,
        loadgen_cpu_secs: match (self_before, self_after) {
            (Some(a), Some(b)) => (b.cpu_secs - a.cpu_secs).max(0.0),
            _ => 0.0,
        },
        loadgen_rss_kib: self_after.map_or(0, |s| s.rss_kib),
        hashes: get(&stats.hashes),
        budget_exhausted: get(&stats.budget_exhausted),
        blocks_skipped: get(&stats.blocks_skipped),
        window_full: get(&stats.window_full),
        validation_bench_per_sec: validation,
        ratio_to_validation_bench: validation.map(|v| acked_per_sec / v),
        last_error,
        notes,
    })
}
