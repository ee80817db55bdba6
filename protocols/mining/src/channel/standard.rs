//! Standard channel (server side): header-only mining on fixed merkle roots.

use super::core::{core_accessors, server_core_methods, ChannelCore};
use super::job::StandardJob;
use super::targets::TargetControl;
use super::{
    ChannelConfig, ChannelError, JobTemplate, NewStandardJob, ShareOutcome, SubmitStandard,
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

    core_accessors!(StandardJob);
    server_core_methods!();

    /// Changes the extranonce prefix (`SetExtranoncePrefix`) for jobs created from now on; it must
    /// keep the full extranonce length.
    pub fn set_extranonce_prefix(&mut self, prefix: Vec<u8>) -> Result<(), ChannelError> {
        self.core.set_extranonce_prefix(prefix, 0)
    }

    /// Creates a job from `template` with the channel's own job ids.
    pub fn new_job(&mut self, template: &JobTemplate) -> Result<NewStandardJob, ChannelError> {
        let msg = self.install_job(self.core.job_ids.peek(), template)?;
        self.core.job_ids.advance();
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
