//! The top-level [`Message`] enum and protocol-aware frame decoding.

use bytes::{BufMut, BytesMut};

use crate::common::CommonMessage;
use crate::framing::{Frame, Header};
use crate::job_declaration::JobDeclarationMessage;
use crate::mining::MiningMessage;
use crate::template_distribution::TemplateDistributionMessage;
use crate::{CodecError, Protocol};

/// Any message of the four supported (sub)protocols, holding owned data.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Common message (valid on every connection).
    Common(CommonMessage),
    /// Mining protocol message.
    Mining(MiningMessage),
    /// Template Distribution protocol message.
    TemplateDistribution(TemplateDistributionMessage),
    /// Job Declaration protocol message.
    JobDeclaration(JobDeclarationMessage),
}

macro_rules! dispatch {
    ($self:expr, $m:ident => $e:expr) => {
        match $self {
            Message::Common($m) => $e,
            Message::Mining($m) => $e,
            Message::TemplateDistribution($m) => $e,
            Message::JobDeclaration($m) => $e,
        }
    };
}

impl Message {
    /// Message type number.
    pub fn msg_type(&self) -> u8 {
        dispatch!(self, m => m.msg_type())
    }

    /// Channel bit this crate sets when sending the message.
    pub fn channel_msg(&self) -> bool {
        dispatch!(self, m => m.channel_msg())
    }

    /// Extension type: always 0, the messages of this crate belong to the core protocols.
    pub fn extension_type(&self) -> u16 {
        0
    }

    /// Message name, e.g. `"SubmitSharesStandard"`.
    pub fn name(&self) -> &'static str {
        dispatch!(self, m => m.name())
    }

    /// The subprotocol of the message; `None` for common messages.
    pub fn protocol(&self) -> Option<Protocol> {
        match self {
            Message::Common(_) => None,
            Message::Mining(_) => Some(Protocol::Mining),
            Message::TemplateDistribution(_) => Some(Protocol::TemplateDistribution),
            Message::JobDeclaration(_) => Some(Protocol::JobDeclaration),
        }
    }

    /// Encoded payload length; fails if a field exceeds its data type's limit.
    pub fn payload_len(&self) -> Result<usize, CodecError> {
        dispatch!(self, m => m.payload_len())
    }

    /// Writes only the payload; returns the number of bytes written.
    pub fn encode_payload<B: BufMut>(&self, dst: &mut B) -> Result<usize, CodecError> {
        dispatch!(self, m => m.encode_payload(dst))
    }

    /// Appends a complete frame (header + payload) to `dst`. Nothing is written on error.
    pub fn encode_frame(&self, dst: &mut BytesMut) -> Result<(), CodecError> {
        dispatch!(self, m => m.encode_frame(dst))
    }

    /// Encodes into a standalone [`Frame`].
    pub fn to_frame(&self) -> Result<Frame, CodecError> {
        dispatch!(self, m => m.to_frame())
    }

    /// Decodes a frame received on a connection set up for `protocol`.
    ///
    /// Common messages decode on every connection; other messages only on a connection of
    /// their subprotocol. Frames with a non-zero `extension_type` are refused with
    /// [`CodecError::UnsupportedExtension`] (the spec asks receivers to ignore unknown
    /// extensions, which the caller can do on that error). The channel bit is not checked:
    /// SRI and the spec disagree on it for a few messages, and it carries no information the
    /// `msg_type` does not.
    pub fn from_frame(protocol: Protocol, frame: &Frame) -> Result<Message, CodecError> {
        Self::decode(protocol, &frame.header, &frame.payload)
    }

    /// Like [`Message::from_frame`] for a header and payload held separately. The payload
    /// must be exactly the frame's payload (`header.msg_length` is not consulted).
    pub fn decode(
        protocol: Protocol,
        header: &Header,
        payload: &[u8],
    ) -> Result<Message, CodecError> {
        if header.extension_type != 0 {
            return Err(CodecError::UnsupportedExtension {
                extension_type: header.extension_type,
                msg_type: header.msg_type,
            });
        }
        let msg_type = header.msg_type;
        if CommonMessage::is_known(msg_type) {
            return CommonMessage::decode_as(protocol, msg_type, payload, Message::Common);
        }
        match protocol {
            Protocol::Mining => {
                MiningMessage::decode_as(protocol, msg_type, payload, Message::Mining)
            }
            Protocol::TemplateDistribution => TemplateDistributionMessage::decode_as(
                protocol,
                msg_type,
                payload,
                Message::TemplateDistribution,
            ),
            Protocol::JobDeclaration => JobDeclarationMessage::decode_as(
                protocol,
                msg_type,
                payload,
                Message::JobDeclaration,
            ),
        }
    }
}

impl From<CommonMessage> for Message {
    fn from(m: CommonMessage) -> Self {
        Message::Common(m)
    }
}

impl From<MiningMessage> for Message {
    fn from(m: MiningMessage) -> Self {
        Message::Mining(m)
    }
}

impl From<TemplateDistributionMessage> for Message {
    fn from(m: TemplateDistributionMessage) -> Self {
        Message::TemplateDistribution(m)
    }
}

impl From<JobDeclarationMessage> for Message {
    fn from(m: JobDeclarationMessage) -> Self {
        Message::JobDeclaration(m)
    }
}

macro_rules! into_message {
    ($wrap:ident, $enum:ident, $module:ident: $($t:ident),* $(,)?) => {
        $(
            impl From<crate::$module::$t> for Message {
                fn from(m: crate::$module::$t) -> Self {
                    Message::$wrap($enum::$t(m))
                }
            }
        )*
    };
}

into_message!(Common, CommonMessage, common:
    SetupConnection, SetupConnectionSuccess, SetupConnectionError, ChannelEndpointChanged,
    Reconnect);
into_message!(Mining, MiningMessage, mining:
    OpenStandardMiningChannel, OpenStandardMiningChannelSuccess, OpenMiningChannelError,
    OpenExtendedMiningChannel, OpenExtendedMiningChannelSuccess, NewMiningJob, UpdateChannel,
    UpdateChannelError, CloseChannel, SetExtranoncePrefix, SubmitSharesStandard,
    SubmitSharesExtended, SubmitSharesSuccess, SubmitSharesError, NewExtendedMiningJob,
    SetNewPrevHash, SetTarget, SetCustomMiningJob, SetCustomMiningJobSuccess,
    SetCustomMiningJobError, SetGroupChannel);
into_message!(TemplateDistribution, TemplateDistributionMessage, template_distribution:
    CoinbaseOutputConstraints, NewTemplate, SetNewPrevHash, RequestTransactionData,
    RequestTransactionDataSuccess, RequestTransactionDataError, SubmitSolution);
into_message!(JobDeclaration, JobDeclarationMessage, job_declaration:
    AllocateMiningJobToken, AllocateMiningJobTokenSuccess, DeclareMiningJob,
    DeclareMiningJobSuccess, DeclareMiningJobError, ProvideMissingTransactions,
    ProvideMissingTransactionsSuccess, PushSolution);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{common, job_declaration as jd, mining, template_distribution as td};

    fn frame_of(m: &Message) -> Frame {
        let mut buf = BytesMut::new();
        m.encode_frame(&mut buf).unwrap();
        Frame::from_bytes(buf.freeze()).unwrap()
    }

    #[test]
    fn common_messages_decode_on_every_protocol() {
        let m: Message = common::Reconnect {
            new_host: "pool".into(),
            new_port: 34254,
        }
        .into();
        let f = frame_of(&m);
        for p in [
            Protocol::Mining,
            Protocol::JobDeclaration,
            Protocol::TemplateDistribution,
        ] {
            assert_eq!(Message::from_frame(p, &f).unwrap(), m);
        }
    }

    #[test]
    fn subprotocol_messages_need_their_protocol() {
        let cases: [(Message, Protocol); 3] = [
            (
                mining::SubmitSharesStandard::default().into(),
                Protocol::Mining,
            ),
            (
                td::SetNewPrevHash::default().into(),
                Protocol::TemplateDistribution,
            ),
            (jd::PushSolution::default().into(), Protocol::JobDeclaration),
        ];
        for (m, right) in cases {
            let f = frame_of(&m);
            assert_eq!(Message::from_frame(right, &f).unwrap(), m);
            assert_eq!(m.protocol(), Some(right));
            for wrong in [
                Protocol::Mining,
                Protocol::JobDeclaration,
                Protocol::TemplateDistribution,
            ] {
                if wrong == right {
                    continue;
                }
                assert!(matches!(
                    Message::from_frame(wrong, &f),
                    Err(CodecError::UnknownMessageType { .. })
                ));
            }
        }
    }

    #[test]
    fn header_fields_follow_the_message() {
        let m: Message = mining::SubmitSharesStandard::default().into();
        let f = frame_of(&m);
        assert!(f.header.channel_msg);
        assert_eq!(f.header.msg_type, 0x1a);
        assert_eq!(f.header.msg_length, 24);
        assert_eq!(f.header.extension_type, 0);
        assert_eq!(m.name(), "SubmitSharesStandard");
        let s: Message = common::SetupConnection::default().into();
        assert!(!frame_of(&s).header.channel_msg);
    }

    #[test]
    fn extension_frames_are_refused() {
        let f = Frame::new(0x4001, true, 0x00, bytes::Bytes::from_static(&[0; 4])).unwrap();
        assert!(matches!(
            Message::from_frame(Protocol::Mining, &f),
            Err(CodecError::UnsupportedExtension {
                extension_type: 0x4001,
                msg_type: 0
            })
        ));
    }
}
