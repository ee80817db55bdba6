//! Checks of a declared job that need no I/O, and the job as the server keeps it afterwards
//! (to build the block of a `PushSolution`, or the block proposal sent to the node).

use std::collections::HashSet;
use std::sync::Arc;

use bitcoin::consensus::encode::serialize;
use bitcoin::hashes::Hash;
use bitcoin::{TxOut, Wtxid};
use sv2_codec::job_declaration::error_codes;
use sv2_mining::channel::custom::{custom_job_commitment, DeclaredCoinbase};
use sv2_mining::coinbase::{assemble_block_bytes, WITNESS_COMMITMENT_HEADER};
use sv2_mining::header::BlockHeader;
use sv2_mining::merkle::{merkle_path_for_coinbase, merkle_root, merkle_root_from_path};
use sv2_mining::sha256d::sha256d;
use sv2_mining::target::Target;

use crate::chain::ChainView;
use crate::mempool::KnownTx;

/// A rejection: the `DeclareMiningJob.Error` code and human-readable details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Error code (`sv2_codec::job_declaration::error_codes`).
    pub code: &'static str,
    /// Details for `error_details`.
    pub details: String,
}

impl Rejection {
    /// A rejection with `code` and `details`.
    pub fn new(code: &'static str, details: impl Into<String>) -> Self {
        Rejection {
            code,
            details: details.into(),
        }
    }
}

/// The wtxids of a declaration, refusing duplicates (a block cannot hold a transaction twice).
pub fn parse_wtxids(list: &[[u8; 32]]) -> Result<Vec<Wtxid>, Rejection> {
    let mut seen = HashSet::with_capacity(list.len());
    let mut out = Vec::with_capacity(list.len());
    for (i, w) in list.iter().enumerate() {
        if !seen.insert(*w) {
            return Err(Rejection::new(
                error_codes::INVALID_JOB,
                format!("transaction at position {i} is listed twice"),
            ));
        }
        out.push(Wtxid::from_byte_array(*w));
    }
    Ok(out)
}

/// Checks the coinbase's witness commitment against the declared transactions (BIP141): the
/// last output with the commitment header must commit to the wtxid merkle root (coinbase as
/// zero) and the declared witness reserved value; without such an output no transaction may
/// carry witness data.
pub fn check_witness_commitment(
    outputs: &[TxOut],
    reserved_value: Option<[u8; 32]>,
    txs: &[Arc<KnownTx>],
) -> Result<(), Rejection> {
    let commitment = outputs.iter().rev().find(|o| {
        let s = o.script_pubkey.as_bytes();
        s.len() >= 38 && s.starts_with(&WITNESS_COMMITMENT_HEADER)
    });
    let has_witness = txs
        .iter()
        .any(|t| t.txid_bytes() != t.wtxid.to_byte_array());
    let Some(out) = commitment else {
        if has_witness {
            return Err(Rejection::new(
                error_codes::INVALID_COINBASE_TX,
                "transactions carry witness data but the coinbase has no witness commitment",
            ));
        }
        return Ok(());
    };
    let Some(reserved) = reserved_value else {
        return Err(Rejection::new(
            error_codes::INVALID_COINBASE_TX,
            "witness commitment without a 32-byte witness reserved value in the coinbase",
        ));
    };
    let mut wtxids = Vec::with_capacity(txs.len() + 1);
    wtxids.push([0u8; 32]);
    wtxids.extend(txs.iter().map(|t| t.wtxid.to_byte_array()));
    let mut preimage = merkle_root(&wtxids).to_vec();
    preimage.extend_from_slice(&reserved);
    let expected = sha256d(&preimage);
    match out.script_pubkey.as_bytes().get(6..38) {
        Some(got) if got == expected => Ok(()),
        _ => Err(Rejection::new(
            error_codes::INVALID_COINBASE_TX,
            "witness commitment does not match the declared transactions",
        )),
    }
}

/// A job the server accepted.
#[derive(Debug, Clone)]
pub struct DeclaredJob {
    /// The declaration's request id.
    pub request_id: u32,
    /// Header version.
    pub version: u32,
    /// The coinbase.
    pub coinbase: DeclaredCoinbase,
    /// Transactions in block order.
    pub txs: Vec<Arc<KnownTx>>,
    /// Coinbase merkle branch.
    pub merkle_path: Vec<[u8; 32]>,
    /// The tip it was accepted on.
    pub view: ChainView,
    /// The commitment the declared-job token carries.
    pub commitment: [u8; 32],
}

impl DeclaredJob {
    /// Builds the job; the commitment covers the server's tip (`view`).
    pub fn new(
        request_id: u32,
        version: u32,
        coinbase: DeclaredCoinbase,
        txs: Vec<Arc<KnownTx>>,
        view: ChainView,
    ) -> DeclaredJob {
        let txids: Vec<[u8; 32]> = txs.iter().map(|t| t.txid_bytes()).collect();
        let merkle_path = merkle_path_for_coinbase(&txids);
        let commitment = custom_job_commitment(
            version,
            &coinbase.split,
            &merkle_path,
            &view.prev_hash,
            view.nbits,
        );
        DeclaredJob {
            request_id,
            version,
            coinbase,
            txs,
            merkle_path,
            view,
            commitment,
        }
    }

    /// Header and serialized block for `extranonce` and the given header fields.
    pub fn block(
        &self,
        extranonce: &[u8],
        prev_hash: [u8; 32],
        version: u32,
        ntime: u32,
        nbits: u32,
        nonce: u32,
    ) -> Result<(BlockHeader, Vec<u8>), Rejection> {
        let coinbase = self
            .coinbase
            .transaction(extranonce)
            .map_err(|e| Rejection::new(error_codes::INVALID_COINBASE_TX, e.to_string()))?;
        let txid = coinbase.compute_txid().to_byte_array();
        let header = BlockHeader {
            version,
            prev_hash,
            merkle_root: merkle_root_from_path(&txid, &self.merkle_path),
            ntime,
            nbits,
            nonce,
        };
        let raw: Vec<&[u8]> = self.txs.iter().map(|t| t.raw.as_slice()).collect();
        let bytes = assemble_block_bytes(&header.to_bytes(), &coinbase, &raw);
        Ok((header, bytes))
    }

    /// The block sent to the node in proposal mode: zero extranonce, header time at least the
    /// tip's minimum. Proof of work is not checked by the node.
    pub fn proposal(&self, now_unix: u32) -> Result<Vec<u8>, Rejection> {
        let extranonce = vec![0u8; self.coinbase.split.extranonce_len];
        let time = now_unix.max(self.view.mintime);
        self.block(
            &extranonce,
            self.view.prev_hash,
            self.version,
            time,
            self.view.nbits,
            0,
        )
        .map(|(_, bytes)| bytes)
    }

    /// The block of a `PushSolution`, if the solution belongs to this job and meets the
    /// network target.
    pub fn solved_block(
        &self,
        extranonce: &[u8],
        prev_hash: [u8; 32],
        version: u32,
        ntime: u32,
        nbits: u32,
        nonce: u32,
    ) -> Option<(BlockHeader, Vec<u8>)> {
        if prev_hash != self.view.prev_hash
            || extranonce.len() != self.coinbase.split.extranonce_len
        {
            return None;
        }
        let (header, bytes) = self
            .block(extranonce, prev_hash, version, ntime, nbits, nonce)
            .ok()?;
        let target = Target::from_compact(nbits)?;
        target.is_met_by(&header.hash()).then_some((header, bytes))
    }

    /// Sum of the fees of the transactions whose fee the server knows.
    pub fn known_fees(&self) -> u64 {
        self.txs
            .iter()
            .filter_map(|t| t.fee)
            .fold(0u64, |a, f| a.saturating_add(f))
    }

    /// Serialized size of the coinbase transaction with a zero extranonce (for logs).
    pub fn coinbase_size(&self) -> usize {
        let extranonce = vec![0u8; self.coinbase.split.extranonce_len];
        self.coinbase
            .transaction(&extranonce)
            .map(|t| serialize(&t).len())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::consensus::encode::deserialize;
    use bitcoin::{
        absolute::LockTime, transaction::Version, Amount, Block, OutPoint, ScriptBuf, Sequence,
        Transaction, TxIn, Txid, Witness,
    };
    use sv2_mining::channel::custom::CoinbaseSplit;
    use sv2_mining::coinbase::{witness_reserved_value, CoinbaseBuilder, Payout};

    fn tx(seed: u8, witness: bool) -> Arc<KnownTx> {
        let t = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint {
                    txid: Txid::from_byte_array([seed; 32]),
                    vout: 0,
                },
                script_sig: if witness {
                    ScriptBuf::new()
                } else {
                    ScriptBuf::from_bytes(vec![seed; 20])
                },
                sequence: Sequence::MAX,
                witness: if witness {
                    Witness::from_slice(&[vec![seed; 70]])
                } else {
                    Witness::new()
                },
            }],
            output: vec![TxOut {
                value: Amount::from_sat(900),
                script_pubkey: ScriptBuf::from_bytes(vec![0x51]),
            }],
        };
        Arc::new(KnownTx::from_raw(serialize(&t), Some(100)).unwrap())
    }

    fn commitment_script(txs: &[Arc<KnownTx>]) -> ScriptBuf {
        let mut w = vec![[0u8; 32]];
        w.extend(txs.iter().map(|t| t.wtxid.to_byte_array()));
        let mut pre = merkle_root(&w).to_vec();
        pre.extend_from_slice(&[0; 32]);
        let mut s = WITNESS_COMMITMENT_HEADER.to_vec();
        s.extend_from_slice(&sha256d(&pre));
        ScriptBuf::from_bytes(s)
    }

    fn job(txs: Vec<Arc<KnownTx>>) -> DeclaredJob {
        let parts = CoinbaseBuilder::new(101, 5_000_000_000, 8)
            .payout(ScriptBuf::from_bytes(vec![0x51]), Payout::Remainder(1))
            .witness_commitment(commitment_script(&txs))
            .build()
            .unwrap();
        let split = CoinbaseSplit::from_parts(&parts).unwrap();
        let (p, s) = split.to_declared(Some(&witness_reserved_value().to_vec()));
        let cb = CoinbaseSplit::from_declared(&p, &s).unwrap();
        DeclaredJob::new(
            7,
            0x2000_0000,
            cb,
            txs,
            ChainView {
                prev_hash: [3; 32],
                height: 101,
                nbits: 0x207f_ffff,
                mintime: 1_000,
                curtime: 1_000,
                subsidy: 5_000_000_000,
            },
        )
    }

    #[test]
    fn duplicates_are_refused() {
        assert!(parse_wtxids(&[[1; 32], [2; 32]]).is_ok());
        let e = parse_wtxids(&[[1; 32], [2; 32], [1; 32]]).unwrap_err();
        assert_eq!(e.code, error_codes::INVALID_JOB);
    }

    #[test]
    fn witness_commitment_checks() {
        let txs = vec![tx(1, true), tx(2, false)];
        let good = vec![TxOut {
            value: Amount::ZERO,
            script_pubkey: commitment_script(&txs),
        }];
        assert!(check_witness_commitment(&good, Some([0; 32]), &txs).is_ok());
        // Other order of transactions.
        let swapped = vec![txs[1].clone(), txs[0].clone()];
        assert!(check_witness_commitment(&good, Some([0; 32]), &swapped).is_err());
        // Another reserved value.
        assert!(check_witness_commitment(&good, Some([1; 32]), &txs).is_err());
        assert!(check_witness_commitment(&good, None, &txs).is_err());
        // No commitment: fine only without witness transactions.
        assert!(check_witness_commitment(&[], None, &txs).is_err());
        assert!(check_witness_commitment(&[], None, &[tx(3, false)]).is_ok());
    }

    #[test]
    fn proposal_and_solution_blocks_are_valid_bitcoin_blocks() {
        let j = job(vec![tx(1, true), tx(2, false)]);
        assert_eq!(j.known_fees(), 200);
        let proposal: Block = deserialize(&j.proposal(500).unwrap()).unwrap();
        assert_eq!(proposal.header.time, 1_000);
        assert!(proposal.check_merkle_root());
        assert!(proposal.check_witness_commitment());
        assert_eq!(proposal.txdata.len(), 3);

        // Find a nonce meeting the regtest target and rebuild the block as PushSolution would.
        let extranonce = [9u8; 8];
        let mut found = None;
        for nonce in 0..1000 {
            if let Some(b) =
                j.solved_block(&extranonce, [3; 32], 0x2000_0000, 1_001, 0x207f_ffff, nonce)
            {
                found = Some(b);
                break;
            }
        }
        let (header, bytes) = found.expect("regtest target is met quickly");
        let block: Block = deserialize(&bytes).unwrap();
        assert_eq!(block.block_hash().to_byte_array(), header.hash());
        assert!(block.check_merkle_root());
        assert!(block.check_witness_commitment());
        assert!(block.header.validate_pow(block.header.target()).is_ok());
        // Wrong prev hash or extranonce size: not this job.
        assert!(j
            .solved_block(
                &extranonce,
                [4; 32],
                0x2000_0000,
                1_001,
                0x207f_ffff,
                header.nonce
            )
            .is_none());
        assert!(j
            .solved_block(
                &[9; 7],
                [3; 32],
                0x2000_0000,
                1_001,
                0x207f_ffff,
                header.nonce
            )
            .is_none());
        assert!(j.coinbase_size() > 100);
    }
}
