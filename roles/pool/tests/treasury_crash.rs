//! Crash safety: the real `sv2-pool` binary runs with a SQLite ledger against a bitcoind
//! stand-in while a CPU miner finds blocks (every regtest share is a block); the pool is
//! SIGKILLed at random moments, restarted, and at the end the ledger must hold every block the
//! stand-in accepted exactly once, all credited, with balances equal to the sum of entries.

mod treasury_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::rand::Rng;
use pool::config::PoolConfig;
use pool::treasury::ledger::Ledger;
use pool::treasury::reports;
use pool::treasury::settings::LedgerSettings;
use test_utils::bitcoind::{StandIn, StandInConfig};
use treasury_support::process::{connect_when_up, free_addr, spawn_pool};
use treasury_support::{authority, temp_dir, treasury_config};

fn open(settings: &LedgerSettings) -> Ledger {
    Ledger::open(settings.clone()).expect("ledger opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_and_doubles_nothing() {
    let standin = StandIn::start(StandInConfig::default())
        .await
        .expect("stand-in");
    let dir = temp_dir("crash");
    let db = dir.join("ledger.db");
    let (key, pub_s, sec_s) = authority();
    let addr = free_addr();
    let text = treasury_config(
        &standin.url(),
        &addr.to_string(),
        &pub_s,
        &sec_s,
        &db.display().to_string(),
    );
    let config = dir.join("pool.toml");
    std::fs::write(&config, &text).expect("config written");
    let settings =
        LedgerSettings::from_config(&PoolConfig::parse(&text).expect("valid")).expect("treasury");

    let mut rng = bitcoin::secp256k1::rand::thread_rng();
    let mut kills = 0;
    for round in 0..6 {
        let mut child = spawn_pool(&config, &dir.join(format!("pool-{round}.log")));
        let id = if round % 2 == 0 {
            "fra1.crash"
        } else {
            "ams2.crash"
        };
        let mut m = connect_when_up(addr, key, id).await;
        let kill_after = Duration::from_millis(rng.gen_range(200..2500));
        let mining = async {
            let mut found = 0u32;
            loop {
                let tip = standin.tip().hash.to_byte_array();
                if let Err(e) = m.sync_to(tip).await {
                    eprintln!("miner: {e}");
                    break;
                }
                match m.submit_share().await {
                    Ok(true) => found += 1,
                    Ok(false) => {}
                    Err(e) => {
                        eprintln!("miner: {e}");
                        break;
                    }
                }
            }
            found
        };
        tokio::select! {
            _ = tokio::time::sleep(kill_after) => {}
            _ = mining => {}
        }
        child.sigkill();
        kills += 1;
        eprintln!(
            "round {round}: killed after {kill_after:?}, stand-in has {} blocks from the pool",
            standin.submitted_blocks().len()
        );
    }
    assert_eq!(kills, 6);
    let accepted: BTreeSet<String> = standin
        .submitted_blocks()
        .iter()
        .map(|b| b.hash.to_string())
        .collect();
    assert!(
        accepted.len() >= 3,
        "the miner found blocks ({})",
        accepted.len()
    );

    // A last start recovers and credits whatever the kills interrupted.
    let mut child = spawn_pool(&config, &dir.join("pool-final.log"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let ledger = loop {
        let l = tokio::task::block_in_place(|| open(&settings));
        let blocks = reports::blocks(&l, None, 100_000).unwrap();
        let hashes: BTreeSet<String> = blocks.iter().map(|b| b.hash.clone()).collect();
        let settled = blocks.iter().all(|b| b.status != "pending");
        if hashes == accepted && settled {
            break l;
        }
        assert!(
            Instant::now() < deadline,
            "ledger {} blocks ({} pending), stand-in accepted {}; missing {:?}, extra {:?}",
            hashes.len(),
            blocks.iter().filter(|b| b.status == "pending").count(),
            accepted.len(),
            accepted.difference(&hashes).collect::<Vec<_>>(),
            hashes.difference(&accepted).collect::<Vec<_>>()
        );
        drop(l);
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    child.sigkill();

    // Exactly once, all credited, sums exact.
    let blocks = reports::blocks(&ledger, None, 100_000).unwrap();
    assert_eq!(blocks.len(), accepted.len(), "no block twice");
    let rewards: i64 = blocks.iter().map(|b| b.reward_sats).sum();
    let held: i64 = reports::balances(&ledger)
        .unwrap()
        .iter()
        .map(|b| b.immature + b.mature + b.orphaned)
        .sum();
    assert_eq!(held, rewards, "every satoshi of every block credited once");
    let audit = ledger.audit().unwrap();
    assert!(audit.is_clean(), "balances == sum of entries: {audit:?}");
    let recovered = blocks.iter().filter(|b| b.source == "recovered").count();
    eprintln!(
        "{} blocks, {recovered} recovered by the chain scan, {} entries",
        blocks.len(),
        audit.entries
    );
}
