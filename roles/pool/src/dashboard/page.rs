//! The dashboard page: server-rendered HTML (works without JavaScript) with an inline SVG
//! chart; the figures come from the same report functions as the CLI.

use std::fmt::Write as _;

use crate::treasury::ledger::Ledger;
use crate::treasury::period::{format_datetime, period_containing, Period, Range};
use crate::treasury::reports::{self, btc, human_hashrate, HashrateSeries};
use crate::treasury::store::StoreError;

/// Page template; `{{TITLE}}`, `{{GENERATED}}` and `{{MAIN}}` are filled in.
const TEMPLATE: &str = include_str!("static/index.html");

/// Colours of the chart lines, in site order.
const COLOURS: [&str; 8] = [
    "#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#be185d", "#4b5563",
];

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn sats_cell(out: &mut String, attrs: &str, sats: i64) {
    let _ = write!(
        out,
        "<td class=\"num sats\" {attrs} data-sats=\"{sats}\">{}</td>",
        btc(sats)
    );
}

/// Renders the whole page as of `now`.
pub fn render(ledger: &Ledger, now: u64) -> Result<String, StoreError> {
    let mut main = String::new();
    let tip = reports::tip_height(ledger)?;
    let _ = write!(
        main,
        "<p class=\"meta\">Ledger: {} &middot; last checked tip: <span id=\"tip-height\">{}</span></p>",
        ledger.backend_kind(),
        tip.map_or("-".to_owned(), |t| t.to_string())
    );

    // Balances
    main.push_str("<section><h2>Balances</h2><table id=\"balances\"><thead><tr><th>Account</th><th>Kind</th><th>Immature (BTC)</th><th>Mature (BTC)</th><th>Orphaned (BTC)</th></tr></thead><tbody>");
    for b in reports::balances(ledger)? {
        let a = esc(&b.account);
        let _ = write!(
            main,
            "<tr data-account=\"{a}\"><td>{a}</td><td>{}</td>",
            esc(&b.kind)
        );
        for (bucket, v) in [
            ("immature", b.immature),
            ("mature", b.mature),
            ("orphaned", b.orphaned),
        ] {
            sats_cell(
                &mut main,
                &format!("data-account=\"{a}\" data-bucket=\"{bucket}\""),
                v,
            );
        }
        main.push_str("</tr>");
    }
    main.push_str("</tbody></table></section>");

    // Sites
    let day = Range {
        from: now.saturating_sub(86_400),
        to: now,
    };
    let quarter = period_containing(Period::Quarter, now);
    let sites = reports::sites(ledger)?;
    let act = reports::activity(ledger, day, now)?;
    let (mined, _) = reports::mined(ledger, quarter)?;
    let _ = write!(
        main,
        "<section><h2>Sites</h2><table id=\"sites\"><thead><tr><th>Site</th><th>Name</th><th>Country</th><th>Partner</th><th>Partner share</th>\
         <th>Uptime 24 h</th><th>Hashrate 24 h</th><th>Mined this quarter (BTC)</th><th>Partner part (BTC)</th></tr></thead><tbody>"
    );
    for a in &act {
        let info = sites.iter().find(|s| s.id == a.site);
        let m = mined.iter().find(|m| m.site == a.site);
        let id = esc(&a.site);
        let _ = write!(
            main,
            "<tr data-site=\"{id}\"><td>{id}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\" data-site=\"{id}\" data-uptime=\"{}\">{:.2}%</td><td class=\"num\" data-hashrate=\"{}\">{}</td>",
            esc(info.map_or("", |s| s.name.as_str())),
            esc(info.map_or("", |s| s.country.as_str())),
            esc(info.and_then(|s| s.partner.as_deref()).unwrap_or("-")),
            info.map_or("-".to_owned(), |s| format!("{:.1}%", s.partner_share_ppm as f64 / 10_000.0)),
            a.uptime,
            a.uptime * 100.0,
            a.hashrate,
            human_hashrate(a.hashrate)
        );
        sats_cell(
            &mut main,
            &format!("data-site=\"{id}\" data-mined=\"quarter\""),
            m.map_or(0, |m| m.mined_sats),
        );
        sats_cell(
            &mut main,
            &format!("data-site=\"{id}\" data-partner-part=\"quarter\""),
            m.map_or(0, |m| m.partner_sats),
        );
        main.push_str("</tr>");
    }
    main.push_str("</tbody></table></section>");

    // Chart
    let series = reports::hashrate_series(ledger, day, 900)?;
    main.push_str("<section><h2>Hashrate per site, last 24 h</h2>");
    main.push_str(&chart(&series));
    main.push_str("</section>");

    // Blocks
    let counts = reports::block_counts(ledger)?;
    let _ = write!(
        main,
        "<section><h2>Blocks found</h2><p class=\"meta\" id=\"block-counts\">"
    );
    for (status, n) in &counts {
        let _ = write!(
            main,
            "<span class=\"status {s}\" data-status=\"{s}\" data-count=\"{n}\">{s}: {n}</span> ",
            s = esc(status)
        );
    }
    main.push_str("</p><table id=\"blocks\"><thead><tr><th>Height</th><th>Hash</th><th>Found (UTC)</th><th>Status</th><th>Confirmations</th><th>Reward (BTC)</th><th>Sites</th></tr></thead><tbody>");
    for b in reports::blocks(ledger, None, 50)? {
        let h = esc(&b.hash);
        let _ = write!(
            main,
            "<tr data-hash=\"{h}\"><td class=\"num\">{}</td><td class=\"hash\" title=\"{h}\">{}…</td><td>{}</td>\
             <td><span class=\"status {s}\" data-block-status=\"{s}\">{s}</span></td><td class=\"num\">{}</td>",
            b.height,
            esc(b.hash.get(..16).unwrap_or(&b.hash)),
            format_datetime(b.found_at),
            b.confirmations.map_or("-".to_owned(), |c| c.to_string()),
            s = esc(&b.status),
        );
        sats_cell(&mut main, &format!("data-hash=\"{h}\""), b.reward_sats);
        let sites: Vec<String> = b
            .sites
            .iter()
            .map(|(s, sats)| format!("{}: {}", esc(s), btc(*sats)))
            .collect();
        let _ = write!(main, "<td>{}</td></tr>", sites.join(", "));
    }
    main.push_str("</tbody></table></section>");

    Ok(TEMPLATE
        .replace("{{TITLE}}", "Treasury dashboard")
        .replace("{{GENERATED}}", &format_datetime(now))
        .replace("{{MAIN}}", &main))
}

/// An inline SVG line chart of the series (one line per site).
pub fn chart(series: &HashrateSeries) -> String {
    const W: f64 = 900.0;
    const H: f64 = 260.0;
    const L: f64 = 70.0;
    const B: f64 = 30.0;
    let n = series.sites.first().map_or(0, |(_, v)| v.len());
    let max = series
        .sites
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0_f64, f64::max);
    let top = if max > 0.0 { max * 1.1 } else { 1.0 };
    let x = |i: usize| L + (W - L - 10.0) * (i as f64) / ((n.max(2) - 1) as f64);
    let y = |v: f64| (H - B) - (H - B - 10.0) * v / top;
    let mut s = format!(
        "<svg id=\"hashrate-chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"Hashrate per site over the last 24 hours\">"
    );
    for k in 0..=4 {
        let v = top * f64::from(k) / 4.0;
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{L}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - 10.0,
            L - 6.0,
            y(v) + 4.0,
            esc(&human_hashrate(v)),
            y = y(v)
        );
    }
    for (k, label) in [
        (0usize, "-24 h"),
        (n / 2, "-12 h"),
        (n.saturating_sub(1), "now"),
    ] {
        let _ = write!(
            s,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            x(k),
            H - 8.0
        );
    }
    for (i, (site, values)) in series.sites.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(j, v)| format!("{:.1},{:.1}", x(j), y(*v)))
            .collect();
        let _ = write!(
            s,
            "<polyline class=\"series\" data-site=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>",
            esc(site),
            points.join(" "),
            esc(site)
        );
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"12\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text class=\"legend\" x=\"{:.1}\" y=\"21\">{}</text>",
            L + 10.0 + 120.0 * i as f64,
            L + 24.0 + 120.0 * i as f64,
            esc(site)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn chart_has_a_line_per_site() {
        let svg = chart(&HashrateSeries {
            from: 0,
            bucket_secs: 900,
            sites: vec![
                ("a".into(), vec![1.0, 2.0, 3.0]),
                ("b".into(), vec![0.0; 3]),
            ],
        });
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("data-site=\"a\""));
    }
}
