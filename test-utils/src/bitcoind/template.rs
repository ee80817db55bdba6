//! Block templates and block assembly: what `getblocktemplate` describes, and how a pool
//! (or the stand-in itself, when it "finds" a block) turns one into a block.

use std::sync::Arc;

use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::hashes::Hash;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, Block, BlockHash, CompactTarget, OutPoint, Script, ScriptBuf, Sequence, Target,
    Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness, Wtxid,
};
use serde_json::Value;

use super::params::block_subsidy;
use super::validation::{bip34_prefix, witness_commitment_for, witness_commitment_script};

/// One transaction of a template.
#[derive(Debug, Clone)]
pub struct TemplateTx {
    /// The transaction (with witness).
    pub tx: Arc<Transaction>,
    /// Its txid.
    pub txid: Txid,
    /// Its wtxid (`hash` in getblocktemplate).
    pub wtxid: Wtxid,
    /// Fee in satoshis.
    pub fee: Amount,
    /// Sigop cost.
    pub sigops: u64,
    /// Weight in weight units.
    pub weight: u64,
    /// 1-based positions (in the template's transaction list) of the transactions whose
    /// outputs this one spends, one entry per input.
    pub depends: Vec<usize>,
}

/// Everything needed to build a block on the current tip.
#[derive(Debug, Clone)]
pub struct BlockTemplate {
    /// Hash of the block this template builds on.
    pub prev_hash: BlockHash,
    /// Height of the block to build.
    pub height: u32,
    /// Block version to use.
    pub version: i32,
    /// Required compact target.
    pub bits: CompactTarget,
    /// Suggested block time.
    pub curtime: u32,
    /// Earliest acceptable block time (median time past + 1).
    pub mintime: u32,
    /// Transactions to include after the coinbase, parents first.
    pub txs: Vec<TemplateTx>,
    /// Subsidy plus all fees.
    pub coinbase_value: Amount,
    /// The complete witness commitment output script.
    pub witness_commitment: ScriptBuf,
    /// Long-poll id: previous block hash followed by the mempool update counter.
    pub longpollid: String,
}

/// Why a getblocktemplate JSON object could not be turned into a [`BlockTemplate`].
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A required member is missing or has the wrong JSON type.
    #[error("getblocktemplate field `{0}` missing or of the wrong type")]
    Field(&'static str),
    /// A member has the right type but an unusable value.
    #[error("getblocktemplate field `{field}` is invalid: {reason}")]
    Invalid {
        /// The member name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

fn field<'a>(v: &'a Value, name: &'static str) -> Result<&'a Value, TemplateError> {
    v.get(name).ok_or(TemplateError::Field(name))
}

fn str_field<'a>(v: &'a Value, name: &'static str) -> Result<&'a str, TemplateError> {
    field(v, name)?.as_str().ok_or(TemplateError::Field(name))
}

fn u64_field(v: &Value, name: &'static str) -> Result<u64, TemplateError> {
    field(v, name)?.as_u64().ok_or(TemplateError::Field(name))
}

fn u32_field(v: &Value, name: &'static str) -> Result<u32, TemplateError> {
    u32::try_from(u64_field(v, name)?).map_err(|e| TemplateError::Invalid {
        field: name,
        reason: e.to_string(),
    })
}

fn invalid(field: &'static str, reason: impl ToString) -> TemplateError {
    TemplateError::Invalid {
        field,
        reason: reason.to_string(),
    }
}

impl BlockTemplate {
    /// Parses a `getblocktemplate` result (as Bitcoin Core or the stand-in returns it).
    pub fn from_gbt_json(v: &Value) -> Result<Self, TemplateError> {
        let prev_hash: BlockHash = str_field(v, "previousblockhash")?
            .parse()
            .map_err(|e| invalid("previousblockhash", e))?;
        let bits_hex = str_field(v, "bits")?;
        let bits = u32::from_str_radix(bits_hex, 16).map_err(|e| invalid("bits", e))?;
        let version = i32::try_from(
            field(v, "version")?
                .as_i64()
                .ok_or(TemplateError::Field("version"))?,
        )
        .map_err(|e| invalid("version", e))?;
        let commitment_hex = str_field(v, "default_witness_commitment")?;
        let witness_commitment = ScriptBuf::from_bytes(
            hex::decode(commitment_hex).map_err(|e| invalid("default_witness_commitment", e))?,
        );
        let list = field(v, "transactions")?
            .as_array()
            .ok_or(TemplateError::Field("transactions"))?;
        let mut txs = Vec::with_capacity(list.len());
        for entry in list {
            let tx: Transaction =
                deserialize_hex(str_field(entry, "data")?).map_err(|e| invalid("data", e))?;
            let depends = field(entry, "depends")?
                .as_array()
                .ok_or(TemplateError::Field("depends"))?
                .iter()
                .map(|d| {
                    d.as_u64()
                        .and_then(|d| usize::try_from(d).ok())
                        .ok_or(TemplateError::Field("depends"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            txs.push(TemplateTx {
                txid: tx.compute_txid(),
                wtxid: tx.compute_wtxid(),
                fee: Amount::from_sat(u64_field(entry, "fee")?),
                sigops: u64_field(entry, "sigops")?,
                weight: u64_field(entry, "weight")?,
                depends,
                tx: Arc::new(tx),
            });
        }
        Ok(Self {
            prev_hash,
            height: u32_field(v, "height")?,
            version,
            bits: CompactTarget::from_consensus(bits),
            curtime: u32_field(v, "curtime")?,
            mintime: u32_field(v, "mintime")?,
            txs,
            coinbase_value: Amount::from_sat(u64_field(v, "coinbasevalue")?),
            witness_commitment,
            longpollid: str_field(v, "longpollid")?.to_owned(),
        })
    }

    /// The same template without transactions: subsidy only, empty-block witness commitment.
    pub fn without_transactions(&self) -> Self {
        let commitment = witness_commitment_for(std::iter::empty());
        Self {
            txs: Vec::new(),
            coinbase_value: block_subsidy(self.height),
            witness_commitment: witness_commitment_script(&commitment),
            ..self.clone()
        }
    }

    /// Sum of the template transactions' fees.
    pub fn total_fees(&self) -> Amount {
        self.txs.iter().map(|t| t.fee).sum()
    }

    /// The coinbase a pool would build: scriptSig = BIP34 height push + pushed `extranonce`,
    /// one output paying `coinbase_value` to `payout`, the witness commitment as last output,
    /// one 32-byte zero witness item, lock time height - 1.
    pub fn coinbase(&self, payout: &Script, extranonce: &[u8]) -> Transaction {
        coinbase_tx(
            self.height,
            self.coinbase_value,
            payout,
            extranonce,
            Some(&self.witness_commitment),
        )
    }

    /// Builds a complete block paying `payout`, with the nonce searched until the header meets
    /// the target (trivial at regtest difficulty).
    pub fn assemble(&self, payout: &Script, extranonce: &[u8]) -> Block {
        let mut txdata = Vec::with_capacity(self.txs.len() + 1);
        txdata.push(self.coinbase(payout, extranonce));
        txdata.extend(self.txs.iter().map(|t| (*t.tx).clone()));
        let mut block = Block {
            header: Header {
                version: BlockVersion::from_consensus(self.version),
                prev_blockhash: self.prev_hash,
                merkle_root: TxMerkleNode::all_zeros(),
                time: self.curtime.max(self.mintime),
                bits: self.bits,
                nonce: 0,
            },
            txdata,
        };
        refresh_merkle_root(&mut block);
        solve_header(&mut block.header);
        block
    }
}

/// Builds a coinbase transaction for `height`.
pub fn coinbase_tx(
    height: u32,
    value: Amount,
    payout: &Script,
    extranonce: &[u8],
    witness_commitment: Option<&ScriptBuf>,
) -> Transaction {
    let mut script_sig = bip34_prefix(height);
    if let Ok(push) = PushBytesBuf::try_from(extranonce.to_vec()) {
        script_sig.extend_from_slice(Builder::new().push_slice(push).as_bytes());
    }
    // A coinbase scriptSig must be at least two bytes long.
    if script_sig.len() < 2 {
        script_sig.push(0x00);
    }
    let mut output = vec![TxOut {
        value,
        script_pubkey: payout.to_owned(),
    }];
    let mut witness = Witness::new();
    if let Some(commitment) = witness_commitment {
        output.push(TxOut {
            value: Amount::ZERO,
            script_pubkey: commitment.clone(),
        });
        witness.push([0u8; 32]);
    }
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::from_consensus(height.saturating_sub(1)),
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(script_sig),
            sequence: Sequence::ENABLE_LOCKTIME_NO_RBF,
            witness,
        }],
        output,
    }
}

/// Recomputes the header's merkle root from the block's transactions.
pub fn refresh_merkle_root(block: &mut Block) {
    if let Some(root) = block.compute_merkle_root() {
        block.header.merkle_root = root;
    }
}

/// Searches nonces (bumping the time if all 2^32 fail) until the header meets its own target.
/// Instant at regtest difficulty; do not use with real-network bits.
pub fn solve_header(header: &mut Header) {
    let target = Target::from_compact(header.bits);
    loop {
        for nonce in 0..=u32::MAX {
            header.nonce = nonce;
            if target.is_met_by(header.block_hash()) {
                return;
            }
        }
        header.time = header.time.wrapping_add(1);
    }
}

/// Sets the nonce so the header does NOT meet its target (for high-hash tests).
pub fn unsolve_header(header: &mut Header) {
    let target = Target::from_compact(header.bits);
    for nonce in 0..=u32::MAX {
        header.nonce = nonce;
        if !target.is_met_by(header.block_hash()) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bitcoind::validation::{
        check_block, contextual_check_block, witness_commitment_for, witness_commitment_script,
    };

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/../../shared/fixtures/bitcoind/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn fixture_template_round_trips_into_a_valid_block() {
        let gbt = fixture("getblocktemplate_with_txs.json");
        let t = BlockTemplate::from_gbt_json(&gbt).unwrap();
        assert_eq!(t.txs.len(), 20);
        assert_eq!(t.height, 111);
        assert_eq!(
            t.coinbase_value.to_sat(),
            5_000_000_000 + t.total_fees().to_sat()
        );
        // Our commitment computation agrees with bitcoind's.
        let ours =
            witness_commitment_script(&witness_commitment_for(t.txs.iter().map(|x| x.wtxid)));
        assert_eq!(ours, t.witness_commitment);
        for (i, tx) in t.txs.iter().enumerate() {
            assert!(
                tx.depends.iter().all(|&d| d >= 1 && d <= i),
                "depends point backwards, 1-based"
            );
        }
        let payout = ScriptBuf::from_bytes(
            hex::decode("0014aa672a83e4552c86504f9d80eca5b3cfc5f5c164").unwrap(),
        );
        let block = t.assemble(&payout, &7u64.to_le_bytes());
        assert!(check_block(&block, true).is_ok());
        assert!(contextual_check_block(&block, t.height, t.mintime - 1).is_ok());
        assert_eq!(block.bip34_block_height().unwrap(), 111);
    }

    #[test]
    fn unsolve_misses_target() {
        let mut header = bitcoin::constants::genesis_block(bitcoin::Network::Regtest).header;
        unsolve_header(&mut header);
        assert!(!Target::from_compact(header.bits).is_met_by(header.block_hash()));
        solve_header(&mut header);
        assert!(Target::from_compact(header.bits).is_met_by(header.block_hash()));
    }
}
