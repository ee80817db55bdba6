//! `sv2-jd-client` command line: run the job declarator client or check its config.

use std::process::ExitCode;

use jd_client::JdcConfig;
use role_kit::cli::{daemon_main, Daemon};

fn main() -> ExitCode {
    let daemon = Daemon {
        name: "sv2-jd-client",
        about: "Stratum V2 job declarator client: mine on your own node's templates, declared to your pool, with fallback to other pools or solo mining",
        example: "deploy/jd-client.example.toml",
        load: JdcConfig::load,
        metrics_listen: |cfg: &JdcConfig| cfg.metrics.listen.as_str(),
    };
    daemon_main(&daemon, jd_client::start_jdc)
}
