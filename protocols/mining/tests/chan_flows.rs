//! Channel flows: open, jobs, prev hash, shares (valid, stale, duplicate, bad job id, low
//! difficulty, malformed), blocks, groups. Shares are mined in the test against easy targets, and
//! every hash is recomputed independently with the bitcoin crate.

mod support;

use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{Block, Transaction};
use std::sync::Arc;
use support::{
    extended_share, op_true_coinbase, sample_tx, standard_share, witness_commitment, HARD_NBITS,
    MIN_NTIME, NOW_MS, REGTEST_NBITS, VERSION,
};
use sv2_mining::channel::{
    AcceptedShare, ChainTip, ChannelConfig, ChannelError, ExtendedChannel, GroupChannel,
    JobTemplate, ShareError, ShareOutcome, StandardChannel,
};
use sv2_mining::coinbase::CoinbaseParts;
use sv2_mining::extranonce::ExtranonceAllocator;
use sv2_mining::header::BlockHeader;
use sv2_mining::merkle::{merkle_path_for_coinbase, merkle_root, merkle_root_from_path};
use sv2_mining::sha256d::sha256d;
use sv2_mining::target::Target;
use sv2_mining::vardiff::VardiffConfig;

const FULL_EXTRANONCE: usize = 16;

/// A template with three transactions and a correct witness commitment.
struct Fixture {
    txs: Vec<Transaction>,
    coinbase: Arc<CoinbaseParts>,
    path: Arc<[[u8; 32]]>,
}

impl Fixture {
    fn new(height: u32) -> Fixture {
        let txs: Vec<Transaction> = (1..=3).map(|seed| sample_tx(seed, true)).collect();
        let coinbase = op_true_coinbase(height, FULL_EXTRANONCE)
            .pool_tag(b"/test-pool/".to_vec())
            .witness_commitment(witness_commitment(&txs))
            .build()
            .unwrap();
        let txids: Vec<[u8; 32]> = txs
            .iter()
            .map(|t| t.compute_txid().to_byte_array())
            .collect();
        Fixture {
            txs,
            coinbase: Arc::new(coinbase),
            path: merkle_path_for_coinbase(&txids).into(),
        }
    }

    fn template(&self, template_id: u64, future: bool) -> JobTemplate {
        support::template(
            template_id,
            future,
            self.coinbase.clone(),
            self.path.clone(),
        )
    }

    /// Merkle root for a full extranonce, computed with the bitcoin crate.
    fn merkle_root(&self, full_extranonce: &[u8]) -> [u8; 32] {
        let bytes = self.coinbase.serialize_with(full_extranonce).unwrap();
        let cb: Transaction = deserialize(&bytes).unwrap();
        let mut txids = vec![cb.compute_txid().to_byte_array()];
        txids.extend(self.txs.iter().map(|t| t.compute_txid().to_byte_array()));
        let block = Block {
            header: header_for([0; 32], 0).into(),
            txdata: std::iter::once(cb)
                .chain(self.txs.iter().cloned())
                .collect(),
        };
        let root = block.compute_merkle_root().unwrap().to_byte_array();
        assert_eq!(root, merkle_root(&txids));
        root
    }

    fn raw_txs(&self) -> Vec<Vec<u8>> {
        self.txs.iter().map(serialize).collect()
    }
}

struct Hdr(BlockHeader);

impl From<Hdr> for bitcoin::block::Header {
    fn from(h: Hdr) -> Self {
        deserialize(&h.0.to_bytes()).unwrap()
    }
}

fn header_for(merkle_root: [u8; 32], nbits: u32) -> Hdr {
    Hdr(BlockHeader {
        version: VERSION,
        prev_hash: [0x77; 32],
        merkle_root,
        ntime: MIN_NTIME,
        nbits,
        nonce: 0,
    })
}

fn tip(nbits: u32, seed: u8) -> ChainTip {
    ChainTip {
        prev_hash: [seed; 32],
        min_ntime: MIN_NTIME,
        nbits,
    }
}

/// Header hash computed by the bitcoin crate.
fn pow_hash(
    prev_hash: [u8; 32],
    merkle_root: [u8; 32],
    version: u32,
    ntime: u32,
    nbits: u32,
    nonce: u32,
) -> [u8; 32] {
    let h = BlockHeader {
        version,
        prev_hash,
        merkle_root,
        ntime,
        nbits,
        nonce,
    };
    let header: bitcoin::block::Header = Hdr(h).into();
    header.block_hash().to_byte_array()
}

/// First nonce (from `start`) whose hash meets (`want = true`) or misses `target`.
fn find_nonce(
    target: Target,
    want: bool,
    start: u32,
    hash: impl Fn(u32) -> [u8; 32],
) -> (u32, [u8; 32]) {
    (start..start + 1_000_000)
        .map(|n| (n, hash(n)))
        .find(|(_, h)| target.is_met_by(h) == want)
        .expect("no nonce found")
}

/// The checks every channel kind makes, through `validate(job_id, nonce)`: nonce `good` on
/// `job_id` is accepted (returned) and then refused as a duplicate, `bad` misses the target,
/// and a job id the channel never issued is invalid.
fn assert_share_checks(
    mut validate: impl FnMut(u32, u32) -> ShareOutcome,
    job_id: u32,
    good: u32,
    bad: u32,
) -> AcceptedShare {
    let out = validate(job_id, good);
    let ShareOutcome::Accepted(acc) = out else {
        panic!("expected an accepted share: {out:?}");
    };
    assert_eq!(
        validate(job_id, good).error(),
        Some(ShareError::DuplicateShare)
    );
    assert_eq!(
        validate(job_id, bad).error(),
        Some(ShareError::DifficultyTooLow)
    );
    assert_eq!(
        validate(job_id.wrapping_add(999), good).error(),
        Some(ShareError::InvalidJobId)
    );
    acc
}

/// One in 16 hashes meets this share target.
fn easy_config() -> ChannelConfig {
    ChannelConfig {
        vardiff: None,
        fixed_difficulty: 1.0 / (1u64 << 28) as f64,
        ..Default::default()
    }
}

fn extended_channel(alloc: &mut ExtranonceAllocator) -> ExtendedChannel {
    let p = alloc.allocate_extended(8).unwrap();
    ExtendedChannel::new(
        7,
        p.prefix,
        p.rollable_len,
        1e12,
        Target::MAX,
        easy_config(),
        NOW_MS,
    )
    .unwrap()
}

/// [`extended_channel`] on the chain tip `t`.
fn extended_channel_on(alloc: &mut ExtranonceAllocator, t: ChainTip) -> ExtendedChannel {
    let mut ch = extended_channel(alloc);
    ch.set_chain_tip(t).unwrap();
    ch
}

fn allocator() -> ExtranonceAllocator {
    ExtranonceAllocator::for_pool(1, 1, 4, 8, FULL_EXTRANONCE).unwrap()
}

#[test]
fn extended_channel_full_flow() {
    let fx = Fixture::new(840_000);
    let mut alloc = allocator();
    let mut ch = extended_channel(&mut alloc);
    assert_eq!(ch.rollable_len(), 11);
    let prefix = ch.extranonce_prefix().to_vec();

    // Future job, then the prev hash activating it.
    let job = ch.new_job(&fx.template(1, true)).unwrap();
    assert_eq!(job.min_ntime, None);
    assert!(job.version_rolling_allowed);
    assert_eq!(job.coinbase.prefix, fx.coinbase.prefix);
    let miner_en = [0xabu8; 11];
    let submit =
        |job_id: u32, nonce: u32| extended_share(7, job_id, nonce, MIN_NTIME + 5, &miner_en);
    // Shares on a job that is not active yet are refused.
    assert_eq!(
        ch.validate_share(&submit(job.job_id, 0), NOW_MS).error(),
        Some(ShareError::InvalidJobId)
    );
    let t1 = tip(HARD_NBITS, 1);
    let nph = ch.on_new_prev_hash(1, t1).unwrap().unwrap();
    assert_eq!(nph.job_id, job.job_id);
    assert_eq!(nph.channel_id, 7);

    let root = fx.merkle_root(&[prefix.as_slice(), &miner_en].concat());
    let hash = |n: u32| pow_hash(t1.prev_hash, root, VERSION, MIN_NTIME + 5, HARD_NBITS, n);
    let target = ch.target();

    // Valid, duplicate, low difficulty, unknown job id.
    let (good, good_hash) = find_nonce(target, true, 0, hash);
    let (bad, _) = find_nonce(target, false, 0, hash);
    let acc = assert_share_checks(
        |job_id, nonce| ch.validate_share(&submit(job_id, nonce), NOW_MS),
        job.job_id,
        good,
        bad,
    );
    assert_eq!(acc.hash, good_hash);
    assert_eq!(acc.difficulty, target.difficulty());
    assert!(acc.hash_difficulty >= acc.difficulty);
    assert_eq!(acc.sequence_number, good);

    // Wrong channel.
    let mut other = submit(job.job_id, good);
    other.channel_id = 8;
    assert_eq!(
        ch.validate_share(&other, NOW_MS).error(),
        Some(ShareError::InvalidChannelId)
    );
    // Extranonce of the wrong size.
    let short = [0u8; 10];
    let mut s = submit(job.job_id, good);
    s.extranonce = &short;
    assert_eq!(
        ch.validate_share(&s, NOW_MS).error(),
        Some(ShareError::BadExtranonceSize {
            expected: 11,
            got: 10
        })
    );
    // Version: BIP320 bits may roll, others may not.
    let rolled = VERSION | 0x0000_e000;
    let rolled_hash = |n: u32| pow_hash(t1.prev_hash, root, rolled, MIN_NTIME + 5, HARD_NBITS, n);
    let (rn, _) = find_nonce(target, true, 0, rolled_hash);
    let mut s = submit(job.job_id, rn);
    s.version = rolled;
    assert!(ch.validate_share(&s, NOW_MS).accepted().is_some());
    s.version = VERSION | 0x2;
    assert_eq!(
        ch.validate_share(&s, NOW_MS).error(),
        Some(ShareError::InvalidVersion)
    );
    // ntime bounds.
    let mut s = submit(job.job_id, good);
    s.ntime = MIN_NTIME - 1;
    assert!(matches!(
        ch.validate_share(&s, NOW_MS).error(),
        Some(ShareError::NtimeTooLow { .. })
    ));
    s.ntime = (NOW_MS / 1000) as u32 + 7201;
    assert!(matches!(
        ch.validate_share(&s, NOW_MS).error(),
        Some(ShareError::NtimeTooHigh { .. })
    ));

    // A second job on the same tip: the first one stays valid.
    let job2 = ch.new_job(&fx.template(2, false)).unwrap();
    assert_eq!(job2.min_ntime, Some(MIN_NTIME));
    let (n2, _) = find_nonce(target, true, good + 1, hash);
    assert!(ch
        .validate_share(&submit(job.job_id, n2), NOW_MS)
        .accepted()
        .is_some());

    // New prev hash: both jobs are stale, the new future job is live.
    let job3 = ch.new_job(&fx.template(3, true)).unwrap();
    let t2 = tip(HARD_NBITS, 2);
    assert_eq!(
        ch.on_new_prev_hash(3, t2).unwrap().unwrap().job_id,
        job3.job_id
    );
    for j in [job.job_id, job2.job_id] {
        assert_eq!(
            ch.validate_share(&submit(j, good), NOW_MS).error(),
            Some(ShareError::StaleShare)
        );
    }
    let hash3 = |n: u32| pow_hash(t2.prev_hash, root, VERSION, MIN_NTIME + 5, HARD_NBITS, n);
    let (n3, _) = find_nonce(target, true, 0, hash3);
    assert!(ch
        .validate_share(&submit(job3.job_id, n3), NOW_MS)
        .accepted()
        .is_some());

    let stats = ch.stats();
    assert_eq!(stats.accepted, 4);
    assert_eq!(stats.blocks, 0);
    assert!(stats.rejected >= 10);
}

#[test]
fn extended_block_found_assembles_a_valid_block() {
    let fx = Fixture::new(840_000);
    let mut alloc = allocator();
    let t = tip(REGTEST_NBITS, 9);
    let mut ch = extended_channel_on(&mut alloc, t);
    let job = ch.new_job(&fx.template(5, false)).unwrap();
    let miner_en = [0x11u8; 11];
    let full = [ch.extranonce_prefix(), &miner_en].concat();
    let root = fx.merkle_root(&full);
    let network = Target::from_compact(REGTEST_NBITS).unwrap();
    let (nonce, hash) = find_nonce(network, true, 0, |n| {
        pow_hash(t.prev_hash, root, VERSION, MIN_NTIME, REGTEST_NBITS, n)
    });
    let out = ch.validate_share(
        &extended_share(7, job.job_id, nonce, MIN_NTIME, &miner_en),
        NOW_MS,
    );
    let ShareOutcome::BlockFound(found) = out else {
        panic!("expected a block: {out:?}");
    };
    assert_eq!(found.template_id, 5);
    assert_eq!(found.extranonce, full);
    assert_eq!(found.share.hash, hash);
    assert_eq!(found.header.hash(), hash);
    assert_eq!(found.header.merkle_root, root);

    let coinbase = found.coinbase.full_transaction(&found.extranonce).unwrap();
    let block =
        sv2_mining::coinbase::assemble_block(&found.header.to_bytes(), &coinbase, &fx.raw_txs())
            .unwrap();
    assert!(block.check_merkle_root());
    assert!(block.check_witness_commitment());
    assert_eq!(block.block_hash().to_byte_array(), hash);
    let pow_target = block.header.target();
    assert!(block.header.validate_pow(pow_target).is_ok());
    assert_eq!(ch.stats().blocks, 1);
}

#[test]
fn standard_channel_flow_and_block() {
    let fx = Fixture::new(1);
    let mut alloc = allocator();
    let p = alloc.allocate_standard().unwrap();
    let mut ch =
        StandardChannel::new(3, p.prefix.clone(), 0.0, Target::MAX, easy_config(), NOW_MS).unwrap();
    // The merkle root is fixed by the channel's full extranonce prefix.
    let job = ch.new_job(&fx.template(10, true)).unwrap();
    assert_eq!(job.merkle_root, fx.merkle_root(&p.prefix));
    assert_eq!(job.min_ntime, None);
    let t1 = tip(HARD_NBITS, 4);
    assert!(
        ch.on_new_prev_hash(11, t1).unwrap().is_none(),
        "unknown template"
    );
    let job = ch.new_job(&fx.template(10, true)).unwrap();
    let t1b = tip(HARD_NBITS, 5);
    assert_eq!(
        ch.on_new_prev_hash(10, t1b).unwrap().unwrap().job_id,
        job.job_id
    );

    let submit = |job_id: u32, nonce: u32| standard_share(3, job_id, nonce, MIN_NTIME);
    let target = ch.target();
    let hash = |n: u32| {
        pow_hash(
            t1b.prev_hash,
            job.merkle_root,
            VERSION,
            MIN_NTIME,
            HARD_NBITS,
            n,
        )
    };
    let (good, _) = find_nonce(target, true, 0, hash);
    let (bad, _) = find_nonce(target, false, 0, hash);
    assert_share_checks(
        |job_id, nonce| ch.validate_share(&submit(job_id, nonce), NOW_MS),
        job.job_id,
        good,
        bad,
    );

    // New tip (easy network target) without a future job: the job is stale.
    let t2 = tip(REGTEST_NBITS, 6);
    ch.set_chain_tip(t2).unwrap();
    assert_eq!(
        ch.validate_share(&submit(job.job_id, good), NOW_MS).error(),
        Some(ShareError::StaleShare)
    );
    let job2 = ch.new_job(&fx.template(12, false)).unwrap();
    assert_eq!(job2.min_ntime, Some(MIN_NTIME));
    let network = Target::from_compact(REGTEST_NBITS).unwrap();
    let (n, h) = find_nonce(network, true, 0, |n| {
        pow_hash(
            t2.prev_hash,
            job2.merkle_root,
            VERSION,
            MIN_NTIME,
            REGTEST_NBITS,
            n,
        )
    });
    let ShareOutcome::BlockFound(found) = ch.validate_share(&submit(job2.job_id, n), NOW_MS) else {
        panic!("expected a block");
    };
    assert_eq!(found.extranonce, p.prefix);
    let coinbase = found.coinbase.full_transaction(&found.extranonce).unwrap();
    let block =
        sv2_mining::coinbase::assemble_block(&found.header.to_bytes(), &coinbase, &fx.raw_txs())
            .unwrap();
    assert!(block.check_merkle_root());
    assert!(block.check_witness_commitment());
    assert_eq!(block.block_hash().to_byte_array(), h);
}

#[test]
fn group_fans_out_jobs_and_validates_members() {
    let fx = Fixture::new(840_000);
    let mut alloc = allocator();
    let mut group = GroupChannel::new(100, FULL_EXTRANONCE, 4);
    let mut prefixes = Vec::new();
    for id in 1..=3u32 {
        let p = alloc.allocate_standard().unwrap();
        prefixes.push(p.prefix.clone());
        let ch =
            StandardChannel::new(id, p.prefix, 0.0, Target::MAX, easy_config(), NOW_MS).unwrap();
        assert!(group.add_channel(ch).unwrap().is_empty());
    }
    // Wrong extranonce length and duplicate ids are refused.
    let odd = StandardChannel::new(9, vec![0; 8], 0.0, Target::MAX, easy_config(), NOW_MS).unwrap();
    assert!(matches!(
        group.add_channel(odd),
        Err(ChannelError::ExtranonceLenMismatch { .. })
    ));
    let dup = StandardChannel::new(
        2,
        prefixes[0].clone(),
        0.0,
        Target::MAX,
        easy_config(),
        NOW_MS,
    )
    .unwrap();
    assert_eq!(
        group.add_channel(dup).unwrap_err(),
        ChannelError::DuplicateChannel(2)
    );
    assert!(matches!(
        group.new_job(&fx.template(1, false)),
        Err(ChannelError::NoChainTip)
    ));

    let gj = group.new_job(&fx.template(1, true)).unwrap();
    assert_eq!(gj.extended.channel_id, 100);
    assert_eq!(gj.standard.len(), 3);
    // Each member's merkle root is what a proxy derives from the broadcast extended job.
    for (std_job, prefix) in gj.standard.iter().zip(&prefixes) {
        assert_eq!(std_job.job_id, gj.extended.job_id);
        let cb = [
            gj.extended.coinbase.prefix.as_slice(),
            prefix,
            &gj.extended.coinbase.suffix,
        ]
        .concat();
        let derived = merkle_root_from_path(&sha256d(&cb), &gj.extended.merkle_path);
        assert_eq!(std_job.merkle_root, derived);
        assert_eq!(std_job.merkle_root, fx.merkle_root(prefix));
    }
    assert_ne!(gj.standard[0].merkle_root, gj.standard[1].merkle_root);

    let t = tip(HARD_NBITS, 3);
    let nph = group.on_new_prev_hash(1, t).unwrap().unwrap();
    assert_eq!((nph.channel_id, nph.job_id), (100, gj.extended.job_id));

    for (i, std_job) in gj.standard.iter().enumerate() {
        let target = group.channel(std_job.channel_id).unwrap().target();
        let (n, _) = find_nonce(target, true, 0, |n| {
            pow_hash(
                t.prev_hash,
                std_job.merkle_root,
                VERSION,
                MIN_NTIME,
                HARD_NBITS,
                n,
            )
        });
        let mut share = standard_share(std_job.channel_id, std_job.job_id, n, MIN_NTIME);
        share.sequence_number = i as u32;
        assert!(group.validate_share(&share, NOW_MS).accepted().is_some());
        let mut stranger = share;
        stranger.channel_id = 55;
        assert_eq!(
            group.validate_share(&stranger, NOW_MS).error(),
            Some(ShareError::InvalidChannelId)
        );
    }

    // A member joining now receives the active job for its own prefix.
    let p = alloc.allocate_standard().unwrap();
    let late =
        StandardChannel::new(4, p.prefix.clone(), 0.0, Target::MAX, easy_config(), NOW_MS).unwrap();
    let jobs = group.add_channel(late).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].job_id, gj.extended.job_id);
    assert_eq!(jobs[0].min_ntime, Some(MIN_NTIME));
    assert_eq!(jobs[0].merkle_root, fx.merkle_root(&p.prefix));
    assert_eq!(group.len(), 4);
    assert!(group.remove_channel(4).is_some());
    assert_eq!(group.member_ids().collect::<Vec<_>>(), vec![1, 2, 3]);
}

#[test]
fn target_changes_apply_to_new_jobs() {
    let fx = Fixture::new(840_000);
    let mut alloc = allocator();
    let t = tip(HARD_NBITS, 1);
    let mut ch = extended_channel_on(&mut alloc, t);
    let old = ch.new_job(&fx.template(1, false)).unwrap();
    let easy = ch.target();
    // 256x harder target: 1 in 4096 hashes.
    let hard = Target::from_difficulty(easy.difficulty() * 256.0);
    assert_eq!(ch.set_target(hard, NOW_MS).unwrap(), Some(hard));
    let new = ch.new_job(&fx.template(1, false)).unwrap();

    let miner_en = [3u8; 11];
    let full = [ch.extranonce_prefix(), &miner_en].concat();
    let root = fx.merkle_root(&full);
    let hash = |n: u32| pow_hash(t.prev_hash, root, VERSION, MIN_NTIME, HARD_NBITS, n);
    // Meets the old (easy) target but not the new one.
    let (n, _) = (0..)
        .map(|n| (n, hash(n)))
        .find(|(_, h)| easy.is_met_by(h) && !hard.is_met_by(h))
        .unwrap();
    let submit = |job_id: u32| extended_share(7, job_id, n, MIN_NTIME, &miner_en);
    let acc = ch.validate_share(&submit(old.job_id), NOW_MS);
    assert_eq!(acc.accepted().unwrap().difficulty, easy.difficulty());
    assert_eq!(
        ch.validate_share(&submit(new.job_id), NOW_MS).error(),
        Some(ShareError::DifficultyTooLow)
    );
    // The maximum target bounds everything.
    assert!(ch.set_target(Target::ZERO, NOW_MS).is_err());
    let capped = ch.update_channel(0.0, hard, NOW_MS).unwrap();
    assert_eq!(capped, None);
    let changed = ch
        .update_channel(
            0.0,
            Target::from_difficulty(hard.difficulty() * 2.0),
            NOW_MS,
        )
        .unwrap();
    assert!(changed.is_some());
    assert!(ch.target() <= ch.targets().max_target());
}

#[test]
fn vardiff_raises_difficulty_under_share_flood() {
    let fx = Fixture::new(840_000);
    let mut alloc = allocator();
    let p = alloc.allocate_extended(8).unwrap();
    let cfg = ChannelConfig {
        vardiff: Some(VardiffConfig {
            min_difficulty: 1e-15,
            ..Default::default()
        }),
        ..Default::default()
    };
    // No announced hashrate: the first target is the easiest possible.
    let mut ch =
        ExtendedChannel::new(1, p.prefix, p.rollable_len, 0.0, Target::MAX, cfg, NOW_MS).unwrap();
    let first = ch.target();
    assert_eq!(first, Target::MAX);
    let t = tip(HARD_NBITS, 1);
    ch.set_chain_tip(t).unwrap();
    let job = ch.new_job(&fx.template(1, false)).unwrap();
    let miner_en = [9u8; 11];
    let mut accepted = 0;
    for nonce in 0..64 {
        let s = extended_share(1, job.job_id, nonce, MIN_NTIME, &miner_en);
        if ch
            .validate_share(&s, NOW_MS + u64::from(nonce) * 10)
            .accepted()
            .is_some()
        {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 64);
    let new = ch.poll_vardiff(NOW_MS + 2_000).expect("difficulty raised");
    assert!(new < first, "harder target is numerically smaller");
    assert!(
        ch.targets()
            .vardiff()
            .unwrap()
            .hashrate_estimate()
            .is_some(),
        "{:?}",
        ch.targets()
    );
}

#[test]
fn mismatched_coinbase_and_missing_tip_are_errors() {
    let fx = Fixture::new(840_000);
    let mut ch =
        ExtendedChannel::new(1, vec![1, 2], 4, 0.0, Target::MAX, easy_config(), NOW_MS).unwrap();
    assert!(matches!(
        ch.new_job(&fx.template(1, true)),
        Err(ChannelError::ExtranonceLenMismatch {
            coinbase: 16,
            channel: 6
        })
    ));
    let mut ch = extended_channel(&mut allocator());
    assert_eq!(
        ch.new_job(&fx.template(1, false)).unwrap_err(),
        ChannelError::NoChainTip
    );
    for bad in [0x0100_0000, 0xff12_3456, 0x0480_0001] {
        assert_eq!(
            ch.set_chain_tip(tip(bad, 1)).unwrap_err(),
            ChannelError::InvalidNbits(bad)
        );
    }
    assert!(ExtendedChannel::new(1, vec![0; 33], 0, 0.0, Target::MAX, easy_config(), 0).is_err());
    assert!(ExtendedChannel::new(1, vec![0; 4], 4, 0.0, Target::ZERO, easy_config(), 0).is_err());
}

#[test]
fn extranonce_prefix_change_applies_to_new_jobs() {
    let fx = Fixture::new(840_000);
    let mut alloc = allocator();
    let t = tip(HARD_NBITS, 1);
    let mut ch = extended_channel_on(&mut alloc, t);
    let old_prefix = ch.extranonce_prefix().to_vec();
    let old = ch.new_job(&fx.template(1, false)).unwrap();
    let new_prefix = alloc.allocate_extended(8).unwrap().prefix;
    assert!(ch.set_extranonce_prefix(vec![0; 3]).is_err());
    ch.set_extranonce_prefix(new_prefix.clone()).unwrap();
    let new = ch.new_job(&fx.template(1, false)).unwrap();
    let miner_en = [5u8; 11];
    let target = ch.target();
    for (job_id, prefix) in [(old.job_id, &old_prefix), (new.job_id, &new_prefix)] {
        let root = fx.merkle_root(&[prefix.as_slice(), &miner_en].concat());
        let (n, h) = find_nonce(target, true, 0, |n| {
            pow_hash(t.prev_hash, root, VERSION, MIN_NTIME, HARD_NBITS, n)
        });
        let out = ch.validate_share(&extended_share(7, job_id, n, MIN_NTIME, &miner_en), NOW_MS);
        assert_eq!(out.accepted().map(|a| a.hash), Some(h), "job {job_id}");
    }
}
