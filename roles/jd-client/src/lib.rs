//! `sv2-jd-client`: a Stratum V2 job declarator client (JDC), run at the miner's site.
//!
//! It mines on block templates from the miner's **own** bitcoind while being paid by a pool:
//!
//! * templates come from the own node (`getblocktemplate`, long polled);
//! * each becomes a job served to downstream SV2 miners (or translators) on the client's own
//!   Noise listener, reusing the pool's session code ([`downstream`]);
//! * the job is declared to the pool's job declarator server (`DeclareMiningJob`, answering
//!   `ProvideMissingTransactions`) and, once accepted, set on an extended channel at the pool
//!   (`SetCustomMiningJob` with the server's token) ([`runtime`], [`jobs`]);
//! * downstream shares that meet the pool's target are forwarded to the pool; found blocks go
//!   to the own node and to the job declarator server (`PushSolution`);
//! * when the pool or its JDS rejects work or goes away, the client switches to the next
//!   configured upstream or mines solo to its own address, without disconnecting miners.
#![deny(missing_docs)]

pub mod config;
pub mod downstream;
pub mod jobs;
pub mod link;
pub mod run;
pub mod runtime;

pub use config::JdcConfig;
pub use run::{start_jdc, JdcHandle, StartError};
pub use runtime::{JdcStats, Mode};
