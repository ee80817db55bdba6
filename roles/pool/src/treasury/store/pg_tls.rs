//! TLS to a PostgreSQL ledger, configured in the `postgres://` URL the way libpq (and psql)
//! read it: `sslmode` = `disable`, `allow`/`prefer` (the default: TLS when the server offers
//! it), `require` (TLS, the certificate is not checked), `verify-ca` (the certificate chains to
//! a trusted CA) or `verify-full` (and names the host), and `sslrootcert` = a PEM file of
//! trusted CA certificates (default: the system's store).
//!
//! The `postgres` client knows only `disable`, `prefer` and `require` and no `sslrootcert`, so
//! the URL it gets is rewritten: the verification lives in the TLS connector instead.

use std::path::PathBuf;

use native_tls::{Certificate, TlsConnector};
use postgres_native_tls::MakeTlsConnector;

use super::StoreError;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, unverified (libpq's default; `allow` maps here too).
    Prefer,
    /// TLS or no connection, unverified.
    Require,
    /// TLS with a certificate chaining to a trusted CA.
    VerifyCa,
    /// TLS with a trusted certificate naming the host.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The value the `postgres` client understands.
    fn client_value(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => "require",
        }
    }
}

/// A ledger URL split into what the client gets and how TLS is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTarget {
    /// The URL as configured (for messages: redact its password).
    pub configured: String,
    /// The URL for the `postgres` client (`sslmode` rewritten, `sslrootcert` removed).
    pub url: String,
    /// The requested mode.
    pub mode: SslMode,
    /// Trusted CA certificates (PEM), if not the system's.
    pub root_cert: Option<PathBuf>,
}

/// Reads `sslmode` and `sslrootcert` from a `postgres://` URL. Errors name the parameter.
pub fn parse_url(url: &str) -> Result<PgTarget, String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut mode = SslMode::Prefer;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                mode = SslMode::parse(value).ok_or_else(|| {
                    format!(
                        "sslmode `{value}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                    )
                })?;
            }
            "sslrootcert" => {
                let path = percent_decode(value).ok_or_else(|| {
                    format!("sslrootcert `{value}` is not valid percent-encoding")
                })?;
                if path.is_empty() {
                    return Err("sslrootcert is empty".into());
                }
                root_cert = Some(PathBuf::from(path));
            }
            _ => kept.push(pair),
        }
    }
    if root_cert.is_some() && !matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) {
        return Err("sslrootcert needs sslmode=verify-ca or sslmode=verify-full".into());
    }
    let sslmode = format!("sslmode={}", mode.client_value());
    kept.push(&sslmode);
    Ok(PgTarget {
        configured: url.to_owned(),
        url: format!("{base}?{}", kept.join("&")),
        mode,
        root_cert,
    })
}

/// The TLS connector for `target`'s mode (used by the client only when TLS is on).
pub fn connector(target: &PgTarget) -> Result<MakeTlsConnector, StoreError> {
    let mut b = TlsConnector::builder();
    match target.mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => {
            b.danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true);
        }
        SslMode::VerifyCa => {
            b.danger_accept_invalid_hostnames(true);
        }
        SslMode::VerifyFull => {}
    }
    if let Some(path) = &target.root_cert {
        let pem = std::fs::read(path)
            .map_err(|e| StoreError::Open(format!("sslrootcert {}: {e}", path.display())))?;
        let certs = pem_certificates(&pem);
        if certs.is_empty() {
            return Err(StoreError::Open(format!(
                "sslrootcert {}: no PEM certificate in it",
                path.display()
            )));
        }
        for c in certs {
            let cert = Certificate::from_pem(&c)
                .map_err(|e| StoreError::Open(format!("sslrootcert {}: {e}", path.display())))?;
            b.add_root_certificate(cert);
        }
        // Only the given CAs, as libpq does with sslrootcert.
        b.disable_built_in_roots(true);
    }
    let tls = b
        .build()
        .map_err(|e| StoreError::Open(format!("TLS setup: {e}")))?;
    Ok(MakeTlsConnector::new(tls))
}

/// Each `BEGIN CERTIFICATE` block of a PEM file.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let end = start + len + END.len();
        out.push(rest.as_bytes()[start..end].to_vec());
        rest = &rest[end..];
    }
    out
}

/// Decodes `%XX` escapes (URL query values); `None` on a broken escape or non-UTF-8 result.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_modes_map_to_the_client_and_the_connector() {
        let t = parse_url("postgres://u@db.example/ledger").unwrap();
        assert_eq!(t.mode, SslMode::Prefer);
        assert_eq!(t.url, "postgres://u@db.example/ledger?sslmode=prefer");
        let t = parse_url(
            "postgres://u@db.example:5432/ledger?application_name=pool&sslmode=verify-full&sslrootcert=%2Fetc%2Fsv2%2Fca.pem",
        )
        .unwrap();
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert_eq!(t.root_cert, Some(PathBuf::from("/etc/sv2/ca.pem")));
        assert_eq!(
            t.url,
            "postgres://u@db.example:5432/ledger?application_name=pool&sslmode=require"
        );
        let t = parse_url("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!(
            (t.mode, t.url.as_str()),
            (SslMode::Disable, "postgres://u@h/db?sslmode=disable")
        );
        assert_eq!(
            parse_url("postgres://h/d?sslmode=allow").unwrap().mode,
            SslMode::Prefer
        );
        assert_eq!(
            parse_url("postgres://h/d?sslmode=verify-ca").unwrap().mode,
            SslMode::VerifyCa
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let e = parse_url("postgres://h/d?sslmode=strict").unwrap_err();
        assert!(e.contains("sslmode `strict`"), "{e}");
        let e = parse_url("postgres://h/d?sslmode=require&sslrootcert=/ca.pem").unwrap_err();
        assert!(e.contains("verify-ca"), "{e}");
        let e = parse_url("postgres://h/d?sslmode=verify-full&sslrootcert=%zz").unwrap_err();
        assert!(e.contains("percent-encoding"), "{e}");
        let e = parse_url("postgres://h/d?sslmode=verify-full&sslrootcert=").unwrap_err();
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn missing_or_empty_ca_files_are_reported() {
        let t = parse_url("postgres://h/d?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
            .unwrap();
        let e = connector(&t).err().expect("missing file");
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        let dir = std::env::temp_dir().join(format!("pg-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let t = PgTarget {
            configured: String::new(),
            url: String::new(),
            mode: SslMode::VerifyFull,
            root_cert: Some(empty),
        };
        let e = connector(&t).err().expect("no certificate");
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn pem_blocks_are_split() {
        let pem = b"junk\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n\
            -----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n";
        let certs = pem_certificates(pem);
        assert_eq!(certs.len(), 2);
        assert!(String::from_utf8_lossy(&certs[1]).contains("BBBB"));
    }
}
