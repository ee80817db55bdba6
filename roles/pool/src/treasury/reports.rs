//! Report figures computed from the ledger; the CLI, the Prometheus metrics and the dashboard
//! all use these functions, so they always show the same numbers.

use std::collections::BTreeMap;

use super::ledger::Ledger;
use super::period::Range;
use super::store::{Conn, StoreError};
use super::UNASSIGNED_SITE;

/// 2^32: hashes per unit of share difficulty.
pub const HASHES_PER_DIFFICULTY: f64 = 4_294_967_296.0;

/// One account's balances (satoshis).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccountBalance {
    /// Account id (`treasury/<name>` / `partner/<id>`).
    pub account: String,
    /// `treasury` or `partner`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Credited, not yet 100 confirmations deep.
    pub immature: i64,
    /// Credited and mature.
    pub mature: i64,
    /// Reversed because the block left the best chain.
    pub orphaned: i64,
}

/// A site as configured (or seen in the data).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SiteInfo {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Country.
    pub country: String,
    /// Partner id.
    pub partner: Option<String>,
    /// Partner share, parts per million.
    pub partner_share_ppm: i64,
}

/// A found block.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BlockInfo {
    /// Height.
    pub height: u64,
    /// Hash.
    pub hash: String,
    /// Reward (coinbase value), satoshis.
    pub reward_sats: i64,
    /// Fees, satoshis.
    pub fees_sats: i64,
    /// Unix time found.
    pub found_at: u64,
    /// `pending`, `immature`, `mature` or `orphaned`.
    pub status: String,
    /// Confirmations at the last checked tip (`None` for orphaned or unknown tip).
    pub confirmations: Option<u64>,
    /// `site.worker` whose share found it (empty when recovered by the chain scan).
    pub finder: String,
    /// `pool` or `recovered`.
    pub source: String,
    /// Contributing sites and their part of the reward.
    pub sites: Vec<(String, i64)>,
}

/// BTC mined by one site in a range.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct SiteMined {
    /// Site id.
    pub site: String,
    /// Partner id.
    pub partner: Option<String>,
    /// Blocks (not orphaned) the site contributed to.
    pub blocks: u64,
    /// The site's part of those blocks (immature + mature), satoshis.
    pub mined_sats: i64,
    /// Of which the partner's share.
    pub partner_sats: i64,
    /// Of which the treasury's.
    pub treasury_sats: i64,
    /// Credits of blocks that were orphaned (reversed).
    pub orphaned_sats: i64,
}

/// BTC earned by one partner in a range.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct PartnerMined {
    /// Partner id.
    pub partner: String,
    /// Its sites.
    pub sites: Vec<String>,
    /// Mined by its sites (immature + mature), satoshis.
    pub sites_mined_sats: i64,
    /// The partner's share of it.
    pub partner_sats: i64,
    /// Partner credits reversed by orphaned blocks.
    pub orphaned_sats: i64,
}

/// Uptime and hashrate of one site in a range.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SiteActivity {
    /// Site id.
    pub site: String,
    /// Minutes in which the site submitted accepted work.
    pub minutes_up: u64,
    /// Minutes in the range (up to now).
    pub minutes_total: u64,
    /// `minutes_up / minutes_total` (0 when the range is empty).
    pub uptime: f64,
    /// Accepted shares.
    pub shares: u64,
    /// Sum of accepted share difficulty.
    pub difficulty: f64,
    /// Average hashrate over the range (up to now), hashes per second.
    pub hashrate: f64,
}

/// Hashrate of each site per time bucket.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HashrateSeries {
    /// Start of the first bucket (unix seconds).
    pub from: u64,
    /// Bucket length, seconds.
    pub bucket_secs: u64,
    /// Per site: hashes per second in each bucket.
    pub sites: Vec<(String, Vec<f64>)>,
}

fn i64_of(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Logic(format!("{v} out of range")))
}

/// All sites known to the ledger, sorted by id (`unassigned` last).
pub fn sites(ledger: &Ledger) -> Result<Vec<SiteInfo>, StoreError> {
    ledger.read(sites_in)
}

fn sites_in(c: &mut dyn Conn) -> Result<Vec<SiteInfo>, StoreError> {
    let mut v = c
        .query(
            "SELECT id, name, country, partner, partner_share_ppm FROM sites ORDER BY id",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(SiteInfo {
                id: r.text(0)?,
                name: r.text(1)?,
                country: r.text(2)?,
                partner: r.opt_text(3)?,
                partner_share_ppm: r.int(4)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    v.sort_by_key(|s| (s.id == UNASSIGNED_SITE, s.id.clone()));
    Ok(v)
}

/// Balances of every account (treasury accounts first).
pub fn balances(ledger: &Ledger) -> Result<Vec<AccountBalance>, StoreError> {
    ledger.read(|c| {
        let accounts = c.query(
            "SELECT id, kind, name FROM accounts ORDER BY kind DESC, id",
            &[],
        )?;
        let rows = c.query("SELECT account, bucket, amount_sats FROM balances", &[])?;
        let mut by: BTreeMap<(String, String), i64> = BTreeMap::new();
        for r in &rows {
            by.insert((r.text(0)?, r.text(1)?), r.int(2)?);
        }
        accounts
            .iter()
            .map(|a| {
                let id = a.text(0)?;
                let get = |b: &str| by.get(&(id.clone(), b.to_owned())).copied().unwrap_or(0);
                Ok(AccountBalance {
                    immature: get("immature"),
                    mature: get("mature"),
                    orphaned: get("orphaned"),
                    kind: a.text(1)?,
                    name: a.text(2)?,
                    account: id,
                })
            })
            .collect()
    })
}

/// Height of the tip the tracker last checked.
pub fn tip_height(ledger: &Ledger) -> Result<Option<u64>, StoreError> {
    Ok(ledger.meta("tip_height")?.and_then(|s| s.parse().ok()))
}

/// Blocks found in `range` (all when `None`), newest first, at most `limit`.
pub fn blocks(
    ledger: &Ledger,
    range: Option<Range>,
    limit: u64,
) -> Result<Vec<BlockInfo>, StoreError> {
    let tip = tip_height(ledger)?;
    let (from, to) = range.map_or((0, i64::MAX), |r| {
        (r.from as i64, i64::try_from(r.to).unwrap_or(i64::MAX))
    });
    let limit = i64_of(limit.min(1_000_000))?;
    ledger.read(|c| {
        let rows = c.query(
            "SELECT id, height, hash, reward_sats, fees_sats, found_at, status, finder, source FROM blocks \
             WHERE found_at >= ? AND found_at < ? ORDER BY height DESC, id DESC LIMIT ?",
            &[from.into(), to.into(), limit.into()],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id = r.int(0)?;
            let height = r.uint(1)?;
            let status = r.text(6)?;
            let sites = c
                .query(
                    "SELECT site, sats FROM block_sites WHERE block_id = ? ORDER BY site",
                    &[id.into()],
                )?
                .iter()
                .map(|s| Ok((s.text(0)?, s.int(1)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            out.push(BlockInfo {
                height,
                hash: r.text(2)?,
                reward_sats: r.int(3)?,
                fees_sats: r.int(4)?,
                found_at: r.uint(5)?,
                confirmations: match (status.as_str(), tip) {
                    ("orphaned", _) | (_, None) => None,
                    (_, Some(t)) => (t + 1).checked_sub(height),
                },
                status,
                finder: r.text(7)?,
                source: r.text(8)?,
                sites,
            });
        }
        Ok(out)
    })
}

/// Block counts per status.
pub fn block_counts(ledger: &Ledger) -> Result<BTreeMap<String, u64>, StoreError> {
    ledger.read(|c| {
        let mut m: BTreeMap<String, u64> = ["pending", "immature", "mature", "orphaned"]
            .iter()
            .map(|s| ((*s).to_owned(), 0))
            .collect();
        for r in c.query("SELECT status, COUNT(*) FROM blocks GROUP BY status", &[])? {
            m.insert(r.text(0)?, r.uint(1)?);
        }
        Ok(m)
    })
}

/// BTC mined per site and per partner by blocks found in `range`.
pub fn mined(
    ledger: &Ledger,
    range: Range,
) -> Result<(Vec<SiteMined>, Vec<PartnerMined>), StoreError> {
    let (from, to) = (
        i64_of(range.from)?,
        i64::try_from(range.to).unwrap_or(i64::MAX),
    );
    ledger.read(|c| {
        let sites = sites_in(c)?;
        let mut by_site: BTreeMap<String, SiteMined> = BTreeMap::new();
        let rows = c.query(
            "SELECT e.site, a.kind, b.status, CAST(SUM(e.amount_sats) AS BIGINT) \
             FROM entries e JOIN blocks b ON b.id = e.block_id JOIN accounts a ON a.id = e.account \
             WHERE e.kind = 'credit' AND b.found_at >= ? AND b.found_at < ? \
             GROUP BY e.site, a.kind, b.status",
            &[from.into(), to.into()],
        )?;
        for r in &rows {
            let (site, kind, status, sats) = (r.text(0)?, r.text(1)?, r.text(2)?, r.int(3)?);
            let m = by_site.entry(site.clone()).or_insert_with(|| SiteMined {
                site,
                ..SiteMined::default()
            });
            if status == "orphaned" {
                m.orphaned_sats += sats;
            } else {
                m.mined_sats += sats;
                if kind == "partner" {
                    m.partner_sats += sats;
                } else {
                    m.treasury_sats += sats;
                }
            }
        }
        let counts = c.query(
            "SELECT s.site, COUNT(*) FROM block_sites s JOIN blocks b ON b.id = s.block_id \
             WHERE s.sats > 0 AND b.status IN ('immature', 'mature') AND b.found_at >= ? AND b.found_at < ? GROUP BY s.site",
            &[from.into(), to.into()],
        )?;
        for r in &counts {
            let site = r.text(0)?;
            by_site
                .entry(site.clone())
                .or_insert_with(|| SiteMined {
                    site,
                    ..SiteMined::default()
                })
                .blocks = r.uint(1)?;
        }
        let mut out = Vec::new();
        for s in &sites {
            let mut m = by_site.remove(&s.id).unwrap_or_else(|| SiteMined {
                site: s.id.clone(),
                ..SiteMined::default()
            });
            if s.id == UNASSIGNED_SITE && m.mined_sats == 0 && m.orphaned_sats == 0 && m.blocks == 0 {
                continue;
            }
            m.partner = s.partner.clone();
            out.push(m);
        }
        out.extend(by_site.into_values());
        let mut partners: BTreeMap<String, PartnerMined> = BTreeMap::new();
        for m in &out {
            let Some(p) = &m.partner else { continue };
            let e = partners.entry(p.clone()).or_insert_with(|| PartnerMined {
                partner: p.clone(),
                ..PartnerMined::default()
            });
            e.sites.push(m.site.clone());
            e.sites_mined_sats += m.mined_sats;
            e.partner_sats += m.partner_sats;
        }
        let orphaned = c.query(
            "SELECT a.name, CAST(SUM(e.amount_sats) AS BIGINT) FROM entries e JOIN blocks b ON b.id = e.block_id \
             JOIN accounts a ON a.id = e.account WHERE e.kind = 'credit' AND a.kind = 'partner' AND b.status = 'orphaned' \
             AND b.found_at >= ? AND b.found_at < ? GROUP BY a.name",
            &[from.into(), to.into()],
        )?;
        for r in &orphaned {
            let p = r.text(0)?;
            partners
                .entry(p.clone())
                .or_insert_with(|| PartnerMined {
                    partner: p,
                    ..PartnerMined::default()
                })
                .orphaned_sats += r.int(1)?;
        }
        Ok((out, partners.into_values().collect()))
    })
}

/// Uptime (share of minutes with accepted work) and average hashrate per site in `range`,
/// counting time only up to `now`.
pub fn activity(ledger: &Ledger, range: Range, now: u64) -> Result<Vec<SiteActivity>, StoreError> {
    let end = range.to.min(now).max(range.from);
    let from_min = range.from / 60;
    let to_min = end.div_ceil(60);
    let total = to_min.saturating_sub(from_min);
    let secs = range.elapsed_secs(now);
    ledger.read(|c| {
        let sites = sites_in(c)?;
        let rows = c.query(
            "SELECT site, COUNT(*), CAST(SUM(shares) AS BIGINT), SUM(difficulty) FROM site_minutes \
             WHERE minute >= ? AND minute < ? AND shares > 0 GROUP BY site",
            &[i64_of(from_min)?.into(), i64_of(to_min)?.into()],
        )?;
        let mut by: BTreeMap<String, (u64, u64, f64)> = BTreeMap::new();
        for r in &rows {
            by.insert(r.text(0)?, (r.uint(1)?, r.uint(2)?, r.real(3)?));
        }
        let mut out = Vec::new();
        let mut ids: Vec<String> = sites.iter().map(|s| s.id.clone()).collect();
        for k in by.keys() {
            if !ids.contains(k) {
                ids.push(k.clone());
            }
        }
        for id in ids {
            let (up, shares, difficulty) = by.get(&id).copied().unwrap_or((0, 0, 0.0));
            if id == UNASSIGNED_SITE && shares == 0 {
                continue;
            }
            out.push(SiteActivity {
                uptime: if total == 0 {
                    0.0
                } else {
                    up as f64 / total as f64
                },
                hashrate: if secs == 0 {
                    0.0
                } else {
                    difficulty * HASHES_PER_DIFFICULTY / secs as f64
                },
                site: id,
                minutes_up: up,
                minutes_total: total,
                shares,
                difficulty,
            });
        }
        Ok(out)
    })
}

/// Hashrate per site in buckets of `bucket_secs` over `range`.
pub fn hashrate_series(
    ledger: &Ledger,
    range: Range,
    bucket_secs: u64,
) -> Result<HashrateSeries, StoreError> {
    let bucket_secs = bucket_secs.max(60);
    let buckets = (range.to.saturating_sub(range.from)).div_ceil(bucket_secs) as usize;
    let buckets = buckets.min(10_000);
    ledger.read(|c| {
        let rows = c.query(
            "SELECT site, minute, difficulty FROM site_minutes WHERE minute >= ? AND minute < ? ORDER BY site, minute",
            &[i64_of(range.from / 60)?.into(), i64_of(range.to.div_ceil(60))?.into()],
        )?;
        let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for site in sites_in(c)? {
            if site.id != UNASSIGNED_SITE {
                by.insert(site.id, vec![0.0; buckets]);
            }
        }
        for r in &rows {
            let t = r.uint(1)? * 60;
            let Some(i) = t.checked_sub(range.from).map(|d| (d / bucket_secs) as usize) else {
                continue;
            };
            if let Some(slot) = by
                .entry(r.text(0)?)
                .or_insert_with(|| vec![0.0; buckets])
                .get_mut(i)
            {
                *slot += r.real(2)? * HASHES_PER_DIFFICULTY / bucket_secs as f64;
            }
        }
        Ok(HashrateSeries {
            from: range.from,
            bucket_secs,
            sites: by.into_iter().collect(),
        })
    })
}

/// Satoshis as BTC with 8 decimals (exact).
pub fn btc(sats: i64) -> String {
    let sign = if sats < 0 { "-" } else { "" };
    let a = sats.unsigned_abs();
    format!("{sign}{}.{:08}", a / 100_000_000, a % 100_000_000)
}

/// Hashes per second in human units.
pub fn human_hashrate(h: f64) -> String {
    const UNITS: [&str; 7] = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s", "EH/s"];
    let mut v = h.max(0.0);
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    format!("{v:.2} {}", UNITS[u])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btc_formatting() {
        assert_eq!(btc(0), "0.00000000");
        assert_eq!(btc(1_455_000_000), "14.55000000");
        assert_eq!(btc(-1), "-0.00000001");
        assert_eq!(human_hashrate(1.5e12), "1.50 TH/s");
        assert_eq!(human_hashrate(10.0), "10.00 H/s");
    }
}
