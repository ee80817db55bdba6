//! Why a role could not start: the error every role's `start_*` returns.

/// Why a role could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A bad configuration value (the message names the key and the fix).
    #[error("{0}")]
    Config(String),
    /// The node could not be used.
    #[error("bitcoind: {0}")]
    Node(String),
    /// The listening socket could not be opened.
    #[error(transparent)]
    Listen(#[from] crate::net::ListenError),
}
