//! The single error type of the crate.

use crate::Protocol;

/// Everything that can go wrong while framing, encoding or decoding SV2 messages.
///
/// Decoding errors name the message and field being read, so a log line says
/// exactly which part of a peer's bytes was wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// Fewer than [`HEADER_LEN`](crate::framing::HEADER_LEN) bytes were given to the header parser.
    #[error("frame header needs 6 bytes, got {0}")]
    HeaderTooShort(usize),

    /// A frame declared (or a message would need) a payload larger than allowed.
    #[error("payload of {len} bytes exceeds the maximum of {max} bytes")]
    PayloadTooLarge {
        /// Declared or required payload length.
        len: usize,
        /// The limit in force (configured maximum, or 2^24-1 from the spec).
        max: usize,
    },

    /// A frame's header length does not match its payload.
    #[error("frame header declares {declared} payload bytes but the payload has {actual}")]
    FrameLengthMismatch {
        /// `msg_length` from the header.
        declared: u32,
        /// Actual payload length.
        actual: usize,
    },

    /// A frame used an `extension_type` this crate does not implement.
    #[error("unsupported extension type {extension_type:#06x} (msg_type {msg_type:#04x})")]
    UnsupportedExtension {
        /// Extension type without the channel bit.
        extension_type: u16,
        /// Message type of the frame.
        msg_type: u8,
    },

    /// The `msg_type` is not a message of the connection's subprotocol (nor a common message).
    #[error("unknown message type {msg_type:#04x} on a {protocol} connection")]
    UnknownMessageType {
        /// Subprotocol the connection was set up for.
        protocol: Protocol,
        /// Offending message type.
        msg_type: u8,
    },

    /// A frame was decoded as a specific message but carries another `msg_type`.
    #[error("expected message type {expected:#04x}, frame has {actual:#04x}")]
    UnexpectedMessageType {
        /// The message type asked for.
        expected: u8,
        /// The frame's message type.
        actual: u8,
    },

    /// The payload ended before a field could be read completely.
    #[error("{message}.{field}: payload truncated")]
    Truncated {
        /// Message being decoded.
        message: &'static str,
        /// Field being read.
        field: &'static str,
    },

    /// Bytes were left over after the last field of a message.
    #[error("{message}: {extra} trailing bytes after the last field")]
    TrailingBytes {
        /// Message being decoded.
        message: &'static str,
        /// Number of unread bytes.
        extra: usize,
    },

    /// A string field was not valid UTF-8.
    #[error("{message}.{field}: string is not valid UTF-8")]
    InvalidUtf8 {
        /// Message being decoded.
        message: &'static str,
        /// Offending field.
        field: &'static str,
    },

    /// A length or count (read from the wire, or found while encoding) is above the
    /// field type's maximum (e.g. a `B0_32` of 33 bytes, an `OPTION` with 2 elements).
    #[error("{message}.{field}: length {len} exceeds the field maximum {max}")]
    FieldTooLong {
        /// Message being encoded or decoded.
        message: &'static str,
        /// Offending field.
        field: &'static str,
        /// Actual length or element count.
        len: usize,
        /// Maximum allowed by the field's data type.
        max: usize,
    },

    /// `SetupConnection.protocol` (or a protocol hint) is not 0, 1 or 2.
    #[error("invalid subprotocol discriminant {0}")]
    InvalidProtocol(u8),

    /// A caller-provided output buffer cannot hold the encoded message.
    #[error("output buffer has room for {available} bytes, {needed} needed")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },

    /// I/O error surfaced through the tokio codec adapters.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
