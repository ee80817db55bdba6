//! Work accounting: accepted share difficulty aggregated per worker and site, found blocks,
//! handed to a [`WorkSink`] in batches (never one call per share).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::work_journal::{JournalEntry, WorkJournal};

/// A worker identity split by the `site.worker` convention.
///
/// `user_identity` from OpenStandardMiningChannel / OpenExtendedMiningChannel is split at the
/// first `.`: `fra1.rack4-s19-017` is worker `rack4-s19-017` of site `fra1`. An identity without
/// a dot belongs to site `default`. Only `[A-Za-z0-9_.:-]` are kept; other characters become `_`
/// so identities are safe in logs, metrics labels and SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkerId {
    /// Site id (the part before the first dot).
    pub site: String,
    /// Worker name (the rest).
    pub worker: String,
}

impl WorkerId {
    /// Longest identity kept; longer ones are truncated.
    pub const MAX_LEN: usize = 128;

    /// Parses a `user_identity` string.
    pub fn parse(identity: &str) -> WorkerId {
        let clean: String = identity
            .chars()
            .take(Self::MAX_LEN)
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        match clean.split_once('.') {
            Some((site, worker)) if !site.is_empty() && !worker.is_empty() => WorkerId {
                site: site.to_owned(),
                worker: worker.to_owned(),
            },
            _ => WorkerId {
                site: "default".to_owned(),
                worker: if clean.is_empty() {
                    "anonymous".to_owned()
                } else {
                    clean
                },
            },
        }
    }

    /// `site.worker` form.
    pub fn full(&self) -> String {
        format!("{}.{}", self.site, self.worker)
    }
}

/// Accepted work of one worker during one flush window.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkRecord {
    /// Who did the work.
    pub worker: WorkerId,
    /// Start of the window, unix seconds.
    pub window_start: u64,
    /// End of the window, unix seconds.
    pub window_end: u64,
    /// Number of accepted shares.
    pub shares: u64,
    /// Sum of the accepted shares' difficulty (the target difficulty each share was credited at).
    pub difficulty_sum: f64,
    /// Number of rejected shares.
    pub rejected: u64,
}

/// A block the pool found and the node accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundBlock {
    /// Block height.
    pub height: u64,
    /// Block hash (display hex).
    pub hash: String,
    /// Coinbase value paid, satoshis (subsidy + fees).
    pub reward_sats: u64,
    /// Template fees, satoshis.
    pub fees_sats: u64,
    /// Worker whose share found it.
    pub finder: WorkerId,
    /// Unix seconds when found.
    pub time: u64,
    /// How the node answered submitblock (`accepted`, `duplicate`, ...).
    pub node_result: String,
}

/// A block found on a custom (declared) job: the pool validated the share, the job declarator
/// client and server submit the block (only they hold its transactions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredBlock {
    /// Block hash (display hex).
    pub hash: String,
    /// Worker whose share found it.
    pub finder: WorkerId,
    /// Unix seconds when the share arrived.
    pub time: u64,
}

/// Receives aggregated work and found blocks. Implementations must make `record_block`
/// durable before returning (the treasury ledger does); work batches may be buffered.
pub trait WorkSink: Send + Sync {
    /// A batch of per-worker work for one window.
    fn record_work(&self, batch: &[WorkRecord]) -> Result<(), SinkError>;
    /// One found block.
    fn record_block(&self, block: &FoundBlock) -> Result<(), SinkError>;
    /// A batch that covers the work journal up to sequence number `journal_upto`: a durable
    /// sink stores that number with the work, atomically (see [`WorkSink::journal_applied`]).
    fn record_journaled_work(
        &self,
        batch: &[WorkRecord],
        journal_upto: u64,
    ) -> Result<(), SinkError> {
        let _ = journal_upto;
        self.record_work(batch)
    }
    /// The last work journal sequence number this sink holds, or `None` if the sink does not
    /// keep work durably (then no journal is kept).
    fn journal_applied(&self) -> Result<Option<u64>, SinkError> {
        Ok(None)
    }
    /// Called at start, before any job is served, with the node's block height: no block of
    /// this pool can be at or below it (the treasury's chain scan for missing blocks starts
    /// above it on a new ledger).
    fn serving_from(&self, height: u64) -> Result<(), SinkError> {
        let _ = height;
        Ok(())
    }
    /// A block found on a declared job, to be credited once it is in the best chain (the
    /// treasury ledger stores it for its chain tracker; other sinks ignore it).
    fn declared_block(&self, block: &DeclaredBlock) -> Result<(), SinkError> {
        let _ = block;
        Ok(())
    }
}

/// Work records (one per worker, window from the first to the last commit) of journal entries
/// replayed after a restart.
pub fn records_from_journal(entries: &[JournalEntry]) -> Vec<WorkRecord> {
    let mut by_worker: HashMap<WorkerId, WorkRecord> = HashMap::new();
    for e in entries {
        let r = by_worker
            .entry(e.worker.clone())
            .or_insert_with(|| WorkRecord {
                worker: e.worker.clone(),
                window_start: e.time,
                window_end: e.time,
                shares: 0,
                difficulty_sum: 0.0,
                rejected: 0,
            });
        r.window_start = r.window_start.min(e.time);
        r.window_end = r.window_end.max(e.time);
        r.shares = r.shares.saturating_add(e.shares);
        r.difficulty_sum += e.difficulty_sum;
        r.rejected = r.rejected.saturating_add(e.rejected);
    }
    by_worker.into_values().collect()
}

/// A sink failed to record.
#[derive(Debug, thiserror::Error)]
#[error("work sink: {0}")]
pub struct SinkError(pub String);

/// Keeps everything in memory (tests, demo).
#[derive(Default)]
pub struct MemorySink {
    work: Mutex<Vec<WorkRecord>>,
    blocks: Mutex<Vec<FoundBlock>>,
    declared: Mutex<Vec<DeclaredBlock>>,
}

impl MemorySink {
    /// All work records so far.
    pub fn work(&self) -> Vec<WorkRecord> {
        self.work.lock().map(|w| w.clone()).unwrap_or_default()
    }
    /// All blocks so far.
    pub fn blocks(&self) -> Vec<FoundBlock> {
        self.blocks.lock().map(|b| b.clone()).unwrap_or_default()
    }
    /// All blocks found on declared jobs so far.
    pub fn declared(&self) -> Vec<DeclaredBlock> {
        self.declared.lock().map(|b| b.clone()).unwrap_or_default()
    }
    /// Total accepted difficulty per site.
    pub fn difficulty_by_site(&self) -> HashMap<String, f64> {
        let mut m = HashMap::new();
        for r in self.work() {
            *m.entry(r.worker.site.clone()).or_insert(0.0) += r.difficulty_sum;
        }
        m
    }
}

impl WorkSink for MemorySink {
    fn record_work(&self, batch: &[WorkRecord]) -> Result<(), SinkError> {
        self.work
            .lock()
            .map_err(|_| SinkError("poisoned".into()))?
            .extend_from_slice(batch);
        Ok(())
    }
    fn record_block(&self, block: &FoundBlock) -> Result<(), SinkError> {
        self.blocks
            .lock()
            .map_err(|_| SinkError("poisoned".into()))?
            .push(block.clone());
        Ok(())
    }
    fn declared_block(&self, block: &DeclaredBlock) -> Result<(), SinkError> {
        self.declared
            .lock()
            .map_err(|_| SinkError("poisoned".into()))?
            .push(block.clone());
        Ok(())
    }
}

/// Writes every batch and block to the log.
#[derive(Default)]
pub struct LogSink;

impl WorkSink for LogSink {
    fn record_work(&self, batch: &[WorkRecord]) -> Result<(), SinkError> {
        for r in batch {
            tracing::info!(
                site = %r.worker.site, worker = %r.worker.worker, shares = r.shares,
                difficulty = r.difficulty_sum, rejected = r.rejected, "work"
            );
        }
        Ok(())
    }
    fn record_block(&self, b: &FoundBlock) -> Result<(), SinkError> {
        tracing::info!(height = b.height, hash = %b.hash, reward = b.reward_sats, finder = %b.finder.full(), result = %b.node_result, "block found");
        Ok(())
    }
}

/// Sends to several sinks in order.
pub struct FanoutSink(pub Vec<std::sync::Arc<dyn WorkSink>>);

impl WorkSink for FanoutSink {
    fn record_work(&self, batch: &[WorkRecord]) -> Result<(), SinkError> {
        for s in &self.0 {
            s.record_work(batch)?;
        }
        Ok(())
    }
    fn record_block(&self, block: &FoundBlock) -> Result<(), SinkError> {
        for s in &self.0 {
            s.record_block(block)?;
        }
        Ok(())
    }
    fn record_journaled_work(
        &self,
        batch: &[WorkRecord],
        journal_upto: u64,
    ) -> Result<(), SinkError> {
        for s in &self.0 {
            s.record_journaled_work(batch, journal_upto)?;
        }
        Ok(())
    }
    fn serving_from(&self, height: u64) -> Result<(), SinkError> {
        for s in &self.0 {
            s.serving_from(height)?;
        }
        Ok(())
    }
    fn declared_block(&self, block: &DeclaredBlock) -> Result<(), SinkError> {
        for s in &self.0 {
            s.declared_block(block)?;
        }
        Ok(())
    }
    fn journal_applied(&self) -> Result<Option<u64>, SinkError> {
        for s in &self.0 {
            if let Some(seq) = s.journal_applied()? {
                return Ok(Some(seq));
            }
        }
        Ok(None)
    }
}

#[derive(Default, Clone, Copy)]
struct Tally {
    shares: u64,
    difficulty: f64,
    rejected: u64,
}

/// In-memory aggregation between flushes; cheap to call per share (one short lock on a shard).
///
/// With a [`WorkJournal`] attached, shares first land in `pending`; [`WorkAggregator::commit`]
/// (called before acknowledgements go out) appends them to the journal and moves them into
/// the flush window, so acknowledged work survives a crash.
pub struct WorkAggregator {
    shards: Vec<Mutex<HashMap<WorkerId, Tally>>>,
    pending: Vec<Mutex<HashMap<WorkerId, Tally>>>,
    pending_count: AtomicU64,
    journal: Option<Mutex<WorkJournal>>,
    window_start: Mutex<u64>,
}

/// Work drained for one ledger flush.
pub struct DrainedWork {
    /// Per-worker totals of the window.
    pub records: Vec<WorkRecord>,
    /// Last journal sequence number the records cover (`None` without a journal).
    pub journal_upto: Option<u64>,
}

impl Default for WorkAggregator {
    fn default() -> Self {
        Self::new()
    }
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl WorkAggregator {
    /// New empty aggregator without a journal.
    pub fn new() -> Self {
        Self::build(None)
    }

    /// New aggregator journaling committed work to `journal`.
    pub fn with_journal(journal: WorkJournal) -> Self {
        Self::build(Some(Mutex::new(journal)))
    }

    fn build(journal: Option<Mutex<WorkJournal>>) -> Self {
        let shards = || (0..16).map(|_| Mutex::new(HashMap::new())).collect();
        WorkAggregator {
            shards: shards(),
            pending: shards(),
            pending_count: AtomicU64::new(0),
            journal,
            window_start: Mutex::new(unix_now()),
        }
    }

    fn shard_index(&self, w: &WorkerId) -> usize {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        w.hash(&mut h);
        (h.finish() as usize) % self.shards.len()
    }

    /// Where new work goes: the pending tallies with a journal, the window without.
    fn intake(&self, w: &WorkerId) -> &Mutex<HashMap<WorkerId, Tally>> {
        let i = self.shard_index(w);
        if self.journal.is_some() {
            self.pending_count.fetch_add(1, Ordering::Relaxed);
            &self.pending[i]
        } else {
            &self.shards[i]
        }
    }

    /// Counts one accepted share credited at `difficulty`.
    pub fn accepted(&self, worker: &WorkerId, difficulty: f64) {
        if let Ok(mut m) = self.intake(worker).lock() {
            let t = m.entry(worker.clone()).or_default();
            t.shares += 1;
            t.difficulty += difficulty;
        }
    }

    /// Counts one rejected share.
    pub fn rejected(&self, worker: &WorkerId) {
        if let Ok(mut m) = self.intake(worker).lock() {
            m.entry(worker.clone()).or_default().rejected += 1;
        }
    }

    /// Makes the work counted so far durable (journal append) before it is acknowledged.
    /// Cheap when nothing is pending or there is no journal. A journal write error is logged
    /// and counted; the work still reaches the ledger at the next flush.
    pub fn commit(&self) {
        let Some(journal) = &self.journal else {
            return;
        };
        if self.pending_count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Ok(mut journal) = journal.lock() else {
            return;
        };
        self.pending_count.store(0, Ordering::Relaxed);
        let mut tallies = Vec::new();
        for (i, shard) in self.pending.iter().enumerate() {
            let taken: Vec<(WorkerId, Tally)> = match shard.lock() {
                Ok(mut m) => m.drain().collect(),
                Err(_) => continue,
            };
            if taken.is_empty() {
                continue;
            }
            if let Ok(mut window) = self.shards[i].lock() {
                for (w, t) in &taken {
                    let e = window.entry(w.clone()).or_default();
                    e.shares += t.shares;
                    e.difficulty += t.difficulty;
                    e.rejected += t.rejected;
                }
            }
            tallies.extend(
                taken
                    .into_iter()
                    .map(|(w, t)| (w, t.shares, t.difficulty, t.rejected)),
            );
        }
        if tallies.is_empty() {
            return;
        }
        if let Err(e) = journal.append(unix_now(), &tallies) {
            metrics::counter!("pool_work_journal_errors_total").increment(1);
            tracing::error!(error = %e, "work journal: append failed; this work is safe only after the next ledger flush");
        }
    }

    /// Takes the window's totals for a ledger flush and starts a new window; with a journal,
    /// also closes the journal segment so that [`WorkAggregator::release`] can delete it once
    /// the flush is committed.
    pub fn drain_for_flush(&self) -> DrainedWork {
        let Some(journal) = &self.journal else {
            return DrainedWork {
                records: self.drain(),
                journal_upto: None,
            };
        };
        // Holding the journal lock keeps commits out: the window and the sequence number agree.
        let Ok(mut journal) = journal.lock() else {
            return DrainedWork {
                records: self.drain(),
                journal_upto: None,
            };
        };
        let records = self.drain();
        let journal_upto = match journal.rotate() {
            Ok(upto) => Some(upto),
            Err(e) => {
                metrics::counter!("pool_work_journal_errors_total").increment(1);
                tracing::error!(error = %e, "work journal: cannot start a new segment");
                Some(journal.last_seq())
            }
        };
        DrainedWork {
            records,
            journal_upto,
        }
    }

    /// Journal files written since the last call, to `fdatasync` off the share path (empty
    /// without a journal). See [`WorkJournal::take_unsynced`].
    pub fn journal_unsynced(&self) -> Vec<std::fs::File> {
        let Some(Ok(mut journal)) = self.journal.as_ref().map(|j| j.lock()) else {
            return Vec::new();
        };
        journal.take_unsynced().unwrap_or_else(|e| {
            metrics::counter!("pool_work_journal_errors_total").increment(1);
            tracing::error!(error = %e, "work journal: cannot prepare a sync");
            Vec::new()
        })
    }

    /// Keeps a block found on a declared job in the journal directory until
    /// [`WorkAggregator::declared_recorded`] (no-op without a journal): a crash before the
    /// ledger holds it loses nothing.
    pub fn journal_declared(&self, block: &DeclaredBlock) {
        let Some(Ok(journal)) = self.journal.as_ref().map(|j| j.lock()) else {
            return;
        };
        if let Err(e) = journal.write_declared(block) {
            metrics::counter!("pool_work_journal_errors_total").increment(1);
            tracing::error!(hash = %block.hash, error = %e, "work journal: cannot keep a declared block");
        }
    }

    /// The ledger holds the declared block `hash`: forget the journal's copy.
    pub fn declared_recorded(&self, hash: &str) {
        if let Some(Ok(journal)) = self.journal.as_ref().map(|j| j.lock()) {
            journal.remove_declared(hash);
        }
    }

    /// Whether acknowledged work is journaled.
    pub fn has_journal(&self) -> bool {
        self.journal.is_some()
    }

    /// The ledger holds every journal entry up to `upto`: delete the segments it covers.
    pub fn release(&self, upto: u64) {
        if let Some(Ok(mut journal)) = self.journal.as_ref().map(|j| j.lock()) {
            journal.release(upto);
        }
    }

    /// Takes the window's totals and starts a new window.
    pub fn drain(&self) -> Vec<WorkRecord> {
        let now = unix_now();
        let start = self
            .window_start
            .lock()
            .map(|mut s| std::mem::replace(&mut *s, now))
            .unwrap_or(now);
        let mut out = Vec::new();
        for shard in &self.shards {
            if let Ok(mut m) = shard.lock() {
                for (worker, t) in m.drain() {
                    out.push(WorkRecord {
                        worker,
                        window_start: start,
                        window_end: now,
                        shares: t.shares,
                        difficulty_sum: t.difficulty,
                        rejected: t.rejected,
                    });
                }
            }
        }
        out
    }
}

/// Hashes per unit of share difficulty (pool difficulty 1 = 2^32 hashes on average).
pub const HASHES_PER_DIFFICULTY: f64 = 4_294_967_296.0;

/// Sets `pool_hashrate{site,worker}` and `pool_site_hashrate{site}` gauges (H/s) from one
/// flush window's accepted work: sum of difficulty × 2^32 / window length.
pub fn publish_hashrate_metrics(batch: &[WorkRecord]) {
    let mut per_site: HashMap<&str, f64> = HashMap::new();
    for r in batch {
        let secs = r.window_end.saturating_sub(r.window_start).max(1) as f64;
        let hr = r.difficulty_sum * HASHES_PER_DIFFICULTY / secs;
        metrics::gauge!("pool_hashrate", "site" => r.worker.site.clone(), "worker" => r.worker.worker.clone()).set(hr);
        *per_site.entry(r.worker.site.as_str()).or_insert(0.0) += hr;
        metrics::counter!("pool_work_difficulty_total", "site" => r.worker.site.clone())
            .increment(r.difficulty_sum.round() as u64);
    }
    for (site, hr) in per_site {
        metrics::gauge!("pool_site_hashrate", "site" => site.to_owned()).set(hr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_convention() {
        assert_eq!(
            WorkerId::parse("fra1.rack4-s19-017"),
            WorkerId {
                site: "fra1".into(),
                worker: "rack4-s19-017".into()
            }
        );
        assert_eq!(WorkerId::parse("solo").site, "default");
        assert_eq!(WorkerId::parse("").worker, "anonymous");
        assert_eq!(WorkerId::parse("a.b.c").worker, "b.c");
        assert_eq!(WorkerId::parse("s1.w'; drop").worker, "w___drop");
        assert_eq!(
            WorkerId::parse(&"x".repeat(1000)).worker.len(),
            WorkerId::MAX_LEN
        );
    }

    #[test]
    fn aggregation_sums_and_resets() {
        let agg = WorkAggregator::new();
        let a = WorkerId::parse("s1.a");
        let b = WorkerId::parse("s2.b");
        for _ in 0..10 {
            agg.accepted(&a, 2.0);
        }
        agg.accepted(&b, 5.0);
        agg.rejected(&b);
        let mut recs = agg.drain();
        recs.sort_by(|x, y| x.worker.site.cmp(&y.worker.site));
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[0].shares, recs[0].difficulty_sum), (10, 20.0));
        assert_eq!((recs[1].shares, recs[1].rejected), (1, 1));
        assert!(agg.drain().is_empty());
        let sink = MemorySink::default();
        sink.record_work(&recs).unwrap();
        assert_eq!(sink.difficulty_by_site()["s1"], 20.0);
    }
}
