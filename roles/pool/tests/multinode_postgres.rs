//! Two pool nodes, one ledger: two real `sv2-pool` processes with different `[server] node_id`
//! share one PostgreSQL treasury ledger and one bitcoind stand-in, with a CPU miner on each
//! (as if behind a TCP load balancer). Blocks are found on both nodes, first in turns, then
//! concurrently; the stand-in then buries them under 101 blocks. The ledger must hold every
//! block the stand-in accepted exactly once, each mature and credited, with balances equal to
//! the sum of entries; every block's extranonce carries the node id of the node that found it.
//!
//! Needs `TEST_POSTGRES_URL` (CI's `.ci/run` starts a PostgreSQL and sets it); without it the
//! test is skipped with a loud message.

mod treasury_support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use pool::config::PoolConfig;
use pool::treasury::ledger::Ledger;
use pool::treasury::reports;
use pool::treasury::settings::LedgerSettings;
use sv2_noise::secp256k1::XOnlyPublicKey;
use test_utils::bitcoind::{StandIn, StandInConfig};
use treasury_support::miner::Miner;
use treasury_support::process::{free_addr, spawn_pool_child};
use treasury_support::{authority, fresh_postgres_database, postgres_url, temp_dir};

/// Full extranonce length the test config gives coinbases (`[mining] extranonce_size`).
const EXTRANONCE_LEN: usize = 16;

/// A pool process, killed when the test ends however it ends.
struct Node {
    id: u8,
    addr: SocketAddr,
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_node(id: u8, text: &str, dir: &Path, addr: SocketAddr) -> Node {
    let config = dir.join(format!("pool-{id}.toml"));
    std::fs::write(&config, text).expect("config written");
    let log = dir.join(format!("pool-{id}.log"));
    let child = spawn_pool_child(&config, &log);
    Node {
        id,
        addr,
        child,
        log,
    }
}

async fn connect(node: &mut Node, key: XOnlyPublicKey, identity: &str) -> Miner {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = node.child.try_wait() {
            panic!(
                "pool node {} exited ({status}): {}",
                node.id,
                std::fs::read_to_string(&node.log).unwrap_or_default()
            );
        }
        match Miner::connect(node.addr, key, identity).await {
            Ok(m) => return m,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("pool node {} did not come up: {e}", node.id),
        }
    }
}

/// Mines one share (every share is a regtest block) on the current tip; true if accepted.
async fn mine_one(m: &mut Miner, standin: &StandIn) -> Result<bool, String> {
    m.sync_to(standin.tip().hash.to_byte_array()).await?;
    m.submit_share().await
}

/// Node id folded into the extranonce of a block's coinbase: the extranonce is the last
/// `EXTRANONCE_LEN` bytes of the scriptSig and starts with the node id.
fn node_of_block(block: &bitcoin::Block) -> Option<u8> {
    let script = block.txdata.first()?.input.first()?.script_sig.as_bytes();
    let start = script.len().checked_sub(EXTRANONCE_LEN)?;
    script.get(start).copied()
}

fn with_ledger<R>(settings: &LedgerSettings, f: impl FnOnce(&Ledger) -> R) -> R {
    tokio::task::block_in_place(|| {
        let ledger = Ledger::open(settings.clone()).expect("ledger opens");
        f(&ledger)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_ledger_credit_every_block_once() {
    let Some(base) = postgres_url() else {
        eprintln!("multinode_postgres: the whole test needs PostgreSQL: skipped");
        return;
    };
    let database = fresh_postgres_database(&base, "multinode");
    let standin = StandIn::start(StandInConfig::default())
        .await
        .expect("stand-in");
    let dir = temp_dir("multinode");
    let (key, pub_s, sec_s) = authority();

    // Two nodes: same authority key (they sit behind one load balancer), same ledger, same
    // node, different node ids.
    let mut settings = None;
    let mut nodes = Vec::new();
    let mut http_ports = Vec::new();
    for id in [1u8, 2] {
        let addr = free_addr();
        let http = free_addr();
        http_ports.push(http);
        let text = treasury_support::treasury_config(
            &standin.url(),
            &addr.to_string(),
            &pub_s,
            &sec_s,
            &database,
        )
        .replacen("[server]\n", &format!("[server]\nnode_id = {id}\n"), 1)
        // Fixed share difficulty: vardiff would make the racing miners' shares ever harder.
        .replacen("[mining]\n", "[mining]\nmax_difficulty = 0.00000001\n", 1)
        // The HTTP port the load balancer's health check uses.
        .replacen(
            "[metrics]\nlisten = \"\"",
            &format!("[metrics]\nlisten = \"{http}\""),
            1,
        );
        let cfg = PoolConfig::parse(&text).expect("config valid");
        assert_eq!(cfg.server.node_id, id);
        assert_eq!(cfg.mining.extranonce_size as usize, EXTRANONCE_LEN);
        assert_eq!(cfg.mining.max_difficulty, cfg.mining.min_difficulty);
        settings.get_or_insert_with(|| LedgerSettings::from_config(&cfg).expect("treasury"));
        nodes.push(spawn_node(id, &text, &dir, addr));
    }
    let settings = settings.expect("settings");
    let (first, second) = nodes.split_at_mut(1);
    let (node1, node2) = (&mut first[0], &mut second[0]);
    let mut m1 = connect(node1, key, "fra1.node1-rig").await;
    let mut m2 = connect(node2, key, "ams2.node2-rig").await;
    // Both nodes tell the load balancer they can give out current work.
    for http in &http_ports {
        let body = test_utils::http::wait_status(*http, "/health", 200, Duration::from_secs(20))
            .await
            .expect("node healthy");
        assert_eq!(body, "ready\n");
    }

    // In turns: each block is found on a tip both nodes know.
    for round in 0..6 {
        let (m, name) = if round % 2 == 0 {
            (&mut m1, "node 1")
        } else {
            (&mut m2, "node 2")
        };
        let before = standin.submitted_blocks().len();
        let mut accepted = false;
        for _ in 0..5 {
            if mine_one(m, &standin).await.expect("miner works") {
                accepted = true;
                break;
            }
        }
        assert!(accepted, "{name} got a share accepted in round {round}");
        let deadline = Instant::now() + Duration::from_secs(15);
        while standin.submitted_blocks().len() == before {
            assert!(
                Instant::now() < deadline,
                "{name}'s block reached the stand-in"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // Races: both nodes find a block on the same tip at the same moment; the stand-in keeps
    // the first, the other is a valid block off the best chain and must not be credited.
    let mut wins = [0u32; 2];
    for round in 0..10 {
        let tip = standin.tip().hash;
        let target = tip.to_byte_array();
        let (a, b) = tokio::join!(m1.sync_to(target), m2.sync_to(target));
        a.expect("node 1 follows the tip");
        b.expect("node 2 follows the tip");
        let before = standin.submissions().len();
        let (a, b) = tokio::join!(m1.submit_share(), m2.submit_share());
        let (a, b) = (a.expect("miner 1 works"), b.expect("miner 2 works"));
        assert!(a || b, "round {round}: a share was accepted");
        // Every accepted share is a block: wait until the node has seen each of them.
        let expected = before + usize::from(a) + usize::from(b);
        let deadline = Instant::now() + Duration::from_secs(15);
        while standin.submissions().len() < expected || standin.tip().hash == tip {
            assert!(
                Instant::now() < deadline,
                "race {round}: blocks reached the node"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let winner = standin.tip().hash.to_string();
        let node = standin
            .submitted_blocks()
            .iter()
            .find(|b| b.hash.to_string() == winner)
            .and_then(|b| node_of_block(&b.block));
        if let Some(n @ (1 | 2)) = node {
            wins[usize::from(n - 1)] += 1;
        }
    }
    let losers = standin
        .submissions()
        .iter()
        .filter(|s| !matches!(s.result, test_utils::bitcoind::SubmitResult::Accepted))
        .count();
    eprintln!(
        "races won: node 1 {}, node 2 {}; {losers} competing blocks not accepted",
        wins[0], wins[1]
    );
    assert_eq!(
        wins[0] + wins[1],
        10,
        "every race was won by one of the nodes"
    );

    let accepted: BTreeMap<String, u8> = standin
        .submitted_blocks()
        .iter()
        .map(|b| {
            let node = node_of_block(&b.block).expect("coinbase with extranonce");
            (b.hash.to_string(), node)
        })
        .collect();
    let per_node: BTreeMap<u8, usize> = accepted.values().fold(BTreeMap::new(), |mut m, n| {
        *m.entry(*n).or_default() += 1;
        m
    });
    eprintln!(
        "stand-in accepted {} blocks from the pool: {per_node:?} per node id",
        accepted.len()
    );
    assert!(
        per_node.get(&1).copied().unwrap_or(0) >= 3,
        "node 1 found blocks"
    );
    assert!(
        per_node.get(&2).copied().unwrap_or(0) >= 3,
        "node 2 found blocks"
    );
    assert_eq!(
        per_node.keys().copied().collect::<Vec<_>>(),
        [1, 2],
        "every extranonce starts with the id of one of the two nodes"
    );

    // Every accepted block reaches the ledger once and is credited (attributed to the work
    // before it) by one of the nodes.
    let want: BTreeSet<String> = accepted.keys().cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let blocks =
            with_ledger(&settings, |l| reports::blocks(l, None, 100_000)).expect("blocks report");
        let hashes: BTreeSet<String> = blocks.iter().map(|b| b.hash.clone()).collect();
        if hashes == want && blocks.iter().all(|b| b.status == "immature") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ledger has {} blocks (statuses {:?}), stand-in accepted {}; missing {:?}, extra {:?}",
            hashes.len(),
            blocks
                .iter()
                .map(|b| b.status.as_str())
                .collect::<BTreeSet<_>>(),
            want.len(),
            want.difference(&hashes).collect::<Vec<_>>(),
            hashes.difference(&want).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Bury them: every block becomes mature.
    standin.mine_blocks(101).expect("stand-in mines");
    let deadline = Instant::now() + Duration::from_secs(90);
    let blocks =
        loop {
            let blocks = with_ledger(&settings, |l| reports::blocks(l, None, 100_000))
                .expect("blocks report");
            let hashes: BTreeSet<String> = blocks.iter().map(|b| b.hash.clone()).collect();
            if hashes == want && blocks.iter().all(|b| b.status == "mature") {
                break blocks;
            }
            assert!(
            Instant::now() < deadline,
            "ledger has {} blocks (statuses {:?}), stand-in accepted {}; missing {:?}, extra {:?}",
            hashes.len(),
            blocks.iter().map(|b| b.status.as_str()).collect::<BTreeSet<_>>(),
            want.len(),
            want.difference(&hashes).collect::<Vec<_>>(),
            hashes.difference(&want).collect::<Vec<_>>()
        );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };

    // Exactly once, credited to the finder's node, sums exact.
    assert_eq!(blocks.len(), want.len(), "no block twice");
    for b in &blocks {
        let node = accepted[&b.hash];
        let expected_finder = if node == 1 {
            "fra1.node1-rig"
        } else {
            "ams2.node2-rig"
        };
        assert_eq!(
            b.finder, expected_finder,
            "block {} (extranonce of node {node}) credited to its finder",
            b.hash
        );
        assert_eq!(b.source, "pool");
        let credited: i64 = b.sites.iter().map(|(_, sats)| sats).sum();
        assert_eq!(
            credited, b.reward_sats,
            "block {} split to the satoshi",
            b.hash
        );
    }
    let rewards: i64 = blocks.iter().map(|b| b.reward_sats).sum();
    let (held, audit) = with_ledger(&settings, |l| {
        let held: i64 = reports::balances(l)
            .expect("balances")
            .iter()
            .map(|b| b.immature + b.mature + b.orphaned)
            .sum();
        (held, l.audit().expect("audit"))
    });
    assert_eq!(held, rewards, "every satoshi of every block credited once");
    assert!(audit.is_clean(), "balances == sum of entries: {audit:?}");

    // Both nodes flushed work into the shared ledger under their own ids.
    let url = database.clone();
    let work_nodes: BTreeSet<i64> = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        c.query("SELECT DISTINCT node_id FROM work", &[])
            .expect("query")
            .iter()
            .map(|r| r.get::<_, i64>(0))
            .collect()
    })
    .join()
    .expect("thread");
    assert_eq!(work_nodes, [1, 2].into_iter().collect());
    eprintln!(
        "{} blocks, all mature, {} ledger entries, work from nodes {work_nodes:?}",
        blocks.len(),
        audit.entries
    );
}
