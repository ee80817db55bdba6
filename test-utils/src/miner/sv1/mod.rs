//! Stratum V1 CPU miner that talks like Antminer firmware, plus a many-connection load mode.
//!
//! Handshake, as bmminer sends it: `mining.configure` (version rolling, mask `1fffe000`,
//! `min-bit-count` 16, and `minimum-difficulty` when configured), `mining.subscribe` with a
//! user agent (`bmminer/2.0.0` by default), `mining.authorize` (`site.worker`, `x`), and
//! optionally `mining.extranonce.subscribe`.
//!
//! Then: `mining.set_difficulty` applies at once (as cgminer does), `mining.notify` replaces
//! the work (coinbase = `coinb1 || extranonce1 || extranonce2 || coinb2`, merkle root from the
//! branch, prev hash un-swapped with [`sv1::PrevHash`]; `clean_jobs` drops older job ids),
//! `mining.set_extranonce` applies from the next notify, `mining.set_version_mask` at once
//! (within the requested mask), `client.reconnect` is followed (its wait capped at
//! [`MAX_RECONNECT_WAIT`]). Shares go out as `mining.submit` with the rolled version bits as
//! sixth parameter when version rolling was negotiated.
//!
//! [`spawn_load`] opens many connections that do not hash continuously; see [`load`].

mod cursor;
pub mod job;
pub mod load;
mod session;
mod state;
mod wire;

use std::sync::Arc;
use std::time::Duration;

pub use job::{job_template, submit_request, version_from_bits};
pub use load::{spawn_load, Sv1LoadConfig, MAX_LOAD_CONNECTIONS};

use super::error::MinerError;
use super::handle::MinerHandle;
use super::stats::{MinerStats, Stats, StatsHandle};
use super::util::split_host_port;

/// The handle of a running SV1 miner or load generator.
pub type Sv1MinerHandle = MinerHandle;

/// Version-rolling mask requested in `mining.configure` (BIP 320 general purpose bits).
pub const VERSION_ROLLING_MASK: u32 = 0x1fff_e000;
/// Longest wait before following a `client.reconnect`.
pub const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(60);

/// Everything the SV1 hashing miner needs; build with [`Sv1MinerConfig::new`].
#[derive(Debug, Clone)]
pub struct Sv1MinerConfig {
    /// Pool address, `host:port`.
    pub pool: String,
    /// Worker name for `mining.authorize` and `mining.submit`, e.g. `site.worker`.
    pub user: String,
    /// Password for `mining.authorize`.
    pub password: String,
    /// User agent sent in `mining.subscribe`.
    pub user_agent: String,
    /// Negotiate version rolling (mask [`VERSION_ROLLING_MASK`], min-bit-count 16).
    pub version_rolling: bool,
    /// Also request the `minimum-difficulty` extension with this value.
    pub minimum_difficulty: Option<f64>,
    /// Send `mining.extranonce.subscribe` after authorizing.
    pub extranonce_subscribe: bool,
    /// Hashing threads.
    pub threads: usize,
    /// Nonces per header template are `2^nonce_bits` (1..=32); smaller values roll
    /// extranonce2 sooner.
    pub nonce_bits: u32,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after submitting this many shares.
    pub max_shares: Option<u64>,
    /// Reconnect this long after a connection fails or drops (`None`: stop with the error).
    pub reconnect_delay: Option<Duration>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Time allowed for subscribe and authorize to be answered.
    pub setup_timeout: Duration,
    /// When stopping by itself, how long to wait for answers to submits in flight.
    pub drain_timeout: Duration,
}

impl Sv1MinerConfig {
    /// Defaults: bmminer user agent, password `x`, version rolling on, one thread.
    pub fn new(pool: impl Into<String>, user: impl Into<String>) -> Self {
        Sv1MinerConfig {
            pool: pool.into(),
            user: user.into(),
            password: "x".into(),
            user_agent: "bmminer/2.0.0".into(),
            version_rolling: true,
            minimum_difficulty: None,
            extranonce_subscribe: false,
            threads: 1,
            nonce_bits: 32,
            duration: None,
            max_shares: None,
            reconnect_delay: None,
            connect_timeout: Duration::from_secs(10),
            setup_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(3),
        }
    }

    fn handshake(&self) -> state::Handshake {
        state::Handshake {
            user: self.user.clone(),
            password: self.password.clone(),
            user_agent: self.user_agent.clone(),
            version_rolling: self.version_rolling.then_some(VERSION_ROLLING_MASK),
            minimum_difficulty: self.minimum_difficulty,
            extranonce_subscribe: self.extranonce_subscribe,
        }
    }

    fn validate(&self) -> Result<(), MinerError> {
        split_host_port(&self.pool)?;
        if self.threads == 0 || self.threads > 1024 {
            return Err(MinerError::Config("threads must be in 1..=1024".into()));
        }
        if !(1..=32).contains(&self.nonce_bits) {
            return Err(MinerError::Config("nonce_bits must be in 1..=32".into()));
        }
        if self
            .minimum_difficulty
            .is_some_and(|d| !d.is_finite() || d < 0.0)
        {
            return Err(MinerError::Config(
                "minimum difficulty must be finite and >= 0".into(),
            ));
        }
        Ok(())
    }
}

/// Starts the SV1 hashing miner on the current tokio runtime.
pub fn spawn(config: Sv1MinerConfig) -> Result<Sv1MinerHandle, MinerError> {
    config.validate()?;
    let stats = Arc::new(Stats::default());
    let engine = session::Engine::start(&config, Arc::clone(&stats))?;
    MinerHandle::spawn(StatsHandle(stats), move |stop| engine.run(config, stop))
}

/// Runs the SV1 miner to completion and returns its final counters.
pub async fn run(config: Sv1MinerConfig) -> Result<MinerStats, MinerError> {
    spawn(config)?.join().await
}
