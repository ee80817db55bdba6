//! Counters shared by every connection of a load run: cheap atomics for the per-second
//! progress line, and mutex-protected shards with the latency histogram and the verdicts by
//! share kind and rejection reason (locked once per received message, not per share).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::hist::Histogram;

/// What a submitted share was meant to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShareKind {
    /// Meets the channel target, fresh: the pool should accept it.
    Valid,
    /// A nonce whose hash misses the target ("bad nonce"): `difficulty-too-low`.
    Invalid,
    /// For a job of the previous chain tip: `stale-share`.
    Stale,
    /// A repeat of an earlier valid share: `duplicate-share`.
    Duplicate,
}

impl ShareKind {
    /// Every kind, in report order.
    pub const ALL: [ShareKind; 4] = [
        ShareKind::Valid,
        ShareKind::Invalid,
        ShareKind::Stale,
        ShareKind::Duplicate,
    ];

    /// Index into per-kind arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ShareKind::Valid => "valid",
            ShareKind::Invalid => "invalid",
            ShareKind::Stale => "stale",
            ShareKind::Duplicate => "duplicate",
        }
    }
}

/// Most distinct rejection reasons kept (a pool could send endless new strings).
const MAX_REASONS: usize = 32;
/// Longest reason kept.
const MAX_REASON_LEN: usize = 64;

/// Verdicts per share kind: accepted, or rejected with the pool's error code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdicts {
    /// Accepted shares per kind.
    pub accepted: BTreeMap<ShareKind, u64>,
    /// Rejected shares per kind and error code.
    pub rejected: BTreeMap<ShareKind, BTreeMap<String, u64>>,
}

impl Verdicts {
    /// Counts one acceptance.
    pub fn accept(&mut self, kind: ShareKind, n: u64) {
        *self.accepted.entry(kind).or_default() += n;
    }

    /// Counts one rejection with `reason` (clipped; rare reasons beyond the bound are `other`).
    pub fn reject(&mut self, kind: ShareKind, reason: &str) {
        let reasons = self.rejected.entry(kind).or_default();
        let clipped: String = reason.chars().take(MAX_REASON_LEN).collect();
        let key = if reasons.contains_key(&clipped) || reasons.len() < MAX_REASONS {
            clipped
        } else {
            "other".to_owned()
        };
        *reasons.entry(key).or_default() += 1;
    }

    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &Verdicts) {
        for (k, n) in &other.accepted {
            self.accept(*k, *n);
        }
        for (k, reasons) in &other.rejected {
            let mine = self.rejected.entry(*k).or_default();
            for (r, n) in reasons {
                *mine.entry(r.clone()).or_default() += n;
            }
        }
    }

    /// Accepted shares of `kind`.
    pub fn accepted_of(&self, kind: ShareKind) -> u64 {
        self.accepted.get(&kind).copied().unwrap_or(0)
    }

    /// Rejected shares of `kind`, all reasons.
    pub fn rejected_of(&self, kind: ShareKind) -> u64 {
        self.rejected.get(&kind).map_or(0, |r| r.values().sum())
    }

    /// Rejections by reason over all kinds.
    pub fn by_reason(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for reasons in self.rejected.values() {
            for (r, n) in reasons {
                *out.entry(r.clone()).or_default() += n;
            }
        }
        out
    }
}

/// Latencies and verdicts of a group of connections.
#[derive(Debug, Default)]
pub struct Detail {
    /// Submit → `SubmitShares.Success` latency of accepted shares.
    pub accept_latency: Histogram,
    /// Submit → `SubmitShares.Error` latency of rejected shares.
    pub reject_latency: Histogram,
    /// Verdicts.
    pub verdicts: Verdicts,
}

/// Number of detail shards (connections pick one by index).
const SHARDS: usize = 16;

/// Everything connections report into.
#[derive(Debug)]
pub struct LoadStats {
    /// Connections whose TCP + Noise + SetupConnection succeeded.
    pub connected: AtomicU64,
    /// Channels currently open.
    pub channels_open: AtomicU64,
    /// Channels opened in total.
    pub channels_opened: AtomicU64,
    /// Connection attempts that failed before the channel opened.
    pub connect_failures: AtomicU64,
    /// Open connections lost afterwards (closed by the pool, I/O error).
    pub disconnects: AtomicU64,
    /// Shares sent, per kind.
    pub sent: [AtomicU64; 4],
    /// Sum of `new_submits_accepted_count` over every `SubmitShares.Success`.
    pub acked: AtomicU64,
    /// Shares matched to a Success by sequence number.
    pub accepted: AtomicU64,
    /// Shares rejected.
    pub rejected: AtomicU64,
    /// Shares lost with their connection before an answer.
    pub unanswered: AtomicU64,
    /// Header hashes computed to find shares.
    pub hashes: AtomicU64,
    /// Valid shares not sent because the hash budget ran out (target too hard).
    pub budget_exhausted: AtomicU64,
    /// Hashes that met the network target and were therefore not submitted.
    pub blocks_skipped: AtomicU64,
    /// Shares not sent because the in-flight window was full (the pool is behind).
    pub window_full: AtomicU64,
    /// `SetNewPrevHash` messages received.
    pub prev_hashes: AtomicU64,
    /// Jobs received.
    pub jobs: AtomicU64,
    /// `SetTarget` messages received.
    pub set_targets: AtomicU64,
    /// Last error text (for the summary).
    pub last_error: Mutex<Option<String>>,
    shards: Vec<Mutex<Detail>>,
}

impl Default for LoadStats {
    fn default() -> Self {
        LoadStats {
            connected: AtomicU64::new(0),
            channels_open: AtomicU64::new(0),
            channels_opened: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            sent: Default::default(),
            acked: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            unanswered: AtomicU64::new(0),
            hashes: AtomicU64::new(0),
            budget_exhausted: AtomicU64::new(0),
            blocks_skipped: AtomicU64::new(0),
            window_full: AtomicU64::new(0),
            prev_hashes: AtomicU64::new(0),
            jobs: AtomicU64::new(0),
            set_targets: AtomicU64::new(0),
            last_error: Mutex::new(None),
            shards: (0..SHARDS).map(|_| Mutex::new(Detail::default())).collect(),
        }
    }
}

/// Adds `n` to a counter.
pub fn add(c: &AtomicU64, n: u64) {
    if n > 0 {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// Subtracts one from a gauge without wrapping below zero.
pub fn dec(c: &AtomicU64) {
    let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
}

/// Reads a counter.
pub fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl LoadStats {
    /// The detail shard of connection `index`.
    pub fn shard(&self, index: usize) -> MutexGuard<'_, Detail> {
        let m = &self.shards[index % self.shards.len()];
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers an error for the summary.
    pub fn error(&self, e: impl std::fmt::Display) {
        let mut g = self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *g = Some(e.to_string().chars().take(300).collect());
    }

    /// Shares sent, all kinds.
    pub fn sent_total(&self) -> u64 {
        self.sent.iter().map(get).sum()
    }

    /// Merged latencies and verdicts of every shard.
    pub fn merged(&self) -> Detail {
        let mut out = Detail::default();
        for m in &self.shards {
            let d = m.lock().unwrap_or_else(PoisonError::into_inner);
            out.accept_latency.merge(&d.accept_latency);
            out.reject_latency.merge(&d.reject_latency);
            out.verdicts.merge(&d.verdicts);
        }
        out
    }
}

/// Applies a Success's matched shares to a shard: verdicts and latencies.
pub fn record_accepted(detail: &mut Detail, kind: ShareKind, latency: Duration) {
    detail.verdicts.accept(kind, 1);
    detail.accept_latency.record(latency);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_bound_reasons_and_merge() {
        let mut v = Verdicts::default();
        v.accept(ShareKind::Valid, 10);
        for i in 0..40 {
            v.reject(ShareKind::Invalid, &format!("code-{i}"));
        }
        v.reject(ShareKind::Invalid, "code-0");
        v.reject(ShareKind::Stale, "stale-share");
        assert_eq!(v.rejected_of(ShareKind::Invalid), 41);
        assert_eq!(v.rejected[&ShareKind::Invalid].len(), MAX_REASONS + 1);
        assert_eq!(v.rejected[&ShareKind::Invalid]["other"], 8);
        assert_eq!(v.rejected[&ShareKind::Invalid]["code-0"], 2);
        let mut w = Verdicts::default();
        w.merge(&v);
        w.merge(&v);
        assert_eq!(w.accepted_of(ShareKind::Valid), 20);
        assert_eq!(w.by_reason()["stale-share"], 2);
        assert_eq!(w.rejected_of(ShareKind::Duplicate), 0);
    }

    #[test]
    fn shards_merge_and_gauges_do_not_wrap() {
        let s = LoadStats::default();
        record_accepted(&mut s.shard(3), ShareKind::Valid, Duration::from_millis(2));
        record_accepted(&mut s.shard(19), ShareKind::Valid, Duration::from_millis(4));
        s.shard(5).verdicts.reject(ShareKind::Stale, "stale-share");
        let d = s.merged();
        assert_eq!(d.accept_latency.count(), 2);
        assert_eq!(d.verdicts.accepted_of(ShareKind::Valid), 2);
        assert_eq!(d.verdicts.rejected_of(ShareKind::Stale), 1);
        dec(&s.channels_open);
        assert_eq!(get(&s.channels_open), 0);
        add(&s.sent[ShareKind::Duplicate.index()], 3);
        assert_eq!(s.sent_total(), 3);
        s.error("boom");
        assert_eq!(s.last_error.lock().unwrap().as_deref(), Some("boom"));
    }
}
