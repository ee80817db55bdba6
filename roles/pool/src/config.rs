//! Pool configuration (TOML), validated at start with errors that name the key and the fix.

use std::path::{Path, PathBuf};

use role_kit::config::{self as check, TomlFile};
use role_kit::defaults;
use role_kit::node::RpcKeys;
use serde::Deserialize;

pub use role_kit::ConfigError;

/// How the file is read and its parse errors are worded.
const FILE: TomlFile = TomlFile {
    read_fix: "pass an existing file with --config",
    syntax_key: "(syntax)",
    syntax_fix: "see deploy/pool.example.toml for every key with its meaning",
    full_report: true,
};

/// Fix of a `bitcoind` URL that is not `http://`.
const URL_FIX: &str =
    "use e.g. \"http://127.0.0.1:8332\" (Core's RPC speaks plain HTTP; tunnel it for remote nodes)";

/// Whole pool configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Listening socket, keys and identity.
    pub server: ServerConfig,
    /// The node templates come from and blocks go to.
    pub bitcoind: BitcoindConfig,
    /// Coinbase outputs paying the treasury.
    #[serde(default)]
    pub payout: Vec<PayoutConfig>,
    /// Share difficulty and job settings.
    #[serde(default)]
    pub mining: MiningConfig,
    /// Protection against misbehaving clients.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Work accounting.
    #[serde(default)]
    pub accounting: AccountingConfig,
    /// Treasury ledger (absent: no ledger, work is only logged).
    #[serde(default)]
    pub treasury: Option<crate::treasury::config::TreasuryConfig>,
    /// Hosted sites (`[[site]]`) and their hosting partners.
    #[serde(default)]
    pub site: Vec<crate::treasury::config::SiteConfig>,
    /// Explicit worker → site assignments (`[worker_sites]`).
    #[serde(default)]
    pub worker_sites: crate::treasury::config::WorkerSites,
    /// Read-only web dashboard next to `/metrics`.
    #[serde(default)]
    pub dashboard: crate::treasury::config::DashboardConfig,
    /// Custom jobs from job declarator clients (absent: `REQUIRES_WORK_SELECTION` is refused).
    #[serde(default)]
    pub job_declaration: Option<JobDeclarationConfig>,
}

/// `[job_declaration]`: accept `SetCustomMiningJob` with tokens of a job declarator server
/// (see `crate::custom_jobs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobDeclarationConfig {
    /// Token MAC key shared with `sv2-jd-server`: 64 hex digits.
    #[serde(default)]
    pub token_secret: Option<String>,
    /// Or a file holding the 64 hex digits.
    #[serde(default)]
    pub token_secret_file: Option<PathBuf>,
}

role_kit::listener_section! {
    /// `[server]`: the listener (e.g. `0.0.0.0:34254`) and its keys, then the pool's identity.
    pub struct ServerConfig {
        /// Text put in every coinbase scriptSig, e.g. `/MyPool/`.
        #[serde(default = "default_pool_tag")]
        pub pool_tag: String,
        /// Id of this pool node (0..=255) when several nodes share a ledger; folded into
        /// extranonce prefixes.
        #[serde(default)]
        pub node_id: u8,
        /// Let several pool processes on this host listen on the same address
        /// (`SO_REUSEPORT`: the kernel spreads new connections over them). Give each its own
        /// `node_id`; they share a PostgreSQL ledger like nodes behind a load balancer.
        #[serde(default)]
        pub reuse_port: bool,
    }
}

role_kit::bitcoind_section! {
    /// `[bitcoind]`: the connection keys, then the pool's own.
    pub struct BitcoindConfig {
        /// Further nodes that also receive every found block (URL with user:password or cookie).
        #[serde(default)]
        pub submit_also: Vec<SecondaryNode>,
        /// Fallback poll interval when long polling is unavailable, milliseconds.
        #[serde(default = "default_poll_ms")]
        pub poll_interval_ms: u64,
        /// Minimum time between two jobs on the same tip (fee refreshes), seconds.
        #[serde(default = "role_kit::defaults::min_fee_refresh_secs")]
        pub min_fee_refresh_secs: u64,
    }
}

/// One entry of `[[bitcoind.submit_also]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondaryNode {
    /// RPC URL.
    pub url: String,
    /// RPC user.
    #[serde(default)]
    pub user: Option<String>,
    /// RPC password.
    #[serde(default)]
    pub password: Option<String>,
    /// Cookie file.
    #[serde(default)]
    pub cookie_file: Option<PathBuf>,
}

/// One `[[payout]]` entry: a treasury output of the coinbase.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutConfig {
    /// Bitcoin address of the node's network.
    pub address: String,
    /// Relative weight of this output in the coinbase value (the last output takes rounding remainders).
    #[serde(default = "one")]
    pub weight: u32,
    /// Treasury account name in the ledger (defaults to the address).
    #[serde(default)]
    pub account: Option<String>,
}

/// `[mining]` (every key has a default, see `Default`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MiningConfig {
    /// Vardiff aim: seconds between shares per channel.
    pub share_interval_secs: f64,
    /// Difficulty a new channel starts at when the client's nominal hashrate is unknown.
    pub initial_difficulty: f64,
    /// Lowest difficulty vardiff may set.
    pub min_difficulty: f64,
    /// Highest difficulty vardiff may set.
    pub max_difficulty: f64,
    /// BIP320 bits miners may roll, hex (default `1fffe000`).
    pub version_rolling_mask: String,
    /// Total extranonce bytes in the coinbase (prefix we assign + bytes the client rolls).
    pub extranonce_size: u8,
    /// Extranonce bytes left to extended-channel clients (translators and job declarator
    /// clients subdivide them; default 12).
    pub client_extranonce_size: u8,
    /// Send one SubmitShares.Success per this many accepted shares on a channel...
    pub share_ack_batch: u32,
    /// ...or after this many milliseconds, whichever comes first.
    pub share_ack_interval_ms: u64,
}

/// `[limits]` (every key has a default, see `Default`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Seconds a client has to complete the Noise handshake.
    pub handshake_timeout_secs: u64,
    /// Seconds a client has to send SetupConnection after the handshake.
    pub setup_timeout_secs: u64,
    /// Channels one connection may open.
    pub max_channels_per_connection: u32,
    /// Simultaneous connections from one IP address.
    pub max_connections_per_ip: u32,
    /// Total simultaneous connections.
    pub max_connections: u32,
    /// Invalid shares per minute on one connection before it is closed.
    pub max_invalid_shares_per_minute: u32,
    /// Largest SV2 frame payload accepted, bytes.
    pub max_frame_bytes: usize,
}

/// `[metrics]`: `listen`, the HTTP address of `/metrics` (and the dashboard), by default
/// `127.0.0.1:9184`; an empty string disables it.
pub type MetricsConfig = check::MetricsSection<9184>;

/// `[accounting]` (every key has a default, see `Default`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountingConfig {
    /// Seconds between flushes of aggregated work to the work sink.
    pub flush_interval_secs: u64,
    /// Directory of the work journal (accepted work is appended there before it is
    /// acknowledged, so a crash loses none of it). Default with a SQLite ledger: the database
    /// file's path + `.work-journal`; with PostgreSQL set one per pool node (no journal
    /// otherwise: work of the last flush interval is lost in a crash).
    pub journal_dir: Option<std::path::PathBuf>,
    /// Milliseconds between `fdatasync`s of the work journal (0: never, the default; a killed
    /// process loses nothing either way, a power loss loses at most this much acknowledged
    /// work). The sync runs off the share path.
    pub journal_sync_ms: u64,
}

fn default_pool_tag() -> String {
    "/sv2-pool/".into()
}
fn default_poll_ms() -> u64 {
    1000
}
fn one() -> u32 {
    1
}

impl Default for MiningConfig {
    fn default() -> Self {
        MiningConfig {
            share_interval_secs: defaults::share_interval_secs(),
            initial_difficulty: defaults::initial_difficulty(),
            min_difficulty: defaults::min_difficulty(),
            max_difficulty: defaults::max_difficulty(),
            version_rolling_mask: defaults::version_rolling_mask(),
            extranonce_size: 16,
            // 12 leaves 4 prefix bytes (node id + a 3-byte channel counter) and fits what SRI's
            // job declarator client asks for (3 bytes of its own + 8 for its miners).
            client_extranonce_size: 12,
            share_ack_batch: defaults::share_ack_batch(),
            share_ack_interval_ms: defaults::share_ack_interval_ms(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            handshake_timeout_secs: defaults::handshake_timeout_secs(),
            setup_timeout_secs: defaults::setup_timeout_secs(),
            max_channels_per_connection: 1024,
            max_connections_per_ip: 100_000,
            max_connections: 200_000,
            max_invalid_shares_per_minute: 600,
            max_frame_bytes: 1 << 20,
        }
    }
}

impl Default for AccountingConfig {
    fn default() -> Self {
        AccountingConfig {
            flush_interval_secs: 5,
            journal_dir: None,
            journal_sync_ms: 0,
        }
    }
}

impl PoolConfig {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<PoolConfig, ConfigError> {
        Self::parse(&FILE.read(path)?)
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<PoolConfig, ConfigError> {
        FILE.parse_checked(text, Self::validate)
    }

    /// Where the work journal lives: `accounting.journal_dir`, or beside a SQLite ledger
    /// file; `None` keeps no journal.
    pub fn work_journal_dir(&self) -> Option<std::path::PathBuf> {
        if let Some(dir) = &self.accounting.journal_dir {
            return Some(dir.clone());
        }
        let t = self.treasury.as_ref()?;
        match crate::treasury::settings::Database::parse(&t.database) {
            crate::treasury::settings::Database::Sqlite(p) if p.as_os_str() != ":memory:" => {
                let mut dir = p.into_os_string();
                dir.push(".work-journal");
                Some(dir.into())
            }
            _ => None,
        }
    }

    /// The version-rolling mask as a number.
    pub fn version_mask(&self) -> u32 {
        check::parse_hex_u32(&self.mining.version_rolling_mask).unwrap_or(0x1fff_e000)
    }

    /// Connection keys of the primary node.
    pub fn rpc_keys(&self) -> RpcKeys<'_> {
        self.bitcoind.rpc_keys()
    }

    /// Connection keys of the secondary submit-only nodes (with the primary's RPC timeout).
    pub fn secondary_rpc_keys(&self) -> impl Iterator<Item = RpcKeys<'_>> {
        self.bitcoind.submit_also.iter().map(|n| RpcKeys {
            url: &n.url,
            user: &n.user,
            password: &n.password,
            cookie_file: &n.cookie_file,
            rpc_timeout_secs: self.bitcoind.rpc_timeout_secs,
        })
    }

    /// Node authentication of the primary node.
    pub fn node_auth(&self) -> node_rpc::NodeAuth {
        self.rpc_keys().auth()
    }

    /// Connection settings of the primary node.
    pub fn node_config(&self) -> node_rpc::NodeConfig {
        self.rpc_keys().node_config()
    }

    /// Connection settings of the secondary submit-only nodes.
    pub fn secondary_node_configs(&self) -> Vec<node_rpc::NodeConfig> {
        self.secondary_rpc_keys().map(|k| k.node_config()).collect()
    }

    /// Checks every value; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.rpc_keys().check_credentials("bitcoind")?;
        check::http_url("bitcoind.url", &self.bitcoind.url, URL_FIX)?;
        for (i, n) in self.secondary_rpc_keys().enumerate() {
            let key = format!("bitcoind.submit_also[{i}]");
            check::http_url(&format!("{key}.url"), n.url, URL_FIX)?;
            n.check_credentials(&key)?;
        }
        if self.bitcoind.poll_interval_ms < 10 {
            return Err(ConfigError::new(
                "bitcoind.poll_interval_ms",
                "below 10 ms",
                "use 100..5000",
            ));
        }
        if self.payout.is_empty() {
            return Err(ConfigError::new(
                "payout",
                "no [[payout]] entry: the coinbase would pay nobody",
                "add [[payout]] with address = \"<treasury address>\"",
            ));
        }
        for (i, p) in self.payout.iter().enumerate() {
            if p.weight == 0 {
                return Err(ConfigError::new(
                    format!("payout[{i}].weight"),
                    "is 0",
                    "use a positive integer weight or remove the entry",
                ));
            }
            check::bitcoin_address(
                &format!("payout[{i}].address"),
                &p.address,
                "use an address of the node's network (bc1..., tb1..., bcrt1...)",
            )?;
        }
        let pool_tag_max =
            100 - 4 /* BIP34 height */ - 2 /* pushes */ - self.mining.extranonce_size as usize;
        if self.server.pool_tag.len() > pool_tag_max.min(64) {
            return Err(ConfigError::new(
                "server.pool_tag",
                format!("{} bytes long", self.server.pool_tag.len()),
                format!("keep it at most {} bytes", pool_tag_max.min(64)),
            ));
        }
        let m = &self.mining;
        check::share_interval("mining.share_interval_secs", m.share_interval_secs)?;
        if !(m.min_difficulty > 0.0 && m.min_difficulty <= m.max_difficulty) {
            return Err(ConfigError::new(
                "mining.min_difficulty",
                "must be > 0 and <= mining.max_difficulty",
                "use e.g. min_difficulty = 0.001, max_difficulty = 1e15",
            ));
        }
        if !(m.initial_difficulty >= m.min_difficulty && m.initial_difficulty <= m.max_difficulty) {
            return Err(ConfigError::new(
                "mining.initial_difficulty",
                "outside [min_difficulty, max_difficulty]",
                "pick a value between the two",
            ));
        }
        check::version_mask(
            "mining.version_rolling_mask",
            &m.version_rolling_mask,
            "use e.g. \"1fffe000\" (BIP320)",
        )?;
        if !(8..=32).contains(&m.extranonce_size) {
            return Err(ConfigError::new(
                "mining.extranonce_size",
                "must be 8..=32 bytes",
                "use 16",
            ));
        }
        if m.client_extranonce_size < 2 || m.client_extranonce_size + 4 > m.extranonce_size {
            return Err(ConfigError::new(
                "mining.client_extranonce_size",
                "must be >= 2 and leave at least 4 bytes of mining.extranonce_size for the pool's prefix",
                "use e.g. extranonce_size = 16, client_extranonce_size = 12",
            ));
        }
        if m.share_ack_batch == 0 {
            return Err(ConfigError::new(
                "mining.share_ack_batch",
                "is 0",
                "use 1 (ack every share) or more",
            ));
        }
        let l = &self.limits;
        check::nonzero(
            &[
                ("limits.handshake_timeout_secs", l.handshake_timeout_secs),
                ("limits.setup_timeout_secs", l.setup_timeout_secs),
                (
                    "limits.max_channels_per_connection",
                    l.max_channels_per_connection.into(),
                ),
                (
                    "limits.max_connections_per_ip",
                    l.max_connections_per_ip.into(),
                ),
                ("limits.max_connections", l.max_connections.into()),
            ],
            "is 0",
            "use a positive value",
        )?;
        check::max_frame_bytes("limits.max_frame_bytes", l.max_frame_bytes, "use 1048576")?;
        self.metrics.check()?;
        if self.accounting.flush_interval_secs == 0 {
            return Err(ConfigError::new(
                "accounting.flush_interval_secs",
                "is 0",
                "use e.g. 5",
            ));
        }
        if self.accounting.journal_sync_ms > 0 && self.work_journal_dir().is_none() {
            return Err(ConfigError::new(
                "accounting.journal_sync_ms",
                "is set but no work journal is kept",
                "set accounting.journal_dir (or use a SQLite ledger), or remove the key",
            ));
        }
        crate::treasury::config::validate(
            &self.treasury,
            &self.site,
            &self.worker_sites,
            self.accounting.flush_interval_secs,
        )
        .map_err(|(key, problem, fix)| ConfigError::new(key, problem, fix))?;
        if let Some(jd) = &self.job_declaration {
            crate::custom_jobs::key_from_config(jd)?;
        }
        Ok(())
    }
}
