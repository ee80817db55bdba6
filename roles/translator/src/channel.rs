//! Client side of one upstream extended channel: extranonce prefix, target, future jobs and
//! the jobs of the current chain tip, turned into [`Sv1Job`]s.
//!
//! Follows the Mining protocol rules: a job without `min_ntime` is a *future* job, activated
//! by the `SetNewPrevHash` naming it (every earlier job becomes stale); a job with `min_ntime`
//! applies to the current tip at once. `SetExtranoncePrefix` applies to jobs received after
//! it, so each job keeps the prefix in force when it arrived. Every collection is bounded.

use std::collections::VecDeque;

use sv2_codec::mining::{NewExtendedMiningJob, OpenExtendedMiningChannelSuccess, SetNewPrevHash};
use sv2_mining::extranonce::MAX_EXTRANONCE_LEN;
use sv2_mining::target::Target;

use crate::job::{ChainTip, JobError, Sv1Job};

/// Future jobs kept per channel.
pub const MAX_FUTURE_JOBS: usize = 8;

/// Problems with what the upstream sent on a channel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// A job for the current tip arrived before any `SetNewPrevHash`.
    #[error("job {0} has min_ntime but no prev hash is known yet")]
    NoTip(u32),
    /// `SetNewPrevHash` named a job we never received as a future job.
    #[error("SetNewPrevHash names unknown future job {0}")]
    UnknownFutureJob(u32),
    /// The extranonce prefix plus the rolled part would exceed 32 bytes.
    #[error("extranonce prefix of {prefix} bytes leaves no room in a {total}-byte extranonce")]
    PrefixTooLong {
        /// New prefix length.
        prefix: usize,
        /// Total extranonce length of the channel.
        total: usize,
    },
    /// The job cannot be offered to SV1 miners.
    #[error(transparent)]
    Job(#[from] JobError),
}

/// A new job to hand to the channel's miners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobReady {
    /// Key of the job in this channel.
    pub key: u32,
    /// True when it starts a new chain tip (SV1 `clean_jobs`).
    pub clean: bool,
}

/// State of one upstream extended channel.
#[derive(Debug, Clone)]
pub struct UpstreamChannel {
    channel_id: u32,
    prefix: Vec<u8>,
    total_len: usize,
    target: Target,
    tip: Option<ChainTip>,
    future: VecDeque<(NewExtendedMiningJob, Vec<u8>)>,
    jobs: VecDeque<Sv1Job>,
    max_jobs: usize,
    detached: bool,
}

impl UpstreamChannel {
    /// The channel described by `OpenExtendedMiningChannel.Success`, keeping at most
    /// `max_jobs` jobs of the current tip. `None` when the prefix and rolled part exceed the
    /// protocol's 32 bytes.
    pub fn open(s: &OpenExtendedMiningChannelSuccess, max_jobs: usize) -> Option<Self> {
        let total_len = s.extranonce_prefix.len() + usize::from(s.extranonce_size);
        if total_len > MAX_EXTRANONCE_LEN {
            return None;
        }
        Some(UpstreamChannel {
            channel_id: s.channel_id,
            prefix: s.extranonce_prefix.clone(),
            total_len,
            target: Target::from_le_bytes(s.target),
            tip: None,
            future: VecDeque::new(),
            jobs: VecDeque::new(),
            max_jobs: max_jobs.max(1),
            detached: false,
        })
    }

    /// The upstream's channel id.
    pub fn channel_id(&self) -> u32 {
        self.channel_id
    }

    /// Current extranonce prefix.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// Bytes after the prefix that we roll (and split among miners).
    pub fn rollable_len(&self) -> usize {
        self.total_len.saturating_sub(self.prefix.len())
    }

    /// Current upstream share target.
    pub fn target(&self) -> Target {
        self.target
    }

    /// True once the upstream connection carrying this channel is gone: its jobs still
    /// validate miners' shares locally, nothing is forwarded.
    pub fn is_detached(&self) -> bool {
        self.detached
    }

    /// Marks the channel as belonging to a lost upstream connection.
    pub fn detach(&mut self) {
        self.detached = true;
    }

    /// `SetTarget`.
    pub fn set_target(&mut self, maximum_target: [u8; 32]) {
        self.target = Target::from_le_bytes(maximum_target);
    }

    /// `SetExtranoncePrefix`: applies to jobs received from now on.
    pub fn set_prefix(&mut self, prefix: Vec<u8>) -> Result<(), ChannelError> {
        if prefix.len() >= self.total_len {
            return Err(ChannelError::PrefixTooLong {
                prefix: prefix.len(),
                total: self.total_len,
            });
        }
        self.prefix = prefix;
        Ok(())
    }

    /// `NewExtendedMiningJob`. A future job is stored; a job for the current tip is built
    /// with `key` for miners with `en1_len`/`en2_len`-byte extranonces.
    pub fn on_new_job(
        &mut self,
        job: NewExtendedMiningJob,
        key: u32,
        en1_len: usize,
        en2_len: usize,
    ) -> Result<Option<JobReady>, ChannelError> {
        let Some(min_ntime) = job.min_ntime else {
            if self.future.len() >= MAX_FUTURE_JOBS {
                self.future.pop_front();
            }
            self.future.push_back((job, self.prefix.clone()));
            return Ok(None);
        };
        let tip = self.tip.ok_or(ChannelError::NoTip(job.job_id))?;
        let built = Sv1Job::new(
            key,
            &job,
            tip,
            min_ntime.max(tip.min_ntime),
            &self.prefix,
            self.rollable_len(),
            en1_len,
            en2_len,
        )?;
        self.push(built);
        Ok(Some(JobReady { key, clean: false }))
    }

    /// `SetNewPrevHash`: activates the named future job (built with `key`) on the new tip; every
    /// older job becomes stale.
    pub fn on_prev_hash(
        &mut self,
        p: &SetNewPrevHash,
        key: u32,
        en1_len: usize,
        en2_len: usize,
    ) -> Result<Option<JobReady>, ChannelError> {
        let tip = ChainTip {
            prev_hash: p.prev_hash,
            nbits: p.nbits,
            min_ntime: p.min_ntime,
        };
        self.tip = Some(tip);
        self.jobs.clear();
        let pos = self
            .future
            .iter()
            .position(|(j, _)| j.job_id == p.job_id)
            .ok_or(ChannelError::UnknownFutureJob(p.job_id))?;
        let Some((job, prefix)) = self.future.remove(pos) else {
            return Err(ChannelError::UnknownFutureJob(p.job_id));
        };
        // The prefix in force when the job arrived, and the rolled length it implies.
        let rollable = self.total_len.saturating_sub(prefix.len());
        let built = Sv1Job::new(
            key,
            &job,
            tip,
            p.min_ntime,
            &prefix,
            rollable,
            en1_len,
            en2_len,
        )?;
        self.push(built);
        Ok(Some(JobReady { key, clean: true }))
    }

    fn push(&mut self, job: Sv1Job) {
        while self.jobs.len() >= self.max_jobs {
            self.jobs.pop_front();
        }
        self.jobs.push_back(job);
    }

    /// A job of the current tip by key.
    pub fn job_mut(&mut self, key: u32) -> Option<&mut Sv1Job> {
        self.jobs.iter_mut().rev().find(|j| j.key() == key)
    }

    /// A job of the current tip by key.
    pub fn job(&self, key: u32) -> Option<&Sv1Job> {
        self.jobs.iter().rev().find(|j| j.key() == key)
    }

    /// The newest job, what a miner joining now should work on.
    pub fn latest(&self) -> Option<&Sv1Job> {
        self.jobs.back()
    }

    /// Keys of the jobs held (oldest first).
    pub fn job_keys(&self) -> impl Iterator<Item = u32> + '_ {
        self.jobs.iter().map(Sv1Job::key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::tests::{sample_job, sample_tip};

    fn open(prefix: Vec<u8>, size: u16) -> UpstreamChannel {
        UpstreamChannel::open(
            &OpenExtendedMiningChannelSuccess {
                request_id: 1,
                channel_id: 7,
                target: [0xff; 32],
                extranonce_size: size,
                extranonce_prefix: prefix,
                group_channel_id: 0,
            },
            4,
        )
        .unwrap()
    }

    fn prev(job_id: u32) -> SetNewPrevHash {
        let t = sample_tip();
        SetNewPrevHash {
            channel_id: 7,
            job_id,
            prev_hash: t.prev_hash,
            min_ntime: t.min_ntime,
            nbits: t.nbits,
        }
    }

    #[test]
    fn future_job_then_prev_hash_then_update() {
        let mut c = open(vec![1; 8], 8);
        assert_eq!(c.rollable_len(), 8);
        assert_eq!(c.on_new_job(sample_job(1, true), 10, 2, 4), Ok(None));
        assert!(c.latest().is_none());
        let r = c.on_prev_hash(&prev(1), 11, 2, 4).unwrap();
        assert_eq!(
            r,
            Some(JobReady {
                key: 11,
                clean: true
            })
        );
        let j = c.job(11).unwrap();
        assert_eq!(j.upstream_job_id(), 1);
        assert_eq!(j.ntime(), sample_tip().min_ntime);
        let r = c.on_new_job(sample_job(2, false), 12, 2, 4).unwrap();
        assert_eq!(
            r,
            Some(JobReady {
                key: 12,
                clean: false
            })
        );
        assert_eq!(c.latest().unwrap().key(), 12);
        assert_eq!(c.job(12).unwrap().ntime(), 1_700_000_100);
        assert!(c.job(11).is_some());
    }

    #[test]
    fn new_tip_makes_old_jobs_stale() {
        let mut c = open(vec![1; 8], 8);
        c.on_new_job(sample_job(1, true), 1, 2, 4).unwrap();
        c.on_prev_hash(&prev(1), 2, 2, 4).unwrap();
        c.on_new_job(sample_job(2, true), 3, 2, 4).unwrap();
        c.on_prev_hash(&prev(2), 4, 2, 4).unwrap();
        assert!(c.job(2).is_none());
        assert!(c.job(4).is_some());
    }

    #[test]
    fn errors_for_out_of_order_messages() {
        let mut c = open(vec![1; 8], 8);
        assert_eq!(
            c.on_new_job(sample_job(1, false), 1, 2, 4),
            Err(ChannelError::NoTip(1))
        );
        assert_eq!(
            c.on_prev_hash(&prev(9), 1, 2, 4),
            Err(ChannelError::UnknownFutureJob(9))
        );
        // Too little room for the miners' part.
        let mut small = open(vec![1; 8], 5);
        small.on_new_job(sample_job(1, true), 1, 2, 4).unwrap();
        assert!(matches!(
            small.on_prev_hash(&prev(1), 2, 2, 4),
            Err(ChannelError::Job(JobError::ExtranonceTooSmall { .. }))
        ));
    }

    #[test]
    fn bounded_collections() {
        let mut c = open(vec![1; 8], 8);
        for i in 0..(MAX_FUTURE_JOBS as u32 + 5) {
            c.on_new_job(sample_job(i, true), i, 2, 4).unwrap();
        }
        assert_eq!(c.future.len(), MAX_FUTURE_JOBS);
        c.on_prev_hash(&prev(12), 100, 2, 4).unwrap();
        for k in 0..10 {
            c.on_new_job(sample_job(50 + k, false), 200 + k, 2, 4)
                .unwrap();
        }
        assert_eq!(c.job_keys().count(), 4);
        assert_eq!(c.latest().unwrap().key(), 209);
        assert!(c.job(100).is_none());
    }

    #[test]
    fn prefix_change_applies_to_later_jobs_only() {
        let mut c = open(vec![1; 8], 8);
        c.on_new_job(sample_job(1, true), 1, 2, 4).unwrap();
        c.set_prefix(vec![2; 10]).unwrap();
        assert_eq!(c.rollable_len(), 6);
        c.on_prev_hash(&prev(1), 2, 2, 4).unwrap();
        // The future job arrived under the old 8-byte prefix.
        let old = c.job(2).unwrap().notify("2".into(), true);
        assert!(old.coinb1.ends_with(&[1; 8]));
        assert_eq!(c.job(2).unwrap().rollable_len(), 8);
        c.on_new_job(sample_job(3, false), 3, 2, 4).unwrap();
        let new = c.job(3).unwrap().notify("3".into(), false);
        assert!(new.coinb1.ends_with(&[2; 10]));
        assert_eq!(c.job(3).unwrap().rollable_len(), 6);
        assert!(c.set_prefix(vec![0; 16]).is_err());
        c.set_target([0x11; 32]);
        assert_eq!(c.target(), Target::from_le_bytes([0x11; 32]));
    }

    #[test]
    fn oversized_open_is_refused() {
        assert!(UpstreamChannel::open(
            &OpenExtendedMiningChannelSuccess {
                extranonce_size: 30,
                extranonce_prefix: vec![0; 8],
                ..Default::default()
            },
            4
        )
        .is_none());
    }
}
