//! A found block also goes to every `[[bitcoind.submit_also]]` node.

mod common;

use std::time::Duration;

use common::{start_on, Client};
use sv2_codec::mining::SubmitSharesExtended;
use sv2_codec::{Message, MiningMessage};
use sv2_mining::share::ExtendedJobHasher;
use sv2_mining::target::Target;
use test_utils::bitcoind::{StandIn, StandInConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn found_block_reaches_the_secondary_node() {
    // Both nodes start from the regtest genesis block, so they share the tip.
    let primary = StandIn::start(StandInConfig::default())
        .await
        .expect("primary");
    let secondary = StandIn::start(StandInConfig::default())
        .await
        .expect("secondary");
    assert_eq!(primary.tip().hash, secondary.tip().hash);
    let extra = format!(
        "initial_difficulty = 0.00001\nmin_difficulty = 0.000001\n#tables\n[[bitcoind.submit_also]]\nurl = \"{}\"\nuser = \"pool\"\npassword = \"poolpass\"\n",
        secondary.url()
    );
    let env = start_on(primary, &extra).await;
    let mut jobs = env.pool.jobs.clone();
    tokio::time::timeout(Duration::from_secs(10), async {
        while jobs.borrow_and_update().is_none() {
            jobs.changed().await.expect("jobs");
        }
    })
    .await
    .expect("job");

    let mut c = Client::connect(&env).await;
    c.setup(0).await;
    let opened = c.open_extended("s.x", 4).await;
    let (channel_id, target, prefix, size) = (
        opened.channel_id,
        Target::from_le_bytes(opened.target),
        opened.extranonce_prefix,
        opened.extranonce_size as usize,
    );
    let job = c
        .recv_until(|m| match m {
            Message::Mining(MiningMessage::NewExtendedMiningJob(j)) => Some(j),
            _ => None,
        })
        .await;
    let tip = c
        .recv_until(|m| match m {
            Message::Mining(MiningMessage::SetNewPrevHash(p)) => Some(p),
            _ => None,
        })
        .await;
    let mut fixed = job.coinbase_tx_prefix.clone();
    fixed.extend_from_slice(&prefix);
    let mut h = ExtendedJobHasher::new(
        &fixed,
        &job.coinbase_tx_suffix,
        &job.merkle_path,
        tip.prev_hash,
        tip.nbits,
    );
    let en = vec![7u8; size];
    let nonce = (0u32..)
        .find(|n| target.is_met_by(&h.hash(&en, job.version, tip.min_ntime, *n)))
        .expect("share");
    c.send(SubmitSharesExtended {
        channel_id,
        sequence_number: 1,
        job_id: job.job_id,
        nonce,
        ntime: tip.min_ntime,
        version: job.version,
        extranonce: en,
    })
    .await;

    let blocks = common::wait_blocks(&env, 1).await;
    assert_eq!(blocks.len(), 1);
    let mut on_secondary = Vec::new();
    for _ in 0..500 {
        on_secondary = secondary.submitted_blocks();
        if !on_secondary.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(on_secondary.len(), 1, "secondary node got the block");
    assert_eq!(on_secondary[0].hash, blocks[0].hash);
}
