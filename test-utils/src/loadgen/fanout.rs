//! New-block fan-out: when each connection received `SetNewPrevHash` for a new chain tip,
//! relative to the moment the block was mined (when the load generator mined it on its
//! stand-in) or to the first connection that saw it (when it only watches a pool).

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::hist::Histogram;

/// Most blocks tracked (older ones are dropped from the record).
const MAX_BLOCKS: usize = 256;

#[derive(Debug)]
struct Block {
    prev_hash: [u8; 32],
    mined_at: Option<Instant>,
    /// Channels that were open when the block was mined (the connections expected to see it).
    expected: u64,
    arrivals: Vec<Instant>,
}

/// Arrival times of `SetNewPrevHash` per block.
#[derive(Debug, Default)]
pub struct FanoutClock {
    blocks: Mutex<Vec<Block>>,
}

/// Fan-out of one block.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BlockFanout {
    /// Block hash in display (RPC) byte order.
    pub hash: String,
    /// Whether times are relative to the mining moment (`true`) or to the first arrival.
    pub from_mining: bool,
    /// Connections expected to see it (open channels when mined; 0 when unknown).
    pub expected: u64,
    /// Connections that saw it.
    pub reached: u64,
    /// Median arrival, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Last arrival, ms.
    pub max_ms: f64,
}

fn display_hash(internal: &[u8; 32]) -> String {
    let mut b = *internal;
    b.reverse();
    hex::encode(b)
}

impl FanoutClock {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Block>> {
        self.blocks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn entry<'a>(blocks: &'a mut Vec<Block>, prev_hash: &[u8; 32]) -> &'a mut Block {
        let pos = match blocks.iter().position(|b| &b.prev_hash == prev_hash) {
            Some(p) => p,
            None => {
                if blocks.len() >= MAX_BLOCKS {
                    blocks.remove(0);
                }
                blocks.push(Block {
                    prev_hash: *prev_hash,
                    mined_at: None,
                    expected: 0,
                    arrivals: Vec::new(),
                });
                blocks.len() - 1
            }
        };
        let last = blocks.len() - 1;
        // `pos` is a valid index: found by position() or just pushed.
        &mut blocks[pos.min(last)]
    }

    /// The load generator mined block `prev_hash` (internal byte order) at `at`, with
    /// `expected` channels open.
    pub fn mined(&self, prev_hash: [u8; 32], at: Instant, expected: u64) {
        let mut blocks = self.lock();
        let b = Self::entry(&mut blocks, &prev_hash);
        b.mined_at = Some(at);
        b.expected = expected;
    }

    /// A connection received `SetNewPrevHash` for `prev_hash` at `at`.
    pub fn arrived(&self, prev_hash: [u8; 32], at: Instant) {
        let mut blocks = self.lock();
        Self::entry(&mut blocks, &prev_hash).arrivals.push(at);
    }

    /// Connections that have seen `prev_hash` so far.
    pub fn reached(&self, prev_hash: &[u8; 32]) -> u64 {
        self.lock()
            .iter()
            .find(|b| &b.prev_hash == prev_hash)
            .map_or(0, |b| b.arrivals.len() as u64)
    }

    /// Per-block fan-out, and a histogram over every (block, connection) arrival. Blocks seen
    /// by a single connection only (e.g. the tip at connection time) are left out unless the
    /// load generator mined them.
    pub fn summary(&self) -> (Vec<BlockFanout>, Histogram) {
        let blocks = self.lock();
        let mut all = Histogram::new();
        let mut out = Vec::new();
        for b in blocks.iter() {
            let Some(first) = b.arrivals.iter().min().copied() else {
                continue;
            };
            let from_mining = b.mined_at.is_some();
            if !from_mining && b.arrivals.len() < 2 {
                continue;
            }
            let reference = b.mined_at.unwrap_or(first).min(first);
            let mut h = Histogram::new();
            for a in &b.arrivals {
                let d = a.saturating_duration_since(reference);
                h.record(d);
                all.record(d);
            }
            out.push(BlockFanout {
                hash: display_hash(&b.prev_hash),
                from_mining,
                expected: b.expected,
                reached: b.arrivals.len() as u64,
                p50_ms: h.quantile_ms(0.5).unwrap_or(0.0),
                p99_ms: h.quantile_ms(0.99).unwrap_or(0.0),
                max_ms: h.max_us() as f64 / 1000.0,
            });
        }
        (out, all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn relative_to_mining_or_first_arrival() {
        let c = FanoutClock::new();
        let t0 = Instant::now();
        let mined = [1u8; 32];
        c.mined(mined, t0, 3);
        for ms in [10, 20, 30] {
            c.arrived(mined, t0 + Duration::from_millis(ms));
        }
        let watched = [2u8; 32];
        for ms in [100, 105] {
            c.arrived(watched, t0 + Duration::from_millis(ms));
        }
        // Seen once and not mined by us: the tip the connection found when it opened.
        c.arrived([3u8; 32], t0);
        assert_eq!(c.reached(&mined), 3);
        let (blocks, all) = c.summary();
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].from_mining);
        assert_eq!(blocks[0].expected, 3);
        assert_eq!(blocks[0].reached, 3);
        assert!((blocks[0].p50_ms - 20.0).abs() < 1.0);
        assert!((blocks[0].max_ms - 30.0).abs() < 1e-9);
        assert!(!blocks[1].from_mining);
        assert!((blocks[1].max_ms - 5.0).abs() < 1e-9);
        assert_eq!(all.count(), 5);
        assert_eq!(blocks[0].hash, hex::encode([1u8; 32]));
    }

    #[test]
    fn bounded_number_of_blocks() {
        let c = FanoutClock::new();
        let t0 = Instant::now();
        for i in 0..(MAX_BLOCKS + 10) {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&(i as u64).to_le_bytes());
            c.mined(h, t0, 1);
            c.arrived(h, t0);
        }
        assert_eq!(c.summary().0.len(), MAX_BLOCKS);
    }
}
