//! Standard channel (server side): header-only mining on fixed merkle roots.

use super::core::ChannelCore;
use super::job::StandardJob;
use super::job_store::JobStore;
use super::targets::TargetControl;
use super::{
    ChainTip, ChannelConfig, ChannelError, JobTemplate, NewPrevHash, NewStandardJob, ShareOutcome,
    ShareStats, SubmitStandard,
};
use crate::target::Target;

/// A standard mining channel; see the module documentation of [`crate::channel`].
#[derive(Debug, Clone)]
pub struct StandardChannel {
    core: ChannelCore<StandardJob>,
}

impl StandardChannel {
    /// Opens a channel (`OpenStandardMiningChannel`): `extranonce_prefix` is the full extranonce
    /// (from [`crate::extranonce::ExtranonceAllocator::allocate_standard`]).
    pub fn new(
        channel_id: u32,
        extranonce_prefix: Vec<u8>,
        nominal_hashrate: f64,
        max_target: Target,
        cfg: ChannelConfig,
        now_ms: u64,
    ) -> Result<Self, ChannelError> {
        let core = ChannelCore::new(channel_id, extranonce_prefix, cfg, |cfg| {
            TargetControl::new(cfg, nominal_hashrate, max_target, now_ms)
        })?;
        Ok(StandardChannel { core })
    }

    /// Channel id.
    pub fn id(&self) -> u32 {
        self.core.id
    }

    /// The channel's extranonce prefix (the full extranonce).
    pub fn extranonce_prefix(&self) -> &[u8] {
        &self.core.extranonce_prefix
    }

    /// Changes the extranonce prefix (`SetExtranoncePrefix`) for jobs created from now on; it must
    /// keep the full extranonce length.
    pub fn set_extranonce_prefix(&mut self, prefix: Vec<u8>) -> Result<(), ChannelError> {
        self.core.set_extranonce_prefix(prefix, 0)
    }

    /// Current target (for new jobs).
    pub fn target(&self) -> Target {
        self.core.targets.target()
    }

    /// Target state (maximum target, vardiff).
    pub fn targets(&self) -> &TargetControl {
        &self.core.targets
    }

    /// Current chain tip.
    pub fn chain_tip(&self) -> Option<&ChainTip> {
        self.core.tip.as_ref()
    }

    /// Share counters.
    pub fn stats(&self) -> &ShareStats {
        &self.core.stats
    }

    /// The job store (active, past, future jobs).
    pub fn jobs(&self) -> &JobStore<StandardJob> {
        &self.core.jobs
    }

    /// Sets the target (`SetTarget`); it applies to future jobs and jobs created from now on.
    /// Returns it if it changed.
    pub fn set_target(
        &mut self,
        target: Target,
        now_ms: u64,
    ) -> Result<Option<Target>, ChannelError> {
        self.core.set_target(target, now_ms)
    }

    /// `UpdateChannel`; returns the new target if it changed (send `SetTarget`).
    pub fn update_channel(
        &mut self,
        nominal_hashrate: f64,
        max_target: Target,
        now_ms: u64,
    ) -> Result<Option<Target>, ChannelError> {
        self.core
            .update_channel(nominal_hashrate, max_target, now_ms)
    }

    /// Runs vardiff; returns the new target if it changed (send `SetTarget`, then a new job).
    pub fn poll_vardiff(&mut self, now_ms: u64) -> Option<Target> {
        self.core.poll_vardiff(now_ms)
    }

    /// Sets the chain tip without activating a job (e.g. on opening the channel mid-block):
    /// all existing jobs become stale.
    pub fn set_chain_tip(&mut self, tip: ChainTip) -> Result<(), ChannelError> {
        self.core.set_chain_tip(tip)
    }

    /// New prev hash for the template `template_id` (Template Distribution `SetNewPrevHash`).
    /// Activates this channel's future job built from it and returns the `SetNewPrevHash` to
    /// send; `None` if the channel has no such job (it then needs a new non-future job).
    pub fn on_new_prev_hash(
        &mut self,
        template_id: u64,
        tip: ChainTip,
    ) -> Result<Option<NewPrevHash>, ChannelError> {
        self.core.on_new_prev_hash(template_id, tip)
    }

    /// Creates a job from `template` with the channel's own job ids.
    pub fn new_job(&mut self, template: &JobTemplate) -> Result<NewStandardJob, ChannelError> {
        let msg = self.install_job(self.core.peek_job_id(), template)?;
        self.core.advance_job_id();
        Ok(msg)
    }

    /// Creates a job under an id chosen by the caller (a group channel's shared job id).
    pub(crate) fn install_job(
        &mut self,
        job_id: u32,
        template: &JobTemplate,
    ) -> Result<NewStandardJob, ChannelError> {
        let job = StandardJob::new(
            job_id,
            template,
            &self.core.extranonce_prefix,
            self.core.targets.target(),
        )?;
        let merkle_root = job.merkle_root();
        let min_ntime = self.core.add_job(job, template)?;
        Ok(NewStandardJob {
            channel_id: self.core.id,
            job_id,
            min_ntime,
            version: template.version,
            merkle_root,
        })
    }

    /// Validates a share (`SubmitSharesStandard`) received at `now_ms` (Unix time in ms).
    pub fn validate_share(&mut self, share: &SubmitStandard, now_ms: u64) -> ShareOutcome {
        self.core.validate_share(share, now_ms)
    }
}
