//! Extended channel, client side: the view a proxy or translator keeps of a channel it opened
//! upstream. It tracks the upstream's jobs, prev hash and target with the same channel core as
//! the server channels, and checks the shares of its downstream miners before forwarding them,
//! so that only shares the upstream will accept are sent.

use super::core::{core_accessors, ChannelCore, ChannelJob};
use super::job::ExtendedJob;
use super::targets::TargetControl;
use super::{ChainTip, ChannelConfig, ChannelError, JobTemplate, ShareOutcome, SubmitExtended};
use crate::coinbase::{parse_coinbase, CoinbaseParts};
use crate::target::Target;
use std::sync::Arc;

/// An upstream `NewExtendedMiningJob` as received.
#[derive(Debug, Clone)]
pub struct UpstreamJob {
    /// Upstream job id.
    pub job_id: u32,
    /// `None`: future job; else mine now with this minimum ntime.
    pub min_ntime: Option<u32>,
    /// Block version.
    pub version: u32,
    /// Whether the BIP320 bits may be rolled.
    pub version_rolling_allowed: bool,
    /// Coinbase merkle branch.
    pub merkle_path: Vec<[u8; 32]>,
    /// `coinbase_tx_prefix`.
    pub coinbase_tx_prefix: Vec<u8>,
    /// `coinbase_tx_suffix`.
    pub coinbase_tx_suffix: Vec<u8>,
}

/// Client-side state of an extended channel opened upstream; see the module documentation.
#[derive(Debug, Clone)]
pub struct UpstreamChannel {
    /// The upstream's target is fixed (no vardiff here): it changes only on `SetTarget`.
    core: ChannelCore<ExtendedJob>,
    extranonce_size: usize,
}

impl UpstreamChannel {
    /// State after `OpenExtendedMiningChannel.Success`: channel id, target, the upstream's
    /// extranonce prefix and the `extranonce_size` left to us.
    pub fn new(
        channel_id: u32,
        target: Target,
        extranonce_prefix: Vec<u8>,
        extranonce_size: usize,
        cfg: ChannelConfig,
    ) -> Result<Self, ChannelError> {
        let core = ChannelCore::new(channel_id, extranonce_prefix, cfg, |_| {
            TargetControl::fixed(target)
        })?;
        Ok(UpstreamChannel {
            core,
            extranonce_size,
        })
    }

    core_accessors!(ExtendedJob);

    /// Extranonce bytes we fill (and may split among our downstreams).
    pub fn extranonce_size(&self) -> usize {
        self.extranonce_size
    }

    /// `SetTarget`: applies to pending future jobs and later jobs.
    pub fn set_target(&mut self, target: Target) -> Result<(), ChannelError> {
        // Without vardiff the time is not used.
        self.core.set_target(target, 0).map(|_| ())
    }

    /// `SetExtranoncePrefix`: same length as before; applies to later jobs.
    pub fn set_extranonce_prefix(&mut self, prefix: Vec<u8>) -> Result<(), ChannelError> {
        self.core
            .set_extranonce_prefix(prefix, self.extranonce_size)
    }

    /// `NewExtendedMiningJob` from upstream.
    pub fn on_new_job(&mut self, msg: UpstreamJob) -> Result<(), ChannelError> {
        let full = self.core.extranonce_prefix.len() + self.extranonce_size;
        let probe = vec![0u8; full];
        let has_witness_commitment =
            parse_coinbase(&msg.coinbase_tx_prefix, &probe, &msg.coinbase_tx_suffix)
                .map(|p| p.has_witness_commitment())
                .unwrap_or(false);
        let template = JobTemplate {
            template_id: 0,
            future: msg.min_ntime.is_none(),
            version: msg.version,
            coinbase: Arc::new(CoinbaseParts {
                prefix: msg.coinbase_tx_prefix,
                suffix: msg.coinbase_tx_suffix,
                extranonce_len: full,
                has_witness_commitment,
            }),
            merkle_path: msg.merkle_path.into(),
        };
        let mut job = ExtendedJob::new(
            msg.job_id,
            &template,
            &self.core.extranonce_prefix,
            self.extranonce_size,
            msg.version_rolling_allowed,
            self.core.targets.target(),
        )?;
        match msg.min_ntime {
            None => {
                self.core.jobs.add_future(None, job);
            }
            Some(min_ntime) => {
                let tip = self.core.tip.ok_or(ChannelError::NoChainTip)?;
                let job_tip = ChainTip { min_ntime, ..tip };
                job.activate(&job_tip, tip.network_target()?);
                self.core.jobs.add_active(job);
            }
        }
        Ok(())
    }

    /// `SetNewPrevHash` from upstream: activates the future job `job_id` (every other job becomes
    /// stale). Returns whether such a future job was known.
    pub fn on_set_new_prev_hash(
        &mut self,
        job_id: u32,
        tip: ChainTip,
    ) -> Result<bool, ChannelError> {
        self.core.on_new_prev_hash_for_job(job_id, tip)
    }

    /// Checks a share built on an upstream job before forwarding it: `share.extranonce` is
    /// everything after the upstream prefix (`extranonce_size` bytes). Accepted shares meet the
    /// upstream target and were not seen before; `now_ms` is Unix time in ms.
    pub fn check_share(&mut self, share: &SubmitExtended<'_>, now_ms: u64) -> ShareOutcome {
        self.core.validate_share(share, now_ms)
    }
}
