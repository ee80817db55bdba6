//! `sv2-jd-client` command line: run the job declarator client or check its config.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use jd_client::JdcConfig;

#[derive(Parser)]
#[command(
    name = "sv2-jd-client",
    version,
    about = "Stratum V2 job declarator client: mine on your own node's templates, declared to your pool, with fallback to other pools or solo mining"
)]
struct Cli {
    /// Config file (TOML); see deploy/jd-client.example.toml.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the client (the default).
    Run,
    /// Validate the config file and exit.
    CheckConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    pool::telemetry::init_logging("info");
    let Some(path) = cli.config else {
        eprintln!("error: --config <FILE> is required (see deploy/jd-client.example.toml)");
        return ExitCode::from(2);
    };
    let cfg = match JdcConfig::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    if matches!(cli.command, Some(Command::CheckConfig)) {
        println!("{}: ok", path.display());
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        if !cfg.metrics.listen.is_empty() {
            let Ok(addr) = cfg.metrics.listen.parse::<std::net::SocketAddr>() else {
                return ExitCode::from(2);
            };
            if let Err(e) = metrics_exporter_prometheus::PrometheusBuilder::new()
                .with_http_listener(addr)
                .install()
            {
                eprintln!("error: cannot start the Prometheus endpoint on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        }
        let handle = match jd_client::start_jdc(cfg).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        handle.shutdown();
        ExitCode::SUCCESS
    })
}
