//! Interoperability with an independent implementation: SRI's translator (`translator_sv2`
//! 0.6.0 from crates.io, installed by `.ci/run`) connects upstream to our pool over Noise with
//! our authority key; an SV1 CPU miner connects to it; jobs flow, shares are accepted and a
//! block is found on the bitcoind stand-in.

mod common;

use std::time::Duration;

use common::start;
use test_utils::miner::sv1::{spawn as spawn_sv1, Sv1MinerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sri_translator_mines_on_our_pool() {
    let Some(bin) = test_utils::sri::binary() else {
        return;
    };
    let env = start(0, "initial_difficulty = 0.00001\nmin_difficulty = 0.000001").await;
    let key = sv2_noise::encode_public_key(&env.authority);
    let sri = test_utils::sri::start(
        &bin,
        "sri-tproxy",
        env.pool.local_addr,
        &key,
        "sri-site.tproxy",
    )
    .await;

    let mut cfg = Sv1MinerConfig::new(sri.addr.to_string(), "sri-site.cpu1");
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
    sri.stop().await;
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
