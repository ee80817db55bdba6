//! End to end over real TCP + Noise, on SQLite and on PostgreSQL: CPU miners on two sites
//! (fra1: partner hostco 29.1%, ams2: partner dcpartner 15%) → pool with the treasury ledger →
//! bitcoind stand-in. Four blocks are found; the stand-in reorgs the last one away; 100 more
//! blocks mature the rest. The ledger, the CLI report and the dashboard page must show the
//! right immature, mature and orphaned amounts per site and partner, to the satoshi.

mod treasury_support;

use std::sync::Arc;
use std::time::Duration;

use bitcoin::hashes::Hash;
use clap::Parser;
use pool::accounting::WorkSink;
use pool::config::PoolConfig;
use pool::treasury::ledger::Ledger;
use pool::treasury::reports;
use pool::treasury::settings::Database;
use test_utils::bitcoind::{StandIn, StandInConfig};
use treasury_support::miner::Miner;
use treasury_support::{authority, treasury_config};

const BTC50: i64 = 5_000_000_000;

async fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn statuses(l: &Ledger) -> Vec<(u64, String)> {
    let mut v: Vec<(u64, String)> = reports::blocks(l, None, 100)
        .unwrap()
        .into_iter()
        .map(|b| (b.height, b.status))
        .collect();
    v.sort();
    v
}

fn bal(l: &Ledger, account: &str) -> (i64, i64, i64) {
    reports::balances(l)
        .unwrap()
        .into_iter()
        .find(|b| b.account == account)
        .map(|b| (b.immature, b.mature, b.orphaned))
        .unwrap_or_default()
}

async fn scenario(database: Database) {
    let standin = StandIn::start(StandInConfig::default())
        .await
        .expect("stand-in");
    let (xonly, pub_s, sec_s) = authority();
    let db = match &database {
        Database::Sqlite(p) => p.display().to_string(),
        Database::Postgres(u) => u.clone(),
    };
    let cfg = PoolConfig::parse(&treasury_config(
        &standin.url(),
        "127.0.0.1:0",
        &pub_s,
        &sec_s,
        &db,
    ))
    .expect("config");
    let ledger = tokio::task::block_in_place(|| pool::treasury::open_ledger(&cfg))
        .expect("ledger opens")
        .expect("configured");
    let sink: Arc<dyn WorkSink> = ledger.clone();
    let mut handle = pool::start_pool(cfg.clone(), sink)
        .await
        .expect("pool starts");
    assert!(handle.wait_for_job(Duration::from_secs(10)).await);
    let _tracker = pool::treasury::start_tracker(&cfg, ledger.clone())
        .await
        .expect("tracker");
    let (http, _http_task) = pool::dashboard::serve(
        "127.0.0.1:0".parse().unwrap(),
        pool::dashboard::HttpState {
            readiness: pool::dashboard::Readiness::default(),
            prometheus: None,
            ledger: Some(ledger.clone()),
            dashboard: cfg.dashboard.clone(),
        },
    )
    .expect("http");

    let mut fra = Miner::connect(handle.local_addr, xonly, "fra1.rig-01")
        .await
        .expect("fra1 miner");
    let mut ams = Miner::connect(handle.local_addr, xonly, "ams2.rig-07")
        .await
        .expect("ams2 miner");

    // Four blocks, alternating sites; each waits for the previous one to be credited so every
    // block's window holds exactly its finder's work.
    let finders = [true, false, true, false];
    for (i, is_fra) in finders.iter().enumerate() {
        let tip = standin.tip().hash.to_byte_array();
        let m = if *is_fra { &mut fra } else { &mut ams };
        m.sync_to(tip).await.expect("miner follows the tip");
        assert!(
            m.submit_share().await.expect("submit"),
            "share {i} accepted"
        );
        let l = ledger.clone();
        wait_until("block credited", 20, || {
            let s = statuses(&l);
            s.len() == i + 1 && s.iter().all(|(_, st)| st == "immature")
        })
        .await;
    }
    let accepted = standin.submitted_blocks();
    assert_eq!(accepted.len(), 4);
    let heights: Vec<u64> = accepted.iter().map(|b| u64::from(b.height)).collect();
    let blocks = reports::blocks(&ledger, None, 10).unwrap();
    for b in &blocks {
        let finder_site = if b.finder.starts_with("fra1.") {
            "fra1"
        } else {
            "ams2"
        };
        assert_eq!(
            b.sites,
            vec![(finder_site.to_owned(), BTC50)],
            "block {}",
            b.height
        );
        assert_eq!(b.reward_sats, BTC50);
    }
    // Immature: 2 fra1 blocks, 2 ams2 blocks.
    assert_eq!(bal(&ledger, "partner/hostco"), (2 * 1_455_000_000, 0, 0));
    assert_eq!(bal(&ledger, "partner/dcpartner"), (2 * 750_000_000, 0, 0));
    assert_eq!(
        bal(&ledger, "treasury/main"),
        (2 * 3_545_000_000 + 2 * 4_250_000_000, 0, 0)
    );

    // The stand-in reorgs the last block (ams2's) away.
    standin.reorg(1).expect("reorg");
    let l = ledger.clone();
    let last = heights[3];
    wait_until("block orphaned", 20, || {
        statuses(&l)
            .iter()
            .any(|(h, s)| *h == last && s == "orphaned")
    })
    .await;
    assert_eq!(
        bal(&ledger, "partner/dcpartner"),
        (750_000_000, 0, 750_000_000)
    );
    assert_eq!(
        bal(&ledger, "treasury/main"),
        (2 * 3_545_000_000 + 4_250_000_000, 0, 4_250_000_000)
    );

    // 100 more blocks: the three remaining blocks mature.
    standin.mine_blocks(100).expect("mine");
    let l = ledger.clone();
    wait_until("blocks mature", 30, || {
        statuses(&l).iter().filter(|(_, s)| s == "mature").count() == 3
    })
    .await;
    assert_eq!(bal(&ledger, "partner/hostco"), (0, 2 * 1_455_000_000, 0));
    assert_eq!(
        bal(&ledger, "partner/dcpartner"),
        (0, 750_000_000, 750_000_000)
    );
    assert_eq!(
        bal(&ledger, "treasury/main"),
        (0, 2 * 3_545_000_000 + 4_250_000_000, 4_250_000_000)
    );
    let all = pool::treasury::period::Range {
        from: 0,
        to: u64::MAX / 2,
    };
    let (sites, partners) = reports::mined(&ledger, all).unwrap();
    let fra1 = sites.iter().find(|s| s.site == "fra1").unwrap();
    assert_eq!(
        (
            fra1.blocks,
            fra1.mined_sats,
            fra1.partner_sats,
            fra1.orphaned_sats
        ),
        (2, 2 * BTC50, 2 * 1_455_000_000, 0)
    );
    let ams2 = sites.iter().find(|s| s.site == "ams2").unwrap();
    assert_eq!(
        (
            ams2.blocks,
            ams2.mined_sats,
            ams2.partner_sats,
            ams2.orphaned_sats
        ),
        (1, BTC50, 750_000_000, BTC50)
    );
    let dc = partners.iter().find(|p| p.partner == "dcpartner").unwrap();
    assert_eq!(
        (dc.partner_sats, dc.orphaned_sats),
        (750_000_000, 750_000_000)
    );
    let audit = ledger.audit().unwrap();
    assert!(audit.is_clean(), "{audit:?}");

    // The CLI report shows the same numbers.
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: pool::treasury::cli::TreasuryArgs,
    }
    let args = Cli::try_parse_from(["x", "balances", "--format", "json"])
        .unwrap()
        .args;
    let l = ledger.clone();
    let out = tokio::task::spawn_blocking(move || {
        pool::treasury::cli::render(&l, &args, pool::accounting::unix_now())
    })
    .await
    .unwrap()
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let row = |a: &str| {
        json.as_array()
            .unwrap()
            .iter()
            .find(|r| r["account"] == a)
            .unwrap()
            .clone()
    };
    assert_eq!(
        row("treasury/main")["mature_sats"],
        2 * 3_545_000_000i64 + 4_250_000_000
    );
    assert_eq!(row("treasury/main")["orphaned_sats"], 4_250_000_000i64);
    assert_eq!(row("partner/hostco")["mature_sats"], 2 * 1_455_000_000i64);

    // And so does the dashboard (plain HTTP here; treasury_dashboard_* uses a browser).
    let html = http_get(http, "/").await;
    for (account, bucket, sats) in [
        ("treasury/main", "mature", 2 * 3_545_000_000 + 4_250_000_000),
        ("treasury/main", "orphaned", 4_250_000_000),
        ("partner/hostco", "mature", 2 * 1_455_000_000),
        ("partner/dcpartner", "orphaned", 750_000_000),
    ] {
        let needle = format!(
            "data-account=\"{account}\" data-bucket=\"{bucket}\" data-sats=\"{sats}\">{}</td>",
            reports::btc(sats)
        );
        assert!(html.contains(&needle), "dashboard lacks {needle}");
    }
    let metrics = http_get(http, "/metrics").await;
    assert!(
        metrics.contains("treasury_blocks{status=\"orphaned\"} 1"),
        "{metrics}"
    );
    handle.shutdown();
    let _ = &mut handle;
}

/// GET `path`: the whole body (panics unless 200).
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let (code, body) = test_utils::http::get(addr, path)
        .await
        .expect("http answer");
    assert_eq!(code, 200, "GET {path}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sites_reorg_and_maturity_sqlite() {
    let dir = treasury_support::temp_dir("e2e");
    scenario(Database::Sqlite(dir.join("ledger.db"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sites_reorg_and_maturity_postgres() {
    let Some(url) = treasury_support::postgres_url() else {
        return;
    };
    let db = treasury_support::fresh_postgres_database(&url, "e2e");
    scenario(Database::Postgres(db)).await;
}
