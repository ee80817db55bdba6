//! Stratum V2 CPU miner: Noise over TCP, `SetupConnection`, one or more standard or extended
//! channels, real hashing on OS threads, `SubmitShares*` with sequence numbers.
//!
//! ```no_run
//! # async fn demo(key: sv2_noise::secp256k1::XOnlyPublicKey) -> Result<(), test_utils::miner::MinerError> {
//! use std::time::Duration;
//! use test_utils::miner::sv2::{spawn, ChannelMode, Sv2MinerConfig};
//!
//! let mut config = Sv2MinerConfig::new("127.0.0.1:34254", key, "site.worker");
//! config.mode = ChannelMode::Extended;
//! config.max_shares = Some(10);
//! let miner = spawn(config)?;
//! let stats = miner
//!     .wait_for(Duration::from_secs(30), |s| s.shares_accepted >= 10)
//!     .await;
//! assert!(stats.is_some());
//! # Ok(()) }
//! ```
//!
//! Message handling: `NewMiningJob` / `NewExtendedMiningJob` (future and immediate),
//! `SetNewPrevHash`, `SetTarget`, `SetExtranoncePrefix` (for later jobs), `SetGroupChannel`
//! and group-addressed messages, `UpdateChannel.Error`, `SubmitShares.Success` / `.Error`,
//! `CloseChannel` and `Reconnect` (new host/port; empty or zero keeps the current one).
//! Unknown message types and extension messages are ignored; a malformed known message ends
//! the connection.

mod channels;
mod session;

use std::sync::Arc;
use std::time::Duration;

use sv2_noise::secp256k1::XOnlyPublicKey;

use super::error::MinerError;
use super::handle::MinerHandle;
use super::stats::{MinerStats, Stats, StatsHandle};
use super::util::split_host_port;

/// The handle of a running SV2 miner: `stats()`, `stop()`, `join()`.
pub type Sv2MinerHandle = MinerHandle;

/// Which kind of channel to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ChannelMode {
    /// `OpenStandardMiningChannel`: the pool fixes the merkle root; `REQUIRES_STANDARD_JOBS`.
    #[default]
    Standard,
    /// `OpenExtendedMiningChannel`: the miner rolls its part of the extranonce.
    Extended,
}

/// Everything the SV2 miner needs; build with [`Sv2MinerConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct Sv2MinerConfig {
    /// Pool address, `host:port`.
    pub pool: String,
    /// The pool's authority public key (certificates must be signed by it).
    pub authority_key: XOnlyPublicKey,
    /// `user_identity` of the channels, e.g. `site.worker`.
    pub user: String,
    /// Standard or extended channels.
    pub mode: ChannelMode,
    /// Channels to open on the connection (each gets its own work board).
    pub channels: usize,
    /// Hashing threads.
    pub threads: usize,
    /// Roll BIP320 version bits (sets `REQUIRES_VERSION_ROLLING`; extended jobs must allow it).
    pub version_rolling: bool,
    /// Total nominal hash rate announced (split evenly across channels), in h/s.
    pub nominal_hash_rate: f32,
    /// `max_target` of the open requests and `UpdateChannel` (little-endian U256).
    pub max_target: [u8; 32],
    /// `min_extranonce_size` of extended channel requests.
    pub min_extranonce_size: u16,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after submitting this many shares.
    pub max_shares: Option<u64>,
    /// Nonces per header template are `2^nonce_bits` (1..=32). Below 32 the extranonce,
    /// version and ntime roll sooner; tests use it to exercise rolling.
    pub nonce_bits: u32,
    /// Send `UpdateChannel` with the measured hash rate this often.
    pub update_channel_interval: Option<Duration>,
    /// After a connection fails or drops, connect again after this delay (`None`: stop with
    /// the error). A pool's `Reconnect` is always followed.
    pub reconnect_delay: Option<Duration>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Time allowed for the Noise handshake and for `SetupConnection` to be answered.
    pub setup_timeout: Duration,
    /// When stopping by itself, how long to wait for acknowledgements of shares in flight.
    pub drain_timeout: Duration,
    /// `SetupConnection.vendor`.
    pub vendor: String,
    /// `SetupConnection.hardware_version`.
    pub hardware_version: String,
    /// `SetupConnection.firmware`.
    pub firmware: String,
    /// `SetupConnection.device_id`.
    pub device_id: String,
}

impl Sv2MinerConfig {
    /// Defaults: one standard channel, one thread, version rolling on, 1 Mh/s nominal, no
    /// time or share limit, no reconnection after errors.
    pub fn new(
        pool: impl Into<String>,
        authority_key: XOnlyPublicKey,
        user: impl Into<String>,
    ) -> Self {
        Sv2MinerConfig {
            pool: pool.into(),
            authority_key,
            user: user.into(),
            mode: ChannelMode::Standard,
            channels: 1,
            threads: 1,
            version_rolling: true,
            nominal_hash_rate: 1e6,
            max_target: [0xff; 32],
            min_extranonce_size: 4,
            duration: None,
            max_shares: None,
            nonce_bits: 32,
            update_channel_interval: None,
            reconnect_delay: None,
            connect_timeout: Duration::from_secs(10),
            setup_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(3),
            vendor: "test-utils".into(),
            hardware_version: "cpu".into(),
            firmware: concat!("sv2-cpuminer/", env!("CARGO_PKG_VERSION")).into(),
            device_id: String::new(),
        }
    }

    /// `SetupConnection.flags` for this configuration.
    pub fn setup_flags(&self) -> u32 {
        use sv2_codec::common::mining_flags::{REQUIRES_STANDARD_JOBS, REQUIRES_VERSION_ROLLING};
        let mut flags = 0;
        if self.mode == ChannelMode::Standard {
            flags |= REQUIRES_STANDARD_JOBS;
        }
        if self.version_rolling {
            flags |= REQUIRES_VERSION_ROLLING;
        }
        flags
    }

    fn validate(&self) -> Result<(), MinerError> {
        split_host_port(&self.pool)?;
        if self.channels == 0 || self.channels > 1024 {
            return Err(MinerError::Config("channels must be in 1..=1024".into()));
        }
        if self.threads == 0 || self.threads > 1024 {
            return Err(MinerError::Config("threads must be in 1..=1024".into()));
        }
        if !(1..=32).contains(&self.nonce_bits) {
            return Err(MinerError::Config("nonce_bits must be in 1..=32".into()));
        }
        if self.min_extranonce_size > 32 {
            return Err(MinerError::Config(
                "min_extranonce_size must be at most 32".into(),
            ));
        }
        if self.user.len() > 255 {
            return Err(MinerError::Config(
                "user identity longer than 255 bytes".into(),
            ));
        }
        if !self.nominal_hash_rate.is_finite() || self.nominal_hash_rate < 0.0 {
            return Err(MinerError::Config(
                "nominal hash rate must be finite and >= 0".into(),
            ));
        }
        if self.update_channel_interval.is_some_and(|d| d.is_zero()) {
            return Err(MinerError::Config(
                "update_channel_interval must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// Starts the miner on the current tokio runtime (hashing runs on its own OS threads).
pub fn spawn(config: Sv2MinerConfig) -> Result<Sv2MinerHandle, MinerError> {
    config.validate()?;
    let stats = Arc::new(Stats::default());
    let engine = session::Engine::start(&config, Arc::clone(&stats))?;
    MinerHandle::spawn(StatsHandle(stats), move |stop| engine.run(config, stop))
}

/// Runs the miner to completion (`duration`, `max_shares`, or an error) and returns its
/// final counters.
pub async fn run(config: Sv2MinerConfig) -> Result<MinerStats, MinerError> {
    spawn(config)?.join().await
}
