//! What this crate's binaries share: logs go to stderr (stdout carries their reports), and
//! reports are written as pretty JSON to a file or to stdout (`-`).

use std::path::Path;

/// Installs the global tracing subscriber on stderr; `RUST_LOG` overrides `default_filter`.
pub fn init_stderr_logging(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Writes `value` as pretty JSON to `path`, or to stdout when `path` is `-`. The error names
/// the file.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let json = serde_json::to_string_pretty(value).map_err(|e| format!("JSON: {e}"))?;
    if path.as_os_str() == "-" {
        println!("{json}");
        Ok(())
    } else {
        std::fs::write(path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_reports_land_in_the_file() {
        let dir = std::env::temp_dir().join(format!("bin-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.json");
        super::write_json(&path, &serde_json::json!({"shares": 3})).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"shares\": 3") && text.ends_with('\n'),
            "{text}"
        );
        let err = super::write_json(&dir.join("missing/r.json"), &1).unwrap_err();
        assert!(err.contains("missing/r.json"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
