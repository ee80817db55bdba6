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

/// Our field value as SRI's (`to`) and SRI's as ours (`from`), by field kind.
macro_rules! convert {
    (to copy, $v:expr) => {
        $v
    };
    (from copy, $v:expr) => {
        $v
    };
    (to str, $v:expr) => {
        s(&$v)
    };
    (from str, $v:expr) => {
        os(&$v)
    };
    (to hash, $v:expr) => {
        h(&$v)
    };
    (from hash, $v:expr) => {
        oh(&$v)
    };
    (to hashes, $v:expr) => {
        Seq0255::new(hs(&$v)).unwrap()
    };
    (from hashes, $v:expr) => {
        $v.iter().map(oh).collect()
    };
    (to opt, $v:expr) => {
        Sv2Option::new($v)
    };
    (from opt, $v:expr) => {
        $v.as_ref().copied()
    };
    (to proto, $v:expr) => {
        sri_protocol($v)
    };
    (from proto, $v:expr) => {
        our_protocol($v)
    };
    (to u32s, $v:expr) => {
        Seq064K::new($v.clone()).unwrap()
    };
    (from u32s, $v:expr) => {
        $v.as_slice().to_vec()
    };
    (to bytes $b:ty, $v:expr) => {
        b::<$b>(&$v)
    };
    (from bytes $b:ty, $v:expr) => {
        $v.as_bytes().to_vec()
    };
}

/// A [`Pair`] whose fields map one to one, each named once with its kind (see `convert!`).
macro_rules! fields {
    ($ours:ty => $($sri:ident)::+ $(<$lt:lifetime>)?, $proto:expr, $any:ident::$group:ident::$var:ident {
        $($f:ident: $kind:ident $($b:ty)?),+ $(,)?
    }) => {
        pair!($ours => $($sri)::+ $(<$lt>)?, $proto, $any::$group::$var,
            to |m| $($sri)::+ { $($f: convert!(to $kind $($b)?, m.$f)),+ },
            from |x| Self { $($f: convert!(from $kind $($b)?, x.$f)),+ });
    };
}

// ------------------------------------------------------------------ common

fields!(c::SetupConnection => common_messages_sv2::SetupConnection<'a>, Protocol::Mining, Common::CommonMessages::SetupConnection {
    protocol: proto,
    min_version: copy,
    max_version: copy,
    flags: copy,
    endpoint_host: str,
    endpoint_port: copy,
    vendor: str,
    hardware_version: str,
    firmware: str,
    device_id: str,
});

fields!(c::SetupConnectionSuccess => common_messages_sv2::SetupConnectionSuccess, Protocol::Mining, Common::CommonMessages::SetupConnectionSuccess {
    used_version: copy,
    flags: copy,
});

fields!(c::SetupConnectionError => common_messages_sv2::SetupConnectionError<'a>, Protocol::TemplateDistribution, Common::CommonMessages::SetupConnectionError {
    flags: copy,
    error_code: str,
});

fields!(c::ChannelEndpointChanged => common_messages_sv2::ChannelEndpointChanged, Protocol::Mining, Common::CommonMessages::ChannelEndpointChanged {
    channel_id: copy,
});

fields!(c::Reconnect => common_messages_sv2::Reconnect<'a>, Protocol::JobDeclaration, Common::CommonMessages::Reconnect {
    new_host: str,
    new_port: copy,
});

// ------------------------------------------------------------------ mining

fields!(mn::OpenStandardMiningChannel => mining_sv2::OpenStandardMiningChannel<'a>, Protocol::Mining, Mining::Mining::OpenStandardMiningChannel {
    request_id: copy,
    user_identity: str,
    nominal_hash_rate: copy,
    max_target: hash,
});

fields!(mn::OpenStandardMiningChannelSuccess => mining_sv2::OpenStandardMiningChannelSuccess<'a>, Protocol::Mining, Mining::Mining::OpenStandardMiningChannelSuccess {
    request_id: copy,
    channel_id: copy,
    target: hash,
    extranonce_prefix: bytes B032,
    group_channel_id: copy,
});

fields!(mn::OpenExtendedMiningChannel => mining_sv2::OpenExtendedMiningChannel<'a>, Protocol::Mining, Mining::Mining::OpenExtendedMiningChannel {
    request_id: copy,
    user_identity: str,
    nominal_hash_rate: copy,
    max_target: hash,
    min_extranonce_size: copy,
});

fields!(mn::OpenExtendedMiningChannelSuccess => mining_sv2::OpenExtendedMiningChannelSuccess<'a>, Protocol::Mining, Mining::Mining::OpenExtendedMiningChannelSuccess {
    request_id: copy,
    channel_id: copy,
    target: hash,
    extranonce_size: copy,
    extranonce_prefix: bytes B032,
    group_channel_id: copy,
});

fields!(mn::OpenMiningChannelError => mining_sv2::OpenMiningChannelError<'a>, Protocol::Mining, Mining::Mining::OpenMiningChannelError {
    request_id: copy,
    error_code: str,
});

fields!(mn::UpdateChannel => mining_sv2::UpdateChannel<'a>, Protocol::Mining, Mining::Mining::UpdateChannel {
    channel_id: copy,
    nominal_hash_rate: copy,
    maximum_target: hash,
});

fields!(mn::UpdateChannelError => mining_sv2::UpdateChannelError<'a>, Protocol::Mining, Mining::Mining::UpdateChannelError {
    channel_id: copy,
    error_code: str,
});

fields!(mn::CloseChannel => mining_sv2::CloseChannel<'a>, Protocol::Mining, Mining::Mining::CloseChannel {
    channel_id: copy,
    reason_code: str,
});

fields!(mn::SetExtranoncePrefix => mining_sv2::SetExtranoncePrefix<'a>, Protocol::Mining, Mining::Mining::SetExtranoncePrefix {
    channel_id: copy,
    extranonce_prefix: bytes B032,
});

fields!(mn::SubmitSharesStandard => mining_sv2::SubmitSharesStandard, Protocol::Mining, Mining::Mining::SubmitSharesStandard {
    channel_id: copy,
    sequence_number: copy,
    job_id: copy,
    nonce: copy,
    ntime: copy,
    version: copy,
});

fields!(mn::SubmitSharesExtended => mining_sv2::SubmitSharesExtended<'a>, Protocol::Mining, Mining::Mining::SubmitSharesExtended {
    channel_id: copy,
    sequence_number: copy,
    job_id: copy,
    nonce: copy,
    ntime: copy,
    version: copy,
    extranonce: bytes B032,
});

fields!(mn::SubmitSharesSuccess => mining_sv2::SubmitSharesSuccess, Protocol::Mining, Mining::Mining::SubmitSharesSuccess {
    channel_id: copy,
    last_sequence_number: copy,
    new_submits_accepted_count: copy,
    new_shares_sum: copy,
});

fields!(mn::SubmitSharesError => mining_sv2::SubmitSharesError<'a>, Protocol::Mining, Mining::Mining::SubmitSharesError {
    channel_id: copy,
    sequence_number: copy,
    error_code: str,
});

fields!(mn::NewMiningJob => mining_sv2::NewMiningJob<'a>, Protocol::Mining, Mining::Mining::NewMiningJob {
    channel_id: copy,
    job_id: copy,
    min_ntime: opt,
    version: copy,
    merkle_root: hash,
});

fields!(mn::NewExtendedMiningJob => mining_sv2::NewExtendedMiningJob<'a>, Protocol::Mining, Mining::Mining::NewExtendedMiningJob {
    channel_id: copy,
    job_id: copy,
    min_ntime: opt,
    version: copy,
    version_rolling_allowed: copy,
    merkle_path: hashes,
    coinbase_tx_prefix: bytes B064K,
    coinbase_tx_suffix: bytes B064K,
});

fields!(mn::SetNewPrevHash => mining_sv2::SetNewPrevHash<'a>, Protocol::Mining, Mining::Mining::SetNewPrevHash {
    channel_id: copy,
    job_id: copy,
    prev_hash: hash,
    min_ntime: copy,
    nbits: copy,
});

fields!(mn::SetTarget => mining_sv2::SetTarget<'a>, Protocol::Mining, Mining::Mining::SetTarget {
    channel_id: copy,
    maximum_target: hash,
});

fields!(mn::SetCustomMiningJob => mining_sv2::SetCustomMiningJob<'a>, Protocol::Mining, Mining::Mining::SetCustomMiningJob {
    channel_id: copy,
    request_id: copy,
    token: bytes B0255,
    version: copy,
    prev_hash: hash,
    min_ntime: copy,
    nbits: copy,
    coinbase_tx_version: copy,
    coinbase_prefix: bytes B0255,
    coinbase_tx_input_n_sequence: copy,
    coinbase_tx_outputs: bytes B064K,
    coinbase_tx_locktime: copy,
    merkle_path: hashes,
});

fields!(mn::SetCustomMiningJobSuccess => mining_sv2::SetCustomMiningJobSuccess, Protocol::Mining, Mining::Mining::SetCustomMiningJobSuccess {
    channel_id: copy,
    request_id: copy,
    job_id: copy,
});

fields!(mn::SetCustomMiningJobError => mining_sv2::SetCustomMiningJobError<'a>, Protocol::Mining, Mining::Mining::SetCustomMiningJobError {
    channel_id: copy,
    request_id: copy,
    error_code: str,
});

fields!(mn::SetGroupChannel => mining_sv2::SetGroupChannel<'a>, Protocol::Mining, Mining::Mining::SetGroupChannel {
    group_channel_id: copy,
    channel_ids: u32s,
});

// ------------------------------------------------------------------ template distribution

fields!(td::CoinbaseOutputConstraints => template_distribution_sv2::CoinbaseOutputConstraints, Protocol::TemplateDistribution, TemplateDistribution::TemplateDistribution::CoinbaseOutputConstraints {
    coinbase_output_max_additional_size: copy,
    coinbase_output_max_additional_sigops: copy,
});

fields!(td::NewTemplate => template_distribution_sv2::NewTemplate<'a>, Protocol::TemplateDistribution, TemplateDistribution::TemplateDistribution::NewTemplate {
    template_id: copy,
    future_template: copy,
    version: copy,
    coinbase_tx_version: copy,
    coinbase_prefix: bytes B0255,
    coinbase_tx_input_sequence: copy,
    coinbase_tx_value_remaining: copy,
    coinbase_tx_outputs_count: copy,
    coinbase_tx_outputs: bytes B064K,
    coinbase_tx_locktime: copy,
    merkle_path: hashes,
});

fields!(td::SetNewPrevHash => template_distribution_sv2::SetNewPrevHash<'a>, Protocol::TemplateDistribution, TemplateDistribution::TemplateDistribution::SetNewPrevHash {
    template_id: copy,
    prev_hash: hash,
    header_timestamp: copy,
    n_bits: copy,
    target: hash,
});

fields!(td::RequestTransactionData => template_distribution_sv2::RequestTransactionData, Protocol::TemplateDistribution, TemplateDistribution::TemplateDistribution::RequestTransactionData {
    template_id: copy,
});

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

fields!(td::RequestTransactionDataError => template_distribution_sv2::RequestTransactionDataError<'a>, Protocol::TemplateDistribution, TemplateDistribution::TemplateDistribution::RequestTransactionDataError {
    template_id: copy,
    error_code: str,
});

fields!(td::SubmitSolution => template_distribution_sv2::SubmitSolution<'a>, Protocol::TemplateDistribution, TemplateDistribution::TemplateDistribution::SubmitSolution {
    template_id: copy,
    version: copy,
    header_timestamp: copy,
    header_nonce: copy,
    coinbase_tx: bytes B064K,
});

// ------------------------------------------------------------------ job declaration

fields!(jd::AllocateMiningJobToken => job_declaration_sv2::AllocateMiningJobToken<'a>, Protocol::JobDeclaration, JobDeclaration::JobDeclaration::AllocateMiningJobToken {
    user_identifier: str,
    request_id: copy,
});

fields!(jd::AllocateMiningJobTokenSuccess => job_declaration_sv2::AllocateMiningJobTokenSuccess<'a>, Protocol::JobDeclaration, JobDeclaration::JobDeclaration::AllocateMiningJobTokenSuccess {
    request_id: copy,
    mining_job_token: bytes B0255,
    coinbase_outputs: bytes B064K,
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

fields!(jd::DeclareMiningJobSuccess => job_declaration_sv2::DeclareMiningJobSuccess<'a>, Protocol::JobDeclaration, JobDeclaration::JobDeclaration::DeclareMiningJobSuccess {
    request_id: copy,
    new_mining_job_token: bytes B0255,
});

fields!(jd::DeclareMiningJobError => job_declaration_sv2::DeclareMiningJobError<'a>, Protocol::JobDeclaration, JobDeclaration::JobDeclaration::DeclareMiningJobError {
    request_id: copy,
    error_code: str,
    error_details: bytes B064K,
});

fields!(jd::ProvideMissingTransactions => job_declaration_sv2::ProvideMissingTransactions<'a>, Protocol::JobDeclaration, JobDeclaration::JobDeclaration::ProvideMissingTransactions {
    request_id: copy,
    unknown_tx_position_list: u32s,
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

fields!(jd::PushSolution => job_declaration_sv2::PushSolution<'a>, Protocol::JobDeclaration, JobDeclaration::JobDeclaration::PushSolution {
    extranonce: bytes B032,
    prev_hash: hash,
    nonce: copy,
    ntime: copy,
    nbits: copy,
    version: copy,
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
