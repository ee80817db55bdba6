//! Error types of the handshake and of the async connection layer.

use std::io;

use crate::certificate::CertificateError;
use crate::frame::FrameError;

/// Handshake failures (sans-IO state machines).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// A handshake message had the wrong size.
    #[error("handshake message must be {expected} bytes, got {got}")]
    Length {
        /// Required size.
        expected: usize,
        /// Received size.
        got: usize,
    },
    /// AEAD authentication of the encrypted static key or certificate failed.
    #[error("handshake decryption failed")]
    Decrypt,
    /// The ElligatorSwift ECDH could not be computed.
    #[error("ECDH failed")]
    Dh,
    /// The responder's certificate was rejected.
    #[error("server certificate rejected: {0}")]
    Certificate(#[from] CertificateError),
    /// A step was called twice or in the wrong order.
    #[error("handshake step called out of order")]
    OutOfOrder,
}

impl From<noise_protocol::Error> for HandshakeError {
    fn from(e: noise_protocol::Error) -> Self {
        match e.kind() {
            noise_protocol::ErrorKind::DH => Self::Dh,
            _ => Self::Decrypt,
        }
    }
}

/// Errors of [`crate::connect`] / [`crate::accept`] and of an established connection.
#[derive(Debug, thiserror::Error)]
pub enum NoiseError {
    /// Socket error (including the peer closing the connection mid-handshake).
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The handshake did not complete within the allowed time.
    #[error("handshake timed out")]
    Timeout,
    /// The handshake failed cryptographically or the certificate was rejected.
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// A transport frame could not be encrypted or decrypted.
    #[error("frame: {0}")]
    Frame(#[from] FrameError),
}
