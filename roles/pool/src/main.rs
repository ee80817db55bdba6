//! `sv2-pool` command line: run the pool, check a config, or run the loopback demo.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use pool::accounting::{LogSink, WorkSink};
use pool::config::PoolConfig;
use role_kit::cli as shell;

#[derive(Parser)]
#[command(
    name = "sv2-pool",
    version,
    about = "Stratum V2 mining pool: templates from your bitcoind, jobs to SV2 miners over Noise, every share validated, blocks submitted"
)]
struct Cli {
    /// Config file (TOML); see deploy/pool.example.toml.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pool (the default when no subcommand is given).
    Run,
    /// Validate the config file and exit.
    CheckConfig,
    /// Treasury reports from the ledger of `[treasury]`: balances, blocks, BTC mined, uptime, hashrate.
    Treasury(pool::treasury::cli::TreasuryArgs),
    /// Run pool + bitcoind stand-in + CPU miners on loopback, printing what happens.
    Demo {
        /// SV2 port of the demo pool.
        #[arg(long, default_value_t = 34254)]
        port: u16,
        /// Prometheus listen address ("" disables).
        #[arg(long, default_value = "127.0.0.1:9184")]
        metrics: String,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        seconds: Option<u64>,
        /// Hashing threads per CPU miner.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Demo {
        port,
        metrics,
        seconds,
        threads,
    }) = &cli.command
    {
        shell::init_logging("warn");
        let opts = pool::demo::DemoOptions {
            port: *port,
            metrics: metrics.clone(),
            duration: seconds.map(std::time::Duration::from_secs),
            threads: *threads,
        };
        return shell::block_on("error: ", async move {
            match pool::demo::run(opts).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        });
    }
    shell::init_logging("info");
    let path = match shell::require_config(cli.config.clone(), "deploy/pool.example.toml") {
        Ok(p) => p,
        Err(code) => return code,
    };
    let cfg = match shell::load_config(&path, "error: ", PoolConfig::load) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig => {
            println!("{}: ok", path.display());
            ExitCode::SUCCESS
        }
        Command::Run => shell::block_on("error: ", run(cfg)),
        Command::Treasury(args) => match pool::treasury::cli::run(&cfg, &args) {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Demo { .. } => ExitCode::SUCCESS,
    }
}

/// Runs the pool (with the treasury ledger, tracker and dashboard when configured) until
/// Ctrl-C or SIGTERM.
async fn run(cfg: PoolConfig) -> ExitCode {
    // The treasury ledger (when configured) is the work sink.
    let ledger = match pool::treasury::open_ledger(&cfg) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: treasury ledger: {e}");
            return ExitCode::FAILURE;
        }
    };
    let readiness = pool::dashboard::Readiness::default();
    if !cfg.metrics.listen.is_empty() {
        let Ok(addr) = cfg.metrics.listen.parse() else {
            return ExitCode::from(shell::EXIT_CONFIG);
        };
        match pool::telemetry::init_http(
            addr,
            ledger.clone(),
            cfg.dashboard.clone(),
            readiness.clone(),
        ) {
            Ok(local) => {
                tracing::info!(%local, dashboard = ledger.is_some(), "HTTP: /metrics, /health and the treasury dashboard")
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let sink: Arc<dyn WorkSink> = match &ledger {
        Some(l) => l.clone(),
        None => Arc::new(LogSink),
    };
    let treasury_cfg = cfg.clone();
    let handle = match pool::start_pool(cfg, sink).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    readiness.attach(handle.node_state.clone());
    let _tracker = match &ledger {
        Some(l) => match pool::treasury::start_tracker(&treasury_cfg, l.clone()).await {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: treasury tracker: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    shell::shutdown_signal().await;
    tracing::info!("shutting down");
    handle.shutdown();
    ExitCode::SUCCESS
}
