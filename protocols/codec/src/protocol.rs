//! The subprotocol a connection speaks (`SetupConnection.protocol`).

use core::fmt;

use bytes::BufMut;

use crate::wire::{Reader, SizeError, Wire};
use crate::CodecError;

/// SV2 subprotocol, as negotiated by `SetupConnection.protocol`.
///
/// Needed to decode frames: it tells which subprotocol's messages are legal on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Protocol {
    /// Mining Protocol (0). The default, being what most connections speak.
    #[default]
    Mining = 0,
    /// Job Declaration Protocol (1).
    JobDeclaration = 1,
    /// Template Distribution Protocol (2).
    TemplateDistribution = 2,
}

impl Protocol {
    /// Wire discriminant.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for Protocol {
    type Error = CodecError;

    /// Accepts 0, 1 and 2. The spec also lists 3 (Job Distribution, unspecified); SRI
    /// rejects it and so do we.
    fn try_from(v: u8) -> Result<Self, CodecError> {
        match v {
            0 => Ok(Protocol::Mining),
            1 => Ok(Protocol::JobDeclaration),
            2 => Ok(Protocol::TemplateDistribution),
            other => Err(CodecError::InvalidProtocol(other)),
        }
    }
}

impl From<Protocol> for u8 {
    fn from(p: Protocol) -> u8 {
        p as u8
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Mining => "Mining",
            Protocol::JobDeclaration => "JobDeclaration",
            Protocol::TemplateDistribution => "TemplateDistribution",
        })
    }
}

/// Wire marker: a `U8` that must be a valid [`Protocol`].
pub(crate) struct ProtocolU8;

impl Wire for ProtocolU8 {
    type Value = Protocol;
    const MIN_LEN: usize = 1;
    fn size(_: &Protocol) -> Result<usize, SizeError> {
        Ok(1)
    }
    fn write<B: BufMut>(v: &Protocol, dst: &mut B) {
        dst.put_u8(v.as_u8());
    }
    fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Protocol, CodecError> {
        let [b] = r.array::<1>(field)?;
        Protocol::try_from(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discriminants() {
        for p in [
            Protocol::Mining,
            Protocol::JobDeclaration,
            Protocol::TemplateDistribution,
        ] {
            assert_eq!(Protocol::try_from(p.as_u8()).unwrap(), p);
        }
        assert!(matches!(
            Protocol::try_from(3),
            Err(CodecError::InvalidProtocol(3))
        ));
    }
}
