//! Mining channel state, server side (as a pool or job declarator client runs them).
//!
//! Sans-IO: channels take plain Rust inputs (templates, chain tips, share submissions, the time)
//! and return plain Rust structs that roles map to SV2 messages:
//!
//! * [`StandardChannel`]: header-only mining, one fixed merkle root per job computed from the
//!   coinbase with the channel's full extranonce prefix (`NewMiningJob`);
//! * [`ExtendedChannel`]: the miner rolls part of the extranonce (`NewExtendedMiningJob`);
//! * [`GroupChannel`]: standard channels sharing one extended job broadcast; the group fans the
//!   job out into each member's standard job;
//! * [`UpstreamChannel`]: the client side of an extended channel (proxy, translator), checking
//!   downstream shares against the upstream's jobs and target before forwarding them.
//!
//! Jobs come from a [`JobTemplate`] (template id, future flag, version, coinbase split, merkle
//! path). A future job is activated by [`ChainTip`] updates carrying its template id
//! (`SetNewPrevHash`); everything older becomes stale. Shares are checked for channel, job
//! (active/past, stale, unknown), extranonce size, BIP320 version rolling, ntime bounds, the
//! job's target, duplicates, and against the network target for block candidates.
//!
//! Custom jobs (Job Declaration) are set on extended channels with
//! [`ExtendedChannel::add_custom_job`]; [`custom`] converts the declared coinbase between its
//! wire shapes and computes the commitment that [`jd_token`] tokens carry from a job declarator
//! server to the pool.
//!
//! Internally, standard, extended and upstream channels wrap one generic channel core (state,
//! targets, chain tip, job store, duplicate set, counters) and validate shares with one generic
//! check; only how jobs are built and hashed differs between them.
//!
//! Targets follow the Mining Protocol rule that a `SetTarget` applies to jobs sent after it (and
//! to pending future jobs): each job keeps the target in force when it was created. After a
//! target change, send the channel a fresh job so the new target takes effect.

mod check;
mod client;
mod core;
pub mod custom;
mod dedup;
mod extended;
mod group;
pub mod jd_token;
mod job;
mod job_store;
mod outcome;
mod standard;
mod targets;

pub use client::{UpstreamChannel, UpstreamJob};
pub use dedup::{PassThroughHasher, Seen, SeenShares, DEFAULT_MAX_SEEN_SHARES};
pub use extended::ExtendedChannel;
pub use group::{GroupChannel, GroupJob};
pub use job::{ExtendedJob, StandardJob};
pub use job_store::{
    JobLookup, JobStore, StoredJob, DEFAULT_MAX_FUTURE_JOBS, DEFAULT_MAX_PAST_JOBS, MAX_STALE_IDS,
};
pub use outcome::{
    AcceptedShare, BlockCandidate, ShareError, ShareOutcome, ERROR_BAD_EXTRANONCE_SIZE,
    ERROR_DIFFICULTY_TOO_LOW, ERROR_DUPLICATE_SHARE, ERROR_INVALID_CHANNEL_ID,
    ERROR_INVALID_JOB_ID, ERROR_INVALID_SHARE, ERROR_INVALID_VERSION, ERROR_STALE_SHARE,
};
pub use standard::StandardChannel;
pub use targets::TargetControl;

use crate::coinbase::CoinbaseParts;
use crate::header::BIP320_VERSION_MASK;
use crate::target::Target;
use crate::vardiff::VardiffConfig;
use std::sync::Arc;
use thiserror::Error;

/// Consensus limit on how far a block timestamp may be ahead of the node's clock (2 hours).
pub const MAX_FUTURE_BLOCK_TIME_SECS: u32 = 7200;

/// Errors from channel operations (not from share validation, see [`ShareError`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChannelError {
    /// A job for the current prev hash was requested before any chain tip was known.
    #[error("no chain tip yet: only future jobs can be created")]
    NoChainTip,
    /// The template's coinbase reserves a different extranonce length than the channel uses.
    #[error("coinbase reserves {coinbase} extranonce bytes, channel uses {channel}")]
    ExtranonceLenMismatch {
        /// Length the coinbase reserves.
        coinbase: usize,
        /// Full extranonce length of the channel.
        channel: usize,
    },
    /// The compact network target in a chain tip is invalid.
    #[error("invalid nbits {0:#010x}")]
    InvalidNbits(u32),
    /// A target of zero can never be met.
    #[error("target must be non-zero")]
    ZeroTarget,
    /// A channel id is already a member of the group.
    #[error("channel {0} already in the group")]
    DuplicateChannel(u32),
    /// The extranonce prefix is longer than the protocol allows (32 bytes).
    #[error("extranonce prefix of {0} bytes exceeds 32")]
    ExtranoncePrefixTooLong(usize),
    /// Invalid vardiff configuration.
    #[error("invalid vardiff configuration: {0}")]
    Vardiff(String),
}

/// The current block the network builds on, as `SetNewPrevHash` carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainTip {
    /// Previous block hash (internal byte order).
    pub prev_hash: [u8; 32],
    /// Smallest ntime valid for jobs on this tip.
    pub min_ntime: u32,
    /// Compact network target.
    pub nbits: u32,
}

impl ChainTip {
    /// The network target, or an error for malformed (or zero) `nbits`.
    pub fn network_target(&self) -> Result<Target, ChannelError> {
        match Target::from_compact(self.nbits) {
            Some(t) if t != Target::ZERO => Ok(t),
            _ => Err(ChannelError::InvalidNbits(self.nbits)),
        }
    }
}

/// What a job is built from: one template, already turned into a coinbase split for the
/// channels' full extranonce length.
#[derive(Debug, Clone)]
pub struct JobTemplate {
    /// Template Distribution template id (activates future jobs; reported on found blocks).
    pub template_id: u64,
    /// Future job: mined only after a chain tip update naming this template.
    pub future: bool,
    /// Block version.
    pub version: u32,
    /// Coinbase split around the full extranonce.
    pub coinbase: Arc<CoinbaseParts>,
    /// Coinbase merkle branch (`merkle_path`).
    pub merkle_path: Arc<[[u8; 32]]>,
}

/// Channel policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelConfig {
    /// Version bits a miner may roll (BIP320 general purpose bits by default).
    pub version_rolling_mask: u32,
    /// Whether extended jobs allow version rolling (`version_rolling_allowed`).
    pub version_rolling_allowed: bool,
    /// How far ntime may be ahead of `max(job min_ntime, now)`, in seconds.
    pub max_ntime_offset_secs: u32,
    /// Bound on future jobs kept.
    pub max_future_jobs: usize,
    /// Bound on past jobs (still valid under the current prev hash) kept.
    pub max_past_jobs: usize,
    /// Bound on remembered shares per prev hash for duplicate detection.
    pub max_seen_shares: usize,
    /// Difficulty control; `None` keeps `fixed_difficulty` (bounded by the miner's max target).
    pub vardiff: Option<VardiffConfig>,
    /// Difficulty used without vardiff.
    pub fixed_difficulty: f64,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            version_rolling_mask: BIP320_VERSION_MASK,
            version_rolling_allowed: true,
            max_ntime_offset_secs: MAX_FUTURE_BLOCK_TIME_SECS,
            max_future_jobs: DEFAULT_MAX_FUTURE_JOBS,
            max_past_jobs: DEFAULT_MAX_PAST_JOBS,
            max_seen_shares: DEFAULT_MAX_SEEN_SHARES,
            vardiff: Some(VardiffConfig::default()),
            fixed_difficulty: 1.0,
        }
    }
}

/// `NewMiningJob` for a standard channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStandardJob {
    /// Channel the job is for.
    pub channel_id: u32,
    /// Job id.
    pub job_id: u32,
    /// `None` for a future job, else the minimum ntime (mine immediately).
    pub min_ntime: Option<u32>,
    /// Block version.
    pub version: u32,
    /// Merkle root (internal byte order).
    pub merkle_root: [u8; 32],
}

/// `NewExtendedMiningJob` for an extended or group channel.
#[derive(Debug, Clone)]
pub struct NewExtendedJob {
    /// Channel (or group channel) the job is for.
    pub channel_id: u32,
    /// Job id.
    pub job_id: u32,
    /// `None` for a future job, else the minimum ntime (mine immediately).
    pub min_ntime: Option<u32>,
    /// Block version.
    pub version: u32,
    /// Whether the BIP320 bits may be rolled.
    pub version_rolling_allowed: bool,
    /// Coinbase merkle branch.
    pub merkle_path: Arc<[[u8; 32]]>,
    /// Coinbase split: `coinbase.prefix` is `coinbase_tx_prefix`, `coinbase.suffix` is
    /// `coinbase_tx_suffix`.
    pub coinbase: Arc<CoinbaseParts>,
}

/// `SetNewPrevHash` (Mining Protocol) for a channel or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewPrevHash {
    /// Channel (or group channel) it is for.
    pub channel_id: u32,
    /// The future job to mine now.
    pub job_id: u32,
    /// Previous block hash.
    pub prev_hash: [u8; 32],
    /// Minimum ntime.
    pub min_ntime: u32,
    /// Compact network target.
    pub nbits: u32,
}

/// `SubmitSharesStandard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmitStandard {
    /// Channel id.
    pub channel_id: u32,
    /// Sequence number.
    pub sequence_number: u32,
    /// Job id.
    pub job_id: u32,
    /// Nonce.
    pub nonce: u32,
    /// ntime.
    pub ntime: u32,
    /// Full version.
    pub version: u32,
}

impl SubmitStandard {
    /// The same fields as an extended submission with an empty miner extranonce: a standard
    /// channel's prefix is its whole extranonce.
    pub fn as_extended(&self) -> SubmitExtended<'static> {
        SubmitExtended {
            channel_id: self.channel_id,
            sequence_number: self.sequence_number,
            job_id: self.job_id,
            nonce: self.nonce,
            ntime: self.ntime,
            version: self.version,
            extranonce: &[],
        }
    }
}

/// `SubmitSharesExtended`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmitExtended<'a> {
    /// Channel id.
    pub channel_id: u32,
    /// Sequence number.
    pub sequence_number: u32,
    /// Job id.
    pub job_id: u32,
    /// Nonce.
    pub nonce: u32,
    /// ntime.
    pub ntime: u32,
    /// Full version.
    pub version: u32,
    /// The miner's extranonce (after the channel's prefix).
    pub extranonce: &'a [u8],
}

/// Running share counters of a channel.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ShareStats {
    /// Shares accepted (including block candidates).
    pub accepted: u64,
    /// Sum of the credited difficulty of accepted shares.
    pub accepted_work: f64,
    /// Shares rejected.
    pub rejected: u64,
    /// Block candidates found.
    pub blocks: u64,
}

impl ShareStats {
    fn record(&mut self, outcome: &ShareOutcome) {
        match outcome {
            ShareOutcome::Accepted(s) => {
                self.accepted += 1;
                self.accepted_work += s.difficulty;
            }
            ShareOutcome::BlockFound(b) => {
                self.accepted += 1;
                self.accepted_work += b.share.difficulty;
                self.blocks += 1;
            }
            ShareOutcome::Rejected(_) => self.rejected += 1,
        }
    }
}

/// Validates an extranonce prefix length.
fn check_prefix_len(prefix: &[u8]) -> Result<(), ChannelError> {
    if prefix.len() > crate::extranonce::MAX_EXTRANONCE_LEN {
        return Err(ChannelError::ExtranoncePrefixTooLong(prefix.len()));
    }
    Ok(())
}
