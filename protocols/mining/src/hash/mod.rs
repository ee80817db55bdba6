//! Multi-lane SHA-256 compression back ends.
//!
//! The share hashers run N independent SHA-256 chains in lock-step so that a
//! CPU's SHA unit always has independent work in flight (a single chain is
//! latency-bound: every round depends on the previous one). A [`Backend`] is
//! chosen once at run time:
//!
//! * `sha-ni` (x86-64 with the SHA extensions): our own interleaved kernel
//!   built on `core::arch` intrinsics;
//! * `portable`: one `sha2::compress256` call per lane.
//!
//! Both produce identical results; the tests run every hasher on both.

#[cfg(target_arch = "x86_64")]
mod x86;

use crate::sha256d::{compress, Block, State, PAD_AFTER_64};

/// SHA-256 round constants (FIPS 180-4, 4.2.2).
pub(crate) const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// Message schedule of a constant block with the round constants already
/// added (`W[t] + K[t]` for t in 0..64), computed at compile time.
pub(crate) const fn schedule_plus_k(block: &Block) -> [u32; 64] {
    let mut w = [0u32; 64];
    let mut t = 0;
    while t < 16 {
        w[t] = u32::from_be_bytes([
            block[4 * t],
            block[4 * t + 1],
            block[4 * t + 2],
            block[4 * t + 3],
        ]);
        t += 1;
    }
    while t < 64 {
        let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
        let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16]
            .wrapping_add(s0)
            .wrapping_add(w[t - 7])
            .wrapping_add(s1);
        t += 1;
    }
    let mut t = 0;
    while t < 64 {
        w[t] = w[t].wrapping_add(K[t]);
        t += 1;
    }
    w
}

/// `W + K` for [`PAD_AFTER_64`], the padding block of every merkle node hash.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const PAD_AFTER_64_WK: [u32; 64] = schedule_plus_k(&PAD_AFTER_64);

/// Which SHA-256 implementation the share hashers use.
///
/// Only constructible for implementations the running CPU supports, so a
/// `Backend` value is always safe to use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Backend(Kind);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Portable,
    #[cfg(target_arch = "x86_64")]
    ShaNi,
}

impl Backend {
    /// The fastest implementation available on this CPU.
    pub fn detect() -> Backend {
        Backend::sha_ni().unwrap_or(Backend::portable())
    }

    /// The portable implementation (`sha2::compress256` per lane).
    pub const fn portable() -> Backend {
        Backend(Kind::Portable)
    }

    /// The interleaved SHA-NI kernel, if this CPU has the SHA extensions.
    pub fn sha_ni() -> Option<Backend> {
        #[cfg(target_arch = "x86_64")]
        {
            if x86::available() {
                return Some(Backend(Kind::ShaNi));
            }
        }
        None
    }

    /// Short name for logs and bench output.
    pub fn name(&self) -> &'static str {
        match self.0 {
            Kind::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Kind::ShaNi => "sha-ni",
        }
    }

    /// Compresses `N` independent (state, block) pairs.
    pub fn compress_lanes<const N: usize>(&self, states: &mut [State; N], blocks: &[&Block; N]) {
        match self.0 {
            Kind::Portable => Portable::compress(states, blocks),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a ShaNi backend only exists when the CPU supports it.
            Kind::ShaNi => unsafe { x86::compress_entry(states, blocks) },
        }
    }

    /// Runs `f` with the lane implementation of this backend. The closure is
    /// generic code instantiated per implementation, so inside the SHA-NI
    /// entry everything is compiled with the SHA extensions enabled.
    #[inline]
    pub(crate) fn dispatch<R, F: LaneFn<R>>(&self, f: F) -> R {
        match self.0 {
            Kind::Portable => f.call::<Portable>(),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a ShaNi backend only exists when the CPU supports it.
            Kind::ShaNi => unsafe { x86::dispatch(f) },
        }
    }
}

impl Default for Backend {
    fn default() -> Self {
        Backend::detect()
    }
}

/// N-lane SHA-256 compression. Implementations may only be invoked when the
/// CPU supports them (enforced by [`Backend`]).
pub(crate) trait Lanes {
    /// Compresses `blocks[i]` into `states[i]` for every lane.
    fn compress<const N: usize>(states: &mut [State; N], blocks: &[&Block; N]);
    /// Compresses the constant [`PAD_AFTER_64`] block into every state.
    fn compress_pad64<const N: usize>(states: &mut [State; N]);
}

/// A computation generic over the lane implementation (a poor man's
/// generic closure).
pub(crate) trait LaneFn<R> {
    /// Runs the computation with lane implementation `L`.
    fn call<L: Lanes>(self) -> R;
}

/// `sha2::compress256`, one lane after another.
pub(crate) struct Portable;

impl Lanes for Portable {
    #[inline]
    fn compress<const N: usize>(states: &mut [State; N], blocks: &[&Block; N]) {
        for (state, block) in states.iter_mut().zip(blocks.iter()) {
            compress(state, block);
        }
    }

    #[inline]
    fn compress_pad64<const N: usize>(states: &mut [State; N]) {
        for state in states.iter_mut() {
            compress(state, &PAD_AFTER_64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sha256d::IV;

    fn lanes_agree<const N: usize>(backend: Backend, seed: u8) {
        let blocks: [Block; N] = core::array::from_fn(|l| {
            core::array::from_fn(|i| (i as u8).wrapping_mul(31).wrapping_add(seed ^ l as u8))
        });
        let refs: [&Block; N] = core::array::from_fn(|l| &blocks[l]);
        let mut states: [State; N] = core::array::from_fn(|l| {
            let mut s = IV;
            s[l % 8] ^= l as u32 + 1;
            s
        });
        let mut expected = states;
        for (s, b) in expected.iter_mut().zip(blocks.iter()) {
            compress(s, b);
        }
        backend.compress_lanes(&mut states, &refs);
        assert_eq!(states, expected, "{} x{N}", backend.name());
    }

    #[test]
    fn all_backends_match_sha2() {
        let mut backends = vec![Backend::portable()];
        backends.extend(Backend::sha_ni());
        for b in backends {
            for seed in 0..8 {
                lanes_agree::<1>(b, seed);
                lanes_agree::<2>(b, seed);
                lanes_agree::<3>(b, seed);
                lanes_agree::<4>(b, seed);
                lanes_agree::<8>(b, seed);
            }
        }
    }

    #[test]
    fn pad64_schedule_matches_generic_compression() {
        struct Pad;
        impl LaneFn<[State; 3]> for Pad {
            fn call<L: Lanes>(self) -> [State; 3] {
                let mut s = [IV, [1, 2, 3, 4, 5, 6, 7, 8], [0xffff_ffff; 8]];
                L::compress_pad64(&mut s);
                s
            }
        }
        let mut expected = [IV, [1, 2, 3, 4, 5, 6, 7, 8], [0xffff_ffff; 8]];
        for s in expected.iter_mut() {
            compress(s, &PAD_AFTER_64);
        }
        assert_eq!(Backend::portable().dispatch(Pad), expected);
        if let Some(b) = Backend::sha_ni() {
            assert_eq!(b.dispatch(Pad), expected);
        }
    }

    #[test]
    fn detect_prefers_sha_ni() {
        assert_eq!(
            Backend::detect(),
            Backend::sha_ni().unwrap_or(Backend::portable())
        );
        assert_eq!(Backend::portable().name(), "portable");
    }
}
