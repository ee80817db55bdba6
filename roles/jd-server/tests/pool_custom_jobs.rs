//! The pool with `[job_declaration]` next to the job declarator server: a work-selection
//! connection sets a custom job with the JDS's token, only the declared job is accepted, and
//! shares are validated against it.

mod common;

use std::time::Duration;

use bitcoin::consensus::encode::deserialize;
use bitcoin::hashes::Hash;
use common::*;
use sv2_codec::common::mining_flags;
use sv2_codec::job_declaration::AllocateMiningJobToken;
use sv2_codec::mining::{
    OpenExtendedMiningChannel, OpenStandardMiningChannel, SubmitSharesExtended,
};
use sv2_codec::{
    CommonMessage, JobDeclarationMessage as Jd, Message, MiningMessage as Mm, Protocol,
};
use sv2_mining::header::BlockHeader;
use sv2_mining::merkle::merkle_root_from_path;
use sv2_mining::target::Target;
use test_utils::bitcoind::TxFactory;

/// Declares the current template of `node_b` for a full extranonce of `extranonce_len` bytes;
/// returns the declaration and the JDS's token.
async fn declared(
    jds: &jd_server::JdsHandle,
    key: bitcoin::secp256k1::XOnlyPublicKey,
    node_b: &test_utils::bitcoind::StandIn,
    extranonce_len: usize,
) -> (Declaration, Vec<u8>) {
    let mut c = Client::connect(jds.local_addr, key, Protocol::JobDeclaration, 1).await;
    c.send(AllocateMiningJobToken {
        user_identifier: "site.jdc".into(),
        request_id: 1,
    })
    .await;
    let t = c
        .recv_until(|m| match m {
            Message::JobDeclaration(Jd::AllocateMiningJobTokenSuccess(s)) => {
                Some(s.mining_job_token)
            }
            _ => None,
        })
        .await;
    let template = node(node_b).block_template(None).await.unwrap();
    let d = Declaration::paying_pool(template, extranonce_len);
    c.send(d.message(2, t)).await;
    let token = c
        .recv_until(|m| match m {
            Message::JobDeclaration(Jd::DeclareMiningJobSuccess(s)) => Some(s.new_mining_job_token),
            Message::JobDeclaration(Jd::DeclareMiningJobError(e)) => {
                panic!("declaration refused: {e:?}")
            }
            _ => None,
        })
        .await;
    (d, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_accepts_only_declared_jobs_and_validates_their_shares() {
    let node_b = standin(110).await;
    for t in &TxFactory::with_seed(31).batch(3) {
        node_b.add_fabricated(t).unwrap();
    }
    let (jds, jds_auth) = start_jds(&node_b, SECRET, "").await;
    let (pool, pool_auth) = start_pool(&node_b, Some(SECRET)).await;
    let flags = mining_flags::REQUIRES_WORK_SELECTION | mining_flags::REQUIRES_VERSION_ROLLING;
    let mut m = Client::connect(pool.local_addr, pool_auth.xonly, Protocol::Mining, flags).await;

    // Work selection needs extended channels.
    m.send(OpenStandardMiningChannel {
        request_id: 1,
        user_identity: "site.jdc".into(),
        nominal_hash_rate: 1e6,
        max_target: [0xff; 32],
    })
    .await;
    assert!(matches!(
        m.recv().await,
        Message::Mining(Mm::OpenMiningChannelError(_))
    ));
    m.send(OpenExtendedMiningChannel {
        request_id: 2,
        user_identity: "site.jdc".into(),
        nominal_hash_rate: 1e3,
        max_target: [0xff; 32],
        min_extranonce_size: 8,
    })
    .await;
    let open = match m.recv().await {
        Message::Mining(Mm::OpenExtendedMiningChannelSuccess(s)) => s,
        other => panic!("expected the channel, got {other:?}"),
    };
    let full_len = open.extranonce_prefix.len() + usize::from(open.extranonce_size);
    // No pool job arrives on a work-selection connection.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), m.recv())
            .await
            .is_err(),
        "no NewExtendedMiningJob for work selection"
    );

    let (d, token) = declared(&jds, jds_auth.xonly, &node_b, full_len).await;
    let set = |token: Vec<u8>, request_id: u32| sv2_codec::mining::SetCustomMiningJob {
        channel_id: open.channel_id,
        request_id,
        token,
        version: d.template.version,
        prev_hash: d.prev_hash(),
        min_ntime: d.template.curtime as u32,
        nbits: d.template.bits,
        coinbase_tx_version: d.split.tx_version,
        coinbase_prefix: d.split.script_head.clone(),
        coinbase_tx_input_n_sequence: d.split.sequence,
        coinbase_tx_outputs: d.split.outputs.clone(),
        coinbase_tx_locktime: d.split.locktime,
        merkle_path: d.merkle_path.clone(),
    };
    // Another payee than declared: refused.
    let mut other = set(token.clone(), 10);
    let mut outs = d.outputs();
    outs[0].script_pubkey = address(99).script_pubkey();
    other.coinbase_tx_outputs = bitcoin::consensus::encode::serialize(&outs);
    m.send(other).await;
    match m.recv().await {
        Message::Mining(Mm::SetCustomMiningJobError(e)) => {
            assert_eq!(e.error_code, "invalid-mining-job-token")
        }
        other => panic!("expected SetCustomMiningJob.Error, got {other:?}"),
    }
    // Another merkle path (transaction set): refused.
    let mut fewer = set(token.clone(), 11);
    fewer.merkle_path.pop();
    m.send(fewer).await;
    assert!(matches!(
        m.recv().await,
        Message::Mining(Mm::SetCustomMiningJobError(_))
    ));
    // The declared job: accepted.
    m.send(set(token.clone(), 12)).await;
    let job_id = match m.recv().await {
        Message::Mining(Mm::SetCustomMiningJobSuccess(s)) => {
            assert_eq!(s.request_id, 12);
            s.job_id
        }
        other => panic!("expected SetCustomMiningJob.Success, got {other:?}"),
    };

    // Mine a share on it: the channel prefix plus our extranonce in the declared coinbase.
    let mine = |miner_extranonce: &[u8], target: Target| {
        let mut full = open.extranonce_prefix.clone();
        full.extend_from_slice(miner_extranonce);
        let parts = d.split.to_parts().unwrap();
        let cb: bitcoin::Transaction = deserialize(&parts.serialize_with(&full).unwrap()).unwrap();
        let root = merkle_root_from_path(&cb.compute_txid().to_byte_array(), &d.merkle_path);
        (0..u32::MAX)
            .map(|nonce| BlockHeader {
                version: d.template.version,
                prev_hash: d.prev_hash(),
                merkle_root: root,
                ntime: d.template.curtime as u32,
                nbits: d.template.bits,
                nonce,
            })
            .find(|h| target.is_met_by(&h.hash()))
            .unwrap()
    };
    let target = Target::from_le_bytes(open.target);
    let miner = vec![3u8; usize::from(open.extranonce_size)];
    let h = mine(&miner, target);
    m.send(SubmitSharesExtended {
        channel_id: open.channel_id,
        sequence_number: 1,
        job_id,
        nonce: h.nonce,
        ntime: h.ntime,
        version: h.version,
        extranonce: miner.clone(),
    })
    .await;
    let ack = m
        .recv_until(|msg| match msg {
            Message::Mining(Mm::SubmitSharesSuccess(s)) => Some(Ok(s)),
            Message::Mining(Mm::SubmitSharesError(e)) => Some(Err(e)),
            _ => None,
        })
        .await;
    assert_eq!(ack.expect("share accepted").last_sequence_number, 1);

    // The same nonce with another extranonce is a different header: it fails the target
    // unless by chance; the wrong extranonce size is refused outright.
    m.send(SubmitSharesExtended {
        channel_id: open.channel_id,
        sequence_number: 2,
        job_id,
        nonce: h.nonce,
        ntime: h.ntime,
        version: h.version,
        extranonce: vec![3u8; 3],
    })
    .await;
    let err = m
        .recv_until(|msg| match msg {
            Message::Mining(Mm::SubmitSharesError(e)) => Some(e),
            _ => None,
        })
        .await;
    assert_eq!(err.error_code, "bad-extranonce-size");
    // The token expires with its lifetime, but while valid it can set the job again.
    m.send(set(token, 13)).await;
    assert!(matches!(
        m.recv().await,
        Message::Mining(Mm::SetCustomMiningJobSuccess(_))
    ));
    drop(pool);
    drop(jds);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_without_job_declaration_refuse_work_selection() {
    let node_b = standin(110).await;
    let (pool, auth) = start_pool(&node_b, None).await;
    let mut c = Client::connect_only(pool.local_addr, auth.xonly, Protocol::Mining).await;
    c.send(setup(
        Protocol::Mining,
        mining_flags::REQUIRES_WORK_SELECTION,
    ))
    .await;
    match c.recv().await {
        Message::Common(CommonMessage::SetupConnectionError(e)) => {
            assert_eq!(e.error_code, "unsupported-feature-flags");
            assert_eq!(e.flags, mining_flags::REQUIRES_WORK_SELECTION);
        }
        other => panic!("expected SetupConnection.Error, got {other:?}"),
    }
    // Custom jobs on a connection that did not negotiate work selection.
    let mut c = Client::connect(pool.local_addr, auth.xonly, Protocol::Mining, 0).await;
    let open = c.open_extended("a.b", 4).await;
    c.send(sv2_codec::mining::SetCustomMiningJob {
        channel_id: open.channel_id,
        request_id: 5,
        ..Default::default()
    })
    .await;
    let e = c
        .recv_until(|m| match m {
            Message::Mining(Mm::SetCustomMiningJobError(e)) => Some(e),
            _ => None,
        })
        .await;
    assert_eq!(e.error_code, "jd-not-supported");
}
