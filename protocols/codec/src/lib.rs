//! Stratum V2 binary codec: framing plus every message of the Common, Mining, Template
//! Distribution and Job Declaration (sub)protocols, sans-IO, byte-compatible with SRI
//! (`binary_sv2` 7, `framing_sv2` 8, `common_messages_sv2` 9, `mining_sv2` 12,
//! `template_distribution_sv2` 7, `job_declaration_sv2` 10).
//!
//! # Layout
//! - [`framing`]: the 6-byte [`Header`] and [`Frame`].
//! - [`common`], [`mining`], [`template_distribution`], [`job_declaration`]: one struct per
//!   message plus one enum per subprotocol; [`Message`] wraps the four enums.
//! - [`message_types`]: `msg_type` numbers.
//! - [`tokio_codec`]: `tokio_util` [`Sv2FrameCodec`] (frames) and [`MessageCodec`] (typed).
//!
//! # Encoding
//! ```
//! use bytes::BytesMut;
//! use sv2_codec::{mining::SubmitSharesStandard, Frame, Message, Protocol, Sv2Message};
//!
//! let share = SubmitSharesStandard { channel_id: 1, sequence_number: 2, job_id: 3,
//!     nonce: 4, ntime: 5, version: 0x2000_0000 };
//! let mut buf = BytesMut::new();
//! share.encode_frame(&mut buf)?;                 // header + 24-byte payload
//! let frame = Frame::from_bytes(buf.freeze())?;
//! let msg = Message::from_frame(Protocol::Mining, &frame)?;
//! assert_eq!(msg, Message::from(share));
//! # Ok::<(), sv2_codec::CodecError>(())
//! ```
//!
//! # Why hand-written encodings instead of the `binary_sv2` derive
//! Messages are plain owned Rust structs (`u32`, `[u8; 32]`, `Vec<u8>`, `String`, `Vec<_>`,
//! `Option<_>`) so roles can store, clone and build them without lifetimes or fallible
//! conversions into `B0255`/`Seq0255`-style wrappers. Each field names its SV2 data type in the
//! `sv2_message!` definition (`pub coinbase_tx_prefix: Vec<u8> => B064K`), and small internal
//! wire types implement exactly the `binary_sv2` 7 encodings (little-endian integers, U8/U16/U24
//! length prefixes, `OPTION` as a 0/1-count sequence, `BOOL` read from its low bit). Compared
//! with the derive this also decodes from an immutable `&[u8]` (`binary_sv2` needs `&mut [u8]`),
//! avoids the derive's per-message field-marker vectors, rejects trailing bytes, and reports
//! typed [`CodecError`]s naming the message and field. Byte-for-byte equality with SRI for
//! every message is checked in `tests/sri_interop.rs`, where `binary_sv2` and SRI's message
//! crates are the oracle; they are dev-dependencies only.
//!
//! # Deliberate choices
//! - `STR0_255` fields are `String`: a non-UTF-8 string is refused with
//!   [`CodecError::InvalidUtf8`] (SRI accepts arbitrary bytes there).
//! - The channel bit is sent as SRI sends it (see [`Sv2Message::CHANNEL_MSG`]) and ignored
//!   when decoding, because SRI and the spec table disagree for a few messages.
//! - `SetupConnection.protocol` must be 0, 1 or 2 ([`CodecError::InvalidProtocol`] otherwise),
//!   as in SRI.
//! - Length fields never drive allocation beyond what the (already bounded) payload can hold.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[macro_use]
mod macros;

mod error;
mod message;
mod protocol;
mod sv2_message;
mod wire;

pub mod common;
pub mod framing;
pub mod job_declaration;
pub mod message_types;
pub mod mining;
pub mod template_distribution;
pub mod tokio_codec;

/// Re-export of the `bytes` crate used in this crate's API (`Bytes`, `BytesMut`, `BufMut`).
pub use bytes;
pub use common::CommonMessage;
pub use error::CodecError;
pub use framing::{Frame, Header, HEADER_LEN, MAX_PAYLOAD_LEN};
pub use job_declaration::JobDeclarationMessage;
pub use message::Message;
pub use mining::MiningMessage;
pub use protocol::Protocol;
pub use sv2_message::Sv2Message;
pub use template_distribution::TemplateDistributionMessage;
pub use tokio_codec::{MessageCodec, Sv2FrameCodec};
