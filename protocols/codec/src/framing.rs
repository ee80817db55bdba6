//! SV2 frame header and frame (spec section 3.2 "Framing").
//!
//! Wire layout: `extension_type: U16 LE` (top bit = `channel_msg`), `msg_type: U8`,
//! `msg_length: U24 LE`, then `msg_length` payload bytes.

use bytes::{BufMut, Bytes, BytesMut};

use crate::CodecError;

/// Size of the frame header on the wire.
pub const HEADER_LEN: usize = 6;

/// Largest payload a header can describe (`U24::MAX` = 2^24 - 1).
pub const MAX_PAYLOAD_LEN: usize = 0x00FF_FFFF;

/// Bit of the wire `extension_type` field that marks a channel message.
pub const CHANNEL_MSG_BIT: u16 = 0x8000;

/// A parsed SV2 frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Extension type without the channel bit (0 for the core protocols); at most `0x7fff`.
    pub extension_type: u16,
    /// Whether the channel bit is set: the payload starts with a `U32` channel id.
    pub channel_msg: bool,
    /// Message type.
    pub msg_type: u8,
    /// Payload length in bytes; at most [`MAX_PAYLOAD_LEN`].
    pub msg_length: u32,
}

impl Header {
    /// Parses the first [`HEADER_LEN`] bytes of `bytes` (further bytes are ignored).
    #[inline]
    pub fn parse(bytes: &[u8]) -> Result<Header, CodecError> {
        let Some(h) = bytes.first_chunk::<HEADER_LEN>() else {
            return Err(CodecError::HeaderTooShort(bytes.len()));
        };
        let ext = u16::from_le_bytes([h[0], h[1]]);
        Ok(Header {
            extension_type: ext & !CHANNEL_MSG_BIT,
            channel_msg: ext & CHANNEL_MSG_BIT != 0,
            msg_type: h[2],
            msg_length: u32::from_le_bytes([h[3], h[4], h[5], 0]),
        })
    }

    /// Serialises the header. Only the low 15 bits of `extension_type` and the low 24 bits of
    /// `msg_length` are representable; constructors in this crate never produce larger values.
    #[inline]
    pub fn write(&self, dst: &mut [u8; HEADER_LEN]) {
        let ext = (self.extension_type & !CHANNEL_MSG_BIT)
            | if self.channel_msg { CHANNEL_MSG_BIT } else { 0 };
        let [e0, e1] = ext.to_le_bytes();
        let [l0, l1, l2, _] = self.msg_length.to_le_bytes();
        *dst = [e0, e1, self.msg_type, l0, l1, l2];
    }

    /// The serialised header as an array.
    #[inline]
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        self.write(&mut out);
        out
    }

    /// Payload length as `usize`.
    #[inline]
    pub fn payload_len(&self) -> usize {
        self.msg_length as usize
    }

    /// Builds a header for a payload of `payload_len` bytes, checking the U24 limit.
    #[inline]
    pub fn for_payload(
        extension_type: u16,
        channel_msg: bool,
        msg_type: u8,
        payload_len: usize,
    ) -> Result<Header, CodecError> {
        if payload_len > MAX_PAYLOAD_LEN {
            return Err(CodecError::PayloadTooLarge {
                len: payload_len,
                max: MAX_PAYLOAD_LEN,
            });
        }
        Ok(Header {
            extension_type: extension_type & !CHANNEL_MSG_BIT,
            channel_msg,
            msg_type,
            // Fits: checked against MAX_PAYLOAD_LEN above.
            msg_length: payload_len as u32,
        })
    }
}

/// One complete SV2 frame: header plus (unencrypted) payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The frame header; `header.msg_length` equals `payload.len()` for frames built by this crate.
    pub header: Header,
    /// The message payload.
    pub payload: Bytes,
}

impl Frame {
    /// Builds a frame, filling in `msg_length` from the payload (which must fit in a U24).
    pub fn new(
        extension_type: u16,
        channel_msg: bool,
        msg_type: u8,
        payload: Bytes,
    ) -> Result<Frame, CodecError> {
        let header = Header::for_payload(extension_type, channel_msg, msg_type, payload.len())?;
        Ok(Frame { header, payload })
    }

    /// Splits one whole frame out of `bytes` (header + exactly `msg_length` payload bytes).
    pub fn from_bytes(bytes: Bytes) -> Result<Frame, CodecError> {
        let header = Header::parse(&bytes)?;
        let actual = bytes.len() - HEADER_LEN;
        if actual != header.payload_len() {
            return Err(CodecError::FrameLengthMismatch {
                declared: header.msg_length,
                actual,
            });
        }
        Ok(Frame {
            header,
            payload: bytes.slice(HEADER_LEN..),
        })
    }

    /// For a channel message, the channel id carried in the first four payload bytes.
    pub fn channel_id(&self) -> Option<u32> {
        if !self.header.channel_msg {
            return None;
        }
        self.payload
            .first_chunk::<4>()
            .map(|b| u32::from_le_bytes(*b))
    }

    /// Header plus payload length.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Appends header and payload to `dst`, checking that the header length matches the payload.
    pub fn encode_into(&self, dst: &mut BytesMut) -> Result<(), CodecError> {
        if self.header.payload_len() != self.payload.len() || self.payload.len() > MAX_PAYLOAD_LEN {
            return Err(CodecError::FrameLengthMismatch {
                declared: self.header.msg_length,
                actual: self.payload.len(),
            });
        }
        dst.reserve(self.encoded_len());
        dst.put_slice(&self.header.to_bytes());
        dst.put_slice(&self.payload);
        Ok(())
    }

    /// The whole frame as one contiguous buffer.
    pub fn to_bytes(&self) -> Result<Bytes, CodecError> {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode_into(&mut out)?;
        Ok(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_matches_spec() {
        let h = Header {
            extension_type: 0x0001,
            channel_msg: true,
            msg_type: 0x1a,
            msg_length: 0x0A0B0C,
        };
        let b = h.to_bytes();
        assert_eq!(b, [0x01, 0x80, 0x1a, 0x0C, 0x0B, 0x0A]);
        assert_eq!(Header::parse(&b).unwrap(), h);
    }

    #[test]
    fn header_parse_rejects_short_input() {
        assert!(matches!(
            Header::parse(&[0, 0, 0, 0, 0]),
            Err(CodecError::HeaderTooShort(5))
        ));
    }

    #[test]
    fn header_for_payload_checks_u24() {
        assert!(Header::for_payload(0, false, 0, MAX_PAYLOAD_LEN).is_ok());
        assert!(matches!(
            Header::for_payload(0, false, 0, MAX_PAYLOAD_LEN + 1),
            Err(CodecError::PayloadTooLarge { .. })
        ));
    }

    #[test]
    fn frame_bytes_roundtrip_and_channel_id() {
        let f = Frame::new(0, true, 0x1a, Bytes::from_static(&[7, 0, 0, 0, 9])).unwrap();
        assert_eq!(f.channel_id(), Some(7));
        let bytes = f.to_bytes().unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + 5);
        assert_eq!(Frame::from_bytes(bytes).unwrap(), f);
        let nochan = Frame::new(0, false, 0x00, Bytes::from_static(&[7, 0, 0, 0])).unwrap();
        assert_eq!(nochan.channel_id(), None);
    }

    #[test]
    fn frame_from_bytes_rejects_length_mismatch() {
        let mut raw = Header::for_payload(0, false, 1, 3)
            .unwrap()
            .to_bytes()
            .to_vec();
        raw.extend_from_slice(&[1, 2]);
        assert!(matches!(
            Frame::from_bytes(Bytes::from(raw)),
            Err(CodecError::FrameLengthMismatch {
                declared: 3,
                actual: 2
            })
        ));
    }

    #[test]
    fn encode_into_rejects_inconsistent_header() {
        let f = Frame {
            header: Header::for_payload(0, false, 1, 4).unwrap(),
            payload: Bytes::from_static(&[1]),
        };
        let mut dst = BytesMut::new();
        assert!(f.encode_into(&mut dst).is_err());
        assert!(dst.is_empty());
    }
}
