//! Configuration sections of the treasury: `[treasury]`, `[[site]]`, `[worker_sites]` and
//! `[dashboard]`. All are optional; without `[treasury]` the pool keeps no ledger.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `[treasury]`: where the ledger lives and how rewards are attributed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreasuryConfig {
    /// `postgres://user:password@host/db` (several pool nodes share one ledger; TLS per libpq's
    /// `sslmode` and `sslrootcert` URL parameters) or a SQLite file path (optionally prefixed
    /// `sqlite:`), created on first start.
    pub database: String,
    /// Confirmations after which credits become mature (Bitcoin's coinbase maturity: 100).
    #[serde(default = "default_maturity")]
    pub maturity_confirmations: u32,
    /// Which work a block's reward is split over.
    #[serde(default)]
    pub window: WindowConfig,
    /// How often the node is asked for its best block, milliseconds.
    #[serde(default = "default_check_ms")]
    pub check_interval_ms: u64,
    /// A found block is attributed at the latest this many seconds after it was found, even
    /// when no later work flush arrived (default: twice the flush interval plus 5 s).
    #[serde(default)]
    pub attribution_grace_secs: Option<u64>,
    /// Blocks of the best chain scanned per tracker round for blocks of this pool missing from
    /// the ledger (found while the pool was being killed) when catching up after a restart; the
    /// scan resumes where it stopped, so no block is skipped however long the pool was down.
    #[serde(default = "default_scan_limit")]
    pub recovery_scan_limit: u64,
    /// Raw per-flush work rows older than this are pruned (per-minute site figures are kept).
    #[serde(default = "default_retention_days")]
    pub work_retention_days: u64,
}

/// `window` of `[treasury]`: the work a block's reward is split over.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowConfig {
    /// All work that reached the ledger after the previous block's window, up to this block.
    #[default]
    SincePreviousBlock,
    /// PPLNS by difficulty: the most recent `difficulty` of accepted share difficulty.
    Difficulty {
        /// Window size in share difficulty.
        difficulty: f64,
    },
    /// PPLNS by time: work of the last `seconds` before the block.
    Time {
        /// Window length, seconds.
        seconds: u64,
    },
}

/// One `[[site]]`: a hosted location and its hosting partner.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Site id: the part before the first `.` of a worker identity (`fra1.rack4-017`).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Country (ISO code or name).
    #[serde(default)]
    pub country: String,
    /// Hosting partner id; one ledger account per partner.
    #[serde(default)]
    pub partner: Option<String>,
    /// The partner's share of the site's revenue as a fraction, e.g. `0.291` for 29.1%.
    #[serde(default)]
    pub partner_share: f64,
}

/// `[dashboard]`: the read-only web dashboard served next to `/metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// Serve the dashboard at `/` of the metrics address.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// When set, the dashboard needs `Authorization: Bearer <token>` or `?token=<token>`;
    /// when unset only loopback clients may see it.
    #[serde(default)]
    pub token: Option<String>,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            enabled: true,
            token: None,
        }
    }
}

/// Explicit worker → site assignments (`[worker_sites]`), keyed by the identity as the miner
/// sends it (`rig-17`) or in `site.worker` form.
pub type WorkerSites = BTreeMap<String, String>;

fn yes() -> bool {
    true
}
fn default_maturity() -> u32 {
    100
}
fn default_check_ms() -> u64 {
    1000
}
fn default_scan_limit() -> u64 {
    2016
}
fn default_retention_days() -> u64 {
    90
}

/// Ids must be short and plain: they end up in metric labels, CSV and SQL parameters.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':'))
}

/// Problems of the treasury sections, as `(key, problem, fix)`.
pub fn validate(
    treasury: &Option<TreasuryConfig>,
    sites: &[SiteConfig],
    worker_sites: &WorkerSites,
    flush_interval_secs: u64,
) -> Result<(), (String, String, String)> {
    let err = |k: String, p: String, f: &str| Err((k, p, f.to_owned()));
    let mut seen = std::collections::HashSet::new();
    for (i, s) in sites.iter().enumerate() {
        if !valid_id(&s.id) || s.id.contains('.') {
            return err(
                format!("site[{i}].id"),
                format!("`{}` is not a plain id", s.id),
                "use 1..64 of [A-Za-z0-9_-:], e.g. \"fra1\"",
            );
        }
        if s.id == super::UNASSIGNED_SITE {
            return err(
                format!("site[{i}].id"),
                format!("`{}` is reserved for work of unknown sites", s.id),
                "pick another id",
            );
        }
        if !seen.insert(s.id.clone()) {
            return err(
                format!("site[{i}].id"),
                format!("`{}` is listed twice", s.id),
                "give every [[site]] its own id",
            );
        }
        if !(s.partner_share.is_finite() && (0.0..=1.0).contains(&s.partner_share)) {
            return err(
                format!("site[{i}].partner_share"),
                format!("{} is not a fraction between 0 and 1", s.partner_share),
                "write 29.1% as 0.291",
            );
        }
        let ppm = s.partner_share * 1_000_000.0;
        if (ppm - ppm.round()).abs() > 1e-6 {
            return err(
                format!("site[{i}].partner_share"),
                format!("{} has more than 6 decimals", s.partner_share),
                "round it to parts per million, e.g. 0.291",
            );
        }
        match &s.partner {
            Some(p) if !valid_id(p) => {
                return err(
                    format!("site[{i}].partner"),
                    format!("`{p}` is not a plain id"),
                    "use 1..64 of [A-Za-z0-9_-:], e.g. \"hostco\"",
                )
            }
            None if s.partner_share > 0.0 => {
                return err(
                    format!("site[{i}].partner"),
                    "partner_share is set but no partner".into(),
                    "add partner = \"<partner id>\" or remove partner_share",
                )
            }
            _ => {}
        }
    }
    for (worker, site) in worker_sites {
        if !seen.contains(site) {
            return err(
                format!("worker_sites.\"{worker}\""),
                format!("site `{site}` is not a [[site]]"),
                "add the [[site]] or fix the id",
            );
        }
    }
    let Some(t) = treasury else {
        return Ok(());
    };
    if t.database.trim().is_empty() {
        return err(
            "treasury.database".into(),
            "is empty".into(),
            "use a file path such as \"/var/lib/sv2-pool/treasury.db\" or a postgres:// URL",
        );
    }
    if let super::settings::Database::Postgres(url) = super::settings::Database::parse(&t.database)
    {
        if let Err(e) = super::store::pg_tls::parse_url(&url) {
            return err(
                "treasury.database".into(),
                e,
                "use libpq's sslmode values; sslrootcert=/path/ca.pem goes with sslmode=verify-ca or verify-full",
            );
        }
    }
    if t.maturity_confirmations == 0 {
        return err(
            "treasury.maturity_confirmations".into(),
            "is 0".into(),
            "use 100 (Bitcoin's coinbase maturity)",
        );
    }
    if t.check_interval_ms < 50 {
        return err(
            "treasury.check_interval_ms".into(),
            "below 50 ms".into(),
            "use e.g. 1000",
        );
    }
    if flush_interval_secs > 60 {
        return err(
            "accounting.flush_interval_secs".into(),
            "above 60 s: the treasury counts uptime per minute".into(),
            "use 5..60",
        );
    }
    if t.work_retention_days == 0 {
        return err(
            "treasury.work_retention_days".into(),
            "is 0".into(),
            "use e.g. 90",
        );
    }
    match t.window {
        WindowConfig::Difficulty { difficulty }
            if !(difficulty.is_finite() && difficulty > 0.0) =>
        {
            err(
                "treasury.window.difficulty".into(),
                "must be a positive number".into(),
                "use e.g. 8 times the network difficulty",
            )
        }
        WindowConfig::Time { seconds }
            if seconds == 0 || seconds > t.work_retention_days.saturating_mul(86_400) =>
        {
            err(
                "treasury.window.seconds".into(),
                "must be positive and within treasury.work_retention_days".into(),
                "use e.g. 86400",
            )
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(id: &str, partner: Option<&str>, share: f64) -> SiteConfig {
        SiteConfig {
            id: id.into(),
            name: String::new(),
            country: String::new(),
            partner: partner.map(str::to_owned),
            partner_share: share,
        }
    }

    #[test]
    fn site_checks() {
        let none = WorkerSites::new();
        assert!(validate(&None, &[site("fra1", Some("h"), 0.291)], &none, 5).is_ok());
        assert!(validate(&None, &[site("a.b", None, 0.0)], &none, 5).is_err());
        assert!(validate(&None, &[site("a", None, 0.1)], &none, 5).is_err());
        assert!(validate(&None, &[site("a", Some("h"), 1.5)], &none, 5).is_err());
        assert!(validate(&None, &[site("a", Some("h"), 0.1234567)], &none, 5).is_err());
        assert!(validate(
            &None,
            &[site("a", None, 0.0), site("a", None, 0.0)],
            &none,
            5
        )
        .is_err());
        let mut ws = WorkerSites::new();
        ws.insert("rig".into(), "nowhere".into());
        assert!(validate(&None, &[site("a", None, 0.0)], &ws, 5).is_err());
    }

    #[test]
    fn postgres_tls_parameters_are_checked_at_start() {
        let treasury = |database: &str| {
            Some(TreasuryConfig {
                database: database.into(),
                maturity_confirmations: default_maturity(),
                window: WindowConfig::default(),
                check_interval_ms: default_check_ms(),
                attribution_grace_secs: None,
                recovery_scan_limit: default_scan_limit(),
                work_retention_days: default_retention_days(),
            })
        };
        let none = WorkerSites::new();
        let ok = "postgres://pool@db.example/ledger?sslmode=verify-full&sslrootcert=/etc/ca.pem";
        assert!(validate(&treasury(ok), &[], &none, 5).is_ok());
        let (key, problem, fix) = validate(
            &treasury("postgres://db.example/l?sslmode=on"),
            &[],
            &none,
            5,
        )
        .unwrap_err();
        assert_eq!(key, "treasury.database");
        assert!(problem.contains("sslmode `on`"), "{problem}");
        assert!(fix.contains("verify-full"), "{fix}");
    }
}
