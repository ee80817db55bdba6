//! Translator configuration (TOML), validated at start into [`Settings`]; every error names
//! the key, the problem and the fix. `deploy/translator.example.toml` documents each key.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use role_kit::config::{self as check, TomlFile};
use serde::Deserialize;
use sv2_mining::vardiff::VardiffConfig;
use sv2_noise::secp256k1::XOnlyPublicKey;

use crate::extranonce::{counter_len_for, MAX_EXTRANONCE2_SIZE, MIN_EXTRANONCE2_SIZE};
use crate::worker::valid_site;

pub use role_kit::ConfigError;

/// How the file is read and its parse errors are worded.
const FILE: TomlFile = TomlFile {
    read_fix: "pass the path of an existing file with --config",
    syntax_key: "(file)",
    syntax_fix: "compare with deploy/translator.example.toml",
    full_report: false,
};

/// How miners map onto upstream extended channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelMode {
    /// One extended channel carries every miner (the pool sees one worker per site).
    Aggregate,
    /// One extended channel per miner (the pool sees every worker; costs one job stream each).
    PerMiner,
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslatorConfig {
    /// `[translator]`: site identity and the SV1 side.
    pub translator: TranslatorSection,
    /// `[[upstream]]`: SV2 pools in order of preference.
    #[serde(default)]
    pub upstream: Vec<UpstreamSection>,
    /// `[vardiff]`: per-miner difficulty.
    #[serde(default)]
    pub vardiff: VardiffSection,
    /// `[limits]`: protection against misbehaving miners.
    #[serde(default)]
    pub limits: LimitsSection,
    /// `[failover]`: upstream reconnection policy.
    #[serde(default)]
    pub failover: FailoverSection,
    /// `[metrics]`: Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsSection,
}

/// `[translator]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslatorSection {
    /// Site id: worker names go upstream as `<site>.<worker>`.
    pub site: String,
    /// SV1 listening address, e.g. `0.0.0.0:3333`.
    pub listen: String,
    /// When set, `mining.authorize` must carry this password.
    #[serde(default)]
    pub password: Option<String>,
    /// `aggregate` or `per-miner`.
    #[serde(default = "default_mode")]
    pub channel_mode: ChannelMode,
    /// Worker name of the aggregate channel (`<site>.<aggregate_worker>` upstream).
    #[serde(default = "default_aggregate_worker")]
    pub aggregate_worker: String,
    /// Extranonce2 bytes each miner rolls (2..=8).
    #[serde(default = "default_en2")]
    pub extranonce2_size: u8,
    /// Version bits miners may roll, hex (intersected with what the pool allows).
    #[serde(default = "role_kit::defaults::version_rolling_mask")]
    pub version_rolling_mask: String,
    /// Seconds between `UpdateChannel` messages carrying the miners' summed hashrate.
    #[serde(default = "default_update_secs")]
    pub update_channel_secs: u64,
}

/// One `[[upstream]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    /// `host:port` of the SV2 pool.
    pub address: String,
    /// The pool's authority public key (base58check, from `sv2-keys authority`).
    pub authority_public_key: String,
}

/// `[vardiff]` (every key has a default, see `Default`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VardiffSection {
    /// Mean seconds between shares each miner should find.
    pub share_interval_secs: f64,
    /// Difficulty a miner starts at (unless it suggests one).
    pub initial_difficulty: f64,
    /// Lowest difficulty sent to a miner.
    pub min_difficulty: f64,
    /// Highest difficulty sent to a miner.
    pub max_difficulty: f64,
}

/// `[limits]` (every key has a default, see `Default`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Simultaneous SV1 connections.
    pub max_miners: u32,
    /// Longest SV1 line accepted, bytes.
    pub max_line_bytes: usize,
    /// Seconds without any line from a miner before it is disconnected.
    pub idle_timeout_secs: u64,
    /// Seconds a miner has to complete subscribe + authorize.
    pub setup_timeout_secs: u64,
    /// Locally rejected shares per minute before a miner is disconnected.
    pub max_invalid_shares_per_minute: u32,
    /// Lines that are not Stratum requests before a miner is disconnected.
    pub max_malformed_lines: u32,
}

/// `[failover]` (every key has a default, see `Default`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailoverSection {
    /// Seconds allowed for TCP connect + Noise handshake.
    pub connect_timeout_secs: u64,
    /// First delay after every upstream failed, milliseconds (doubles each round).
    pub backoff_initial_ms: u64,
    /// Longest delay between rounds, seconds.
    pub backoff_max_secs: u64,
    /// While on a backup, seconds between attempts to return to the first upstream.
    pub primary_retry_secs: u64,
    /// Consecutive upstream share rejections that count as a failed upstream.
    pub max_consecutive_rejects: u32,
    /// Seconds without any upstream after which miners are sent away (`client.reconnect`)
    /// so their firmware can use its own backup pools; 0 keeps them forever.
    pub release_miners_after_secs: u64,
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Prometheus listen address (`/metrics`); empty disables.
    #[serde(default)]
    pub listen: String,
}

fn default_mode() -> ChannelMode {
    ChannelMode::Aggregate
}
fn default_aggregate_worker() -> String {
    "translator".into()
}
fn default_en2() -> u8 {
    4
}
fn default_update_secs() -> u64 {
    30
}

impl Default for VardiffSection {
    fn default() -> Self {
        VardiffSection {
            share_interval_secs: 10.0,
            initial_difficulty: 65_536.0,
            min_difficulty: 1024.0,
            max_difficulty: 1e12,
        }
    }
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_miners: 10_000,
            max_line_bytes: 16 * 1024,
            idle_timeout_secs: 900,
            setup_timeout_secs: 60,
            max_invalid_shares_per_minute: 120,
            max_malformed_lines: 3,
        }
    }
}

impl Default for FailoverSection {
    fn default() -> Self {
        FailoverSection {
            connect_timeout_secs: 10,
            backoff_initial_ms: 500,
            backoff_max_secs: 30,
            primary_retry_secs: 300,
            max_consecutive_rejects: 50,
            release_miners_after_secs: 600,
        }
    }
}

/// An upstream pool after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTarget {
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Authority key the pool's certificate must be signed with.
    pub authority: XOnlyPublicKey,
}

impl UpstreamTarget {
    /// `host:port`, for logs and metric labels.
    pub fn label(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Limits applied to SV1 miners.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Simultaneous SV1 connections.
    pub max_miners: u32,
    /// Longest SV1 line, bytes.
    pub max_line_bytes: usize,
    /// Silence after which a miner is disconnected.
    pub idle_timeout: Duration,
    /// Time to complete subscribe + authorize, milliseconds.
    pub setup_timeout_ms: u64,
    /// Locally rejected shares per minute before disconnection.
    pub max_invalid_per_minute: u32,
    /// Malformed lines before disconnection.
    pub max_malformed_lines: u32,
}

/// Upstream selection and health settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FailoverSettings {
    /// TCP connect + Noise handshake timeout.
    pub connect_timeout: Duration,
    /// First delay after a full round of failures.
    pub backoff_initial: Duration,
    /// Longest delay between rounds.
    pub backoff_max: Duration,
    /// Interval between attempts to return to the first upstream.
    pub primary_retry: Duration,
    /// Consecutive share rejections that mark an upstream as failed.
    pub max_consecutive_rejects: u32,
    /// Time without upstream after which miners are released; `None` keeps them.
    pub release_miners_after: Option<Duration>,
}

/// Validated settings the translator runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Site id.
    pub site: String,
    /// SV1 listening address.
    pub listen: SocketAddr,
    /// Password miners must present, if any.
    pub password: Option<String>,
    /// Channel mode.
    pub mode: ChannelMode,
    /// Worker name of the aggregate channel.
    pub aggregate_worker: String,
    /// Extranonce2 bytes each miner rolls (before any upstream forces fewer).
    pub extranonce2_size: usize,
    /// Bytes of the per-miner extranonce1 (derived from `limits.max_miners`).
    pub extranonce1_size: usize,
    /// Version bits miners may roll at most.
    pub version_mask: u32,
    /// Interval of aggregate `UpdateChannel` messages.
    pub update_channel_interval: Duration,
    /// Upstreams in order of preference.
    pub upstreams: Vec<UpstreamTarget>,
    /// Per-miner vardiff.
    pub vardiff: VardiffConfig,
    /// Starting difficulty.
    pub initial_difficulty: f64,
    /// Miner limits.
    pub limits: Limits,
    /// Failover policy.
    pub failover: FailoverSettings,
    /// Prometheus endpoint, if enabled.
    pub metrics_listen: Option<SocketAddr>,
}

impl TranslatorConfig {
    /// Parses TOML text (syntax and unknown keys are reported, values are checked by
    /// [`TranslatorConfig::validate`]).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        FILE.parse(text)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        FILE.load(path)
    }

    /// Checks every value and resolves the settings the translator runs with.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let t = &self.translator;
        if !valid_site(&t.site) {
            return Err(ConfigError::new(
                "translator.site",
                format!("`{}` is not a valid site id", t.site),
                "use 1-32 characters from A-Z a-z 0-9 _ - (no dots: the pool splits `site.worker` at the first dot)",
            ));
        }
        let listen = check::ip_port(
            "translator.listen",
            &t.listen,
            "write e.g. \"0.0.0.0:3333\"",
        )?;
        if t.password.as_deref() == Some("") {
            return Err(ConfigError::new(
                "translator.password",
                "empty password",
                "remove the key to accept any password, or set a non-empty one",
            ));
        }
        if !crate::worker::valid_worker_label(&t.aggregate_worker) {
            return Err(ConfigError::new(
                "translator.aggregate_worker",
                format!("`{}` is not a valid worker name", t.aggregate_worker),
                "use 1-64 characters from A-Z a-z 0-9 _ - : .",
            ));
        }
        let en2 = usize::from(t.extranonce2_size);
        if !(MIN_EXTRANONCE2_SIZE..=MAX_EXTRANONCE2_SIZE).contains(&en2) {
            return Err(ConfigError::new(
                "translator.extranonce2_size",
                format!("{en2} is out of range"),
                format!("use {MIN_EXTRANONCE2_SIZE}..={MAX_EXTRANONCE2_SIZE} (4 suits every ASIC firmware)"),
            ));
        }
        let mask = sv1::encoding::parse_u32_hex(&t.version_rolling_mask).map_err(|_| {
            ConfigError::new(
                "translator.version_rolling_mask",
                format!("`{}` is not a hex u32", t.version_rolling_mask),
                "write e.g. \"1fffe000\" (BIP320), or \"0\" to forbid version rolling",
            )
        })?;
        if mask & !sv2_mining::header::BIP320_VERSION_MASK != 0 {
            return Err(ConfigError::new(
                "translator.version_rolling_mask",
                format!("{mask:08x} has bits outside BIP320's 1fffe000"),
                "use a subset of 1fffe000",
            ));
        }
        if t.update_channel_secs == 0 {
            return Err(ConfigError::new(
                "translator.update_channel_secs",
                "must be at least 1",
                "use e.g. 30",
            ));
        }

        if self.upstream.is_empty() {
            return Err(ConfigError::new(
                "upstream",
                "no upstream pool configured",
                "add at least one [[upstream]] table with address and authority_public_key",
            ));
        }
        let mut upstreams = Vec::with_capacity(self.upstream.len());
        for (i, u) in self.upstream.iter().enumerate() {
            let (host, port) = check::host_port(
                &format!("upstream[{i}].address"),
                &u.address,
                "write e.g. \"pool.example.com:34254\"",
            )?;
            let authority = sv2_noise::decode_public_key(&u.authority_public_key).map_err(|e| {
                ConfigError::new(
                    format!("upstream[{i}].authority_public_key"),
                    format!("cannot decode: {e}"),
                    "paste the pool's authority public key (base58check, as printed by `sv2-keys authority`)",
                )
            })?;
            upstreams.push(UpstreamTarget {
                host,
                port,
                authority,
            });
        }

        let v = &self.vardiff;
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !(positive(v.share_interval_secs) && v.share_interval_secs <= 3600.0) {
            return Err(ConfigError::new(
                "vardiff.share_interval_secs",
                format!("{} is out of range", v.share_interval_secs),
                "use a number of seconds in (0, 3600], e.g. 10",
            ));
        }
        if !positive(v.min_difficulty) {
            return Err(ConfigError::new(
                "vardiff.min_difficulty",
                format!("{} is not a positive number", v.min_difficulty),
                "use e.g. 1024",
            ));
        }
        if !(positive(v.max_difficulty) && v.max_difficulty >= v.min_difficulty) {
            return Err(ConfigError::new(
                "vardiff.max_difficulty",
                format!(
                    "{} is below min_difficulty or not positive",
                    v.max_difficulty
                ),
                "use a value >= vardiff.min_difficulty, e.g. 1e12",
            ));
        }
        if !(positive(v.initial_difficulty)
            && v.initial_difficulty >= v.min_difficulty
            && v.initial_difficulty <= v.max_difficulty)
        {
            return Err(ConfigError::new(
                "vardiff.initial_difficulty",
                format!(
                    "{} is outside [min_difficulty, max_difficulty]",
                    v.initial_difficulty
                ),
                "pick a value between vardiff.min_difficulty and vardiff.max_difficulty",
            ));
        }
        let vardiff = VardiffConfig {
            target_share_interval_ms: (v.share_interval_secs * 1000.0).round().max(1.0) as u64,
            min_difficulty: v.min_difficulty,
            max_difficulty: v.max_difficulty,
            ..VardiffConfig::default()
        };
        vardiff.validate().map_err(|e| {
            ConfigError::new("vardiff", e.to_string(), "adjust the [vardiff] values")
        })?;

        let l = &self.limits;
        if l.max_miners == 0 || l.max_miners > 1_000_000 {
            return Err(ConfigError::new(
                "limits.max_miners",
                format!("{} is out of range", l.max_miners),
                "use 1..=1000000",
            ));
        }
        if !(512..=1024 * 1024).contains(&l.max_line_bytes) {
            return Err(ConfigError::new(
                "limits.max_line_bytes",
                format!("{} is out of range", l.max_line_bytes),
                "use 512..=1048576 (real mining.submit lines are under 300 bytes)",
            ));
        }
        check::nonzero(
            &[
                ("limits.idle_timeout_secs", l.idle_timeout_secs),
                ("limits.setup_timeout_secs", l.setup_timeout_secs),
            ],
            "must be at least 1",
            "use e.g. 60",
        )?;
        let f = &self.failover;
        check::nonzero(
            &[
                ("failover.connect_timeout_secs", f.connect_timeout_secs),
                ("failover.backoff_initial_ms", f.backoff_initial_ms),
                ("failover.backoff_max_secs", f.backoff_max_secs),
                ("failover.primary_retry_secs", f.primary_retry_secs),
                (
                    "failover.max_consecutive_rejects",
                    u64::from(f.max_consecutive_rejects),
                ),
            ],
            "must be at least 1",
            "see deploy/translator.example.toml for typical values",
        )?;
        if Duration::from_millis(f.backoff_initial_ms) > Duration::from_secs(f.backoff_max_secs) {
            return Err(ConfigError::new(
                "failover.backoff_initial_ms",
                "larger than failover.backoff_max_secs",
                "lower backoff_initial_ms or raise backoff_max_secs",
            ));
        }
        let metrics_listen = match self.metrics.listen.trim() {
            "" => None,
            listen => Some(check::ip_port(
                "metrics.listen",
                listen,
                "write e.g. \"127.0.0.1:9101\" or \"\" to disable",
            )?),
        };
        Ok(Settings {
            site: t.site.clone(),
            listen,
            password: t.password.clone(),
            mode: t.channel_mode,
            aggregate_worker: t.aggregate_worker.clone(),
            extranonce2_size: en2,
            extranonce1_size: counter_len_for(l.max_miners),
            version_mask: mask,
            update_channel_interval: Duration::from_secs(t.update_channel_secs),
            upstreams,
            vardiff,
            initial_difficulty: v.initial_difficulty,
            limits: Limits {
                max_miners: l.max_miners,
                max_line_bytes: l.max_line_bytes,
                idle_timeout: Duration::from_secs(l.idle_timeout_secs),
                setup_timeout_ms: l.setup_timeout_secs.saturating_mul(1000),
                max_invalid_per_minute: l.max_invalid_shares_per_minute,
                max_malformed_lines: l.max_malformed_lines,
            },
            failover: FailoverSettings {
                connect_timeout: Duration::from_secs(f.connect_timeout_secs),
                backoff_initial: Duration::from_millis(f.backoff_initial_ms),
                backoff_max: Duration::from_secs(f.backoff_max_secs),
                primary_retry: Duration::from_secs(f.primary_retry_secs),
                max_consecutive_rejects: f.max_consecutive_rejects,
                release_miners_after: (f.release_miners_after_secs > 0)
                    .then(|| Duration::from_secs(f.release_miners_after_secs)),
            },
            metrics_listen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        let secp = sv2_noise::secp256k1::Secp256k1::new();
        let sk = sv2_noise::secp256k1::SecretKey::from_slice(&[3u8; 32]).unwrap();
        let (x, _) = sk.x_only_public_key(&secp);
        sv2_noise::encode_public_key(&x)
    }

    fn base(extra_translator: &str, rest: &str) -> String {
        format!(
            "[translator]\nsite = \"fra1\"\nlisten = \"127.0.0.1:3333\"\n{extra_translator}\n\n[[upstream]]\naddress = \"pool.example.com:34254\"\nauthority_public_key = \"{}\"\n{rest}\n",
            key()
        )
    }

    fn err(text: &str) -> ConfigError {
        TranslatorConfig::parse(text)
            .and_then(|c| c.validate())
            .expect_err("config must be refused")
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let s = TranslatorConfig::parse(&base("", ""))
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(s.site, "fra1");
        assert_eq!(s.mode, ChannelMode::Aggregate);
        assert_eq!(s.extranonce2_size, 4);
        assert_eq!(s.extranonce1_size, 2);
        assert_eq!(s.version_mask, 0x1fff_e000);
        assert_eq!(s.upstreams.len(), 1);
        assert_eq!(s.upstreams[0].host, "pool.example.com");
        assert_eq!(s.upstreams[0].port, 34254);
        assert_eq!(s.vardiff.target_share_interval_ms, 10_000);
        assert_eq!(s.limits.max_miners, 10_000);
        assert!(s.metrics_listen.is_none());
        assert_eq!(
            s.failover.release_miners_after,
            Some(Duration::from_secs(600))
        );
    }

    #[test]
    fn the_example_file_is_valid() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/translator.example.toml");
        let cfg = TranslatorConfig::load(&path).expect("example parses");
        let s = cfg.validate().expect("example validates");
        assert_eq!(s.upstreams.len(), 2);
        assert_eq!(s.mode, ChannelMode::Aggregate);
    }

    #[test]
    fn errors_name_the_key_and_the_fix() {
        let e = err(&base("", "").replace("fra1", "fra.1"));
        assert_eq!(e.key, "translator.site");
        assert!(e.fix.contains("no dots"));

        let e = err(&base("extranonce2_size = 12", ""));
        assert_eq!(e.key, "translator.extranonce2_size");

        let e = err(&base("version_rolling_mask = \"ffffffff\"", ""));
        assert_eq!(e.key, "translator.version_rolling_mask");

        let e = err(&base("channel_mode = \"solo\"", ""));
        assert_eq!(e.key, "(file)");
        assert!(e.problem.contains("aggregate"), "{}", e.problem);

        let e = err(&base("", "").replace("pool.example.com:34254", "pool.example.com"));
        assert_eq!(e.key, "upstream[0].address");

        let e = err(&base("", "").replace(&key(), "not-a-key"));
        assert_eq!(e.key, "upstream[0].authority_public_key");

        let e = err(&base(
            "",
            "[vardiff]\nmin_difficulty = 100\nmax_difficulty = 10",
        ));
        assert_eq!(e.key, "vardiff.max_difficulty");

        let e = err(&base("", "[vardiff]\ninitial_difficulty = 1"));
        assert_eq!(e.key, "vardiff.initial_difficulty");

        let e = err(&base("", "[limits]\nmax_line_bytes = 10"));
        assert_eq!(e.key, "limits.max_line_bytes");

        let e = err(&base("", "[metrics]\nlisten = \"nowhere\""));
        assert_eq!(e.key, "metrics.listen");

        let e = err(&base(
            "",
            "[failover]\nbackoff_initial_ms = 99000\nbackoff_max_secs = 1",
        ));
        assert_eq!(e.key, "failover.backoff_initial_ms");

        let e = err(&base("password = \"\"", ""));
        assert_eq!(e.key, "translator.password");

        let e = err(&base("typo = 1", ""));
        assert_eq!(e.key, "(file)");
        assert!(e.problem.contains("typo"));

        let e = err("[translator]\nsite = \"a\"\nlisten = \"127.0.0.1:1\"\n");
        assert_eq!(e.key, "upstream");
        assert!(e.to_string().contains("Fix:"));
    }

    #[test]
    fn extranonce1_size_follows_max_miners() {
        let s = TranslatorConfig::parse(&base("", "[limits]\nmax_miners = 100000"))
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(s.extranonce1_size, 3);
    }
}
