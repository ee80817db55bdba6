//! Extended channel (server side): the miner rolls its part of the extranonce.

use super::core::{core_accessors, server_core_methods, ChannelCore};
use super::job::ExtendedJob;
use super::targets::TargetControl;
use super::{
    ChainTip, ChannelConfig, ChannelError, JobTemplate, NewExtendedJob, ShareOutcome,
    SubmitExtended,
};
use crate::target::Target;

/// An extended mining channel; see the module documentation of [`crate::channel`].
#[derive(Debug, Clone)]
pub struct ExtendedChannel {
    core: ChannelCore<ExtendedJob>,
    rollable_len: usize,
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
        let core = ChannelCore::new(channel_id, extranonce_prefix, cfg, |cfg| {
            TargetControl::new(cfg, nominal_hashrate, max_target, now_ms)
        })?;
        Ok(ExtendedChannel { core, rollable_len })
    }

    core_accessors!(ExtendedJob);
    server_core_methods!();

    /// Bytes of extranonce the miner rolls (`extranonce_size`).
    pub fn rollable_len(&self) -> usize {
        self.rollable_len
    }

    /// Full extranonce length: the coinbase of every job must reserve exactly this.
    pub fn full_extranonce_len(&self) -> usize {
        self.core.extranonce_prefix.len() + self.rollable_len
    }

    /// Changes the extranonce prefix (`SetExtranoncePrefix`) for jobs created from now on. The
    /// new prefix must have the same length: the negotiated `extranonce_size` and the full
    /// extranonce length the coinbases are built for stay fixed. Jobs created before keep the
    /// prefix they were built with.
    pub fn set_extranonce_prefix(&mut self, prefix: Vec<u8>) -> Result<(), ChannelError> {
        self.core.set_extranonce_prefix(prefix, self.rollable_len)
    }

    /// A job from `template` under the channel's next job id (not yet consumed).
    fn build_job(&self, template: &JobTemplate) -> Result<ExtendedJob, ChannelError> {
        ExtendedJob::new(
            self.core.job_ids.peek(),
            template,
            &self.core.extranonce_prefix,
            self.rollable_len,
            self.core.cfg.version_rolling_allowed,
            self.core.targets.target(),
        )
    }

    /// Creates a job from `template` (`NewExtendedMiningJob`).
    pub fn new_job(&mut self, template: &JobTemplate) -> Result<NewExtendedJob, ChannelError> {
        let job = self.build_job(template)?;
        let job_id = job.job_id();
        let min_ntime = self.core.add_job(job, template)?;
        self.core.job_ids.advance();
        Ok(NewExtendedJob {
            channel_id: self.core.id,
            job_id,
            min_ntime,
            version: template.version,
            version_rolling_allowed: self.core.cfg.version_rolling_allowed,
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
        tip.network_target()?;
        let job = self.build_job(template)?;
        let job_id = job.job_id();
        self.core.add_job_on_tip(job, tip)?;
        self.core.job_ids.advance();
        Ok(job_id)
    }

    /// Validates a share (`SubmitSharesExtended`) received at `now_ms` (Unix time in ms).
    pub fn validate_share(&mut self, share: &SubmitExtended<'_>, now_ms: u64) -> ShareOutcome {
        self.core.validate_share(share, now_ms)
    }

    /// Validates shares received together at `now_ms` (e.g. back-to-back
    /// `SubmitSharesExtended` on this channel) and appends one outcome per share to `out`, in
    /// order. The outcomes, counters and vardiff input are exactly those of
    /// [`Self::validate_share`] on each share in order, duplicates within the batch included;
    /// shares with fresh extranonces are hashed several at a time in lock-step. Allocates
    /// nothing per share beyond `out` once the channel has seen a batch this large.
    pub fn validate_shares(
        &mut self,
        shares: &[SubmitExtended<'_>],
        now_ms: u64,
        out: &mut Vec<ShareOutcome>,
    ) {
        self.core.validate_shares(shares, now_ms, out)
    }
}
