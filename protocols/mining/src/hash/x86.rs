//! Interleaved SHA-256 compression with the x86 SHA extensions.
//!
//! `sha256rnds2` performs two rounds on a state split across two registers
//! (`ABEF` and `CDGH`, A in the top dword). One chain issues a dependent
//! `sha256rnds2` every few cycles; N chains in lock-step issue N independent
//! ones, filling the unit's pipeline.

use core::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_blend_epi16, _mm_loadu_si128, _mm_set_epi64x,
    _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32, _mm_shuffle_epi32,
    _mm_shuffle_epi8, _mm_storeu_si128,
};

use super::{LaneFn, Lanes, K, PAD_AFTER_64_WK};
use crate::sha256d::{Block, State};

/// True when the CPU has every extension the kernel uses.
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("sha")
        && std::arch::is_x86_feature_detected!("sse2")
        && std::arch::is_x86_feature_detected!("ssse3")
        && std::arch::is_x86_feature_detected!("sse4.1")
}

/// Lane implementation backed by the SHA extensions. Private to this module:
/// it is only ever instantiated through [`dispatch`], whose caller has
/// checked [`available`].
struct ShaNi;

impl Lanes for ShaNi {
    #[inline(always)]
    fn compress<const N: usize>(states: &mut [State; N], blocks: &[&Block; N]) {
        // SAFETY: ShaNi is only reachable through `dispatch`/`compress_entry`,
        // whose callers guarantee the CPU features (see `Backend`).
        unsafe { compress_n(states, blocks) }
    }

    #[inline(always)]
    fn compress_pad64<const N: usize>(states: &mut [State; N]) {
        // SAFETY: as above.
        unsafe { compress_const_n(states, &PAD_AFTER_64_WK) }
    }
}

/// Runs `f` with the SHA-NI lanes, compiled with the SHA extensions enabled.
///
/// # Safety
/// The CPU must support the features checked by [`available`].
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub(super) unsafe fn dispatch<R, F: LaneFn<R>>(f: F) -> R {
    f.call::<ShaNi>()
}

/// Compresses N lanes.
///
/// # Safety
/// The CPU must support the features checked by [`available`].
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub(super) unsafe fn compress_entry<const N: usize>(states: &mut [State; N], blocks: &[&Block; N]) {
    compress_n(states, blocks)
}

/// Converts `[A..H]` into the `(ABEF, CDGH)` register pair.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn load_state(s: &State) -> (__m128i, __m128i) {
    let abcd = _mm_loadu_si128(s.as_ptr().cast());
    let efgh = _mm_loadu_si128(s.as_ptr().add(4).cast());
    let badc = _mm_shuffle_epi32::<0xB1>(abcd);
    let hgfe = _mm_shuffle_epi32::<0x1B>(efgh);
    (
        _mm_alignr_epi8::<8>(badc, hgfe),
        _mm_blend_epi16::<0xF0>(hgfe, badc),
    )
}

/// Inverse of [`load_state`].
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn store_state(s: &mut State, abef: __m128i, cdgh: __m128i) {
    let abef_r = _mm_shuffle_epi32::<0x1B>(abef);
    let ghcd = _mm_shuffle_epi32::<0xB1>(cdgh);
    _mm_storeu_si128(s.as_mut_ptr().cast(), _mm_blend_epi16::<0xF0>(abef_r, ghcd));
    _mm_storeu_si128(
        s.as_mut_ptr().add(4).cast(),
        _mm_alignr_epi8::<8>(ghcd, abef_r),
    );
}

/// Next four schedule words from the previous sixteen (oldest group first).
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn schedule(w0: __m128i, w1: __m128i, w2: __m128i, w3: __m128i) -> __m128i {
    let partial = _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8::<4>(w3, w2));
    _mm_sha256msg2_epu32(partial, w3)
}

/// Four rounds with a precomputed `W + K` vector.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn rounds4(abef: &mut __m128i, cdgh: &mut __m128i, wk: __m128i) {
    *cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, wk);
    *abef = _mm_sha256rnds2_epu32(*abef, *cdgh, _mm_shuffle_epi32::<0x0E>(wk));
}

#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn k4(group: usize) -> __m128i {
    _mm_loadu_si128(K.as_ptr().add(4 * group).cast())
}

/// N independent compressions, interleaved round group by round group.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn compress_n<const N: usize>(states: &mut [State; N], blocks: &[&Block; N]) {
    let bswap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
    let mut abef = [bswap; N];
    let mut cdgh = [bswap; N];
    let mut w = [[bswap; 4]; N];
    for l in 0..N {
        (abef[l], cdgh[l]) = load_state(&states[l]);
        let p: *const __m128i = blocks[l].as_ptr().cast();
        for (q, slot) in w[l].iter_mut().enumerate() {
            *slot = _mm_shuffle_epi8(_mm_loadu_si128(p.add(q)), bswap);
        }
    }
    let saved = (abef, cdgh);

    // Groups 0..4 use the message words directly.
    macro_rules! first {
        ($g:literal) => {{
            let k = k4($g);
            for l in 0..N {
                rounds4(&mut abef[l], &mut cdgh[l], _mm_add_epi32(w[l][$g], k));
            }
        }};
    }
    // Later groups extend the schedule in the ring slot `$a` (oldest) using
    // the slots `$b`, `$c`, `$d` (newer to newest).
    macro_rules! later {
        ($g:literal, $a:literal, $b:literal, $c:literal, $d:literal) => {{
            let k = k4($g);
            for l in 0..N {
                let next = schedule(w[l][$a], w[l][$b], w[l][$c], w[l][$d]);
                w[l][$a] = next;
                rounds4(&mut abef[l], &mut cdgh[l], _mm_add_epi32(next, k));
            }
        }};
    }
    first!(0);
    first!(1);
    first!(2);
    first!(3);
    later!(4, 0, 1, 2, 3);
    later!(5, 1, 2, 3, 0);
    later!(6, 2, 3, 0, 1);
    later!(7, 3, 0, 1, 2);
    later!(8, 0, 1, 2, 3);
    later!(9, 1, 2, 3, 0);
    later!(10, 2, 3, 0, 1);
    later!(11, 3, 0, 1, 2);
    later!(12, 0, 1, 2, 3);
    later!(13, 1, 2, 3, 0);
    later!(14, 2, 3, 0, 1);
    later!(15, 3, 0, 1, 2);

    for l in 0..N {
        let a = _mm_add_epi32(abef[l], saved.0[l]);
        let c = _mm_add_epi32(cdgh[l], saved.1[l]);
        store_state(&mut states[l], a, c);
    }
}

/// N compressions of the same constant block, given its `W + K` schedule.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn compress_const_n<const N: usize>(states: &mut [State; N], wk: &[u32; 64]) {
    let zero = _mm_set_epi64x(0, 0);
    let mut abef = [zero; N];
    let mut cdgh = [zero; N];
    for l in 0..N {
        (abef[l], cdgh[l]) = load_state(&states[l]);
    }
    let saved = (abef, cdgh);
    let p: *const __m128i = wk.as_ptr().cast();
    for g in 0..16 {
        let v = _mm_loadu_si128(p.add(g));
        for l in 0..N {
            rounds4(&mut abef[l], &mut cdgh[l], v);
        }
    }
    for l in 0..N {
        let a = _mm_add_epi32(abef[l], saved.0[l]);
        let c = _mm_add_epi32(cdgh[l], saved.1[l]);
        store_state(&mut states[l], a, c);
    }
}
