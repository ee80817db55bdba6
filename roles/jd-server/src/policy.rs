//! The pool's coinbase output constraints and how a declared coinbase is judged against them.
//!
//! # Policy
//!
//! * `AllocateMiningJobToken.Success.coinbase_outputs` carries one output: the **pool payout
//!   output** (the configured `pool_payout_address`) with value 0, as the spec reserves the
//!   first output for it. Clients put the pool's share of the reward there; they may add
//!   zero-value outputs (witness commitment, tags) and reorder outputs freely.
//! * The **value basis** of a declared job is the larger of
//!   - the block subsidy at the declared height plus the fees of the declared transactions
//!     the server knows (from its node's mempool or templates; transactions it learnt only from
//!     the client count with fee 0), and
//!   - the total value of the declared coinbase outputs.
//!
//!   Taking the larger one means a client can neither under-declare fees (burning them) nor
//!   hide value in other outputs.
//! * The outputs paying exactly the pool payout script must add up to at least
//!   `ceil(value_basis × min_pool_share)`. With `min_pool_share = 1` the pool receives the
//!   whole reward; below 1 the client may keep the rest in outputs of its own.
//! * Allocation tokens are bound to a digest of the policy (script and share), so changing the
//!   policy invalidates tokens handed out under the old one.

use bitcoin::consensus::encode::serialize;
use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::{Amount, ScriptBuf, TxOut};

/// Parts per million in a whole.
const PPM: u64 = 1_000_000;

/// What the pool requires of every declared coinbase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutPolicy {
    script: ScriptBuf,
    min_share_ppm: u32,
}

/// How a coinbase measured up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyVerdict {
    /// Value basis (see the module documentation), satoshis.
    pub basis: u64,
    /// What the pool payout output must receive at least.
    pub required: u64,
    /// What it receives.
    pub paid: u64,
}

impl PolicyVerdict {
    /// Whether the coinbase pays the pool enough.
    pub fn ok(&self) -> bool {
        self.paid >= self.required
    }
}

impl PayoutPolicy {
    /// Policy paying `script` at least `min_share_ppm` / 1e6 of the value basis
    /// (clamped to 1..=1e6).
    pub fn new(script: ScriptBuf, min_share_ppm: u32) -> Self {
        PayoutPolicy {
            script,
            min_share_ppm: min_share_ppm.clamp(1, PPM as u32),
        }
    }

    /// The pool payout script.
    pub fn script(&self) -> &ScriptBuf {
        &self.script
    }

    /// `AllocateMiningJobToken.Success.coinbase_outputs`: CompactSize count and the pool
    /// payout output with value 0.
    pub fn coinbase_outputs(&self) -> Vec<u8> {
        serialize(&vec![TxOut {
            value: Amount::ZERO,
            script_pubkey: self.script.clone(),
        }])
    }

    /// Digest allocation tokens are bound to.
    pub fn digest(&self) -> [u8; 32] {
        let mut e = sha256::Hash::engine();
        e.input(b"sv2-jd-server/payout-policy/v1");
        e.input(&(self.script.len() as u64).to_le_bytes());
        e.input(self.script.as_bytes());
        e.input(&self.min_share_ppm.to_le_bytes());
        sha256::Hash::from_engine(e).to_byte_array()
    }

    /// Judges `outputs` of a coinbase whose block has `subsidy` plus `known_fees` available.
    pub fn judge(&self, outputs: &[TxOut], subsidy: u64, known_fees: u64) -> PolicyVerdict {
        let declared = outputs
            .iter()
            .fold(0u64, |acc, o| acc.saturating_add(o.value.to_sat()));
        let basis = subsidy.saturating_add(known_fees).max(declared);
        let required =
            (u128::from(basis) * u128::from(self.min_share_ppm)).div_ceil(u128::from(PPM));
        let paid = outputs
            .iter()
            .filter(|o| o.script_pubkey == self.script)
            .fold(0u64, |acc, o| acc.saturating_add(o.value.to_sat()));
        PolicyVerdict {
            basis,
            required: u64::try_from(required).unwrap_or(u64::MAX),
            paid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::consensus::encode::deserialize;

    fn out(script: u8, sats: u64) -> TxOut {
        TxOut {
            value: Amount::from_sat(sats),
            script_pubkey: ScriptBuf::from_bytes(vec![0x51, script]),
        }
    }

    fn pool() -> ScriptBuf {
        ScriptBuf::from_bytes(vec![0x51, 1])
    }

    #[test]
    fn whole_reward_policy() {
        let p = PayoutPolicy::new(pool(), 1_000_000);
        // Pays everything to the pool, plus a zero-value commitment.
        let v = p.judge(&[out(9, 0), out(1, 5_000)], 4_000, 1_000);
        assert_eq!((v.basis, v.required, v.paid), (5_000, 5_000, 5_000));
        assert!(v.ok());
        // Keeps 1 sat elsewhere.
        let v = p.judge(&[out(1, 4_999), out(2, 1)], 4_000, 1_000);
        assert!(!v.ok());
        // Burns fees: declares less than subsidy + known fees.
        let v = p.judge(&[out(1, 4_000)], 4_000, 1_000);
        assert_eq!(v.required, 5_000);
        assert!(!v.ok());
        // Outputs split across two pool outputs add up.
        let v = p.judge(&[out(1, 2_500), out(1, 2_500)], 4_000, 1_000);
        assert!(v.ok());
    }

    #[test]
    fn partial_share_rounds_up() {
        let p = PayoutPolicy::new(pool(), 980_000);
        let v = p.judge(&[out(1, 9_801), out(2, 199)], 10_000, 0);
        assert_eq!(v.required, 9_800);
        assert!(v.ok());
        let v = p.judge(&[out(1, 9_799), out(2, 201)], 10_000, 0);
        assert!(!v.ok());
        // Value hidden in a client output that exceeds the known basis counts too.
        let v = p.judge(&[out(1, 9_800), out(2, 1_000)], 10_000, 0);
        assert_eq!(v.basis, 10_800);
        assert!(!v.ok());
    }

    #[test]
    fn outputs_and_digest() {
        let p = PayoutPolicy::new(pool(), 1_000_000);
        let outs: Vec<TxOut> = deserialize(&p.coinbase_outputs()).unwrap();
        assert_eq!(outs, vec![out(1, 0)]);
        assert_ne!(p.digest(), PayoutPolicy::new(pool(), 999_999).digest());
        assert_ne!(
            p.digest(),
            PayoutPolicy::new(ScriptBuf::from_bytes(vec![0x51, 2]), 1_000_000).digest()
        );
        assert_eq!(PayoutPolicy::new(pool(), 0).min_share_ppm, 1);
    }
}
