//! Test utilities for the pool's end-to-end tests.
//!
//! * [`bitcoind`]: a Bitcoin Core regtest stand-in (JSON-RPC over HTTP) with a controllable chain and mempool.
#![deny(missing_docs)]

pub mod bitcoind;
