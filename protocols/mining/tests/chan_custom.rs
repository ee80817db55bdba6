//! Custom jobs on an extended channel: a coinbase declared in the segwit `DeclareMiningJob`
//! form, turned into the `SetCustomMiningJob` split, installed with `add_custom_job`, mined
//! against, and rebuilt into a block that the bitcoin crate validates (merkle root, witness
//! commitment, proof of work).

mod support;

use bitcoin::consensus::encode::serialize;
use bitcoin::hashes::Hash;
use bitcoin::{Block, ScriptBuf, Transaction};
use support::{
    extended_share, sample_tx, witness_commitment, HARD_NBITS, MIN_NTIME, NOW_MS, REGTEST_NBITS,
    VERSION,
};
use sv2_mining::channel::custom::{custom_job_commitment, custom_job_template, CoinbaseSplit};
use sv2_mining::channel::jd_token::TokenKey;
use sv2_mining::channel::{ChainTip, ChannelConfig, ExtendedChannel, ShareError, ShareOutcome};
use sv2_mining::coinbase::{witness_reserved_value, CoinbaseBuilder, Payout};
use sv2_mining::merkle::merkle_path_for_coinbase;
use sv2_mining::target::Target;

struct Declared {
    txs: Vec<Transaction>,
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    path: Vec<[u8; 32]>,
}

/// What a job declarator client would declare: a 16-byte extranonce coinbase paying the pool,
/// committing to the witnesses of two transactions.
fn declared(height: u32) -> Declared {
    let txs: Vec<Transaction> = (1..=2).map(|seed| sample_tx(seed, true)).collect();
    let parts = CoinbaseBuilder::new(height, 5_000_000_000, 16)
        .payout(
            ScriptBuf::from_bytes(vec![
                0x00, 0x14, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
            ]),
            Payout::Remainder(1),
        )
        .witness_commitment(witness_commitment(&txs))
        .build()
        .unwrap();
    let split = CoinbaseSplit::from_parts(&parts).unwrap();
    let (prefix, suffix) = split.to_declared(Some(&witness_reserved_value().to_vec()));
    let txids: Vec<[u8; 32]> = txs
        .iter()
        .map(|t| t.compute_txid().to_byte_array())
        .collect();
    Declared {
        path: merkle_path_for_coinbase(&txids),
        txs,
        prefix,
        suffix,
    }
}

fn channel(prefix: Vec<u8>, rollable: usize) -> ExtendedChannel {
    let cfg = ChannelConfig {
        vardiff: None,
        fixed_difficulty: 1e-9,
        ..ChannelConfig::default()
    };
    ExtendedChannel::new(7, prefix, rollable, 1e6, Target::MAX, cfg, NOW_MS).unwrap()
}

fn mine(ch: &mut ExtendedChannel, job_id: u32, extranonce: &[u8]) -> ShareOutcome {
    for nonce in 0..10_000u32 {
        let out = ch.validate_share(
            &extended_share(7, job_id, nonce, MIN_NTIME, extranonce),
            NOW_MS,
        );
        if !matches!(out, ShareOutcome::Rejected(ShareError::DifficultyTooLow)) {
            return out;
        }
    }
    panic!("no share found");
}

#[test]
fn declared_job_mines_into_a_valid_block() {
    let d = declared(200);
    let cb = CoinbaseSplit::from_declared(&d.prefix, &d.suffix).unwrap();
    assert_eq!(cb.split.height(), Some(200));
    assert_eq!(cb.split.extranonce_len, 16);

    // The pool checks the token commitment against what SetCustomMiningJob carries.
    let prev_hash = [0x11; 32];
    let commitment = custom_job_commitment(VERSION, &cb.split, &d.path, &prev_hash, REGTEST_NBITS);
    let key = TokenKey::new([5; 32]);
    let token = key.mint_declared(1, 10_000, &commitment);
    let verified = key.verify_declared(&token, 100).unwrap();
    assert_eq!(verified.commitment, commitment);

    let template = custom_job_template(u64::MAX, VERSION, &cb.split, &d.path).unwrap();
    let mut ch = channel(vec![0xaa; 8], 8);
    let tip = ChainTip {
        prev_hash,
        min_ntime: MIN_NTIME,
        nbits: REGTEST_NBITS,
    };
    let job_id = ch.add_custom_job(&template, tip).unwrap();
    let candidate = match mine(&mut ch, job_id, &[0x42; 8]) {
        ShareOutcome::BlockFound(b) => b,
        other => panic!("expected a block on regtest difficulty, got {other:?}"),
    };
    assert_eq!(candidate.template_id, u64::MAX);
    let mut full = vec![0xaa; 8];
    full.extend_from_slice(&[0x42; 8]);
    assert_eq!(candidate.extranonce, full);

    // Rebuild the block from the declaration alone, as a job declarator server would.
    let coinbase = cb.transaction(&candidate.extranonce).unwrap();
    let block = Block {
        header: bitcoin::consensus::deserialize(&candidate.header.to_bytes()).unwrap(),
        txdata: std::iter::once(coinbase)
            .chain(d.txs.iter().cloned())
            .collect(),
    };
    assert!(block.check_merkle_root());
    assert!(block.check_witness_commitment());
    assert!(block.header.validate_pow(block.header.target()).is_ok());
    assert!(!serialize(&block).is_empty());
}

#[test]
fn custom_jobs_follow_their_own_tips() {
    let d = declared(300);
    let cb = CoinbaseSplit::from_declared(&d.prefix, &d.suffix).unwrap();
    let template = custom_job_template(1 << 63, VERSION, &cb.split, &d.path).unwrap();
    let mut ch = channel(vec![1; 4], 12);
    let tip_a = ChainTip {
        prev_hash: [1; 32],
        min_ntime: MIN_NTIME,
        nbits: HARD_NBITS,
    };
    let first = ch.add_custom_job(&template, tip_a).unwrap();
    let second = ch.add_custom_job(&template, tip_a).unwrap();
    assert_ne!(first, second);
    // Same tip: both jobs stay valid.
    assert!(matches!(
        mine(&mut ch, first, &[0; 12]),
        ShareOutcome::Accepted(_)
    ));
    // A new prev hash makes both stale.
    let tip_b = ChainTip {
        prev_hash: [2; 32],
        ..tip_a
    };
    let third = ch.add_custom_job(&template, tip_b).unwrap();
    assert!(matches!(
        mine(&mut ch, second, &[0; 12]),
        ShareOutcome::Rejected(ShareError::StaleShare)
    ));
    assert!(matches!(
        mine(&mut ch, third, &[0; 12]),
        ShareOutcome::Accepted(_)
    ));
    // A job reserving another extranonce length than the channel is refused.
    let narrow = channel(vec![1; 4], 4);
    let mut narrow = narrow;
    assert!(narrow.add_custom_job(&template, tip_a).is_err());
    // So is an invalid nbits.
    assert!(ch
        .add_custom_job(&template, ChainTip { nbits: 0, ..tip_b })
        .is_err());
}
