//! The environment a self-contained load run needs: a bitcoind stand-in in this process, and
//! the real `sv2-pool` (and `sv2-translator`) binaries as separate processes (so their memory
//! and CPU can be measured from `/proc`), with generated configs in a work directory.
//!
//! The stand-in's chain starts at an anchor block with configurable `nbits` (default
//! `1f00ffff`: one hash in 65 536 is a block) instead of regtest's `207fffff`, where half of
//! all hashes would be blocks: share targets easier than the network target then leave room
//! for cheap shares that are not blocks.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Keypair, Secp256k1, SecretKey};
use bitcoin::{Address, BlockHash, CompactTarget, CompressedPublicKey, Network};
use sv2_noise::secp256k1::XOnlyPublicKey;

use super::error::LoadError;
use crate::bitcoind::{ChainAnchor, ChainStart, StandIn, StandInConfig};

/// Network `nbits` of the stand-in for SV2 runs: target 0xffff·2^224 ≈ 2^240.
pub const DEFAULT_SV2_NBITS: u32 = 0x1f00_ffff;
/// Network `nbits` for SV1 runs (difficulty 1): the stand-in never has to mine, and shares
/// almost never are blocks.
pub const DEFAULT_SV1_NBITS: u32 = 0x1d00_ffff;

/// Starts a stand-in whose chain begins at an anchor with `nbits`, recent timestamps and an
/// arbitrary hash, at height 800 000.
pub async fn start_standin(nbits: u32) -> Result<Arc<StandIn>, LoadError> {
    let now = u32::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
    .unwrap_or(u32::MAX);
    let anchor = ChainAnchor {
        hash: BlockHash::from_byte_array([0x5a; 32]),
        height: 800_000,
        bits: CompactTarget::from_consensus(nbits),
        time: now.saturating_sub(600),
        median_time: now.saturating_sub(3600),
        block: None,
        chainwork: None,
    };
    let config = StandInConfig {
        // A long poll answers within this time even without news (the pool also polls).
        longpoll_timeout: Some(Duration::from_secs(30)),
        ..StandInConfig::default()
    };
    StandIn::start_from(config, ChainStart::Anchor(Box::new(anchor)))
        .await
        .map(Arc::new)
        .map_err(|e| LoadError::Env(format!("stand-in: {e}")))
}

/// Mines one block on the stand-in (its own coinbase, mempool included) off the async
/// threads; returns the new tip in internal byte order and the moment the stand-in had
/// accepted it (taken on the mining thread, so a busy runtime does not delay it; the time
/// spent solving the header is not included).
pub async fn mine_block(standin: &Arc<StandIn>) -> Result<([u8; 32], Instant), LoadError> {
    let s = Arc::clone(standin);
    let (hash, at) = tokio::task::spawn_blocking(move || {
        let r = s.mine_block();
        (r, Instant::now())
    })
    .await
    .map_err(|e| LoadError::Env(format!("mining task: {e}")))?;
    let hash = hash.map_err(|e| LoadError::Env(format!("stand-in: {e}")))?;
    Ok((hash.to_byte_array(), at))
}

/// A free TCP port on loopback (bound and released; fine for tests and load runs).
pub fn free_port() -> Result<u16, LoadError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `explicit`, or `name` next to the running executable, or `name` on `PATH`.
pub fn find_binary(name: &str, explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// A fresh work directory under the system temp dir.
pub fn work_dir(tag: &str) -> Result<PathBuf, LoadError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir =
        std::env::temp_dir().join(format!("sv2-loadgen-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A child process that is killed when dropped.
#[derive(Debug)]
pub struct ChildProcess {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ChildProcess {
    /// Starts `bin args...`, pinned to `cpus` with `taskset -c` when given, output to `log`.
    pub fn spawn(
        name: &str,
        bin: &Path,
        args: &[&str],
        cpus: Option<&str>,
        log: PathBuf,
    ) -> Result<ChildProcess, LoadError> {
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let mut cmd = match cpus {
            Some(c) => {
                let mut cmd = Command::new("taskset");
                cmd.arg("-c").arg(c).arg(bin);
                cmd
            }
            None => Command::new(bin),
        };
        cmd.args(args)
            .env(
                "RUST_LOG",
                std::env::var("LOADGEN_CHILD_LOG").unwrap_or("warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        // The child dies with this process even when it is killed without running Drop.
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd
            .spawn()
            .map_err(|e| LoadError::Env(format!("cannot start {}: {e}", bin.display())))?;
        Ok(ChildProcess {
            name: name.to_owned(),
            child,
            log,
        })
    }

    /// Process id (taskset replaces itself with the program, so this is the program's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where its output goes.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// An error if the process has exited.
    pub fn check_alive(&mut self) -> Result<(), LoadError> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(LoadError::Env(format!(
                "{} exited ({status}); see {}",
                self.name,
                self.log.display()
            ))),
        }
    }

    /// Waits until `addr` accepts TCP connections (and the process is alive), at most `timeout`.
    pub async fn wait_listening(
        &mut self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<(), LoadError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive()?;
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(LoadError::Env(format!(
                    "{} does not listen on {addr} after {timeout:?}; see {}",
                    self.name,
                    self.log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pool settings of a spawned `sv2-pool`.
#[derive(Debug, Clone)]
pub struct PoolSpawn {
    /// The `sv2-pool` binary.
    pub bin: PathBuf,
    /// `taskset -c` CPU list.
    pub cpus: Option<String>,
    /// SV2 listen address.
    pub listen: SocketAddr,
    /// `[mining]` min / initial / max difficulty.
    pub difficulty: (f64, f64, f64),
    /// `share_ack_batch`.
    pub ack_batch: u32,
    /// `share_ack_interval_ms`.
    pub ack_interval_ms: u64,
    /// `[metrics] listen` (None: disabled).
    pub metrics: Option<SocketAddr>,
    /// `[server] node_id` (several nodes sharing a ledger need distinct ids).
    pub node_id: u8,
}

/// A fresh authority key pair: the public key and the two encoded strings for a config.
pub fn authority_keys() -> (XOnlyPublicKey, String, String) {
    let secp = Secp256k1::new();
    let kp = Keypair::new(&secp, &mut bitcoin::secp256k1::rand::thread_rng());
    let (xonly, _) = kp.x_only_public_key();
    (
        xonly,
        sv2_noise::encode_public_key(&xonly),
        sv2_noise::encode_secret_key(&kp.secret_key()),
    )
}

/// A regtest payout address (fixed key: the load run never spends).
pub fn regtest_address() -> Result<Address, LoadError> {
    let secp = Secp256k1::new();
    let sk = SecretKey::from_slice(&[0x11; 32])
        .map_err(|e| LoadError::Env(format!("payout key: {e}")))?;
    Ok(Address::p2wpkh(
        &CompressedPublicKey(sk.public_key(&secp)),
        Network::Regtest,
    ))
}

/// The pool config a load run uses (see `benches/scenarios/README.md` for every choice).
pub fn pool_config_text(
    spawn: &PoolSpawn,
    standin: &StandIn,
    authority_pub: &str,
    authority_secret: &str,
) -> Result<String, LoadError> {
    let (min, initial, max) = spawn.difficulty;
    let metrics = spawn.metrics.map(|a| a.to_string()).unwrap_or_default();
    Ok(format!(
        r#"# Generated by sv2-loadgen.
[server]
listen = "{listen}"
authority_public_key = "{authority_pub}"
authority_secret_key = "{authority_secret}"
pool_tag = "/sv2-loadgen/"
node_id = {node_id}

[bitcoind]
url = "{url}"
user = "{user}"
password = "{password}"
poll_interval_ms = 200

[[payout]]
address = "{address}"

[mining]
# Tiny fixed difficulty: shares cost a handful of hashes (vardiff cannot move it).
min_difficulty = {min:e}
initial_difficulty = {initial:e}
max_difficulty = {max:e}
share_ack_batch = {batch}
share_ack_interval_ms = {interval}

[limits]
handshake_timeout_secs = 60
setup_timeout_secs = 60
max_connections_per_ip = 1000000
max_connections = 1000000
# Invalid, stale and duplicate shares are sent on purpose.
max_invalid_shares_per_minute = 4000000000

[metrics]
listen = "{metrics}"
"#,
        listen = spawn.listen,
        url = standin.url(),
        user = standin.rpc_user(),
        password = standin.rpc_password(),
        address = regtest_address()?,
        batch = spawn.ack_batch,
        interval = spawn.ack_interval_ms,
        node_id = spawn.node_id,
    ))
}

/// Writes the config into `dir` and starts the pool; returns the process and the authority
/// public key once it listens.
pub async fn spawn_pool(
    spawn: &PoolSpawn,
    standin: &StandIn,
    dir: &Path,
) -> Result<(ChildProcess, XOnlyPublicKey), LoadError> {
    let (key, pub_s, sec_s) = authority_keys();
    let text = pool_config_text(spawn, standin, &pub_s, &sec_s)?;
    let path = dir.join("pool.toml");
    std::fs::write(&path, text)?;
    let config = path.display().to_string();
    let mut child = ChildProcess::spawn(
        "sv2-pool",
        &spawn.bin,
        &["--config", &config, "run"],
        spawn.cpus.as_deref(),
        dir.join("pool.log"),
    )?;
    child
        .wait_listening(spawn.listen, Duration::from_secs(30))
        .await?;
    Ok((child, key))
}

/// Translator settings of a spawned `sv2-translator`.
#[derive(Debug, Clone)]
pub struct TranslatorSpawn {
    /// The `sv2-translator` binary.
    pub bin: PathBuf,
    /// `taskset -c` CPU list.
    pub cpus: Option<String>,
    /// SV1 listen address.
    pub listen: SocketAddr,
    /// Downstream (SV1) difficulty, fixed.
    pub difficulty: f64,
    /// `[limits] max_miners`.
    pub max_miners: u32,
}

/// The translator config a load run uses.
pub fn translator_config_text(
    spawn: &TranslatorSpawn,
    pool: SocketAddr,
    authority_pub: &str,
) -> String {
    let d = spawn.difficulty;
    format!(
        r#"# Generated by sv2-loadgen.
[translator]
site = "load"
listen = "{listen}"
channel_mode = "aggregate"
aggregate_worker = "translator"
extranonce2_size = 4
version_rolling_mask = "1fffe000"
update_channel_secs = 30

[[upstream]]
address = "{pool}"
authority_public_key = "{authority_pub}"

[vardiff]
share_interval_secs = 10.0
# Tiny fixed difficulty: SV1 shares cost a hash or two.
initial_difficulty = {d:e}
min_difficulty = {d:e}
max_difficulty = {d:e}

[limits]
max_miners = {max_miners}
idle_timeout_secs = 3600
setup_timeout_secs = 300
max_invalid_shares_per_minute = 4000000000

[metrics]
listen = ""
"#,
        listen = spawn.listen,
        max_miners = spawn.max_miners,
    )
}

/// Writes the translator config into `dir` and starts it; returns once it listens.
pub async fn spawn_translator(
    spawn: &TranslatorSpawn,
    pool: SocketAddr,
    authority_pub: &str,
    dir: &Path,
) -> Result<ChildProcess, LoadError> {
    let path = dir.join("translator.toml");
    std::fs::write(&path, translator_config_text(spawn, pool, authority_pub))?;
    let config = path.display().to_string();
    let mut child = ChildProcess::spawn(
        "sv2-translator",
        &spawn.bin,
        &["--config", &config, "--log", "warn"],
        spawn.cpus.as_deref(),
        dir.join("translator.log"),
    )?;
    child
        .wait_listening(spawn.listen, Duration::from_secs(30))
        .await?;
    Ok(child)
}

/// Reads `http://{addr}/metrics` with a bare HTTP/1.0 request (no client library needed).
pub async fn scrape_metrics(addr: SocketAddr) -> Result<String, LoadError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fetch = async {
        let mut tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut body = Vec::new();
        // Bounded: a metrics page is well below this.
        (&mut tcp).take(64 << 20).read_to_end(&mut body).await?;
        Ok::<_, std::io::Error>(body)
    };
    let body = tokio::time::timeout(Duration::from_secs(10), fetch)
        .await
        .map_err(|_| LoadError::Timeout("/metrics"))??;
    let text = String::from_utf8_lossy(&body);
    match text.split_once("\r\n\r\n") {
        Some((head, rest)) if head.starts_with("HTTP/1.") && head.contains(" 200") => {
            Ok(rest.to_owned())
        }
        _ => Err(LoadError::Env(format!("bad /metrics answer from {addr}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn anchored_standin_mines_at_the_chosen_difficulty() {
        let s = start_standin(DEFAULT_SV2_NBITS).await.unwrap();
        let before = s.tip();
        assert_eq!(before.height, 800_000);
        let (hash, at) = mine_block(&s).await.unwrap();
        assert!(at <= Instant::now());
        let tip = s.tip();
        assert_eq!(tip.height, 800_001);
        assert_eq!(tip.hash.to_byte_array(), hash);
        assert_eq!(tip.bits.to_consensus(), DEFAULT_SV2_NBITS);
        let target = sv2_mining::target::Target::from_compact(DEFAULT_SV2_NBITS).unwrap();
        assert!(target.is_met_by(&hash));
    }

    #[tokio::test]
    async fn generated_configs_name_the_stand_in_and_limits() {
        let s = start_standin(DEFAULT_SV2_NBITS).await.unwrap();
        let spawn = PoolSpawn {
            bin: PathBuf::from("sv2-pool"),
            cpus: None,
            listen: "127.0.0.1:34999".parse().unwrap(),
            difficulty: (3.1e-10, 3.1e-10, 3.1e-10),
            ack_batch: 16,
            ack_interval_ms: 100,
            metrics: None,
            node_id: 3,
        };
        let (_, p, k) = authority_keys();
        let text = pool_config_text(&spawn, &s, &p, &k).unwrap();
        assert!(text.contains(&s.url()));
        assert!(text.contains("min_difficulty = 3.1e-10"));
        assert!(text.contains("listen = \"\""));
        assert!(text.contains("node_id = 3"));
        assert!(text.contains("max_invalid_shares_per_minute = 4000000000"));
        let t = TranslatorSpawn {
            bin: PathBuf::from("sv2-translator"),
            cpus: None,
            listen: "127.0.0.1:3333".parse().unwrap(),
            difficulty: 3.1e-10,
            max_miners: 20_100,
        };
        let text = translator_config_text(&t, spawn.listen, &p);
        assert!(text.contains("max_miners = 20100"));
        assert!(text.contains("address = \"127.0.0.1:34999\""));
        assert!(find_binary("surely-not-a-binary", None).ends_with("surely-not-a-binary"));
    }
}
