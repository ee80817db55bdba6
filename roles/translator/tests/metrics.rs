//! The Prometheus endpoint serves the translator's metrics (own test binary: the recorder is
//! process-global).

mod common;

use std::time::Duration;

use common::{authority, mining_translator, start_pool, RawMiner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("metrics endpoint");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut body = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut body)).await;
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_endpoint_exposes_miners_shares_and_upstream() {
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    translator::telemetry::init_metrics(metrics_addr).expect("exporter starts");
    let kp = authority();
    let env = start_pool("127.0.0.1:0", &kp).await;
    let t = mining_translator("siteM", &env).await;
    let mut m = RawMiner::connect(t.local_addr).await;
    m.handshake("acct.metered").await;
    m.mine_accepted_share(0).await;
    let wanted = [
        "translator_miners_connected",
        "translator_miners_ready",
        "translator_shares_total{",
        "result=\"accepted\"",
        "translator_shares_forwarded_total",
        "translator_upstream_state",
        "translator_upstream_connected{upstream=",
        "translator_hashrate",
        "translator_miner_hashrate{",
        "worker=\"metered\"",
    ];
    let mut body = String::new();
    for _ in 0..40 {
        body = scrape(metrics_addr).await;
        if wanted.iter().all(|w| body.contains(w)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for w in wanted {
        assert!(body.contains(w), "`{w}` missing from:\n{body}");
    }
    t.shutdown().await;
}
