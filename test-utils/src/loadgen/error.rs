//! Errors of the load generator.

/// Why a connection, a spawned process or a whole load run failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Invalid options.
    #[error("configuration: {0}")]
    Config(String),
    /// TCP connect failed or timed out.
    #[error("connect: {0}")]
    Connect(std::io::Error),
    /// Noise handshake or transport failure.
    #[error("noise: {0}")]
    Noise(#[from] sv2_noise::NoiseError),
    /// A frame could not be encoded or decoded.
    #[error("codec: {0}")]
    Codec(#[from] sv2_codec::CodecError),
    /// `SetupConnection.Error`.
    #[error("SetupConnection refused: {0}")]
    SetupRefused(String),
    /// `OpenMiningChannel.Error`.
    #[error("channel refused: {0}")]
    OpenRefused(String),
    /// `CloseChannel` from the pool.
    #[error("channel closed by the pool: {0}")]
    Closed(String),
    /// The pool sent `Reconnect`.
    #[error("the pool asked to reconnect")]
    Reconnect,
    /// An answer did not come in time.
    #[error("timeout waiting for {0}")]
    Timeout(&'static str),
    /// The pool closed the TCP connection.
    #[error("connection closed by the pool")]
    Eof,
    /// A message that makes no sense at this point.
    #[error("unexpected message: {0}")]
    Unexpected(String),
    /// Starting or talking to a helper process (pool, translator) or the stand-in failed.
    #[error("{0}")]
    Env(String),
    /// Other I/O.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}
