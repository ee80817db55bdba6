//! The `sv2-jd-client` binary: config checking and errors naming the key.

#[test]
fn check_config_accepts_the_example_and_names_bad_keys() {
    let cli = test_utils::role_cli!("sv2-jd-client", "jd-client.example.toml", &["check-config"]);
    cli.assert_example_ok(": ok");
    cli.assert_edit_refused(
        "jdc-cli",
        "pool.example.com:34264",
        "no-port",
        "upstream[0].jds_address",
    );
}
