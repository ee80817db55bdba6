//! SRI's roles as independent peers for the interoperability tests, installed by `.ci/run`:
//! the translator (`translator_sv2` 0.6.0) in front of a pool, and the pool (`pool_sv2` 0.7.0)
//! taking templates from a Template Provider.

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
    required_binary(
        "SRI_TRANSLATOR_BIN",
        "translator_sv2",
        "cargo install --locked --no-default-features translator_sv2 --version 0.6.0",
    )
}

/// `pool_sv2` (or `$SRI_POOL_BIN`), as [`binary`] finds the translator.
pub fn pool_binary() -> Option<PathBuf> {
    required_binary(
        "SRI_POOL_BIN",
        "pool_sv2",
        "apt-get install capnproto && cargo install --locked pool_sv2 --version 0.7.0",
    )
}

fn required_binary(env: &str, name: &str, install: &str) -> Option<PathBuf> {
    let bin = find_binary(env, name);
    if bin.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("{name} not installed: .ci/run must `{install}`");
        }
        eprintln!("SKIPPED: {name} (SRI) not installed; run `{install}`");
    }
    bin
}

/// A running SRI role (pool or job declarator client); killed when dropped.
pub struct SriRole {
    /// Where SV2 clients (miners) connect.
    pub addr: SocketAddr,
    /// Its log file.
    pub log: PathBuf,
    process: Process,
}

impl SriRole {
    /// Stops the process.
    pub async fn stop(self) {
        self.process.kill().await;
    }

    /// The last `lines` lines of its log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// SRI pool config: listens on `127.0.0.1:port` with the authority key pair
/// (`authority_public`, `authority_secret`, base58check), pays `reward_script` (a descriptor,
/// e.g. `addr(...)`), takes templates from the Template Provider at `tp` whose authority key is
/// `tp_key`; 60 shares a minute expected per channel.
pub fn pool_config(
    port: u16,
    authority_public: &str,
    authority_secret: &str,
    reward_script: &str,
    tp: SocketAddr,
    tp_key: &str,
) -> String {
    format!(
        r#"
authority_public_key = "{authority_public}"
authority_secret_key = "{authority_secret}"
cert_validity_sec = 3600
listen_address = "127.0.0.1:{port}"
coinbase_reward_script = "{reward_script}"
server_id = 1
pool_signature = "SRI interop"
shares_per_minute = 60.0
share_batch_size = 1

[template_provider_type.Sv2Tp]
address = "{tp}"
public_key = "{tp_key}"
"#
    )
}

/// Starts `bin` with [`pool_config`] in a temporary directory named after `tag` and waits until
/// it listens; panics if it does not.
pub async fn start_pool(
    bin: &std::path::Path,
    tag: &str,
    authority: (&str, &str),
    reward_script: &str,
    tp: SocketAddr,
    tp_key: &str,
) -> SriRole {
    let port = free_port();
    let text = pool_config(port, authority.0, authority.1, reward_script, tp, tp_key);
    spawn_logged(bin, tag, &text, port).await
}

/// `jd_client_sv2` (or `$SRI_JDC_BIN`), as [`binary`] finds the translator.
pub fn jdc_binary() -> Option<PathBuf> {
    required_binary(
        "SRI_JDC_BIN",
        "jd_client_sv2",
        "apt-get install capnproto libcapnp-dev && cargo install --locked --no-default-features jd_client_sv2 --version 0.6.0",
    )
}

/// Where SRI's job declarator client mines: one pool + JDS pair sharing `authority_key`.
pub struct JdcUpstream<'a> {
    /// The pool.
    pub pool: SocketAddr,
    /// The job declarator server.
    pub jds: SocketAddr,
    /// Authority public key of both (base58check).
    pub authority_key: &'a str,
    /// Channel user identity at the pool.
    pub user_identity: &'a str,
}

/// SRI job declarator client config: serves SV2 miners on `127.0.0.1:port` with the authority
/// key pair `authority` (public, secret), declares full templates from the Template Provider
/// at `tp` (authority `tp_key`) to `upstream`, and pays `reward_script` with what the pool
/// leaves.
pub fn jdc_config(
    port: u16,
    authority: (&str, &str),
    upstream: &JdcUpstream<'_>,
    reward_script: &str,
    tp: SocketAddr,
    tp_key: &str,
) -> String {
    format!(
        r#"
listening_address = "127.0.0.1:{port}"
max_supported_version = 2
min_supported_version = 2
authority_public_key = "{}"
authority_secret_key = "{}"
cert_validity_sec = 3600
shares_per_minute = 60.0
share_batch_size = 1
mode = "FULLTEMPLATE"
jdc_signature = "SRI JDC interop"
coinbase_reward_script = "{reward_script}"

[[upstreams]]
authority_pubkey = "{}"
pool_address = "{}"
pool_port = {}
jds_address = "{}"
jds_port = {}
user_identity = "{}"

[template_provider_type.Sv2Tp]
address = "{tp}"
public_key = "{tp_key}"
"#,
        authority.0,
        authority.1,
        upstream.authority_key,
        upstream.pool.ip(),
        upstream.pool.port(),
        upstream.jds.ip(),
        upstream.jds.port(),
        upstream.user_identity,
    )
}

/// Starts `bin` with [`jdc_config`] (see there) and waits until it listens for miners; panics
/// if it does not. The returned process is killed when dropped.
pub async fn start_jdc(
    bin: &std::path::Path,
    tag: &str,
    authority: (&str, &str),
    upstream: &JdcUpstream<'_>,
    reward_script: &str,
    tp: SocketAddr,
    tp_key: &str,
) -> SriRole {
    let port = free_port();
    let text = jdc_config(port, authority, upstream, reward_script, tp, tp_key);
    spawn_logged(bin, tag, &text, port).await
}

/// Writes `config` into a temporary directory named after `tag`, starts `bin -c <config> -f
/// <log>` there and waits (20 s) until `127.0.0.1:port` accepts connections.
async fn spawn_logged(bin: &std::path::Path, tag: &str, config: &str, port: u16) -> SriRole {
    let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cfg_path = dir.join("config.toml");
    std::fs::write(&cfg_path, config).expect("write config");
    let log = dir.join("role.log");
    let _ = std::fs::remove_file(&log);
    let args = [
        std::ffi::OsStr::new("-c"),
        cfg_path.as_os_str(),
        std::ffi::OsStr::new("-f"),
        log.as_os_str(),
    ];
    let process =
        Process::spawn(bin, args, &dir).unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let role = SriRole { addr, log, process };
    assert!(
        wait_for_port(addr, Duration::from_secs(20)).await,
        "{} did not start listening; log:\n{}",
        bin.display(),
        role.log_tail(40)
    );
    role
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
