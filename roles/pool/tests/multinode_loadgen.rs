//! The load generator against two pool nodes: two real `sv2-pool` processes (node ids 1 and 2,
//! configured as `sv2-loadgen` configures its own pool) on one bitcoind stand-in whose chain
//! has an easy but not regtest-trivial target, each driven by an SV2 load run over TCP + Noise
//! with bad-nonce, stale and duplicate shares while the test mines blocks. Every share kind
//! must get its verdict, acknowledgements must add up, new blocks must reach every channel
//! of both nodes, and the two nodes must hand out extranonce prefixes of their own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::hashes::Hash;
use sv2_codec::common::{mining_flags, SetupConnection};
use sv2_codec::mining::OpenStandardMiningChannel;
use sv2_codec::{CommonMessage, Frame, Message, MiningMessage, Protocol};
use sv2_noise::secp256k1::XOnlyPublicKey;
use test_utils::loadgen::env::{self, ChildProcess, PoolSpawn};
use test_utils::loadgen::{run_sv2, PoolTarget, Report, ShareKind, ShareMix, Sv2LoadOptions};

const CONNECTIONS: usize = 20;

struct Node {
    child: ChildProcess,
    addr: SocketAddr,
    key: XOnlyPublicKey,
}

async fn start_node(
    id: u8,
    standin: &test_utils::bitcoind::StandIn,
    dir: &std::path::Path,
) -> Node {
    let addr: SocketAddr = format!("127.0.0.1:{}", env::free_port().expect("port"))
        .parse()
        .expect("addr");
    let spawn = PoolSpawn {
        bin: env!("CARGO_BIN_EXE_sv2-pool").into(),
        cpus: None,
        listen: addr,
        difficulty: (3.1e-10, 3.1e-10, 3.1e-10),
        ack_batch: 4,
        ack_interval_ms: 50,
        metrics: None,
        node_id: id,
    };
    let node_dir = dir.join(format!("node-{id}"));
    std::fs::create_dir_all(&node_dir).expect("dir");
    let (child, key) = env::spawn_pool(&spawn, standin, &node_dir)
        .await
        .expect("sv2-pool starts");
    Node { child, addr, key }
}

/// The extranonce prefix a node gives a fresh standard channel.
async fn extranonce_prefix(node: &Node) -> Vec<u8> {
    let tcp = tokio::net::TcpStream::connect(node.addr)
        .await
        .expect("tcp");
    let conn = sv2_noise::connect(tcp, node.key, Duration::from_secs(10))
        .await
        .expect("noise");
    let (mut r, mut w) = conn.into_split();
    let mut buf = sv2_codec::bytes::BytesMut::new();
    for m in [
        Message::from(SetupConnection {
            protocol: Protocol::Mining,
            min_version: 2,
            max_version: 2,
            flags: mining_flags::REQUIRES_STANDARD_JOBS,
            endpoint_host: "127.0.0.1".into(),
            endpoint_port: node.addr.port(),
            vendor: "test".into(),
            hardware_version: "cpu".into(),
            firmware: "test".into(),
            device_id: String::new(),
        }),
        Message::from(OpenStandardMiningChannel {
            request_id: 9,
            user_identity: "probe.worker".into(),
            nominal_hash_rate: 0.0,
            max_target: [0xff; 32],
        }),
    ] {
        buf.clear();
        m.encode_frame(&mut buf).expect("encode");
        w.send(&buf[..]).await.expect("send");
    }
    loop {
        let bytes = tokio::time::timeout(Duration::from_secs(10), r.recv())
            .await
            .expect("answer in time")
            .expect("transport")
            .expect("open");
        let frame = Frame::from_bytes(bytes).expect("frame");
        match Message::from_frame(Protocol::Mining, &frame).expect("decodes") {
            Message::Common(CommonMessage::SetupConnectionSuccess(_)) => {}
            Message::Mining(MiningMessage::OpenStandardMiningChannelSuccess(s)) => {
                return s.extranonce_prefix
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn options(node: &Node) -> Sv2LoadOptions {
    let mut o = Sv2LoadOptions::new(
        PoolTarget::Attach {
            addr: node.addr,
            authority: node.key,
            pid: Some(node.child.pid()),
            metrics: None,
        },
        CONNECTIONS,
    );
    o.rate = 2000.0;
    o.duration = Duration::from_secs(4);
    o.mix = ShareMix {
        invalid: 0.05,
        stale: 0.05,
        duplicate: 0.05,
    };
    o.settle = Duration::from_millis(500);
    o.idle_blocks = 0;
    o.block_interval = None;
    o.progress = false;
    o
}

fn check(name: &str, r: &Report) {
    eprintln!("{name}:\n{}", r.table());
    assert_eq!(r.connections_opened, CONNECTIONS as u64, "{name}: all open");
    assert_eq!(
        r.connect_failures + r.disconnects,
        0,
        "{name}: nothing lost"
    );
    assert!(
        r.sent_total > 2_000,
        "{name}: shares flowed ({})",
        r.sent_total
    );
    assert_eq!(r.unanswered, 0, "{name}: every share answered");
    assert_eq!(r.acked + r.rejected, r.sent_total, "{name}: acks add up");
    let v = r.verdicts.as_ref().expect("verdicts");
    // Only valid shares are accepted; the Success counts match the shares they cover.
    assert_eq!(v.accepted_of(ShareKind::Valid), r.acked, "{name}");
    for kind in [ShareKind::Invalid, ShareKind::Stale, ShareKind::Duplicate] {
        assert_eq!(v.accepted_of(kind), 0, "{name}: no {kind:?} share accepted");
        assert!(v.rejected_of(kind) > 0, "{name}: {kind:?} shares were sent");
    }
    let reasons = |k: ShareKind| -> Vec<String> {
        v.rejected
            .get(&k)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    // A share made just before a new tip reaches the channel is stale whatever it was.
    for (kind, code) in [
        (ShareKind::Invalid, "difficulty-too-low"),
        (ShareKind::Stale, "stale-share"),
        (ShareKind::Duplicate, "duplicate-share"),
    ] {
        let got = reasons(kind);
        assert!(got.iter().any(|c| c == code), "{name}: {kind:?} -> {got:?}");
        assert!(
            got.iter().all(|c| c == code || c == "stale-share"),
            "{name}: {kind:?} -> {got:?}"
        );
    }
    let lat = r.accept_latency.as_ref().expect("latency");
    assert_eq!(lat.count, r.acked);
    // Every block the test mined reached every channel of the node.
    let complete = r
        .blocks
        .iter()
        .filter(|b| b.reached == CONNECTIONS as u64)
        .count();
    assert!(complete >= 2, "{name}: blocks fanned out: {:?}", r.blocks);
    let server = r.server.as_ref().expect("server usage");
    assert!(server.rss_idle_kib > 0 && server.share_phase_cpu_secs > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_drives_two_pool_nodes_with_every_share_kind() {
    let standin = env::start_standin(env::DEFAULT_SV2_NBITS)
        .await
        .expect("stand-in");
    let dir = env::work_dir("multinode-loadgen").expect("dir");
    let node1 = start_node(1, &standin, &dir).await;
    let node2 = start_node(2, &standin, &dir).await;

    // Distinct node ids lead the extranonce prefixes.
    let (p1, p2) = tokio::join!(extranonce_prefix(&node1), extranonce_prefix(&node2));
    assert_eq!(p1.first(), Some(&1), "node 1 prefix {p1:?}");
    assert_eq!(p2.first(), Some(&2), "node 2 prefix {p2:?}");

    // Blocks while the load runs: stale shares and fan-out need them.
    let miner = {
        let standin = Arc::clone(&standin);
        tokio::spawn(async move {
            let mut tips = Vec::new();
            for _ in 0..6 {
                tokio::time::sleep(Duration::from_millis(900)).await;
                match env::mine_block(&standin).await {
                    Ok((hash, _)) => tips.push(hash),
                    Err(e) => panic!("stand-in mining: {e}"),
                }
            }
            tips
        })
    };
    let (r1, r2) = tokio::join!(run_sv2(options(&node1)), run_sv2(options(&node2)));
    let tips = miner.await.expect("miner task");
    let (r1, r2) = (r1.expect("run on node 1"), r2.expect("run on node 2"));
    check("node 1", &r1);
    check("node 2", &r2);
    // Both nodes followed the same chain: every fanned-out block is one the test mined.
    let mined: Vec<String> = tips
        .iter()
        .map(|h| bitcoin::BlockHash::from_byte_array(*h).to_string())
        .collect();
    for r in [&r1, &r2] {
        for b in &r.blocks {
            assert!(mined.contains(&b.hash), "unknown block {}", b.hash);
        }
    }
    drop((node1, node2));
    let _ = std::fs::remove_dir_all(&dir);
}
