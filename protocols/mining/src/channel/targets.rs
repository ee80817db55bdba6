//! Channel target: vardiff (or a fixed difficulty) bounded by the miner's maximum target.

use super::{ChannelConfig, ChannelError};
use crate::target::Target;
use crate::vardiff::{difficulty_for_hashrate, Vardiff};

/// The target of one channel and what drives it.
#[derive(Debug, Clone)]
pub struct TargetControl {
    target: Target,
    max_target: Target,
    vardiff: Option<Vardiff>,
}

impl TargetControl {
    /// Initial target for a channel opened with `nominal_hashrate` (H/s) and the miner's
    /// `max_target` (the easiest target it accepts).
    pub fn new(
        cfg: &ChannelConfig,
        nominal_hashrate: f64,
        max_target: Target,
        now_ms: u64,
    ) -> Result<Self, ChannelError> {
        if max_target == Target::ZERO {
            return Err(ChannelError::ZeroTarget);
        }
        let (difficulty, vardiff) = match &cfg.vardiff {
            Some(vcfg) => {
                let v = Vardiff::from_hashrate(vcfg.clone(), nominal_hashrate, now_ms)
                    .map_err(|e| ChannelError::Vardiff(e.to_string()))?;
                (v.difficulty(), Some(v))
            }
            None => (cfg.fixed_difficulty, None),
        };
        let mut tc = TargetControl {
            target: Target::MAX,
            max_target,
            vardiff,
        };
        tc.apply(Target::from_difficulty(difficulty), now_ms);
        Ok(tc)
    }

    /// A fixed `target` set by someone else (an upstream's `SetTarget`): no vardiff, no
    /// maximum below [`Target::MAX`].
    pub(crate) fn fixed(target: Target) -> Result<Self, ChannelError> {
        if target == Target::ZERO {
            return Err(ChannelError::ZeroTarget);
        }
        Ok(TargetControl {
            target,
            max_target: Target::MAX,
            vardiff: None,
        })
    }

    /// Current target.
    pub fn target(&self) -> Target {
        self.target
    }

    /// The miner's maximum target.
    pub fn max_target(&self) -> Target {
        self.max_target
    }

    /// The vardiff controller, if any.
    pub fn vardiff(&self) -> Option<&Vardiff> {
        self.vardiff.as_ref()
    }

    /// Records an accepted share credited at `difficulty`.
    pub fn on_share(&mut self, now_ms: u64, difficulty: f64) {
        if let Some(v) = &mut self.vardiff {
            v.on_share(now_ms, difficulty);
        }
    }

    /// Runs vardiff; returns the new target if it changed (send `SetTarget`).
    pub fn poll(&mut self, now_ms: u64) -> Option<Target> {
        let d = self.vardiff.as_mut()?.poll(now_ms)?;
        self.apply(Target::from_difficulty(d), now_ms)
    }

    /// Sets the target explicitly (bounded by the maximum target); returns it if it changed.
    pub fn set_target(
        &mut self,
        target: Target,
        now_ms: u64,
    ) -> Result<Option<Target>, ChannelError> {
        if target == Target::ZERO {
            return Err(ChannelError::ZeroTarget);
        }
        Ok(self.apply(target, now_ms))
    }

    /// `UpdateChannel`: new nominal hashrate (ignored when not positive) and maximum target.
    /// Returns the new target if it changed.
    pub fn update(
        &mut self,
        nominal_hashrate: f64,
        max_target: Target,
        now_ms: u64,
    ) -> Result<Option<Target>, ChannelError> {
        if max_target == Target::ZERO {
            return Err(ChannelError::ZeroTarget);
        }
        self.max_target = max_target;
        let wanted = match &self.vardiff {
            Some(v) if nominal_hashrate.is_finite() && nominal_hashrate > 0.0 => {
                Target::from_difficulty(difficulty_for_hashrate(
                    nominal_hashrate,
                    v.config().target_share_interval_ms,
                ))
            }
            _ => self.target,
        };
        Ok(self.apply(wanted, now_ms))
    }

    /// Bounds `target` by the maximum, keeps vardiff in sync, returns it if it changed.
    fn apply(&mut self, target: Target, now_ms: u64) -> Option<Target> {
        let bounded = target.min(self.max_target);
        if let Some(v) = &mut self.vardiff {
            v.set_difficulty(bounded.difficulty(), now_ms);
        }
        if bounded == self.target {
            return None;
        }
        self.target = bounded;
        Some(bounded)
    }
}
