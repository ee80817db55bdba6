//! Share validation results.

use crate::coinbase::CoinbaseParts;
use crate::header::BlockHeader;
use std::sync::Arc;
use thiserror::Error;

/// `SubmitShares.Error` code: the channel id is not open on this connection.
pub const ERROR_INVALID_CHANNEL_ID: &str = "invalid-channel-id";
/// `SubmitShares.Error` code: the job was valid before the latest prev hash.
pub const ERROR_STALE_SHARE: &str = "stale-share";
/// `SubmitShares.Error` code: the hash does not meet the channel target.
pub const ERROR_DIFFICULTY_TOO_LOW: &str = "difficulty-too-low";
/// `SubmitShares.Error` code: unknown (or not yet active) job id.
pub const ERROR_INVALID_JOB_ID: &str = "invalid-job-id";
/// `SubmitShares.Error` code: the same share was already accepted.
pub const ERROR_DUPLICATE_SHARE: &str = "duplicate-share";
/// `SubmitShares.Error` code (SRI): the extranonce does not have the negotiated size.
pub const ERROR_BAD_EXTRANONCE_SIZE: &str = "bad-extranonce-size";
/// `SubmitShares.Error` code (SRI): a version bit outside the rolling mask was changed.
pub const ERROR_INVALID_VERSION: &str = "invalid-non-rollable-version-bit";
/// `SubmitShares.Error` code (SRI): a share that is malformed in another way (ntime).
pub const ERROR_INVALID_SHARE: &str = "invalid-share";

/// Why a share was rejected. [`ShareError::error_code`] gives the `SubmitShares.Error` code; the
/// first five variants are the Mining Protocol specification's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ShareError {
    /// The share names a channel that is not open here.
    #[error("invalid channel id")]
    InvalidChannelId,
    /// The share's job is from before the latest prev hash.
    #[error("stale share")]
    StaleShare,
    /// The share's hash does not meet the job's target.
    #[error("difficulty too low")]
    DifficultyTooLow,
    /// The job id is unknown, forgotten or not yet active (future job).
    #[error("invalid job id")]
    InvalidJobId,
    /// The share was already accepted.
    #[error("duplicate share")]
    DuplicateShare,
    /// The extranonce does not have the channel's negotiated size.
    #[error("extranonce has {got} bytes, expected {expected}")]
    BadExtranonceSize {
        /// Negotiated size.
        expected: usize,
        /// Received size.
        got: usize,
    },
    /// Version bits outside the allowed rolling mask differ from the job's version.
    #[error("version changes bits outside the rolling mask")]
    InvalidVersion,
    /// ntime is before the job's minimum.
    #[error("ntime {ntime} below the job minimum {min}")]
    NtimeTooLow {
        /// Share ntime.
        ntime: u32,
        /// Job minimum.
        min: u32,
    },
    /// ntime is too far in the future.
    #[error("ntime {ntime} above the allowed maximum {max}")]
    NtimeTooHigh {
        /// Share ntime.
        ntime: u32,
        /// Allowed maximum.
        max: u64,
    },
    /// The channel's duplicate-detection set is full; the channel should be closed.
    #[error("too many shares on this prev hash")]
    SeenSharesFull,
}

impl ShareError {
    /// The `SubmitShares.Error.error_code` string to send.
    pub fn error_code(&self) -> &'static str {
        match self {
            ShareError::InvalidChannelId => ERROR_INVALID_CHANNEL_ID,
            ShareError::StaleShare => ERROR_STALE_SHARE,
            ShareError::DifficultyTooLow => ERROR_DIFFICULTY_TOO_LOW,
            ShareError::InvalidJobId => ERROR_INVALID_JOB_ID,
            ShareError::DuplicateShare => ERROR_DUPLICATE_SHARE,
            ShareError::BadExtranonceSize { .. } => ERROR_BAD_EXTRANONCE_SIZE,
            ShareError::InvalidVersion => ERROR_INVALID_VERSION,
            ShareError::NtimeTooLow { .. }
            | ShareError::NtimeTooHigh { .. }
            | ShareError::SeenSharesFull => ERROR_INVALID_SHARE,
        }
    }
}

/// A share that met its job's target.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptedShare {
    /// Channel the share was submitted on.
    pub channel_id: u32,
    /// Submission sequence number (for `SubmitShares.Success.last_sequence_number`).
    pub sequence_number: u32,
    /// Job the share belongs to.
    pub job_id: u32,
    /// Difficulty credited: the job target's difficulty (summed into `new_shares_sum`).
    pub difficulty: f64,
    /// Difficulty of the hash itself (`DIFF1 / hash`), for statistics.
    pub hash_difficulty: f64,
    /// Header hash (internal byte order).
    pub hash: [u8; 32],
}

/// A share that also meets the network target: everything needed to assemble the block.
#[derive(Debug, Clone)]
pub struct BlockCandidate {
    /// The share as credited.
    pub share: AcceptedShare,
    /// Template the job was built from (to find its transactions).
    pub template_id: u64,
    /// The solved header.
    pub header: BlockHeader,
    /// Full extranonce: channel prefix followed by the miner's part.
    pub extranonce: Vec<u8>,
    /// The job's coinbase; `coinbase.full_transaction(&extranonce)` is the block's coinbase.
    pub coinbase: Arc<CoinbaseParts>,
}

/// Result of validating one share.
#[derive(Debug, Clone)]
pub enum ShareOutcome {
    /// Valid share.
    Accepted(AcceptedShare),
    /// Valid share that solves a block (also to be credited as a share).
    BlockFound(Box<BlockCandidate>),
    /// Invalid share.
    Rejected(ShareError),
}

impl ShareOutcome {
    /// The credited share, for accepted shares and found blocks.
    pub fn accepted(&self) -> Option<&AcceptedShare> {
        match self {
            ShareOutcome::Accepted(s) => Some(s),
            ShareOutcome::BlockFound(b) => Some(&b.share),
            ShareOutcome::Rejected(_) => None,
        }
    }

    /// The rejection reason, if rejected.
    pub fn error(&self) -> Option<ShareError> {
        match self {
            ShareOutcome::Rejected(e) => Some(*e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_error_codes() {
        assert_eq!(
            ShareError::InvalidChannelId.error_code(),
            "invalid-channel-id"
        );
        assert_eq!(ShareError::StaleShare.error_code(), "stale-share");
        assert_eq!(
            ShareError::DifficultyTooLow.error_code(),
            "difficulty-too-low"
        );
        assert_eq!(ShareError::InvalidJobId.error_code(), "invalid-job-id");
        assert_eq!(ShareError::DuplicateShare.error_code(), "duplicate-share");
        assert_eq!(
            ShareError::BadExtranonceSize {
                expected: 1,
                got: 2
            }
            .error_code(),
            "bad-extranonce-size"
        );
    }
}
