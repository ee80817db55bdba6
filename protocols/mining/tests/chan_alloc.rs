//! Share validation, one share or a batch at a time, does not allocate per share: only the
//! duplicate set's amortized growth.

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

/// An extended channel on a tip, with an active job whose target every hash meets (every share
/// is accepted and recorded); returns it and the job id.
fn accepting_channel() -> (ExtendedChannel, u32) {
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
    (ch, job.job_id)
}

/// One test, so nothing else (another test, the harness reporting it) allocates while a
/// window is counted.
#[test]
fn validation_does_not_allocate_per_share() {
    one_share_at_a_time();
    in_batches();
}

fn one_share_at_a_time() {
    let (mut ch, job_id) = accepting_channel();
    let extranonce = [7u8; 12];
    let submit = |nonce: u32| extended_share(1, job_id, nonce, MIN_NTIME, &extranonce);
    let now = NOW_MS;
    // Warm up (first hash of the job, first insertions).
    assert!(ch.validate_share(&submit(0), now).accepted().is_some());

    let shares = 10_000u32;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for nonce in 1..=shares {
        assert!(ch.validate_share(&submit(nonce), now).accepted().is_some());
    }
    // Rejections (duplicates, unknown jobs) allocate nothing at all.
    for nonce in 1..=1000 {
        assert!(ch.validate_share(&submit(nonce), now).error().is_some());
        let mut s = submit(nonce);
        s.job_id = 999;
        assert!(ch.validate_share(&s, now).error().is_some());
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    // Only the duplicate set doubles its table: about log2(10_000) times.
    assert!(
        allocations <= 20,
        "{allocations} allocations for {shares} shares"
    );
}

/// The batch path (a fresh extranonce per share, hashed in lanes) does not allocate per share
/// either: the channel reuses its batch buffer, the caller its outcome vector.
fn in_batches() {
    let (mut ch, job_id) = accepting_channel();
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
        .map(|(i, e)| extended_share(1, job_id, i as u32, MIN_NTIME, e))
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
