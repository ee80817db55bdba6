//! `tokio_util::codec` adapters for plaintext SV2 frames and typed messages.
//!
//! These work on unencrypted streams (or on the plaintext side of a Noise transport).

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::framing::{Frame, Header, HEADER_LEN, MAX_PAYLOAD_LEN};
use crate::{CodecError, Message, Protocol, Sv2Message};

/// Default payload limit of [`Sv2FrameCodec`]: 1 MiB.
pub const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;

/// Splits a byte stream into [`Frame`]s and writes frames/messages back.
///
/// A header declaring more than `max_payload` bytes is rejected with
/// [`CodecError::PayloadTooLarge`] as soon as the header is complete, before any payload is
/// buffered. For an acceptable frame the buffer is grown to at most the declared length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sv2FrameCodec {
    /// Largest payload accepted from the peer (capped at 2^24-1, the U24 maximum).
    pub max_payload: usize,
}

impl Default for Sv2FrameCodec {
    fn default() -> Self {
        Sv2FrameCodec {
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

impl Sv2FrameCodec {
    /// A codec accepting payloads up to `max_payload` bytes (values above 2^24-1 act as 2^24-1).
    pub fn new(max_payload: usize) -> Self {
        Sv2FrameCodec {
            max_payload: max_payload.min(MAX_PAYLOAD_LEN),
        }
    }
}

impl Decoder for Sv2FrameCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        let header = match Header::parse(src) {
            Ok(h) => h,
            Err(_) => return Ok(None),
        };
        let len = header.payload_len();
        if len > self.max_payload {
            return Err(CodecError::PayloadTooLarge {
                len,
                max: self.max_payload,
            });
        }
        let total = HEADER_LEN + len;
        if src.len() < total {
            // Bounded by the declared (and already checked) length.
            src.reserve(total - src.len());
            return Ok(None);
        }
        let mut frame = src.split_to(total);
        frame.advance(HEADER_LEN);
        Ok(Some(Frame {
            header,
            payload: frame.freeze(),
        }))
    }
}

impl Encoder<Frame> for Sv2FrameCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode_into(dst)
    }
}

impl Encoder<&Frame> for Sv2FrameCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode_into(dst)
    }
}

impl Encoder<&Message> for Sv2FrameCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode_frame(dst)
    }
}

impl Encoder<Message> for Sv2FrameCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode_frame(dst)
    }
}

/// Payload limit [`MessageCodec::new`] picks for a subprotocol: 1 MiB for Mining, the U24
/// maximum for Template Distribution and Job Declaration, whose transaction lists
/// (`RequestTransactionData.Success`, `ProvideMissingTransactions.Success`) legitimately
/// exceed 1 MiB.
pub fn default_max_payload(protocol: Protocol) -> usize {
    match protocol {
        Protocol::Mining => DEFAULT_MAX_PAYLOAD,
        Protocol::JobDeclaration | Protocol::TemplateDistribution => MAX_PAYLOAD_LEN,
    }
}

/// Decodes a byte stream straight into typed [`Message`]s of one subprotocol; encodes
/// messages (or any single [`Sv2Message`] via [`MessageCodec::encode_message`]).
///
/// Frames with a non-zero `extension_type` are skipped by default, as the spec requires for
/// unknown extensions (see [`MessageCodec::skipped_extension_frames`]); call
/// [`MessageCodec::reject_extensions`] to turn them into errors instead. A proxy that must
/// forward unknown channel-bit extension frames should use [`Sv2FrameCodec`] and decode with
/// [`Message::from_frame`] itself.
#[derive(Debug, Clone)]
pub struct MessageCodec {
    frames: Sv2FrameCodec,
    protocol: Protocol,
    reject_extensions: bool,
    skipped: u64,
}

impl MessageCodec {
    /// Codec for a connection of `protocol`, with [`default_max_payload`].
    pub fn new(protocol: Protocol) -> Self {
        Self::with_max_payload(protocol, default_max_payload(protocol))
    }

    /// Codec with an explicit payload limit.
    pub fn with_max_payload(protocol: Protocol, max_payload: usize) -> Self {
        MessageCodec {
            frames: Sv2FrameCodec::new(max_payload),
            protocol,
            reject_extensions: false,
            skipped: 0,
        }
    }

    /// Return [`CodecError::UnsupportedExtension`] for extension frames instead of skipping them.
    pub fn reject_extensions(mut self) -> Self {
        self.reject_extensions = true;
        self
    }

    /// The subprotocol this codec decodes.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Payload limit in force.
    pub fn max_payload(&self) -> usize {
        self.frames.max_payload
    }

    /// Number of extension frames skipped so far.
    pub fn skipped_extension_frames(&self) -> u64 {
        self.skipped
    }

    /// Appends one message's frame to `dst` without wrapping it in [`Message`].
    pub fn encode_message<M: Sv2Message>(
        &mut self,
        msg: &M,
        dst: &mut BytesMut,
    ) -> Result<(), CodecError> {
        msg.encode_frame(dst)
    }
}

impl Decoder for MessageCodec {
    type Item = Message;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, CodecError> {
        loop {
            let Some(frame) = self.frames.decode(src)? else {
                return Ok(None);
            };
            if frame.header.extension_type != 0 && !self.reject_extensions {
                self.skipped = self.skipped.saturating_add(1);
                continue;
            }
            return Message::from_frame(self.protocol, &frame).map(Some);
        }
    }
}

impl Encoder<&Message> for MessageCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode_frame(dst)
    }
}

impl Encoder<Message> for MessageCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode_frame(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mining::SubmitSharesStandard;

    #[test]
    fn oversize_rejected_from_header_alone() {
        let mut codec = Sv2FrameCodec::new(100);
        let h = Header::for_payload(0, false, 0, 101).unwrap();
        let mut src = BytesMut::from(&h.to_bytes()[..]);
        assert!(matches!(
            codec.decode(&mut src),
            Err(CodecError::PayloadTooLarge { len: 101, max: 100 })
        ));
    }

    #[test]
    fn reserve_is_bounded_by_declared_length() {
        let mut codec = Sv2FrameCodec::default();
        let h = Header::for_payload(0, false, 0, 10).unwrap();
        let mut src = BytesMut::new();
        src.extend_from_slice(&h.to_bytes());
        assert!(codec.decode(&mut src).unwrap().is_none());
        assert!(src.capacity() >= HEADER_LEN + 10);
        assert!(src.capacity() < HEADER_LEN + 10 + 64);
    }

    #[test]
    fn partial_then_complete() {
        let msg: Message = SubmitSharesStandard {
            channel_id: 3,
            ..Default::default()
        }
        .into();
        let mut all = BytesMut::new();
        msg.encode_frame(&mut all).unwrap();
        msg.encode_frame(&mut all).unwrap();
        let mut codec = MessageCodec::new(Protocol::Mining);
        let mut src = BytesMut::new();
        let mut out = Vec::new();
        for b in all.iter() {
            src.extend_from_slice(&[*b]);
            if let Some(m) = codec.decode(&mut src).unwrap() {
                out.push(m);
            }
        }
        assert_eq!(out, vec![msg.clone(), msg]);
        assert!(src.is_empty());
    }

    #[test]
    fn extension_frames_skipped_or_rejected() {
        let ext = Frame::new(0x4000, false, 1, bytes::Bytes::from_static(&[1, 2])).unwrap();
        let real: Message = SubmitSharesStandard::default().into();
        let mut src = BytesMut::new();
        ext.encode_into(&mut src).unwrap();
        real.encode_frame(&mut src).unwrap();
        let mut lenient = MessageCodec::new(Protocol::Mining);
        let mut s1 = src.clone();
        assert_eq!(lenient.decode(&mut s1).unwrap(), Some(real));
        assert_eq!(lenient.skipped_extension_frames(), 1);
        let mut strict = MessageCodec::new(Protocol::Mining).reject_extensions();
        assert!(matches!(
            strict.decode(&mut src),
            Err(CodecError::UnsupportedExtension { .. })
        ));
    }

    #[test]
    fn default_limits() {
        assert_eq!(Sv2FrameCodec::default().max_payload, 1 << 20);
        assert_eq!(Sv2FrameCodec::new(usize::MAX).max_payload, MAX_PAYLOAD_LEN);
        assert_eq!(
            MessageCodec::new(Protocol::TemplateDistribution).max_payload(),
            MAX_PAYLOAD_LEN
        );
    }
}
