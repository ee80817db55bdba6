//! Work accounting: accepted share difficulty aggregated per worker and site, found blocks,
//! handed to a [`WorkSink`] in batches (never one call per share).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

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

/// Receives aggregated work and found blocks. Implementations must make `record_block`
/// durable before returning (the treasury ledger does); work batches may be buffered.
pub trait WorkSink: Send + Sync {
    /// A batch of per-worker work for one window.
    fn record_work(&self, batch: &[WorkRecord]) -> Result<(), SinkError>;
    /// One found block.
    fn record_block(&self, block: &FoundBlock) -> Result<(), SinkError>;
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
}

#[derive(Default, Clone, Copy)]
struct Tally {
    shares: u64,
    difficulty: f64,
    rejected: u64,
}

/// In-memory aggregation between flushes; cheap to call per share (one short lock on a shard).
pub struct WorkAggregator {
    shards: Vec<Mutex<HashMap<WorkerId, Tally>>>,
    window_start: Mutex<u64>,
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
    /// New empty aggregator.
    pub fn new() -> Self {
        WorkAggregator {
            shards: (0..16).map(|_| Mutex::new(HashMap::new())).collect(),
            window_start: Mutex::new(unix_now()),
        }
    }

    fn shard(&self, w: &WorkerId) -> &Mutex<HashMap<WorkerId, Tally>> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        w.hash(&mut h);
        &self.shards[(h.finish() as usize) % self.shards.len()]
    }

    /// Counts one accepted share credited at `difficulty`.
    pub fn accepted(&self, worker: &WorkerId, difficulty: f64) {
        if let Ok(mut m) = self.shard(worker).lock() {
            let t = m.entry(worker.clone()).or_default();
            t.shares += 1;
            t.difficulty += difficulty;
        }
    }

    /// Counts one rejected share.
    pub fn rejected(&self, worker: &WorkerId) {
        if let Ok(mut m) = self.shard(worker).lock() {
            m.entry(worker.clone()).or_default().rejected += 1;
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
