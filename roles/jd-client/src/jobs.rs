//! Jobs built from the miner's own templates, in the three shapes they travel in: the job
//! downstream miners mine (a [`PoolJob`], served by the pool's session code), the declaration
//! to the job declarator server, and the custom job set on the pool's channel.
//!
//! # Extranonce layout
//!
//! The pool's channel gives an extranonce prefix `P` and `R` rollable bytes; downstream
//! channels always get the same `D` bytes (`downstream.extranonce_size`, `D <= R`). The coinbase
//! scriptSig reserves `len(P) + R` bytes:
//!
//! ```text
//! scriptSig: <height> <tag> OP_PUSHBYTES_{len(P)+R} | P | zero padding (R - D) | downstream extranonce (D) |
//!            `-------- upstream coinbase prefix ----'                           `- rolled by miners -'
//!            `------------------ downstream coinbase prefix ------------------'
//! ```
//!
//! A downstream share's `D` bytes become the upstream share's `R` bytes by prepending the
//! padding. Solo mining uses `P` empty and `R = D`. Downstream channels never see `P`, so
//! switching pools (or to solo) keeps every downstream channel and its prefix valid.

use std::sync::Arc;

use bitcoin::hashes::Hash;
use bitcoin::{ScriptBuf, TxOut};
use pool::jobs::PoolJob;
use pool::template::TemplateUpdate;
use sv2_codec::job_declaration::DeclareMiningJob;
use sv2_codec::mining::SetCustomMiningJob;
use sv2_mining::channel::custom::CoinbaseSplit;
use sv2_mining::coinbase::{witness_reserved_value, CoinbaseBuilder, CoinbaseParts, Payout};

/// Where the reward goes and how the extranonce is laid out in the current mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoinbaseTarget {
    /// Output receiving the whole reward (the pool payout output, or the solo address).
    pub payout: ScriptBuf,
    /// Further outputs the job declarator server asked for, carried with their values (zero).
    pub extra_outputs: Vec<TxOut>,
    /// The pool channel's extranonce prefix `P` (empty when solo).
    pub upstream_prefix: Vec<u8>,
    /// The pool channel's rollable extranonce bytes `R` (`D` when solo).
    pub upstream_rollable: usize,
}

/// Static layout settings.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Text in the scriptSig.
    pub pool_tag: Vec<u8>,
    /// Downstream extranonce bytes `D`.
    pub downstream_len: usize,
}

/// One job: the downstream job and what upstream needs to know about it.
#[derive(Debug, Clone)]
pub struct JdcJob {
    /// The job as downstream sessions take it (`template_id` is this job's sequence number).
    pub pool_job: Arc<PoolJob>,
    /// Upstream epoch it was built for (0: solo).
    pub epoch: u64,
    /// The coinbase as declared and set upstream (extranonce `len(P) + R`).
    pub split: CoinbaseSplit,
    /// Witness of the coinbase input when it commits to witnesses.
    pub witness: Option<Vec<Vec<u8>>>,
    /// `P`.
    pub upstream_prefix: Vec<u8>,
    /// `R - D` zero bytes.
    pub padding: usize,
}

/// Why a job could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The pool channel leaves fewer rollable bytes than downstream channels use.
    #[error(
        "the pool leaves {rollable} rollable extranonce bytes, downstream channels need {needed}"
    )]
    Rollable {
        /// Bytes the pool leaves.
        rollable: usize,
        /// Bytes downstream needs.
        needed: usize,
    },
    /// The coinbase could not be built.
    #[error("coinbase: {0}")]
    Coinbase(String),
    /// A template field is out of range.
    #[error("template field out of range: {0}")]
    Range(&'static str),
    /// The template does not make a job (bits, times).
    #[error(transparent)]
    Template(#[from] pool::jobs::JobError),
}

impl JdcJob {
    /// Builds the job for template `update` with sequence number `seq` (also its downstream
    /// template id).
    pub fn build(
        seq: u64,
        epoch: u64,
        update: &TemplateUpdate,
        target: &CoinbaseTarget,
        layout: &Layout,
    ) -> Result<JdcJob, BuildError> {
        let t = &update.template;
        let d = layout.downstream_len;
        if target.upstream_rollable < d {
            return Err(BuildError::Rollable {
                rollable: target.upstream_rollable,
                needed: d,
            });
        }
        let padding = target.upstream_rollable - d;
        let upstream_len = target.upstream_prefix.len() + target.upstream_rollable;
        let height: u32 = t
            .height
            .try_into()
            .map_err(|_| BuildError::Range("height"))?;
        let mut builder = CoinbaseBuilder::new(height, t.coinbasevalue, upstream_len)
            .pool_tag(layout.pool_tag.clone())
            .payout(target.payout.clone(), Payout::Remainder(1))
            .template_outputs(target.extra_outputs.iter().cloned());
        if let Some(wc) = &t.default_witness_commitment {
            builder = builder.witness_commitment(ScriptBuf::from_bytes(wc.clone()));
        }
        let upstream = builder
            .build()
            .map_err(|e| BuildError::Coinbase(e.to_string()))?;
        let split = CoinbaseSplit::from_parts(&upstream)
            .map_err(|e| BuildError::Coinbase(e.to_string()))?;
        let witness = upstream
            .has_witness_commitment
            .then(|| witness_reserved_value().to_vec());
        let mut prefix = upstream.prefix.clone();
        prefix.extend_from_slice(&target.upstream_prefix);
        prefix.resize(prefix.len() + padding, 0);
        let downstream = CoinbaseParts {
            prefix,
            suffix: upstream.suffix.clone(),
            extranonce_len: d,
            has_witness_commitment: upstream.has_witness_commitment,
        };
        let pool_job = PoolJob::from_template(update, seq, downstream)?;
        Ok(JdcJob {
            pool_job: Arc::new(pool_job),
            epoch,
            split,
            witness,
            upstream_prefix: target.upstream_prefix.clone(),
            padding,
        })
    }

    /// Downstream sequence number of the job.
    pub fn seq(&self) -> u64 {
        self.pool_job.template_id
    }

    /// The extranonce of an upstream share (the `R` bytes after `P`) for a downstream one.
    pub fn upstream_extranonce(&self, downstream: &[u8]) -> Vec<u8> {
        let mut e = vec![0u8; self.padding];
        e.extend_from_slice(downstream);
        e
    }

    /// The full extranonce of the declared coinbase (`P`, padding, downstream bytes).
    pub fn full_extranonce(&self, downstream: &[u8]) -> Vec<u8> {
        let mut e = self.upstream_prefix.clone();
        e.extend_from_slice(&self.upstream_extranonce(downstream));
        e
    }

    /// `DeclareMiningJob` for this job.
    pub fn declare_message(&self, request_id: u32, token: Vec<u8>) -> DeclareMiningJob {
        let (prefix, suffix) = self.split.to_declared(self.witness.as_deref());
        DeclareMiningJob {
            request_id,
            mining_job_token: token,
            version: self.pool_job.version,
            coinbase_tx_prefix: prefix,
            coinbase_tx_suffix: suffix,
            wtxid_list: self
                .pool_job
                .template
                .transactions
                .iter()
                .map(|t| t.wtxid.to_raw_hash().to_byte_array())
                .collect(),
            excess_data: Vec::new(),
        }
    }

    /// The transactions at `positions` of the template (for `ProvideMissingTransactions`);
    /// `None` if a position is out of range.
    pub fn transactions_at(&self, positions: &[u16]) -> Option<Vec<Vec<u8>>> {
        positions
            .iter()
            .map(|p| {
                self.pool_job
                    .template
                    .transactions
                    .get(usize::from(*p))
                    .map(|t| t.data.clone())
            })
            .collect()
    }

    /// `SetCustomMiningJob` for this job on the pool's channel.
    pub fn set_custom_message(
        &self,
        channel_id: u32,
        request_id: u32,
        token: Vec<u8>,
    ) -> SetCustomMiningJob {
        let j = &self.pool_job;
        SetCustomMiningJob {
            channel_id,
            request_id,
            token,
            version: j.version,
            prev_hash: j.prev_hash,
            min_ntime: j.ntime,
            nbits: j.nbits,
            coinbase_tx_version: self.split.tx_version,
            coinbase_prefix: self.split.script_head.clone(),
            coinbase_tx_input_n_sequence: self.split.sequence,
            coinbase_tx_outputs: self.split.outputs.clone(),
            coinbase_tx_locktime: self.split.locktime,
            merkle_path: j.merkle_path.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::consensus::encode::{deserialize, serialize};
    use sv2_mining::channel::custom::custom_job_commitment;

    fn template() -> TemplateUpdate {
        let json = serde_json::json!({
            "version": 0x2000_0000u32,
            "rules": ["csv", "!segwit", "taproot"],
            "previousblockhash": "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
            "transactions": [],
            "coinbasevalue": 5_000_000_000u64,
            "target": "7fffff0000000000000000000000000000000000000000000000000000000000",
            "mintime": 1_700_000_000u64,
            "curtime": 1_700_000_100u64,
            "bits": "207fffff",
            "height": 1,
            "default_witness_commitment": "6a24aa21a9ede2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9"
        });
        TemplateUpdate {
            id: 1,
            template: Arc::new(serde_json::from_value(json).unwrap()),
            new_tip: true,
            received_at: std::time::Instant::now(),
        }
    }

    fn target(prefix: Vec<u8>, rollable: usize) -> CoinbaseTarget {
        CoinbaseTarget {
            payout: ScriptBuf::from_bytes(vec![
                0x00, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
            ]),
            extra_outputs: vec![TxOut {
                value: bitcoin::Amount::ZERO,
                script_pubkey: ScriptBuf::from_bytes(vec![0x6a, 0x01, 0x42]),
            }],
            upstream_prefix: prefix,
            upstream_rollable: rollable,
        }
    }

    fn layout() -> Layout {
        Layout {
            pool_tag: b"/jdc/".to_vec(),
            downstream_len: 8,
        }
    }

    #[test]
    fn downstream_and_upstream_coinbases_are_the_same_transaction() {
        let j = JdcJob::build(5, 1, &template(), &target(vec![0xaa; 8], 8 + 2), &layout()).unwrap();
        assert_eq!(j.seq(), 5);
        assert_eq!(j.split.extranonce_len, 18);
        let downstream = [7u8; 8];
        let full = j.full_extranonce(&downstream);
        assert_eq!(&full[..8], &[0xaa; 8]);
        assert_eq!(&full[8..10], &[0, 0]);
        assert_eq!(j.upstream_extranonce(&downstream).len(), 10);
        // The downstream job's coinbase with the downstream extranonce is byte-for-byte the
        // declared coinbase with the full extranonce.
        let from_downstream = j.pool_job.coinbase.full_transaction(&downstream).unwrap();
        let (p, s) = j.split.to_declared(j.witness.as_deref());
        let mut declared = p;
        declared.extend_from_slice(&full);
        declared.extend_from_slice(&s);
        assert_eq!(serialize(&from_downstream), declared);
        let tx: bitcoin::Transaction = deserialize(&declared).unwrap();
        assert_eq!(tx.output.len(), 3);
        assert_eq!(tx.output[0].value.to_sat(), 5_000_000_000);
        assert_eq!(tx.output[1].value.to_sat(), 0);
    }

    #[test]
    fn messages_carry_the_same_job() {
        let j = JdcJob::build(5, 1, &template(), &target(vec![0xaa; 8], 8), &layout()).unwrap();
        let d = j.declare_message(3, vec![1]);
        let declared =
            CoinbaseSplit::from_declared(&d.coinbase_tx_prefix, &d.coinbase_tx_suffix).unwrap();
        assert_eq!(declared.split, j.split);
        let s = j.set_custom_message(9, 4, vec![2]);
        let from_set = CoinbaseSplit {
            tx_version: s.coinbase_tx_version,
            script_head: s.coinbase_prefix.clone(),
            extranonce_len: 16,
            sequence: s.coinbase_tx_input_n_sequence,
            outputs: s.coinbase_tx_outputs.clone(),
            locktime: s.coinbase_tx_locktime,
        };
        assert_eq!(
            custom_job_commitment(s.version, &from_set, &s.merkle_path, &s.prev_hash, s.nbits),
            custom_job_commitment(d.version, &declared.split, &[], &s.prev_hash, s.nbits)
        );
        assert_eq!(j.transactions_at(&[]), Some(vec![]));
        assert_eq!(j.transactions_at(&[0]), None);
    }

    #[test]
    fn solo_layout_and_too_small_pools() {
        let solo = JdcJob::build(1, 0, &template(), &target(vec![], 8), &layout()).unwrap();
        assert_eq!(solo.split.extranonce_len, 8);
        assert_eq!(solo.full_extranonce(&[1; 8]), vec![1; 8]);
        assert!(matches!(
            JdcJob::build(1, 1, &template(), &target(vec![1; 4], 6), &layout()),
            Err(BuildError::Rollable {
                rollable: 6,
                needed: 8
            })
        ));
    }
}
