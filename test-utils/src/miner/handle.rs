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
    /// Spawns `run` on the current tokio runtime (an error outside of one).
    pub(crate) fn spawn<F, Fut>(stats: StatsHandle, run: F) -> Result<MinerHandle, MinerError>
    where
        F: FnOnce(StopSignal) -> Fut,
        Fut: Future<Output = Result<(), MinerError>> + Send + 'static,
    {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            MinerError::Config("miners must be spawned inside a tokio runtime".into())
        })?;
        let (stop, rx) = watch::channel(false);
        let task = runtime.spawn(run(StopSignal(rx)));
        Ok(MinerHandle {
            stats,
            stop,
            task: Some(task),
        })
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
        let deadline = super::util::saturating_after(tokio::time::Instant::now(), timeout);
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

    /// What a miner binary does once its miner runs: waits for it to end or for Ctrl-C, then
    /// hands the final counters to `report`. Success unless the miner or the report failed
    /// (the error is printed on stderr).
    pub async fn run_to_end(
        self,
        report: impl FnOnce(&MinerStats) -> Result<(), String>,
    ) -> std::process::ExitCode {
        use std::process::ExitCode;
        let stats = self.stats_handle();
        let result = tokio::select! {
            r = self.join() => r,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("interrupted");
                Ok(stats.snapshot())
            }
        };
        let (last, code) = match result {
            Ok(s) => (s, ExitCode::SUCCESS),
            Err(e) => {
                eprintln!("error: {e}");
                (stats.snapshot(), ExitCode::FAILURE)
            }
        };
        if let Err(e) = report(&last) {
            eprintln!("error writing the report: {e}");
            return ExitCode::FAILURE;
        }
        code
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::stats::Stats;
    use std::sync::Arc;

    fn stats() -> StatsHandle {
        StatsHandle(Arc::new(Stats::default()))
    }

    #[test]
    fn spawning_outside_a_runtime_is_an_error() {
        let r = MinerHandle::spawn(stats(), |_| async { Ok(()) });
        assert!(matches!(r, Err(MinerError::Config(_))));
    }

    #[tokio::test]
    async fn stop_join_and_wait_for() {
        let h = MinerHandle::spawn(stats(), |mut stop| async move {
            stop.wait().await;
            Err(MinerError::ConnectionClosed)
        })
        .unwrap();
        assert!(!h.is_finished());
        // The condition never holds and the miner keeps running: times out.
        assert!(h
            .wait_for(Duration::from_millis(30), |s| s.shares_accepted > 0)
            .await
            .is_none());
        assert!(h
            .wait_for(Duration::from_millis(30), |_| true)
            .await
            .is_some());
        assert!(matches!(
            h.stop_and_join().await,
            Err(MinerError::ConnectionClosed)
        ));
        // Dropping a handle stops its miner.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let h = MinerHandle::spawn(stats(), |mut stop| async move {
            stop.wait().await;
            let _ = tx.send(());
            Ok(())
        })
        .unwrap();
        drop(h);
        tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .unwrap()
            .unwrap();
    }
}
