//! submitblock validation. The key acceptance test feeds every block of submitblock_cases.json
//! into a stand-in started from the fixture's template state and expects bitcoind's answers;
//! the others build blocks the way a pool does and break one rule at a time.

mod common;

use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::{Amount, Block, ScriptBuf, Transaction};
use common::*;
use serde_json::{json, Value};
use test_utils::bitcoind::template::{refresh_merkle_root, solve_header, unsolve_header};
use test_utils::bitcoind::{BlockTemplate, StandIn, StandInConfig, SubmitResult, TxFactory};

const CASE_ORDER: [&str; 12] = [
    "a_valid",
    "b_duplicate",
    "c_bad_merkle_root",
    "d_high_hash",
    "e_bad_cb_amount",
    "f_duplicate_invalid",
    "g_bad_cb_height",
    "h_bad_witness_commitment",
    "i_unknown_prev",
    "j1_valid",
    "j2_stale_sibling",
    "k_decode_failure",
];

fn template_txs(template: &Value) -> Vec<(Transaction, u64, u64)> {
    template["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let tx: Transaction = deserialize_hex(t["data"].as_str().unwrap()).unwrap();
            (
                tx,
                t["fee"].as_u64().unwrap(),
                t["sigops"].as_u64().unwrap(),
            )
        })
        .collect()
}

async fn submit(node: &StandIn, hex_block: &str) -> Value {
    call(node, "submitblock", json!([hex_block])).await
}

async fn propose(node: &StandIn, hex_block: &str) -> Value {
    result(
        node,
        "getblocktemplate",
        json!([{"mode": "proposal", "data": hex_block}]),
    )
    .await
}

#[tokio::test]
async fn fixture_submitblock_cases_get_bitcoinds_answers() {
    let fixture_cases = fixture("submitblock_cases.json");
    let template_a = &fixture_cases["template_a"];
    let template_b = &fixture_cases["template_b"];
    let node = StandIn::from_template_fixture(StandInConfig::default(), template_a)
        .await
        .unwrap();

    // The stand-in's own template for the fixture state equals bitcoind's, field for field
    // (except the long-poll counter, which counts this node's mempool updates).
    let ours = gbt(&node).await;
    for (key, value) in template_a.as_object().unwrap() {
        if key != "longpollid" {
            assert_eq!(ours[key], *value, "template_a.{key}");
        }
    }

    let cases = fixture_cases["cases"].as_object().unwrap();
    assert_eq!(
        cases.len(),
        CASE_ORDER.len(),
        "every fixture case is exercised"
    );
    for name in CASE_ORDER {
        let case = &cases[name];
        let hex_block = case["hex"].as_str().unwrap();
        if let Some(expected) = case.get("proposal_result_before_submit") {
            assert_eq!(
                propose(&node, hex_block).await,
                *expected,
                "{name}: proposal"
            );
        }
        if name == "k_decode_failure" {
            let body =
                json!({"jsonrpc": "1.0", "id": 1, "method": "submitblock", "params": [hex_block]});
            let raw = post(node.addr(), Some(("pool", "poolpass")), &body.to_string())
                .await
                .unwrap();
            assert_eq!(
                u64::from(raw.status),
                case["result"]["http_status"].as_u64().unwrap()
            );
            let reply = raw.json();
            assert_eq!(reply["error"], case["result"]["rpc_error"], "{name}");
            assert!(reply["result"].is_null());
            continue;
        }
        let reply = submit(&node, hex_block).await;
        assert!(
            reply["error"].is_null(),
            "{name}: BIP22 answers are results, not errors: {reply}"
        );
        assert_eq!(
            reply["result"], case["result"],
            "{name}: bitcoind answered {}",
            case["result"]
        );
        assert_eq!(
            case["result"], case["expected"],
            "{name}: fixture consistency"
        );

        if name == "a_valid" {
            assert_eq!(node.tip().hash.to_string(), case["hash"].as_str().unwrap());
            assert!(
                node.mempool_txids().is_empty(),
                "template_a transactions were mined"
            );
            // The transactions template_b was built from entered bitcoind's mempool next.
            for (tx, fee, sigops) in template_txs(template_b) {
                node.add_mempool_tx_with_sigops(tx, Amount::from_sat(fee), sigops)
                    .unwrap();
            }
            let ours = gbt(&node).await;
            for (key, value) in template_b.as_object().unwrap() {
                if key != "longpollid" {
                    assert_eq!(ours[key], *value, "template_b.{key}");
                }
            }
        }
    }

    // The chain ends exactly where bitcoind's did.
    let best = result(&node, "getbestblockhash", json!([])).await;
    assert_eq!(best, fixture("getbestblockhash.json"));
    assert_eq!(best, cases["j1_valid"]["hash"]);
    let header = result(&node, "getblockheader", json!([best, true])).await;
    assert_eq!(
        header,
        fixture("getblockheader_verbose.json"),
        "tip header identical to bitcoind's"
    );
    let info = result(&node, "getblockchaininfo", json!([])).await;
    let theirs = fixture("getblockchaininfo.json");
    for key in [
        "blocks",
        "bestblockhash",
        "bits",
        "target",
        "difficulty",
        "time",
        "mediantime",
        "chainwork",
    ] {
        assert_eq!(info[key], theirs[key], "getblockchaininfo.{key}");
    }
    assert_eq!(
        result(&node, "getmininginfo", json!([])).await["next"],
        fixture("getmininginfo.json")["next"]
    );

    // What the pool's blocks paid is visible to the test.
    let accepted = node.submitted_blocks();
    assert_eq!(accepted.len(), 2);
    let payout = ScriptBuf::from_bytes(
        hex::decode(fixture_cases["payout_scriptPubKey"].as_str().unwrap()).unwrap(),
    );
    for (block, case) in accepted.iter().zip(["a_valid", "j1_valid"]) {
        assert_eq!(
            block.hash.to_string(),
            cases[case]["hash"].as_str().unwrap()
        );
        assert_eq!(block.coinbase_outputs[0].script_pubkey, payout);
        assert_eq!(
            block.coinbase_outputs[0].value.to_sat(),
            cases[case]["coinbase_value"].as_u64().unwrap()
        );
    }
    assert_eq!(accepted[0].height, 112);
    assert_eq!(accepted[1].height, 113);
    let log = node.submissions();
    assert_eq!(log.len(), CASE_ORDER.len());
    assert_eq!(log.last().unwrap().result, SubmitResult::DecodeFailed);
    assert!(node.mempool_txids().is_empty());

    // The stale sibling is stored off the active chain.
    let stale = result(
        &node,
        "getblockheader",
        json!([cases["j2_stale_sibling"]["hash"]]),
    )
    .await;
    assert_eq!(stale["confirmations"], -1);
}

/// A fresh chain with a mempool, and a pool-built block from the RPC template.
async fn pool_setup() -> (StandIn, BlockTemplate, ScriptBuf) {
    let node = standin(20).await;
    node.add_random_mempool_txs(12).unwrap();
    let template = BlockTemplate::from_gbt_json(&gbt(&node).await).unwrap();
    let payout =
        ScriptBuf::from_bytes(hex::decode("0014aa672a83e4552c86504f9d80eca5b3cfc5f5c164").unwrap());
    (node, template, payout)
}

fn regrind(block: &mut Block) {
    refresh_merkle_root(block);
    solve_header(&mut block.header);
}

#[tokio::test]
async fn pool_built_block_is_accepted_and_recorded() {
    let (node, template, payout) = pool_setup().await;
    assert_eq!(template.txs.len(), 12);
    let block = template.assemble(&payout, &1u64.to_le_bytes());
    let hex_block = serialize_hex(&block);
    assert!(
        propose(&node, &hex_block).await.is_null(),
        "proposal of a valid block"
    );
    assert!(submit(&node, &hex_block).await["result"].is_null());
    assert_eq!(node.tip().hash, block.block_hash());
    assert_eq!(node.tip().height, 21);
    assert!(node.mempool_txids().is_empty());
    assert_eq!(propose(&node, &hex_block).await, "duplicate");
    assert_eq!(submit(&node, &hex_block).await["result"], "duplicate");
    let accepted = node.submitted_blocks();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].coinbase_outputs[0].script_pubkey, payout);
    assert_eq!(
        accepted[0].coinbase_outputs[0].value,
        template.coinbase_value
    );
    assert_eq!(
        accepted[0].coinbase_outputs[1].script_pubkey,
        template.witness_commitment
    );

    // A sibling built from the same template after the first one connected is stale.
    let sibling = template.assemble(&payout, &2u64.to_le_bytes());
    assert_eq!(
        propose(&node, &serialize_hex(&sibling)).await,
        "inconclusive-not-best-prevblk"
    );
    assert_eq!(
        submit(&node, &serialize_hex(&sibling)).await["result"],
        "inconclusive"
    );
    assert_eq!(node.tip().hash, block.block_hash());
}

#[tokio::test]
async fn each_broken_rule_gets_its_reason() {
    let (node, template, payout) = pool_setup().await;
    let good = template.assemble(&payout, &1u64.to_le_bytes());
    let expect = |mut block: Block, fix: bool, reason: &'static str| {
        if fix {
            regrind(&mut block);
        }
        (block, reason)
    };
    let mut cases: Vec<(Block, &'static str)> = Vec::new();

    let mut b = good.clone();
    b.header.bits = bitcoin::CompactTarget::from_consensus(0x207f_fffe);
    cases.push(expect(b, true, "bad-diffbits"));

    let mut b = good.clone();
    b.header.time = template.mintime - 1;
    cases.push(expect(b, true, "time-too-old"));

    let mut b = good.clone();
    b.header.time = template.curtime + 2 * 60 * 60 + 60;
    cases.push(expect(b, true, "time-too-new"));

    let mut b = good.clone();
    b.header.version = bitcoin::block::Version::from_consensus(3);
    cases.push(expect(b, true, "bad-version(0x00000003)"));

    let mut b = good.clone();
    b.txdata[0].output[0].value += Amount::from_sat(1);
    cases.push(expect(b, true, "bad-cb-amount"));

    let mut b = good.clone();
    b.txdata[0].input[0].witness.push([1u8; 5]);
    cases.push(expect(b, true, "bad-witness-nonce-size"));

    let mut b = good.clone();
    b.txdata[0].output.pop(); // drop the commitment while segwit transactions remain
    cases.push(expect(b, true, "unexpected-witness"));

    let mut b = good.clone();
    b.txdata.swap(1, 2); // the committed witness root no longer matches
    cases.push(expect(b, true, "bad-witness-merkle-match"));

    let mut b = good.clone();
    let stranger = TxFactory::with_seed(99).batch(1).remove(0).tx;
    b.txdata.push(stranger);
    cases.push(expect(b, true, "bad-witness-merkle-match"));

    let mut b = good.clone();
    b.txdata.push(b.txdata[1].clone());
    cases.push(expect(b, true, "bad-txns-duplicate"));

    let mut b = good.clone();
    b.txdata[0].input[0].script_sig = ScriptBuf::from_bytes(vec![0x01, 0x02, 0x00]);
    cases.push(expect(b, true, "bad-cb-height"));

    let mut b = good.clone();
    unsolve_header(&mut b.header);
    cases.push((b, "high-hash"));

    let mut b = good.clone();
    b.header.merkle_root = bitcoin::TxMerkleNode::from_raw_hash(bitcoin::hashes::Hash::all_zeros());
    solve_header(&mut b.header);
    cases.push((b, "bad-txnmrklroot"));

    let mut b = good.clone();
    let mut second_coinbase = b.txdata[0].clone();
    second_coinbase.input[0].script_sig = ScriptBuf::from_bytes(vec![0x01, 21, 0x01, 0x07]);
    b.txdata.push(second_coinbase);
    cases.push(expect(b, true, "bad-cb-multiple"));

    for (block, reason) in cases {
        let reply = submit(&node, &serialize_hex(&block)).await;
        assert_eq!(reply["result"], reason, "{reason}: {reply}");
    }
    assert_eq!(node.tip().height, 20, "nothing was connected");
    assert!(node.submitted_blocks().is_empty());

    // Remembered failures answer duplicate-invalid; unremembered ones repeat their reason.
    let mut b = good.clone();
    b.txdata[0].output[0].value += Amount::from_sat(1);
    regrind(&mut b);
    assert_eq!(
        submit(&node, &serialize_hex(&b)).await["result"],
        "duplicate-invalid"
    );
    let mut child = template.assemble(&payout, &3u64.to_le_bytes());
    child.header.prev_blockhash = b.block_hash();
    child.txdata[0].input[0].script_sig = ScriptBuf::from_bytes(vec![0x01, 22, 0x00]);
    child.txdata.truncate(1);
    child.txdata[0].output.truncate(1);
    child.txdata[0].output[0].value = Amount::from_sat(50 * 100_000_000);
    child.txdata[0].input[0].witness.clear();
    regrind(&mut child);
    assert_eq!(
        submit(&node, &serialize_hex(&child)).await["result"],
        "bad-prevblk"
    );
    let mut b = good.clone();
    b.header.bits = bitcoin::CompactTarget::from_consensus(0x207f_fffe);
    regrind(&mut b);
    assert_eq!(
        submit(&node, &serialize_hex(&b)).await["result"],
        "bad-diffbits"
    );

    // And the untouched block is still fine.
    assert!(submit(&node, &serialize_hex(&good)).await["result"].is_null());
}

#[tokio::test]
async fn unknown_or_misordered_transactions_are_missing_inputs() {
    let (node, _, payout) = pool_setup().await;
    let mut factory = TxFactory::with_seed(3);
    let parent = factory.independent(test_utils::bitcoind::SpendKind::SegwitV0);
    let child = factory.spending(&[(&parent, 0)]).unwrap();
    node.add_fabricated(&parent).unwrap();
    node.add_fabricated(&child).unwrap();
    let template = BlockTemplate::from_gbt_json(&gbt(&node).await).unwrap();
    // A transaction the node never saw: no fee known, inputs not in its view.
    let mut b = template.assemble(&payout, &1u64.to_le_bytes());
    let stranger = TxFactory::with_seed(5).batch(1).remove(0).tx;
    b.txdata.push(stranger);
    let commitment = test_utils::bitcoind::validation::witness_commitment_for(
        b.txdata.iter().skip(1).map(|t| t.compute_wtxid()),
    );
    let last = b.txdata[0].output.len() - 1;
    b.txdata[0].output[last].script_pubkey =
        test_utils::bitcoind::validation::witness_commitment_script(&commitment);
    regrind(&mut b);
    assert_eq!(
        submit(&node, &serialize_hex(&b)).await["result"],
        "bad-txns-inputs-missingorspent"
    );

    // A child placed before its parent.
    let child_pos = template
        .txs
        .iter()
        .position(|t| t.txid == child.txid())
        .unwrap();
    let parent_pos = template.txs[child_pos].depends[0] - 1;
    let mut txs: Vec<Transaction> = template.txs.iter().map(|t| (*t.tx).clone()).collect();
    let moved = txs.remove(child_pos);
    txs.insert(parent_pos, moved);
    let mut b = template.assemble(&payout, &2u64.to_le_bytes());
    b.txdata.truncate(1);
    b.txdata.extend(txs);
    let commitment = test_utils::bitcoind::validation::witness_commitment_for(
        b.txdata.iter().skip(1).map(|t| t.compute_wtxid()),
    );
    let last = b.txdata[0].output.len() - 1;
    b.txdata[0].output[last].script_pubkey =
        test_utils::bitcoind::validation::witness_commitment_script(&commitment);
    regrind(&mut b);
    assert_eq!(
        submit(&node, &serialize_hex(&b)).await["result"],
        "bad-txns-inputs-missingorspent"
    );
    assert_eq!(node.tip().height, 20);
}

#[tokio::test]
async fn missing_coinbase_witness_is_filled_in_like_core() {
    let (node, template, payout) = pool_setup().await;
    let mut b = template.assemble(&payout, &1u64.to_le_bytes());
    b.txdata[0].input[0].witness.clear();
    // The witness is not part of the txid, so the header stays valid.
    assert!(submit(&node, &serialize_hex(&b)).await["result"].is_null());
    let stored = node.block(&b.block_hash()).unwrap();
    assert_eq!(stored.txdata[0].input[0].witness.len(), 1);
}

#[tokio::test]
async fn coinbase_only_blocks_and_partial_templates_are_valid() {
    let (node, template, payout) = pool_setup().await;
    // Coinbase-only block: subsidy only, commitment optional but allowed.
    let empty = template.without_transactions();
    assert_eq!(empty.coinbase_value, Amount::from_sat(50 * 100_000_000));
    let block = empty.assemble(&payout, &9u64.to_le_bytes());
    assert!(submit(&node, &serialize_hex(&block)).await["result"].is_null());
    assert_eq!(node.mempool_txids().len(), 12, "mempool untouched");
    // A block claiming more than the subsidy without the fees to back it fails.
    let next = BlockTemplate::from_gbt_json(&gbt(&node).await).unwrap();
    let mut greedy = next.without_transactions();
    greedy.coinbase_value = next.coinbase_value;
    let block = greedy.assemble(&payout, &10u64.to_le_bytes());
    assert_eq!(
        submit(&node, &serialize_hex(&block)).await["result"],
        "bad-cb-amount"
    );
    let block = next.assemble(&payout, &11u64.to_le_bytes());
    assert!(submit(&node, &serialize_hex(&block)).await["result"].is_null());
    assert!(node.mempool_txids().is_empty());
}

#[tokio::test]
async fn longer_submitted_branch_reorganises() {
    let node = standin(10).await;
    node.add_random_mempool_txs(4).unwrap();
    let payout = ScriptBuf::from_bytes(vec![0x51]);
    let tip_template = BlockTemplate::from_gbt_json(&gbt(&node).await).unwrap();
    let old_tip_block = tip_template.assemble(&payout, &1u64.to_le_bytes());
    assert!(submit(&node, &serialize_hex(&old_tip_block)).await["result"].is_null());
    assert!(node.mempool_txids().is_empty());

    // Fork at height 10 with two coinbase-only blocks.
    let fork = tip_template.without_transactions();
    let first = fork.assemble(&payout, &2u64.to_le_bytes());
    assert_eq!(
        submit(&node, &serialize_hex(&first)).await["result"],
        "inconclusive"
    );
    let mut second_t = fork.clone();
    second_t.prev_hash = first.block_hash();
    second_t.height = 12;
    second_t.curtime += 1;
    let second = second_t.assemble(&payout, &3u64.to_le_bytes());
    assert!(submit(&node, &serialize_hex(&second)).await["result"].is_null());
    assert_eq!(node.tip().hash, second.block_hash());
    assert_eq!(
        result(&node, "getblockhash", json!([11])).await,
        first.block_hash().to_string()
    );
    let old = result(
        &node,
        "getblockheader",
        json!([old_tip_block.block_hash().to_string()]),
    )
    .await;
    assert_eq!(old["confirmations"], -1);
    assert_eq!(
        node.mempool_txids().len(),
        4,
        "transactions of the disconnected block are back in the mempool"
    );
}
