//! Extended channel, client side: the view a proxy or translator keeps of a channel it opened
//! upstream. It tracks the upstream's jobs, prev hash and target with the same job store as the
//! server channels, and checks the shares of its downstream miners before forwarding them, so
//! that only shares the upstream will accept are sent.

use super::extended::check_extended_share;
use super::job::ExtendedJob;
use super::job_store::JobStore;
use super::{
    check_prefix_len, ChainTip, ChannelConfig, ChannelError, JobTemplate, SeenShares, ShareOutcome,
    ShareStats, SubmitExtended,
};
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
    id: u32,
    extranonce_prefix: Vec<u8>,
    extranonce_size: usize,
    target: Target,
    cfg: ChannelConfig,
    tip: Option<ChainTip>,
    jobs: JobStore<ExtendedJob>,
    seen: SeenShares,
    stats: ShareStats,
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
        check_prefix_len(&extranonce_prefix)?;
        if target == Target::ZERO {
            return Err(ChannelError::ZeroTarget);
        }
        Ok(UpstreamChannel {
            id: channel_id,
            extranonce_prefix,
            extranonce_size,
            target,
            jobs: JobStore::new(cfg.max_future_jobs, cfg.max_past_jobs),
            seen: SeenShares::new(cfg.max_seen_shares),
            cfg,
            tip: None,
            stats: ShareStats::default(),
        })
    }

    /// Channel id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The upstream's extranonce prefix.
    pub fn extranonce_prefix(&self) -> &[u8] {
        &self.extranonce_prefix
    }

    /// Extranonce bytes we fill (and may split among our downstreams).
    pub fn extranonce_size(&self) -> usize {
        self.extranonce_size
    }

    /// Current upstream target.
    pub fn target(&self) -> Target {
        self.target
    }

    /// Current chain tip.
    pub fn chain_tip(&self) -> Option<&ChainTip> {
        self.tip.as_ref()
    }

    /// The job store.
    pub fn jobs(&self) -> &JobStore<ExtendedJob> {
        &self.jobs
    }

    /// Counters of checked shares.
    pub fn stats(&self) -> &ShareStats {
        &self.stats
    }

    /// `SetTarget`: applies to pending future jobs and later jobs.
    pub fn set_target(&mut self, target: Target) -> Result<(), ChannelError> {
        if target == Target::ZERO {
            return Err(ChannelError::ZeroTarget);
        }
        self.target = target;
        for j in self.jobs.future_mut() {
            j.base.target = target;
        }
        Ok(())
    }

    /// `SetExtranoncePrefix`: same length as before; applies to later jobs.
    pub fn set_extranonce_prefix(&mut self, prefix: Vec<u8>) -> Result<(), ChannelError> {
        if prefix.len() != self.extranonce_prefix.len() {
            return Err(ChannelError::ExtranonceLenMismatch {
                coinbase: self.extranonce_prefix.len() + self.extranonce_size,
                channel: prefix.len() + self.extranonce_size,
            });
        }
        self.extranonce_prefix = prefix;
        Ok(())
    }

    /// `NewExtendedMiningJob` from upstream.
    pub fn on_new_job(&mut self, msg: UpstreamJob) -> Result<(), ChannelError> {
        let full = self.extranonce_prefix.len() + self.extranonce_size;
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
            &self.extranonce_prefix,
            self.extranonce_size,
            msg.version_rolling_allowed,
            self.target,
        )?;
        match msg.min_ntime {
            None => {
                self.jobs.add_future(None, job);
            }
            Some(min_ntime) => {
                let tip = self.tip.ok_or(ChannelError::NoChainTip)?;
                let job_tip = ChainTip { min_ntime, ..tip };
                job.activate(&job_tip, tip.network_target()?);
                self.jobs.add_active(job);
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
        let network = tip.network_target()?;
        self.seen.clear();
        self.tip = Some(tip);
        match self.jobs.activate_job(job_id) {
            Some(job) => {
                job.activate(&tip, network);
                Ok(true)
            }
            None => {
                self.jobs.flush();
                Ok(false)
            }
        }
    }

    /// Checks a share built on an upstream job before forwarding it: `share.extranonce` is
    /// everything after the upstream prefix (`extranonce_size` bytes). Accepted shares meet the
    /// upstream target and were not seen before; `now_ms` is Unix time in ms.
    pub fn check_share(&mut self, share: &SubmitExtended<'_>, now_ms: u64) -> ShareOutcome {
        let outcome = self.check(share, now_ms);
        self.stats.record(&outcome);
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
