//! The command-line shell of a role: logging, `--config` and `check-config`, loading the
//! config (exit status 2 on errors), the tokio runtime, the Prometheus endpoint and the
//! shutdown signal. [`daemon_main`] strings them together for daemons with no other commands.

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::ConfigError;

/// Exit status of a missing or invalid configuration.
pub const EXIT_CONFIG: u8 = 2;

/// Installs the global tracing subscriber; `RUST_LOG` overrides `default_filter`.
pub fn init_logging(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

/// The `--config` path, or (printed) `error: --config <FILE> is required (see <example>)`
/// and exit status 2.
pub fn require_config(path: Option<PathBuf>, example: &str) -> Result<PathBuf, ExitCode> {
    path.ok_or_else(|| {
        eprintln!("error: --config <FILE> is required (see {example})");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Loads the config with `load`; on error prints `<prefix><path>: <error>` and gives exit
/// status 2.
pub fn load_config<C>(
    path: &Path,
    prefix: &str,
    load: impl FnOnce(&Path) -> Result<C, ConfigError>,
) -> Result<C, ExitCode> {
    load(path).map_err(|e| {
        eprintln!("{prefix}{}: {e}", path.display());
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Runs `fut` on a multi-threaded tokio runtime; when the runtime cannot start, prints
/// `<prefix>cannot start the runtime: <error>` and fails.
pub fn block_on(prefix: &str, fut: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => {
            eprintln!("{prefix}cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Errors starting the metrics endpoint.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the Prometheus endpoint on {addr}: {detail}")]
pub struct MetricsError {
    /// Address that was requested.
    pub addr: String,
    /// What failed.
    pub detail: String,
}

/// Installs the global Prometheus recorder with its own HTTP listener serving `/metrics` at
/// `addr`; with `idle_gauges`, gauges not updated for that long leave the output. Must be
/// called inside a tokio runtime.
pub fn install_prometheus(
    addr: SocketAddr,
    idle_gauges: Option<Duration>,
) -> Result<(), MetricsError> {
    use metrics_exporter_prometheus::PrometheusBuilder;
    use metrics_util::MetricKindMask;
    let mut builder = PrometheusBuilder::new().with_http_listener(addr);
    if let Some(idle) = idle_gauges {
        builder = builder.idle_timeout(MetricKindMask::GAUGE, Some(idle));
    }
    builder.install().map_err(|e| MetricsError {
        addr: addr.to_string(),
        detail: e.to_string(),
    })
}

/// Waits for Ctrl-C or (on Unix) SIGTERM, the signals that stop a daemon.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Command line of a daemon: `--config <FILE>` and `run` (the default) or `check-config`.
#[derive(Debug, Parser)]
pub struct DaemonCli {
    /// Config file (TOML).
    #[arg(long, short, global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<DaemonCommand>,
}

/// Subcommands of [`DaemonCli`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum DaemonCommand {
    /// Run (the default).
    Run,
    /// Validate the config file and exit.
    CheckConfig,
}

/// A daemon's identity and config, for [`daemon_main`].
pub struct Daemon<C> {
    /// Binary name, e.g. `sv2-jd-server`.
    pub name: &'static str,
    /// `--help` summary.
    pub about: &'static str,
    /// Example config, e.g. `deploy/jd-server.example.toml`.
    pub example: &'static str,
    /// Reads, parses and validates the config file.
    pub load: fn(&Path) -> Result<C, ConfigError>,
    /// The config's `metrics.listen` (empty: no endpoint).
    pub metrics_listen: fn(&C) -> &str,
}

impl<C> Daemon<C> {
    /// Parses the process arguments (exits on `--help`, `--version` and usage errors).
    pub fn parse_args(&self) -> DaemonCli {
        let cmd = DaemonCli::command()
            .name(self.name)
            .bin_name(self.name)
            .version(env!("CARGO_PKG_VERSION"))
            .about(self.about)
            .mut_arg("config", |a| {
                a.help(format!("Config file (TOML); see {}.", self.example))
            });
        let matches = cmd.get_matches();
        DaemonCli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// The whole `main` of a daemon: parses arguments, logs at `info` (or `RUST_LOG`), loads the
/// config (exit 2 with the error naming the key), answers `check-config`, serves
/// `/metrics`, starts the role with `start` and runs until Ctrl-C or SIGTERM, then drops
/// the handle (which stops the role). Start failures print `error: ...` and exit 1.
pub fn daemon_main<C, H, E, F>(daemon: &Daemon<C>, start: impl FnOnce(C) -> F) -> ExitCode
where
    E: Display,
    F: Future<Output = Result<H, E>>,
{
    let cli = daemon.parse_args();
    init_logging("info");
    let path = match require_config(cli.config, daemon.example) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let cfg = match load_config(&path, "error: ", daemon.load) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if cli.command == Some(DaemonCommand::CheckConfig) {
        println!("{}: ok", path.display());
        return ExitCode::SUCCESS;
    }
    block_on("error: ", async move {
        let listen = (daemon.metrics_listen)(&cfg);
        if !listen.is_empty() {
            let Ok(addr) = listen.parse::<SocketAddr>() else {
                return ExitCode::from(EXIT_CONFIG);
            };
            if let Err(e) = install_prometheus(addr, None) {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
        let handle = match start(cfg).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        shutdown_signal().await;
        tracing::info!("shutting down");
        drop(handle);
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_cli_shape() {
        DaemonCli::command().debug_assert();
        let cli = DaemonCli::try_parse_from(["x", "check-config", "--config", "a.toml"]).unwrap();
        assert_eq!(cli.command, Some(DaemonCommand::CheckConfig));
        assert_eq!(cli.config, Some(PathBuf::from("a.toml")));
        let cli = DaemonCli::try_parse_from(["x"]).unwrap();
        assert_eq!(cli.command, None);
        assert!(require_config(None, "x").is_err());
    }
}
