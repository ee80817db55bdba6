//! Upstream selection, sans-IO: which pool to try next and when.
//!
//! * Pools are tried in configured order. After a failure (connect error, lost connection,
//!   or the bridge giving up on a pool: setup refused, channel refused or closed, too many
//!   share rejections) the next pool is tried at once; after a whole round of failures the
//!   policy waits `backoff`, which doubles each round up to `backoff_max`.
//! * A connection that stayed up for [`STABLE_AFTER`] resets the backoff; one that dies sooner
//!   counts towards the round, so a flapping pool cannot cause a reconnect storm.
//! * While connected to a backup (index > 0), the first pool is probed every `primary_retry`;
//!   a successful probe switches back to it.

use std::time::Duration;

/// Uptime after which a connection counts as healthy (backoff reset).
pub const STABLE_AFTER: Duration = Duration::from_secs(30);

/// The next connection attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Index into the upstream list.
    pub index: usize,
    /// How long to wait before trying.
    pub delay: Duration,
}

/// Failover state; see the module documentation.
#[derive(Debug, Clone)]
pub struct FailoverPolicy {
    count: usize,
    backoff_initial: Duration,
    backoff_max: Duration,
    primary_retry: Duration,
    backoff: Duration,
    failures_in_round: usize,
    connected: Option<(usize, u64)>,
    next_probe_ms: Option<u64>,
    failovers: u64,
}

impl FailoverPolicy {
    /// Policy over `count` upstreams (at least one).
    pub fn new(
        count: usize,
        backoff_initial: Duration,
        backoff_max: Duration,
        primary_retry: Duration,
    ) -> Self {
        FailoverPolicy {
            count: count.max(1),
            backoff_initial,
            backoff_max: backoff_max.max(backoff_initial),
            primary_retry,
            backoff: backoff_initial,
            failures_in_round: 0,
            connected: None,
            next_probe_ms: None,
            failovers: 0,
        }
    }

    /// The very first attempt.
    pub fn first(&self) -> Attempt {
        Attempt {
            index: 0,
            delay: Duration::ZERO,
        }
    }

    /// The upstream currently connected, if any.
    pub fn current(&self) -> Option<usize> {
        self.connected.map(|(i, _)| i)
    }

    /// Times the translator moved away from a connected upstream.
    pub fn failovers(&self) -> u64 {
        self.failovers
    }

    /// A connection to `index` is up at `now_ms`.
    pub fn on_connected(&mut self, index: usize, now_ms: u64) {
        self.connected = Some((index, now_ms));
        self.next_probe_ms = (index > 0).then(|| now_ms.saturating_add(ms(self.primary_retry)));
    }

    /// Connecting to `index` failed, or its connection ended, at `now_ms`: what to try next.
    pub fn on_failure(&mut self, index: usize, now_ms: u64) -> Attempt {
        if let Some((i, since)) = self.connected.take() {
            if i == index {
                self.failovers += 1;
                if now_ms.saturating_sub(since) >= ms(STABLE_AFTER) {
                    self.backoff = self.backoff_initial;
                    self.failures_in_round = 0;
                }
            }
        }
        self.next_probe_ms = None;
        self.failures_in_round += 1;
        let next = (index + 1) % self.count;
        let delay = if self.failures_in_round >= self.count {
            self.failures_in_round = 0;
            let d = self.backoff;
            self.backoff = (self.backoff * 2).min(self.backoff_max);
            d
        } else {
            Duration::ZERO
        };
        Attempt { index: next, delay }
    }

    /// True when connected to a backup and it is time to probe the first upstream.
    pub fn probe_due(&self, now_ms: u64) -> bool {
        matches!(self.connected, Some((i, _)) if i > 0)
            && self.next_probe_ms.is_some_and(|t| now_ms >= t)
    }

    /// When the next probe is due (for timers).
    pub fn next_probe_ms(&self) -> Option<u64> {
        self.next_probe_ms
    }

    /// A probe of the first upstream failed at `now_ms`: try again after `primary_retry`.
    pub fn on_probe_failed(&mut self, now_ms: u64) {
        if matches!(self.connected, Some((i, _)) if i > 0) {
            self.next_probe_ms = Some(now_ms.saturating_add(ms(self.primary_retry)));
        }
    }

    /// A probe succeeded: the backup connection is replaced by one to the first upstream.
    pub fn on_probe_succeeded(&mut self, now_ms: u64) {
        if self.connected.is_some() {
            self.failovers += 1;
        }
        self.backoff = self.backoff_initial;
        self.failures_in_round = 0;
        self.on_connected(0, now_ms);
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(n: usize) -> FailoverPolicy {
        FailoverPolicy::new(
            n,
            Duration::from_millis(100),
            Duration::from_millis(800),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn round_robin_then_backoff() {
        let mut p = policy(3);
        assert_eq!(p.first().index, 0);
        let a = p.on_failure(0, 0);
        assert_eq!(
            a,
            Attempt {
                index: 1,
                delay: Duration::ZERO
            }
        );
        let a = p.on_failure(1, 0);
        assert_eq!(
            a,
            Attempt {
                index: 2,
                delay: Duration::ZERO
            }
        );
        let a = p.on_failure(2, 0);
        assert_eq!(
            a,
            Attempt {
                index: 0,
                delay: Duration::from_millis(100)
            }
        );
        let a = p.on_failure(a.index, 0);
        assert_eq!(
            a,
            Attempt {
                index: 1,
                delay: Duration::ZERO
            }
        );
        let a = p.on_failure(a.index, 0);
        assert_eq!(
            a,
            Attempt {
                index: 2,
                delay: Duration::ZERO
            }
        );
        let a = p.on_failure(a.index, 0);
        assert_eq!(a.delay, Duration::from_millis(200));
        // The delay is capped.
        let mut last = a;
        for _ in 0..20 {
            last = p.on_failure(last.index, 0);
        }
        assert!(last.delay <= Duration::from_millis(800));
    }

    #[test]
    fn single_upstream_backs_off_every_time() {
        let mut p = policy(1);
        assert_eq!(p.on_failure(0, 0).delay, Duration::from_millis(100));
        assert_eq!(p.on_failure(0, 0).delay, Duration::from_millis(200));
        assert_eq!(p.on_failure(0, 0).index, 0);
    }

    #[test]
    fn stable_connection_resets_backoff_flapping_does_not() {
        let mut p = policy(1);
        p.on_failure(0, 0);
        p.on_failure(0, 0);
        // Flapping: connected, dies after 1 s.
        p.on_connected(0, 1_000);
        assert_eq!(p.on_failure(0, 2_000).delay, Duration::from_millis(400));
        assert_eq!(p.failovers(), 1);
        // Stable: up for a minute.
        p.on_connected(0, 10_000);
        assert_eq!(p.on_failure(0, 70_000).delay, Duration::from_millis(100));
    }

    #[test]
    fn probes_the_primary_while_on_a_backup() {
        let mut p = policy(2);
        let a = p.on_failure(0, 0);
        assert_eq!(a.index, 1);
        p.on_connected(1, 1_000);
        assert_eq!(p.current(), Some(1));
        assert!(!p.probe_due(30_000));
        assert!(p.probe_due(61_000));
        p.on_probe_failed(61_000);
        assert!(!p.probe_due(62_000));
        assert_eq!(p.next_probe_ms(), Some(121_000));
        p.on_probe_succeeded(121_500);
        assert_eq!(p.current(), Some(0));
        assert!(!p.probe_due(1_000_000));
        assert_eq!(p.failovers(), 1);
        // On the primary nothing is probed.
        p.on_connected(0, 0);
        assert_eq!(p.next_probe_ms(), None);
    }
}
