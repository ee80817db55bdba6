//! Acknowledged work survives SIGKILL: the real `sv2-pool` binary runs with a SQLite ledger and
//! a flush interval far longer than the test, so no work ever reaches the ledger by the
//! periodic flush; a miner gets shares acknowledged, the pool is killed, and the restarted
//! pool replays its work journal: the ledger then holds exactly the acknowledged shares, and
//! another kill and restart does not count them twice.

mod treasury_support;

use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use pool::config::PoolConfig;
use pool::treasury::ledger::Ledger;
use pool::treasury::period::Range;
use pool::treasury::reports;
use pool::treasury::settings::LedgerSettings;
use test_utils::bitcoind::{StandIn, StandInConfig};
use treasury_support::process::{connect_when_up, free_addr, spawn_pool};
use treasury_support::{authority, temp_dir, treasury_config};

/// Accepted shares per site in the ledger.
fn ledger_shares(settings: &LedgerSettings, site: &str) -> u64 {
    let ledger = Ledger::open(settings.clone()).expect("ledger opens");
    let now = pool::accounting::unix_now();
    reports::activity(
        &ledger,
        Range {
            from: now - 3600,
            to: now + 60,
        },
        now,
    )
    .expect("activity")
    .into_iter()
    .find(|a| a.site == site)
    .map(|a| a.shares)
    .unwrap_or(0)
}

/// Waits until the ledger holds `want` shares of `site` (the restarted pool replays its
/// journal before it listens, so this is quick), then a little more to catch a double count.
async fn expect_ledger_shares(settings: &LedgerSettings, site: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = tokio::task::block_in_place(|| ledger_shares(settings, site));
        if got == want {
            break;
        }
        assert!(
            got < want && Instant::now() < deadline,
            "ledger holds {got} shares of {site}, {want} were acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = tokio::task::block_in_place(|| ledger_shares(settings, site));
    assert_eq!(got, want, "acknowledged shares counted exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_work_survives_sigkill_exactly_once() {
    let standin = StandIn::start(StandInConfig::default())
        .await
        .expect("stand-in");
    let dir = temp_dir("work-journal");
    let db = dir.join("ledger.db");
    let (key, pub_s, sec_s) = authority();
    let addr = free_addr();
    let text = treasury_config(
        &standin.url(),
        &addr.to_string(),
        &pub_s,
        &sec_s,
        &db.display().to_string(),
    )
    // The journal is also fdatasync'ed every 20 ms (group commit) while the pool is killed.
    .replace(
        "flush_interval_secs = 1",
        "flush_interval_secs = 60\njournal_sync_ms = 20",
    );
    let config = dir.join("pool.toml");
    std::fs::write(&config, &text).expect("config written");
    let cfg = PoolConfig::parse(&text).expect("valid");
    assert_eq!(
        cfg.work_journal_dir(),
        Some(dir.join("ledger.db.work-journal")),
        "a SQLite ledger gets a journal beside it by default"
    );
    assert_eq!(cfg.accounting.journal_sync_ms, 20);
    let settings = LedgerSettings::from_config(&cfg).expect("treasury");
    // Syncing needs a journal: a pool without a ledger or journal_dir is refused at start.
    let authority = test_utils::fixtures::Authority::generate();
    let payout = test_utils::fixtures::regtest_address(7).to_string();
    let without = test_utils::fixtures::PoolToml {
        tables: "[accounting]\njournal_sync_ms = 20\n",
        ..test_utils::fixtures::PoolToml::new(&standin, &authority, &payout)
    }
    .text();
    let err = PoolConfig::parse(&without).expect_err("sync without a journal");
    assert!(
        err.to_string().contains("accounting.journal_sync_ms"),
        "{err}"
    );

    // Round 1: shares acknowledged, then SIGKILL long before any periodic flush.
    let mut child = spawn_pool(&config, &dir.join("pool-1.log"));
    let mut m = connect_when_up(addr, key, "fra1.journal").await;
    let mut acked = 0u64;
    for _ in 0..30 {
        let tip = standin.tip().hash.to_byte_array();
        m.sync_to(tip).await.expect("miner follows the tip");
        if m.submit_share().await.expect("share answered") {
            acked += 1;
        }
    }
    assert!(acked >= 10, "shares were acknowledged ({acked})");
    child.sigkill();
    drop(m);
    assert_eq!(
        tokio::task::block_in_place(|| ledger_shares(&settings, "fra1")),
        0,
        "no periodic flush ran: the ledger has no work yet"
    );

    // Round 2: the restart replays the journal into the ledger.
    let mut child = spawn_pool(&config, &dir.join("pool-2.log"));
    let m = connect_when_up(addr, key, "fra1.journal").await;
    expect_ledger_shares(&settings, "fra1", acked).await;
    child.sigkill();
    drop(m);

    // Round 3: nothing new was acknowledged; the replayed work is not counted again.
    let mut child = spawn_pool(&config, &dir.join("pool-3.log"));
    let m = connect_when_up(addr, key, "fra1.journal").await;
    expect_ledger_shares(&settings, "fra1", acked).await;
    child.sigkill();
    drop(m);
}

/// A block found on a declared job is kept in the journal directory before its share is
/// acknowledged; if the pool dies before the ledger holds it, the next start records it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_block_kept_in_the_journal_reaches_the_ledger_at_start() {
    let standin = StandIn::start(StandInConfig::default())
        .await
        .expect("stand-in");
    let dir = temp_dir("declared-journal");
    let db = dir.join("ledger.db");
    let (_, pub_s, sec_s) = authority();
    let text = treasury_config(
        &standin.url(),
        "127.0.0.1:0",
        &pub_s,
        &sec_s,
        &db.display().to_string(),
    );
    let cfg = PoolConfig::parse(&text).expect("valid");
    let journal_dir = cfg.work_journal_dir().expect("journal beside the ledger");
    let block = pool::accounting::DeclaredBlock {
        hash: "0f".repeat(32),
        finder: pool::accounting::WorkerId::parse("fra1.jdc"),
        time: pool::accounting::unix_now(),
    };
    {
        // What the killed pool left behind.
        let (journal, _) =
            pool::work_journal::WorkJournal::open(&journal_dir, 0).expect("journal opens");
        journal.write_declared(&block).expect("kept");
    }
    let ledger = tokio::task::block_in_place(|| pool::treasury::open_ledger(&cfg))
        .expect("ledger opens")
        .expect("configured");
    assert!(ledger.declared_blocks().expect("read").is_empty());
    let mut handle = pool::start_pool(cfg, ledger.clone())
        .await
        .expect("pool starts");
    assert_eq!(ledger.declared_blocks().expect("read"), vec![block]);
    let left: Vec<_> = std::fs::read_dir(&journal_dir)
        .expect("journal dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("declared-"))
        .collect();
    assert!(left.is_empty(), "the journal's copy is gone: {left:?}");
    handle.shutdown();
    let _ = &mut handle;
}
