//! Shares sent on one channel and not yet answered, matched to the pool's answers by
//! sequence number.
//!
//! `SubmitShares.Error` names one sequence number. `SubmitShares.Success` may acknowledge a
//! batch: it carries the sequence number of the last accepted share, and every earlier share
//! that was not rejected is accepted by it. Sequence numbers are compared with wrap-around.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::stats::ShareKind;

/// One share waiting for its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    seq: u32,
    kind: ShareKind,
    sent: Instant,
}

/// `a <= b` for sequence numbers that may wrap around.
fn seq_le(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}

/// The unanswered shares of one channel, oldest first.
#[derive(Debug, Default)]
pub struct PendingShares {
    queue: VecDeque<Pending>,
}

impl PendingShares {
    /// No share pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a share sent at `sent`.
    pub fn push(&mut self, seq: u32, kind: ShareKind, sent: Instant) {
        self.queue.push_back(Pending { seq, kind, sent });
    }

    /// Shares waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// When the oldest waiting share was sent.
    pub fn oldest(&self) -> Option<Instant> {
        self.queue.front().map(|p| p.sent)
    }

    /// A `SubmitShares.Success` with `last_seq` arrived at `now`: every waiting share up to
    /// and including `last_seq` is accepted; `f` gets each one's kind and latency. Returns
    /// how many were accepted.
    pub fn on_success(
        &mut self,
        last_seq: u32,
        now: Instant,
        mut f: impl FnMut(ShareKind, Duration),
    ) -> usize {
        let mut n = 0;
        while let Some(p) = self.queue.front() {
            if !seq_le(p.seq, last_seq) {
                break;
            }
            f(p.kind, now.saturating_duration_since(p.sent));
            self.queue.pop_front();
            n += 1;
        }
        n
    }

    /// A `SubmitShares.Error` for `seq` arrived at `now`: removes that share and returns its
    /// kind and latency (`None` if no such share waits).
    pub fn on_error(&mut self, seq: u32, now: Instant) -> Option<(ShareKind, Duration)> {
        let pos = self.queue.iter().position(|p| p.seq == seq)?;
        let p = self.queue.remove(pos)?;
        Some((p.kind, now.saturating_duration_since(p.sent)))
    }

    /// Forgets every waiting share (connection lost), returning how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.queue.len();
        self.queue.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_success_and_individual_errors() {
        let t0 = Instant::now();
        let mut p = PendingShares::new();
        for seq in 1..=5 {
            let kind = if seq == 3 {
                ShareKind::Invalid
            } else {
                ShareKind::Valid
            };
            p.push(seq, kind, t0 + Duration::from_millis(u64::from(seq)));
        }
        assert_eq!(p.len(), 5);
        let (kind, lat) = p.on_error(3, t0 + Duration::from_millis(10)).unwrap();
        assert_eq!(kind, ShareKind::Invalid);
        assert_eq!(lat, Duration::from_millis(7));
        assert!(p.on_error(3, t0).is_none());
        let mut seen = Vec::new();
        let n = p.on_success(4, t0 + Duration::from_millis(20), |k, l| seen.push((k, l)));
        assert_eq!(n, 3);
        assert_eq!(
            seen,
            [
                (ShareKind::Valid, Duration::from_millis(19)),
                (ShareKind::Valid, Duration::from_millis(18)),
                (ShareKind::Valid, Duration::from_millis(16)),
            ]
        );
        assert_eq!(p.len(), 1);
        assert_eq!(p.oldest(), Some(t0 + Duration::from_millis(5)));
        // A success older than what waits accepts nothing.
        assert_eq!(p.on_success(2, t0, |_, _| {}), 0);
        assert_eq!(p.clear(), 1);
        assert!(p.is_empty());
    }

    #[test]
    fn sequence_numbers_wrap() {
        assert!(seq_le(u32::MAX, 0));
        assert!(seq_le(5, 5));
        assert!(!seq_le(0, u32::MAX));
        let t0 = Instant::now();
        let mut p = PendingShares::new();
        p.push(u32::MAX - 1, ShareKind::Valid, t0);
        p.push(u32::MAX, ShareKind::Valid, t0);
        p.push(0, ShareKind::Duplicate, t0);
        p.push(1, ShareKind::Valid, t0);
        assert_eq!(p.on_success(0, t0, |_, _| {}), 3);
        assert_eq!(p.len(), 1);
        // A latency never goes negative, even with a clock answer "before" the send.
        p.push(2, ShareKind::Stale, t0 + Duration::from_secs(1));
        let (_, lat) = p.on_error(2, t0).unwrap();
        assert_eq!(lat, Duration::ZERO);
    }
}
