//! The [`Sv2Message`] trait implemented by every message struct.

use bytes::{BufMut, BytesMut};

use crate::framing::{Frame, Header, HEADER_LEN};
use crate::CodecError;

pub(crate) mod sealed {
    /// Writing without validation is only reachable through the checked entry points.
    pub trait Sealed {
        /// Writes the payload; the caller has validated the message with `payload_len`.
        fn write_payload_unchecked<B: bytes::BufMut>(&self, dst: &mut B);
    }
}

/// One SV2 message type: its `msg_type`, channel bit, and payload encoding.
///
/// Implemented by every message struct of this crate (sealed).
pub trait Sv2Message: sealed::Sealed + Sized {
    /// Message type number.
    const MSG_TYPE: u8;
    /// Channel bit this crate sets when sending the message (SRI's value).
    const CHANNEL_MSG: bool;
    /// Message name, for errors and logs.
    const NAME: &'static str;

    /// Encoded payload length; fails if a field exceeds its data type's limit.
    fn payload_len(&self) -> Result<usize, CodecError>;

    /// Decodes a whole payload; every byte must be consumed.
    fn decode_payload(payload: &[u8]) -> Result<Self, CodecError>;

    /// Writes the payload (no frame header) to `dst`, returning the number of bytes written.
    fn encode_payload<B: BufMut>(&self, dst: &mut B) -> Result<usize, CodecError> {
        let len = self.payload_len()?;
        if dst.remaining_mut() < len {
            return Err(CodecError::BufferTooSmall {
                needed: len,
                available: dst.remaining_mut(),
            });
        }
        self.write_payload_unchecked(dst);
        Ok(len)
    }

    /// The frame header describing this message.
    fn header(&self) -> Result<Header, CodecError> {
        Header::for_payload(0, Self::CHANNEL_MSG, Self::MSG_TYPE, self.payload_len()?)
    }

    /// Appends a complete frame (header + payload) to `dst`. Nothing is written on error.
    fn encode_frame(&self, dst: &mut BytesMut) -> Result<(), CodecError> {
        let header = self.header()?;
        dst.reserve(HEADER_LEN + header.payload_len());
        dst.put_slice(&header.to_bytes());
        self.write_payload_unchecked(dst);
        Ok(())
    }

    /// Encodes into a standalone [`Frame`].
    fn to_frame(&self) -> Result<Frame, CodecError> {
        let header = self.header()?;
        let mut payload = BytesMut::with_capacity(header.payload_len());
        self.write_payload_unchecked(&mut payload);
        Ok(Frame {
            header,
            payload: payload.freeze(),
        })
    }

    /// Decodes from a frame, checking its `msg_type` (the channel bit is not checked, see the
    /// crate docs).
    fn from_frame(frame: &Frame) -> Result<Self, CodecError> {
        if frame.header.extension_type != 0 {
            return Err(CodecError::UnsupportedExtension {
                extension_type: frame.header.extension_type,
                msg_type: frame.header.msg_type,
            });
        }
        if frame.header.msg_type != Self::MSG_TYPE {
            return Err(CodecError::UnexpectedMessageType {
                expected: Self::MSG_TYPE,
                actual: frame.header.msg_type,
            });
        }
        Self::decode_payload(&frame.payload)
    }
}
