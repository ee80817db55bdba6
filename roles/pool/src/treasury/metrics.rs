//! Treasury figures in the Prometheus text format, computed from the ledger at scrape time
//! (the same report functions as the CLI and the dashboard).

use std::fmt::Write as _;

use super::ledger::Ledger;
use super::period::{period_containing, Period, Range};
use super::reports;
use super::store::StoreError;

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders the treasury metrics as of `now`:
/// * `treasury_balance_sats{account,kind,state}`: balances (immature / mature / orphaned);
/// * `treasury_mined_sats{site,partner,period}`: BTC mined per site (`period` = `all` or
///   `quarter`, the current calendar quarter), immature + mature, in satoshis;
/// * `treasury_partner_sats{partner,period}`: the partners' shares of it;
/// * `treasury_site_uptime_ratio{site,window}` and `treasury_site_hashrate_hps{site,window}`
///   over the last `24h` and the current `quarter`;
/// * `treasury_blocks{status}`: blocks per status.
pub fn render(ledger: &Ledger, now: u64) -> Result<String, StoreError> {
    let mut out = String::new();
    let balances = reports::balances(ledger)?;
    out.push_str("# HELP treasury_balance_sats Ledger balance per account and state, satoshis.\n# TYPE treasury_balance_sats gauge\n");
    for b in &balances {
        for (state, v) in [
            ("immature", b.immature),
            ("mature", b.mature),
            ("orphaned", b.orphaned),
        ] {
            let _ = writeln!(
                out,
                "treasury_balance_sats{{account=\"{}\",kind=\"{}\",state=\"{state}\"}} {v}",
                label(&b.account),
                label(&b.kind)
            );
        }
    }
    let quarter = period_containing(Period::Quarter, now);
    let all = Range {
        from: 0,
        to: now + 1,
    };
    out.push_str("# HELP treasury_mined_sats BTC mined per site (immature + mature credits), satoshis.\n# TYPE treasury_mined_sats gauge\n");
    let mut partner_lines = String::new();
    for (period, range) in [("all", all), ("quarter", quarter)] {
        let (sites, partners) = reports::mined(ledger, range)?;
        for s in &sites {
            let _ = writeln!(
                out,
                "treasury_mined_sats{{site=\"{}\",partner=\"{}\",period=\"{period}\"}} {}",
                label(&s.site),
                label(s.partner.as_deref().unwrap_or("")),
                s.mined_sats
            );
        }
        for p in &partners {
            let _ = writeln!(
                partner_lines,
                "treasury_partner_sats{{partner=\"{}\",period=\"{period}\"}} {}",
                label(&p.partner),
                p.partner_sats
            );
        }
    }
    out.push_str("# HELP treasury_partner_sats Partners' share of BTC mined, satoshis.\n# TYPE treasury_partner_sats gauge\n");
    out.push_str(&partner_lines);
    let day = Range {
        from: now.saturating_sub(86_400),
        to: now,
    };
    let mut hashrate_lines = String::new();
    out.push_str("# HELP treasury_site_uptime_ratio Share of minutes with accepted work.\n# TYPE treasury_site_uptime_ratio gauge\n");
    for (window, range) in [("24h", day), ("quarter", quarter)] {
        for a in reports::activity(ledger, range, now)? {
            let _ = writeln!(
                out,
                "treasury_site_uptime_ratio{{site=\"{}\",window=\"{window}\"}} {}",
                label(&a.site),
                a.uptime
            );
            let _ = writeln!(
                hashrate_lines,
                "treasury_site_hashrate_hps{{site=\"{}\",window=\"{window}\"}} {}",
                label(&a.site),
                a.hashrate
            );
        }
    }
    out.push_str("# HELP treasury_site_hashrate_hps Average hashrate from accepted share difficulty.\n# TYPE treasury_site_hashrate_hps gauge\n");
    out.push_str(&hashrate_lines);
    out.push_str("# HELP treasury_blocks Blocks found per status.\n# TYPE treasury_blocks gauge\n");
    for (status, n) in reports::block_counts(ledger)? {
        let _ = writeln!(out, "treasury_blocks{{status=\"{}\"}} {n}", label(&status));
    }
    Ok(out)
}
