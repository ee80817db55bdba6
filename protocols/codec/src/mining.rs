//! Mining protocol messages (spec section 5), laid out as in `mining_sv2` 12.
//!
//! Differences between the spec text and SRI, where we follow SRI on the wire:
//! - `SetCustomMiningJob`, `.Success` and `.Error` are sent with the channel bit **set** (SRI);
//!   the spec's message table lists them with channel bit 0. The decoder accepts either.
//! - `Reconnect` is the common message 0x04 ([`crate::common::Reconnect`]), not a Mining one.

use crate::message_types as mt;
use crate::wire::{Bool, Seq0255, Seq064K, Str0255, Sv2Option, B0255, B032, B064K, F32, U16};
use crate::wire::{U256, U32, U64};

/// Error codes used by the Mining protocol's `*.Error` messages.
pub mod error_codes {
    /// `OpenMiningChannel.Error`: unknown user.
    pub const UNKNOWN_USER: &str = "unknown-user";
    /// `OpenMiningChannel.Error`: bad `max_target`.
    pub const MAX_TARGET_OUT_OF_RANGE: &str = "max-target-out-of-range";
    /// `OpenMiningChannel.Error`: user identity rejected.
    pub const INVALID_USER_IDENTITY: &str = "invalid-user-identity";
    /// `OpenMiningChannel.Error` / `UpdateChannel.Error`: bad nominal hash rate.
    pub const INVALID_NOMINAL_HASHRATE: &str = "invalid-nominal-hashrate";
    /// `OpenMiningChannel.Error`: requested extranonce size cannot be served.
    pub const MIN_EXTRANONCE_SIZE_TOO_LARGE: &str = "min-extranonce-size-too-large";
    /// Unknown channel id.
    pub const INVALID_CHANNEL_ID: &str = "invalid-channel-id";
    /// `SubmitShares.Error`: hash does not meet the share target or is malformed.
    pub const INVALID_SHARE: &str = "invalid-share";
    /// `SubmitShares.Error`: share for a job that is no longer valid.
    pub const STALE_SHARE: &str = "stale-share";
    /// `SubmitShares.Error`: unknown job id.
    pub const INVALID_JOB_ID: &str = "invalid-job-id";
    /// `SubmitShares.Error`: difficulty too low.
    pub const DIFFICULTY_TOO_LOW: &str = "difficulty-too-low";
    /// `SubmitShares.Error`: share already submitted.
    pub const DUPLICATE_SHARE: &str = "duplicate-share";
    /// `SubmitShares.Error`: extranonce of the wrong size.
    pub const BAD_EXTRANONCE_SIZE: &str = "bad-extranonce-size";
    /// `SubmitShares.Error`: version bits changed where not allowed.
    pub const VERSION_ROLLING_NOT_ALLOWED: &str = "version-rolling-not-allowed";
    /// `SetCustomMiningJob.Error`: mining job token not valid.
    pub const INVALID_MINING_JOB_TOKEN: &str = "invalid-mining-job-token";
}

sv2_message! {
    /// `OpenStandardMiningChannel` (client -> server).
    #[derive(Default)]
    pub struct OpenStandardMiningChannel [mt::OPEN_STANDARD_MINING_CHANNEL, channel_msg = false] {
        /// Client-chosen id echoed in the response.
        pub request_id: u32 => U32,
        /// User / worker identity.
        pub user_identity: String => Str0255,
        /// Expected hash rate in h/s.
        pub nominal_hash_rate: f32 => F32,
        /// Largest target the device accepts.
        pub max_target: [u8; 32] => U256,
    }
}

sv2_message! {
    /// `OpenStandardMiningChannel.Success` (server -> client).
    #[derive(Default, Eq)]
    pub struct OpenStandardMiningChannelSuccess [mt::OPEN_STANDARD_MINING_CHANNEL_SUCCESS, channel_msg = false] {
        /// Id from the request.
        pub request_id: u32 => U32,
        /// New channel id.
        pub channel_id: u32 => U32,
        /// Initial target.
        pub target: [u8; 32] => U256,
        /// Extranonce prefix for the channel (at most 32 bytes).
        pub extranonce_prefix: Vec<u8> => B032,
        /// Group channel the channel belongs to.
        pub group_channel_id: u32 => U32,
    }
}

sv2_message! {
    /// `OpenExtendedMiningChannel` (client -> server).
    #[derive(Default)]
    pub struct OpenExtendedMiningChannel [mt::OPEN_EXTENDED_MINING_CHANNEL, channel_msg = false] {
        /// Client-chosen id echoed in the response.
        pub request_id: u32 => U32,
        /// User / worker identity.
        pub user_identity: String => Str0255,
        /// Expected hash rate in h/s.
        pub nominal_hash_rate: f32 => F32,
        /// Largest target the client accepts.
        pub max_target: [u8; 32] => U256,
        /// Minimum extranonce size the client needs.
        pub min_extranonce_size: u16 => U16,
    }
}

sv2_message! {
    /// `OpenExtendedMiningChannel.Success` (server -> client).
    #[derive(Default, Eq)]
    pub struct OpenExtendedMiningChannelSuccess [mt::OPEN_EXTENDED_MINING_CHANNEL_SUCCESS, channel_msg = false] {
        /// Id from the request.
        pub request_id: u32 => U32,
        /// New channel id.
        pub channel_id: u32 => U32,
        /// Initial target.
        pub target: [u8; 32] => U256,
        /// Extranonce bytes left to the client.
        pub extranonce_size: u16 => U16,
        /// Extranonce prefix fixed by the server (at most 32 bytes).
        pub extranonce_prefix: Vec<u8> => B032,
        /// Group channel the channel belongs to.
        pub group_channel_id: u32 => U32,
    }
}

sv2_message! {
    /// `OpenMiningChannel.Error` (server -> client).
    #[derive(Default, Eq)]
    pub struct OpenMiningChannelError [mt::OPEN_MINING_CHANNEL_ERROR, channel_msg = false] {
        /// Id from the request.
        pub request_id: u32 => U32,
        /// Error code.
        pub error_code: String => Str0255,
    }
}

sv2_message! {
    /// `UpdateChannel` (client -> server).
    #[derive(Default)]
    pub struct UpdateChannel [mt::UPDATE_CHANNEL, channel_msg = true] {
        /// Channel id.
        pub channel_id: u32 => U32,
        /// New nominal hash rate in h/s.
        pub nominal_hash_rate: f32 => F32,
        /// Largest target the client accepts.
        pub maximum_target: [u8; 32] => U256,
    }
}

sv2_message! {
    /// `UpdateChannel.Error` (server -> client).
    #[derive(Default, Eq)]
    pub struct UpdateChannelError [mt::UPDATE_CHANNEL_ERROR, channel_msg = true] {
        /// Channel id.
        pub channel_id: u32 => U32,
        /// Error code.
        pub error_code: String => Str0255,
    }
}

sv2_message! {
    /// `CloseChannel` (either direction).
    #[derive(Default, Eq)]
    pub struct CloseChannel [mt::CLOSE_CHANNEL, channel_msg = true] {
        /// Channel id (a group channel closes all its members).
        pub channel_id: u32 => U32,
        /// Reason.
        pub reason_code: String => Str0255,
    }
}

sv2_message! {
    /// `SetExtranoncePrefix` (server -> client).
    #[derive(Default, Eq)]
    pub struct SetExtranoncePrefix [mt::SET_EXTRANONCE_PREFIX, channel_msg = true] {
        /// Channel id.
        pub channel_id: u32 => U32,
        /// New extranonce prefix (at most 32 bytes).
        pub extranonce_prefix: Vec<u8> => B032,
    }
}

sv2_message! {
    /// `SubmitSharesStandard` (client -> server): fixed 24-byte payload, no heap allocation.
    #[derive(Default, Eq, Copy, Hash)]
    pub struct SubmitSharesStandard [mt::SUBMIT_SHARES_STANDARD, channel_msg = true] {
        /// Channel id.
        pub channel_id: u32 => U32,
        /// Client sequence number.
        pub sequence_number: u32 => U32,
        /// Job id.
        pub job_id: u32 => U32,
        /// Header nonce.
        pub nonce: u32 => U32,
        /// Header nTime.
        pub ntime: u32 => U32,
        /// Full header nVersion.
        pub version: u32 => U32,
    }
}

sv2_message! {
    /// `SubmitSharesExtended` (client -> server).
    #[derive(Default, Eq, Hash)]
    pub struct SubmitSharesExtended [mt::SUBMIT_SHARES_EXTENDED, channel_msg = true] {
        /// Channel id.
        pub channel_id: u32 => U32,
        /// Client sequence number.
        pub sequence_number: u32 => U32,
        /// Job id.
        pub job_id: u32 => U32,
        /// Header nonce.
        pub nonce: u32 => U32,
        /// Header nTime.
        pub ntime: u32 => U32,
        /// Full header nVersion.
        pub version: u32 => U32,
        /// Client part of the extranonce (at most 32 bytes).
        pub extranonce: Vec<u8> => B032,
    }
}

sv2_message! {
    /// `SubmitShares.Success` (server -> client).
    #[derive(Default, Eq, Copy)]
    pub struct SubmitSharesSuccess [mt::SUBMIT_SHARES_SUCCESS, channel_msg = true] {
        /// Channel id.
        pub channel_id: u32 => U32,
        /// Latest sequence number acknowledged.
        pub last_sequence_number: u32 => U32,
        /// Number of shares acknowledged in this batch.
        pub new_submits_accepted_count: u32 => U32,
        /// Sum of their difficulties.
        pub new_shares_sum: u64 => U64,
    }
}

sv2_message! {
    /// `SubmitShares.Error` (server -> client).
    #[derive(Default, Eq)]
    pub struct SubmitSharesError [mt::SUBMIT_SHARES_ERROR, channel_msg = true] {
        /// Channel id.
        pub channel_id: u32 => U32,
        /// Sequence number of the rejected share.
        pub sequence_number: u32 => U32,
        /// Error code.
        pub error_code: String => Str0255,
    }
}

sv2_message! {
    /// `NewMiningJob` (server -> client, standard channels).
    #[derive(Default, Eq)]
    pub struct NewMiningJob [mt::NEW_MINING_JOB, channel_msg = true] {
        /// Channel id.
        pub channel_id: u32 => U32,
        /// Job id.
        pub job_id: u32 => U32,
        /// `None` for a future job (activated by `SetNewPrevHash`).
        pub min_ntime: Option<u32> => Sv2Option<U32>,
        /// Header nVersion.
        pub version: u32 => U32,
        /// Header merkle root.
        pub merkle_root: [u8; 32] => U256,
    }
}

sv2_message! {
    /// `NewExtendedMiningJob` (server -> client, extended and group channels).
    #[derive(Default, Eq)]
    pub struct NewExtendedMiningJob [mt::NEW_EXTENDED_MINING_JOB, channel_msg = true] {
        /// Channel or group channel id.
        pub channel_id: u32 => U32,
        /// Job id.
        pub job_id: u32 => U32,
        /// `None` for a future job (activated by `SetNewPrevHash`).
        pub min_ntime: Option<u32> => Sv2Option<U32>,
        /// Header nVersion.
        pub version: u32 => U32,
        /// Whether the general purpose version bits may be rolled.
        pub version_rolling_allowed: bool => Bool,
        /// Merkle path, deepest first (at most 255 entries).
        pub merkle_path: Vec<[u8; 32]> => Seq0255<U256>,
        /// Coinbase bytes before the extranonce (witness-stripped).
        pub coinbase_tx_prefix: Vec<u8> => B064K,
        /// Coinbase bytes after the extranonce (witness-stripped).
        pub coinbase_tx_suffix: Vec<u8> => B064K,
    }
}

sv2_message! {
    /// Mining `SetNewPrevHash` (server -> client).
    #[derive(Default, Eq)]
    pub struct SetNewPrevHash [mt::MINING_SET_NEW_PREV_HASH, channel_msg = true] {
        /// Channel or group channel id.
        pub channel_id: u32 => U32,
        /// Job to mine with this prev hash.
        pub job_id: u32 => U32,
        /// Previous block hash.
        pub prev_hash: [u8; 32] => U256,
        /// Smallest allowed nTime.
        pub min_ntime: u32 => U32,
        /// Header nBits.
        pub nbits: u32 => U32,
    }
}

sv2_message! {
    /// `SetTarget` (server -> client).
    #[derive(Default, Eq)]
    pub struct SetTarget [mt::SET_TARGET, channel_msg = true] {
        /// Channel or group channel id.
        pub channel_id: u32 => U32,
        /// Largest accepted share hash.
        pub maximum_target: [u8; 32] => U256,
    }
}

sv2_message! {
    /// `SetCustomMiningJob` (client -> server). Channel bit set as in SRI (spec table: 0).
    #[derive(Default, Eq)]
    pub struct SetCustomMiningJob [mt::SET_CUSTOM_MINING_JOB, channel_msg = true] {
        /// Extended channel id.
        pub channel_id: u32 => U32,
        /// Client-chosen id echoed in the response.
        pub request_id: u32 => U32,
        /// Token from the Job Declarator.
        pub token: Vec<u8> => B0255,
        /// Header nVersion.
        pub version: u32 => U32,
        /// Previous block hash.
        pub prev_hash: [u8; 32] => U256,
        /// Smallest allowed nTime.
        pub min_ntime: u32 => U32,
        /// Header nBits.
        pub nbits: u32 => U32,
        /// Coinbase transaction version.
        pub coinbase_tx_version: u32 => U32,
        /// Start of the coinbase scriptSig.
        pub coinbase_prefix: Vec<u8> => B0255,
        /// Coinbase input nSequence.
        pub coinbase_tx_input_n_sequence: u32 => U32,
        /// Serialized coinbase outputs (CompactSize count + outputs).
        pub coinbase_tx_outputs: Vec<u8> => B064K,
        /// Coinbase locktime.
        pub coinbase_tx_locktime: u32 => U32,
        /// Merkle path, deepest first.
        pub merkle_path: Vec<[u8; 32]> => Seq0255<U256>,
    }
}

sv2_message! {
    /// `SetCustomMiningJob.Success` (server -> client).
    #[derive(Default, Eq, Copy)]
    pub struct SetCustomMiningJobSuccess [mt::SET_CUSTOM_MINING_JOB_SUCCESS, channel_msg = true] {
        /// Channel id.
        pub channel_id: u32 => U32,
        /// Id from the request.
        pub request_id: u32 => U32,
        /// Job id assigned by the server.
        pub job_id: u32 => U32,
    }
}

sv2_message! {
    /// `SetCustomMiningJob.Error` (server -> client).
    #[derive(Default, Eq)]
    pub struct SetCustomMiningJobError [mt::SET_CUSTOM_MINING_JOB_ERROR, channel_msg = true] {
        /// Channel id.
        pub channel_id: u32 => U32,
        /// Id from the request.
        pub request_id: u32 => U32,
        /// Error code.
        pub error_code: String => Str0255,
    }
}

sv2_message! {
    /// `SetGroupChannel` (server -> client).
    #[derive(Default, Eq)]
    pub struct SetGroupChannel [mt::SET_GROUP_CHANNEL, channel_msg = false] {
        /// Group channel id.
        pub group_channel_id: u32 => U32,
        /// Member channels.
        pub channel_ids: Vec<u32> => Seq064K<U32>,
    }
}

protocol_enum! {
    /// Any Mining protocol message.
    pub enum MiningMessage {
        OpenStandardMiningChannel = mt::OPEN_STANDARD_MINING_CHANNEL,
        OpenStandardMiningChannelSuccess = mt::OPEN_STANDARD_MINING_CHANNEL_SUCCESS,
        OpenMiningChannelError = mt::OPEN_MINING_CHANNEL_ERROR,
        OpenExtendedMiningChannel = mt::OPEN_EXTENDED_MINING_CHANNEL,
        OpenExtendedMiningChannelSuccess = mt::OPEN_EXTENDED_MINING_CHANNEL_SUCCESS,
        NewMiningJob = mt::NEW_MINING_JOB,
        UpdateChannel = mt::UPDATE_CHANNEL,
        UpdateChannelError = mt::UPDATE_CHANNEL_ERROR,
        CloseChannel = mt::CLOSE_CHANNEL,
        SetExtranoncePrefix = mt::SET_EXTRANONCE_PREFIX,
        SubmitSharesStandard = mt::SUBMIT_SHARES_STANDARD,
        SubmitSharesExtended = mt::SUBMIT_SHARES_EXTENDED,
        SubmitSharesSuccess = mt::SUBMIT_SHARES_SUCCESS,
        SubmitSharesError = mt::SUBMIT_SHARES_ERROR,
        NewExtendedMiningJob = mt::NEW_EXTENDED_MINING_JOB,
        SetNewPrevHash = mt::MINING_SET_NEW_PREV_HASH,
        SetTarget = mt::SET_TARGET,
        SetCustomMiningJob = mt::SET_CUSTOM_MINING_JOB,
        SetCustomMiningJobSuccess = mt::SET_CUSTOM_MINING_JOB_SUCCESS,
        SetCustomMiningJobError = mt::SET_CUSTOM_MINING_JOB_ERROR,
        SetGroupChannel = mt::SET_GROUP_CHANNEL,
    }
}

impl MiningMessage {
    /// The channel id the message is addressed to, for channel messages (and the group
    /// channel id for `SetGroupChannel`); `None` for connection-level messages.
    pub fn channel_id(&self) -> Option<u32> {
        use MiningMessage as M;
        match self {
            M::OpenStandardMiningChannel(_)
            | M::OpenExtendedMiningChannel(_)
            | M::OpenMiningChannelError(_) => None,
            M::OpenStandardMiningChannelSuccess(m) => Some(m.channel_id),
            M::OpenExtendedMiningChannelSuccess(m) => Some(m.channel_id),
            M::NewMiningJob(m) => Some(m.channel_id),
            M::UpdateChannel(m) => Some(m.channel_id),
            M::UpdateChannelError(m) => Some(m.channel_id),
            M::CloseChannel(m) => Some(m.channel_id),
            M::SetExtranoncePrefix(m) => Some(m.channel_id),
            M::SubmitSharesStandard(m) => Some(m.channel_id),
            M::SubmitSharesExtended(m) => Some(m.channel_id),
            M::SubmitSharesSuccess(m) => Some(m.channel_id),
            M::SubmitSharesError(m) => Some(m.channel_id),
            M::NewExtendedMiningJob(m) => Some(m.channel_id),
            M::SetNewPrevHash(m) => Some(m.channel_id),
            M::SetTarget(m) => Some(m.channel_id),
            M::SetCustomMiningJob(m) => Some(m.channel_id),
            M::SetCustomMiningJobSuccess(m) => Some(m.channel_id),
            M::SetCustomMiningJobError(m) => Some(m.channel_id),
            M::SetGroupChannel(m) => Some(m.group_channel_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CodecError, Sv2Message};

    #[test]
    fn submit_shares_standard_is_24_bytes_le() {
        let m = SubmitSharesStandard {
            channel_id: 1,
            sequence_number: 2,
            job_id: 3,
            nonce: 0xAABBCCDD,
            ntime: 5,
            version: 0x2000_0000,
        };
        let mut out = Vec::new();
        assert_eq!(m.encode_payload(&mut out).unwrap(), 24);
        assert_eq!(&out[..4], &[1, 0, 0, 0]);
        assert_eq!(&out[12..16], &[0xDD, 0xCC, 0xBB, 0xAA]);
        assert_eq!(SubmitSharesStandard::decode_payload(&out).unwrap(), m);
        assert!(matches!(
            SubmitSharesStandard::decode_payload(&out[..23]),
            Err(CodecError::Truncated {
                field: "version",
                ..
            })
        ));
        out.push(0);
        assert!(matches!(
            SubmitSharesStandard::decode_payload(&out),
            Err(CodecError::TrailingBytes { extra: 1, .. })
        ));
    }

    #[test]
    fn new_extended_job_layout() {
        let m = NewExtendedMiningJob {
            channel_id: 7,
            job_id: 8,
            min_ntime: Some(9),
            version: 0x2000_0000,
            version_rolling_allowed: true,
            merkle_path: vec![[0x11; 32]; 2],
            coinbase_tx_prefix: vec![1, 2, 3],
            coinbase_tx_suffix: vec![4],
        };
        let mut out = Vec::new();
        let n = m.encode_payload(&mut out).unwrap();
        assert_eq!(n, 4 + 4 + 5 + 4 + 1 + (1 + 64) + (2 + 3) + (2 + 1));
        assert_eq!(&out[8..13], &[1, 9, 0, 0, 0]);
        assert_eq!(out[17], 1);
        assert_eq!(out[18], 2);
        assert_eq!(NewExtendedMiningJob::decode_payload(&out).unwrap(), m);
    }

    #[test]
    fn extranonce_longer_than_32_is_rejected_both_ways() {
        let m = SubmitSharesExtended {
            extranonce: vec![0; 33],
            ..Default::default()
        };
        assert!(matches!(
            m.payload_len(),
            Err(CodecError::FieldTooLong {
                field: "extranonce",
                ..
            })
        ));
        let mut raw = vec![0u8; 24];
        raw.push(33);
        raw.extend_from_slice(&[0; 33]);
        assert!(matches!(
            SubmitSharesExtended::decode_payload(&raw),
            Err(CodecError::FieldTooLong { max: 32, .. })
        ));
    }

    #[test]
    fn enum_dispatch_matches_struct_constants() {
        let msgs: Vec<MiningMessage> = vec![
            OpenStandardMiningChannel::default().into(),
            SubmitSharesStandard::default().into(),
            SetCustomMiningJob::default().into(),
            SetGroupChannel {
                group_channel_id: 4,
                channel_ids: vec![1, 2],
            }
            .into(),
        ];
        for m in msgs {
            let mut payload = Vec::new();
            m.encode_payload(&mut payload).unwrap();
            let back = MiningMessage::decode(m.msg_type(), &payload)
                .unwrap()
                .unwrap();
            assert_eq!(back, m);
            assert!(MiningMessage::is_known(m.msg_type()));
        }
        assert!(MiningMessage::decode(0x1e, &[]).unwrap().is_none());
        assert!(!MiningMessage::is_known(0x1e));
    }
}
