//! `sv2-loadgen`: load generator for `sv2-pool` (SV2 over Noise) and `sv2-translator` (SV1).
//!
//! ```text
//! # self-contained: stand-in here, the pool pinned to CPU 0, this process on CPU 1
//! taskset -c 1 sv2-loadgen sv2 --pool-cpus 0 --connections 100 --rate 200000 --duration 20
//! # against a running pool
//! sv2-loadgen sv2 --pool 127.0.0.1:34254 --authority-key 9auq... --pool-pid 4242 --connections 1000
//! # SV1 miners through a translator started here
//! sv2-loadgen sv1 --connections 19000 --share-connections 1000 --rate 100000
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use test_utils::loadgen::run::DEFAULT_SHARE_DIFFICULTY;
use test_utils::loadgen::{
    env, run_sv1, run_sv2, LoadError, PoolTarget, Report, ShareMix, SpawnPool, SpawnTranslator,
    Sv1LoadOptions, Sv2LoadOptions, TranslatorTarget,
};
use test_utils::miner::sv2::ChannelMode;

/// Load generator for sv2-pool and sv2-translator: many connections, shares at a target rate,
/// latency, new-block fan-out, server RSS and CPU. Every run is bounded and ends by itself.
#[derive(Debug, Parser)]
#[command(name = "sv2-loadgen", version)]
struct Cli {
    /// Tokio worker threads (default: the CPUs this process may run on).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// SV2 connections to a pool (started here unless --pool is given).
    Sv2(Box<Sv2Args>),
    /// SV1 miners through a translator (pool + translator started here unless --translator is given).
    Sv1(Box<Sv1Args>),
    /// Print the pool settings a load test against your own pool needs.
    PoolConfig,
    /// Condense JSON reports of earlier runs into the table of performance targets.
    Summary {
        /// Report files written with --json (`name=path` names the run, else the file stem).
        #[arg(required = true)]
        reports: Vec<String>,
        /// Markdown table (for a README).
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Debug, Args)]
struct Output {
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct Sv2Args {
    /// Pool SV2 address of a running pool (default: start a stand-in and sv2-pool here).
    #[arg(long, requires = "authority_key")]
    pool: Option<SocketAddr>,
    /// The running pool's authority public key (base58check).
    #[arg(long)]
    authority_key: Option<String>,
    /// The running pool's process id (RSS and CPU from /proc).
    #[arg(long)]
    pool_pid: Option<u32>,
    /// The running pool's /metrics address (host:port), scraped every second.
    #[arg(long)]
    pool_metrics: Option<SocketAddr>,

    /// sv2-pool binary to start (default: next to this binary, else PATH).
    #[arg(long)]
    pool_bin: Option<PathBuf>,
    /// Pin the started pool with `taskset -c LIST`.
    #[arg(long)]
    pool_cpus: Option<String>,
    /// Network nbits (hex) of the stand-in chain.
    #[arg(long, default_value = "1f00ffff", value_parser = parse_hex_u32)]
    nbits: u32,
    /// Fixed share difficulty of the started pool.
    #[arg(long, default_value_t = DEFAULT_SHARE_DIFFICULTY)]
    difficulty: f64,
    /// share_ack_batch of the started pool.
    #[arg(long, default_value_t = 16)]
    ack_batch: u32,
    /// share_ack_interval_ms of the started pool.
    #[arg(long, default_value_t = 100)]
    ack_interval_ms: u64,
    /// Enable the started pool's /metrics and scrape it every second.
    #[arg(long)]
    scrape_metrics: bool,
    /// Keep the started pool's config and log.
    #[arg(long)]
    keep_workdir: bool,

    /// Connections (one channel each).
    #[arg(long, short = 'n', default_value_t = 100)]
    connections: usize,
    /// Channel type.
    #[arg(long, value_enum, default_value_t = ChannelMode::Standard)]
    mode: ChannelMode,
    /// Total shares per second in the share phase (0: as fast as the window allows).
    #[arg(long, default_value_t = 10_000.0)]
    rate: f64,
    /// Share phase, seconds (0: connections and fan-out only).
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// End the share phase after this many shares.
    #[arg(long)]
    max_shares: Option<u64>,
    /// Fraction of bad-nonce shares.
    #[arg(long, default_value_t = 0.01)]
    invalid: f64,
    /// Fraction of stale shares (old job after a new block).
    #[arg(long, default_value_t = 0.01)]
    stale: f64,
    /// Fraction of duplicate shares.
    #[arg(long, default_value_t = 0.01)]
    duplicate: f64,
    /// Unanswered shares allowed per connection.
    #[arg(long, default_value_t = 1024)]
    window: usize,
    /// Hashes spent at most looking for one share.
    #[arg(long, default_value_t = 1 << 16)]
    hash_budget: u64,
    /// New connections per second.
    #[arg(long, default_value_t = 2000.0)]
    connect_rate: f64,
    /// Connection setups in flight at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// Connections per loopback source address (127.0.0.1, .2, ...).
    #[arg(long, default_value_t = test_utils::loadgen::addrs::DEFAULT_PER_SOURCE)]
    per_source: usize,
    /// Explicit source address (repeat for several).
    #[arg(long = "source")]
    sources: Vec<IpAddr>,
    /// Seconds to wait with every connection idle before measuring RSS.
    #[arg(long, default_value_t = 3)]
    settle: u64,
    /// Blocks mined while idle to time the new-block fan-out (stand-in runs only).
    #[arg(long, default_value_t = 3)]
    idle_blocks: u32,
    /// Seconds between blocks during the share phase (0: none; stand-in runs only).
    #[arg(long, default_value_t = 5.0)]
    block_interval: f64,
    /// Seconds to wait for answers after the share phase.
    #[arg(long, default_value_t = 5)]
    drain: u64,
    /// Give up opening connections after this many seconds.
    #[arg(long, default_value_t = 600)]
    ramp_timeout: u64,
    /// Criterion estimates.json of `share_validation/c_standard_cache_hit` (ratio in the report).
    #[arg(long)]
    validation_estimates: Option<PathBuf>,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Args)]
struct Sv1Args {
    /// SV1 address of a running translator (default: start stand-in, pool and translator here).
    #[arg(long)]
    translator: Option<String>,
    /// The running translator's process id.
    #[arg(long)]
    translator_pid: Option<u32>,
    /// sv2-pool binary to start.
    #[arg(long)]
    pool_bin: Option<PathBuf>,
    /// sv2-translator binary to start.
    #[arg(long)]
    translator_bin: Option<PathBuf>,
    /// Pin the started pool with `taskset -c LIST`.
    #[arg(long)]
    pool_cpus: Option<String>,
    /// Pin the started translator with `taskset -c LIST`.
    #[arg(long)]
    translator_cpus: Option<String>,
    /// Network nbits (hex) of the stand-in chain.
    #[arg(long, default_value = "1d00ffff", value_parser = parse_hex_u32)]
    nbits: u32,
    /// Fixed SV1 difficulty the started translator gives its miners.
    #[arg(long, default_value_t = DEFAULT_SHARE_DIFFICULTY)]
    difficulty: f64,
    /// Keep the started processes' configs and logs.
    #[arg(long)]
    keep_workdir: bool,
    /// Miners connected in the idle phase.
    #[arg(long, short = 'n', default_value_t = 1000)]
    connections: usize,
    /// Miners submitting in the share phase (default: min(connections, 1000)).
    #[arg(long)]
    share_connections: Option<usize>,
    /// Total shares per second in the share phase (0: no share phase).
    #[arg(long, default_value_t = 20_000.0)]
    rate: f64,
    /// Share phase, seconds.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// New connections per second.
    #[arg(long, default_value_t = 2000.0)]
    connect_rate: f64,
    /// Seconds to wait with every miner idle before measuring RSS.
    #[arg(long, default_value_t = 3)]
    settle: u64,
    /// Give up waiting for the miners to connect after this many seconds.
    #[arg(long, default_value_t = 600)]
    ramp_timeout: u64,
    /// Hashes spent at most looking for one share.
    #[arg(long, default_value_t = 1 << 16)]
    hash_budget: u64,
    #[command(flatten)]
    output: Output,
}

fn parse_hex_u32(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("not hex: {e}"))
}

fn secs(v: f64, what: &str) -> Result<Duration, LoadError> {
    Duration::try_from_secs_f64(v).map_err(|_| LoadError::Config(format!("bad {what}: {v}")))
}

/// Mean time of one share from a criterion `estimates.json`, ns.
fn bench_mean_ns(path: &std::path::Path) -> Result<f64, LoadError> {
    let text = std::fs::read_to_string(path)?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| LoadError::Config(format!("{}: {e}", path.display())))?;
    v.get("mean")
        .and_then(|m| m.get("point_estimate"))
        .and_then(|p| p.as_f64())
        .ok_or_else(|| LoadError::Config(format!("{}: no mean.point_estimate", path.display())))
}

fn sv2_options(a: &Sv2Args) -> Result<Sv2LoadOptions, LoadError> {
    let target = match (a.pool, &a.authority_key) {
        (Some(addr), Some(key)) => PoolTarget::Attach {
            addr,
            authority: sv2_noise::decode_public_key(key)
                .map_err(|e| LoadError::Config(format!("--authority-key: {e}")))?,
            pid: a.pool_pid,
            metrics: a.pool_metrics,
        },
        (Some(_), None) => return Err(LoadError::Config("--pool needs --authority-key".into())),
        (None, _) => PoolTarget::Spawn(SpawnPool {
            bin: a.pool_bin.clone(),
            cpus: a.pool_cpus.clone(),
            nbits: a.nbits,
            difficulty: a.difficulty,
            ack_batch: a.ack_batch,
            ack_interval_ms: a.ack_interval_ms,
            metrics: a.scrape_metrics,
            keep_workdir: a.keep_workdir,
        }),
    };
    let mut o = Sv2LoadOptions::new(target, a.connections);
    o.mode = a.mode;
    o.rate = a.rate;
    o.duration = Duration::from_secs(a.duration);
    o.max_shares = a.max_shares;
    o.mix = ShareMix {
        invalid: a.invalid,
        stale: a.stale,
        duplicate: a.duplicate,
    };
    o.window = a.window;
    o.hash_budget = a.hash_budget;
    o.connect_rate = a.connect_rate;
    o.connect_concurrency = a.connect_concurrency;
    o.per_source = a.per_source;
    o.sources = (!a.sources.is_empty()).then(|| a.sources.clone());
    o.settle = Duration::from_secs(a.settle);
    o.idle_blocks = a.idle_blocks;
    o.block_interval = if a.block_interval > 0.0 {
        Some(secs(a.block_interval, "--block-interval")?)
    } else {
        None
    };
    o.drain = Duration::from_secs(a.drain);
    o.ramp_timeout = Duration::from_secs(a.ramp_timeout);
    o.progress = !a.output.quiet;
    o.validation_bench_ns = match &a.validation_estimates {
        Some(p) => Some(bench_mean_ns(p)?),
        None => None,
    };
    Ok(o)
}

fn sv1_options(a: &Sv1Args) -> Sv1LoadOptions {
    let target = match &a.translator {
        Some(addr) => TranslatorTarget::Attach {
            addr: addr.clone(),
            pid: a.translator_pid,
        },
        None => TranslatorTarget::Spawn(SpawnTranslator {
            pool_bin: a.pool_bin.clone(),
            translator_bin: a.translator_bin.clone(),
            pool_cpus: a.pool_cpus.clone(),
            translator_cpus: a.translator_cpus.clone(),
            nbits: a.nbits,
            difficulty: a.difficulty,
            keep_workdir: a.keep_workdir,
        }),
    };
    let mut o = Sv1LoadOptions::new(target, a.connections);
    o.share_connections = a.share_connections.unwrap_or(a.connections.min(1000));
    o.rate = a.rate;
    o.duration = Duration::from_secs(a.duration);
    o.connect_rate = a.connect_rate;
    o.settle = Duration::from_secs(a.settle);
    o.ramp_timeout = Duration::from_secs(a.ramp_timeout);
    o.hash_budget = a.hash_budget;
    o.progress = !a.output.quiet;
    o
}

fn finish(report: Report, output: &Output) -> Result<(), LoadError> {
    println!("{}", report.table());
    if let Some(path) = &output.json {
        test_utils::bin_io::write_json(path, &report).map_err(LoadError::Config)?;
        eprintln!("report written to {}", path.display());
    }
    Ok(())
}

fn summary(files: &[String], markdown: bool) -> Result<(), LoadError> {
    let mut reports = Vec::new();
    for f in files {
        let (name, path) = match f.split_once('=') {
            Some((n, p)) => (n.to_owned(), PathBuf::from(p)),
            None => {
                let p = PathBuf::from(f);
                let stem = p
                    .file_stem()
                    .map_or_else(|| f.clone(), |s| s.to_string_lossy().into_owned());
                (stem, p)
            }
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| LoadError::Config(format!("{}: {e}", path.display())))?;
        let report: Report = serde_json::from_str(&text)
            .map_err(|e| LoadError::Config(format!("{}: {e}", path.display())))?;
        reports.push((name, report));
    }
    let rows = test_utils::loadgen::summary::targets(&reports);
    print!("{}", test_utils::loadgen::summary::render(&rows, markdown));
    Ok(())
}

fn pool_config_snippet() -> String {
    format!(
        r#"# Pool settings for an sv2-loadgen run against your own sv2-pool (regtest or a
# stand-in only: these difficulties make every few hashes a share).
[mining]
# Fixed tiny difficulty: target ~0.75 * 2^256, three hashes in four are shares.
min_difficulty = {d:e}
initial_difficulty = {d:e}
max_difficulty = {d:e}
share_ack_batch = 16
share_ack_interval_ms = 100

[limits]
max_connections_per_ip = 1000000
max_connections = 1000000
# The load generator sends invalid, stale and duplicate shares on purpose.
max_invalid_shares_per_minute = 4000000000

# And give the pool enough file descriptors: `ulimit -n 1048576` (or LimitNOFILE=1048576).
# On a regtest node (nbits 207fffff) half of all hashes are blocks: sv2-loadgen skips
# them, but prefer `sv2-loadgen sv2` without --pool, which starts a stand-in whose chain
# uses nbits {nbits:08x}.
"#,
        d = DEFAULT_SHARE_DIFFICULTY,
        nbits = env::DEFAULT_SV2_NBITS,
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    test_utils::bin_io::init_stderr_logging("warn");
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(t) = cli.threads {
        rt.worker_threads(t.max(1));
    }
    let rt = match rt.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match &cli.command {
            Command::Sv2(a) => {
                let report = run_sv2(sv2_options(a)?).await?;
                finish(report, &a.output)
            }
            Command::Sv1(a) => {
                let report = run_sv1(sv1_options(a)).await?;
                finish(report, &a.output)
            }
            Command::PoolConfig => {
                print!("{}", pool_config_snippet());
                Ok(())
            }
            Command::Summary { reports, markdown } => summary(reports, *markdown),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ LoadError::Config(_)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
