//! Wiring: own node, template source, downstream listener, control loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pool::accounting::{LogSink, WorkSink};
use pool::block::BlockSubmitter;
use pool::template::{TemplateSource, TemplateTiming};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::JdcConfig;
use crate::runtime::{JdcStats, Mode, Runtime, RuntimeIo};

pub use role_kit::StartError;

/// A running job declarator client. Dropping it stops it.
pub struct JdcHandle {
    /// Where downstream miners connect.
    pub downstream_addr: SocketAddr,
    /// Counters.
    pub stats: Arc<JdcStats>,
    /// What the client mines for.
    pub mode: watch::Receiver<Mode>,
    tasks: Vec<JoinHandle<()>>,
}

impl JdcHandle {
    /// Stops every task (downstream connections close when their job source goes away).
    pub fn shutdown(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Waits until `f` accepts the mode (or the timeout passes); returns the last mode seen.
    pub async fn wait_mode(&mut self, timeout: Duration, f: impl Fn(Mode) -> bool) -> Option<Mode> {
        let fut = async {
            loop {
                let m = *self.mode.borrow_and_update();
                if f(m) {
                    return Some(m);
                }
                if self.mode.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(timeout, fut).await.ok().flatten()
    }
}

impl Drop for JdcHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the client: checks the own node and the solo address, starts the template source,
/// the downstream listener and the control loop (which connects the first upstream).
pub async fn start_jdc(cfg: JdcConfig) -> Result<JdcHandle, StartError> {
    let (node, _, network) = role_kit::node::connect_node(cfg.node_config()).await?;
    let solo = role_kit::node::address_on_network(
        "solo.address",
        &cfg.solo.address,
        network,
        "use an address of that network",
    )
    .map_err(StartError::Config)?
    .script_pubkey();

    let (source, templates, _state) = TemplateSource::new(
        node.clone(),
        TemplateTiming {
            poll_interval: Duration::from_millis(cfg.bitcoind.poll_interval_ms),
            min_fee_refresh: Duration::from_secs(cfg.bitcoind.min_fee_refresh_secs),
        },
    );
    let (jobs_tx, jobs_rx) = watch::channel(None);
    let (shares_tx, shares_rx) = mpsc::channel(4096);
    let (sol_tx, sol_rx) = mpsc::channel(256);
    let downstream = crate::downstream::start(&cfg, jobs_rx, shares_tx, sol_tx)
        .await
        .map_err(|e| StartError::Config(e.to_string()))?;
    let stats = Arc::new(JdcStats::default());
    let (mode_tx, mode_rx) = watch::channel(Mode::Starting);
    let sink: Arc<dyn WorkSink> = Arc::new(LogSink);
    let io = RuntimeIo {
        templates,
        jobs: jobs_tx,
        shares: shares_rx,
        solutions: sol_rx,
        submitter: BlockSubmitter::new(node, Vec::new(), sink),
        allocator: downstream.allocator.clone(),
        mode: mode_tx,
        stats: stats.clone(),
    };
    let runtime = Runtime::new(Arc::new(cfg), solo, io);
    let mut tasks = downstream.tasks;
    tasks.push(tokio::spawn(source.run()));
    tasks.push(tokio::spawn(runtime.run()));
    tracing::info!(downstream = %downstream.local_addr, "job declarator client listening");
    Ok(JdcHandle {
        downstream_addr: downstream.local_addr,
        stats,
        mode: mode_rx,
        tasks,
    })
}
