//! Jobs as server channels keep them: everything needed to validate shares.

use super::check::ShareJob;
use super::core::ChannelJob;
use super::core::BATCH_CHUNK;
use super::job_store::StoredJob;
use super::{ChainTip, ChannelError, JobTemplate, ShareError, SubmitExtended, SubmitStandard};
use crate::coinbase::CoinbaseParts;
use crate::header::BlockHeader;
use crate::merkle::merkle_root_from_path;
use crate::sha256d::sha256d;
use crate::share::{ExtendedJobHasher, ExtendedShare, StandardJobHasher};
use crate::target::Target;
use std::sync::Arc;

/// Fields every job has.
#[derive(Debug, Clone)]
pub(crate) struct JobBase {
    pub job_id: u32,
    pub template_id: u64,
    pub version: u32,
    pub coinbase: Arc<CoinbaseParts>,
    /// The channel's extranonce prefix when the job was created.
    pub extranonce_prefix: Vec<u8>,
    /// Target in force for this job.
    pub target: Target,
    /// Set once the job is mined on a chain tip.
    pub min_ntime: Option<u32>,
    /// Network target of that tip.
    pub network_target: Target,
}

impl JobBase {
    fn new(job_id: u32, template: &JobTemplate, prefix: &[u8], target: Target) -> Self {
        JobBase {
            job_id,
            template_id: template.template_id,
            version: template.version,
            coinbase: template.coinbase.clone(),
            extranonce_prefix: prefix.to_vec(),
            target,
            min_ntime: None,
            network_target: Target::ZERO,
        }
    }

    /// Marks the job mined on `tip`.
    fn activate(&mut self, tip: &ChainTip, network_target: Target) {
        self.min_ntime = Some(tip.min_ntime);
        self.network_target = network_target;
    }
}

/// Public accessors of the fields every job has.
macro_rules! job_accessors {
    () => {
        /// Job id.
        pub fn job_id(&self) -> u32 {
            self.base.job_id
        }

        /// Template the job was built from.
        pub fn template_id(&self) -> u64 {
            self.base.template_id
        }

        /// Block version.
        pub fn version(&self) -> u32 {
            self.base.version
        }

        /// Target in force for this job.
        pub fn target(&self) -> Target {
            self.base.target
        }

        /// Minimum ntime, once active.
        pub fn min_ntime(&self) -> Option<u32> {
            self.base.min_ntime
        }
    };
}

/// A standard channel's job: fixed merkle root.
#[derive(Debug, Clone)]
pub struct StandardJob {
    pub(crate) base: JobBase,
    pub(crate) merkle_root: [u8; 32],
    pub(crate) hasher: Option<StandardJobHasher>,
}

impl StandardJob {
    job_accessors!();

    /// Builds the job: the coinbase with the channel's full extranonce prefix, its txid folded up
    /// the merkle path.
    pub(crate) fn new(
        job_id: u32,
        template: &JobTemplate,
        extranonce_prefix: &[u8],
        target: Target,
    ) -> Result<Self, ChannelError> {
        let coinbase = template
            .coinbase
            .serialize_with(extranonce_prefix)
            .map_err(|_| ChannelError::ExtranonceLenMismatch {
                coinbase: template.coinbase.extranonce_len,
                channel: extranonce_prefix.len(),
            })?;
        let txid = sha256d(&coinbase);
        let merkle_root = merkle_root_from_path(&txid, &template.merkle_path);
        Ok(StandardJob {
            base: JobBase::new(job_id, template, extranonce_prefix, target),
            merkle_root,
            hasher: None,
        })
    }

    /// Merkle root.
    pub fn merkle_root(&self) -> [u8; 32] {
        self.merkle_root
    }
}

impl StoredJob for StandardJob {
    fn job_id(&self) -> u32 {
        self.base.job_id
    }
}

impl ChannelJob for StandardJob {
    fn retarget(&mut self, target: Target) {
        self.base.target = target;
    }

    fn activate(&mut self, tip: &ChainTip, network_target: Target) {
        self.base.activate(tip, network_target);
        self.hasher = Some(StandardJobHasher::new(
            tip.prev_hash,
            self.merkle_root,
            tip.nbits,
        ));
    }
}

impl ShareJob<SubmitStandard> for StandardJob {
    type Hasher = StandardJobHasher;

    #[inline]
    fn precheck(&self, _share: &SubmitStandard) -> Result<(), ShareError> {
        Ok(())
    }

    /// Standard jobs always allow rolling the general purpose version bits.
    #[inline]
    fn version_rolling_allowed(&self) -> bool {
        true
    }

    #[inline]
    fn parts(&mut self) -> (&JobBase, Option<&mut StandardJobHasher>) {
        (&self.base, self.hasher.as_mut())
    }

    #[inline]
    fn hash(hasher: &mut StandardJobHasher, share: &SubmitStandard) -> [u8; 32] {
        hasher.hash(share.version, share.ntime, share.nonce)
    }

    fn solution(
        hasher: &StandardJobHasher,
        base: &JobBase,
        share: &SubmitStandard,
    ) -> (BlockHeader, Vec<u8>) {
        (
            hasher.header(share.version, share.ntime, share.nonce),
            base.extranonce_prefix.clone(),
        )
    }
}

/// An extended channel's job: the miner completes the coinbase with its extranonce.
#[derive(Debug, Clone)]
pub struct ExtendedJob {
    pub(crate) base: JobBase,
    pub(crate) merkle_path: Arc<[[u8; 32]]>,
    pub(crate) version_rolling_allowed: bool,
    pub(crate) hasher: Option<ExtendedJobHasher>,
}

impl ExtendedJob {
    job_accessors!();

    pub(crate) fn new(
        job_id: u32,
        template: &JobTemplate,
        extranonce_prefix: &[u8],
        rollable_len: usize,
        version_rolling_allowed: bool,
        target: Target,
    ) -> Result<Self, ChannelError> {
        let full = extranonce_prefix.len() + rollable_len;
        if template.coinbase.extranonce_len != full {
            return Err(ChannelError::ExtranonceLenMismatch {
                coinbase: template.coinbase.extranonce_len,
                channel: full,
            });
        }
        Ok(ExtendedJob {
            base: JobBase::new(job_id, template, extranonce_prefix, target),
            merkle_path: template.merkle_path.clone(),
            version_rolling_allowed,
            hasher: None,
        })
    }

    /// Bytes of extranonce the miner supplies for this job.
    pub fn rollable_len(&self) -> usize {
        self.base.coinbase.extranonce_len - self.base.extranonce_prefix.len()
    }

    /// The channel's extranonce prefix when the job was created.
    pub fn extranonce_prefix(&self) -> &[u8] {
        &self.base.extranonce_prefix
    }

    /// The job's coinbase split.
    pub fn coinbase(&self) -> &Arc<CoinbaseParts> {
        &self.base.coinbase
    }

    /// The job's merkle path.
    pub fn merkle_path(&self) -> &Arc<[[u8; 32]]> {
        &self.merkle_path
    }
}

impl StoredJob for ExtendedJob {
    fn job_id(&self) -> u32 {
        self.base.job_id
    }
}

impl ChannelJob for ExtendedJob {
    fn retarget(&mut self, target: Target) {
        self.base.target = target;
    }

    fn activate(&mut self, tip: &ChainTip, network_target: Target) {
        self.base.activate(tip, network_target);
        let mut fixed =
            Vec::with_capacity(self.base.coinbase.prefix.len() + self.base.extranonce_prefix.len());
        fixed.extend_from_slice(&self.base.coinbase.prefix);
        fixed.extend_from_slice(&self.base.extranonce_prefix);
        self.hasher = Some(ExtendedJobHasher::new(
            &fixed,
            &self.base.coinbase.suffix,
            &self.merkle_path,
            tip.prev_hash,
            tip.nbits,
        ));
    }
}

impl ShareJob<SubmitExtended<'_>> for ExtendedJob {
    type Hasher = ExtendedJobHasher;

    #[inline]
    fn precheck(&self, share: &SubmitExtended<'_>) -> Result<(), ShareError> {
        let expected = self.rollable_len();
        if share.extranonce.len() != expected {
            return Err(ShareError::BadExtranonceSize {
                expected,
                got: share.extranonce.len(),
            });
        }
        Ok(())
    }

    #[inline]
    fn version_rolling_allowed(&self) -> bool {
        self.version_rolling_allowed
    }

    #[inline]
    fn parts(&mut self) -> (&JobBase, Option<&mut ExtendedJobHasher>) {
        (&self.base, self.hasher.as_mut())
    }

    #[inline]
    fn hash(hasher: &mut ExtendedJobHasher, share: &SubmitExtended<'_>) -> [u8; 32] {
        hasher.hash(share.extranonce, share.version, share.ntime, share.nonce)
    }

    /// Shares whose extranonce repeats a neighbour's go through [`Self::hash`], whose root
    /// cache makes a repeat cost only the header; the others (fresh extranonces) run through
    /// [`ExtendedJobHasher::hash_batch`] in lock-step, [`BATCH_CHUNK`] at a time.
    fn hash_many(
        hasher: &mut ExtendedJobHasher,
        shares: &[&SubmitExtended<'_>],
        out: &mut [[u8; 32]],
    ) {
        let n = shares.len().min(out.len());
        let mut lanes = [ExtendedShare::default(); BATCH_CHUNK];
        let mut lane_of = [0usize; BATCH_CHUNK];
        let mut hashes = [[0u8; 32]; BATCH_CHUNK];
        let mut start = 0;
        while start < n {
            let end = (start + BATCH_CHUNK).min(n);
            let mut k = 0;
            for i in start..end {
                let (Some(s), Some(o)) = (shares.get(i), out.get_mut(i)) else {
                    break;
                };
                let en = s.extranonce;
                let repeat = i
                    .checked_sub(1)
                    .and_then(|p| shares.get(p))
                    .is_some_and(|p| p.extranonce == en)
                    || shares.get(i + 1).is_some_and(|x| x.extranonce == en);
                if repeat {
                    *o = Self::hash(hasher, s);
                } else if let (Some(l), Some(a)) = (lanes.get_mut(k), lane_of.get_mut(k)) {
                    *l = ExtendedShare {
                        extranonce: en,
                        version: s.version,
                        ntime: s.ntime,
                        nonce: s.nonce,
                    };
                    *a = i;
                    k += 1;
                }
            }
            if k == 1 {
                // A single share gains nothing from lanes but may hit the root cache.
                if let (Some(s), Some(o)) = (shares.get(lane_of[0]), out.get_mut(lane_of[0])) {
                    *o = Self::hash(hasher, s);
                }
            } else if let (Some(l), Some(h)) = (lanes.get(..k), hashes.get_mut(..k)) {
                hasher.hash_batch(l, h);
                for (&i, hash) in lane_of.iter().zip(h.iter()) {
                    if let Some(o) = out.get_mut(i) {
                        *o = *hash;
                    }
                }
            }
            start = end;
        }
    }

    fn solution(
        hasher: &ExtendedJobHasher,
        base: &JobBase,
        share: &SubmitExtended<'_>,
    ) -> (BlockHeader, Vec<u8>) {
        let mut extranonce = base.extranonce_prefix.clone();
        extranonce.extend_from_slice(share.extranonce);
        (
            hasher.header(share.extranonce, share.version, share.ntime, share.nonce),
            extranonce,
        )
    }
}
