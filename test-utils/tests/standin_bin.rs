//! The `bitcoind-standin` binary starts, prints its URL and answers RPC calls.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::post;

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_serves_rpc_on_the_printed_url() {
    let help = Command::new(env!("CARGO_BIN_EXE_bitcoind-standin"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--port",
        "--rpcuser",
        "--rpcpassword",
        "--premine",
        "--mine-every",
    ] {
        assert!(help.contains(flag), "--help mentions {flag}");
    }

    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_bitcoind-standin"))
            .args([
                "--port",
                "0",
                "--rpcuser",
                "u",
                "--rpcpassword",
                "p",
                "--premine",
                "7",
                "--txs",
                "4",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let first_line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let url = first_line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("URL printed");
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let reply = post(
        addr,
        Some(("u", "p")),
        r#"{"id":1,"method":"getblockcount"}"#,
    )
    .await
    .unwrap();
    assert_eq!(reply.json()["result"], 7);
    let reply = post(
        addr,
        Some(("u", "p")),
        r#"{"id":1,"method":"getmininginfo"}"#,
    )
    .await
    .unwrap();
    assert_eq!(reply.json()["result"]["pooledtx"], 4);
    let reply = post(
        addr,
        Some(("u", "wrong")),
        r#"{"id":1,"method":"getblockcount"}"#,
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 401);
}
