//! One SV2 extended job as SV1 miners see it: the `mining.notify` fields and the hasher that
//! validates miners' shares on it.

use bytes::Bytes;
use sv1::{Notification, Notify, OutgoingMessage, PrevHash, Sv1Error};
use sv2_codec::mining::NewExtendedMiningJob;
use sv2_mining::extranonce::MAX_EXTRANONCE_LEN;
use sv2_mining::share::ExtendedJobHasher;
use sv2_mining::target::Target;

use crate::extranonce::{padding_len, upstream_extranonce};

/// The chain tip a job builds on (from the Mining `SetNewPrevHash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainTip {
    /// Previous block hash, header byte order.
    pub prev_hash: [u8; 32],
    /// Compact network target.
    pub nbits: u32,
    /// Smallest allowed ntime.
    pub min_ntime: u32,
}

/// Why a job cannot be offered to SV1 miners.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The channel's extranonce space cannot hold extranonce1 + extranonce2.
    #[error("channel leaves {rollable} extranonce bytes, miners need {needed}")]
    ExtranonceTooSmall {
        /// Bytes the channel lets us roll.
        rollable: usize,
        /// extranonce1 + extranonce2.
        needed: usize,
    },
    /// The upstream sent an nbits value that is not a valid compact target.
    #[error("invalid nbits {0:#010x}")]
    InvalidNbits(u32),
}

/// Parameters of one miner share, as submitted in SV1 terms.
#[derive(Debug, Clone, Copy)]
pub struct ShareParts<'a> {
    /// The miner's extranonce1.
    pub extranonce1: &'a [u8],
    /// The miner's extranonce2.
    pub extranonce2: &'a [u8],
    /// Full header version (after applying version bits).
    pub version: u32,
    /// Header time.
    pub ntime: u32,
    /// Header nonce.
    pub nonce: u32,
}

/// A job ready for SV1 miners. See [`crate::extranonce`] for the coinbase layout.
#[derive(Debug, Clone)]
pub struct Sv1Job {
    key: u32,
    upstream_job_id: u32,
    version: u32,
    version_rolling_allowed: bool,
    ntime: u32,
    tip: ChainTip,
    coinb1: Vec<u8>,
    coinb2: Vec<u8>,
    merkle_path: Vec<[u8; 32]>,
    rollable: usize,
    en1_len: usize,
    en2_len: usize,
    network_target: Target,
    hasher: ExtendedJobHasher,
}

impl Sv1Job {
    /// Builds the SV1 view of `job` on `tip`, for a channel whose extranonce prefix was
    /// `channel_prefix` when the job arrived and which lets us roll `rollable` bytes, for miners
    /// with `en1_len`-byte extranonce1 rolling `en2_len` bytes. `ntime` is the job's starting
    /// time (its `min_ntime`, or the tip's for a future job).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        key: u32,
        job: &NewExtendedMiningJob,
        tip: ChainTip,
        ntime: u32,
        channel_prefix: &[u8],
        rollable: usize,
        en1_len: usize,
        en2_len: usize,
    ) -> Result<Self, JobError> {
        let padding = padding_len(rollable, en1_len, en2_len)
            .filter(|_| rollable <= MAX_EXTRANONCE_LEN)
            .ok_or(JobError::ExtranonceTooSmall {
                rollable,
                needed: en1_len + en2_len,
            })?;
        let network_target = Target::from_compact(tip.nbits)
            .filter(|t| *t != Target::ZERO)
            .ok_or(JobError::InvalidNbits(tip.nbits))?;
        let mut coinb1 = Vec::with_capacity(job.coinbase_tx_prefix.len() + channel_prefix.len());
        coinb1.extend_from_slice(&job.coinbase_tx_prefix);
        coinb1.extend_from_slice(channel_prefix);
        let mut coinb2 = Vec::with_capacity(padding + job.coinbase_tx_suffix.len());
        coinb2.resize(padding, 0);
        coinb2.extend_from_slice(&job.coinbase_tx_suffix);
        let hasher = ExtendedJobHasher::new(
            &coinb1,
            &job.coinbase_tx_suffix,
            &job.merkle_path,
            tip.prev_hash,
            tip.nbits,
        );
        Ok(Sv1Job {
            key,
            upstream_job_id: job.job_id,
            version: job.version,
            version_rolling_allowed: job.version_rolling_allowed,
            ntime,
            tip,
            coinb1,
            coinb2,
            merkle_path: job.merkle_path.clone(),
            rollable,
            en1_len,
            en2_len,
            network_target,
            hasher,
        })
    }

    /// Translator-wide key of this job (also its SV1 job id when broadcast).
    pub fn key(&self) -> u32 {
        self.key
    }

    /// The upstream job id (for `SubmitSharesExtended`).
    pub fn upstream_job_id(&self) -> u32 {
        self.upstream_job_id
    }

    /// Header version of the job.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The job's ntime (earliest allowed share time).
    pub fn ntime(&self) -> u32 {
        self.ntime
    }

    /// The chain tip.
    pub fn tip(&self) -> &ChainTip {
        &self.tip
    }

    /// Extranonce2 length miners must use on this job.
    pub fn extranonce2_len(&self) -> usize {
        self.en2_len
    }

    /// Channel extranonce bytes a share carries upstream.
    pub fn rollable_len(&self) -> usize {
        self.rollable
    }

    /// Network target (a share meeting it is a block).
    pub fn network_target(&self) -> Target {
        self.network_target
    }

    /// Version bits a miner with `negotiated` mask may roll on this job.
    pub fn rolling_mask(&self, negotiated: u32) -> u32 {
        if self.version_rolling_allowed {
            negotiated
        } else {
            0
        }
    }

    /// The full version of a share: BIP310 `(job_version & !mask) | (version_bits & mask)`.
    pub fn share_version(&self, version_bits: Option<u32>, negotiated: u32) -> u32 {
        let mask = self.rolling_mask(negotiated);
        match version_bits {
            Some(bits) => (self.version & !mask) | (bits & mask),
            None => self.version,
        }
    }

    /// The `mining.notify` parameters under SV1 job id `job_id`.
    pub fn notify(&self, job_id: String, clean_jobs: bool) -> Notify {
        Notify {
            job_id,
            prev_hash: PrevHash::from_header_bytes(self.tip.prev_hash),
            coinb1: self.coinb1.clone(),
            coinb2: self.coinb2.clone(),
            merkle_branch: self.merkle_path.clone(),
            version: self.version,
            nbits: self.tip.nbits,
            ntime: self.ntime,
            clean_jobs,
        }
    }

    /// The serialized `mining.notify` line (shared by every miner receiving it).
    pub fn notify_line(&self, job_id: String, clean_jobs: bool) -> Result<Bytes, Sv1Error> {
        Notification::Notify(self.notify(job_id, clean_jobs))
            .to_line()
            .map(Bytes::from)
    }

    /// The upstream extranonce of a share (`extranonce1 | extranonce2 | padding`) in `buf`;
    /// `None` when the lengths do not match this job.
    pub fn share_extranonce<'b>(
        &self,
        extranonce1: &[u8],
        extranonce2: &[u8],
        buf: &'b mut [u8; MAX_EXTRANONCE_LEN],
    ) -> Option<&'b [u8]> {
        if extranonce1.len() != self.en1_len || extranonce2.len() != self.en2_len {
            return None;
        }
        upstream_extranonce(extranonce1, extranonce2, self.rollable, buf)
    }

    /// SHA-256d of the header a share describes; `None` when the extranonce lengths do not
    /// match this job.
    pub fn hash(&mut self, share: &ShareParts<'_>) -> Option<[u8; 32]> {
        let mut buf = [0u8; MAX_EXTRANONCE_LEN];
        let en = self.share_extranonce(share.extranonce1, share.extranonce2, &mut buf)?;
        Some(
            self.hasher
                .hash(en, share.version, share.ntime, share.nonce),
        )
    }

    /// The 80-byte header a share describes (for logs and tests).
    pub fn header(&self, share: &ShareParts<'_>) -> Option<[u8; 80]> {
        let mut buf = [0u8; MAX_EXTRANONCE_LEN];
        let en = self.share_extranonce(share.extranonce1, share.extranonce2, &mut buf)?;
        Some(
            self.hasher
                .header(en, share.version, share.ntime, share.nonce)
                .to_bytes(),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sv2_mining::merkle::merkle_root_from_path;
    use sv2_mining::sha256d::sha256d;

    /// A realistic-looking coinbase split: version, one input whose scriptSig holds BIP34
    /// height + tag + 16 extranonce bytes, one output.
    pub(crate) fn sample_job(job_id: u32, future: bool) -> NewExtendedMiningJob {
        let mut prefix = vec![2, 0, 0, 0, 1];
        prefix.extend_from_slice(&[0u8; 32]);
        prefix.extend_from_slice(&[0xff; 4]);
        prefix.push(4 + 6 + 16); // scriptSig length
        prefix.extend_from_slice(&[3, 0x10, 0x27, 0x00]); // height push
        prefix.extend_from_slice(&[5, b'/', b't', b'e', b's', b't']);
        let mut suffix = vec![0xff, 0xff, 0xff, 0xff, 1];
        suffix.extend_from_slice(&50_0000_0000u64.to_le_bytes());
        suffix.extend_from_slice(&[22, 0, 20]);
        suffix.extend_from_slice(&[0x42; 20]);
        suffix.extend_from_slice(&[0, 0, 0, 0]);
        NewExtendedMiningJob {
            channel_id: 1,
            job_id,
            min_ntime: (!future).then_some(1_700_000_100),
            version: 0x2000_0000,
            version_rolling_allowed: true,
            merkle_path: vec![[7u8; 32], [9u8; 32]],
            coinbase_tx_prefix: prefix,
            coinbase_tx_suffix: suffix,
        }
    }

    pub(crate) fn sample_tip() -> ChainTip {
        ChainTip {
            prev_hash: core::array::from_fn(|i| i as u8),
            nbits: 0x207f_ffff,
            min_ntime: 1_700_000_000,
        }
    }

    /// Rebuilds the header exactly as an SV1 miner does from `mining.notify`.
    fn miner_header(n: &Notify, en1: &[u8], en2: &[u8], version: u32, nonce: u32) -> [u8; 80] {
        let mut coinbase = n.coinb1.clone();
        coinbase.extend_from_slice(en1);
        coinbase.extend_from_slice(en2);
        coinbase.extend_from_slice(&n.coinb2);
        let root = merkle_root_from_path(&sha256d(&coinbase), &n.merkle_branch);
        let mut h = [0u8; 80];
        h[0..4].copy_from_slice(&version.to_le_bytes());
        h[4..36].copy_from_slice(&n.prev_hash.to_header_bytes());
        h[36..68].copy_from_slice(&root);
        h[68..72].copy_from_slice(&n.ntime.to_le_bytes());
        h[72..76].copy_from_slice(&n.nbits.to_le_bytes());
        h[76..80].copy_from_slice(&nonce.to_le_bytes());
        h
    }

    #[test]
    fn sv1_header_matches_the_pool_view() {
        let job = sample_job(5, false);
        let tip = sample_tip();
        let chan_prefix = [0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8];
        let mut j = Sv1Job::new(42, &job, tip, 1_700_000_100, &chan_prefix, 8, 2, 4).unwrap();
        // The notify goes through the wire form, as a miner would read it.
        let line = j.notify_line("2a".into(), true).unwrap();
        let parsed = match sv1::parse_server_line(std::str::from_utf8(&line).unwrap()).unwrap() {
            sv1::ServerMessage::Notification(Notification::Notify(n)) => n,
            other => panic!("{other:?}"),
        };
        assert_eq!(parsed.job_id, "2a");
        assert!(parsed.clean_jobs);
        // coinb1 ends with the channel prefix, coinb2 starts with 2 padding zeros.
        assert!(parsed.coinb1.ends_with(&chan_prefix));
        assert_eq!(&parsed.coinb2[..2], &[0, 0]);
        let en1 = [0xe1, 0xe2];
        let en2 = [0x01, 0x02, 0x03, 0x04];
        let version = 0x2000_0000 | 0x0012_4000;
        let header = miner_header(&parsed, &en1, &en2, version, 0xdead_beef);

        // The pool's view: prefix | channel prefix | (en1 en2 padding) | suffix.
        let mut fixed = job.coinbase_tx_prefix.clone();
        fixed.extend_from_slice(&chan_prefix);
        let pool = ExtendedJobHasher::new(
            &fixed,
            &job.coinbase_tx_suffix,
            &job.merkle_path,
            tip.prev_hash,
            tip.nbits,
        );
        let upstream_en = [0xe1, 0xe2, 1, 2, 3, 4, 0, 0];
        let pool_header = pool
            .header(&upstream_en, version, 1_700_000_100, 0xdead_beef)
            .to_bytes();
        assert_eq!(header, pool_header);

        let share = ShareParts {
            extranonce1: &en1,
            extranonce2: &en2,
            version,
            ntime: 1_700_000_100,
            nonce: 0xdead_beef,
        };
        assert_eq!(j.header(&share).unwrap(), header);
        assert_eq!(j.hash(&share).unwrap(), sha256d(&header));
        let mut buf = [0u8; 32];
        assert_eq!(
            j.share_extranonce(&en1, &en2, &mut buf).unwrap(),
            &upstream_en
        );
        // Wrong extranonce2 length: no hash.
        let bad = ShareParts {
            extranonce2: &en2[..3],
            ..share
        };
        assert!(j.hash(&bad).is_none());
    }

    #[test]
    fn version_bits_follow_bip310() {
        let mut job = sample_job(1, false);
        let j = Sv1Job::new(1, &job, sample_tip(), 0, &[], 6, 2, 4).unwrap();
        assert_eq!(j.share_version(None, 0x1fff_e000), 0x2000_0000);
        assert_eq!(j.share_version(Some(0x0000_6000), 0x1fff_e000), 0x2000_6000);
        // Bits outside the mask are ignored, as is the job's bit inside it the miner cleared.
        assert_eq!(
            j.share_version(Some(0xe000_0001 | 0x0000_2000), 0x0000_e000),
            0x2000_2000
        );
        job.version_rolling_allowed = false;
        let j = Sv1Job::new(1, &job, sample_tip(), 0, &[], 6, 2, 4).unwrap();
        assert_eq!(j.share_version(Some(0x0000_6000), 0x1fff_e000), 0x2000_0000);
    }

    #[test]
    fn refuses_unusable_layouts() {
        let job = sample_job(1, false);
        assert_eq!(
            Sv1Job::new(1, &job, sample_tip(), 0, &[], 5, 2, 4).unwrap_err(),
            JobError::ExtranonceTooSmall {
                rollable: 5,
                needed: 6
            }
        );
        let tip = ChainTip {
            nbits: 0x0180_0001,
            ..sample_tip()
        };
        assert!(matches!(
            Sv1Job::new(1, &job, tip, 0, &[], 8, 2, 4),
            Err(JobError::InvalidNbits(_))
        ));
    }
}
