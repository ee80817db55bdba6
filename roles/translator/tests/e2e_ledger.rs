//! SV1 CPU miner → translator (site `lyon1`) → pool with the SQLite treasury ledger → bitcoind
//! stand-in: the block the stand-in accepts is credited by the ledger to the translator's site
//! and split with that site's hosting partner.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{authority, eventually, settings, start_translator};
use pool::accounting::WorkSink;
use pool::config::PoolConfig;
use pool::treasury::reports;
use test_utils::bitcoind::{StandIn, StandInConfig};
use test_utils::miner::sv1::{spawn as spawn_sv1, Sv1MinerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translator_blocks_are_credited_to_its_site_in_the_ledger() {
    let standin = StandIn::start(StandInConfig::default())
        .await
        .expect("stand-in");
    let kp = authority();
    let (xonly, _) = kp.x_only_public_key();
    let dir = std::env::temp_dir().join(format!("translator-ledger-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("treasury.db");
    let _ = std::fs::remove_file(&db);
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let sk = bitcoin::secp256k1::SecretKey::from_slice(&[11; 32]).expect("key");
    let payout = bitcoin::Address::p2wpkh(
        &bitcoin::CompressedPublicKey(sk.public_key(&secp)),
        bitcoin::Network::Regtest,
    );
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
authority_public_key = "{pubkey}"
authority_secret_key = "{secret}"
pool_tag = "/translator-ledger/"

[bitcoind]
url = "{url}"
user = "pool"
password = "poolpass"
poll_interval_ms = 100

[[payout]]
address = "{payout}"
account = "main"

[mining]
share_ack_batch = 1
share_ack_interval_ms = 20
initial_difficulty = 0.00001
min_difficulty = 0.000001

[accounting]
flush_interval_secs = 1

[metrics]
listen = ""

[treasury]
database = "{db}"

[[site]]
id = "lyon1"
name = "Lyon 1"
country = "FR"
partner = "rhonehost"
partner_share = 0.25
"#,
        pubkey = sv2_noise::encode_public_key(&xonly),
        secret = sv2_noise::encode_secret_key(&kp.secret_key()),
        url = standin.url(),
        db = db.display(),
    );
    let cfg = PoolConfig::parse(&text).expect("pool config");
    let ledger = tokio::task::block_in_place(|| pool::treasury::open_ledger(&cfg))
        .expect("ledger opens")
        .expect("ledger configured");
    let sink: Arc<dyn WorkSink> = ledger.clone();
    let mut pool = pool::start_pool(cfg.clone(), sink).await.expect("pool");
    assert!(pool.wait_for_job(Duration::from_secs(10)).await);
    let _tracker = pool::treasury::start_tracker(&cfg, ledger.clone())
        .await
        .expect("tracker");

    let t = start_translator(settings(
        "lyon1",
        "aggregate",
        &[(pool.local_addr.to_string(), xonly)],
        "",
        "",
    ))
    .await;
    t.wait_for(Duration::from_secs(15), |s| s.mining)
        .await
        .expect("translator mining");
    let miner = spawn_sv1(Sv1MinerConfig::new(
        t.local_addr.to_string(),
        "acct.s19-001",
    ))
    .expect("sv1 miner");

    let l = ledger.clone();
    eventually(
        Duration::from_secs(60),
        "a block credited by the ledger",
        || {
            reports::blocks(&l, None, 10)
                .map(|b| b.iter().any(|b| b.status == "immature"))
                .unwrap_or(false)
        },
    )
    .await;
    miner.stop();
    // Blocks found just before the miner stopped are still being credited (a fast miner finds
    // many on regtest): read the ledger once every credit has landed, i.e. the immature
    // balances equal the rewards of every immature block and stay so for a flush interval.
    let settled = |l: &pool::treasury::Ledger| -> Option<i64> {
        let blocks = reports::blocks(l, None, 100_000).ok()?;
        let rewards: i64 = blocks
            .iter()
            .filter(|b| b.status == "immature")
            .map(|b| b.reward_sats)
            .sum();
        let credits: i64 = reports::balances(l).ok()?.iter().map(|b| b.immature).sum();
        (rewards == credits).then_some(rewards)
    };
    let mut last = None;
    eventually(Duration::from_secs(30), "the ledger settles", || {
        std::thread::sleep(Duration::from_millis(1200));
        let now = settled(&ledger);
        let stable = now.is_some() && now == last;
        last = now;
        stable
    })
    .await;
    let accepted = standin.submitted_blocks();
    let blocks = reports::blocks(&ledger, None, 100_000).expect("blocks");
    let credited: Vec<_> = blocks.iter().filter(|b| b.status == "immature").collect();
    for b in &credited {
        assert!(
            accepted.iter().any(|a| a.hash.to_string() == b.hash),
            "credited block was accepted by the node"
        );
        assert_eq!(
            b.sites,
            vec![("lyon1".to_owned(), b.reward_sats)],
            "all work came from lyon1"
        );
    }
    let total: i64 = credited.iter().map(|b| b.reward_sats).sum();
    let bal = reports::balances(&ledger).expect("balances");
    let partner = bal
        .iter()
        .find(|b| b.account == "partner/rhonehost")
        .expect("partner account");
    assert_eq!(
        partner.immature,
        total / 4,
        "partner gets 25% of lyon1's reward"
    );
    let all: i64 = bal.iter().map(|b| b.immature).sum();
    assert_eq!(all, total, "credits sum to the rewards exactly");
}
