//! Coinbase transaction construction, splitting and parsing.
//!
//! A pool builds one coinbase per template and per full extranonce length. The transaction is
//! split around the extranonce so that
//! `prefix || extranonce_prefix || extranonce || suffix` is the coinbase's non-witness
//! serialization (its txid preimage), exactly as `NewExtendedMiningJob` carries
//! `coinbase_tx_prefix` / `coinbase_tx_suffix`.
//!
//! # scriptSig layout
//!
//! ```text
//! <BIP34 height push> [<push pool tag>] <OP_PUSHBYTES_N> <extranonce: N bytes>
//! ```
//!
//! The prefix ends right after the `OP_PUSHBYTES_N` opcode, so the channel's extranonce prefix
//! (and then the miner's rollable extranonce) follow it directly. The height push is the minimal
//! `CScriptNum` encoding required by BIP34, or the template's own `coinbase_prefix` verbatim
//! (checked to carry the same height).
//!
//! # Outputs and value rules
//!
//! Outputs appear in this order:
//! 1. the configured payout outputs, in insertion order;
//! 2. the template's own outputs ([`CoinbaseBuilder::template_outputs`]), verbatim;
//! 3. the segwit witness commitment ([`CoinbaseBuilder::witness_commitment`]), with value 0.
//!
//! The builder is given the value to distribute (`coinbase_value`, i.e. subsidy plus fees minus
//! whatever the template's own outputs already claim, which is `coinbase_tx_value_remaining` in
//! Template Distribution terms). Each [`Payout::Fixed`] output receives exactly its amount; the
//! remainder after all fixed outputs is split among the [`Payout::Remainder`] outputs in proportion
//! to their weights (rounded down, the rounding dust goes to the first remainder output). The fixed
//! outputs must not exceed the available value, and any remainder must be claimed by at least one
//! remainder output: value is never silently left unclaimed.
//!
//! # Sequence and lock time
//!
//! Defaults are input sequence `0xffffffff` and lock time `0`: with a final sequence the lock time
//! is not enforced, which is what Bitcoin Core templates used before v30. A role that wants the
//! newer Core behaviour (lock time `height - 1`, non-final sequence, see BIP54) passes the
//! template's `coinbase_tx_locktime` / `coinbase_tx_input_sequence` through
//! [`CoinbaseBuilder::lock_time`] and [`CoinbaseBuilder::sequence`].

use bitcoin::consensus::encode::{self, deserialize, serialize, Encodable};
use bitcoin::{Amount, Block, ScriptBuf, Transaction, TxOut, Witness};
use std::collections::HashMap;
use thiserror::Error;

/// Minimum length of a coinbase scriptSig (consensus rule `bad-cb-length`).
pub const MIN_SCRIPT_SIG_LEN: usize = 2;
/// Maximum length of a coinbase scriptSig (consensus rule `bad-cb-length`).
pub const MAX_SCRIPT_SIG_LEN: usize = 100;
/// Largest extranonce that can be pushed with a single `OP_PUSHBYTES_N` opcode.
pub const MAX_EXTRANONCE_PUSH: usize = 75;
/// Largest template-provided scriptSig prefix accepted (Template Distribution allows 8 bytes).
pub const MAX_TEMPLATE_SCRIPT_PREFIX_LEN: usize = 8;
/// The first six bytes of a BIP141 witness commitment output script
/// (`OP_RETURN OP_PUSHBYTES_36 0xaa21a9ed`).
pub const WITNESS_COMMITMENT_HEADER: [u8; 6] = [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
/// Upper bound on the size of a coinbase accepted by [`parse_coinbase`] (1 MB: a block's
/// non-witness data cannot be larger).
pub const MAX_PARSED_COINBASE_LEN: usize = 1_000_000;

/// Offset of the scriptSig length byte in a one-input non-witness transaction:
/// version (4) + input count (1) + previous outpoint (36).
const SCRIPT_LEN_OFFSET: usize = 4 + 1 + 36;

/// Errors raised while building, completing or parsing a coinbase.
#[derive(Debug, Error)]
pub enum CoinbaseError {
    /// The assembled scriptSig is shorter than the consensus minimum.
    #[error("coinbase scriptSig is {0} bytes, consensus minimum is {MIN_SCRIPT_SIG_LEN}")]
    ScriptSigTooShort(usize),
    /// The assembled scriptSig is longer than the consensus maximum.
    #[error("coinbase scriptSig is {0} bytes, consensus maximum is {MAX_SCRIPT_SIG_LEN}")]
    ScriptSigTooLong(usize),
    /// The extranonce length is zero or cannot be pushed with one opcode.
    #[error("extranonce length {0} not in 1..={MAX_EXTRANONCE_PUSH}")]
    InvalidExtranonceLen(usize),
    /// The pool tag cannot be pushed with one opcode.
    #[error("pool tag length {0} exceeds {MAX_EXTRANONCE_PUSH} bytes")]
    PoolTagTooLong(usize),
    /// The template scriptSig prefix is too long or does not encode the expected height.
    #[error("template scriptSig prefix invalid: {0}")]
    InvalidTemplatePrefix(&'static str),
    /// Fixed-value outputs ask for more than the coinbase can pay.
    #[error("fixed outputs total {fixed} sat but only {available} sat are available")]
    OutputsExceedValue {
        /// Sum of the fixed outputs.
        fixed: u64,
        /// Value available to the builder.
        available: u64,
    },
    /// Value would be left unclaimed because no remainder output is configured.
    #[error("{0} sat left unclaimed: add a Payout::Remainder output")]
    UnclaimedValue(u64),
    /// A sum of output values overflowed or exceeded the 21M BTC money range.
    #[error("output value overflow")]
    ValueOverflow,
    /// A remainder output was configured with weight zero.
    #[error("remainder output weight must be non-zero")]
    ZeroWeight,
    /// The transaction would have no outputs.
    #[error("coinbase has no outputs")]
    NoOutputs,
    /// The extranonce handed in does not have the negotiated length.
    #[error("extranonce is {got} bytes, expected {expected}")]
    ExtranonceLength {
        /// Negotiated total extranonce length.
        expected: usize,
        /// Received length.
        got: usize,
    },
    /// The bytes do not decode as a transaction.
    #[error("coinbase does not decode: {0}")]
    Decode(#[from] encode::Error),
    /// The transaction is too large to be a coinbase.
    #[error("coinbase is {0} bytes, larger than {MAX_PARSED_COINBASE_LEN}")]
    TooLarge(usize),
    /// The transaction is not a coinbase (must have exactly one input spending the null outpoint).
    #[error("transaction is not a coinbase")]
    NotCoinbase,
    /// The transaction was serialized with segwit marker/flag, prefix/suffix must be stripped.
    #[error("coinbase prefix/suffix must be the non-witness serialization")]
    HasWitness,
    /// The extranonce is not entirely inside the scriptSig.
    #[error("extranonce does not lie inside the coinbase scriptSig")]
    ExtranonceOutsideScriptSig,
    /// A required payout is missing or underpaid.
    #[error("coinbase pays {paid} sat to {script} but {required} sat are required")]
    Underpaid {
        /// The script that must be paid.
        script: ScriptBuf,
        /// Required total value.
        required: u64,
        /// Total value actually paid to the script.
        paid: u64,
    },
}

/// How much an output receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payout {
    /// Exactly this many satoshis.
    Fixed(u64),
    /// A share of what is left after all fixed outputs, proportional to this weight.
    Remainder(u32),
}

/// The coinbase split around its extranonce, ready for `NewExtendedMiningJob`.
///
/// `prefix || extranonce || suffix` is the non-witness serialization of the coinbase, where
/// `extranonce` is the full extranonce (channel prefix + miner rollable part) of
/// `extranonce_len` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoinbaseParts {
    /// Serialized bytes before the extranonce (`coinbase_tx_prefix`).
    pub prefix: Vec<u8>,
    /// Serialized bytes after the extranonce (`coinbase_tx_suffix`).
    pub suffix: Vec<u8>,
    /// Full extranonce length the scriptSig reserves.
    pub extranonce_len: usize,
    /// Whether an output carries a BIP141 witness commitment (the full transaction then gets the
    /// witness reserved value).
    pub has_witness_commitment: bool,
}

impl CoinbaseParts {
    /// Non-witness serialization with `extranonce` (must be exactly `extranonce_len` bytes) inserted.
    pub fn serialize_with(&self, extranonce: &[u8]) -> Result<Vec<u8>, CoinbaseError> {
        self.check_extranonce(extranonce)?;
        let mut out = Vec::with_capacity(self.prefix.len() + extranonce.len() + self.suffix.len());
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(extranonce);
        out.extend_from_slice(&self.suffix);
        Ok(out)
    }

    /// The complete coinbase for block assembly, with the 32-byte zero witness reserved value when
    /// the coinbase commits to witnesses.
    pub fn full_transaction(&self, extranonce: &[u8]) -> Result<Transaction, CoinbaseError> {
        let bytes = self.serialize_with(extranonce)?;
        let mut tx: Transaction = deserialize(&bytes)?;
        if self.has_witness_commitment {
            if let Some(input) = tx.input.first_mut() {
                input.witness = witness_reserved_value();
            }
        }
        Ok(tx)
    }

    fn check_extranonce(&self, extranonce: &[u8]) -> Result<(), CoinbaseError> {
        if extranonce.len() != self.extranonce_len {
            return Err(CoinbaseError::ExtranonceLength {
                expected: self.extranonce_len,
                got: extranonce.len(),
            });
        }
        Ok(())
    }
}

/// The witness stack of a segwit coinbase input: one 32-byte all-zero reserved value.
pub fn witness_reserved_value() -> Witness {
    Witness::from_slice(&[[0u8; 32]])
}

/// Whether `script` is a BIP141 witness commitment output script.
pub fn is_witness_commitment(script: &[u8]) -> bool {
    script.len() >= 38 && script.starts_with(&WITNESS_COMMITMENT_HEADER)
}

/// Minimal script push of a block height as BIP34 requires (`CScript() << height` in Core).
///
/// Heights 1..=16 are the single opcodes `OP_1`..`OP_16`, 0 is `OP_0`; other heights are a data
/// push of the little-endian, sign-magnitude, minimal encoding (so heights from 2^23 take 4 bytes,
/// because the top bit of the 3-byte encoding would be the sign bit).
pub fn bip34_height_script(height: u32) -> Vec<u8> {
    match height {
        0 => vec![0x00],
        1..=16 => vec![0x50 + height as u8],
        _ => {
            let mut data = Vec::with_capacity(5);
            let mut v = height;
            while v > 0 {
                data.push((v & 0xff) as u8);
                v >>= 8;
            }
            if data.last().is_some_and(|b| b & 0x80 != 0) {
                data.push(0x00);
            }
            let mut out = Vec::with_capacity(data.len() + 1);
            out.push(data.len() as u8);
            out.extend_from_slice(&data);
            out
        }
    }
}

/// Reads the BIP34 height at the start of a coinbase scriptSig; `None` if the script does not
/// start with a minimally encoded, non-negative height push.
pub fn parse_bip34_height(script_sig: &[u8]) -> Option<u32> {
    let first = *script_sig.first()?;
    let height = match first {
        0x00 => 0,
        0x51..=0x60 => u32::from(first - 0x50),
        1..=5 => {
            let data = script_sig.get(1..1 + usize::from(first))?;
            let last = *data.last()?;
            if last & 0x80 != 0 {
                return None; // negative
            }
            let mut v: u64 = 0;
            for (i, b) in data.iter().enumerate() {
                v |= u64::from(*b) << (8 * i);
            }
            u32::try_from(v).ok()?
        }
        _ => return None,
    };
    // Only the minimal encoding is what consensus expects.
    let canonical = bip34_height_script(height);
    script_sig.starts_with(&canonical).then_some(height)
}

/// Builder for a pool coinbase; see the module documentation for layout and value rules.
#[derive(Clone, Debug)]
pub struct CoinbaseBuilder {
    height: u32,
    coinbase_value: u64,
    extranonce_len: usize,
    template_script_prefix: Option<Vec<u8>>,
    pool_tag: Vec<u8>,
    payouts: Vec<(ScriptBuf, Payout)>,
    template_outputs: Vec<TxOut>,
    witness_commitment: Option<ScriptBuf>,
    version: i32,
    sequence: u32,
    lock_time: u32,
}

impl CoinbaseBuilder {
    /// New builder for a block at `height` distributing `coinbase_value` satoshis, reserving
    /// `extranonce_len` bytes (full extranonce: channel prefix + rollable part).
    pub fn new(height: u32, coinbase_value: u64, extranonce_len: usize) -> Self {
        CoinbaseBuilder {
            height,
            coinbase_value,
            extranonce_len,
            template_script_prefix: None,
            pool_tag: Vec::new(),
            payouts: Vec::new(),
            template_outputs: Vec::new(),
            witness_commitment: None,
            version: 2,
            sequence: 0xffff_ffff,
            lock_time: 0,
        }
    }

    /// Uses the template's scriptSig prefix (Template Distribution `coinbase_prefix`, at most 8
    /// bytes) instead of the computed BIP34 push. It must start with the height's BIP34 push.
    pub fn template_script_prefix(mut self, prefix: impl Into<Vec<u8>>) -> Self {
        self.template_script_prefix = Some(prefix.into());
        self
    }

    /// Pool tag pushed in the scriptSig after the height (empty: no push).
    pub fn pool_tag(mut self, tag: impl Into<Vec<u8>>) -> Self {
        self.pool_tag = tag.into();
        self
    }

    /// Adds a payout output.
    pub fn payout(mut self, script_pubkey: ScriptBuf, payout: Payout) -> Self {
        self.payouts.push((script_pubkey, payout));
        self
    }

    /// Appends the template's own outputs verbatim (their values are not taken from
    /// `coinbase_value`).
    pub fn template_outputs(mut self, outputs: impl IntoIterator<Item = TxOut>) -> Self {
        self.template_outputs.extend(outputs);
        self
    }

    /// Adds the witness commitment output (script from the template's
    /// `default_witness_commitment`, starting with [`WITNESS_COMMITMENT_HEADER`]) as last output.
    pub fn witness_commitment(mut self, script: ScriptBuf) -> Self {
        self.witness_commitment = Some(script);
        self
    }

    /// Transaction version (default 2).
    pub fn version(mut self, version: i32) -> Self {
        self.version = version;
        self
    }

    /// Input sequence (default `0xffffffff`).
    pub fn sequence(mut self, sequence: u32) -> Self {
        self.sequence = sequence;
        self
    }

    /// Lock time (default 0).
    pub fn lock_time(mut self, lock_time: u32) -> Self {
        self.lock_time = lock_time;
        self
    }

    /// The scriptSig bytes before the extranonce: height push, tag push, extranonce push opcode.
    fn script_head(&self) -> Result<Vec<u8>, CoinbaseError> {
        if self.extranonce_len == 0 || self.extranonce_len > MAX_EXTRANONCE_PUSH {
            return Err(CoinbaseError::InvalidExtranonceLen(self.extranonce_len));
        }
        if self.pool_tag.len() > MAX_EXTRANONCE_PUSH {
            return Err(CoinbaseError::PoolTagTooLong(self.pool_tag.len()));
        }
        let mut head = match &self.template_script_prefix {
            Some(p) => {
                if p.len() > MAX_TEMPLATE_SCRIPT_PREFIX_LEN {
                    return Err(CoinbaseError::InvalidTemplatePrefix("longer than 8 bytes"));
                }
                if parse_bip34_height(p) != Some(self.height) {
                    return Err(CoinbaseError::InvalidTemplatePrefix(
                        "does not start with the BIP34 height push",
                    ));
                }
                p.clone()
            }
            None => bip34_height_script(self.height),
        };
        if !self.pool_tag.is_empty() {
            head.push(self.pool_tag.len() as u8);
            head.extend_from_slice(&self.pool_tag);
        }
        head.push(self.extranonce_len as u8);
        let total = head.len() + self.extranonce_len;
        if total < MIN_SCRIPT_SIG_LEN {
            return Err(CoinbaseError::ScriptSigTooShort(total));
        }
        if total > MAX_SCRIPT_SIG_LEN {
            return Err(CoinbaseError::ScriptSigTooLong(total));
        }
        Ok(head)
    }

    /// Resolves payout values into outputs following the remainder rules.
    fn outputs(&self) -> Result<Vec<TxOut>, CoinbaseError> {
        let available = self.coinbase_value;
        if available > Amount::MAX_MONEY.to_sat() {
            return Err(CoinbaseError::ValueOverflow);
        }
        let mut fixed: u64 = 0;
        let mut total_weight: u64 = 0;
        for (_, p) in &self.payouts {
            match *p {
                Payout::Fixed(v) => {
                    fixed = fixed.checked_add(v).ok_or(CoinbaseError::ValueOverflow)?;
                }
                Payout::Remainder(0) => return Err(CoinbaseError::ZeroWeight),
                Payout::Remainder(w) => total_weight += u64::from(w),
            }
        }
        if fixed > available {
            return Err(CoinbaseError::OutputsExceedValue { fixed, available });
        }
        let remainder = available - fixed;
        if total_weight == 0 && remainder > 0 {
            return Err(CoinbaseError::UnclaimedValue(remainder));
        }
        // Share the remainder by weight, rounding down; dust goes to the first remainder output.
        let mut values: Vec<u64> = Vec::with_capacity(self.payouts.len());
        let mut distributed: u64 = 0;
        for (_, p) in &self.payouts {
            let v = match *p {
                Payout::Fixed(v) => v,
                Payout::Remainder(w) => {
                    let share =
                        (u128::from(remainder) * u128::from(w) / u128::from(total_weight)) as u64;
                    distributed += share;
                    share
                }
            };
            values.push(v);
        }
        let dust = remainder - distributed;
        if let Some(first) = self
            .payouts
            .iter()
            .position(|(_, p)| matches!(p, Payout::Remainder(_)))
        {
            values[first] += dust;
        }
        let mut outputs: Vec<TxOut> = self
            .payouts
            .iter()
            .zip(values)
            .map(|((script, _), v)| TxOut {
                value: Amount::from_sat(v),
                script_pubkey: script.clone(),
            })
            .collect();
        let mut template_total: u64 = 0;
        for o in &self.template_outputs {
            template_total = template_total
                .checked_add(o.value.to_sat())
                .ok_or(CoinbaseError::ValueOverflow)?;
        }
        if available
            .checked_add(template_total)
            .is_none_or(|t| t > Amount::MAX_MONEY.to_sat())
        {
            return Err(CoinbaseError::ValueOverflow);
        }
        outputs.extend(self.template_outputs.iter().cloned());
        if let Some(script) = &self.witness_commitment {
            outputs.push(TxOut {
                value: Amount::ZERO,
                script_pubkey: script.clone(),
            });
        }
        if outputs.is_empty() {
            return Err(CoinbaseError::NoOutputs);
        }
        Ok(outputs)
    }

    /// Builds the split coinbase.
    pub fn build(&self) -> Result<CoinbaseParts, CoinbaseError> {
        let head = self.script_head()?;
        let outputs = self.outputs()?;
        let script_len = head.len() + self.extranonce_len; // <= 100: one-byte CompactSize

        let mut prefix = Vec::with_capacity(SCRIPT_LEN_OFFSET + 1 + head.len());
        prefix.extend_from_slice(&self.version.to_le_bytes());
        prefix.push(1); // one input
        prefix.extend_from_slice(&[0u8; 32]); // null outpoint txid
        prefix.extend_from_slice(&u32::MAX.to_le_bytes()); // null outpoint index
        prefix.push(script_len as u8);
        prefix.extend_from_slice(&head);

        let mut suffix = Vec::with_capacity(64 + 40 * outputs.len());
        suffix.extend_from_slice(&self.sequence.to_le_bytes());
        outputs
            .consensus_encode(&mut suffix)
            .map_err(|_| CoinbaseError::ValueOverflow)?; // writing to a Vec cannot fail
        suffix.extend_from_slice(&self.lock_time.to_le_bytes());

        let has_witness_commitment = outputs
            .iter()
            .any(|o| is_witness_commitment(o.script_pubkey.as_bytes()));
        Ok(CoinbaseParts {
            prefix,
            suffix,
            extranonce_len: self.extranonce_len,
            has_witness_commitment,
        })
    }
}

/// A decoded coinbase received from someone else (e.g. a declared job).
#[derive(Clone, Debug)]
pub struct ParsedCoinbase {
    /// The decoded transaction (without witness).
    pub tx: Transaction,
    /// BIP34 height found at the start of the scriptSig, if any.
    pub height: Option<u32>,
}

impl ParsedCoinbase {
    /// Sum of all output values in satoshis.
    pub fn total_output_value(&self) -> u64 {
        self.tx
            .output
            .iter()
            .fold(0u64, |acc, o| acc.saturating_add(o.value.to_sat()))
    }

    /// Checks that, for each required `(script, value)`, the outputs paying exactly that script
    /// add up to at least `value` (requirements naming the same script add up).
    pub fn check_pays(&self, required: &[(ScriptBuf, u64)]) -> Result<(), CoinbaseError> {
        let mut need: HashMap<&[u8], u64> = HashMap::new();
        for (script, v) in required {
            let e = need.entry(script.as_bytes()).or_insert(0);
            *e = e.checked_add(*v).ok_or(CoinbaseError::ValueOverflow)?;
        }
        for (script, required) in need {
            let paid = self
                .tx
                .output
                .iter()
                .filter(|o| o.script_pubkey.as_bytes() == script)
                .fold(0u64, |acc, o| acc.saturating_add(o.value.to_sat()));
            if paid < required {
                return Err(CoinbaseError::Underpaid {
                    script: ScriptBuf::from_bytes(script.to_vec()),
                    required,
                    paid,
                });
            }
        }
        Ok(())
    }

    /// Whether an output carries a witness commitment.
    pub fn has_witness_commitment(&self) -> bool {
        self.tx
            .output
            .iter()
            .any(|o| is_witness_commitment(o.script_pubkey.as_bytes()))
    }
}

/// Decodes `prefix || extranonce || suffix` as a coinbase and checks its structure: non-witness
/// serialization, one input spending the null outpoint, scriptSig of 2..=100 bytes containing the
/// whole extranonce (so the extranonce cannot alter outputs).
pub fn parse_coinbase(
    prefix: &[u8],
    extranonce: &[u8],
    suffix: &[u8],
) -> Result<ParsedCoinbase, CoinbaseError> {
    let total = prefix
        .len()
        .saturating_add(extranonce.len())
        .saturating_add(suffix.len());
    if total > MAX_PARSED_COINBASE_LEN {
        return Err(CoinbaseError::TooLarge(total));
    }
    let mut bytes = Vec::with_capacity(total);
    bytes.extend_from_slice(prefix);
    bytes.extend_from_slice(extranonce);
    bytes.extend_from_slice(suffix);

    // A segwit serialization has marker 0x00 where the input count is.
    match bytes.get(4) {
        Some(0) => return Err(CoinbaseError::HasWitness),
        Some(1) => {}
        _ => return Err(CoinbaseError::NotCoinbase),
    }
    let tx: Transaction = deserialize(&bytes)?;
    let input = match tx.input.as_slice() {
        [only] if only.previous_output.is_null() => only,
        _ => return Err(CoinbaseError::NotCoinbase),
    };
    let script = input.script_sig.as_bytes();
    if script.len() < MIN_SCRIPT_SIG_LEN {
        return Err(CoinbaseError::ScriptSigTooShort(script.len()));
    }
    if script.len() > MAX_SCRIPT_SIG_LEN {
        return Err(CoinbaseError::ScriptSigTooLong(script.len()));
    }
    // scriptSig length <= 100 is a one-byte CompactSize, so the script starts right after it.
    let script_start = SCRIPT_LEN_OFFSET + 1;
    let script_end = script_start + script.len();
    if prefix.len() < script_start || prefix.len() + extranonce.len() > script_end {
        return Err(CoinbaseError::ExtranonceOutsideScriptSig);
    }
    if tx.output.is_empty() {
        return Err(CoinbaseError::NoOutputs);
    }
    let height = parse_bip34_height(script);
    Ok(ParsedCoinbase { tx, height })
}

/// Serialized block: `header || CompactSize(tx count) || coinbase (with witness) || txs`.
///
/// `template_txs_raw` are the template's transactions in their network serialization (with
/// witness data when present), excluding the coinbase.
pub fn assemble_block_bytes<T: AsRef<[u8]>>(
    header: &[u8; 80],
    coinbase: &Transaction,
    template_txs_raw: &[T],
) -> Vec<u8> {
    let coinbase_bytes = serialize(coinbase);
    let body: usize = template_txs_raw.iter().map(|t| t.as_ref().len()).sum();
    let mut out = Vec::with_capacity(80 + 9 + coinbase_bytes.len() + body);
    out.extend_from_slice(header);
    let count = encode::VarInt(template_txs_raw.len() as u64 + 1);
    out.extend_from_slice(&serialize(&count));
    out.extend_from_slice(&coinbase_bytes);
    for t in template_txs_raw {
        out.extend_from_slice(t.as_ref());
    }
    out
}

/// Decoded block from its parts; fails if a template transaction does not decode.
pub fn assemble_block<T: AsRef<[u8]>>(
    header: &[u8; 80],
    coinbase: &Transaction,
    template_txs_raw: &[T],
) -> Result<Block, CoinbaseError> {
    Ok(deserialize(&assemble_block_bytes(
        header,
        coinbase,
        template_txs_raw,
    ))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::script::Builder;

    #[test]
    fn bip34_matches_script_builder() {
        let heights = [
            1u32,
            2,
            16,
            17,
            127,
            128,
            255,
            256,
            32767,
            32768,
            65535,
            840_000,
            (1 << 23) - 1,
            1 << 23,
            1 << 24,
            i32::MAX as u32,
        ];
        for h in heights {
            let ours = bip34_height_script(h);
            let theirs = Builder::new().push_int(i64::from(h)).into_script();
            assert_eq!(ours, theirs.as_bytes(), "height {h}");
            assert_eq!(parse_bip34_height(&ours), Some(h));
        }
    }

    #[test]
    fn bip34_known_encodings() {
        assert_eq!(bip34_height_script(1), vec![0x51]);
        assert_eq!(bip34_height_script(16), vec![0x60]);
        assert_eq!(bip34_height_script(17), vec![0x01, 0x11]);
        assert_eq!(bip34_height_script(128), vec![0x02, 0x80, 0x00]);
        assert_eq!(bip34_height_script(840_000), vec![0x03, 0x40, 0xd1, 0x0c]);
        assert_eq!(bip34_height_script(1 << 23), vec![0x04, 0, 0, 0x80, 0]);
        assert_eq!(
            bip34_height_script(u32::MAX),
            vec![0x05, 0xff, 0xff, 0xff, 0xff, 0x00]
        );
    }

    #[test]
    fn bip34_parse_rejects_non_minimal_and_negative() {
        assert_eq!(parse_bip34_height(&[0x01, 0x05]), None); // 5 must be OP_5
        assert_eq!(parse_bip34_height(&[0x02, 0x11, 0x00]), None); // padded
        assert_eq!(parse_bip34_height(&[0x01, 0x81]), None); // negative
        assert_eq!(parse_bip34_height(&[0x03, 0x01]), None); // truncated
        assert_eq!(parse_bip34_height(&[]), None);
        assert_eq!(parse_bip34_height(&[0x4c, 1, 1]), None);
    }

    #[test]
    fn remainder_split_with_dust_to_first() {
        let a = ScriptBuf::from_bytes(vec![0x51]);
        let b = ScriptBuf::from_bytes(vec![0x52]);
        let c = ScriptBuf::from_bytes(vec![0x53]);
        let parts = CoinbaseBuilder::new(100, 1_000, 4)
            .payout(a.clone(), Payout::Fixed(100))
            .payout(b.clone(), Payout::Remainder(1))
            .payout(c.clone(), Payout::Remainder(2))
            .build()
            .unwrap();
        let tx = parts.full_transaction(&[0; 4]).unwrap();
        let values: Vec<u64> = tx.output.iter().map(|o| o.value.to_sat()).collect();
        // remainder 900: 300 and 600 exactly.
        assert_eq!(values, vec![100, 300, 600]);

        let parts = CoinbaseBuilder::new(100, 1_001, 4)
            .payout(b, Payout::Remainder(1))
            .payout(c, Payout::Remainder(2))
            .build()
            .unwrap();
        let tx = parts.full_transaction(&[0; 4]).unwrap();
        let values: Vec<u64> = tx.output.iter().map(|o| o.value.to_sat()).collect();
        assert_eq!(values, vec![334, 667]);
        assert_eq!(values.iter().sum::<u64>(), 1_001);
    }

    #[test]
    fn value_errors() {
        let a = ScriptBuf::from_bytes(vec![0x51]);
        let e = CoinbaseBuilder::new(100, 10, 4)
            .payout(a.clone(), Payout::Fixed(11))
            .build()
            .unwrap_err();
        assert!(matches!(
            e,
            CoinbaseError::OutputsExceedValue {
                fixed: 11,
                available: 10
            }
        ));
        let e = CoinbaseBuilder::new(100, 10, 4)
            .payout(a.clone(), Payout::Fixed(4))
            .build()
            .unwrap_err();
        assert!(matches!(e, CoinbaseError::UnclaimedValue(6)));
        let e = CoinbaseBuilder::new(100, 10, 4)
            .payout(a.clone(), Payout::Remainder(0))
            .build()
            .unwrap_err();
        assert!(matches!(e, CoinbaseError::ZeroWeight));
        let e = CoinbaseBuilder::new(100, 0, 4).build().unwrap_err();
        assert!(matches!(e, CoinbaseError::NoOutputs));
        let e = CoinbaseBuilder::new(100, 10, 4)
            .payout(a.clone(), Payout::Fixed(u64::MAX))
            .payout(a, Payout::Fixed(u64::MAX))
            .build()
            .unwrap_err();
        assert!(matches!(e, CoinbaseError::ValueOverflow));
    }
}
