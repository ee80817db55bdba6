//! Byte-for-byte cross-checks against SRI's crates for every message type.
//!
//! For each message, with random field values:
//! 1. our payload bytes == `binary_sv2::to_bytes` of the equivalent SRI struct;
//! 2. SRI (`binary_sv2::from_bytes`) decodes our bytes to the same field values;
//! 3. we decode SRI's bytes to the same message;
//! 4. our full frame == the frame `codec_sv2::Encoder` builds from `parsers_sv2::AnyMessage`
//!    with SRI's own `msg_type` and channel bit (header included);
//! 5. `codec_sv2::Decoder` + `parsers_sv2` parse our frame back to the same fields, and our
//!    `Message::from_frame` parses SRI's frame.
//!
//! A differential property also feeds the same random payloads to both decoders: whatever we
//! accept, SRI must accept with identical field values.

mod common;

use std::fmt::Debug;

use binary_sv2::encodable::EncodableField;
use binary_sv2::{
    Decodable, GetSize, Seq0255, Seq064K, Str0255, Sv2Option, B016M, B0255, B032, B064K, U256,
};
use bytes::{Bytes, BytesMut};
use codec_sv2::Decoded;
use codec_sv2::MessageFrame;
use parsers_sv2::{AnyMessage, IsSv2Message};
use proptest::prelude::*;
use sv2_codec::{common as c, job_declaration as jd, mining as mn, template_distribution as td};
use sv2_codec::{Frame, Message, Protocol, Sv2Message};

// ------------------------------------------------------------------ conversion helpers

fn s(v: &str) -> Str0255<'_> {
    Str0255::try_from(v).expect("<= 255 bytes")
}
fn b<'a, T>(v: &'a [u8]) -> T
where
    T: TryFrom<&'a [u8]>,
    T::Error: Debug,
{
    T::try_from(v).expect("within the type's limit")
}
fn h(v: &[u8; 32]) -> U256<'_> {
    U256::from(v)
}
fn hs(v: &[[u8; 32]]) -> Vec<U256<'_>> {
    v.iter().map(U256::from).collect()
}
fn os(v: &Str0255<'_>) -> String {
    String::from_utf8(v.as_bytes().to_vec()).expect("utf-8")
}
fn oh(v: &U256<'_>) -> [u8; 32] {
    *v.as_array()
}

fn sri_protocol(p: Protocol) -> common_messages_sv2::Protocol {
    match p {
        Protocol::Mining => common_messages_sv2::Protocol::MiningProtocol,
        Protocol::JobDeclaration => common_messages_sv2::Protocol::JobDeclarationProtocol,
        Protocol::TemplateDistribution => {
            common_messages_sv2::Protocol::TemplateDistributionProtocol
        }
    }
}
fn our_protocol(p: common_messages_sv2::Protocol) -> Protocol {
    match p {
        common_messages_sv2::Protocol::MiningProtocol => Protocol::Mining,
        common_messages_sv2::Protocol::JobDeclarationProtocol => Protocol::JobDeclaration,
        common_messages_sv2::Protocol::TemplateDistributionProtocol => {
            Protocol::TemplateDistribution
        }
    }
}

/// One of our messages and its SRI counterpart.
trait Pair: Sv2Message + Clone + Debug + PartialEq + Into<Message> {
    /// A connection protocol on which the message is legal.
    const PROTOCOL: Protocol;
    /// SRI's struct.
    type Sri<'a>: Clone + Debug + GetSize + Into<EncodableField<'a>> + Decodable<'a>;
    fn to_sri(&self) -> Self::Sri<'_>;
    fn from_sri(s: &Self::Sri<'_>) -> Self;
    fn wrap(s: Self::Sri<'_>) -> AnyMessage<'_>;
    fn unwrap<'a, 'b>(a: &'b AnyMessage<'a>) -> Option<&'b Self::Sri<'a>>;
}

macro_rules! pair {
    ($ours:ty => $sri:ty, $proto:expr, $any:ident::$group:ident::$var:ident,
     to |$m:ident| $to:expr, from |$x:ident| $from:expr $(,)?) => {
        impl Pair for $ours {
            const PROTOCOL: Protocol = $proto;
            type Sri<'a> = $sri;
            fn to_sri(&self) -> Self::Sri<'_> {
                let $m = self;
                $to
            }
            fn from_sri($x: &Self::Sri<'_>) -> Self {
                $from
            }
            fn wrap(s: Self::Sri<'_>) -> AnyMessage<'_> {
                AnyMessage::$any(parsers_sv2::$group::$var(s))
            }
            fn unwrap<'a, 'b>(a: &'b AnyMessage<'a>) -> Option<&'b Self::Sri<'a>> {
                match a {
                    AnyMessage::$any(parsers_sv2::$group::$var(x)) => Some(x),
                    _ => None,
                }
            }
        }
    };
}

// ------------------------------------------------------------------ common

pair!(c::SetupConnection => common_messages_sv2::SetupConnection<'a>, Protocol::Mining,
Common::CommonMessages::SetupConnection,
to |m| common_messages_sv2::SetupConnection {
    protocol: sri_protocol(m.protocol),
    min_version: m.min_version,
    max_version: m.max_version,
    flags: m.flags,
    endpoint_host: s(&m.endpoint_host),
    endpoint_port: m.endpoint_port,
    vendor: s(&m.vendor),
    hardware_version: s(&m.hardware_version),
    firmware: s(&m.firmware),
    device_id: s(&m.device_id),
},
from |x| c::SetupConnection {
    protocol: our_protocol(x.protocol),
    min_version: x.min_version,
    max_version: x.max_version,
    flags: x.flags,
    endpoint_host: os(&x.endpoint_host),
    endpoint_port: x.endpoint_port,
    vendor: os(&x.vendor),
    hardware_version: os(&x.hardware_version),
    firmware: os(&x.firmware),
    device_id: os(&x.device_id),
});

pair!(c::SetupConnectionSuccess => common_messages_sv2::SetupConnectionSuccess, Protocol::Mining,
    Common::CommonMessages::SetupConnectionSuccess,
    to |m| common_messages_sv2::SetupConnectionSuccess { used_version: m.used_version, flags: m.flags },
    from |x| c::SetupConnectionSuccess { used_version: x.used_version, flags: x.flags });

pair!(c::SetupConnectionError => common_messages_sv2::SetupConnectionError<'a>, Protocol::TemplateDistribution,
    Common::CommonMessages::SetupConnectionError,
    to |m| common_messages_sv2::SetupConnectionError { flags: m.flags, error_code: s(&m.error_code) },
    from |x| c::SetupConnectionError { flags: x.flags, error_code: os(&x.error_code) });

pair!(c::ChannelEndpointChanged => common_messages_sv2::ChannelEndpointChanged, Protocol::Mining,
    Common::CommonMessages::ChannelEndpointChanged,
    to |m| common_messages_sv2::ChannelEndpointChanged { channel_id: m.channel_id },
    from |x| c::ChannelEndpointChanged { channel_id: x.channel_id });

pair!(c::Reconnect => common_messages_sv2::Reconnect<'a>, Protocol::JobDeclaration,
    Common::CommonMessages::Reconnect,
    to |m| common_messages_sv2::Reconnect { new_host: s(&m.new_host), new_port: m.new_port },
    from |x| c::Reconnect { new_host: os(&x.new_host), new_port: x.new_port });

// ------------------------------------------------------------------ mining

pair!(mn::OpenStandardMiningChannel => mining_sv2::OpenStandardMiningChannel<'a>, Protocol::Mining,
Mining::Mining::OpenStandardMiningChannel,
to |m| mining_sv2::OpenStandardMiningChannel {
    request_id: m.request_id,
    user_identity: s(&m.user_identity),
    nominal_hash_rate: m.nominal_hash_rate,
    max_target: h(&m.max_target),
},
from |x| mn::OpenStandardMiningChannel {
    request_id: x.request_id,
    user_identity: os(&x.user_identity),
    nominal_hash_rate: x.nominal_hash_rate,
    max_target: oh(&x.max_target),
});

pair!(mn::OpenStandardMiningChannelSuccess => mining_sv2::OpenStandardMiningChannelSuccess<'a>, Protocol::Mining,
Mining::Mining::OpenStandardMiningChannelSuccess,
to |m| mining_sv2::OpenStandardMiningChannelSuccess {
    request_id: m.request_id,
    channel_id: m.channel_id,
    target: h(&m.target),
    extranonce_prefix: b::<B032>(&m.extranonce_prefix),
    group_channel_id: m.group_channel_id,
},
from |x| mn::OpenStandardMiningChannelSuccess {
    request_id: x.request_id,
    channel_id: x.channel_id,
    target: oh(&x.target),
    extranonce_prefix: x.extranonce_prefix.as_bytes().to_vec(),
    group_channel_id: x.group_channel_id,
});

pair!(mn::OpenExtendedMiningChannel => mining_sv2::OpenExtendedMiningChannel<'a>, Protocol::Mining,
Mining::Mining::OpenExtendedMiningChannel,
to |m| mining_sv2::OpenExtendedMiningChannel {
    request_id: m.request_id,
    user_identity: s(&m.user_identity),
    nominal_hash_rate: m.nominal_hash_rate,
    max_target: h(&m.max_target),
    min_extranonce_size: m.min_extranonce_size,
},
from |x| mn::OpenExtendedMiningChannel {
    request_id: x.request_id,
    user_identity: os(&x.user_identity),
    nominal_hash_rate: x.nominal_hash_rate,
    max_target: oh(&x.max_target),
    min_extranonce_size: x.min_extranonce_size,
});

pair!(mn::OpenExtendedMiningChannelSuccess => mining_sv2::OpenExtendedMiningChannelSuccess<'a>, Protocol::Mining,
Mining::Mining::OpenExtendedMiningChannelSuccess,
to |m| mining_sv2::OpenExtendedMiningChannelSuccess {
    request_id: m.request_id,
    channel_id: m.channel_id,
    target: h(&m.target),
    extranonce_size: m.extranonce_size,
    extranonce_prefix: b::<B032>(&m.extranonce_prefix),
    group_channel_id: m.group_channel_id,
},
from |x| mn::OpenExtendedMiningChannelSuccess {
    request_id: x.request_id,
    channel_id: x.channel_id,
    target: oh(&x.target),
    extranonce_size: x.extranonce_size,
    extranonce_prefix: x.extranonce_prefix.as_bytes().to_vec(),
    group_channel_id: x.group_channel_id,
});

pair!(mn::OpenMiningChannelError => mining_sv2::OpenMiningChannelError<'a>, Protocol::Mining,
    Mining::Mining::OpenMiningChannelError,
    to |m| mining_sv2::OpenMiningChannelError { request_id: m.request_id, error_code: s(&m.error_code) },
    from |x| mn::OpenMiningChannelError { request_id: x.request_id, error_code: os(&x.error_code) });

pair!(mn::UpdateChannel => mining_sv2::UpdateChannel<'a>, Protocol::Mining,
Mining::Mining::UpdateChannel,
to |m| mining_sv2::UpdateChannel {
    channel_id: m.channel_id,
    nominal_hash_rate: m.nominal_hash_rate,
    maximum_target: h(&m.maximum_target),
},
from |x| mn::UpdateChannel {
    channel_id: x.channel_id,
    nominal_hash_rate: x.nominal_hash_rate,
    maximum_target: oh(&x.maximum_target),
});

pair!(mn::UpdateChannelError => mining_sv2::UpdateChannelError<'a>, Protocol::Mining,
    Mining::Mining::UpdateChannelError,
    to |m| mining_sv2::UpdateChannelError { channel_id: m.channel_id, error_code: s(&m.error_code) },
    from |x| mn::UpdateChannelError { channel_id: x.channel_id, error_code: os(&x.error_code) });

pair!(mn::CloseChannel => mining_sv2::CloseChannel<'a>, Protocol::Mining,
    Mining::Mining::CloseChannel,
    to |m| mining_sv2::CloseChannel { channel_id: m.channel_id, reason_code: s(&m.reason_code) },
    from |x| mn::CloseChannel { channel_id: x.channel_id, reason_code: os(&x.reason_code) });

pair!(mn::SetExtranoncePrefix => mining_sv2::SetExtranoncePrefix<'a>, Protocol::Mining,
Mining::Mining::SetExtranoncePrefix,
to |m| mining_sv2::SetExtranoncePrefix {
    channel_id: m.channel_id,
    extranonce_prefix: b::<B032>(&m.extranonce_prefix),
},
from |x| mn::SetExtranoncePrefix {
    channel_id: x.channel_id,
    extranonce_prefix: x.extranonce_prefix.as_bytes().to_vec(),
});

pair!(mn::SubmitSharesStandard => mining_sv2::SubmitSharesStandard, Protocol::Mining,
Mining::Mining::SubmitSharesStandard,
to |m| mining_sv2::SubmitSharesStandard {
    channel_id: m.channel_id,
    sequence_number: m.sequence_number,
    job_id: m.job_id,
    nonce: m.nonce,
    ntime: m.ntime,
    version: m.version,
},
from |x| mn::SubmitSharesStandard {
    channel_id: x.channel_id,
    sequence_number: x.sequence_number,
    job_id: x.job_id,
    nonce: x.nonce,
    ntime: x.ntime,
    version: x.version,
});

pair!(mn::SubmitSharesExtended => mining_sv2::SubmitSharesExtended<'a>, Protocol::Mining,
Mining::Mining::SubmitSharesExtended,
to |m| mining_sv2::SubmitSharesExtended {
    channel_id: m.channel_id,
    sequence_number: m.sequence_number,
    job_id: m.job_id,
    nonce: m.nonce,
    ntime: m.ntime,
    version: m.version,
    extranonce: b::<B032>(&m.extranonce),
},
from |x| mn::SubmitSharesExtended {
    channel_id: x.channel_id,
    sequence_number: x.sequence_number,
    job_id: x.job_id,
    nonce: x.nonce,
    ntime: x.ntime,
    version: x.version,
    extranonce: x.extranonce.as_bytes().to_vec(),
});

pair!(mn::SubmitSharesSuccess => mining_sv2::SubmitSharesSuccess, Protocol::Mining,
Mining::Mining::SubmitSharesSuccess,
to |m| mining_sv2::SubmitSharesSuccess {
    channel_id: m.channel_id,
    last_sequence_number: m.last_sequence_number,
    new_submits_accepted_count: m.new_submits_accepted_count,
    new_shares_sum: m.new_shares_sum,
},
from |x| mn::SubmitSharesSuccess {
    channel_id: x.channel_id,
    last_sequence_number: x.last_sequence_number,
    new_submits_accepted_count: x.new_submits_accepted_count,
    new_shares_sum: x.new_shares_sum,
});

pair!(mn::SubmitSharesError => mining_sv2::SubmitSharesError<'a>, Protocol::Mining,
Mining::Mining::SubmitSharesError,
to |m| mining_sv2::SubmitSharesError {
    channel_id: m.channel_id,
    sequence_number: m.sequence_number,
    error_code: s(&m.error_code),
},
from |x| mn::SubmitSharesError {
    channel_id: x.channel_id,
    sequence_number: x.sequence_number,
    error_code: os(&x.error_code),
});

pair!(mn::NewMiningJob => mining_sv2::NewMiningJob<'a>, Protocol::Mining,
Mining::Mining::NewMiningJob,
to |m| mining_sv2::NewMiningJob {
    channel_id: m.channel_id,
    job_id: m.job_id,
    min_ntime: Sv2Option::new(m.min_ntime),
    version: m.version,
    merkle_root: h(&m.merkle_root),
},
from |x| mn::NewMiningJob {
    channel_id: x.channel_id,
    job_id: x.job_id,
    min_ntime: x.min_ntime.as_ref().copied(),
    version: x.version,
    merkle_root: oh(&x.merkle_root),
});

pair!(mn::NewExtendedMiningJob => mining_sv2::NewExtendedMiningJob<'a>, Protocol::Mining,
Mining::Mining::NewExtendedMiningJob,
to |m| mining_sv2::NewExtendedMiningJob {
    channel_id: m.channel_id,
    job_id: m.job_id,
    min_ntime: Sv2Option::new(m.min_ntime),
    version: m.version,
    version_rolling_allowed: m.version_rolling_allowed,
    merkle_path: Seq0255::new(hs(&m.merkle_path)).unwrap(),
    coinbase_tx_prefix: b::<B064K>(&m.coinbase_tx_prefix),
    coinbase_tx_suffix: b::<B064K>(&m.coinbase_tx_suffix),
},
from |x| mn::NewExtendedMiningJob {
    channel_id: x.channel_id,
    job_id: x.job_id,
    min_ntime: x.min_ntime.as_ref().copied(),
    version: x.version,
    version_rolling_allowed: x.version_rolling_allowed,
    merkle_path: x.merkle_path.iter().map(oh).collect(),
    coinbase_tx_prefix: x.coinbase_tx_prefix.as_bytes().to_vec(),
    coinbase_tx_suffix: x.coinbase_tx_suffix.as_bytes().to_vec(),
});

pair!(mn::SetNewPrevHash => mining_sv2::SetNewPrevHash<'a>, Protocol::Mining,
Mining::Mining::SetNewPrevHash,
to |m| mining_sv2::SetNewPrevHash {
    channel_id: m.channel_id,
    job_id: m.job_id,
    prev_hash: h(&m.prev_hash),
    min_ntime: m.min_ntime,
    nbits: m.nbits,
},
from |x| mn::SetNewPrevHash {
    channel_id: x.channel_id,
    job_id: x.job_id,
    prev_hash: oh(&x.prev_hash),
    min_ntime: x.min_ntime,
    nbits: x.nbits,
});

pair!(mn::SetTarget => mining_sv2::SetTarget<'a>, Protocol::Mining,
    Mining::Mining::SetTarget,
    to |m| mining_sv2::SetTarget { channel_id: m.channel_id, maximum_target: h(&m.maximum_target) },
    from |x| mn::SetTarget { channel_id: x.channel_id, maximum_target: oh(&x.maximum_target) });

pair!(mn::SetCustomMiningJob => mining_sv2::SetCustomMiningJob<'a>, Protocol::Mining,
Mining::Mining::SetCustomMiningJob,
to |m| mining_sv2::SetCustomMiningJob {
    channel_id: m.channel_id,
    request_id: m.request_id,
    token: b::<B0255>(&m.token),
    version: m.version,
    prev_hash: h(&m.prev_hash),
    min_ntime: m.min_ntime,
    nbits: m.nbits,
    coinbase_tx_version: m.coinbase_tx_version,
    coinbase_prefix: b::<B0255>(&m.coinbase_prefix),
    coinbase_tx_input_n_sequence: m.coinbase_tx_input_n_sequence,
    coinbase_tx_outputs: b::<B064K>(&m.coinbase_tx_outputs),
    coinbase_tx_locktime: m.coinbase_tx_locktime,
    merkle_path: Seq0255::new(hs(&m.merkle_path)).unwrap(),
},
from |x| mn::SetCustomMiningJob {
    channel_id: x.channel_id,
    request_id: x.request_id,
    token: x.token.as_bytes().to_vec(),
    version: x.version,
    prev_hash: oh(&x.prev_hash),
    min_ntime: x.min_ntime,
    nbits: x.nbits,
    coinbase_tx_version: x.coinbase_tx_version,
    coinbase_prefix: x.coinbase_prefix.as_bytes().to_vec(),
    coinbase_tx_input_n_sequence: x.coinbase_tx_input_n_sequence,
    coinbase_tx_outputs: x.coinbase_tx_outputs.as_bytes().to_vec(),
    coinbase_tx_locktime: x.coinbase_tx_locktime,
    merkle_path: x.merkle_path.iter().map(oh).collect(),
});

pair!(mn::SetCustomMiningJobSuccess => mining_sv2::SetCustomMiningJobSuccess, Protocol::Mining,
Mining::Mining::SetCustomMiningJobSuccess,
to |m| mining_sv2::SetCustomMiningJobSuccess {
    channel_id: m.channel_id,
    request_id: m.request_id,
    job_id: m.job_id,
},
from |x| mn::SetCustomMiningJobSuccess {
    channel_id: x.channel_id,
    request_id: x.request_id,
    job_id: x.job_id,
});

pair!(mn::SetCustomMiningJobError => mining_sv2::SetCustomMiningJobError<'a>, Protocol::Mining,
Mining::Mining::SetCustomMiningJobError,
to |m| mining_sv2::SetCustomMiningJobError {
    channel_id: m.channel_id,
    request_id: m.request_id,
    error_code: s(&m.error_code),
},
from |x| mn::SetCustomMiningJobError {
    channel_id: x.channel_id,
    request_id: x.request_id,
    error_code: os(&x.error_code),
});

pair!(mn::SetGroupChannel => mining_sv2::SetGroupChannel<'a>, Protocol::Mining,
Mining::Mining::SetGroupChannel,
to |m| mining_sv2::SetGroupChannel {
    group_channel_id: m.group_channel_id,
    channel_ids: Seq064K::new(m.channel_ids.clone()).unwrap(),
},
from |x| mn::SetGroupChannel {
    group_channel_id: x.group_channel_id,
    channel_ids: x.channel_ids.as_slice().to_vec(),
});

// ------------------------------------------------------------------ template distribution

pair!(td::CoinbaseOutputConstraints => template_distribution_sv2::CoinbaseOutputConstraints,
Protocol::TemplateDistribution,
TemplateDistribution::TemplateDistribution::CoinbaseOutputConstraints,
to |m| template_distribution_sv2::CoinbaseOutputConstraints {
    coinbase_output_max_additional_size: m.coinbase_output_max_additional_size,
    coinbase_output_max_additional_sigops: m.coinbase_output_max_additional_sigops,
},
from |x| td::CoinbaseOutputConstraints {
    coinbase_output_max_additional_size: x.coinbase_output_max_additional_size,
    coinbase_output_max_additional_sigops: x.coinbase_output_max_additional_sigops,
});

pair!(td::NewTemplate => template_distribution_sv2::NewTemplate<'a>, Protocol::TemplateDistribution,
TemplateDistribution::TemplateDistribution::NewTemplate,
to |m| template_distribution_sv2::NewTemplate {
    template_id: m.template_id,
    future_template: m.future_template,
    version: m.version,
    coinbase_tx_version: m.coinbase_tx_version,
    coinbase_prefix: b::<B0255>(&m.coinbase_prefix),
    coinbase_tx_input_sequence: m.coinbase_tx_input_sequence,
    coinbase_tx_value_remaining: m.coinbase_tx_value_remaining,
    coinbase_tx_outputs_count: m.coinbase_tx_outputs_count,
    coinbase_tx_outputs: b::<B064K>(&m.coinbase_tx_outputs),
    coinbase_tx_locktime: m.coinbase_tx_locktime,
    merkle_path: Seq0255::new(hs(&m.merkle_path)).unwrap(),
},
from |x| td::NewTemplate {
    template_id: x.template_id,
    future_template: x.future_template,
    version: x.version,
    coinbase_tx_version: x.coinbase_tx_version,
    coinbase_prefix: x.coinbase_prefix.as_bytes().to_vec(),
    coinbase_tx_input_sequence: x.coinbase_tx_input_sequence,
    coinbase_tx_value_remaining: x.coinbase_tx_value_remaining,
    coinbase_tx_outputs_count: x.coinbase_tx_outputs_count,
    coinbase_tx_outputs: x.coinbase_tx_outputs.as_bytes().to_vec(),
    coinbase_tx_locktime: x.coinbase_tx_locktime,
    merkle_path: x.merkle_path.iter().map(oh).collect(),
});

pair!(td::SetNewPrevHash => template_distribution_sv2::SetNewPrevHash<'a>, Protocol::TemplateDistribution,
TemplateDistribution::TemplateDistribution::SetNewPrevHash,
to |m| template_distribution_sv2::SetNewPrevHash {
    template_id: m.template_id,
    prev_hash: h(&m.prev_hash),
    header_timestamp: m.header_timestamp,
    n_bits: m.n_bits,
    target: h(&m.target),
},
from |x| td::SetNewPrevHash {
    template_id: x.template_id,
    prev_hash: oh(&x.prev_hash),
    header_timestamp: x.header_timestamp,
    n_bits: x.n_bits,
    target: oh(&x.target),
});

pair!(td::RequestTransactionData => template_distribution_sv2::RequestTransactionData,
    Protocol::TemplateDistribution,
    TemplateDistribution::TemplateDistribution::RequestTransactionData,
    to |m| template_distribution_sv2::RequestTransactionData { template_id: m.template_id },
    from |x| td::RequestTransactionData { template_id: x.template_id });

pair!(td::RequestTransactionDataSuccess => template_distribution_sv2::RequestTransactionDataSuccess<'a>,
Protocol::TemplateDistribution,
TemplateDistribution::TemplateDistribution::RequestTransactionDataSuccess,
to |m| template_distribution_sv2::RequestTransactionDataSuccess {
    template_id: m.template_id,
    excess_data: b::<B064K>(&m.excess_data),
    transaction_list: Seq064K::new(
        m.transaction_list.iter().map(|t| b::<B016M>(t)).collect(),
    )
    .unwrap(),
},
from |x| td::RequestTransactionDataSuccess {
    template_id: x.template_id,
    excess_data: x.excess_data.as_bytes().to_vec(),
    transaction_list: x.transaction_list.iter().map(|t| t.as_bytes().to_vec()).collect(),
});

pair!(td::RequestTransactionDataError => template_distribution_sv2::RequestTransactionDataError<'a>,
Protocol::TemplateDistribution,
TemplateDistribution::TemplateDistribution::RequestTransactionDataError,
to |m| template_distribution_sv2::RequestTransactionDataError {
    template_id: m.template_id,
    error_code: s(&m.error_code),
},
from |x| td::RequestTransactionDataError {
    template_id: x.template_id,
    error_code: os(&x.error_code),
});

pair!(td::SubmitSolution => template_distribution_sv2::SubmitSolution<'a>, Protocol::TemplateDistribution,
TemplateDistribution::TemplateDistribution::SubmitSolution,
to |m| template_distribution_sv2::SubmitSolution {
    template_id: m.template_id,
    version: m.version,
    header_timestamp: m.header_timestamp,
    header_nonce: m.header_nonce,
    coinbase_tx: b::<B064K>(&m.coinbase_tx),
},
from |x| td::SubmitSolution {
    template_id: x.template_id,
    version: x.version,
    header_timestamp: x.header_timestamp,
    header_nonce: x.header_nonce,
    coinbase_tx: x.coinbase_tx.as_bytes().to_vec(),
});

// ------------------------------------------------------------------ job declaration

pair!(jd::AllocateMiningJobToken => job_declaration_sv2::AllocateMiningJobToken<'a>, Protocol::JobDeclaration,
JobDeclaration::JobDeclaration::AllocateMiningJobToken,
to |m| job_declaration_sv2::AllocateMiningJobToken {
    user_identifier: s(&m.user_identifier),
    request_id: m.request_id,
},
from |x| jd::AllocateMiningJobToken {
    user_identifier: os(&x.user_identifier),
    request_id: x.request_id,
});

pair!(jd::AllocateMiningJobTokenSuccess => job_declaration_sv2::AllocateMiningJobTokenSuccess<'a>,
Protocol::JobDeclaration,
JobDeclaration::JobDeclaration::AllocateMiningJobTokenSuccess,
to |m| job_declaration_sv2::AllocateMiningJobTokenSuccess {
    request_id: m.request_id,
    mining_job_token: b::<B0255>(&m.mining_job_token),
    coinbase_outputs: b::<B064K>(&m.coinbase_outputs),
},
from |x| jd::AllocateMiningJobTokenSuccess {
    request_id: x.request_id,
    mining_job_token: x.mining_job_token.as_bytes().to_vec(),
    coinbase_outputs: x.coinbase_outputs.as_bytes().to_vec(),
});

pair!(jd::DeclareMiningJob => job_declaration_sv2::DeclareMiningJob<'a>, Protocol::JobDeclaration,
JobDeclaration::JobDeclaration::DeclareMiningJob,
to |m| job_declaration_sv2::DeclareMiningJob {
    request_id: m.request_id,
    mining_job_token: b::<B0255>(&m.mining_job_token),
    version: m.version,
    coinbase_tx_prefix: b::<B064K>(&m.coinbase_tx_prefix),
    coinbase_tx_suffix: b::<B064K>(&m.coinbase_tx_suffix),
    wtxid_list: Seq064K::new(hs(&m.wtxid_list)).unwrap(),
    excess_data: b::<B064K>(&m.excess_data),
},
from |x| jd::DeclareMiningJob {
    request_id: x.request_id,
    mining_job_token: x.mining_job_token.as_bytes().to_vec(),
    version: x.version,
    coinbase_tx_prefix: x.coinbase_tx_prefix.as_bytes().to_vec(),
    coinbase_tx_suffix: x.coinbase_tx_suffix.as_bytes().to_vec(),
    wtxid_list: x.wtxid_list.iter().map(oh).collect(),
    excess_data: x.excess_data.as_bytes().to_vec(),
});

pair!(jd::DeclareMiningJobSuccess => job_declaration_sv2::DeclareMiningJobSuccess<'a>, Protocol::JobDeclaration,
JobDeclaration::JobDeclaration::DeclareMiningJobSuccess,
to |m| job_declaration_sv2::DeclareMiningJobSuccess {
    request_id: m.request_id,
    new_mining_job_token: b::<B0255>(&m.new_mining_job_token),
},
from |x| jd::DeclareMiningJobSuccess {
    request_id: x.request_id,
    new_mining_job_token: x.new_mining_job_token.as_bytes().to_vec(),
});

pair!(jd::DeclareMiningJobError => job_declaration_sv2::DeclareMiningJobError<'a>, Protocol::JobDeclaration,
JobDeclaration::JobDeclaration::DeclareMiningJobError,
to |m| job_declaration_sv2::DeclareMiningJobError {
    request_id: m.request_id,
    error_code: s(&m.error_code),
    error_details: b::<B064K>(&m.error_details),
},
from |x| jd::DeclareMiningJobError {
    request_id: x.request_id,
    error_code: os(&x.error_code),
    error_details: x.error_details.as_bytes().to_vec(),
});

pair!(jd::ProvideMissingTransactions => job_declaration_sv2::ProvideMissingTransactions<'a>,
Protocol::JobDeclaration,
JobDeclaration::JobDeclaration::ProvideMissingTransactions,
to |m| job_declaration_sv2::ProvideMissingTransactions {
    request_id: m.request_id,
    unknown_tx_position_list: Seq064K::new(m.unknown_tx_position_list.clone()).unwrap(),
},
from |x| jd::ProvideMissingTransactions {
    request_id: x.request_id,
    unknown_tx_position_list: x.unknown_tx_position_list.as_slice().to_vec(),
});

pair!(jd::ProvideMissingTransactionsSuccess => job_declaration_sv2::ProvideMissingTransactionsSuccess<'a>,
Protocol::JobDeclaration,
JobDeclaration::JobDeclaration::ProvideMissingTransactionsSuccess,
to |m| job_declaration_sv2::ProvideMissingTransactionsSuccess {
    request_id: m.request_id,
    transaction_list: Seq064K::new(
        m.transaction_list.iter().map(|t| b::<B016M>(t)).collect(),
    )
    .unwrap(),
},
from |x| jd::ProvideMissingTransactionsSuccess {
    request_id: x.request_id,
    transaction_list: x.transaction_list.iter().map(|t| t.as_bytes().to_vec()).collect(),
});

pair!(jd::PushSolution => job_declaration_sv2::PushSolution<'a>, Protocol::JobDeclaration,
JobDeclaration::JobDeclaration::PushSolution,
to |m| job_declaration_sv2::PushSolution {
    extranonce: b::<B032>(&m.extranonce),
    prev_hash: h(&m.prev_hash),
    nonce: m.nonce,
    ntime: m.ntime,
    nbits: m.nbits,
    version: m.version,
},
from |x| jd::PushSolution {
    extranonce: x.extranonce.as_bytes().to_vec(),
    prev_hash: oh(&x.prev_hash),
    nonce: x.nonce,
    ntime: x.ntime,
    nbits: x.nbits,
    version: x.version,
});

// ------------------------------------------------------------------ the checks

/// Reads one frame with SRI's `codec_sv2::Decoder` fed exactly as a socket reader would.
fn sri_read_frame(wire: &[u8]) -> codec_sv2::SerializedFrame {
    let mut dec = codec_sv2::Decoder::new();
    let mut pos = 0;
    loop {
        let w = dec.writable();
        let n = w.len();
        w.copy_from_slice(&wire[pos..pos + n]);
        pos += n;
        match dec.next_frame().expect("SRI decoder accepts our frame") {
            Decoded::Frame(f) => {
                assert_eq!(pos, wire.len(), "SRI consumed the whole frame");
                return f;
            }
            Decoded::Incomplete(_) => continue,
        }
    }
}

fn check<M: Pair>(m: &M) {
    // 1. payload bytes
    let mut ours = Vec::new();
    m.encode_payload(&mut ours).unwrap();
    let sri_bytes = binary_sv2::to_bytes(m.to_sri()).unwrap();
    assert_eq!(ours, sri_bytes, "{}: payload bytes differ", M::NAME);

    // 2. SRI decodes ours
    let mut buf = ours.clone();
    let decoded: M::Sri<'_> = binary_sv2::from_bytes(&mut buf).unwrap();
    assert_eq!(&M::from_sri(&decoded), m, "{}: SRI decode of ours", M::NAME);

    // 3. we decode SRI's
    assert_eq!(&M::decode_payload(&sri_bytes).unwrap(), m, "{}", M::NAME);

    // 4. frames, with SRI's own msg_type and channel bit
    let any = M::wrap(m.to_sri());
    let (msg_type, channel_bit) = (any.message_type(), any.channel_bit());
    assert_eq!(msg_type, M::MSG_TYPE, "{}: msg_type", M::NAME);
    assert_eq!(channel_bit, M::CHANNEL_MSG, "{}: channel bit", M::NAME);
    assert_eq!(any.extension_type(), 0);
    let sri_frame = MessageFrame::from_message(any, msg_type, 0, channel_bit).unwrap();
    let mut enc = codec_sv2::Encoder::new();
    let sri_frame: Vec<u8> = enc.encode(sri_frame).unwrap().to_vec();
    let mut our_frame = BytesMut::new();
    m.encode_frame(&mut our_frame).unwrap();
    assert_eq!(&our_frame[..], &sri_frame[..], "{}: frame bytes", M::NAME);

    // 5a. SRI decodes our frame (header + parsers_sv2)
    let mut f = sri_read_frame(&our_frame);
    let header = f.header();
    assert_eq!(header.msg_type(), M::MSG_TYPE);
    assert_eq!(header.channel_msg(), M::CHANNEL_MSG);
    assert_eq!(header.ext_type_without_channel_msg(), 0);
    assert_eq!(header.payload_length(), ours.len());
    let parsed = AnyMessage::try_from((header, f.payload())).expect("parsers_sv2 accepts ours");
    let inner = M::unwrap(&parsed).expect("parsed as the same message kind");
    assert_eq!(&M::from_sri(inner), m, "{}: parsers_sv2 decode", M::NAME);

    // 5b. we decode SRI's frame
    let frame = Frame::from_bytes(Bytes::from(sri_frame)).unwrap();
    let msg = Message::from_frame(M::PROTOCOL, &frame).unwrap();
    assert_eq!(
        msg,
        m.clone().into(),
        "{}: our decode of SRI frame",
        M::NAME
    );
    assert_eq!(&M::from_frame(&frame).unwrap(), m);
}

/// Whatever payload we accept, SRI accepts with the same field values.
fn differential<M: Pair>(payload: &[u8]) {
    if let Ok(ours) = M::decode_payload(payload) {
        let mut buf = payload.to_vec();
        let sri: M::Sri<'_> = binary_sv2::from_bytes(&mut buf)
            .unwrap_or_else(|e| panic!("{}: SRI rejects what we accept: {e:?}", M::NAME));
        // Compare re-encoded bytes, not values: random payloads decode to NaN floats, and
        // NaN != NaN would fail a value comparison even when both sides read the same bits.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        M::from_sri(&sri).encode_payload(&mut a).unwrap();
        ours.encode_payload(&mut b).unwrap();
        assert_eq!(a, b, "{}", M::NAME);
    }
}

/// A valid payload of `m` with a few bytes XOR-ed: length prefixes, option tags, booleans and
/// UTF-8 get corrupted in ways both decoders must agree on whenever ours accepts.
fn mutate<M: Pair>(m: &M, flips: &[(prop::sample::Index, u8)]) -> Vec<u8> {
    let mut payload = Vec::new();
    m.encode_payload(&mut payload).unwrap();
    if !payload.is_empty() {
        for (i, x) in flips {
            let at = i.index(payload.len());
            payload[at] ^= x;
        }
    }
    payload
}

fn garbage() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            any::<u8>().prop_map(|b| vec![b]),
            (0u8..3).prop_map(|b| vec![b]),
            (0u16..24).prop_map(|n| n.to_le_bytes().to_vec()),
            proptest::collection::vec(b'a'..=b'z', 0..24),
            proptest::collection::vec(any::<u8>(), 0..48),
        ],
        0..20,
    )
    .prop_map(|v| v.concat())
}

macro_rules! interop_tests {
    ($($name:ident: $ty:ty = $strategy:expr;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]
            $(
                #[test]
                fn $name(
                    m in $strategy,
                    junk in garbage(),
                    flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..), 1..4),
                ) {
                    check::<$ty>(&m);
                    differential::<$ty>(&junk);
                    differential::<$ty>(&mutate(&m, &flips));
                }
            )*
        }

        /// Every message type has a cross-check above.
        #[test]
        fn all_message_types_are_cross_checked() {
            let types: std::collections::BTreeSet<(u8, bool)> =
                [$( (<$ty as Sv2Message>::MSG_TYPE, <$ty as Pair>::PROTOCOL == Protocol::TemplateDistribution) ),*]
                    .into_iter()
                    .collect();
            assert_eq!(types.len(), common::MESSAGE_KINDS);
        }
    };
}

interop_tests! {
    setup_connection: c::SetupConnection = common::setup_connection();
    setup_connection_success: c::SetupConnectionSuccess = common::setup_connection_success();
    setup_connection_error: c::SetupConnectionError = common::setup_connection_error();
    channel_endpoint_changed: c::ChannelEndpointChanged = common::channel_endpoint_changed();
    reconnect: c::Reconnect = common::reconnect();
    open_standard_mining_channel: mn::OpenStandardMiningChannel = common::open_standard_mining_channel();
    open_standard_mining_channel_success: mn::OpenStandardMiningChannelSuccess = common::open_standard_mining_channel_success();
    open_extended_mining_channel: mn::OpenExtendedMiningChannel = common::open_extended_mining_channel();
    open_extended_mining_channel_success: mn::OpenExtendedMiningChannelSuccess = common::open_extended_mining_channel_success();
    open_mining_channel_error: mn::OpenMiningChannelError = common::open_mining_channel_error();
    update_channel: mn::UpdateChannel = common::update_channel();
    update_channel_error: mn::UpdateChannelError = common::update_channel_error();
    close_channel: mn::CloseChannel = common::close_channel();
    set_extranonce_prefix: mn::SetExtranoncePrefix = common::set_extranonce_prefix();
    submit_shares_standard: mn::SubmitSharesStandard = common::submit_shares_standard();
    submit_shares_extended: mn::SubmitSharesExtended = common::submit_shares_extended();
    submit_shares_success: mn::SubmitSharesSuccess = common::submit_shares_success();
    submit_shares_error: mn::SubmitSharesError = common::submit_shares_error();
    new_mining_job: mn::NewMiningJob = common::new_mining_job();
    new_extended_mining_job: mn::NewExtendedMiningJob = common::new_extended_mining_job();
    mining_set_new_prev_hash: mn::SetNewPrevHash = common::mining_set_new_prev_hash();
    set_target: mn::SetTarget = common::set_target();
    set_custom_mining_job: mn::SetCustomMiningJob = common::set_custom_mining_job();
    set_custom_mining_job_success: mn::SetCustomMiningJobSuccess = common::set_custom_mining_job_success();
    set_custom_mining_job_error: mn::SetCustomMiningJobError = common::set_custom_mining_job_error();
    set_group_channel: mn::SetGroupChannel = common::set_group_channel();
    coinbase_output_constraints: td::CoinbaseOutputConstraints = common::coinbase_output_constraints();
    new_template: td::NewTemplate = common::new_template();
    td_set_new_prev_hash: td::SetNewPrevHash = common::td_set_new_prev_hash();
    request_transaction_data: td::RequestTransactionData = common::request_transaction_data();
    request_transaction_data_success: td::RequestTransactionDataSuccess = common::request_transaction_data_success();
    request_transaction_data_error: td::RequestTransactionDataError = common::request_transaction_data_error();
    submit_solution: td::SubmitSolution = common::submit_solution();
    allocate_mining_job_token: jd::AllocateMiningJobToken = common::allocate_mining_job_token();
    allocate_mining_job_token_success: jd::AllocateMiningJobTokenSuccess = common::allocate_mining_job_token_success();
    declare_mining_job: jd::DeclareMiningJob = common::declare_mining_job();
    declare_mining_job_success: jd::DeclareMiningJobSuccess = common::declare_mining_job_success();
    declare_mining_job_error: jd::DeclareMiningJobError = common::declare_mining_job_error();
    provide_missing_transactions: jd::ProvideMissingTransactions = common::provide_missing_transactions();
    provide_missing_transactions_success: jd::ProvideMissingTransactionsSuccess = common::provide_missing_transactions_success();
    push_solution: jd::PushSolution = common::push_solution();
}

/// Field maxima agree with SRI: 255 merkle leaves, 64 KiB - 1 coinbase parts, 32-byte extranonce.
#[test]
fn maximum_sizes_match_sri() {
    check(&mn::NewExtendedMiningJob {
        channel_id: 1,
        job_id: 2,
        min_ntime: Some(3),
        version: 4,
        version_rolling_allowed: true,
        merkle_path: vec![[9; 32]; 255],
        coinbase_tx_prefix: vec![1; 0xFFFF],
        coinbase_tx_suffix: vec![2; 0xFFFF],
    });
    check(&mn::SubmitSharesExtended {
        extranonce: vec![7; 32],
        ..Default::default()
    });
    check(&c::SetupConnection {
        vendor: "v".repeat(255),
        ..Default::default()
    });
}

/// Our `BOOL` decoding matches SRI's: only the least significant bit counts.
#[test]
fn bool_high_bits_ignored_like_sri() {
    let job = mn::NewExtendedMiningJob::default();
    let mut payload = Vec::new();
    job.encode_payload(&mut payload).unwrap();
    // channel_id(4) job_id(4) min_ntime(1) version(4) -> bool at offset 13
    for raw in [0x02u8, 0x03, 0xFE, 0xFF] {
        payload[13] = raw;
        differential::<mn::NewExtendedMiningJob>(&payload);
        let ours = mn::NewExtendedMiningJob::decode_payload(&payload).unwrap();
        assert_eq!(ours.version_rolling_allowed, raw & 1 == 1);
    }
}
