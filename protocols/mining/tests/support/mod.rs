//! Helpers shared by the channel tests: fixed times and header fields, fake transactions,
//! witness commitments, simple coinbases and templates, share messages.
//!
//! Each test binary uses a part of this module.
#![allow(dead_code)]

use bitcoin::hashes::Hash;
use bitcoin::{
    absolute::LockTime, transaction::Version, Amount, OutPoint, ScriptBuf, Sequence, Transaction,
    TxIn, TxOut, Txid, Witness,
};
use std::sync::Arc;
use sv2_mining::channel::{JobTemplate, SubmitExtended, SubmitStandard};
use sv2_mining::coinbase::{CoinbaseBuilder, CoinbaseParts, Payout, WITNESS_COMMITMENT_HEADER};
use sv2_mining::merkle::merkle_root;
use sv2_mining::sha256d::sha256d;

/// The tests' "now" (Unix ms).
pub const NOW_MS: u64 = 1_700_000_000_000;
/// Minimum ntime of the tests' chain tips.
pub const MIN_NTIME: u32 = 1_700_000_000;
/// Block version of the tests' jobs.
pub const VERSION: u32 = 0x2000_0000;
/// Regtest: every other hash is a block.
pub const REGTEST_NBITS: u32 = 0x207f_ffff;
/// A network target no test share reaches by chance (~2^-200).
pub const HARD_NBITS: u32 = 0x1a01_0000;
/// Block subsidy the simple coinbases claim.
pub const SUBSIDY: u64 = 312_500_000;

/// A one-input, one-output transaction spending a fake outpoint derived from `seed`, with a
/// signature-sized witness when `segwit`.
pub fn sample_tx(seed: u8, segwit: bool) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: Txid::from_byte_array([seed; 32]),
                vout: u32::from(seed),
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: if segwit {
                Witness::from_slice(&[vec![seed; 71], vec![2; 33]])
            } else {
                Witness::new()
            },
        }],
        output: vec![TxOut {
            value: Amount::from_sat(1_000 + u64::from(seed)),
            script_pubkey: ScriptBuf::from_bytes(vec![0x51]),
        }],
    }
}

/// The BIP141 commitment output script for a block of a coinbase plus `txs`, with the all-zero
/// witness reserved value.
pub fn witness_commitment(txs: &[Transaction]) -> ScriptBuf {
    let mut wtxids = vec![[0u8; 32]];
    wtxids.extend(txs.iter().map(|t| t.compute_wtxid().to_byte_array()));
    let mut preimage = merkle_root(&wtxids).to_vec();
    preimage.extend_from_slice(&[0u8; 32]);
    let mut script = WITNESS_COMMITMENT_HEADER.to_vec();
    script.extend_from_slice(&sha256d(&preimage));
    ScriptBuf::from_bytes(script)
}

/// A coinbase at `height` reserving `extranonce_len` bytes and paying the subsidy to `OP_TRUE`.
pub fn op_true_coinbase(height: u32, extranonce_len: usize) -> CoinbaseBuilder {
    CoinbaseBuilder::new(height, SUBSIDY, extranonce_len)
        .payout(ScriptBuf::from_bytes(vec![0x51]), Payout::Remainder(1))
}

/// A job template of [`VERSION`].
pub fn template(
    template_id: u64,
    future: bool,
    coinbase: Arc<CoinbaseParts>,
    merkle_path: Arc<[[u8; 32]]>,
) -> JobTemplate {
    JobTemplate {
        template_id,
        future,
        version: VERSION,
        coinbase,
        merkle_path,
    }
}

/// `SubmitSharesExtended` of [`VERSION`], with the nonce as sequence number.
pub fn extended_share(
    channel_id: u32,
    job_id: u32,
    nonce: u32,
    ntime: u32,
    extranonce: &[u8],
) -> SubmitExtended<'_> {
    SubmitExtended {
        channel_id,
        sequence_number: nonce,
        job_id,
        nonce,
        ntime,
        version: VERSION,
        extranonce,
    }
}

/// `SubmitSharesStandard` of [`VERSION`], with the nonce as sequence number.
pub fn standard_share(channel_id: u32, job_id: u32, nonce: u32, ntime: u32) -> SubmitStandard {
    SubmitStandard {
        channel_id,
        sequence_number: nonce,
        job_id,
        nonce,
        ntime,
        version: VERSION,
    }
}
