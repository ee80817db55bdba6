//! Interoperability with an independent implementation: SRI's job declarator client
//! (`jd_client_sv2` 0.6.0 from crates.io, installed by `.ci/run`) takes templates from the
//! bitcoind stand-in's Template Provider, declares them to our JDS and sets them as custom jobs
//! on our pool (one authority key for both, as SRI's config has it). Our SV2 CPU miner mines
//! through it; the JDS accepts the declarations, the pool accepts shares on the custom jobs,
//! and the block found reaches the stand-in.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use jd_server::JdsConfig;
use test_utils::miner::sv2::{spawn, ChannelMode, Sv2MinerConfig};
use test_utils::sri::JdcUpstream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sri_jdc_declares_to_our_jds_and_mines_on_our_pool() {
    let Some(bin) = test_utils::sri::jdc_binary() else {
        return;
    };
    // One node for the client's templates and for the pool side; above height 16 so the BIP34
    // height is a data push.
    let node = standin(110).await;
    node.add_random_mempool_txs(4).expect("mempool");

    // Pool and JDS share one authority key and the token secret.
    let auth = authority();
    let jds_cfg = JdsConfig::parse(&jds_config(&node, &auth, SECRET, "")).expect("jds config");
    let jds = jd_server::start_jds(jds_cfg).await.expect("jds starts");
    let pool_cfg = pool::config::PoolConfig::parse(&pool_config(&node, &auth, Some(SECRET)))
        .expect("pool config");
    let mut pool = pool::start_pool(pool_cfg, Arc::new(pool::accounting::MemorySink::default()))
        .await
        .expect("pool starts");
    assert!(pool.wait_for_job(Duration::from_secs(10)).await);

    let tp_auth = authority();
    let tp = node
        .start_template_provider(
            sv2_noise::ServerKeys::from_authority(tp_auth.keypair, Duration::from_secs(3600)),
            "127.0.0.1:0".parse().expect("address"),
        )
        .await
        .expect("template provider");
    let jdc_auth = authority();
    let miner_payout = address(9);
    let jdc = test_utils::sri::start_jdc(
        &bin,
        "sri-jdc",
        (&jdc_auth.public, &jdc_auth.secret),
        &JdcUpstream {
            pool: pool.local_addr,
            jds: jds.local_addr,
            authority_key: &auth.public,
            user_identity: "sri-site.jdc",
        },
        &format!("addr({miner_payout})"),
        tp.local_addr,
        &tp_auth.public,
    )
    .await;

    let mut cfg = Sv2MinerConfig::new(jdc.addr.to_string(), jdc_auth.xonly, "sri-site.cpu");
    cfg.mode = ChannelMode::Extended;
    cfg.duration = Some(Duration::from_secs(90));
    let miner = spawn(cfg).expect("sv2 miner");

    let start_height = node.tip().height;
    let mut done = false;
    for _ in 0..900 {
        if jds.stats.declarations_accepted.load(Ordering::Relaxed) >= 1
            && node.tip().height > start_height
            && miner.stats().shares_accepted > 0
        {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = miner.stats();
    miner.stop();
    assert!(
        done,
        "declarations accepted {}, rejected {}, height {} (from {start_height}), miner {stats:?}, submissions {:?}; SRI JDC log:\n{}",
        jds.stats.declarations_accepted.load(Ordering::Relaxed),
        jds.stats.declarations_rejected.load(Ordering::Relaxed),
        node.tip().height,
        node.submissions(),
        jdc.log_tail(80)
    );
    // The block on the node pays the pool's required output.
    let blocks = node.submitted_blocks();
    assert!(!blocks.is_empty());
    assert!(
        blocks[0]
            .coinbase_outputs
            .iter()
            .any(|o| o.script_pubkey == pool_address().script_pubkey() && o.value.to_sat() > 0),
        "the declared coinbase pays the pool: {:?}",
        blocks[0].coinbase_outputs
    );
    jdc.stop().await;
    drop(tp);
}
