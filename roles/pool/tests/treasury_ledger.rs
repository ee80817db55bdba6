//! Ledger suite, run against SQLite and (when TEST_POSTGRES_URL is set) PostgreSQL: hand-computed
//! attribution to the satoshi, idempotent block recording, the attribution window modes,
//! maturity / orphaning / reinstatement with reversing entries, append-only enforcement,
//! migrations, reports and concurrent writers.

mod treasury_support;

use std::sync::Arc;

use pool::accounting::{DeclaredBlock, FoundBlock, WorkRecord, WorkSink, WorkerId};
use pool::treasury::config::WindowConfig;
use pool::treasury::ledger::{BlockSource, Ledger, Observation, RecordOutcome};
use pool::treasury::period::Range;
use pool::treasury::reports;
use pool::treasury::settings::{Database, LedgerSettings};
use treasury_support::{databases, settings};

const T0: u64 = 1_790_000_040; // a minute boundary
const BTC50: u64 = 5_000_000_000;

fn work(identity: &str, start: u64, end: u64, shares: u64, difficulty: f64) -> WorkRecord {
    WorkRecord {
        worker: WorkerId::parse(identity),
        window_start: start,
        window_end: end,
        shares,
        difficulty_sum: difficulty,
        rejected: 0,
    }
}

fn block(height: u64, hash_byte: u8, time: u64, finder: &str) -> FoundBlock {
    FoundBlock {
        height,
        hash: format!("{:02x}", hash_byte).repeat(32),
        reward_sats: BTC50,
        fees_sats: 0,
        finder: WorkerId::parse(finder),
        time,
        node_result: "accepted".into(),
    }
}

/// (account, bucket) → balance.
fn balance(l: &Ledger, account: &str) -> (i64, i64, i64) {
    reports::balances(l)
        .unwrap()
        .into_iter()
        .find(|b| b.account == account)
        .map(|b| (b.immature, b.mature, b.orphaned))
        .unwrap_or((0, 0, 0))
}

fn each_backend(tag: &str, f: impl Fn(&str, LedgerSettings)) {
    for db in databases(tag) {
        let name = match &db {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        };
        eprintln!("--- {tag} on {name}");
        f(name, settings(db));
    }
}

#[test]
fn two_sites_split_to_the_satoshi() {
    each_backend("split", |name, s| {
        let l = Ledger::open(s).unwrap();
        // The block is found during the flush window [T0, T0+5]: it waits for that flush.
        assert_eq!(
            l.record_block_from(
                &block(101, 1, T0 + 4, "fra1.rack1"),
                BlockSource::Pool,
                T0 + 4
            )
            .unwrap(),
            RecordOutcome::New
        );
        assert_eq!(balance(&l, "partner/hostco"), (0, 0, 0), "{name}");
        // fra1 does 3x the work of ams2 (legacy-rig is mapped to ams2 explicitly).
        l.record_work_at(
            &[
                work("fra1.rack1", T0, T0 + 5, 3, 2.0),
                work("fra1.rack2", T0, T0 + 5, 1, 1.0),
                work("legacy-rig", T0, T0 + 5, 1, 1.0),
            ],
            T0 + 5,
        )
        .unwrap();
        assert_eq!(
            balance(&l, "partner/hostco"),
            (1_091_250_000, 0, 0),
            "{name}"
        );
        assert_eq!(
            balance(&l, "partner/dcpartner"),
            (187_500_000, 0, 0),
            "{name}"
        );
        assert_eq!(
            balance(&l, "treasury/main"),
            (BTC50 as i64 - 1_091_250_000 - 187_500_000, 0, 0),
            "{name}"
        );
        let b = &reports::blocks(&l, None, 10).unwrap()[0];
        assert_eq!(b.status, "immature");
        assert_eq!(
            b.sites,
            vec![
                ("ams2".to_owned(), 1_250_000_000),
                ("fra1".to_owned(), 3_750_000_000)
            ]
        );
        assert!(l.audit().unwrap().is_clean());
        // The next block's window starts after this one's.
        l.record_block_from(&block(102, 2, T0 + 7, "ams2.x"), BlockSource::Pool, T0 + 7)
            .unwrap();
        l.record_work_at(
            &[
                work("fra1.rack1", T0 + 5, T0 + 10, 1, 2.0),
                work("ams2.x", T0 + 5, T0 + 10, 1, 5.0),
            ],
            T0 + 10,
        )
        .unwrap();
        let b2 = &reports::blocks(&l, None, 10).unwrap()[0];
        assert_eq!(b2.height, 102);
        assert_eq!(
            b2.sites,
            vec![
                ("ams2".to_owned(), 5_000_000_000 * 5 / 7 + 1),
                ("fra1".to_owned(), 5_000_000_000 * 2 / 7)
            ]
        );
        let audit = l.audit().unwrap();
        assert!(audit.is_clean(), "{audit:?}");
    });
}

#[test]
fn recording_twice_credits_once() {
    each_backend("dup", |name, s| {
        let l = Ledger::open(s.clone()).unwrap();
        let b = block(200, 7, T0, "fra1.a");
        l.record_work_at(&[work("fra1.a", T0 - 5, T0, 1, 1.0)], T0)
            .unwrap();
        assert_eq!(
            l.record_block_from(&b, BlockSource::Pool, T0).unwrap(),
            RecordOutcome::New
        );
        assert_eq!(
            l.record_block_from(&b, BlockSource::Pool, T0).unwrap(),
            RecordOutcome::Duplicate
        );
        assert_eq!(
            l.record_block_from(&b, BlockSource::Recovered, T0).unwrap(),
            RecordOutcome::Duplicate
        );
        l.attribute_due(T0 + 100).unwrap();
        drop(l);
        // A restart (new process) recording it again: still once.
        let l = Ledger::open(s).unwrap();
        assert_eq!(
            l.record_block_from(&b, BlockSource::Pool, T0 + 200)
                .unwrap(),
            RecordOutcome::Duplicate
        );
        let blocks = reports::blocks(&l, None, 10).unwrap();
        assert_eq!(blocks.len(), 1, "{name}");
        let total: i64 = reports::balances(&l)
            .unwrap()
            .iter()
            .map(|a| a.immature + a.mature)
            .sum();
        assert_eq!(total, BTC50 as i64);
        assert!(l.audit().unwrap().is_clean());
    });
}

#[test]
fn concurrent_writers_credit_once() {
    each_backend("conc", |name, s| {
        // Two ledgers on one database (two pool nodes), recording the same blocks at once.
        let a = Arc::new(Ledger::open(s.clone()).unwrap());
        let b = Arc::new(Ledger::open(s).unwrap());
        let threads: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .map(|l| {
                std::thread::spawn(move || {
                    for i in 0..20u8 {
                        l.record_work_at(
                            &[work(
                                "fra1.a",
                                T0 + u64::from(i),
                                T0 + u64::from(i) + 1,
                                1,
                                1.0,
                            )],
                            T0 + u64::from(i) + 1,
                        )
                        .unwrap();
                        l.record_block_from(
                            &block(300 + u64::from(i), 100 + i, T0 + u64::from(i), "fra1.a"),
                            BlockSource::Pool,
                            T0 + u64::from(i),
                        )
                        .unwrap();
                    }
                    l.attribute_due(T0 + 1000).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let blocks = reports::blocks(&a, None, 100).unwrap();
        assert_eq!(blocks.len(), 20, "{name}");
        assert!(blocks.iter().all(|b| b.status == "immature"));
        let total: i64 = reports::balances(&b)
            .unwrap()
            .iter()
            .map(|x| x.immature)
            .sum();
        assert_eq!(total, 20 * BTC50 as i64);
        assert!(a.audit().unwrap().is_clean());
    });
}

#[test]
fn grace_attributes_to_the_finder_when_no_work() {
    each_backend("grace", |name, s| {
        let l = Ledger::open(s).unwrap();
        l.record_block_from(&block(5, 9, T0, "fra1.lucky"), BlockSource::Pool, T0)
            .unwrap();
        assert_eq!(l.attribute_due(T0 + 29).unwrap(), 0);
        assert_eq!(l.attribute_due(T0 + 30).unwrap(), 1);
        let b = &reports::blocks(&l, None, 10).unwrap()[0];
        assert_eq!(b.sites, vec![("fra1".to_owned(), BTC50 as i64)], "{name}");
        assert_eq!(balance(&l, "partner/hostco").0, 1_455_000_000);
        assert_eq!(balance(&l, "treasury/main").0, 3_545_000_000);
        // Unknown finder site (recovered block): all to the treasury, site "unassigned".
        l.record_block_from(
            &block(6, 10, T0 + 1, "zzz.q"),
            BlockSource::Recovered,
            T0 + 1,
        )
        .unwrap();
        l.attribute_due(T0 + 100).unwrap();
        assert_eq!(balance(&l, "treasury/main").0, 3_545_000_000 + BTC50 as i64);
        let (sites, _) = reports::mined(
            &l,
            Range {
                from: 0,
                to: T0 + 1000,
            },
        )
        .unwrap();
        let un = sites.iter().find(|s| s.site == "unassigned").unwrap();
        assert_eq!(un.mined_sats, BTC50 as i64);
    });
}

#[test]
fn maturity_orphaning_and_reinstatement() {
    each_backend("chain", |name, s| {
        let l = Ledger::open(s).unwrap();
        l.record_work_at(&[work("fra1.a", T0 - 5, T0, 1, 1.0)], T0)
            .unwrap();
        let b1 = block(110, 0x11, T0 + 1, "fra1.a");
        let b2 = block(111, 0x22, T0 + 2, "fra1.a");
        l.record_block_from(&b1, BlockSource::Pool, T0 + 1).unwrap();
        l.record_block_from(&b2, BlockSource::Pool, T0 + 2).unwrap();
        l.attribute_due(T0 + 100).unwrap();
        let tracked = l.blocks_to_check(111).unwrap();
        assert_eq!(tracked.len(), 2);
        let id = |h: &str| tracked.iter().find(|t| t.hash == h).unwrap().id;
        let (id1, id2) = (id(&b1.hash), id(&b2.hash));
        // Tip 150: b1 still on chain, b2 replaced by another block.
        let ch = l
            .apply_chain(
                150,
                "tip",
                &[
                    Observation {
                        block_id: id1,
                        active_hash: Some(b1.hash.clone()),
                    },
                    Observation {
                        block_id: id2,
                        active_hash: Some("ff".repeat(32)),
                    },
                ],
                T0 + 200,
            )
            .unwrap();
        assert_eq!(ch.orphaned, vec![id2], "{name}");
        assert!(ch.matured.is_empty());
        assert_eq!(
            balance(&l, "partner/hostco"),
            (1_455_000_000, 0, 1_455_000_000)
        );
        assert_eq!(
            balance(&l, "treasury/main"),
            (3_545_000_000, 0, 3_545_000_000)
        );
        // Tip 209: b1 has 100 confirmations → mature; b2 is back on the chain → reinstated.
        let ch = l
            .apply_chain(
                209,
                "tip2",
                &[
                    Observation {
                        block_id: id1,
                        active_hash: Some(b1.hash.clone()),
                    },
                    Observation {
                        block_id: id2,
                        active_hash: Some(b2.hash.clone()),
                    },
                ],
                T0 + 300,
            )
            .unwrap();
        assert_eq!(
            ch.matured,
            vec![id1, id2]
                .into_iter()
                .filter(|i| *i == id1)
                .collect::<Vec<_>>()
        );
        assert_eq!(ch.reinstated, vec![id2]);
        assert_eq!(
            balance(&l, "partner/hostco"),
            (1_455_000_000, 1_455_000_000, 0)
        );
        // Applying the same observation again changes nothing.
        let again = l
            .apply_chain(
                209,
                "tip2",
                &[Observation {
                    block_id: id1,
                    active_hash: Some(b1.hash.clone()),
                }],
                T0 + 301,
            )
            .unwrap();
        assert_eq!(again, Default::default());
        let blocks = reports::blocks(&l, None, 10).unwrap();
        let st: Vec<(&str, Option<u64>)> = blocks
            .iter()
            .map(|b| (b.status.as_str(), b.confirmations))
            .collect();
        assert_eq!(st, vec![("immature", Some(99)), ("mature", Some(100))]);
        assert_eq!(reports::tip_height(&l).unwrap(), Some(209));
        let audit = l.audit().unwrap();
        assert!(audit.is_clean(), "{audit:?}");
    });
}

#[test]
fn pplns_windows() {
    for window in [
        WindowConfig::Time { seconds: 60 },
        WindowConfig::Difficulty { difficulty: 4.0 },
    ] {
        each_backend("pplns", |name, mut s| {
            s.window = window;
            let l = Ledger::open(s).unwrap();
            // Old ams2 work (outside a 60 s window), then 2 fra1 + 2 ams2 + 2 fra1.
            l.record_work_at(&[work("ams2.a", T0 - 200, T0 - 195, 1, 10.0)], T0 - 195)
                .unwrap();
            l.record_work_at(&[work("fra1.a", T0 - 30, T0 - 25, 1, 2.0)], T0 - 25)
                .unwrap();
            l.record_work_at(&[work("ams2.a", T0 - 25, T0 - 20, 1, 2.0)], T0 - 20)
                .unwrap();
            l.record_work_at(&[work("fra1.a", T0 - 20, T0 - 15, 1, 2.0)], T0 - 15)
                .unwrap();
            l.record_block_from(&block(1, 1, T0, "fra1.a"), BlockSource::Pool, T0)
                .unwrap();
            l.attribute_due(T0 + 1000).unwrap();
            let b = &reports::blocks(&l, None, 1).unwrap()[0];
            // Time 60 s: fra1 4, ams2 2 → 2/3, 1/3. Difficulty 4: last rows fra1 2 + ams2 2.
            let expect = match window {
                WindowConfig::Time { .. } => vec![
                    ("ams2".to_owned(), BTC50 as i64 / 3),
                    ("fra1".to_owned(), BTC50 as i64 - BTC50 as i64 / 3),
                ],
                _ => vec![
                    ("ams2".to_owned(), BTC50 as i64 / 2),
                    ("fra1".to_owned(), BTC50 as i64 / 2),
                ],
            };
            assert_eq!(b.sites, expect, "{name} {window:?}");
            assert!(l.audit().unwrap().is_clean());
        });
    }
}

#[test]
fn reports_uptime_hashrate_mined() {
    each_backend("reports", |name, s| {
        let l = Ledger::open(s).unwrap();
        // fra1 works in 3 of the 10 minutes, ams2 in 1; difficulty 60 per minute = 2^32 H/s.
        for m in [0u64, 1, 5] {
            let t = T0 + m * 60;
            l.record_work_at(&[work("fra1.a", t + 10, t + 15, 3, 60.0)], t + 15)
                .unwrap();
        }
        l.record_work_at(
            &[work("ams2.a", T0 + 9 * 60 + 1, T0 + 9 * 60 + 6, 1, 60.0)],
            T0 + 600,
        )
        .unwrap();
        let range = Range {
            from: T0,
            to: T0 + 600,
        };
        let act = reports::activity(&l, range, T0 + 10_000).unwrap();
        let fra = act.iter().find(|a| a.site == "fra1").unwrap();
        assert_eq!((fra.minutes_up, fra.minutes_total), (3, 10), "{name}");
        assert!((fra.uptime - 0.3).abs() < 1e-12);
        assert!((fra.hashrate - 180.0 * 4_294_967_296.0 / 600.0).abs() < 1e-3);
        let ams = act.iter().find(|a| a.site == "ams2").unwrap();
        assert_eq!(ams.minutes_up, 1);
        // Only the elapsed part of a running range counts.
        let half = reports::activity(&l, range, T0 + 300).unwrap();
        assert_eq!(
            half.iter()
                .find(|a| a.site == "fra1")
                .unwrap()
                .minutes_total,
            5
        );
        let series = reports::hashrate_series(&l, range, 300).unwrap();
        let fra_series = &series.sites.iter().find(|(s, _)| s == "fra1").unwrap().1;
        assert_eq!(fra_series.len(), 2);
        assert!((fra_series[0] - 120.0 * 4_294_967_296.0 / 300.0).abs() < 1e-3);

        l.record_block_from(
            &block(7, 7, T0 + 590, "ams2.a"),
            BlockSource::Pool,
            T0 + 590,
        )
        .unwrap();
        l.attribute_due(T0 + 10_000).unwrap();
        let (sites, partners) = reports::mined(&l, range).unwrap();
        let fra = sites.iter().find(|s| s.site == "fra1").unwrap();
        let ams = sites.iter().find(|s| s.site == "ams2").unwrap();
        assert_eq!(fra.mined_sats + ams.mined_sats, BTC50 as i64);
        assert_eq!(fra.mined_sats, BTC50 as i64 * 3 / 4);
        assert_eq!(fra.partner_sats, 1_091_250_000);
        assert_eq!(fra.blocks, 1);
        let host = partners.iter().find(|p| p.partner == "hostco").unwrap();
        assert_eq!(host.partner_sats, 1_091_250_000);
        // Out of range: nothing.
        let (later, _) = reports::mined(
            &l,
            Range {
                from: T0 + 600,
                to: T0 + 700,
            },
        )
        .unwrap();
        assert!(later.iter().all(|s| s.mined_sats == 0));
        let text = pool::treasury::metrics::render(&l, T0 + 700).unwrap();
        assert!(text.contains("treasury_balance_sats{account=\"partner/hostco\",kind=\"partner\",state=\"immature\"} 1091250000"), "{text}");
        assert!(text.contains(
            "treasury_mined_sats{site=\"fra1\",partner=\"hostco\",period=\"all\"} 3750000000"
        ));
        assert!(text.contains("treasury_blocks{status=\"immature\"} 1"));
    });
}

#[test]
fn declared_blocks_are_kept_until_forgotten_and_merge_into_a_recovered_block() {
    each_backend("declared", |name, s| {
        let l = Ledger::open(s).unwrap();
        let d = DeclaredBlock {
            hash: "ab".repeat(32),
            finder: WorkerId::parse("fra1.jdc"),
            time: T0,
        };
        l.declared_block(&d).unwrap();
        l.declared_block(&d).unwrap();
        assert_eq!(
            l.declared_blocks().unwrap(),
            vec![d.clone()],
            "{name}: once"
        );
        // Recovered by the chain scan first (finder unknown), then credited by the tracker
        // with the declared finder: one block, the finder's site.
        let mut b = block(7, 0xab, T0, "x.y");
        l.record_block_from(&b, BlockSource::Recovered, T0).unwrap();
        b.finder = d.finder.clone();
        b.node_result = "declared-job".into();
        assert_eq!(
            l.record_block_from(&b, BlockSource::Pool, T0).unwrap(),
            RecordOutcome::Merged
        );
        let blocks = reports::blocks(&l, None, 10).unwrap();
        assert_eq!(blocks.len(), 1, "{name}");
        assert_eq!(blocks[0].finder, "fra1.jdc");
        l.forget_declared(&d.hash).unwrap();
        assert!(l.declared_blocks().unwrap().is_empty(), "{name}");
    });
}

#[test]
fn entries_are_append_only_and_migrations_versioned() {
    each_backend("schema", |name, s| {
        let db = s.database.clone();
        let l = Ledger::open(s.clone()).unwrap();
        l.record_block_from(&block(1, 1, T0, "fra1.a"), BlockSource::Pool, T0)
            .unwrap();
        l.attribute_due(T0 + 100).unwrap();
        drop(l);
        // Re-opening applies nothing twice.
        let l = Ledger::open(s.clone()).unwrap();
        drop(l);
        match db {
            Database::Sqlite(path) => {
                let c = rusqlite::Connection::open(&path).unwrap();
                let v: i64 = c
                    .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(v, 3, "0001_init, 0002_work_journal, 0003_declared_blocks");
                let n: i64 = c
                    .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(n, 3);
                assert!(c.execute("UPDATE entries SET amount_sats = 0", []).is_err());
                assert!(c.execute("DELETE FROM entries", []).is_err());
                c.execute("INSERT INTO schema_version VALUES (99, 'future', 0)", [])
                    .unwrap();
            }
            Database::Postgres(url) => {
                std::thread::spawn(move || {
                    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                    let v: i64 = c
                        .query_one("SELECT MAX(version) FROM schema_version", &[])
                        .unwrap()
                        .get(0);
                    assert_eq!(v, 3);
                    assert!(c
                        .execute("UPDATE entries SET amount_sats = 0", &[])
                        .is_err());
                    assert!(c.execute("DELETE FROM entries", &[]).is_err());
                    c.execute("INSERT INTO schema_version VALUES (99, 'future', 0)", &[])
                        .unwrap();
                })
                .join()
                .unwrap();
            }
        }
        let err = Ledger::open(s).err().expect("newer schema refused");
        assert!(
            err.to_string().contains("upgrade sv2-pool"),
            "{name}: {err}"
        );
    });
}

#[test]
fn cli_reports_render() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: pool::treasury::cli::TreasuryArgs,
    }
    each_backend("cli", |_name, s| {
        let l = Ledger::open(s).unwrap();
        l.record_work_at(&[work("fra1.a", T0, T0 + 5, 1, 1.0)], T0 + 5)
            .unwrap();
        l.record_block_from(&block(9, 9, T0 + 6, "fra1.a"), BlockSource::Pool, T0 + 6)
            .unwrap();
        l.attribute_due(T0 + 100).unwrap();
        let run = |argv: &[&str]| {
            let mut v = vec!["x"];
            v.extend_from_slice(argv);
            let cli = Cli::try_parse_from(v).unwrap();
            pool::treasury::cli::render(&l, &cli.args, T0 + 200).unwrap()
        };
        let json: serde_json::Value =
            serde_json::from_str(&run(&["balances", "--format", "json"])).unwrap();
        let host = json
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["account"] == "partner/hostco")
            .unwrap();
        assert_eq!(host["immature_sats"], 1_455_000_000);
        let table = run(&["mined", "--period", "day", "--date", "2026-09-21"]);
        assert!(table.contains("fra1"), "{table}");
        let csv = run(&[
            "mined",
            "--from",
            &T0.to_string(),
            "--to",
            &(T0 + 60).to_string(),
            "--format",
            "csv",
        ]);
        assert!(
            csv.contains("fra1,hostco,1,5000000000,1455000000,3545000000,0"),
            "{csv}"
        );
        let blocks = run(&["blocks"]);
        assert!(blocks.contains("immature"), "{blocks}");
        let up = run(&[
            "uptime",
            "--from",
            &T0.to_string(),
            "--to",
            &(T0 + 120).to_string(),
        ]);
        assert!(up.contains("50.000%"), "{up}");
        let audit = run(&["audit"]);
        assert!(audit.contains("ok"), "{audit}");
    });
}

#[test]
fn work_journal_position_is_stored_with_the_work() {
    each_backend("journal", |_, s| {
        let l = Ledger::open(s.clone()).unwrap();
        assert_eq!(l.journal_applied_seq().unwrap(), 0, "fresh ledger");
        l.record_work_upto(&[work("fra1.a", T0, T0 + 5, 3, 3.0)], Some(5), T0 + 5)
            .unwrap();
        assert_eq!(l.journal_applied_seq().unwrap(), 5);
        l.record_work_upto(&[work("fra1.a", T0 + 5, T0 + 10, 1, 1.0)], Some(9), T0 + 10)
            .unwrap();
        // Work without a journal position leaves it alone.
        l.record_work_at(&[work("fra1.a", T0 + 10, T0 + 15, 1, 1.0)], T0 + 15)
            .unwrap();
        drop(l);
        let l = Ledger::open(s).unwrap();
        assert_eq!(l.journal_applied_seq().unwrap(), 9, "survives a reopen");
    });
}
