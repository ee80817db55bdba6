//! Duplicate-share detection.
//!
//! A share is identified by its header hash: the hash commits to the job's content (prev hash,
//! merkle root, so the coinbase and extranonce), ntime, nonce and version. Two submissions with
//! the same hash are the same work, even under two job ids with identical content. Only shares
//! that met the channel target are recorded, and the set is cleared on every prev hash change
//! (older jobs are stale), so it holds one epoch's accepted shares.
//!
//! The key is the first 128 bits of the hash, stored in a hash set whose hasher passes those
//! (already uniformly distributed) bits through: no allocation per share beyond the set's
//! amortized growth, no rehashing of the key. The set is bounded: once full, shares are refused
//! rather than risk accepting a replay.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// Default bound on remembered shares per channel and prev hash (16 MiB of keys).
pub const DEFAULT_MAX_SEEN_SHARES: usize = 1 << 20;

/// Hasher for keys that are already uniform random bits.
#[derive(Default, Clone, Copy)]
pub struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            if let Some(dst) = word.get_mut(..chunk.len()) {
                dst.copy_from_slice(chunk);
            }
            self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(word);
        }
    }

    fn write_u128(&mut self, v: u128) {
        self.0 ^= (v as u64) ^ ((v >> 64) as u64);
    }
}

/// Outcome of recording a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time: recorded.
    New,
    /// Already recorded.
    Duplicate,
    /// The set is full: the share was not recorded and must not be accepted.
    Full,
}

/// Set of accepted share hashes for the current prev hash.
#[derive(Debug, Clone)]
pub struct SeenShares {
    set: HashSet<u128, BuildHasherDefault<PassThroughHasher>>,
    max: usize,
}

impl SeenShares {
    /// Empty set holding at most `max` shares.
    pub fn new(max: usize) -> Self {
        SeenShares {
            set: HashSet::default(),
            max,
        }
    }

    /// Records the share with header hash `hash`.
    pub fn record(&mut self, hash: &[u8; 32]) -> Seen {
        let mut key = [0u8; 16];
        key.copy_from_slice(&hash[..16]);
        let key = u128::from_le_bytes(key);
        if self.set.contains(&key) {
            return Seen::Duplicate;
        }
        if self.set.len() >= self.max {
            return Seen::Full;
        }
        self.set.insert(key);
        Seen::New
    }

    /// Forgets everything (new prev hash).
    pub fn clear(&mut self) {
        self.set.clear();
    }

    /// Number of recorded shares.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_duplicates_and_bound() {
        let mut s = SeenShares::new(2);
        let a = [1u8; 32];
        let mut b = [1u8; 32];
        b[0] = 2;
        let mut c = [1u8; 32];
        c[15] = 9;
        assert_eq!(s.record(&a), Seen::New);
        assert_eq!(s.record(&a), Seen::Duplicate);
        assert_eq!(s.record(&b), Seen::New);
        assert_eq!(s.record(&c), Seen::Full);
        assert_eq!(s.record(&b), Seen::Duplicate);
        s.clear();
        assert!(s.is_empty());
        assert_eq!(s.record(&c), Seen::New);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn hasher_write_is_deterministic() {
        let mut h1 = PassThroughHasher::default();
        let mut h2 = PassThroughHasher::default();
        h1.write(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        h2.write(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(h1.finish(), h2.finish());
    }
}
