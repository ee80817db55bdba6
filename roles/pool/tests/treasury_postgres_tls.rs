//! The PostgreSQL ledger over TLS, with libpq's `sslmode` / `sslrootcert` URL parameters,
//! against a server with a certificate from a throwaway CA (`.ci/run` makes it and sets
//! `TEST_POSTGRES_TLS_CA` to the CA file): `verify-full` with the CA connects encrypted,
//! `require` connects encrypted without checking, `disable` connects in the clear, and
//! `verify-full` without the CA (system roots) or with a CA that did not sign the server's
//! certificate is refused.

mod treasury_support;

use pool::treasury::ledger::Ledger;
use pool::treasury::settings::Database;
use treasury_support::{fresh_postgres_database, postgres_url, settings, temp_dir};

/// `TEST_POSTGRES_TLS_CA`, or `None` with a loud message outside CI.
fn tls_ca() -> Option<String> {
    match std::env::var("TEST_POSTGRES_TLS_CA") {
        Ok(p) if !p.trim().is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "TEST_POSTGRES_TLS_CA must be set under CI (.ci/run makes the server's CA)"
            );
            eprintln!(
                "\n!!!!!!!! TEST_POSTGRES_TLS_CA is not set: SKIPPING the PostgreSQL TLS test !!!!!!!!\n"
            );
            None
        }
    }
}

/// Whether the ledger's own connection is encrypted, from the server's view.
fn encrypted(ledger: &Ledger) -> bool {
    ledger
        .read(|c| {
            c.query(
                "SELECT CASE WHEN ssl THEN 1 ELSE 0 END FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )?
            .first()
            .map(|r| r.int(0))
            .transpose()
        })
        .expect("pg_stat_ssl")
        == Some(1)
}

fn open(url: &str) -> Result<Ledger, String> {
    Ledger::open(settings(Database::Postgres(url.to_owned()))).map_err(|e| e.to_string())
}

#[test]
fn ledger_connects_over_tls_as_libpq_would() {
    let (Some(base), Some(ca)) = (postgres_url(), tls_ca()) else {
        return;
    };
    let db = fresh_postgres_database(&base, "tls");
    let ca_param: String = ca
        .bytes()
        .map(|b| match b {
            b'/' | b'.' | b'-' | b'_' => (b as char).to_string(),
            b if b.is_ascii_alphanumeric() => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect();

    let verified = open(&format!("{db}?sslmode=verify-full&sslrootcert={ca_param}"))
        .expect("verify-full with the server's CA");
    assert!(encrypted(&verified), "verify-full is encrypted");
    drop(verified);

    let verify_ca = open(&format!("{db}?sslmode=verify-ca&sslrootcert={ca_param}"))
        .expect("verify-ca with the server's CA");
    assert!(encrypted(&verify_ca));
    drop(verify_ca);

    let required = open(&format!("{db}?sslmode=require")).expect("require");
    assert!(encrypted(&required), "require is encrypted");
    drop(required);

    let preferred = open(&db).expect("default (prefer)");
    assert!(
        encrypted(&preferred),
        "prefer uses TLS when the server offers it"
    );
    drop(preferred);

    let plain = open(&format!("{db}?sslmode=disable")).expect("disable");
    assert!(!encrypted(&plain), "disable is in the clear");
    drop(plain);

    // The system's roots do not know the throwaway CA.
    let e = open(&format!("{db}?sslmode=verify-full"))
        .err()
        .expect("unknown CA refused");
    eprintln!("refused as expected: {e}");
    assert!(e.to_lowercase().contains("certificate"), "{e}");

    // A CA that did not sign the server's certificate.
    let other = temp_dir("tls").join("other-ca.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=another CA",
            "-keyout",
        ])
        .arg(other.with_extension("key"))
        .arg("-out")
        .arg(&other)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success());
    let e = open(&format!(
        "{db}?sslmode=verify-full&sslrootcert={}",
        other.display()
    ))
    .err()
    .expect("wrong CA refused");
    eprintln!("refused as expected: {e}");
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    // The message shows the URL as configured.
    assert!(e.contains("sslmode=verify-full"), "{e}");
}
