//! End to end over real TCP (SV1) and TCP + Noise (SV2): SV1 CPU miners → translator →
//! pool → bitcoind stand-in. Blocks are accepted by the stand-in and the pool's work sink
//! credits the configured site; version-rolled shares produce blocks with the rolled bits.

mod common;

use std::time::Duration;

use common::{
    authority, eventually, mining_translator, settings, start_pool, start_translator, RawMiner,
};
use test_utils::miner::sv1::{spawn as spawn_sv1, Sv1MinerConfig};

fn miner(addr: std::net::SocketAddr, user: &str) -> Sv1MinerConfig {
    let mut c = Sv1MinerConfig::new(addr.to_string(), user);
    c.max_shares = Some(40);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_channel_blocks_are_credited_to_the_site() {
    let kp = authority();
    let env = start_pool("127.0.0.1:0", &kp).await;
    let start_height = env.standin.tip().height;
    let t = mining_translator("siteA", &env).await;

    let miners: Vec<_> = ["acct.rig1", "siteA.rig2"]
        .iter()
        .map(|u| {
            let mut c = miner(t.local_addr, u);
            c.max_shares = None;
            spawn_sv1(c).expect("miner starts")
        })
        .collect();
    for m in &miners {
        let s = m
            .wait_for(Duration::from_secs(60), |s| s.shares_accepted >= 3)
            .await;
        assert!(s.is_some(), "miner gets shares accepted: {:?}", m.stats());
    }
    assert!(t
        .wait_for(Duration::from_secs(5), |s| s.ready == 2)
        .await
        .is_some());
    eventually(
        Duration::from_secs(30),
        "blocks accepted by the stand-in",
        || env.standin.tip().height >= start_height + 2,
    )
    .await;
    let blocks = env.standin.submitted_blocks();
    assert!(blocks.len() >= 2);
    // Every block is on the chain the stand-in accepted.
    for b in &blocks {
        assert_eq!(env.standin.block_hash(b.height), Some(b.hash));
    }
    eventually(Duration::from_secs(20), "work credited to siteA", || {
        env.sink.difficulty_by_site().contains_key("siteA")
    })
    .await;
    for r in env.sink.work() {
        assert_eq!(r.worker.site, "siteA");
        assert_eq!(r.worker.worker, "translator");
    }
    eventually(
        Duration::from_secs(20),
        "found blocks reach the sink",
        || !env.sink.blocks().is_empty(),
    )
    .await;
    assert!(env.sink.blocks().iter().all(|b| b.finder.site == "siteA"));

    let st = t.status().borrow().clone();
    assert!(st.counters.forwarded > 0);
    assert!(st.counters.upstream_accepted > 0);
    assert!(st.counters.block_candidates > 0);
    for m in miners {
        let stats = m.stop_and_join().await.expect("miner ends cleanly");
        assert_eq!(stats.connections, 1, "never reconnected");
        assert_eq!(
            stats.rejected_by_reason.get("23"),
            None,
            "no low-difficulty rejects"
        );
    }
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_miner_channels_credit_each_worker() {
    let kp = authority();
    let env = start_pool("127.0.0.1:0", &kp).await;
    let t = start_translator(settings(
        "siteB",
        "per-miner",
        &[(env.address(), env.authority)],
        "",
        "",
    ))
    .await;
    t.wait_for(Duration::from_secs(15), |s| s.upstream.is_some())
        .await
        .expect("upstream connected");
    let miners: Vec<_> = ["acct.rig1", "rig2"]
        .iter()
        .map(|u| spawn_sv1(miner(t.local_addr, u)).expect("miner starts"))
        .collect();
    for m in &miners {
        assert!(m
            .wait_for(Duration::from_secs(60), |s| s.shares_accepted >= 3)
            .await
            .is_some());
    }
    eventually(Duration::from_secs(30), "both workers credited", || {
        let work = env.sink.work();
        ["rig1", "rig2"].iter().all(|w| {
            work.iter()
                .any(|r| r.worker.site == "siteB" && r.worker.worker == *w)
        })
    })
    .await;
    for m in miners {
        m.stop_and_join().await.expect("miner ends cleanly");
    }
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_rolled_share_becomes_a_block_with_the_rolled_bits() {
    let kp = authority();
    let env = start_pool("127.0.0.1:0", &kp).await;
    let t = mining_translator("siteC", &env).await;
    let mut m = RawMiner::connect(t.local_addr).await;
    m.handshake("siteC.raw").await;
    assert_eq!(m.mask, 0x1fff_e000, "the pool's BIP320 bits are granted");
    let rolled_bits = 0x0a5a_e000 & m.mask;
    let version = m.mine_accepted_share(rolled_bits).await;
    assert_eq!(version & 0x1fff_e000, rolled_bits);
    eventually(
        Duration::from_secs(20),
        "a block with the rolled version",
        || {
            env.standin
                .submitted_blocks()
                .iter()
                .any(|b| b.block.header.version.to_consensus() as u32 == version)
        },
    )
    .await;
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_sends_client_reconnect() {
    let kp = authority();
    let env = start_pool("127.0.0.1:0", &kp).await;
    let t = mining_translator("siteD", &env).await;
    let mut m = RawMiner::connect(t.local_addr).await;
    m.handshake("siteD.raw").await;
    t.shutdown().await;
    let mut got_reconnect = false;
    while let Some(msg) = m.next().await {
        if matches!(
            msg,
            sv1::ServerMessage::Notification(sv1::Notification::Reconnect(_))
        ) {
            got_reconnect = true;
        }
    }
    assert!(got_reconnect, "client.reconnect before the socket closes");
}
