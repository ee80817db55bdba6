//! The stand-in's Template Provider over real TCP + Noise: a client sets up the Template
//! Distribution protocol, gets a future template and its prev hash, asks for the template's
//! transactions, gets a new template when another miner finds a block, and a solution it
//! builds from the template's coinbase skeleton becomes a block the stand-in accepts.

use std::time::Duration;

use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence, Target, Transaction, TxIn,
    TxMerkleNode, TxOut, Witness,
};
use sv2_codec::template_distribution::{
    CoinbaseOutputConstraints, NewTemplate, RequestTransactionData, SetNewPrevHash, SubmitSolution,
};
use sv2_codec::{Message, Protocol, TemplateDistributionMessage as Tdp};
use test_utils::bitcoind::{StandIn, StandInConfig};
use test_utils::fixtures::Authority;
use test_utils::sv2_client::Client;

async fn next_template(c: &mut Client) -> (NewTemplate, SetNewPrevHash) {
    let template = c
        .recv_until(|m| match m {
            Message::TemplateDistribution(Tdp::NewTemplate(t)) => Some(t),
            _ => None,
        })
        .await;
    let prev = c
        .recv_until(|m| match m {
            Message::TemplateDistribution(Tdp::SetNewPrevHash(p)) => Some(p),
            _ => None,
        })
        .await;
    (template, prev)
}

/// The coinbase a pool builds from the skeleton: its own output first, then the template's.
fn coinbase(t: &NewTemplate, payout: &ScriptBuf) -> Transaction {
    let mut script_sig = t.coinbase_prefix.clone();
    script_sig.extend_from_slice(&[0x08, 1, 2, 3, 4, 5, 6, 7, 8]);
    let mut output = vec![TxOut {
        value: Amount::from_sat(t.coinbase_tx_value_remaining),
        script_pubkey: payout.clone(),
    }];
    let mut rest = &t.coinbase_tx_outputs[..];
    for _ in 0..t.coinbase_tx_outputs_count {
        let out: TxOut = bitcoin::consensus::Decodable::consensus_decode(&mut rest)
            .expect("template output decodes");
        output.push(out);
    }
    assert!(rest.is_empty(), "outputs_count covers every output");
    let mut witness = Witness::new();
    witness.push([0u8; 32]);
    Transaction {
        version: Version(t.coinbase_tx_version as i32),
        lock_time: LockTime::from_consensus(t.coinbase_tx_locktime),
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(script_sig),
            sequence: Sequence(t.coinbase_tx_input_sequence),
            witness,
        }],
        output,
    }
}

/// A solution for the template: the header nonce is searched until it meets the target.
fn solve(t: &NewTemplate, p: &SetNewPrevHash, payout: &ScriptBuf) -> SubmitSolution {
    let cb = coinbase(t, payout);
    let root = sv2_mining::merkle::merkle_root_from_path(
        &cb.compute_txid().to_byte_array(),
        &t.merkle_path,
    );
    let mut header = Header {
        version: BlockVersion::from_consensus(t.version as i32),
        prev_blockhash: BlockHash::from_byte_array(p.prev_hash),
        merkle_root: TxMerkleNode::from_byte_array(root),
        time: p.header_timestamp,
        bits: CompactTarget::from_consensus(p.n_bits),
        nonce: 0,
    };
    let target = Target::from_le_bytes(p.target);
    while !target.is_met_by(header.block_hash()) {
        header.nonce += 1;
    }
    SubmitSolution {
        template_id: t.template_id,
        version: t.version,
        header_timestamp: p.header_timestamp,
        header_nonce: header.nonce,
        coinbase_tx: serialize(&cb),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_flow_and_a_solution_becomes_a_block() {
    let node = StandIn::start(StandInConfig {
        premine: 110,
        ..Default::default()
    })
    .await
    .expect("stand-in");
    node.add_random_mempool_txs(3).expect("mempool");
    let authority = Authority::generate();
    let keys = sv2_noise::ServerKeys::from_authority(authority.keypair, Duration::from_secs(3600));
    let tp = node
        .start_template_provider(keys, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("template provider");
    let mut c = Client::connect(
        tp.local_addr,
        authority.xonly,
        Protocol::TemplateDistribution,
        0,
    )
    .await;
    c.send(CoinbaseOutputConstraints {
        coinbase_output_max_additional_size: 100,
        coinbase_output_max_additional_sigops: 4,
    })
    .await;
    let (t1, p1) = next_template(&mut c).await;
    assert!(t1.future_template);
    assert_eq!(p1.template_id, t1.template_id);
    let tip = node.tip();
    assert_eq!(p1.prev_hash, tip.hash.to_byte_array());
    // Height 111: BIP34 pushes it as one byte.
    assert_eq!(t1.coinbase_prefix, vec![0x01, 111]);
    assert_eq!(t1.merkle_path.len(), 2, "3 transactions after the coinbase");
    let template = node.block_template();
    assert_eq!(
        t1.coinbase_tx_value_remaining,
        template.coinbase_value.to_sat()
    );

    c.send(RequestTransactionData {
        template_id: t1.template_id,
    })
    .await;
    let txs = c
        .recv_until(|m| match m {
            Message::TemplateDistribution(Tdp::RequestTransactionDataSuccess(s)) => Some(s),
            _ => None,
        })
        .await;
    let txids: Vec<_> = txs
        .transaction_list
        .iter()
        .map(|raw| deserialize::<Transaction>(raw).expect("tx").compute_txid())
        .collect();
    let expected: Vec<_> = template.txs.iter().map(|t| t.txid).collect();
    assert_eq!(txids, expected);

    // Another miner finds a block: a new future template and its prev hash follow.
    node.mine_empty_block().expect("mine");
    let (t2, p2) = tokio::time::timeout(Duration::from_secs(10), next_template(&mut c))
        .await
        .expect("a new template after the new tip");
    assert!(t2.template_id > t1.template_id);
    assert_eq!(p2.prev_hash, node.tip().hash.to_byte_array());

    // A solution on the new template is a block paying our script.
    let payout = ScriptBuf::from_bytes(vec![0x51]);
    c.send(solve(&t2, &p2, &payout)).await;
    let mut accepted = Vec::new();
    for _ in 0..200 {
        accepted = node.submitted_blocks();
        if !accepted.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(accepted.len(), 1, "{:?}", node.submissions());
    assert_eq!(accepted[0].coinbase_outputs[0].script_pubkey, payout);
    assert_eq!(node.tip().hash, accepted[0].hash);

    // ... and the next template builds on it.
    let (_, p3) = tokio::time::timeout(Duration::from_secs(10), next_template(&mut c))
        .await
        .expect("a template on our block");
    assert_eq!(p3.prev_hash, accepted[0].hash.to_byte_array());
    drop(tp);
}
