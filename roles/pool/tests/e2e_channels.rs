//! End to end over real TCP + Noise: SV2 clients on standard and extended channels → pool →
//! bitcoind stand-in. Blocks are accepted by the stand-in and pay the configured script; a new
//! block makes old-job shares stale; bad shares get the spec's error codes.

mod common;

use common::{start, Client};
use sv2_codec::mining::{OpenStandardMiningChannel, SubmitSharesExtended, SubmitSharesStandard};
use sv2_codec::{Message, MiningMessage};
use sv2_mining::share::{ExtendedJobHasher, StandardJobHasher};
use sv2_mining::target::Target;

const EASY: &str = "initial_difficulty = 0.00001\nmin_difficulty = 0.000001";

type StdJob = sv2_codec::mining::NewMiningJob;
type Tip = sv2_codec::mining::SetNewPrevHash;

fn mine_standard(job: &StdJob, tip: &Tip, target: Target, start_nonce: u32) -> u32 {
    let mut h = StandardJobHasher::new(tip.prev_hash, job.merkle_root, tip.nbits);
    let mut nonce = start_nonce;
    loop {
        if target.is_met_by(&h.hash(job.version, tip.min_ntime, nonce)) {
            return nonce;
        }
        nonce = nonce.wrapping_add(1);
    }
}

/// A nonce whose hash misses the share target and the network target (on regtest about half
/// of all hashes meet the network target, and a block is always accepted as a share).
fn miss_standard(job: &StdJob, tip: &Tip, target: Target) -> u32 {
    let mut h = StandardJobHasher::new(tip.prev_hash, job.merkle_root, tip.nbits);
    let network = Target::from_compact(tip.nbits).expect("valid nbits");
    (0u32..)
        .find(|n| {
            let hash = h.hash(job.version, tip.min_ntime, *n);
            !target.is_met_by(&hash) && !network.is_met_by(&hash)
        })
        .unwrap_or(0)
}

async fn expect_error(c: &mut Client, code: &str) {
    let got = c
        .recv_until(|m| match m {
            Message::Mining(MiningMessage::SubmitSharesError(e)) => Some(e.error_code),
            Message::Mining(MiningMessage::SubmitSharesSuccess(_)) => Some("success".into()),
            _ => None,
        })
        .await;
    assert_eq!(got, code);
}

async fn expect_success(c: &mut Client) {
    expect_error(c, "success").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_channel_blocks_stale_and_errors() {
    let env = start(0, EASY).await;
    let start_height = env.standin.tip().height;
    let mut c = Client::connect(&env).await;
    c.setup(common::STANDARD_JOBS).await;
    c.send(OpenStandardMiningChannel {
        request_id: 7,
        user_identity: "siteA.rig1".into(),
        nominal_hash_rate: 0.0,
        max_target: [0xff; 32],
    })
    .await;
    let (channel_id, target) = match c.recv().await {
        Message::Mining(MiningMessage::OpenStandardMiningChannelSuccess(s)) => {
            assert_eq!(s.request_id, 7);
            assert_eq!(s.extranonce_prefix.len(), 16);
            (s.channel_id, Target::from_le_bytes(s.target))
        }
        other => panic!("unexpected {other:?}"),
    };
    let (job1, tip1) = c.next_standard_job().await;

    // A valid share; at regtest difficulty it is also a block.
    let nonce = mine_standard(&job1, &tip1, target, 0);
    c.send(SubmitSharesStandard {
        channel_id,
        sequence_number: 1,
        job_id: job1.job_id,
        nonce,
        ntime: tip1.min_ntime,
        version: job1.version,
    })
    .await;
    expect_success(&mut c).await;

    // The pool got a new tip from the stand-in and moved every channel to it.
    let (job2, tip2) = c.next_standard_job().await;
    assert_ne!(tip2.prev_hash, tip1.prev_hash);
    let blocks = env.standin.submitted_blocks();
    assert_eq!(blocks.len(), 1);
    assert_eq!(env.standin.tip().height, start_height + 1);
    let paid: u64 = blocks[0]
        .coinbase_outputs
        .iter()
        .filter(|o| o.script_pubkey == env.payout_script)
        .map(|o| o.value.to_sat())
        .sum();
    assert_eq!(
        paid,
        50 * 100_000_000,
        "coinbase pays the configured script the full value"
    );
    // The found block reaches the work sink.
    for _ in 0..50 {
        if !env.sink.blocks().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let found = env.sink.blocks();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].finder.site, "siteA");
    assert_eq!(found[0].height, (start_height + 1) as u64);

    // Old job after the new prev hash: stale.
    let stale_nonce = mine_standard(&job1, &tip1, target, nonce.wrapping_add(1));
    c.send(SubmitSharesStandard {
        channel_id,
        sequence_number: 2,
        job_id: job1.job_id,
        nonce: stale_nonce,
        ntime: tip1.min_ntime,
        version: job1.version,
    })
    .await;
    expect_error(&mut c, "stale-share").await;

    // Unknown job id.
    c.send(SubmitSharesStandard {
        channel_id,
        sequence_number: 3,
        job_id: 9999,
        nonce: 1,
        ntime: tip2.min_ntime,
        version: job2.version,
    })
    .await;
    expect_error(&mut c, "invalid-job-id").await;

    // Unknown channel.
    c.send(SubmitSharesStandard {
        channel_id: channel_id + 1000,
        sequence_number: 4,
        job_id: job2.job_id,
        nonce: 1,
        ntime: tip2.min_ntime,
        version: job2.version,
    })
    .await;
    expect_error(&mut c, "invalid-channel-id").await;

    // Hash above the channel target.
    let bad = miss_standard(&job2, &tip2, target);
    c.send(SubmitSharesStandard {
        channel_id,
        sequence_number: 5,
        job_id: job2.job_id,
        nonce: bad,
        ntime: tip2.min_ntime,
        version: job2.version,
    })
    .await;
    expect_error(&mut c, "difficulty-too-low").await;

    // Version bits outside the BIP320 mask.
    let n = mine_standard(&job2, &tip2, target, 0);
    c.send(SubmitSharesStandard {
        channel_id,
        sequence_number: 6,
        job_id: job2.job_id,
        nonce: n,
        ntime: tip2.min_ntime,
        version: job2.version ^ 0x0000_0100,
    })
    .await;
    expect_error(&mut c, "invalid-non-rollable-version-bit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_share_rejected() {
    // A share target easier than regtest's network target, so a share need not be a block
    // (a block would move the tip and make the job stale instead).
    let env = start(
        0,
        "initial_difficulty = 0.00000000001\nmin_difficulty = 0.000000000001",
    )
    .await;
    let mut c = Client::connect(&env).await;
    c.setup(common::STANDARD_JOBS).await;
    let channel_id = c.open_standard("siteD.rig", 0.0).await.channel_id;
    let (job, tip) = c.next_standard_job().await;
    let network = Target::from_compact(tip.nbits).expect("nbits");
    let mut h = StandardJobHasher::new(tip.prev_hash, job.merkle_root, tip.nbits);
    let nonce = (0u32..)
        .find(|n| !network.is_met_by(&h.hash(job.version, tip.min_ntime, *n)))
        .expect("a non-block hash");
    for seq in [1, 2] {
        c.send(SubmitSharesStandard {
            channel_id,
            sequence_number: seq,
            job_id: job.job_id,
            nonce,
            ntime: tip.min_ntime,
            version: job.version,
        })
        .await;
    }
    expect_success(&mut c).await;
    expect_error(&mut c, "duplicate-share").await;
    assert!(env.standin.submitted_blocks().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_channel_finds_block_with_rolled_extranonce_and_version() {
    let env = start(0, EASY).await;
    let mut c = Client::connect(&env).await;
    c.setup(sv2_codec::common::mining_flags::REQUIRES_VERSION_ROLLING)
        .await;
    let opened = c.open_extended("siteB.proxy", 4).await;
    let (channel_id, target, prefix, en_size) = (
        opened.channel_id,
        Target::from_le_bytes(opened.target),
        opened.extranonce_prefix,
        opened.extranonce_size as usize,
    );
    assert!(en_size >= 4);
    let job = match c.recv().await {
        Message::Mining(MiningMessage::NewExtendedMiningJob(j)) => j,
        other => panic!("unexpected {other:?}"),
    };
    assert!(job.min_ntime.is_none(), "first job is a future job");
    let tip = match c.recv().await {
        Message::Mining(MiningMessage::SetNewPrevHash(p)) => p,
        other => panic!("unexpected {other:?}"),
    };
    let mut fixed = job.coinbase_tx_prefix.clone();
    fixed.extend_from_slice(&prefix);
    let mut h = ExtendedJobHasher::new(
        &fixed,
        &job.coinbase_tx_suffix,
        &job.merkle_path,
        tip.prev_hash,
        tip.nbits,
    );
    let extranonce: Vec<u8> = (0..en_size as u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(1))
        .collect();
    let version = job.version | 0x0040_0000; // a rolled BIP320 bit
    let nonce = (0u32..)
        .find(|n| target.is_met_by(&h.hash(&extranonce, version, tip.min_ntime, *n)))
        .expect("a share exists");
    // Wrong extranonce length.
    c.send(SubmitSharesExtended {
        channel_id,
        sequence_number: 2,
        job_id: job.job_id,
        nonce,
        ntime: tip.min_ntime,
        version,
        extranonce: vec![0; en_size + 1],
    })
    .await;
    expect_error(&mut c, "bad-extranonce-size").await;

    c.send(SubmitSharesExtended {
        channel_id,
        sequence_number: 1,
        job_id: job.job_id,
        nonce,
        ntime: tip.min_ntime,
        version,
        extranonce: extranonce.clone(),
    })
    .await;
    expect_success(&mut c).await;

    let blocks = common::wait_blocks(&env, 1).await;
    assert_eq!(blocks.len(), 1);
    let b = &blocks[0];
    assert_eq!(b.block.header.version.to_consensus() as u32, version);
    // The coinbase scriptSig carries the pool prefix followed by the miner's extranonce.
    let script_sig = b.block.txdata[0].input[0].script_sig.as_bytes().to_vec();
    let mut full = prefix.clone();
    full.extend_from_slice(&extranonce);
    assert!(script_sig.windows(full.len()).any(|w| w == full.as_slice()));
    assert!(b
        .coinbase_outputs
        .iter()
        .any(|o| o.script_pubkey == env.payout_script));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_channel_broadcasts_one_extended_job_for_standard_channels() {
    let env = start(0, EASY).await;
    let mut c = Client::connect(&env).await;
    // No REQUIRES_STANDARD_JOBS: the client can take extended jobs through a group channel.
    c.setup(0).await;
    for i in 0..2u32 {
        c.send(OpenStandardMiningChannel {
            request_id: i,
            user_identity: format!("siteG.dev{i}"),
            nominal_hash_rate: 0.0,
            max_target: [0xff; 32],
        })
        .await;
    }
    // Expected: Success(dev0), the group's job and prev hash (sent when the group is made),
    // Success(dev1) — and no per-channel NewMiningJob.
    let (mut members, mut job, mut tip) = (Vec::new(), None, None);
    while members.len() < 2 || job.is_none() || tip.is_none() {
        match c.recv().await {
            Message::Mining(MiningMessage::OpenStandardMiningChannelSuccess(s)) => members.push(s),
            Message::Mining(MiningMessage::NewExtendedMiningJob(j)) => job = Some(j),
            Message::Mining(MiningMessage::SetNewPrevHash(p)) => tip = Some(p),
            Message::Mining(MiningMessage::NewMiningJob(j)) => {
                panic!("unexpected per-channel job {j:?}")
            }
            _ => {}
        }
    }
    let (job, tip) = (job.expect("job"), tip.expect("tip"));
    assert_ne!(members[0].group_channel_id, 0, "channel joins a group");
    assert_eq!(members[0].group_channel_id, members[1].group_channel_id);
    let group = members[0].group_channel_id;
    assert_eq!(job.channel_id, group);
    assert_eq!(tip.channel_id, group);
    // The second member derives its own merkle root from the group job and its prefix.
    let member = &members[1];
    let mut fixed = job.coinbase_tx_prefix.clone();
    fixed.extend_from_slice(&member.extranonce_prefix);
    let mut h = ExtendedJobHasher::new(
        &fixed,
        &job.coinbase_tx_suffix,
        &job.merkle_path,
        tip.prev_hash,
        tip.nbits,
    );
    let target = Target::from_le_bytes(member.target);
    let nonce = (0u32..)
        .find(|n| target.is_met_by(&h.hash(&[], job.version, tip.min_ntime, *n)))
        .expect("share");
    c.send(SubmitSharesStandard {
        channel_id: member.channel_id,
        sequence_number: 1,
        job_id: job.job_id,
        nonce,
        ntime: tip.min_ntime,
        version: job.version,
    })
    .await;
    expect_success(&mut c).await;
    // The next block's job is again one message for the group.
    let next = c
        .recv_until(|m| match m {
            Message::Mining(MiningMessage::NewExtendedMiningJob(j)) => Some(j),
            _ => None,
        })
        .await;
    assert_eq!(next.channel_id, group);
    assert_eq!(env.standin.submitted_blocks().len(), 1);
}
