//! The job declarator server over TCP + Noise against bitcoind stand-ins: tokens, accepted and
//! rejected declarations (underpaying coinbases, stale tips, reused tokens), missing
//! transactions, and PushSolution turned into a block the node accepts.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bitcoin::consensus::encode::deserialize;
use bitcoin::hashes::Hash;
use bitcoin::{Amount, TxOut};
use common::*;
use sv2_codec::job_declaration::{
    error_codes, AllocateMiningJobToken, ProvideMissingTransactionsSuccess, PushSolution,
};
use sv2_codec::{JobDeclarationMessage as Jd, Message, Protocol};
use sv2_mining::channel::custom::custom_job_commitment;
use sv2_mining::channel::jd_token::TokenKey;
use sv2_mining::coinbase::Payout;
use sv2_mining::header::BlockHeader;
use sv2_mining::merkle::merkle_root_from_path;
use sv2_mining::target::Target;
use test_utils::bitcoind::TxFactory;

fn jd(m: Message) -> Option<Jd> {
    match m {
        Message::JobDeclaration(j) => Some(j),
        _ => None,
    }
}

async fn token(c: &mut Client, request_id: u32) -> (Vec<u8>, Vec<TxOut>) {
    c.send(AllocateMiningJobToken {
        user_identifier: "site.jdc".into(),
        request_id,
    })
    .await;
    match jd(c.recv().await) {
        Some(Jd::AllocateMiningJobTokenSuccess(s)) => {
            assert_eq!(s.request_id, request_id);
            (
                s.mining_job_token,
                deserialize(&s.coinbase_outputs).unwrap(),
            )
        }
        other => panic!("expected AllocateMiningJobToken.Success, got {other:?}"),
    }
}

async fn declare_error(c: &mut Client) -> (String, String) {
    match jd(c.recv().await) {
        Some(Jd::DeclareMiningJobError(e)) => (
            e.error_code,
            String::from_utf8_lossy(&e.error_details).into_owned(),
        ),
        other => panic!("expected DeclareMiningJob.Error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_accepted_declarations() {
    let node_b = standin(110).await;
    let factory_tx = TxFactory::with_seed(21).batch(3);
    for t in &factory_tx {
        node_b.add_fabricated(t).unwrap();
    }
    let (jds, auth) = start_jds(&node_b, SECRET, "").await;
    let mut c = Client::connect(jds.local_addr, auth.xonly, Protocol::JobDeclaration, 1).await;

    // The pool payout output, with value 0, is what the server requires.
    let (t1, outputs) = token(&mut c, 1).await;
    assert_eq!(
        outputs,
        vec![TxOut {
            value: Amount::ZERO,
            script_pubkey: pool_address().script_pubkey()
        }]
    );

    let template = node(&node_b).block_template(None).await.unwrap();
    assert_eq!(template.transactions.len(), 3);
    let d = Declaration::paying_pool(template, 16);
    c.send(d.message(10, t1.clone())).await;
    let new_token = match jd(c.recv().await) {
        Some(Jd::DeclareMiningJobSuccess(s)) => {
            assert_eq!(s.request_id, 10);
            s.new_mining_job_token
        }
        other => panic!("expected DeclareMiningJob.Success, got {other:?}"),
    };
    // The token is what the pool checks: it commits to the job on the server's tip.
    let key = TokenKey::from_hex(SECRET).unwrap();
    let verified = key
        .verify_declared(&new_token, jd_server::session::unix_now())
        .unwrap();
    let expected = custom_job_commitment(
        d.template.version,
        &d.split,
        &d.merkle_path,
        &d.prev_hash(),
        d.template.bits,
    );
    assert_eq!(verified.commitment, expected);

    // An allocation token works once.
    c.send(d.message(11, t1)).await;
    let (code, details) = declare_error(&mut c).await;
    assert_eq!(code, error_codes::INVALID_MINING_JOB_TOKEN);
    assert!(details.contains("already used"), "{details}");
    // A declared-job token is not an allocation token; a forged one neither.
    c.send(d.message(12, new_token)).await;
    assert_eq!(
        declare_error(&mut c).await.0,
        error_codes::INVALID_MINING_JOB_TOKEN
    );
    let forged = TokenKey::new([9; 32]).mint_allocation(1, u64::MAX, &[0; 32]);
    c.send(d.message(13, forged)).await;
    assert_eq!(
        declare_error(&mut c).await.0,
        error_codes::INVALID_MINING_JOB_TOKEN
    );

    assert_eq!(jds.stats.declarations_accepted.load(Ordering::Relaxed), 1);
    assert_eq!(jds.stats.declarations_rejected.load(Ordering::Relaxed), 3);
    assert_eq!(jds.stats.missing_tx_requests.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbases_that_underpay_the_pool_are_rejected() {
    let node_b = standin(110).await;
    for t in &TxFactory::with_seed(22).batch(2) {
        node_b.add_fabricated(t).unwrap();
    }
    let (jds, auth) = start_jds(&node_b, SECRET, "").await;
    let mut c = Client::connect(jds.local_addr, auth.xonly, Protocol::JobDeclaration, 1).await;
    let template = node(&node_b).block_template(None).await.unwrap();
    let value = template.coinbasevalue;
    let elsewhere = address(99).script_pubkey();
    let pool = pool_address().script_pubkey();
    let cases: Vec<(&str, Declaration)> = vec![
        (
            "everything to another address",
            Declaration::new(
                template.clone(),
                value,
                &[(elsewhere.clone(), Payout::Remainder(1))],
                16,
            ),
        ),
        (
            "one sat kept by the miner",
            Declaration::new(
                template.clone(),
                value,
                &[
                    (elsewhere.clone(), Payout::Fixed(1)),
                    (pool.clone(), Payout::Remainder(1)),
                ],
                16,
            ),
        ),
        (
            "fees burnt (declared value below subsidy + fees)",
            Declaration::new(
                template.clone(),
                value - template.total_fees(),
                &[(pool.clone(), Payout::Remainder(1))],
                16,
            ),
        ),
    ];
    for (i, (what, d)) in cases.into_iter().enumerate() {
        let (t, _) = token(&mut c, i as u32).await;
        c.send(d.message(100 + i as u32, t)).await;
        let (code, details) = declare_error(&mut c).await;
        assert_eq!(code, error_codes::INVALID_COINBASE_TX, "{what}: {details}");
        assert!(details.contains("policy requires"), "{what}: {details}");
    }

    // A coinbase claiming more than the block may pay is caught by the node's proposal check
    // (the policy alone would be happy: the pool gets everything).
    let (t, _) = token(&mut c, 50).await;
    let greedy = Declaration::new(
        template.clone(),
        value + 1,
        &[(pool.clone(), Payout::Remainder(1))],
        16,
    );
    c.send(greedy.message(150, t)).await;
    let (code, details) = declare_error(&mut c).await;
    assert_eq!(code, error_codes::INVALID_COINBASE_TX, "{details}");
    assert!(details.contains("bad-cb-amount"), "{details}");

    // Garbage coinbase, wrong height.
    let (t, _) = token(&mut c, 51).await;
    let mut m = Declaration::paying_pool(template.clone(), 16).message(151, t);
    m.coinbase_tx_suffix.truncate(5);
    c.send(m).await;
    assert_eq!(
        declare_error(&mut c).await.0,
        error_codes::INVALID_COINBASE_TX
    );
    let mut ahead = template.clone();
    ahead.height += 1;
    let (t, _) = token(&mut c, 52).await;
    c.send(Declaration::paying_pool(ahead, 16).message(152, t))
        .await;
    assert_eq!(declare_error(&mut c).await.0, error_codes::STALE_CHAIN_TIP);
    // Duplicate transactions.
    let (t, _) = token(&mut c, 53).await;
    let mut m = Declaration::paying_pool(template.clone(), 16).message(153, t);
    let first = m.wtxid_list[0];
    m.wtxid_list.push(first);
    c.send(m).await;
    assert_eq!(declare_error(&mut c).await.0, error_codes::INVALID_JOB);

    assert_eq!(jds.stats.declarations_accepted.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_transactions_are_requested_checked_and_relayed() {
    let (node_a, node_b) = twin_standins(110).await;
    let (_shared, only_a) = split_mempools(&node_a, &node_b, 23, 2, 2);
    let (jds, auth) = start_jds(&node_b, SECRET, "").await;
    let mut c = Client::connect(jds.local_addr, auth.xonly, Protocol::JobDeclaration, 1).await;
    // The miner's template comes from node A.
    let template = node(&node_a).block_template(None).await.unwrap();
    assert_eq!(template.transactions.len(), 4);
    let unknown: Vec<u16> = template
        .transactions
        .iter()
        .enumerate()
        .filter(|(_, t)| only_a.iter().any(|f| f.txid() == t.txid))
        .map(|(i, _)| i as u16)
        .collect();
    assert_eq!(unknown.len(), 2);
    let d = Declaration::paying_pool(template.clone(), 16);

    // First round: the client answers with the wrong transactions.
    let (t, _) = token(&mut c, 1).await;
    c.send(d.message(7, t)).await;
    let asked = match jd(c.recv().await) {
        Some(Jd::ProvideMissingTransactions(p)) => {
            assert_eq!(p.request_id, 7);
            p.unknown_tx_position_list
        }
        other => panic!("expected ProvideMissingTransactions, got {other:?}"),
    };
    assert_eq!(asked, unknown);
    let wrong: Vec<Vec<u8>> = asked
        .iter()
        .map(|_| template.transactions[0].data.clone())
        .collect();
    c.send(ProvideMissingTransactionsSuccess {
        request_id: 7,
        transaction_list: wrong,
    })
    .await;
    let (code, details) = declare_error(&mut c).await;
    assert_eq!(code, error_codes::INVALID_JOB, "{details}");
    // Too few transactions.
    let (t, _) = token(&mut c, 2).await;
    c.send(d.message(8, t)).await;
    c.recv_until(|m| matches!(jd(m), Some(Jd::ProvideMissingTransactions(_))).then_some(()))
        .await;
    c.send(ProvideMissingTransactionsSuccess {
        request_id: 8,
        transaction_list: vec![],
    })
    .await;
    assert_eq!(declare_error(&mut c).await.0, error_codes::MISSING_TXS);

    // Second round: the right ones.
    let (t, _) = token(&mut c, 3).await;
    c.send(d.message(9, t)).await;
    let asked = c
        .recv_until(|m| match jd(m) {
            Some(Jd::ProvideMissingTransactions(p)) => Some(p.unknown_tx_position_list),
            _ => None,
        })
        .await;
    let txs: Vec<Vec<u8>> = asked
        .iter()
        .map(|p| template.transactions[usize::from(*p)].data.clone())
        .collect();
    c.send(ProvideMissingTransactionsSuccess {
        request_id: 9,
        transaction_list: txs,
    })
    .await;
    match jd(c.recv().await) {
        Some(Jd::DeclareMiningJobSuccess(s)) => assert_eq!(s.request_id, 9),
        other => panic!("expected DeclareMiningJob.Success, got {other:?}"),
    }
    // The provided transactions reached node B's mempool.
    let mempool = node_b.mempool_txids();
    for t in &only_a {
        assert!(mempool.contains(&t.txid()), "relayed {}", t.txid());
    }
    assert_eq!(jds.stats.txs_provided.load(Ordering::Relaxed), 2);
    assert_eq!(jds.stats.missing_tx_requests.load(Ordering::Relaxed), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_transactions_time_out() {
    let (node_a, node_b) = twin_standins(110).await;
    for t in &TxFactory::with_seed(24).batch(1) {
        node_a.add_fabricated(t).unwrap();
    }
    let extra = "[validation]\nmissing_txs_timeout_secs = 1\n";
    let (jds, auth) = start_jds(&node_b, SECRET, extra).await;
    let mut c = Client::connect(jds.local_addr, auth.xonly, Protocol::JobDeclaration, 1).await;
    let template = node(&node_a).block_template(None).await.unwrap();
    let (t, _) = token(&mut c, 1).await;
    c.send(Declaration::paying_pool(template, 16).message(4, t))
        .await;
    c.recv_until(|m| matches!(jd(m), Some(Jd::ProvideMissingTransactions(_))).then_some(()))
        .await;
    let (code, _) = declare_error(&mut c).await;
    assert_eq!(code, error_codes::MISSING_TXS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_solution_becomes_a_block_on_the_node() {
    let node_b = standin(110).await;
    for t in &TxFactory::with_seed(25).batch(3) {
        node_b.add_fabricated(t).unwrap();
    }
    let (jds, auth) = start_jds(&node_b, SECRET, "").await;
    let mut c = Client::connect(jds.local_addr, auth.xonly, Protocol::JobDeclaration, 1).await;
    let template = node(&node_b).block_template(None).await.unwrap();
    let d = Declaration::paying_pool(template.clone(), 12);
    let (t, _) = token(&mut c, 1).await;
    c.send(d.message(2, t)).await;
    assert!(matches!(
        jd(c.recv().await),
        Some(Jd::DeclareMiningJobSuccess(_))
    ));

    // Mine the declared job: any extranonce, a nonce meeting the regtest target.
    let extranonce = vec![0x5a; 12];
    let parts = d.split.to_parts().unwrap();
    let cb: bitcoin::Transaction =
        deserialize(&parts.serialize_with(&extranonce).unwrap()).unwrap();
    let root = merkle_root_from_path(&cb.compute_txid().to_byte_array(), &d.merkle_path);
    let target = Target::from_compact(template.bits).unwrap();
    let ntime = template.curtime as u32;
    let header = (0..u32::MAX)
        .map(|nonce| BlockHeader {
            version: template.version,
            prev_hash: d.prev_hash(),
            merkle_root: root,
            ntime,
            nbits: template.bits,
            nonce,
        })
        .find(|h| target.is_met_by(&h.hash()))
        .unwrap();
    // A solution for no declared job (other prev hash) is ignored.
    c.send(PushSolution {
        extranonce: extranonce.clone(),
        prev_hash: [1; 32],
        nonce: header.nonce,
        ntime,
        nbits: template.bits,
        version: template.version,
    })
    .await;
    c.send(PushSolution {
        extranonce,
        prev_hash: d.prev_hash(),
        nonce: header.nonce,
        ntime,
        nbits: template.bits,
        version: template.version,
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while node_b.submitted_blocks().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let blocks = node_b.submitted_blocks();
    assert_eq!(blocks.len(), 1, "the node accepted the pushed block");
    let mut hash = header.hash();
    hash.reverse();
    assert_eq!(blocks[0].hash.to_string(), hex::encode(hash));
    assert_eq!(blocks[0].block.txdata.len(), 4);
    assert_eq!(node_b.tip().hash, blocks[0].hash);
    let paid: u64 = blocks[0]
        .coinbase_outputs
        .iter()
        .filter(|o| o.script_pubkey == pool_address().script_pubkey())
        .map(|o| o.value.to_sat())
        .sum();
    assert_eq!(paid, template.coinbasevalue);
    assert_eq!(jds.stats.solutions.load(Ordering::Relaxed), 2);
    // The JDS counts the block once its submitblock call returns, which may be just after
    // the node has it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while jds.stats.blocks_accepted.load(Ordering::Relaxed) == 0
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(jds.stats.blocks_accepted.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_violations_close_the_connection() {
    let node_b = standin(110).await;
    let (jds, auth) = start_jds(&node_b, SECRET, "[limits]\nmax_tokens_per_minute = 2\n").await;
    // Mining protocol is not served here.
    let mut c = Client::connect_only(jds.local_addr, auth.xonly, Protocol::JobDeclaration).await;
    c.send(setup(Protocol::Mining, 0)).await;
    assert!(matches!(
        c.recv().await,
        Message::Common(sv2_codec::CommonMessage::SetupConnectionError(_))
    ));
    // A server message from the client.
    let mut c = Client::connect(jds.local_addr, auth.xonly, Protocol::JobDeclaration, 1).await;
    c.send(sv2_codec::job_declaration::DeclareMiningJobSuccess {
        request_id: 1,
        new_mining_job_token: vec![],
    })
    .await;
    assert!(c.closed_within(Duration::from_secs(5)).await);
    // Token requests beyond the rate limit.
    let mut c = Client::connect(jds.local_addr, auth.xonly, Protocol::JobDeclaration, 1).await;
    token(&mut c, 1).await;
    token(&mut c, 2).await;
    c.send(AllocateMiningJobToken {
        user_identifier: "x".into(),
        request_id: 3,
    })
    .await;
    assert!(c.closed_within(Duration::from_secs(5)).await);
}
