//! Fixtures of the job declarator server tests: stand-ins, a JDS (and a pool) on them, keys,
//! addresses, a raw SV2 client over Noise, and declarations built from a node's template.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bitcoin::{Address, ScriptBuf, TxOut};
use jd_server::{JdsConfig, JdsHandle};
use node_rpc::{NodeAuth, NodeClient, NodeConfig};
use sv2_codec::job_declaration::DeclareMiningJob;
use sv2_mining::channel::custom::CoinbaseSplit;
use sv2_mining::coinbase::{witness_reserved_value, CoinbaseBuilder, Payout};
use sv2_mining::merkle::merkle_path_for_coinbase;
use test_utils::bitcoind::{FabricatedTx, StandIn, StandInConfig, TxFactory};
use test_utils::fixtures::PoolToml;

/// Token secret shared by the test JDS and pool.
pub const SECRET: &str = "5e3f8c2a1b0d9e7f6a5b4c3d2e1f00112233445566778899aabbccddeeff0011";

pub use test_utils::fixtures::Authority;

/// A fresh authority key pair.
pub fn authority() -> Authority {
    Authority::generate()
}

/// A regtest P2WPKH address from a fixed seed.
pub fn address(seed: u8) -> Address {
    test_utils::fixtures::regtest_address(seed)
}

/// The pool's payout address in these tests.
pub fn pool_address() -> Address {
    address(7)
}

/// Two stand-ins with the same premined chain (fixed clock during the premine, system clock
/// afterwards).
pub async fn twin_standins(premine: u32) -> (StandIn, StandIn) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as u32;
    let start = || {
        StandIn::start(StandInConfig {
            premine,
            mock_time: Some(now),
            ..StandInConfig::default()
        })
    };
    let a = start().await.expect("stand-in A");
    let b = start().await.expect("stand-in B");
    a.set_mock_time(None);
    b.set_mock_time(None);
    assert_eq!(a.tip().hash, b.tip().hash, "same premined chain");
    (a, b)
}

pub async fn standin(premine: u32) -> StandIn {
    StandIn::start(StandInConfig {
        premine,
        ..StandInConfig::default()
    })
    .await
    .expect("stand-in")
}

/// RPC client of a stand-in.
pub fn node(s: &StandIn) -> NodeClient {
    NodeClient::new(NodeConfig {
        url: s.url(),
        auth: NodeAuth::UserPass {
            user: s.rpc_user().into(),
            password: s.rpc_password().into(),
        },
        timeout: Duration::from_secs(10),
        longpoll_timeout: Duration::from_secs(30),
    })
    .expect("node client")
}

/// JDS config text for a stand-in; `extra` is appended.
pub fn jds_config(node: &StandIn, auth: &Authority, secret: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
authority_public_key = "{}"
authority_secret_key = "{}"

[bitcoind]
url = "{}"
user = "pool"
password = "poolpass"
poll_interval_ms = 100

[tokens]
token_secret = "{secret}"

[coinbase]
pool_payout_address = "{}"

[metrics]
listen = ""
{extra}
"#,
        auth.public,
        auth.secret,
        node.url(),
        pool_address()
    )
}

/// Starts a JDS on `node` and waits until it knows the tip.
pub async fn start_jds(node: &StandIn, secret: &str, extra: &str) -> (JdsHandle, Authority) {
    let auth = authority();
    let cfg = JdsConfig::parse(&jds_config(node, &auth, secret, extra)).expect("jds config");
    let jds = jd_server::start_jds(cfg).await.expect("jds starts");
    assert!(
        jds.chain
            .wait_ready(Duration::from_secs(10))
            .await
            .is_some(),
        "jds sees the tip"
    );
    (jds, auth)
}

/// Pool config text with custom jobs enabled (when `secret` is given).
pub fn pool_config(node: &StandIn, auth: &Authority, secret: Option<&str>) -> String {
    let jd = secret
        .map(|s| format!("[job_declaration]\ntoken_secret = \"{s}\"\n"))
        .unwrap_or_default();
    let payout = pool_address().to_string();
    PoolToml {
        pool_tag: "/jd-test/",
        mining: "initial_difficulty = 0.00001\nmin_difficulty = 0.000001",
        tables: &jd,
        ..PoolToml::new(node, auth, &payout)
    }
    .text()
}

/// Starts a pool on `node` and waits for its first job.
pub async fn start_pool(node: &StandIn, secret: Option<&str>) -> (pool::PoolHandle, Authority) {
    let auth = authority();
    let cfg =
        pool::config::PoolConfig::parse(&pool_config(node, &auth, secret)).expect("pool config");
    let mut handle = pool::start_pool(cfg, Arc::new(pool::accounting::MemorySink::default()))
        .await
        .expect("pool starts");
    assert!(
        handle.wait_for_job(Duration::from_secs(10)).await,
        "pool has a job"
    );
    (handle, auth)
}

/// A pool with custom jobs enabled and a SQLite treasury ledger (site `site` with partner
/// `hostco` at 20 %), and its chain tracker.
pub struct LedgerPool {
    /// The pool.
    pub pool: pool::PoolHandle,
    /// Its authority.
    pub key: Authority,
    /// Its ledger.
    pub ledger: Arc<pool::treasury::Ledger>,
    /// The tracker task (aborted on drop of the test).
    pub tracker: tokio::task::JoinHandle<()>,
}

/// Starts a [`LedgerPool`] on `node` whose ledger lives at `db`.
pub async fn start_pool_with_ledger(
    node: &StandIn,
    secret: &str,
    db: &std::path::Path,
) -> LedgerPool {
    let key = authority();
    let payout = pool_address().to_string();
    let tables = format!(
        r#"
[job_declaration]
token_secret = "{secret}"

[accounting]
flush_interval_secs = 1

[treasury]
database = "{}"
attribution_grace_secs = 2
check_interval_ms = 100

[[site]]
id = "site"
name = "Site"
country = "DE"
partner = "hostco"
partner_share = 0.2
"#,
        db.display()
    );
    let text = PoolToml {
        pool_tag: "/jd-test/",
        mining: "initial_difficulty = 0.00001\nmin_difficulty = 0.000001",
        tables: &tables,
        ..PoolToml::new(node, &key, &payout)
    }
    .text();
    let cfg = pool::config::PoolConfig::parse(&text).expect("pool config");
    let ledger = tokio::task::block_in_place(|| pool::treasury::open_ledger(&cfg))
        .expect("ledger opens")
        .expect("treasury configured");
    let mut pool = pool::start_pool(cfg.clone(), ledger.clone())
        .await
        .expect("pool starts");
    assert!(
        pool.wait_for_job(Duration::from_secs(10)).await,
        "pool has a job"
    );
    let tracker = pool::treasury::start_tracker(&cfg, ledger.clone())
        .await
        .expect("tracker starts");
    LedgerPool {
        pool,
        key,
        ledger,
        tracker,
    }
}

#[allow(unused_imports)] // not every test binary sharing this module uses the client
pub use test_utils::sv2_client::{setup_connection as setup, Client};

/// Transactions fabricated from `seed`: `shared` of them in both nodes' mempools, `only_a`
/// in node A's only (node B knows the coins they spend, not the transactions).
pub fn split_mempools(
    node_a: &StandIn,
    node_b: &StandIn,
    seed: u64,
    shared: usize,
    only_a: usize,
) -> (Vec<FabricatedTx>, Vec<FabricatedTx>) {
    let mut factory = TxFactory::with_seed(seed);
    let shared = factory.batch(shared);
    let only_a = factory.batch(only_a);
    for t in &shared {
        node_a.add_fabricated(t).expect("add to node A");
        node_b.add_fabricated(t).expect("add to node B");
    }
    for t in &only_a {
        node_a.add_fabricated(t).expect("add to node A");
        node_b.register_prevouts(
            t.tx.input
                .iter()
                .map(|i| i.previous_output)
                .zip(t.spent_outputs.iter().cloned()),
        );
    }
    (shared, only_a)
}

/// A declaration built from a node template.
pub struct Declaration {
    pub template: node_rpc::BlockTemplate,
    pub split: CoinbaseSplit,
    pub witness: Option<Vec<Vec<u8>>>,
    pub merkle_path: Vec<[u8; 32]>,
}

impl Declaration {
    /// Coinbase paying `payouts` (script, payout) with `extranonce_len` bytes reserved.
    pub fn new(
        template: node_rpc::BlockTemplate,
        value: u64,
        payouts: &[(ScriptBuf, Payout)],
        extranonce_len: usize,
    ) -> Declaration {
        let height = template.height as u32;
        let mut b =
            CoinbaseBuilder::new(height, value, extranonce_len).pool_tag(b"/jdc-test/".to_vec());
        for (s, p) in payouts {
            b = b.payout(s.clone(), *p);
        }
        if let Some(wc) = &template.default_witness_commitment {
            b = b.witness_commitment(ScriptBuf::from_bytes(wc.clone()));
        }
        let parts = b.build().expect("coinbase");
        let split = CoinbaseSplit::from_parts(&parts).expect("split");
        let witness = parts
            .has_witness_commitment
            .then(|| witness_reserved_value().to_vec());
        let merkle_path = merkle_path_for_coinbase(&template.txids());
        Declaration {
            template,
            split,
            witness,
            merkle_path,
        }
    }

    /// Pays the whole template value to the pool.
    pub fn paying_pool(template: node_rpc::BlockTemplate, extranonce_len: usize) -> Declaration {
        let v = template.coinbasevalue;
        Declaration::new(
            template,
            v,
            &[(pool_address().script_pubkey(), Payout::Remainder(1))],
            extranonce_len,
        )
    }

    pub fn message(&self, request_id: u32, token: Vec<u8>) -> DeclareMiningJob {
        use bitcoin::hashes::Hash;
        let (prefix, suffix) = self.split.to_declared(self.witness.as_deref());
        DeclareMiningJob {
            request_id,
            mining_job_token: token,
            version: self.template.version,
            coinbase_tx_prefix: prefix,
            coinbase_tx_suffix: suffix,
            wtxid_list: self
                .template
                .transactions
                .iter()
                .map(|t| t.wtxid.to_raw_hash().to_byte_array())
                .collect(),
            excess_data: vec![],
        }
    }

    pub fn prev_hash(&self) -> [u8; 32] {
        use bitcoin::hashes::Hash;
        self.template
            .previousblockhash
            .to_raw_hash()
            .to_byte_array()
    }

    pub fn outputs(&self) -> Vec<TxOut> {
        self.split.tx_outputs().expect("outputs")
    }
}
