//! Time ranges of reports: UTC calendar days, months and quarters, and date parsing.

/// A half-open time range `[from, to)` in unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Start (inclusive).
    pub from: u64,
    /// End (exclusive).
    pub to: u64,
}

impl Range {
    /// Length in seconds, counting only time up to `now` (a running period is not over yet).
    pub fn elapsed_secs(&self, now: u64) -> u64 {
        self.to.min(now).saturating_sub(self.from)
    }

    /// `2026-07-01 .. 2026-10-01` style label.
    pub fn label(&self) -> String {
        format!("{} .. {}", format_time(self.from), format_time(self.to))
    }
}

/// A calendar period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Period {
    /// One UTC day.
    Day,
    /// One calendar month.
    Month,
    /// One calendar quarter (Jan–Mar, Apr–Jun, Jul–Sep, Oct–Dec).
    Quarter,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn at(y: i64, m: u32, d: u32) -> u64 {
    (days_from_civil(y, m, d) * 86_400).max(0) as u64
}

/// The period of kind `period` that contains `t`.
pub fn period_containing(period: Period, t: u64) -> Range {
    let (y, m, d) = civil_from_days((t / 86_400) as i64);
    match period {
        Period::Day => {
            let from = at(y, m, d);
            Range {
                from,
                to: from + 86_400,
            }
        }
        Period::Month => {
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Range {
                from: at(y, m, 1),
                to: at(ny, nm, 1),
            }
        }
        Period::Quarter => {
            let qm = (m - 1) / 3 * 3 + 1;
            let (ny, nm) = if qm == 10 { (y + 1, 1) } else { (y, qm + 3) };
            Range {
                from: at(y, qm, 1),
                to: at(ny, nm, 1),
            }
        }
    }
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS][Z]` (UTC) or unix seconds.
pub fn parse_time(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) && s.len() != 8 {
        return s.parse().map_err(|_| format!("`{s}`: not a unix time"));
    }
    let bad = || format!("`{s}`: expected YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] (UTC) or unix seconds");
    let s2 = s.trim_end_matches('Z');
    let (date, time) = match s2.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s2, None),
    };
    let mut dp = date.split('-');
    let (Some(y), Some(m), Some(d), None) = (dp.next(), dp.next(), dp.next(), dp.next()) else {
        return Err(bad());
    };
    let y: i64 = y.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    let d: u32 = d.parse().map_err(|_| bad())?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err(bad());
    }
    let mut secs = at(y, m, d);
    if let Some(t) = time {
        let parts: Vec<&str> = t.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(bad());
        }
        let mut mult = [3600u64, 60, 1].into_iter();
        for (p, limit) in parts.iter().zip([24u64, 60, 60]) {
            let v: u64 = p.parse().map_err(|_| bad())?;
            if v >= limit {
                return Err(bad());
            }
            secs += v * mult.next().unwrap_or(1);
        }
    }
    Ok(secs)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as u32
}

/// `YYYY-MM-DD` when at midnight, else `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_time(t: u64) -> String {
    let (y, m, d) = civil_from_days((t / 86_400) as i64);
    let s = t % 86_400;
    if s == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), always with the time.
pub fn format_datetime(t: u64) -> String {
    let (y, m, d) = civil_from_days((t / 86_400) as i64);
    let s = t % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for z in [-1000, 0, 59, 60, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn periods() {
        let t = parse_time("2026-08-15T13:45:00Z").unwrap();
        assert_eq!(t, 1_786_801_500);
        let q = period_containing(Period::Quarter, t);
        assert_eq!(q.from, parse_time("2026-07-01").unwrap());
        assert_eq!(q.to, parse_time("2026-10-01").unwrap());
        let q4 = period_containing(Period::Quarter, parse_time("2026-12-31T23:59:59").unwrap());
        assert_eq!(q4.to, parse_time("2027-01-01").unwrap());
        let m = period_containing(Period::Month, parse_time("2024-02-10").unwrap());
        assert_eq!(m.to - m.from, 29 * 86_400);
        let d = period_containing(Period::Day, t);
        assert_eq!(format_time(d.from), "2026-08-15");
        assert_eq!(d.label(), "2026-08-15 .. 2026-08-16");
        assert_eq!(Range { from: 100, to: 200 }.elapsed_secs(150), 50);
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000);
        assert_eq!(parse_time("1970-01-02").unwrap(), 86_400);
        assert_eq!(parse_time("1970-01-01 00:01").unwrap(), 60);
        assert!(parse_time("2026-02-30").is_err());
        assert!(parse_time("2026-13-01").is_err());
        assert!(parse_time("2026-01-01T25:00").is_err());
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("").is_err());
        assert_eq!(format_datetime(61), "1970-01-01 00:01:01");
    }
}
