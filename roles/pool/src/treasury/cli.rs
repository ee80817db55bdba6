//! `sv2-pool treasury <report>`: ledger reports for people (table) and programs (csv, json).

use super::format::{Cell, Format, Table, Unit};
use super::ledger::Ledger;
use super::period::{format_datetime, parse_time, period_containing, Period, Range};
use super::reports;
use crate::accounting::unix_now;
use crate::config::PoolConfig;

/// Arguments of `sv2-pool treasury`.
#[derive(Debug, Clone, clap::Args)]
pub struct TreasuryArgs {
    /// Which report.
    #[command(subcommand)]
    pub report: Report,
    /// Start of the range (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] UTC, or unix seconds).
    #[arg(long, global = true)]
    pub from: Option<String>,
    /// End of the range, exclusive (same forms as --from; default: now).
    #[arg(long, global = true)]
    pub to: Option<String>,
    /// A calendar period instead of --from/--to: the one containing --date (default: now).
    #[arg(long, global = true, value_enum)]
    pub period: Option<Period>,
    /// Date inside the --period (default: today).
    #[arg(long, global = true)]
    pub date: Option<String>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value = "table")]
    pub format: Format,
}

/// The reports.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Report {
    /// Balances per account: immature, mature, orphaned.
    Balances,
    /// Blocks found, with status and confirmations (all blocks unless a range is given).
    Blocks {
        /// At most this many (newest first).
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// BTC mined per site and per partner (default range: this quarter).
    Mined,
    /// Uptime per site: share of minutes with accepted work (default range: this quarter).
    Uptime,
    /// Average hashrate per site (default range: this quarter).
    Hashrate,
    /// Checks that balances equal the sum of entries and blocks sum to their reward.
    Audit,
}

/// Resolves --from/--to/--period/--date; `None` when none is given.
pub fn explicit_range(args: &TreasuryArgs, now: u64) -> Result<Option<Range>, String> {
    if let Some(p) = args.period {
        if args.from.is_some() || args.to.is_some() {
            return Err("give either --period or --from/--to, not both".into());
        }
        let anchor = args
            .date
            .as_deref()
            .map(parse_time)
            .transpose()?
            .unwrap_or(now);
        return Ok(Some(period_containing(p, anchor)));
    }
    if args.date.is_some() {
        return Err("--date needs --period".into());
    }
    if args.from.is_none() && args.to.is_none() {
        return Ok(None);
    }
    let from = args
        .from
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(0);
    let to = args
        .to
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(now + 1);
    if to <= from {
        return Err("--to must be after --from".into());
    }
    Ok(Some(Range { from, to }))
}

/// Runs a report against the configured ledger and returns its text.
pub fn run(cfg: &PoolConfig, args: &TreasuryArgs) -> Result<String, String> {
    let ledger = super::open_ledger(cfg)
        .map_err(|e| e.to_string())?
        .ok_or("the config has no [treasury] section: there is no ledger to report on")?;
    render(&ledger, args, unix_now())
}

/// Computes a report from `ledger` as of `now`.
pub fn render(ledger: &Ledger, args: &TreasuryArgs, now: u64) -> Result<String, String> {
    let explicit = explicit_range(args, now)?;
    let range = explicit.unwrap_or_else(|| period_containing(Period::Quarter, now));
    let tables = tables(ledger, &args.report, explicit, range, now).map_err(|e| e.to_string())?;
    Ok(match args.format {
        Format::Json if tables.len() > 1 => {
            let mut m = serde_json::Map::new();
            for (key, t) in &tables {
                let v: serde_json::Value =
                    serde_json::from_str(&t.render(Format::Json)).map_err(|e| e.to_string())?;
                m.insert((*key).to_owned(), v);
            }
            let mut s = serde_json::to_string_pretty(&serde_json::Value::Object(m))
                .map_err(|e| e.to_string())?;
            s.push('\n');
            s
        }
        Format::Table => tables
            .iter()
            .map(|(_, t)| t.render(Format::Table))
            .collect::<Vec<_>>()
            .join("\n"),
        f => tables
            .iter()
            .map(|(_, t)| t.render(f))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// The tables of one report (key, table).
pub fn tables(
    ledger: &Ledger,
    report: &Report,
    explicit: Option<Range>,
    range: Range,
    now: u64,
) -> Result<Vec<(&'static str, Table)>, super::store::StoreError> {
    Ok(match report {
        Report::Balances => vec![("balances", balances_table(ledger)?)],
        Report::Blocks { limit } => {
            let tip = reports::tip_height(ledger)?;
            let blocks = reports::blocks(ledger, explicit, *limit)?;
            let title = match (explicit, tip) {
                (Some(r), Some(t)) => format!("Blocks found {} (tip {t})", r.label()),
                (None, Some(t)) => format!("Blocks found (tip {t})"),
                (Some(r), None) => format!("Blocks found {}", r.label()),
                (None, None) => "Blocks found".to_owned(),
            };
            vec![(
                "blocks",
                Table {
                    title,
                    columns: vec![
                        "height",
                        "hash",
                        "found",
                        "status",
                        "confirmations",
                        "reward",
                        "fees",
                        "sites",
                        "finder",
                    ],
                    rows: blocks
                        .iter()
                        .map(|b| {
                            vec![
                                Cell::Int(b.height as i64),
                                Cell::Text(b.hash.clone()),
                                Cell::Text(format_datetime(b.found_at)),
                                Cell::Text(b.status.clone()),
                                b.confirmations.map_or(Cell::Empty, |c| Cell::Int(c as i64)),
                                Cell::Sats(b.reward_sats),
                                Cell::Sats(b.fees_sats),
                                Cell::Text(
                                    b.sites
                                        .iter()
                                        .map(|(s, sats)| format!("{s}:{}", reports::btc(*sats)))
                                        .collect::<Vec<_>>()
                                        .join(" "),
                                ),
                                Cell::Text(b.finder.clone()),
                            ]
                        })
                        .collect(),
                },
            )]
        }
        Report::Mined => {
            let (sites, partners) = reports::mined(ledger, range)?;
            vec![
                (
                    "sites",
                    Table {
                        title: format!("BTC mined per site, blocks found {}", range.label()),
                        columns: vec![
                            "site",
                            "partner",
                            "blocks",
                            "mined",
                            "partner_share",
                            "treasury",
                            "orphaned",
                        ],
                        rows: sites
                            .iter()
                            .map(|s| {
                                vec![
                                    Cell::Text(s.site.clone()),
                                    s.partner.clone().map_or(Cell::Empty, Cell::Text),
                                    Cell::Int(s.blocks as i64),
                                    Cell::Sats(s.mined_sats),
                                    Cell::Sats(s.partner_sats),
                                    Cell::Sats(s.treasury_sats),
                                    Cell::Sats(s.orphaned_sats),
                                ]
                            })
                            .collect(),
                    },
                ),
                (
                    "partners",
                    Table {
                        title: format!("Per partner, blocks found {}", range.label()),
                        columns: vec![
                            "partner",
                            "sites",
                            "sites_mined",
                            "partner_share",
                            "orphaned",
                        ],
                        rows: partners
                            .iter()
                            .map(|p| {
                                vec![
                                    Cell::Text(p.partner.clone()),
                                    Cell::Text(p.sites.join(" ")),
                                    Cell::Sats(p.sites_mined_sats),
                                    Cell::Sats(p.partner_sats),
                                    Cell::Sats(p.orphaned_sats),
                                ]
                            })
                            .collect(),
                    },
                ),
            ]
        }
        Report::Uptime | Report::Hashrate => {
            let act = reports::activity(ledger, range, now)?;
            let uptime = matches!(report, Report::Uptime);
            vec![(
                if uptime { "uptime" } else { "hashrate" },
                Table {
                    title: format!(
                        "{} per site {}",
                        if uptime { "Uptime" } else { "Average hashrate" },
                        range.label()
                    ),
                    columns: if uptime {
                        vec!["site", "uptime", "minutes_up", "minutes_total"]
                    } else {
                        vec!["site", "hashrate_hps", "shares", "difficulty"]
                    },
                    rows: act
                        .iter()
                        .map(|a| {
                            if uptime {
                                vec![
                                    Cell::Text(a.site.clone()),
                                    Cell::Ratio(a.uptime),
                                    Cell::Int(a.minutes_up as i64),
                                    Cell::Int(a.minutes_total as i64),
                                ]
                            } else {
                                vec![
                                    Cell::Text(a.site.clone()),
                                    Cell::Num(a.hashrate, Unit::Hashrate),
                                    Cell::Int(a.shares as i64),
                                    Cell::Num(a.difficulty, Unit::Decimal),
                                ]
                            }
                        })
                        .collect(),
                },
            )]
        }
        Report::Audit => {
            let a = ledger.audit()?;
            let mut rows = vec![vec![
                Cell::Text("entries".into()),
                Cell::Text(a.entries.to_string()),
            ]];
            rows.push(vec![
                Cell::Text("result".into()),
                Cell::Text(if a.is_clean() { "ok" } else { "MISMATCH" }.into()),
            ]);
            for m in a.balance_mismatches.iter().chain(&a.block_mismatches) {
                rows.push(vec![Cell::Text("mismatch".into()), Cell::Text(m.clone())]);
            }
            vec![(
                "audit",
                Table {
                    title: "Ledger audit".into(),
                    columns: vec!["check", "value"],
                    rows,
                },
            )]
        }
    })
}

/// The balances table.
pub fn balances_table(ledger: &Ledger) -> Result<Table, super::store::StoreError> {
    let b = reports::balances(ledger)?;
    Ok(Table {
        title: "Balances".into(),
        columns: vec!["account", "kind", "immature", "mature", "orphaned"],
        rows: b
            .iter()
            .map(|a| {
                vec![
                    Cell::Text(a.account.clone()),
                    Cell::Text(a.kind.clone()),
                    Cell::Sats(a.immature),
                    Cell::Sats(a.mature),
                    Cell::Sats(a.orphaned),
                ]
            })
            .collect(),
    })
}
