//! Per-job share hashers: the hot path of share validation.
//!
//! Both hashers precompute everything that is fixed for a job so that each
//! share costs only the SHA-256 compressions its variable bytes force, with
//! no heap allocation:
//!
//! * [`StandardJobHasher`] (standard channels, merkle root fixed per job):
//!   the first 64 header bytes depend only on the version, so the state after
//!   them is cached per version. A share costs
//!   [`StandardJobHasher::COMPRESSIONS_CACHE_HIT`] (= 2: the second header
//!   block and the second SHA-256) or
//!   [`StandardJobHasher::COMPRESSIONS_CACHE_MISS`] (= 3).
//! * [`ExtendedJobHasher`] (extended channels, coinbase
//!   `prefix || extranonce || suffix`): the state after the whole 64-byte
//!   blocks of the fixed prefix is cached; per share it compresses the rest of
//!   the coinbase, the txid's second hash, 3 compressions per merkle level,
//!   and 3 for the header; see [`ExtendedJobHasher::compressions_per_share`].
//!
//! The `*_batch` functions hash several shares in lock-step (up to
//! [`BATCH_LANES`] independent SHA-256 chains interleaved), which is several
//! times faster per share on CPUs with SHA extensions.

use crate::hash::{Backend, LaneFn, Lanes};
use crate::header::BlockHeader;
use crate::sha256d::{
    blocks_for_len, compress, state_to_bytes, Block, State, IV, SECOND_HASH_TEMPLATE,
};

/// Number of shares hashed in lock-step by the batch functions.
pub const BATCH_LANES: usize = 4;

/// Versions whose first-block midstate a [`StandardJobHasher`] keeps.
pub const VERSION_CACHE_SLOTS: usize = 8;

/// Padding bytes of the second header block: message length 80 bytes.
const HEADER_BLOCK2_TEMPLATE: Block = {
    let mut b = [0u8; 64];
    b[16] = 0x80;
    b[62] = 0x02; // 640 bits = 0x0280
    b[63] = 0x80;
    b
};

/// The header's first block without version: `prev_hash` at 4..36.
fn header_block1(prev_hash: &[u8; 32]) -> Block {
    let mut b = [0u8; 64];
    b[4..36].copy_from_slice(prev_hash);
    b
}

/// Second header block template with `nbits` in place.
fn header_block2(nbits: u32) -> Block {
    let mut b = HEADER_BLOCK2_TEMPLATE;
    b[8..12].copy_from_slice(&nbits.to_le_bytes());
    b
}

/// Writes the per-share fields of the second header block.
#[inline(always)]
fn fill_block2(b: &mut Block, ntime: u32, nonce: u32) {
    b[4..8].copy_from_slice(&ntime.to_le_bytes());
    b[12..16].copy_from_slice(&nonce.to_le_bytes());
}

/// Second SHA-256 over N first-hash states.
#[inline(always)]
fn finish_lanes<L: Lanes, const N: usize>(first: &[State; N]) -> [[u8; 32]; N] {
    let blocks: [Block; N] = core::array::from_fn(|l| {
        let mut b = SECOND_HASH_TEMPLATE;
        b[..32].copy_from_slice(&state_to_bytes(&first[l]));
        b
    });
    let refs: [&Block; N] = core::array::from_fn(|l| &blocks[l]);
    let mut st = [IV; N];
    L::compress(&mut st, &refs);
    core::array::from_fn(|l| state_to_bytes(&st[l]))
}

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
    /// `version || prev_hash || merkle_root[..28]`, version rewritten on a miss.
    block1: Block,
    /// `merkle_root[28..] || ntime || nbits || nonce || padding`.
    block2: Block,
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
        let mut block1 = header_block1(&prev_hash);
        block1[36..64].copy_from_slice(&merkle_root[..28]);
        let mut block2 = header_block2(nbits);
        block2[..4].copy_from_slice(&merkle_root[28..]);
        StandardJobHasher {
            prev_hash,
            merkle_root,
            nbits,
            block1,
            block2,
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
        self.block1[..4].copy_from_slice(&version.to_le_bytes());
        let mut state = IV;
        compress(&mut state, &self.block1);
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

    /// SHA-256d of the share's header (compare with [`crate::target::Target::is_met_by`]).
    pub fn hash(&mut self, version: u32, ntime: u32, nonce: u32) -> [u8; 32] {
        let [h] = self.hash_lanes::<1>(&[StandardShare {
            version,
            ntime,
            nonce,
        }]);
        h
    }

    /// Hashes `shares` into `out` (lock-step, [`BATCH_LANES`] at a time).
    /// Processes `min(shares.len(), out.len())` shares and returns that count.
    pub fn hash_batch(&mut self, shares: &[StandardShare], out: &mut [[u8; 32]]) -> usize {
        let n = shares.len().min(out.len());
        let mut chunks_in = shares.chunks(BATCH_LANES);
        let mut chunks_out = out.chunks_mut(BATCH_LANES);
        let mut done = 0;
        while done < n {
            let (Some(inp), Some(outp)) = (chunks_in.next(), chunks_out.next()) else {
                break;
            };
            let w = inp.len().min(outp.len());
            match (inp, &mut *outp) {
                ([a, b, c, d, ..], [o0, o1, o2, o3, ..]) => {
                    [*o0, *o1, *o2, *o3] = self.hash_lanes::<4>(&[*a, *b, *c, *d]);
                }
                ([a, b, c, ..], [o0, o1, o2, ..]) => {
                    [*o0, *o1, *o2] = self.hash_lanes::<3>(&[*a, *b, *c]);
                }
                ([a, b, ..], [o0, o1, ..]) => {
                    [*o0, *o1] = self.hash_lanes::<2>(&[*a, *b]);
                }
                ([a, ..], [o0, ..]) => {
                    [*o0] = self.hash_lanes::<1>(&[*a]);
                }
                _ => {}
            }
            done += w;
        }
        n
    }

    fn hash_lanes<const N: usize>(&mut self, shares: &[StandardShare; N]) -> [[u8; 32]; N] {
        let mids: [State; N] = core::array::from_fn(|l| self.midstate(shares[l].version));
        let blocks: [Block; N] = core::array::from_fn(|l| {
            let mut b = self.block2;
            fill_block2(&mut b, shares[l].ntime, shares[l].nonce);
            b
        });
        self.backend.dispatch(StandardLanes { mids, blocks })
    }
}

struct StandardLanes<const N: usize> {
    mids: [State; N],
    blocks: [Block; N],
}

impl<const N: usize> LaneFn<[[u8; 32]; N]> for StandardLanes<N> {
    #[inline(always)]
    fn call<L: Lanes>(self) -> [[u8; 32]; N] {
        let mut st = self.mids;
        let refs: [&Block; N] = core::array::from_fn(|l| &self.blocks[l]);
        L::compress(&mut st, &refs);
        finish_lanes::<L, N>(&st)
    }
}

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

/// Hashes shares of one extended-channel job:
/// coinbase = `fixed_prefix || extranonce || coinbase_suffix`.
#[derive(Clone, Debug)]
pub struct ExtendedJobHasher {
    /// State after the whole 64-byte blocks of the fixed prefix.
    cb_mid: State,
    /// Bytes of the prefix absorbed into `cb_mid`.
    cb_consumed: usize,
    /// Remaining prefix bytes (< 64).
    prefix_tail: Block,
    prefix_tail_len: usize,
    suffix: Vec<u8>,
    path: Vec<[u8; 32]>,
    prev_hash: [u8; 32],
    nbits: u32,
    block1: Block,
    block2: Block,
    backend: Backend,
}

/// Copies the part of `seg` (placed at stream offset `seg_start`) that falls
/// inside the 64-byte block starting at stream offset `block_start`.
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
        let (cb_mid, cb_consumed) = crate::sha256d::midstate(fixed_prefix);
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
            block1: header_block1(&prev_hash),
            block2: header_block2(nbits),
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

    /// Compressions hashing one share costs: the coinbase blocks after the
    /// cached prefix, 1 for the txid's second hash, 3 per merkle level and 3
    /// for the header (two blocks plus the second hash).
    pub fn compressions_per_share(&self, extranonce_len: usize) -> usize {
        self.tail_blocks(extranonce_len) + 1 + 3 * self.path.len() + 3
    }

    /// Coinbase compressions per share (after the cached midstate).
    fn tail_blocks(&self, extranonce_len: usize) -> usize {
        let total = self.cb_consumed + self.prefix_tail_len + extranonce_len + self.suffix.len();
        blocks_for_len(total) - self.cb_consumed / 64
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
        if (start..start + 64).contains(&msg_len) {
            buf[msg_len - start] = 0x80;
        }
        let total_blocks = (msg_len + 9).div_ceil(64);
        if i + 1 == total_blocks {
            let bits = ((self.cb_consumed + msg_len) as u64) * 8;
            buf[56..].copy_from_slice(&bits.to_be_bytes());
        }
        None
    }

    /// Shape that decides whether two shares can run in lock-step.
    fn shape(&self, extranonce_len: usize) -> (usize, usize) {
        (self.tail_blocks(extranonce_len), self.path.len())
    }

    /// Merkle root of the job's block for `extranonce`.
    pub fn merkle_root(&self, extranonce: &[u8]) -> [u8; 32] {
        let share = ExtendedShare {
            extranonce,
            ..ExtendedShare::default()
        };
        let [root] = self.backend.dispatch(ExtendedLanes::<1> {
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
    pub fn hash(&mut self, extranonce: &[u8], version: u32, ntime: u32, nonce: u32) -> [u8; 32] {
        self.hash_share(&ExtendedShare {
            extranonce,
            version,
            ntime,
            nonce,
        })
    }

    /// SHA-256d of the share's header (shared-reference form of [`Self::hash`]).
    pub fn hash_share(&self, share: &ExtendedShare<'_>) -> [u8; 32] {
        let [h] = self.backend.dispatch(ExtendedLanes::<1> {
            jobs: [self],
            shares: [share],
            roots_only: false,
        });
        h
    }

    /// Hashes `shares` of this job into `out`, [`BATCH_LANES`] in lock-step.
    /// Processes `min(shares.len(), out.len())` shares and returns that count.
    pub fn hash_batch(&self, shares: &[ExtendedShare<'_>], out: &mut [[u8; 32]]) -> usize {
        run_extended(shares.len(), |i| (self, shares.get(i)), out)
    }
}

/// Hashes shares of possibly different extended jobs into `out`, running
/// consecutive shares of equal shape (coinbase block count and merkle depth)
/// in lock-step. Processes `min(items.len(), out.len())` shares and returns
/// that count.
pub fn hash_extended_batch(
    items: &[(&ExtendedJobHasher, ExtendedShare<'_>)],
    out: &mut [[u8; 32]],
) -> usize {
    match items.first() {
        Some((first, _)) => run_extended(
            items.len(),
            |i| match items.get(i) {
                Some((job, share)) => (*job, Some(share)),
                None => (*first, None),
            },
            out,
        ),
        None => 0,
    }
}

fn run_extended<'a, F>(count: usize, get: F, out: &mut [[u8; 32]]) -> usize
where
    F: Fn(usize) -> (&'a ExtendedJobHasher, Option<&'a ExtendedShare<'a>>),
{
    let n = count.min(out.len());
    let mut i = 0;
    while i < n {
        let (job0, Some(share0)) = get(i) else { break };
        let shape0 = job0.shape(share0.extranonce.len());
        let mut jobs = [job0; BATCH_LANES];
        let mut shares = [share0; BATCH_LANES];
        let mut w = 1;
        while w < BATCH_LANES && i + w < n {
            match get(i + w) {
                (job, Some(share)) if job.shape(share.extranonce.len()) == shape0 => {
                    jobs[w] = job;
                    shares[w] = share;
                    w += 1;
                }
                _ => break,
            }
        }
        let backend = job0.backend;
        let Some(dst) = out.get_mut(i..i + w) else {
            break;
        };
        match dst {
            [o0, o1, o2, o3] => {
                [*o0, *o1, *o2, *o3] = backend.dispatch(ExtendedLanes::<4> {
                    jobs: [jobs[0], jobs[1], jobs[2], jobs[3]],
                    shares: [shares[0], shares[1], shares[2], shares[3]],
                    roots_only: false,
                });
            }
            [o0, o1, o2] => {
                [*o0, *o1, *o2] = backend.dispatch(ExtendedLanes::<3> {
                    jobs: [jobs[0], jobs[1], jobs[2]],
                    shares: [shares[0], shares[1], shares[2]],
                    roots_only: false,
                });
            }
            [o0, o1] => {
                [*o0, *o1] = backend.dispatch(ExtendedLanes::<2> {
                    jobs: [jobs[0], jobs[1]],
                    shares: [shares[0], shares[1]],
                    roots_only: false,
                });
            }
            [o0] => {
                [*o0] = backend.dispatch(ExtendedLanes::<1> {
                    jobs: [jobs[0]],
                    shares: [shares[0]],
                    roots_only: false,
                });
            }
            _ => break,
        }
        i += w;
    }
    i
}

/// N shares of equal shape through the extended pipeline.
struct ExtendedLanes<'a, const N: usize> {
    jobs: [&'a ExtendedJobHasher; N],
    shares: [&'a ExtendedShare<'a>; N],
    /// Stop after the merkle root (returned instead of the header hash).
    roots_only: bool,
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
        let refs: [&Block; N] = core::array::from_fn(|l| direct[l].unwrap_or(&bufs[l]));
        L::compress(&mut st, &refs);
    }
    finish_lanes::<L, N>(&st)
}

/// Folds N lanes' nodes up their (equal-depth) merkle paths.
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
        let refs: [&Block; N] = core::array::from_fn(|l| &blocks[l]);
        let mut st = [IV; N];
        L::compress(&mut st, &refs);
        L::compress_pad64(&mut st);
        nodes = finish_lanes::<L, N>(&st);
    }
    nodes
}

impl<const N: usize> LaneFn<[[u8; 32]; N]> for ExtendedLanes<'_, N> {
    #[inline(always)]
    fn call<L: Lanes>(self) -> [[u8; 32]; N] {
        let ens: [&[u8]; N] = core::array::from_fn(|l| self.shares[l].extranonce);
        let txids = coinbase_txids::<L, N>(&self.jobs, &ens);
        let roots = fold_paths::<L, N>(&self.jobs, txids);
        if self.roots_only {
            return roots;
        }
        let b1: [Block; N] = core::array::from_fn(|l| {
            let mut b = self.jobs[l].block1;
            b[..4].copy_from_slice(&self.shares[l].version.to_le_bytes());
            b[36..].copy_from_slice(&roots[l][..28]);
            b
        });
        let b2: [Block; N] = core::array::from_fn(|l| {
            let mut b = self.jobs[l].block2;
            b[..4].copy_from_slice(&roots[l][28..]);
            fill_block2(&mut b, self.shares[l].ntime, self.shares[l].nonce);
            b
        });
        let mut st = [IV; N];
        L::compress(&mut st, &core::array::from_fn(|l| &b1[l]));
        L::compress(&mut st, &core::array::from_fn(|l| &b2[l]));
        finish_lanes::<L, N>(&st)
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

    #[test]
    fn standard_matches_naive_and_caches() {
        for backend in backends() {
            let mut h = StandardJobHasher::new([3; 32], [4; 32], 0x1703_4219).with_backend(backend);
            for (i, version) in [0x2000_0000u32, 0x2000_2000, 0x2000_0000, 0x2fff_e000]
                .iter()
                .enumerate()
            {
                let got = h.hash(*version, 1_700_000_000 + i as u32, i as u32 * 77);
                let naive = sha256d(
                    &h.header(*version, 1_700_000_000 + i as u32, i as u32 * 77)
                        .to_bytes(),
                );
                assert_eq!(got, naive, "{}", backend.name());
            }
            assert_eq!(h.cache_stats(), (1, 3));
        }
    }

    #[test]
    fn standard_cache_evicts_round_robin() {
        let mut h = StandardJobHasher::new([1; 32], [2; 32], 0x1d00_ffff);
        for v in 0..(VERSION_CACHE_SLOTS as u32 + 3) {
            let got = h.hash(v << 13, 5, 6);
            assert_eq!(got, sha256d(&h.header(v << 13, 5, 6).to_bytes()));
        }
        // Versions 0..3 were evicted; the newest are still cached.
        let (hits, misses) = h.cache_stats();
        assert_eq!((hits, misses), (0, VERSION_CACHE_SLOTS as u64 + 3));
        h.hash(10 << 13, 0, 0);
        assert_eq!(h.cache_stats().0, 1);
        h.hash(0, 0, 0);
        assert_eq!(h.cache_stats(), (1, VERSION_CACHE_SLOTS as u64 + 4));
    }

    #[test]
    fn standard_batch_matches_single() {
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
                assert_eq!(
                    *o,
                    sha256d(&h.header(s.version, s.ntime, s.nonce).to_bytes())
                );
            }
            // Short output buffer: only that many are hashed.
            let mut short = vec![[0u8; 32]; 5];
            assert_eq!(h.hash_batch(&shares, &mut short), 5);
            assert_eq!(&short[..], &out[..5]);
        }
    }

    fn naive_extended(
        prefix: &[u8],
        en: &[u8],
        suffix: &[u8],
        path: &[[u8; 32]],
        prev: [u8; 32],
        nbits: u32,
        s: (u32, u32, u32),
    ) -> [u8; 32] {
        let mut cb = prefix.to_vec();
        cb.extend_from_slice(en);
        cb.extend_from_slice(suffix);
        let root = merkle_root_from_path(&sha256d(&cb), path);
        let header = BlockHeader {
            version: s.0,
            prev_hash: prev,
            merkle_root: root,
            ntime: s.1,
            nbits,
            nonce: s.2,
        };
        sha256d(&header.to_bytes())
    }

    #[test]
    fn extended_matches_naive_across_lengths() {
        let path: Vec<[u8; 32]> = (0..5u8).map(|i| [i.wrapping_mul(13); 32]).collect();
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
                        let expected = naive_extended(
                            &prefix,
                            &en,
                            &suffix,
                            &path,
                            [5; 32],
                            0x1703_0000,
                            (0x2000_4000, 77, 99),
                        );
                        assert_eq!(
                            h.hash(&en, 0x2000_4000, 77, 99),
                            expected,
                            "{} p{prefix_len} e{en_len} s{suffix_len}",
                            backend.name()
                        );
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
    fn extended_batch_mixed_shapes_and_jobs() {
        let path_a: Vec<[u8; 32]> = (0..12u8).map(|i| [i; 32]).collect();
        let path_b: Vec<[u8; 32]> = (0..3u8).map(|i| [i + 100; 32]).collect();
        let ja = ExtendedJobHasher::new(&[1u8; 90], &[2u8; 160], &path_a, [7; 32], 0x1702_0000);
        let jb = ExtendedJobHasher::new(&[3u8; 20], &[4u8; 30], &path_b, [8; 32], 0x1702_0001);
        for backend in backends() {
            let ja = ja.clone().with_backend(backend);
            let jb = jb.clone().with_backend(backend);
            let ens: Vec<[u8; 8]> = (0..13u64).map(|i| i.to_le_bytes()).collect();
            let items: Vec<(&ExtendedJobHasher, ExtendedShare)> = ens
                .iter()
                .enumerate()
                .map(|(i, en)| {
                    let job = if i % 5 < 3 { &ja } else { &jb };
                    let len = if i == 7 { 4 } else { 8 };
                    (
                        job,
                        ExtendedShare {
                            extranonce: &en[..len],
                            version: 0x2000_0000 | (i as u32) << 13,
                            ntime: i as u32,
                            nonce: !(i as u32),
                        },
                    )
                })
                .collect();
            let mut out = vec![[0u8; 32]; items.len()];
            assert_eq!(hash_extended_batch(&items, &mut out), items.len());
            for ((job, s), o) in items.iter().zip(&out) {
                assert_eq!(*o, job.hash_share(s));
                assert_eq!(
                    *o,
                    sha256d(
                        &job.header(s.extranonce, s.version, s.ntime, s.nonce)
                            .to_bytes()
                    )
                );
            }
            let same: Vec<ExtendedShare> = items.iter().map(|(_, s)| *s).collect();
            let mut out2 = vec![[0u8; 32]; same.len()];
            assert_eq!(ja.hash_batch(&same, &mut out2), same.len());
            for (s, o) in same.iter().zip(&out2) {
                assert_eq!(*o, ja.hash_share(s));
            }
        }
        assert_eq!(hash_extended_batch(&[], &mut []), 0);
    }

    #[test]
    fn extended_root_and_txid() {
        let path: Vec<[u8; 32]> = vec![[1; 32], [2; 32]];
        let h = ExtendedJobHasher::new(b"prefix-bytes", b"suffix-bytes", &path, [0; 32], 0);
        let txid = sha256d(b"prefix-bytesENsuffix-bytes");
        assert_eq!(h.coinbase_txid(b"EN"), txid);
        assert_eq!(h.merkle_root(b"EN"), merkle_root_from_path(&txid, &path));
        assert_eq!(h.merkle_depth(), 2);
    }
}
