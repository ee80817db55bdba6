//! The 80-byte Bitcoin block header and BIP320 version-rolling checks.

use crate::sha256d::sha256d;

/// BIP320 general-purpose version bits (bits 13..=28) that miners may roll.
pub const BIP320_VERSION_MASK: u32 = 0x1fff_e000;

/// Size of a serialized block header.
pub const HEADER_LEN: usize = 80;

/// A block header; hashes are in Bitcoin's internal byte order (as serialized).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct BlockHeader {
    /// Block version (with any rolled BIP320 bits).
    pub version: u32,
    /// Previous block hash, internal byte order.
    pub prev_hash: [u8; 32],
    /// Merkle root, internal byte order.
    pub merkle_root: [u8; 32],
    /// Block timestamp (seconds since the Unix epoch).
    pub ntime: u32,
    /// Compact network target.
    pub nbits: u32,
    /// Nonce.
    pub nonce: u32,
}

impl BlockHeader {
    /// Serializes the header as it is hashed and sent on the wire.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..36].copy_from_slice(&self.prev_hash);
        out[36..68].copy_from_slice(&self.merkle_root);
        out[68..72].copy_from_slice(&self.ntime.to_le_bytes());
        out[72..76].copy_from_slice(&self.nbits.to_le_bytes());
        out[76..80].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    /// Parses a serialized 80-byte header.
    pub fn from_bytes(b: &[u8; HEADER_LEN]) -> BlockHeader {
        let word = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let mut prev_hash = [0u8; 32];
        prev_hash.copy_from_slice(&b[4..36]);
        let mut merkle_root = [0u8; 32];
        merkle_root.copy_from_slice(&b[36..68]);
        BlockHeader {
            version: word(0),
            prev_hash,
            merkle_root,
            ntime: word(68),
            nbits: word(72),
            nonce: word(76),
        }
    }

    /// Block hash: SHA-256d of the serialized header (internal byte order;
    /// reverse it for the usual display form).
    pub fn hash(&self) -> [u8; 32] {
        sha256d(&self.to_bytes())
    }
}

/// BIP320 check: `share_version` may differ from `job_version` only in bits
/// allowed by `mask`.
#[inline]
pub fn version_rolling_ok(job_version: u32, share_version: u32, mask: u32) -> bool {
    (job_version ^ share_version) & !mask == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_bytes() {
        let h = BlockHeader {
            version: 0x2000_0004,
            prev_hash: [7; 32],
            merkle_root: [9; 32],
            ntime: 1_700_000_000,
            nbits: 0x1703_4219,
            nonce: 0xdead_beef,
        };
        let bytes = h.to_bytes();
        assert_eq!(&bytes[0..4], &[4, 0, 0, 0x20]);
        assert_eq!(&bytes[76..80], &[0xef, 0xbe, 0xad, 0xde]);
        assert_eq!(BlockHeader::from_bytes(&bytes), h);
    }

    #[test]
    fn version_rolling_mask() {
        let job = 0x2000_0000;
        assert!(version_rolling_ok(job, job, 0));
        assert!(version_rolling_ok(
            job,
            job | 0x1fff_e000,
            BIP320_VERSION_MASK
        ));
        assert!(version_rolling_ok(job, 0x2000_6000, BIP320_VERSION_MASK));
        // Bit 0 is outside the BIP320 range.
        assert!(!version_rolling_ok(job, job | 1, BIP320_VERSION_MASK));
        // Allowed bit but a narrower negotiated mask.
        assert!(!version_rolling_ok(job, job | 0x0001_0000, 0x0000_e000));
        // Clearing a bit the job had set also counts as a difference.
        assert!(version_rolling_ok(
            0x2000_2000,
            0x2000_0000,
            BIP320_VERSION_MASK
        ));
        assert!(!version_rolling_ok(
            0x2000_0000,
            0x0000_0000,
            BIP320_VERSION_MASK
        ));
    }
}
