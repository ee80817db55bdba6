//! Share validation must not touch the heap: a counting global allocator
//! watches every per-share call after the per-job setup.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use sv2_mining::hash::Backend;
use sv2_mining::share::{
    hash_extended_batch, ExtendedJobHasher, ExtendedShare, StandardJobHasher, StandardShare,
};
use sv2_mining::target::{hash_difficulty, Target};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only allocations made by the measuring thread while armed count.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

fn note_allocation() {
    if ARMED.with(|a| a.get()) {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations performed by `f` on this thread.
fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn per_share_hashing_does_not_allocate() {
    // Sanity check: the counter sees allocations at all.
    assert!(allocations_during(|| drop(std::hint::black_box(vec![1u8; 10]))) > 0);

    let path: Vec<[u8; 32]> = (0..12u8).map(|i| [i; 32]).collect();
    let prefix = vec![0x11u8; 70];
    let suffix = vec![0x22u8; 170];
    let target = Target::from_difficulty(1.0);
    let mut backends = vec![Backend::portable()];
    backends.extend(Backend::sha_ni());

    for backend in backends {
        // Per-job setup may allocate.
        let mut standard =
            StandardJobHasher::new([1; 32], [2; 32], 0x1703_0000).with_backend(backend);
        let mut extended = ExtendedJobHasher::new(&prefix, &suffix, &path, [3; 32], 0x1703_0000)
            .with_backend(backend);
        let other = ExtendedJobHasher::new(&prefix[..40], &suffix, &path, [4; 32], 0x1703_0000)
            .with_backend(backend);
        let extended_copy = extended.clone();
        let en_a = [9u8; 8];
        let en_b = [7u8; 8];
        let std_shares: Vec<StandardShare> = (0..16u32)
            .map(|i| StandardShare {
                version: 0x2000_0000 | ((i % 5) << 13),
                ntime: i,
                nonce: i * 3,
            })
            .collect();
        let ext_shares: Vec<ExtendedShare> = (0..16u32)
            .map(|i| ExtendedShare {
                extranonce: if i % 2 == 0 { &en_a } else { &en_b },
                version: 0x2000_0000,
                ntime: i,
                nonce: i,
            })
            .collect();
        let mixed: Vec<(&ExtendedJobHasher, ExtendedShare)> = ext_shares
            .iter()
            .enumerate()
            .map(|(i, s)| (if i % 3 == 0 { &other } else { &extended_copy }, *s))
            .collect();
        let mut out = vec![[0u8; 32]; 16];
        let mut accepted = 0usize;

        let n = allocations_during(|| {
            for round in 0..50u32 {
                // Standard: single (hits and misses) and batch.
                let h = standard.hash(0x2000_0000 | ((round % 11) << 13), round, round);
                accepted += usize::from(target.is_met_by(&h));
                std::hint::black_box(hash_difficulty(&h));
                standard.hash_batch(&std_shares, &mut out);
                // Extended: single, shared-reference, batch, cross-job batch.
                let h = extended.hash(&en_a, 0x2000_0000, round, round);
                accepted += usize::from(target.is_met_by(&h));
                std::hint::black_box(extended.hash_share(&ext_shares[0]));
                std::hint::black_box(extended.merkle_root(&en_b));
                extended.hash_batch(&ext_shares, &mut out);
                hash_extended_batch(&mixed, &mut out);
            }
        });
        assert_eq!(n, 0, "{} backend allocated {n} times", backend.name());
        std::hint::black_box(accepted);
    }
}
