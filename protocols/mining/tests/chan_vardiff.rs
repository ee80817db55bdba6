//! Vardiff convergence under simulated Poisson share arrivals.

use sv2_mining::vardiff::{Vardiff, VardiffConfig, HASHES_PER_DIFF1};

/// SplitMix64: small, seeded, deterministic.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Exponential waiting time (ms) for a process of `rate_per_ms`.
    fn exp_ms(&mut self, rate_per_ms: f64) -> f64 {
        -self.unit().ln() / rate_per_ms
    }
}

/// One difficulty change made by the controller.
#[derive(Debug, Clone, Copy)]
struct Change {
    at_ms: u64,
    difficulty: f64,
}

/// Runs a miner whose hashrate is `hashrate(t_ms)` (piecewise constant, changes on the second)
/// for `duration_ms`, polling vardiff every second. Returns the changes made.
fn simulate(
    seed: u64,
    cfg: &VardiffConfig,
    initial_difficulty: f64,
    duration_ms: u64,
    hashrate: impl Fn(u64) -> f64,
) -> (Vec<Change>, Vardiff) {
    let mut rng = Rng(seed);
    let mut v = Vardiff::new(cfg.clone(), initial_difficulty, 0).unwrap();
    let rate = |h: f64, d: f64| h / (d * HASHES_PER_DIFF1) / 1000.0; // shares per ms
    let mut changes = Vec::new();
    let mut next_share = rng.exp_ms(rate(hashrate(0), v.difficulty()));
    let mut tick = 0u64;
    while tick < duration_ms {
        tick += 1_000;
        while next_share <= tick as f64 {
            let t = next_share;
            v.on_share(t as u64, v.difficulty());
            next_share = t + rng.exp_ms(rate(hashrate(t as u64), v.difficulty()));
        }
        let hashrate_changed = hashrate(tick) != hashrate(tick - 1_000);
        if let Some(d) = v.poll(tick) {
            changes.push(Change {
                at_ms: tick,
                difficulty: d,
            });
        }
        if hashrate_changed || changes.last().is_some_and(|c| c.at_ms == tick) {
            // Memorylessness: redraw the next arrival under the new rate.
            next_share = tick as f64 + rng.exp_ms(rate(hashrate(tick), v.difficulty()));
        }
    }
    (changes, v)
}

/// Share-rate error of difficulty `d` for hashrate `h`: expected rate / target rate.
fn rate_ratio(cfg: &VardiffConfig, h: f64, d: f64) -> f64 {
    let interval_ms = d * HASHES_PER_DIFF1 / h * 1000.0;
    cfg.target_share_interval_ms as f64 / interval_ms
}

/// Share rate accepted as "on target": within +-30 % of the configured rate.
const TOLERANCE: f64 = 0.30;
/// Convergence must take at most this many difficulty changes.
const MAX_ADJUSTMENTS_TO_CONVERGE: usize = 8;
/// ... and at most this long (ms).
const MAX_CONVERGENCE_MS: u64 = 25 * 60_000;
const HOUR: u64 = 3_600_000;

fn within(ratio: f64) -> bool {
    (1.0 - TOLERANCE..=1.0 + TOLERANCE).contains(&ratio)
}

/// How a run behaved after time `from_ms` for true hashrate `h`.
#[derive(Debug)]
struct Outcome {
    /// Changes made after `from_ms` until the share rate first got within tolerance.
    changes_to_converge: usize,
    /// Time from `from_ms` until then.
    converge_ms: u64,
    /// Changes made after that point.
    changes_after: usize,
    /// Fraction of the time after convergence spent outside tolerance.
    out_of_tolerance: f64,
}

fn outcome(
    cfg: &VardiffConfig,
    changes: &[Change],
    h: f64,
    start_difficulty: f64,
    from_ms: u64,
    end_ms: u64,
) -> Option<Outcome> {
    let ok = |d: f64| within(rate_ratio(cfg, h, d));
    let later: Vec<Change> = changes
        .iter()
        .copied()
        .filter(|c| c.at_ms > from_ms)
        .collect();
    let (changes_to_converge, converge_ms) = if ok(start_difficulty) {
        (0, 0)
    } else {
        let i = later.iter().position(|c| ok(c.difficulty))?;
        (i + 1, later[i].at_ms - from_ms)
    };
    let converged_at = from_ms + converge_ms;
    let mut difficulty = start_difficulty;
    let mut since = converged_at;
    let mut outside = 0u64;
    for c in &later {
        if c.at_ms > converged_at {
            if !ok(difficulty) {
                outside += c.at_ms - since;
            }
            since = c.at_ms;
        }
        difficulty = c.difficulty;
    }
    if !ok(difficulty) {
        outside += end_ms - since;
    }
    Some(Outcome {
        changes_to_converge,
        converge_ms,
        changes_after: later.len() - changes_to_converge,
        out_of_tolerance: outside as f64 / (end_ms - converged_at) as f64,
    })
}

fn check(
    label: &str,
    o: Option<Outcome>,
    changes: &[Change],
    out_fractions: &mut Vec<f64>,
    converge_times: &mut Vec<u64>,
) {
    let o = o.unwrap_or_else(|| panic!("{label}: never converged: {changes:?}"));
    assert!(
        o.changes_to_converge <= MAX_ADJUSTMENTS_TO_CONVERGE,
        "{label}: {o:?} {changes:?}"
    );
    assert!(
        o.converge_ms <= MAX_CONVERGENCE_MS,
        "{label}: {o:?} {changes:?}"
    );
    // Stable afterwards: rare changes, almost always on target.
    assert!(o.changes_after <= 8, "{label}: {o:?} {changes:?}");
    assert!(o.out_of_tolerance <= 0.5, "{label}: {o:?} {changes:?}");
    out_fractions.push(o.out_of_tolerance);
    converge_times.push(o.converge_ms);
}

/// Fraction of runs that converged within `ms`.
fn fraction_within(times: &[u64], ms: u64) -> f64 {
    times.iter().filter(|t| **t <= ms).count() as f64 / times.len() as f64
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn converges_from_any_start_across_hashrates() {
    let cfg = VardiffConfig::default();
    let mut out_fractions = Vec::new();
    let mut times = Vec::new();
    for (hi, h) in [10e12, 100e12, 1e15].into_iter().enumerate() {
        let ideal = h * 6.0 / HASHES_PER_DIFF1;
        for (si, factor) in [1e-3, 0.2, 1.0, 5.0, 1e3].into_iter().enumerate() {
            let start = ideal * factor;
            for seed in 0..10u64 {
                let seed = seed + 100 * si as u64 + 1000 * hi as u64;
                let (changes, v) = simulate(seed, &cfg, start, 2 * HOUR, |_| h);
                let label = format!("h={h:e} start=x{factor} seed={seed}");
                let o = outcome(&cfg, &changes, h, start, 0, 2 * HOUR);
                check(&label, o, &changes, &mut out_fractions, &mut times);
                let end = rate_ratio(&cfg, h, v.difficulty());
                assert!(within(end), "{label}: ends at rate ratio {end}");
            }
        }
    }
    // Most runs converge within five minutes, and on average the share rate is on target
    // nearly all of the time once converged.
    let fast = fraction_within(&times, 5 * 60_000);
    assert!(fast >= 0.8, "only {fast} converged within 5 min");
    assert!(mean(&out_fractions) < 0.03, "{}", mean(&out_fractions));
}

#[test]
fn follows_step_changes() {
    let cfg = VardiffConfig::default();
    let mut out_fractions = Vec::new();
    let mut up_times = Vec::new();
    let mut down_times = Vec::new();
    let cases = [(100e12, 10.0), (100e12, 0.1), (1e15, 0.1), (10e12, 10.0)];
    for (case, (base, factor)) in cases.into_iter().enumerate() {
        for seed in 0..10u64 {
            let seed = seed + 100 * case as u64;
            let h = move |t: u64| if t < HOUR { base } else { base * factor };
            let ideal = base * 6.0 / HASHES_PER_DIFF1;
            let (changes, v) = simulate(seed, &cfg, ideal, 2 * HOUR, h);
            let before = changes
                .iter()
                .rev()
                .find(|c| c.at_ms <= HOUR)
                .map_or(ideal, |c| c.difficulty);
            let label = format!("base={base:e} x{factor} seed={seed}");
            let o = outcome(&cfg, &changes, base * factor, before, HOUR, 2 * HOUR);
            let times = if factor > 1.0 {
                &mut up_times
            } else {
                &mut down_times
            };
            check(&label, o, &changes, &mut out_fractions, times);
            let end = rate_ratio(&cfg, base * factor, v.difficulty());
            assert!(within(end), "{label}: ends at rate ratio {end}");
        }
    }
    assert!(mean(&out_fractions) < 0.03, "{}", mean(&out_fractions));
    // A tenfold rise is followed within a minute in half of the runs and within five minutes in
    // most; a tenfold fall (shares become rare, so evidence accumulates slowly) within five and
    // fifteen minutes.
    for (label, times, quick, slow) in [
        ("x10", &up_times, 60_000, 300_000),
        ("/10", &down_times, 300_000, 900_000),
    ] {
        let q = fraction_within(times, quick);
        let s = fraction_within(times, slow);
        assert!(q >= 0.5 && s >= 0.8, "{label}: {q} / {s}: {times:?}");
    }
}

#[test]
fn hashrate_estimate_tracks_true_hashrate() {
    let cfg = VardiffConfig::default();
    for (seed, h) in [(1u64, 10e12), (2, 250e12), (3, 1e15)] {
        let ideal = h * 6.0 / HASHES_PER_DIFF1;
        let (_, v) = simulate(seed, &cfg, ideal / 20.0, 1_800_000, |_| h);
        let est = v.hashrate_estimate().unwrap();
        // The estimate rests on up to max_window_shares shares: well within 25 %.
        assert!((est / h - 1.0).abs() < 0.25, "h={h:e}: estimate {est:e}");
    }
}

#[test]
fn respects_bounds() {
    let cfg = VardiffConfig {
        min_difficulty: 1_000.0,
        max_difficulty: 50_000.0,
        ..Default::default()
    };
    // 1 PH/s wants ~1.4M: capped at max.
    let (changes, v) = simulate(7, &cfg, 1_000.0, 600_000, |_| 1e15);
    assert_eq!(v.difficulty(), 50_000.0);
    assert!(changes.iter().all(|c| c.difficulty <= 50_000.0));
    // 1 GH/s wants ~1.4: floored at min.
    let (_, v) = simulate(8, &cfg, 40_000.0, 3_600_000, |_| 1e9);
    assert_eq!(v.difficulty(), 1_000.0);
}
