//! The `sv2-jd-server` binary: config checking and errors naming the key.

use std::process::Command;

fn example() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/jd-server.example.toml")
}

#[test]
fn check_config_accepts_the_example() {
    let out = Command::new(env!("CARGO_BIN_EXE_sv2-jd-server"))
        .args(["--config"])
        .arg(example())
        .arg("check-config")
        .output()
        .expect("binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok"));
}

#[test]
fn bad_configs_name_the_key_and_exit_2() {
    let dir = std::env::temp_dir().join(format!("jds-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string(example())
        .unwrap()
        .replace("min_pool_share = 1.0", "min_pool_share = 0.0");
    std::fs::write(&bad, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sv2-jd-server"))
        .arg("--config")
        .arg(&bad)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("coinbase.min_pool_share"), "{err}");
    assert!(err.contains("Fix:"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_sv2-jd-server"))
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}
