//! The SV1 CPU miner and load generator against a minimal SV1 pool written here with sv1's
//! server codec: the Antminer handshake, jobs, difficulty, extranonce and version-mask changes,
//! reconnection, and shares validated by rebuilding the block header.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bitcoin::ScriptBuf;
use futures::{SinkExt, StreamExt};
use sv1::{
    ClientMethod, ClientRequest, ConfigureResult, ErrorCode, Notification, Notify, PrevHash,
    Reconnect, Response, ServerMessage, StratumError, Submit, SubscribeResult, Sv1ServerCodec,
};
use sv2_mining::coinbase::{CoinbaseBuilder, Payout};
use sv2_mining::header::{version_rolling_ok, BlockHeader};
use sv2_mining::merkle::merkle_root_from_path;
use sv2_mining::sha256d::sha256d;
use sv2_mining::target::Target;
use test_utils::miner::sv1::{spawn, spawn_load, version_from_bits, Sv1LoadConfig, Sv1MinerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

const TIMEOUT: Duration = Duration::from_secs(30);
const MASK: u32 = 0x1fff_e000;
const BRANCH: [[u8; 32]; 3] = [[0x31; 32], [0x32; 32], [0x33; 32]];
const NBITS: u32 = 0x1d00_ffff;
const NTIME: u32 = 0x6626_85b8;

/// Difficulty at which about one hash in `n` is a share.
fn one_in(n: u64) -> f64 {
    n as f64 / 4_294_967_296.0
}

/// A job whose coinbase leaves `en1_len + en2_len` bytes of extranonce.
fn notify(job_id: &str, en_total: usize, clean: bool) -> Notify {
    let parts = CoinbaseBuilder::new(840_000, 312_500_000, en_total)
        .pool_tag(b"/sv1-test/".to_vec())
        .payout(ScriptBuf::from_bytes(vec![0x51]), Payout::Remainder(1))
        .build()
        .unwrap();
    Notify {
        job_id: job_id.into(),
        prev_hash: PrevHash::from_header_bytes([0x6b; 32]),
        coinb1: parts.prefix,
        coinb2: parts.suffix,
        merkle_branch: BRANCH.to_vec(),
        version: 0x2000_0000,
        nbits: NBITS,
        ntime: NTIME,
        clean_jobs: clean,
    }
}

/// Rebuilds the header a submit describes, the way a pool does, and returns its hash.
fn share_hash(job: &Notify, extranonce1: &[u8], s: &Submit, mask: u32) -> [u8; 32] {
    let coinbase = [
        job.coinb1.as_slice(),
        extranonce1,
        &s.extranonce2,
        &job.coinb2,
    ]
    .concat();
    let root = merkle_root_from_path(&sha256d(&coinbase), &job.merkle_branch);
    BlockHeader {
        version: version_from_bits(job.version, s.version_bits, mask),
        prev_hash: job.prev_hash.to_header_bytes(),
        merkle_root: root,
        ntime: s.ntime,
        nbits: job.nbits,
        nonce: s.nonce,
    }
    .hash()
}

type Conn = Framed<TcpStream, Sv1ServerCodec>;

async fn accept(listener: &TcpListener) -> Conn {
    let (tcp, _) = tokio::time::timeout(TIMEOUT, listener.accept())
        .await
        .expect("miner did not connect")
        .unwrap();
    Framed::new(tcp, Sv1ServerCodec::default())
}

async fn next(conn: &mut Conn) -> ClientRequest {
    tokio::time::timeout(TIMEOUT, conn.next())
        .await
        .expect("miner went quiet")
        .expect("miner closed")
        .unwrap()
        .unwrap()
}

async fn send(conn: &mut Conn, m: impl Into<ServerMessage>) {
    conn.send(m.into()).await.unwrap();
}

/// Runs the Antminer handshake from the pool side; returns the negotiated mask.
async fn handshake(
    conn: &mut Conn,
    extranonce1: &[u8],
    en2_size: usize,
    expect_rolling: bool,
) -> u32 {
    let mut mask = 0;
    let mut req = next(conn).await;
    if expect_rolling {
        let ClientMethod::Configure(c) = &req.method else {
            panic!("expected mining.configure first, got {req:?}")
        };
        assert_eq!(c.version_rolling(), Some((Some(MASK), Some(16))));
        mask = MASK;
        send(
            conn,
            Response::configure(req.id.clone(), ConfigureResult::version_rolling(MASK)),
        )
        .await;
        req = next(conn).await;
    }
    let ClientMethod::Subscribe(sub) = &req.method else {
        panic!("expected mining.subscribe, got {req:?}")
    };
    assert_eq!(sub.user_agent.as_deref(), Some("bmminer/2.0.0"));
    send(
        conn,
        Response::subscribe(
            req.id.clone(),
            SubscribeResult {
                subscriptions: vec![
                    ("mining.set_difficulty".into(), "1".into()),
                    ("mining.notify".into(), "1".into()),
                ],
                extranonce1: extranonce1.to_vec(),
                extranonce2_size: en2_size,
            },
        ),
    )
    .await;
    let req = next(conn).await;
    let ClientMethod::Authorize(a) = &req.method else {
        panic!("expected mining.authorize, got {req:?}")
    };
    assert_eq!(a.password.as_deref(), Some("x"));
    send(conn, Response::bool(req.id.clone(), true)).await;
    mask
}

async fn next_submit(conn: &mut Conn) -> (ClientRequest, Submit) {
    let req = next(conn).await;
    match &req.method {
        ClientMethod::Submit(s) => {
            let s = s.clone();
            (req, s)
        }
        other => panic!("expected mining.submit, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn antminer_like_session_submits_valid_shares() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = Sv1MinerConfig::new(listener.local_addr().unwrap().to_string(), "site.worker");
    cfg.max_shares = Some(8);
    cfg.threads = 2;
    let miner = spawn(cfg).unwrap();
    let mut conn = accept(&listener).await;
    let en1 = [0xf8, 0x00, 0x2c, 0x90];
    let mask = handshake(&mut conn, &en1, 4, true).await;
    let diff = one_in(64);
    send(&mut conn, Notification::SetDifficulty { difficulty: diff }).await;
    let job = notify("1a3f", 8, true);
    send(&mut conn, Notification::Notify(job.clone())).await;
    let target = Target::from_difficulty(diff);
    let mut rolled = 0;
    for i in 0..8 {
        let (req, s) = next_submit(&mut conn).await;
        assert_eq!(s.worker, "site.worker");
        assert_eq!(s.job_id, "1a3f");
        assert_eq!(s.extranonce2.len(), 4);
        let bits = s.version_bits.expect("version bits with version rolling");
        assert_eq!(bits & !MASK, 0);
        let version = version_from_bits(job.version, Some(bits), mask);
        assert!(version_rolling_ok(job.version, version, MASK));
        rolled += usize::from(version != job.version);
        assert!(
            target.is_met_by(&share_hash(&job, &en1, &s, mask)),
            "share {i}"
        );
        // Reject the first one to exercise the accounting.
        let reply = if i == 0 {
            Response::error(req.id, ErrorCode::LowDifficulty)
        } else {
            Response::bool(req.id, true)
        };
        send(&mut conn, reply).await;
    }
    assert!(rolled > 0, "versions were rolled");
    let stats = tokio::time::timeout(TIMEOUT, miner.join())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.shares_submitted, 8);
    assert_eq!(stats.shares_accepted, 7);
    assert_eq!(stats.rejected_for("23: Low difficulty share"), 1);
    assert_eq!(stats.last_job_id.as_deref(), Some("1a3f"));
    assert_eq!(stats.difficulty, diff);
    assert_eq!(stats.blocks_found, 0);
    assert_eq!((stats.open_connections, stats.open_channels), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_extranonce_mask_and_job_changes_then_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = Sv1MinerConfig::new(listener.local_addr().unwrap().to_string(), "site.worker");
    cfg.version_rolling = false;
    // 16 nonces per template: extranonce2 rolls quickly.
    cfg.nonce_bits = 4;
    let miner = spawn(cfg).unwrap();
    let mut conn = accept(&listener).await;
    let en1 = [1, 2, 3, 4];
    assert_eq!(handshake(&mut conn, &en1, 2, false).await, 0);
    let diff = one_in(8);
    send(&mut conn, Notification::SetDifficulty { difficulty: diff }).await;
    let job1 = notify("j1", 6, true);
    send(&mut conn, Notification::Notify(job1.clone())).await;
    let target = Target::from_difficulty(diff);
    let mut extranonces = std::collections::HashSet::new();
    for _ in 0..10 {
        let (req, s) = next_submit(&mut conn).await;
        assert_eq!(s.version_bits, None, "no version rolling negotiated");
        assert!(target.is_met_by(&share_hash(&job1, &en1, &s, 0)));
        extranonces.insert(s.extranonce2.clone());
        send(&mut conn, Response::bool(req.id, true)).await;
    }
    assert!(extranonces.len() > 1, "extranonce2 rolled");
    // New extranonce (used from the next notify on) and a new job.
    let en1b = [9, 9, 9];
    send(
        &mut conn,
        Notification::SetExtranonce {
            extranonce1: en1b.to_vec(),
            extranonce2_size: 3,
        },
    )
    .await;
    let job2 = notify("j2", 6, false);
    send(&mut conn, Notification::Notify(job2.clone())).await;
    let mut seen_j2 = 0;
    while seen_j2 < 5 {
        let (req, s) = next_submit(&mut conn).await;
        if s.job_id == "j2" {
            assert_eq!(s.extranonce2.len(), 3);
            assert!(target.is_met_by(&share_hash(&job2, &en1b, &s, 0)));
            seen_j2 += 1;
        } else {
            // In flight before the miner saw the new job.
            assert_eq!(s.job_id, "j1");
        }
        send(&mut conn, Response::bool(req.id, true)).await;
    }
    // The pool moves the miner elsewhere.
    send(
        &mut conn,
        Notification::Reconnect(Reconnect {
            host: Some("127.0.0.1".into()),
            port: Some(other.local_addr().unwrap().port()),
            wait_secs: Some(0),
        }),
    )
    .await;
    let mut conn2 = accept(&other).await;
    handshake(&mut conn2, &[7, 7, 7, 7], 4, false).await;
    let stats = miner
        .wait_for(TIMEOUT, |s| s.connections == 2)
        .await
        .unwrap();
    assert_eq!(stats.reconnects, 1);
    assert_eq!(stats.shares_rejected, 0);
    miner.stop_and_join().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_mask_changes_apply_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = Sv1MinerConfig::new(listener.local_addr().unwrap().to_string(), "site.worker");
    let miner = spawn(cfg).unwrap();
    let mut conn = accept(&listener).await;
    let en1 = [5; 4];
    handshake(&mut conn, &en1, 4, true).await;
    let narrow = 0x0000_6000;
    send(&mut conn, Notification::SetVersionMask { mask: narrow }).await;
    send(
        &mut conn,
        Notification::SetDifficulty {
            difficulty: one_in(16),
        },
    )
    .await;
    let job = notify("m", 8, true);
    send(&mut conn, Notification::Notify(job.clone())).await;
    for _ in 0..10 {
        let (req, s) = next_submit(&mut conn).await;
        let bits = s.version_bits.unwrap();
        assert_eq!(bits & !narrow, 0, "only the narrowed mask is rolled");
        assert!(Target::from_difficulty(one_in(16)).is_met_by(&share_hash(&job, &en1, &s, narrow)));
        send(&mut conn, Response::bool(req.id, true)).await;
    }
    miner.stop_and_join().await.unwrap();
}

/// What the load-test pool saw.
#[derive(Default)]
struct Seen {
    connections: AtomicU64,
    valid: AtomicU64,
    invalid: AtomicU64,
}

/// Pool for the load test: every connection gets its own extranonce1, difficulty `diff`
/// and one job; submits are validated and answered.
async fn load_pool(listener: TcpListener, diff: f64, seen: Arc<Seen>) {
    let mut n = 0u32;
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        n += 1;
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            let mut conn = Framed::new(tcp, Sv1ServerCodec::default());
            let en1 = n.to_be_bytes();
            let mask = handshake(&mut conn, &en1, 4, true).await;
            seen.connections.fetch_add(1, Ordering::Relaxed);
            send(&mut conn, Notification::SetDifficulty { difficulty: diff }).await;
            let job = notify("load", 8, true);
            send(&mut conn, Notification::Notify(job.clone())).await;
            let target = Target::from_difficulty(diff);
            while let Some(Ok(Ok(req))) = conn.next().await {
                let ClientMethod::Submit(s) = &req.method else {
                    continue;
                };
                let ok = target.is_met_by(&share_hash(&job, &en1, s, mask));
                let counter = if ok { &seen.valid } else { &seen.invalid };
                counter.fetch_add(1, Ordering::Relaxed);
                let reply = if ok {
                    Response::bool(req.id.clone(), true)
                } else {
                    Response::error(req.id.clone(), StratumError::from(ErrorCode::LowDifficulty))
                };
                if conn.send(ServerMessage::from(reply)).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_mode_opens_many_connections_and_submits_at_the_simulated_rate() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Seen::default());
    // Low difficulty: about one hash in 64 is a share, so shares are real.
    let diff = one_in(64);
    tokio::spawn(load_pool(listener, diff, Arc::clone(&seen)));
    let mut cfg = Sv1LoadConfig::new(addr, "site.load", 200);
    cfg.numbered_workers = true;
    cfg.connect_rate = 2000.0;
    cfg.duration = Duration::from_secs(3);
    // 4 shares per second per connection at this difficulty.
    cfg.simulated_hashrate = 4.0 * 64.0;
    cfg.max_share_rate = 100.0;
    let load = spawn_load(cfg).unwrap();
    let during = load
        .wait_for(TIMEOUT, |s| s.open_connections == 200)
        .await
        .expect("all connections open");
    assert_eq!(during.open_channels, 200);
    let stats = tokio::time::timeout(TIMEOUT, load.join())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.connections, 200);
    assert_eq!(stats.connection_failures, 0);
    assert_eq!(stats.open_connections, 0);
    assert_eq!(stats.shares_submitted_below_target, 0);
    assert_eq!(seen.invalid.load(Ordering::Relaxed), 0);
    let valid = seen.valid.load(Ordering::Relaxed);
    // 200 connections x 4/s for ~2.9 s: about 2300 shares; allow wide Poisson and timing slack.
    assert!((800..4000).contains(&valid), "{valid} shares");
    assert!(stats.shares_submitted >= valid);
    assert!(stats.shares_accepted + 200 >= stats.shares_submitted);
    // The connections only hashed for their shares.
    assert!(stats.hashes < 64 * 4 * stats.shares_submitted.max(1) * 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_mode_at_a_high_difficulty_submits_shares_below_target() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Seen::default());
    tokio::spawn(load_pool(listener, 1024.0, Arc::clone(&seen)));
    let mut cfg = Sv1LoadConfig::new(addr, "site.load", 20);
    cfg.duration = Duration::from_secs(2);
    cfg.simulated_hashrate = 1e15;
    cfg.max_share_rate = 5.0;
    let stats = spawn_load(cfg).unwrap().join().await.unwrap();
    assert_eq!(stats.connections, 20);
    assert!(stats.shares_submitted > 20);
    assert_eq!(stats.shares_submitted_below_target, stats.shares_submitted);
    assert_eq!(stats.hashes, 0, "hopeless difficulty: no hashing at all");
    assert!(stats.rejected_for("23: Low difficulty share") > 0);
    assert_eq!(seen.valid.load(Ordering::Relaxed), 0);
}
