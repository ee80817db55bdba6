//! HTTP and JSON-RPC behaviour replayed from rpc_errors.json: every captured request is sent
//! to the stand-in and the status, headers and body must match bitcoind's.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use test_utils::bitcoind::{StandIn, StandInConfig, COOKIE_USER};

#[tokio::test]
async fn every_captured_exchange_is_reproduced() {
    let node = standin(3).await;
    let tip = node.tip().hash.to_string();
    let cases = fixture("rpc_errors.json");
    let mut replayed = 0;
    for (name, case) in cases.as_object().unwrap() {
        let Some(body) = case.get("request_body").and_then(Value::as_str) else {
            continue;
        };
        let auth = match name.as_str() {
            "wrong_credentials" => Some(("pool", "not-the-password")),
            "no_credentials" => None,
            _ => Some(("pool", "poolpass")),
        };
        let reply = post(node.addr(), auth, body).await.unwrap();
        let expected_status = case["http_status"].as_u64().unwrap() as u16;
        assert_eq!(reply.status, expected_status, "{name}: status");
        let headers = case["response_headers"].as_object().unwrap();
        for (header, value) in headers {
            if header == "Content-Length" {
                assert_eq!(
                    reply.header(header),
                    Some(reply.body.len().to_string().as_str()),
                    "{name}"
                );
                continue;
            }
            assert_eq!(
                reply.header(header),
                value.as_str(),
                "{name}: header {header}"
            );
        }
        let expected_body = case["response_body"].as_str().unwrap();
        if expected_body.is_empty() {
            assert!(reply.body.is_empty(), "{name}: empty body");
            replayed += 1;
            continue;
        }
        assert!(
            reply.body.ends_with('\n'),
            "{name}: Core terminates replies with a newline"
        );
        let ours = reply.json();
        let theirs = &case["response_json"];
        let ours_keys: Vec<String> = key_order(&reply.body);
        let theirs_keys: Vec<String> = key_order(expected_body);
        assert_eq!(ours_keys, theirs_keys, "{name}: envelope members and order");
        assert_eq!(ours["id"], theirs["id"], "{name}: id");
        if name.starts_with("success") {
            assert_eq!(ours["result"], json!(tip), "{name}");
        } else if name == "bad_params_too_many_1_0" {
            // Core answers with its help text; the stand-in with its own.
            assert_eq!(ours["error"]["code"], theirs["error"]["code"]);
            assert!(ours["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("getbestblockhash\n"));
            assert!(ours["result"].is_null());
        } else {
            assert_eq!(ours, *theirs, "{name}: body");
            assert_eq!(reply.body, expected_body, "{name}: byte for byte");
        }
        replayed += 1;
    }
    assert_eq!(replayed, 15, "all captured exchanges replayed");
}

#[tokio::test]
async fn bad_credentials_are_refused_after_a_delay() {
    let node = standin(0).await;
    let body = r#"{"jsonrpc":"1.0","id":1,"method":"getblockcount","params":[]}"#;
    let started = Instant::now();
    let reply = post(node.addr(), Some(("pool", "wrong")), body)
        .await
        .unwrap();
    assert_eq!(reply.status, 401);
    // Core delays failed authentication; the stand-in does too (250 ms by default).
    assert!(started.elapsed() >= Duration::from_millis(250));
    let reply = post(node.addr(), Some(("nobody", "poolpass")), body)
        .await
        .unwrap();
    assert_eq!(reply.status, 401);
    let reply = post(node.addr(), Some(("pool", "poolpass")), body)
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["result"], 0);
}

#[tokio::test]
async fn cookie_file_credentials_work() {
    let dir = std::env::temp_dir().join(format!("standin-cookie-{}", std::process::id()));
    let config = StandInConfig {
        cookie_dir: Some(dir.clone()),
        auth_failure_delay: Duration::ZERO,
        ..Default::default()
    };
    let node = StandIn::start(config).await.unwrap();
    let path = node.cookie_path().unwrap().to_owned();
    assert_eq!(path, dir.join(".cookie"));
    let cookie = std::fs::read_to_string(&path).unwrap();
    let (user, password) = cookie.split_once(':').unwrap();
    assert_eq!(user, COOKIE_USER);
    assert_eq!(password.len(), 64);
    assert!(password.bytes().all(|b| b.is_ascii_hexdigit()));
    let body = r#"{"id":1,"method":"getblockcount"}"#;
    let reply = post(node.addr(), Some((user, password)), body)
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "cookie credentials accepted");
    let reply = post(node.addr(), Some(("pool", "poolpass")), body)
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "user/password still accepted");
    let reply = post(node.addr(), Some((user, "0000")), body).await.unwrap();
    assert_eq!(reply.status, 401);
    drop(node);
    assert!(!path.exists(), "cookie removed on shutdown");
    let _ = std::fs::remove_dir(&dir);
}

#[tokio::test]
async fn envelope_variants() {
    let node = standin(1).await;
    let auth = Some(("pool", "poolpass"));
    // No version member: legacy envelope.
    let reply = post(
        node.addr(),
        auth,
        r#"{"id":7,"method":"getblockcount","params":[]}"#,
    )
    .await
    .unwrap();
    assert_eq!(reply.body, "{\"result\":1,\"error\":null,\"id\":7}\n");
    // Named parameters.
    let reply = post(
        node.addr(),
        auth,
        r#"{"jsonrpc":"2.0","id":1,"method":"getblockhash","params":{"height":0}}"#,
    )
    .await
    .unwrap();
    assert_eq!(
        reply.json()["result"],
        bitcoin::constants::genesis_block(bitcoin::Network::Regtest)
            .block_hash()
            .to_string()
    );
    let reply = post(
        node.addr(),
        auth,
        r#"{"jsonrpc":"2.0","id":1,"method":"getblockhash","params":{"bogus":0}}"#,
    )
    .await
    .unwrap();
    assert_eq!(reply.json()["error"]["code"], -8);
    // Out of range height.
    let reply = post(
        node.addr(),
        auth,
        r#"{"id":1,"method":"getblockhash","params":[5]}"#,
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 500);
    assert_eq!(
        reply.json()["error"],
        json!({"code": -8, "message": "Block height out of range"})
    );
    // Batch: an array of replies, HTTP 200 even with errors inside.
    let batch = r#"[{"id":1,"method":"getblockcount"},{"id":2,"method":"nosuchmethod"},{"jsonrpc":"2.0","id":3,"method":"getblockcount"}]"#;
    let reply = post(node.addr(), auth, batch).await.unwrap();
    assert_eq!(reply.status, 200);
    let replies = reply.json();
    assert_eq!(replies[0], json!({"result": 1, "error": null, "id": 1}));
    assert_eq!(replies[1]["error"]["code"], -32601);
    assert_eq!(replies[2], json!({"jsonrpc": "2.0", "result": 1, "id": 3}));
    // JSON-RPC 2.0 notification: no reply body.
    let reply = post(
        node.addr(),
        auth,
        r#"{"jsonrpc":"2.0","method":"getblockcount"}"#,
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());
    // Invalid request object.
    let reply = post(node.addr(), auth, r#"{"id":1,"method":12}"#)
        .await
        .unwrap();
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["code"], -32600);
    // getblock with an unsupported verbosity is a clear error, not a wrong answer.
    let tip = node.tip().hash.to_string();
    let reply = call(&node, "getblock", json!([tip, 2])).await;
    assert_eq!(reply["error"]["code"], -8);
    // getblocktemplate: bad mode, and IBD.
    let reply = call(
        &node,
        "getblocktemplate",
        json!([{"mode": "bogus", "rules": ["segwit"]}]),
    )
    .await;
    assert_eq!(reply["error"]["message"], "Invalid mode");
    node.set_ibd(true);
    let reply = call(&node, "getblocktemplate", json!([{"rules": ["segwit"]}])).await;
    assert_eq!(reply["error"]["code"], -10);
    assert_eq!(
        result(&node, "getblockchaininfo", json!([])).await["initialblockdownload"],
        true
    );
    node.set_ibd(false);
    assert_eq!(
        result(&node, "getblockchaininfo", json!([])).await["initialblockdownload"],
        false
    );
    gbt(&node).await;
}

#[tokio::test]
async fn non_post_and_unknown_paths() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let node = standin(0).await;
    let mut s = tokio::net::TcpStream::connect(node.addr()).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 405"), "{out}");
    let mut s = tokio::net::TcpStream::connect(node.addr()).await.unwrap();
    s.write_all(
        b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
}
