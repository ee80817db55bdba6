//! Jobs as the hashing threads see them: header construction, the search space of a job cut
//! into units, and the nonce loop over one unit.
//!
//! A [`JobTemplate`] is protocol-neutral: an SV2 standard job has a fixed merkle root, while an
//! SV2 extended job and an SV1 `mining.notify` carry a coinbase split around the extranonce the
//! miner rolls ([`MerkleSource::Coinbase`]).
//!
//! # Search space
//! Every job offers `2^nonce_bits` nonces per header template; a header template is one
//! (extranonce, version group, ntime) combination. [`SearchSpace::unit`] maps a unit index
//! (handed out by an atomic counter, so threads never repeat work) to:
//! * a chunk of at most [`CHUNK_NONCES`] nonces (fastest-changing),
//! * then the miner's extranonce (a big-endian counter in its trailing bytes),
//! * then the group of rolled versions (when version rolling is allowed),
//! * then `ntime`, rolled forward by at most [`MAX_NTIME_ROLL`] seconds; after that the job is
//!   exhausted.
//!
//! With version rolling, the hasher runs [`VERSION_LANES`] versions of the same nonce side by
//! side (as ASICBoost hardware does), so shares carry rolled version bits from the start.
//! Rolled versions are `job_version ^ spread(i, mask)`, i.e. only bits inside the mask change.

use sv2_mining::header::BlockHeader;
use sv2_mining::merkle::merkle_root_from_path;
use sv2_mining::sha256d::sha256d;
use sv2_mining::share::{StandardJobHasher, StandardShare};
use sv2_mining::target::Target;

/// Most nonces in one unit of work (keeps units short so idle boards get help quickly).
pub const CHUNK_NONCES: u64 = 1 << 20;
/// How far `ntime` is rolled past the job's value before the job counts as exhausted.
pub const MAX_NTIME_ROLL: u32 = 600;
/// Versions hashed side by side for each nonce when version rolling is on.
pub const VERSION_LANES: usize = 4;
/// Shares hashed per call into the SHA-256 batch kernel.
const BATCH: usize = 64;

/// How a job's merkle root is obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MerkleSource {
    /// The pool fixed the merkle root (SV2 standard jobs).
    Fixed([u8; 32]),
    /// The coinbase is `prefix || extranonce || suffix`, folded into the root with `path`.
    Coinbase {
        /// Everything before the miner's extranonce: SV2 `coinbase_tx_prefix` plus the
        /// channel's extranonce prefix, or SV1 `coinb1` plus `extranonce1`.
        prefix: Vec<u8>,
        /// Everything after it: SV2 `coinbase_tx_suffix`, SV1 `coinb2`.
        suffix: Vec<u8>,
        /// Merkle branch of the coinbase (deepest first).
        path: Vec<[u8; 32]>,
        /// Length of the miner-chosen extranonce (SV2 `extranonce_size`, SV1 extranonce2 size).
        extranonce_len: usize,
    },
}

impl MerkleSource {
    /// Length of the extranonce the miner chooses (0 for a fixed root).
    pub fn extranonce_len(&self) -> usize {
        match self {
            MerkleSource::Fixed(_) => 0,
            MerkleSource::Coinbase { extranonce_len, .. } => *extranonce_len,
        }
    }

    /// The serialized (witness-stripped) coinbase for `extranonce`; `None` for a fixed root.
    pub fn coinbase(&self, extranonce: &[u8]) -> Option<Vec<u8>> {
        match self {
            MerkleSource::Fixed(_) => None,
            MerkleSource::Coinbase { prefix, suffix, .. } => {
                let mut tx = Vec::with_capacity(prefix.len() + extranonce.len() + suffix.len());
                tx.extend_from_slice(prefix);
                tx.extend_from_slice(extranonce);
                tx.extend_from_slice(suffix);
                Some(tx)
            }
        }
    }

    /// The merkle root of the block for `extranonce` (ignored for a fixed root).
    pub fn merkle_root(&self, extranonce: &[u8]) -> [u8; 32] {
        match self {
            MerkleSource::Fixed(root) => *root,
            MerkleSource::Coinbase { path, .. } => {
                let txid = self
                    .coinbase(extranonce)
                    .map(|tx| sha256d(&tx))
                    .unwrap_or_default();
                merkle_root_from_path(&txid, path)
            }
        }
    }
}

/// Everything needed to build and hash the block headers of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTemplate {
    /// Block version from the job.
    pub version: u32,
    /// Previous block hash in header (internal) byte order.
    pub prev_hash: [u8; 32],
    /// Compact network target.
    pub nbits: u32,
    /// `ntime` to start from (the job's minimum).
    pub ntime: u32,
    /// Where the merkle root comes from.
    pub merkle: MerkleSource,
    /// Version bits the miner may roll; 0 disables version rolling.
    pub version_mask: u32,
}

impl JobTemplate {
    /// The header a share describes.
    pub fn header(&self, extranonce: &[u8], version: u32, ntime: u32, nonce: u32) -> BlockHeader {
        BlockHeader {
            version,
            prev_hash: self.prev_hash,
            merkle_root: self.merkle.merkle_root(extranonce),
            ntime,
            nbits: self.nbits,
            nonce,
        }
    }

    /// The network target encoded by `nbits` (`None` if `nbits` is not a valid compact target).
    pub fn block_target(&self) -> Option<Target> {
        Target::from_compact(self.nbits)
    }

    /// The `i`-th rolled version: the job version with `i`'s bits spread over the mask and
    /// XOR-ed in (`i = 0` is the job version itself).
    pub fn rolled_version(&self, i: u64) -> u32 {
        self.version ^ spread_bits(i, self.version_mask)
    }
}

/// Deposits the low bits of `value` into the set bits of `mask`, lowest first.
pub fn spread_bits(mut value: u64, mask: u32) -> u32 {
    let mut out = 0u32;
    let mut m = mask;
    while m != 0 && value != 0 {
        let lowest = m & m.wrapping_neg();
        if value & 1 == 1 {
            out |= lowest;
        }
        value >>= 1;
        m &= m - 1;
    }
    out
}

/// Inverse of [`spread_bits`]: gathers the bits of `value` under `mask` into the low bits.
pub fn gather_bits(value: u32, mask: u32) -> u64 {
    let mut out = 0u64;
    let mut bit = 0;
    let mut m = mask;
    while m != 0 {
        let lowest = m & m.wrapping_neg();
        if value & lowest != 0 {
            out |= 1 << bit;
        }
        bit += 1;
        m &= m - 1;
    }
    out
}

/// One unit of work: a header template and a range of nonces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The miner's extranonce (empty for a fixed merkle root).
    pub extranonce: Vec<u8>,
    /// Versions hashed for every nonce (one without version rolling).
    pub versions: Vec<u32>,
    /// Header time.
    pub ntime: u32,
    /// First nonce.
    pub nonce_start: u32,
    /// Number of nonces (at most [`CHUNK_NONCES`]; `nonce_start + nonce_count <= 2^32`).
    pub nonce_count: u64,
}

impl Unit {
    /// Hashes this unit costs in total.
    pub fn hashes(&self) -> u64 {
        self.nonce_count * self.versions.len() as u64
    }
}

/// How a job's search space is numbered; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchSpace {
    chunk_nonces: u64,
    chunks_per_template: u64,
    extranonce_len: usize,
    extranonce_values: u64,
    version_groups: u64,
    lanes: u64,
}

/// Extranonce bytes used as a counter (more would not fit the 64-bit unit index anyway).
const COUNTER_BYTES: usize = 7;

impl SearchSpace {
    /// The search space of `template` with `2^nonce_bits` nonces per header template
    /// (`nonce_bits` is clamped to 1..=32; 32 is the whole nonce field).
    pub fn new(template: &JobTemplate, nonce_bits: u32) -> Self {
        let nonce_bits = nonce_bits.clamp(1, 32);
        let nonces = 1u64 << nonce_bits;
        let chunk_nonces = nonces.min(CHUNK_NONCES);
        let extranonce_len = template.merkle.extranonce_len();
        let extranonce_values = match extranonce_len.min(COUNTER_BYTES) {
            0 => 1,
            n => 1u64 << (8 * n),
        };
        let bits = template.version_mask.count_ones();
        let (lanes, version_groups) = match bits {
            0 => (1, 1),
            1 => (2, 1),
            n => (VERSION_LANES as u64, 1u64 << (n - 2)),
        };
        SearchSpace {
            chunk_nonces,
            chunks_per_template: nonces / chunk_nonces,
            extranonce_len,
            extranonce_values,
            version_groups,
            lanes,
        }
    }

    /// Unit number `index`, or `None` once the job is exhausted.
    pub fn unit(&self, template: &JobTemplate, index: u64) -> Option<Unit> {
        let chunk = index % self.chunks_per_template;
        let t = index / self.chunks_per_template;
        let counter = t % self.extranonce_values;
        let t = t / self.extranonce_values;
        let group = t % self.version_groups;
        let roll = t / self.version_groups;
        let roll = u32::try_from(roll).ok().filter(|r| *r <= MAX_NTIME_ROLL)?;
        let ntime = template.ntime.checked_add(roll)?;
        let mut extranonce = vec![0u8; self.extranonce_len];
        let be = counter.to_be_bytes();
        let used = self.extranonce_len.min(COUNTER_BYTES);
        let (Some(dst), Some(src)) = (
            extranonce.get_mut(self.extranonce_len - used..),
            be.get(be.len() - used..),
        ) else {
            return None;
        };
        dst.copy_from_slice(src);
        let versions = (0..self.lanes)
            .map(|lane| template.rolled_version(group * self.lanes + lane))
            .collect();
        let nonce_start = u32::try_from(chunk * self.chunk_nonces).ok()?;
        Some(Unit {
            extranonce,
            versions,
            ntime,
            nonce_start,
            nonce_count: self.chunk_nonces,
        })
    }
}

/// A header found while searching that meets the target it was searched with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// Full block version.
    pub version: u32,
    /// Header time.
    pub ntime: u32,
    /// Nonce.
    pub nonce: u32,
    /// SHA-256d of the header (internal byte order, compare with [`Target::is_met_by`]).
    pub hash: [u8; 32],
}

/// Prepares the nonce-loop hasher for `unit` of `template`.
pub fn unit_hasher(template: &JobTemplate, unit: &Unit) -> StandardJobHasher {
    let root = template.merkle.merkle_root(&unit.extranonce);
    StandardJobHasher::new(template.prev_hash, root, template.nbits)
}

/// Hashes nonces `unit.nonce_start + offset ..` (`count` of them, clipped to the unit) for
/// every version of the unit, appending headers that meet `target` to `found`. Returns the
/// number of hashes computed. `hasher` must come from [`unit_hasher`] for the same unit.
pub fn hash_range(
    hasher: &mut StandardJobHasher,
    unit: &Unit,
    offset: u64,
    count: u64,
    target: &Target,
    found: &mut Vec<Found>,
) -> u64 {
    let end = offset.saturating_add(count).min(unit.nonce_count);
    let mut shares = [StandardShare::default(); BATCH];
    let mut out = [[0u8; 32]; BATCH];
    let mut hashed = 0u64;
    let mut n = offset;
    let mut filled = 0usize;
    let mut flush = |shares: &[StandardShare], hasher: &mut StandardJobHasher| {
        let k = hasher.hash_batch(shares, &mut out);
        for (s, h) in shares.iter().zip(out.iter()).take(k) {
            if target.is_met_by(h) {
                found.push(Found {
                    version: s.version,
                    ntime: s.ntime,
                    nonce: s.nonce,
                    hash: *h,
                });
            }
        }
        k as u64
    };
    while n < end {
        // nonce_start + n < 2^32 by construction of the unit.
        let nonce = unit.nonce_start.wrapping_add(n as u32);
        for &version in &unit.versions {
            if let Some(slot) = shares.get_mut(filled) {
                *slot = StandardShare {
                    version,
                    ntime: unit.ntime,
                    nonce,
                };
                filled += 1;
            }
            if filled == BATCH {
                hashed += flush(&shares, hasher);
                filled = 0;
            }
        }
        n += 1;
    }
    if filled > 0 {
        hashed += flush(shares.get(..filled).unwrap_or(&[]), hasher);
    }
    hashed
}

#[cfg(test)]
mod tests {
    use super::*;
    use sv2_mining::header::{version_rolling_ok, BIP320_VERSION_MASK};

    fn template(merkle: MerkleSource, mask: u32) -> JobTemplate {
        JobTemplate {
            version: 0x2000_0000,
            prev_hash: [0x11; 32],
            nbits: 0x207f_ffff,
            ntime: 1_700_000_000,
            merkle,
            version_mask: mask,
        }
    }

    #[test]
    fn spread_and_gather_are_inverse() {
        assert_eq!(spread_bits(0, BIP320_VERSION_MASK), 0);
        assert_eq!(spread_bits(1, BIP320_VERSION_MASK), 0x2000);
        assert_eq!(
            spread_bits(0xffff, BIP320_VERSION_MASK),
            BIP320_VERSION_MASK
        );
        // Bits beyond the mask's width are dropped.
        assert_eq!(spread_bits(0x1_0000, BIP320_VERSION_MASK), 0);
        for v in [0u64, 1, 2, 0x1234, 0xffff] {
            assert_eq!(
                gather_bits(spread_bits(v, BIP320_VERSION_MASK), BIP320_VERSION_MASK),
                v
            );
        }
        assert_eq!(spread_bits(0b101, 0b1011_0000), 0b1001_0000);
    }

    #[test]
    fn units_enumerate_nonces_then_extranonce_then_versions_then_ntime() {
        let t = template(
            MerkleSource::Coinbase {
                prefix: vec![1, 2, 3],
                suffix: vec![4, 5],
                path: vec![],
                extranonce_len: 1,
            },
            0x0000_6000, // two bits: one group of 4 versions
        );
        let space = SearchSpace::new(&t, 4);
        let u0 = space.unit(&t, 0).unwrap();
        assert_eq!(u0.nonce_count, 16);
        assert_eq!(u0.nonce_start, 0);
        assert_eq!(u0.extranonce, vec![0]);
        assert_eq!(
            u0.versions,
            vec![0x2000_0000, 0x2000_2000, 0x2000_4000, 0x2000_6000]
        );
        assert_eq!(u0.ntime, t.ntime);
        let u1 = space.unit(&t, 1).unwrap();
        assert_eq!(u1.extranonce, vec![1]);
        assert_eq!(u1.nonce_start, 0);
        let u256 = space.unit(&t, 256).unwrap();
        assert_eq!(u256.extranonce, vec![0]);
        assert_eq!(u256.ntime, t.ntime + 1);
        let last = 256 * (MAX_NTIME_ROLL as u64 + 1);
        assert!(space.unit(&t, last - 1).is_some());
        assert!(space.unit(&t, last).is_none());
        for u in [u0, u1, u256] {
            for v in &u.versions {
                assert!(version_rolling_ok(t.version, *v, t.version_mask));
            }
        }
    }

    #[test]
    fn full_nonce_range_is_cut_into_chunks() {
        let t = template(MerkleSource::Fixed([7; 32]), 0);
        let space = SearchSpace::new(&t, 32);
        let per = (1u64 << 32) / CHUNK_NONCES;
        let u = space.unit(&t, per - 1).unwrap();
        assert_eq!(u.nonce_start as u64 + u.nonce_count, 1 << 32);
        assert_eq!(u.versions, vec![t.version]);
        assert!(u.extranonce.is_empty());
        assert_eq!(space.unit(&t, per).unwrap().ntime, t.ntime + 1);
    }

    #[test]
    fn bip320_mask_gives_many_version_groups() {
        let t = template(MerkleSource::Fixed([7; 32]), BIP320_VERSION_MASK);
        let space = SearchSpace::new(&t, 1);
        // 2 nonces per template, 4 versions per group, 2^14 groups before ntime rolls.
        let a = space.unit(&t, 0).unwrap();
        let b = space.unit(&t, 1).unwrap();
        assert_eq!(a.versions.len(), VERSION_LANES);
        assert_ne!(a.versions, b.versions);
        let wrap = space.unit(&t, 1 << 14).unwrap();
        assert_eq!(wrap.versions, a.versions);
        assert_eq!(wrap.ntime, t.ntime + 1);
    }

    #[test]
    fn long_extranonces_use_a_trailing_counter() {
        let t = template(
            MerkleSource::Coinbase {
                prefix: vec![],
                suffix: vec![],
                path: vec![],
                extranonce_len: 12,
            },
            0,
        );
        let space = SearchSpace::new(&t, 1);
        let u = space.unit(&t, 0x0102_0304).unwrap();
        assert_eq!(u.extranonce.len(), 12);
        assert_eq!(&u.extranonce[..5], &[0; 5]);
        assert_eq!(&u.extranonce[5..], &[0, 0, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn hash_range_reports_exactly_the_hashes_meeting_the_target() {
        let t = template(MerkleSource::Fixed([9; 32]), BIP320_VERSION_MASK);
        let space = SearchSpace::new(&t, 8);
        let unit = space.unit(&t, 3).unwrap();
        let mut hasher = unit_hasher(&t, &unit);
        // Difficulty 2^-31 accepts about half of all hashes.
        let target = Target::from_difficulty(1.0 / (1u64 << 31) as f64);
        let mut found = Vec::new();
        let n = hash_range(&mut hasher, &unit, 0, 1000, &target, &mut found);
        assert_eq!(n, unit.hashes());
        assert!(!found.is_empty() && (found.len() as u64) < n);
        // Recount independently with plain header hashing.
        let mut expected = 0;
        for nonce in unit.nonce_start..unit.nonce_start + unit.nonce_count as u32 {
            for &v in &unit.versions {
                let h = t.header(&unit.extranonce, v, unit.ntime, nonce).hash();
                if target.is_met_by(&h) {
                    expected += 1;
                    assert!(found
                        .iter()
                        .any(|f| f.nonce == nonce && f.version == v && f.hash == h));
                }
            }
        }
        assert_eq!(found.len(), expected);
        // Split ranges give the same result.
        let mut parts = Vec::new();
        let mut hasher = unit_hasher(&t, &unit);
        let a = hash_range(&mut hasher, &unit, 0, 100, &target, &mut parts);
        let b = hash_range(&mut hasher, &unit, 100, u64::MAX, &target, &mut parts);
        assert_eq!(a + b, n);
        assert_eq!(parts, found);
    }
}
