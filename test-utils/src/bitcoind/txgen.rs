//! Fabricated mempool transactions: realistic-looking legacy, segwit v0, nested segwit and
//! taproot spends of random (non-existent) coins, plus children spending their parents'
//! outputs. Signatures are real signatures over random messages: the stand-in never checks
//! scripts, but the byte sizes, weights and sigop counts are those of real transactions.

use std::collections::HashMap;

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::key::TweakedPublicKey;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::secp256k1::rand::rngs::StdRng;
use bitcoin::secp256k1::rand::{Rng, SeedableRng};
use bitcoin::secp256k1::{All, Keypair, Message, Secp256k1};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, CompressedPublicKey, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    Witness,
};

/// The kind of output a fabricated input spends (and of outputs it creates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpendKind {
    /// Pay-to-pubkey-hash: signature and key in the scriptSig, no witness.
    Legacy,
    /// Pay-to-witness-pubkey-hash.
    SegwitV0,
    /// P2WPKH wrapped in P2SH.
    NestedSegwit,
    /// Taproot key-path spend.
    Taproot,
}

impl SpendKind {
    /// All kinds, for random choice.
    pub const ALL: [SpendKind; 4] = [
        SpendKind::Legacy,
        SpendKind::SegwitV0,
        SpendKind::NestedSegwit,
        SpendKind::Taproot,
    ];
}

/// A fabricated transaction, its fee and the outputs it spends (so sigops can be counted).
#[derive(Debug, Clone)]
pub struct FabricatedTx {
    /// The transaction.
    pub tx: Transaction,
    /// The fee it pays (inputs minus outputs).
    pub fee: Amount,
    /// The outputs spent by each input, in input order.
    pub spent_outputs: Vec<TxOut>,
}

impl FabricatedTx {
    /// The transaction id.
    pub fn txid(&self) -> Txid {
        self.tx.compute_txid()
    }

    /// Sigop cost as getblocktemplate reports it (legacy sigops x4 + P2SH + witness sigops).
    pub fn sigop_cost(&self) -> u64 {
        let prevouts: HashMap<OutPoint, TxOut> = self
            .tx
            .input
            .iter()
            .zip(&self.spent_outputs)
            .map(|(i, o)| (i.previous_output, o.clone()))
            .collect();
        self.tx.total_sigop_cost(|op| prevouts.get(op).cloned()) as u64
    }

    /// Whether the transaction carries witness data.
    pub fn has_witness(&self) -> bool {
        self.tx.input.iter().any(|i| !i.witness.is_empty())
    }
}

/// Why a fabricated spend could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TxGenError {
    /// The output to spend was not created by this factory (its key is unknown).
    #[error("output {0} was not created by this factory")]
    UnknownOutput(OutPoint),
    /// The output index is out of range.
    #[error("output index {0} out of range")]
    NoSuchOutput(OutPoint),
    /// No outputs to spend were given.
    #[error("no outputs to spend")]
    NothingToSpend,
}

/// Makes fabricated transactions. Remembers the keys of the outputs it creates so later
/// transactions can spend them.
pub struct TxFactory {
    secp: Secp256k1<All>,
    rng: StdRng,
    keys: HashMap<ScriptBuf, Keypair>,
}

impl std::fmt::Debug for TxFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxFactory")
            .field("known_outputs", &self.keys.len())
            .finish()
    }
}

impl Default for TxFactory {
    fn default() -> Self {
        Self::new()
    }
}

const DUST: u64 = 546;

impl TxFactory {
    /// A factory seeded from the OS.
    pub fn new() -> Self {
        Self::from_rng(StdRng::from_entropy())
    }

    /// A deterministic factory.
    pub fn with_seed(seed: u64) -> Self {
        Self::from_rng(StdRng::seed_from_u64(seed))
    }

    fn from_rng(rng: StdRng) -> Self {
        Self {
            secp: Secp256k1::new(),
            rng,
            keys: HashMap::new(),
        }
    }

    fn random_kind(&mut self) -> SpendKind {
        let i = self.rng.gen_range(0..SpendKind::ALL.len());
        SpendKind::ALL[i]
    }

    fn new_output_script(&mut self, kind: SpendKind) -> ScriptBuf {
        let keypair = Keypair::new(&self.secp, &mut self.rng);
        let pk = CompressedPublicKey(keypair.public_key());
        let script = match kind {
            SpendKind::Legacy => ScriptBuf::new_p2pkh(&pk.pubkey_hash()),
            SpendKind::SegwitV0 => ScriptBuf::new_p2wpkh(&pk.wpubkey_hash()),
            SpendKind::NestedSegwit => {
                ScriptBuf::new_p2sh(&ScriptBuf::new_p2wpkh(&pk.wpubkey_hash()).script_hash())
            }
            SpendKind::Taproot => {
                let (xonly, _) = keypair.x_only_public_key();
                ScriptBuf::new_p2tr_tweaked(TweakedPublicKey::dangerous_assume_tweaked(xonly))
            }
        };
        self.keys.insert(script.clone(), keypair);
        script
    }

    fn random_message(&mut self) -> Message {
        Message::from_digest(self.rng.gen())
    }

    fn ecdsa_sig(&mut self, keypair: &Keypair) -> Vec<u8> {
        let msg = self.random_message();
        let mut sig = self
            .secp
            .sign_ecdsa(&msg, &keypair.secret_key())
            .serialize_der()
            .to_vec();
        sig.push(0x01); // SIGHASH_ALL
        sig
    }

    /// Fills in scriptSig and witness for spending `prevout_script` with `keypair`.
    fn sign_input(&mut self, input: &mut TxIn, prevout_script: &ScriptBuf, keypair: &Keypair) {
        let pubkey = keypair.public_key().serialize();
        let compressed = CompressedPublicKey(keypair.public_key());
        if prevout_script.is_p2tr() {
            let msg = self.random_message();
            let sig = self.secp.sign_schnorr_no_aux_rand(&msg, keypair);
            input.witness = Witness::from_slice(&[sig.as_ref().to_vec()]);
        } else if prevout_script.is_p2pkh() {
            let mut sig = PushBytesBuf::new();
            for byte in self.ecdsa_sig(keypair) {
                // A DER signature plus sighash byte is at most 73 bytes: always a valid push.
                let _ = sig.push(byte);
            }
            input.script_sig = Builder::new()
                .push_slice(sig)
                .push_key(&compressed.into())
                .into_script();
        } else {
            let sig = self.ecdsa_sig(keypair);
            input.witness = Witness::from_slice(&[sig, pubkey.to_vec()]);
            if prevout_script.is_p2sh() {
                let redeem = ScriptBuf::new_p2wpkh(&compressed.wpubkey_hash());
                let mut push = PushBytesBuf::new();
                let _ = push.extend_from_slice(redeem.as_bytes());
                input.script_sig = Builder::new().push_slice(push).into_script();
            }
        }
    }

    /// A transaction spending one or two random coins of `kind` that exist nowhere, paying
    /// one to three outputs of random kinds.
    pub fn independent(&mut self, kind: SpendKind) -> FabricatedTx {
        let count = self.rng.gen_range(1..=2);
        let mut spent = Vec::with_capacity(count);
        for _ in 0..count {
            let script = self.new_output_script(kind);
            let outpoint = OutPoint {
                txid: Txid::from_byte_array(self.rng.gen()),
                vout: self.rng.gen_range(0..4),
            };
            let value = Amount::from_sat(self.rng.gen_range(100_000..=100_000_000));
            let keypair = self.keys.get(&script).copied();
            if let Some(keypair) = keypair {
                spent.push((
                    outpoint,
                    TxOut {
                        value,
                        script_pubkey: script,
                    },
                    keypair,
                ));
            }
        }
        self.build(spent)
    }

    /// A transaction spending the given outputs of earlier fabricated transactions
    /// (which makes it their child in the mempool).
    pub fn spending(
        &mut self,
        outputs: &[(&FabricatedTx, u32)],
    ) -> Result<FabricatedTx, TxGenError> {
        if outputs.is_empty() {
            return Err(TxGenError::NothingToSpend);
        }
        let mut spent = Vec::with_capacity(outputs.len());
        for (parent, vout) in outputs {
            let outpoint = OutPoint {
                txid: parent.txid(),
                vout: *vout,
            };
            let txout = parent
                .tx
                .output
                .get(*vout as usize)
                .ok_or(TxGenError::NoSuchOutput(outpoint))?;
            let keypair = *self
                .keys
                .get(&txout.script_pubkey)
                .ok_or(TxGenError::UnknownOutput(outpoint))?;
            spent.push((outpoint, txout.clone(), keypair));
        }
        Ok(self.build(spent))
    }

    fn build(&mut self, spent: Vec<(OutPoint, TxOut, Keypair)>) -> FabricatedTx {
        let outputs = self.rng.gen_range(1..=3);
        let mut tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: spent
                .iter()
                .map(|(op, _, _)| TxIn {
                    previous_output: *op,
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                    witness: Witness::new(),
                })
                .collect(),
            output: Vec::with_capacity(outputs),
        };
        for _ in 0..outputs {
            let kind = self.random_kind();
            let script_pubkey = self.new_output_script(kind);
            tx.output.push(TxOut {
                value: Amount::ZERO,
                script_pubkey,
            });
        }
        for (input, (_, prev, keypair)) in tx.input.iter_mut().zip(&spent) {
            self.sign_input(input, &prev.script_pubkey, keypair);
        }
        // Amounts have a fixed size, so the final vsize is already known.
        let vsize = tx.vsize() as u64;
        let total_in: u64 = spent.iter().map(|(_, o, _)| o.value.to_sat()).sum();
        let rate = self.rng.gen_range(1..=30u64);
        let mut fee = (rate * vsize).min(total_in.saturating_sub(DUST));
        let mut remaining = total_in - fee;
        if remaining < DUST * tx.output.len() as u64 {
            tx.output.truncate(1);
            if remaining < DUST {
                fee = total_in;
                remaining = 0;
            }
        }
        let n = tx.output.len() as u64;
        for (i, out) in tx.output.iter_mut().enumerate() {
            let share = if i as u64 == n - 1 {
                remaining - (remaining / n) * (n - 1)
            } else {
                remaining / n
            };
            out.value = Amount::from_sat(share);
        }
        FabricatedTx {
            tx,
            fee: Amount::from_sat(fee),
            spent_outputs: spent.into_iter().map(|(_, o, _)| o).collect(),
        }
    }

    /// `count` transactions of mixed kinds in an order where parents come first; about a third
    /// (and at least one, if `count >= 2`) spend outputs of earlier ones in the batch,
    /// sometimes two outputs of the same parent.
    pub fn batch(&mut self, count: usize) -> Vec<FabricatedTx> {
        let mut out: Vec<FabricatedTx> = Vec::with_capacity(count);
        let mut unspent: Vec<(usize, u32)> = Vec::new();
        let mut children = 0;
        for i in 0..count {
            // At least one child per batch of two or more, so `depends` is always exercised.
            let force = i + 1 == count && children == 0;
            let make_child = !unspent.is_empty() && (force || self.rng.gen_bool(0.35));
            let fabricated = if make_child {
                let take = self.rng.gen_range(1..=2).min(unspent.len());
                let mut picks = Vec::with_capacity(take);
                for _ in 0..take {
                    let i = self.rng.gen_range(0..unspent.len());
                    picks.push(unspent.swap_remove(i));
                }
                let refs: Vec<(&FabricatedTx, u32)> =
                    picks.iter().map(|&(p, v)| (&out[p], v)).collect();
                match self.spending(&refs) {
                    Ok(tx) => {
                        children += 1;
                        tx
                    }
                    Err(_) => {
                        let kind = self.random_kind();
                        self.independent(kind)
                    }
                }
            } else {
                let kind = self.random_kind();
                self.independent(kind)
            };
            let index = out.len();
            unspent.extend((0..fabricated.tx.output.len() as u32).map(|v| (index, v)));
            out.push(fabricated);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_the_expected_shape() {
        let mut f = TxFactory::with_seed(7);
        let legacy = f.independent(SpendKind::Legacy);
        assert!(!legacy.has_witness());
        assert_eq!(
            legacy.tx.compute_txid().to_raw_hash(),
            legacy.tx.compute_wtxid().to_raw_hash()
        );
        assert_eq!(
            legacy.sigop_cost() % 4,
            0,
            "P2PKH spends have no witness sigops"
        );
        let segwit = f.independent(SpendKind::SegwitV0);
        assert!(segwit.has_witness());
        assert!(segwit
            .tx
            .input
            .iter()
            .all(|i| i.script_sig.is_empty() && i.witness.len() == 2));
        let nested = f.independent(SpendKind::NestedSegwit);
        assert!(nested
            .tx
            .input
            .iter()
            .all(|i| i.script_sig.len() == 23 && i.witness.len() == 2));
        let taproot = f.independent(SpendKind::Taproot);
        assert!(taproot
            .tx
            .input
            .iter()
            .all(|i| i.witness.len() == 1 && i.witness.nth(0).map(<[u8]>::len) == Some(64)));
        for t in [&legacy, &segwit, &nested, &taproot] {
            let in_sum: u64 = t.spent_outputs.iter().map(|o| o.value.to_sat()).sum();
            let out_sum: u64 = t.tx.output.iter().map(|o| o.value.to_sat()).sum();
            assert_eq!(in_sum, out_sum + t.fee.to_sat());
            assert!(t.fee.to_sat() >= t.tx.vsize() as u64);
        }
    }

    #[test]
    fn children_spend_parents() {
        let mut f = TxFactory::with_seed(1);
        let parent = f.independent(SpendKind::SegwitV0);
        let child = f.spending(&[(&parent, 0)]).unwrap();
        assert_eq!(
            child.tx.input[0].previous_output,
            OutPoint {
                txid: parent.txid(),
                vout: 0
            }
        );
        assert!(f.spending(&[(&parent, 99)]).is_err());
        let batch = f.batch(40);
        let txids: Vec<Txid> = batch.iter().map(FabricatedTx::txid).collect();
        let mut children = 0;
        for (i, t) in batch.iter().enumerate() {
            for input in &t.tx.input {
                if let Some(p) = txids.iter().position(|x| *x == input.previous_output.txid) {
                    assert!(p < i, "parents precede children");
                    children += 1;
                }
            }
        }
        assert!(children > 0);
        for seed in 0..50 {
            let batch = TxFactory::with_seed(seed).batch(2);
            assert_eq!(
                batch[1].tx.input[0].previous_output.txid,
                batch[0].txid(),
                "a batch always has a child"
            );
        }
    }
}
