//! Limits over real TCP: a miner sending garbage, an oversized line, too many invalid
//! shares or nothing at all is disconnected while a healthy CPU miner next to it keeps
//! mining; connections beyond `max_miners` are refused.

mod common;

use std::time::Duration;

use common::{authority, settings, start_pool, start_translator, PoolEnv, RawMiner};
use test_utils::miner::sv1::{spawn as spawn_sv1, Sv1MinerConfig};
use test_utils::miner::MinerHandle;
use translator::TranslatorHandle;

async fn setup(limits: &str) -> (PoolEnv, TranslatorHandle) {
    let kp = authority();
    let env = start_pool("127.0.0.1:0", &kp).await;
    let t = start_translator(settings(
        "siteL",
        "aggregate",
        &[(env.address(), env.authority)],
        "",
        &format!("\n[limits]\n{limits}\n"),
    ))
    .await;
    t.wait_for(Duration::from_secs(15), |s| s.mining)
        .await
        .expect("translator mining");
    (env, t)
}

async fn healthy_miner(t: &TranslatorHandle) -> MinerHandle {
    let m = spawn_sv1(Sv1MinerConfig::new(t.local_addr.to_string(), "acct.good")).expect("miner");
    assert!(m
        .wait_for(Duration::from_secs(60), |s| s.shares_accepted >= 2)
        .await
        .is_some());
    m
}

async fn still_mining(m: MinerHandle) {
    let base = m.stats().shares_accepted;
    assert!(
        m.wait_for(Duration::from_secs(60), |s| s.shares_accepted >= base + 2)
            .await
            .is_some(),
        "healthy miner unaffected: {:?}",
        m.stats()
    );
    let s = m.stop_and_join().await.expect("ends");
    assert_eq!(s.connections, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_sender_is_disconnected_others_keep_mining() {
    let (_env, t) = setup("max_malformed_lines = 3").await;
    let good = healthy_miner(&t).await;
    let mut bad = RawMiner::connect(t.local_addr).await;
    bad.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff\xfe garbage\n")
        .await
        .expect("write");
    assert!(
        bad.closed_within(Duration::from_secs(5)).await,
        "garbage sender disconnected"
    );
    // A miner whose first lines are fine but then turns to garbage too.
    let mut turns = RawMiner::connect(t.local_addr).await;
    turns.handshake("acct.turns").await;
    for _ in 0..3 {
        let _ = turns.send_raw(b"{\"id\":1,\"method\":\n").await;
    }
    assert!(turns.closed_within(Duration::from_secs(5)).await);
    still_mining(good).await;
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_line_and_invalid_shares_disconnect() {
    let (_env, t) = setup("max_line_bytes = 1024\nmax_invalid_shares_per_minute = 5").await;
    let good = healthy_miner(&t).await;
    let mut long = RawMiner::connect(t.local_addr).await;
    long.send_raw(&vec![b'a'; 2000]).await.expect("write");
    assert!(
        long.closed_within(Duration::from_secs(5)).await,
        "a line over max_line_bytes closes the connection"
    );
    let mut cheat = RawMiner::connect(t.local_addr).await;
    cheat.handshake("acct.cheat").await;
    let job = cheat.wait_job().await;
    for i in 0..6u32 {
        // Nonces that (almost surely) do not meet the difficulty.
        let _ = cheat
            .submit(&job.job_id, &[0, 0, 0, 1], job.ntime, i, None)
            .await;
    }
    assert!(
        cheat.closed_within(Duration::from_secs(5)).await,
        "the invalid-share cut-off disconnects"
    );
    still_mining(good).await;
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_miners_and_idle_timeout() {
    let (_env, t) = setup("max_miners = 2\nidle_timeout_secs = 2").await;
    let mut a = RawMiner::connect(t.local_addr).await;
    a.handshake("acct.a").await;
    let mut b = RawMiner::connect(t.local_addr).await;
    b.handshake("acct.b").await;
    let mut c = RawMiner::connect(t.local_addr).await;
    assert!(
        c.closed_within(Duration::from_secs(3)).await,
        "the third connection is refused"
    );
    // The two admitted miners work.
    a.mine_accepted_share(0).await;
    b.mine_accepted_share(0).await;
    // Silence: both are disconnected after the idle timeout, freeing the slots.
    assert!(a.closed_within(Duration::from_secs(6)).await);
    assert!(b.closed_within(Duration::from_secs(6)).await);
    t.wait_for(Duration::from_secs(5), |s| s.miners == 0)
        .await
        .expect("slots freed");
    let mut d = RawMiner::connect(t.local_addr).await;
    d.handshake("acct.d").await;
    d.mine_accepted_share(0).await;
    t.shutdown().await;
}
