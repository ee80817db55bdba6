//! Variable difficulty: drives a channel toward a configured share rate.
//!
//! Sans-IO: time is passed in as milliseconds on any monotonic clock. The channel reports every
//! accepted share with [`Vardiff::on_share`] and the role calls [`Vardiff::poll`] on a timer
//! (every second or so); `poll` returns a new difficulty when one should be sent (`SetTarget`).
//!
//! # Algorithm
//!
//! Shares of a miner with hashrate `H` at difficulty `D` form a Poisson process of rate
//! `H / (D * 2^32)`. The controller estimates `H` by maximum likelihood from the share count and
//! the *exposure* `∫ dt / D` (so difficulty changes inside the estimation window do not bias it),
//! and uses it in two ways:
//!
//! * **Refinement.** The estimation window is not restarted by difficulty changes. At
//!   checkpoints (when it holds `min_refine_shares`, then twice, four times as many shares... up
//!   to `max_window_shares`, after which older history is halved and the test repeats once the
//!   window refilled) the ideal difficulty `rate * interval` is compared with the current one;
//!   the controller moves to it if the error exceeds the hysteresis `tolerance` *and*
//!   `refine_z` standard errors of the estimate (`1/sqrt(shares)`). Testing only at
//!   checkpoints, not at every poll, keeps noise from accumulating into false adjustments; as
//!   shares accumulate the estimate tightens and changes become rare.
//! * **Change detection.** Two Poisson CUSUM detectors compare share arrivals with the rate
//!   expected from the estimate (before the first change and before `min_reference_shares`
//!   shares, with the target rate at the current difficulty): one tuned for a rise by `cusum_up_ratio`, one for a fall to
//!   `cusum_down_ratio`. An alarm means the hashrate changed (or the initial difficulty was a bad
//!   guess): the estimation window restarts from the detector's change-point estimate (the
//!   segment since its last reset, keeping at most `alarm_prior_shares` of weight) and the
//!   difficulty jumps there in one step. A segment without shares (silent miner) yields the
//!   median-unbiased estimate, `ln 2` shares over its exposure. Until the first change, and while
//!   no share came since the last one, the fall detector uses the lower `startup_threshold`.
//!   Alarms are latched when they happen (between polls) and handled at the next poll.
//!
//! Results are clamped to `[min_difficulty, max_difficulty]` and to `max_step_factor` per step.
//! With the defaults (one share per 6 s), simulations at 10 TH/s to 1 PH/s converge from a
//! starting difficulty off by up to 1000x within a few adjustments (usually within five
//! minutes), follow a tenfold rise within about a minute and a tenfold fall within a few
//! minutes, and then stay within +-30 % of the target rate almost all of the time (see
//! `tests/chan_vardiff.rs`).

use crate::target::Target;
use thiserror::Error;

/// Expected hashes per share at difficulty 1: `2^256 / DIFF1_TARGET` with the pool difficulty-1
/// target `0x00000000FFFF0000…`, i.e. `2^48 / 65535`.
pub const HASHES_PER_DIFF1: f64 = 281_474_976_710_656.0 / 65_535.0;

/// Difficulty at which `hashrate` (H/s) finds one share per `interval_ms` on average.
pub fn difficulty_for_hashrate(hashrate: f64, interval_ms: u64) -> f64 {
    hashrate * (interval_ms as f64 / 1000.0) / HASHES_PER_DIFF1
}

/// Hashrate (H/s) implied by `work` (sum of share difficulties) found in `elapsed_ms`.
pub fn hashrate_from_work(work: f64, elapsed_ms: u64) -> f64 {
    if elapsed_ms == 0 {
        return 0.0;
    }
    work * HASHES_PER_DIFF1 / (elapsed_ms as f64 / 1000.0)
}

/// Invalid vardiff configuration.
#[derive(Debug, Error, PartialEq)]
pub enum VardiffError {
    /// A parameter is out of range.
    #[error("invalid vardiff configuration: {0}")]
    InvalidConfig(&'static str),
}

/// Vardiff tuning; [`VardiffConfig::default`] targets one share every 6 s.
#[derive(Clone, Debug, PartialEq)]
pub struct VardiffConfig {
    /// Desired mean time between shares, in milliseconds.
    pub target_share_interval_ms: u64,
    /// Lower difficulty bound.
    pub min_difficulty: f64,
    /// Upper difficulty bound.
    pub max_difficulty: f64,
    /// Hysteresis: relative error of the difficulty tolerated without adjusting.
    pub tolerance: f64,
    /// Standard errors by which the estimate must disagree before a refinement step.
    pub refine_z: f64,
    /// Shares the estimation window needs before refinement steps.
    pub min_refine_shares: u64,
    /// Weight cap of the estimation window, in shares: beyond it the history is halved.
    pub max_window_shares: u64,
    /// Rate rise (factor > 1) the up-detector is tuned for.
    pub cusum_up_ratio: f64,
    /// Rate fall (factor in (0, 1)) the down-detector is tuned for.
    pub cusum_down_ratio: f64,
    /// Log-likelihood threshold of the rise detector (higher: fewer false alarms, slower).
    pub cusum_up_threshold: f64,
    /// Log-likelihood threshold of the fall detector.
    pub cusum_down_threshold: f64,
    /// Detector threshold used until the first change (the initial difficulty is a guess).
    pub startup_threshold: f64,
    /// Shares the estimate needs before the detectors test against it instead of the target
    /// rate at the current difficulty.
    pub min_reference_shares: u64,
    /// Weight (in shares) the segment that raised a change alarm keeps in the new estimate.
    pub alarm_prior_shares: u64,
    /// Largest factor by which one adjustment may change the difficulty.
    pub max_step_factor: f64,
}

impl Default for VardiffConfig {
    fn default() -> Self {
        VardiffConfig {
            target_share_interval_ms: 6_000,
            min_difficulty: 1.0,
            max_difficulty: 1e15,
            tolerance: 0.2,
            refine_z: 1.5,
            min_refine_shares: 8,
            max_window_shares: 200,
            cusum_up_ratio: 2.0,
            cusum_down_ratio: 0.4,
            cusum_up_threshold: 10.0,
            cusum_down_threshold: 10.0,
            startup_threshold: 5.0,
            min_reference_shares: 16,
            alarm_prior_shares: 2,
            max_step_factor: 1e6,
        }
    }
}

impl VardiffConfig {
    /// Checks that every parameter is usable.
    pub fn validate(&self) -> Result<(), VardiffError> {
        let finite_pos = |v: f64| v.is_finite() && v > 0.0;
        if self.target_share_interval_ms == 0 {
            return Err(VardiffError::InvalidConfig("target interval must be > 0"));
        }
        if !finite_pos(self.min_difficulty)
            || !finite_pos(self.max_difficulty)
            || self.min_difficulty > self.max_difficulty
        {
            return Err(VardiffError::InvalidConfig(
                "difficulty bounds must be finite, positive and ordered",
            ));
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(VardiffError::InvalidConfig("tolerance must be >= 0"));
        }
        if !finite_pos(self.refine_z)
            || !finite_pos(self.cusum_up_threshold)
            || !finite_pos(self.cusum_down_threshold)
            || !finite_pos(self.startup_threshold)
        {
            return Err(VardiffError::InvalidConfig("thresholds must be > 0"));
        }
        if self.min_refine_shares == 0 || self.max_window_shares < 2 * self.min_refine_shares {
            return Err(VardiffError::InvalidConfig(
                "need min_refine_shares >= 1 and max_window_shares >= 2 * min_refine_shares",
            ));
        }
        if !(self.cusum_up_ratio.is_finite() && self.cusum_up_ratio > 1.0) {
            return Err(VardiffError::InvalidConfig("cusum_up_ratio must be > 1"));
        }
        if !(self.cusum_down_ratio > 0.0 && self.cusum_down_ratio < 1.0) {
            return Err(VardiffError::InvalidConfig(
                "cusum_down_ratio must be in (0, 1)",
            ));
        }
        if !(self.max_step_factor.is_finite() && self.max_step_factor > 1.0) {
            return Err(VardiffError::InvalidConfig("max_step_factor must be > 1"));
        }
        Ok(())
    }
}

/// Shares counted against exposure since a start time. Exposure is `∫ dt / difficulty`, so
/// `shares / exposure` is the maximum-likelihood work rate (difficulty per ms) even when the
/// difficulty changed inside the window.
#[derive(Clone, Copy, Debug)]
struct Window {
    shares: f64,
    exposure: f64,
    /// Exposure and weight at the first share, to drop the idle lead-in before it.
    first_share: Option<(f64, f64)>,
}

impl Window {
    fn new() -> Self {
        Window {
            shares: 0.0,
            exposure: 0.0,
            first_share: None,
        }
    }

    fn add_share(&mut self, weight: f64) {
        if self.first_share.is_none() {
            self.first_share = Some((self.exposure, weight));
        }
        self.shares += weight;
    }

    /// The window from its first share on, excluding that share: after a rise in rate, the
    /// time before the first share mostly predates the change. Unbiased for a Poisson process.
    fn since_first_share(&self) -> Option<Window> {
        let (at, weight) = self.first_share?;
        let trimmed = Window {
            shares: self.shares - weight,
            exposure: self.exposure - at,
            first_share: None,
        };
        (trimmed.shares > 0.0 && trimmed.exposure > 0.0).then_some(trimmed)
    }

    /// Work rate in difficulty per millisecond, if there is data.
    fn rate(&self) -> Option<f64> {
        (self.shares > 0.0 && self.exposure > 0.0).then(|| self.shares / self.exposure)
    }
}

/// One-sided Poisson CUSUM with the segment since its last reset (the change-point estimate).
#[derive(Clone, Copy, Debug)]
struct Cusum {
    /// ln of the alternative/reference rate ratio.
    log_ratio: f64,
    /// `ratio - 1`: drift per expected share.
    drift: f64,
    threshold: f64,
    score: f64,
    segment: Window,
}

impl Cusum {
    fn new(ratio: f64, threshold: f64) -> Self {
        Cusum {
            log_ratio: ratio.ln(),
            drift: ratio - 1.0,
            threshold,
            score: 0.0,
            segment: Window::new(),
        }
    }

    fn reset(&mut self) {
        self.score = 0.0;
        self.segment = Window::new();
    }

    fn alarmed(&self, startup_threshold: Option<f64>) -> bool {
        self.score > startup_threshold.unwrap_or(self.threshold)
    }

    /// Time passed: `expected` shares at the reference rate, `exposure` added.
    fn elapse(&mut self, expected: f64, exposure: f64) {
        self.segment.exposure += exposure;
        self.score -= self.drift * expected;
        if self.score <= 0.0 {
            self.reset();
        }
    }

    fn share(&mut self, weight: f64) {
        self.score += self.log_ratio * weight;
        if self.score <= 0.0 {
            self.reset();
        } else {
            self.segment.add_share(weight);
        }
    }
}

/// Per-channel vardiff controller; see the module documentation.
#[derive(Clone, Debug)]
pub struct Vardiff {
    cfg: VardiffConfig,
    difficulty: f64,
    /// Estimation window (since the last detected change).
    window: Window,
    up: Cusum,
    down: Cusum,
    /// Window share count at which the next refinement test runs.
    next_checkpoint: f64,
    /// Detector alarm waiting for the next poll: the segment since the change point.
    alarm: Option<Window>,
    /// Time up to which exposure has been accounted.
    clock_ms: u64,
    adjustments: u32,
    last_share_ms: Option<u64>,
}

impl Vardiff {
    /// Controller starting at `initial_difficulty` (clamped to the bounds) at time `now_ms`.
    pub fn new(
        cfg: VardiffConfig,
        initial_difficulty: f64,
        now_ms: u64,
    ) -> Result<Self, VardiffError> {
        cfg.validate()?;
        let start = if initial_difficulty.is_finite() && initial_difficulty > 0.0 {
            initial_difficulty
        } else {
            cfg.min_difficulty
        };
        let difficulty = start.clamp(cfg.min_difficulty, cfg.max_difficulty);
        let first_checkpoint = cfg.min_refine_shares as f64;
        let up = Cusum::new(cfg.cusum_up_ratio, cfg.cusum_up_threshold);
        let down = Cusum::new(cfg.cusum_down_ratio, cfg.cusum_down_threshold);
        Ok(Vardiff {
            cfg,
            difficulty,
            window: Window::new(),
            up,
            down,
            next_checkpoint: first_checkpoint,
            alarm: None,
            clock_ms: now_ms,
            adjustments: 0,
            last_share_ms: None,
        })
    }

    /// Controller whose initial difficulty matches a nominal hashrate (H/s), e.g. the
    /// `nominal_hash_rate` of `OpenMiningChannel`. A zero or invalid rate starts at the minimum.
    pub fn from_hashrate(
        cfg: VardiffConfig,
        nominal_hashrate: f64,
        now_ms: u64,
    ) -> Result<Self, VardiffError> {
        let d = difficulty_for_hashrate(nominal_hashrate, cfg.target_share_interval_ms);
        Self::new(cfg, d, now_ms)
    }

    /// Current difficulty.
    pub fn difficulty(&self) -> f64 {
        self.difficulty
    }

    /// Current difficulty as a share target.
    pub fn target(&self) -> Target {
        Target::from_difficulty(self.difficulty)
    }

    /// Configuration in use.
    pub fn config(&self) -> &VardiffConfig {
        &self.cfg
    }

    /// Number of difficulty changes made so far.
    pub fn adjustments(&self) -> u32 {
        self.adjustments
    }

    /// Time of the most recent accepted share, if any (for detecting idle channels).
    pub fn last_share_ms(&self) -> Option<u64> {
        self.last_share_ms
    }

    /// Records an accepted share credited at `share_difficulty` (the channel target's difficulty
    /// at validation time, which may differ from [`Self::difficulty`] just after a change: such a
    /// share counts in proportion to its difficulty).
    pub fn on_share(&mut self, now_ms: u64, share_difficulty: f64) {
        if !(share_difficulty.is_finite() && share_difficulty > 0.0) {
            return;
        }
        self.advance(now_ms);
        let weight = share_difficulty / self.difficulty;
        self.window.add_share(weight);
        self.up.share(weight);
        self.down.share(weight);
        self.last_share_ms = Some(self.clock_ms);
        self.latch_alarm();
    }

    /// Forces a difficulty at `now_ms` (e.g. the downstream lowered its maximum target). The
    /// hashrate estimate is kept.
    pub fn set_difficulty(&mut self, difficulty: f64, now_ms: u64) {
        if difficulty.is_finite() && difficulty > 0.0 {
            self.advance(now_ms);
            self.difficulty = difficulty.clamp(self.cfg.min_difficulty, self.cfg.max_difficulty);
        }
    }

    /// Evaluates the controller at `now_ms`; returns the new difficulty if it changed.
    pub fn poll(&mut self, now_ms: u64) -> Option<f64> {
        self.advance(now_ms);
        // A detector still in alarm offers the longest segment; else one that crossed its
        // threshold since the last poll.
        let latched = self.alarm.take();
        self.latch_alarm();
        let alarm = self.alarm.take().or(latched);
        let interval = self.cfg.target_share_interval_ms as f64;
        if let Some(segment) = alarm {
            // The rate changed: forget the history before the change point, and let the
            // segment weigh as at most `alarm_prior_shares` shares, so that data arriving after
            // the step quickly corrects a change point estimated from few shares.
            let mut window = segment;
            let cap = self.cfg.alarm_prior_shares as f64;
            if window.shares > cap {
                window.exposure *= cap / window.shares;
                window.shares = cap;
            }
            window.first_share = None;
            self.window = window;
            self.next_checkpoint = self.cfg.min_refine_shares as f64;
            self.up.reset();
            self.down.reset();
            // A segment without shares: the median-unbiased rate, ln 2 shares over its exposure
            // (the rate at which seeing no share was a coin flip).
            let ideal = match segment.rate() {
                Some(rate) => rate * interval,
                None if segment.exposure > 0.0 => {
                    std::f64::consts::LN_2 * interval / segment.exposure
                }
                None => return None,
            };
            if self.out_of_tolerance(ideal) {
                return self.set(ideal);
            }
            return None;
        }
        let mut change = None;
        if self.window.shares >= self.next_checkpoint {
            // Checkpoints at doubling share counts: testing the same accumulating data at
            // every poll would turn noise into false adjustments.
            let cap = self.cfg.max_window_shares as f64;
            self.next_checkpoint = (self.next_checkpoint * 2.0).min(cap);
            if let Some(rate) = self.window.rate() {
                let ideal = rate * interval;
                let error = (ideal / self.difficulty).ln().abs();
                let noise = self.cfg.refine_z / self.window.shares.sqrt();
                if error > noise && self.out_of_tolerance(ideal) {
                    change = self.set(ideal);
                }
            }
            if self.window.shares >= cap {
                // Forget half of the history; the next test runs once it refilled.
                self.window.shares /= 2.0;
                self.window.exposure /= 2.0;
            }
        }
        change
    }

    /// Records the first detector alarm since the last poll, with the segment it rests on, so
    /// that a detector crossing its threshold between polls is not lost.
    fn latch_alarm(&mut self) {
        if self.alarm.is_some() {
            return;
        }
        // Until the first change, while the estimate is thin, the initial difficulty is only a
        // guess: react to smaller evidence of a too high difficulty (a too low one floods shares
        // and is caught quickly anyway). A window without any share (silence since the last
        // change) gets the same treatment, so a far too high difficulty comes down in a few
        // quick steps.
        let startup = ((self.adjustments == 0
            && self.window.shares < self.cfg.min_reference_shares as f64)
            || self.window.shares == 0.0)
            .then_some(self.cfg.startup_threshold);
        self.alarm = if self.up.alarmed(None) {
            // Rise: the lead-in before the segment's first share mostly predates it.
            Some(
                self.up
                    .segment
                    .since_first_share()
                    .unwrap_or(self.up.segment),
            )
        } else if self.down.alarmed(startup) {
            Some(self.down.segment)
        } else {
            None
        };
    }

    /// Estimated hashrate (H/s) from the estimation window; `None` before a share.
    pub fn hashrate_estimate(&self) -> Option<f64> {
        self.window.rate().map(|r| r * 1000.0 * HASHES_PER_DIFF1)
    }

    fn out_of_tolerance(&self, ideal: f64) -> bool {
        let r = ideal / self.difficulty;
        r > 1.0 + self.cfg.tolerance || r < 1.0 / (1.0 + self.cfg.tolerance)
    }

    fn set(&mut self, ideal: f64) -> Option<f64> {
        let f = self.cfg.max_step_factor;
        let new = ideal
            .clamp(self.difficulty / f, self.difficulty * f)
            .clamp(self.cfg.min_difficulty, self.cfg.max_difficulty);
        if new == self.difficulty || !new.is_finite() {
            return None;
        }
        self.difficulty = new;
        self.adjustments = self.adjustments.saturating_add(1);
        Some(new)
    }

    /// Reference work rate (difficulty per ms) the detectors test against: the estimate once it
    /// rests on enough shares (after the first change), the target rate at the current
    /// difficulty before.
    fn reference_rate(&self) -> f64 {
        // Before the first change the question is whether the initial difficulty is right,
        // so the detectors test against the target rate.
        match self.window.rate() {
            Some(rate)
                if self.adjustments > 0
                    && self.window.shares >= self.cfg.min_reference_shares as f64 =>
            {
                rate
            }
            _ => self.difficulty / self.cfg.target_share_interval_ms as f64,
        }
    }

    /// Accounts exposure up to `now_ms` (time never goes backwards).
    fn advance(&mut self, now_ms: u64) {
        if now_ms <= self.clock_ms {
            return;
        }
        let dt = (now_ms - self.clock_ms) as f64;
        let exposure = dt / self.difficulty;
        let expected = self.reference_rate() * exposure;
        self.window.exposure += exposure;
        self.up.elapse(expected, exposure);
        self.down.elapse(expected, exposure);
        self.clock_ms = now_ms;
        self.latch_alarm();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashrate_difficulty_roundtrip() {
        let d = difficulty_for_hashrate(100e12, 6_000);
        // 100 TH/s * 6 s / 2^32 ~= 139_698
        assert!((d - 139_697.0).abs() < 10.0, "{d}");
        let h = hashrate_from_work(d, 6_000);
        assert!((h / 100e12 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn config_validation() {
        assert!(VardiffConfig::default().validate().is_ok());
        let bad = VardiffConfig {
            min_difficulty: 10.0,
            max_difficulty: 1.0,
            ..Default::default()
        };
        assert!(Vardiff::new(bad, 1.0, 0).is_err());
        let bad = VardiffConfig {
            target_share_interval_ms: 0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = VardiffConfig {
            max_step_factor: 1.0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = VardiffConfig {
            cusum_down_ratio: 1.0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn silent_miner_is_lowered_and_bounded() {
        let cfg = VardiffConfig {
            min_difficulty: 100.0,
            ..Default::default()
        };
        let mut v = Vardiff::new(cfg, 1e9, 0).unwrap();
        assert_eq!(v.poll(5_000), None);
        let mut now = 0;
        let mut changes = 0;
        while v.difficulty() > 100.0 && now < 10_000_000 {
            now += 1_000;
            if v.poll(now).is_some() {
                changes += 1;
            }
        }
        assert_eq!(v.difficulty(), 100.0);
        assert!(changes >= 2);
        assert_eq!(v.hashrate_estimate(), None);
    }

    #[test]
    fn ignores_invalid_share_difficulty_and_overrides() {
        let mut v = Vardiff::new(VardiffConfig::default(), 1000.0, 0).unwrap();
        v.on_share(1, f64::NAN);
        v.on_share(1, -1.0);
        assert_eq!(v.hashrate_estimate(), None);
        v.set_difficulty(f64::INFINITY, 5);
        assert_eq!(v.difficulty(), 1000.0);
        v.set_difficulty(1e30, 5);
        assert_eq!(v.difficulty(), 1e15);
    }
}
