//! CPU per share and per job on the translator's hot paths, through the public sans-IO
//! bridge: one SV1 `mining.submit` line parsed, validated (ExtendedJobHasher) and forwarded or
//! kept local; one new block distributed as `mining.notify` to many miners.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sv2_codec::common::SetupConnectionSuccess;
use sv2_codec::mining::{
    NewExtendedMiningJob, OpenExtendedMiningChannelSuccess, SetNewPrevHash, SetTarget,
};
use sv2_codec::{Message, MiningMessage};
use sv2_mining::target::Target;
use sv2_mining::vardiff::VardiffConfig;
use translator::bridge::{Action, Bridge, BridgeSettings};
use translator::ChannelMode;

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
        assert!(b.counters().shares_accepted > 0);
        assert_eq!(b.counters().forwarded > 0, forward);
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

criterion_group!(benches, shares, new_block);
criterion_main!(benches);
