//! The test-control API: long polling, the stand-in's own blocks, re-orgs, going down and
//! coming back, stalls, template caching.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use test_utils::bitcoind::{StandIn, StandInConfig};
use tokio::task::JoinHandle;

/// Generous upper bound for "promptly": only guards against a poll that never wakes.
const PROMPT: Duration = Duration::from_secs(5);

fn spawn_longpoll(addr: SocketAddr, longpollid: &str) -> JoinHandle<(Value, Instant)> {
    let body = json!({"jsonrpc": "1.0", "id": "lp", "method": "getblocktemplate",
        "params": [{"rules": ["segwit"], "longpollid": longpollid}]})
    .to_string();
    tokio::spawn(async move {
        let reply = post(addr, Some(("pool", "poolpass")), &body)
            .await
            .expect("long poll");
        (reply.json()["result"].clone(), Instant::now())
    })
}

async fn still_waiting(handle: &JoinHandle<(Value, Instant)>, wait: Duration) -> bool {
    tokio::time::sleep(wait).await;
    !handle.is_finished()
}

#[tokio::test]
async fn long_poll_wakes_when_the_stand_in_mines_a_block() {
    let node = standin(5).await;
    let first = gbt(&node).await;
    let poll = spawn_longpoll(node.addr(), first["longpollid"].as_str().unwrap());
    assert!(
        still_waiting(&poll, Duration::from_millis(200)).await,
        "long poll blocks while nothing changes"
    );
    let mined_at = Instant::now();
    let new_tip = node.mine_block().unwrap();
    let (template, answered_at) = tokio::time::timeout(PROMPT, poll).await.unwrap().unwrap();
    assert!(answered_at.duration_since(mined_at) < PROMPT);
    assert_eq!(template["previousblockhash"], new_tip.to_string());
    assert_eq!(template["height"], 7);
    assert_ne!(template["longpollid"], first["longpollid"]);
}

#[tokio::test]
async fn long_poll_wakes_on_mempool_change_and_on_stale_id() {
    let node = standin(5).await;
    let first = gbt(&node).await;
    let poll = spawn_longpoll(node.addr(), first["longpollid"].as_str().unwrap());
    assert!(still_waiting(&poll, Duration::from_millis(150)).await);
    node.add_random_mempool_txs(2).unwrap();
    let (template, _) = tokio::time::timeout(PROMPT, poll).await.unwrap().unwrap();
    assert_eq!(template["previousblockhash"], first["previousblockhash"]);
    assert_eq!(template["transactions"].as_array().unwrap().len(), 2);

    // An id naming an old tip is answered at once.
    node.mine_empty_block().unwrap();
    let poll = spawn_longpoll(node.addr(), first["longpollid"].as_str().unwrap());
    let (template, _) = tokio::time::timeout(PROMPT, poll).await.unwrap().unwrap();
    assert_eq!(template["previousblockhash"], node.tip().hash.to_string());
}

#[tokio::test]
async fn long_poll_mempool_delay_and_timeout() {
    let config = StandInConfig {
        premine: 3,
        longpoll_mempool_delay: Duration::from_millis(400),
        longpoll_timeout: Some(Duration::from_millis(1500)),
        ..Default::default()
    };
    let node = StandIn::start(config).await.unwrap();
    let first = gbt(&node).await;
    let started = Instant::now();
    let poll = spawn_longpoll(node.addr(), first["longpollid"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(50)).await;
    node.add_random_mempool_txs(1).unwrap();
    assert!(
        still_waiting(&poll, Duration::from_millis(150)).await,
        "mempool change held back by the delay"
    );
    let (template, answered_at) = tokio::time::timeout(PROMPT, poll).await.unwrap().unwrap();
    assert!(answered_at.duration_since(started) >= Duration::from_millis(400));
    assert_eq!(template["transactions"].as_array().unwrap().len(), 1);

    // Nothing changes: the timeout answers with the current template.
    let current = gbt(&node).await;
    let started = Instant::now();
    let poll = spawn_longpoll(node.addr(), current["longpollid"].as_str().unwrap());
    let (template, answered_at) = tokio::time::timeout(PROMPT, poll).await.unwrap().unwrap();
    assert!(answered_at.duration_since(started) >= Duration::from_millis(1500));
    assert_eq!(template["longpollid"], current["longpollid"]);
}

#[tokio::test]
async fn mined_blocks_take_the_mempool_and_are_not_submissions() {
    let node = standin(2).await;
    let txids = node.add_random_mempool_txs(5).unwrap();
    assert_eq!(
        result(&node, "getmininginfo", json!([])).await["pooledtx"],
        5
    );
    let hash = node.mine_block().unwrap();
    assert!(node.mempool_txids().is_empty());
    let block = node.block(&hash).unwrap();
    let in_block: Vec<_> = block
        .txdata
        .iter()
        .skip(1)
        .map(|t| t.compute_txid())
        .collect();
    let mut expected = txids.clone();
    expected.sort();
    let mut got = in_block.clone();
    got.sort();
    assert_eq!(got, expected);
    assert_eq!(
        block.txdata[0].output[0].script_pubkey,
        test_utils::bitcoind::default_coinbase_script()
    );
    assert!(node.submitted_blocks().is_empty());
    let hashes = node.mine_blocks(3).unwrap();
    assert_eq!(node.tip().hash, *hashes.last().unwrap());
    assert_eq!(node.tip().height, 6);
    assert_eq!(result(&node, "getblockcount", json!([])).await, 6);
}

#[tokio::test]
async fn reorg_replaces_recent_blocks() {
    let node = standin(10).await;
    node.add_random_mempool_txs(3).unwrap();
    node.mine_block().unwrap();
    let before: Vec<Value> = futures_hashes(&node, 0..=11).await;
    let template = gbt(&node).await;
    let poll = spawn_longpoll(node.addr(), template["longpollid"].as_str().unwrap());
    assert!(still_waiting(&poll, Duration::from_millis(100)).await);

    let new_tip = node.reorg(3).unwrap();
    assert_eq!(
        node.tip().height,
        12,
        "the alternative branch is one block longer"
    );
    assert_eq!(node.tip().hash, new_tip);
    let after: Vec<Value> = futures_hashes(&node, 0..=11).await;
    assert_eq!(before[..9], after[..9], "blocks below the fork are kept");
    for h in 9..=11 {
        assert_ne!(before[h], after[h], "height {h} was replaced");
    }
    let old = result(&node, "getblockheader", json!([before[11]])).await;
    assert_eq!(old["confirmations"], -1);
    assert_eq!(
        node.mempool_txids().len(),
        3,
        "transactions of the replaced block returned to the mempool"
    );
    let (template, _) = tokio::time::timeout(PROMPT, poll).await.unwrap().unwrap();
    assert_eq!(template["previousblockhash"], new_tip.to_string());

    assert!(node.reorg(0).is_err());
    assert!(node.reorg(13).is_err());
}

async fn futures_hashes(node: &StandIn, heights: std::ops::RangeInclusive<u32>) -> Vec<Value> {
    let mut out = Vec::new();
    for h in heights {
        out.push(result(node, "getblockhash", json!([h])).await);
    }
    out
}

#[tokio::test]
async fn down_refuses_connections_and_up_serves_on_the_same_port() {
    let node = standin(1).await;
    let addr = node.addr();
    gbt(&node).await;
    // A long poll in flight when the node goes down loses its connection.
    let first = gbt(&node).await;
    let body = json!({"id": 1, "method": "getblocktemplate",
        "params": [{"rules": ["segwit"], "longpollid": first["longpollid"]}]})
    .to_string();
    let inflight = tokio::spawn(async move { post(addr, Some(("pool", "poolpass")), &body).await });
    tokio::time::sleep(Duration::from_millis(100)).await;

    node.set_down(true).await.unwrap();
    let err = tokio::net::TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    let lost = tokio::time::timeout(PROMPT, inflight)
        .await
        .unwrap()
        .unwrap();
    assert!(
        lost.is_err() || lost.is_ok_and(|r| r.body.is_empty()),
        "in-flight request cut off"
    );

    node.set_down(false).await.unwrap();
    assert_eq!(node.addr(), addr);
    assert_eq!(result(&node, "getblockcount", json!([])).await, 1);
    node.set_down(false).await.unwrap(); // idempotent
}

#[tokio::test]
async fn stalled_calls_hang_until_released() {
    let node = standin(1).await;
    let addr = node.addr();
    let body = r#"{"id":1,"method":"getblockcount"}"#;
    node.set_stalled(true);
    let call = tokio::spawn(async move { post(addr, Some(("pool", "poolpass")), body).await });
    assert!(tokio::time::timeout(Duration::from_millis(300), async {
        while !call.is_finished() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .is_err());
    node.set_stalled(false);
    let reply = tokio::time::timeout(PROMPT, call)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply.json()["result"], 1);

    node.stall(Duration::from_millis(300));
    let started = Instant::now();
    let reply = post(addr, Some(("pool", "poolpass")), body).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(reply.json()["result"], 1);
    let started = Instant::now();
    post(addr, Some(("pool", "poolpass")), body).await.unwrap();
    assert!(started.elapsed() < PROMPT, "stall over");
}

#[tokio::test]
async fn template_cache_hides_mempool_changes_for_a_while() {
    let config = StandInConfig {
        premine: 2,
        template_cache: Duration::from_millis(300),
        ..Default::default()
    };
    let node = StandIn::start(config).await.unwrap();
    let first = gbt(&node).await;
    node.add_random_mempool_txs(2).unwrap();
    let cached = gbt(&node).await;
    assert_eq!(
        cached, first,
        "mempool-only change: previous template served"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let fresh = gbt(&node).await;
    assert_eq!(fresh["transactions"].as_array().unwrap().len(), 2);
    // A new tip always gives a fresh template.
    node.mine_empty_block().unwrap();
    let next = gbt(&node).await;
    assert_eq!(next["previousblockhash"], node.tip().hash.to_string());
}

#[tokio::test]
async fn mock_time_drives_curtime_and_time_checks() {
    let node = standin(1).await;
    let now = node.tip().time + 10_000;
    node.set_mock_time(Some(now));
    let template = gbt(&node).await;
    assert_eq!(template["curtime"], now);
    node.set_mock_time(None);
}
