//! I/O shell shared by the roles: what every daemon of this workspace does the same way and
//! that is not protocol logic (that lives in `protocols/`).
//!
//! * [`config`]: [`ConfigError`] (key, problem, fix), TOML file loading and the checks several
//!   roles' configs share (URLs, credentials, listen addresses, bitcoin addresses, ...).
//! * [`defaults`]: default values of config keys several roles share.
//! * [`node`]: the `[bitcoind]` section ([`bitcoind_section!`]), bitcoind connection settings
//!   from its keys, waiting for the node at start.
//! * [`cli`]: the command-line shell: logging, `--config` / `check-config`, the tokio
//!   runtime, the Prometheus endpoint and the shutdown signal.
//! * [`net`]: the SV2 listener side: its config section ([`listener_section!`]), Noise
//!   server keys from config, binding, writing message batches, why a connection ended.
//! * [`start`]: [`StartError`], why a role could not start.
#![deny(missing_docs)]

pub mod cli;
pub mod config;
pub mod defaults;
pub mod net;
pub mod node;
pub mod start;

pub use config::ConfigError;
pub use start::StartError;

// Lets the macros' `role_kit::...` paths (serde attributes cannot take `$crate`) resolve in
// this crate's own tests.
extern crate self as role_kit;
