//! Parses real Bitcoin Core 31.1 replies captured in `shared/fixtures/bitcoind`.

use node_rpc::{BlockTemplate, BlockchainInfo, NetworkInfo, SubmitBlockOutcome};

fn fixture(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/../../../shared/fixtures/bitcoind/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn template_with_transactions() {
    let t: BlockTemplate =
        serde_json::from_value(fixture("getblocktemplate_with_txs.json")).unwrap();
    assert_eq!(t.transactions.len(), 20);
    assert_eq!(t.height, 111);
    assert_eq!(t.bits, 0x207fffff);
    assert_eq!(t.target[0], 0x7f);
    assert_eq!(t.coinbasevalue, 5_000_000_000 + t.total_fees());
    assert!(t.witness_commitment().is_some());
    assert!(t.unsupported_required_rules().is_empty());
    assert!(t
        .longpollid
        .as_deref()
        .unwrap()
        .starts_with(&t.previousblockhash.to_string()));
    // depends are 1-based and refer to earlier entries
    let with_deps = t
        .transactions
        .iter()
        .filter(|tx| !tx.depends.is_empty())
        .count();
    assert_eq!(with_deps, 10);
    for (i, tx) in t.transactions.iter().enumerate() {
        for d in &tx.depends {
            assert!(*d >= 1 && (*d as usize) <= i, "depends {d} at {i}");
        }
        // the txid is the hash of the non-witness serialization
        let decoded: bitcoin::Transaction = bitcoin::consensus::deserialize(&tx.data).unwrap();
        assert_eq!(decoded.compute_txid(), tx.txid);
        assert_eq!(decoded.compute_wtxid(), tx.wtxid);
    }
    // legacy-only transactions have hash == txid
    let legacy = t
        .transactions
        .iter()
        .filter(|tx| tx.txid.to_string() == tx.wtxid.to_string())
        .count();
    assert_eq!(legacy, 4);
}

#[test]
fn template_matches_mined_block() {
    let t: BlockTemplate =
        serde_json::from_value(fixture("getblocktemplate_with_txs.json")).unwrap();
    let block = fixture("getblock_verbose1.json");
    let txs: Vec<String> = block["tx"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let ours: Vec<String> = t
        .transactions
        .iter()
        .map(|tx| tx.txid.to_string())
        .collect();
    assert_eq!(&txs[1..], &ours[..]);
    assert_eq!(t.txids().len(), 20);
}

#[test]
fn empty_template() {
    let t: BlockTemplate = serde_json::from_value(fixture("getblocktemplate_empty.json")).unwrap();
    assert!(t.transactions.is_empty());
    assert_eq!(t.coinbasevalue, 5_000_000_000);
    assert!(t.witness_commitment().is_some());
}

#[test]
fn chain_and_network_info() {
    let c: BlockchainInfo = serde_json::from_value(fixture("getblockchaininfo.json")).unwrap();
    assert_eq!(c.network(), Some(bitcoin::Network::Regtest));
    assert!(!c.initialblockdownload);
    let n: NetworkInfo = serde_json::from_value(fixture("getnetworkinfo.json")).unwrap();
    assert_eq!(n.version, 310100);
    assert_eq!(n.subversion, "/Satoshi:31.1.0/");
}

#[test]
fn submitblock_results() {
    let cases = fixture("submitblock_cases.json");
    let mut seen = 0;
    for (name, case) in cases["cases"].as_object().unwrap() {
        let Some(result) = case.get("result") else {
            continue;
        };
        let outcome = SubmitBlockOutcome::from_result(result);
        match result {
            serde_json::Value::Null => assert_eq!(outcome, SubmitBlockOutcome::Accepted, "{name}"),
            serde_json::Value::String(s) => assert_eq!(outcome.label(), s, "{name}"),
            _ => continue,
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} cases decoded");
    assert_eq!(
        SubmitBlockOutcome::from_reason("inconclusive"),
        SubmitBlockOutcome::Inconclusive
    );
    assert!(SubmitBlockOutcome::from_reason("duplicate").is_valid_block());
    assert!(!SubmitBlockOutcome::from_reason("high-hash").is_valid_block());
}
