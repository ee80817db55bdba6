//! The real `sv2-pool` binary as a child process, and a miner that waits for it to listen.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sv2_noise::secp256k1::XOnlyPublicKey;

use super::miner::Miner;

/// A running `sv2-pool`, killed when dropped (a failing test leaves no pool behind).
pub struct PoolProcess(pub Child);

impl PoolProcess {
    /// SIGKILL, and wait for the process to be gone.
    pub fn sigkill(&mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reaped");
    }
}

impl Drop for PoolProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sv2-pool --config <config> run` with its output in `log`.
pub fn spawn_pool(config: &Path, log: &Path) -> PoolProcess {
    PoolProcess(spawn_pool_child(config, log))
}

/// [`spawn_pool`] as a plain child process (the caller kills it).
pub fn spawn_pool_child(config: &Path, log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("log file");
    let err = out.try_clone().expect("log file");
    Command::new(env!("CARGO_BIN_EXE_sv2-pool"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("sv2-pool starts")
}

/// A loopback address nothing listens on right now.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

/// A miner on `addr` as `identity`, retrying for 30 s while the pool starts.
pub async fn connect_when_up(addr: SocketAddr, key: XOnlyPublicKey, identity: &str) -> Miner {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Miner::connect(addr, key, identity).await {
            Ok(m) => return m,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("pool at {addr} did not come up: {e}"),
        }
    }
}
