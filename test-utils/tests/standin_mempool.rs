//! Mempool RPCs a job declarator server uses: `getrawmempool` (plain and verbose),
//! `getrawtransaction` and `sendrawtransaction` (fee from coins the node knows), and a block
//! proposal containing a transaction received through `sendrawtransaction`.

mod common;

use bitcoin::consensus::encode::{deserialize, serialize_hex};
use bitcoin::hashes::Hash;
use common::*;
use serde_json::{json, Value};
use test_utils::bitcoind::{SpendKind, StandIn, StandInConfig, TxFactory};

/// The raw reply body, to check number formatting.
async fn raw_call(node: &StandIn, method: &str, params: Value) -> String {
    let body = json!({"jsonrpc": "1.0", "id": "t", "method": method, "params": params}).to_string();
    post(
        node.addr(),
        Some((node.rpc_user(), node.rpc_password())),
        &body,
    )
    .await
    .expect("reply")
    .body
}

async fn node() -> StandIn {
    StandIn::start(StandInConfig {
        premine: 5,
        ..StandInConfig::default()
    })
    .await
    .expect("stand-in starts")
}

#[tokio::test]
async fn getrawmempool_lists_entries_with_wtxid_and_fee() {
    let node = node().await;
    let mut factory = TxFactory::with_seed(11);
    let parent = factory.independent(SpendKind::SegwitV0);
    let child = factory.spending(&[(&parent, 0)]).unwrap();
    node.add_fabricated(&parent).unwrap();
    node.add_fabricated(&child).unwrap();

    let plain = call(&node, "getrawmempool", json!([])).await;
    let ids: Vec<String> = plain["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        vec![parent.txid().to_string(), child.txid().to_string()]
    );

    let verbose = call(&node, "getrawmempool", json!([true])).await;
    let entries = verbose["result"].as_object().unwrap();
    assert_eq!(entries.len(), 2);
    let c = &entries[&child.txid().to_string()];
    assert_eq!(c["wtxid"], json!(child.tx.compute_wtxid().to_string()));
    assert_eq!(c["weight"], json!(child.tx.weight().to_wu()));
    assert_eq!(c["depends"], json!([parent.txid().to_string()]));
    // BTC with eight decimals, as Core writes amounts.
    let fee_btc = c["fees"]["base"].as_f64().unwrap();
    assert_eq!((fee_btc * 1e8).round() as u64, child.fee.to_sat());
    let raw_body = raw_call(&node, "getrawmempool", json!([true])).await;
    assert!(raw_body.contains(&format!(
        "\"base\":{}",
        test_utils::bitcoind::format::format_btc(child.fee.to_sat() as i64)
    )));

    let err = call(&node, "getrawmempool", json!([true, true])).await;
    assert_eq!(err["error"]["code"], json!(-8));
}

#[tokio::test]
async fn getrawtransaction_serves_mempool_transactions_only() {
    let node = node().await;
    let mut factory = TxFactory::with_seed(12);
    let tx = factory.independent(SpendKind::NestedSegwit);
    node.add_fabricated(&tx).unwrap();
    let reply = call(&node, "getrawtransaction", json!([tx.txid().to_string()])).await;
    assert_eq!(reply["result"], json!(serialize_hex(&tx.tx)));

    let unknown = bitcoin::Txid::from_byte_array([7; 32]).to_string();
    let reply = call(&node, "getrawtransaction", json!([unknown])).await;
    assert_eq!(reply["error"]["code"], json!(-5));
    let reply = call(&node, "getrawtransaction", json!(["abc"])).await;
    assert_eq!(reply["error"]["code"], json!(-8));
}

#[tokio::test]
async fn sendrawtransaction_needs_known_coins_and_feeds_blocks() {
    let source = node().await;
    let target = node().await;
    let mut factory = TxFactory::with_seed(13);
    let tx = factory.independent(SpendKind::SegwitV0);
    source.add_fabricated(&tx).unwrap();

    let hex_tx = serialize_hex(&tx.tx);
    // The target node does not know the coins the transaction spends.
    let reply = call(&target, "sendrawtransaction", json!([hex_tx])).await;
    assert_eq!(reply["error"]["code"], json!(-25));
    assert_eq!(
        reply["error"]["message"],
        json!("bad-txns-inputs-missingorspent")
    );
    let reply = call(&target, "sendrawtransaction", json!(["00"])).await;
    assert_eq!(reply["error"]["code"], json!(-22));

    // Once the coins are registered (its UTXO set, in Core terms) the fee is known.
    target.register_prevouts(
        tx.tx
            .input
            .iter()
            .map(|i| i.previous_output)
            .zip(tx.spent_outputs.iter().cloned()),
    );
    let reply = call(&target, "sendrawtransaction", json!([hex_tx])).await;
    assert_eq!(reply["result"], json!(tx.txid().to_string()));
    // Again: Core answers with the txid.
    let reply = call(&target, "sendrawtransaction", json!([hex_tx])).await;
    assert_eq!(reply["result"], json!(tx.txid().to_string()));
    let verbose = call(&target, "getrawmempool", json!([true])).await;
    let fee_btc = verbose["result"][tx.txid().to_string()]["fees"]["base"]
        .as_f64()
        .unwrap();
    assert_eq!((fee_btc * 1e8).round() as u64, tx.fee.to_sat());

    // The template now includes it and a block built from it is a valid proposal.
    let template = target.block_template();
    assert_eq!(template.txs.len(), 1);
    let block = template.assemble(&test_utils::bitcoind::default_coinbase_script(), &[1; 8]);
    let proposal = call(
        &target,
        "getblocktemplate",
        json!([{"mode": "proposal", "data": serialize_hex(&block)}]),
    )
    .await;
    assert_eq!(proposal["result"], Value::Null, "{proposal}");
    let decoded: bitcoin::Block = deserialize(&bitcoin::consensus::serialize(&block)).unwrap();
    assert_eq!(decoded.txdata.len(), 2);
}
