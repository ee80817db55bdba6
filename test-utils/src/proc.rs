//! External processes in tests: find an installed binary, pick a free port, start the
//! process (killed when its handle drops) and wait until it listens on a TCP port.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// The binary `name`: the path in the environment variable `env_var` if set, else the first
/// file named `name` in `$CARGO_HOME/bin`, `~/.cargo/bin` or on `PATH`.
pub fn find_binary(env_var: &str, name: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env_var) {
        return Some(PathBuf::from(p));
    }
    let mut candidates = Vec::new();
    if let Ok(home) = std::env::var("CARGO_HOME") {
        candidates.push(PathBuf::from(home).join("bin").join(name));
    }
    if let Ok(home) = std::env::var("HOME") {
        candidates.push(PathBuf::from(home).join(".cargo/bin").join(name));
    }
    if let Ok(path) = std::env::var("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join(name)));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// A local TCP port that was free a moment ago (for processes that cannot bind port 0 and
/// report the port back).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A started process; killed when dropped.
pub struct Process {
    child: tokio::process::Child,
}

impl Process {
    /// Starts `bin` with `args` in `dir`, output discarded.
    pub fn spawn<I, S>(bin: &Path, args: I, dir: &Path) -> std::io::Result<Process>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let child = Command::new(bin)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        Ok(Process { child })
    }

    /// Kills the process and waits for it to end.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Whether something accepts TCP connections on `addr` within `within` (polled every
/// 100 ms).
pub async fn wait_for_port(addr: SocketAddr, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_for_port_sees_a_listener_and_gives_up_without_one() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        assert!(wait_for_port(addr, Duration::from_secs(5)).await);
        drop(l);
        assert!(!wait_for_port(addr, Duration::ZERO).await);
    }

    #[test]
    fn find_binary_prefers_the_environment_variable() {
        std::env::set_var("TEST_UTILS_PROC_BIN", "/some/where/bin");
        assert_eq!(
            find_binary("TEST_UTILS_PROC_BIN", "nothing-named-like-this"),
            Some(PathBuf::from("/some/where/bin"))
        );
        assert_eq!(
            find_binary("TEST_UTILS_PROC_BIN_UNSET", "nothing-named-like-this"),
            None
        );
    }
}
