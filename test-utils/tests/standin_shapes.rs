//! Every reply the pool reads has the same keys, JSON types, key order and number formats as
//! the real Bitcoin Core 31.1 captures, and the values relate to each other the way Core's do.

mod common;

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::hashes::Hash;
use bitcoin::{Block, BlockHash, Transaction};
use common::*;
use serde_json::{json, Value};

const EMPTY_BLOCK_COMMITMENT: &str =
    "6a24aa21a9ede2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9";

fn assert_longpollid(gbt: &Value) {
    let lp = gbt["longpollid"].as_str().unwrap();
    let prev = gbt["previousblockhash"].as_str().unwrap();
    assert!(
        lp.starts_with(prev),
        "longpollid {lp} starts with the previous block hash"
    );
    let counter = &lp[64..];
    assert!(
        !counter.is_empty() && counter.bytes().all(|b| b.is_ascii_digit()),
        "decimal counter: {counter}"
    );
}

#[tokio::test]
async fn getblocktemplate_without_transactions_matches_fixture() {
    let node = standin(10).await;
    let raw = raw_result(&node, "getblocktemplate", json!([{"rules": ["segwit"]}])).await;
    let ours: Value = serde_json::from_str(&raw).unwrap();
    let theirs = fixture("getblocktemplate_empty.json");
    assert_same_shape(&ours, &theirs, "gbt", &[]);
    assert_same_key_order(&raw, &fixture_text("getblocktemplate_empty.json"));

    for key in [
        "capabilities",
        "version",
        "rules",
        "vbavailable",
        "vbrequired",
        "coinbaseaux",
        "target",
        "mutable",
    ] {
        assert_eq!(ours[key], theirs[key], "{key}");
    }
    for key in [
        "noncerange",
        "sigoplimit",
        "sizelimit",
        "weightlimit",
        "bits",
        "transactions",
    ] {
        assert_eq!(ours[key], theirs[key], "{key}");
    }
    assert_eq!(ours["coinbasevalue"], 5_000_000_000u64);
    assert_eq!(ours["default_witness_commitment"], EMPTY_BLOCK_COMMITMENT);
    assert_eq!(
        ours["default_witness_commitment"],
        theirs["default_witness_commitment"]
    );
    assert_eq!(ours["height"], 11);
    assert_eq!(
        ours["previousblockhash"],
        result(&node, "getbestblockhash", json!([])).await
    );
    assert_longpollid(&ours);
    let tip = result(&node, "getblockheader", json!([ours["previousblockhash"]])).await;
    assert_eq!(
        ours["mintime"].as_u64().unwrap(),
        tip["mediantime"].as_u64().unwrap() + 1
    );
    assert!(ours["curtime"].as_u64() >= ours["mintime"].as_u64());
}

#[tokio::test]
async fn getblocktemplate_with_transactions_matches_fixture() {
    let node = standin(10).await;
    node.add_random_mempool_txs(20).unwrap();
    let raw = raw_result(&node, "getblocktemplate", json!([{"rules": ["segwit"]}])).await;
    let ours: Value = serde_json::from_str(&raw).unwrap();
    let theirs = fixture("getblocktemplate_with_txs.json");
    assert_same_shape(&ours, &theirs, "gbt", &[]);
    assert_same_key_order(&raw, &fixture_text("getblocktemplate_with_txs.json"));
    assert_longpollid(&ours);

    let txs = ours["transactions"].as_array().unwrap();
    assert_eq!(txs.len(), 20);
    let fees: u64 = txs.iter().map(|t| t["fee"].as_u64().unwrap()).sum();
    assert_eq!(
        ours["coinbasevalue"].as_u64().unwrap(),
        5_000_000_000 + fees
    );

    let mut decoded: Vec<Transaction> = Vec::new();
    let mut with_depends = 0;
    for (i, t) in txs.iter().enumerate() {
        let tx: Transaction = deserialize_hex(t["data"].as_str().unwrap()).unwrap();
        assert_eq!(t["txid"], tx.compute_txid().to_string());
        assert_eq!(t["hash"], tx.compute_wtxid().to_string());
        assert_eq!(t["weight"].as_u64().unwrap(), tx.weight().to_wu());
        let witness = tx.input.iter().any(|i| !i.witness.is_empty());
        assert_eq!(
            t["txid"] == t["hash"],
            !witness,
            "hash equals txid exactly for non-witness transactions"
        );
        // depends: 1-based positions of in-template parents, one entry per spending input.
        let depends: Vec<usize> = t["depends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let expected: Vec<usize> = tx
            .input
            .iter()
            .filter_map(|input| {
                decoded
                    .iter()
                    .position(|p| p.compute_txid() == input.previous_output.txid)
            })
            .map(|p| p + 1)
            .collect();
        assert_eq!(depends, expected, "depends of transaction {}", i + 1);
        if !depends.is_empty() {
            with_depends += 1;
        }
        // No transaction spends one that comes later in the template.
        for later in txs.iter().skip(i + 1) {
            let later_txid = later["txid"].as_str().unwrap();
            assert!(tx
                .input
                .iter()
                .all(|input| input.previous_output.txid.to_string() != later_txid));
        }
        decoded.push(tx);
    }
    assert!(with_depends > 0, "fabricated batch has parent/child chains");

    // default_witness_commitment recomputed independently with the bitcoin crate.
    let coinbase = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![bitcoin::TxIn {
            previous_output: bitcoin::OutPoint::null(),
            ..Default::default()
        }],
        output: vec![],
    };
    let block = Block {
        header: bitcoin::constants::genesis_block(bitcoin::Network::Regtest).header,
        txdata: std::iter::once(coinbase).chain(decoded).collect(),
    };
    let commitment = Block::compute_witness_commitment(&block.witness_root().unwrap(), &[0u8; 32]);
    let expected = format!("6a24aa21a9ed{}", hex::encode(commitment.to_byte_array()));
    assert_eq!(ours["default_witness_commitment"], expected);
}

#[tokio::test]
async fn getblockchaininfo_matches_fixture() {
    let node = standin(25).await;
    let raw = raw_result(&node, "getblockchaininfo", json!([])).await;
    let ours: Value = serde_json::from_str(&raw).unwrap();
    let theirs = fixture("getblockchaininfo.json");
    assert_same_shape(&ours, &theirs, "getblockchaininfo", &[]);
    assert_same_key_order(&raw, &fixture_text("getblockchaininfo.json"));
    assert!(
        raw.contains("\"difficulty\":4.656542373906925e-10"),
        "Core's float format: {raw}"
    );
    assert!(raw.contains("\"verificationprogress\":1,"));
    for key in [
        "chain",
        "bits",
        "target",
        "difficulty",
        "verificationprogress",
        "initialblockdownload",
        "pruned",
    ] {
        assert_eq!(ours[key], theirs[key], "{key}");
    }
    assert_eq!(ours["blocks"], 25);
    assert_eq!(ours["headers"], 25);
    assert_eq!(
        ours["bestblockhash"],
        result(&node, "getbestblockhash", json!([])).await
    );
    assert_eq!(
        ours["blocks"],
        result(&node, "getblockcount", json!([])).await
    );
    // Regtest work is 2 per block: chainwork = 2 * (height + 1), as in the fixture (0xe4 at 113).
    assert_eq!(ours["chainwork"], format!("{:064x}", 2 * 26));
}

#[tokio::test]
async fn getnetworkinfo_matches_fixture() {
    let node = standin(0).await;
    let raw = raw_result(&node, "getnetworkinfo", json!([])).await;
    let ours: Value = serde_json::from_str(&raw).unwrap();
    let theirs = fixture("getnetworkinfo.json");
    assert_same_shape(&ours, &theirs, "getnetworkinfo", &[]);
    assert_same_key_order(&raw, &fixture_text("getnetworkinfo.json"));
    assert!(
        raw.contains("\"relayfee\":0.00000100"),
        "Core's amount format: {raw}"
    );
    assert_eq!(ours, theirs, "static values are Core 31.1's");
}

#[tokio::test]
async fn getblockheader_matches_fixture() {
    let node = standin(5).await;
    let tip = result(&node, "getbestblockhash", json!([])).await;
    let raw = raw_result(&node, "getblockheader", json!([tip, true])).await;
    let ours: Value = serde_json::from_str(&raw).unwrap();
    let theirs = fixture("getblockheader_verbose.json");
    assert_same_shape(&ours, &theirs, "getblockheader", &[]);
    assert_same_key_order(&raw, &fixture_text("getblockheader_verbose.json"));
    assert_eq!(ours["confirmations"], 1);
    assert_eq!(ours["height"], 5);
    assert_eq!(ours["versionHex"], "20000000");
    assert_eq!(ours["nTx"], 1);

    // Non-verbose: the 80-byte header whose double SHA-256 is the hash.
    let hex_header = result(&node, "getblockheader", json!([tip, false])).await;
    let header: bitcoin::block::Header = deserialize_hex(hex_header.as_str().unwrap()).unwrap();
    assert_eq!(header.block_hash().to_string(), tip.as_str().unwrap());

    // A block below the tip links forward with nextblockhash.
    let below = result(&node, "getblockheader", json!([ours["previousblockhash"]])).await;
    assert_eq!(below["nextblockhash"], tip);
    assert_eq!(below["confirmations"], 2);
    assert_same_shape(&below, &theirs, "getblockheader(below)", &["nextblockhash"]);

    // Genesis has no previousblockhash.
    let genesis = result(&node, "getblockhash", json!([0])).await;
    assert_eq!(
        genesis,
        bitcoin::constants::genesis_block(bitcoin::Network::Regtest)
            .block_hash()
            .to_string()
    );
    let g = result(&node, "getblockheader", json!([genesis])).await;
    assert!(g.get("previousblockhash").is_none());
    assert_eq!(g["chainwork"], format!("{:064x}", 2));
}

#[tokio::test]
async fn getmininginfo_matches_fixture() {
    let node = standin(30).await;
    node.add_random_mempool_txs(3).unwrap();
    let template = gbt(&node).await;
    let raw = raw_result(&node, "getmininginfo", json!([])).await;
    let ours: Value = serde_json::from_str(&raw).unwrap();
    let theirs = fixture("getmininginfo.json");
    assert_same_shape(&ours, &theirs, "getmininginfo", &[]);
    assert_same_key_order(&raw, &fixture_text("getmininginfo.json"));
    assert!(raw.contains("\"blockmintxfee\":0.00000001"));
    assert_eq!(ours["blocks"], 30);
    assert_eq!(ours["pooledtx"], 3);
    assert_eq!(ours["currentblocktx"], 3);
    // Weight of the last template: its transactions plus the 8000 WU Core reserves.
    let tx_weight: u64 = template["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["weight"].as_u64().unwrap())
        .sum();
    assert_eq!(
        ours["currentblockweight"].as_u64().unwrap(),
        tx_weight + 8000
    );
    assert_eq!(ours["next"]["height"], 31);
    assert_eq!(ours["next"]["bits"], theirs["next"]["bits"]);
    assert!(ours["networkhashps"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn getblock_matches_fixture() {
    let node = standin(3).await;
    node.add_random_mempool_txs(6).unwrap();
    let hash = node.mine_block().unwrap();
    let raw = raw_result(&node, "getblock", json!([hash.to_string(), 1])).await;
    let ours: Value = serde_json::from_str(&raw).unwrap();
    let theirs = fixture("getblock_verbose1.json");
    assert_same_shape(&ours, &theirs, "getblock", &[]);
    assert_same_key_order(&raw, &fixture_text("getblock_verbose1.json"));
    assert_eq!(ours["nTx"], 7);
    assert_eq!(ours["tx"].as_array().unwrap().len(), 7);
    assert_eq!(
        ours["coinbase_tx"]["locktime"], 3,
        "locktime = height - 1 like Core"
    );
    assert_eq!(ours["coinbase_tx"]["witness"], "00".repeat(32));
    assert!(
        ours["coinbase_tx"]["coinbase"]
            .as_str()
            .unwrap()
            .starts_with("54"),
        "BIP34 height 4 = OP_4"
    );

    // Verbosity 0 (and `false`) is the serialized block.
    let hex_block = result(&node, "getblock", json!([hash.to_string(), 0])).await;
    assert_eq!(
        hex_block,
        result(&node, "getblock", json!([hash.to_string(), false])).await
    );
    let block: Block = deserialize_hex(hex_block.as_str().unwrap()).unwrap();
    assert_eq!(block.block_hash(), hash);
    assert!(block.check_merkle_root() && block.check_witness_commitment());
    let txids: Vec<String> = block
        .txdata
        .iter()
        .map(|t| t.compute_txid().to_string())
        .collect();
    assert_eq!(ours["tx"], json!(txids));
    assert_eq!(ours["size"].as_u64().unwrap(), block.total_size() as u64);
    assert_eq!(ours["weight"].as_u64().unwrap(), block.weight().to_wu());

    // The fixture's own block decodes and hashes like the stand-in's does.
    let fixture_hex = fixture("getblock_raw_hex.json");
    let fixture_block: Block = deserialize_hex(fixture_hex.as_str().unwrap()).unwrap();
    assert_eq!(
        fixture_block.block_hash().to_string(),
        fixture("getblock_verbose1.json")["hash"].as_str().unwrap()
    );
    let _: BlockHash = fixture_block.block_hash();
}

#[tokio::test]
async fn getbestblockhash_matches_fixture() {
    let node = standin(2).await;
    let ours = result(&node, "getbestblockhash", json!([])).await;
    let theirs = fixture("getbestblockhash.json");
    assert_same_shape(&ours, &theirs, "getbestblockhash", &[]);
    assert_eq!(ours.as_str().unwrap().len(), 64);
    assert_eq!(ours, node.tip().hash.to_string());
}
