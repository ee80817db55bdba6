//! A fixed-size log-linear histogram of durations (microsecond resolution) for latency and
//! fan-out percentiles.
//!
//! Values below 64 µs are counted exactly; above, every power of two is cut into 32 equal
//! sub-buckets, so a reported quantile is within about 3 % of the true value. The bucket
//! array has a fixed size (no allocation per sample) and histograms merge by adding counts.

use std::time::Duration;

/// Sub-buckets per power of two (2^SUB_BITS).
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Values below this are their own bucket.
const LINEAR: u64 = 2 * SUB;
/// Number of buckets: the linear part plus 32 per remaining power of two of a u64.
const BUCKETS: usize = (LINEAR + (64 - (SUB_BITS as u64 + 1)) * SUB) as usize;

/// Counts of durations in log-linear buckets.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max_us: u64,
    sum_us: u128,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.total)
            .field("max_us", &self.max_us)
            .finish()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            max_us: 0,
            sum_us: 0,
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let exp = 63 - u64::from(v.leading_zeros()); // >= SUB_BITS + 1
    let shift = exp - u64::from(SUB_BITS);
    let sub = (v >> shift) - SUB; // 0..SUB
    (LINEAR + (exp - u64::from(SUB_BITS) - 1) * SUB + sub) as usize
}

/// Smallest value of bucket `i` and its width.
fn bucket_range(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < LINEAR {
        return (i, 1);
    }
    let k = i - LINEAR;
    let exp = k / SUB + u64::from(SUB_BITS) + 1;
    let sub = k % SUB;
    let shift = exp - u64::from(SUB_BITS);
    ((SUB + sub) << shift, 1 << shift)
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one duration (saturating at u64::MAX microseconds).
    pub fn record(&mut self, d: Duration) {
        self.record_us(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// Records one value in microseconds.
    pub fn record_us(&mut self, us: u64) {
        if let Some(c) = self.counts.get_mut(bucket_of(us)) {
            *c += 1;
        }
        self.total += 1;
        self.max_us = self.max_us.max(us);
        self.sum_us += u128::from(us);
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += *b;
        }
        self.total += other.total;
        self.max_us = self.max_us.max(other.max_us);
        self.sum_us += other.sum_us;
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Largest recorded value, µs (exact).
    pub fn max_us(&self) -> u64 {
        self.max_us
    }

    /// Mean in µs (0 when empty).
    pub fn mean_us(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum_us as f64 / self.total as f64
        }
    }

    /// The value below which a fraction `q` (0..=1) of the samples lie, in µs: the middle of
    /// the bucket holding that rank (never above the exact maximum; `q = 1` gives the maximum). `None` when empty.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        // Rank of the sample (1-based), at least the first one.
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        if rank == self.total {
            return Some(self.max_us);
        }
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += *c;
            if seen >= rank {
                let (lo, width) = bucket_range(i);
                return Some((lo + width / 2).min(self.max_us));
            }
        }
        Some(self.max_us)
    }

    /// [`Self::quantile_us`] in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.quantile_us(q).map(|us| us as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_u64() {
        let mut expected_lo = 0u64;
        for i in 0..BUCKETS {
            let (lo, width) = bucket_range(i);
            assert_eq!(lo, expected_lo, "bucket {i}");
            assert_eq!(bucket_of(lo), i);
            assert_eq!(bucket_of(lo + (width - 1)), i);
            expected_lo = lo.wrapping_add(width);
        }
        assert_eq!(expected_lo, 0, "the last bucket ends at u64::MAX");
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_within_bucket_precision() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile_us(0.5), None);
        for us in 1..=10_000u64 {
            h.record_us(us);
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.max_us(), 10_000);
        for (q, exact) in [(0.5, 5_000.0), (0.99, 9_900.0), (0.999, 9_990.0)] {
            let got = h.quantile_us(q).unwrap() as f64;
            assert!(
                (got - exact).abs() / exact < 0.035,
                "q{q}: {got} vs {exact}"
            );
        }
        assert_eq!(h.quantile_us(1.0), Some(10_000));
        assert_eq!(h.quantile_us(0.0), Some(1));
        assert!((h.mean_us() - 5_000.5).abs() < 1e-9);
    }

    #[test]
    fn small_values_are_exact_and_merge_adds() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        for _ in 0..3 {
            a.record(Duration::from_micros(7));
        }
        b.record(Duration::from_micros(40));
        b.record(Duration::from_secs(3));
        a.merge(&b);
        assert_eq!(a.count(), 5);
        assert_eq!(a.quantile_us(0.5), Some(7));
        assert_eq!(a.quantile_us(0.8), Some(40));
        assert_eq!(a.max_us(), 3_000_000);
        let top = a.quantile_us(1.0).unwrap();
        assert_eq!(top, 3_000_000);
        a.record(Duration::MAX);
        assert_eq!(a.max_us(), u64::MAX);
    }
}
