//! Mining arithmetic for Stratum V2, sans-IO: hashing and share validation helpers, merkle
//! trees, targets, coinbase construction, extranonce allocation, vardiff and channel state.
#![deny(missing_docs)]

pub mod channel;
pub mod coinbase;
pub mod extranonce;
pub mod hash;
pub mod header;
pub mod merkle;
pub mod sha256d;
pub mod share;
pub mod target;
pub mod vardiff;
