//! Hostile input: arbitrary bytes never panic, oversize lengths are refused up front,
//! truncated input waits (codec) or fails (payload decoding).

mod common;

use bytes::BytesMut;
use proptest::prelude::*;
use sv2_codec::framing::Header;
use sv2_codec::{CodecError, Frame, Message, MessageCodec, Protocol, Sv2FrameCodec, HEADER_LEN};
use tokio_util::codec::Decoder;

const PROTOCOLS: [Protocol; 3] = [
    Protocol::Mining,
    Protocol::JobDeclaration,
    Protocol::TemplateDistribution,
];

/// Feeds a byte stream to a typed codec until it stalls or errors.
fn drain(codec: &mut MessageCodec, src: &mut BytesMut) -> Result<usize, CodecError> {
    let mut n = 0;
    while codec.decode(src)?.is_some() {
        n += 1;
    }
    Ok(n)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_stream_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for p in PROTOCOLS {
            let mut codec = MessageCodec::with_max_payload(p, 1024);
            let mut src = BytesMut::from(&data[..]);
            let _ = drain(&mut codec, &mut src);
        }
    }

    #[test]
    fn arbitrary_payload_never_panics(
        msg_type in any::<u8>(),
        ext in prop_oneof![Just(0u16), any::<u16>()],
        payload in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        for p in PROTOCOLS {
            let header = Header::for_payload(ext, false, msg_type, payload.len()).unwrap();
            let _ = Message::decode(p, &header, &payload);
        }
    }

    /// Every message type gets payloads built from plausible pieces (small length prefixes),
    /// which reach deeper into the field decoders than uniform random bytes.
    #[test]
    fn structured_garbage_never_panics(
        msg_type in prop_oneof![0u8..5, 0x10u8..0x26, 0x50u8..0x61, 0x70u8..0x77],
        pieces in proptest::collection::vec(
            prop_oneof![
                any::<u8>().prop_map(|b| vec![b]),
                (0u8..4).prop_map(|b| vec![b]),
                (0u16..40).prop_map(|n| n.to_le_bytes().to_vec()),
                proptest::collection::vec(any::<u8>(), 0..40),
            ],
            0..24,
        ),
    ) {
        let payload: Vec<u8> = pieces.concat();
        for p in PROTOCOLS {
            let header = Header::for_payload(0, false, msg_type, payload.len()).unwrap();
            let _ = Message::decode(p, &header, &payload);
        }
    }

    /// Any strict prefix of a valid payload fails to decode, and so does any extension of it.
    #[test]
    fn truncated_or_padded_payload_is_an_error(
        (protocol, msg) in common::any_message(),
        cut in any::<prop::sample::Index>(),
        extra in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        let frame = msg.to_frame().unwrap();
        let payload = &frame.payload;
        if !payload.is_empty() {
            let at = cut.index(payload.len());
            prop_assert!(Message::decode(protocol, &frame.header, &payload[..at]).is_err());
        }
        let mut padded = payload.to_vec();
        padded.extend_from_slice(&extra);
        let is_trailing = matches!(
            Message::decode(protocol, &frame.header, &padded),
            Err(CodecError::TrailingBytes { .. })
        );
        prop_assert!(is_trailing);
    }

    /// Flipping bytes of a valid frame never panics anything downstream.
    #[test]
    fn mutated_frames_never_panic(
        (protocol, msg) in common::any_message(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut buf = BytesMut::new();
        msg.encode_frame(&mut buf).unwrap();
        for (i, v) in flips {
            let at = i.index(buf.len());
            buf[at] ^= v;
        }
        let mut codec = MessageCodec::with_max_payload(protocol, 1 << 20).reject_extensions();
        let _ = drain(&mut codec, &mut buf);
    }

    /// A frame delivered in arbitrary pieces yields nothing until the last byte arrives.
    #[test]
    fn decoder_waits_for_complete_frame(
        (protocol, msg) in common::any_message(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut wire = BytesMut::new();
        msg.encode_frame(&mut wire).unwrap();
        let total = wire.len();
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(total)).collect();
        points.push(total);
        points.sort_unstable();
        points.dedup();

        let mut codec = MessageCodec::new(protocol);
        let mut src = BytesMut::new();
        let mut start = 0;
        for end in points {
            src.extend_from_slice(&wire[start..end]);
            start = end;
            let got = codec.decode(&mut src).unwrap();
            if end < total {
                prop_assert!(got.is_none());
            } else {
                prop_assert_eq!(got, Some(msg.clone()));
            }
        }
    }

    /// A declared length above the limit is refused as soon as the header is in, whatever follows.
    #[test]
    fn oversize_declared_length_rejected(
        limit in 0usize..4096,
        excess in 1usize..100_000,
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let declared = (limit + excess).min(sv2_codec::MAX_PAYLOAD_LEN);
        prop_assume!(declared > limit);
        let header = Header::for_payload(0, true, 0x1a, declared).unwrap();
        let mut src = BytesMut::from(&header.to_bytes()[..]);
        src.extend_from_slice(&tail);
        let cap_before = src.capacity();
        let mut codec = Sv2FrameCodec::new(limit);
        let rejected = matches!(
            codec.decode(&mut src),
            Err(CodecError::PayloadTooLarge { len, max }) if len == declared && max == limit
        );
        prop_assert!(rejected);
        prop_assert_eq!(src.capacity(), cap_before);
    }
}

#[test]
fn header_only_prefixes_wait() {
    let mut codec = Sv2FrameCodec::default();
    let frame = Frame::new(0, false, 1, bytes::Bytes::from_static(&[1, 2, 3])).unwrap();
    let wire = frame.to_bytes().unwrap();
    for i in 0..wire.len() {
        let mut src = BytesMut::from(&wire[..i]);
        assert!(codec.decode(&mut src).unwrap().is_none(), "prefix {i}");
        assert_eq!(src.len(), i, "nothing consumed");
    }
    let mut src = BytesMut::from(&wire[..]);
    assert_eq!(codec.decode(&mut src).unwrap(), Some(frame));
}

#[test]
fn spec_maximum_length_is_accepted_when_configured() {
    let mut codec = Sv2FrameCodec::new(sv2_codec::MAX_PAYLOAD_LEN);
    let header = Header::for_payload(0, false, 0x74, sv2_codec::MAX_PAYLOAD_LEN).unwrap();
    let mut src = BytesMut::from(&header.to_bytes()[..]);
    assert!(codec.decode(&mut src).unwrap().is_none());
    assert!(src.capacity() >= HEADER_LEN + sv2_codec::MAX_PAYLOAD_LEN);
}

#[test]
fn unknown_message_types_are_typed_errors() {
    let header = Header::for_payload(0, false, 0x1e, 0).unwrap();
    assert!(matches!(
        Message::decode(Protocol::Mining, &header, &[]),
        Err(CodecError::UnknownMessageType {
            protocol: Protocol::Mining,
            msg_type: 0x1e
        })
    ));
    let header = Header::for_payload(0, false, 0x71, 0).unwrap();
    assert!(matches!(
        Message::decode(Protocol::JobDeclaration, &header, &[]),
        Err(CodecError::UnknownMessageType { .. })
    ));
}
