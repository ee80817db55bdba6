//! Stratum V2 CPU miner for testing pools.
//!
//! ```text
//! sv2-cpuminer --pool 127.0.0.1:34254 \
//!     --authority-key 9auqWEzQDVyd2oe1JVGFLMLHZtCo2FFqZwtKA5gd9xbuEu7PH72 \
//!     --user site.worker --mode extended --threads 2 --duration 60 --report-json report.json
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use test_utils::miner::sv2::{self, ChannelMode, Sv2MinerConfig};
use test_utils::miner::util::parse_hashrate;
use test_utils::miner::MinerStats;

/// `on` / `off` switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

/// A Stratum V2 CPU miner: Noise transport, standard or extended channels, real hashing.
#[derive(Debug, Parser)]
#[command(name = "sv2-cpuminer", version)]
struct Args {
    /// Pool address (host:port).
    #[arg(long)]
    pool: String,
    /// The pool's authority public key (base58check, as in SRI configs).
    #[arg(long)]
    authority_key: String,
    /// Channel user identity.
    #[arg(long, default_value = "site.worker")]
    user: String,
    /// Channel type.
    #[arg(long, value_enum, default_value_t = ChannelMode::Standard)]
    mode: ChannelMode,
    /// Channels to open on the connection.
    #[arg(long, default_value_t = 1)]
    channels: usize,
    /// Hashing threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Roll BIP320 version bits.
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    version_rolling: OnOff,
    /// Nominal hash rate announced when opening channels (e.g. 5M, 1.2G).
    #[arg(long, default_value = "1M", value_parser = parse_hashrate)]
    nominal_hashrate: f64,
    /// min_extranonce_size for extended channels.
    #[arg(long, default_value_t = 4)]
    min_extranonce_size: u16,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Stop after submitting this many shares.
    #[arg(long)]
    max_shares: Option<u64>,
    /// Nonces per header template = 2^N (smaller values roll extranonce/version/ntime sooner).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=32))]
    nonce_bits: u32,
    /// Send UpdateChannel with the measured hash rate every N seconds.
    #[arg(long)]
    update_channel_secs: Option<f64>,
    /// Reconnect N seconds after a connection error instead of exiting.
    #[arg(long)]
    reconnect_delay_secs: Option<f64>,
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

fn config(args: &Args) -> Result<Sv2MinerConfig, String> {
    let key = sv2_noise::decode_public_key(&args.authority_key)
        .map_err(|e| format!("--authority-key: {e}"))?;
    let mut c = Sv2MinerConfig::new(args.pool.clone(), key, args.user.clone());
    c.mode = args.mode;
    c.channels = args.channels;
    c.threads = args.threads;
    c.version_rolling = args.version_rolling == OnOff::On;
    c.nominal_hash_rate = args.nominal_hashrate as f32;
    c.min_extranonce_size = args.min_extranonce_size;
    c.duration = seconds("duration", args.duration)?;
    c.max_shares = args.max_shares;
    c.nonce_bits = args.nonce_bits;
    c.update_channel_interval = seconds("update-channel-secs", args.update_channel_secs)?;
    c.reconnect_delay = seconds("reconnect-delay-secs", args.reconnect_delay_secs)?;
    Ok(c)
}

fn report(stats: &MinerStats, path: Option<&PathBuf>) -> Result<(), String> {
    eprintln!(
        "submitted {} accepted {} rejected {} stale {} blocks {} hashes {} ({:.0} h/s) in {:.1}s",
        stats.shares_submitted,
        stats.shares_accepted,
        stats.shares_rejected,
        stats.shares_stale_dropped,
        stats.blocks_found,
        stats.hashes,
        stats.hashrate(),
        stats.elapsed_secs
    );
    let Some(path) = path else { return Ok(()) };
    test_utils::bin_io::write_json(path, stats)
}

#[tokio::main]
async fn main() -> ExitCode {
    test_utils::bin_io::init_stderr_logging("info");
    let args = Args::parse();
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let miner = match sv2::spawn(config) {
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
