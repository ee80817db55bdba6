//! `sv2-jd-server` configuration (TOML), validated at start with errors naming the key and
//! the fix. See `deploy/jd-server.example.toml` for every key.

use std::path::{Path, PathBuf};

use role_kit::config::{self as check, TomlFile};
use role_kit::defaults;
use role_kit::node::RpcKeys;
use serde::Deserialize;
use sv2_mining::channel::jd_token::TokenKey;

pub use role_kit::ConfigError;

/// How the file is read and its parse errors are worded.
const FILE: TomlFile = TomlFile {
    read_fix: "pass an existing file with --config",
    syntax_key: "(syntax)",
    syntax_fix: "see deploy/jd-server.example.toml for every key",
    full_report: true,
};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JdsConfig {
    /// Listening socket and Noise keys.
    pub server: ServerConfig,
    /// The node declared jobs are checked against and blocks go to.
    pub bitcoind: BitcoindConfig,
    /// Tokens shared with the pool.
    pub tokens: TokensConfig,
    /// What every declared coinbase must pay the pool.
    pub coinbase: CoinbasePolicyConfig,
    /// Checks of declared jobs.
    #[serde(default)]
    pub validation: ValidationConfig,
    /// Protection against misbehaving clients.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
}

role_kit::listener_section! {
    /// `[server]`: the Job Declaration listener (e.g. `0.0.0.0:34264`) and the authority keys
    /// job declarator clients pin.
    pub struct ServerConfig {}
}

role_kit::bitcoind_section! {
    /// `[bitcoind]`: the connection keys and the poll interval.
    pub struct BitcoindConfig {
        /// Best-block poll interval next to long polling, milliseconds.
        #[serde(default = "role_kit::defaults::jd_poll_interval_ms")]
        pub poll_interval_ms: u64,
    }
}

/// `[tokens]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensConfig {
    /// MAC key shared with the pool (`[job_declaration] token_secret` there): 64 hex digits.
    #[serde(default)]
    pub token_secret: Option<String>,
    /// Or a file holding the 64 hex digits.
    #[serde(default)]
    pub token_secret_file: Option<PathBuf>,
    /// How long an allocated token may be used to declare a job, seconds.
    #[serde(default = "default_allocation_lifetime")]
    pub allocation_lifetime_secs: u64,
    /// How long the pool accepts the token of a declared job, seconds.
    #[serde(default = "default_declared_lifetime")]
    pub declared_lifetime_secs: u64,
}

/// `[coinbase]`: the pool's coinbase output constraints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoinbasePolicyConfig {
    /// The pool payout address (the first output of `AllocateMiningJobToken.Success`).
    pub pool_payout_address: String,
    /// Share of the block reward (subsidy + fees) the pool payout must receive, 0 < x <= 1.
    #[serde(default = "default_min_share")]
    pub min_pool_share: f64,
}

/// `[validation]` (every key has a default, see `Default`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationConfig {
    /// Ask the node to check each declared block (`getblocktemplate` proposal mode) before
    /// accepting it: catches invalid or conflicting transactions and overpaying coinbases.
    pub check_block_proposal: bool,
    /// Submit transactions a client provided (`ProvideMissingTransactions.Success`) to the
    /// node's mempool.
    pub relay_provided_txs: bool,
    /// Seconds a client has to provide missing transactions.
    pub missing_txs_timeout_secs: u64,
    /// Minimum interval between two mempool refreshes from the node, milliseconds.
    pub mempool_refresh_interval_ms: u64,
    /// How long a declaration one block ahead of the node waits for the node to catch up
    /// before it is refused as `stale-chain-tip`, milliseconds.
    pub tip_grace_ms: u64,
}

/// `[limits]` (every key has a default, see `Default`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Seconds a client has to complete the Noise handshake.
    pub handshake_timeout_secs: u64,
    /// Seconds a client has to send SetupConnection.
    pub setup_timeout_secs: u64,
    /// Simultaneous connections.
    pub max_connections: u32,
    /// Tokens one connection may allocate per minute.
    pub max_tokens_per_minute: u32,
    /// Declarations one connection may have waiting for missing transactions.
    pub max_pending_declarations: usize,
    /// Largest frame payload accepted, bytes (declarations and provided transactions are big).
    pub max_frame_bytes: usize,
}

/// `[metrics]`: `listen`, the HTTP address of `/metrics`, by default `127.0.0.1:9185`; empty
/// disables it.
pub type MetricsConfig = check::MetricsSection<9185>;

fn default_allocation_lifetime() -> u64 {
    600
}
fn default_declared_lifetime() -> u64 {
    900
}
fn default_min_share() -> f64 {
    1.0
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            check_block_proposal: true,
            relay_provided_txs: true,
            missing_txs_timeout_secs: 10,
            mempool_refresh_interval_ms: 1000,
            tip_grace_ms: 2000,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            handshake_timeout_secs: defaults::handshake_timeout_secs(),
            setup_timeout_secs: defaults::setup_timeout_secs(),
            max_connections: 1000,
            max_tokens_per_minute: 120,
            max_pending_declarations: 4,
            max_frame_bytes: (1 << 24) - 1,
        }
    }
}

impl JdsConfig {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<JdsConfig, ConfigError> {
        Self::parse(&FILE.read(path)?)
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<JdsConfig, ConfigError> {
        FILE.parse_checked(text, Self::validate)
    }

    /// The token key (`token_secret` or the file's contents).
    pub fn token_key(&self) -> Result<TokenKey, ConfigError> {
        role_kit::config::hex_secret(
            "tokens",
            "token_secret",
            self.tokens.token_secret.as_deref(),
            self.tokens.token_secret_file.as_deref(),
            "generate one with `openssl rand -hex 32`; the pool's [job_declaration] needs the same",
            TokenKey::from_hex,
        )
    }

    /// `min_pool_share` in parts per million.
    pub fn min_pool_share_ppm(&self) -> u32 {
        (self.coinbase.min_pool_share * 1e6).round() as u32
    }

    /// The node's connection keys.
    pub fn rpc_keys(&self) -> RpcKeys<'_> {
        self.bitcoind.rpc_keys()
    }

    /// Connection settings of the node.
    pub fn node_config(&self) -> node_rpc::NodeConfig {
        self.rpc_keys().node_config()
    }

    /// Checks every value; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.rpc_keys()
            .check_section("bitcoind", self.bitcoind.poll_interval_ms)?;
        self.token_key()?;
        let t = &self.tokens;
        if t.allocation_lifetime_secs == 0 || t.declared_lifetime_secs == 0 {
            return Err(ConfigError::new(
                "tokens.allocation_lifetime_secs",
                "token lifetimes must be positive",
                "use e.g. 600 and 900",
            ));
        }
        let c = &self.coinbase;
        check::bitcoin_address(
            "coinbase.pool_payout_address",
            &c.pool_payout_address,
            "use the pool's payout address on the node's network",
        )?;
        if !(c.min_pool_share > 0.0 && c.min_pool_share <= 1.0) {
            return Err(ConfigError::new(
                "coinbase.min_pool_share",
                "must be in (0, 1]",
                "use 1.0 (the whole reward) or e.g. 0.98",
            ));
        }
        let v = &self.validation;
        if v.missing_txs_timeout_secs == 0 {
            return Err(ConfigError::new(
                "validation.missing_txs_timeout_secs",
                "is 0",
                "use e.g. 10",
            ));
        }
        let l = &self.limits;
        if l.handshake_timeout_secs == 0
            || l.setup_timeout_secs == 0
            || l.max_connections == 0
            || l.max_tokens_per_minute == 0
            || l.max_pending_declarations == 0
        {
            return Err(ConfigError::new(
                "limits",
                "timeouts and limits must be positive",
                "remove the key to use the default",
            ));
        }
        check::max_frame_bytes("limits.max_frame_bytes", l.max_frame_bytes, "use 16777215")?;
        self.metrics.check()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(extra: &str) -> String {
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
authority_public_key = "x"
authority_secret_key = "y"

[bitcoind]
url = "http://127.0.0.1:18443"
user = "u"
password = "p"

[tokens]
token_secret = "{}"

[coinbase]
pool_payout_address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
{extra}
"#,
            "ab".repeat(32)
        )
    }

    #[test]
    fn minimal_config_parses_with_defaults() {
        let cfg = JdsConfig::parse(&text("")).unwrap();
        assert_eq!(cfg.min_pool_share_ppm(), 1_000_000);
        assert!(cfg.validation.check_block_proposal);
        assert_eq!(cfg.limits.max_pending_declarations, 4);
        assert!(cfg.token_key().is_ok());
    }

    #[test]
    fn mistakes_name_the_key() {
        let e = JdsConfig::parse(&text("min_pool_share = 1.5")).unwrap_err();
        assert_eq!(e.key, "coinbase.min_pool_share");
        let e = JdsConfig::parse(&text("").replace(&"ab".repeat(32), "abc")).unwrap_err();
        assert_eq!(e.key, "tokens.token_secret");
        let e = JdsConfig::parse(&text("").replace("bcrt1q", "xx")).unwrap_err();
        assert_eq!(e.key, "coinbase.pool_payout_address");
        let e = JdsConfig::parse(&text("[limits]\nmax_frame_bytes = 10")).unwrap_err();
        assert_eq!(e.key, "limits.max_frame_bytes");
        let e = JdsConfig::parse(&text("bogus = 1")).unwrap_err();
        assert_eq!(e.key, "(syntax)");
    }

    #[test]
    fn example_config_is_valid() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/jd-server.example.toml");
        JdsConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
