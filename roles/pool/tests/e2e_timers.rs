//! The connection timers over real TCP + Noise: acknowledgements batched by time go out when
//! their interval ends and not otherwise (an idle connection is not woken), and vardiff lowers
//! the difficulty of a miner that went silent without any share arriving to trigger it.

mod common;

use std::time::Duration;

use common::{start, Client, STANDARD_JOBS};
use sv2_codec::mining::SubmitSharesStandard;
use sv2_codec::{Message, MiningMessage};
use sv2_mining::share::StandardJobHasher;
use sv2_mining::target::Target;

/// Fixed difficulty (min = initial = max) whose target is easier than regtest's network
/// target, so that shares exist that are not blocks; acks wait for 1 000 shares or 300 ms.
const FIXED_BATCHED: &str = "initial_difficulty = 3.1e-10
min_difficulty = 3.1e-10
max_difficulty = 3.1e-10
share_ack_batch = 1000
share_ack_interval_ms = 300";

/// Opens a standard channel and reads its first job; returns the channel id, its target and
/// a hasher with the job's version, ntime and id.
async fn open_standard(
    c: &mut Client,
    nominal_hash_rate: f32,
) -> (u32, Target, StandardJobHasher, u32, u32, u32, Target) {
    c.setup(STANDARD_JOBS).await;
    let opened = c.open_standard("siteT.rig1", nominal_hash_rate).await;
    let (channel_id, target) = (opened.channel_id, Target::from_le_bytes(opened.target));
    let (job, tip) = c.next_standard_job().await;
    let network = Target::from_compact(tip.nbits).expect("valid nbits");
    let hasher = StandardJobHasher::new(tip.prev_hash, job.merkle_root, tip.nbits);
    (
        channel_id,
        target,
        hasher,
        job.job_id,
        job.version,
        tip.min_ntime,
        network,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_batched_acks_cover_every_share_and_idle_connections_stay_quiet() {
    let env = start(0, FIXED_BATCHED).await;
    let mut c = Client::connect(&env).await;
    let (channel_id, target, mut hasher, job_id, version, ntime, network) =
        open_standard(&mut c, 0.0).await;
    assert!(
        network.to_le_bytes() != target.to_le_bytes(),
        "share target differs from the network target"
    );

    // Three shares that are not blocks (a block would bring a new tip and an ack of its own).
    let mut nonce = 0u32;
    for seq in 1..=3u32 {
        loop {
            let h = hasher.hash(version, ntime, nonce);
            nonce += 1;
            if target.is_met_by(&h) && !network.is_met_by(&h) {
                break;
            }
        }
        c.send(SubmitSharesStandard {
            channel_id,
            sequence_number: seq,
            job_id,
            nonce: nonce - 1,
            ntime,
            version,
        })
        .await;
    }
    // Far below the batch size: one acknowledgement, sent by the ack timer, covers all three.
    let ack = tokio::time::timeout(
        Duration::from_secs(10),
        c.recv_until(|m| match m {
            Message::Mining(MiningMessage::SubmitSharesSuccess(s)) => Some(s),
            Message::Mining(MiningMessage::SubmitSharesError(e)) => {
                panic!("share rejected: {}", e.error_code)
            }
            _ => None,
        }),
    )
    .await
    .expect("the ack timer sends the pending acknowledgement");
    assert_eq!(ack.channel_id, channel_id);
    assert_eq!(ack.new_submits_accepted_count, 3);
    assert_eq!(ack.last_sequence_number, 3);

    // Nothing pending: the connection sends nothing more (no empty or repeated acks).
    let quiet = tokio::time::timeout(Duration::from_millis(1200), c.recv()).await;
    assert!(
        quiet.is_err(),
        "idle connection got a message: {:?}",
        quiet.ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vardiff_timer_lowers_the_difficulty_of_a_silent_miner() {
    let env = start(
        0,
        "share_interval_secs = 0.5
initial_difficulty = 1.0
min_difficulty = 0.000001
max_difficulty = 1000000.0",
    )
    .await;
    let mut c = Client::connect(&env).await;
    // Claims 10 TH/s and never submits: vardiff must notice the silence on its own timer.
    let (channel_id, target, ..) = open_standard(&mut c, 1e13).await;
    let lowered = tokio::time::timeout(
        Duration::from_secs(60),
        c.recv_until(|m| match m {
            Message::Mining(MiningMessage::SetTarget(t)) => Some(t),
            _ => None,
        }),
    )
    .await
    .expect("vardiff sends SetTarget to a silent miner");
    assert_eq!(lowered.channel_id, channel_id);
    let new_target = Target::from_le_bytes(lowered.maximum_target);
    assert!(
        new_target > target,
        "the new target is easier (lower difficulty) than the first"
    );
}
