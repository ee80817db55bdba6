//! Shared fixtures of the treasury tests: fresh SQLite files and PostgreSQL databases, and
//! ledger settings with two hosted sites.
#![allow(dead_code)]

pub mod miner;
pub mod process;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use pool::treasury::config::WindowConfig;
use pool::treasury::settings::{Database, LedgerSettings, Site};
use pool::treasury::split::TreasuryAccount;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "sv2-treasury-{tag}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `TEST_POSTGRES_URL`, or `None` with a loud message (PostgreSQL tests are then skipped).
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "TEST_POSTGRES_URL must be set under CI (.ci/run starts PostgreSQL)"
            );
            eprintln!(
                "\n!!!!!!!! TEST_POSTGRES_URL is not set: SKIPPING the PostgreSQL half of this test \
                 (.ci/run starts PostgreSQL and sets it) !!!!!!!!\n"
            );
            None
        }
    }
}

/// Creates an empty database on the server of `base` and returns its URL. Runs on its own
/// thread so it may be called from async tests.
pub fn fresh_postgres_database(base: &str, tag: &str) -> String {
    let name = format!(
        "t_{tag}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let base_url = base.to_owned();
    let base = base.to_owned();
    let name2 = name.clone();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&base, postgres::NoTls)
            .expect("connect to TEST_POSTGRES_URL");
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name2}"))
            .expect("drop");
        c.batch_execute(&format!("CREATE DATABASE {name2}"))
            .expect("create database");
    })
    .join()
    .expect("thread");
    replace_db(&base_url, &name)
}

fn base_url_clean(u: &str) -> String {
    u.split('?').next().unwrap_or(u).to_owned()
}

fn base_without_db(u: &str) -> (String, String) {
    match u.rfind('/') {
        Some(i) if i > "postgres://".len() => (u[..i].to_owned(), u[i + 1..].to_owned()),
        _ => (u.to_owned(), String::new()),
    }
}

fn replace_db(url: &str, db: &str) -> String {
    let (prefix, _) = base_without_db(&base_url_clean(url));
    format!("{prefix}/{db}")
}

/// The databases to run a ledger test against: a fresh SQLite file, and a fresh PostgreSQL
/// database when `TEST_POSTGRES_URL` is set.
pub fn databases(tag: &str) -> Vec<Database> {
    let mut v = vec![Database::Sqlite(temp_dir(tag).join("ledger.db"))];
    if let Some(url) = postgres_url() {
        v.push(Database::Postgres(fresh_postgres_database(&url, tag)));
    }
    v
}

/// Sites `fra1` (partner hostco, 29.1%) and `ams2` (partner dcpartner, 15%), one treasury
/// account `main`, window since the previous block, 100 confirmations, grace 30 s.
pub fn settings(database: Database) -> LedgerSettings {
    LedgerSettings {
        database,
        treasury: vec![TreasuryAccount {
            account: "treasury/main".into(),
            weight: 1,
        }],
        sites: vec![
            Site {
                id: "ams2".into(),
                name: "Amsterdam 2".into(),
                country: "NL".into(),
                partner: Some("dcpartner".into()),
                partner_ppm: 150_000,
            },
            Site {
                id: "fra1".into(),
                name: "Frankfurt 1".into(),
                country: "DE".into(),
                partner: Some("hostco".into()),
                partner_ppm: 291_000,
            },
        ],
        worker_sites: [("legacy-rig".to_owned(), "ams2".to_owned())]
            .into_iter()
            .collect(),
        window: WindowConfig::SincePreviousBlock,
        maturity: 100,
        attribution_grace_secs: 30,
        node_id: 0,
        work_retention_days: 90,
    }
}

/// Config text of a pool with a ledger in `database` on the stand-in at `url`.
pub fn treasury_config(
    url: &str,
    listen: &str,
    pub_key: &str,
    sec_key: &str,
    database: &str,
) -> String {
    let address = test_utils::fixtures::regtest_address(7);
    format!(
        r#"
[server]
listen = "{listen}"
authority_public_key = "{pub_key}"
authority_secret_key = "{sec_key}"
pool_tag = "/treasury-test/"

[bitcoind]
url = "{url}"
user = "pool"
password = "poolpass"
poll_interval_ms = 100
min_fee_refresh_secs = 1

[[payout]]
address = "{address}"
account = "main"

[mining]
initial_difficulty = 0.00000001
min_difficulty = 0.00000001
share_ack_batch = 1
share_ack_interval_ms = 20

[metrics]
listen = ""

[accounting]
flush_interval_secs = 1

[treasury]
database = "{database}"
attribution_grace_secs = 3
check_interval_ms = 200

[[site]]
id = "fra1"
name = "Frankfurt 1"
country = "DE"
partner = "hostco"
partner_share = 0.291

[[site]]
id = "ams2"
name = "Amsterdam 2"
country = "NL"
partner = "dcpartner"
partner_share = 0.15
"#
    )
}

/// A fresh authority key pair, encoded for the config.
pub fn authority() -> (sv2_noise::secp256k1::XOnlyPublicKey, String, String) {
    let a = test_utils::fixtures::Authority::generate();
    (a.xonly, a.public, a.secret)
}
