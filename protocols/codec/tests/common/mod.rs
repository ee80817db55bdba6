//! proptest strategies producing every message with random (valid) field values.
#![allow(dead_code)]

use proptest::collection::vec;
use proptest::prelude::*;
use sv2_codec::{common, job_declaration as jd, mining, template_distribution as td};
use sv2_codec::{Message, Protocol};

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
    (
        protocol(),
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        str255(),
        any::<u16>(),
        str255(),
        str255(),
        str255(),
        str255(),
    )
        .prop_map(
            |(p, min, max, flags, host, port, v, hw, fw, id)| common::SetupConnection {
                protocol: p,
                min_version: min,
                max_version: max,
                flags,
                endpoint_host: host,
                endpoint_port: port,
                vendor: v,
                hardware_version: hw,
                firmware: fw,
                device_id: id,
            },
        )
}

pub fn setup_connection_success() -> impl Strategy<Value = common::SetupConnectionSuccess> {
    (any::<u16>(), any::<u32>()).prop_map(|(used_version, flags)| common::SetupConnectionSuccess {
        used_version,
        flags,
    })
}

pub fn setup_connection_error() -> impl Strategy<Value = common::SetupConnectionError> {
    (any::<u32>(), str255())
        .prop_map(|(flags, error_code)| common::SetupConnectionError { flags, error_code })
}

pub fn channel_endpoint_changed() -> impl Strategy<Value = common::ChannelEndpointChanged> {
    any::<u32>().prop_map(|channel_id| common::ChannelEndpointChanged { channel_id })
}

pub fn reconnect() -> impl Strategy<Value = common::Reconnect> {
    (str255(), any::<u16>())
        .prop_map(|(new_host, new_port)| common::Reconnect { new_host, new_port })
}

// ---------------------------------------------------------------- mining

pub fn open_standard_mining_channel() -> impl Strategy<Value = mining::OpenStandardMiningChannel> {
    (any::<u32>(), str255(), f32_val(), u256()).prop_map(|(a, b, c, d)| {
        mining::OpenStandardMiningChannel {
            request_id: a,
            user_identity: b,
            nominal_hash_rate: c,
            max_target: d,
        }
    })
}

pub fn open_standard_mining_channel_success(
) -> impl Strategy<Value = mining::OpenStandardMiningChannelSuccess> {
    (any::<u32>(), any::<u32>(), u256(), bytes(32), any::<u32>()).prop_map(|(a, b, c, d, e)| {
        mining::OpenStandardMiningChannelSuccess {
            request_id: a,
            channel_id: b,
            target: c,
            extranonce_prefix: d,
            group_channel_id: e,
        }
    })
}

pub fn open_extended_mining_channel() -> impl Strategy<Value = mining::OpenExtendedMiningChannel> {
    (any::<u32>(), str255(), f32_val(), u256(), any::<u16>()).prop_map(|(a, b, c, d, e)| {
        mining::OpenExtendedMiningChannel {
            request_id: a,
            user_identity: b,
            nominal_hash_rate: c,
            max_target: d,
            min_extranonce_size: e,
        }
    })
}

pub fn open_extended_mining_channel_success(
) -> impl Strategy<Value = mining::OpenExtendedMiningChannelSuccess> {
    (
        any::<u32>(),
        any::<u32>(),
        u256(),
        any::<u16>(),
        bytes(32),
        any::<u32>(),
    )
        .prop_map(
            |(a, b, c, d, e, f)| mining::OpenExtendedMiningChannelSuccess {
                request_id: a,
                channel_id: b,
                target: c,
                extranonce_size: d,
                extranonce_prefix: e,
                group_channel_id: f,
            },
        )
}

pub fn open_mining_channel_error() -> impl Strategy<Value = mining::OpenMiningChannelError> {
    (any::<u32>(), str255()).prop_map(|(request_id, error_code)| mining::OpenMiningChannelError {
        request_id,
        error_code,
    })
}

pub fn update_channel() -> impl Strategy<Value = mining::UpdateChannel> {
    (any::<u32>(), f32_val(), u256()).prop_map(|(a, b, c)| mining::UpdateChannel {
        channel_id: a,
        nominal_hash_rate: b,
        maximum_target: c,
    })
}

pub fn update_channel_error() -> impl Strategy<Value = mining::UpdateChannelError> {
    (any::<u32>(), str255()).prop_map(|(channel_id, error_code)| mining::UpdateChannelError {
        channel_id,
        error_code,
    })
}

pub fn close_channel() -> impl Strategy<Value = mining::CloseChannel> {
    (any::<u32>(), str255()).prop_map(|(channel_id, reason_code)| mining::CloseChannel {
        channel_id,
        reason_code,
    })
}

pub fn set_extranonce_prefix() -> impl Strategy<Value = mining::SetExtranoncePrefix> {
    (any::<u32>(), bytes(32)).prop_map(|(channel_id, extranonce_prefix)| {
        mining::SetExtranoncePrefix {
            channel_id,
            extranonce_prefix,
        }
    })
}

pub fn submit_shares_standard() -> impl Strategy<Value = mining::SubmitSharesStandard> {
    any::<[u32; 6]>().prop_map(|[a, b, c, d, e, f]| mining::SubmitSharesStandard {
        channel_id: a,
        sequence_number: b,
        job_id: c,
        nonce: d,
        ntime: e,
        version: f,
    })
}

pub fn submit_shares_extended() -> impl Strategy<Value = mining::SubmitSharesExtended> {
    (any::<[u32; 6]>(), bytes(32)).prop_map(|([a, b, c, d, e, f], x)| {
        mining::SubmitSharesExtended {
            channel_id: a,
            sequence_number: b,
            job_id: c,
            nonce: d,
            ntime: e,
            version: f,
            extranonce: x,
        }
    })
}

pub fn submit_shares_success() -> impl Strategy<Value = mining::SubmitSharesSuccess> {
    (any::<u32>(), any::<u32>(), any::<u32>(), any::<u64>()).prop_map(|(a, b, c, d)| {
        mining::SubmitSharesSuccess {
            channel_id: a,
            last_sequence_number: b,
            new_submits_accepted_count: c,
            new_shares_sum: d,
        }
    })
}

pub fn submit_shares_error() -> impl Strategy<Value = mining::SubmitSharesError> {
    (any::<u32>(), any::<u32>(), str255()).prop_map(|(a, b, c)| mining::SubmitSharesError {
        channel_id: a,
        sequence_number: b,
        error_code: c,
    })
}

pub fn new_mining_job() -> impl Strategy<Value = mining::NewMiningJob> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<Option<u32>>(),
        any::<u32>(),
        u256(),
    )
        .prop_map(|(a, b, c, d, e)| mining::NewMiningJob {
            channel_id: a,
            job_id: b,
            min_ntime: c,
            version: d,
            merkle_root: e,
        })
}

pub fn new_extended_mining_job() -> impl Strategy<Value = mining::NewExtendedMiningJob> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<Option<u32>>(),
        any::<u32>(),
        any::<bool>(),
        vec(u256(), 0..16),
        bytes(300),
        bytes(300),
    )
        .prop_map(|(a, b, c, d, e, f, g, h)| mining::NewExtendedMiningJob {
            channel_id: a,
            job_id: b,
            min_ntime: c,
            version: d,
            version_rolling_allowed: e,
            merkle_path: f,
            coinbase_tx_prefix: g,
            coinbase_tx_suffix: h,
        })
}

pub fn mining_set_new_prev_hash() -> impl Strategy<Value = mining::SetNewPrevHash> {
    (
        any::<u32>(),
        any::<u32>(),
        u256(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(a, b, c, d, e)| mining::SetNewPrevHash {
            channel_id: a,
            job_id: b,
            prev_hash: c,
            min_ntime: d,
            nbits: e,
        })
}

pub fn set_target() -> impl Strategy<Value = mining::SetTarget> {
    (any::<u32>(), u256()).prop_map(|(channel_id, maximum_target)| mining::SetTarget {
        channel_id,
        maximum_target,
    })
}

pub fn set_custom_mining_job() -> impl Strategy<Value = mining::SetCustomMiningJob> {
    (
        (any::<u32>(), any::<u32>(), bytes(255), any::<u32>(), u256()),
        (any::<u32>(), any::<u32>(), any::<u32>(), bytes(255)),
        (any::<u32>(), bytes(400), any::<u32>(), vec(u256(), 0..16)),
    )
        .prop_map(
            |((a, b, c, d, e), (f, g, h, i), (j, k, l, m))| mining::SetCustomMiningJob {
                channel_id: a,
                request_id: b,
                token: c,
                version: d,
                prev_hash: e,
                min_ntime: f,
                nbits: g,
                coinbase_tx_version: h,
                coinbase_prefix: i,
                coinbase_tx_input_n_sequence: j,
                coinbase_tx_outputs: k,
                coinbase_tx_locktime: l,
                merkle_path: m,
            },
        )
}

pub fn set_custom_mining_job_success() -> impl Strategy<Value = mining::SetCustomMiningJobSuccess> {
    any::<[u32; 3]>().prop_map(|[a, b, c]| mining::SetCustomMiningJobSuccess {
        channel_id: a,
        request_id: b,
        job_id: c,
    })
}

pub fn set_custom_mining_job_error() -> impl Strategy<Value = mining::SetCustomMiningJobError> {
    (any::<u32>(), any::<u32>(), str255()).prop_map(|(a, b, c)| mining::SetCustomMiningJobError {
        channel_id: a,
        request_id: b,
        error_code: c,
    })
}

pub fn set_group_channel() -> impl Strategy<Value = mining::SetGroupChannel> {
    (any::<u32>(), vec(any::<u32>(), 0..100)).prop_map(|(group_channel_id, channel_ids)| {
        mining::SetGroupChannel {
            group_channel_id,
            channel_ids,
        }
    })
}

// ---------------------------------------------------------------- template distribution

pub fn coinbase_output_constraints() -> impl Strategy<Value = td::CoinbaseOutputConstraints> {
    (any::<u32>(), any::<u16>()).prop_map(|(a, b)| td::CoinbaseOutputConstraints {
        coinbase_output_max_additional_size: a,
        coinbase_output_max_additional_sigops: b,
    })
}

pub fn new_template() -> impl Strategy<Value = td::NewTemplate> {
    (
        (
            any::<u64>(),
            any::<bool>(),
            any::<u32>(),
            any::<u32>(),
            bytes(255),
        ),
        (
            any::<u32>(),
            any::<u64>(),
            any::<u32>(),
            bytes(400),
            any::<u32>(),
        ),
        vec(u256(), 0..16),
    )
        .prop_map(|((a, b, c, d, e), (f, g, h, i, j), k)| td::NewTemplate {
            template_id: a,
            future_template: b,
            version: c,
            coinbase_tx_version: d,
            coinbase_prefix: e,
            coinbase_tx_input_sequence: f,
            coinbase_tx_value_remaining: g,
            coinbase_tx_outputs_count: h,
            coinbase_tx_outputs: i,
            coinbase_tx_locktime: j,
            merkle_path: k,
        })
}

pub fn td_set_new_prev_hash() -> impl Strategy<Value = td::SetNewPrevHash> {
    (any::<u64>(), u256(), any::<u32>(), any::<u32>(), u256()).prop_map(|(a, b, c, d, e)| {
        td::SetNewPrevHash {
            template_id: a,
            prev_hash: b,
            header_timestamp: c,
            n_bits: d,
            target: e,
        }
    })
}

pub fn request_transaction_data() -> impl Strategy<Value = td::RequestTransactionData> {
    any::<u64>().prop_map(|template_id| td::RequestTransactionData { template_id })
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
    (any::<u64>(), str255()).prop_map(
        |(template_id, error_code)| td::RequestTransactionDataError {
            template_id,
            error_code,
        },
    )
}

pub fn submit_solution() -> impl Strategy<Value = td::SubmitSolution> {
    (
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        bytes(400),
    )
        .prop_map(|(a, b, c, d, e)| td::SubmitSolution {
            template_id: a,
            version: b,
            header_timestamp: c,
            header_nonce: d,
            coinbase_tx: e,
        })
}

// ---------------------------------------------------------------- job declaration

pub fn allocate_mining_job_token() -> impl Strategy<Value = jd::AllocateMiningJobToken> {
    (str255(), any::<u32>()).prop_map(|(user_identifier, request_id)| jd::AllocateMiningJobToken {
        user_identifier,
        request_id,
    })
}

pub fn allocate_mining_job_token_success(
) -> impl Strategy<Value = jd::AllocateMiningJobTokenSuccess> {
    (any::<u32>(), bytes(255), bytes(400)).prop_map(|(a, b, c)| jd::AllocateMiningJobTokenSuccess {
        request_id: a,
        mining_job_token: b,
        coinbase_outputs: c,
    })
}

pub fn declare_mining_job() -> impl Strategy<Value = jd::DeclareMiningJob> {
    (
        any::<u32>(),
        bytes(255),
        any::<u32>(),
        bytes(300),
        bytes(300),
        vec(u256(), 0..40),
        bytes(200),
    )
        .prop_map(|(a, b, c, d, e, f, g)| jd::DeclareMiningJob {
            request_id: a,
            mining_job_token: b,
            version: c,
            coinbase_tx_prefix: d,
            coinbase_tx_suffix: e,
            wtxid_list: f,
            excess_data: g,
        })
}

pub fn declare_mining_job_success() -> impl Strategy<Value = jd::DeclareMiningJobSuccess> {
    (any::<u32>(), bytes(255)).prop_map(|(request_id, new_mining_job_token)| {
        jd::DeclareMiningJobSuccess {
            request_id,
            new_mining_job_token,
        }
    })
}

pub fn declare_mining_job_error() -> impl Strategy<Value = jd::DeclareMiningJobError> {
    (any::<u32>(), str255(), bytes(300)).prop_map(|(a, b, c)| jd::DeclareMiningJobError {
        request_id: a,
        error_code: b,
        error_details: c,
    })
}

pub fn provide_missing_transactions() -> impl Strategy<Value = jd::ProvideMissingTransactions> {
    (any::<u32>(), vec(any::<u16>(), 0..100)).prop_map(|(request_id, list)| {
        jd::ProvideMissingTransactions {
            request_id,
            unknown_tx_position_list: list,
        }
    })
}

pub fn provide_missing_transactions_success(
) -> impl Strategy<Value = jd::ProvideMissingTransactionsSuccess> {
    (any::<u32>(), vec(bytes(300), 0..8)).prop_map(|(request_id, transaction_list)| {
        jd::ProvideMissingTransactionsSuccess {
            request_id,
            transaction_list,
        }
    })
}

pub fn push_solution() -> impl Strategy<Value = jd::PushSolution> {
    (bytes(32), u256(), any::<[u32; 4]>()).prop_map(|(e, p, [a, b, c, d])| jd::PushSolution {
        extranonce: e,
        prev_hash: p,
        nonce: a,
        ntime: b,
        nbits: c,
        version: d,
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
