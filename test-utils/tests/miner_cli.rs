//! The `sv1-cpuminer` and `sv2-cpuminer` binaries: help, argument errors, and a short run
//! against an in-test SV1 pool with a JSON report, and an SV2 run that cannot connect.

use std::process::Command;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use sv1::{
    ClientMethod, ConfigureResult, Notification, Notify, PrevHash, Response, ServerMessage,
    SubscribeResult, Sv1ServerCodec,
};
use tokio::net::TcpListener;
use tokio_util::codec::Framed;

const SV1: &str = env!("CARGO_BIN_EXE_sv1-cpuminer");
const SV2: &str = env!("CARGO_BIN_EXE_sv2-cpuminer");

#[test]
fn help_lists_the_options() {
    let out = Command::new(SV2).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for opt in [
        "--pool",
        "--authority-key",
        "--user",
        "--mode",
        "--channels",
        "--threads",
        "--version-rolling",
        "--nominal-hashrate",
        "--duration",
        "--max-shares",
        "--report-json",
    ] {
        assert!(text.contains(opt), "sv2-cpuminer --help lacks {opt}");
    }
    let out = Command::new(SV1).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for opt in [
        "--connections",
        "--simulated-hashrate",
        "--user-agent",
        "--minimum-difficulty",
    ] {
        assert!(text.contains(opt), "sv1-cpuminer --help lacks {opt}");
    }
}

#[test]
fn bad_arguments_exit_with_status_2() {
    let out = Command::new(SV2)
        .args(["--pool", "127.0.0.1:1", "--authority-key", "notakey"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--authority-key"));
    let out = Command::new(SV1)
        .args(["--pool", "nohostport", "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(SV1)
        .args(["--pool", "127.0.0.1:1", "--simulated-hashrate", "fast"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sv1_binary_mines_and_writes_a_report() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let report = std::env::temp_dir().join(format!("sv1-cpuminer-{}.json", std::process::id()));
    // --duration bounds the run even if the test pool misbehaves.
    let mut cmd = Command::new(SV1);
    cmd.args(["--pool", &addr, "--user", "site.cli", "--max-shares", "3"])
        .args(["--duration", "50", "--report-json"])
        .arg(&report);
    let child = async move {
        tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
    };
    let pool = async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut conn = Framed::new(tcp, Sv1ServerCodec::default());
        let mut submits = 0;
        while let Some(Ok(Ok(req))) = conn.next().await {
            let replies: Vec<ServerMessage> = match &req.method {
                ClientMethod::Configure(_) => vec![Response::configure(
                    req.id.clone(),
                    ConfigureResult::version_rolling(0x1fff_e000),
                )
                .into()],
                ClientMethod::Subscribe(_) => vec![Response::subscribe(
                    req.id.clone(),
                    SubscribeResult {
                        subscriptions: vec![("mining.notify".into(), "1".into())],
                        extranonce1: vec![1, 2, 3, 4],
                        extranonce2_size: 4,
                    },
                )
                .into()],
                ClientMethod::Authorize(a) => {
                    assert_eq!(a.username, "site.cli");
                    vec![
                        Response::bool(req.id.clone(), true).into(),
                        Notification::SetDifficulty { difficulty: 1e-9 }.into(),
                        Notification::Notify(Notify {
                            job_id: "c1".into(),
                            prev_hash: PrevHash::from_header_bytes([3; 32]),
                            coinb1: vec![1; 50],
                            coinb2: vec![2; 40],
                            merkle_branch: vec![],
                            version: 0x2000_0000,
                            nbits: 0x1d00_ffff,
                            ntime: 1_700_000_000,
                            clean_jobs: true,
                        })
                        .into(),
                    ]
                }
                ClientMethod::Submit(_) => {
                    submits += 1;
                    vec![Response::bool(req.id.clone(), true).into()]
                }
                _ => vec![],
            };
            for r in replies {
                if conn.send(r).await.is_err() {
                    return submits;
                }
            }
        }
        submits
    };
    let (out, submits) =
        tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(child, pool) })
            .await
            .expect("miner finished");
    let out = out.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(submits, 3);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let _ = std::fs::remove_file(&report);
    assert_eq!(json["shares_submitted"], 3);
    assert_eq!(json["shares_accepted"], 3);
    assert_eq!(json["last_job_id"], "c1");
}

#[test]
fn sv2_binary_reports_a_connection_error_with_status_1_and_still_writes_the_report() {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let key = sv2_noise::encode_public_key(&sv2_noise::keys::public_key_of(
        &sv2_noise::keys::generate_secret_key(),
    ));
    let report = std::env::temp_dir().join(format!("sv2-cpuminer-{}.json", std::process::id()));
    let out = Command::new(SV2)
        .args([
            "--pool",
            &format!("127.0.0.1:{port}"),
            "--authority-key",
            &key,
        ])
        .args(["--duration", "20", "--report-json"])
        .arg(&report)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: "), "{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let _ = std::fs::remove_file(&report);
    assert_eq!(json["connection_failures"], 1, "{json}");
    assert_eq!(json["shares_submitted"], 0, "{json}");
}
