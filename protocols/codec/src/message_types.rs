//! `msg_type` numbers of every supported message, as SRI's crates (and spec section 8) assign them.
//!
//! Common messages (0x00..=0x04) are valid on every connection; the other ranges belong to one
//! subprotocol each (Mining 0x10..=0x25, Job Declaration 0x50..=0x60, Template Distribution
//! 0x70..=0x76). The ranges do not overlap, but decoding still takes the connection's
//! [`Protocol`](crate::Protocol) so a message of the wrong subprotocol is rejected.

// Common
/// `SetupConnection`.
pub const SETUP_CONNECTION: u8 = 0x00;
/// `SetupConnection.Success`.
pub const SETUP_CONNECTION_SUCCESS: u8 = 0x01;
/// `SetupConnection.Error`.
pub const SETUP_CONNECTION_ERROR: u8 = 0x02;
/// `ChannelEndpointChanged`.
pub const CHANNEL_ENDPOINT_CHANGED: u8 = 0x03;
/// `Reconnect`.
pub const RECONNECT: u8 = 0x04;

// Mining
/// `OpenStandardMiningChannel`.
pub const OPEN_STANDARD_MINING_CHANNEL: u8 = 0x10;
/// `OpenStandardMiningChannel.Success`.
pub const OPEN_STANDARD_MINING_CHANNEL_SUCCESS: u8 = 0x11;
/// `OpenMiningChannel.Error`.
pub const OPEN_MINING_CHANNEL_ERROR: u8 = 0x12;
/// `OpenExtendedMiningChannel`.
pub const OPEN_EXTENDED_MINING_CHANNEL: u8 = 0x13;
/// `OpenExtendedMiningChannel.Success`.
pub const OPEN_EXTENDED_MINING_CHANNEL_SUCCESS: u8 = 0x14;
/// `NewMiningJob`.
pub const NEW_MINING_JOB: u8 = 0x15;
/// `UpdateChannel`.
pub const UPDATE_CHANNEL: u8 = 0x16;
/// `UpdateChannel.Error`.
pub const UPDATE_CHANNEL_ERROR: u8 = 0x17;
/// `CloseChannel`.
pub const CLOSE_CHANNEL: u8 = 0x18;
/// `SetExtranoncePrefix`.
pub const SET_EXTRANONCE_PREFIX: u8 = 0x19;
/// `SubmitSharesStandard`.
pub const SUBMIT_SHARES_STANDARD: u8 = 0x1a;
/// `SubmitSharesExtended`.
pub const SUBMIT_SHARES_EXTENDED: u8 = 0x1b;
/// `SubmitShares.Success`.
pub const SUBMIT_SHARES_SUCCESS: u8 = 0x1c;
/// `SubmitShares.Error`.
pub const SUBMIT_SHARES_ERROR: u8 = 0x1d;
/// `NewExtendedMiningJob` (0x1e is reserved).
pub const NEW_EXTENDED_MINING_JOB: u8 = 0x1f;
/// Mining `SetNewPrevHash`.
pub const MINING_SET_NEW_PREV_HASH: u8 = 0x20;
/// `SetTarget`.
pub const SET_TARGET: u8 = 0x21;
/// `SetCustomMiningJob`.
pub const SET_CUSTOM_MINING_JOB: u8 = 0x22;
/// `SetCustomMiningJob.Success`.
pub const SET_CUSTOM_MINING_JOB_SUCCESS: u8 = 0x23;
/// `SetCustomMiningJob.Error`.
pub const SET_CUSTOM_MINING_JOB_ERROR: u8 = 0x24;
/// `SetGroupChannel`.
pub const SET_GROUP_CHANNEL: u8 = 0x25;

// Job Declaration
/// `AllocateMiningJobToken`.
pub const ALLOCATE_MINING_JOB_TOKEN: u8 = 0x50;
/// `AllocateMiningJobToken.Success`.
pub const ALLOCATE_MINING_JOB_TOKEN_SUCCESS: u8 = 0x51;
/// `ProvideMissingTransactions`.
pub const PROVIDE_MISSING_TRANSACTIONS: u8 = 0x55;
/// `ProvideMissingTransactions.Success`.
pub const PROVIDE_MISSING_TRANSACTIONS_SUCCESS: u8 = 0x56;
/// `DeclareMiningJob`.
pub const DECLARE_MINING_JOB: u8 = 0x57;
/// `DeclareMiningJob.Success`.
pub const DECLARE_MINING_JOB_SUCCESS: u8 = 0x58;
/// `DeclareMiningJob.Error`.
pub const DECLARE_MINING_JOB_ERROR: u8 = 0x59;
/// `PushSolution`.
pub const PUSH_SOLUTION: u8 = 0x60;

// Template Distribution
/// `CoinbaseOutputConstraints`.
pub const COINBASE_OUTPUT_CONSTRAINTS: u8 = 0x70;
/// `NewTemplate`.
pub const NEW_TEMPLATE: u8 = 0x71;
/// Template Distribution `SetNewPrevHash`.
pub const TEMPLATE_SET_NEW_PREV_HASH: u8 = 0x72;
/// `RequestTransactionData`.
pub const REQUEST_TRANSACTION_DATA: u8 = 0x73;
/// `RequestTransactionData.Success`.
pub const REQUEST_TRANSACTION_DATA_SUCCESS: u8 = 0x74;
/// `RequestTransactionData.Error`.
pub const REQUEST_TRANSACTION_DATA_ERROR: u8 = 0x75;
/// `SubmitSolution`.
pub const SUBMIT_SOLUTION: u8 = 0x76;
