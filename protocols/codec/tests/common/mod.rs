//! proptest strategies producing every message with random (valid) field values.
#![allow(dead_code)]

use proptest::collection::vec;
use proptest::prelude::*;
use sv2_codec::{common, job_declaration as jd, mining, template_distribution as td};
use sv2_codec::{Message, Protocol};

/// `(a, (b, (c, ...)))`: strategies (or patterns) nested in pairs, so a message of any
/// number of fields is one tuple strategy.
macro_rules! nest {
    ($e:expr) => { $e };
    ($e:expr, $($rest:expr),+) => { ($e, nest!($($rest),+)) };
}

/// The binding pattern matching [`nest!`]'s value.
macro_rules! nest_pat {
    ($p:ident) => { $p };
    ($p:ident, $($rest:ident),+) => { ($p, nest_pat!($($rest),+)) };
}

/// A strategy for message `$ty`, each field drawn from its own strategy.
macro_rules! strategy {
    ($($ty:ident)::+ { $($f:ident: $s:expr),+ $(,)? }) => {
        nest!($($s),+).prop_map(|nest_pat!($($f),+)| $($ty)::+ { $($f),+ })
    };
}

/// 32 random bytes.
pub fn u256() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

/// Up to `max` random bytes.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

/// A UTF-8 string of at most 255 bytes (any Unicode scalar values).
pub fn str255() -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..80).prop_map(|cs| {
        let mut s: String = cs.into_iter().collect();
        while s.len() > 255 {
            s.pop();
        }
        s
    })
}

/// Any non-NaN f32 (NaN != NaN would defeat struct equality; NaN bit patterns are covered by
/// byte comparisons elsewhere).
pub fn f32_val() -> impl Strategy<Value = f32> {
    any::<u32>()
        .prop_map(f32::from_bits)
        .prop_filter("not NaN", |f| !f.is_nan())
}

pub fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::Mining),
        Just(Protocol::JobDeclaration),
        Just(Protocol::TemplateDistribution)
    ]
}

// ---------------------------------------------------------------- common

pub fn setup_connection() -> impl Strategy<Value = common::SetupConnection> {
    strategy!(common::SetupConnection {
        protocol: protocol(),
        min_version: any::<u16>(),
        max_version: any::<u16>(),
        flags: any::<u32>(),
        endpoint_host: str255(),
        endpoint_port: any::<u16>(),
        vendor: str255(),
        hardware_version: str255(),
        firmware: str255(),
        device_id: str255(),
    })
}

pub fn setup_connection_success() -> impl Strategy<Value = common::SetupConnectionSuccess> {
    strategy!(common::SetupConnectionSuccess {
        used_version: any::<u16>(),
        flags: any::<u32>(),
    })
}

pub fn setup_connection_error() -> impl Strategy<Value = common::SetupConnectionError> {
    strategy!(common::SetupConnectionError {
        flags: any::<u32>(),
        error_code: str255(),
    })
}

pub fn channel_endpoint_changed() -> impl Strategy<Value = common::ChannelEndpointChanged> {
    strategy!(common::ChannelEndpointChanged {
        channel_id: any::<u32>(),
    })
}

pub fn reconnect() -> impl Strategy<Value = common::Reconnect> {
    strategy!(common::Reconnect {
        new_host: str255(),
        new_port: any::<u16>(),
    })
}

// ---------------------------------------------------------------- mining

pub fn open_standard_mining_channel() -> impl Strategy<Value = mining::OpenStandardMiningChannel> {
    strategy!(mining::OpenStandardMiningChannel {
        request_id: any::<u32>(),
        user_identity: str255(),
        nominal_hash_rate: f32_val(),
        max_target: u256(),
    })
}

pub fn open_standard_mining_channel_success(
) -> impl Strategy<Value = mining::OpenStandardMiningChannelSuccess> {
    strategy!(mining::OpenStandardMiningChannelSuccess {
        request_id: any::<u32>(),
        channel_id: any::<u32>(),
        target: u256(),
        extranonce_prefix: bytes(32),
        group_channel_id: any::<u32>(),
    })
}

pub fn open_extended_mining_channel() -> impl Strategy<Value = mining::OpenExtendedMiningChannel> {
    strategy!(mining::OpenExtendedMiningChannel {
        request_id: any::<u32>(),
        user_identity: str255(),
        nominal_hash_rate: f32_val(),
        max_target: u256(),
        min_extranonce_size: any::<u16>(),
    })
}

pub fn open_extended_mining_channel_success(
) -> impl Strategy<Value = mining::OpenExtendedMiningChannelSuccess> {
    strategy!(mining::OpenExtendedMiningChannelSuccess {
        request_id: any::<u32>(),
        channel_id: any::<u32>(),
        target: u256(),
        extranonce_size: any::<u16>(),
        extranonce_prefix: bytes(32),
        group_channel_id: any::<u32>(),
    })
}

pub fn open_mining_channel_error() -> impl Strategy<Value = mining::OpenMiningChannelError> {
    strategy!(mining::OpenMiningChannelError {
        request_id: any::<u32>(),
        error_code: str255(),
    })
}

pub fn update_channel() -> impl Strategy<Value = mining::UpdateChannel> {
    strategy!(mining::UpdateChannel {
        channel_id: any::<u32>(),
        nominal_hash_rate: f32_val(),
        maximum_target: u256(),
    })
}

pub fn update_channel_error() -> impl Strategy<Value = mining::UpdateChannelError> {
    strategy!(mining::UpdateChannelError {
        channel_id: any::<u32>(),
        error_code: str255(),
    })
}

pub fn close_channel() -> impl Strategy<Value = mining::CloseChannel> {
    strategy!(mining::CloseChannel {
        channel_id: any::<u32>(),
        reason_code: str255(),
    })
}

pub fn set_extranonce_prefix() -> impl Strategy<Value = mining::SetExtranoncePrefix> {
    strategy!(mining::SetExtranoncePrefix {
        channel_id: any::<u32>(),
        extranonce_prefix: bytes(32),
    })
}

pub fn submit_shares_standard() -> impl Strategy<Value = mining::SubmitSharesStandard> {
    strategy!(mining::SubmitSharesStandard {
        channel_id: any::<u32>(),
        sequence_number: any::<u32>(),
        job_id: any::<u32>(),
        nonce: any::<u32>(),
        ntime: any::<u32>(),
        version: any::<u32>(),
    })
}

pub fn submit_shares_extended() -> impl Strategy<Value = mining::SubmitSharesExtended> {
    strategy!(mining::SubmitSharesExtended {
        channel_id: any::<u32>(),
        sequence_number: any::<u32>(),
        job_id: any::<u32>(),
        nonce: any::<u32>(),
        ntime: any::<u32>(),
        version: any::<u32>(),
        extranonce: bytes(32),
    })
}

pub fn submit_shares_success() -> impl Strategy<Value = mining::SubmitSharesSuccess> {
    strategy!(mining::SubmitSharesSuccess {
        channel_id: any::<u32>(),
        last_sequence_number: any::<u32>(),
        new_submits_accepted_count: any::<u32>(),
        new_shares_sum: any::<u64>(),
    })
}

pub fn submit_shares_error() -> impl Strategy<Value = mining::SubmitSharesError> {
    strategy!(mining::SubmitSharesError {
        channel_id: any::<u32>(),
        sequence_number: any::<u32>(),
        error_code: str255(),
    })
}

pub fn new_mining_job() -> impl Strategy<Value = mining::NewMiningJob> {
    strategy!(mining::NewMiningJob {
        channel_id: any::<u32>(),
        job_id: any::<u32>(),
        min_ntime: any::<Option<u32>>(),
        version: any::<u32>(),
        merkle_root: u256(),
    })
}

pub fn new_extended_mining_job() -> impl Strategy<Value = mining::NewExtendedMiningJob> {
    strategy!(mining::NewExtendedMiningJob {
        channel_id: any::<u32>(),
        job_id: any::<u32>(),
        min_ntime: any::<Option<u32>>(),
        version: any::<u32>(),
        version_rolling_allowed: any::<bool>(),
        merkle_path: vec(u256(), 0..16),
        coinbase_tx_prefix: bytes(300),
        coinbase_tx_suffix: bytes(300),
    })
}

pub fn mining_set_new_prev_hash() -> impl Strategy<Value = mining::SetNewPrevHash> {
    strategy!(mining::SetNewPrevHash {
        channel_id: any::<u32>(),
        job_id: any::<u32>(),
        prev_hash: u256(),
        min_ntime: any::<u32>(),
        nbits: any::<u32>(),
    })
}

pub fn set_target() -> impl Strategy<Value = mining::SetTarget> {
    strategy!(mining::SetTarget {
        channel_id: any::<u32>(),
        maximum_target: u256(),
    })
}

pub fn set_custom_mining_job() -> impl Strategy<Value = mining::SetCustomMiningJob> {
    strategy!(mining::SetCustomMiningJob {
        channel_id: any::<u32>(),
        request_id: any::<u32>(),
        token: bytes(255),
        version: any::<u32>(),
        prev_hash: u256(),
        min_ntime: any::<u32>(),
        nbits: any::<u32>(),
        coinbase_tx_version: any::<u32>(),
        coinbase_prefix: bytes(255),
        coinbase_tx_input_n_sequence: any::<u32>(),
        coinbase_tx_outputs: bytes(400),
        coinbase_tx_locktime: any::<u32>(),
        merkle_path: vec(u256(), 0..16),
    })
}

pub fn set_custom_mining_job_success() -> impl Strategy<Value = mining::SetCustomMiningJobSuccess> {
    strategy!(mining::SetCustomMiningJobSuccess {
        channel_id: any::<u32>(),
        request_id: any::<u32>(),
        job_id: any::<u32>(),
    })
}

pub fn set_custom_mining_job_error() -> impl Strategy<Value = mining::SetCustomMiningJobError> {
    strategy!(mining::SetCustomMiningJobError {
        channel_id: any::<u32>(),
        request_id: any::<u32>(),
        error_code: str255(),
    })
}

pub fn set_group_channel() -> impl Strategy<Value = mining::SetGroupChannel> {
    strategy!(mining::SetGroupChannel {
        group_channel_id: any::<u32>(),
        channel_ids: vec(any::<u32>(), 0..100),
    })
}

// ---------------------------------------------------------------- template distribution

pub fn coinbase_output_constraints() -> impl Strategy<Value = td::CoinbaseOutputConstraints> {
    strategy!(td::CoinbaseOutputConstraints {
        coinbase_output_max_additional_size: any::<u32>(),
        coinbase_output_max_additional_sigops: any::<u16>(),
    })
}

pub fn new_template() -> impl Strategy<Value = td::NewTemplate> {
    strategy!(td::NewTemplate {
        template_id: any::<u64>(),
        future_template: any::<bool>(),
        version: any::<u32>(),
        coinbase_tx_version: any::<u32>(),
        coinbase_prefix: bytes(255),
        coinbase_tx_input_sequence: any::<u32>(),
        coinbase_tx_value_remaining: any::<u64>(),
        coinbase_tx_outputs_count: any::<u32>(),
        coinbase_tx_outputs: bytes(400),
        coinbase_tx_locktime: any::<u32>(),
        merkle_path: vec(u256(), 0..16),
    })
}

pub fn td_set_new_prev_hash() -> impl Strategy<Value = td::SetNewPrevHash> {
    strategy!(td::SetNewPrevHash {
        template_id: any::<u64>(),
        prev_hash: u256(),
        header_timestamp: any::<u32>(),
        n_bits: any::<u32>(),
        target: u256(),
    })
}

pub fn request_transaction_data() -> impl Strategy<Value = td::RequestTransactionData> {
    strategy!(td::RequestTransactionData {
        template_id: any::<u64>(),
    })
}

pub fn request_transaction_data_success() -> impl Strategy<Value = td::RequestTransactionDataSuccess>
{
    (any::<u64>(), bytes(200), vec(bytes(300), 0..8)).prop_map(|(a, b, c)| {
        td::RequestTransactionDataSuccess {
            template_id: a,
            excess_data: b,
            transaction_list: c,
        }
    })
}

pub fn request_transaction_data_error() -> impl Strategy<Value = td::RequestTransactionDataError> {
    strategy!(td::RequestTransactionDataError {
        template_id: any::<u64>(),
        error_code: str255(),
    })
}

pub fn submit_solution() -> impl Strategy<Value = td::SubmitSolution> {
    strategy!(td::SubmitSolution {
        template_id: any::<u64>(),
        version: any::<u32>(),
        header_timestamp: any::<u32>(),
        header_nonce: any::<u32>(),
        coinbase_tx: bytes(400),
    })
}

// ---------------------------------------------------------------- job declaration

pub fn allocate_mining_job_token() -> impl Strategy<Value = jd::AllocateMiningJobToken> {
    strategy!(jd::AllocateMiningJobToken {
        user_identifier: str255(),
        request_id: any::<u32>(),
    })
}

pub fn allocate_mining_job_token_success(
) -> impl Strategy<Value = jd::AllocateMiningJobTokenSuccess> {
    strategy!(jd::AllocateMiningJobTokenSuccess {
        request_id: any::<u32>(),
        mining_job_token: bytes(255),
        coinbase_outputs: bytes(400),
    })
}

pub fn declare_mining_job() -> impl Strategy<Value = jd::DeclareMiningJob> {
    strategy!(jd::DeclareMiningJob {
        request_id: any::<u32>(),
        mining_job_token: bytes(255),
        version: any::<u32>(),
        coinbase_tx_prefix: bytes(300),
        coinbase_tx_suffix: bytes(300),
        wtxid_list: vec(u256(), 0..40),
        excess_data: bytes(200),
    })
}

pub fn declare_mining_job_success() -> impl Strategy<Value = jd::DeclareMiningJobSuccess> {
    strategy!(jd::DeclareMiningJobSuccess {
        request_id: any::<u32>(),
        new_mining_job_token: bytes(255),
    })
}

pub fn declare_mining_job_error() -> impl Strategy<Value = jd::DeclareMiningJobError> {
    strategy!(jd::DeclareMiningJobError {
        request_id: any::<u32>(),
        error_code: str255(),
        error_details: bytes(300),
    })
}

pub fn provide_missing_transactions() -> impl Strategy<Value = jd::ProvideMissingTransactions> {
    strategy!(jd::ProvideMissingTransactions {
        request_id: any::<u32>(),
        unknown_tx_position_list: vec(any::<u16>(), 0..100),
    })
}

pub fn provide_missing_transactions_success(
) -> impl Strategy<Value = jd::ProvideMissingTransactionsSuccess> {
    strategy!(jd::ProvideMissingTransactionsSuccess {
        request_id: any::<u32>(),
        transaction_list: vec(bytes(300), 0..8),
    })
}

pub fn push_solution() -> impl Strategy<Value = jd::PushSolution> {
    strategy!(jd::PushSolution {
        extranonce: bytes(32),
        prev_hash: u256(),
        nonce: any::<u32>(),
        ntime: any::<u32>(),
        nbits: any::<u32>(),
        version: any::<u32>(),
    })
}

// ---------------------------------------------------------------- any message

fn m<S, T>(s: S, p: Protocol) -> BoxedStrategy<(Protocol, Message)>
where
    S: Strategy<Value = T> + 'static,
    T: Into<Message> + std::fmt::Debug,
{
    s.prop_map(move |x| (p, x.into())).boxed()
}

/// Any message, paired with the subprotocol of a connection that can carry it.
pub fn any_message() -> impl Strategy<Value = (Protocol, Message)> {
    use Protocol::*;
    let all: Vec<BoxedStrategy<(Protocol, Message)>> = vec![
        (protocol(), setup_connection())
            .prop_map(|(p, x)| (p, x.into()))
            .boxed(),
        m(setup_connection_success(), JobDeclaration),
        m(setup_connection_error(), TemplateDistribution),
        m(channel_endpoint_changed(), Mining),
        m(reconnect(), Mining),
        m(open_standard_mining_channel(), Mining),
        m(open_standard_mining_channel_success(), Mining),
        m(open_extended_mining_channel(), Mining),
        m(open_extended_mining_channel_success(), Mining),
        m(open_mining_channel_error(), Mining),
        m(update_channel(), Mining),
        m(update_channel_error(), Mining),
        m(close_channel(), Mining),
        m(set_extranonce_prefix(), Mining),
        m(submit_shares_standard(), Mining),
        m(submit_shares_extended(), Mining),
        m(submit_shares_success(), Mining),
        m(submit_shares_error(), Mining),
        m(new_mining_job(), Mining),
        m(new_extended_mining_job(), Mining),
        m(mining_set_new_prev_hash(), Mining),
        m(set_target(), Mining),
        m(set_custom_mining_job(), Mining),
        m(set_custom_mining_job_success(), Mining),
        m(set_custom_mining_job_error(), Mining),
        m(set_group_channel(), Mining),
        m(coinbase_output_constraints(), TemplateDistribution),
        m(new_template(), TemplateDistribution),
        m(td_set_new_prev_hash(), TemplateDistribution),
        m(request_transaction_data(), TemplateDistribution),
        m(request_transaction_data_success(), TemplateDistribution),
        m(request_transaction_data_error(), TemplateDistribution),
        m(submit_solution(), TemplateDistribution),
        m(allocate_mining_job_token(), JobDeclaration),
        m(allocate_mining_job_token_success(), JobDeclaration),
        m(declare_mining_job(), JobDeclaration),
        m(declare_mining_job_success(), JobDeclaration),
        m(declare_mining_job_error(), JobDeclaration),
        m(provide_missing_transactions(), JobDeclaration),
        m(provide_missing_transactions_success(), JobDeclaration),
        m(push_solution(), JobDeclaration),
    ];
    proptest::strategy::Union::new(all)
}

/// Number of distinct message types produced by [`any_message`].
pub const MESSAGE_KINDS: usize = 41;
