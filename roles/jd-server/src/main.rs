//! `sv2-jd-server` command line: run the job declarator server or check its config.

use std::process::ExitCode;

use jd_server::JdsConfig;
use role_kit::cli::{daemon_main, Daemon};

fn main() -> ExitCode {
    let daemon = Daemon {
        name: "sv2-jd-server",
        about: "Stratum V2 job declarator server: checks templates miners declare against the pool's coinbase policy and this server's bitcoind, issues tokens the pool accepts, propagates found blocks",
        example: "deploy/jd-server.example.toml",
        load: JdsConfig::load,
        metrics_listen: |cfg: &JdsConfig| cfg.metrics.listen.as_str(),
    };
    daemon_main(&daemon, jd_server::start_jds)
}
