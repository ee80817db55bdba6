//! Common messages (spec section 3.6), valid on connections of every subprotocol.
//!
//! Layout follows `common_messages_sv2` 9. `Reconnect` is a common message (0x04) there and
//! in the spec's message table; it is not repeated in the Mining protocol.

use crate::message_types as mt;
use crate::protocol::ProtocolU8;
use crate::wire::{Str0255, U16, U32};
use crate::Protocol;

/// `SetupConnection.flags` bits for the Mining protocol (spec 5.3.1).
pub mod mining_flags {
    /// Downstream requires standard jobs (cannot process extended jobs).
    pub const REQUIRES_STANDARD_JOBS: u32 = 1 << 0;
    /// Downstream will send `SetCustomMiningJob` on this connection.
    pub const REQUIRES_WORK_SELECTION: u32 = 1 << 1;
    /// Downstream requires version rolling.
    pub const REQUIRES_VERSION_ROLLING: u32 = 1 << 2;
    /// `SetupConnection.Success.flags`: upstream will not accept version changes.
    pub const SUCCESS_REQUIRES_FIXED_VERSION: u32 = 1 << 0;
    /// `SetupConnection.Success.flags`: upstream will not accept standard channels.
    pub const SUCCESS_REQUIRES_EXTENDED_CHANNELS: u32 = 1 << 1;
}

/// `SetupConnection.flags` bits for the Job Declaration protocol.
pub mod job_declaration_flags {
    /// JDC will send full transaction data with declared jobs (SRI: `has_declare_tx_data`).
    pub const DECLARE_TX_DATA: u32 = 1 << 0;
}

/// Commonly used `SetupConnection.Error.error_code` values.
pub mod error_codes {
    /// Some requested flags are not supported.
    pub const UNSUPPORTED_FEATURE_FLAGS: &str = "unsupported-feature-flags";
    /// The requested subprotocol is not served here.
    pub const UNSUPPORTED_PROTOCOL: &str = "unsupported-protocol";
    /// No common protocol version.
    pub const PROTOCOL_VERSION_MISMATCH: &str = "protocol-version-mismatch";
}

sv2_message! {
    /// `SetupConnection` (client -> server): first message on every connection.
    #[derive(Default)]
    pub struct SetupConnection [mt::SETUP_CONNECTION, channel_msg = false] {
        /// Subprotocol requested.
        pub protocol: Protocol => ProtocolU8,
        /// Minimum supported protocol version (currently 2).
        pub min_version: u16 => U16,
        /// Maximum supported protocol version (currently 2).
        pub max_version: u16 => U16,
        /// Optional features supported by the client (meaning depends on `protocol`).
        pub flags: u32 => U32,
        /// Host name or IP the client connected to.
        pub endpoint_host: String => Str0255,
        /// Port the client connected to.
        pub endpoint_port: u16 => U16,
        /// Device vendor.
        pub vendor: String => Str0255,
        /// Hardware version.
        pub hardware_version: String => Str0255,
        /// Firmware.
        pub firmware: String => Str0255,
        /// Vendor-defined device identifier.
        pub device_id: String => Str0255,
    }
}

impl SetupConnection {
    /// The version both sides support (the highest common one), if any.
    pub fn negotiate_version(&self, min_version: u16, max_version: u16) -> Option<u16> {
        if self.min_version > max_version || min_version > self.max_version {
            None
        } else {
            Some(self.max_version.min(max_version))
        }
    }
}

sv2_message! {
    /// `SetupConnection.Success` (server -> client).
    #[derive(Default, Eq, Copy)]
    pub struct SetupConnectionSuccess [mt::SETUP_CONNECTION_SUCCESS, channel_msg = false] {
        /// Version chosen for the connection.
        pub used_version: u16 => U16,
        /// Optional features supported by the server.
        pub flags: u32 => U32,
    }
}

sv2_message! {
    /// `SetupConnection.Error` (server -> client).
    #[derive(Default, Eq)]
    pub struct SetupConnectionError [mt::SETUP_CONNECTION_ERROR, channel_msg = false] {
        /// Flags that caused the error (0 if the cause is something else).
        pub flags: u32 => U32,
        /// Error code, see [`error_codes`].
        pub error_code: String => Str0255,
    }
}

sv2_message! {
    /// `ChannelEndpointChanged` (server -> client).
    #[derive(Default, Eq, Copy)]
    pub struct ChannelEndpointChanged [mt::CHANNEL_ENDPOINT_CHANGED, channel_msg = true] {
        /// Channel whose endpoint changed.
        pub channel_id: u32 => U32,
    }
}

sv2_message! {
    /// `Reconnect` (server -> client): redirect to another host of the same pool.
    #[derive(Default, Eq)]
    pub struct Reconnect [mt::RECONNECT, channel_msg = false] {
        /// New host; empty means the current host.
        pub new_host: String => Str0255,
        /// New port; 0 means the current port.
        pub new_port: u16 => U16,
    }
}

protocol_enum! {
    /// Any common message.
    pub enum CommonMessage {
        SetupConnection = mt::SETUP_CONNECTION,
        SetupConnectionSuccess = mt::SETUP_CONNECTION_SUCCESS,
        SetupConnectionError = mt::SETUP_CONNECTION_ERROR,
        ChannelEndpointChanged = mt::CHANNEL_ENDPOINT_CHANGED,
        Reconnect = mt::RECONNECT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sv2Message;

    #[test]
    fn setup_connection_known_bytes() {
        let m = SetupConnection {
            protocol: Protocol::Mining,
            min_version: 2,
            max_version: 2,
            flags: mining_flags::REQUIRES_VERSION_ROLLING,
            endpoint_host: "h".into(),
            endpoint_port: 3333,
            vendor: "v".into(),
            hardware_version: String::new(),
            firmware: String::new(),
            device_id: String::new(),
        };
        let mut out = Vec::new();
        m.encode_payload(&mut out).unwrap();
        assert_eq!(
            out,
            [0, 2, 0, 2, 0, 4, 0, 0, 0, 1, b'h', 0x05, 0x0d, 1, b'v', 0, 0, 0]
        );
        assert_eq!(SetupConnection::decode_payload(&out).unwrap(), m);
    }

    #[test]
    fn setup_connection_rejects_bad_protocol() {
        let bytes = [9, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            SetupConnection::decode_payload(&bytes),
            Err(crate::CodecError::InvalidProtocol(9))
        ));
    }

    #[test]
    fn version_negotiation() {
        let m = SetupConnection {
            min_version: 2,
            max_version: 3,
            ..Default::default()
        };
        assert_eq!(m.negotiate_version(2, 2), Some(2));
        assert_eq!(m.negotiate_version(1, 5), Some(3));
        assert_eq!(m.negotiate_version(4, 5), None);
    }

    #[test]
    fn oversize_string_is_an_encode_error() {
        let m = Reconnect {
            new_host: "x".repeat(256),
            new_port: 1,
        };
        assert!(matches!(
            m.payload_len(),
            Err(crate::CodecError::FieldTooLong {
                field: "new_host",
                len: 256,
                max: 255,
                ..
            })
        ));
        let mut dst = bytes::BytesMut::new();
        assert!(m.encode_frame(&mut dst).is_err());
        assert!(dst.is_empty());
    }
}
