//! The `sv2-translator` binary: `--check` validates a config file and reports errors with the
//! key and the fix; a bad config exits with status 2.

#[test]
fn check_accepts_the_example_and_names_bad_keys() {
    let cli = test_utils::role_cli!("sv2-translator", "translator.example.toml", &["--check"]);
    cli.assert_example_ok("ok (site fra1, 2 upstream(s), Aggregate mode)");
    let bad = cli.assert_edit_refused(
        "translator-cli",
        "extranonce2_size = 4",
        "extranonce2_size = 40",
        "translator.extranonce2_size",
    );
    let out = cli.run(&bad.dir().join("missing.toml"), &[]);
    assert_eq!(out.status.code(), Some(2));
}
