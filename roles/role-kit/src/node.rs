//! bitcoind from a role's config: the `[bitcoind]` keys every role with a node has (URL and
//! credentials), their checks, and waiting for the node at start.

use std::path::PathBuf;
use std::time::Duration;

use node_rpc::{BlockchainInfo, NodeAuth, NodeClient, NodeConfig};

use crate::config::{http_url, ConfigError};

/// Long-poll timeout of every role's template requests.
pub const LONGPOLL_TIMEOUT: Duration = Duration::from_secs(120);

/// Declares a role's `[bitcoind]` section: the connection keys every role has (`url`, `user`,
/// `password`, `cookie_file`, and last `rpc_timeout_secs`, default
/// [`defaults::rpc_timeout_secs`](crate::defaults::rpc_timeout_secs)) around the role's own
/// fields, with `#[serde(deny_unknown_fields)]` and an `rpc_keys()` method giving its
/// [`RpcKeys`]. The calling crate must depend on `serde` and name this crate `role_kit`.
///
/// A macro, not a shared struct each role `#[serde(flatten)]`s: each role refuses the keys it
/// does not take, and flattening would lose TOML's error positions and the list of expected
/// keys in unknown-key errors.
#[macro_export]
macro_rules! bitcoind_section {
    ($(#[$attr:meta])* $vis:vis struct $name:ident { $($fields:tt)* }) => {
        $(#[$attr])*
        #[derive(Debug, Clone, ::serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        $vis struct $name {
            /// RPC URL, e.g. `http://127.0.0.1:8332`.
            pub url: ::std::string::String,
            /// RPC user (with `password`), or leave out and set `cookie_file`.
            #[serde(default)]
            pub user: ::std::option::Option<::std::string::String>,
            /// RPC password.
            #[serde(default)]
            pub password: ::std::option::Option<::std::string::String>,
            /// Path to the node's `.cookie` file.
            #[serde(default)]
            pub cookie_file: ::std::option::Option<::std::path::PathBuf>,
            $($fields)*
            /// Timeout of ordinary RPC calls, seconds.
            #[serde(default = "role_kit::defaults::rpc_timeout_secs")]
            pub rpc_timeout_secs: u64,
        }

        impl $name {
            /// The connection keys of this section.
            pub fn rpc_keys(&self) -> $crate::node::RpcKeys<'_> {
                $crate::rpc_keys!(self)
            }
        }
    };
}

/// The connection keys of a node section (`[bitcoind]`, `[[bitcoind.submit_also]]`).
#[derive(Debug, Clone, Copy)]
pub struct RpcKeys<'a> {
    /// RPC URL.
    pub url: &'a str,
    /// RPC user (with `password`).
    pub user: &'a Option<String>,
    /// RPC password.
    pub password: &'a Option<String>,
    /// Path to the node's `.cookie` file.
    pub cookie_file: &'a Option<PathBuf>,
    /// Timeout of ordinary RPC calls, seconds.
    pub rpc_timeout_secs: u64,
}

impl RpcKeys<'_> {
    /// Authentication: user + password when both are set, else the cookie file.
    pub fn auth(&self) -> NodeAuth {
        match (self.user, self.password, self.cookie_file) {
            (Some(u), Some(p), _) => NodeAuth::UserPass {
                user: u.clone(),
                password: p.clone(),
            },
            (_, _, Some(c)) => NodeAuth::CookieFile(c.clone()),
            _ => NodeAuth::UserPass {
                user: String::new(),
                password: String::new(),
            },
        }
    }

    /// Settings of the RPC client.
    pub fn node_config(&self) -> NodeConfig {
        NodeConfig {
            url: self.url.to_owned(),
            auth: self.auth(),
            timeout: Duration::from_secs(self.rpc_timeout_secs),
            longpoll_timeout: LONGPOLL_TIMEOUT,
        }
    }

    /// Exactly one of user + password and `cookie_file`; the error names the key to add or
    /// remove under `section`.
    pub fn check_credentials(&self, section: &str) -> Result<(), ConfigError> {
        match (self.user, self.password, self.cookie_file) {
            (Some(_), Some(_), None) | (None, None, Some(_)) => Ok(()),
            (Some(_), None, _) => Err(ConfigError::new(
                format!("{section}.password"),
                "user given without password",
                "add password = \"...\" (rpcpassword of the node)",
            )),
            (None, Some(_), _) => Err(ConfigError::new(
                format!("{section}.user"),
                "password given without user",
                "add user = \"...\" (rpcuser of the node)",
            )),
            (Some(_), Some(_), Some(_)) => Err(ConfigError::new(
                format!("{section}.cookie_file"),
                "both user/password and cookie_file are set",
                "keep one of the two",
            )),
            (None, None, None) => Err(ConfigError::new(
                format!("{section}.cookie_file"),
                "no credentials",
                "set cookie_file = \"/path/to/.bitcoin/.cookie\" or user + password",
            )),
        }
    }

    /// The job declaration roles' `[bitcoind]` checks: URL, credentials (one error for the
    /// whole section), poll interval and RPC timeout.
    pub fn check_section(&self, section: &str, poll_interval_ms: u64) -> Result<(), ConfigError> {
        http_url(
            &format!("{section}.url"),
            self.url,
            "use e.g. \"http://127.0.0.1:8332\"",
        )?;
        match (self.user, self.password, self.cookie_file) {
            (Some(_), Some(_), None) | (None, None, Some(_)) => {}
            _ => {
                return Err(ConfigError::new(
                    section,
                    "credentials must be user + password, or cookie_file",
                    "set user and password (rpcuser/rpcpassword) or cookie_file",
                ))
            }
        }
        if poll_interval_ms < 10 || self.rpc_timeout_secs == 0 {
            return Err(ConfigError::new(
                format!("{section}.poll_interval_ms"),
                "poll interval below 10 ms or zero RPC timeout",
                "use poll_interval_ms = 500, rpc_timeout_secs = 10",
            ));
        }
        Ok(())
    }
}

/// Asks the node for its chain, retrying transient failures (the node may be starting) with
/// a doubling delay for a few seconds; returns the chain info and its network.
pub async fn wait_for_node(
    node: &NodeClient,
) -> Result<(BlockchainInfo, bitcoin::Network), String> {
    let mut delay = Duration::from_millis(200);
    let info = loop {
        match node.blockchain_info().await {
            Ok(i) => break i,
            Err(e) if e.is_transient() && delay < Duration::from_secs(5) => {
                tracing::warn!(error = %e, "waiting for bitcoind");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    let network = info
        .network()
        .ok_or_else(|| format!("unknown chain `{}`", info.chain))?;
    Ok((info, network))
}

/// A client for the node of `config`, once the node answers ([`wait_for_node`]): the client,
/// the node's chain state and its network, or the start error that names the problem.
pub async fn connect_node(
    config: NodeConfig,
) -> Result<(NodeClient, BlockchainInfo, bitcoin::Network), crate::StartError> {
    let node = NodeClient::new(config).map_err(|e| crate::StartError::Node(e.to_string()))?;
    let (info, network) = wait_for_node(&node)
        .await
        .map_err(crate::StartError::Node)?;
    Ok((node, info, network))
}

/// Checks a configured address against the node's network. The error reads
/// ``config key `key`: ...`` (with `fix` when the network is wrong), as start errors do.
pub fn address_on_network(
    key: &str,
    text: &str,
    network: bitcoin::Network,
    fix: &str,
) -> Result<bitcoin::Address, String> {
    text.parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>()
        .map_err(|e| format!("config key `{key}`: {e}"))?
        .require_network(network)
        .map_err(|_| {
            format!(
                "config key `{key}`: not an address of the node's network ({network}). Fix: {fix}"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::bitcoind_section! {
        /// A section with one role field.
        struct Section {
            /// Poll interval.
            #[serde(default)]
            poll_interval_ms: u64,
        }
    }

    #[test]
    fn bitcoind_section_keys_and_defaults() {
        let s: Section = toml::from_str("url = \"http://n:1\"\ncookie_file = \"/c\"").unwrap();
        assert_eq!(s.rpc_timeout_secs, 10);
        assert_eq!(s.poll_interval_ms, 0);
        assert!(s.rpc_keys().check_credentials("bitcoind").is_ok());
        assert_eq!(s.rpc_keys().node_config().url, "http://n:1");
        let e = toml::from_str::<Section>("url = \"u\"\nbogus = 1").unwrap_err();
        assert!(
            e.message().ends_with(
                "expected one of `url`, `user`, `password`, `cookie_file`, `poll_interval_ms`, `rpc_timeout_secs`"
            ),
            "{}",
            e.message()
        );
    }

    fn keys<'a>(
        user: &'a Option<String>,
        password: &'a Option<String>,
        cookie: &'a Option<PathBuf>,
    ) -> RpcKeys<'a> {
        RpcKeys {
            url: "http://127.0.0.1:8332",
            user,
            password,
            cookie_file: cookie,
            rpc_timeout_secs: 10,
        }
    }

    #[test]
    fn credentials() {
        let (u, p, c) = (
            Some("u".into()),
            Some("p".into()),
            Some(PathBuf::from("/c")),
        );
        assert!(keys(&u, &p, &None).check_credentials("b").is_ok());
        assert!(keys(&None, &None, &c).check_credentials("b").is_ok());
        let e = keys(&u, &None, &None).check_credentials("b").unwrap_err();
        assert_eq!(e.key, "b.password");
        let e = keys(&u, &p, &c).check_credentials("b").unwrap_err();
        assert_eq!(e.key, "b.cookie_file");
        let e = keys(&u, &p, &c).check_section("bitcoind", 500).unwrap_err();
        assert_eq!(e.key, "bitcoind");
        let e = keys(&u, &p, &None)
            .check_section("bitcoind", 5)
            .unwrap_err();
        assert_eq!(e.key, "bitcoind.poll_interval_ms");
        assert!(matches!(keys(&u, &p, &c).auth(), NodeAuth::UserPass { .. }));
        assert!(matches!(
            keys(&None, &None, &c).auth(),
            NodeAuth::CookieFile(_)
        ));
    }

    #[test]
    fn address_network() {
        let a = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
        assert!(address_on_network("k", a, bitcoin::Network::Regtest, "f").is_ok());
        let e = address_on_network("k", a, bitcoin::Network::Bitcoin, "f").unwrap_err();
        assert!(e.starts_with("config key `k`: not an address"), "{e}");
    }
}
