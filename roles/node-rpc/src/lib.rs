//! Bitcoin Core JSON-RPC access for the roles.
//!
//! `bitcoincore-rpc` provides the HTTP transport and authentication (user/password or
//! cookie file). Its typed replies predate Bitcoin Core 31 (for example `warnings` is now a
//! list), so replies are decoded into this crate's own serde types in [`types`], which are
//! tested against real Core 31 captures. Blocking RPC calls run on tokio's blocking pool.
#![deny(missing_docs)]

pub mod client;
pub mod submit;
pub mod types;

pub use client::{NodeAuth, NodeClient, NodeConfig, RpcError};
pub use submit::SubmitBlockOutcome;
pub use types::{
    BlockTemplate, BlockchainInfo, MempoolEntry, MempoolFees, NetworkInfo, TemplateTransaction,
};
