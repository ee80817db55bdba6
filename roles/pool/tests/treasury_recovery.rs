//! Recovery of a lost block far behind the tip: the pool found a block the ledger never heard
//! of (a pool without the ledger stands for one killed between the node accepting the block and
//! the ledger recording it), then the chain went on for many more blocks than
//! `recovery_scan_limit`. The chain tracker resumes its scan where it stopped, a limited
//! number of blocks per round, and still records the block, once.

mod treasury_support;

use std::sync::Arc;
use std::time::Duration;

use bitcoin::hashes::Hash;
use pool::accounting::{MemorySink, WorkSink};
use pool::config::PoolConfig;
use pool::treasury::reports;
use test_utils::bitcoind::{StandIn, StandInConfig};
use treasury_support::miner::Miner;
use treasury_support::{authority, temp_dir, treasury_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_block_far_below_the_tip_is_still_recovered() {
    let standin = StandIn::start(StandInConfig::default())
        .await
        .expect("stand-in");
    let (xonly, pub_s, sec_s) = authority();
    let db = temp_dir("recovery").join("ledger.db");
    let text = treasury_config(
        &standin.url(),
        "127.0.0.1:0",
        &pub_s,
        &sec_s,
        &db.display().to_string(),
    )
    .replacen("[treasury]\n", "[treasury]\nrecovery_scan_limit = 5\n", 1);
    let cfg = PoolConfig::parse(&text).expect("config");
    let ledger = tokio::task::block_in_place(|| pool::treasury::open_ledger(&cfg))
        .expect("ledger opens")
        .expect("configured");
    // The ledger knows the chain up to here (a new ledger notes it before any job is served).
    ledger
        .serving_from(standin.tip().height.into())
        .expect("scan start");

    // A pool that does not record into this ledger finds a block.
    let sink: Arc<dyn WorkSink> = Arc::new(MemorySink::default());
    let mut pool = pool::start_pool(cfg.clone(), sink).await.expect("pool");
    assert!(pool.wait_for_job(Duration::from_secs(10)).await);
    let mut m = Miner::connect(pool.local_addr, xonly, "fra1.lost")
        .await
        .expect("miner");
    m.sync_to(standin.tip().hash.to_byte_array())
        .await
        .expect("miner follows the tip");
    assert!(m.submit_share().await.expect("submit"), "share accepted");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while standin.submitted_blocks().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no block");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lost = standin.submitted_blocks()[0].hash.to_string();
    drop(m);
    pool.shutdown();

    // The chain goes on: the lost block ends up 4 x recovery_scan_limit below the tip.
    standin.mine_blocks(20).expect("more blocks");
    assert!(!ledger.has_block(&lost).expect("ledger"));

    let _tracker = pool::treasury::start_tracker(&cfg, ledger.clone())
        .await
        .expect("tracker");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !ledger.has_block(&lost).expect("ledger") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lost block was never recovered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let blocks = reports::blocks(&ledger, None, 100).expect("blocks");
    assert_eq!(blocks.len(), 1, "only the pool's block: {blocks:?}");
    assert_eq!(blocks[0].hash, lost);
    assert_eq!(blocks[0].source, "recovered");
    assert_eq!(blocks[0].reward_sats, 5_000_000_000);
}
