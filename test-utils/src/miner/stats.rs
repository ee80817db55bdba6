//! Counters a running miner keeps, and the snapshot ([`MinerStats`]) tests assert on.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::Serialize;

/// A point-in-time copy of a miner's counters.
///
/// Shared by the SV2 miner, the SV1 miner and the SV1 load generator; fields that do not apply
/// to a mode stay zero. Serializes to the JSON written by `--report-json`.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct MinerStats {
    /// Seconds since the miner was started.
    pub elapsed_secs: f64,
    /// Connections that completed their setup (SV2 `SetupConnection.Success`, SV1 subscribed).
    pub connections: u64,
    /// Connections currently set up (0 or 1 for a hashing miner, many in SV1 load mode).
    pub open_connections: u64,
    /// Connection attempts that failed (refused, handshake or setup failure, dropped).
    pub connection_failures: u64,
    /// Reconnections requested by the pool (`Reconnect` / `client.reconnect`) and honoured.
    pub reconnects: u64,
    /// Channels the pool opened (SV2 `Open*MiningChannel.Success`; SV1: authorized workers).
    pub channels_opened: u64,
    /// Channels currently open.
    pub open_channels: u64,
    /// Channels the pool closed (`CloseChannel`).
    pub channels_closed: u64,
    /// Channel open requests the pool refused (`OpenMiningChannel.Error`, SV1 authorize false).
    pub channel_open_errors: u64,
    /// Jobs received (`NewMiningJob`, `NewExtendedMiningJob`, `mining.notify`).
    pub jobs_received: u64,
    /// Chain tip changes received (SV2 `SetNewPrevHash`, SV1 notify with a new prev hash).
    pub prev_hash_changes: u64,
    /// Target changes received (`SetTarget`, `mining.set_difficulty`).
    pub target_updates: u64,
    /// Id of the job most recently received (SV2 ids in decimal).
    pub last_job_id: Option<String>,
    /// Difficulty of the latest share target (SV1 difficulty units: 1 = 2^32 hashes).
    pub difficulty: f64,
    /// Header hashes computed.
    pub hashes: u64,
    /// Hashes that met the share target, before stale filtering.
    pub shares_found: u64,
    /// Shares sent to the pool.
    pub shares_submitted: u64,
    /// Shares the pool acknowledged as accepted.
    pub shares_accepted: u64,
    /// Shares the pool rejected.
    pub shares_rejected: u64,
    /// Rejections by reason: the SV2 `error_code`, or `"<code>: <message>"` for SV1.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Shares found but not sent because their job or target was superseded meanwhile.
    pub shares_stale_dropped: u64,
    /// SV2 `SubmitShares.Success.new_shares_sum` totals (difficulty acknowledged by the pool).
    pub accepted_work_sum: u64,
    /// Submitted shares whose hash also met the job's network target (`nbits`).
    pub blocks_found: u64,
    /// Highest difficulty among submitted shares.
    pub best_share_difficulty: f64,
    /// SV1 load mode: shares submitted although they do not meet the target (see the load
    /// generator's docs: the difficulty was too high for its hashing budget).
    pub shares_submitted_below_target: u64,
    /// Pool messages that could not be understood and were ignored.
    pub ignored_messages: u64,
    /// `UpdateChannel.Error` replies received.
    pub update_channel_errors: u64,
    /// `UpdateChannel` messages sent.
    pub update_channels_sent: u64,
    /// The most recent error that ended a connection, if any.
    pub last_error: Option<String>,
}

impl MinerStats {
    /// Shares submitted but neither accepted nor rejected yet.
    pub fn shares_pending(&self) -> u64 {
        self.shares_submitted
            .saturating_sub(self.shares_accepted + self.shares_rejected)
    }

    /// Rejections recorded for `reason`.
    pub fn rejected_for(&self, reason: &str) -> u64 {
        self.rejected_by_reason.get(reason).copied().unwrap_or(0)
    }

    /// Average hash rate since start, in hashes per second.
    pub fn hashrate(&self) -> f64 {
        if self.elapsed_secs > 0.0 {
            self.hashes as f64 / self.elapsed_secs
        } else {
            0.0
        }
    }
}

/// Counters with interior mutability; cheap to update from the hashing threads and IO tasks.
#[derive(Debug)]
pub(crate) struct Stats {
    started: Instant,
    pub(crate) connections: AtomicU64,
    pub(crate) open_connections: AtomicU64,
    pub(crate) connection_failures: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) channels_opened: AtomicU64,
    pub(crate) open_channels: AtomicU64,
    pub(crate) channels_closed: AtomicU64,
    pub(crate) channel_open_errors: AtomicU64,
    pub(crate) jobs_received: AtomicU64,
    pub(crate) prev_hash_changes: AtomicU64,
    pub(crate) target_updates: AtomicU64,
    pub(crate) hashes: AtomicU64,
    pub(crate) shares_found: AtomicU64,
    pub(crate) shares_submitted: AtomicU64,
    pub(crate) shares_accepted: AtomicU64,
    pub(crate) shares_rejected: AtomicU64,
    pub(crate) shares_stale_dropped: AtomicU64,
    pub(crate) accepted_work_sum: AtomicU64,
    pub(crate) blocks_found: AtomicU64,
    pub(crate) shares_submitted_below_target: AtomicU64,
    pub(crate) ignored_messages: AtomicU64,
    pub(crate) update_channel_errors: AtomicU64,
    pub(crate) update_channels_sent: AtomicU64,
    slow: Mutex<SlowFields>,
}

/// Fields that are not plain counters.
#[derive(Debug, Default)]
struct SlowFields {
    last_job_id: Option<String>,
    difficulty: f64,
    rejected_by_reason: BTreeMap<String, u64>,
    best_share_difficulty: f64,
    last_error: Option<String>,
}

/// Most distinct rejection reasons kept (a hostile pool could send endless new strings).
const MAX_REASONS: usize = 64;
/// Longest rejection reason or error text kept.
const MAX_TEXT: usize = 200;

fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_TEXT) {
        Some((i, _)) => s.get(..i).unwrap_or_default().to_owned(),
        None => s.to_owned(),
    }
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            connections: AtomicU64::new(0),
            open_connections: AtomicU64::new(0),
            connection_failures: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            channels_opened: AtomicU64::new(0),
            open_channels: AtomicU64::new(0),
            channels_closed: AtomicU64::new(0),
            channel_open_errors: AtomicU64::new(0),
            jobs_received: AtomicU64::new(0),
            prev_hash_changes: AtomicU64::new(0),
            target_updates: AtomicU64::new(0),
            hashes: AtomicU64::new(0),
            shares_found: AtomicU64::new(0),
            shares_submitted: AtomicU64::new(0),
            shares_accepted: AtomicU64::new(0),
            shares_rejected: AtomicU64::new(0),
            shares_stale_dropped: AtomicU64::new(0),
            accepted_work_sum: AtomicU64::new(0),
            blocks_found: AtomicU64::new(0),
            shares_submitted_below_target: AtomicU64::new(0),
            ignored_messages: AtomicU64::new(0),
            update_channel_errors: AtomicU64::new(0),
            update_channels_sent: AtomicU64::new(0),
            slow: Mutex::new(SlowFields::default()),
        }
    }
}

/// Adds 1 to a counter.
pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Subtracts 1 from a gauge, never going below zero.
pub(crate) fn drop_gauge(c: &AtomicU64) {
    let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
}

impl Stats {
    fn slow(&self) -> MutexGuard<'_, SlowFields> {
        // A panic while holding this lock cannot leave the fields inconsistent; keep going.
        self.slow.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a rejection for `reason`.
    pub(crate) fn rejected(&self, reason: &str) {
        bump(&self.shares_rejected);
        let mut slow = self.slow();
        let reason = clip(reason);
        let known = slow.rejected_by_reason.len();
        match slow.rejected_by_reason.get_mut(&reason) {
            Some(n) => *n += 1,
            None if known < MAX_REASONS => {
                slow.rejected_by_reason.insert(reason, 1);
            }
            None => *slow.rejected_by_reason.entry("other".into()).or_insert(0) += 1,
        }
    }

    /// Records a submitted share of the given difficulty.
    pub(crate) fn submitted(&self, share_difficulty: f64, is_block: bool) {
        bump(&self.shares_submitted);
        if is_block {
            bump(&self.blocks_found);
        }
        let mut slow = self.slow();
        if share_difficulty > slow.best_share_difficulty {
            slow.best_share_difficulty = share_difficulty;
        }
    }

    /// Records a received job.
    pub(crate) fn job(&self, id: impl ToString) {
        bump(&self.jobs_received);
        self.slow().last_job_id = Some(clip(&id.to_string()));
    }

    /// Records a new share target.
    pub(crate) fn difficulty(&self, difficulty: f64) {
        bump(&self.target_updates);
        self.slow().difficulty = difficulty;
    }

    /// Records the error that ended a connection.
    pub(crate) fn error(&self, e: &dyn std::fmt::Display) {
        self.slow().last_error = Some(clip(&e.to_string()));
    }

    /// The current values.
    pub(crate) fn snapshot(&self) -> MinerStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let slow = self.slow();
        MinerStats {
            elapsed_secs: self.started.elapsed().as_secs_f64(),
            connections: g(&self.connections),
            open_connections: g(&self.open_connections),
            connection_failures: g(&self.connection_failures),
            reconnects: g(&self.reconnects),
            channels_opened: g(&self.channels_opened),
            open_channels: g(&self.open_channels),
            channels_closed: g(&self.channels_closed),
            channel_open_errors: g(&self.channel_open_errors),
            jobs_received: g(&self.jobs_received),
            prev_hash_changes: g(&self.prev_hash_changes),
            target_updates: g(&self.target_updates),
            last_job_id: slow.last_job_id.clone(),
            difficulty: slow.difficulty,
            hashes: g(&self.hashes),
            shares_found: g(&self.shares_found),
            shares_submitted: g(&self.shares_submitted),
            shares_accepted: g(&self.shares_accepted),
            shares_rejected: g(&self.shares_rejected),
            rejected_by_reason: slow.rejected_by_reason.clone(),
            shares_stale_dropped: g(&self.shares_stale_dropped),
            accepted_work_sum: g(&self.accepted_work_sum),
            blocks_found: g(&self.blocks_found),
            best_share_difficulty: slow.best_share_difficulty,
            shares_submitted_below_target: g(&self.shares_submitted_below_target),
            ignored_messages: g(&self.ignored_messages),
            update_channel_errors: g(&self.update_channel_errors),
            update_channels_sent: g(&self.update_channels_sent),
            last_error: slow.last_error.clone(),
        }
    }
}

/// A cloneable, read-only view of a running miner's counters.
#[derive(Debug, Clone)]
pub struct StatsHandle(pub(crate) Arc<Stats>);

impl StatsHandle {
    /// The current counters.
    pub fn snapshot(&self) -> MinerStats {
        self.0.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_are_counted_by_reason_and_bounded() {
        let s = Stats::default();
        s.rejected("stale-share");
        s.rejected("stale-share");
        s.rejected("invalid-share");
        for i in 0..(MAX_REASONS * 2) {
            s.rejected(&format!("r{i}"));
        }
        let snap = s.snapshot();
        assert_eq!(snap.rejected_for("stale-share"), 2);
        assert_eq!(snap.rejected_for("invalid-share"), 1);
        assert_eq!(snap.shares_rejected, 3 + 2 * MAX_REASONS as u64);
        assert!(snap.rejected_by_reason.len() <= MAX_REASONS + 1);
        assert!(snap.rejected_for("other") > 0);
    }

    #[test]
    fn pending_and_best_difficulty() {
        let s = Stats::default();
        s.submitted(3.0, false);
        s.submitted(10.0, true);
        s.submitted(5.0, false);
        bump(&s.shares_accepted);
        let snap = s.snapshot();
        assert_eq!(snap.shares_pending(), 2);
        assert_eq!(snap.best_share_difficulty, 10.0);
        assert_eq!(snap.blocks_found, 1);
        drop_gauge(&s.open_connections);
        assert_eq!(s.snapshot().open_connections, 0);
    }

    #[test]
    fn long_texts_are_clipped() {
        let s = Stats::default();
        s.error(&"x".repeat(10_000));
        s.job("é".repeat(1000));
        let snap = s.snapshot();
        assert_eq!(snap.last_error.map(|e| e.len()), Some(MAX_TEXT));
        assert_eq!(snap.last_job_id.map(|e| e.chars().count()), Some(MAX_TEXT));
    }
}
