//! Batch share validation does not allocate per share: only the duplicate set's amortized
//! growth (the channel reuses its batch buffer, the caller its outcome vector).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::{extended_share, op_true_coinbase, HARD_NBITS, MIN_NTIME, NOW_MS};
use sv2_mining::channel::{ChainTip, ChannelConfig, ExtendedChannel, SubmitExtended};
use sv2_mining::target::Target;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn batch_validation_does_not_allocate_per_share() {
    let coinbase = op_true_coinbase(840_000, 16)
        .pool_tag(b"/alloc/".to_vec())
        .build()
        .unwrap();
    let template = support::template(
        1,
        false,
        Arc::new(coinbase),
        vec![[1u8; 32], [2u8; 32], [3u8; 32]].into(),
    );
    let cfg = ChannelConfig {
        vardiff: None,
        // Every hash meets the target: every share is accepted and recorded.
        fixed_difficulty: 1e-30,
        ..Default::default()
    };
    let mut ch = ExtendedChannel::new(1, vec![0, 0, 0, 1], 12, 0.0, Target::MAX, cfg, 0).unwrap();
    ch.set_chain_tip(ChainTip {
        prev_hash: [9; 32],
        min_ntime: MIN_NTIME,
        nbits: HARD_NBITS,
    })
    .unwrap();
    let job = ch.new_job(&template).unwrap();
    const BATCH: u32 = 16;
    const BATCHES: u32 = 625;
    // A fresh extranonce per share (the lock-step path), all built before counting.
    let extranonces: Vec<[u8; 12]> = (0..=BATCHES * BATCH)
        .map(|i| {
            let mut e = [0u8; 12];
            e[..4].copy_from_slice(&i.to_le_bytes());
            e
        })
        .collect();
    let shares: Vec<SubmitExtended<'_>> = extranonces
        .iter()
        .enumerate()
        .map(|(i, e)| extended_share(1, job.job_id, i as u32, MIN_NTIME, e))
        .collect();
    let unknown: Vec<SubmitExtended<'_>> = shares
        .iter()
        .take(BATCH as usize)
        .map(|s| SubmitExtended { job_id: 999, ..*s })
        .collect();
    let mut out = Vec::with_capacity(BATCH as usize);
    // Warm up (the channel's batch buffer, first insertions).
    ch.validate_shares(&shares[..BATCH as usize], NOW_MS, &mut out);
    assert!(out.iter().all(|o| o.accepted().is_some()));

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for batch in shares[BATCH as usize..].chunks(BATCH as usize) {
        out.clear();
        ch.validate_shares(batch, NOW_MS, &mut out);
        assert!(out.iter().all(|o| o.accepted().is_some()));
    }
    // Rejections (duplicates, unknown jobs) allocate nothing at all.
    for batch in shares.chunks(BATCH as usize).take(60) {
        out.clear();
        ch.validate_shares(batch, NOW_MS, &mut out);
        assert!(out.iter().all(|o| o.error().is_some()));
        out.clear();
        ch.validate_shares(&unknown, NOW_MS, &mut out);
        assert!(out.iter().all(|o| o.error().is_some()));
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    // Only the duplicate set doubles its table: about log2(10_000) times.
    assert!(
        allocations <= 20,
        "{allocations} allocations for {} shares",
        BATCHES * BATCH
    );
}
