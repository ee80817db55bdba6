//! A Bitcoin Core (regtest) stand-in: a JSON-RPC server over real HTTP/1.1 that answers the
//! calls a pool makes (`getblocktemplate` with long polling, `submitblock` with real block
//! validation and BIP22 answers, chain and network info) the way Bitcoin Core 31 does, with a
//! chain and mempool kept in memory and steered by the test.
//!
//! ```no_run
//! # async fn demo() -> Result<(), test_utils::bitcoind::StandInError> {
//! use test_utils::bitcoind::{StandIn, StandInConfig};
//! let node = StandIn::start(StandInConfig { premine: 101, ..Default::default() }).await?;
//! println!("bitcoind at {} (user {})", node.url(), node.rpc_user());
//! node.add_random_mempool_txs(10)?;
//! node.mine_block()?; // long polls wake up
//! # Ok(()) }
//! ```

pub mod chain;
pub mod envelope;
pub mod fixture;
pub mod format;
pub mod mempool;
mod methods;
pub mod params;
mod server;
mod shared;
pub mod standin;
pub mod template;
pub mod template_provider;
pub mod txgen;
pub mod validation;

pub use chain::{
    ChainAnchor, ChainStart, NodeError, Submission, SubmitResult, SubmittedBlock, TipInfo,
};
pub use fixture::{FixtureError, TemplateFixture};
pub use server::COOKIE_USER;
pub use standin::{default_coinbase_script, StandIn, StandInConfig, StandInError};
pub use template::{BlockTemplate, TemplateError, TemplateTx};
pub use txgen::{FabricatedTx, SpendKind, TxFactory};

/// Directory of the captured bitcoind fixtures, relative to this crate.
pub const FIXTURES_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/bitcoind"
);
