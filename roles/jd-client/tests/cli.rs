//! The `sv2-jd-client` binary: config checking and errors naming the key.

use test_utils::cli::{assert_config_error, assert_ok, example, run_with_config, EditedConfig};

const BIN: &str = env!("CARGO_BIN_EXE_sv2-jd-client");

fn example_config() -> std::path::PathBuf {
    example(env!("CARGO_MANIFEST_DIR"), "jd-client.example.toml")
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
        "jdc-cli",
        "pool.example.com:34264",
        "no-port",
    );
    let out = run_with_config(BIN, &bad.path, &["check-config"]);
    assert_config_error(&out, "upstream[0].jds_address");
}
