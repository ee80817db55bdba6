//! Configuration errors that name the key, the problem and the fix; TOML file loading; the
//! value checks several roles' configs share.
//!
//! Every check takes the dotted key it reports and, where roles word it differently, the fix
//! text, so each role keeps its own messages.

use std::net::SocketAddr;
use std::path::Path;

use bitcoin::address::NetworkUnchecked;
use serde::de::DeserializeOwned;

/// A configuration problem: which key, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("config key `{key}`: {problem}. Fix: {fix}")]
pub struct ConfigError {
    /// Dotted key path, e.g. `bitcoind.url`.
    pub key: String,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl ConfigError {
    /// An error for `key`.
    pub fn new(key: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// How a role reads its TOML file and words the errors of reading and parsing it. The
/// target types carry `#[serde(deny_unknown_fields)]`, so a misspelt key is a parse error.
#[derive(Debug, Clone, Copy)]
pub struct TomlFile {
    /// Fix of a file that cannot be read, e.g. `pass an existing file with --config`.
    pub read_fix: &'static str,
    /// Key named by syntax errors, unknown and missing keys, e.g. `(syntax)`.
    pub syntax_key: &'static str,
    /// Fix of those errors, e.g. pointing at the example file.
    pub syntax_fix: &'static str,
    /// The problem is the parser's full report (line, column, the line itself); otherwise
    /// only its message.
    pub full_report: bool,
}

impl TomlFile {
    /// The file's text; the error names the key `(file)`.
    pub fn read(&self, path: &Path) -> Result<String, ConfigError> {
        std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                "(file)",
                format!("cannot read {}: {e}", path.display()),
                self.read_fix,
            )
        })
    }

    /// Parses TOML text (values are not checked here).
    pub fn parse<T: DeserializeOwned>(&self, text: &str) -> Result<T, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let problem = if self.full_report {
                e.to_string()
            } else {
                e.message().to_owned()
            };
            ConfigError::new(self.syntax_key, problem, self.syntax_fix)
        })
    }

    /// Reads and parses a file.
    pub fn load<T: DeserializeOwned>(&self, path: &Path) -> Result<T, ConfigError> {
        self.parse(&self.read(path)?)
    }

    /// Parses TOML text and checks the values with `validate`.
    pub fn parse_checked<T: DeserializeOwned>(
        &self,
        text: &str,
        validate: impl FnOnce(&T) -> Result<(), ConfigError>,
    ) -> Result<T, ConfigError> {
        let cfg = self.parse(text)?;
        validate(&cfg)?;
        Ok(cfg)
    }
}

/// The [`RpcKeys`](crate::node::RpcKeys) of a config section that has the fields `url`,
/// `user`, `password`, `cookie_file` and `rpc_timeout_secs`.
#[macro_export]
macro_rules! rpc_keys {
    ($section:expr) => {{
        let s = &$section;
        $crate::node::RpcKeys {
            url: &s.url,
            user: &s.user,
            password: &s.password,
            cookie_file: &s.cookie_file,
            rpc_timeout_secs: s.rpc_timeout_secs,
        }
    }};
}

/// `url` must be `http://` followed by something (Bitcoin Core's RPC speaks plain HTTP).
pub fn http_url(key: &str, url: &str, fix: &str) -> Result<(), ConfigError> {
    if url.starts_with("http://") && url.len() > "http://".len() {
        Ok(())
    } else {
        Err(ConfigError::new(
            key,
            format!("`{url}` is not an http:// URL"),
            fix,
        ))
    }
}

/// `metrics.listen`: empty disables the endpoint, anything else must be `ip:port`.
/// `example` is the role's default address, shown in the fix.
pub fn metrics_listen(value: &str, example: &str) -> Result<Option<SocketAddr>, ConfigError> {
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| {
        ConfigError::new(
            "metrics.listen",
            format!("`{value}` is not ip:port"),
            format!("use e.g. \"{example}\", or \"\" to disable"),
        )
    })
}

/// The `[metrics]` section of a role whose Prometheus endpoint listens on `127.0.0.1:PORT`
/// unless `listen` says otherwise (an empty string disables it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSection<const PORT: u16> {
    /// HTTP address of `/metrics`; empty disables it.
    pub listen: String,
}

impl<const PORT: u16> MetricsSection<PORT> {
    /// The default `listen`: `127.0.0.1:PORT`.
    pub fn default_listen() -> String {
        format!("127.0.0.1:{PORT}")
    }

    /// Checks `listen` (see [`metrics_listen`]); `None` when the endpoint is disabled.
    pub fn check(&self) -> Result<Option<SocketAddr>, ConfigError> {
        metrics_listen(&self.listen, &Self::default_listen())
    }
}

/// By hand: serde's derive does not take const generics. The keys are those of a derived
/// `MetricsConfig` with `deny_unknown_fields`, so errors read as the roles' own did.
impl<'de, const PORT: u16> serde::Deserialize<'de> for MetricsSection<PORT> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct MetricsConfig {
            #[serde(default)]
            listen: Option<String>,
        }
        let keys = MetricsConfig::deserialize(d)?;
        Ok(MetricsSection {
            listen: keys.listen.unwrap_or_else(Self::default_listen),
        })
    }
}

impl<const PORT: u16> Default for MetricsSection<PORT> {
    fn default() -> Self {
        MetricsSection {
            listen: Self::default_listen(),
        }
    }
}

/// An `IP:port` socket address.
pub fn ip_port(key: &str, value: &str, fix: &str) -> Result<SocketAddr, ConfigError> {
    value
        .parse()
        .map_err(|_| ConfigError::new(key, format!("`{value}` is not an IP:port address"), fix))
}

/// Splits `host:port` (IPv6 hosts in brackets: `[::1]:34254`); port 0 and empty hosts are
/// refused.
pub fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.trim().rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    Some((host.to_owned(), port))
}

/// A `host:port` server address (see [`split_host_port`]).
pub fn host_port(key: &str, value: &str, fix: &str) -> Result<(String, u16), ConfigError> {
    split_host_port(value)
        .ok_or_else(|| ConfigError::new(key, format!("`{value}` is not host:port"), fix))
}

/// A bitcoin address of any network (the node's network is checked at start).
pub fn bitcoin_address(
    key: &str,
    text: &str,
    fix: &str,
) -> Result<bitcoin::Address<NetworkUnchecked>, ConfigError> {
    text.parse()
        .map_err(|_| ConfigError::new(key, format!("`{text}` is not a bitcoin address"), fix))
}

/// A hex `u32` with or without `0x`.
pub fn parse_hex_u32(text: &str) -> Option<u32> {
    u32::from_str_radix(text.trim_start_matches("0x"), 16).ok()
}

/// A version-rolling mask: a hex `u32`.
pub fn version_mask(key: &str, text: &str, fix: &str) -> Result<u32, ConfigError> {
    parse_hex_u32(text).ok_or_else(|| ConfigError::new(key, "not a hex u32", fix))
}

/// The first `(key, value)` whose value is 0 is an error with `problem` and `fix`.
pub fn nonzero(items: &[(&str, u64)], problem: &str, fix: &str) -> Result<(), ConfigError> {
    match items.iter().find(|(_, v)| *v == 0) {
        Some((key, _)) => Err(ConfigError::new(*key, problem, fix)),
        None => Ok(()),
    }
}

/// Largest SV2 frame payload: 1024 bytes up to the 24-bit length limit.
pub fn max_frame_bytes(key: &str, value: usize, fix: &str) -> Result<(), ConfigError> {
    if (1024..=(1 << 24) - 1).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            key,
            "must be between 1024 and 16777215",
            fix,
        ))
    }
}

/// Vardiff's aim: seconds between shares, at least 0.1.
pub fn share_interval(key: &str, secs: f64) -> Result<(), ConfigError> {
    if secs.is_finite() && secs >= 0.1 {
        Ok(())
    } else {
        Err(ConfigError::new(
            key,
            "must be a number >= 0.1",
            "use e.g. 5.0",
        ))
    }
}

/// A 32-byte secret given inline (`{section}.{name}`) or as the contents of a file
/// (`{section}.{name}_file`): exactly one must be set, and `parse` must accept the text
/// (64 hex digits). `fix` is the fix reported when neither or both are set or the text is not
/// a key.
pub fn hex_secret<T>(
    section: &str,
    name: &str,
    inline: Option<&str>,
    file: Option<&Path>,
    fix: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, ConfigError> {
    let inline_key = format!("{section}.{name}");
    let file_key = format!("{section}.{name}_file");
    let (text, key) = match (inline, file) {
        (Some(s), None) => (s.to_owned(), inline_key),
        (None, Some(path)) => (
            std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new(
                    file_key.as_str(),
                    format!("cannot read {}: {e}", path.display()),
                    "point it at a file holding 64 hex digits",
                )
            })?,
            file_key,
        ),
        _ => {
            return Err(ConfigError::new(
                inline_key,
                format!("set exactly one of {name} and {name}_file"),
                fix,
            ))
        }
    };
    parse(&text).ok_or_else(|| ConfigError::new(key, "not 64 hex digits", fix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Small {
        #[allow(dead_code)]
        a: u32,
    }

    const FILE: TomlFile = TomlFile {
        read_fix: "pass an existing file",
        syntax_key: "(syntax)",
        syntax_fix: "see the example",
        full_report: false,
    };

    #[test]
    fn toml_errors_name_the_file_or_syntax_key() {
        let e = FILE.parse::<Small>("a = 1\nb = 2").unwrap_err();
        assert_eq!(e.key, "(syntax)");
        assert!(e.problem.contains("unknown field `b`"), "{}", e.problem);
        assert!(!e.problem.contains("line"), "{}", e.problem);
        let full = TomlFile {
            full_report: true,
            ..FILE
        };
        let e = full.parse::<Small>("a = 1\nb = 2").unwrap_err();
        assert!(e.problem.contains("line 2"), "{}", e.problem);
        let e = FILE
            .load::<Small>(Path::new("/nonexistent/role-kit.toml"))
            .unwrap_err();
        assert_eq!(e.key, "(file)");
        assert_eq!(
            e.to_string(),
            format!(
                "config key `(file)`: {}. Fix: pass an existing file",
                e.problem
            )
        );
    }

    #[test]
    fn checks_accept_and_refuse() {
        assert!(http_url("k", "http://127.0.0.1:8332", "f").is_ok());
        assert_eq!(http_url("k", "http://", "f").unwrap_err().key, "k");
        assert_eq!(metrics_listen("", "x").unwrap(), None);
        assert!(metrics_listen("127.0.0.1:1", "x").unwrap().is_some());
        assert_eq!(
            metrics_listen("nowhere", "127.0.0.1:9").unwrap_err().fix,
            "use e.g. \"127.0.0.1:9\", or \"\" to disable"
        );
        assert!(ip_port("k", "host:1", "f").is_err());
        assert_eq!(split_host_port("[::1]:34254"), Some(("::1".into(), 34254)));
        assert_eq!(split_host_port("10.0.0.1:1"), Some(("10.0.0.1".into(), 1)));
        assert_eq!(split_host_port("host:0"), None);
        assert_eq!(split_host_port(":80"), None);
        assert_eq!(split_host_port("host"), None);
        assert!(host_port("k", "no-port", "f").is_err());
        assert!(bitcoin_address("k", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "f").is_ok());
        assert!(bitcoin_address("k", "xx", "f").is_err());
        assert_eq!(parse_hex_u32("0x1fffe000"), Some(0x1fff_e000));
        assert!(version_mask("k", "zz", "f").is_err());
        assert_eq!(
            nonzero(&[("a", 1), ("b", 0)], "is 0", "f").unwrap_err().key,
            "b"
        );
        assert!(max_frame_bytes("k", 1023, "f").is_err());
        assert!(max_frame_bytes("k", (1 << 24) - 1, "f").is_ok());
        assert!(share_interval("k", f64::NAN).is_err());
        assert!(share_interval("k", 0.1).is_ok());
    }

    #[test]
    fn metrics_section_defaults_and_checks() {
        let m: MetricsSection<9184> = toml::from_str("").unwrap();
        assert_eq!(m.listen, "127.0.0.1:9184");
        assert!(m.check().unwrap().is_some());
        let off: MetricsSection<9184> = toml::from_str("listen = \"\"").unwrap();
        assert_eq!(off.check().unwrap(), None);
        let bad = MetricsSection::<9185> {
            listen: "nowhere".into(),
        };
        assert_eq!(
            bad.check().unwrap_err().fix,
            "use e.g. \"127.0.0.1:9185\", or \"\" to disable"
        );
        let e = toml::from_str::<MetricsSection<1>>("port = 1").unwrap_err();
        assert!(
            e.message().contains("unknown field `port`"),
            "{}",
            e.message()
        );
    }

    fn four(t: &str) -> Option<u8> {
        (t.trim() == "ab").then_some(0xab)
    }

    #[test]
    fn hex_secret_inline_file_and_errors() {
        let ok = hex_secret("t", "token_secret", Some("ab"), None, "fx", four);
        assert_eq!(ok, Ok(0xab));
        let e = hex_secret("t", "token_secret", Some("zz"), None, "fx", four).unwrap_err();
        assert_eq!(e.key, "t.token_secret");
        assert_eq!(e.problem, "not 64 hex digits");
        let e = hex_secret("t", "token_secret", None, None, "fx", four).unwrap_err();
        assert_eq!(
            e.problem,
            "set exactly one of token_secret and token_secret_file"
        );
        assert_eq!(e.fix, "fx");
        let missing = Path::new("/nonexistent/secret");
        let e = hex_secret("t", "token_secret", None, Some(missing), "fx", four).unwrap_err();
        assert_eq!(e.key, "t.token_secret_file");
        let dir = std::env::temp_dir().join(format!("role-kit-secret-{}", std::process::id()));
        std::fs::write(&dir, "ab\n").unwrap();
        let ok = hex_secret("t", "token_secret", None, Some(&dir), "fx", four);
        let _ = std::fs::remove_file(&dir);
        assert_eq!(ok, Ok(0xab));
    }
}
