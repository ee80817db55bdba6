//! SRI's translator (`translator_sv2` 0.6.0, installed by `.ci/run`) in front of a pool, for
//! the interoperability and side-by-side tests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::proc::{find_binary, free_port, wait_for_port, Process};

/// A running SRI translator; killed when dropped.
pub struct SriTranslator {
    /// Where SV1 miners connect.
    pub addr: SocketAddr,
    process: Process,
}

impl SriTranslator {
    /// Stops the translator.
    pub async fn stop(self) {
        self.process.kill().await;
    }
}

/// `translator_sv2` (or `$SRI_TRANSLATOR_BIN`). `None` (with a SKIPPED line on stderr) when it
/// is not installed outside CI; in CI (`$CI` set) a missing binary fails the test.
pub fn binary() -> Option<PathBuf> {
    let bin = find_binary("SRI_TRANSLATOR_BIN", "translator_sv2");
    if bin.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("translator_sv2 not installed: .ci/run must `cargo install translator_sv2 --version 0.6.0`");
        }
        eprintln!("SKIPPED: translator_sv2 (SRI) not installed; run `cargo install --locked --no-default-features translator_sv2 --version 0.6.0`");
    }
    bin
}

/// SRI translator config: SV1 on `127.0.0.1:port`, one aggregated upstream channel to the
/// pool at `pool_port` (authority key `authority_pubkey`) as `user_identity`, fixed
/// difficulty.
pub fn config(port: u16, pool_port: u16, authority_pubkey: &str, user_identity: &str) -> String {
    format!(
        r#"
downstream_address = "127.0.0.1"
downstream_port = {port}
max_supported_version = 2
min_supported_version = 2
downstream_extranonce2_size = 4
verify_payout = false
aggregate_channels = true
supported_extensions = []

[downstream_difficulty_config]
min_individual_miner_hashrate = 100_000.0
shares_per_minute = 60.0
enable_vardiff = false
job_keepalive_interval_secs = 60

[[upstreams]]
address = "127.0.0.1"
port = {pool_port}
authority_pubkey = "{authority_pubkey}"
user_identity = "{user_identity}"
"#
    )
}

/// Starts `bin` in front of the pool at `pool` (see [`config`]) in a temporary directory
/// named after `tag` and waits until it listens for SV1 miners; panics if it does not.
pub async fn start(
    bin: &std::path::Path,
    tag: &str,
    pool: SocketAddr,
    authority_pubkey: &str,
    user_identity: &str,
) -> SriTranslator {
    let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = free_port();
    let cfg_path = dir.join("tproxy.toml");
    let text = config(port, pool.port(), authority_pubkey, user_identity);
    std::fs::write(&cfg_path, text).expect("write config");
    let args = [std::ffi::OsStr::new("-c"), cfg_path.as_os_str()];
    let process = Process::spawn(bin, args, &dir).expect("start translator_sv2");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(
        wait_for_port(addr, Duration::from_secs(10)).await,
        "translator_sv2 did not start listening"
    );
    SriTranslator { addr, process }
}
