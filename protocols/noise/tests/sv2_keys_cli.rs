//! End-to-end tests of the `sv2-keys` binary: its output must load back into the library.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use sv2_noise::{
    decode_authority_keypair, decode_public_key, decode_secret_key, unix_now, ServerKeys,
    SignatureNoiseMessage,
};

fn sv2_keys(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sv2-keys"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Value of `name = "value"` in the tool's TOML output.
fn field(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(" = ")?;
            (k == name).then(|| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| panic!("{name} missing in:\n{out}"))
}

#[test]
fn authority_then_certificate_roundtrip() {
    let out = sv2_keys(&["authority"], None);
    assert!(out.status.success());
    let out = String::from_utf8(out.stdout).unwrap();
    let public = field(&out, "authority_public_key");
    let secret = field(&out, "authority_secret_key");
    let authority = decode_authority_keypair(&public, &secret).unwrap();

    let out = sv2_keys(
        &[
            "certificate",
            "--authority-secret",
            &secret,
            "--valid-days",
            "2",
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let out = String::from_utf8(out.stdout).unwrap();
    assert_eq!(field(&out, "authority_public_key"), public);
    let static_secret = decode_secret_key(&field(&out, "server_secret_key")).unwrap();
    let static_public = decode_public_key(&field(&out, "server_public_key")).unwrap();
    let cert = SignatureNoiseMessage::from_hex(&field(&out, "server_certificate")).unwrap();
    assert_eq!(cert.not_valid_after - cert.valid_from, 2 * 86_400);
    cert.verify(&static_public, &authority.x_only_public_key().0, unix_now())
        .unwrap();
    let keys = ServerKeys::with_certificate(&static_secret, cert, &authority.x_only_public_key().0)
        .unwrap();
    assert_eq!(keys.static_public_key(), static_public);
}

#[test]
fn secrets_can_come_from_stdin() {
    // SRI's example pool config pair.
    let secret = "mkDLTBBRxdBv998612qipDYoTK3YUrqLe8uWw7gu3iXbSrn2n";
    let out = sv2_keys(
        &["public-key", "--secret", "-"],
        Some(&format!("{secret}\n")),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "9auqWEzQDVyd2oe1JVGFLMLHZtCo2FFqZwtKA5gd9xbuEu7PH72"
    );
    let out = sv2_keys(
        &["certificate", "--authority-secret", "-"],
        Some(&format!("{secret}\n")),
    );
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn bad_input_fails_cleanly() {
    let out = sv2_keys(&["certificate", "--authority-secret", "notakey"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("--authority-secret"));
    let out = sv2_keys(&["frobnicate"], None);
    assert!(!out.status.success());
}

#[test]
fn help_lists_subcommands() {
    let out = sv2_keys(&["--help"], None);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for cmd in ["authority", "certificate", "public-key"] {
        assert!(help.contains(cmd), "{help}");
    }
}
