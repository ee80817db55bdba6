//! Which kind each submitted share is: fractions of invalid, stale and duplicate shares,
//! drawn with a small per-connection pseudo-random generator (no locking, reproducible).

use super::error::LoadError;
use super::stats::ShareKind;

/// Fractions of the share kinds; valid shares make up the rest.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct ShareMix {
    /// Bad nonces (hash above the target).
    pub invalid: f64,
    /// Shares for a job of the previous chain tip.
    pub stale: f64,
    /// Repeats of a valid share.
    pub duplicate: f64,
}

impl ShareMix {
    /// Checks every fraction is in `[0, 1]` and their sum at most 1.
    pub fn validate(&self) -> Result<(), LoadError> {
        let ok = |f: f64| (0.0..=1.0).contains(&f);
        if !(ok(self.invalid) && ok(self.stale) && ok(self.duplicate)) {
            return Err(LoadError::Config(
                "share fractions must be between 0 and 1".into(),
            ));
        }
        if self.invalid + self.stale + self.duplicate > 1.0 + 1e-9 {
            return Err(LoadError::Config(
                "invalid + stale + duplicate fractions exceed 1".into(),
            ));
        }
        Ok(())
    }

    /// Fraction of valid shares.
    pub fn valid(&self) -> f64 {
        (1.0 - self.invalid - self.stale - self.duplicate).max(0.0)
    }

    /// The kind for a uniform sample `u` in `[0, 1)`.
    pub fn pick(&self, u: f64) -> ShareKind {
        let mut edge = self.invalid;
        if u < edge {
            return ShareKind::Invalid;
        }
        edge += self.stale;
        if u < edge {
            return ShareKind::Stale;
        }
        edge += self.duplicate;
        if u < edge {
            return ShareKind::Duplicate;
        }
        ShareKind::Valid
    }
}

/// xorshift64*: fast, good enough to draw share kinds and timer phases.
#[derive(Debug, Clone)]
pub struct SmallRng(u64);

impl SmallRng {
    /// A generator seeded from `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        SmallRng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_in_proportion() {
        let mix = ShareMix {
            invalid: 0.1,
            stale: 0.05,
            duplicate: 0.02,
        };
        mix.validate().unwrap();
        assert!((mix.valid() - 0.83).abs() < 1e-12);
        let mut rng = SmallRng::new(0);
        let mut counts = [0u32; 4];
        let n = 200_000;
        for _ in 0..n {
            counts[mix.pick(rng.next_f64()).index()] += 1;
        }
        for (kind, want) in [
            (ShareKind::Valid, 0.83),
            (ShareKind::Invalid, 0.1),
            (ShareKind::Stale, 0.05),
            (ShareKind::Duplicate, 0.02),
        ] {
            let got = f64::from(counts[kind.index()]) / f64::from(n);
            assert!((got - want).abs() < 0.005, "{kind:?}: {got}");
        }
        assert_eq!(ShareMix::default().pick(0.999), ShareKind::Valid);
    }

    #[test]
    fn rejects_bad_fractions() {
        let bad = [
            ShareMix {
                invalid: -0.1,
                ..Default::default()
            },
            ShareMix {
                stale: f64::NAN,
                ..Default::default()
            },
            ShareMix {
                invalid: 0.6,
                stale: 0.3,
                duplicate: 0.2,
            },
        ];
        for m in bad {
            assert!(m.validate().is_err(), "{m:?}");
        }
        let mut r = SmallRng::new(7);
        assert!((0..1000)
            .map(|_| r.next_f64())
            .all(|u| (0.0..1.0).contains(&u)));
    }
}
