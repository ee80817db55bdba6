//! Declarative macros that generate message structs and per-subprotocol enums.

/// Defines a message struct and its [`Sv2Message`](crate::Sv2Message) implementation.
///
/// Each field is `name: RustType => WireMarker`; the marker (from [`crate::wire`]) fixes the
/// encoding, the Rust type is what roles hold.
macro_rules! sv2_message {
    (
        $(#[$meta:meta])*
        pub struct $name:ident [$msg_type:path, channel_msg = $channel:literal] {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty => $wire:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
        }

        impl $crate::sv2_message::sealed::Sealed for $name {
            #[inline]
            fn write_payload_unchecked<B: ::bytes::BufMut>(&self, dst: &mut B) {
                $( <$wire as $crate::wire::Wire>::write(&self.$field, dst); )*
            }
        }

        impl $crate::Sv2Message for $name {
            const MSG_TYPE: u8 = $msg_type;
            const CHANNEL_MSG: bool = $channel;
            const NAME: &'static str = stringify!($name);

            #[inline]
            fn payload_len(&self) -> Result<usize, $crate::CodecError> {
                let mut len = 0usize;
                $(
                    len += <$wire as $crate::wire::Wire>::size(&self.$field)
                        .map_err(|e| e.at(Self::NAME, stringify!($field)))?;
                )*
                Ok(len)
            }

            #[inline]
            fn decode_payload(payload: &[u8]) -> Result<Self, $crate::CodecError> {
                let mut r = $crate::wire::Reader::new(Self::NAME, payload);
                $(
                    let $field = <$wire as $crate::wire::Wire>::read(&mut r, stringify!($field))?;
                )*
                r.finish()?;
                Ok(Self { $($field),* })
            }
        }
    };
}

/// Defines the enum of one subprotocol's messages with dispatching helpers.
macro_rules! protocol_enum {
    (
        $(#[$meta:meta])*
        pub enum $enum:ident { $( $variant:ident = $msg_type:path ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $enum {
            $(
                #[doc = concat!("`", stringify!($variant), "` message.")]
                $variant($variant),
            )*
        }

        impl $enum {
            /// Message type number.
            pub fn msg_type(&self) -> u8 {
                match self { $( Self::$variant(_) => $msg_type, )* }
            }

            /// Channel bit used when sending.
            pub fn channel_msg(&self) -> bool {
                match self {
                    $( Self::$variant(_) => <$variant as $crate::Sv2Message>::CHANNEL_MSG, )*
                }
            }

            /// Message name.
            pub fn name(&self) -> &'static str {
                match self { $( Self::$variant(_) => <$variant as $crate::Sv2Message>::NAME, )* }
            }

            /// Encoded payload length (validates field limits).
            pub fn payload_len(&self) -> Result<usize, $crate::CodecError> {
                match self {
                    $( Self::$variant(m) => $crate::Sv2Message::payload_len(m), )*
                }
            }

            /// Appends a complete frame to `dst`. Nothing is written on error.
            pub fn encode_frame(&self, dst: &mut ::bytes::BytesMut) -> Result<(), $crate::CodecError> {
                match self {
                    $( Self::$variant(m) => $crate::Sv2Message::encode_frame(m, dst), )*
                }
            }

            /// Encodes into a standalone frame.
            pub fn to_frame(&self) -> Result<$crate::framing::Frame, $crate::CodecError> {
                match self {
                    $( Self::$variant(m) => $crate::Sv2Message::to_frame(m), )*
                }
            }

            /// Writes the payload only; returns the number of bytes written.
            pub fn encode_payload<B: ::bytes::BufMut>(&self, dst: &mut B) -> Result<usize, $crate::CodecError> {
                match self {
                    $( Self::$variant(m) => $crate::Sv2Message::encode_payload(m, dst), )*
                }
            }

            /// Decodes a payload of `msg_type`; `Ok(None)` if `msg_type` is not a message of
            /// this enum.
            pub fn decode(msg_type: u8, payload: &[u8]) -> Result<Option<Self>, $crate::CodecError> {
                match msg_type {
                    $(
                        $msg_type => Ok(Some(Self::$variant(
                            <$variant as $crate::Sv2Message>::decode_payload(payload)?,
                        ))),
                    )*
                    _ => Ok(None),
                }
            }

            /// Decodes a payload of `msg_type` and wraps it with `wrap` in one step (avoids
            /// moving the decoded value through several `Result`/`Option` layers, which is
            /// measurable for the small hot messages). Unknown types yield
            /// [`CodecError::UnknownMessageType`]($crate::CodecError::UnknownMessageType).
            #[inline]
            pub(crate) fn decode_as<T>(
                protocol: $crate::Protocol,
                msg_type: u8,
                payload: &[u8],
                wrap: impl FnOnce(Self) -> T,
            ) -> Result<T, $crate::CodecError> {
                match msg_type {
                    $(
                        $msg_type => Ok(wrap(Self::$variant(
                            <$variant as $crate::Sv2Message>::decode_payload(payload)?,
                        ))),
                    )*
                    _ => Err($crate::CodecError::UnknownMessageType { protocol, msg_type }),
                }
            }

            /// Whether `msg_type` belongs to this enum.
            pub fn is_known(msg_type: u8) -> bool {
                matches!(msg_type, $( $msg_type )|*)
            }
        }

        $(
            impl From<$variant> for $enum {
                fn from(m: $variant) -> Self {
                    Self::$variant(m)
                }
            }
        )*
    };
}
