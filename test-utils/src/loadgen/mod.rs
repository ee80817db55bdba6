//! Load generator for the pool and the translator (`sv2-loadgen`).
//!
//! * SV2 ([`run::run_sv2`]): N connections, each TCP + Noise + `SetupConnection` + one
//!   standard or extended channel, from several loopback source addresses when N exceeds one
//!   address's ephemeral ports ([`addrs`]). Shares are mined for real at the pool's target
//!   ([`channel`]) and submitted at a target rate, with fractions of bad-nonce, stale and
//!   duplicate shares ([`mix`]); answers are matched by sequence number ([`pending`]) for
//!   submit → `SubmitShares.Success` latency. The run can start its own bitcoind stand-in and
//!   the real `sv2-pool` binary ([`env`]) so that it controls blocks (new-block fan-out,
//!   stale shares) and measures the pool's RSS and CPU from `/proc` ([`procfs`]).
//! * SV1 ([`sv1::run_sv1`]): thousands of Antminer-like miners through `sv2-translator`,
//!   reusing [`crate::miner::sv1::spawn_load`].
//!
//! Runs are bounded in connections, shares and time, print a progress line every second and
//! end with a [`report::Report`] (table and JSON); [`summary`] condenses several reports into
//! the table of performance targets.
//!
//! ```no_run
//! # async fn demo() -> Result<(), test_utils::loadgen::LoadError> {
//! use std::time::Duration;
//! use test_utils::loadgen::{run_sv2, PoolTarget, SpawnPool, Sv2LoadOptions};
//!
//! let mut opts = Sv2LoadOptions::new(PoolTarget::Spawn(SpawnPool::default()), 100);
//! opts.rate = 50_000.0;
//! opts.duration = Duration::from_secs(10);
//! let report = run_sv2(opts).await?;
//! println!("{}", report.table());
//! # Ok(()) }
//! ```

pub mod addrs;
pub mod channel;
pub mod conn;
pub mod env;
pub mod error;
pub mod fanout;
pub mod hist;
pub mod mix;
pub mod pending;
pub mod procfs;
pub mod report;
pub mod run;
pub mod stats;
pub mod summary;
pub mod sv1;

pub use error::LoadError;
pub use mix::ShareMix;
pub use report::Report;
pub use run::{run_sv2, PoolTarget, SpawnPool, Sv2LoadOptions};
pub use stats::ShareKind;
pub use sv1::{run_sv1, SpawnTranslator, Sv1LoadOptions, TranslatorTarget};
