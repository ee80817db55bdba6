//! Extended-channel shares: coinbase `fixed_prefix || extranonce || suffix`,
//! folded up the job's merkle path, then the header.

use super::lanes::{finish_lanes, header_hashes, refs, HeaderTemplate};
use super::ROOT_CACHE_SLOTS;
use crate::hash::{Backend, LaneFn, Lanes};
use crate::header::BlockHeader;
use crate::sha256d::{blocks_for_len, midstate, Block, State, IV};

/// The variable fields of a share on an extended channel.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ExtendedShare<'a> {
    /// The miner's extranonce (after the channel's extranonce prefix).
    pub extranonce: &'a [u8],
    /// Full block version.
    pub version: u32,
    /// Block timestamp.
    pub ntime: u32,
    /// Nonce.
    pub nonce: u32,
}

/// A remembered `extranonce -> merkle root` pair.
#[derive(Clone, Copy, Debug)]
struct RootEntry {
    len: u8,
    extranonce: [u8; 32],
    root: [u8; 32],
}

/// Hashes shares of one extended-channel job:
/// coinbase = `fixed_prefix || extranonce || coinbase_suffix`.
#[derive(Clone, Debug)]
pub struct ExtendedJobHasher {
    /// State after the whole 64-byte blocks of the fixed prefix.
    cb_mid: State,
    /// Bytes of the prefix absorbed into `cb_mid` (a multiple of 64).
    cb_consumed: usize,
    /// Remaining prefix bytes (fewer than 64) in a fixed buffer.
    prefix_tail: Block,
    prefix_tail_len: usize,
    suffix: Vec<u8>,
    path: Vec<[u8; 32]>,
    prev_hash: [u8; 32],
    nbits: u32,
    template: HeaderTemplate,
    roots: [RootEntry; ROOT_CACHE_SLOTS],
    roots_len: usize,
    roots_victim: usize,
    root_hits: u64,
    root_misses: u64,
    pub(super) backend: Backend,
}

/// Copies the part of `seg` (at stream offset `seg_start`) that falls inside
/// the 64-byte block starting at stream offset `block_start`.
#[inline(always)]
fn copy_overlap(buf: &mut Block, block_start: usize, seg_start: usize, seg: &[u8]) {
    let lo = block_start.max(seg_start);
    let hi = (block_start + 64).min(seg_start + seg.len());
    if lo < hi {
        if let (Some(dst), Some(src)) = (
            buf.get_mut(lo - block_start..hi - block_start),
            seg.get(lo - seg_start..hi - seg_start),
        ) {
            dst.copy_from_slice(src);
        }
    }
}

impl ExtendedJobHasher {
    /// Prepares a hasher for an extended job.
    ///
    /// `fixed_prefix` = `NewExtendedMiningJob.coinbase_tx_prefix` followed by
    /// the channel's extranonce prefix; `merkle_path` is the coinbase branch.
    pub fn new(
        fixed_prefix: &[u8],
        coinbase_suffix: &[u8],
        merkle_path: &[[u8; 32]],
        prev_hash: [u8; 32],
        nbits: u32,
    ) -> Self {
        let (cb_mid, cb_consumed) = midstate(fixed_prefix);
        let tail = fixed_prefix.get(cb_consumed..).unwrap_or(&[]);
        let mut prefix_tail = [0u8; 64];
        let prefix_tail_len = tail.len().min(64);
        prefix_tail[..prefix_tail_len].copy_from_slice(&tail[..prefix_tail_len]);
        ExtendedJobHasher {
            cb_mid,
            cb_consumed,
            prefix_tail,
            prefix_tail_len,
            suffix: coinbase_suffix.to_vec(),
            path: merkle_path.to_vec(),
            prev_hash,
            nbits,
            template: HeaderTemplate::new(&prev_hash, nbits),
            roots: [RootEntry {
                len: 0,
                extranonce: [0; 32],
                root: [0; 32],
            }; ROOT_CACHE_SLOTS],
            roots_len: 0,
            roots_victim: 0,
            root_hits: 0,
            root_misses: 0,
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

    /// Depth of the job's merkle path.
    pub fn merkle_depth(&self) -> usize {
        self.path.len()
    }

    /// Compressions one share costs without a merkle-root cache hit: the
    /// coinbase blocks after the cached prefix midstate, 1 for the txid's
    /// second hash, 3 per merkle level and 3 for the header (two blocks plus
    /// the second hash). A root-cache hit in [`Self::hash`] costs
    /// [`Self::COMPRESSIONS_ROOT_CACHED`].
    pub fn compressions_per_share(&self, extranonce_len: usize) -> usize {
        self.tail_blocks(extranonce_len) + 1 + 3 * self.path.len() + 3
    }

    /// Compressions of a share whose extranonce's merkle root is cached.
    pub const COMPRESSIONS_ROOT_CACHED: usize = 3;

    /// `(hits, misses)` of [`Self::hash`]'s merkle-root cache so far.
    pub fn root_cache_stats(&self) -> (u64, u64) {
        (self.root_hits, self.root_misses)
    }

    /// Coinbase compressions per share (after the cached midstate).
    pub(super) fn tail_blocks(&self, extranonce_len: usize) -> usize {
        let total = self.cb_consumed + self.prefix_tail_len + extranonce_len + self.suffix.len();
        blocks_for_len(total) - self.cb_consumed / 64
    }

    /// Shape that decides whether two shares can run in lock-step.
    pub(super) fn shape(&self, extranonce_len: usize) -> (usize, usize) {
        (self.tail_blocks(extranonce_len), self.path.len())
    }

    /// Block `i` of the padded coinbase after the midstate. Returns the block
    /// in place when it lies wholly inside the suffix, otherwise assembles it
    /// into `buf` and returns `None`.
    #[inline(always)]
    fn tail_block<'s>(&'s self, en: &[u8], i: usize, buf: &mut Block) -> Option<&'s Block> {
        let p = self.prefix_tail_len;
        let sfx_start = p + en.len();
        let msg_len = sfx_start + self.suffix.len();
        let start = 64 * i;
        if start >= sfx_start && start + 64 <= msg_len {
            let off = start - sfx_start;
            if let Some(Ok(b)) = self.suffix.get(off..off + 64).map(<&Block>::try_from) {
                return Some(b);
            }
        }
        *buf = [0u8; 64];
        copy_overlap(buf, start, 0, self.prefix_tail.get(..p).unwrap_or(&[]));
        copy_overlap(buf, start, p, en);
        copy_overlap(buf, start, sfx_start, &self.suffix);
        if let Some(pad) = msg_len.checked_sub(start).and_then(|at| buf.get_mut(at)) {
            *pad = 0x80;
        }
        if i + 1 == (msg_len + 9).div_ceil(64) {
            let bits = ((self.cb_consumed + msg_len) as u64) * 8;
            buf[56..].copy_from_slice(&bits.to_be_bytes());
        }
        None
    }

    /// Merkle root of the job's block for `extranonce`.
    pub fn merkle_root(&self, extranonce: &[u8]) -> [u8; 32] {
        let share = ExtendedShare {
            extranonce,
            ..ExtendedShare::default()
        };
        let ([root], _) = self.backend.dispatch(ExtendedLanes::<1> {
            jobs: [self],
            shares: [&share],
            roots_only: true,
        });
        root
    }

    /// Coinbase txid for `extranonce` (SHA-256d of the full coinbase).
    pub fn coinbase_txid(&self, extranonce: &[u8]) -> [u8; 32] {
        struct Txid<'a>(&'a ExtendedJobHasher, &'a [u8]);
        impl LaneFn<[u8; 32]> for Txid<'_> {
            fn call<L: Lanes>(self) -> [u8; 32] {
                let [t] = coinbase_txids::<L, 1>(&[self.0], &[self.1]);
                t
            }
        }
        self.backend.dispatch(Txid(self, extranonce))
    }

    /// The full header a share describes (for block submission).
    pub fn header(&self, extranonce: &[u8], version: u32, ntime: u32, nonce: u32) -> BlockHeader {
        BlockHeader {
            version,
            prev_hash: self.prev_hash,
            merkle_root: self.merkle_root(extranonce),
            ntime,
            nbits: self.nbits,
            nonce,
        }
    }

    /// SHA-256d of the share's header.
    ///
    /// Remembers the merkle root of the last [`ROOT_CACHE_SLOTS`] distinct
    /// extranonces: miners roll nonce, ntime and version bits many times per
    /// extranonce, and such a repeat costs only the header's 3 compressions.
    pub fn hash(&mut self, extranonce: &[u8], version: u32, ntime: u32, nonce: u32) -> [u8; 32] {
        let share = ExtendedShare {
            extranonce,
            version,
            ntime,
            nonce,
        };
        if let Some(root) = self.cached_root(extranonce) {
            self.root_hits += 1;
            let b1 = [self.template.block1(version, &root)];
            let b2 = [self.template.block2(&root, ntime, nonce)];
            let [h] = self.backend.dispatch(HeaderOnly { b1, b2 });
            return h;
        }
        self.root_misses += 1;
        let ([root], [h]) = self.backend.dispatch(ExtendedLanes::<1> {
            jobs: [self],
            shares: [&share],
            roots_only: false,
        });
        self.remember_root(extranonce, root);
        h
    }

    fn cached_root(&self, extranonce: &[u8]) -> Option<[u8; 32]> {
        self.roots
            .iter()
            .take(self.roots_len)
            .find(|e| e.extranonce.get(..usize::from(e.len)) == Some(extranonce))
            .map(|e| e.root)
    }

    fn remember_root(&mut self, extranonce: &[u8], root: [u8; 32]) {
        let Ok(len) = u8::try_from(extranonce.len()) else {
            return;
        };
        let mut entry = RootEntry {
            len,
            extranonce: [0; 32],
            root,
        };
        match entry.extranonce.get_mut(..extranonce.len()) {
            Some(dst) => dst.copy_from_slice(extranonce),
            None => return, // longer than 32 bytes: not cached
        }
        let slot = if self.roots_len < ROOT_CACHE_SLOTS {
            self.roots_len += 1;
            self.roots_len - 1
        } else {
            let victim = self.roots_victim;
            self.roots_victim = (victim + 1) % ROOT_CACHE_SLOTS;
            victim
        };
        if let Some(e) = self.roots.get_mut(slot) {
            *e = entry;
        }
    }

    /// SHA-256d of the share's header without touching the root cache
    /// (shared-reference form of [`Self::hash`]).
    pub fn hash_share(&self, share: &ExtendedShare<'_>) -> [u8; 32] {
        let (_, [h]) = self.backend.dispatch(ExtendedLanes::<1> {
            jobs: [self],
            shares: [share],
            roots_only: false,
        });
        h
    }

    /// Hashes `shares` of this job into `out`, up to
    /// [`super::BATCH_LANES`] in lock-step (no root cache).
    /// Processes `min(shares.len(), out.len())` shares and returns that count.
    pub fn hash_batch(&self, shares: &[ExtendedShare<'_>], out: &mut [[u8; 32]]) -> usize {
        super::batch::run_extended(shares.len(), |i| (self, shares.get(i)), out)
    }
}

/// Header-only hashing for a cached merkle root.
struct HeaderOnly {
    b1: [Block; 1],
    b2: [Block; 1],
}

impl LaneFn<[[u8; 32]; 1]> for HeaderOnly {
    #[inline(always)]
    fn call<L: Lanes>(self) -> [[u8; 32]; 1] {
        header_hashes::<L, 1>(&self.b1, &self.b2)
    }
}

/// N shares of equal shape through the extended pipeline; yields the merkle
/// roots and (unless `roots_only`) the header hashes.
pub(super) struct ExtendedLanes<'a, const N: usize> {
    pub(super) jobs: [&'a ExtendedJobHasher; N],
    pub(super) shares: [&'a ExtendedShare<'a>; N],
    pub(super) roots_only: bool,
}

/// Coinbase txids of N lanes (equal tail block counts).
#[inline(always)]
fn coinbase_txids<L: Lanes, const N: usize>(
    jobs: &[&ExtendedJobHasher; N],
    ens: &[&[u8]; N],
) -> [[u8; 32]; N] {
    let k = jobs[0].tail_blocks(ens[0].len());
    let mut st: [State; N] = core::array::from_fn(|l| jobs[l].cb_mid);
    let mut bufs = [[0u8; 64]; N];
    for i in 0..k {
        let mut direct: [Option<&Block>; N] = [None; N];
        for l in 0..N {
            direct[l] = jobs[l].tail_block(ens[l], i, &mut bufs[l]);
        }
        let blocks: [&Block; N] = core::array::from_fn(|l| direct[l].unwrap_or(&bufs[l]));
        L::compress(&mut st, &blocks);
    }
    finish_lanes::<L, N>(&st)
}

/// Folds N lanes' nodes up their (equal-depth) merkle paths: per level one
/// data block, the constant padding block, and the second hash.
#[inline(always)]
fn fold_paths<L: Lanes, const N: usize>(
    jobs: &[&ExtendedJobHasher; N],
    mut nodes: [[u8; 32]; N],
) -> [[u8; 32]; N] {
    let depth = jobs[0].path.len();
    for d in 0..depth {
        let blocks: [Block; N] = core::array::from_fn(|l| {
            let mut b = [0u8; 64];
            b[..32].copy_from_slice(&nodes[l]);
            if let Some(sibling) = jobs[l].path.get(d) {
                b[32..].copy_from_slice(sibling);
            }
            b
        });
        let mut st = [IV; N];
        L::compress(&mut st, &refs(&blocks));
        L::compress_pad64(&mut st);
        nodes = finish_lanes::<L, N>(&st);
    }
    nodes
}

impl<const N: usize> LaneFn<([[u8; 32]; N], [[u8; 32]; N])> for ExtendedLanes<'_, N> {
    #[inline(always)]
    fn call<L: Lanes>(self) -> ([[u8; 32]; N], [[u8; 32]; N]) {
        let ens: [&[u8]; N] = core::array::from_fn(|l| self.shares[l].extranonce);
        let txids = coinbase_txids::<L, N>(&self.jobs, &ens);
        let roots = fold_paths::<L, N>(&self.jobs, txids);
        if self.roots_only {
            return (roots, [[0u8; 32]; N]);
        }
        let b1: [Block; N] = core::array::from_fn(|l| {
            self.jobs[l]
                .template
                .block1(self.shares[l].version, &roots[l])
        });
        let b2: [Block; N] = core::array::from_fn(|l| {
            let s = self.shares[l];
            self.jobs[l].template.block2(&roots[l], s.ntime, s.nonce)
        });
        (roots, header_hashes::<L, N>(&b1, &b2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::merkle_root_from_path;
    use crate::sha256d::sha256d;

    fn backends() -> Vec<Backend> {
        let mut v = vec![Backend::portable()];
        v.extend(Backend::sha_ni());
        v
    }

    fn naive(
        prefix: &[u8],
        en: &[u8],
        suffix: &[u8],
        path: &[[u8; 32]],
        h: BlockHeader,
    ) -> [u8; 32] {
        let mut cb = prefix.to_vec();
        cb.extend_from_slice(en);
        cb.extend_from_slice(suffix);
        let merkle_root = merkle_root_from_path(&sha256d(&cb), path);
        BlockHeader { merkle_root, ..h }.hash()
    }

    #[test]
    fn matches_naive_across_block_boundaries() {
        let path: Vec<[u8; 32]> = (0..5u8).map(|i| [i.wrapping_mul(13); 32]).collect();
        let base = BlockHeader {
            version: 0x2000_4000,
            prev_hash: [5; 32],
            merkle_root: [0; 32],
            ntime: 77,
            nbits: 0x1703_0000,
            nonce: 99,
        };
        for backend in backends() {
            for prefix_len in [0usize, 1, 40, 63, 64, 65, 130] {
                for en_len in [0usize, 4, 8, 16, 32] {
                    for suffix_len in [0usize, 1, 54, 55, 56, 64, 120, 200] {
                        let prefix: Vec<u8> = (0..prefix_len).map(|i| i as u8).collect();
                        let suffix: Vec<u8> = (0..suffix_len).map(|i| (i * 3 + 1) as u8).collect();
                        let en: Vec<u8> = (0..en_len).map(|i| (0xa0 + i) as u8).collect();
                        let mut h =
                            ExtendedJobHasher::new(&prefix, &suffix, &path, [5; 32], 0x1703_0000)
                                .with_backend(backend);
                        let expected = naive(&prefix, &en, &suffix, &path, base);
                        let what =
                            format!("{} p{prefix_len} e{en_len} s{suffix_len}", backend.name());
                        assert_eq!(
                            h.hash(&en, base.version, base.ntime, base.nonce),
                            expected,
                            "{what}"
                        );
                        // Second call hits the root cache.
                        assert_eq!(
                            h.hash(&en, base.version, base.ntime, base.nonce),
                            expected,
                            "{what}"
                        );
                        assert_eq!(h.root_cache_stats(), (1, 1));
                        let total = prefix_len + en_len + suffix_len;
                        assert_eq!(
                            h.compressions_per_share(en_len),
                            blocks_for_len(total) - prefix_len / 64 + 1 + 3 * path.len() + 3
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn root_cache_distinguishes_extranonces_and_evicts() {
        let path = [[7u8; 32]; 3];
        let mut h = ExtendedJobHasher::new(&[1; 50], &[2; 70], &path, [3; 32], 0x1d00_ffff);
        let ens: Vec<[u8; 4]> = (0..ROOT_CACHE_SLOTS as u32 + 2)
            .map(|i| i.to_le_bytes())
            .collect();
        for en in &ens {
            assert_eq!(
                h.hash(en, 1, 2, 3),
                h.hash_share(&ExtendedShare {
                    extranonce: en,
                    version: 1,
                    ntime: 2,
                    nonce: 3
                })
            );
        }
        assert_eq!(h.root_cache_stats(), (0, ens.len() as u64));
        // A prefix of a cached extranonce is a different extranonce.
        let short = &ens[ens.len() - 1][..3];
        assert_eq!(
            h.hash(short, 1, 2, 3),
            h.hash_share(&ExtendedShare {
                extranonce: short,
                version: 1,
                ntime: 2,
                nonce: 3
            })
        );
        assert_eq!(h.root_cache_stats().0, 0);
        // The newest full-length entries are still cached, the first is not.
        let last = ens[ens.len() - 1];
        h.hash(&last, 9, 9, 9);
        assert_eq!(h.root_cache_stats().0, 1);
        h.hash(&ens[0], 9, 9, 9);
        assert_eq!(h.root_cache_stats().0, 1);
        // Over-long extranonces are hashed correctly but never cached.
        let long = [0xeeu8; 40];
        for _ in 0..2 {
            assert_eq!(
                h.hash(&long, 1, 2, 3),
                h.hash_share(&ExtendedShare {
                    extranonce: &long,
                    version: 1,
                    ntime: 2,
                    nonce: 3
                })
            );
        }
        assert_eq!(h.root_cache_stats().0, 1);
    }

    #[test]
    fn root_and_txid() {
        let path: Vec<[u8; 32]> = vec![[1; 32], [2; 32]];
        let h = ExtendedJobHasher::new(b"prefix-bytes", b"suffix-bytes", &path, [0; 32], 0);
        let txid = sha256d(b"prefix-bytesENsuffix-bytes");
        assert_eq!(h.coinbase_txid(b"EN"), txid);
        assert_eq!(h.merkle_root(b"EN"), merkle_root_from_path(&txid, &path));
        assert_eq!(h.merkle_depth(), 2);
        assert_eq!(h.header(b"EN", 1, 2, 3).merkle_root, h.merkle_root(b"EN"));
    }
}
