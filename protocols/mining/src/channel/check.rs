//! Share validation shared by every channel kind.
//!
//! [`check_share`] runs the checks in order: channel id, job (active/past, stale, unknown), the
//! share kind's own check (extranonce size), version rolling and ntime bounds, the job target,
//! duplicates, and the network target for block candidates. What depends on the share kind
//! (how a job hashes a share, what it allows) comes from [`ShareJob`]; everything is generic,
//! so each kind compiles to its own straight-line path.

use super::job::JobBase;
use super::job_store::{JobLookup, JobStore, StoredJob};
use super::{
    AcceptedShare, BlockCandidate, ChannelConfig, Seen, SeenShares, ShareError, ShareOutcome,
    SubmitExtended, SubmitStandard,
};
use crate::header::{version_rolling_ok, BlockHeader};
use crate::target::{hash_difficulty, Target};

/// The fields of a share submission every kind has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShareHead {
    /// Channel id.
    pub(crate) channel_id: u32,
    /// Sequence number.
    pub(crate) sequence_number: u32,
    /// Job id.
    pub(crate) job_id: u32,
    /// Full version.
    pub(crate) version: u32,
    /// ntime.
    pub(crate) ntime: u32,
}

/// A share submission of some kind.
pub(crate) trait Submission {
    /// The fields every kind has.
    fn head(&self) -> ShareHead;
}

/// A job that judges submissions of kind `S`.
pub(crate) trait ShareJob<S>: StoredJob {
    /// What hashes the job's shares once it is active.
    type Hasher;
    /// Checks specific to the share kind, before anything is hashed.
    fn precheck(&self, share: &S) -> Result<(), ShareError>;
    /// Whether the share may roll the version bits the channel allows.
    fn version_rolling_allowed(&self) -> bool;
    /// Fields every job has, and the hasher (`None` while the job is not active).
    fn parts(&mut self) -> (&JobBase, Option<&mut Self::Hasher>);
    /// The header hash of `share`.
    fn hash(hasher: &mut Self::Hasher, share: &S) -> [u8; 32];
    /// The header hashes of `shares` into `out` (same length), as [`Self::hash`] gives them
    /// one by one; kinds with a multi-lane hasher override it.
    fn hash_many(hasher: &mut Self::Hasher, shares: &[&S], out: &mut [[u8; 32]]) {
        for (share, o) in shares.iter().zip(out.iter_mut()) {
            *o = Self::hash(hasher, share);
        }
    }
    /// The solved header and the full extranonce of a block candidate.
    fn solution(hasher: &Self::Hasher, base: &JobBase, share: &S) -> (BlockHeader, Vec<u8>);
}

/// Validates `share` against the jobs of channel `channel_id`; see the module documentation.
#[inline]
pub(crate) fn check_share<S: Submission, J: ShareJob<S>>(
    channel_id: u32,
    cfg: &ChannelConfig,
    jobs: &mut JobStore<J>,
    seen: &mut SeenShares,
    share: &S,
    now_ms: u64,
) -> ShareOutcome {
    let job = match gate(channel_id, cfg, jobs, share, now_ms) {
        Ok(job) => job,
        Err(e) => return ShareOutcome::Rejected(e),
    };
    let (base, Some(hasher)) = job.parts() else {
        return ShareOutcome::Rejected(ShareError::InvalidJobId);
    };
    let hash = J::hash(hasher, share);
    judge::<S, J>(channel_id, base, hasher, seen, share, hash)
}

/// The checks before hashing (channel id, job, the kind's own check, version rolling, ntime);
/// returns the share's job, which is active (has a hasher), if they pass. They read only the
/// job store, the policy and the time, so a share's verdict here does not depend on the
/// shares judged before it.
#[inline]
pub(crate) fn gate<'a, S: Submission, J: ShareJob<S>>(
    channel_id: u32,
    cfg: &ChannelConfig,
    jobs: &'a mut JobStore<J>,
    share: &S,
    now_ms: u64,
) -> Result<&'a mut J, ShareError> {
    let head = share.head();
    if head.channel_id != channel_id {
        return Err(ShareError::InvalidChannelId);
    }
    let job = match jobs.lookup(head.job_id) {
        JobLookup::Valid(job) => job,
        JobLookup::Stale => return Err(ShareError::StaleShare),
        JobLookup::Future | JobLookup::Unknown => return Err(ShareError::InvalidJobId),
    };
    job.precheck(share)?;
    let rolling_allowed = job.version_rolling_allowed();
    let (base, hasher) = job.parts();
    let (Some(min_ntime), true) = (base.min_ntime, hasher.is_some()) else {
        return Err(ShareError::InvalidJobId);
    };
    check_version_and_ntime(
        cfg,
        rolling_allowed,
        base.version,
        min_ntime,
        head.version,
        head.ntime,
        now_ms,
    )?;
    Ok(job)
}

/// Judges a share that passed [`gate`] by its header `hash`: the job target, duplicates
/// (recording a new share in `seen`), and the network target for block candidates.
#[inline]
pub(crate) fn judge<S: Submission, J: ShareJob<S>>(
    channel_id: u32,
    base: &JobBase,
    hasher: &J::Hasher,
    seen: &mut SeenShares,
    share: &S,
    hash: [u8; 32],
) -> ShareOutcome {
    let head = share.head();
    let is_block = match judge_hash(&hash, &base.target, &base.network_target, seen) {
        Ok(b) => b,
        Err(e) => return ShareOutcome::Rejected(e),
    };
    let accepted = AcceptedShare {
        channel_id,
        sequence_number: head.sequence_number,
        job_id: head.job_id,
        difficulty: base.target.difficulty(),
        hash_difficulty: hash_difficulty(&hash),
        hash,
    };
    if !is_block {
        return ShareOutcome::Accepted(accepted);
    }
    let (header, extranonce) = J::solution(hasher, base, share);
    ShareOutcome::BlockFound(Box::new(BlockCandidate {
        share: accepted,
        template_id: base.template_id,
        header,
        extranonce,
        coinbase: base.coinbase.clone(),
    }))
}

/// Checks version rolling and ntime bounds.
fn check_version_and_ntime(
    cfg: &ChannelConfig,
    rolling_allowed: bool,
    job_version: u32,
    min_ntime: u32,
    version: u32,
    ntime: u32,
    now_ms: u64,
) -> Result<(), ShareError> {
    let mask = if rolling_allowed {
        cfg.version_rolling_mask
    } else {
        0
    };
    if !version_rolling_ok(job_version, version, mask) {
        return Err(ShareError::InvalidVersion);
    }
    if ntime < min_ntime {
        return Err(ShareError::NtimeTooLow {
            ntime,
            min: min_ntime,
        });
    }
    let now_secs = now_ms / 1000;
    let max = u64::from(min_ntime).max(now_secs) + u64::from(cfg.max_ntime_offset_secs);
    if u64::from(ntime) > max {
        return Err(ShareError::NtimeTooHigh { ntime, max });
    }
    Ok(())
}

/// Checks a hash against the job target and the seen set; returns whether it is a block.
///
/// A hash meeting the network target is a block even if the share target is harder (possible
/// on test networks): a block is never thrown away.
fn judge_hash(
    hash: &[u8; 32],
    target: &Target,
    network_target: &Target,
    seen: &mut SeenShares,
) -> Result<bool, ShareError> {
    let is_block = network_target.is_met_by(hash);
    if !is_block && !target.is_met_by(hash) {
        return Err(ShareError::DifficultyTooLow);
    }
    match seen.record(hash) {
        Seen::New => Ok(is_block),
        Seen::Duplicate => Err(ShareError::DuplicateShare),
        Seen::Full => Err(ShareError::SeenSharesFull),
    }
}

/// Implements [`Submission`] for a share message with the usual field names.
macro_rules! submission {
    ($t:ty) => {
        impl Submission for $t {
            #[inline]
            fn head(&self) -> ShareHead {
                ShareHead {
                    channel_id: self.channel_id,
                    sequence_number: self.sequence_number,
                    job_id: self.job_id,
                    version: self.version,
                    ntime: self.ntime,
                }
            }
        }
    };
}

submission!(SubmitStandard);
submission!(SubmitExtended<'_>);
