//! `sv2-pool demo`: the whole product on loopback for a first look — a bitcoind stand-in
//! (regtest rules, synthetic mempool), the pool, and CPU miners on two sites (one standard
//! channel, one extended channel) that really hash and find regtest-difficulty blocks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::secp256k1::{Keypair, Secp256k1};
use bitcoin::{Address, CompressedPublicKey, Network};
use test_utils::bitcoind::{StandIn, StandInConfig};
use test_utils::miner::sv2::{spawn as spawn_miner, ChannelMode, Sv2MinerConfig};

use crate::accounting::{FanoutSink, LogSink, MemorySink, WorkSink};
use crate::config::PoolConfig;

/// Demo options.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// SV2 port of the pool (0: any free port).
    pub port: u16,
    /// Prometheus port ("" disables).
    pub metrics: String,
    /// Stop after this long (None: until Ctrl-C).
    pub duration: Option<Duration>,
    /// Hashing threads per miner.
    pub threads: usize,
}

/// Runs the demo until the duration passes or Ctrl-C.
pub async fn run(opts: DemoOptions) -> Result<(), String> {
    println!("== sv2-pool demo: bitcoind stand-in + pool + CPU miners, all on 127.0.0.1 ==");
    let standin = StandIn::start(StandInConfig {
        premine: 101,
        ..StandInConfig::default()
    })
    .await
    .map_err(|e| format!("stand-in: {e}"))?;
    standin
        .add_random_mempool_txs(10)
        .map_err(|e| format!("stand-in mempool: {e}"))?;
    println!(
        "bitcoind stand-in (regtest) at {} (user pool / poolpass), height {}",
        standin.url(),
        standin.tip().height
    );

    let secp = Secp256k1::new();
    let authority = Keypair::new(&secp, &mut bitcoin::secp256k1::rand::thread_rng());
    let (authority_pub, _) = authority.x_only_public_key();
    let treasury_key = Keypair::new(&secp, &mut bitcoin::secp256k1::rand::thread_rng());
    let treasury = Address::p2wpkh(
        &CompressedPublicKey(treasury_key.public_key()),
        Network::Regtest,
    );
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
authority_public_key = "{pk}"
authority_secret_key = "{sk}"
pool_tag = "/sv2-pool-demo/"
[bitcoind]
url = "{url}"
user = "pool"
password = "poolpass"
min_fee_refresh_secs = 10
[[payout]]
address = "{treasury}"
account = "treasury"
[mining]
share_interval_secs = 3.0
initial_difficulty = 0.0001
min_difficulty = 0.00001
[metrics]
listen = "{metrics}"
"#,
        port = opts.port,
        pk = sv2_noise::encode_public_key(&authority_pub),
        sk = sv2_noise::encode_secret_key(&authority.secret_key()),
        url = standin.url(),
        metrics = opts.metrics,
    );
    let cfg = PoolConfig::parse(&text).map_err(|e| e.to_string())?;
    if !cfg.metrics.listen.is_empty() {
        if let Ok(addr) = cfg.metrics.listen.parse() {
            crate::telemetry::init_metrics(addr).map_err(|e| e.to_string())?;
            println!("Prometheus metrics: http://{addr}/metrics");
        }
    }
    let memory = Arc::new(MemorySink::default());
    let sink: Arc<dyn WorkSink> = Arc::new(FanoutSink(vec![memory.clone(), Arc::new(LogSink)]));
    let mut pool = crate::start_pool(cfg, sink)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "pool listening on {} — authority public key {}",
        pool.local_addr,
        sv2_noise::encode_public_key(&authority_pub)
    );
    println!("treasury payout address {treasury}");
    if !pool.wait_for_job(Duration::from_secs(10)).await {
        return Err("the pool got no template from the stand-in".into());
    }

    let addr = pool.local_addr.to_string();
    let mut miners = Vec::new();
    for (user, mode) in [
        ("fra1.rig-01", ChannelMode::Standard),
        ("osl1.proxy-01", ChannelMode::Extended),
    ] {
        let mut c = Sv2MinerConfig::new(addr.clone(), authority_pub, user);
        c.mode = mode;
        c.threads = opts.threads;
        c.reconnect_delay = Some(Duration::from_secs(1));
        let h = spawn_miner(c).map_err(|e| format!("miner {user}: {e}"))?;
        println!("CPU miner {user} ({mode:?} channel) started");
        miners.push((user, h));
    }

    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        let tip = standin.tip();
        let ours = standin.submitted_blocks().len();
        println!(
            "[{:>4}s] chain height {} | blocks found by the pool {} | recorded {}",
            started.elapsed().as_secs(),
            tip.height,
            ours,
            memory.blocks().len()
        );
        for (user, h) in &miners {
            let s = h.stats();
            println!(
                "        {user:<14} {:>8.2} MH/s  shares accepted {:>5} rejected {:>3}  difficulty {:.6}",
                s.hashrate() / 1e6,
                s.shares_accepted,
                s.shares_rejected,
                s.difficulty
            );
        }
        if ours % 3 == 0 {
            let _ = standin.add_random_mempool_txs(5);
        }
        if opts.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
    }
    for (_, h) in &miners {
        h.stop();
    }
    let blocks = standin.submitted_blocks();
    println!(
        "demo finished: {} blocks found and accepted by the stand-in",
        blocks.len()
    );
    pool.shutdown();
    Ok(())
}
