//! End to end over real TCP + Noise: CPU miner → sv2-jd-client (its own bitcoind stand-in)
//! → pool + sv2-jd-server (another stand-in with the same chain). Blocks are accepted by both
//! nodes, missing transactions are provided, a rejecting upstream is left for the next one,
//! and the client falls back to solo mining when the pool goes away without dropping miners.

#[path = "../../jd-server/tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use jd_client::{JdcConfig, JdcHandle, Mode};
use test_utils::bitcoind::{StandIn, TxFactory};
use test_utils::miner::sv2::{spawn, ChannelMode, Sv2MinerConfig};

/// One `[[upstream]]` entry.
struct Up<'a> {
    pool: &'a pool::PoolHandle,
    pool_key: &'a Authority,
    jds: &'a jd_server::JdsHandle,
    jds_key: &'a Authority,
}

fn jdc_config(node_a: &StandIn, downstream: &Authority, ups: &[Up<'_>], extra: &str) -> String {
    let mut text = format!(
        r#"
[downstream]
listen = "127.0.0.1:0"
authority_public_key = "{}"
authority_secret_key = "{}"
initial_difficulty = 0.0001
min_difficulty = 0.0001
share_ack_batch = 1
share_ack_interval_ms = 20

[bitcoind]
url = "{}"
user = "pool"
password = "poolpass"
poll_interval_ms = 100
min_fee_refresh_secs = 30

[solo]
address = "{}"

[metrics]
listen = ""
"#,
        downstream.public,
        downstream.secret,
        node_a.url(),
        solo_address()
    );
    for u in ups {
        text.push_str(&format!(
            r#"
[[upstream]]
pool_address = "{}"
pool_authority_public_key = "{}"
jds_address = "{}"
jds_authority_public_key = "{}"
user_identity = "site.jdc1"
"#,
            u.pool.local_addr, u.pool_key.public, u.jds.local_addr, u.jds_key.public
        ));
    }
    text.push_str(extra);
    text
}

fn solo_address() -> bitcoin::Address {
    address(50)
}

async fn start_jdc(node_a: &StandIn, ups: &[Up<'_>], extra: &str) -> (JdcHandle, Authority) {
    let downstream = authority();
    let cfg = JdcConfig::parse(&jdc_config(node_a, &downstream, ups, extra)).expect("jdc config");
    let jdc = jd_client::start_jdc(cfg).await.expect("jdc starts");
    (jdc, downstream)
}

async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// A JDS and a pool on node B and a job declarator client on node A using them.
struct Site {
    jds: jd_server::JdsHandle,
    pool: pool::PoolHandle,
    jdc: JdcHandle,
    /// The client's downstream authority.
    down_key: Authority,
}

/// Starts a [`Site`] (`extra` appended to the client's config) and waits until the client
/// mines pooled through upstream 0 with a custom job set at the pool.
async fn start_site(node_a: &StandIn, node_b: &StandIn, extra: &str) -> Site {
    let (jds, jds_key) = start_jds(node_b, SECRET, "").await;
    let (pool, pool_key) = start_pool(node_b, Some(SECRET)).await;
    let (mut jdc, down_key) = start_jdc(
        node_a,
        &[Up {
            pool: &pool,
            pool_key: &pool_key,
            jds: &jds,
            jds_key: &jds_key,
        }],
        extra,
    )
    .await;
    let mode = jdc
        .wait_mode(Duration::from_secs(20), |m| {
            matches!(m, Mode::Pooled { .. })
        })
        .await;
    assert_eq!(mode, Some(Mode::Pooled { upstream: 0 }));
    wait_for("the custom job", Duration::from_secs(20), || {
        get(&jdc.stats.custom_jobs_set) >= 1
    })
    .await;
    Site {
        jds,
        pool,
        jdc,
        down_key,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mined_block_is_accepted_by_both_nodes_with_provided_transactions() {
    let (node_a, node_b) = twin_standins(110).await;
    let (shared, only_a) = split_mempools(&node_a, &node_b, 41, 2, 2);
    // The job is declared (the JDS asked for node A's own transactions) and set at the pool
    // before any hashing starts, so the first block is one the JDS can rebuild.
    let Site {
        jds,
        pool: _pool,
        jdc,
        down_key,
    } = start_site(&node_a, &node_b, "").await;
    assert!(get(&jdc.stats.txs_provided) >= 2);
    assert!(get(&jds.stats.missing_tx_requests) >= 1);

    let mut cfg = Sv2MinerConfig::new(jdc.downstream_addr.to_string(), down_key.xonly, "site.rig1");
    cfg.max_shares = Some(1);
    cfg.nominal_hash_rate = 1e3;
    let miner = spawn(cfg).expect("miner starts");

    wait_for("the block on both nodes", Duration::from_secs(60), || {
        !node_a.submitted_blocks().is_empty() && !node_b.submitted_blocks().is_empty()
    })
    .await;
    let a = &node_a.submitted_blocks()[0];
    let b = &node_b.submitted_blocks()[0];
    assert_eq!(a.hash, b.hash, "the same block");
    assert_eq!(a.height, 111);
    let txids: Vec<_> = a.block.txdata.iter().map(|t| t.compute_txid()).collect();
    for t in shared.iter().chain(&only_a) {
        assert!(txids.contains(&t.txid()), "block has {}", t.txid());
    }
    // The whole reward goes to the pool's payout output.
    let coinbase = &a.block.txdata[0];
    let to_pool: u64 = coinbase
        .output
        .iter()
        .filter(|o| o.script_pubkey == pool_address().script_pubkey())
        .map(|o| o.value.to_sat())
        .sum();
    let total: u64 = coinbase.output.iter().map(|o| o.value.to_sat()).sum();
    assert_eq!(to_pool, total);
    assert!(to_pool > 5_000_000_000 / 2, "subsidy plus fees");
    assert_eq!(node_a.tip().hash, node_b.tip().hash);
    assert!(get(&jdc.stats.push_solutions) >= 1);
    // The JDS counts the block once submitblock returns (maybe just after the node has it).
    wait_for("the JDS's count", Duration::from_secs(20), || {
        get(&jds.stats.blocks_accepted) >= 1
    })
    .await;
    // The share also reached the pool, validated against the declared job.
    wait_for(
        "the pool's acknowledgement",
        Duration::from_secs(20),
        || get(&jdc.stats.shares_accepted_upstream) >= 1,
    )
    .await;
    assert_eq!(get(&jdc.stats.fallbacks), 0);
    let stats = miner.join().await.expect("miner ran");
    assert_eq!(stats.shares_accepted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_block_found_on_a_declared_job_is_credited_to_the_finders_site() {
    let (node_a, node_b) = twin_standins(110).await;
    let dir = std::env::temp_dir().join(format!("jdc-e2e-ledger-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (jds, jds_key) = start_jds(&node_b, SECRET, "").await;
    let lp = start_pool_with_ledger(&node_b, SECRET, &dir.join("treasury.db")).await;
    let (mut jdc, down_key) = start_jdc(
        &node_a,
        &[Up {
            pool: &lp.pool,
            pool_key: &lp.key,
            jds: &jds,
            jds_key: &jds_key,
        }],
        "",
    )
    .await;
    assert_eq!(
        jdc.wait_mode(Duration::from_secs(20), |m| matches!(
            m,
            Mode::Pooled { .. }
        ))
        .await,
        Some(Mode::Pooled { upstream: 0 })
    );
    wait_for("the custom job", Duration::from_secs(20), || {
        get(&jdc.stats.custom_jobs_set) >= 1
    })
    .await;

    let mut cfg = Sv2MinerConfig::new(jdc.downstream_addr.to_string(), down_key.xonly, "site.rig1");
    cfg.max_shares = Some(1);
    cfg.nominal_hash_rate = 1e3;
    let miner = spawn(cfg).expect("miner starts");
    wait_for(
        "the block on the pool's node",
        Duration::from_secs(60),
        || !node_b.submitted_blocks().is_empty(),
    )
    .await;
    let found = node_b.submitted_blocks()[0].clone();
    let reward: u64 = found.block.txdata[0]
        .output
        .iter()
        .map(|o| o.value.to_sat())
        .sum();
    // The block carries the client's tag, not the pool's: only the declared-job record
    // lets the treasury credit it, with the finder of the pool channel.
    let hash = found.hash.to_string();
    let ledger = lp.ledger.clone();
    wait_for("the block in the ledger", Duration::from_secs(30), || {
        ledger.has_block(&hash).unwrap_or(false)
    })
    .await;
    let blocks = pool::treasury::reports::blocks(&ledger, None, 10).expect("blocks report");
    let b = blocks.iter().find(|b| b.hash == hash).expect("the block");
    assert_eq!(b.height, u64::from(found.height));
    assert_eq!(b.reward_sats, reward as i64);
    assert_eq!(b.finder, "site.jdc1");
    assert_eq!(b.source, "pool");
    // Attributed to the site (its work is the pool channel's) and split with the partner.
    wait_for("the block attributed", Duration::from_secs(30), || {
        pool::treasury::reports::blocks(&ledger, None, 10)
            .map(|v| v.iter().any(|b| b.hash == hash && b.status == "immature"))
            .unwrap_or(false)
    })
    .await;
    let balances = pool::treasury::reports::balances(&ledger).expect("balances");
    let immature: i64 = balances.iter().map(|b| b.immature).sum();
    assert_eq!(immature, reward as i64, "the entries sum to the reward");
    let partner = balances
        .iter()
        .find(|b| b.kind == "partner")
        .expect("partner account");
    assert_eq!(
        partner.immature,
        reward as i64 / 5,
        "20 % to the site's partner"
    );
    assert!(
        ledger.declared_blocks().expect("declared").is_empty(),
        "the declared record is gone once credited"
    );
    // The pool kept the block in its work journal until the ledger held it.
    let journal = dir.join("treasury.db.work-journal");
    let kept: Vec<_> = std::fs::read_dir(&journal)
        .expect("the pool's work journal")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("declared-"))
        .collect();
    assert!(kept.is_empty(), "journal copy removed: {kept:?}");
    drop(miner);
    lp.tracker.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn falls_back_to_solo_when_the_pool_goes_away_without_dropping_miners() {
    let (node_a, node_b) = twin_standins(110).await;
    let Site {
        jds,
        pool,
        mut jdc,
        down_key,
    } = start_site(&node_a, &node_b, "[fallback]\nretry_secs = 3600\n").await;
    let mut cfg = Sv2MinerConfig::new(jdc.downstream_addr.to_string(), down_key.xonly, "site.rig2");
    cfg.mode = ChannelMode::Extended;
    cfg.nominal_hash_rate = 1e6;
    let miner = spawn(cfg).expect("miner starts");
    wait_for("a pooled block", Duration::from_secs(60), || {
        !node_b.submitted_blocks().is_empty()
    })
    .await;
    assert_eq!(get(&jdc.stats.fallbacks), 0);

    // The pool goes away.
    drop(pool);
    assert_eq!(
        jdc.wait_mode(Duration::from_secs(20), |m| m == Mode::Solo)
            .await,
        Some(Mode::Solo)
    );
    assert_eq!(get(&jdc.stats.fallbacks), 1);
    let solo_script = solo_address().script_pubkey();
    wait_for("a solo block on node A", Duration::from_secs(60), || {
        node_a.submitted_blocks().iter().any(|b| {
            b.coinbase_outputs
                .iter()
                .any(|o| o.script_pubkey == solo_script && o.value.to_sat() > 0)
        })
    })
    .await;
    // Solo blocks pay nothing to the pool.
    let solo_block = node_a
        .submitted_blocks()
        .into_iter()
        .find(|b| {
            b.coinbase_outputs
                .iter()
                .any(|o| o.script_pubkey == solo_script)
        })
        .unwrap();
    assert!(solo_block
        .coinbase_outputs
        .iter()
        .all(|o| o.script_pubkey != pool_address().script_pubkey()));
    // The miner kept its one connection and channel throughout.
    let stats = miner.stats();
    assert_eq!(stats.connections, 1, "{stats:?}");
    assert_eq!(stats.open_connections, 1);
    assert_eq!(stats.reconnects, 0);
    assert_eq!(stats.open_channels, 1);
    assert!(stats.shares_accepted >= 2);
    miner.stop();
    drop(jds);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejecting_upstream_is_left_for_the_next_one() {
    let (node_a, node_b) = twin_standins(110).await;
    // Upstream 0: its JDS signs with another secret than its pool checks, so the pool refuses
    // every custom job. Upstream 1 is consistent.
    let other_secret = "11".repeat(32);
    let (jds0, jds0_key) = start_jds(&node_b, &other_secret, "").await;
    let (pool0, pool0_key) = start_pool(&node_b, Some(SECRET)).await;
    let (jds1, jds1_key) = start_jds(&node_b, SECRET, "").await;
    let (pool1, pool1_key) = start_pool(&node_b, Some(SECRET)).await;
    let (mut jdc, _) = start_jdc(
        &node_a,
        &[
            Up {
                pool: &pool0,
                pool_key: &pool0_key,
                jds: &jds0,
                jds_key: &jds0_key,
            },
            Up {
                pool: &pool1,
                pool_key: &pool1_key,
                jds: &jds1,
                jds_key: &jds1_key,
            },
        ],
        "",
    )
    .await;
    assert_eq!(
        jdc.wait_mode(Duration::from_secs(30), |m| m
            == Mode::Pooled { upstream: 1 })
            .await,
        Some(Mode::Pooled { upstream: 1 })
    );
    wait_for(
        "a custom job at the second pool",
        Duration::from_secs(20),
        || get(&jdc.stats.custom_jobs_set) >= 1,
    )
    .await;
    assert_eq!(get(&jdc.stats.fallbacks), 1);
    assert!(get(&jds0.stats.declarations_accepted) >= 1);
    assert!(get(&jds1.stats.declarations_accepted) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mines_solo_when_no_upstream_answers() {
    let node_a = standin(110).await;
    // A pool address nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let down = authority();
    let key = authority();
    let text = jdc_config(&node_a, &down, &[], "")
        + &format!(
            r#"
[[upstream]]
pool_address = "{addr}"
pool_authority_public_key = "{}"
jds_address = "{addr}"
jds_authority_public_key = "{}"
user_identity = "site.jdc1"
"#,
            key.public, key.public
        );
    let mut jdc = jd_client::start_jdc(JdcConfig::parse(&text).unwrap())
        .await
        .unwrap();
    assert_eq!(
        jdc.wait_mode(Duration::from_secs(20), |m| m == Mode::Solo)
            .await,
        Some(Mode::Solo)
    );
    let mut cfg = Sv2MinerConfig::new(jdc.downstream_addr.to_string(), down.xonly, "site.rig3");
    cfg.max_shares = Some(1);
    cfg.nominal_hash_rate = 1e3;
    let miner = spawn(cfg).unwrap();
    wait_for("a solo block", Duration::from_secs(60), || {
        !node_a.submitted_blocks().is_empty()
    })
    .await;
    let b = &node_a.submitted_blocks()[0];
    let solo = solo_address().script_pubkey();
    assert!(b.coinbase_outputs.iter().any(|o| o.script_pubkey == solo));
    // Counted once submitblock returns, which may be just after the node has the block.
    wait_for("the block counted", Duration::from_secs(20), || {
        get(&jdc.stats.blocks_accepted) >= 1
    })
    .await;
    assert_eq!(get(&jdc.stats.blocks_accepted), 1);
    let _ = miner.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sv1_miners_behind_the_translator_mine_declared_jobs() {
    let (node_a, node_b) = twin_standins(110).await;
    for t in &TxFactory::with_seed(42).batch(3) {
        node_a.add_fabricated(t).unwrap();
        node_b.add_fabricated(t).unwrap();
    }
    let Site {
        jds: _jds,
        pool: _pool,
        jdc,
        down_key,
    } = start_site(&node_a, &node_b, "").await;
    // The translator speaks SV2 to the job declarator client exactly as to a pool.
    let text = format!(
        r#"
[translator]
site = "fra1"
listen = "127.0.0.1:0"
channel_mode = "aggregate"

[[upstream]]
address = "{}"
authority_public_key = "{}"

[vardiff]
share_interval_secs = 0.5
initial_difficulty = 0.0001
min_difficulty = 0.0001
max_difficulty = 0.001
"#,
        jdc.downstream_addr, down_key.public
    );
    let settings = translator::TranslatorConfig::parse(&text)
        .and_then(|c| c.validate())
        .expect("translator config");
    let t = translator::start_translator(settings)
        .await
        .expect("translator starts");
    t.wait_for(Duration::from_secs(15), |s| s.mining)
        .await
        .expect("translator gets work from the job declarator client");
    let mut cfg = test_utils::miner::sv1::Sv1MinerConfig::new(t.local_addr.to_string(), "fra1.s19");
    cfg.max_shares = Some(1);
    let miner = test_utils::miner::sv1::spawn(cfg).expect("sv1 miner starts");
    wait_for("the block on both nodes", Duration::from_secs(60), || {
        !node_a.submitted_blocks().is_empty() && !node_b.submitted_blocks().is_empty()
    })
    .await;
    assert_eq!(
        node_a.submitted_blocks()[0].hash,
        node_b.submitted_blocks()[0].hash
    );
    assert_eq!(get(&jdc.stats.fallbacks), 0);
    let _ = miner.join().await;
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_block_the_pool_side_sees_late_does_not_drop_the_upstream() {
    let (node_a, node_b) = twin_standins(110).await;
    let Site {
        jds,
        pool: _pool,
        jdc,
        down_key: _,
    } = start_site(&node_a, &node_b, "").await;
    let before = get(&jdc.stats.custom_jobs_set);
    // Another miner's block reaches the site's node first, the pool's node 2.5 s later
    // (longer than the JDS waits for its node: the JDC has to declare again).
    let hash = node_a.mine_empty_block().unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let block = node_a.block(&hash).unwrap();
    let outcome = node(&node_b)
        .submit_block(bitcoin::consensus::encode::serialize_hex(&block))
        .await
        .unwrap();
    assert!(outcome.is_valid_block(), "{outcome:?}");
    wait_for(
        "a custom job on the new tip",
        Duration::from_secs(20),
        || get(&jdc.stats.custom_jobs_set) > before,
    )
    .await;
    assert_eq!(get(&jdc.stats.fallbacks), 0);
    assert_eq!(*jdc.mode.borrow(), Mode::Pooled { upstream: 0 });
    assert!(
        get(&jds.stats.declarations_rejected) >= 1,
        "the JDS refused the early declaration"
    );
}
