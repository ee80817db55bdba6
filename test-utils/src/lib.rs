//! Test utilities for the pool's end-to-end tests.
//!
//! * [`bitcoind`]: a Bitcoin Core regtest stand-in (JSON-RPC over HTTP) with a controllable chain and mempool.
//! * [`miner`]: SV2 and SV1 CPU miners (and an SV1 many-connection load generator) with stats handles.
//! * [`loadgen`]: the `sv2-loadgen` load generator (SV2 connections to a pool, SV1 miners
//!   through a translator) with latency, fan-out, RSS and CPU measurements.
#![deny(missing_docs)]

pub mod bitcoind;
pub mod loadgen;
pub mod miner;
