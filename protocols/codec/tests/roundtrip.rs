//! Property tests: every message survives encode -> frame -> decode unchanged.

mod common;

use std::collections::BTreeSet;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use sv2_codec::{mining, Frame, Message, MessageCodec, Sv2FrameCodec, Sv2Message, HEADER_LEN};
use tokio_util::codec::{Decoder, Encoder};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn frame_roundtrip((protocol, msg) in common::any_message()) {
        let mut buf = BytesMut::new();
        msg.encode_frame(&mut buf).unwrap();
        let payload_len = msg.payload_len().unwrap();
        prop_assert_eq!(buf.len(), HEADER_LEN + payload_len);

        let frame = Frame::from_bytes(buf.clone().freeze()).unwrap();
        prop_assert_eq!(frame.header.msg_type, msg.msg_type());
        prop_assert_eq!(frame.header.channel_msg, msg.channel_msg());
        prop_assert_eq!(frame.header.extension_type, 0);
        prop_assert_eq!(frame.header.msg_length as usize, payload_len);

        let back = Message::from_frame(protocol, &frame).unwrap();
        prop_assert_eq!(&back, &msg);

        // to_frame agrees with encode_frame, and re-encoding is stable.
        prop_assert_eq!(msg.to_frame().unwrap(), frame);
        let mut again = BytesMut::new();
        back.encode_frame(&mut again).unwrap();
        prop_assert_eq!(again, buf);
    }

    #[test]
    fn tokio_codec_roundtrip_with_random_chunking(
        (protocol, msg) in common::any_message(),
        chunk in 1usize..64,
    ) {
        let mut wire = BytesMut::new();
        let mut codec = MessageCodec::new(protocol);
        codec.encode(&msg, &mut wire).unwrap();
        codec.encode(msg.clone(), &mut wire).unwrap();

        let mut src = BytesMut::new();
        let mut got = Vec::new();
        for piece in wire.chunks(chunk) {
            src.extend_from_slice(piece);
            while let Some(m) = codec.decode(&mut src).unwrap() {
                got.push(m);
            }
        }
        prop_assert!(src.is_empty());
        prop_assert_eq!(got, vec![msg.clone(), msg]);
    }

    #[test]
    fn frame_codec_roundtrip((_p, msg) in common::any_message()) {
        let frame = msg.to_frame().unwrap();
        let mut codec = Sv2FrameCodec::default();
        let mut wire = BytesMut::new();
        codec.encode(&frame, &mut wire).unwrap();
        codec.encode(frame.clone(), &mut wire).unwrap();
        prop_assert_eq!(codec.decode(&mut wire).unwrap(), Some(frame.clone()));
        prop_assert_eq!(codec.decode(&mut wire).unwrap(), Some(frame));
        prop_assert_eq!(codec.decode(&mut wire).unwrap(), None);
    }

    #[test]
    fn nan_hash_rates_roundtrip_bit_exact(bits in any::<u32>()) {
        let m = mining::UpdateChannel {
            channel_id: 1,
            nominal_hash_rate: f32::from_bits(bits),
            maximum_target: [0xFF; 32],
        };
        let mut payload = Vec::new();
        m.encode_payload(&mut payload).unwrap();
        let back = mining::UpdateChannel::decode_payload(&payload).unwrap();
        prop_assert_eq!(back.nominal_hash_rate.to_bits(), bits);
    }
}

/// The generator really produces all 41 message types (so the properties above cover them).
#[test]
fn generator_covers_every_message_type() {
    let mut runner = TestRunner::deterministic();
    let strategy = common::any_message();
    let mut seen = BTreeSet::new();
    for _ in 0..5000 {
        let (_, m) = strategy.new_tree(&mut runner).unwrap().current();
        seen.insert((m.protocol().map(|p| p.as_u8()), m.msg_type()));
    }
    assert_eq!(seen.len(), common::MESSAGE_KINDS, "{seen:?}");
}

/// Field maxima: 255-entry merkle path, 64 KiB - 1 coinbase parts, 255-byte strings.
#[test]
fn maximum_sizes_roundtrip_and_one_more_fails() {
    let job = mining::NewExtendedMiningJob {
        channel_id: 1,
        job_id: 2,
        min_ntime: None,
        version: 3,
        version_rolling_allowed: false,
        merkle_path: vec![[7; 32]; 255],
        coinbase_tx_prefix: vec![1; 0xFFFF],
        coinbase_tx_suffix: vec![2; 0xFFFF],
    };
    let frame = job.to_frame().unwrap();
    assert_eq!(
        mining::NewExtendedMiningJob::from_frame(&frame).unwrap(),
        job
    );

    let mut too_long = job.clone();
    too_long.merkle_path.push([0; 32]);
    assert!(too_long.to_frame().is_err());
    let mut too_long = job;
    too_long.coinbase_tx_suffix.push(0);
    assert!(too_long.to_frame().is_err());

    let user = mining::OpenStandardMiningChannel {
        user_identity: "é".repeat(127) + "x",
        ..Default::default()
    };
    assert_eq!(user.user_identity.len(), 255);
    let f = user.to_frame().unwrap();
    assert_eq!(
        mining::OpenStandardMiningChannel::from_frame(&f).unwrap(),
        user
    );
}

/// A message too large for a U24 length cannot be framed.
#[test]
fn payload_over_u24_is_refused() {
    let m = sv2_codec::template_distribution::RequestTransactionDataSuccess {
        template_id: 1,
        excess_data: vec![],
        transaction_list: vec![vec![0u8; 0x00FF_FFFF]; 2],
    };
    let mut dst = BytesMut::new();
    assert!(matches!(
        m.encode_frame(&mut dst),
        Err(sv2_codec::CodecError::PayloadTooLarge { .. })
    ));
    assert!(dst.is_empty());
}

/// Works end to end over an async byte stream with `Framed`.
#[tokio::test]
async fn framed_over_duplex() {
    use futures::{SinkExt, StreamExt};
    use tokio_util::codec::{FramedRead, FramedWrite};

    let (a, b) = tokio::io::duplex(64);
    let msgs: Vec<Message> = vec![
        sv2_codec::common::SetupConnection::default().into(),
        mining::SubmitSharesStandard::default().into(),
        mining::NewExtendedMiningJob {
            merkle_path: vec![[3; 32]; 12],
            coinbase_tx_prefix: vec![5; 100],
            coinbase_tx_suffix: vec![6; 100],
            ..Default::default()
        }
        .into(),
    ];
    let to_send = msgs.clone();
    let writer = tokio::spawn(async move {
        let mut w = FramedWrite::new(a, MessageCodec::new(sv2_codec::Protocol::Mining));
        for m in to_send {
            w.send(m).await.unwrap();
        }
    });
    let mut r = FramedRead::new(b, MessageCodec::new(sv2_codec::Protocol::Mining));
    let mut got = Vec::new();
    while let Some(m) = r.next().await {
        got.push(m.unwrap());
    }
    writer.await.unwrap();
    assert_eq!(got, msgs);
}

/// `Frame::from_bytes` and `Header::parse` agree with the codec's framing.
#[test]
fn frame_from_bytes_equals_codec_output() {
    let m: Message = mining::SetTarget {
        channel_id: 9,
        maximum_target: [1; 32],
    }
    .into();
    let mut buf = BytesMut::new();
    m.encode_frame(&mut buf).unwrap();
    let bytes: Bytes = buf.clone().freeze();
    let mut codec = Sv2FrameCodec::default();
    assert_eq!(
        codec.decode(&mut buf).unwrap().unwrap(),
        Frame::from_bytes(bytes).unwrap()
    );
}
