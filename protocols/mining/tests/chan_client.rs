//! Client-side channel (translator/proxy) against a server channel: the client mirrors the
//! upstream's jobs and forwards only shares the server accepts.

mod support;

use std::sync::Arc;
use support::{extended_share, op_true_coinbase, HARD_NBITS, MIN_NTIME, NOW_MS};
use sv2_mining::channel::{
    ChainTip, ChannelConfig, ExtendedChannel, JobTemplate, NewExtendedJob, ShareError,
    ShareOutcome, UpstreamChannel, UpstreamJob,
};
use sv2_mining::extranonce::ExtranonceAllocator;
use sv2_mining::target::Target;

fn template(id: u64, future: bool) -> JobTemplate {
    let coinbase = op_true_coinbase(900_000, 16)
        .pool_tag(b"/pool/".to_vec())
        .build()
        .unwrap();
    support::template(
        id,
        future,
        Arc::new(coinbase),
        vec![[7u8; 32], [8u8; 32]].into(),
    )
}

fn to_upstream(job: &NewExtendedJob) -> UpstreamJob {
    UpstreamJob {
        job_id: job.job_id,
        min_ntime: job.min_ntime,
        version: job.version,
        version_rolling_allowed: job.version_rolling_allowed,
        merkle_path: job.merkle_path.to_vec(),
        coinbase_tx_prefix: job.coinbase.prefix.clone(),
        coinbase_tx_suffix: job.coinbase.suffix.clone(),
    }
}

fn cfg() -> ChannelConfig {
    ChannelConfig {
        vardiff: None,
        fixed_difficulty: 1.0 / (1u64 << 30) as f64,
        ..Default::default()
    }
}

#[test]
fn translator_forwards_only_what_the_pool_accepts() {
    let mut pool_alloc = ExtranonceAllocator::for_pool(0, 0, 4, 8, 16).unwrap();
    let p = pool_alloc.allocate_extended(8).unwrap();
    let mut server = ExtendedChannel::new(
        42,
        p.prefix.clone(),
        p.rollable_len,
        0.0,
        Target::MAX,
        cfg(),
        NOW_MS,
    )
    .unwrap();
    let mut client =
        UpstreamChannel::new(42, server.target(), p.prefix.clone(), p.rollable_len, cfg()).unwrap();

    // Future job, then prev hash, mirrored on the client.
    let job = server.new_job(&template(1, true)).unwrap();
    client.on_new_job(to_upstream(&job)).unwrap();
    let tip = ChainTip {
        prev_hash: [3; 32],
        min_ntime: MIN_NTIME,
        nbits: HARD_NBITS,
    };
    let nph = server.on_new_prev_hash(1, tip).unwrap().unwrap();
    assert!(client.on_set_new_prev_hash(nph.job_id, tip).unwrap());

    // The translator splits its extranonce among SV1 miners: 2 local bytes each.
    let mut sub = ExtranonceAllocator::subdivide(&p.prefix, p.rollable_len, 2).unwrap();
    let miner = sub.allocate_extended(4).unwrap();
    assert_eq!(miner.rollable_len, p.rollable_len - 2);
    let local = &miner.prefix[p.prefix.len()..];

    let mut forwarded = 0;
    let mut filtered = 0;
    for nonce in 0..2000u32 {
        let mut en = local.to_vec();
        en.extend_from_slice(&vec![0x5a; miner.rollable_len]);
        let share = extended_share(42, nph.job_id, nonce, MIN_NTIME, &en);
        match client.check_share(&share, NOW_MS) {
            ShareOutcome::Accepted(c) => {
                forwarded += 1;
                let s = server.validate_share(&share, NOW_MS);
                assert_eq!(s.accepted().map(|a| a.hash), Some(c.hash));
            }
            ShareOutcome::Rejected(ShareError::DifficultyTooLow) => {
                filtered += 1;
                assert_eq!(
                    server.validate_share(&share, NOW_MS).error(),
                    Some(ShareError::DifficultyTooLow)
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(forwarded > 0 && filtered > 0);
    assert_eq!(client.stats().accepted, server.stats().accepted);

    // An immediate job on the same tip, then a new prev hash without a known future job.
    let job2 = server.new_job(&template(2, false)).unwrap();
    client.on_new_job(to_upstream(&job2)).unwrap();
    assert_eq!(
        client.jobs().active().map(|j| j.job_id()),
        Some(job2.job_id)
    );
    let future = server.new_job(&template(3, true)).unwrap();
    client.on_new_job(to_upstream(&future)).unwrap();
    let tip2 = ChainTip {
        prev_hash: [4; 32],
        ..tip
    };
    let en = vec![0u8; p.rollable_len];
    let share_on = |job_id: u32| extended_share(42, job_id, 1, MIN_NTIME, &en);
    assert_eq!(
        client.check_share(&share_on(future.job_id), NOW_MS).error(),
        Some(ShareError::InvalidJobId)
    );
    assert!(client.on_set_new_prev_hash(future.job_id, tip2).unwrap());
    assert_eq!(
        client.check_share(&share_on(job2.job_id), NOW_MS).error(),
        Some(ShareError::StaleShare)
    );
    assert!(!client.on_set_new_prev_hash(999, tip2).unwrap());
    assert!(client.jobs().active().is_none());

    // Target changes reach future jobs and later jobs.
    let harder = Target::from_difficulty(1.0);
    client.set_target(harder).unwrap();
    assert!(client.set_target(Target::ZERO).is_err());
    assert_eq!(client.target(), harder);
    assert!(client.set_extranonce_prefix(vec![1]).is_err());
}
