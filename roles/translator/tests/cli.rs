//! The `sv2-translator` binary: `--check` validates a config file and reports errors with the
//! key and the fix; a bad config exits with status 2.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sv2-translator"))
}

fn example() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/translator.example.toml")
}

#[test]
fn check_accepts_the_example() {
    let out = bin()
        .arg("--config")
        .arg(example())
        .arg("--check")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok (site fra1, 2 upstream(s), Aggregate mode)"),
        "{stdout}"
    );
}

#[test]
fn bad_config_names_the_key() {
    let dir = std::env::temp_dir().join(format!("translator-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let text = std::fs::read_to_string(example())
        .expect("example")
        .replace("extranonce2_size = 4", "extranonce2_size = 40");
    let path = dir.join("bad.toml");
    std::fs::write(&path, text).expect("write");
    let out = bin()
        .arg("--config")
        .arg(&path)
        .arg("--check")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("translator.extranonce2_size"), "{stderr}");
    assert!(stderr.contains("Fix:"), "{stderr}");

    let out = bin()
        .arg("--config")
        .arg(dir.join("missing.toml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
