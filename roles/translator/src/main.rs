//! `sv2-translator`: SV1 miners in, SV2 pools out.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use role_kit::cli as shell;
use translator::{telemetry, TranslatorConfig};

/// Stratum V1 to Stratum V2 translator for a site's ASIC fleet.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Configuration file (see deploy/translator.example.toml).
    #[arg(short, long, default_value = "translator.toml")]
    config: PathBuf,
    /// Validate the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Log filter when RUST_LOG is not set.
    #[arg(long, default_value = "info")]
    log: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    shell::init_logging(&args.log);
    let settings = match shell::load_config(&args.config, "", |path| {
        TranslatorConfig::load(path).and_then(|c| c.validate())
    }) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if args.check {
        println!(
            "{}: ok (site {}, {} upstream(s), {:?} mode)",
            args.config.display(),
            settings.site,
            settings.upstreams.len(),
            settings.mode
        );
        return ExitCode::SUCCESS;
    }
    shell::block_on("", async move {
        if let Some(addr) = settings.metrics_listen {
            if let Err(e) = telemetry::init_metrics(addr) {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
        let handle = match translator::start_translator(settings).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        shell::shutdown_signal().await;
        tracing::info!("shutting down: sending client.reconnect to miners");
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
}
