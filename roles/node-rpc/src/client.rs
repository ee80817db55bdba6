//! Async wrapper over `bitcoincore-rpc`: typed calls, timeouts, and errors a role can act on.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;

use bitcoin::{BlockHash, Txid};
use bitcoincore_rpc::jsonrpc;
use bitcoincore_rpc::RpcApi;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::submit::SubmitBlockOutcome;
use crate::types::{BlockTemplate, BlockchainInfo, MempoolEntry, NetworkInfo};

/// How to authenticate to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeAuth {
    /// `rpcuser` / `rpcpassword`.
    UserPass {
        /// RPC user name.
        user: String,
        /// RPC password.
        password: String,
    },
    /// Path of the node's `.cookie` file, re-read on every (re)connection.
    CookieFile(PathBuf),
}

/// Where and how to reach one node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// RPC URL, e.g. `http://127.0.0.1:8332`.
    pub url: String,
    /// Credentials.
    pub auth: NodeAuth,
    /// Timeout for ordinary calls.
    pub timeout: Duration,
    /// Timeout for a long-poll `getblocktemplate` (must exceed the node's long-poll wait).
    pub longpoll_timeout: Duration,
}

/// Errors from a node call.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The node could not be reached or the connection failed mid-call.
    #[error("node unreachable: {0}")]
    Transport(String),
    /// The node refused our credentials (HTTP 401).
    #[error("node rejected the RPC credentials (HTTP 401): check rpcuser/rpcpassword or the cookie file")]
    Unauthorized,
    /// The node answered with a JSON-RPC error.
    #[error("node returned RPC error {code}: {message}")]
    Rpc {
        /// JSON-RPC error code (e.g. -8 invalid parameter).
        code: i32,
        /// Error message.
        message: String,
    },
    /// The reply did not have the expected shape.
    #[error("unexpected reply to {method}: {detail}")]
    Decode {
        /// Method called.
        method: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The cookie file could not be read.
    #[error("cannot read cookie file {path}: {detail}")]
    Cookie {
        /// Cookie path.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The blocking task running the call was cancelled.
    #[error("RPC task failed: {0}")]
    Task(String),
}

impl RpcError {
    /// True for errors that a retry after a back-off may cure (node down, restarting, slow).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RpcError::Transport(_) | RpcError::Task(_) | RpcError::Cookie { .. }
        ) || matches!(self, RpcError::Rpc { code, .. } if *code == -28)
    }

    /// Short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            RpcError::Transport(_) => "transport",
            RpcError::Unauthorized => "unauthorized",
            RpcError::Rpc { .. } => "rpc",
            RpcError::Decode { .. } => "decode",
            RpcError::Cookie { .. } => "cookie",
            RpcError::Task(_) => "task",
        }
    }
}

fn map_err(e: bitcoincore_rpc::Error) -> RpcError {
    use bitcoincore_rpc::Error as E;
    match e {
        E::JsonRpc(jsonrpc::Error::Rpc(r)) => RpcError::Rpc {
            code: r.code,
            message: r.message,
        },
        E::JsonRpc(jsonrpc::Error::Transport(t)) => {
            if let Some(jsonrpc::simple_http::Error::HttpErrorCode(401)) =
                t.downcast_ref::<jsonrpc::simple_http::Error>()
            {
                RpcError::Unauthorized
            } else {
                RpcError::Transport(t.to_string())
            }
        }
        E::JsonRpc(jsonrpc::Error::Json(j)) | E::Json(j) => RpcError::Decode {
            method: "?",
            detail: j.to_string(),
        },
        E::InvalidCookieFile => RpcError::Cookie {
            path: PathBuf::new(),
            detail: "invalid cookie file".into(),
        },
        other => RpcError::Transport(other.to_string()),
    }
}

/// A connection to one Bitcoin Core node. Cheap to clone; calls run on tokio's blocking pool.
///
/// Two underlying HTTP clients are kept: one for ordinary calls and one for long polls, so a
/// pending long poll never delays `submitblock`.
#[derive(Clone)]
pub struct NodeClient {
    config: Arc<NodeConfig>,
    calls: Arc<bitcoincore_rpc::Client>,
    longpoll: Arc<bitcoincore_rpc::Client>,
}

impl std::fmt::Debug for NodeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeClient")
            .field("url", &self.config.url)
            .finish()
    }
}

fn build_client(
    config: &NodeConfig,
    timeout: Duration,
) -> Result<bitcoincore_rpc::Client, RpcError> {
    let mut builder = jsonrpc::simple_http::Builder::new()
        .timeout(timeout)
        .url(&config.url)
        .map_err(|e| RpcError::Transport(format!("bad node URL {}: {e}", config.url)))?;
    builder = match &config.auth {
        NodeAuth::UserPass { user, password } => {
            builder.auth(user.as_str(), Some(password.as_str()))
        }
        NodeAuth::CookieFile(path) => {
            let cookie = std::fs::read_to_string(path).map_err(|e| RpcError::Cookie {
                path: path.clone(),
                detail: e.to_string(),
            })?;
            builder.cookie_auth(cookie.trim())
        }
    };
    let rpc = jsonrpc::Client::with_transport(builder.build());
    Ok(bitcoincore_rpc::Client::from_jsonrpc(rpc))
}

impl NodeClient {
    /// Creates a client (no network traffic yet). Fails only on a bad URL or unreadable cookie file.
    pub fn new(config: NodeConfig) -> Result<Self, RpcError> {
        let calls = build_client(&config, config.timeout)?;
        let longpoll = build_client(&config, config.longpoll_timeout)?;
        Ok(NodeClient {
            config: Arc::new(config),
            calls: Arc::new(calls),
            longpoll: Arc::new(longpoll),
        })
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// Re-reads credentials (e.g. after the node restarted and wrote a new cookie).
    pub fn reconnect(&mut self) -> Result<(), RpcError> {
        *self = NodeClient::new((*self.config).clone())?;
        Ok(())
    }

    async fn call_on<T: DeserializeOwned + Send + 'static>(
        client: Arc<bitcoincore_rpc::Client>,
        method: &'static str,
        params: Vec<Value>,
    ) -> Result<T, RpcError> {
        tokio::task::spawn_blocking(move || {
            let raw: Value = client.call(method, &params).map_err(map_err)?;
            serde_json::from_value(raw).map_err(|e| RpcError::Decode {
                method,
                detail: e.to_string(),
            })
        })
        .await
        .map_err(|e| RpcError::Task(e.to_string()))?
    }

    /// Calls any method and decodes its `result` into `T`.
    pub async fn call<T: DeserializeOwned + Send + 'static>(
        &self,
        method: &'static str,
        params: Vec<Value>,
    ) -> Result<T, RpcError> {
        Self::call_on(self.calls.clone(), method, params).await
    }

    /// `getblockchaininfo`.
    pub async fn blockchain_info(&self) -> Result<BlockchainInfo, RpcError> {
        self.call("getblockchaininfo", vec![]).await
    }

    /// `getnetworkinfo`.
    pub async fn network_info(&self) -> Result<NetworkInfo, RpcError> {
        self.call("getnetworkinfo", vec![]).await
    }

    /// `getblocktemplate {"rules":["segwit"]}`, long-polling when `longpollid` is given.
    pub async fn block_template(
        &self,
        longpollid: Option<&str>,
    ) -> Result<BlockTemplate, RpcError> {
        let mut req = json!({"rules": ["segwit"]});
        match longpollid {
            Some(id) => {
                req["longpollid"] = json!(id);
                Self::call_on(self.longpoll.clone(), "getblocktemplate", vec![req]).await
            }
            None => self.call("getblocktemplate", vec![req]).await,
        }
    }

    /// `submitblock <hex>`; the BIP22 answer is decoded, RPC errors (e.g. -22 decode failure) are errors.
    pub async fn submit_block(&self, block_hex: String) -> Result<SubmitBlockOutcome, RpcError> {
        let v: Value = self.call("submitblock", vec![json!(block_hex)]).await?;
        Ok(SubmitBlockOutcome::from_result(&v))
    }

    /// `getblockhash <height>`; `None` when the height is beyond the tip (RPC error -8).
    pub async fn block_hash(&self, height: u64) -> Result<Option<BlockHash>, RpcError> {
        match self.call("getblockhash", vec![json!(height)]).await {
            Ok(h) => Ok(Some(h)),
            Err(RpcError::Rpc { code: -8, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `getbestblockhash`.
    pub async fn best_block_hash(&self) -> Result<BlockHash, RpcError> {
        self.call("getbestblockhash", vec![]).await
    }

    /// `getblockcount`.
    pub async fn block_count(&self) -> Result<u64, RpcError> {
        Self::call_on(self.calls.clone(), "getblockcount", vec![]).await
    }

    /// `getrawmempool true`: every mempool transaction with its wtxid and fee.
    pub async fn raw_mempool_verbose(&self) -> Result<HashMap<Txid, MempoolEntry>, RpcError> {
        self.call("getrawmempool", vec![json!(true)]).await
    }

    /// `getrawtransaction <txid>`: the serialized transaction, `None` when the node does not
    /// have it (RPC error -5: not in the mempool and no transaction index).
    pub async fn raw_transaction(&self, txid: &Txid) -> Result<Option<Vec<u8>>, RpcError> {
        match self
            .call::<String>("getrawtransaction", vec![json!(txid.to_string())])
            .await
        {
            Ok(hex_str) => hex::decode(hex_str)
                .map(Some)
                .map_err(|e| RpcError::Decode {
                    method: "getrawtransaction",
                    detail: e.to_string(),
                }),
            Err(RpcError::Rpc { code: -5, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `sendrawtransaction <hex>`: adds a transaction to the node's mempool (and relays it).
    pub async fn send_raw_transaction(&self, tx: &[u8]) -> Result<Txid, RpcError> {
        self.call("sendrawtransaction", vec![json!(hex::encode(tx))])
            .await
    }

    /// `getblocktemplate {"mode":"proposal"}`: would this block (proof of work aside) be valid
    /// on the node's tip? `None` when valid, otherwise the BIP22 reason.
    pub async fn check_block_proposal(&self, block: &[u8]) -> Result<Option<String>, RpcError> {
        let req = json!({"mode": "proposal", "data": hex::encode(block), "rules": ["segwit"]});
        let v: Value = self.call("getblocktemplate", vec![req]).await?;
        Ok(match v {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        })
    }

    /// Direct access to the underlying `bitcoincore-rpc` client (blocking).
    pub fn raw(&self) -> &bitcoincore_rpc::Client {
        &self.calls
    }

    /// Confirms the node answers (used by health checks).
    pub async fn ping(&self) -> Result<(), RpcError> {
        let c = self.calls.clone();
        tokio::task::spawn_blocking(move || c.ping().map_err(map_err))
            .await
            .map_err(|e| RpcError::Task(e.to_string()))?
    }
}
