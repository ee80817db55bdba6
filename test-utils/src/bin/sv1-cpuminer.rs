//! Stratum V1 CPU miner (Antminer-like) and many-connection load generator for testing pools.
//!
//! ```text
//! # one hashing connection
//! sv1-cpuminer --pool 127.0.0.1:3333 --user site.worker --threads 2 --duration 60
//! # 5000 connections pretending 100 TH/s each, for 5 minutes
//! sv1-cpuminer --pool 127.0.0.1:3333 --user site.worker --connections 5000 \
//!     --simulated-hashrate 100T --duration 300 --report-json load.json
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use test_utils::miner::sv1::{self, Sv1LoadConfig, Sv1MinerConfig};
use test_utils::miner::util::parse_hashrate;
use test_utils::miner::{MinerError, MinerHandle, MinerStats};

/// `on` / `off` switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

/// A Stratum V1 CPU miner speaking like Antminer firmware, with a load mode that opens many
/// connections submitting shares at a simulated hash rate.
///
/// Load mode (--connections) is for connection-count and memory tests: connections only hash
/// briefly when a share is due, so valid shares need a low difficulty set by the pool.
#[derive(Debug, Parser)]
#[command(name = "sv1-cpuminer", version)]
struct Args {
    /// Pool address (host:port).
    #[arg(long)]
    pool: String,
    /// Worker name for mining.authorize / mining.submit.
    #[arg(long, default_value = "site.worker")]
    user: String,
    /// Password for mining.authorize.
    #[arg(long, default_value = "x")]
    password: String,
    /// User agent sent in mining.subscribe.
    #[arg(long, default_value = "bmminer/2.0.0")]
    user_agent: String,
    /// Negotiate version rolling (mask 1fffe000, min-bit-count 16).
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    version_rolling: OnOff,
    /// Also request the minimum-difficulty extension in mining.configure.
    #[arg(long)]
    minimum_difficulty: Option<f64>,
    /// Send mining.extranonce.subscribe after authorizing.
    #[arg(long)]
    extranonce_subscribe: bool,
    /// Hashing threads (hashing mode).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Nonces per header template = 2^N (hashing mode; smaller values roll extranonce2 sooner).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=32))]
    nonce_bits: u32,
    /// Stop after this many seconds (load mode: default 60).
    #[arg(long)]
    duration: Option<f64>,
    /// Stop after submitting this many shares (hashing mode).
    #[arg(long)]
    max_shares: Option<u64>,
    /// Reconnect N seconds after a connection error instead of exiting (hashing mode).
    #[arg(long)]
    reconnect_delay_secs: Option<f64>,
    /// Load mode: number of connections to open.
    #[arg(long)]
    connections: Option<usize>,
    /// Load mode: hash rate each connection simulates (e.g. 100T).
    #[arg(long, default_value = "1T", value_parser = parse_hashrate)]
    simulated_hashrate: f64,
    /// Load mode: connections opened per second.
    #[arg(long, default_value_t = 500.0)]
    connect_rate: f64,
    /// Load mode: most hashes spent looking for one share.
    #[arg(long, default_value_t = 1 << 16)]
    hash_budget: u64,
    /// Load mode: most shares per second per connection.
    #[arg(long, default_value_t = 10.0)]
    max_share_rate: f64,
    /// Load mode: give each connection its own worker name (USER-INDEX).
    #[arg(long)]
    numbered_workers: bool,
    /// Write the final counters as JSON to this file ("-" for stdout).
    #[arg(long)]
    report_json: Option<PathBuf>,
}

fn seconds(name: &str, v: Option<f64>) -> Result<Option<Duration>, String> {
    v.map(|s| {
        Duration::try_from_secs_f64(s).map_err(|_| format!("--{name}: invalid number of seconds"))
    })
    .transpose()
}

fn start(args: &Args) -> Result<MinerHandle, String> {
    let rolling = args.version_rolling == OnOff::On;
    let duration = seconds("duration", args.duration)?;
    let handle: Result<MinerHandle, MinerError> = match args.connections {
        Some(n) => {
            let mut c = Sv1LoadConfig::new(args.pool.clone(), args.user.clone(), n);
            c.password = args.password.clone();
            c.user_agent = args.user_agent.clone();
            c.version_rolling = rolling;
            c.simulated_hashrate = args.simulated_hashrate;
            c.connect_rate = args.connect_rate;
            c.hash_budget = args.hash_budget;
            c.max_share_rate = args.max_share_rate;
            c.numbered_workers = args.numbered_workers;
            if let Some(d) = duration {
                c.duration = d;
            }
            sv1::spawn_load(c)
        }
        None => {
            let mut c = Sv1MinerConfig::new(args.pool.clone(), args.user.clone());
            c.password = args.password.clone();
            c.user_agent = args.user_agent.clone();
            c.version_rolling = rolling;
            c.minimum_difficulty = args.minimum_difficulty;
            c.extranonce_subscribe = args.extranonce_subscribe;
            c.threads = args.threads;
            c.nonce_bits = args.nonce_bits;
            c.duration = duration;
            c.max_shares = args.max_shares;
            c.reconnect_delay = seconds("reconnect-delay-secs", args.reconnect_delay_secs)?;
            sv1::spawn(c)
        }
    };
    handle.map_err(|e| e.to_string())
}

fn report(stats: &MinerStats, path: Option<&PathBuf>) -> Result<(), String> {
    eprintln!(
        "connections {} (failures {}) submitted {} accepted {} rejected {} below-target {} blocks {} hashes {} in {:.1}s",
        stats.connections,
        stats.connection_failures,
        stats.shares_submitted,
        stats.shares_accepted,
        stats.shares_rejected,
        stats.shares_submitted_below_target,
        stats.blocks_found,
        stats.hashes,
        stats.elapsed_secs
    );
    let Some(path) = path else { return Ok(()) };
    test_utils::bin_io::write_json(path, stats)
}

#[tokio::main]
async fn main() -> ExitCode {
    test_utils::bin_io::init_stderr_logging("info");
    let args = Args::parse();
    let miner = match start(&args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    miner
        .run_to_end(|s| report(s, args.report_json.as_ref()))
        .await
}
