//! `sv2-pool`: a Stratum V2 mining pool.
//!
//! Templates come from bitcoind ([`template`]), become jobs ([`jobs`]), are handed to SV2
//! channels over Noise ([`server`], [`session`]); shares are validated with the optimized
//! paths of `sv2-mining`; block candidates are assembled and submitted ([`block`]); accepted
//! work is aggregated and handed to a [`accounting::WorkSink`].
#![deny(missing_docs)]

pub mod accounting;
pub mod block;
pub mod config;
pub mod custom_jobs;
pub mod dashboard;
pub mod demo;
pub mod jobs;
pub mod run;
pub mod server;
pub mod session;
pub mod telemetry;
pub mod template;
pub mod treasury;
pub mod work_journal;

pub use run::{start_pool, PoolHandle, StartError};
