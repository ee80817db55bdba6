//! The pool under bad input and node trouble: malformed frames and refused setups close only
//! the offending connection; a new block reaches every channel; bitcoind outages, stalls and
//! initial block download are survived.

mod common;

use std::time::{Duration, Instant};

use common::{serve_health, setup_msg, start, start_on, wait_health, Client};
use pool::template::NodeState;
use sv2_codec::mining::OpenStandardMiningChannel;
use sv2_codec::{CommonMessage, Message, MiningMessage, Protocol};
use test_utils::bitcoind::{StandIn, StandInConfig};
use tokio::io::AsyncWriteExt;

const EASY: &str = "initial_difficulty = 0.00001\nmin_difficulty = 0.000001";

async fn open_standard(c: &mut Client, user: &str) -> u32 {
    let id = c.open_standard(user, 0.0).await.channel_id;
    // initial job + prev hash
    c.recv_until(|m| matches!(m, Message::Mining(MiningMessage::SetNewPrevHash(_))).then_some(()))
        .await;
    id
}

async fn next_prev_hash(c: &mut Client) -> [u8; 32] {
    c.recv_until(|m| match m {
        Message::Mining(MiningMessage::SetNewPrevHash(p)) => Some(p.prev_hash),
        _ => None,
    })
    .await
}

async fn assert_closed(c: &mut Client) {
    let r = tokio::time::timeout(Duration::from_secs(5), c.conn.recv()).await;
    match r {
        Ok(Ok(None)) | Ok(Err(_)) => {}
        Ok(Ok(Some(_))) => {
            // drain anything queued before the close
            let r2 = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    match c.conn.recv().await {
                        Ok(Some(_)) => continue,
                        _ => return,
                    }
                }
            })
            .await;
            assert!(r2.is_ok(), "connection not closed");
        }
        Err(_) => panic!("connection still open after bad input"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_closes_only_that_connection() {
    let env = start(0, EASY).await;
    let mut good = Client::connect(&env).await;
    good.setup(common::STANDARD_JOBS).await;
    open_standard(&mut good, "s1.good").await;

    // 1. A frame with an unknown message type after setup.
    let mut bad = Client::connect(&env).await;
    bad.setup(common::STANDARD_JOBS).await;
    bad.conn
        .send([0u8, 0, 0xee, 1, 0, 0, 0x42])
        .await
        .expect("send");
    assert_closed(&mut bad).await;

    // 2. A truncated SubmitSharesStandard payload (header says 24, payload has 3).
    let mut bad2 = Client::connect(&env).await;
    bad2.setup(common::STANDARD_JOBS).await;
    bad2.conn
        .send([0u8, 0x80, 0x1a, 3, 0, 0, 1, 2, 3])
        .await
        .expect("send");
    assert_closed(&mut bad2).await;

    // 3. Plain-text garbage instead of a Noise handshake.
    let mut raw = tokio::net::TcpStream::connect(env.pool.local_addr)
        .await
        .expect("tcp");
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    raw.write_all(&[0xab; 300]).await.expect("write");

    // 4. Setup for a protocol we do not serve, and an impossible version range.
    let mut jd = Client::connect(&env).await;
    let mut m = setup_msg(0);
    m.protocol = Protocol::JobDeclaration;
    jd.send(m).await;
    match jd.recv().await {
        Message::Common(CommonMessage::SetupConnectionError(e)) => {
            assert_eq!(e.error_code, "unsupported-protocol")
        }
        other => panic!("unexpected {other:?}"),
    }
    let mut v3 = Client::connect(&env).await;
    let mut m = setup_msg(0);
    m.min_version = 3;
    m.max_version = 3;
    v3.send(m).await;
    match v3.recv().await {
        Message::Common(CommonMessage::SetupConnectionError(e)) => {
            assert_eq!(e.error_code, "protocol-version-mismatch")
        }
        other => panic!("unexpected {other:?}"),
    }

    // 5. A message before SetupConnection.
    let mut early = Client::connect(&env).await;
    early
        .send(OpenStandardMiningChannel {
            request_id: 1,
            user_identity: "x".into(),
            nominal_hash_rate: 0.0,
            max_target: [0xff; 32],
        })
        .await;
    assert_closed(&mut early).await;

    // The well-behaved client still gets the next block.
    env.standin.mine_block().expect("mine");
    let tip = env.standin.tip();
    let ph = next_prev_hash(&mut good).await;
    let mut expect = bitcoin::hashes::Hash::to_byte_array(tip.hash);
    let _ = &mut expect;
    assert_eq!(ph, expect);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_block_reaches_every_channel() {
    let env = start(0, EASY).await;
    let mut clients = Vec::new();
    for i in 0..20 {
        let mut c = Client::connect(&env).await;
        c.setup(common::STANDARD_JOBS).await;
        open_standard(&mut c, &format!("fanout.w{i}")).await;
        clients.push(c);
    }
    let started = Instant::now();
    env.standin.mine_block().expect("mine");
    let want = bitcoin::hashes::Hash::to_byte_array(env.standin.tip().hash);
    for c in clients.iter_mut() {
        assert_eq!(next_prev_hash(c).await, want);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "fan-out took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_bitcoind_outage_and_stall() {
    let env = start(0, EASY).await;
    let mut c = Client::connect(&env).await;
    c.setup(common::STANDARD_JOBS).await;
    open_standard(&mut c, "s1.w").await;
    let mut state = env.pool.node_state.clone();
    let http = serve_health(&env);
    assert_eq!(wait_health(http, 200).await, "ready\n");

    env.standin.set_down(true).await.expect("down");
    // The pool notices and says so, but keeps the miner connected.
    tokio::time::timeout(Duration::from_secs(10), async {
        while *state.borrow_and_update() != NodeState::Unreachable {
            state.changed().await.expect("state");
        }
    })
    .await
    .expect("pool reports the node unreachable");
    // Load balancers take the node out of rotation.
    assert_eq!(wait_health(http, 503).await, "bitcoind unreachable\n");
    c.open_standard("s1.w2", 0.0).await;
    // the new channel gets the last valid job at once, even while the node is away
    next_prev_hash(&mut c).await;

    env.standin.set_down(false).await.expect("up");
    env.standin.mine_block().expect("mine");
    let want = bitcoin::hashes::Hash::to_byte_array(env.standin.tip().hash);
    let got = tokio::time::timeout(Duration::from_secs(40), next_prev_hash(&mut c))
        .await
        .expect("new tip after recovery");
    assert_eq!(got, want);
    assert_eq!(wait_health(http, 200).await, "ready\n");

    // A stalled node (RPC hangs) does not block the miner's connection either.
    env.standin.stall(Duration::from_secs(2));
    c.open_standard("s1.w3", 0.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_jobs_while_node_syncs() {
    let standin = StandIn::start(StandInConfig::default())
        .await
        .expect("stand-in");
    standin.set_ibd(true);
    let env = start_on(standin, EASY).await;
    let mut state = env.pool.node_state.clone();
    tokio::time::timeout(Duration::from_secs(10), async {
        while *state.borrow_and_update() != NodeState::Syncing {
            state.changed().await.expect("state");
        }
    })
    .await
    .expect("pool reports syncing");
    let http = serve_health(&env);
    assert_eq!(
        wait_health(http, 503).await,
        "bitcoind is in initial block download\n"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(env.pool.jobs.borrow().is_none(), "no job while syncing");
    env.standin.set_ibd(false);
    let mut jobs = env.pool.jobs.clone();
    tokio::time::timeout(Duration::from_secs(40), async {
        while jobs.borrow_and_update().is_none() {
            jobs.changed().await.expect("jobs");
        }
    })
    .await
    .expect("job once synced");
    assert_eq!(wait_health(http, 200).await, "ready\n");
}
