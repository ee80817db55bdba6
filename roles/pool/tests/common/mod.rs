//! Shared fixtures of the pool's end-to-end tests: a bitcoind stand-in, a pool on loopback,
//! and a small SV2 client that speaks through the real Noise transport.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bitcoin::ScriptBuf;
use bytes::BytesMut;
use pool::accounting::MemorySink;
use pool::config::PoolConfig;
use pool::PoolHandle;
use sv2_codec::common::SetupConnection;
use sv2_codec::{Frame, Message, Protocol};
use sv2_noise::secp256k1::XOnlyPublicKey;
use test_utils::bitcoind::{StandIn, StandInConfig};
use test_utils::fixtures::{regtest_address, Authority, PoolToml};
use tokio::net::TcpStream;

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

/// Minimal SV2 mining client over Noise.
pub struct Client {
    pub conn: sv2_noise::NoiseConnection,
    buf: BytesMut,
}

impl Client {
    /// Connects and completes the Noise handshake.
    pub async fn connect(env: &Env) -> Client {
        let tcp = TcpStream::connect(env.pool.local_addr).await.expect("tcp");
        let conn = sv2_noise::connect(tcp, env.authority, Duration::from_secs(5))
            .await
            .expect("handshake");
        Client {
            conn,
            buf: BytesMut::new(),
        }
    }

    /// Sends a message.
    pub async fn send(&mut self, m: impl Into<Message>) {
        self.buf.clear();
        m.into().encode_frame(&mut self.buf).expect("encode");
        self.conn.send(&self.buf[..]).await.expect("send");
    }

    /// Next message (panics after 10 s).
    pub async fn recv(&mut self) -> Message {
        let bytes = tokio::time::timeout(Duration::from_secs(10), self.conn.recv())
            .await
            .expect("message within 10 s")
            .expect("transport ok")
            .expect("connection open");
        let frame = Frame::from_bytes(bytes).expect("frame");
        Message::from_frame(Protocol::Mining, &frame).expect("decodes")
    }

    /// Next message that `f` accepts, skipping others.
    pub async fn recv_until<T>(&mut self, mut f: impl FnMut(Message) -> Option<T>) -> T {
        loop {
            if let Some(t) = f(self.recv().await) {
                return t;
            }
        }
    }

    /// SetupConnection for the Mining protocol, expecting success.
    pub async fn setup(&mut self, flags: u32) {
        self.send(setup_msg(flags)).await;
        match self.recv().await {
            Message::Common(sv2_codec::CommonMessage::SetupConnectionSuccess(s)) => {
                assert_eq!(s.used_version, 2)
            }
            other => panic!("expected SetupConnection.Success, got {other:?}"),
        }
    }
}

/// A SetupConnection message for the Mining protocol.
pub fn setup_msg(flags: u32) -> SetupConnection {
    SetupConnection {
        protocol: Protocol::Mining,
        min_version: 2,
        max_version: 2,
        flags,
        endpoint_host: "127.0.0.1".into(),
        endpoint_port: 0,
        vendor: "e2e".into(),
        hardware_version: "cpu".into(),
        firmware: "test".into(),
        device_id: "t1".into(),
    }
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
