//! `ExtendedChannel::validate_shares` gives exactly what `validate_share` on each share in
//! order gives: outcomes, counters and vardiff state, whatever the mix of valid, duplicate,
//! stale, unknown-job, bad-version, bad-extranonce, out-of-range-ntime and block shares, and
//! however the sequence is cut into batches.

mod support;

use proptest::prelude::*;
use std::sync::Arc;
use support::{op_true_coinbase, HARD_NBITS, MIN_NTIME, NOW_MS, REGTEST_NBITS, VERSION};
use sv2_mining::channel::{
    ChainTip, ChannelConfig, ExtendedChannel, JobTemplate, ShareOutcome, SubmitExtended,
};
use sv2_mining::target::Target;

/// Bytes the miner rolls.
const ROLLABLE: usize = 6;

fn template(id: u64, future: bool) -> JobTemplate {
    let coinbase = op_true_coinbase(840_000 + id as u32, 2 + ROLLABLE)
        .build()
        .unwrap();
    support::template(
        id,
        future,
        Arc::new(coinbase),
        vec![[id as u8; 32], [7; 32]].into(),
    )
}

/// A channel whose job 1 is stale, job 2 (easy target) is past, job 3 (hard target: about
/// one share in 16 meets it) is active and job 4 is future; higher ids are unknown. `nbits`
/// decides whether shares are blocks (regtest: half of them) or not.
fn channel(nbits: u32, vardiff: bool) -> ExtendedChannel {
    let cfg = ChannelConfig {
        vardiff: if vardiff {
            ChannelConfig::default().vardiff
        } else {
            None
        },
        fixed_difficulty: 1e-12,
        ..Default::default()
    };
    let mut ch =
        ExtendedChannel::new(1, vec![0, 1], ROLLABLE, 1e6, Target::MAX, cfg, NOW_MS).unwrap();
    let tip = |seed: u8| ChainTip {
        prev_hash: [seed; 32],
        min_ntime: MIN_NTIME,
        nbits,
    };
    ch.set_chain_tip(tip(1)).unwrap();
    ch.set_target(Target::MAX, NOW_MS).unwrap();
    ch.new_job(&template(1, false)).unwrap();
    ch.set_chain_tip(tip(2)).unwrap();
    ch.new_job(&template(2, false)).unwrap();
    let hard = Target::from_difficulty(16.0 / (1u64 << 32) as f64);
    ch.set_target(hard, NOW_MS).unwrap();
    ch.new_job(&template(3, false)).unwrap();
    ch.new_job(&template(4, true)).unwrap();
    ch
}

/// One submission, described by small choices so that repeats (duplicates, shared
/// extranonces) are frequent.
#[derive(Debug, Clone)]
struct Spec {
    other_channel: bool,
    job_id: u32,
    extranonce: u8,
    bad_extranonce_len: bool,
    nonce: u32,
    ntime: u8,
    version: u8,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::bool::weighted(0.03),
        prop_oneof![6 => 2u32..4, 1 => 0u32..7],
        0u8..4,
        prop::bool::weighted(0.05),
        0u32..24,
        0u8..12,
        0u8..10,
    )
        .prop_map(
            |(other_channel, job_id, extranonce, bad_extranonce_len, nonce, ntime, version)| Spec {
                other_channel,
                job_id,
                extranonce,
                bad_extranonce_len,
                nonce,
                ntime,
                version,
            },
        )
}

/// The extranonce bytes of `s`: 4 distinct ones of the right length, or a wrong length.
fn extranonce(s: &Spec) -> Vec<u8> {
    let len = if s.bad_extranonce_len {
        ROLLABLE + 1 - 2 * usize::from(s.extranonce % 2)
    } else {
        ROLLABLE
    };
    vec![s.extranonce.wrapping_mul(37); len]
}

fn submission<'a>(i: usize, s: &Spec, extranonce: &'a [u8]) -> SubmitExtended<'a> {
    let ntime = match s.ntime {
        0 => MIN_NTIME - 1,
        1 => u32::MAX,
        n => MIN_NTIME + u32::from(n % 4),
    };
    let version = match s.version {
        0 => VERSION | 0x8000_0000, // outside the rolling mask
        1 => VERSION | 0x0000_2000,
        2 => VERSION | 0x1fff_e000,
        _ => VERSION,
    };
    SubmitExtended {
        channel_id: if s.other_channel { 2 } else { 1 },
        sequence_number: i as u32,
        job_id: s.job_id,
        nonce: s.nonce,
        ntime,
        version,
        extranonce,
    }
}

/// Everything an outcome says (blocks included), as text: `ShareOutcome` has no `Eq`.
fn show(o: &ShareOutcome) -> String {
    format!("{o:?}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn batch_matches_one_by_one(
        specs in prop::collection::vec(spec(), 0..120),
        cuts in prop::collection::vec(1usize..40, 1..8),
        blocks in any::<bool>(),
        vardiff in any::<bool>(),
    ) {
        let nbits = if blocks { REGTEST_NBITS } else { HARD_NBITS };
        let mut single = channel(nbits, vardiff);
        let mut batched = single.clone();
        let extranonces: Vec<Vec<u8>> = specs.iter().map(extranonce).collect();
        let shares: Vec<SubmitExtended<'_>> = specs
            .iter()
            .zip(&extranonces)
            .enumerate()
            .map(|(i, (s, e))| submission(i, s, e))
            .collect();

        let expected: Vec<String> = shares
            .iter()
            .map(|s| show(&single.validate_share(s, NOW_MS)))
            .collect();

        let mut got = Vec::new();
        let mut rest = &shares[..];
        let mut cut = cuts.iter().cycle();
        while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            let (batch, tail) = rest.split_at(n);
            let before = got.len();
            batched.validate_shares(batch, NOW_MS, &mut got);
            prop_assert_eq!(got.len(), before + n);
            rest = tail;
        }
        let got: Vec<String> = got.iter().map(show).collect();
        prop_assert_eq!(got, expected);
        prop_assert_eq!(batched.stats(), single.stats());
        prop_assert_eq!(format!("{:?}", batched.targets()), format!("{:?}", single.targets()));

        // The duplicate set ends up the same: replaying everything one by one gives the same
        // verdicts on both channels.
        for s in &shares {
            prop_assert_eq!(show(&batched.validate_share(s, NOW_MS)), show(&single.validate_share(s, NOW_MS)));
        }
    }
}

/// The mix the property test draws from really happens: accepted shares, blocks, and each
/// rejection reason, in one batch.
#[test]
fn batch_covers_every_verdict() {
    let mut ch = channel(REGTEST_NBITS, false);
    let mut reference = ch.clone();
    let specs: Vec<Spec> = (0..400u32)
        .map(|i| Spec {
            other_channel: i % 97 == 5,
            job_id: [2, 3, 2, 3, 1, 4, 9][(i % 7) as usize],
            extranonce: (i % 4) as u8,
            bad_extranonce_len: i % 31 == 3,
            nonce: i % 50,
            ntime: (i % 12) as u8,
            version: (i % 10) as u8,
        })
        .collect();
    let extranonces: Vec<Vec<u8>> = specs.iter().map(extranonce).collect();
    let shares: Vec<SubmitExtended<'_>> = specs
        .iter()
        .zip(&extranonces)
        .enumerate()
        .map(|(i, (s, e))| submission(i, s, e))
        .collect();
    let mut got = Vec::new();
    ch.validate_shares(&shares, NOW_MS, &mut got);
    let expected: Vec<String> = shares
        .iter()
        .map(|s| show(&reference.validate_share(s, NOW_MS)))
        .collect();
    assert_eq!(got.iter().map(show).collect::<Vec<_>>(), expected);
    let codes: std::collections::BTreeSet<&str> = got
        .iter()
        .filter_map(|o| o.error().map(|e| e.error_code()))
        .collect();
    for code in [
        "invalid-channel-id",
        "stale-share",
        "difficulty-too-low",
        "invalid-job-id",
        "duplicate-share",
        "bad-extranonce-size",
        "invalid-non-rollable-version-bit",
        "invalid-share",
    ] {
        assert!(codes.contains(code), "no {code} in {codes:?}");
    }
    assert!(got.iter().any(|o| matches!(o, ShareOutcome::Accepted(_))));
    assert!(got.iter().any(|o| matches!(o, ShareOutcome::BlockFound(_))));
}
