//! The `sv2-loadgen` binary: help, argument errors, the pool settings it documents, and the
//! targets summary from saved reports. (Runs against the real pool are in
//! `roles/pool/tests/multinode_loadgen.rs`, which can start `sv2-pool`.)

use std::process::Command;

use test_utils::loadgen::report::{Percentiles, Report, ServerUsage};

const BIN: &str = env!("CARGO_BIN_EXE_sv2-loadgen");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("sv2-loadgen runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_commands_and_options() {
    let (code, text, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for c in ["sv2", "sv1", "pool-config", "summary"] {
        assert!(text.contains(c), "--help lacks {c}");
    }
    let (code, text, _) = run(&["sv2", "--help"]);
    assert_eq!(code, 0);
    for opt in [
        "--pool",
        "--authority-key",
        "--pool-pid",
        "--pool-cpus",
        "--connections",
        "--mode",
        "--rate",
        "--duration",
        "--max-shares",
        "--invalid",
        "--stale",
        "--duplicate",
        "--per-source",
        "--idle-blocks",
        "--block-interval",
        "--json",
    ] {
        assert!(text.contains(opt), "sv2 --help lacks {opt}");
    }
    let (code, text, _) = run(&["sv1", "--help"]);
    assert_eq!(code, 0);
    for opt in [
        "--translator",
        "--share-connections",
        "--translator-cpus",
        "--rate",
    ] {
        assert!(text.contains(opt), "sv1 --help lacks {opt}");
    }
}

#[test]
fn bad_arguments_exit_2_before_doing_anything() {
    // clap errors
    assert_eq!(run(&["sv2", "--rate", "fast"]).0, 2);
    assert_eq!(run(&["sv2", "--nbits", "xyz"]).0, 2);
    assert_eq!(
        run(&["sv2", "--pool", "127.0.0.1:1"]).0,
        2,
        "--pool needs a key"
    );
    // checked options
    let (code, _, err) = run(&["sv2", "--pool", "127.0.0.1:1", "--authority-key", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("--authority-key"), "{err}");
    let (code, _, err) = run(&["sv2", "--invalid", "0.7", "--stale", "0.7", "-n", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("exceed 1"), "{err}");
    let (code, _, err) = run(&["sv2", "-n", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("connections"), "{err}");
    let (code, _, err) = run(&["summary", "/definitely/not/here.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("here.json"), "{err}");
}

#[test]
fn pool_config_prints_the_settings_a_load_test_needs() {
    let (code, text, _) = run(&["pool-config"]);
    assert_eq!(code, 0);
    for key in [
        "min_difficulty = 3.1e-10",
        "max_difficulty = 3.1e-10",
        "max_invalid_shares_per_minute",
        "max_connections_per_ip",
        "ulimit -n",
    ] {
        assert!(text.contains(key), "pool-config lacks {key}");
    }
}

#[test]
fn summary_turns_reports_into_the_targets_table() {
    let dir = std::env::temp_dir().join(format!("loadgen-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let throughput = Report {
        mode: "sv2-standard".into(),
        share_secs: 10.0,
        acked_per_sec: 250_000.0,
        ..Default::default()
    };
    let scale = Report {
        mode: "sv2-standard".into(),
        connections_idle: 12_000,
        server: Some(ServerUsage {
            rss_per_idle_connection_kib: 17.5,
            ..Default::default()
        }),
        fanout: Some(Percentiles {
            count: 12_000,
            p50_ms: 120.0,
            p99_ms: 250.0,
            p999_ms: 260.0,
            max_ms: 270.0,
        }),
        ..Default::default()
    };
    let a = dir.join("throughput.json");
    let b = dir.join("scale.json");
    std::fs::write(&a, serde_json::to_string(&throughput).unwrap()).unwrap();
    std::fs::write(&b, serde_json::to_string(&scale).unwrap()).unwrap();
    let (code, text, err) = run(&[
        "summary",
        "--markdown",
        a.to_str().unwrap(),
        &format!("big={}", b.display()),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("| 250000/s | met | throughput |"), "{text}");
    assert!(text.contains("| 12000 | NOT met | big |"), "{text}");
    assert!(text.contains("| 17.5 KiB | met | big |"), "{text}");
    assert!(text.contains("250.0 ms"), "{text}");
    assert!(text.contains("not measured"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
