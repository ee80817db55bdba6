//! CPU per share and per job on the translator's hot paths, through the public sans-IO
//! bridge: one SV1 `mining.submit` line parsed, validated (ExtendedJobHasher) and forwarded or
//! kept local; one new block distributed as `mining.notify` to many miners.
//!
//! `sv1_submit` is the in-process figure of the share path: valid shares of [`MINERS`] miners
//! in turn (each line parsed, hashed for real, checked, answered), next to the raw validation
//! of the same shares (header hash + target only). After the criterion groups the bench prints
//! both per-share costs from one timed pass and their ratio:
//!
//! ```sh
//! cargo bench -p translator --bench share_path -- sv1_submit
//! ```

use std::time::Instant;

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use sv2_codec::common::SetupConnectionSuccess;
use sv2_codec::mining::{
    NewExtendedMiningJob, OpenExtendedMiningChannelSuccess, SetNewPrevHash, SetTarget,
};
use sv2_codec::{Message, MiningMessage};
use sv2_mining::target::Target;
use sv2_mining::vardiff::VardiffConfig;
use translator::bridge::{Action, Bridge, BridgeSettings};
use translator::job::{ChainTip, ShareParts, Sv1Job};
use translator::ChannelMode;

/// Miners submitting in turn in `sv1_submit`.
const MINERS: u32 = 8;
/// Distinct shares prepared per run (no duplicates within a miner's recent window).
const SHARES: u32 = 200_000;
/// The chain tip of the bench job.
const TIP: ChainTip = ChainTip {
    prev_hash: [7; 32],
    nbits: 0x1703_4219,
    min_ntime: 1_700_000_000,
};

fn settings() -> BridgeSettings {
    BridgeSettings {
        site: "bench".into(),
        password: None,
        mode: ChannelMode::Aggregate,
        aggregate_identity: "bench.translator".into(),
        en1_len: 2,
        en2_len: 4,
        version_mask: 0x1fff_e000,
        vardiff: VardiffConfig {
            min_difficulty: 1e-12,
            ..VardiffConfig::default()
        },
        // Below 2^-33 every hash meets the target: any nonce is a valid share.
        initial_difficulty: 1e-12,
        setup_timeout_ms: 60_000,
        max_invalid_per_minute: u32::MAX,
        max_malformed_lines: 3,
        max_consecutive_rejects: 100,
        update_interval_ms: 30_000,
        release_after_ms: None,
    }
}

fn job(job_id: u32) -> NewExtendedMiningJob {
    let mut prefix = vec![2, 0, 0, 0, 1];
    prefix.extend_from_slice(&[0u8; 32]);
    prefix.extend_from_slice(&[0xff; 4]);
    prefix.extend_from_slice(&[40, 3, 0x10, 0x27, 0x00]);
    prefix.extend_from_slice(b"/bench-pool/");
    prefix.extend_from_slice(&[0; 7]);
    let mut suffix = vec![0xff, 0xff, 0xff, 0xff, 2];
    for _ in 0..2 {
        suffix.extend_from_slice(&3_125_000_000u64.to_le_bytes());
        suffix.extend_from_slice(&[22, 0, 20]);
        suffix.extend_from_slice(&[0x42; 20]);
    }
    suffix.extend_from_slice(&[0, 0, 0, 0]);
    NewExtendedMiningJob {
        channel_id: 1,
        job_id,
        min_ntime: None,
        version: 0x2000_0000,
        version_rolling_allowed: true,
        // A block with ~3000 transactions.
        merkle_path: (0..12u8).map(|i| [i; 32]).collect(),
        coinbase_tx_prefix: prefix,
        coinbase_tx_suffix: suffix,
    }
}

/// A bridge with a mining aggregate channel and `miners` ready miners; returns the SV1 job
/// id of the current job.
fn bridge(miners: u32) -> (Bridge, String) {
    let mut b = Bridge::new(settings()).expect("bridge");
    let mut out = Vec::new();
    b.upstream_connected("pool", 34254, 0, &mut out);
    b.upstream_message(
        Message::from(SetupConnectionSuccess {
            used_version: 2,
            flags: 0,
        }),
        0,
        &mut out,
    );
    let request_id = out
        .iter()
        .find_map(|a| match a {
            Action::ToUpstream(Message::Mining(MiningMessage::OpenExtendedMiningChannel(o))) => {
                Some(o.request_id)
            }
            _ => None,
        })
        .expect("open");
    for m in [
        Message::from(OpenExtendedMiningChannelSuccess {
            request_id,
            channel_id: 1,
            target: [0xff; 32],
            extranonce_size: 8,
            extranonce_prefix: vec![0; 8],
            group_channel_id: 0,
        }),
        Message::from(job(1)),
        Message::from(SetNewPrevHash {
            channel_id: 1,
            job_id: 1,
            prev_hash: [7; 32],
            min_ntime: 1_700_000_000,
            nbits: 0x1703_4219,
        }),
    ] {
        b.upstream_message(m, 0, &mut out);
    }
    for id in 1..=miners {
        assert!(b.miner_connected(id, 0));
        for line in [
            r#"{"id":1,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"1fffe000"}]}"#,
            r#"{"id":2,"method":"mining.subscribe","params":["bmminer/2.0.0"]}"#,
            r#"{"id":3,"method":"mining.authorize","params":["site.rig","x"]}"#,
        ] {
            b.miner_line(id, sv1::parse_client_line(line), 0, &mut out);
        }
    }
    let job_id = b
        .miner(1)
        .and_then(|m| m.last_job())
        .map(|j| format!("{:x}", j.id))
        .unwrap_or_default();
    (b, job_id)
}

fn submit_lines(job_id: &str, n: u32) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"params":["site.rig","{job_id}","{:08x}","6553f100","{:08x}","{:08x}"],"id":{},"method":"mining.submit"}}"#,
                i / 1000,
                i,
                (i % 7) << 13,
                i + 10
            )
        })
        .collect()
}

fn shares(c: &mut Criterion) {
    let mut g = c.benchmark_group("translator_share");
    g.throughput(Throughput::Elements(1));
    for (name, forward) in [("forwarded", true), ("kept_local", false)] {
        let (mut b, job_id) = bridge(1);
        if !forward {
            let mut out = Vec::new();
            b.upstream_message(
                Message::from(SetTarget {
                    channel_id: 1,
                    maximum_target: Target::ZERO.to_le_bytes(),
                }),
                0,
                &mut out,
            );
        }
        let lines = submit_lines(&job_id, 200_000);
        let mut i = 0usize;
        let mut out = Vec::with_capacity(4);
        g.bench_function(name, |bench| {
            bench.iter(|| {
                let line = &lines[i % lines.len()];
                i += 1;
                out.clear();
                b.miner_line(1, sv1::parse_client_line(line), 1, &mut out);
                assert!(!out.is_empty());
            })
        });
        // (Nothing ran when a filter skipped this function.)
        if b.counters().shares_accepted > 0 {
            assert_eq!(b.counters().forwarded > 0, forward);
        }
    }
    g.finish();
}

fn new_block(c: &mut Criterion) {
    let mut g = c.benchmark_group("translator_new_block");
    for miners in [100u32, 1000] {
        g.throughput(Throughput::Elements(u64::from(miners)));
        g.bench_function(format!("{miners}_miners"), |bench| {
            let (mut b, _) = bridge(miners);
            let mut next = 2u32;
            bench.iter_batched(
                || {
                    next += 1;
                    next
                },
                |job_id| {
                    let mut out = Vec::new();
                    let mut j = job(job_id);
                    j.min_ntime = None;
                    b.upstream_message(Message::from(j), 0, &mut out);
                    b.upstream_message(
                        Message::from(SetNewPrevHash {
                            channel_id: 1,
                            job_id,
                            prev_hash: [(job_id % 251) as u8; 32],
                            min_ntime: 1_700_000_000,
                            nbits: 0x1703_4219,
                        }),
                        0,
                        &mut out,
                    );
                    assert_eq!(out.len(), miners as usize);
                    out
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// The upstream keeps shares local (as in production, where the channel target is far above
/// the miners' difficulty).
fn keep_local(b: &mut Bridge) {
    let mut out = Vec::new();
    b.upstream_message(
        Message::from(SetTarget {
            channel_id: 1,
            maximum_target: Target::ZERO.to_le_bytes(),
        }),
        0,
        &mut out,
    );
}

/// One submit per miner in turn: `(miner, line)`.
fn miner_lines(job_id: &str) -> Vec<(u32, String)> {
    submit_lines(job_id, SHARES)
        .into_iter()
        .enumerate()
        .map(|(i, l)| (1 + i as u32 % MINERS, l))
        .collect()
}

/// The same shares as validation input: the bridge's job rebuilt as an [`Sv1Job`], and per
/// share the parts the bridge hashes (miner's extranonce1, extranonce2, version, ntime, nonce).
/// A share as raw validation input: extranonce1, extranonce2, version, nonce.
type RawShare = (Vec<u8>, Vec<u8>, u32, u32);

fn raw_shares(b: &Bridge, lines: &[(u32, String)]) -> (Sv1Job, Vec<RawShare>) {
    let job = Sv1Job::new(1, &job(1), TIP, TIP.min_ntime, &[0; 8], 8, 2, 4).expect("job");
    let parts = lines
        .iter()
        .map(|(id, l)| {
            let en1 = b
                .miner(*id)
                .expect("miner")
                .extranonce1()
                .as_bytes()
                .to_vec();
            let req = sv1::parse_client_line(l).expect("submit");
            let sv1::ClientMethod::Submit(s) = req.method else {
                panic!("not a submit")
            };
            let version = job.share_version(s.version_bits, 0x1fff_e000);
            (en1, s.extranonce2, version, s.nonce)
        })
        .collect();
    (job, parts)
}

fn raw_validate(job: &mut Sv1Job, share: &RawShare, target: &Target) -> bool {
    let (en1, en2, version, nonce) = share;
    let hash = job
        .hash(&ShareParts {
            extranonce1: en1,
            extranonce2: en2,
            version: *version,
            ntime: TIP.min_ntime,
            nonce: *nonce,
        })
        .expect("extranonce sizes");
    target.is_met_by(&hash)
}

fn sv1_submit(c: &mut Criterion) {
    let mut g = c.benchmark_group("sv1_submit");
    g.throughput(Throughput::Elements(1));
    let (mut b, job_id) = bridge(MINERS);
    keep_local(&mut b);
    let lines = miner_lines(&job_id);
    let (mut job, parts) = raw_shares(&b, &lines);
    let target = Target::from_difficulty(1e-12);
    let mut i = 0usize;
    let mut out = Vec::with_capacity(4);
    g.bench_function(format!("bridge_{MINERS}_miners"), |bench| {
        bench.iter(|| {
            let (id, line) = &lines[i % lines.len()];
            i += 1;
            out.clear();
            b.miner_line(*id, sv1::parse_client_line(line), 1, &mut out);
            assert_eq!(out.len(), 1);
        })
    });
    assert_eq!(b.counters().shares_rejected, 0, "every share is valid");
    let mut j = 0usize;
    g.bench_function("raw_validation", |bench| {
        bench.iter(|| {
            let share = &parts[j % parts.len()];
            j += 1;
            assert!(raw_validate(&mut job, share, &target));
        })
    });
    g.finish();
}

/// One timed pass over fresh bridges and the same shares: per-share cost of the bridge path
/// and of raw validation, and their ratio (printed, for the scenario notes).
fn sv1_submit_ratio() {
    let best = |f: &mut dyn FnMut() -> f64| (0..3).map(|_| f()).fold(f64::MAX, f64::min);
    let mut bridge_ns = || {
        let (mut b, job_id) = bridge(MINERS);
        keep_local(&mut b);
        let lines = miner_lines(&job_id);
        let mut out = Vec::with_capacity(4);
        let t = Instant::now();
        for (id, line) in &lines {
            out.clear();
            b.miner_line(*id, sv1::parse_client_line(line), 1, &mut out);
        }
        let ns = t.elapsed().as_nanos() as f64 / lines.len() as f64;
        assert_eq!(b.counters().shares_accepted, u64::from(SHARES));
        ns
    };
    let bridge = best(&mut bridge_ns);
    let (b, job_id) = bridge_and_job();
    let lines = miner_lines(&job_id);
    let (mut job, parts) = raw_shares(&b, &lines);
    let target = Target::from_difficulty(1e-12);
    let mut raw_ns = || {
        let t = Instant::now();
        let mut valid = 0u32;
        for share in &parts {
            valid += u32::from(raw_validate(&mut job, share, &target));
        }
        assert_eq!(valid, SHARES);
        t.elapsed().as_nanos() as f64 / parts.len() as f64
    };
    let raw = best(&mut raw_ns);
    println!(
        "sv1_submit summary: bridge {bridge:.0} ns/share ({:.0} shares/s per core, parse + validate + answer, {MINERS} miners), raw validation {raw:.0} ns/share ({:.0}/s), ratio {:.2}",
        1e9 / bridge,
        1e9 / raw,
        bridge / raw
    );
}

fn bridge_and_job() -> (Bridge, String) {
    let (mut b, job_id) = bridge(MINERS);
    keep_local(&mut b);
    (b, job_id)
}

criterion_group!(benches, sv1_submit, shares, new_block);

fn main() {
    benches();
    sv1_submit_ratio();
    Criterion::default().configure_from_args().final_summary();
}
