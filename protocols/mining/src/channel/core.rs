//! State and logic every channel kind shares: id, extranonce prefix, target control, chain tip,
//! job store, seen shares, job ids and share counters.
//!
//! [`ChannelCore`] is generic over the job type; the job types say how they take a new target
//! and how they start mining on a chain tip ([`ChannelJob`]). Standard, extended and upstream
//! channels wrap one core and add what is specific to them (how jobs are built, which shares
//! they take).

use super::check::{check_share, gate, judge, ShareJob, Submission};
use super::job_store::{JobLookup, JobStore, StoredJob};
use super::targets::TargetControl;
use super::{
    check_prefix_len, ChainTip, ChannelConfig, ChannelError, JobTemplate, NewPrevHash, SeenShares,
    ShareError, ShareOutcome, ShareStats,
};
use crate::target::Target;

/// What [`ChannelCore`] needs from the jobs it keeps.
pub(crate) trait ChannelJob: StoredJob {
    /// Gives a job not yet mined the channel's new target.
    fn retarget(&mut self, target: Target);
    /// Starts mining on `tip`, whose network target is `network_target`.
    fn activate(&mut self, tip: &ChainTip, network_target: Target);
}

/// Shares of one job hashed together by [`ChannelCore::validate_shares`].
pub(crate) const BATCH_CHUNK: usize = 16;

/// Where a share of a batch stands between the phases of [`ChannelCore::validate_shares`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Slot {
    /// Failed a check before hashing.
    Rejected(ShareError),
    /// Passed them; waits for its hash.
    Pending,
    /// Hashed; waits for its verdict.
    Hashed([u8; 32]),
}

/// Job ids a channel numbers itself: 1, 2, ... wrapping around, never 0.
#[derive(Debug, Clone)]
pub(crate) struct JobIds(u32);

impl JobIds {
    /// Starts at 1.
    pub(crate) fn new() -> Self {
        JobIds(1)
    }

    /// The id the next job gets.
    pub(crate) fn peek(&self) -> u32 {
        self.0
    }

    /// Consumes the id [`Self::peek`] returned.
    pub(crate) fn advance(&mut self) {
        self.0 = self.0.wrapping_add(1).max(1);
    }
}

/// The shared part of a channel; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct ChannelCore<J> {
    /// Channel id.
    pub(crate) id: u32,
    /// Extranonce prefix for jobs created from now on.
    pub(crate) extranonce_prefix: Vec<u8>,
    /// Channel policy.
    pub(crate) cfg: ChannelConfig,
    /// Target and vardiff.
    pub(crate) targets: TargetControl,
    /// Current chain tip.
    pub(crate) tip: Option<ChainTip>,
    /// Future, active, past and stale jobs.
    pub(crate) jobs: JobStore<J>,
    /// Accepted share hashes on the current tip.
    pub(crate) seen: SeenShares,
    /// Ids of the jobs the channel numbers itself.
    pub(crate) job_ids: JobIds,
    /// Share counters.
    pub(crate) stats: ShareStats,
    /// Per-share state of the batch being validated (kept to reuse its allocation).
    pub(crate) batch: Vec<Slot>,
}

impl<J: ChannelJob> ChannelCore<J> {
    /// A core with no tip and no jobs whose target control `targets` builds from the policy;
    /// fails on a prefix over 32 bytes (checked first) or whatever `targets` fails on.
    pub(crate) fn new(
        id: u32,
        extranonce_prefix: Vec<u8>,
        cfg: ChannelConfig,
        targets: impl FnOnce(&ChannelConfig) -> Result<TargetControl, ChannelError>,
    ) -> Result<Self, ChannelError> {
        check_prefix_len(&extranonce_prefix)?;
        let targets = targets(&cfg)?;
        Ok(ChannelCore {
            id,
            extranonce_prefix,
            jobs: JobStore::new(cfg.max_future_jobs, cfg.max_past_jobs),
            seen: SeenShares::new(cfg.max_seen_shares),
            cfg,
            targets,
            tip: None,
            job_ids: JobIds::new(),
            stats: ShareStats::default(),
            batch: Vec::new(),
        })
    }

    /// Changes the extranonce prefix for jobs created from now on. The length must stay the
    /// same; `rollable_len` (the miner's part) only enters the error, which reports full
    /// extranonce lengths.
    pub(crate) fn set_extranonce_prefix(
        &mut self,
        prefix: Vec<u8>,
        rollable_len: usize,
    ) -> Result<(), ChannelError> {
        if prefix.len() != self.extranonce_prefix.len() {
            return Err(ChannelError::ExtranonceLenMismatch {
                coinbase: self.extranonce_prefix.len() + rollable_len,
                channel: prefix.len() + rollable_len,
            });
        }
        self.extranonce_prefix = prefix;
        Ok(())
    }

    /// Sets the target; it applies to future jobs and jobs created from now on. Returns it if
    /// it changed.
    pub(crate) fn set_target(
        &mut self,
        target: Target,
        now_ms: u64,
    ) -> Result<Option<Target>, ChannelError> {
        let changed = self.targets.set_target(target, now_ms)?;
        self.retarget_future_jobs();
        Ok(changed)
    }

    /// `UpdateChannel`; returns the new target if it changed.
    pub(crate) fn update_channel(
        &mut self,
        nominal_hashrate: f64,
        max_target: Target,
        now_ms: u64,
    ) -> Result<Option<Target>, ChannelError> {
        let changed = self.targets.update(nominal_hashrate, max_target, now_ms)?;
        self.retarget_future_jobs();
        Ok(changed)
    }

    /// Runs vardiff; returns the new target if it changed.
    pub(crate) fn poll_vardiff(&mut self, now_ms: u64) -> Option<Target> {
        let changed = self.targets.poll(now_ms);
        if changed.is_some() {
            self.retarget_future_jobs();
        }
        changed
    }

    fn retarget_future_jobs(&mut self) {
        let t = self.targets.target();
        for j in self.jobs.future_mut() {
            j.retarget(t);
        }
    }

    /// Sets the chain tip without activating a job: all existing jobs become stale.
    pub(crate) fn set_chain_tip(&mut self, tip: ChainTip) -> Result<(), ChannelError> {
        tip.network_target()?;
        self.jobs.flush();
        self.seen.clear();
        self.tip = Some(tip);
        Ok(())
    }

    /// New prev hash: activates the future job `find` picks in the store (every other job
    /// becomes stale) and returns its id; with no such job every job becomes stale.
    fn on_tip(
        &mut self,
        tip: ChainTip,
        find: impl FnOnce(&mut JobStore<J>) -> Option<&mut J>,
    ) -> Result<Option<u32>, ChannelError> {
        let network = tip.network_target()?;
        self.seen.clear();
        self.tip = Some(tip);
        match find(&mut self.jobs) {
            Some(job) => {
                job.activate(&tip, network);
                Ok(Some(job.job_id()))
            }
            None => {
                self.jobs.flush();
                Ok(None)
            }
        }
    }

    /// New prev hash for the template `template_id` (server side): activates the future job
    /// built from it and returns the `SetNewPrevHash` to send; `None` if there is no such job.
    pub(crate) fn on_new_prev_hash(
        &mut self,
        template_id: u64,
        tip: ChainTip,
    ) -> Result<Option<NewPrevHash>, ChannelError> {
        let activated = self.on_tip(tip, |jobs| jobs.activate_template(template_id))?;
        Ok(activated.map(|job_id| NewPrevHash {
            channel_id: self.id,
            job_id,
            prev_hash: tip.prev_hash,
            min_ntime: tip.min_ntime,
            nbits: tip.nbits,
        }))
    }

    /// New prev hash naming the future job `job_id` (client side); returns whether it was known.
    pub(crate) fn on_new_prev_hash_for_job(
        &mut self,
        job_id: u32,
        tip: ChainTip,
    ) -> Result<bool, ChannelError> {
        let activated = self.on_tip(tip, |jobs| jobs.activate_job(job_id))?;
        Ok(activated.is_some())
    }

    /// Stores a job built from `template`: a future job waits for its template's prev hash,
    /// any other job becomes the active job on the current tip. Returns the job's `min_ntime`
    /// (`None` for a future job).
    pub(crate) fn add_job(
        &mut self,
        mut job: J,
        template: &JobTemplate,
    ) -> Result<Option<u32>, ChannelError> {
        if template.future {
            self.jobs.add_future(Some(template.template_id), job);
            return Ok(None);
        }
        let tip = self.tip.ok_or(ChannelError::NoChainTip)?;
        job.activate(&tip, tip.network_target()?);
        self.jobs.add_active(job);
        Ok(Some(tip.min_ntime))
    }

    /// Makes `job` the active job on `tip` (a custom job names its own tip). A tip with another
    /// prev hash than the channel's makes every other job stale, as a new block does.
    pub(crate) fn add_job_on_tip(&mut self, mut job: J, tip: ChainTip) -> Result<(), ChannelError> {
        let network = tip.network_target()?;
        if self.tip.is_none_or(|t| t.prev_hash != tip.prev_hash) {
            self.jobs.flush();
            self.seen.clear();
        }
        self.tip = Some(tip);
        job.activate(&tip, network);
        self.jobs.add_active(job);
        Ok(())
    }

    /// Validates a share received at `now_ms` (Unix time in ms), counts it and feeds an
    /// accepted one to vardiff.
    #[inline]
    pub(crate) fn validate_share<S: Submission>(&mut self, share: &S, now_ms: u64) -> ShareOutcome
    where
        J: ShareJob<S>,
    {
        let outcome = check_share(
            self.id,
            &self.cfg,
            &mut self.jobs,
            &mut self.seen,
            share,
            now_ms,
        );
        self.stats.record(&outcome);
        if let Some(a) = outcome.accepted() {
            self.targets.on_share(now_ms, a.difficulty);
        }
        outcome
    }

    /// Validates `shares` received at `now_ms` and appends their outcomes to `out`: exactly
    /// what [`Self::validate_share`] on each in order gives (and the same counters and
    /// vardiff input). The checks before hashing run first for every share (they depend on
    /// no earlier share), then the survivors are hashed per job, up to [`BATCH_CHUNK`] at a
    /// time, and finally judged (target, duplicates, blocks) in the original order.
    pub(crate) fn validate_shares<S: Submission>(
        &mut self,
        shares: &[S],
        now_ms: u64,
        out: &mut Vec<ShareOutcome>,
    ) where
        J: ShareJob<S>,
    {
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        for share in shares {
            batch.push(
                match gate(self.id, &self.cfg, &mut self.jobs, share, now_ms) {
                    Ok(_) => Slot::Pending,
                    Err(e) => Slot::Rejected(e),
                },
            );
        }
        self.hash_pending(shares, &mut batch);
        out.reserve(shares.len());
        for (share, slot) in shares.iter().zip(batch.iter()) {
            let outcome = match *slot {
                Slot::Rejected(e) => ShareOutcome::Rejected(e),
                Slot::Hashed(hash) => match self.jobs.lookup(share.head().job_id) {
                    JobLookup::Valid(job) => match job.parts() {
                        (base, Some(hasher)) => {
                            judge::<S, J>(self.id, base, hasher, &mut self.seen, share, hash)
                        }
                        (_, None) => ShareOutcome::Rejected(ShareError::InvalidJobId),
                    },
                    _ => ShareOutcome::Rejected(ShareError::InvalidJobId),
                },
                // Every pending share is hashed; kept total rather than trusted.
                Slot::Pending => ShareOutcome::Rejected(ShareError::InvalidJobId),
            };
            self.stats.record(&outcome);
            if let Some(a) = outcome.accepted() {
                self.targets.on_share(now_ms, a.difficulty);
            }
            out.push(outcome);
        }
        self.batch = batch;
    }

    /// Hashes the pending shares of `batch`, job by job (in order of first appearance), up
    /// to [`BATCH_CHUNK`] of a job at a time.
    fn hash_pending<S: Submission>(&mut self, shares: &[S], batch: &mut [Slot])
    where
        J: ShareJob<S>,
    {
        let mut from = 0;
        while let Some(first) = batch
            .iter()
            .skip(from)
            .position(|s| matches!(s, Slot::Pending))
            .map(|p| p + from)
        {
            from = first + 1;
            let Some(lead) = shares.get(first) else {
                return;
            };
            let job_id = lead.head().job_id;
            let hasher = match self.jobs.lookup(job_id) {
                JobLookup::Valid(job) => job.parts().1,
                _ => None,
            };
            let Some(hasher) = hasher else {
                // Unreachable after `gate`; such shares stay pending and are rejected.
                continue;
            };
            let mut refs = [lead; BATCH_CHUNK];
            let mut at = [0usize; BATCH_CHUNK];
            let mut hashes = [[0u8; 32]; BATCH_CHUNK];
            let mut k = 0;
            let mut i = first;
            loop {
                let next = shares.get(i).zip(batch.get(i));
                let more = next.is_some();
                if let Some((share, Slot::Pending)) = next {
                    if share.head().job_id == job_id {
                        if let (Some(r), Some(a)) = (refs.get_mut(k), at.get_mut(k)) {
                            *r = share;
                            *a = i;
                            k += 1;
                        }
                    }
                }
                i += 1;
                if k == BATCH_CHUNK || (!more && k > 0) {
                    if let (Some(r), Some(h)) = (refs.get(..k), hashes.get_mut(..k)) {
                        J::hash_many(hasher, r, h);
                        for (&j, hash) in at.iter().zip(h.iter()) {
                            if let Some(slot) = batch.get_mut(j) {
                                *slot = Slot::Hashed(*hash);
                            }
                        }
                    }
                    k = 0;
                }
                if !more {
                    break;
                }
            }
        }
    }
}

/// Public accessors every channel kind has, read from its `core` field ([`ChannelCore`] over
/// the job type `$job`).
macro_rules! core_accessors {
    ($job:ty) => {
        /// Channel id.
        pub fn id(&self) -> u32 {
            self.core.id
        }

        /// The channel's extranonce prefix for jobs created from now on.
        pub fn extranonce_prefix(&self) -> &[u8] {
            &self.core.extranonce_prefix
        }

        /// Current target (for new jobs).
        pub fn target(&self) -> $crate::target::Target {
            self.core.targets.target()
        }

        /// Current chain tip.
        pub fn chain_tip(&self) -> Option<&$crate::channel::ChainTip> {
            self.core.tip.as_ref()
        }

        /// Share counters.
        pub fn stats(&self) -> &$crate::channel::ShareStats {
            &self.core.stats
        }

        /// The job store (active, past, future jobs).
        pub fn jobs(&self) -> &$crate::channel::JobStore<$job> {
            &self.core.jobs
        }
    };
}

/// Public target and chain tip methods of server channels (standard, extended), delegated to
/// their `core` field.
macro_rules! server_core_methods {
    () => {
        /// Target state (maximum target, vardiff).
        pub fn targets(&self) -> &$crate::channel::TargetControl {
            &self.core.targets
        }

        /// Sets the target (`SetTarget`); it applies to future jobs and jobs created from now
        /// on. Returns it if it changed.
        pub fn set_target(
            &mut self,
            target: $crate::target::Target,
            now_ms: u64,
        ) -> Result<Option<$crate::target::Target>, $crate::channel::ChannelError> {
            self.core.set_target(target, now_ms)
        }

        /// `UpdateChannel`; returns the new target if it changed (send `SetTarget`).
        pub fn update_channel(
            &mut self,
            nominal_hashrate: f64,
            max_target: $crate::target::Target,
            now_ms: u64,
        ) -> Result<Option<$crate::target::Target>, $crate::channel::ChannelError> {
            self.core
                .update_channel(nominal_hashrate, max_target, now_ms)
        }

        /// Runs vardiff; returns the new target if it changed (send `SetTarget`, then a new
        /// job).
        pub fn poll_vardiff(&mut self, now_ms: u64) -> Option<$crate::target::Target> {
            self.core.poll_vardiff(now_ms)
        }

        /// Sets the chain tip without activating a job (e.g. on opening the channel
        /// mid-block): all existing jobs become stale.
        pub fn set_chain_tip(
            &mut self,
            tip: $crate::channel::ChainTip,
        ) -> Result<(), $crate::channel::ChannelError> {
            self.core.set_chain_tip(tip)
        }

        /// New prev hash for the template `template_id` (Template Distribution
        /// `SetNewPrevHash`). Activates this channel's future job built from it and returns
        /// the `SetNewPrevHash` to send; `None` if the channel has no such job (it then needs a
        /// new non-future job).
        pub fn on_new_prev_hash(
            &mut self,
            template_id: u64,
            tip: $crate::channel::ChainTip,
        ) -> Result<Option<$crate::channel::NewPrevHash>, $crate::channel::ChannelError> {
            self.core.on_new_prev_hash(template_id, tip)
        }
    };
}

pub(crate) use {core_accessors, server_core_methods};
