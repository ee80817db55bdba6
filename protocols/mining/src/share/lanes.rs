//! Lane-generic building blocks shared by the share hashers: header block
//! templates and the final SHA-256 of SHA-256d.

use crate::hash::Lanes;
use crate::sha256d::{state_to_bytes, Block, State, IV, SECOND_HASH_TEMPLATE};

/// The two 64-byte blocks of an 80-byte header with everything fixed per job
/// already in place (`prev_hash`, `nbits`, SHA-256 padding).
#[derive(Clone, Copy, Debug)]
pub(super) struct HeaderTemplate {
    /// `version || prev_hash || merkle_root[..28]`.
    block1: Block,
    /// `merkle_root[28..] || ntime || nbits || nonce || 0x80 .. || 640`.
    block2: Block,
}

impl HeaderTemplate {
    /// Template for a job's previous hash and network bits.
    pub(super) fn new(prev_hash: &[u8; 32], nbits: u32) -> Self {
        let mut block1 = [0u8; 64];
        block1[4..36].copy_from_slice(prev_hash);
        let mut block2 = [0u8; 64];
        block2[8..12].copy_from_slice(&nbits.to_le_bytes());
        block2[16] = 0x80;
        // Message length: 80 bytes = 640 bits = 0x0280.
        block2[62] = 0x02;
        block2[63] = 0x80;
        HeaderTemplate { block1, block2 }
    }

    /// First header block for `version` and `merkle_root`.
    #[inline(always)]
    pub(super) fn block1(&self, version: u32, merkle_root: &[u8; 32]) -> Block {
        let mut b = self.block1;
        b[..4].copy_from_slice(&version.to_le_bytes());
        b[36..].copy_from_slice(&merkle_root[..28]);
        b
    }

    /// Second header block for `merkle_root`, `ntime` and `nonce`.
    #[inline(always)]
    pub(super) fn block2(&self, merkle_root: &[u8; 32], ntime: u32, nonce: u32) -> Block {
        let mut b = self.block2;
        b[..4].copy_from_slice(&merkle_root[28..]);
        b[4..8].copy_from_slice(&ntime.to_le_bytes());
        b[12..16].copy_from_slice(&nonce.to_le_bytes());
        b
    }
}

/// References to each lane's block.
#[inline(always)]
pub(super) fn refs<const N: usize>(blocks: &[Block; N]) -> [&Block; N] {
    core::array::from_fn(|l| &blocks[l])
}

/// Second SHA-256 of SHA-256d over N first-hash final states.
#[inline(always)]
pub(super) fn finish_lanes<L: Lanes, const N: usize>(first: &[State; N]) -> [[u8; 32]; N] {
    let blocks: [Block; N] = core::array::from_fn(|l| {
        let mut b = SECOND_HASH_TEMPLATE;
        b[..32].copy_from_slice(&state_to_bytes(&first[l]));
        b
    });
    let mut st = [IV; N];
    L::compress(&mut st, &refs(&blocks));
    core::array::from_fn(|l| state_to_bytes(&st[l]))
}

/// SHA-256d of N headers given their two blocks (3 compressions per lane).
#[inline(always)]
pub(super) fn header_hashes<L: Lanes, const N: usize>(
    block1: &[Block; N],
    block2: &[Block; N],
) -> [[u8; 32]; N] {
    let mut st = [IV; N];
    L::compress(&mut st, &refs(block1));
    L::compress(&mut st, &refs(block2));
    finish_lanes::<L, N>(&st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{Backend, LaneFn};
    use crate::header::BlockHeader;

    #[test]
    fn template_blocks_are_the_serialized_header() {
        let h = BlockHeader {
            version: 0x2000_e000,
            prev_hash: [0xab; 32],
            merkle_root: core::array::from_fn(|i| i as u8),
            ntime: 0x6000_0001,
            nbits: 0x1703_4219,
            nonce: 0xfeed_f00d,
        };
        let t = HeaderTemplate::new(&h.prev_hash, h.nbits);
        let bytes = h.to_bytes();
        assert_eq!(&t.block1(h.version, &h.merkle_root)[..], &bytes[..64]);
        let b2 = t.block2(&h.merkle_root, h.ntime, h.nonce);
        assert_eq!(&b2[..16], &bytes[64..]);

        struct One(Block, Block);
        impl LaneFn<[[u8; 32]; 1]> for One {
            fn call<L: Lanes>(self) -> [[u8; 32]; 1] {
                header_hashes::<L, 1>(&[self.0], &[self.1])
            }
        }
        let got = Backend::detect().dispatch(One(t.block1(h.version, &h.merkle_root), b2));
        assert_eq!(got, [h.hash()]);
    }
}
