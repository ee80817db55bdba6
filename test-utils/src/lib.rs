//! Test utilities for the pool's end-to-end tests.
//!
//! * [`bitcoind`]: a Bitcoin Core regtest stand-in (JSON-RPC over HTTP) with a controllable chain and mempool.
//! * [`miner`]: SV2 and SV1 CPU miners (and an SV1 many-connection load generator) with stats handles.
//! * [`loadgen`]: the `sv2-loadgen` load generator (SV2 connections to a pool, SV1 miners
//!   through a translator) with latency, fan-out, RSS and CPU measurements.
//! * [`fixtures`]: authority keys, regtest addresses and pool config text for the roles' e2e tests.
//! * [`cli`]: running a role's binary on (edited copies of) its example config.
//! * [`proc`]: external processes: find a binary, start it (killed on drop), wait for its port.
//! * [`sri`]: SRI's translator (`translator_sv2`) in front of a pool.
//! * [`sv2_client`]: a raw SV2 client over Noise for end-to-end tests.
#![deny(missing_docs)]

pub mod bin_io;
pub mod bitcoind;
pub mod cli;
pub mod fixtures;
pub mod http;
pub mod loadgen;
pub mod miner;
pub mod proc;
pub mod sri;
pub mod sv2_client;
