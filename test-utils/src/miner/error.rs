//! Errors that end a miner or one of its connections.

/// Why a miner (or one connection of it) stopped.
#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    /// The configuration cannot work (e.g. zero threads, malformed address).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Socket error.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The TCP connection could not be made in time.
    #[error("connecting to {0} timed out")]
    ConnectTimeout(String),
    /// Noise handshake or transport failure.
    #[error("noise: {0}")]
    Noise(#[from] sv2_noise::NoiseError),
    /// An SV2 message could not be encoded or decoded.
    #[error("sv2 codec: {0}")]
    Codec(#[from] sv2_codec::CodecError),
    /// SV1 framing failed (line too long, I/O).
    #[error("sv1: {0}")]
    Sv1(#[from] sv1::Sv1Error),
    /// The pool answered `SetupConnection` with `SetupConnection.Error`.
    #[error("SetupConnection rejected: {code} (flags {flags:#x})")]
    SetupRejected {
        /// The pool's error code.
        code: String,
        /// The flags it objected to.
        flags: u32,
    },
    /// The pool refused every channel this miner asked for.
    #[error("no channel could be opened: {0}")]
    OpenChannelRejected(String),
    /// The pool closed every open channel.
    #[error("all channels closed by the pool: {0}")]
    AllChannelsClosed(String),
    /// SV1: `mining.subscribe` failed.
    #[error("mining.subscribe failed: {0}")]
    SubscribeRejected(String),
    /// SV1: `mining.authorize` was refused.
    #[error("mining.authorize refused for {0}")]
    Unauthorized(String),
    /// The pool sent something that breaks the protocol.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The pool closed the connection.
    #[error("connection closed by the pool")]
    ConnectionClosed,
    /// A step of the connection setup took too long.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The miner task panicked or was cancelled.
    #[error("miner task failed: {0}")]
    Task(String),
}
