//! Job Declaration protocol messages (spec section 6), laid out as in `job_declaration_sv2` 10.
//!
//! Differences between the spec text and SRI, where we follow SRI on the wire:
//! - `PushSolution` (0x60) is sent with the channel bit **clear** (SRI); older spec message
//!   tables list 0x60 with channel bit 1. The decoder accepts either.
//! - `AllocateMiningJobToken.Success` names its outputs field `coinbase_outputs` (SRI); the
//!   encoding (`B0_64K`) is the same as the spec's.

use crate::message_types as mt;
use crate::wire::{Seq064K, Str0255, B016M, B0255, B032, B064K, U16, U256, U32};

/// Error codes of `DeclareMiningJob.Error`.
pub mod error_codes {
    /// Token unknown or already used.
    pub const INVALID_MINING_JOB_TOKEN: &str = "invalid-mining-job-token";
    /// Transactions were missing and not provided.
    pub const MISSING_TXS: &str = "missing-txs";
    /// Coinbase rejected.
    pub const INVALID_COINBASE_TX: &str = "invalid-coinbase-tx";
    /// Job built on an outdated chain tip.
    pub const STALE_CHAIN_TIP: &str = "stale-chain-tip";
    /// Job rejected for another reason.
    pub const INVALID_JOB: &str = "invalid-job";
    /// Server-side failure.
    pub const INTERNAL_ERROR: &str = "internal-error";
}

sv2_message! {
    /// `AllocateMiningJobToken` (client -> server).
    #[derive(Default, Eq)]
    pub struct AllocateMiningJobToken [mt::ALLOCATE_MINING_JOB_TOKEN, channel_msg = false] {
        /// User the token is for.
        pub user_identifier: String => Str0255,
        /// Client-chosen id echoed in the response.
        pub request_id: u32 => U32,
    }
}

sv2_message! {
    /// `AllocateMiningJobToken.Success` (server -> client).
    #[derive(Default, Eq)]
    pub struct AllocateMiningJobTokenSuccess [mt::ALLOCATE_MINING_JOB_TOKEN_SUCCESS, channel_msg = false] {
        /// Id from the request.
        pub request_id: u32 => U32,
        /// The token.
        pub mining_job_token: Vec<u8> => B0255,
        /// Serialized outputs the pool requires in the coinbase.
        pub coinbase_outputs: Vec<u8> => B064K,
    }
}

sv2_message! {
    /// `DeclareMiningJob` (client -> server).
    #[derive(Default, Eq)]
    pub struct DeclareMiningJob [mt::DECLARE_MINING_JOB, channel_msg = false] {
        /// Client-chosen id echoed in the response.
        pub request_id: u32 => U32,
        /// Token from `AllocateMiningJobToken.Success`.
        pub mining_job_token: Vec<u8> => B0255,
        /// Header nVersion.
        pub version: u32 => U32,
        /// Coinbase bytes before the extranonce (with witness data).
        pub coinbase_tx_prefix: Vec<u8> => B064K,
        /// Coinbase bytes after the extranonce (with witness data).
        pub coinbase_tx_suffix: Vec<u8> => B064K,
        /// wtxids of the template's transactions (coinbase excluded).
        pub wtxid_list: Vec<[u8; 32]> => Seq064K<U256>,
        /// Extra data for the pool.
        pub excess_data: Vec<u8> => B064K,
    }
}

sv2_message! {
    /// `DeclareMiningJob.Success` (server -> client).
    #[derive(Default, Eq)]
    pub struct DeclareMiningJobSuccess [mt::DECLARE_MINING_JOB_SUCCESS, channel_msg = false] {
        /// Id from the request.
        pub request_id: u32 => U32,
        /// Token to use in `SetCustomMiningJob`.
        pub new_mining_job_token: Vec<u8> => B0255,
    }
}

sv2_message! {
    /// `DeclareMiningJob.Error` (server -> client).
    #[derive(Default, Eq)]
    pub struct DeclareMiningJobError [mt::DECLARE_MINING_JOB_ERROR, channel_msg = false] {
        /// Id from the request.
        pub request_id: u32 => U32,
        /// Error code, see [`error_codes`].
        pub error_code: String => Str0255,
        /// Optional details.
        pub error_details: Vec<u8> => B064K,
    }
}

sv2_message! {
    /// `ProvideMissingTransactions` (server -> client).
    #[derive(Default, Eq)]
    pub struct ProvideMissingTransactions [mt::PROVIDE_MISSING_TRANSACTIONS, channel_msg = false] {
        /// Id of the `DeclareMiningJob` request.
        pub request_id: u32 => U32,
        /// Positions (in `wtxid_list`) of the transactions the server lacks.
        pub unknown_tx_position_list: Vec<u16> => Seq064K<U16>,
    }
}

sv2_message! {
    /// `ProvideMissingTransactions.Success` (client -> server).
    #[derive(Default, Eq)]
    pub struct ProvideMissingTransactionsSuccess [mt::PROVIDE_MISSING_TRANSACTIONS_SUCCESS, channel_msg = false] {
        /// Id of the `DeclareMiningJob` request.
        pub request_id: u32 => U32,
        /// The requested transactions, serialized, in request order.
        pub transaction_list: Vec<Vec<u8>> => Seq064K<B016M>,
    }
}

sv2_message! {
    /// `PushSolution` (client -> server): a block was found on the last declared job.
    #[derive(Default, Eq)]
    pub struct PushSolution [mt::PUSH_SOLUTION, channel_msg = false] {
        /// Full extranonce.
        pub extranonce: Vec<u8> => B032,
        /// Previous block hash.
        pub prev_hash: [u8; 32] => U256,
        /// Header nonce.
        pub nonce: u32 => U32,
        /// Header nTime.
        pub ntime: u32 => U32,
        /// Header nBits.
        pub nbits: u32 => U32,
        /// Header nVersion.
        pub version: u32 => U32,
    }
}

protocol_enum! {
    /// Any Job Declaration message.
    pub enum JobDeclarationMessage {
        AllocateMiningJobToken = mt::ALLOCATE_MINING_JOB_TOKEN,
        AllocateMiningJobTokenSuccess = mt::ALLOCATE_MINING_JOB_TOKEN_SUCCESS,
        DeclareMiningJob = mt::DECLARE_MINING_JOB,
        DeclareMiningJobSuccess = mt::DECLARE_MINING_JOB_SUCCESS,
        DeclareMiningJobError = mt::DECLARE_MINING_JOB_ERROR,
        ProvideMissingTransactions = mt::PROVIDE_MISSING_TRANSACTIONS,
        ProvideMissingTransactionsSuccess = mt::PROVIDE_MISSING_TRANSACTIONS_SUCCESS,
        PushSolution = mt::PUSH_SOLUTION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sv2Message;

    #[test]
    fn declare_mining_job_roundtrip_and_layout() {
        let m = DeclareMiningJob {
            request_id: 1,
            mining_job_token: vec![7; 3],
            version: 2,
            coinbase_tx_prefix: vec![1],
            coinbase_tx_suffix: vec![2, 3],
            wtxid_list: vec![[9; 32]],
            excess_data: vec![],
        };
        let mut out = Vec::new();
        let n = m.encode_payload(&mut out).unwrap();
        assert_eq!(n, 4 + 4 + 4 + 3 + 4 + (2 + 32) + 2);
        assert_eq!(&out[12..14], &[1, 0]);
        assert_eq!(&out[15..17], &[2, 0]);
        assert_eq!(DeclareMiningJob::decode_payload(&out).unwrap(), m);
    }

    #[test]
    fn missing_tx_positions_are_u16_le() {
        let m = ProvideMissingTransactions {
            request_id: 0,
            unknown_tx_position_list: vec![0x0102, 3],
        };
        let mut out = Vec::new();
        m.encode_payload(&mut out).unwrap();
        assert_eq!(&out[4..], &[2, 0, 2, 1, 3, 0]);
    }
}
