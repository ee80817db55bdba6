//! Shared fixtures of the pool's end-to-end tests: a bitcoind stand-in, a pool on loopback,
//! and a small SV2 client that speaks through the real Noise transport.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bitcoin::ScriptBuf;
use pool::accounting::MemorySink;
use pool::config::PoolConfig;
use pool::PoolHandle;
use sv2_codec::common::SetupConnection;
use sv2_codec::Protocol;
use sv2_noise::secp256k1::XOnlyPublicKey;
use test_utils::bitcoind::{StandIn, StandInConfig};
use test_utils::fixtures::{regtest_address, Authority, PoolToml};

/// A running stand-in and pool.
pub struct Env {
    pub standin: StandIn,
    pub pool: PoolHandle,
    pub authority: XOnlyPublicKey,
    pub payout_script: ScriptBuf,
    pub sink: Arc<MemorySink>,
}

/// Pool config text for a stand-in at `url`; `mining_extra` goes into `[mining]` and may
/// carry further tables after a line `#tables`.
pub fn pool_config(url: &str, authority: &Authority, address: &str, mining_extra: &str) -> String {
    let (mining, tables) = mining_extra
        .split_once("#tables")
        .unwrap_or((mining_extra, ""));
    PoolToml {
        listen: "127.0.0.1:0",
        authority,
        url: url.to_owned(),
        payout: address,
        pool_tag: "/e2e-test/",
        mining,
        tables,
    }
    .text()
}

/// Starts a stand-in (with `premine` blocks) and a pool on it.
pub async fn start(premine: u32, mining_extra: &str) -> Env {
    let standin = StandIn::start(StandInConfig {
        premine,
        ..StandInConfig::default()
    })
    .await
    .expect("stand-in starts");
    let env = start_on(standin, mining_extra).await;
    let mut pool_jobs = env.pool.jobs.clone();
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        while pool_jobs.borrow_and_update().is_none() {
            if pool_jobs.changed().await.is_err() {
                return false;
            }
        }
        true
    })
    .await
    .unwrap_or(false);
    assert!(got, "pool got a job");
    env
}

/// Starts a pool on an existing stand-in without waiting for a job.
pub async fn start_on(standin: StandIn, mining_extra: &str) -> Env {
    let authority = Authority::generate();
    let address = regtest_address(7);
    let text = pool_config(
        &standin.url(),
        &authority,
        &address.to_string(),
        mining_extra,
    );
    let cfg = PoolConfig::parse(&text).expect("config valid");
    let sink = Arc::new(MemorySink::default());
    let pool = pool::start_pool(cfg, sink.clone())
        .await
        .expect("pool starts");
    Env {
        standin,
        pool,
        authority: authority.xonly,
        payout_script: address.script_pubkey(),
        sink,
    }
}

/// The shared raw SV2 client ([`test_utils::sv2_client::Client`]) speaking Mining to the
/// test pool.
pub struct Client(test_utils::sv2_client::Client);

impl Client {
    /// Connects to the pool and completes the Noise handshake.
    pub async fn connect(env: &Env) -> Client {
        Client(
            test_utils::sv2_client::Client::connect_only(
                env.pool.local_addr,
                env.authority,
                Protocol::Mining,
            )
            .await,
        )
    }
}

impl std::ops::Deref for Client {
    type Target = test_utils::sv2_client::Client;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Client {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// A SetupConnection message for the Mining protocol.
pub fn setup_msg(flags: u32) -> SetupConnection {
    test_utils::sv2_client::setup_connection(Protocol::Mining, flags)
}

/// `SetupConnection.flags` of a header-only client: standard jobs per channel, no group jobs.
pub const STANDARD_JOBS: u32 = sv2_codec::common::mining_flags::REQUIRES_STANDARD_JOBS;

/// Waits (up to 10 s) until the stand-in has accepted `n` blocks from the pool.
pub async fn wait_blocks(env: &Env, n: usize) -> Vec<test_utils::bitcoind::SubmittedBlock> {
    for _ in 0..1000 {
        let b = env.standin.submitted_blocks();
        if b.len() >= n {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    env.standin.submitted_blocks()
}

/// Serves the pool's HTTP port (no recorder, no ledger) with `/health` following `env`'s node
/// state; returns its address.
pub fn serve_health(env: &Env) -> std::net::SocketAddr {
    let readiness = pool::dashboard::Readiness::default();
    readiness.attach(env.pool.node_state.clone());
    let (addr, _task) = pool::dashboard::serve(
        "127.0.0.1:0".parse().expect("loopback address"),
        pool::dashboard::HttpState {
            prometheus: None,
            ledger: None,
            dashboard: Default::default(),
            readiness,
        },
    )
    .expect("http port");
    addr
}

/// Polls `/health` until it answers `status` (10 s at most); returns the body.
pub async fn wait_health(addr: std::net::SocketAddr, status: u16) -> String {
    test_utils::http::wait_status(addr, "/health", status, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}
