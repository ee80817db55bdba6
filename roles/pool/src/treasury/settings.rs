//! The ledger's view of the configuration: accounts, sites and their terms, worker → site
//! resolution, attribution window and timing.

use std::collections::HashMap;

use crate::accounting::WorkerId;
use crate::config::PoolConfig;

use super::config::{SiteConfig, WindowConfig};
use super::split::{SiteTerms, TreasuryAccount};
use super::UNASSIGNED_SITE;

/// Where the ledger is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// SQLite file.
    Sqlite(std::path::PathBuf),
    /// PostgreSQL URL.
    Postgres(String),
}

impl Database {
    /// Parses `treasury.database`: a `postgres://` / `postgresql://` URL or a file path
    /// (optionally prefixed `sqlite:`).
    pub fn parse(s: &str) -> Database {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Database::Postgres(s.to_owned())
        } else {
            let path = s
                .strip_prefix("sqlite://")
                .or_else(|| s.strip_prefix("sqlite:"));
            Database::Sqlite(path.unwrap_or(s).into())
        }
    }
}

/// A configured site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Id (worker prefix).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Country.
    pub country: String,
    /// Partner id.
    pub partner: Option<String>,
    /// Partner share in parts per million.
    pub partner_ppm: u32,
}

/// Everything the ledger needs from the configuration.
#[derive(Debug, Clone)]
pub struct LedgerSettings {
    /// Database location.
    pub database: Database,
    /// Treasury accounts (from `[[payout]]`), in configuration order.
    pub treasury: Vec<TreasuryAccount>,
    /// Configured sites.
    pub sites: Vec<Site>,
    /// Explicit worker → site assignments.
    pub worker_sites: HashMap<String, String>,
    /// Attribution window.
    pub window: WindowConfig,
    /// Confirmations for maturity.
    pub maturity: u32,
    /// Seconds after which a found block is attributed even without a later work flush.
    pub attribution_grace_secs: u64,
    /// Id of this pool node.
    pub node_id: u8,
    /// Raw work rows older than this many days are pruned.
    pub work_retention_days: u64,
}

/// Ledger account id of a treasury account name.
pub fn treasury_account(name: &str) -> String {
    format!("treasury/{name}")
}

/// Ledger account id of a partner.
pub fn partner_account(partner: &str) -> String {
    format!("partner/{partner}")
}

impl LedgerSettings {
    /// Settings from a validated config; `None` when `[treasury]` is absent.
    pub fn from_config(cfg: &PoolConfig) -> Option<LedgerSettings> {
        let t = cfg.treasury.as_ref()?;
        let mut treasury: Vec<TreasuryAccount> = Vec::new();
        for p in &cfg.payout {
            let name = p.account.clone().unwrap_or_else(|| p.address.clone());
            let account = treasury_account(&name);
            match treasury.iter_mut().find(|a| a.account == account) {
                Some(a) => a.weight += u64::from(p.weight),
                None => treasury.push(TreasuryAccount {
                    account,
                    weight: u64::from(p.weight),
                }),
            }
        }
        Some(LedgerSettings {
            database: Database::parse(&t.database),
            treasury,
            sites: cfg.site.iter().map(site_of).collect(),
            worker_sites: cfg
                .worker_sites
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            window: t.window,
            maturity: t.maturity_confirmations,
            attribution_grace_secs: t
                .attribution_grace_secs
                .unwrap_or(2 * cfg.accounting.flush_interval_secs + 5),
            node_id: cfg.server.node_id,
            work_retention_days: t.work_retention_days,
        })
    }

    /// The site a worker's work counts for: an explicit `[worker_sites]` entry (by the
    /// identity as sent, or in `site.worker` form), else the identity's site prefix when it
    /// is a configured site, else [`UNASSIGNED_SITE`].
    pub fn site_of(&self, worker: &WorkerId) -> String {
        let full = worker.full();
        if let Some(s) = self.worker_sites.get(&full) {
            return s.clone();
        }
        if worker.site == "default" {
            if let Some(s) = self.worker_sites.get(&worker.worker) {
                return s.clone();
            }
        }
        if self.sites.iter().any(|s| s.id == worker.site) {
            worker.site.clone()
        } else {
            UNASSIGNED_SITE.to_owned()
        }
    }

    /// Revenue terms of a site (no partner for unknown sites).
    pub fn terms(&self, site: &str) -> SiteTerms {
        match self.sites.iter().find(|s| s.id == site) {
            Some(Site {
                partner: Some(p),
                partner_ppm,
                ..
            }) => SiteTerms {
                partner_account: Some(partner_account(p)),
                partner_ppm: *partner_ppm,
            },
            _ => SiteTerms {
                partner_account: None,
                partner_ppm: 0,
            },
        }
    }

    /// Partner ids, sorted and deduplicated.
    pub fn partners(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .sites
            .iter()
            .filter_map(|s| s.partner.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

fn site_of(s: &SiteConfig) -> Site {
    Site {
        id: s.id.clone(),
        name: if s.name.is_empty() {
            s.id.clone()
        } else {
            s.name.clone()
        },
        country: s.country.clone(),
        partner: s.partner.clone(),
        partner_ppm: (s.partner_share * 1_000_000.0)
            .round()
            .clamp(0.0, 1_000_000.0) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LedgerSettings {
        LedgerSettings {
            database: Database::parse(":memory:"),
            treasury: vec![],
            sites: vec![Site {
                id: "fra1".into(),
                name: "Frankfurt".into(),
                country: "DE".into(),
                partner: Some("hostco".into()),
                partner_ppm: 291_000,
            }],
            worker_sites: [
                ("rig-17".to_owned(), "fra1".to_owned()),
                ("x.y".to_owned(), "fra1".to_owned()),
            ]
            .into_iter()
            .collect(),
            window: WindowConfig::SincePreviousBlock,
            maturity: 100,
            attribution_grace_secs: 10,
            node_id: 0,
            work_retention_days: 90,
        }
    }

    #[test]
    fn worker_to_site() {
        let s = settings();
        assert_eq!(s.site_of(&WorkerId::parse("fra1.rack4")), "fra1");
        assert_eq!(s.site_of(&WorkerId::parse("rig-17")), "fra1");
        assert_eq!(s.site_of(&WorkerId::parse("x.y")), "fra1");
        assert_eq!(s.site_of(&WorkerId::parse("ams9.rack1")), UNASSIGNED_SITE);
        assert_eq!(s.site_of(&WorkerId::parse("solo")), UNASSIGNED_SITE);
        assert_eq!(s.terms("fra1").partner_ppm, 291_000);
        assert_eq!(
            s.terms("fra1").partner_account.as_deref(),
            Some("partner/hostco")
        );
        assert_eq!(s.terms("nope").partner_account, None);
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            Database::parse("postgres://u@h/db"),
            Database::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            Database::parse("sqlite:/a/b.db"),
            Database::Sqlite("/a/b.db".into())
        );
        assert_eq!(
            Database::parse("ledger.db"),
            Database::Sqlite("ledger.db".into())
        );
    }
}
