//! Standard-channel shares: the merkle root is fixed per job, so only the
//! header is hashed, with the first block's state cached per version.

use super::lanes::{finish_lanes, refs, HeaderTemplate};
use super::{BATCH_LANES, VERSION_CACHE_SLOTS};
use crate::hash::{Backend, LaneFn, Lanes};
use crate::header::BlockHeader;
use crate::sha256d::{compress, Block, State, IV};

/// The variable fields of a share on a standard channel.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct StandardShare {
    /// Full block version (job version plus any rolled bits).
    pub version: u32,
    /// Block timestamp.
    pub ntime: u32,
    /// Nonce.
    pub nonce: u32,
}

/// Hashes shares of one standard-channel job (fixed merkle root).
#[derive(Clone, Debug)]
pub struct StandardJobHasher {
    prev_hash: [u8; 32],
    merkle_root: [u8; 32],
    nbits: u32,
    template: HeaderTemplate,
    cache_versions: [u32; VERSION_CACHE_SLOTS],
    cache_states: [State; VERSION_CACHE_SLOTS],
    cache_len: usize,
    next_victim: usize,
    hits: u64,
    misses: u64,
    backend: Backend,
}

impl StandardJobHasher {
    /// Compressions per share when the version's midstate is cached.
    pub const COMPRESSIONS_CACHE_HIT: usize = 2;
    /// Compressions per share when it is not (the midstate is then cached).
    pub const COMPRESSIONS_CACHE_MISS: usize = 3;

    /// Prepares a hasher for a job with fixed `merkle_root`.
    pub fn new(prev_hash: [u8; 32], merkle_root: [u8; 32], nbits: u32) -> Self {
        StandardJobHasher {
            prev_hash,
            merkle_root,
            nbits,
            template: HeaderTemplate::new(&prev_hash, nbits),
            cache_versions: [0; VERSION_CACHE_SLOTS],
            cache_states: [IV; VERSION_CACHE_SLOTS],
            cache_len: 0,
            next_victim: 0,
            hits: 0,
            misses: 0,
            backend: Backend::detect(),
        }
    }

    /// Uses `backend` instead of the detected one (tests, benches).
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// The SHA-256 implementation in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The job's merkle root.
    pub fn merkle_root(&self) -> [u8; 32] {
        self.merkle_root
    }

    /// `(hits, misses)` of the per-version midstate cache so far.
    pub fn cache_stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// The full header a share describes (for block submission).
    pub fn header(&self, version: u32, ntime: u32, nonce: u32) -> BlockHeader {
        BlockHeader {
            version,
            prev_hash: self.prev_hash,
            merkle_root: self.merkle_root,
            ntime,
            nbits: self.nbits,
            nonce,
        }
    }

    /// State after the first header block for `version`, from the cache or
    /// computed and cached (round-robin replacement).
    #[inline]
    fn midstate(&mut self, version: u32) -> State {
        let cached = self
            .cache_versions
            .iter()
            .take(self.cache_len)
            .position(|v| *v == version);
        if let Some(state) = cached.and_then(|i| self.cache_states.get(i)) {
            self.hits += 1;
            return *state;
        }
        self.misses += 1;
        let mut state = IV;
        compress(
            &mut state,
            &self.template.block1(version, &self.merkle_root),
        );
        let slot = if self.cache_len < VERSION_CACHE_SLOTS {
            self.cache_len += 1;
            self.cache_len - 1
        } else {
            let victim = self.next_victim;
            self.next_victim = (victim + 1) % VERSION_CACHE_SLOTS;
            victim
        };
        if let (Some(v), Some(s)) = (
            self.cache_versions.get_mut(slot),
            self.cache_states.get_mut(slot),
        ) {
            *v = version;
            *s = state;
        }
        state
    }

    /// SHA-256d of the share's header (compare with
    /// [`crate::target::Target::is_met_by`]).
    pub fn hash(&mut self, version: u32, ntime: u32, nonce: u32) -> [u8; 32] {
        let [h] = self.hash_lanes::<1>(&[StandardShare {
            version,
            ntime,
            nonce,
        }]);
        h
    }

    /// Hashes `shares` into `out` ([`BATCH_LANES`] at a time in lock-step).
    /// Processes `min(shares.len(), out.len())` shares and returns that count.
    pub fn hash_batch(&mut self, shares: &[StandardShare], out: &mut [[u8; 32]]) -> usize {
        let n = shares.len().min(out.len());
        let mut done = 0;
        for (inp, outp) in shares.chunks(BATCH_LANES).zip(out.chunks_mut(BATCH_LANES)) {
            match (inp, outp) {
                ([a, b, c, d, ..], [o0, o1, o2, o3, ..]) => {
                    [*o0, *o1, *o2, *o3] = self.hash_lanes::<4>(&[*a, *b, *c, *d]);
                    done += 4;
                }
                ([a, b, c, ..], [o0, o1, o2, ..]) => {
                    [*o0, *o1, *o2] = self.hash_lanes::<3>(&[*a, *b, *c]);
                    done += 3;
                }
                ([a, b, ..], [o0, o1, ..]) => {
                    [*o0, *o1] = self.hash_lanes::<2>(&[*a, *b]);
                    done += 2;
                }
                ([a, ..], [o0, ..]) => {
                    [*o0] = self.hash_lanes::<1>(&[*a]);
                    done += 1;
                }
                _ => {}
            }
        }
        debug_assert_eq!(done, n);
        n
    }

    fn hash_lanes<const N: usize>(&mut self, shares: &[StandardShare; N]) -> [[u8; 32]; N] {
        let mids: [State; N] = core::array::from_fn(|l| self.midstate(shares[l].version));
        let blocks: [Block; N] = core::array::from_fn(|l| {
            self.template
                .block2(&self.merkle_root, shares[l].ntime, shares[l].nonce)
        });
        self.backend.dispatch(StandardLanes { mids, blocks })
    }
}

/// The two per-share compressions of N standard shares.
struct StandardLanes<const N: usize> {
    mids: [State; N],
    blocks: [Block; N],
}

impl<const N: usize> LaneFn<[[u8; 32]; N]> for StandardLanes<N> {
    #[inline(always)]
    fn call<L: Lanes>(self) -> [[u8; 32]; N] {
        let mut st = self.mids;
        L::compress(&mut st, &refs(&self.blocks));
        finish_lanes::<L, N>(&st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sha256d::sha256d;

    fn backends() -> Vec<Backend> {
        let mut v = vec![Backend::portable()];
        v.extend(Backend::sha_ni());
        v
    }

    #[test]
    fn matches_naive_and_caches() {
        for backend in backends() {
            let mut h = StandardJobHasher::new([3; 32], [4; 32], 0x1703_4219).with_backend(backend);
            for (i, version) in [0x2000_0000u32, 0x2000_2000, 0x2000_0000, 0x2fff_e000]
                .iter()
                .enumerate()
            {
                let (ntime, nonce) = (1_700_000_000 + i as u32, i as u32 * 77);
                let got = h.hash(*version, ntime, nonce);
                let naive = sha256d(&h.header(*version, ntime, nonce).to_bytes());
                assert_eq!(got, naive, "{}", backend.name());
            }
            assert_eq!(h.cache_stats(), (1, 3));
        }
    }

    #[test]
    fn cache_evicts_round_robin() {
        let mut h = StandardJobHasher::new([1; 32], [2; 32], 0x1d00_ffff);
        for v in 0..(VERSION_CACHE_SLOTS as u32 + 3) {
            let got = h.hash(v << 13, 5, 6);
            assert_eq!(got, sha256d(&h.header(v << 13, 5, 6).to_bytes()));
        }
        // The three oldest versions were evicted; the newest are cached.
        assert_eq!(h.cache_stats(), (0, VERSION_CACHE_SLOTS as u64 + 3));
        h.hash(10 << 13, 0, 0);
        assert_eq!(h.cache_stats().0, 1);
        h.hash(0, 0, 0);
        assert_eq!(h.cache_stats(), (1, VERSION_CACHE_SLOTS as u64 + 4));
    }

    #[test]
    fn batch_matches_single() {
        for backend in backends() {
            let mut h = StandardJobHasher::new([9; 32], [8; 32], 0x1a01_0000).with_backend(backend);
            let shares: Vec<StandardShare> = (0..11u32)
                .map(|i| StandardShare {
                    version: 0x2000_0000 | ((i % 3) << 13),
                    ntime: 1000 + i,
                    nonce: i.wrapping_mul(0x9e37_79b9),
                })
                .collect();
            let mut out = vec![[0u8; 32]; shares.len()];
            assert_eq!(h.hash_batch(&shares, &mut out), shares.len());
            for (s, o) in shares.iter().zip(&out) {
                let naive = sha256d(&h.header(s.version, s.ntime, s.nonce).to_bytes());
                assert_eq!(*o, naive);
            }
            // Short output buffer: only that many are hashed.
            let mut short = vec![[0u8; 32]; 5];
            assert_eq!(h.hash_batch(&shares, &mut short), 5);
            assert_eq!(&short[..], &out[..5]);
        }
    }
}
