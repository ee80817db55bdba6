//! The `sv2-jd-server` binary: config checking and errors naming the key.

#[test]
fn check_config_accepts_the_example_and_names_bad_keys() {
    let cli = test_utils::role_cli!("sv2-jd-server", "jd-server.example.toml", &["check-config"]);
    cli.assert_example_ok(": ok");
    cli.assert_edit_refused(
        "jds-cli",
        "min_pool_share = 1.0",
        "min_pool_share = 0.0",
        "coinbase.min_pool_share",
    );
}

#[test]
fn no_config_exits_2() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sv2-jd-server"))
        .arg("check-config")
        .output()
        .expect("sv2-jd-server runs");
    assert_eq!(out.status.code(), Some(2));
}
