//! `sv2-jd-client` configuration (TOML), validated at start with errors naming the key and
//! the fix. See `deploy/jd-client.example.toml` for every key.

use std::path::Path;

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

role_kit::listener_section! {
    /// `[downstream]`: the SV2 listener for miners and translators (e.g. `0.0.0.0:34255`)
    /// and the authority keys they pin, then the settings of their jobs.
    pub struct DownstreamConfig {
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
        #[serde(default = "role_kit::defaults::share_interval_secs")]
        pub share_interval_secs: f64,
        /// Starting difficulty when a miner gives no usable nominal hashrate.
        #[serde(default = "role_kit::defaults::initial_difficulty")]
        pub initial_difficulty: f64,
        /// Lowest difficulty vardiff may set.
        #[serde(default = "role_kit::defaults::min_difficulty")]
        pub min_difficulty: f64,
        /// Highest difficulty vardiff may set.
        #[serde(default = "role_kit::defaults::max_difficulty")]
        pub max_difficulty: f64,
        /// BIP320 bits miners may roll, hex.
        #[serde(default = "role_kit::defaults::version_rolling_mask")]
        pub version_rolling_mask: String,
        /// Acknowledge every this many accepted shares...
        #[serde(default = "role_kit::defaults::share_ack_batch")]
        pub share_ack_batch: u32,
        /// ...or after this many milliseconds.
        #[serde(default = "role_kit::defaults::share_ack_interval_ms")]
        pub share_ack_interval_ms: u64,
    }
}

role_kit::bitcoind_section! {
    /// `[bitcoind]`: the connection keys, the poll interval and the fee refresh.
    pub struct BitcoindConfig {
        /// Best-block poll interval next to long polling, milliseconds.
        #[serde(default = "role_kit::defaults::jd_poll_interval_ms")]
        pub poll_interval_ms: u64,
        /// Minimum time between two templates on the same tip (fee refreshes), seconds.
        #[serde(default = "role_kit::defaults::min_fee_refresh_secs")]
        pub min_fee_refresh_secs: u64,
    }
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

/// `[fallback]` (every key has a default, see `Default`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FallbackConfig {
    /// TCP connect plus handshake timeout per server, seconds.
    pub connect_timeout_secs: u64,
    /// Time a server has to answer a request (token, declaration, channel, custom job), seconds.
    pub response_timeout_secs: u64,
    /// Share rejections by the pool in a row (other than stale or duplicate shares) that make
    /// the client leave it.
    pub max_share_rejections: u32,
    /// While mining solo (every upstream failed), try the upstreams again after this long, seconds.
    pub retry_secs: u64,
}

/// `[metrics]`: `listen`, the HTTP address of `/metrics`, by default `127.0.0.1:9186`; empty
/// disables it.
pub type MetricsConfig = check::MetricsSection<9186>;

fn default_pool_tag() -> String {
    "/sv2-jdc/".into()
}
fn default_extranonce_size() -> u8 {
    8
}
fn default_client_extranonce() -> u8 {
    6
}

impl Default for FallbackConfig {
    fn default() -> Self {
        FallbackConfig {
            connect_timeout_secs: 5,
            response_timeout_secs: 10,
            max_share_rejections: 10,
            retry_secs: 60,
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
        self.bitcoind.rpc_keys()
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
        self.metrics.check()?;
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
