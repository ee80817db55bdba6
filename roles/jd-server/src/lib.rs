//! `sv2-jd-server`: a Stratum V2 job declarator server (JDS), run beside the pool.
//!
//! Miners running a job declarator client (`sv2-jd-client`) build block templates from their
//! own node and declare them here (Job Declaration protocol, Full-Template mode). The server
//!
//! 1. hands out mining job tokens bound to the pool's coinbase output policy
//!    (`AllocateMiningJobToken`, [`policy`]);
//! 2. checks each declared job (`DeclareMiningJob`): token, coinbase structure and BIP34 height
//!    against its node's tip, the declared transactions against its node's mempool
//!    ([`mempool`]; unknown ones are requested with `ProvideMissingTransactions`), the witness
//!    commitment, that the coinbase pays the pool ([`policy`]), and — by default — the whole
//!    block with the node in proposal mode ([`declare`], [`session`]);
//! 3. answers `DeclareMiningJob.Success` with a token the pool verifies on its own
//!    (`sv2_mining::channel::jd_token`: a MAC under a secret shared with the pool over the
//!    job's commitment), so `SetCustomMiningJob` needs no call back to this server;
//! 4. rebuilds and submits the block of every `PushSolution` to its node.
#![deny(missing_docs)]

pub mod chain;
pub mod config;
pub mod declare;
pub mod mempool;
pub mod policy;
pub mod run;
pub mod server;
pub mod session;

pub use config::JdsConfig;
pub use run::{start_jds, JdsHandle, StartError};
pub use session::JdsStats;
