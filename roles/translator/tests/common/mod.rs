//! Fixtures for the translator's end-to-end tests: bitcoind stand-in + pool on loopback,
//! translator settings, and a raw SV1 client for byte-level control.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::secp256k1::Keypair;
use pool::accounting::MemorySink;
use pool::config::PoolConfig;
use pool::PoolHandle;
use sv1::{parse_server_line, Notification, Notify, Response, ServerMessage, SubscribeResult};
use sv2_mining::merkle::merkle_root_from_path;
use sv2_mining::sha256d::sha256d;
use sv2_mining::target::Target;
use sv2_noise::secp256k1::XOnlyPublicKey;
use test_utils::bitcoind::{StandIn, StandInConfig};
use test_utils::fixtures::{regtest_address, Authority, PoolToml};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use translator::{Settings, TranslatorConfig, TranslatorHandle};

/// Pool share difficulties low enough for CPU miners in debug builds.
pub const POOL_EASY: &str = "initial_difficulty = 0.00001\nmin_difficulty = 0.000001";

/// A stand-in and a pool on it.
pub struct PoolEnv {
    pub standin: StandIn,
    pub pool: PoolHandle,
    pub authority: XOnlyPublicKey,
    pub sink: Arc<MemorySink>,
}

impl PoolEnv {
    /// `host:port` of the pool.
    pub fn address(&self) -> String {
        self.pool.local_addr.to_string()
    }
}

/// A fresh authority key pair.
pub fn authority() -> Keypair {
    Authority::generate().keypair
}

/// Starts a stand-in and a pool listening on `listen` (e.g. `127.0.0.1:0`).
pub async fn start_pool(listen: &str, kp: &Keypair) -> PoolEnv {
    start_pool_with(listen, kp, "").await
}

/// [`start_pool`] with extra `[mining]` keys.
pub async fn start_pool_with(listen: &str, kp: &Keypair, mining_extra: &str) -> PoolEnv {
    let standin = StandIn::start(StandInConfig::default())
        .await
        .expect("stand-in starts");
    let authority = Authority::from_keypair(*kp);
    let payout = regtest_address(9).to_string();
    let mining = format!("share_interval_secs = 0.1\n{POOL_EASY}\n{mining_extra}");
    let text = PoolToml {
        listen,
        pool_tag: "/translator-e2e/",
        mining: &mining,
        tables: "\n[accounting]\nflush_interval_secs = 1\n",
        ..PoolToml::new(&standin, &authority, &payout)
    }
    .text();
    let cfg = PoolConfig::parse(&text).expect("pool config valid");
    let sink = Arc::new(MemorySink::default());
    let mut pool = pool::start_pool(cfg, sink.clone())
        .await
        .expect("pool starts");
    assert!(
        pool.wait_for_job(Duration::from_secs(10)).await,
        "pool got a job"
    );
    PoolEnv {
        standin,
        pool,
        authority: authority.xonly,
        sink,
    }
}

/// Translator settings for `upstreams` (`address`, authority key); `translator_extra` goes
/// into `[translator]`, `tables` after it.
pub fn settings(
    site: &str,
    mode: &str,
    upstreams: &[(String, XOnlyPublicKey)],
    translator_extra: &str,
    tables: &str,
) -> Settings {
    let mut text = format!(
        r#"
[translator]
site = "{site}"
listen = "127.0.0.1:0"
channel_mode = "{mode}"
update_channel_secs = 1
{translator_extra}
"#
    );
    for (address, key) in upstreams {
        text.push_str(&format!(
            "\n[[upstream]]\naddress = \"{address}\"\nauthority_public_key = \"{}\"\n",
            sv2_noise::encode_public_key(key)
        ));
    }
    if !tables.contains("[vardiff]") {
        text.push_str(
            "\n[vardiff]\nshare_interval_secs = 0.5\ninitial_difficulty = 0.00001\nmin_difficulty = 0.000001\nmax_difficulty = 0.001\n",
        );
    }
    if !tables.contains("[failover]") {
        text.push_str(
            "\n[failover]\nconnect_timeout_secs = 2\nbackoff_initial_ms = 100\nbackoff_max_secs = 1\nprimary_retry_secs = 1\n",
        );
    }
    text.push_str(tables);
    TranslatorConfig::parse(&text)
        .and_then(|c| c.validate())
        .unwrap_or_else(|e| panic!("translator config: {e}\n{text}"))
}

/// Starts a translator and waits until it has work from a pool.
pub async fn start_translator(s: Settings) -> TranslatorHandle {
    let h = translator::start_translator(s)
        .await
        .expect("translator starts");
    h
}

/// Starts an aggregating translator for `site` in front of `env`'s pool and waits (up to
/// 15 s) until it has work.
pub async fn mining_translator(site: &str, env: &PoolEnv) -> TranslatorHandle {
    let t = start_translator(settings(
        site,
        "aggregate",
        &[(env.address(), env.authority)],
        "",
        "",
    ))
    .await;
    t.wait_for(Duration::from_secs(15), |s| s.mining)
        .await
        .expect("translator mining");
    t
}

/// Waits until `pred` holds, polling every 50 ms; panics with `what` after `timeout`.
pub async fn eventually(timeout: Duration, what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !pred() {
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A hand-driven SV1 client.
pub struct RawMiner {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_id: u64,
    /// Last notify received.
    pub job: Option<Notify>,
    /// Current difficulty.
    pub difficulty: f64,
    /// Extranonce1 and extranonce2 size from subscribe.
    pub subscription: Option<SubscribeResult>,
    /// Negotiated version mask.
    pub mask: u32,
    /// Username used in `mining.authorize` (and `mining.submit`).
    pub user: String,
}

impl RawMiner {
    /// Connects.
    pub async fn connect(addr: SocketAddr) -> RawMiner {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let (r, w) = tcp.into_split();
        RawMiner {
            reader: BufReader::new(r),
            writer: w,
            next_id: 1,
            job: None,
            difficulty: 0.0,
            subscription: None,
            mask: 0,
            user: "x.raw".into(),
        }
    }

    /// Writes raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes).await
    }

    /// Sends a request with a fresh id; returns the id.
    pub async fn request(&mut self, method: &str, params: serde_json::Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let line = serde_json::json!({"id": id, "method": method, "params": params}).to_string();
        self.send_raw(format!("{line}\n").as_bytes())
            .await
            .expect("write");
        id
    }

    /// Next message (None on EOF or after 10 s); tracks jobs and difficulty.
    pub async fn next(&mut self) -> Option<ServerMessage> {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        let msg = parse_server_line(&line).expect("translator sends valid SV1");
        match &msg {
            ServerMessage::Notification(Notification::Notify(n)) => self.job = Some(n.clone()),
            ServerMessage::Notification(Notification::SetDifficulty { difficulty }) => {
                self.difficulty = *difficulty
            }
            ServerMessage::Notification(Notification::SetVersionMask { mask }) => self.mask = *mask,
            _ => {}
        }
        Some(msg)
    }

    /// True when the translator closes the connection within `timeout` (lines before EOF
    /// are skipped).
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let fut = async {
            let mut line = String::new();
            loop {
                line.clear();
                match self.reader.read_line(&mut line).await {
                    Ok(0) | Err(_) => return true,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(timeout, fut).await.unwrap_or(false)
    }

    /// The response to request `id`, recording notifications seen meanwhile.
    pub async fn response(&mut self, id: u64) -> Response {
        loop {
            match self.next().await.expect("response before EOF") {
                ServerMessage::Response(r) if r.id.as_u64() == Some(id) => return r,
                _ => {}
            }
        }
    }

    /// configure (version rolling) + subscribe + authorize, then waits for the first job.
    pub async fn handshake(&mut self, user: &str) {
        self.user = user.to_owned();
        let id = self.request(
            "mining.configure",
            serde_json::json!([["version-rolling"], {"version-rolling.mask": "1fffe000", "version-rolling.min-bit-count": 2}]),
        )
        .await;
        let r = self.response(id).await;
        if let sv1::ResponseResult::Configure(c) = r.result {
            self.mask = c.version_rolling_mask.unwrap_or(0);
        }
        let id = self
            .request("mining.subscribe", serde_json::json!(["raw-test/1.0"]))
            .await;
        let r = self.response(id).await;
        let sv1::ResponseResult::Subscribe(sub) = r.result else {
            panic!("subscribe result expected, got {r:?}")
        };
        self.subscription = Some(sub);
        let id = self
            .request("mining.authorize", serde_json::json!([user, "x"]))
            .await;
        assert!(self.response(id).await.is_success());
        self.wait_job().await;
    }

    /// Waits for a job (returns at once if one is known and `fresh` is false).
    pub async fn wait_job(&mut self) -> Notify {
        while self.job.is_none() {
            self.next().await.expect("a job before EOF");
        }
        self.job.clone().expect("job")
    }

    /// Mines a share on the current job with `version` and extranonce2 `en2`; returns
    /// (job id, ntime, nonce).
    pub fn mine(&self, en2: &[u8], version: u32) -> (String, u32, u32) {
        let n = self.job.as_ref().expect("a job");
        let sub = self.subscription.as_ref().expect("subscribed");
        let mut coinbase = n.coinb1.clone();
        coinbase.extend_from_slice(&sub.extranonce1);
        coinbase.extend_from_slice(en2);
        coinbase.extend_from_slice(&n.coinb2);
        let root = merkle_root_from_path(&sha256d(&coinbase), &n.merkle_branch);
        let target = Target::from_difficulty(self.difficulty);
        let mut header = [0u8; 80];
        header[0..4].copy_from_slice(&version.to_le_bytes());
        header[4..36].copy_from_slice(&n.prev_hash.to_header_bytes());
        header[36..68].copy_from_slice(&root);
        header[68..72].copy_from_slice(&n.ntime.to_le_bytes());
        header[72..76].copy_from_slice(&n.nbits.to_le_bytes());
        for nonce in 0u32.. {
            header[76..80].copy_from_slice(&nonce.to_le_bytes());
            if target.is_met_by(&sha256d(&header)) {
                return (n.job_id.clone(), n.ntime, nonce);
            }
        }
        unreachable!("the nonce space holds a share at test difficulties")
    }

    /// Submits a share; returns the request id.
    pub async fn submit(
        &mut self,
        job_id: &str,
        en2: &[u8],
        ntime: u32,
        nonce: u32,
        version_bits: Option<u32>,
    ) -> u64 {
        let mut params = vec![
            serde_json::json!(self.user),
            serde_json::json!(job_id),
            serde_json::json!(hex::encode(en2)),
            serde_json::json!(format!("{ntime:08x}")),
            serde_json::json!(format!("{nonce:08x}")),
        ];
        if let Some(v) = version_bits {
            params.push(serde_json::json!(format!("{v:08x}")));
        }
        self.request("mining.submit", serde_json::Value::Array(params))
            .await
    }

    /// Mines and submits on the current job until one share is accepted (the job can turn
    /// stale under us: every share is a block on regtest). Returns the version used.
    pub async fn mine_accepted_share(&mut self, version_bits: u32) -> u32 {
        for attempt in 0u32..50 {
            let n = self.wait_job().await;
            let version = (n.version & !self.mask) | (version_bits & self.mask);
            let size = self.subscription.as_ref().map_or(4, |s| s.extranonce2_size);
            let mut en2 = vec![0u8; size];
            let tail = attempt.to_be_bytes();
            let n_tail = size.min(4);
            en2[size - n_tail..].copy_from_slice(&tail[4 - n_tail..]);
            let (job_id, ntime, nonce) = self.mine(&en2, version);
            let id = self
                .submit(&job_id, &en2, ntime, nonce, Some(version & self.mask))
                .await;
            let r = self.response(id).await;
            if r.is_success() {
                return version;
            }
            eprintln!("share refused: {r:?}");
        }
        panic!("no share accepted in 50 attempts");
    }
}
