//! 256-bit share/block targets in the SV2 convention (little-endian `U256`).
//!
//! A hash meets a target when the hash, read as a little-endian 256-bit
//! number (i.e. the raw SHA-256d output bytes), is less than or equal to the
//! target. Difficulty is expressed relative to the pool "difficulty 1"
//! target `0x00000000FFFF0000...0000`.

use core::cmp::Ordering;
use core::fmt;

/// Four little-endian 64-bit limbs (limb 0 is least significant).
type Limbs = [u64; 4];

/// `DIFF1` as an `f64` (0xFFFF * 2^208). Exactly representable.
const DIFF1_F64: f64 = 65535.0 * 4.113_761_393_303_015e62; // 2^208

/// 2^256 as an `f64`.
const TWO_POW_256: f64 = 1.157_920_892_373_162e77;

/// A 256-bit target stored as little-endian bytes (the SV2 `U256` layout).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target([u8; 32]);

impl Target {
    /// The largest possible target (every hash meets it).
    pub const MAX: Target = Target([0xff; 32]);

    /// The zero target (only an all-zero hash meets it).
    pub const ZERO: Target = Target([0; 32]);

    /// The pool difficulty-1 target, `0x00000000FFFF0000...0000`.
    pub const DIFF1: Target = {
        let mut b = [0u8; 32];
        b[26] = 0xff;
        b[27] = 0xff;
        Target(b)
    };

    /// Builds a target from its little-endian byte representation.
    pub const fn from_le_bytes(b: [u8; 32]) -> Target {
        Target(b)
    }

    /// Returns the little-endian byte representation (SV2 `U256`).
    pub const fn to_le_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Builds a target from big-endian bytes (the usual hex display order).
    pub fn from_be_bytes(mut b: [u8; 32]) -> Target {
        b.reverse();
        Target(b)
    }

    /// Returns the big-endian byte representation (the usual hex display order).
    pub fn to_be_bytes(&self) -> [u8; 32] {
        let mut b = self.0;
        b.reverse();
        b
    }

    /// Decodes Bitcoin's compact `nBits` encoding.
    ///
    /// Returns `None` for encodings Bitcoin Core rejects: a set sign bit with a
    /// non-zero mantissa, or a value that does not fit in 256 bits.
    pub fn from_compact(bits: u32) -> Option<Target> {
        let exponent = bits >> 24;
        let mut mantissa = bits & 0x007f_ffff;
        if exponent <= 3 {
            mantissa >>= 8 * (3 - exponent);
        }
        if mantissa == 0 {
            return Some(Target::ZERO);
        }
        if bits & 0x0080_0000 != 0 {
            return None;
        }
        if exponent <= 3 {
            return Some(from_limbs([u64::from(mantissa), 0, 0, 0]));
        }
        // The significant bytes of the mantissa must stay inside 32 bytes.
        let mantissa_bytes = 4 - mantissa.leading_zeros() / 8;
        if exponent - 3 + mantissa_bytes > 32 {
            return None;
        }
        let mut le = [0u8; 32];
        let shift = (exponent - 3) as usize;
        for (i, byte) in mantissa.to_le_bytes().iter().take(3).enumerate() {
            if let Some(slot) = le.get_mut(shift + i) {
                *slot = *byte;
            }
        }
        Some(Target(le))
    }

    /// Encodes this target in Bitcoin's compact `nBits` form (lossy: keeps
    /// the 3 most significant bytes, rounding down).
    pub fn to_compact(&self) -> u32 {
        let size = 32 - self.0.iter().rev().take_while(|b| **b == 0).count();
        let mut mantissa: u32 = if size <= 3 {
            let low = u32::from_le_bytes([self.0[0], self.0[1], self.0[2], 0]);
            low << (8 * (3 - size))
        } else {
            u32::from_le_bytes([self.0[size - 3], self.0[size - 2], self.0[size - 1], 0])
        };
        let mut size = size as u32;
        // The mantissa is signed: keep bit 23 clear by moving one byte up.
        if mantissa & 0x0080_0000 != 0 {
            mantissa >>= 8;
            size += 1;
        }
        mantissa | (size << 24)
    }

    /// Target for a pool difficulty: `DIFF1 / diff`, clamped to `[1, MAX]`.
    ///
    /// Integer difficulties up to 2^64 are converted exactly; other values go
    /// through `f64` (53 significant bits). Non-positive or NaN difficulties
    /// give [`Target::MAX`].
    pub fn from_difficulty(diff: f64) -> Target {
        if diff.is_nan() || diff <= 0.0 {
            return Target::MAX;
        }
        if diff >= 1.0 && diff.fract() == 0.0 && diff < 18_446_744_073_709_551_616.0 {
            // Exact: integer division of DIFF1 by a u64.
            let divisor = diff as u64;
            let quotient = div_u64(limbs(&Target::DIFF1), divisor);
            return from_limbs(quotient).max(Target::from_limbs_const([1, 0, 0, 0]));
        }
        let t = DIFF1_F64 / diff;
        if t >= TWO_POW_256 {
            return Target::MAX;
        }
        if t < 1.0 {
            return from_limbs([1, 0, 0, 0]);
        }
        from_limbs(f64_to_limbs(t))
    }

    /// Pool difficulty of this target: `DIFF1 / target` (infinite for zero).
    pub fn difficulty(&self) -> f64 {
        let t = limbs_to_f64(&limbs(self));
        if t == 0.0 {
            f64::INFINITY
        } else {
            DIFF1_F64 / t
        }
    }

    /// True when `hash` (raw SHA-256d output, read as a little-endian 256-bit
    /// number) is less than or equal to this target.
    #[inline]
    pub fn is_met_by(&self, hash: &[u8; 32]) -> bool {
        cmp_le(hash, &self.0) != Ordering::Greater
    }

    const fn from_limbs_const(l: Limbs) -> Target {
        let mut out = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            out[i] = (l[i / 8] >> (8 * (i % 8))) as u8;
            i += 1;
        }
        Target(out)
    }
}

impl Ord for Target {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_le(&self.0, &other.0)
    }
}

impl PartialOrd for Target {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({self})")
    }
}

impl fmt::Display for Target {
    /// Big-endian hex, as block explorers show targets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.iter().rev() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl From<[u8; 32]> for Target {
    fn from(b: [u8; 32]) -> Self {
        Target(b)
    }
}

impl From<Target> for [u8; 32] {
    fn from(t: Target) -> Self {
        t.0
    }
}

/// Share-accounting difficulty of a hash: `DIFF1 / hash` (hash read as a
/// little-endian 256-bit number; infinite for an all-zero hash).
pub fn hash_difficulty(hash: &[u8; 32]) -> f64 {
    Target(*hash).difficulty()
}

/// Compares two little-endian 256-bit numbers.
#[inline]
fn cmp_le(a: &[u8; 32], b: &[u8; 32]) -> Ordering {
    let la = limbs_of(a);
    let lb = limbs_of(b);
    la[3]
        .cmp(&lb[3])
        .then(la[2].cmp(&lb[2]))
        .then(la[1].cmp(&lb[1]))
        .then(la[0].cmp(&lb[0]))
}

#[inline]
fn limbs_of(b: &[u8; 32]) -> Limbs {
    let mut out = [0u64; 4];
    for (limb, chunk) in out.iter_mut().zip(b.chunks_exact(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        *limb = u64::from_le_bytes(w);
    }
    out
}

fn limbs(t: &Target) -> Limbs {
    limbs_of(&t.0)
}

fn from_limbs(l: Limbs) -> Target {
    Target::from_limbs_const(l)
}

/// 256-bit by 64-bit long division (quotient only).
fn div_u64(n: Limbs, d: u64) -> Limbs {
    let mut q = [0u64; 4];
    let mut rem: u128 = 0;
    for i in (0..4).rev() {
        let cur = (rem << 64) | u128::from(n[i]);
        q[i] = (cur / u128::from(d)) as u64;
        rem = cur % u128::from(d);
    }
    q
}

fn limbs_to_f64(l: &Limbs) -> f64 {
    // 2^64 is exact in f64; summing from the top keeps rounding minimal.
    const TWO64: f64 = 18_446_744_073_709_551_616.0;
    ((l[3] as f64 * TWO64 + l[2] as f64) * TWO64 + l[1] as f64) * TWO64 + l[0] as f64
}

/// Exact conversion of a finite `f64` in `[1, 2^256)` to 256 bits (truncating
/// the fraction).
fn f64_to_limbs(v: f64) -> Limbs {
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1075; // value = mant * 2^exp
    let mant = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    let mut out = [0u64; 4];
    if exp <= 0 {
        let shift = (-exp) as u32;
        out[0] = if shift >= 64 { 0 } else { mant >> shift };
        return out;
    }
    let exp = exp as u32;
    let word = (exp / 64) as usize;
    let bit = exp % 64;
    let wide = u128::from(mant) << bit;
    if let Some(slot) = out.get_mut(word) {
        *slot = wide as u64;
    }
    if let Some(slot) = out.get_mut(word + 1) {
        *slot = (wide >> 64) as u64;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff1_constant_layout() {
        let be = Target::DIFF1.to_be_bytes();
        assert_eq!(&be[..6], &[0, 0, 0, 0, 0xff, 0xff]);
        assert!(be[6..].iter().all(|b| *b == 0));
        assert_eq!(Target::DIFF1.to_compact(), 0x1d00_ffff);
        assert_eq!(Target::from_compact(0x1d00_ffff), Some(Target::DIFF1));
    }

    #[test]
    fn difficulty_of_diff1_is_one() {
        assert_eq!(Target::DIFF1.difficulty(), 1.0);
        assert_eq!(Target::from_difficulty(1.0), Target::DIFF1);
        assert_eq!(Target::ZERO.difficulty(), f64::INFINITY);
    }

    #[test]
    fn from_difficulty_edges() {
        assert_eq!(Target::from_difficulty(0.0), Target::MAX);
        assert_eq!(Target::from_difficulty(-3.0), Target::MAX);
        assert_eq!(Target::from_difficulty(f64::NAN), Target::MAX);
        assert_eq!(Target::from_difficulty(1e-80), Target::MAX);
        let tiny = Target::from_difficulty(f64::INFINITY);
        assert_eq!(tiny, from_limbs([1, 0, 0, 0]));
        // Half the difficulty doubles the target.
        let half = Target::from_difficulty(0.5);
        assert_eq!(half.to_compact(), 0x1d01_fffe);
    }

    #[test]
    fn exact_integer_difficulty() {
        let t = Target::from_difficulty(1024.0);
        let expected = div_u64(limbs(&Target::DIFF1), 1024);
        assert_eq!(limbs(&t), expected);
        assert_eq!(t.difficulty(), 1024.0);
        // A non-power-of-two integer divides exactly too.
        let t3 = Target::from_difficulty(3.0);
        assert_eq!(limbs(&t3), div_u64(limbs(&Target::DIFF1), 3));
    }

    #[test]
    fn compact_rejects_negative_and_overflow() {
        assert_eq!(Target::from_compact(0x0480_0001), None);
        assert_eq!(Target::from_compact(0x2301_0000), None);
        assert_eq!(
            Target::from_compact(0x2200_0001),
            Some(from_limbs([0, 0, 0, 1 << 56]))
        );
        assert_eq!(Target::from_compact(0x2201_0000), None);
        assert_eq!(Target::from_compact(0x0000_0000), Some(Target::ZERO));
        assert_eq!(Target::from_compact(0x0180_0000), Some(Target::ZERO));
        // Core shifts small mantissas before checking the sign bit.
        assert_eq!(Target::from_compact(0x0180_3456), Some(Target::ZERO));
        assert_eq!(Target::from_compact(0x0280_3456), None);
        assert_eq!(
            Target::from_compact(0x0112_3456),
            Some(from_limbs([0x12, 0, 0, 0]))
        );
        assert_eq!(
            Target::from_compact(0x0212_3456),
            Some(from_limbs([0x1234, 0, 0, 0]))
        );
    }

    #[test]
    fn ordering_is_numeric() {
        let a = from_limbs([u64::MAX, 0, 0, 0]);
        let b = from_limbs([0, 1, 0, 0]);
        assert!(a < b);
        assert!(Target::DIFF1 < Target::MAX);
        assert!(Target::ZERO < a);
    }

    #[test]
    fn is_met_by_boundaries() {
        let t = Target::DIFF1;
        assert!(t.is_met_by(&t.to_le_bytes()));
        let mut above = t.to_le_bytes();
        above[0] = 1;
        assert!(!t.is_met_by(&above));
        let mut below = t.to_le_bytes();
        below[26] = 0xfe;
        assert!(t.is_met_by(&below));
        assert!(Target::MAX.is_met_by(&[0xff; 32]));
    }

    #[test]
    fn hash_difficulty_matches_target_difficulty() {
        assert_eq!(hash_difficulty(&Target::DIFF1.to_le_bytes()), 1.0);
        assert_eq!(hash_difficulty(&[0; 32]), f64::INFINITY);
    }

    #[test]
    fn f64_limb_conversion_exact_powers() {
        assert_eq!(f64_to_limbs(1.0), [1, 0, 0, 0]);
        assert_eq!(f64_to_limbs(2f64.powi(64)), [0, 1, 0, 0]);
        assert_eq!(f64_to_limbs(2f64.powi(255)), [0, 0, 0, 1 << 63]);
        assert_eq!(limbs_to_f64(&[0, 0, 0, 1 << 63]), 2f64.powi(255));
        assert_eq!(DIFF1_F64, limbs_to_f64(&limbs(&Target::DIFF1)));
        assert_eq!(TWO_POW_256, 2f64.powi(256));
    }
}
