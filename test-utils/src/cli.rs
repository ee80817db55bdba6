//! Running a role's binary on a config file from its tests: the example config of
//! `deploy/`, edited copies of it, and the checks every config error must pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `deploy/<name>` seen from a role crate's manifest directory (`roles/<role>`).
pub fn example(manifest_dir: &str, name: &str) -> PathBuf {
    Path::new(manifest_dir).join("../../deploy").join(name)
}

/// Runs `bin` with `--config <config>` followed by `args`; panics when it cannot start.
pub fn run_with_config(bin: &str, config: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{bin} runs: {e}"))
}

/// Asserts `out` is a success whose stdout contains `text`.
pub fn assert_ok(out: &Output, text: &str) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(text), "{stdout}");
}

/// Asserts `out` exited with status 2 and stderr names `key` and a `Fix:`.
pub fn assert_config_error(out: &Output, key: &str) {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(key), "{stderr}");
    assert!(stderr.contains("Fix:"), "{stderr}");
}

/// The [`RoleCli`] of the calling crate's binary `bin` (a `[[bin]]` name, as a literal) and
/// its example config `deploy/<example>`, checked with the arguments `check_args`.
#[macro_export]
macro_rules! role_cli {
    ($bin:literal, $example:expr, $check_args:expr) => {
        $crate::cli::RoleCli::new(
            env!(concat!("CARGO_BIN_EXE_", $bin)),
            env!("CARGO_MANIFEST_DIR"),
            $example,
            $check_args,
        )
    };
}

/// A role's binary, its example config and the arguments that only check a config: the
/// checks every role's `tests/cli.rs` makes.
pub struct RoleCli {
    bin: &'static str,
    example: PathBuf,
    check_args: &'static [&'static str],
}

impl RoleCli {
    /// `bin` (`env!("CARGO_BIN_EXE_...")`) with `deploy/<example_name>` seen from
    /// `manifest_dir`; `check_args` make it check the config and exit (e.g. `check-config`).
    pub fn new(
        bin: &'static str,
        manifest_dir: &str,
        example_name: &str,
        check_args: &'static [&'static str],
    ) -> RoleCli {
        RoleCli {
            bin,
            example: example(manifest_dir, example_name),
            check_args,
        }
    }

    /// Runs the binary on `config` with `args`.
    pub fn run(&self, config: &Path, args: &[&str]) -> Output {
        run_with_config(self.bin, config, args)
    }

    /// Asserts the check accepts the example config and prints `text`.
    pub fn assert_example_ok(&self, text: &str) {
        assert_ok(&self.run(&self.example, self.check_args), text);
    }

    /// Asserts the check refuses a copy of the example with `from` replaced by `to` (exit
    /// status 2, `key` and a fix named); returns the copy, e.g. to run more in its directory.
    pub fn assert_edit_refused(&self, tag: &str, from: &str, to: &str, key: &str) -> EditedConfig {
        let bad = EditedConfig::new(&self.example, tag, from, to);
        assert_config_error(&self.run(&bad.path, self.check_args), key);
        bad
    }
}

/// A copy of a config file with one text replaced, in a directory of its own that is
/// removed on drop.
pub struct EditedConfig {
    dir: PathBuf,
    /// The edited file.
    pub path: PathBuf,
}

impl EditedConfig {
    /// Copies `original` replacing `from` (which must occur) with `to`; `tag` names the
    /// directory (made unique per process).
    pub fn new(original: &Path, tag: &str, from: &str, to: &str) -> EditedConfig {
        let text = std::fs::read_to_string(original)
            .unwrap_or_else(|e| panic!("{}: {e}", original.display()));
        assert!(
            text.contains(from),
            "`{from}` not in {}",
            original.display()
        );
        let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("edited.toml");
        std::fs::write(&path, text.replace(from, to)).expect("write config");
        EditedConfig { dir, path }
    }

    /// The directory holding the file.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for EditedConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
