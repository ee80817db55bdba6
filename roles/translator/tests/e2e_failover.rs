//! Failover between two pools (each with its own authority key and bitcoind stand-in) while
//! SV1 miners stay connected: the first pool is down at start, comes up (the translator
//! returns to it), goes down (the translator moves to the backup). Miners never reconnect and
//! keep getting shares accepted on whichever pool is in use. A backup pool with less
//! extranonce space makes extranonce2 shrink: `mining.set_extranonce` for miners that
//! subscribed to it, `client.reconnect` for the others.

mod common;

use std::time::Duration;

use common::{authority, eventually, settings, start_pool, start_translator};
use test_utils::miner::sv1::{spawn as spawn_sv1, Sv1MinerConfig};
use test_utils::miner::MinerHandle;

/// A free port below the ephemeral range: connecting to a closed ephemeral port on loopback
/// can self-connect (the kernel picks the same port as the source), which would occupy it.
fn free_port() -> u16 {
    let start = 20_000 + (std::process::id() % 5_000) as u16;
    (start..30_000)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port")
}

async fn accepted_more(m: &MinerHandle, by: u64, what: &str) {
    let base = m.stats().shares_accepted;
    let got = m
        .wait_for(Duration::from_secs(60), |s| s.shares_accepted >= base + by)
        .await;
    assert!(got.is_some(), "{what}: {:?}", m.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miners_stay_connected_across_failover_and_back() {
    let kp_a = authority();
    let kp_b = authority();
    let port_a = free_port();
    let addr_a = format!("127.0.0.1:{port_a}");
    let (xa, _) = kp_a.x_only_public_key();
    let env_b = start_pool("127.0.0.1:0", &kp_b).await;
    let t = start_translator(settings(
        "siteF",
        "aggregate",
        &[(addr_a.clone(), xa), (env_b.address(), env_b.authority)],
        "",
        "",
    ))
    .await;
    // Primary down: the backup serves.
    t.wait_for(Duration::from_secs(15), |s| {
        s.upstream == Some(1) && s.mining
    })
    .await
    .expect("translator on the backup pool");
    let miners: Vec<MinerHandle> = ["acct.rig1", "acct.rig2"]
        .iter()
        .map(|u| spawn_sv1(Sv1MinerConfig::new(t.local_addr.to_string(), *u)).expect("miner"))
        .collect();
    for m in &miners {
        accepted_more(m, 3, "shares on the backup").await;
    }
    let b_height = env_b.standin.tip().height;
    eventually(Duration::from_secs(20), "blocks on the backup", || {
        env_b.standin.tip().height > 0
    })
    .await;

    // The primary comes up: the translator probes it and switches back.
    let env_a = start_pool(&addr_a, &kp_a).await;
    let st = t
        .wait_for(Duration::from_secs(20), |s| {
            s.upstream == Some(0) && s.mining
        })
        .await
        .expect("translator back on the primary");
    assert!(st.failovers >= 1);
    for m in &miners {
        accepted_more(m, 3, "shares on the primary").await;
    }
    eventually(Duration::from_secs(20), "blocks on the primary", || {
        env_a.standin.tip().height > 0
    })
    .await;
    eventually(Duration::from_secs(20), "primary credits siteF", || {
        env_a.sink.difficulty_by_site().contains_key("siteF")
    })
    .await;

    // The primary dies: back to the backup, miners untouched.
    let b_before = env_b.standin.tip().height.max(b_height);
    env_a.pool.shutdown();
    t.wait_for(Duration::from_secs(20), |s| {
        s.upstream == Some(1) && s.mining
    })
    .await
    .expect("translator on the backup again");
    for m in &miners {
        accepted_more(m, 3, "shares on the backup after failover").await;
    }
    eventually(Duration::from_secs(20), "new blocks on the backup", || {
        env_b.standin.tip().height > b_before
    })
    .await;

    for m in miners {
        let s = m.stop_and_join().await.expect("miner ends cleanly");
        assert_eq!(s.connections, 1, "the SV1 socket stayed open: {s:?}");
        assert_eq!(s.reconnects, 0);
        assert!(
            s.prev_hash_changes >= 3,
            "clean jobs on every switch: {s:?}"
        );
    }
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_with_less_extranonce_space_shrinks_extranonce2() {
    let kp_a = authority();
    let kp_b = authority();
    let env_a = start_pool("127.0.0.1:0", &kp_a).await;
    let env_b = common::start_pool_with(
        "127.0.0.1:0",
        &kp_b,
        "extranonce_size = 12\nclient_extranonce_size = 5",
    )
    .await;
    let t = start_translator(settings(
        "siteG",
        "aggregate",
        &[
            (env_a.address(), env_a.authority),
            (env_b.address(), env_b.authority),
        ],
        "",
        "",
    ))
    .await;
    t.wait_for(Duration::from_secs(15), |s| {
        s.upstream == Some(0) && s.mining
    })
    .await
    .expect("on the primary");
    let mut subscribed = Sv1MinerConfig::new(t.local_addr.to_string(), "acct.sub");
    subscribed.extranonce_subscribe = true;
    let subscribed = spawn_sv1(subscribed).expect("miner");
    let mut plain = Sv1MinerConfig::new(t.local_addr.to_string(), "acct.plain");
    plain.reconnect_delay = Some(Duration::from_millis(200));
    let plain = spawn_sv1(plain).expect("miner");
    accepted_more(&subscribed, 2, "primary").await;
    accepted_more(&plain, 2, "primary").await;
    assert_eq!(t.status().borrow().extranonce2_size, 4);

    env_a.pool.shutdown();
    let st = t
        .wait_for(Duration::from_secs(20), |s| {
            s.upstream == Some(1) && s.mining
        })
        .await
        .expect("on the backup");
    // 5 bytes: 2 for extranonce1, 3 for extranonce2.
    assert_eq!(st.extranonce2_size, 3);
    accepted_more(&subscribed, 3, "set_extranonce miner on the backup").await;
    accepted_more(&plain, 3, "reconnected miner on the backup").await;
    eventually(Duration::from_secs(30), "backup credits siteG", || {
        env_b.sink.difficulty_by_site().contains_key("siteG")
    })
    .await;
    let s = subscribed.stop_and_join().await.expect("ends");
    assert_eq!(
        s.connections, 1,
        "mining.set_extranonce kept the socket: {s:?}"
    );
    let p = plain.stop_and_join().await.expect("ends");
    assert!(
        p.reconnects >= 1,
        "client.reconnect made it reconnect: {p:?}"
    );
    t.shutdown().await;
}
