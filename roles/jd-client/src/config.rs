//! `sv2-jd-client` configuration (TOML), validated at start with errors naming the key and
//! the fix. See `deploy/jd-client.example.toml` for every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use role_kit::config::{self as check, TomlFile};
use role_kit::node::RpcKeys;
use serde::Deserialize;

pub use role_kit::ConfigError;

/// How the file is read and its parse errors are worded.
const FILE: TomlFile = TomlFile {
    read_fix: "pass an existing file with --config",
    syntax_key: "(syntax)",
    syntax_fix: "see deploy/jd-client.example.toml for every key",
    full_report: true,
};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JdcConfig {
    /// Where downstream miners connect, and their jobs' settings.
    pub downstream: DownstreamConfig,
    /// The miner's own node: templates come from it, found blocks go to it.
    pub bitcoind: BitcoindConfig,
    /// Pools with their job declarator servers, in order of preference.
    #[serde(default)]
    pub upstream: Vec<UpstreamConfig>,
    /// Solo mining when no upstream works.
    pub solo: SoloConfig,
    /// When to give up on an upstream.
    #[serde(default)]
    pub fallback: FallbackConfig,
    /// Limits on downstream connections (the pool's `[limits]` keys).
    #[serde(default)]
    pub limits: pool::config::LimitsConfig,
    /// Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
}

/// `[downstream]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownstreamConfig {
    /// SV2 listening address for miners (and translators), e.g. `0.0.0.0:34255`.
    pub listen: SocketAddr,
    /// Authority public key miners pin (`sv2-keys authority`).
    pub authority_public_key: String,
    /// Authority secret key.
    pub authority_secret_key: String,
    /// Validity of the certificate presented to each miner, seconds.
    #[serde(default = "default_cert_validity")]
    pub cert_validity_secs: u64,
    /// Text put in every coinbase scriptSig.
    #[serde(default = "default_pool_tag")]
    pub pool_tag: String,
    /// Extranonce bytes that belong to downstream channels (prefix this client assigns plus
    /// what extended channels roll). Each pool must leave at least this many rollable bytes.
    #[serde(default = "default_extranonce_size")]
    pub extranonce_size: u8,
    /// Bytes extended downstream channels roll (translators subdivide them).
    #[serde(default = "default_client_extranonce")]
    pub client_extranonce_size: u8,
    /// Vardiff aim: seconds between shares per downstream channel.
    #[serde(default = "default_share_interval")]
    pub share_interval_secs: f64,
    /// Starting difficulty when a miner gives no usable nominal hashrate.
    #[serde(default = "default_initial_diff")]
    pub initial_difficulty: f64,
    /// Lowest difficulty vardiff may set.
    #[serde(default = "default_min_diff")]
    pub min_difficulty: f64,
    /// Highest difficulty vardiff may set.
    #[serde(default = "default_max_diff")]
    pub max_difficulty: f64,
    /// BIP320 bits miners may roll, hex.
    #[serde(default = "default_version_mask")]
    pub version_rolling_mask: String,
    /// Acknowledge every this many accepted shares...
    #[serde(default = "default_batch_shares")]
    pub share_ack_batch: u32,
    /// ...or after this many milliseconds.
    #[serde(default = "default_batch_ms")]
    pub share_ack_interval_ms: u64,
}

/// `[bitcoind]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitcoindConfig {
    /// RPC URL, e.g. `http://127.0.0.1:8332`.
    pub url: String,
    /// RPC user (with `password`), or set `cookie_file`.
    #[serde(default)]
    pub user: Option<String>,
    /// RPC password.
    #[serde(default)]
    pub password: Option<String>,
    /// Path to the node's `.cookie` file.
    #[serde(default)]
    pub cookie_file: Option<PathBuf>,
    /// Best-block poll interval next to long polling, milliseconds.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// Minimum time between two templates on the same tip (fee refreshes), seconds.
    #[serde(default = "default_fee_refresh")]
    pub min_fee_refresh_secs: u64,
    /// Timeout of ordinary RPC calls, seconds.
    #[serde(default = "default_rpc_timeout")]
    pub rpc_timeout_secs: u64,
}

/// One `[[upstream]]`: a pool and its job declarator server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Pool mining address, `host:port`.
    pub pool_address: String,
    /// The pool's authority public key.
    pub pool_authority_public_key: String,
    /// Job declarator server address, `host:port`.
    pub jds_address: String,
    /// The JDS's authority public key.
    pub jds_authority_public_key: String,
    /// Identity of the channel at the pool (and of token requests), e.g. `site.jdc1`.
    pub user_identity: String,
}

/// `[solo]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoloConfig {
    /// Address the whole reward goes to while mining solo.
    pub address: String,
}

/// `[fallback]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackConfig {
    /// TCP connect plus handshake timeout per server, seconds.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Time a server has to answer a request (token, declaration, channel, custom job), seconds.
    #[serde(default = "default_response_timeout")]
    pub response_timeout_secs: u64,
    /// Share rejections by the pool in a row (other than stale or duplicate shares) that make
    /// the client leave it.
    #[serde(default = "default_rejections")]
    pub max_share_rejections: u32,
    /// While mining solo (every upstream failed), try the upstreams again after this long, seconds.
    #[serde(default = "default_retry")]
    pub retry_secs: u64,
}

/// `[metrics]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// HTTP address of `/metrics`; empty disables it.
    #[serde(default = "default_metrics_listen")]
    pub listen: String,
}

fn default_cert_validity() -> u64 {
    3600
}
fn default_pool_tag() -> String {
    "/sv2-jdc/".into()
}
fn default_extranonce_size() -> u8 {
    8
}
fn default_client_extranonce() -> u8 {
    6
}
fn default_share_interval() -> f64 {
    5.0
}
fn default_initial_diff() -> f64 {
    1024.0
}
fn default_min_diff() -> f64 {
    0.001
}
fn default_max_diff() -> f64 {
    1e15
}
fn default_version_mask() -> String {
    "1fffe000".into()
}
fn default_batch_shares() -> u32 {
    16
}
fn default_batch_ms() -> u64 {
    100
}
fn default_poll_ms() -> u64 {
    500
}
fn default_fee_refresh() -> u64 {
    30
}
fn default_rpc_timeout() -> u64 {
    10
}
fn default_connect_timeout() -> u64 {
    5
}
fn default_response_timeout() -> u64 {
    10
}
fn default_rejections() -> u32 {
    10
}
fn default_retry() -> u64 {
    60
}
fn default_metrics_listen() -> String {
    "127.0.0.1:9186".into()
}

impl Default for FallbackConfig {
    fn default() -> Self {
        FallbackConfig {
            connect_timeout_secs: default_connect_timeout(),
            response_timeout_secs: default_response_timeout(),
            max_share_rejections: default_rejections(),
            retry_secs: default_retry(),
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: default_metrics_listen(),
        }
    }
}

impl JdcConfig {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<JdcConfig, ConfigError> {
        Self::parse(&FILE.read(path)?)
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<JdcConfig, ConfigError> {
        FILE.parse_checked(text, Self::validate)
    }

    /// The version-rolling mask as a number.
    pub fn version_mask(&self) -> u32 {
        check::parse_hex_u32(&self.downstream.version_rolling_mask).unwrap_or(0x1fff_e000)
    }

    /// The node's connection keys.
    pub fn rpc_keys(&self) -> RpcKeys<'_> {
        role_kit::rpc_keys!(self.bitcoind)
    }

    /// Connection settings of the node.
    pub fn node_config(&self) -> node_rpc::NodeConfig {
        self.rpc_keys().node_config()
    }

    /// Checks every value; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let d = &self.downstream;
        if d.pool_tag.len() > 32 {
            return Err(ConfigError::new(
                "downstream.pool_tag",
                format!("{} bytes long", d.pool_tag.len()),
                "keep it at most 32 bytes",
            ));
        }
        if !(4..=16).contains(&d.extranonce_size) {
            return Err(ConfigError::new(
                "downstream.extranonce_size",
                "must be 4..=16 bytes",
                "use 8 (pools leave 8 rollable bytes by default)",
            ));
        }
        if d.client_extranonce_size == 0 || d.client_extranonce_size + 1 > d.extranonce_size {
            return Err(ConfigError::new(
                "downstream.client_extranonce_size",
                "must be >= 1 and leave at least 1 byte of downstream.extranonce_size for channel prefixes",
                "use e.g. extranonce_size = 8, client_extranonce_size = 6",
            ));
        }
        check::share_interval("downstream.share_interval_secs", d.share_interval_secs)?;
        if !(d.min_difficulty > 0.0
            && d.min_difficulty <= d.max_difficulty
            && d.initial_difficulty >= d.min_difficulty
            && d.initial_difficulty <= d.max_difficulty)
        {
            return Err(ConfigError::new(
                "downstream.initial_difficulty",
                "difficulties must satisfy 0 < min <= initial <= max",
                "use e.g. min_difficulty = 0.001, initial_difficulty = 1024, max_difficulty = 1e15",
            ));
        }
        check::version_mask(
            "downstream.version_rolling_mask",
            &d.version_rolling_mask,
            "use \"1fffe000\" (BIP320)",
        )?;
        if d.share_ack_batch == 0 {
            return Err(ConfigError::new(
                "downstream.share_ack_batch",
                "is 0",
                "use 1 or more",
            ));
        }
        self.rpc_keys()
            .check_section("bitcoind", self.bitcoind.poll_interval_ms)?;
        for (i, u) in self.upstream.iter().enumerate() {
            let key = format!("upstream[{i}]");
            for (name, address) in [
                ("pool_address", &u.pool_address),
                ("jds_address", &u.jds_address),
            ] {
                check::host_port(
                    &format!("{key}.{name}"),
                    address,
                    "use e.g. \"pool.example.com:34254\"",
                )?;
            }
            for (name, k) in [
                ("pool_authority_public_key", &u.pool_authority_public_key),
                ("jds_authority_public_key", &u.jds_authority_public_key),
            ] {
                if sv2_noise::decode_public_key(k).is_err() {
                    return Err(ConfigError::new(
                        format!("{key}.{name}"),
                        "not an authority public key",
                        "copy the key the pool operator publishes (base58check, as sv2-keys prints it)",
                    ));
                }
            }
            if u.user_identity.is_empty() || u.user_identity.len() > 255 {
                return Err(ConfigError::new(
                    format!("{key}.user_identity"),
                    "must be 1..=255 bytes",
                    "use e.g. \"site.jdc1\"",
                ));
            }
        }
        check::bitcoin_address(
            "solo.address",
            &self.solo.address,
            "use an address of your node's network",
        )?;
        let f = &self.fallback;
        if f.connect_timeout_secs == 0
            || f.response_timeout_secs == 0
            || f.max_share_rejections == 0
            || f.retry_secs == 0
        {
            return Err(ConfigError::new(
                "fallback",
                "timeouts and limits must be positive",
                "remove the key to use the default",
            ));
        }
        check::metrics_listen(&self.metrics.listen, "127.0.0.1:9186")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        use bitcoin::secp256k1::{Keypair, Secp256k1, SecretKey};
        let secp = Secp256k1::new();
        let kp = Keypair::from_secret_key(&secp, &SecretKey::from_slice(&[3; 32]).unwrap());
        sv2_noise::encode_public_key(&kp.x_only_public_key().0)
    }

    fn text(extra: &str) -> String {
        format!(
            r#"
[downstream]
listen = "127.0.0.1:0"
authority_public_key = "a"
authority_secret_key = "b"

[bitcoind]
url = "http://127.0.0.1:18443"
user = "u"
password = "p"

[[upstream]]
pool_address = "127.0.0.1:34254"
pool_authority_public_key = "{k}"
jds_address = "127.0.0.1:34264"
jds_authority_public_key = "{k}"
user_identity = "site.jdc"

[solo]
address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
{extra}
"#,
            k = key()
        )
    }

    #[test]
    fn minimal_config_parses() {
        let cfg = JdcConfig::parse(&text("")).unwrap();
        assert_eq!(cfg.upstream.len(), 1);
        assert_eq!(cfg.downstream.extranonce_size, 8);
        assert_eq!(cfg.version_mask(), 0x1fff_e000);
        assert_eq!(cfg.fallback.max_share_rejections, 10);
    }

    #[test]
    fn mistakes_name_the_key() {
        let e = JdcConfig::parse(&text("").replace("127.0.0.1:34264", "nowhere")).unwrap_err();
        assert_eq!(e.key, "upstream[0].jds_address");
        let e = JdcConfig::parse(&text("").replace(&key(), "zz")).unwrap_err();
        assert_eq!(e.key, "upstream[0].pool_authority_public_key");
        let e = JdcConfig::parse(&text("").replace("bcrt1q", "qq")).unwrap_err();
        assert_eq!(e.key, "solo.address");
        let e = JdcConfig::parse(&text("[fallback]\nretry_secs = 0")).unwrap_err();
        assert_eq!(e.key, "fallback");
        let e =
            JdcConfig::parse(&text("").replace("[bitcoind]", "[bitcoind]\ncookie_file = \"/x\""))
                .unwrap_err();
        assert_eq!(e.key, "bitcoind");
    }

    #[test]
    fn example_config_is_valid() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/jd-client.example.toml");
        JdcConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
