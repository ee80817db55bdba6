//! I/O shell shared by the roles: what every daemon of this workspace does the same way and
//! that is not protocol logic (that lives in `protocols/`).
//!
//! * [`config`]: [`ConfigError`] (key, problem, fix), TOML file loading and the checks several
//!   roles' configs share (URLs, credentials, listen addresses, bitcoin addresses, ...).
//! * [`node`]: bitcoind connection settings from config keys, waiting for the node at start.
//! * [`cli`]: the command-line shell: logging, `--config` / `check-config`, the tokio
//!   runtime, the Prometheus endpoint and the shutdown signal.
//! * [`net`]: the SV2 listener side: Noise server keys from config, binding, writing
//!   message batches.
#![deny(missing_docs)]

pub mod cli;
pub mod config;
pub mod net;
pub mod node;

pub use config::ConfigError;
