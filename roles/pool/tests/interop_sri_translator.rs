//! Interoperability with an independent implementation: SRI's translator (`translator_sv2`
//! 0.6.0 from crates.io, installed by `.ci/run`) connects upstream to our pool over Noise with
//! our authority key; an SV1 CPU miner connects to it; jobs flow, shares are accepted and a
//! block is found on the bitcoind stand-in.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::start;
use test_utils::miner::sv1::{spawn as spawn_sv1, Sv1MinerConfig};
use tokio::process::Command;

fn translator_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SRI_TRANSLATOR_BIN") {
        return Some(PathBuf::from(p));
    }
    let mut candidates = Vec::new();
    if let Ok(home) = std::env::var("CARGO_HOME") {
        candidates.push(PathBuf::from(home).join("bin/translator_sv2"));
    }
    if let Ok(home) = std::env::var("HOME") {
        candidates.push(PathBuf::from(home).join(".cargo/bin/translator_sv2"));
    }
    if let Ok(path) = std::env::var("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("translator_sv2")));
    }
    candidates.into_iter().find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sri_translator_mines_on_our_pool() {
    let Some(bin) = translator_binary() else {
        if std::env::var_os("CI").is_some() {
            panic!("translator_sv2 not installed: .ci/run must `cargo install translator_sv2 --version 0.6.0`");
        }
        eprintln!("SKIPPED: translator_sv2 (SRI) not installed; run `cargo install --locked --no-default-features translator_sv2 --version 0.6.0`");
        return;
    };
    let env = start(0, "initial_difficulty = 0.00001\nmin_difficulty = 0.000001").await;
    let dir = std::env::temp_dir().join(format!("sri-tproxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = free_port();
    let config = format!(
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
authority_pubkey = "{key}"
user_identity = "sri-site.tproxy"
"#,
        pool_port = env.pool.local_addr.port(),
        key = sv2_noise::encode_public_key(&env.authority),
    );
    let cfg_path = dir.join("tproxy.toml");
    std::fs::write(&cfg_path, config).expect("write config");
    let mut child = Command::new(&bin)
        .arg("-c")
        .arg(&cfg_path)
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start translator_sv2");

    // Wait until the translator listens for SV1 miners.
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "translator_sv2 did not start listening");

    let mut cfg = Sv1MinerConfig::new(format!("127.0.0.1:{port}"), "sri-site.cpu1");
    cfg.duration = Some(Duration::from_secs(60));
    let miner = spawn_sv1(cfg).expect("sv1 miner");

    // Jobs flow and a block is found through the SRI translator.
    let mut found = false;
    for _ in 0..600 {
        if !env.standin.submitted_blocks().is_empty() && miner.stats().shares_accepted > 0 {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = miner.stats();
    miner.stop();
    let _ = child.kill().await;
    assert!(
        stats.jobs_received > 0,
        "no job reached the SV1 miner: {stats:?}"
    );
    assert!(found, "no block through the SRI translator: {stats:?}");
    let blocks = env.standin.submitted_blocks();
    assert!(blocks[0]
        .coinbase_outputs
        .iter()
        .any(|o| o.script_pubkey == env.payout_script));
    // The pool credited the work to the translator channel's site.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let found = env.sink.blocks();
    assert!(!found.is_empty());
    assert_eq!(found[0].finder.site, "sri-site");
}
