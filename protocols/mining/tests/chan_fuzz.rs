//! Untrusted share submissions and job/prev-hash sequences never panic and keep invariants.

mod support;

use proptest::prelude::*;
use std::sync::Arc;
use support::{op_true_coinbase, MIN_NTIME as BASE_NTIME, NOW_MS};
use sv2_mining::channel::{
    ChainTip, ChannelConfig, ExtendedChannel, GroupChannel, JobTemplate, ShareOutcome,
    StandardChannel, SubmitExtended, SubmitStandard,
};
use sv2_mining::target::Target;

fn template(id: u64, future: bool) -> JobTemplate {
    let coinbase = op_true_coinbase(840_000 + id as u32, 8).build().unwrap();
    support::template(id, future, Arc::new(coinbase), vec![[id as u8; 32]].into())
}

fn cfg() -> ChannelConfig {
    ChannelConfig {
        vardiff: None,
        fixed_difficulty: 1.0 / 16.0 / (1u64 << 32) as f64,
        max_future_jobs: 3,
        max_past_jobs: 3,
        ..Default::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Job {
        template: u64,
        future: bool,
    },
    PrevHash {
        template: u64,
        seed: u8,
    },
    Tip {
        seed: u8,
        nbits: u32,
    },
    Target {
        difficulty_log2: i8,
    },
    Share {
        job_id: u32,
        nonce: u32,
        ntime_delta: i16,
        version: u32,
        extranonce_len: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..6, any::<bool>()).prop_map(|(template, future)| Op::Job { template, future }),
        (0u64..6, any::<u8>()).prop_map(|(template, seed)| Op::PrevHash { template, seed }),
        (any::<u8>(), any::<u32>()).prop_map(|(seed, nbits)| Op::Tip { seed, nbits }),
        (-40i8..20).prop_map(|difficulty_log2| Op::Target { difficulty_log2 }),
        (
            0u32..12,
            any::<u32>(),
            any::<i16>(),
            any::<u32>(),
            0usize..10
        )
            .prop_map(
                |(job_id, nonce, ntime_delta, version, extranonce_len)| Op::Share {
                    job_id,
                    nonce,
                    ntime_delta,
                    version,
                    extranonce_len,
                }
            ),
    ]
}

proptest! {
    #[test]
    fn channels_survive_arbitrary_sequences(ops in proptest::collection::vec(op(), 1..80)) {
        let mut ext = ExtendedChannel::new(1, vec![0, 1], 6, 0.0, Target::MAX, cfg(), NOW_MS).unwrap();
        let mut std = StandardChannel::new(2, vec![0, 2, 0, 0, 0, 0, 0, 0], 0.0, Target::MAX, cfg(), NOW_MS).unwrap();
        let mut group = GroupChannel::new(10, 8, 3);
        group
            .add_channel(StandardChannel::new(3, vec![0, 3, 0, 0, 0, 0, 0, 0], 0.0, Target::MAX, cfg(), NOW_MS).unwrap())
            .unwrap();
        let mut accepted = 0u64;
        for op in ops {
            match op {
                Op::Job { template: t, future } => {
                    let tpl = template(t, future);
                    let e = ext.new_job(&tpl);
                    let s = std.new_job(&tpl);
                    let g = group.new_job(&tpl);
                    // Errors only when there is no chain tip for an immediate job.
                    prop_assert_eq!(e.is_err(), !future && ext.chain_tip().is_none());
                    prop_assert_eq!(s.is_err(), !future && std.chain_tip().is_none());
                    prop_assert_eq!(g.is_err(), !future && group.chain_tip().is_none());
                }
                Op::PrevHash { template: t, seed } => {
                    let tip = ChainTip { prev_hash: [seed; 32], min_ntime: BASE_NTIME, nbits: 0x1d00_ffff };
                    let e = ext.on_new_prev_hash(t, tip).unwrap();
                    if let Some(p) = e {
                        prop_assert_eq!(ext.jobs().active().map(|j| j.job_id()), Some(p.job_id));
                    }
                    std.on_new_prev_hash(t, tip).unwrap();
                    group.on_new_prev_hash(t, tip).unwrap();
                }
                Op::Tip { seed, nbits } => {
                    let tip = ChainTip { prev_hash: [seed; 32], min_ntime: BASE_NTIME, nbits };
                    let ok = ext.set_chain_tip(tip).is_ok();
                    prop_assert_eq!(ok, std.set_chain_tip(tip).is_ok());
                    prop_assert_eq!(ok, group.set_chain_tip(tip).is_ok());
                }
                Op::Target { difficulty_log2 } => {
                    let t = Target::from_difficulty(2f64.powi(i32::from(difficulty_log2)));
                    ext.set_target(t, NOW_MS).unwrap();
                    std.set_target(t, NOW_MS).unwrap();
                }
                Op::Share { job_id, nonce, ntime_delta, version, extranonce_len } => {
                    let ntime = BASE_NTIME.wrapping_add_signed(i32::from(ntime_delta));
                    let extranonce = vec![0xa5; extranonce_len];
                    let e = ext.validate_share(&SubmitExtended {
                        channel_id: 1, sequence_number: nonce, job_id, nonce, ntime, version, extranonce: &extranonce,
                    }, NOW_MS);
                    let s = std.validate_share(&SubmitStandard {
                        channel_id: 2, sequence_number: nonce, job_id, nonce, ntime, version,
                    }, NOW_MS);
                    let g = group.validate_share(&SubmitStandard {
                        channel_id: 3, sequence_number: nonce, job_id, nonce, ntime, version,
                    }, NOW_MS);
                    for out in [&e, &s, &g] {
                        match out {
                            ShareOutcome::Accepted(a) => {
                                accepted += 1;
                                prop_assert!(a.hash_difficulty >= a.difficulty * 0.999_999);
                            }
                            ShareOutcome::BlockFound(b) => {
                                accepted += 1;
                                prop_assert_eq!(b.header.hash(), b.share.hash);
                            }
                            ShareOutcome::Rejected(r) => prop_assert!(!r.error_code().is_empty()),
                        }
                    }
                }
            }
        }
        prop_assert_eq!(
            ext.stats().accepted + std.stats().accepted + group.channel(3).unwrap().stats().accepted,
            accepted
        );
    }
}
