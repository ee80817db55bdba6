//! CPU miners for end-to-end tests: an SV2 miner ([`sv2`]) and an SV1 miner that talks like
//! Antminer firmware, with a many-connection load mode ([`sv1`]).
//!
//! Both really hash: jobs become [`work::JobTemplate`]s whose search space is cut into units
//! handed to OS threads (see [`work`] for the order in which nonce, extranonce, version bits
//! and ntime are rolled). Shares meeting the current target go back to the async IO task,
//! which submits them unless the job or target changed meanwhile. Every miner returns a
//! [`MinerHandle`] whose [`MinerStats`] (shares submitted / accepted / rejected by reason,
//! blocks found, last job id, ...) tests assert on:
//!
//! ```no_run
//! # async fn demo(key: sv2_noise::secp256k1::XOnlyPublicKey) -> Result<(), test_utils::miner::MinerError> {
//! use std::time::Duration;
//! use test_utils::miner::{sv1, sv2};
//!
//! let sv2_miner = sv2::spawn(sv2::Sv2MinerConfig::new("127.0.0.1:34254", key, "site.a"))?;
//! let sv1_miner = sv1::spawn(sv1::Sv1MinerConfig::new("127.0.0.1:3333", "site.b"))?;
//! let ok = sv2_miner.wait_for(Duration::from_secs(20), |s| s.shares_accepted > 0).await;
//! assert!(ok.is_some());
//! let stats = sv1_miner.stop_and_join().await?;
//! println!("{} shares rejected", stats.shares_rejected);
//! # Ok(()) }
//! ```
//!
//! Hashing speed: the nonce loop uses `sv2_mining`'s multi-lane SHA-256d (SHA-NI when the CPU
//! has it). In unoptimised (`dev`) builds of this crate the loop is much slower than in
//! release builds; tests should use pool difficulties that need few hashes.

pub mod error;
pub mod handle;
pub(crate) mod hashpool;
pub mod stats;
pub mod sv1;
pub mod sv2;
pub mod util;
pub mod work;

pub use error::MinerError;

/// A process-wide unique id for one connection's protocol state, so that shares found for a
/// previous connection are never submitted on a new one that reuses channel or job ids.
pub(crate) fn next_session_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
pub use handle::MinerHandle;
pub use stats::{MinerStats, StatsHandle};
