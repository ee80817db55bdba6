//! The `sv2-translator` binary: `--check` validates a config file and reports errors with the
//! key and the fix; a bad config exits with status 2.

use test_utils::cli::{assert_config_error, assert_ok, example, run_with_config, EditedConfig};

const BIN: &str = env!("CARGO_BIN_EXE_sv2-translator");

fn example_config() -> std::path::PathBuf {
    example(env!("CARGO_MANIFEST_DIR"), "translator.example.toml")
}

#[test]
fn check_accepts_the_example() {
    assert_ok(
        &run_with_config(BIN, &example_config(), &["--check"]),
        "ok (site fra1, 2 upstream(s), Aggregate mode)",
    );
}

#[test]
fn bad_config_names_the_key() {
    let bad = EditedConfig::new(
        &example_config(),
        "translator-cli",
        "extranonce2_size = 4",
        "extranonce2_size = 40",
    );
    let out = run_with_config(BIN, &bad.path, &["--check"]);
    assert_config_error(&out, "translator.extranonce2_size");

    let out = run_with_config(BIN, &bad.dir().join("missing.toml"), &[]);
    assert_eq!(out.status.code(), Some(2));
}
