//! The targets table: several run reports (JSON files of `sv2-loadgen --json`) condensed into
//! one line per performance target, with the measured figure and whether it meets the target.

use std::fmt::Write as _;

use super::report::Report;

/// One target and what was measured for it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TargetRow {
    /// What is measured.
    pub what: String,
    /// The target, as text.
    pub target: String,
    /// The measurement, as text (`-` when no run measured it).
    pub measured: String,
    /// `Some(true)` met, `Some(false)` not met, `None` not measured.
    pub met: Option<bool>,
    /// The run it comes from.
    pub source: String,
}

fn row(what: &str, target: &str, measured: Option<(String, bool)>, source: &str) -> TargetRow {
    TargetRow {
        what: what.into(),
        target: target.into(),
        measured: measured.as_ref().map_or("-".into(), |(m, _)| m.clone()),
        met: measured.map(|(_, ok)| ok),
        source: source.into(),
    }
}

fn sv2(r: &Report) -> bool {
    r.mode.starts_with("sv2")
}

/// Builds the targets table from run reports (`name`, report).
pub fn targets(reports: &[(String, Report)]) -> Vec<TargetRow> {
    let mut rows = Vec::new();
    // Pool throughput: the best standard-channel share rate acknowledged.
    let best = reports
        .iter()
        .filter(|(_, r)| r.mode == "sv2-standard" && r.share_secs > 0.0)
        .max_by(|a, b| a.1.acked_per_sec.total_cmp(&b.1.acked_per_sec));
    let name = best.map_or("", |(n, _)| n.as_str());
    rows.push(row(
        "pool: standard shares/s acknowledged over Noise (1 pool core)",
        ">= 200 000/s",
        best.map(|(_, r)| {
            (
                format!("{:.0}/s", r.acked_per_sec),
                r.acked_per_sec >= 200_000.0,
            )
        }),
        name,
    ));
    rows.push(row(
        "pool: ratio to in-process standard-share validation (bench)",
        "(reported)",
        best.and_then(|(_, r)| {
            Some((
                format!(
                    "{:.2} % of {:.2} M/s",
                    r.ratio_to_validation_bench? * 100.0,
                    r.validation_bench_per_sec? / 1e6
                ),
                true,
            ))
        }),
        name,
    ));
    rows.push(row(
        "pool: CPU seconds per 1 000 shares",
        "(reported)",
        best.and_then(|(_, r)| r.server.as_ref()?.cpu_secs_per_1k_shares)
            .map(|c| (format!("{c:.4} s"), true)),
        name,
    ));
    // Latency at a fixed rate (an unpaced run measures its own queueing): with a
    // SubmitShares.Success per share, and with the pool's default batching.
    for (label, per_share) in [
        (
            "pool: submit -> Success p50 / p99 / p99.9, one ack per share",
            true,
        ),
        (
            "pool: submit -> Success p50 / p99 / p99.9, batched acks",
            false,
        ),
    ] {
        let lat = reports
            .iter()
            .filter(|(_, r)| {
                sv2(r)
                    && r.rate_requested > 0.0
                    && r.accept_latency.is_some()
                    && r.pool_ack
                        .is_some_and(|(batch, _)| (batch == 1) == per_share)
            })
            .max_by_key(|(_, r)| r.accept_latency.as_ref().map_or(0, |l| l.count));
        let what = match lat.and_then(|(_, r)| r.pool_ack) {
            Some((b, ms)) if b > 1 => format!("{label} ({b} shares / {ms} ms)"),
            _ => label.to_owned(),
        };
        rows.push(row(
            &what,
            "(reported)",
            lat.and_then(|(_, r)| r.accept_latency.as_ref()).map(|l| {
                (
                    format!("{:.2} / {:.2} / {:.2} ms", l.p50_ms, l.p99_ms, l.p999_ms),
                    true,
                )
            }),
            lat.map_or("", |(n, _)| n.as_str()),
        ));
    }
    // Connection scale: the run with the most idle connections.
    let scale = reports
        .iter()
        .filter(|(_, r)| sv2(r))
        .max_by_key(|(_, r)| r.connections_idle);
    let sname = scale.map_or("", |(n, _)| n.as_str());
    rows.push(row(
        "pool: concurrent SV2 connections (one channel each)",
        ">= 50 000",
        scale.map(|(_, r)| {
            (
                format!("{}", r.connections_idle),
                r.connections_idle >= 50_000,
            )
        }),
        sname,
    ));
    rows.push(row(
        "pool: RSS per idle connection",
        "<= 32 KiB",
        scale.and_then(|(_, r)| r.server.as_ref()).map(|s| {
            (
                format!("{:.1} KiB", s.rss_per_idle_connection_kib),
                s.rss_per_idle_connection_kib <= 32.0,
            )
        }),
        sname,
    ));
    rows.push(row(
        "pool: new-block fan-out p99 (every connection has SetNewPrevHash)",
        "<= 200 ms",
        scale.and_then(|(_, r)| r.fanout.as_ref()).map(|f| {
            (
                format!(
                    "{:.1} ms (p50 {:.1}, max {:.1})",
                    f.p99_ms, f.p50_ms, f.max_ms
                ),
                f.p99_ms <= 200.0,
            )
        }),
        sname,
    ));
    // Translator.
    let t_scale = reports
        .iter()
        .filter(|(_, r)| r.mode == "sv1")
        .max_by_key(|(_, r)| r.connections_idle);
    let tname = t_scale.map_or("", |(n, _)| n.as_str());
    rows.push(row(
        "translator: SV1 miners per instance",
        ">= 20 000",
        t_scale.map(|(_, r)| {
            (
                format!("{}", r.connections_idle),
                r.connections_idle >= 20_000,
            )
        }),
        tname,
    ));
    rows.push(row(
        "translator: RSS per idle miner",
        "<= 16 KiB",
        t_scale.and_then(|(_, r)| r.server.as_ref()).map(|s| {
            (
                format!("{:.1} KiB", s.rss_per_idle_connection_kib),
                s.rss_per_idle_connection_kib <= 16.0,
            )
        }),
        tname,
    ));
    let t_rate = reports
        .iter()
        .filter(|(_, r)| r.mode == "sv1" && r.share_secs > 0.0)
        .max_by(|a, b| a.1.acked_per_sec.total_cmp(&b.1.acked_per_sec));
    rows.push(row(
        "translator: SV1 shares/s validated and accepted",
        ">= 100 000/s",
        t_rate.map(|(_, r)| {
            (
                format!("{:.0}/s", r.acked_per_sec),
                r.acked_per_sec >= 100_000.0,
            )
        }),
        t_rate.map_or("", |(n, _)| n.as_str()),
    ));
    rows
}

/// The table as Markdown (for the README) or aligned text.
pub fn render(rows: &[TargetRow], markdown: bool) -> String {
    let verdict = |m: Option<bool>| match m {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "not measured",
    };
    let mut out = String::new();
    if markdown {
        out.push_str("| target | goal | measured | verdict | run |\n|---|---|---|---|---|\n");
        for r in rows {
            let v = if r.target == "(reported)" && r.met.is_some() {
                "-"
            } else {
                verdict(r.met)
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                r.what, r.target, r.measured, v, r.source
            );
        }
        return out;
    }
    let w0 = rows.iter().map(|r| r.what.len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.target.len()).max().unwrap_or(0);
    let w2 = rows.iter().map(|r| r.measured.len()).max().unwrap_or(0);
    for r in rows {
        let v = if r.target == "(reported)" && r.met.is_some() {
            ""
        } else {
            verdict(r.met)
        };
        let _ = writeln!(
            out,
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<12}  {}",
            r.what, r.target, r.measured, v, r.source
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::report::{Percentiles, ServerUsage};

    #[test]
    fn picks_the_right_run_for_each_target() {
        let throughput = Report {
            mode: "sv2-standard".into(),
            share_secs: 10.0,
            acked_per_sec: 250_000.0,
            validation_bench_per_sec: Some(10e6),
            ratio_to_validation_bench: Some(0.025),
            server: Some(ServerUsage {
                cpu_secs_per_1k_shares: Some(0.004),
                ..Default::default()
            }),
            accept_latency: Some(Percentiles {
                count: 10,
                ..Default::default()
            }),
            connections_idle: 50,
            ..Default::default()
        };
        let scale = Report {
            mode: "sv2-standard".into(),
            connections_idle: 19_000,
            server: Some(ServerUsage {
                rss_per_idle_connection_kib: 40.0,
                ..Default::default()
            }),
            fanout: Some(Percentiles {
                count: 3,
                p50_ms: 30.0,
                p99_ms: 90.0,
                p999_ms: 95.0,
                max_ms: 99.0,
            }),
            ..Default::default()
        };
        let paced = Report {
            mode: "sv2-standard".into(),
            rate_requested: 1000.0,
            pool_ack: Some((1, 100)),
            share_secs: 5.0,
            accept_latency: Some(Percentiles {
                count: 5,
                p50_ms: 1.0,
                ..Default::default()
            }),
            ..Default::default()
        };
        let rows = targets(&[
            ("tp".into(), throughput),
            ("scale".into(), scale),
            ("paced".into(), paced),
        ]);
        let get = |w: &str| rows.iter().find(|r| r.what.starts_with(w)).unwrap().clone();
        let t = get("pool: standard shares/s");
        assert_eq!((t.met, t.source.as_str()), (Some(true), "tp"));
        assert_eq!(get("pool: ratio").measured, "2.50 % of 10.00 M/s");
        assert_eq!(
            get("pool: submit -> Success p50 / p99 / p99.9, one").source,
            "paced"
        );
        assert_eq!(
            get("pool: submit -> Success p50 / p99 / p99.9, batched").met,
            None
        );
        let c = get("pool: concurrent");
        assert_eq!((c.met, c.measured.as_str()), (Some(false), "19000"));
        assert_eq!(get("pool: RSS").met, Some(false));
        assert_eq!(get("pool: new-block").met, Some(true));
        assert_eq!(get("translator: SV1 miners").met, None);
        let md = render(&rows, true);
        assert!(md.contains("| pool: concurrent SV2 connections (one channel each) | >= 50 000 | 19000 | NOT met | scale |"));
        assert!(render(&rows, false).contains("not measured"));
    }
}
