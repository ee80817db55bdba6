//! A small CPU miner for the treasury tests: one SV2 standard channel over real TCP + Noise,
//! shares mined with `sv2-mining`'s hasher and submitted one at a time (on regtest every share
//! is also a block, so each submitted share finds exactly one block).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use sv2_codec::common::SetupConnection;
use sv2_codec::mining::{OpenStandardMiningChannel, SubmitSharesStandard};
use sv2_codec::{CommonMessage, Message, MiningMessage, Protocol};
use sv2_mining::share::StandardJobHasher;
use sv2_mining::target::Target;
use sv2_noise::secp256k1::XOnlyPublicKey;

#[derive(Clone, Copy)]
struct Job {
    version: u32,
    merkle_root: [u8; 32],
}

#[derive(Clone, Copy)]
struct Tip {
    job_id: u32,
    prev_hash: [u8; 32],
    nbits: u32,
    ntime: u32,
}

/// One mining channel.
pub struct Miner {
    peer: test_utils::sv2_client::Client,
    channel_id: u32,
    target: Target,
    jobs: HashMap<u32, Job>,
    latest_job: Option<u32>,
    tip: Option<Tip>,
    seq: u32,
    next_nonce: u32,
}

impl Miner {
    /// Connects, sets up the mining protocol and opens a standard channel for `identity`.
    pub async fn connect(
        addr: SocketAddr,
        authority: XOnlyPublicKey,
        identity: &str,
    ) -> Result<Miner, String> {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("tcp: {e}"))?;
        let conn = sv2_noise::connect(tcp, authority, Duration::from_secs(5))
            .await
            .map_err(|e| format!("noise: {e}"))?;
        let mut m = Miner {
            peer: test_utils::sv2_client::Client::from_connection(conn, Protocol::Mining),
            channel_id: 0,
            target: Target::from_le_bytes([0xff; 32]),
            jobs: HashMap::new(),
            latest_job: None,
            tip: None,
            seq: 0,
            next_nonce: 0,
        };
        m.send(SetupConnection {
            protocol: Protocol::Mining,
            min_version: 2,
            max_version: 2,
            // Standard jobs on the channel itself (no group-channel extended jobs).
            flags: sv2_codec::common::mining_flags::REQUIRES_STANDARD_JOBS,
            endpoint_host: "127.0.0.1".into(),
            endpoint_port: 0,
            vendor: "treasury-test".into(),
            hardware_version: "cpu".into(),
            firmware: "test".into(),
            device_id: identity.into(),
        })
        .await?;
        match m.recv().await? {
            Message::Common(CommonMessage::SetupConnectionSuccess(_)) => {}
            other => return Err(format!("setup refused: {other:?}")),
        }
        m.send(OpenStandardMiningChannel {
            request_id: 1,
            user_identity: identity.into(),
            nominal_hash_rate: 0.0,
            max_target: [0xff; 32],
        })
        .await?;
        loop {
            match m.recv().await? {
                Message::Mining(MiningMessage::OpenStandardMiningChannelSuccess(s)) => {
                    m.channel_id = s.channel_id;
                    m.target = Target::from_le_bytes(s.target);
                    return Ok(m);
                }
                Message::Mining(MiningMessage::OpenMiningChannelError(e)) => {
                    return Err(format!("channel refused: {}", e.error_code))
                }
                other => m.apply(other),
            }
        }
    }

    async fn send(&mut self, msg: impl Into<Message>) -> Result<(), String> {
        self.peer.try_send(msg).await
    }

    async fn recv(&mut self) -> Result<Message, String> {
        self.peer.try_recv(Duration::from_secs(15)).await
    }

    fn apply(&mut self, m: Message) {
        match m {
            Message::Mining(MiningMessage::NewMiningJob(j)) => {
                self.jobs.insert(
                    j.job_id,
                    Job {
                        version: j.version,
                        merkle_root: j.merkle_root,
                    },
                );
                if j.min_ntime.is_some() {
                    self.latest_job = Some(j.job_id);
                }
            }
            Message::Mining(MiningMessage::SetNewPrevHash(p)) => {
                self.tip = Some(Tip {
                    job_id: p.job_id,
                    prev_hash: p.prev_hash,
                    nbits: p.nbits,
                    ntime: p.min_ntime,
                });
                self.latest_job = Some(p.job_id);
                self.next_nonce = 0;
            }
            Message::Mining(MiningMessage::SetTarget(t)) => {
                self.target = Target::from_le_bytes(t.maximum_target);
            }
            _ => {}
        }
    }

    /// Reads messages until the channel works on top of `prev_hash` (internal byte order).
    pub async fn sync_to(&mut self, prev_hash: [u8; 32]) -> Result<(), String> {
        while self.tip.is_none_or(|t| t.prev_hash != prev_hash)
            || self.latest_job.and_then(|j| self.jobs.get(&j)).is_none()
        {
            let m = self.recv().await?;
            if std::env::var_os("TREASURY_MINER_DEBUG").is_some() {
                eprintln!("miner got {m:?}, want tip {}", hex::encode(prev_hash));
            }
            self.apply(m);
        }
        Ok(())
    }

    /// Mines one share on the current job and submits it; returns whether it was accepted.
    pub async fn submit_share(&mut self) -> Result<bool, String> {
        let tip = self.tip.ok_or("no prev hash yet")?;
        let job_id = self.latest_job.ok_or("no job yet")?;
        let job = *self.jobs.get(&job_id).ok_or("unknown job")?;
        let mut h = StandardJobHasher::new(tip.prev_hash, job.merkle_root, tip.nbits);
        let mut nonce = self.next_nonce;
        while !self
            .target
            .is_met_by(&h.hash(job.version, tip.ntime, nonce))
        {
            nonce = nonce.wrapping_add(1);
        }
        self.next_nonce = nonce.wrapping_add(1);
        self.seq += 1;
        self.send(SubmitSharesStandard {
            channel_id: self.channel_id,
            sequence_number: self.seq,
            job_id,
            nonce,
            ntime: tip.ntime,
            version: job.version,
        })
        .await?;
        loop {
            match self.recv().await? {
                Message::Mining(MiningMessage::SubmitSharesSuccess(_)) => return Ok(true),
                // E.g. `stale-share` when the block of the previous share moved the tip.
                Message::Mining(MiningMessage::SubmitSharesError(_)) => return Ok(false),
                other => self.apply(other),
            }
        }
    }
}
