//! Extended channel (server side): the miner rolls its part of the extranonce.

use super::job::ExtendedJob;
use super::job_store::{JobLookup, JobStore};
use super::targets::TargetControl;
use super::{
    check_prefix_len, check_version_and_ntime, judge_hash, AcceptedShare, BlockCandidate, ChainTip,
    ChannelConfig, ChannelError, JobTemplate, NewExtendedJob, NewPrevHash, SeenShares, ShareError,
    ShareOutcome, ShareStats, SubmitExtended,
};
use crate::target::{hash_difficulty, Target};

/// An extended mining channel; see the module documentation of [`crate::channel`].
#[derive(Debug, Clone)]
pub struct ExtendedChannel {
    id: u32,
    extranonce_prefix: Vec<u8>,
    rollable_len: usize,
    cfg: ChannelConfig,
    targets: TargetControl,
    tip: Option<ChainTip>,
    jobs: JobStore<ExtendedJob>,
    seen: SeenShares,
    next_job_id: u32,
    stats: ShareStats,
}

impl ExtendedChannel {
    /// Opens a channel (`OpenExtendedMiningChannel`) with the allocated `extranonce_prefix` and
    /// `rollable_len` bytes for the miner (`extranonce_size`), e.g. from
    /// [`crate::extranonce::ExtranonceAllocator::allocate_extended`].
    pub fn new(
        channel_id: u32,
        extranonce_prefix: Vec<u8>,
        rollable_len: usize,
        nominal_hashrate: f64,
        max_target: Target,
        cfg: ChannelConfig,
        now_ms: u64,
    ) -> Result<Self, ChannelError> {
        check_prefix_len(&extranonce_prefix)?;
        let targets = TargetControl::new(&cfg, nominal_hashrate, max_target, now_ms)?;
        Ok(ExtendedChannel {
            id: channel_id,
            extranonce_prefix,
            rollable_len,
            jobs: JobStore::new(cfg.max_future_jobs, cfg.max_past_jobs),
            seen: SeenShares::new(cfg.max_seen_shares),
            cfg,
            targets,
            tip: None,
            next_job_id: 1,
            stats: ShareStats::default(),
        })
    }

    /// Channel id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The channel's extranonce prefix.
    pub fn extranonce_prefix(&self) -> &[u8] {
        &self.extranonce_prefix
    }

    /// Bytes of extranonce the miner rolls (`extranonce_size`).
    pub fn rollable_len(&self) -> usize {
        self.rollable_len
    }

    /// Full extranonce length: the coinbase of every job must reserve exactly this.
    pub fn full_extranonce_len(&self) -> usize {
        self.extranonce_prefix.len() + self.rollable_len
    }

    /// Changes the extranonce prefix (`SetExtranoncePrefix`) for jobs created from now on. The
    /// new prefix must have the same length: the negotiated `extranonce_size` and the full
    /// extranonce length the coinbases are built for stay fixed. Jobs created before keep the
    /// prefix they were built with.
    pub fn set_extranonce_prefix(&mut self, prefix: Vec<u8>) -> Result<(), ChannelError> {
        if prefix.len() != self.extranonce_prefix.len() {
            return Err(ChannelError::ExtranonceLenMismatch {
                coinbase: self.full_extranonce_len(),
                channel: prefix.len() + self.rollable_len,
            });
        }
        self.extranonce_prefix = prefix;
        Ok(())
    }

    /// Current target (for new jobs).
    pub fn target(&self) -> Target {
        self.targets.target()
    }

    /// Target state (maximum target, vardiff).
    pub fn targets(&self) -> &TargetControl {
        &self.targets
    }

    /// Current chain tip.
    pub fn chain_tip(&self) -> Option<&ChainTip> {
        self.tip.as_ref()
    }

    /// Share counters.
    pub fn stats(&self) -> &ShareStats {
        &self.stats
    }

    /// The job store (active, past, future jobs).
    pub fn jobs(&self) -> &JobStore<ExtendedJob> {
        &self.jobs
    }

    /// Sets the target (`SetTarget`); it applies to future jobs and jobs created from now on.
    /// Returns it if it changed.
    pub fn set_target(
        &mut self,
        target: Target,
        now_ms: u64,
    ) -> Result<Option<Target>, ChannelError> {
        let changed = self.targets.set_target(target, now_ms)?;
        self.retarget_future_jobs();
        Ok(changed)
    }

    /// `UpdateChannel`; returns the new target if it changed (send `SetTarget`).
    pub fn update_channel(
        &mut self,
        nominal_hashrate: f64,
        max_target: Target,
        now_ms: u64,
    ) -> Result<Option<Target>, ChannelError> {
        let changed = self.targets.update(nominal_hashrate, max_target, now_ms)?;
        self.retarget_future_jobs();
        Ok(changed)
    }

    /// Runs vardiff; returns the new target if it changed (send `SetTarget`, then a new job).
    pub fn poll_vardiff(&mut self, now_ms: u64) -> Option<Target> {
        let changed = self.targets.poll(now_ms);
        if changed.is_some() {
            self.retarget_future_jobs();
        }
        changed
    }

    fn retarget_future_jobs(&mut self) {
        let t = self.targets.target();
        for j in self.jobs.future_mut() {
            j.base.target = t;
        }
    }

    /// Sets the chain tip without activating a job: all existing jobs become stale.
    pub fn set_chain_tip(&mut self, tip: ChainTip) -> Result<(), ChannelError> {
        tip.network_target()?;
        self.jobs.flush();
        self.seen.clear();
        self.tip = Some(tip);
        Ok(())
    }

    /// New prev hash for the template `template_id`: activates this channel's future job built
    /// from it and returns the `SetNewPrevHash` to send; `None` if there is no such job.
    pub fn on_new_prev_hash(
        &mut self,
        template_id: u64,
        tip: ChainTip,
    ) -> Result<Option<NewPrevHash>, ChannelError> {
        let network = tip.network_target()?;
        self.seen.clear();
        self.tip = Some(tip);
        match self.jobs.activate_template(template_id) {
            Some(job) => {
                job.activate(&tip, network);
                Ok(Some(NewPrevHash {
                    channel_id: self.id,
                    job_id: job.job_id(),
                    prev_hash: tip.prev_hash,
                    min_ntime: tip.min_ntime,
                    nbits: tip.nbits,
                }))
            }
            None => {
                self.jobs.flush();
                Ok(None)
            }
        }
    }

    /// Creates a job from `template` (`NewExtendedMiningJob`).
    pub fn new_job(&mut self, template: &JobTemplate) -> Result<NewExtendedJob, ChannelError> {
        let job_id = self.next_job_id;
        let mut job = ExtendedJob::new(
            job_id,
            template,
            &self.extranonce_prefix,
            self.rollable_len,
            self.cfg.version_rolling_allowed,
            self.targets.target(),
        )?;
        let min_ntime = if template.future {
            self.jobs.add_future(Some(template.template_id), job);
            None
        } else {
            let tip = self.tip.ok_or(ChannelError::NoChainTip)?;
            job.activate(&tip, tip.network_target()?);
            self.jobs.add_active(job);
            Some(tip.min_ntime)
        };
        self.next_job_id = self.next_job_id.wrapping_add(1).max(1);
        Ok(NewExtendedJob {
            channel_id: self.id,
            job_id,
            min_ntime,
            version: template.version,
            version_rolling_allowed: self.cfg.version_rolling_allowed,
            merkle_path: template.merkle_path.clone(),
            coinbase: template.coinbase.clone(),
        })
    }

    /// Installs a custom job (`SetCustomMiningJob`, already checked by the caller) as the
    /// active job on `tip`, the chain tip the job names. A tip with another prev hash than the
    /// channel's makes every other job stale, as a new block does. Returns the job id for
    /// `SetCustomMiningJob.Success`.
    pub fn add_custom_job(
        &mut self,
        template: &JobTemplate,
        tip: ChainTip,
    ) -> Result<u32, ChannelError> {
        let network = tip.network_target()?;
        let job_id = self.next_job_id;
        let mut job = ExtendedJob::new(
            job_id,
            template,
            &self.extranonce_prefix,
            self.rollable_len,
            self.cfg.version_rolling_allowed,
            self.targets.target(),
        )?;
        if self.tip.is_none_or(|t| t.prev_hash != tip.prev_hash) {
            self.jobs.flush();
            self.seen.clear();
        }
        self.tip = Some(tip);
        job.activate(&tip, network);
        self.jobs.add_active(job);
        self.next_job_id = self.next_job_id.wrapping_add(1).max(1);
        Ok(job_id)
    }

    /// Validates a share (`SubmitSharesExtended`) received at `now_ms` (Unix time in ms).
    pub fn validate_share(&mut self, share: &SubmitExtended<'_>, now_ms: u64) -> ShareOutcome {
        let outcome = self.check(share, now_ms);
        self.stats.record(&outcome);
        if let Some(a) = outcome.accepted() {
            self.targets.on_share(now_ms, a.difficulty);
        }
        outcome
    }

    fn check(&mut self, share: &SubmitExtended<'_>, now_ms: u64) -> ShareOutcome {
        check_extended_share(
            self.id,
            &self.cfg,
            &mut self.jobs,
            &mut self.seen,
            share,
            now_ms,
        )
    }
}

/// Share validation common to server and client extended channels.
pub(super) fn check_extended_share(
    channel_id: u32,
    cfg: &ChannelConfig,
    jobs: &mut JobStore<ExtendedJob>,
    seen: &mut SeenShares,
    share: &SubmitExtended<'_>,
    now_ms: u64,
) -> ShareOutcome {
    if share.channel_id != channel_id {
        return ShareOutcome::Rejected(ShareError::InvalidChannelId);
    }
    let job = match jobs.lookup(share.job_id) {
        JobLookup::Valid(job) => job,
        JobLookup::Stale => return ShareOutcome::Rejected(ShareError::StaleShare),
        JobLookup::Future | JobLookup::Unknown => {
            return ShareOutcome::Rejected(ShareError::InvalidJobId)
        }
    };
    let expected = job.rollable_len();
    if share.extranonce.len() != expected {
        return ShareOutcome::Rejected(ShareError::BadExtranonceSize {
            expected,
            got: share.extranonce.len(),
        });
    }
    let (Some(min_ntime), Some(hasher)) = (job.base.min_ntime, job.hasher.as_mut()) else {
        return ShareOutcome::Rejected(ShareError::InvalidJobId);
    };
    if let Err(e) = check_version_and_ntime(
        cfg,
        job.version_rolling_allowed,
        job.base.version,
        min_ntime,
        share.version,
        share.ntime,
        now_ms,
    ) {
        return ShareOutcome::Rejected(e);
    }
    let hash = hasher.hash(share.extranonce, share.version, share.ntime, share.nonce);
    let is_block = match judge_hash(&hash, &job.base.target, &job.base.network_target, seen) {
        Ok(b) => b,
        Err(e) => return ShareOutcome::Rejected(e),
    };
    let accepted = AcceptedShare {
        channel_id,
        sequence_number: share.sequence_number,
        job_id: share.job_id,
        difficulty: job.base.target.difficulty(),
        hash_difficulty: hash_difficulty(&hash),
        hash,
    };
    if !is_block {
        return ShareOutcome::Accepted(accepted);
    }
    let mut extranonce = job.base.extranonce_prefix.clone();
    extranonce.extend_from_slice(share.extranonce);
    ShareOutcome::BlockFound(Box::new(BlockCandidate {
        share: accepted,
        template_id: job.base.template_id,
        header: hasher.header(share.extranonce, share.version, share.ntime, share.nonce),
        extranonce,
        coinbase: job.base.coinbase.clone(),
    }))
}
