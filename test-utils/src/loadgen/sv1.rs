//! The SV1 load run through a translator, built on the SV1 load mode of
//! [`crate::miner::sv1`]: an idle phase with every miner connected (translator RSS per idle
//! miner), then a share phase at a target rate (the translator validates every SV1 share
//! locally and forwards the few that meet its upstream channel's target to the pool).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::env::{self, ChildProcess, PoolSpawn, TranslatorSpawn};
use super::error::LoadError;
use super::procfs;
use super::report::{Report, ServerUsage};
use super::stats::ShareKind;
use crate::bitcoind::StandIn;
use crate::miner::sv1::{spawn_load, Sv1LoadConfig, MAX_LOAD_CONNECTIONS};
use crate::miner::MinerStats;

/// Which translator the miners connect to.
#[derive(Debug, Clone)]
pub enum TranslatorTarget {
    /// A running translator.
    Attach {
        /// SV1 address, `host:port`.
        addr: String,
        /// Its process id, for RSS and CPU (same machine only).
        pid: Option<u32>,
    },
    /// Start a stand-in here, and `sv2-pool` + `sv2-translator` as child processes.
    Spawn(SpawnTranslator),
}

/// How to start the pool and translator for a self-contained SV1 run.
#[derive(Debug, Clone)]
pub struct SpawnTranslator {
    /// `sv2-pool` binary.
    pub pool_bin: Option<PathBuf>,
    /// `sv2-translator` binary.
    pub translator_bin: Option<PathBuf>,
    /// `taskset -c` CPU list for the pool.
    pub pool_cpus: Option<String>,
    /// `taskset -c` CPU list for the translator.
    pub translator_cpus: Option<String>,
    /// Network `nbits` of the stand-in chain.
    pub nbits: u32,
    /// Fixed SV1 difficulty the translator gives miners.
    pub difficulty: f64,
    /// Keep the work directory (configs, logs).
    pub keep_workdir: bool,
}

impl Default for SpawnTranslator {
    fn default() -> Self {
        SpawnTranslator {
            pool_bin: None,
            translator_bin: None,
            pool_cpus: None,
            translator_cpus: None,
            nbits: env::DEFAULT_SV1_NBITS,
            difficulty: super::run::DEFAULT_SHARE_DIFFICULTY,
            keep_workdir: false,
        }
    }
}

/// Everything an SV1 load run needs; build with [`Sv1LoadOptions::new`].
#[derive(Debug, Clone)]
pub struct Sv1LoadOptions {
    /// The translator.
    pub target: TranslatorTarget,
    /// Miners connected in the idle phase.
    pub connections: usize,
    /// Miners submitting in the share phase (0: the share phase is skipped).
    pub share_connections: usize,
    /// New connections per second.
    pub connect_rate: f64,
    /// Total shares per second in the share phase.
    pub rate: f64,
    /// Share phase length.
    pub duration: Duration,
    /// Wait with every miner connected before measuring.
    pub settle: Duration,
    /// Give up waiting for the miners to connect after this long.
    pub ramp_timeout: Duration,
    /// Worker name prefix (`{user}-{i}`).
    pub user: String,
    /// Most hashes spent per share.
    pub hash_budget: u64,
    /// Print a progress line every second.
    pub progress: bool,
}

impl Sv1LoadOptions {
    /// Defaults: 1 000 miners submitting 20 000 shares/s for 20 s.
    pub fn new(target: TranslatorTarget, connections: usize) -> Self {
        Sv1LoadOptions {
            target,
            connections,
            share_connections: connections.min(1000),
            connect_rate: 2000.0,
            rate: 20_000.0,
            duration: Duration::from_secs(20),
            settle: Duration::from_secs(3),
            ramp_timeout: Duration::from_secs(600),
            user: "load.miner".into(),
            hash_budget: 1 << 16,
            progress: true,
        }
    }

    fn validate(&self) -> Result<(), LoadError> {
        if self.connections == 0 || self.connections > MAX_LOAD_CONNECTIONS {
            return Err(LoadError::Config(format!(
                "connections must be in 1..={MAX_LOAD_CONNECTIONS}"
            )));
        }
        if self.share_connections > MAX_LOAD_CONNECTIONS {
            return Err(LoadError::Config("too many share connections".into()));
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !(positive(self.connect_rate) && self.rate.is_finite() && self.rate >= 0.0) {
            return Err(LoadError::Config(
                "connect rate must be positive and share rate >= 0".into(),
            ));
        }
        if self.duration > super::run::MAX_SHARE_PHASE {
            return Err(LoadError::Config(
                "the share phase lasts at most one hour".into(),
            ));
        }
        Ok(())
    }

    fn load_config(
        &self,
        addr: &str,
        connections: usize,
        rate: f64,
        run: Duration,
    ) -> Sv1LoadConfig {
        let mut c = Sv1LoadConfig::new(addr, &self.user, connections);
        c.numbered_workers = true;
        c.connect_rate = self.connect_rate;
        c.duration = run;
        c.hash_budget = self.hash_budget;
        if rate > 0.0 {
            // Far more hash rate than the cap: every miner submits at exactly the cap.
            c.simulated_hashrate = 1e18;
            c.max_share_rate = rate / connections as f64;
        } else {
            c.simulated_hashrate = 0.0;
            c.max_share_rate = 1.0;
        }
        c
    }
}

struct Env {
    addr: String,
    pid: Option<u32>,
    _standin: Option<std::sync::Arc<StandIn>>,
    translator: Option<ChildProcess>,
    pool: Option<ChildProcess>,
    workdir: Option<(PathBuf, bool)>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.translator = None;
        self.pool = None;
        if let Some((dir, keep)) = &self.workdir {
            if !keep {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

async fn prepare(opts: &Sv1LoadOptions, notes: &mut Vec<String>) -> Result<Env, LoadError> {
    match &opts.target {
        TranslatorTarget::Attach { addr, pid } => Ok(Env {
            addr: addr.clone(),
            pid: *pid,
            _standin: None,
            translator: None,
            pool: None,
            workdir: None,
        }),
        TranslatorTarget::Spawn(s) => {
            let standin = env::start_standin(s.nbits).await?;
            let dir = env::work_dir("translator")?;
            let pool_listen = format!("127.0.0.1:{}", env::free_port()?)
                .parse()
                .map_err(|e| LoadError::Env(format!("listen address: {e}")))?;
            // The translator's single aggregate channel: vardiff keeps its upstream share
            // rate low, so the pool is not what is measured.
            let pool = PoolSpawn {
                bin: env::find_binary("sv2-pool", s.pool_bin.as_deref()),
                cpus: s.pool_cpus.clone(),
                listen: pool_listen,
                difficulty: (1e-12, 1e-6, 1e15),
                ack_batch: 16,
                ack_interval_ms: 100,
                metrics: None,
                node_id: 0,
            };
            let (pool_child, key) = env::spawn_pool(&pool, &standin, &dir).await?;
            let listen = format!("127.0.0.1:{}", env::free_port()?)
                .parse()
                .map_err(|e| LoadError::Env(format!("listen address: {e}")))?;
            let t = TranslatorSpawn {
                bin: env::find_binary("sv2-translator", s.translator_bin.as_deref()),
                cpus: s.translator_cpus.clone(),
                listen,
                difficulty: s.difficulty,
                max_miners: u32::try_from(opts.connections.max(opts.share_connections) + 100)
                    .unwrap_or(u32::MAX),
            };
            let child =
                env::spawn_translator(&t, pool_listen, &sv2_noise::encode_public_key(&key), &dir)
                    .await?;
            if s.keep_workdir {
                notes.push(format!("configs and logs kept in {}", dir.display()));
            }
            Ok(Env {
                addr: listen.to_string(),
                pid: Some(child.pid()),
                _standin: Some(standin),
                translator: Some(child),
                pool: Some(pool_child),
                workdir: Some((dir, s.keep_workdir)),
            })
        }
    }
}

fn progress(start: Instant, phase: &str, s: &MinerStats, prev: &MinerStats, pid: Option<u32>) {
    let dt = (s.elapsed_secs - prev.elapsed_secs).max(1e-3);
    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
    let server = pid
        .and_then(|p| procfs::sample(p).ok())
        .map(|x| format!(" | server RSS {} KiB", x.rss_kib))
        .unwrap_or_default();
    eprintln!(
        "[{:>6.1}s] {phase:<7} open {:>6} failed {:>5} | sent {:>8.0}/s accepted {:>8.0}/s rejected {:>6.0}/s{server}",
        start.elapsed().as_secs_f64(),
        s.open_connections,
        s.connection_failures,
        per(s.shares_submitted, prev.shares_submitted),
        per(s.shares_accepted, prev.shares_accepted),
        per(s.shares_rejected, prev.shares_rejected),
    );
}

/// Runs an SV1 load test through a translator and returns its report (no latency or fan-out
/// figures: the SV1 load mode does not time answers).
pub async fn run_sv1(opts: Sv1LoadOptions) -> Result<Report, LoadError> {
    opts.validate()?;
    let start = Instant::now();
    let self_before = procfs::sample_self().ok();
    let mut notes = vec![
        "SV1 miners connect from one source address (the kernel's choice): at most ~28 000 per run with the default ip_local_port_range".to_owned(),
    ];
    let wanted = opts.connections.max(opts.share_connections) as u64 + 1024;
    match procfs::raise_nofile_limit(wanted) {
        Ok(l) if l < wanted => notes.push(format!(
            "RLIMIT_NOFILE of the load generator is {l} (hard limit), below {wanted}"
        )),
        Ok(_) => {}
        Err(e) => notes.push(format!("cannot raise RLIMIT_NOFILE: {e}")),
    }
    let env = prepare(&opts, &mut notes).await?;
    // Let the translator open its upstream channel and get work.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sample = |pid: Option<u32>| pid.and_then(|p| procfs::sample(p).ok());
    let before = sample(env.pid);

    // Idle phase.
    let ramp_estimate = Duration::from_secs_f64(opts.connections as f64 / opts.connect_rate);
    let idle_run = ramp_estimate + opts.ramp_timeout + opts.settle;
    let idle = spawn_load(opts.load_config(&env.addr, opts.connections, 0.0, idle_run))
        .map_err(|e| LoadError::Config(e.to_string()))?;
    let ramp_start = Instant::now();
    let mut prev = idle.stats();
    let mut last_print = Instant::now();
    let deadline = ramp_start + opts.ramp_timeout;
    loop {
        let s = idle.stats();
        if s.open_connections as usize >= opts.connections || Instant::now() >= deadline {
            break;
        }
        if opts.progress && last_print.elapsed() >= Duration::from_secs(1) {
            progress(start, "ramp", &s, &prev, env.pid);
            prev = s;
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ramp_secs = ramp_start.elapsed().as_secs_f64();
    tokio::time::sleep(opts.settle).await;
    let idle_stats = idle.stats();
    let idle_sample = sample(env.pid);
    if opts.progress {
        progress(start, "idle", &idle_stats, &prev, env.pid);
    }
    let idle_final = idle
        .stop_and_join()
        .await
        .map_err(|e| LoadError::Env(format!("idle miners: {e}")))?;
    // Let the translator notice the disconnections.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Share phase.
    let mut share_secs = 0.0;
    let mut share = MinerStats::default();
    let mut cpu = None;
    if opts.share_connections > 0 && !opts.duration.is_zero() && opts.rate > 0.0 {
        let ramp = Duration::from_secs_f64(opts.share_connections as f64 / opts.connect_rate);
        let run = ramp + opts.duration + Duration::from_secs(2);
        let h = spawn_load(opts.load_config(&env.addr, opts.share_connections, opts.rate, run))
            .map_err(|e| LoadError::Config(e.to_string()))?;
        // Measure from when every miner is connected.
        let wait_until = Instant::now() + opts.ramp_timeout;
        while (h.stats().open_connections as usize) < opts.share_connections
            && Instant::now() < wait_until
            && !h.is_finished()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let first = h.stats();
        let cpu0 = sample(env.pid);
        let t0 = Instant::now();
        let mut prev = first.clone();
        while t0.elapsed() < opts.duration && !h.is_finished() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let s = h.stats();
            if opts.progress {
                progress(start, "share", &s, &prev, env.pid);
            }
            prev = s;
        }
        let last = h.stats();
        share_secs = t0.elapsed().as_secs_f64();
        if let (Some(a), Some(b)) = (cpu0, sample(env.pid)) {
            cpu = Some((a, b));
        }
        h.stop();
        let _ = h.join().await;
        share = MinerStats {
            shares_submitted: last.shares_submitted.saturating_sub(first.shares_submitted),
            shares_accepted: last.shares_accepted.saturating_sub(first.shares_accepted),
            shares_rejected: last.shares_rejected.saturating_sub(first.shares_rejected),
            shares_submitted_below_target: last
                .shares_submitted_below_target
                .saturating_sub(first.shares_submitted_below_target),
            hashes: last.hashes.saturating_sub(first.hashes),
            rejected_by_reason: last.rejected_by_reason.clone(),
            connection_failures: last.connection_failures,
            last_error: last.last_error.clone(),
            ..MinerStats::default()
        };
    }
    let end = sample(env.pid);

    let server = match (env.pid, before, idle_sample) {
        (Some(pid), Some(b), Some(i)) => {
            let (c, cores) = cpu
                .map(|(a, b): (procfs::ProcSample, procfs::ProcSample)| {
                    let c = (b.cpu_secs - a.cpu_secs).max(0.0);
                    (c, c / share_secs.max(1e-3))
                })
                .unwrap_or((0.0, 0.0));
            let answered = share.shares_accepted + share.shares_rejected;
            Some(ServerUsage {
                pid,
                rss_before_kib: b.rss_kib,
                rss_idle_kib: i.rss_kib,
                rss_per_idle_connection_kib: if idle_stats.open_connections > 0 {
                    i.rss_kib.saturating_sub(b.rss_kib) as f64 / idle_stats.open_connections as f64
                } else {
                    0.0
                },
                rss_end_kib: end.map_or(0, |s| s.rss_kib),
                share_phase_cpu_secs: c,
                share_phase_cores: cores,
                cpu_secs_per_1k_shares: (answered > 0 && cpu.is_some())
                    .then(|| c / (answered as f64 / 1000.0)),
            })
        }
        _ => None,
    };
    if share.shares_submitted_below_target > 0 {
        notes.push(format!(
            "{} shares were sent below target (the translator's difficulty is too high for the hash budget)",
            share.shares_submitted_below_target
        ));
    }
    let self_after = procfs::sample_self().ok();
    let per_sec = |v: u64| {
        if share_secs > 0.0 {
            v as f64 / share_secs
        } else {
            0.0
        }
    };
    Ok(Report {
        mode: "sv1".into(),
        target: env.addr.clone(),
        connections_requested: opts.connections,
        connections_opened: idle_final.connections,
        connections_idle: idle_stats.open_connections,
        connect_failures: idle_final.connection_failures,
        disconnects: 0,
        source_addresses: 0,
        ramp_secs,
        rate_requested: opts.rate,
        share_secs,
        sent: [(ShareKind::Valid, share.shares_submitted)]
            .into_iter()
            .collect(),
        sent_total: share.shares_submitted,
        sent_per_sec: per_sec(share.shares_submitted),
        acked: share.shares_accepted,
        acked_per_sec: per_sec(share.shares_accepted),
        rejected: share.shares_rejected,
        unanswered: share
            .shares_submitted
            .saturating_sub(share.shares_accepted + share.shares_rejected),
        rejected_by_reason: share.rejected_by_reason.clone(),
        server,
        loadgen_cpu_secs: match (self_before, self_after) {
            (Some(a), Some(b)) => (b.cpu_secs - a.cpu_secs).max(0.0),
            _ => 0.0,
        },
        loadgen_rss_kib: self_after.map_or(0, |s| s.rss_kib),
        hashes: share.hashes,
        last_error: share.last_error.or(idle_final.last_error),
        notes,
        ..Report::default()
    })
}
