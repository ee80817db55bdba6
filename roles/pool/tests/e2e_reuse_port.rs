//! Several pool processes on one address (`[server] reuse_port`): two pool nodes with the same
//! authority key and different node ids bind one port, the kernel spreads new connections over
//! them, and each hands out extranonce prefixes carrying its own node id. A pool without
//! `reuse_port` cannot take the port.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use pool::accounting::MemorySink;
use pool::config::PoolConfig;
use sv2_codec::Protocol;
use test_utils::bitcoind::{StandIn, StandInConfig};
use test_utils::fixtures::{regtest_address, Authority, PoolToml};
use test_utils::sv2_client::Client;

fn config(
    standin: &StandIn,
    authority: &Authority,
    listen: &str,
    server_extra: &str,
) -> PoolConfig {
    let payout = regtest_address(7).to_string();
    let text = PoolToml {
        listen,
        ..PoolToml::new(standin, authority, &payout)
    }
    .text()
    .replacen("[server]\n", &format!("[server]\n{server_extra}\n"), 1);
    PoolConfig::parse(&text).expect("config valid")
}

/// Opens a standard channel; returns the first byte of its extranonce prefix (the node id).
async fn node_of_channel(c: &mut Client) -> u8 {
    c.setup(common::STANDARD_JOBS).await;
    let opened = c.open_standard("site.rig", 0.0).await;
    opened.extranonce_prefix.first().copied().expect("a prefix")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_port_and_keep_their_node_ids() {
    let standin = StandIn::start(StandInConfig::default())
        .await
        .expect("stand-in");
    let authority = Authority::generate();
    let port = test_utils::proc::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut nodes = Vec::new();
    for id in [1u8, 2] {
        let cfg = config(
            &standin,
            &authority,
            &listen,
            &format!("node_id = {id}\nreuse_port = true"),
        );
        assert!(cfg.server.reuse_port);
        let mut pool = pool::start_pool(cfg, Arc::new(MemorySink::default()))
            .await
            .expect("a reuse_port node binds the shared port");
        assert!(pool.wait_for_job(Duration::from_secs(10)).await);
        nodes.push(pool);
    }
    // Without reuse_port the port is taken.
    let plain = config(&standin, &authority, &listen, "node_id = 3");
    let err = pool::start_pool(plain, Arc::new(MemorySink::default()))
        .await
        .err()
        .expect("a plain listener cannot bind the shared port");
    assert!(err.to_string().contains(&listen), "{err}");

    // The kernel picks a node per connection (by a hash of the 4-tuple): 32 connections reach
    // both nodes but with a chance of 2^-31.
    let mut seen = BTreeSet::new();
    let mut clients = Vec::new();
    for _ in 0..32 {
        let addr = listen.parse().expect("address");
        let mut c = Client::connect_only(addr, authority.xonly, Protocol::Mining).await;
        seen.insert(node_of_channel(&mut c).await);
        clients.push(c);
    }
    assert_eq!(seen, BTreeSet::from([1, 2]), "both nodes served channels");
}
