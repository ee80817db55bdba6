//! Helpers shared by the stand-in integration tests: a minimal raw HTTP/1.1 client (so the
//! tests see status codes and headers exactly), fixture loading and JSON shape comparison.
#![allow(dead_code)]

use std::net::SocketAddr;

use base64::Engine as _;
use serde_json::{json, Value};
use test_utils::bitcoind::{StandIn, FIXTURES_DIR};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw HTTP reply.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("reply is not JSON ({e}): {:?}", self.body))
    }
}

/// Sends one POST / with `body` (and Basic auth if given) on a fresh connection.
pub async fn post(
    addr: SocketAddr,
    auth: Option<(&str, &str)>,
    body: &str,
) -> std::io::Result<HttpReply> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some((user, password)) = auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        request.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8(raw).map_err(|e| std::io::Error::other(e.to_string()))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(HttpReply {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// Calls `method` with the node's credentials (legacy envelope) and returns the reply object.
pub async fn call(node: &StandIn, method: &str, params: Value) -> Value {
    let body =
        json!({"jsonrpc": "1.0", "id": "test", "method": method, "params": params}).to_string();
    let reply = post(
        node.addr(),
        Some((node.rpc_user(), node.rpc_password())),
        &body,
    )
    .await
    .unwrap_or_else(|e| panic!("{method}: {e}"));
    reply.json()
}

/// Calls `method` and returns `result`, panicking on an RPC error.
pub async fn result(node: &StandIn, method: &str, params: Value) -> Value {
    let reply = call(node, method, params).await;
    assert!(reply["error"].is_null(), "{method} failed: {reply}");
    reply["result"].clone()
}

/// A fixture file as JSON.
pub fn fixture(name: &str) -> Value {
    let path = format!("{FIXTURES_DIR}/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Asserts `ours` has the same keys and JSON types as `theirs`, recursively (array elements
/// are compared with the fixture's first element). `optional` keys may be missing in `ours`.
pub fn assert_same_shape(ours: &Value, theirs: &Value, path: &str, optional: &[&str]) {
    assert_eq!(
        kind(ours),
        kind(theirs),
        "type differs at {path}: ours {ours}, fixture {theirs}"
    );
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            for key in b.keys() {
                if !a.contains_key(key) {
                    assert!(
                        optional.contains(&key.as_str()),
                        "{path}.{key} missing in ours"
                    );
                }
            }
            for key in a.keys() {
                assert!(
                    b.contains_key(key) || optional.contains(&key.as_str()),
                    "{path}.{key} not in the fixture"
                );
            }
            for (key, value) in b {
                if let Some(mine) = a.get(key) {
                    assert_same_shape(mine, value, &format!("{path}.{key}"), optional);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let Some(first) = b.first() {
                for (i, mine) in a.iter().enumerate() {
                    assert_same_shape(mine, first, &format!("{path}[{i}]"), optional);
                }
            }
        }
        _ => {}
    }
}

/// Top-level keys of a JSON object text, in the order they appear.
pub fn key_order(text: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(k) = map.next_key::<String>()? {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Keys>(text)
        .map(|k| k.0)
        .unwrap_or_default()
}

/// The fixture file's raw text.
pub fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES_DIR}/{name}")).unwrap_or_default()
}

/// Our object's keys come in the fixture's order (ignoring keys only one side has).
pub fn assert_same_key_order(ours_text: &str, fixture_text: &str) {
    let a = key_order(ours_text);
    let b = key_order(fixture_text);
    let a_common: Vec<&String> = a.iter().filter(|k| b.contains(k)).collect();
    let b_common: Vec<&String> = b.iter().filter(|k| a.contains(k)).collect();
    assert_eq!(a_common, b_common, "key order differs from the fixture");
}

/// Calls `method` and returns the raw text of `result` (to check number formats and key order).
pub async fn raw_result(node: &StandIn, method: &str, params: Value) -> String {
    #[derive(serde::Deserialize)]
    struct Reply {
        result: Box<serde_json::value::RawValue>,
    }
    let body =
        json!({"jsonrpc": "1.0", "id": "raw", "method": method, "params": params}).to_string();
    let reply = post(
        node.addr(),
        Some((node.rpc_user(), node.rpc_password())),
        &body,
    )
    .await
    .expect("rpc");
    let parsed: Reply = serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("{method}: {e}: {}", reply.body));
    parsed.result.get().to_owned()
}

/// A stand-in with `premine` blocks and the default configuration otherwise.
pub async fn standin(premine: u32) -> StandIn {
    let config = test_utils::bitcoind::StandInConfig {
        premine,
        ..Default::default()
    };
    StandIn::start(config).await.expect("start stand-in")
}

/// getblocktemplate with the segwit rule.
pub async fn gbt(node: &StandIn) -> Value {
    result(node, "getblocktemplate", json!([{"rules": ["segwit"]}])).await
}
