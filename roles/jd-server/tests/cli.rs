//! The `sv2-jd-server` binary: config checking and errors naming the key.

use test_utils::cli::{assert_config_error, assert_ok, example, run_with_config, EditedConfig};

const BIN: &str = env!("CARGO_BIN_EXE_sv2-jd-server");

fn example_config() -> std::path::PathBuf {
    example(env!("CARGO_MANIFEST_DIR"), "jd-server.example.toml")
}

#[test]
fn check_config_accepts_the_example() {
    assert_ok(
        &run_with_config(BIN, &example_config(), &["check-config"]),
        ": ok",
    );
}

#[test]
fn bad_configs_name_the_key_and_exit_2() {
    let bad = EditedConfig::new(
        &example_config(),
        "jds-cli",
        "min_pool_share = 1.0",
        "min_pool_share = 0.0",
    );
    let out = run_with_config(BIN, &bad.path, &["check-config"]);
    assert_config_error(&out, "coinbase.min_pool_share");
    let out = std::process::Command::new(BIN)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
