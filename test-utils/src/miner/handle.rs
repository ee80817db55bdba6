//! The handle returned by every miner's `spawn`: counters, stop, join.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::error::MinerError;
use super::stats::{MinerStats, StatsHandle};

/// Controls a miner running as a tokio task.
///
/// Dropping the handle stops the miner (tests cannot leak hashing threads by forgetting it);
/// use [`MinerHandle::join`] to wait for a miner that stops by itself (`duration`,
/// `max_shares`).
#[derive(Debug)]
pub struct MinerHandle {
    stats: StatsHandle,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<Result<(), MinerError>>>,
}

/// The receiving side of a stop request, polled by the miner tasks.
#[derive(Debug, Clone)]
pub(crate) struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// True once a stop was requested.
    pub(crate) fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when a stop is requested (or the handle is gone).
    pub(crate) async fn wait(&mut self) {
        let _ = self.0.wait_for(|v| *v).await;
    }
}

impl MinerHandle {
    /// Spawns `run` on the current tokio runtime.
    pub(crate) fn spawn<F, Fut>(stats: StatsHandle, run: F) -> MinerHandle
    where
        F: FnOnce(StopSignal) -> Fut,
        Fut: Future<Output = Result<(), MinerError>> + Send + 'static,
    {
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(run(StopSignal(rx)));
        MinerHandle {
            stats,
            stop,
            task: Some(task),
        }
    }

    /// The current counters.
    pub fn stats(&self) -> MinerStats {
        self.stats.snapshot()
    }

    /// A cloneable view of the counters that outlives the handle.
    pub fn stats_handle(&self) -> StatsHandle {
        self.stats.clone()
    }

    /// Asks the miner to stop: hashing stops and connections close promptly, without waiting
    /// for acknowledgements of shares in flight.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// True once the miner task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits until `condition` holds for the counters, checking every 10 ms; returns the
    /// matching counters, or `None` after `timeout` or if the miner ended first without the
    /// condition holding.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&MinerStats) -> bool,
    ) -> Option<MinerStats> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let s = self.stats();
            if condition(&s) {
                return Some(s);
            }
            if self.is_finished() || tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for the miner to end and returns its final counters, or the error that ended it.
    pub async fn join(mut self) -> Result<MinerStats, MinerError> {
        let Some(task) = self.task.take() else {
            return Ok(self.stats());
        };
        match task.await {
            Ok(Ok(())) => Ok(self.stats()),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(MinerError::Task(e.to_string())),
        }
    }

    /// [`MinerHandle::stop`] then [`MinerHandle::join`].
    pub async fn stop_and_join(self) -> Result<MinerStats, MinerError> {
        self.stop();
        self.join().await
    }
}

impl Drop for MinerHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}
