//! The summary of a load run: a serializable [`Report`] (written with `--json`), its text
//! table, and the per-second progress line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::fanout::BlockFanout;
use super::hist::Histogram;
use super::stats::{get, LoadStats, ShareKind, Verdicts};

/// Percentiles of a latency distribution, milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Percentiles {
    /// From a histogram (`None` when it is empty).
    pub fn of(h: &Histogram) -> Option<Percentiles> {
        (h.count() > 0).then(|| Percentiles {
            count: h.count(),
            p50_ms: h.quantile_ms(0.5).unwrap_or(0.0),
            p99_ms: h.quantile_ms(0.99).unwrap_or(0.0),
            p999_ms: h.quantile_ms(0.999).unwrap_or(0.0),
            max_ms: h.max_us() as f64 / 1000.0,
        })
    }
}

/// Memory and CPU of the measured server process (pool or translator).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerUsage {
    /// Process id.
    pub pid: u32,
    /// RSS before the load generator connected, KiB.
    pub rss_before_kib: u64,
    /// RSS with every connection open and idle, KiB.
    pub rss_idle_kib: u64,
    /// `(rss_idle - rss_before) / open connections`, KiB.
    pub rss_per_idle_connection_kib: f64,
    /// RSS at the end of the share phase, KiB.
    pub rss_end_kib: u64,
    /// CPU seconds used during the share phase (including the drain).
    pub share_phase_cpu_secs: f64,
    /// CPU use during the share phase, in cores (1.0 = one core busy).
    pub share_phase_cores: f64,
    /// CPU seconds per 1000 answered shares.
    pub cpu_secs_per_1k_shares: Option<f64>,
}

/// What the pool itself reported on `/metrics` (when the load generator could scrape it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PoolMetrics {
    /// `pool_new_block_to_prevhash_seconds`: samples (one per connection and block).
    pub fanout_samples: u64,
    /// Upper bound (bucket edge) of the median, ms.
    pub fanout_p50_le_ms: Option<f64>,
    /// Upper bound (bucket edge) of the 99th percentile, ms.
    pub fanout_p99_le_ms: Option<f64>,
    /// `pool_share_validation_seconds` mean, µs.
    pub validation_mean_us: Option<f64>,
}

/// The full result of a load run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Report {
    /// `sv2-standard`, `sv2-extended` or `sv1`.
    pub mode: String,
    /// Address the load went to.
    pub target: String,
    /// Connections asked for.
    pub connections_requested: usize,
    /// Connections (SV2: channels) that opened.
    pub connections_opened: u64,
    /// Connections open at the end of the idle phase.
    pub connections_idle: u64,
    /// Failed connection attempts.
    pub connect_failures: u64,
    /// Connections lost after opening.
    pub disconnects: u64,
    /// Distinct source addresses used (0: the kernel's choice).
    pub source_addresses: usize,
    /// Seconds the connections took to open.
    pub ramp_secs: f64,
    /// Requested total share rate (0: unpaced).
    pub rate_requested: f64,
    /// `share_ack_batch` / `share_ack_interval_ms` of a pool this run started (None: attached).
    pub pool_ack: Option<(u32, u64)>,
    /// Length of the share phase, seconds (without the drain).
    pub share_secs: f64,
    /// Shares sent, per kind.
    pub sent: BTreeMap<ShareKind, u64>,
    /// All shares sent.
    pub sent_total: u64,
    /// Shares sent per second.
    pub sent_per_sec: f64,
    /// Sum of `SubmitShares.Success.new_submits_accepted_count` (SV1: `true` answers).
    pub acked: u64,
    /// Acknowledged per second.
    pub acked_per_sec: f64,
    /// Shares rejected.
    pub rejected: u64,
    /// Shares never answered (connection lost, or still pending after the drain).
    pub unanswered: u64,
    /// Verdicts by share kind and reason (SV2).
    pub verdicts: Option<Verdicts>,
    /// Rejections by reason.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Submit → Success latency of accepted shares (SV2).
    pub accept_latency: Option<Percentiles>,
    /// Submit → Error latency of rejected shares (SV2).
    pub reject_latency: Option<Percentiles>,
    /// Fan-out of every observed block.
    pub blocks: Vec<BlockFanout>,
    /// Fan-out over every (block, connection) arrival.
    pub fanout: Option<Percentiles>,
    /// The measured server process.
    pub server: Option<ServerUsage>,
    /// The pool's own metrics.
    pub pool_metrics: Option<PoolMetrics>,
    /// CPU seconds the load generator itself used.
    pub loadgen_cpu_secs: f64,
    /// The load generator's RSS at the end, KiB.
    pub loadgen_rss_kib: u64,
    /// Hashes the load generator computed.
    pub hashes: u64,
    /// Valid shares not sent because the hash budget ran out.
    pub budget_exhausted: u64,
    /// Hashes that met the network target (not submitted).
    pub blocks_skipped: u64,
    /// Times a connection was behind its pace because its window of unanswered shares was full.
    pub window_full: u64,
    /// In-process standard-share validation rate from the criterion bench, shares/s.
    pub validation_bench_per_sec: Option<f64>,
    /// `acked_per_sec / validation_bench_per_sec`.
    pub ratio_to_validation_bench: Option<f64>,
    /// Last connection error seen.
    pub last_error: Option<String>,
    /// Warnings and caveats of this run.
    pub notes: Vec<String>,
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 1.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.3} ms")
    }
}

fn rate(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1}k/s", v / 1000.0)
    } else {
        format!("{v:.0}/s")
    }
}

fn kib(v: u64) -> String {
    if v >= 10 * 1024 {
        format!("{:.1} MiB", v as f64 / 1024.0)
    } else {
        format!("{v} KiB")
    }
}

impl Report {
    /// The summary table.
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, String)> = Vec::new();
        let mut row = |k: &str, v: String| rows.push((k.to_owned(), v));
        row("mode", format!("{} -> {}", self.mode, self.target));
        row(
            "connections",
            format!(
                "{} opened of {} requested ({} failed, {} lost, {} source addresses, ramp {:.1} s)",
                self.connections_opened,
                self.connections_requested,
                self.connect_failures,
                self.disconnects,
                self.source_addresses,
                self.ramp_secs
            ),
        );
        if let Some((batch, ms)) = self.pool_ack {
            row(
                "pool acks",
                format!("SubmitShares.Success per {batch} accepted shares or {ms} ms"),
            );
        }
        if self.share_secs > 0.0 {
            let kinds: Vec<String> = self
                .sent
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{} {n}", k.name()))
                .collect();
            row(
                "shares sent",
                format!(
                    "{} in {:.1} s = {} ({}){}",
                    self.sent_total,
                    self.share_secs,
                    rate(self.sent_per_sec),
                    kinds.join(", "),
                    if self.rate_requested > 0.0 {
                        format!(", asked {}", rate(self.rate_requested))
                    } else {
                        ", unpaced".to_owned()
                    }
                ),
            );
            row(
                "acknowledged",
                format!(
                    "{} = {} (SubmitShares.Success count), {} rejected, {} unanswered",
                    self.acked,
                    rate(self.acked_per_sec),
                    self.rejected,
                    self.unanswered
                ),
            );
        }
        if let Some(v) = &self.verdicts {
            for kind in ShareKind::ALL {
                let acc = v.accepted_of(kind);
                let rej = v.rejected.get(&kind);
                if acc == 0 && rej.is_none_or(|r| r.is_empty()) {
                    continue;
                }
                let reasons: Vec<String> = rej
                    .map(|r| r.iter().map(|(c, n)| format!("{c} {n}")).collect())
                    .unwrap_or_default();
                row(
                    &format!("  {} shares", kind.name()),
                    format!(
                        "accepted {acc}{}",
                        if reasons.is_empty() {
                            String::new()
                        } else {
                            format!(", rejected: {}", reasons.join(", "))
                        }
                    ),
                );
            }
        } else if !self.rejected_by_reason.is_empty() {
            let reasons: Vec<String> = self
                .rejected_by_reason
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect();
            row("rejections", reasons.join(", "));
        }
        if let Some(l) = &self.accept_latency {
            row(
                "submit -> Success",
                format!(
                    "p50 {}  p99 {}  p99.9 {}  max {}  ({} shares)",
                    ms(l.p50_ms),
                    ms(l.p99_ms),
                    ms(l.p999_ms),
                    ms(l.max_ms),
                    l.count
                ),
            );
        }
        if let Some(l) = &self.reject_latency {
            row(
                "submit -> Error",
                format!("p50 {}  p99 {}", ms(l.p50_ms), ms(l.p99_ms)),
            );
        }
        if let Some(f) = &self.fanout {
            let mined = self.blocks.iter().filter(|b| b.from_mining).count();
            let incomplete = self
                .blocks
                .iter()
                .filter(|b| b.expected > 0 && b.reached < b.expected)
                .count();
            row(
                "new-block fan-out",
                format!(
                    "p50 {}  p99 {}  max {}  ({} blocks, {} mined by us, {} not reaching every channel)",
                    ms(f.p50_ms),
                    ms(f.p99_ms),
                    ms(f.max_ms),
                    self.blocks.len(),
                    mined,
                    incomplete
                ),
            );
        }
        if let Some(p) = &self.pool_metrics {
            let le = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("<= {}", ms(x)));
            row(
                "pool-side fan-out",
                format!(
                    "p50 {}  p99 {}  ({} samples, pool_new_block_to_prevhash_seconds)",
                    le(p.fanout_p50_le_ms),
                    le(p.fanout_p99_le_ms),
                    p.fanout_samples
                ),
            );
        }
        if let Some(s) = &self.server {
            row(
                "server RSS",
                format!(
                    "{} before, {} idle with {} connections = {:.1} KiB per connection, {} at the end",
                    kib(s.rss_before_kib),
                    kib(s.rss_idle_kib),
                    self.connections_idle,
                    s.rss_per_idle_connection_kib,
                    kib(s.rss_end_kib)
                ),
            );
            if self.share_secs > 0.0 {
                row(
                    "server CPU",
                    format!(
                        "{:.2} s in the share phase ({:.2} cores){}",
                        s.share_phase_cpu_secs,
                        s.share_phase_cores,
                        s.cpu_secs_per_1k_shares
                            .map(|c| format!(", {c:.4} s per 1k shares"))
                            .unwrap_or_default()
                    ),
                );
            }
        }
        if let (Some(v), Some(r)) = (
            self.validation_bench_per_sec,
            self.ratio_to_validation_bench,
        ) {
            row(
                "vs in-process validation",
                format!(
                    "bench {} -> pool over Noise is {:.2} % of it",
                    rate(v),
                    r * 100.0
                ),
            );
        }
        row(
            "load generator",
            format!(
                "{:.2} CPU s, RSS {}, {} hashes, {} budget misses, {} block hashes skipped, {} window-full waits",
                self.loadgen_cpu_secs,
                kib(self.loadgen_rss_kib),
                self.hashes,
                self.budget_exhausted,
                self.blocks_skipped,
                self.window_full
            ),
        );
        if let Some(e) = &self.last_error {
            row("last error", e.clone());
        }
        for n in &self.notes {
            row("note", n.clone());
        }
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (k, v) in rows {
            let _ = writeln!(out, "{k:<width$}  {v}");
        }
        out
    }
}

/// Counter values at one moment, for the progress line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tick {
    /// Seconds since start.
    pub t: f64,
    /// Shares sent.
    pub sent: u64,
    /// Shares acknowledged.
    pub acked: u64,
    /// Shares rejected.
    pub rejected: u64,
}

impl Tick {
    /// Current values of `stats` at `t`.
    pub fn of(stats: &LoadStats, t: f64) -> Tick {
        Tick {
            t,
            sent: stats.sent_total(),
            acked: get(&stats.acked),
            rejected: get(&stats.rejected),
        }
    }
}

/// One progress line: phase, connections, rates since `prev`, and server usage when known.
pub fn progress_line(
    phase: &str,
    stats: &LoadStats,
    prev: &Tick,
    now: &Tick,
    server: Option<(u64, f64)>,
) -> String {
    let dt = (now.t - prev.t).max(1e-3);
    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
    let mut line = format!(
        "[{:>6.1}s] {:<7} open {:>6} failed {:>4} lost {:>4} | sent {:>9} acked {:>9} rejected {:>8} | in flight {:>6}",
        now.t,
        phase,
        get(&stats.channels_open),
        get(&stats.connect_failures),
        get(&stats.disconnects),
        rate(per(now.sent, prev.sent)),
        rate(per(now.acked, prev.acked)),
        rate(per(now.rejected, prev.rejected)),
        now.sent
            .saturating_sub(get(&stats.accepted) + get(&stats.rejected) + get(&stats.unanswered)),
    );
    if let Some((rss, cores)) = server {
        let _ = write!(
            line,
            " | server RSS {} CPU {:.0} %",
            kib(rss),
            cores * 100.0
        );
    }
    line
}

/// Percentile upper bounds of a Prometheus histogram in `text`: `(samples, p50_le, p99_le)`
/// in seconds, summing every label set of `name`.
pub fn prometheus_histogram(text: &str, name: &str) -> Option<(u64, Option<f64>, Option<f64>)> {
    let bucket_prefix = format!("{name}_bucket");
    let mut buckets: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    let mut count = 0.0;
    let mut found = false;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        if let Some(rest) = key.strip_prefix(&bucket_prefix) {
            let Some(le) = rest
                .split("le=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .and_then(|s| s.parse::<f64>().ok())
            else {
                continue;
            };
            found = true;
            let e = buckets.entry(le.to_bits()).or_insert((le, 0.0));
            e.1 += value;
        } else if key == format!("{name}_count") || key.starts_with(&format!("{name}_count{{")) {
            found = true;
            count += value;
        }
    }
    if !found {
        return None;
    }
    let mut sorted: Vec<(f64, f64)> = buckets.into_values().collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let q = |q: f64| {
        sorted
            .iter()
            .find(|(_, c)| count > 0.0 && *c >= q * count)
            .map(|(le, _)| *le)
    };
    Some((count as u64, q(0.5), q(0.99)))
}

/// Mean of a Prometheus histogram or summary (`_sum / _count`), seconds.
pub fn prometheus_mean(text: &str, name: &str) -> Option<f64> {
    let mut sum = None;
    let mut count = None;
    for line in text.lines() {
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let key = key.split('{').next().unwrap_or(key);
        if key == format!("{name}_sum") {
            sum = value.trim().parse::<f64>().ok();
        } else if key == format!("{name}_count") {
            count = value.trim().parse::<f64>().ok();
        }
    }
    match (sum, count) {
        (Some(s), Some(c)) if c > 0.0 => Some(s / c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_histograms() {
        let text = "# TYPE pool_new_block_to_prevhash_seconds histogram\n\
            pool_new_block_to_prevhash_seconds_bucket{le=\"0.001\"} 10\n\
            pool_new_block_to_prevhash_seconds_bucket{le=\"0.01\"} 60\n\
            pool_new_block_to_prevhash_seconds_bucket{le=\"0.1\"} 99\n\
            pool_new_block_to_prevhash_seconds_bucket{le=\"+Inf\"} 100\n\
            pool_new_block_to_prevhash_seconds_sum 1.5\n\
            pool_new_block_to_prevhash_seconds_count 100\n\
            pool_share_validation_seconds_sum 0.002\n\
            pool_share_validation_seconds_count 1000\n";
        let (n, p50, p99) =
            prometheus_histogram(text, "pool_new_block_to_prevhash_seconds").unwrap();
        assert_eq!(n, 100);
        assert_eq!(p50, Some(0.01));
        assert_eq!(p99, Some(0.1));
        assert!(prometheus_histogram(text, "nothing_here").is_none());
        let mean = prometheus_mean(text, "pool_share_validation_seconds").unwrap();
        assert!((mean - 2e-6).abs() < 1e-12);
        assert_eq!(prometheus_mean(text, "nothing_here"), None);
    }

    #[test]
    fn table_shows_what_was_measured() {
        let mut h = Histogram::new();
        for us in [900, 1100, 5000] {
            h.record_us(us);
        }
        let mut verdicts = Verdicts::default();
        verdicts.accept(ShareKind::Valid, 90);
        verdicts.reject(ShareKind::Stale, "stale-share");
        let r = Report {
            mode: "sv2-standard".into(),
            target: "127.0.0.1:34254".into(),
            connections_requested: 10,
            connections_opened: 10,
            connections_idle: 10,
            share_secs: 2.0,
            sent_total: 100,
            sent_per_sec: 50.0,
            acked: 90,
            acked_per_sec: 45.0,
            verdicts: Some(verdicts),
            accept_latency: Percentiles::of(&h),
            server: Some(ServerUsage {
                rss_before_kib: 1000,
                rss_idle_kib: 1200,
                rss_per_idle_connection_kib: 20.0,
                ..Default::default()
            }),
            notes: vec!["fd limit".into()],
            ..Default::default()
        };
        let t = r.table();
        assert!(t.contains("10 opened of 10 requested"));
        assert!(t.contains("stale-share 1"));
        assert!(t.contains("p50 1.1 ms"));
        assert!(t.contains("20.0 KiB per connection"));
        assert!(t.contains("note"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["acked"], 90);
        assert_eq!(json["verdicts"]["accepted"]["valid"], 90);
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
        assert!(Percentiles::of(&Histogram::new()).is_none());
    }

    #[test]
    fn progress_line_rates() {
        let stats = LoadStats::default();
        super::super::stats::add(&stats.sent[0], 1000);
        let prev = Tick::default();
        let now = Tick::of(&stats, 2.0);
        let line = progress_line("share", &stats, &prev, &now, Some((2048, 0.5)));
        assert!(line.contains("sent     500/s"), "{line}");
        assert!(line.contains("CPU 50 %"));
    }
}
