//! Interoperability with an independent implementation: SRI's pool (`pool_sv2` 0.7.0 from
//! crates.io, installed by `.ci/run`) takes its templates from the bitcoind stand-in's Template
//! Provider; our translator connects upstream to it over Noise with SRI's authority key; an SV1
//! CPU miner connects to the translator. Jobs flow, shares are accepted, and a block paying
//! SRI's reward script reaches the stand-in through SRI's SubmitSolution.

mod common;

use std::time::Duration;

use common::{settings, start_translator};
use test_utils::bitcoind::{StandIn, StandInConfig};
use test_utils::fixtures::{regtest_address, Authority};
use test_utils::miner::sv1::{spawn as spawn_sv1, Sv1MinerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_translator_mines_on_sri_pool() {
    let Some(bin) = test_utils::sri::pool_binary() else {
        return;
    };
    // Above height 16, so the BIP34 height is a data push in every implementation.
    let node = StandIn::start(StandInConfig {
        premine: 110,
        ..Default::default()
    })
    .await
    .expect("stand-in");
    let tp_authority = Authority::generate();
    let tp = node
        .start_template_provider(
            sv2_noise::ServerKeys::from_authority(tp_authority.keypair, Duration::from_secs(3600)),
            "127.0.0.1:0".parse().expect("address"),
        )
        .await
        .expect("template provider");
    let pool_authority = Authority::generate();
    let payout = regtest_address(7);
    let sri = test_utils::sri::start_pool(
        &bin,
        "sri-pool",
        (&pool_authority.public, &pool_authority.secret),
        &format!("addr({payout})"),
        tp.local_addr,
        &tp_authority.public,
    )
    .await;

    let t = start_translator(settings(
        "sri-site",
        "aggregate",
        &[(sri.addr.to_string(), pool_authority.xonly)],
        "",
        "",
    ))
    .await;
    if t.wait_for(Duration::from_secs(30), |s| s.mining)
        .await
        .is_none()
    {
        panic!("no work from SRI's pool; its log:\n{}", sri.log_tail(60));
    }

    let mut cfg = Sv1MinerConfig::new(t.local_addr.to_string(), "sri-site.cpu1");
    cfg.duration = Some(Duration::from_secs(90));
    let miner = spawn_sv1(cfg).expect("sv1 miner");
    let mut found = false;
    for _ in 0..900 {
        if !node.submitted_blocks().is_empty() && miner.stats().shares_accepted > 0 {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = miner.stats();
    miner.stop();
    let status = t.status().borrow().clone();
    assert!(
        found,
        "no block through SRI's pool: miner {stats:?}, translator {:?}, submissions {:?}; SRI log:\n{}",
        status.counters,
        node.submissions(),
        sri.log_tail(60)
    );
    assert!(stats.jobs_received > 0);
    assert!(
        status.counters.upstream_accepted > 0,
        "{:?}",
        status.counters
    );
    let block = &node.submitted_blocks()[0];
    assert!(
        block
            .coinbase_outputs
            .iter()
            .any(|o| o.script_pubkey == payout.script_pubkey() && o.value.to_sat() > 0),
        "the block pays SRI's reward script: {:?}",
        block.coinbase_outputs
    );
    assert_eq!(node.block_hash(block.height), Some(block.hash));
    sri.stop().await;
    drop(tp);
}
