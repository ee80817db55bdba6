//! Custom jobs (Job Declaration): the coinbase a job declarator client proposes, in the shapes
//! it travels in, and the commitment that binds a declared job to the job later set on a pool
//! channel.
//!
//! The same coinbase appears three times:
//!
//! * `DeclareMiningJob` (JDC → JDS): `coinbase_tx_prefix` / `coinbase_tx_suffix` around the full
//!   extranonce, **with** the BIP141 fields (marker, flag, witness) when the coinbase is segwit;
//! * `SetCustomMiningJob` (JDC → pool): transaction version, scriptSig head, input sequence,
//!   serialized outputs and lock time as separate fields ([`CoinbaseSplit`]);
//! * channel jobs: the non-witness split [`CoinbaseParts`] the share hashers use.
//!
//! [`CoinbaseSplit`] converts between them. Everything here parses peer input: lengths are
//! checked before use and nothing panics on malformed bytes.
//!
//! # Commitment
//!
//! [`custom_job_commitment`] hashes every field of a job that the pool can see in
//! `SetCustomMiningJob` and that the job declarator server checked: header version, the
//! coinbase split (including the extranonce length the scriptSig reserves), the merkle path
//! (which fixes the transaction set), the previous block hash and `nbits`. `min_ntime` is left
//! out: the pool bounds it itself. A job declarator server puts this commitment in the token it
//! returns in `DeclareMiningJob.Success` ([`super::jd_token`]); the pool recomputes it from
//! `SetCustomMiningJob` and accepts the job only if both agree.

use std::sync::Arc;

use bitcoin::consensus::encode::{deserialize, Decodable, Encodable};
use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::{Amount, Transaction, TxOut, Witness};
use thiserror::Error;

use super::JobTemplate;
use crate::coinbase::{
    is_witness_commitment, parse_bip34_height, CoinbaseParts, MAX_SCRIPT_SIG_LEN,
    MIN_SCRIPT_SIG_LEN,
};
use crate::extranonce::MAX_EXTRANONCE_LEN;

/// Offset of the scriptSig length byte in a one-input non-witness transaction:
/// version (4) + input count (1) + null outpoint (36).
const SCRIPT_LEN_OFFSET: usize = 4 + 1 + 36;
/// The coinbase input's previous outpoint: all-zero txid, index `0xffffffff`.
const NULL_OUTPOINT: [u8; 36] = {
    let mut o = [0u8; 36];
    o[32] = 0xff;
    o[33] = 0xff;
    o[34] = 0xff;
    o[35] = 0xff;
    o
};
/// Domain separation of [`custom_job_commitment`].
const COMMITMENT_TAG: &[u8] = b"sv2-pool/custom-job/v1";

/// Why a proposed coinbase or custom job is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CustomJobError {
    /// The coinbase prefix is too short or does not have the coinbase input layout.
    #[error("coinbase prefix is malformed: {0}")]
    BadPrefix(&'static str),
    /// The coinbase suffix does not decode as sequence, outputs, \[witness,\] lock time.
    #[error("coinbase suffix is malformed: {0}")]
    BadSuffix(&'static str),
    /// The scriptSig (head plus extranonce) violates the 2..=100 byte consensus bounds, or the
    /// extranonce does not fit the protocol's 32-byte limit.
    #[error(
        "scriptSig of {script_len} bytes with a {extranonce_len}-byte extranonce is not allowed"
    )]
    BadScriptSig {
        /// Total scriptSig length.
        script_len: usize,
        /// Extranonce bytes reserved in it.
        extranonce_len: usize,
    },
    /// The outputs field does not decode as a CompactSize-prefixed output list.
    #[error("coinbase outputs do not decode")]
    BadOutputs,
    /// The coinbase has no outputs.
    #[error("coinbase has no outputs")]
    NoOutputs,
    /// The outputs pay more than 21 million BTC.
    #[error("coinbase outputs exceed the money range")]
    ValueOverflow,
}

/// A coinbase as `SetCustomMiningJob` carries it: the transaction minus the extranonce, field
/// by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoinbaseSplit {
    /// Transaction version (`coinbase_tx_version`).
    pub tx_version: u32,
    /// scriptSig bytes before the extranonce (`coinbase_prefix`): BIP34 height and any tags.
    pub script_head: Vec<u8>,
    /// Extranonce bytes the scriptSig reserves after `script_head` (the full extranonce).
    pub extranonce_len: usize,
    /// Input sequence (`coinbase_tx_input_n_sequence`).
    pub sequence: u32,
    /// CompactSize output count followed by the outputs (`coinbase_tx_outputs`).
    pub outputs: Vec<u8>,
    /// Lock time (`coinbase_tx_locktime`).
    pub locktime: u32,
}

/// A coinbase received in `DeclareMiningJob`: the split plus the witness it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredCoinbase {
    /// The coinbase without witness data.
    pub split: CoinbaseSplit,
    /// The coinbase input's witness stack when the declaration was segwit-serialized.
    pub witness: Option<Vec<Vec<u8>>>,
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Decodes a CompactSize-prefixed output list that must use every byte of `bytes`.
fn decode_outputs(bytes: &[u8]) -> Result<Vec<TxOut>, CustomJobError> {
    let outputs: Vec<TxOut> = deserialize(bytes).map_err(|_| CustomJobError::BadOutputs)?;
    if outputs.is_empty() {
        return Err(CustomJobError::NoOutputs);
    }
    let mut total: u64 = 0;
    for o in &outputs {
        total = total
            .checked_add(o.value.to_sat())
            .filter(|t| *t <= Amount::MAX_MONEY.to_sat())
            .ok_or(CustomJobError::ValueOverflow)?;
    }
    Ok(outputs)
}

impl CoinbaseSplit {
    /// Reads the non-witness split a channel job uses (`prefix || extranonce || suffix`).
    pub fn from_parts(parts: &CoinbaseParts) -> Result<Self, CustomJobError> {
        let (tx_version, script_head, script_len) = parse_prefix(&parts.prefix, false)?;
        let extranonce_len = script_len
            .checked_sub(script_head.len())
            .ok_or(CustomJobError::BadPrefix("scriptSig shorter than its head"))?;
        if extranonce_len != parts.extranonce_len {
            return Err(CustomJobError::BadPrefix(
                "scriptSig length disagrees with the extranonce length",
            ));
        }
        let suffix = &parts.suffix;
        let sequence = read_u32(suffix, 0).ok_or(CustomJobError::BadSuffix("truncated"))?;
        let locktime_at = suffix
            .len()
            .checked_sub(4)
            .filter(|at| *at >= 4)
            .ok_or(CustomJobError::BadSuffix("truncated"))?;
        let locktime =
            read_u32(suffix, locktime_at).ok_or(CustomJobError::BadSuffix("truncated"))?;
        let outputs = suffix
            .get(4..locktime_at)
            .ok_or(CustomJobError::BadSuffix("truncated"))?
            .to_vec();
        let split = CoinbaseSplit {
            tx_version,
            script_head,
            extranonce_len,
            sequence,
            outputs,
            locktime,
        };
        split.validate()?;
        Ok(split)
    }

    /// Reads a `DeclareMiningJob` coinbase: prefix and suffix around the full extranonce, in
    /// the segwit serialization (marker, flag and the input's witness) or the legacy one.
    pub fn from_declared(prefix: &[u8], suffix: &[u8]) -> Result<DeclaredCoinbase, CustomJobError> {
        let segwit = match prefix.get(4) {
            Some(0) => {
                if prefix.get(5) != Some(&1) {
                    return Err(CustomJobError::BadPrefix("segwit marker without flag 1"));
                }
                true
            }
            Some(_) => false,
            None => return Err(CustomJobError::BadPrefix("truncated")),
        };
        let (tx_version, script_head, script_len) = parse_prefix(prefix, segwit)?;
        let extranonce_len = script_len
            .checked_sub(script_head.len())
            .ok_or(CustomJobError::BadPrefix("scriptSig shorter than its head"))?;

        let sequence = read_u32(suffix, 0).ok_or(CustomJobError::BadSuffix("truncated"))?;
        let mut rest = suffix
            .get(4..)
            .ok_or(CustomJobError::BadSuffix("truncated"))?;
        let before = rest.len();
        Vec::<TxOut>::consensus_decode(&mut rest).map_err(|_| CustomJobError::BadOutputs)?;
        let outputs_len = before - rest.len();
        let outputs = suffix
            .get(4..4 + outputs_len)
            .ok_or(CustomJobError::BadSuffix("truncated"))?
            .to_vec();
        let witness = if segwit {
            Some(read_witness(&mut rest)?)
        } else {
            None
        };
        let locktime = match rest {
            [a, b, c, d] => u32::from_le_bytes([*a, *b, *c, *d]),
            _ => return Err(CustomJobError::BadSuffix("lock time must end the coinbase")),
        };
        let split = CoinbaseSplit {
            tx_version,
            script_head,
            extranonce_len,
            sequence,
            outputs,
            locktime,
        };
        split.validate()?;
        Ok(DeclaredCoinbase { split, witness })
    }

    /// Checks scriptSig bounds and that the outputs decode into a non-empty list within the
    /// money range.
    pub fn validate(&self) -> Result<(), CustomJobError> {
        let script_len = self.script_head.len().saturating_add(self.extranonce_len);
        if !(MIN_SCRIPT_SIG_LEN..=MAX_SCRIPT_SIG_LEN).contains(&script_len)
            || self.extranonce_len == 0
            || self.extranonce_len > MAX_EXTRANONCE_LEN
        {
            return Err(CustomJobError::BadScriptSig {
                script_len,
                extranonce_len: self.extranonce_len,
            });
        }
        decode_outputs(&self.outputs).map(|_| ())
    }

    /// The decoded outputs.
    pub fn tx_outputs(&self) -> Result<Vec<TxOut>, CustomJobError> {
        decode_outputs(&self.outputs)
    }

    /// The BIP34 height at the start of the scriptSig, if it has one.
    pub fn height(&self) -> Option<u32> {
        parse_bip34_height(&self.script_head)
    }

    /// Whether an output is a BIP141 witness commitment.
    pub fn has_witness_commitment(&self) -> bool {
        self.tx_outputs().is_ok_and(|outs| {
            outs.iter()
                .any(|o| is_witness_commitment(o.script_pubkey.as_bytes()))
        })
    }

    fn non_witness_prefix(&self) -> Vec<u8> {
        let mut prefix = Vec::with_capacity(SCRIPT_LEN_OFFSET + 1 + self.script_head.len());
        prefix.extend_from_slice(&self.tx_version.to_le_bytes());
        prefix.push(1);
        prefix.extend_from_slice(&NULL_OUTPOINT);
        // validate() bounds the scriptSig at 100 bytes: a one-byte CompactSize.
        prefix.push((self.script_head.len() + self.extranonce_len) as u8);
        prefix.extend_from_slice(&self.script_head);
        prefix
    }

    /// The non-witness split for channel jobs.
    pub fn to_parts(&self) -> Result<CoinbaseParts, CustomJobError> {
        self.validate()?;
        let mut suffix = Vec::with_capacity(8 + self.outputs.len());
        suffix.extend_from_slice(&self.sequence.to_le_bytes());
        suffix.extend_from_slice(&self.outputs);
        suffix.extend_from_slice(&self.locktime.to_le_bytes());
        Ok(CoinbaseParts {
            prefix: self.non_witness_prefix(),
            suffix,
            extranonce_len: self.extranonce_len,
            has_witness_commitment: self.has_witness_commitment(),
        })
    }

    /// `DeclareMiningJob.coinbase_tx_prefix` / `coinbase_tx_suffix`: segwit-serialized with
    /// `witness` as the input's witness stack when given (a coinbase committing to witnesses
    /// carries the 32-byte reserved value), the legacy serialization otherwise.
    pub fn to_declared(&self, witness: Option<&[Vec<u8>]>) -> (Vec<u8>, Vec<u8>) {
        let mut prefix = Vec::with_capacity(SCRIPT_LEN_OFFSET + 3 + self.script_head.len());
        prefix.extend_from_slice(&self.tx_version.to_le_bytes());
        if witness.is_some() {
            prefix.extend_from_slice(&[0x00, 0x01]);
        }
        prefix.extend_from_slice(&self.non_witness_prefix()[4..]);
        let mut suffix = Vec::with_capacity(48 + self.outputs.len());
        suffix.extend_from_slice(&self.sequence.to_le_bytes());
        suffix.extend_from_slice(&self.outputs);
        if let Some(items) = witness {
            let w = Witness::from_slice(items);
            // Writing to a Vec cannot fail.
            let _ = w.consensus_encode(&mut suffix);
        }
        suffix.extend_from_slice(&self.locktime.to_le_bytes());
        (prefix, suffix)
    }
}

/// Reads a CompactSize, advancing `rest`.
fn read_compact_size(rest: &mut &[u8]) -> Result<u64, CustomJobError> {
    bitcoin::VarInt::consensus_decode(rest)
        .map(|v| v.0)
        .map_err(|_| CustomJobError::BadSuffix("witness"))
}

/// Reads one input's witness stack; every length is checked against the bytes actually left
/// before anything is allocated.
fn read_witness(rest: &mut &[u8]) -> Result<Vec<Vec<u8>>, CustomJobError> {
    let bad = || CustomJobError::BadSuffix("witness");
    let count = read_compact_size(rest)?;
    // Each item needs at least its length byte.
    if count > rest.len() as u64 {
        return Err(bad());
    }
    let mut items = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let len = read_compact_size(rest)?;
        if len > rest.len() as u64 {
            return Err(bad());
        }
        let (item, tail) = rest.split_at(len as usize);
        items.push(item.to_vec());
        *rest = tail;
    }
    Ok(items)
}

/// Parses `version [marker flag] 01 <null outpoint> <script_len> <script head>`; the prefix
/// must end inside the scriptSig (the extranonce follows it).
fn parse_prefix(prefix: &[u8], segwit: bool) -> Result<(u32, Vec<u8>, usize), CustomJobError> {
    let version = read_u32(prefix, 0).ok_or(CustomJobError::BadPrefix("truncated"))?;
    let at = if segwit { 6 } else { 4 };
    if prefix.get(at) != Some(&1) {
        return Err(CustomJobError::BadPrefix(
            "a coinbase has exactly one input",
        ));
    }
    if prefix.get(at + 1..at + 37) != Some(&NULL_OUTPOINT[..]) {
        return Err(CustomJobError::BadPrefix(
            "input does not spend the null outpoint",
        ));
    }
    let script_len = *prefix
        .get(at + 37)
        .ok_or(CustomJobError::BadPrefix("truncated"))? as usize;
    if script_len > MAX_SCRIPT_SIG_LEN {
        return Err(CustomJobError::BadScriptSig {
            script_len,
            extranonce_len: 0,
        });
    }
    let head = prefix.get(at + 38..).unwrap_or_default();
    if head.len() > script_len {
        return Err(CustomJobError::BadPrefix("prefix runs past the scriptSig"));
    }
    Ok((version, head.to_vec(), script_len))
}

impl DeclaredCoinbase {
    /// The complete coinbase with `extranonce` (exactly `split.extranonce_len` bytes) and the
    /// declared witness.
    pub fn transaction(&self, extranonce: &[u8]) -> Result<Transaction, CustomJobError> {
        let parts = self.split.to_parts()?;
        let bytes = parts
            .serialize_with(extranonce)
            .map_err(|_| CustomJobError::BadScriptSig {
                script_len: self.split.script_head.len() + extranonce.len(),
                extranonce_len: extranonce.len(),
            })?;
        let mut tx: Transaction =
            deserialize(&bytes).map_err(|_| CustomJobError::BadPrefix("does not decode"))?;
        if let (Some(items), Some(input)) = (&self.witness, tx.input.first_mut()) {
            input.witness = Witness::from_slice(items);
        }
        Ok(tx)
    }

    /// The 32-byte witness reserved value (the single witness item of a segwit coinbase).
    pub fn witness_reserved_value(&self) -> Option<[u8; 32]> {
        match self.witness.as_deref() {
            Some([item]) => item.as_slice().try_into().ok(),
            _ => None,
        }
    }
}

/// The commitment binding a declared job to `SetCustomMiningJob`; see the module documentation.
pub fn custom_job_commitment(
    version: u32,
    split: &CoinbaseSplit,
    merkle_path: &[[u8; 32]],
    prev_hash: &[u8; 32],
    nbits: u32,
) -> [u8; 32] {
    let mut e = sha256::Hash::engine();
    let mut field = |bytes: &[u8]| {
        e.input(&(bytes.len() as u64).to_le_bytes());
        e.input(bytes);
    };
    field(COMMITMENT_TAG);
    field(&version.to_le_bytes());
    field(&split.tx_version.to_le_bytes());
    field(&split.script_head);
    field(&(split.extranonce_len as u64).to_le_bytes());
    field(&split.sequence.to_le_bytes());
    field(&split.outputs);
    field(&split.locktime.to_le_bytes());
    field(&(merkle_path.len() as u64).to_le_bytes());
    for node in merkle_path {
        field(node);
    }
    field(prev_hash);
    field(&nbits.to_le_bytes());
    sha256::Hash::from_engine(e).to_byte_array()
}

/// The channel job template for a custom job (never a future job: a custom job names its
/// prev hash).
pub fn custom_job_template(
    template_id: u64,
    version: u32,
    split: &CoinbaseSplit,
    merkle_path: &[[u8; 32]],
) -> Result<JobTemplate, CustomJobError> {
    Ok(JobTemplate {
        template_id,
        future: false,
        version,
        coinbase: Arc::new(split.to_parts()?),
        merkle_path: merkle_path.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coinbase::{witness_reserved_value, CoinbaseBuilder, Payout};
    use bitcoin::ScriptBuf;

    fn parts(witness: bool) -> CoinbaseParts {
        let mut b = CoinbaseBuilder::new(840_000, 312_500_000, 16)
            .pool_tag(b"/jd/".to_vec())
            .payout(ScriptBuf::from_bytes(vec![0x51]), Payout::Remainder(1))
            .lock_time(839_999)
            .sequence(0xffff_fffe);
        if witness {
            let mut wc = crate::coinbase::WITNESS_COMMITMENT_HEADER.to_vec();
            wc.extend_from_slice(&[7u8; 32]);
            b = b.witness_commitment(ScriptBuf::from_bytes(wc));
        }
        b.build().unwrap()
    }

    #[test]
    fn split_round_trips_through_parts() {
        for witness in [false, true] {
            let p = parts(witness);
            let split = CoinbaseSplit::from_parts(&p).unwrap();
            assert_eq!(split.extranonce_len, 16);
            assert_eq!(split.height(), Some(840_000));
            assert_eq!(split.sequence, 0xffff_fffe);
            assert_eq!(split.locktime, 839_999);
            assert_eq!(split.to_parts().unwrap(), p);
            assert_eq!(split.has_witness_commitment(), witness);
        }
    }

    #[test]
    fn declared_segwit_form_matches_the_full_transaction() {
        let p = parts(true);
        let split = CoinbaseSplit::from_parts(&p).unwrap();
        let reserved = witness_reserved_value().to_vec();
        let (prefix, suffix) = split.to_declared(Some(&reserved));
        let extranonce = [0xab; 16];
        let mut bytes = prefix.clone();
        bytes.extend_from_slice(&extranonce);
        bytes.extend_from_slice(&suffix);
        let full = p.full_transaction(&extranonce).unwrap();
        assert_eq!(bytes, bitcoin::consensus::serialize(&full));

        let declared = CoinbaseSplit::from_declared(&prefix, &suffix).unwrap();
        assert_eq!(declared.split, split);
        assert_eq!(declared.witness_reserved_value(), Some([0; 32]));
        assert_eq!(declared.transaction(&extranonce).unwrap(), full);
    }

    #[test]
    fn declared_legacy_form() {
        let p = parts(false);
        let split = CoinbaseSplit::from_parts(&p).unwrap();
        let (prefix, suffix) = split.to_declared(None);
        assert_eq!(prefix, p.prefix);
        assert_eq!(suffix, p.suffix);
        let declared = CoinbaseSplit::from_declared(&prefix, &suffix).unwrap();
        assert_eq!(declared.witness, None);
        assert_eq!(declared.split, split);
    }

    #[test]
    fn malformed_declarations_are_errors() {
        let p = parts(true);
        let split = CoinbaseSplit::from_parts(&p).unwrap();
        let (prefix, suffix) = split.to_declared(Some(&[vec![0; 32]]));
        // Every truncation of either half is an error, never a panic.
        for cut in 0..prefix.len() {
            let _ = CoinbaseSplit::from_declared(&prefix[..cut], &suffix);
        }
        for cut in 0..suffix.len() {
            assert!(CoinbaseSplit::from_declared(&prefix, &suffix[..cut]).is_err());
        }
        let mut trailing = suffix.clone();
        trailing.push(0);
        assert!(CoinbaseSplit::from_declared(&prefix, &trailing).is_err());
        let mut two_inputs = prefix.clone();
        two_inputs[6] = 2;
        assert!(CoinbaseSplit::from_declared(&two_inputs, &suffix).is_err());
        let mut not_null = prefix.clone();
        not_null[8] = 1;
        assert!(CoinbaseSplit::from_declared(&not_null, &suffix).is_err());
        // A prefix that runs past its scriptSig.
        let mut long = prefix.clone();
        long.extend_from_slice(&[0; 40]);
        assert!(CoinbaseSplit::from_declared(&long, &suffix).is_err());
    }

    #[test]
    fn validate_bounds() {
        let split = CoinbaseSplit::from_parts(&parts(false)).unwrap();
        let mut s = split.clone();
        s.extranonce_len = 0;
        assert!(s.validate().is_err());
        s.extranonce_len = 33;
        assert!(s.validate().is_err());
        let mut s = split.clone();
        s.script_head = vec![0; 90];
        assert!(matches!(
            s.validate(),
            Err(CustomJobError::BadScriptSig { .. })
        ));
        let mut s = split.clone();
        s.outputs = vec![0];
        assert_eq!(s.validate(), Err(CustomJobError::NoOutputs));
        let mut s = split;
        s.outputs.push(0);
        assert_eq!(s.validate(), Err(CustomJobError::BadOutputs));
    }

    #[test]
    fn commitment_covers_every_field() {
        let split = CoinbaseSplit::from_parts(&parts(true)).unwrap();
        let path = [[1u8; 32], [2u8; 32]];
        let base = custom_job_commitment(0x2000_0000, &split, &path, &[9; 32], 0x207f_ffff);
        let c = |v: u32, p: &[[u8; 32]], h: [u8; 32], bits: u32| {
            custom_job_commitment(v, &split, p, &h, bits)
        };
        let mut variants = vec![
            c(1, &path, [9; 32], 0x207f_ffff),
            c(0x2000_0000, &path[..1], [9; 32], 0x207f_ffff),
            c(0x2000_0000, &path, [8; 32], 0x207f_ffff),
            c(0x2000_0000, &path, [9; 32], 0x1d00_ffff),
        ];
        let mutations: [fn(&mut CoinbaseSplit); 6] = [
            |s| s.tx_version += 1,
            |s| s.script_head.push(0),
            |s| s.extranonce_len += 1,
            |s| s.sequence ^= 1,
            |s| s.outputs.push(0),
            |s| s.locktime += 1,
        ];
        for m in mutations {
            let mut s = split.clone();
            m(&mut s);
            variants.push(custom_job_commitment(
                0x2000_0000,
                &s,
                &path,
                &[9; 32],
                0x207f_ffff,
            ));
        }
        for v in variants {
            assert_ne!(v, base);
        }
        assert_eq!(
            base,
            custom_job_commitment(0x2000_0000, &split, &path, &[9; 32], 0x207f_ffff)
        );
    }
}
