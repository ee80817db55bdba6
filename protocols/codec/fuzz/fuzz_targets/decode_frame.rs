//! Fuzz the frame and message decoders with arbitrary byte streams.
//!
//! Input layout: byte 0 picks the subprotocol (mod 3), the rest is a raw byte stream as it
//! would arrive on a socket. Invariants: nothing panics, and every message that decodes
//! re-encodes to a frame that decodes to the same message.
//!
//! Run with `cargo fuzz run decode_frame` from `protocols/codec/fuzz`.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sv2_codec::{Frame, Message, MessageCodec, Protocol, Sv2FrameCodec};
use tokio_util::codec::Decoder;

fn protocol(b: u8) -> Protocol {
    match b % 3 {
        0 => Protocol::Mining,
        1 => Protocol::JobDeclaration,
        _ => Protocol::TemplateDistribution,
    }
}

fn check_reencode(protocol: Protocol, msg: &Message) {
    let mut buf = BytesMut::new();
    msg.encode_frame(&mut buf)
        .expect("a decoded message is always encodable");
    let frame = Frame::from_bytes(buf.freeze()).expect("own frame parses");
    let again = Message::from_frame(protocol, &frame).expect("own frame decodes");
    // f32 NaN payloads compare unequal, so compare the encodings instead.
    assert_eq!(again.to_frame().ok(), msg.to_frame().ok());
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let protocol = protocol(selector);

    // Typed stream decoding (small limit so the oversize path is exercised too).
    let mut codec = MessageCodec::with_max_payload(protocol, 64 * 1024).reject_extensions();
    let mut src = BytesMut::from(stream);
    while let Ok(Some(msg)) = codec.decode(&mut src) {
        check_reencode(protocol, &msg);
    }

    // Frame-level decoding, then message decoding of each frame on every protocol.
    let mut frames = Sv2FrameCodec::new(64 * 1024);
    let mut src = BytesMut::from(stream);
    while let Ok(Some(frame)) = frames.decode(&mut src) {
        for p in [
            Protocol::Mining,
            Protocol::JobDeclaration,
            Protocol::TemplateDistribution,
        ] {
            if let Ok(msg) = Message::from_frame(p, &frame) {
                check_reencode(p, &msg);
            }
        }
    }
});
