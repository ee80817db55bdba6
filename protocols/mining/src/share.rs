//! Per-job share hashers: the hot path of share validation.
//!
//! Both hashers precompute everything that is fixed for a job so that each
//! share costs only the SHA-256 compressions its variable bytes force, with
//! no heap allocation:
//!
//! * [`StandardJobHasher`] (standard channels, merkle root fixed per job):
//!   the first 64 header bytes depend only on the version, so the state after
//!   them is cached per version. A share costs
//!   [`StandardJobHasher::COMPRESSIONS_CACHE_HIT`] (= 2: the second header
//!   block and the second SHA-256) or
//!   [`StandardJobHasher::COMPRESSIONS_CACHE_MISS`] (= 3).
//! * [`ExtendedJobHasher`] (extended channels, coinbase
//!   `prefix || extranonce || suffix`): the state after the whole 64-byte
//!   blocks of the fixed prefix is cached; per share it compresses the rest of
//!   the coinbase, the txid's second hash, 3 compressions per merkle level
//!   and 3 for the header ([`ExtendedJobHasher::compressions_per_share`]).
//!   [`ExtendedJobHasher::hash`] also remembers the merkle roots of recent
//!   extranonces, so a repeated extranonce costs only the header's 3.
//!
//! The batch functions ([`StandardJobHasher::hash_batch`],
//! [`ExtendedJobHasher::hash_batch`], [`hash_extended_batch`]) hash up to
//! [`BATCH_LANES`] shares in lock-step: independent SHA-256 chains
//! interleaved so the CPU's SHA unit stays busy, several times the
//! single-share throughput with SHA extensions.

mod batch;
mod extended;
mod lanes;
mod standard;

pub use batch::hash_extended_batch;
pub use extended::{ExtendedJobHasher, ExtendedShare};
pub use standard::{StandardJobHasher, StandardShare};

/// Number of shares hashed in lock-step by the batch functions (measured:
/// the SHA-NI kernel's per-compression cost flattens out at 4 lanes).
pub const BATCH_LANES: usize = 4;

/// Versions whose first-block midstate a [`StandardJobHasher`] keeps.
pub const VERSION_CACHE_SLOTS: usize = 8;

/// Extranonces whose merkle root an [`ExtendedJobHasher`] keeps.
pub const ROOT_CACHE_SLOTS: usize = 8;
