//! Consensus and policy constants of the regtest chain the stand-in emulates.

use bitcoin::pow::{CompactTarget, Target};
use bitcoin::Amount;

/// Maximum block weight (BIP141).
pub const MAX_BLOCK_WEIGHT: u64 = 4_000_000;
/// Maximum signature operation cost per block (BIP141).
pub const MAX_BLOCK_SIGOPS_COST: u64 = 80_000;
/// Weight units per byte of non-witness data.
pub const WITNESS_SCALE_FACTOR: u64 = 4;
/// Weight the template leaves free for the header, transaction count and coinbase
/// (Core 31's default `-blockreservedweight`).
pub const BLOCK_RESERVED_WEIGHT: u64 = 8_000;
/// Sigop cost the template leaves free for the coinbase.
pub const COINBASE_RESERVED_SIGOPS: u64 = 400;
/// Blocks between subsidy halvings on regtest.
pub const REGTEST_HALVING_INTERVAL: u32 = 150;
/// How far into the future (seconds, relative to the node clock) a block time may be.
pub const MAX_FUTURE_BLOCK_TIME: u32 = 2 * 60 * 60;
/// Number of blocks the median time past is taken over.
pub const MEDIAN_TIME_SPAN: usize = 11;
/// Total supply cap in satoshis.
pub const MAX_MONEY: u64 = 21_000_000 * 100_000_000;
/// Block version templates offer (version bits top bits set, no deployment signalled).
pub const TEMPLATE_VERSION: i32 = 0x2000_0000;
/// Lowest block version accepted once BIP34/65/66 are active (all active from height 1 on regtest).
pub const MIN_BLOCK_VERSION: i32 = 4;
/// First bytes of the witness commitment output script: OP_RETURN, push 36, 0xaa21a9ed.
pub const WITNESS_COMMITMENT_HEADER: [u8; 6] = [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
/// Lock times below this are block heights, at or above it UNIX times.
pub const LOCKTIME_THRESHOLD: u32 = 500_000_000;
/// Sequence number that makes an input final.
pub const SEQUENCE_FINAL: u32 = 0xffff_ffff;

/// The regtest proof-of-work limit in compact form.
pub fn regtest_pow_limit_bits() -> CompactTarget {
    CompactTarget::from_consensus(0x207f_ffff)
}

/// The regtest proof-of-work limit.
pub fn regtest_pow_limit() -> Target {
    Target::MAX_ATTAINABLE_REGTEST
}

/// Block subsidy at `height` with the regtest halving schedule.
pub fn block_subsidy(height: u32) -> Amount {
    let halvings = height / REGTEST_HALVING_INTERVAL;
    if halvings >= 64 {
        return Amount::ZERO;
    }
    Amount::from_sat((50 * 100_000_000u64) >> halvings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsidy_halves_every_150_blocks() {
        assert_eq!(block_subsidy(0).to_sat(), 5_000_000_000);
        assert_eq!(block_subsidy(149).to_sat(), 5_000_000_000);
        assert_eq!(block_subsidy(150).to_sat(), 2_500_000_000);
        assert_eq!(block_subsidy(300).to_sat(), 1_250_000_000);
        assert_eq!(block_subsidy(150 * 64).to_sat(), 0);
        assert_eq!(block_subsidy(u32::MAX).to_sat(), 0);
    }

    #[test]
    fn pow_limit_matches_compact() {
        assert_eq!(
            Target::from_compact(regtest_pow_limit_bits()),
            regtest_pow_limit()
        );
    }
}
